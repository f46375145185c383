#!/usr/bin/env bash
# Every test: set up and build, then the suite (unit: pure code; integration: our fixtures, real
# processes and sockets; interop: the pinned npm servers; server: mcp::Server; cli), the same suite
# under ASan+UBSan, the unit, integration, server and redis tests under TSan, the consumer builds (meson
# subproject, pkg-config, CMake package), the Debian packages (debian/ci.sh, in the background) and
# the reference docs (Doxygen, warnings as errors).
#   scripts/test.sh [--quick]   (--quick: the plain build's suite only)
set -euo pipefail
cd "$(dirname "$0")/.."
started=$SECONDS  # each step says when it began; the set-up and build come first
scripts/setup.sh
export MCP_INTEROP_DIR="$PWD/test/interop"
passed=0

step() { echo; echo "=== [$((SECONDS - started)) s] $*"; }

# What the sanitizer steps run: the test binaries and the servers those tests start.
asan_targets=(test/unit_tests test/integration_tests test/interop_tests test/server_tests
  test/fixtures/fault_server test/fixtures/http_fault_server test/fixtures/skills_server
  test/tool_server test/conformance_server test/redis_tests test/replica_worker)
tsan_targets=(test/unit_tests test/integration_tests test/server_tests test/tool_server
  test/conformance_server test/fixtures/skills_server)
# The Redis token store's tests when the plain build has them (hiredis and redis-server found).
[ -x build/test/redis_tests ] && tsan_targets+=(test/redis_tests test/replica_worker)
full=1
[ "${1:-}" = "--quick" ] && full=0

# The sanitizer builds compile in the background at the lowest CPU priority while the plain
# build's suite, benchmarks and conformance runs go on (those mostly wait on processes and
# sockets, and take the CPU first when they want it): the builds are half of a cold run's time.
# Unity builds (4 sources a unit) parse the heavy headers a quarter as often.
bg_pid=""
asan_pid=""
if [ "$full" = 1 ]; then
  if [ ! -f build-asan/build.ninja ]; then
    meson setup build-asan --wrap-mode=nodownload -Dbuildtype=debug -Db_sanitize=address,undefined \
      -Db_lundef=false -Dunity=on -Dunity_size=4 >/dev/null
  fi
  if [ ! -f build-tsan/build.ninja ]; then
    meson setup build-tsan --wrap-mode=nodownload -Dbuildtype=debug -Db_sanitize=thread \
      -Db_lundef=false -Dunity=on -Dunity_size=4 >/dev/null
  fi
  rm -f build-asan/background.rc build-tsan/background.rc build/deb-ci.rc build/fuzz.rc build/consumer.rc
  echo 19 >build/background.nice
  # Each job's niceness is read when it starts (build/background.nice): 19 while the plain
  # suite runs, 0 for the TSan build once it is the only thing left to wait for. The fuzzers, the
  # consumer builds and the Debian packages follow it at 19, beside the sanitizer suites.
  setsid bash -c '
    lvl() { cat build/background.nice 2>/dev/null || echo 19; }
    nice -n "$(lvl)" ninja -C build-asan "${@:2:$1}" >build-asan/background.log 2>&1; echo $? >build-asan/background.rc
    nice -n "$(lvl)" ninja -C build-tsan "${@:$(($1 + 2))}" >build-tsan/background.log 2>&1; echo $? >build-tsan/background.rc
    nice -n 19 test/fuzz/run.sh 20 >build/fuzz.log 2>&1; echo $? >build/fuzz.rc
    nice -n 19 test/consumer/run.sh >build/consumer.log 2>&1; echo $? >build/consumer.rc
    nice -n 19 debian/ci.sh >build/deb-ci.log 2>&1; echo $? >build/deb-ci.rc
  ' _ "${#asan_targets[@]}" "${asan_targets[@]}" "${tsan_targets[@]}" </dev/null &
  bg_pid=$!
