#!/usr/bin/env bash
# mcpc end to end: the bundled demo config, and the pinned npm servers of both eras.
#   test_mcpc.sh MCPC DEMO_JSON INTEROP_DIR FAULT_SERVER HTTP_FAULT_SERVER SKILLS_SERVER CONFORMANCE_SERVER
set -uo pipefail
mcpc=$1 demo=$2 interop=$3 fault=$4 http_fault=$5 skills=$6 conformance=$7
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
fails=0 passes=0
out=$(mktemp) err=$(mktemp)
trap 'rm -f "$out" "$err"' EXIT

# fail MESSAGE: one failed check (for checks that are not one mcpc run)
fail() { fails=$((fails + 1)); echo "FAIL: $*"; }

# expect EXIT_CODE|- PATTERN_IN_STDOUT|- PATTERN_IN_STDERR|- -- mcpc args...
expect() {
  local code=$1 want_out=$2 want_err=$3
  shift 4
  "$mcpc" "$@" >"$out" 2>"$err"
  local got=$?
  local ok=1
  [ "$code" = "-" ] || [ "$got" = "$code" ] || ok=0
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
# A refused connection says so, whatever the transport (a /sse URL is legacy HTTP+SSE).
expect 1 - 'could not connect: connection refused' -- --url http://127.0.0.1:1/mcp tools
expect 1 - 'GET http://127.0.0.1:1/sse: could not connect: connection refused' -- --url http://127.0.0.1:1/sse tools
if grep -q "endpoint" "$err"; then fail "a refused /sse connection spoke of the endpoint event"; fi
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

# Names as `tools` prints them can be called: SERVER_TOOL, and with one server its own name too.
expect 0 '^5$' - -- --config "$demo" call math_add --args '{"a":2,"b":3}'
expect 0 '^5$' - -- --stdio "$(dirname "$demo")/demo_server" call stdio_add --args '{"a":2,"b":3}'
expect 0 '^5$' - -- --stdio "$(dirname "$demo")/demo_server" call add --args '{"a":2,"b":3}'
expect 2 - "no server matches 'nosuch_add'.*SERVER_TOOL (servers: math, text)" -- --config "$demo" call nosuch_add
# Server names holding '_': the servers' tool lists settle which reading is meant; a name that
# still reads two ways is a usage error naming both.
names_conf=$(mktemp)
printf '{"mcpServers": {"a": {"command": "python3", "args": ["%s", "b_c"]}, "a_b": {"command": "python3", "args": ["%s", "c"]}}}' \
  "$here/named_tools_server.py" "$here/named_tools_server.py" >"$names_conf"
expect 2 - "'a_b_c' is ambiguous: tool 'b_c' of a, tool 'c' of a_b; give SERVER TOOL" -- --config "$names_conf" call a_b_c
expect 0 '^called c$' - -- --config "$names_conf" call a_b c
expect 0 '^called b_c$' - -- --config "$names_conf" call a b_c
printf '{"mcpServers": {"a": {"command": "python3", "args": ["%s", "x"]}, "a_b": {"command": "python3", "args": ["%s", "c"]}}}' \
  "$here/named_tools_server.py" "$here/named_tools_server.py" >"$names_conf"
expect 0 '^called c$' - -- --config "$names_conf" call a_b_c
expect 0 '^called x$' - -- --config "$names_conf" call a_x
expect 1 - "no tool 'a_b_z' (looked for tool 'b_z' of a, tool 'z' of a_b)" -- --config "$names_conf" call a_b_z
rm -f "$names_conf"

# Config files in the other common forms: VS Code's "servers" with "type", Claude Code's
# "type" in "mcpServers", VS Code settings' "mcp": {"servers"}; anything else says what is expected.
forms=$(mktemp)
printf '{"servers": {"m": {"type": "stdio", "command": "%s", "args": ["--name", "m"]}}, "inputs": []}' "$(dirname "$demo")/demo_server" >"$forms"
expect 0 '^m_add' - -- --config "$forms" tools
expect 0 '^5$' - -- --config "$forms" call m_add --args '{"a":2,"b":3}'
printf '{"mcp": {"servers": {"m": {"command": "%s"}}}}' "$(dirname "$demo")/demo_server" >"$forms"
expect 0 '^m_add' - -- --config "$forms" tools
printf '{"mcpServers": {"m": {"type": "stdio", "command": "%s"}}}' "$(dirname "$demo")/demo_server" >"$forms"
expect 0 '^m_add' - -- --config "$forms" tools
printf '{"servers": {"m": {"type": "websocket", "url": "ws://127.0.0.1:1"}}}' >"$forms"
expect 2 - 'servers.m.type must be "stdio", "http" or "sse", got "websocket"' -- --config "$forms" tools
printf '{"servers": {"m": {"type": "http"}}}' >"$forms"
expect 2 - 'servers.m is of type http but has no "url"' -- --config "$forms" tools
printf '{"servers": {"m": {"type": "stdio", "command": "x", "args": "notalist"}}}' >"$forms"
expect 2 - 'servers.m.args must be an array' -- --config "$forms" tools
printf '{"context_servers": {"m": {"command": "x"}}}' >"$forms"
expect 2 - 'has no "mcpServers" or "servers" (it has "context_servers"); expected {"mcpServers"' -- --config "$forms" tools
printf '[1]' >"$forms"
expect 2 - 'is array, not an object' -- --config "$forms" tools
rm -f "$forms"

# Roots from --root (file:// URIs), none without it; sampling declined with a line on stderr.
rootdir=$(mktemp -d)
mkdir "$rootdir/with space"
expect 0 "\"uri\":\"file://$rootdir/with%20space\"" - -- --stdio "$fault" --root "$rootdir/with space" --root /tmp call ask_roots
expect 0 '"uri":"file:///tmp"' - -- --stdio "$fault" --root "$rootdir/with space" --root /tmp call ask_roots
expect 0 '"roots":\[\]' - -- --stdio "$fault" call ask_roots
expect 2 - "--root: '$rootdir/none' is not a directory" -- --stdio "$fault" --root "$rootdir/none" tools
rm -rf "$rootdir"

# Elicitation without a terminal: declined, saying why (--no-input says so too); --input
# answers from stdin anyway.
expect 0 '"action":"decline"' 'asked for input ("Your name?"): declined, stdin is not a terminal (--input answers from stdin anyway)' -- --stdio "$fault" call ask
expect 0 '"action":"decline"' 'declined, --no-input' -- --stdio "$fault" --no-input call ask
printf '\n\nGrace\n' | "$mcpc" --stdio "$fault" --input call ask >"$out" 2>"$err"  # yes, colour by default, name
if [ $? = 0 ] && grep -q '"name":"Grace"' "$out" && grep -q '"color":"blue"' "$out"; then passes=$((passes + 1)); else
  fail "--input: answers from a pipe"; cat "$out" "$err"; fi
expect 2 - '--input and --no-input are mutually exclusive' -- --stdio "$fault" --input --no-input call ask
# ... and at a terminal (a pseudo-terminal played by elicit_pty.py; with server-everything below).
if python3 "$here/elicit_pty.py" "$mcpc" "$fault" >"$out" 2>&1; then passes=$((passes + 1)); else fail "elicitation at a terminal"; cat "$out"; fi

# Progress and server logs on stderr: with --verbose (stderr is not a terminal here), else not.
expect 0 '^done$' 'mcpc: \[stdio\] progress 2/3' -- --stdio "$fault" --verbose call progress --args '{"steps":3,"ms":0}'
expect 0 '^done$' - -- --stdio "$fault" call progress --args '{"steps":3,"ms":0}'
if grep -q progress "$err"; then fail "progress printed without a terminal or --verbose"; else passes=$((passes + 1)); fi
expect 0 '^notified$' 'mcpc: \[stdio\] info (fault-server): notify tool' -- --stdio "$fault" --verbose call notify

# info names the transport.
expect 0 '  transport: stdio' - -- --config "$demo" info math
expect 0 '"transport": "stdio"' - -- --config "$demo" info math --json

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
  # No error repeats its code (the TypeScript SDK's messages already say "MCP error -32602").
  expect 1 - '32602' -- --stdio "$everything" prompt nope
  if [ "$(grep -o -- '-32602' "$err" | wc -l)" = 1 ]; then passes=$((passes + 1)); else fail "an error repeated its code:"; cat "$err"; fi
  expect 3 'nope' - -- --stdio "$everything" call nope  # its own tool error (isError)
  # --json prompt prints what the server sent.
  expect 0 - - -- --stdio "$everything" prompt args-prompt --args '{"city":"Lyon"}' --json
  if python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); m=d["messages"]; assert m[0]["role"]=="user" and m[0]["content"]["type"]=="text" and "Lyon" in m[0]["content"]["text"], d' "$out"; then
    passes=$((passes + 1)); else fail "--json prompt"; cat "$out"; fi
  # Argument completion, for a prompt's argument (with context) and a resource template's variable.
  expect 0 '^Engineering$' - -- --stdio "$everything" complete prompt completable-prompt department E
  expect 0 '^Eve$' - -- --stdio "$everything" complete prompt completable-prompt name E --args '{"department":"Sales"}'
  if grep -q Alice "$out"; then fail "complete ignored --args"; else passes=$((passes + 1)); fi
  expect 0 '"values": \[' - -- --stdio "$everything" complete prompt completable-prompt department "" --json
  expect 0 '^42$' - -- --stdio "$everything" complete resource 'demo://resource/dynamic/text/{resourceId}' resourceId 42
  expect 2 - 'complete takes \[SERVER\] prompt NAME ARGUMENT' -- --stdio "$everything" complete prompt completable-prompt
  expect 2 - 'complete takes' -- --stdio "$everything" complete nonsense a b
  # Sampling: declined, with a line on stderr.
  expect - - 'asked for an LLM completion (sampling): declined, mcpc has no model' -- --stdio "$everything" call trigger-sampling-request --args '{"prompt":"hi"}'
  # Images: decoded bytes, as read counts a blob.
  expect 0 '^\[image/png, [0-9]* bytes\]$' - -- --stdio "$everything" call get-tiny-image
  # Progress (server-everything over legacy stdio).
  expect 0 - 'progress 1/2' -- --stdio "$everything" --verbose call trigger-long-running-operation --args '{"duration":1,"steps":2}'
  # Elicitation at a terminal: a form with every kind of field.
  if python3 "$here/elicit_pty.py" "$mcpc" "$fault" "$everything" >"$out" 2>&1; then passes=$((passes + 1)); else fail "elicitation at a terminal (server-everything)"; cat "$out"; fi
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

