#!/usr/bin/env bash
# Benchmarks of our client (bench/client_bench) against the official TypeScript SDK's clients
# (v1 and v2) and Mastra's MCPClient (bench/peers), on the same servers, in one invocation; then
# the pool benchmark (bench/pool_bench). Writes results.json, results.md and cpu_mem.png.
#
#   bench/run.sh [--smoke] [--build DIR] [--out DIR] [--clients ours,ours-async,ts,ts2,mastra] [--pin CPU]
#                [--cases cold,seq,conc,floor,mem,inflight,pool] [--inflight N,...] [--burst N]
#
#   --smoke    a few calls per case (a minute or two; what CI runs). Results go to
#              bench/results/smoke/ so the committed figures are not overwritten.
#   --build    the meson build directory. By default a full run uses build-bench, a release
#              build (-O3, no asserts: the library as it is deployed), set up on first use;
#              `ninja -C build-bench` then brings just the benchmark's targets up to date. A
#              smoke run uses build (the test build). With --build DIR, ninja builds just the
#              targets that are missing there.
#   --out      where results go (default: bench/results, or bench/results/smoke with --smoke)
#   --clients  which clients to run (default: ours,ours-async,ts,ts2,mastra; ts2 is the TS SDK v2
#              client; ours-async is our asynchronous API, run for the conc and inflight cases only)
#   --cases    which cases to run (default: all, the pool included)
#   --inflight the inflight case's call counts (default 1000,10000; smoke: 20; 0: none): N calls
#              of a tool that sleeps 1 s, all started at once through one client, stdio and HTTP
#   --burst    the HTTP burst's call count (default 5000; smoke: 20; 0: none): the inflight case
#              with a 0 ms sleep, over HTTP
#   --pin      run every process (clients, servers, their children) on this one CPU, with
#              taskset: no round trip then waits on an idle CPU to wake up. Results go to
#              bench/results/pinned/; a full run publishes latest-pinned.md.
#
# Installs what it needs when it is missing: the pinned peer packages and Node 22
# (`npm ci --prefix bench/peers`) and gnuplot (Debian package gnuplot-nox, full runs only; a
# smoke run skips the plot when gnuplot is absent). No network except 127.0.0.1 and the npm
# registry (and apt for gnuplot). Every loop and wait is bounded.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
root=$(dirname "$here")
build=""
smoke=0
out=""
clients="ours,ours-async,ts,ts2,mastra"
pin_cpu=""
cases_wanted="cold,seq,conc,floor,mem,inflight,pool"
inflight_calls=""
burst_calls=""
while [ $# -gt 0 ]; do
  case "$1" in
    --smoke) smoke=1 ;;
    --build) build=$(cd "$2" && pwd); shift ;;
    --out) out=$2; shift ;;
    --clients) clients=$2; shift ;;
    --pin) pin_cpu=$2; shift ;;
    --cases) cases_wanted=$2; shift ;;
    --inflight) inflight_calls=$2; shift ;;
    --burst) burst_calls=$2; shift ;;
    -h|--help) sed -n '2,31p' "$0"; exit 0 ;;
    *) echo "run.sh: unknown argument $1" >&2; exit 2 ;;
  esac
  shift
done
say() { echo "run.sh: $*" >&2; }
targets=(bench/client_bench bench/pool_bench examples/demo_server test/fixtures/http_fault_server)
if [ -z "$build" ] && [ "$smoke" = 0 ]; then
  build=$root/build-bench
  if [ ! -f "$build/build.ninja" ]; then
    say "setting up $build (release build for the benchmark)"
    meson setup "$build" "$root" -Dbuildtype=release --wrap-mode=nodownload >/dev/null
  fi
  plan=$(ninja -C "$build" -n "${targets[@]}")
  if [[ "$plan" != *"no work to do"* ]]; then
    say "building the benchmark's targets in $build"
    ninja -C "$build" "${targets[@]}" >/dev/null
  fi
