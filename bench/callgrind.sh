#!/usr/bin/env bash
# Instructions per sequential call of our client (callgrind), for before/after comparisons of a
# change that must not cost per call (the restructuring, for one). For each target, client_bench's
# `seq` case runs twice under callgrind, with A and B calls; (Ir(B) - Ir(A)) / (B - A) is what one
# call costs, set-up and tear-down cancelled out. Every thread of the client is counted; the
# servers run natively. Deterministic to a fraction of a percent run to run, unlike CPU time.
#   bench/callgrind.sh [--build DIR] [--targets ID,...] [--calls A,B]
# Defaults: --build build-bench (a release build; set up if missing), all five targets,
# --calls 200,1200. Prints one line per target: id, instructions per call.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/.." && pwd)
build=$root/build-bench
targets="ts-server-stdio,ts-server-http,cpp-stdio,cpp-http-legacy,cpp-http-modern"
calls_a=200
calls_b=1200
while [ $# -gt 0 ]; do
  case $1 in
    --build) build=$(cd "$2" && pwd); shift 2 ;;
    --targets) targets=$2; shift 2 ;;
    --calls) calls_a=${2%,*}; calls_b=${2#*,}; shift 2 ;;
    *) echo "usage: bench/callgrind.sh [--build DIR] [--targets ID,...] [--calls A,B]" >&2; exit 2 ;;
  esac
done
command -v valgrind >/dev/null || { echo "callgrind.sh: valgrind is not installed" >&2; exit 2; }
if [ ! -f "$build/build.ninja" ]; then
  meson setup "$build" "$root" --wrap-mode=nodownload -Dbuildtype=release
fi
ninja -C "$build" bench/client_bench examples/demo_server test/fixtures/http_fault_server >/dev/null
node=$here/peers/node_modules/.bin/node
[ -x "$node" ] || { echo "callgrind.sh: run bench/run.sh --smoke once (installs bench/peers)" >&2; exit 2; }

tmp=$(mktemp -d)
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill -TERM "$p" 2>/dev/null || true; done
  for p in "${pids[@]}"; do wait "$p" 2>/dev/null || true; done
  rm -rf "$tmp"
}
trap cleanup EXIT

# start NAME CMD...: a server that prints "PORT <n>"; stdin is a FIFO held open until exit.
start() {
  local name=$1 port="" i fd
  shift
  mkfifo "$tmp/$name.in"
  "$@" <"$tmp/$name.in" >"$tmp/$name.port" 2>"$tmp/$name.log" &
  pids+=($!)
  exec {fd}>"$tmp/$name.in"
  for i in $(seq 100); do
    port=$(sed -n 's/^PORT \([0-9][0-9]*\)$/\1/p' "$tmp/$name.port" | head -1)
    [ -n "$port" ] && break
    sleep 0.1
  done
  [ -n "$port" ] || { echo "callgrind.sh: $name did not start" >&2; cat "$tmp/$name.log" >&2; exit 1; }
  printf -v "port_$name" '%s' "$port"
}
start tshttp "$node" "$here/peers/server.mjs" http 0
start legacy "$build/test/fixtures/http_fault_server" --port 0 --mode legacy
start modern "$build/test/fixtures/http_fault_server" --port 0 --mode modern

config() {  # CALLS FILE
  cat >"$2" <<EOF
{ "smoke": false, "cold_runs": 1, "warmup_calls": 20, "seq_calls": $1, "seq_rounds": 1,
  "conc_calls": 1, "conc_inflight": 1, "mem_http_clients": 1, "mem_stdio_clients": 1, "mem_prewarm": 0,
  "case_time_limit_s": 600, "call_timeout_ms": 60000, "settle_ms": 0,
  "targets": [
    {"id": "ts-server-stdio", "transport": "stdio", "command": "$node", "args": ["$here/peers/server.mjs", "stdio"], "echo_arg": "text", "cases": ["seq"]},
    {"id": "ts-server-http", "transport": "http", "url": "http://127.0.0.1:$port_tshttp/mcp", "echo_arg": "text", "cases": ["seq"]},
    {"id": "cpp-stdio", "transport": "stdio", "command": "$build/examples/demo_server", "args": [], "echo_arg": "text", "cases": ["seq"]},
    {"id": "cpp-http-legacy", "transport": "http", "url": "http://127.0.0.1:$port_legacy/mcp", "echo_arg": "message", "cases": ["seq"]},
    {"id": "cpp-http-modern", "transport": "http", "url": "http://127.0.0.1:$port_modern/mcp", "echo_arg": "message", "cases": ["seq"]}
  ] }
EOF
}
config "$calls_a" "$tmp/a.json"
config "$calls_b" "$tmp/b.json"

ir() {  # CONFIG TARGET -> total instructions of the client process
  valgrind --tool=callgrind --callgrind-out-file="$tmp/cg.out" --trace-children=no \
    "$build/bench/client_bench" --config "$1" --out "$tmp/out.json" --cases seq --targets "$2" \
    >/dev/null 2>"$tmp/vg.log" || { cat "$tmp/vg.log" >&2; exit 1; }
  sed -n 's/^summary: \([0-9]*\).*/\1/p' "$tmp/cg.out"
}
echo "instructions per sequential call (callgrind, $build, calls $calls_a and $calls_b)"
IFS=, read -ra ids <<<"$targets"
for id in "${ids[@]}"; do
  a=$(ir "$tmp/a.json" "$id")
  b=$(ir "$tmp/b.json" "$id")
  echo "$id $(( (b - a) / (calls_b - calls_a) ))"
done