# http_fault_server: started with stdin on a fifo (it exits at EOF); sets hf_port.
start_http_fault() {
  hf_fifo=$(mktemp -u)
  mkfifo "$hf_fifo"
  hf_portfile=$(mktemp)
  "$http_fault" --port 0 "$@" <"$hf_fifo" >"$hf_portfile" &
  hf_pid=$!
  exec 8>"$hf_fifo"
  for _ in $(seq 1 100); do grep -q '^PORT ' "$hf_portfile" && break; sleep 0.05; done
  hf_port=$(sed -n 's/^PORT //p' "$hf_portfile")
}
stop_http_fault() {
  exec 8>&-
  wait "$hf_pid" 2>/dev/null
  rm -f "$hf_fifo" "$hf_portfile"
}

# A 401 keeps the URL's path and says what to do on the command line.
start_http_fault --require-auth s3cret-token
expect 1 - "HTTP 401 from http://127.0.0.1:$hf_port/mcp: authentication required" -- --url "http://127.0.0.1:$hf_port/mcp" tools
expect 1 - 'use --oauth (MCP authorization), or --bearer TOKEN' -- --url "http://127.0.0.1:$hf_port/mcp" tools
expect 0 - - -- --url "http://127.0.0.1:$hf_port/mcp" --bearer s3cret-token tools
expect 1 - 'the server refused the bearer token' -- --url "http://127.0.0.1:$hf_port/mcp" --bearer wrong tools
expect 0 '  transport: streamable-http$' - -- --url "http://127.0.0.1:$hf_port/mcp" --bearer s3cret-token info
stop_http_fault

