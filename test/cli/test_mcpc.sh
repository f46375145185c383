#!/usr/bin/env bash
# mcpc end to end: the bundled demo config, and the pinned npm servers of both eras.
#   test_mcpc.sh MCPC DEMO_JSON INTEROP_DIR FAULT_SERVER
set -uo pipefail
mcpc=$1 demo=$2 interop=$3 fault=$4
fails=0 passes=0
out=$(mktemp) err=$(mktemp)
trap 'rm -f "$out" "$err"' EXIT

# expect EXIT_CODE PATTERN_IN_STDOUT|- PATTERN_IN_STDERR|- -- mcpc args...
expect() {
  local code=$1 want_out=$2 want_err=$3
  shift 4
  "$mcpc" "$@" >"$out" 2>"$err"
  local got=$?
  local ok=1
  [ "$got" = "$code" ] || ok=0
  [ "$want_out" = "-" ] || grep -q -- "$want_out" "$out" || ok=0
  [ "$want_err" = "-" ] || grep -q -- "$want_err" "$err" || ok=0
  if [ $ok = 1 ]; then
    passes=$((passes + 1))
  else
    fails=$((fails + 1))
    echo "FAIL: mcpc $* (exit $got, wanted $code; stdout/stderr below)"
    head -c 2000 "$out"; head -c 2000 "$err"
  fi
}

expect 0 'math_add' - -- --config "$demo" tools
expect 0 '"math"' - -- --config "$demo" tools --json
expect 0 '^5$' - -- --config "$demo" call math add --args '{"a":2,"b":3}'
expect 0 '"structuredContent"' - -- --config "$demo" call math add --args '{"a":2,"b":3}' --json
expect 0 'modern' - -- --config "$demo" info
expect 0 'legacy' - -- --config "$demo" --era legacy info
expect 1 - 'Unknown tool' -- --config "$demo" call math nope
expect 2 - "unknown server 'nosuch'" -- --config "$demo" call nosuch add
expect 2 - "unknown server 'nosuch'" -- --config "$demo" info nosuch
expect 2 - 'must be a JSON object' -- --config "$demo" call math add --args '[1]'
# Hostile or mistaken JSON from the user: a clear usage error, never a crash or "internal error".
deep=$(head -c 60000 /dev/zero | tr '\0' '[')$(head -c 60000 /dev/zero | tr '\0' ']')
expect 2 - '--args nests deeper than 128 levels' -- --config "$demo" call math add --args "{\"a\":$deep}"
expect 2 - 'number overflow' -- --config "$demo" call math add --args '{"a":1e400,"b":1}'
bad_config=$(mktemp)
printf '{"mcpServers":{"x":{"command":"true"}},"deep":%s}' "$deep" >"$bad_config"
expect 2 - 'nests deeper than 128 levels' -- --config "$bad_config" tools
printf '{"mcpServers":{"x":{"command":"true","args":[1e400]}}}' >"$bad_config"
expect 2 - 'is not valid JSON.*number overflow' -- --config "$bad_config" tools
rm -f "$bad_config"
expect 2 - 'cannot read config file' -- --config /nonexistent/mcp.json tools
expect 1 - 'not found in PATH' -- --stdio "no-such-mcp-server-for-tests" tools
expect 1 - 'could not connect' -- --url http://127.0.0.1:1/mcp tools
# A configuration that cannot work is a usage error, and its secrets are not echoed.
expect 2 - 'user name or password' -- --url 'http://user:s3cret-pw@127.0.0.1:1/mcp' tools
if grep -q 's3cret-pw' "$err"; then fails=$((fails + 1)); echo "FAIL: the URL's password was printed"; else passes=$((passes + 1)); fi
expect 2 - 'contains CR, LF or NUL' -- --url http://127.0.0.1:1/mcp --header $'X-Api-Key: k\r\nX-Evil: 1' tools
crlf_conf=$(mktemp)
printf '{"mcpServers": {"a": {"url": "http://127.0.0.1:1/mcp", "headers": {"X-Api-Key": "k\\r\\nX-Evil: 1"}}}}' > "$crlf_conf"
expect 2 - 'contains CR, LF or NUL' -- --config "$crlf_conf" tools
rm -f "$crlf_conf"
expect 2 - 'need --oauth' -- --url http://127.0.0.1:1/mcp --oauth-scope x tools
expect 2 - 'apply to HTTP servers' -- --stdio "true" --bearer t tools
expect 2 - 'mutually exclusive' -- --url http://127.0.0.1:1/mcp --bearer t --oauth tools
expect 2 - 'needs --oauth-client-id' -- --url http://127.0.0.1:1/mcp --oauth --oauth-client-credentials tools
expect 2 - 'must be a port number' -- --url http://127.0.0.1:1/mcp --oauth --oauth-port 99999 tools