fi
# The EXIT trap ends what still runs in the background. Under set -e a failing command in a trap
# sets the script's exit status, so every kill is guarded and the trap ends with true.
kill_background() {
  local p
  for p in "$bg_pid" "$asan_pid"; do
    if [ -n "$p" ]; then kill -- -"$p" 2>/dev/null || true; fi
  done
  true
}
trap kill_background EXIT

# Waits for the background job whose result goes to $1 (written when it ends), prints its log
# $2 and fails the run if it failed. $3 names it.
wait_background_job() {
  while [ ! -f "$1" ]; do
    if ! kill -0 "$bg_pid" 2>/dev/null && [ ! -f "$1" ]; then
      echo "$3 ended without a result"; tail -50 "$2"; exit 1
    fi
    sleep 2
  done
  cat "$2"
  [ "$(cat "$1")" = 0 ] || { echo "$3 failed (log above)"; exit 1; }
}

# Waits for the background build of $1 and fails the run with its log if it failed.
wait_background_build() {
  while [ ! -f "$1/background.rc" ]; do
    if ! kill -0 "$bg_pid" 2>/dev/null && [ ! -f "$1/background.rc" ]; then
      echo "the background build of $1 ended without a result"; tail -50 "$1/background.log"; exit 1
    fi
    sleep 2
  done
  if [ "$(cat "$1/background.rc")" != 0 ]; then
    echo "the background build of $1 failed:"; tail -100 "$1/background.log"; exit 1
  fi
  echo "$1 built in the background ($(grep -c '^\[' "$1/background.log" || true) steps)"
}

step "reference docs: doxygen docs/Doxyfile over include/mcp, every warning an error (seconds); the guides' code compiles"
DOXYGEN_OUTPUT="$PWD/build/docs" doxygen docs/Doxyfile
docs/guide/check_snippets.sh build
passed=$((passed + 1))

step "test suite"
meson test -C build --print-errorlogs --num-processes 1
passed=$((passed + 1))

step "pool benchmark, smoke mode (a few calls per case, so it cannot rot)"
build/bench/pool_bench build/examples/demo_server build/test/fixtures/http_fault_server --smoke
passed=$((passed + 1))

step "client benchmark against the peers, smoke mode (a few calls per case, a minute or two)"
bench/run.sh --smoke
passed=$((passed + 1))

step "server benchmark, smoke mode (every server and case for a second, 200 streams and sessions; about a minute)"
bench/server_run.sh --smoke
passed=$((passed + 1))

step "official conformance suite 0.1.16: initialize, tools_call, elicitation defaults"
test/conformance/run.sh initialize tools_call elicitation-sep1034-client-defaults
passed=$((passed + 1))

step "official conformance suite 0.2.0-alpha.12: the 2026-07-28 client scenarios"
test/conformance/run.sh --suite next
passed=$((passed + 1))

step "official conformance suite 0.1.16, server side: every server scenario at each of its versions (conformance_server)"
test/conformance/server.sh
passed=$((passed + 1))

step "official conformance suite 0.2.0-alpha.12, server side: the scenarios at 2025-03-26 ... 2025-11-25"
test/conformance/server.sh --suite next legacy
passed=$((passed + 1))

step "official conformance suite 0.2.0-alpha.12, server side: the scenarios at 2026-07-28"
test/conformance/server.sh --suite next modern
passed=$((passed + 1))

step "official conformance suite 0.2.0-alpha.12, server side: the tasks extension (conformance_server --tasks)"
test/conformance/server.sh --suite next tasks
passed=$((passed + 1))

step "official conformance suite 0.1.16: every auth/* client scenario (OAuth)"
test/conformance/run.sh auth
passed=$((passed + 1))

step "official conformance suite 0.2.0-alpha.12: every auth/* client scenario (OAuth, 2026-07-28)"
test/conformance/run.sh --suite next auth
passed=$((passed + 1))

step "official conformance suite: sse-retry (timing-sensitive, on its own)"
test/conformance/run.sh sse-retry
passed=$((passed + 1))

