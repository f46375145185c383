#!/bin/sh
# Build the libFuzzer targets with clang++ (libFuzzer + ASan + UBSan) in a temporary directory
# and run each for ${1:-30} seconds over its seed corpus:
#   fuzz_sse    the SSE parser (lib/protocol/sse.cpp), seeds in corpus/
#   fuzz_http1  the lean HTTP/1.1 response parser (lib/http1_parser.cpp), seeds in corpus_http1/
#   fuzz_json_read  the fast JSON parser (lib/protocol/json_read.cpp) against nlohmann's, seeds in
#               corpus_json/
# Exits non-zero on a crash (the reproducer and build directory are kept and printed), 0 with
# a "skipped" message only when clang++ is not installed.
set -eu

seconds=${1:-30}
here=$(cd "$(dirname "$0")" && pwd)
lib=$(cd "$here/../../lib" && pwd)
cxx=${CLANGXX:-clang++}

if ! command -v "$cxx" >/dev/null 2>&1; then
  echo "fuzz: skipped: clang/libFuzzer not installed ($cxx not found)"
  exit 0
fi

for target in sse http1 json_read; do
  case "$target" in
    sse) seeds="$here/corpus" src="$lib/protocol/sse.cpp" ;;
    http1) seeds="$here/corpus_http1" src="$lib/http1_parser.cpp" ;;
    json_read) seeds="$here/corpus_json" src="$lib/protocol/json_read.cpp" ;;
  esac
  work=$(mktemp -d "${TMPDIR:-/tmp}/fuzz_$target.XXXXXX")
  mkdir "$work/corpus"
  "$cxx" -std=c++20 -g -O1 -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=all \
    -I"$lib" "$src" "$here/fuzz_$target.cpp" -o "$work/fuzz_$target"
  # New inputs go to the first (scratch) corpus directory, so the checked-in seeds stay as
  # they are.
  status=0
  "$work/fuzz_$target" -max_total_time="$seconds" -print_final_stats=1 \
    -artifact_prefix="$work/" "$work/corpus" "$seeds" || status=$?
  if [ "$status" -ne 0 ]; then
    echo "fuzz_$target: FAILED (exit $status); reproducer and binary kept in $work" >&2
    ls "$work"/crash-* "$work"/leak-* "$work"/timeout-* "$work"/oom-* 2>/dev/null >&2 || true
    exit "$status"
  fi
  rm -rf "$work"
  echo "fuzz_$target: ok, no crash in ${seconds}s"
done