# The demo servers have no resources or prompts: "Method not found" means none, not an error.
expect 0 - - -- --config "$demo" resources
expect 0 '"resourceTemplates": \[\]' - -- --config "$demo" resources --json
expect 0 '"math": \[\]' - -- --config "$demo" prompts --json
expect 1 - 'Method not found' -- --config "$demo" read math demo://x
# A server without tools (-32601 to tools/list) lists none: alone, and beside others in a config.
expect 0 - - -- --stdio "$fault --no-tools" tools
expect 0 '"stdio": \[\]' - -- --stdio "$fault --no-tools" tools --json
bare_conf=$(mktemp)
printf '{"mcpServers": {"bare": {"command": "%s", "args": ["--no-tools"]}, "full": {"command": "%s"}}}' "$fault" "$fault" >"$bare_conf"
expect 0 'full_echo' - -- --config "$bare_conf" tools
expect 0 '"bare": \[\]' - -- --config "$bare_conf" tools --json
expect 0 - - -- --config "$bare_conf" prompts
rm -f "$bare_conf"
expect 2 - 'read needs SERVER URI' -- --config "$demo" read demo://x
expect 2 - '--out only applies to read' -- --config "$demo" tools --out /dev/null
expect 2 - 'prompt takes SERVER NAME' -- --config "$demo" prompt math a b

# fail MESSAGE: one failed check (for checks that are not one mcpc run)
fail() { fails=$((fails + 1)); echo "FAIL: $*"; }

# Names a hostile server chose are printed escaped, one line per tool, padded to a bounded
# width: a forged line, escape sequences, a C1 control, a byte that is not UTF-8, a 1 MiB name.
expect 0 'stdio_forged\\x0d\\x0afake_tool' - -- --stdio "$fault --hostile-names" tools
if LC_ALL=C grep -q $'\x1b\|\r\|\xc2\x9b' "$out"; then fail "tools printed a raw control character"; else passes=$((passes + 1)); fi
if grep -q '^fake_tool' "$out"; then fail "a tool name forged a line"; else passes=$((passes + 1)); fi
size=$(wc -c <"$out")
if [ "$size" -lt $((1100 * 1024)) ]; then passes=$((passes + 1)); else fail "tools printed $size bytes for a 1 MiB name"; fi
expect 0 'c1\\x9b31m_and_bad' - -- --stdio "$fault --hostile-names" tools

# A daemon a stdio server started (setsid: out of reach of the group kill) ends with mcpc.
expect 0 '^[0-9][0-9]*$' - -- --stdio "$fault" call spawn_daemon
daemon=$(head -n 1 "$out")
if [ -n "$daemon" ] && kill -0 "$daemon" 2>/dev/null; then
  fail "the server's daemon $daemon outlived mcpc"
  kill -9 "$daemon" 2>/dev/null
else
  passes=$((passes + 1))
fi

node="$interop/node_modules/.bin/node"
if [ ! -x "$node" ]; then
  echo "FAIL: interop packages missing (npm ci --prefix test/interop)"
  fails=$((fails + 1))
