#!/usr/bin/env bash
# Server benchmark: our server (bench/bench_server: mcp::Server + mcp::HttpHost, the 20 tools
# of bench/peers/server.mjs) side by side with the TypeScript SDK's v1 server (1.32.2, legacy:
# sessions, stateless), its v2 server (@modelcontextprotocol/server 2.4.0, modern) and Mastra's
# MCPServer (@mastra/mcp 2.0.0, modern), all in bench/server-peers/servers.mjs. Writes
# results.json and results.md.
#
#   bench/server_run.sh [--smoke] [--build DIR] [--out DIR] [--servers ours,ts1,ts2,mastra]
#                       [--cases http,sessions-http,stdio,streams,sessions] [--no-wait] [--inline]
#
# Writes server.png too (gnuplot: a full run installs gnuplot-nox; a smoke run plots only if
# gnuplot is there).
#
# Cases (server CPU from /proc/PID/stat utime+stime over the measured window, RSS and threads
# from /proc/PID/status; every case runs on a fresh server):
#   http           `tools/call echo` over Streamable HTTP, driven by wrk (bench/server_wrk.lua):
#                  modern 2026-07-28 POSTs (ours, ts2, mastra) and legacy POSTs without a
#                  session (ours --stateless, ts1 stateless); 1 and 64 connections.
#   sessions-http  the same over legacy sessions (a session per connection), driven by
#                  bench/server_drive (ours, ts1); 1 and 64 connections.
#   stdio          the same over stdio, bench/server_drive keeping 1 and 32 calls in flight
#                  (ours, ts2, mastra: modern; ts1: legacy).
#   streams        N open `subscriptions/listen` streams (ours, ts2, mastra) and N legacy GET
#                  streams, one session each (ours, ts1): threads, RSS per stream, and how long
#                  one notify_resources_changed (the `notify` tool) takes to reach them all.
#   sessions       N legacy sessions opened and abandoned (ours with a short idle timeout;
#                  ts1, whose sessions never expire): RSS before, at the peak, after expiry.
# Full run: 10 s per throughput case, N = 10,000 (about 6 minutes here). --smoke: 1 s per case and
# N = 200 (what CI runs; results in bench/results/server/smoke/).
#
#   --inline   our tools run inline on the thread that read the request (ServerTool::run_inline,
#              bench_server --inline-tools), as the Node servers run handlers on their event loop;
#              default: on the Server's handler threads
#   --no-wait  a full run does not wait (up to 3 minutes) for the load average to fall below 1
#   --build    the meson build directory (full run: build-bench, a release build, set up on
#              first use; smoke: build). Only bench/bench_server and bench/server_drive are
#              built there, when missing or out of date.
#
# Installs what it needs when missing: wrk (Debian package; a smoke run that cannot install it
# skips the wrk cases) and the pinned peers with Node 22 (`npm ci --prefix bench/server-peers`).
# No network but 127.0.0.1, the npm registry and apt. Every case has a time limit.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
root=$(dirname "$here")
build=""
smoke=0
out=""
servers="ours,ts1,ts2,mastra"
cases_wanted="http,sessions-http,stdio,streams,sessions"
no_wait=0
inline=0
while [ $# -gt 0 ]; do
  case "$1" in
    --smoke) smoke=1 ;;
    --build) build=$(cd "$2" && pwd); shift ;;
    --out) out=$2; shift ;;
    --servers) servers=$2; shift ;;
    --cases) cases_wanted=$2; shift ;;
    --no-wait) no_wait=1 ;;
    --inline) inline=1 ;;
    -h|--help) sed -n '2,41p' "$0"; exit 0 ;;
    *) echo "server_run.sh: unknown argument $1" >&2; exit 2 ;;
  esac
  shift
done
t_begin=$(date +%s)
say() { echo "server_run.sh [$(( $(date +%s) - t_begin ))s]: $*" >&2; }
wants() { [[ ",$cases_wanted," == *",$1,"* ]]; }
has() { [[ ",$servers," == *",$1,"* ]]; }

# ---------------------------------------------------------------- parameters
if [ "$smoke" = 1 ]; then
  secs=1 drive_secs=0.5 warm=0 streams_n=200 sessions_n=200 idle_ms=1000 case_limit=30 streams_limit=30
else
  secs=10 drive_secs=10 warm=1 streams_n=10000 sessions_n=10000 idle_ms=10000 case_limit=60 streams_limit=150
fi

