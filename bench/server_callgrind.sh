#!/usr/bin/env bash
# Per-call cost of our server (bench/bench_server) for before/after comparisons: instructions
# (callgrind, every thread of the server process) or system calls (strace -c -f) per
# `tools/call echo`, driven by bench/server_drive with fixed call counts. Each case runs twice,
# with A and B calls: (count(B) - count(A)) / (B - A) is what one call costs, start-up and
# shut-down cancelled out. The driver runs natively; only the server is measured.
#   bench/server_callgrind.sh [--build DIR] [--tool callgrind|strace] [--cases ID,...] [--calls A,B]
#                             [--server-args "ARGS"]
# Cases: modern (2026-07-28 POSTs on one keep-alive connection), stateless (legacy POSTs
# without a session), legacy (a legacy session), stdio1 (stdio, one call at a time), stdio32
# (stdio, 32 calls in flight). Defaults: --build build, --tool callgrind, all cases,
# --calls 200,1200; --server-args: more bench_server arguments (--inline-tools, --pooled-tools). Prints one line per case: id, instructions (or syscalls) per call; with
# strace also the futex calls per call (thread hand-offs).
# Under valgrind or strace everything runs many times slower, so the HTTP host's watchdog would
# take ordinary handlers for blocking ones (ServerOptions::io_handler_takeover, 2 ms): the server
# gets --takeover-ms 60000 before --server-args (which may override it).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/.." && pwd)
build=$root/build
tool=callgrind
cases="modern,stateless,legacy,stdio1,stdio32"
server_args="--takeover-ms 60000"
calls_a=200
calls_b=1200
while [ $# -gt 0 ]; do
  case $1 in
    --build) build=$(cd "$2" && pwd); shift 2 ;;
    --tool) tool=$2; shift 2 ;;
    --cases) cases=$2; shift 2 ;;
    --calls) calls_a=${2%,*}; calls_b=${2#*,}; shift 2 ;;
    --server-args) server_args="--takeover-ms 60000 $2"; shift 2 ;;
    *) echo "usage: bench/server_callgrind.sh [--build DIR] [--tool callgrind|strace] [--cases ID,...] [--calls A,B]" >&2; exit 2 ;;
  esac
done
case $tool in
  callgrind) command -v valgrind >/dev/null || { echo "server_callgrind.sh: valgrind is not installed" >&2; exit 2; } ;;
  strace) command -v strace >/dev/null || { echo "server_callgrind.sh: strace is not installed" >&2; exit 2; } ;;
  *) echo "server_callgrind.sh: --tool callgrind or strace" >&2; exit 2 ;;
esac
[ -n "${NO_NINJA:-}" ] || ninja -C "$build" bench/bench_server bench/server_drive >/dev/null
server=${SERVER:-$build/bench/bench_server}
drive=${DRIVE:-$build/bench/server_drive}

tmp=$(mktemp -d)
pid=""
cleanup() {
  if [ -n "$pid" ]; then kill -TERM "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true; fi
  rm -rf "$tmp"
}
trap cleanup EXIT

# The measuring tool's command prefix, writing to $tmp/out.
wrap() {
  if [ "$tool" = callgrind ]; then
    echo valgrind --tool=callgrind --callgrind-out-file="$tmp/out" --trace-children=no
  else
    echo strace -f -c -o "$tmp/out"
  fi
}
# What $tmp/out says: instructions, or "syscalls futex".
count() {
  if [ "$tool" = callgrind ]; then
    sed -n 's/^summary: \([0-9]*\).*/\1/p' "$tmp/out"
  else
    awk '$NF == "total" { total = $(NF-2) } $NF == "futex" { futex = $(NF-2) + 0 }
         END { print total + 0, futex + 0 }' "$tmp/out"
  fi
}

# http CALLS ERA [SERVER ARGS...]: the server under the tool on a free port, the driver's calls.
http() {
  local calls=$1 era=$2 port="" i fd
  shift 2
  rm -f "$tmp/in" "$tmp/port" "$tmp/out"
  mkfifo "$tmp/in"
  # shellcheck disable=SC2046
  $(wrap) "$server" --port 0 "$@" $server_args <"$tmp/in" >"$tmp/port" 2>"$tmp/log" &
  pid=$!
  exec {fd}>"$tmp/in"
  for i in $(seq 300); do
    port=$(sed -n 's/^PORT \([0-9][0-9]*\)$/\1/p' "$tmp/port" | head -1)
    [ -n "$port" ] && break
    sleep 0.1
  done
  [ -n "$port" ] || { echo "server_callgrind.sh: the server did not start" >&2; cat "$tmp/log" >&2; exit 1; }
  "$drive" http --url "http://127.0.0.1:$port/mcp" --era "$era" --conns 1 --calls "$calls" --seconds 600 \
    >"$tmp/drive" || { echo "server_callgrind.sh: the driver failed" >&2; cat "$tmp/drive" >&2; exit 1; }
  grep -q "\"requests\":$calls," "$tmp/drive" || { echo "server_callgrind.sh: not $calls calls" >&2; cat "$tmp/drive" >&2; exit 1; }
  exec {fd}>&-
  wait "$pid" || true
  pid=""
  count
}

# stdio CALLS INFLIGHT: the driver starts the server (under the tool) on pipes.
stdio() {
  rm -f "$tmp/out"
  # shellcheck disable=SC2046
  "$drive" stdio --era modern --inflight "$2" --calls "$1" --seconds 600 -- $(wrap) "$server" $server_args >"$tmp/drive" 2>"$tmp/log" ||
    { echo "server_callgrind.sh: the driver failed" >&2; cat "$tmp/drive" "$tmp/log" >&2; exit 1; }
  grep -q "\"requests\":$1," "$tmp/drive" || { echo "server_callgrind.sh: not $1 calls" >&2; cat "$tmp/drive" >&2; exit 1; }
  for _ in $(seq 100); do [ -s "$tmp/out" ] && break; sleep 0.1; done
  sleep 0.5
  count
}

run() {  # CASE CALLS
  case $1 in
    modern) http "$2" modern ;;
    stateless) http "$2" stateless --stateless ;;
    legacy) http "$2" legacy ;;
    stdio1) stdio "$2" 1 ;;
    stdio32) stdio "$2" 32 ;;
    *) echo "server_callgrind.sh: unknown case $1" >&2; exit 2 ;;
  esac
}

if [ "$tool" = callgrind ]; then
  echo "instructions per tools/call in the server (callgrind, $build, calls $calls_a and $calls_b)"
else
  echo "system calls (and futex calls) per tools/call in the server (strace -f -c, $build, calls $calls_a and $calls_b)"
fi
IFS=, read -ra ids <<<"$cases"
for id in "${ids[@]}"; do
  a=$(run "$id" "$calls_a")
  b=$(run "$id" "$calls_b")
  if [ "$tool" = callgrind ]; then
    echo "$id $(( (b - a) / (calls_b - calls_a) ))"
  else
    read -r sa fa <<<"$a"
    read -r sb fb <<<"$b"
    echo "$id $(awk -v a="$sa" -v b="$sb" -v fa="$fa" -v fb="$fb" -v n=$((calls_b - calls_a)) \
      'BEGIN { printf "%.2f syscalls, %.2f futex", (b - a) / n, (fb - fa) / n }')"
  fi
done