fi
[ -n "$build" ] || build=$root/build
buildtype=$(meson introspect --buildoptions "$build" 2>/dev/null | python3 -c '
import json, sys
o = {x["name"]: x["value"] for x in json.load(sys.stdin)}
bt, nd = o.get("buildtype"), o.get("b_ndebug")
off = nd == "true" or (nd == "if-release" and bt == "release")
print("%s, -O%s, asserts %s" % (bt, o.get("optimization"), "off" if off else "on"))' 2>/dev/null || echo unknown)
if [ "$smoke" = 0 ]; then
  # A build (or a run just before) leaves the load average high: wait (at most 3 minutes) for
  # it to fall below 1, so that the run starts on a quiet machine and says so truthfully.
  for i in $(seq 36); do
    [ "$(awk '{print ($1 < 1.0)}' /proc/loadavg)" = 1 ] && break
    sleep 5
  done
fi
if [ "$(awk '{print ($1 > 1.0)}' /proc/loadavg)" = 1 ]; then
  say "warning: load average $(cut -d' ' -f1 /proc/loadavg) on $(nproc) cores; figures from a busy machine are noisy"
fi
pin=()
if [ -n "$pin_cpu" ]; then
  command -v taskset >/dev/null 2>&1 || { say "--pin needs taskset (util-linux)"; exit 2; }
  taskset -c "$pin_cpu" true || { say "cannot pin to CPU $pin_cpu"; exit 2; }
  pin=(taskset -c "$pin_cpu")
fi
default_out=$here/results
[ -z "$pin_cpu" ] || default_out=$here/results/pinned
[ -n "$out" ] || { [ "$smoke" = 1 ] && out=$default_out/smoke || out=$default_out; }
mkdir -p "$out" "$out/logs"
out=$(cd "$out" && pwd)
started=$(date +%s)
load_start=$(cut -d' ' -f1-3 /proc/loadavg)

# ---------------------------------------------------------------- parameters
if [ "$smoke" = 1 ]; then
  cold_runs=2 warmup=5 seq_calls=20 seq_rounds=1 conc_calls=40 conc_inflight=8 mem_http=3 mem_stdio=2 mem_prewarm=1
  case_limit=10 call_timeout=10000 bench_limit=30 pool_args=(--smoke) pool_limit=40
  : "${inflight_calls:=20}" "${burst_calls:=20}"; inflight_timeout=10000
else
  cold_runs=20 warmup=50 seq_calls=2000 seq_rounds=3 conc_calls=2000 conc_inflight=32 mem_http=200 mem_stdio=50 mem_prewarm=5
  case_limit=120 call_timeout=30000 bench_limit=900 pool_args=() pool_limit=400
  : "${inflight_calls:=1000,10000}" "${burst_calls:=5000}"; inflight_timeout=60000
fi
# The inflight runs: N calls of `sleep 1000 ms` for each N, over stdio and HTTP; over HTTP also
# the burst, N calls of `sleep 0 ms`.
inflight_runs=""
IFS=, read -r -a ns <<<"$inflight_calls"
for n in "${ns[@]}"; do [ "$n" = 0 ] || inflight_runs+="${inflight_runs:+, }{\"calls\": $n, \"sleep_ms\": 1000}"; done
burst_run=""
[ -z "$burst_calls" ] || [ "$burst_calls" = 0 ] || burst_run="${inflight_runs:+, }{\"calls\": $burst_calls, \"sleep_ms\": 0}"
wants() { [[ ",$cases_wanted," == *",$1,"* ]]; }

# ---------------------------------------------------------------- what we need
node=$here/peers/node_modules/.bin/node
# Is every dependency of package.json installed, at its pinned version?
peers_current() {
  python3 -c '
import json, sys
d = sys.argv[1]
for name, want in json.load(open(d + "/package.json"))["dependencies"].items():
    try:
        if json.load(open(d + "/node_modules/" + name + "/package.json"))["version"] != want:
            sys.exit(1)
    except OSError:
        sys.exit(1)' "$here/peers"
}
if [ ! -x "$node" ] || ! peers_current; then
  say "installing the pinned peer clients and Node 22 (npm ci --prefix bench/peers)"
  timeout 600 npm ci --prefix "$here/peers" --no-audit --no-fund --loglevel=error
fi
"$node" --version >/dev/null

have_gnuplot=1
if ! command -v gnuplot >/dev/null 2>&1; then
  if [ "$smoke" = 1 ]; then
    have_gnuplot=0
    say "gnuplot not installed: the smoke run skips the plot (a full run installs gnuplot-nox)"
  else
    say "installing gnuplot-nox"
    sudo=""; [ "$(id -u)" = 0 ] || sudo=sudo
    if ! DEBIAN_FRONTEND=noninteractive timeout 300 $sudo apt-get install -y -qq --no-install-recommends gnuplot-nox >/dev/null 2>&1; then
      timeout 300 $sudo apt-get update -qq
      DEBIAN_FRONTEND=noninteractive timeout 300 $sudo apt-get install -y -qq --no-install-recommends gnuplot-nox >/dev/null
    fi
  fi
fi

client_bench=$build/bench/client_bench
pool_bench=$build/bench/pool_bench
demo_server=$build/examples/demo_server
fixture=$build/test/fixtures/http_fault_server
missing=()
[ -x "$client_bench" ] || missing+=(bench/client_bench)
[ -x "$pool_bench" ] || missing+=(bench/pool_bench)
[ -x "$demo_server" ] || missing+=(examples/demo_server)
[ -x "$fixture" ] || missing+=(test/fixtures/http_fault_server)
if [ ${#missing[@]} -gt 0 ]; then
  say "building ${missing[*]}"
  ninja -C "$build" "${missing[@]}"
fi

# ---------------------------------------------------------------- servers
# HTTP servers run with stdin on a FIFO that we hold open: each exits when we close it (and
# on SIGTERM). Each prints "PORT <n>" on stdout when it listens.
tmp=$(mktemp -d)
server_pids=()
server_fds=()
stop_servers() {
  local fd pid i
  # (no redirection on this exec: it would apply to the whole script)
  for fd in "${server_fds[@]}"; do exec {fd}>&-; done
  for pid in "${server_pids[@]}"; do
    for i in $(seq 20); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -TERM "$pid" 2>/dev/null || true
  done
  for pid in "${server_pids[@]}"; do
    for i in $(seq 20); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
  done
  server_pids=()
  server_fds=()
}
cleanup() { stop_servers; rm -rf "$tmp"; }
trap cleanup EXIT
trap 'exit 130' INT TERM

# start_server NAME CMD... ; sets port_NAME
start_server() {
  local name=$1 fd pid port="" i
  shift
  mkfifo "$tmp/$name.in"
  "${pin[@]}" "$@" <"$tmp/$name.in" >"$tmp/$name.port" 2>>"$out/logs/$name.log" &
  pid=$!
  exec {fd}>"$tmp/$name.in"
  server_pids+=("$pid")
  server_fds+=("$fd")
  for i in $(seq 100); do
    port=$(sed -n 's/^PORT \([0-9][0-9]*\)$/\1/p' "$tmp/$name.port" 2>/dev/null | head -1)
    [ -n "$port" ] && break
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.1
  done
  rm -f "$tmp/$name.in"
  [ -n "$port" ] || { say "server $name did not start (see $out/logs/$name.log)"; exit 1; }
  printf -v "port_$name" '%s' "$port"
}

write_config() {  # FILE
  cat >"$1" <<EOF
{
  "smoke": $([ "$smoke" = 1 ] && echo true || echo false),
  "cold_runs": $cold_runs, "warmup_calls": $warmup, "seq_calls": $seq_calls, "seq_rounds": $seq_rounds,
  "conc_calls": $conc_calls, "conc_inflight": $conc_inflight,
  "mem_http_clients": $mem_http, "mem_stdio_clients": $mem_stdio, "mem_prewarm": $mem_prewarm,
  "case_time_limit_s": $case_limit, "call_timeout_ms": $call_timeout, "settle_ms": 500,
  "inflight_timeout_ms": $inflight_timeout,
  "targets": [
    {"id": "ts-server-stdio", "server": "Node, official SDK server (20 tools), stdio", "transport": "stdio",
     "command": "$node", "args": ["$here/peers/server.mjs", "stdio"], "echo_arg": "text",
     "cases": ["cold", "seq", "conc", "mem", "floor"]},
    {"id": "ts-server-http", "server": "Node, official SDK server (20 tools), Streamable HTTP with sessions", "transport": "http",
     "url": "http://127.0.0.1:$port_tshttp/mcp", "sessions_url": "http://127.0.0.1:$port_tshttp/sessions", "echo_arg": "text",
     "cases": ["cold", "seq", "conc", "mem", "floor"]},
    {"id": "cpp-stdio", "server": "C++ demo_server, stdio (dual-era)", "transport": "stdio",
     "command": "$demo_server", "args": [], "echo_arg": "text",
     "cases": ["cold", "seq", "conc", "floor"]},
    {"id": "cpp-http-legacy", "server": "C++ http_fault_server, legacy Streamable HTTP (sessions)", "transport": "http",
     "url": "http://127.0.0.1:$port_cpplegacy/mcp", "echo_arg": "message",
     "cases": ["cold", "seq", "conc", "floor"]},
    {"id": "cpp-http-modern", "server": "C++ http_fault_server, modern (2026-07-28, stateless)", "transport": "http",
     "url": "http://127.0.0.1:$port_cppmodern/mcp", "echo_arg": "message",
     "cases": ["cold", "seq", "conc", "floor"]},
    {"id": "ts-sleep-stdio", "server": "Node, official SDK server with the sleep tool, stdio", "transport": "stdio",
     "command": "$node", "args": ["$here/peers/server.mjs", "stdio", "--sleep-tool"], "echo_arg": "text",
     "cases": ["inflight"], "inflight": [$inflight_runs]},
    {"id": "ts-sleep-http", "server": "Node, official SDK server with the sleep tool, Streamable HTTP with sessions", "transport": "http",
     "url": "http://127.0.0.1:${port_tssleep:-0}/mcp", "echo_arg": "text",
     "cases": ["inflight"], "inflight": [$inflight_runs$burst_run]}
  ]
}
EOF
}

# ---------------------------------------------------------------- the clients
# Fresh servers for each client, so that sessions another client left behind cost nothing.
# Each client runs in up to four processes: the timing cases, then each memory case on its own,
# so that what earlier cases left in the heap (V8's or malloc's) does not hide per-client
# memory, then the inflight case (its peak RSS and threads are the process's).
timing=""
for c in cold seq conc floor; do ! wants "$c" || timing+="${timing:+,}$c"; done
parts=()
[ -z "$timing" ] || parts+=("$timing:")
! wants mem || parts+=("mem:ts-server-http" "mem:ts-server-stdio")
! wants inflight || parts+=("inflight:")
rm -f "$out"/client-*.json
IFS=, read -r -a wanted <<<"$clients"
for c in "${wanted[@]}"; do
  case "$c" in
    ours) cmd=("${pin[@]}" "$client_bench") ;;
    ours-async) cmd=("${pin[@]}" "$client_bench" --api async) ;;
    ts) cmd=("${pin[@]}" "$node" --expose-gc "$here/peers/ts_bench.mjs") ;;
    ts2) cmd=("${pin[@]}" "$node" --expose-gc "$here/peers/ts_bench.mjs" --v2) ;;
    mastra) cmd=("${pin[@]}" "$node" --expose-gc "$here/peers/mastra_bench.mjs") ;;
    *) say "unknown client $c"; exit 2 ;;
  esac
  : >"$out/logs/$c.log"
  start_server tshttp "$node" "$here/peers/server.mjs" http 0
  start_server cpplegacy "$fixture" --port 0 --mode legacy
  start_server cppmodern "$fixture" --port 0 --mode modern
  ! wants inflight || start_server tssleep "$node" "$here/peers/server.mjs" http 0 --sleep-tool
  write_config "$tmp/config.json"
  cp "$tmp/config.json" "$out/config.json"
  say "client $c (log: $out/logs/$c.log)"
  for i in "${!parts[@]}"; do
    cases=${parts[$i]%%:*} targets=${parts[$i]#*:}
    if [ "$c" = ours-async ]; then  # the other cases are the blocking API's, run as `ours`
      keep=""
      for k in ${cases//,/ }; do [ "$k" != conc ] && [ "$k" != inflight ] || keep+="${keep:+,}$k"; done
      [ -n "$keep" ] || continue
      cases=$keep
    fi
    args=(--cases "$cases")
    [ -z "$targets" ] || args+=(--targets "$targets")
    part_out=$out/client-$c-$i.json
    status=0
    timeout -k 5 "$bench_limit" "${cmd[@]}" --config "$tmp/config.json" --out "$part_out" "${args[@]}" \
      2>>"$out/logs/$c.log" || status=$?
    if [ "$status" != 0 ] || [ ! -s "$part_out" ]; then
      say "client $c ($cases ${targets:-all}) failed (status $status); last lines of its log:"
      tail -5 "$out/logs/$c.log" >&2
      echo "{\"client\": \"$c\", \"error\": \"$cases ${targets:-all}: exited with status $status (see logs/$c.log)\", \"results\": {}}" >"$part_out"
    fi
  done
  stop_servers
done

# ---------------------------------------------------------------- the pool
pool_status=0
rm -f "$out/pool.json" "$out/pool.md"
if wants pool; then
  say "pool_bench"
  timeout -k 5 "$pool_limit" "${pin[@]}" "$pool_bench" "$demo_server" "$fixture" "${pool_args[@]}" --json "$out/pool.json" \
    >"$out/pool.md" 2>>"$out/logs/pool.log" || pool_status=$?
  [ "$pool_status" = 0 ] || say "pool_bench exited with status $pool_status"
fi

# ---------------------------------------------------------------- the report
cpu_model=$(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -1)
report_status=0
"$node" "$here/report.mjs" --dir "$out" --clients "$clients" --nproc "$(nproc)" --cpu "${cpu_model:-unknown}" \
  --os "$(. /etc/os-release 2>/dev/null && echo "$PRETTY_NAME"; uname -r)" --cxx "$(c++ --version 2>/dev/null | head -1)" \
  --commit "$(git -C "$root" describe --always --dirty 2>/dev/null || echo unknown)" --build "$build" \
  --date "$(date -u -d "@$started" +%Y-%m-%dT%H:%M:%SZ)" --load "$load_start / $(cut -d' ' -f1-3 /proc/loadavg)" --smoke "$smoke" --seconds "$(( $(date +%s) - started ))" \
  --pinned "$pin_cpu" --buildtype "$buildtype" || report_status=$?
if [ "$have_gnuplot" = 1 ] && { wants seq || wants mem; } && command -v gnuplot >/dev/null 2>&1; then
  (cd "$out" && timeout 60 gnuplot "$here/cpu_mem.gp") && say "plot: $out/cpu_mem.png"
fi
# A full run into the default directory publishes its table and plot: latest.md and
# latest.png are the only files of bench/results/ under version control.
if [ "$smoke" = 0 ] && [ "$out" = "$here/results" ] && [ "$report_status" = 0 ]; then
  cp "$out/results.md" "$out/latest.md"
  [ ! -f "$out/cpu_mem.png" ] || cp "$out/cpu_mem.png" "$out/latest.png"
  say "published: bench/results/latest.md and latest.png"
elif [ "$smoke" = 0 ] && [ "$out" = "$here/results/pinned" ] && [ "$report_status" = 0 ]; then
  cp "$out/results.md" "$here/results/latest-pinned.md"
  say "published: bench/results/latest-pinned.md"
fi
say "done in $(( $(date +%s) - started )) s: $out/results.md"
[ "$pool_status" = 0 ] || exit "$pool_status"
exit "$report_status"