# ---------------------------------------------------------------- what we need
targets=(bench/bench_server bench/server_drive)
if [ -z "$build" ] && [ "$smoke" = 0 ]; then
  build=$root/build-bench
  if [ ! -f "$build/build.ninja" ]; then
    say "setting up $build (release build for the benchmark)"
    meson setup "$build" "$root" -Dbuildtype=release --wrap-mode=nodownload >/dev/null
  fi
fi
[ -n "$build" ] || build=$root/build
if [[ "$(ninja -C "$build" -n "${targets[@]}")" != *"no work to do"* ]]; then
  say "building ${targets[*]} in $build"
  ninja -C "$build" "${targets[@]}" >/dev/null
fi
ours=$build/bench/bench_server
drive=$build/bench/server_drive
buildtype=$(meson introspect --buildoptions "$build" 2>/dev/null | python3 -c '
import json, sys
o = {x["name"]: x["value"] for x in json.load(sys.stdin)}
bt, nd = o.get("buildtype"), o.get("b_ndebug")
off = nd == "true" or (nd == "if-release" and bt == "release")
print("%s, -O%s, asserts %s" % (bt, o.get("optimization"), "off" if off else "on"))' 2>/dev/null || echo unknown)

[ "$inline" = 0 ] || buildtype="$buildtype; ours with --inline-tools"
peers=$here/server-peers
node=$peers/node_modules/.bin/node
peers_current() {
  python3 -c '
import json, sys
d = sys.argv[1]
for name, want in json.load(open(d + "/package.json"))["dependencies"].items():
    try:
        if json.load(open(d + "/node_modules/" + name + "/package.json"))["version"] != want:
            sys.exit(1)
    except OSError:
        sys.exit(1)' "$peers"
}
if has ts1 || has ts2 || has mastra; then
  if [ ! -x "$node" ] || ! peers_current; then
    say "installing the pinned peer servers and Node 22 (npm ci --prefix bench/server-peers)"
    timeout 600 npm ci --prefix "$peers" --no-audit --no-fund --loglevel=error
  fi
  "$node" --version >/dev/null
fi

have_gnuplot=1
if ! command -v gnuplot >/dev/null 2>&1; then
  if [ "$smoke" = 1 ]; then
    have_gnuplot=0
  else
    say "installing gnuplot-nox"
    sudo=""; [ "$(id -u)" = 0 ] || sudo=sudo
    DEBIAN_FRONTEND=noninteractive timeout 300 $sudo apt-get install -y -qq --no-install-recommends gnuplot-nox >/dev/null 2>&1 || true
    command -v gnuplot >/dev/null 2>&1 || { have_gnuplot=0; say "gnuplot could not be installed: no plot"; }
  fi
fi

have_wrk=1
if wants http && ! command -v wrk >/dev/null 2>&1; then
  say "installing wrk"
  sudo=""; [ "$(id -u)" = 0 ] || sudo=sudo
  if ! DEBIAN_FRONTEND=noninteractive timeout 300 $sudo apt-get install -y -qq --no-install-recommends wrk >/dev/null 2>&1; then
    timeout 300 $sudo apt-get update -qq || true
    DEBIAN_FRONTEND=noninteractive timeout 300 $sudo apt-get install -y -qq --no-install-recommends wrk >/dev/null 2>&1 || true
  fi
  if ! command -v wrk >/dev/null 2>&1; then
    [ "$smoke" = 1 ] || { say "wrk could not be installed"; exit 1; }
    have_wrk=0
    say "wrk could not be installed: the smoke run skips the http case"
  fi
fi

if [ "$smoke" = 0 ] && [ "$no_wait" = 0 ]; then
  # Wait (at most 3 minutes) for the load average to fall below 1, so that the run starts on a
  # quiet machine and says so truthfully.
  for i in $(seq 36); do
    [ "$(awk '{print ($1 < 1.0)}' /proc/loadavg)" = 1 ] && break
    sleep 5
  done
fi
if [ "$(awk '{print ($1 > 1.0)}' /proc/loadavg)" = 1 ]; then
  say "warning: load average $(cut -d' ' -f1 /proc/loadavg) on $(nproc) cores; figures from a busy machine are noisy"
fi
[ -n "$out" ] || { [ "$smoke" = 1 ] && out=$here/results/server/smoke || out=$here/results/server; }
mkdir -p "$out/logs"
out=$(cd "$out" && pwd)
cases_file=$out/cases.jsonl
: >"$cases_file"
started=$(date +%s)
load_start=$(cut -d' ' -f1-3 /proc/loadavg)

# ---------------------------------------------------------------- servers
# An HTTP server runs with stdin on a FIFO that we hold open: it exits when we close it (and on
# SIGTERM). It prints "PORT <n>" on stdout when it listens.
tmp=$(mktemp -d)
server_pid="" server_fd="" port=""
stop_server() {
  local i
  [ -n "$server_pid" ] || return 0
  [ -z "$server_fd" ] || exec {server_fd}>&-
  for i in $(seq 20); do kill -0 "$server_pid" 2>/dev/null || break; sleep 0.1; done
  kill -TERM "$server_pid" 2>/dev/null || true
  for i in $(seq 20); do kill -0 "$server_pid" 2>/dev/null || break; sleep 0.1; done
  kill -KILL "$server_pid" 2>/dev/null || true
  wait "$server_pid" 2>/dev/null || true
  server_pid="" server_fd=""
}
cleanup() { stop_server; rm -rf "$tmp"; }
trap cleanup EXIT
trap 'exit 130' INT TERM

# The command of a server: server_cmd NAME (ours, ours-stateless, ts1, ts1-stateless, ts2,
# mastra) TRANSPORT (http, stdio) EXTRA...
server_cmd() {
  local name=$1 transport=$2
  shift 2
  local http=()
  case "$name" in
    ours|ours-stateless)
      [ "$transport" = stdio ] || http=(--port 0)
      [ "$name" = ours ] || http+=(--stateless)
      [ "$inline" = 0 ] || http+=(--inline-tools)
      cmd=("$ours" "${http[@]}" "$@") ;;
    ts1|ts1-stateless|ts2|mastra)
      [ "$transport" = stdio ] || http=(http 0)
      [ "$name" != ts1-stateless ] || http+=(--stateless)
      [ "$transport" = http ] || http=(stdio)
      cmd=("$node" "$peers/servers.mjs" "${name%-stateless}" "${http[@]}" "$@") ;;
    *) say "unknown server $name"; exit 2 ;;
  esac
}