else
  everything="$node $interop/node_modules/@modelcontextprotocol/server-everything/dist/index.js stdio"
  mastra="$node $interop/mastra_server.mjs stdio"
  expect 0 '"get-sum"' - -- --stdio "$everything" tools --json
  expect 0 'The sum of 2 and 3 is 5' - -- --stdio "$everything" call get-sum --args '{"a":2,"b":3}'
  expect 0 'legacy' - -- --stdio "$everything" info
  # Resources and prompts.
  expect 0 'demo://' - -- --stdio "$everything" resources
  expect 0 '^templates:' - -- --stdio "$everything" resources
  expect 0 '"resourceTemplates"' - -- --stdio "$everything" resources --json
  expect 0 'Resource 1: This is a plaintext resource' - -- --stdio "$everything" read demo://resource/dynamic/text/1
  expect 0 '^\[blob .*, [0-9]* bytes\]$' - -- --stdio "$everything" read demo://resource/dynamic/blob/1
  expect 0 '"blob"' - -- --stdio "$everything" read demo://resource/dynamic/blob/1 --json
  blob=$(mktemp)
  rm -f "$blob"
  expect 0 - - -- --stdio "$everything" read demo://resource/dynamic/blob/1 --out "$blob"
  if [ -s "$blob" ]; then passes=$((passes + 1)); else fails=$((fails + 1)); echo "FAIL: read --out wrote no bytes"; fi
  rm -f "$blob"
  expect 1 - 'not found' -- --stdio "$everything" read demo://no/such/resource
  expect 0 'args-prompt' - -- --stdio "$everything" prompts
  expect 0 'city (required)' - -- --stdio "$everything" prompts
  expect 0 '^user: .*Lyon' - -- --stdio "$everything" prompt args-prompt --args '{"city":"Lyon"}'
  expect 0 'Lyon, 3' - -- --stdio "$everything" prompt args-prompt --args '{"city":"Lyon","state":3}' --json
  expect 1 - 'nope' -- --stdio "$everything" prompt nope
  expect 2 - 'must be a JSON object' -- --stdio "$everything" prompt args-prompt --args '[1]'
  expect 2 - "'city' is an object" -- --stdio "$everything" prompt args-prompt --args '{"city":{"a":1}}'
  expect 0 '"get-sum"' - -- --stdio "$mastra" tools --json
  expect 0 'The sum of 2 and 3 is 5' - -- --stdio "$mastra" call get-sum --args '{"a":2,"b":3}'
  expect 0 'modern' - -- --stdio "$mastra" info
  expect 3 'intentional failure' - -- --stdio "$mastra" call fail

  # Over HTTP: --url, and a url entry in a config file.
  port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()')
  "$node" "$interop/mastra_server.mjs" http "$port" 2>/dev/null &
  server_pid=$!
  for _ in $(seq 1 150); do
    (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null && break
    sleep 0.1
  done
  expect 0 'The sum of 2 and 3 is 5' - -- --url "http://127.0.0.1:$port/mcp" call get-sum --args '{"a":2,"b":3}'
  expect 0 'modern' - -- --url "http://127.0.0.1:$port/mcp" info
  conf=$(mktemp)
  printf '{"mcpServers": {"remote": {"url": "http://127.0.0.1:%s/mcp"}, "local": {"command": "%s", "args": ["--name", "math"]}}}' \
    "$port" "$(dirname "$demo")/demo_server" > "$conf"
  expect 0 'remote_get-sum' - -- --config "$conf" tools
  expect 0 'local_add' - -- --config "$conf" tools
  expect 0 '^5$' - -- --config "$conf" call local add --args '{"a":2,"b":3}'
  rm -f "$conf"
  kill "$server_pid" 2>/dev/null
  wait "$server_pid" 2>/dev/null

  # Our own server over HTTP (demo_server --port: mcp::HttpHost), in both eras.
  fifo=$(mktemp -u)
  mkfifo "$fifo"
  portfile=$(mktemp)
  "$(dirname "$demo")/demo_server" --port 0 <"$fifo" >"$portfile" &
  demo_pid=$!
  exec 7>"$fifo"
  for _ in $(seq 1 100); do grep -q '^PORT ' "$portfile" && break; sleep 0.05; done
  demo_port=$(sed -n 's/^PORT //p' "$portfile")
  expect 0 '^5$' - -- --url "http://127.0.0.1:$demo_port/mcp" call add --args '{"a":2,"b":3}'
  expect 0 'modern' - -- --url "http://127.0.0.1:$demo_port/mcp" info
  printf '{"mcpServers": {"ours": {"url": "http://127.0.0.1:%s/mcp", "era": "legacy"}}}' "$demo_port" > "$portfile.json"
  expect 0 'legacy' - -- --config "$portfile.json" info
  expect 0 '^7$' - -- --config "$portfile.json" call ours add --args '{"a":3,"b":4}'
  exec 7>&-
  wait "$demo_pid" 2>/dev/null
  rm -f "$fifo" "$portfile" "$portfile.json"
fi

echo "mcpc: $passes passed, $fails failed"
[ $fails = 0 ]