# info says which transport was used, and when Streamable HTTP fell back to HTTP+SSE.
start_http_fault --mode sse
expect 0 'transport: sse (fallback: Streamable HTTP was refused)' - -- --url "http://127.0.0.1:$hf_port/mcp" info
expect 0 '"transportFallback": true' - -- --url "http://127.0.0.1:$hf_port/mcp" info --json
expect 0 '  transport: sse$' - -- --url "http://127.0.0.1:$hf_port/sse" info
stop_http_fault

# --token-store leaves no FILE.lock behind (the store is used by a refused --oauth attempt too).
store_dir=$(mktemp -d)
start_http_fault --require-auth s3cret-token
"$mcpc" --url "http://127.0.0.1:$hf_port/mcp" --oauth --oauth-client-credentials --oauth-client-id x \
  --token-store "$store_dir/tokens.json" --timeout 5000 tools >"$out" 2>"$err"
stop_http_fault
if [ -e "$store_dir/tokens.json.lock" ]; then fail "--token-store left tokens.json.lock"; ls -la "$store_dir"; else passes=$((passes + 1)); fi
rm -rf "$store_dir"

# Skills (io.modelcontextprotocol/skills): listing, a SKILL.md, one file, both eras; typed
# errors for a server without the extension, a skill or file that is not there, a file that
# fails its digest.
for era in legacy modern; do
  expect 0 'stdio  pdf-processing  skill://pdf-processing/SKILL.md' - -- --stdio "$skills --era $era" skills
  expect 0 'refunds' - -- --stdio "$skills --era $era" skills stdio
  expect 0 '(dynamic)' - -- --stdio "$skills --era $era" skills
  expect 0 '"uri": "skill://acme/billing/refunds/SKILL.md"' - -- --stdio "$skills --era $era" skills --json
  expect 0 '^name: pdf-processing' - -- --stdio "$skills --era $era" skill pdf-processing
  expect 0 '^name: pdf-processing' - -- --stdio "$skills --era $era" skill skill://pdf-processing/SKILL.md
  expect 0 '"verified": true' - -- --stdio "$skills --era $era" skill pdf-processing --json
  expect 0 - - -- --stdio "$skills --era $era" skill-file pdf-processing references/FORMS.md