# start_server NAME EXTRA... : an HTTP server; sets server_pid and port.
start_server() {
  local name=$1 i
  shift
  server_cmd "$name" http "$@"
  rm -f "$tmp/in" "$tmp/port"
  mkfifo "$tmp/in"
  "${cmd[@]}" <"$tmp/in" >"$tmp/port" 2>>"$out/logs/$name.log" &
  server_pid=$!
  exec {server_fd}>"$tmp/in"
  port=""
  for i in $(seq 200); do
    port=$(sed -n 's/^PORT \([0-9][0-9]*\)$/\1/p' "$tmp/port" 2>/dev/null | head -1)
    [ -n "$port" ] && break
    kill -0 "$server_pid" 2>/dev/null || break
    sleep 0.1
  done
  [ -n "$port" ] || { say "server $name did not start (see $out/logs/$name.log)"; return 1; }
}

# record CASE SERVER PARAMS_JSON RESULT_JSON [EXTRA_FIELDS]: one line of cases.jsonl (plain
# bash: python3 can take seconds to start on a loaded machine; server_report.py merges the parts).
record() {
  local result=${4:-"{}"}
  [[ "$result" == "{"*"}" ]] || result="{\"error\": \"unreadable output\"}"
  echo "{\"case\": \"$1\", \"server\": \"$2\", \"params\": $3, \"result\": $result${5:+, $5}}" >>"$cases_file"
}
failures=0
failed() {  # CASE SERVER PARAMS_JSON WHAT
  say "$2 $1 $3: $4"
  failures=$((failures + 1))
  record "$1" "$2" "$3" "{\"error\": \"$4\"}"
}

# The server's CPU seconds (utime + stime), from /proc.
cpu_of() { awk -v hz="$(getconf CLK_TCK)" '{ sub(/^.*\) /, ""); print ($12 + $13) / hz }' "/proc/$1/stat"; }
status_of() { awk '/^VmRSS:/ {r=$2} /^Threads:/ {t=$2} END {printf "\"server_rss_kb\": %d, \"server_threads\": %d", r, t}' "/proc/$1/status"; }