if [ "$full" = 1 ]; then
  # The TSan build now has the machine: nothing else is waited for. The ASan+UBSan suite starts
  # when it ends, in the background beside the TSan tests (both mostly wait on processes and
  # sockets), and the fuzzers, the consumer builds and the Debian packages follow in the
  # background queue at the lowest priority; their logs are printed in the last steps.
  step "sanitizer builds: the TSan build at normal priority (the ASan one is done or nearly)"
  echo 0 >build/background.nice
  renice -n 0 -g "$bg_pid" >/dev/null 2>&1 || true
  wait_background_build build-asan
  wait_background_build build-tsan
  ninja -C build-asan "${asan_targets[@]}"
  ninja -C build-tsan "${tsan_targets[@]}"
  passed=$((passed + 1))

  step "test suite under ASan+UBSan: started in the background (its log follows at the end)"
  rm -f build-asan/suite.rc
  setsid bash -c '
    ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1 \
      meson test -C build-asan --print-errorlogs --num-processes 1 --no-rebuild --timeout-multiplier 3 \
        unit integration interop server redis \
      >build-asan/suite.log 2>&1
    echo $? >build-asan/suite.rc
  ' </dev/null &
  asan_pid=$!

  step "unit, integration, server and redis tests under TSan"
  TSAN_OPTIONS="halt_on_error=1:second_deadlock_stack=1:suppressions=$PWD/test/tsan.supp" build-tsan/test/unit_tests
  # The fixture servers are test equipment: the plain build's, so TSan watches only our code.
  MCP_FAULT_SERVER="$PWD/build/test/fixtures/fault_server" \
  MCP_HTTP_FAULT_SERVER="$PWD/build/test/fixtures/http_fault_server" \
  MCP_TOOL_SERVER="$PWD/build/test/tool_server" \
  TSAN_OPTIONS="halt_on_error=1:second_deadlock_stack=1:suppressions=$PWD/test/tsan.supp" \
    build-tsan/test/integration_tests -tce='*16 MiB*,*50 MiB*'
  # The server under TSan: our server (tool_server, built with TSan) driven by our client and
  # by the pinned TypeScript and Mastra clients.
  TSAN_OPTIONS="halt_on_error=1:second_deadlock_stack=1:suppressions=$PWD/test/tsan.supp" build-tsan/test/server_tests
  if [ -x build-tsan/test/redis_tests ]; then
    TSAN_OPTIONS="halt_on_error=1:second_deadlock_stack=1:suppressions=$PWD/test/tsan.supp" build-tsan/test/redis_tests
  fi
  passed=$((passed + 1))

  step "SSE parser, HTTP/1.1 response parser and parse_json under libFuzzer (20 s each, in the background queue)"
  wait_background_job build/fuzz.rc build/fuzz.log "the fuzzers"
  passed=$((passed + 1))

  step "consumer: libmcp as a meson subproject, and installed through pkg-config and through CMake (find_package), in the background queue"
  wait_background_job build/consumer.rc build/consumer.log "the consumer builds"
  passed=$((passed + 1))

  step "Debian packages (in the background queue): dpkg-buildpackage, lintian, the quick starts against the extracted .debs"
  wait_background_job build/deb-ci.rc build/deb-ci.log "debian/ci.sh"
  passed=$((passed + 1))

  step "test suite under ASan+UBSan: waiting for the background run"
  while [ ! -f build-asan/suite.rc ]; do
    kill -0 "$asan_pid" 2>/dev/null || [ -f build-asan/suite.rc ] || { echo "the ASan+UBSan run ended without a result"; break; }
    sleep 2
  done
  cat build-asan/suite.log
  [ "$(cat build-asan/suite.rc 2>/dev/null)" = 0 ] || { echo "the ASan+UBSan suite failed (log above)"; exit 1; }
  passed=$((passed + 1))
fi

echo
echo "test steps: $passed passed, 0 failed, in $((SECONDS - started)) s (set-up and builds included)"