done
expect 0 '"name": "pdf-processing"' - -- --stdio "$skills" skill stdio pdf-processing --json
# The file as the server has it (the fixture serves it verified; compare with the JSON text).
"$mcpc" --stdio "$skills" skill-file pdf-processing references/FORMS.md >"$out" 2>"$err"
forms_text=$("$mcpc" --stdio "$skills" skill-file pdf-processing references/FORMS.md --json | python3 -c 'import json,sys; sys.stdout.write(json.load(sys.stdin)["text"])')
if [ -s "$out" ] && [ "$(cat "$out")" = "$forms_text" ]; then passes=$((passes + 1)); else fail "skill-file printed other bytes than --json's text"; fi
expect 0 '^\[blob' - -- --stdio "$skills" skill-file pdf-processing scripts/extract.py
skill_out=$(mktemp)
expect 0 - - -- --stdio "$skills" skill-file pdf-processing scripts/extract.py --out "$skill_out"
if [ -s "$skill_out" ]; then passes=$((passes + 1)); else fail "skill-file --out wrote nothing"; fi
rm -f "$skill_out"
expect 0 '"blob"' - -- --stdio "$skills" skill-file pdf-processing scripts/extract.py --json
expect 1 - "offers no skills (it does not declare the io.modelcontextprotocol/skills extension)" -- --stdio "$skills --no-extension" skills stdio
expect 0 - - -- --stdio "$skills --no-extension" skills
expect 1 - "offers no skills" -- --stdio "$skills --no-extension" skill pdf-processing
expect 1 - "no skill named 'nope' (skills: " -- --stdio "$skills" skill nope
expect 1 - "lists no file skill://pdf-processing/nope.md (files: " -- --stdio "$skills" skill-file pdf-processing nope.md
expect 1 - 'digest' -- --stdio "$skills --fault digest" skill pdf-processing
expect 1 - 'digest' -- --stdio "$skills --fault forms-digest" skill-file pdf-processing references/FORMS.md
expect 2 - 'skill-file takes \[SERVER\] NAME PATH' -- --stdio "$skills" skill-file
expect 2 - 'skill needs NAME' -- --stdio "$skills" skill
expect 2 - "unknown server 'nosuch'" -- --stdio "$skills" skills nosuch

# call --task: the task's id and statuses on stderr, its result on stdout.
expect 0 '^Computed t' 'task .*: working' -- --stdio "$conformance --tasks" call slow_compute --args '{"seconds":0.3,"label":"t"}' --task
expect 0 '^Computed t' - -- --stdio "$conformance --tasks" call slow_compute --args '{"seconds":0.3,"label":"t"}'
expect 2 - '--task only applies to call' -- --stdio "$conformance --tasks" tools --task

echo "mcpc: $passes passed, $fails failed"
[ $fails = 0 ]