# ---------------------------------------------------------------- http (wrk)
if wants http && [ "$have_wrk" = 1 ]; then
  runs=()
  ! has ours || runs+=(ours:modern ours-stateless:stateless)
  ! has ts2 || runs+=(ts2:modern)
  ! has mastra || runs+=(mastra:modern)
  ! has ts1 || runs+=(ts1-stateless:stateless)
  for run in "${runs[@]}"; do
    name=${run%%:*} era=${run#*:}
    start_server "$name" || { failed http "$name" "{}" "did not start"; continue; }
    for conns in 1 64; do
      params="{\"era\": \"$era\", \"conns\": $conns, \"seconds\": $secs, \"driver\": \"wrk\"}"
      threads=$([ "$conns" = 1 ] && echo 1 || echo 2)
      wrk_cmd=(wrk -t "$threads" -c "$conns" --timeout 5s -s "$here/server_wrk.lua" "http://127.0.0.1:$port/mcp" -- "$era")
      if [ "$warm" -gt 0 ]; then timeout -k 2 20 "${wrk_cmd[@]:0:1}" -d "${warm}s" "${wrk_cmd[@]:1}" >/dev/null 2>&1 || true; fi
      say "http: $name ($era), $conns connections"
      c0=$(cpu_of "$server_pid")
      status=0
      result=$(timeout -k 2 "$case_limit" "${wrk_cmd[@]:0:1}" -d "${secs}s" "${wrk_cmd[@]:1}" 2>>"$out/logs/wrk.log" | tail -1) || status=$?
      c1=$(cpu_of "$server_pid")
      if [ "$status" != 0 ] || [[ "$result" != "{"* ]]; then failed http "$name" "$params" "wrk exited with status $status"; continue; fi
      record http "$name" "$params" "$result" "\"server_cpu_s\": $(awk -v a="$c0" -v b="$c1" 'BEGIN {print b - a}'), $(status_of "$server_pid")"
    done
    stop_server
  done
fi

# ---------------------------------------------------------------- sessions-http (server_drive)
if wants sessions-http; then
  for name in ours ts1; do
    has "$name" || continue
    start_server "$name" || { failed sessions-http "$name" "{}" "did not start"; continue; }
    for conns in 1 64; do
      params="{\"era\": \"legacy-session\", \"conns\": $conns, \"seconds\": $drive_secs, \"driver\": \"server_drive\"}"
      say "sessions-http: $name, $conns connections"
      [ "$warm" = 0 ] || timeout -k 2 30 "$drive" http --url "http://127.0.0.1:$port/mcp" --era legacy --conns "$conns" --seconds "$warm" >/dev/null 2>&1 || true
      status=0
      result=$(timeout -k 2 "$case_limit" "$drive" http --url "http://127.0.0.1:$port/mcp" --era legacy --conns "$conns" \
               --seconds "$drive_secs" --pid "$server_pid" 2>>"$out/logs/drive.log") || status=$?
      if [ "$status" != 0 ]; then failed sessions-http "$name" "$params" "server_drive exited with status $status"; continue; fi
      record sessions-http "$name" "$params" "$result"
    done
    stop_server
  done
fi

# ---------------------------------------------------------------- stdio (server_drive)
if wants stdio; then
  for run in ours:modern ts2:modern mastra:modern ts1:legacy; do
    name=${run%%:*} era=${run#*:}
    has "$name" || continue
    server_cmd "$name" stdio
    params="{\"era\": \"$era\", \"seconds\": $drive_secs, \"driver\": \"server_drive\"}"
    say "stdio: $name ($era), 1 then 32 calls in flight"
    status=0
    result=$(timeout -k 2 "$case_limit" "$drive" stdio --era "$era" --inflight 1,32 --seconds "$drive_secs" -- "${cmd[@]}" \
             2>>"$out/logs/drive.log") || status=$?
    while IFS= read -r line; do [ -z "$line" ] || record stdio "$name" "$params" "$line"; done <<<"$result"
    [ "$status" = 0 ] || failed stdio "$name" "$params" "server_drive exited with status $status"
  done
fi

# ---------------------------------------------------------------- streams (server_drive)
if wants streams; then
  for run in ours:listen ts2:listen mastra:listen ours:get ts1:get; do
    name=${run%%:*} kind=${run#*:}
    has "$name" || continue
    extra=(--notify-tool)
    [ "$name" != ours ] || extra+=(--max-sessions $((streams_n + 100)))
    start_server "$name" "${extra[@]}" || { failed streams "$name" "{}" "did not start"; continue; }
    params="{\"kind\": \"$kind\", \"n\": $streams_n, \"driver\": \"server_drive\"}"
    say "streams: $name, $streams_n $kind streams"
    status=0
    result=$(timeout -k 2 "$((streams_limit + 10))" "$drive" streams --url "http://127.0.0.1:$port/mcp" --kind "$kind" --n "$streams_n" \
             --pid "$server_pid" --seconds "$streams_limit" 2>>"$out/logs/drive.log") || status=$?
    if [ "$status" = 0 ]; then
      record streams "$name" "$params" "$result"
    elif [ -n "$result" ]; then  # what it measured, and the failure
      say "$name streams $params: server_drive exited with status $status"
      failures=$((failures + 1))
      record streams "$name" "$params" "$result" "\"error\": \"server_drive exited with status $status\""
    else
      failed streams "$name" "$params" "server_drive exited with status $status"
    fi
    stop_server
  done
fi

# ---------------------------------------------------------------- sessions (server_drive)
if wants sessions; then
  for name in ours ts1; do
    has "$name" || continue
    extra=()
    # max_sessions = N: the session opened after expiry is accepted only if expiry made room.
    [ "$name" != ours ] || extra=(--session-idle-ms "$idle_ms" --max-sessions "$sessions_n")
    start_server "$name" "${extra[@]}" || { failed sessions "$name" "{}" "did not start"; continue; }
    expiry=$([ "$name" = ours ] && echo "$idle_ms" || echo 0)
    params="{\"n\": $sessions_n, \"idle_timeout_ms\": $([ "$name" = ours ] && echo "$idle_ms" || echo null), \"driver\": \"server_drive\"}"
    say "sessions: $name, $sessions_n sessions opened and abandoned"
    status=0
    result=$(timeout -k 2 "$((streams_limit + idle_ms / 1000 + 10))" "$drive" sessions --url "http://127.0.0.1:$port/mcp" --n "$sessions_n" \
             --pid "$server_pid" --expiry-ms "$expiry" --seconds "$streams_limit" 2>>"$out/logs/drive.log") || status=$?
    if [ "$status" != 0 ]; then failed sessions "$name" "$params" "server_drive exited with status $status"; else record sessions "$name" "$params" "$result"; fi
    stop_server
  done
fi

# ---------------------------------------------------------------- the report
cpu_model=$(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -1)
versions=$(python3 - "$peers" <<'EOF'
import json, sys
d = sys.argv[1]
v = {}
for name in ("@modelcontextprotocol/sdk", "@modelcontextprotocol/server", "@mastra/mcp", "@mastra/core", "node"):
    try:
        v[name] = json.load(open(d + "/node_modules/" + name + "/package.json"))["version"]
    except OSError:
        v[name] = None
print(json.dumps(v))
EOF
)
report_status=0
python3 "$here/server_report.py" --dir "$out" --smoke "$smoke" --date "$(date -u -d "@$started" +%Y-%m-%dT%H:%M:%SZ)" \
  --cpu "${cpu_model:-unknown} ($(nproc) cores)" --os "$(. /etc/os-release 2>/dev/null && echo "$PRETTY_NAME"; uname -r)" \
  --cxx "$(c++ --version 2>/dev/null | head -1)" --buildtype "$buildtype" --wrk "$(wrk -v 2>&1 | head -1 || true)" \
  --commit "$(git -C "$root" describe --always --dirty 2>/dev/null || echo unknown)" --versions "$versions" \
  --load "$load_start / $(cut -d' ' -f1-3 /proc/loadavg)" --seconds "$(( $(date +%s) - started ))" || report_status=$?
rm -f "$out/server.png"
if [ "$have_gnuplot" = 1 ] && [ -s "$out/server.dat" ]; then
  (cd "$out" && timeout 60 gnuplot "$here/server_plot.gp") && say "plot: $out/server.png"
fi
# A full run into the default directory publishes its table and plot (the only files of
# bench/results/server* under version control).
if [ "$smoke" = 0 ] && [ "$out" = "$here/results/server" ] && [ "$report_status" = 0 ]; then
  cp "$out/results.md" "$here/results/server-latest.md"
  [ ! -f "$out/server.png" ] || cp "$out/server.png" "$here/results/server-latest.png"
  say "published: bench/results/server-latest.md and server-latest.png"
fi
say "done in $(( $(date +%s) - started )) s: $out/results.md ($failures failed)"
[ "$failures" = 0 ] || exit 1
exit "$report_status"
