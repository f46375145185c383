#!/bin/sh
# Build the SSE parser fuzz target with clang++ (libFuzzer + ASan + UBSan) in a temporary
# directory and run it for ${1:-30} seconds over the seed corpus. Exits non-zero on a crash
# (the reproducer and build directory are kept and printed), 0 with a "skipped" message only
# when clang++ is not installed.
set -eu

seconds=${1:-30}
here=$(cd "$(dirname "$0")" && pwd)
lib=$(cd "$here/../../lib" && pwd)
cxx=${CLANGXX:-clang++}

if ! command -v "$cxx" >/dev/null 2>&1; then
  echo "fuzz_sse: skipped: clang/libFuzzer not installed ($cxx not found)"
  exit 0
fi

work=$(mktemp -d "${TMPDIR:-/tmp}/fuzz_sse.XXXXXX")
mkdir "$work/corpus"

"$cxx" -std=c++20 -g -O1 -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=all \
  -I"$lib" "$lib/sse.cpp" "$here/fuzz_sse.cpp" -o "$work/fuzz_sse"

# New inputs go to the first (scratch) corpus directory, so the checked-in seeds stay as
# they are.
status=0
"$work/fuzz_sse" -max_total_time="$seconds" -print_final_stats=1 \
  -artifact_prefix="$work/" "$work/corpus" "$here/corpus" || status=$?

if [ "$status" -ne 0 ]; then
  echo "fuzz_sse: FAILED (exit $status); reproducer and binary kept in $work" >&2
  ls "$work"/crash-* "$work"/leak-* "$work"/timeout-* "$work"/oom-* 2>/dev/null >&2 || true
  exit "$status"
fi
rm -rf "$work"
echo "fuzz_sse: ok, no crash in ${seconds}s"
