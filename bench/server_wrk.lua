-- wrk script of the server benchmark (bench/server_run.sh): POSTs one `tools/call echo` over
-- and over on each keep-alive connection, and checks every answer.
--
--   wrk -t T -c C -d S -s bench/server_wrk.lua http://127.0.0.1:PORT/mcp -- modern|stateless
--
-- modern: a 2026-07-28 request (_meta protocolVersion and clientCapabilities; headers
-- MCP-Protocol-Version, Mcp-Method, Mcp-Name). stateless: a legacy request without a session,
-- MCP-Protocol-Version 2025-11-25. done() prints one JSON line: requests, bad answers (not
-- 200, or no non-error result), socket errors, latency p50/p99 in microseconds.
local threads = {}

function setup(thread)
  table.insert(threads, thread)
end

local req
local bad = 0

function init(args)
  local era = args[1] or "modern"
  local body
  wrk.headers["Content-Type"] = "application/json"
  wrk.headers["Accept"] = "application/json, text/event-stream"
  if era == "modern" then
    body = '{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"echo","arguments":{"text":"hello"},'
      .. '"_meta":{"io.modelcontextprotocol/protocolVersion":"2026-07-28","io.modelcontextprotocol/clientCapabilities":{}}}}'
    wrk.headers["MCP-Protocol-Version"] = "2026-07-28"
    wrk.headers["Mcp-Method"] = "tools/call"
    wrk.headers["Mcp-Name"] = "echo"
  else
    body = '{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"echo","arguments":{"text":"hello"}}}'
    wrk.headers["MCP-Protocol-Version"] = "2025-11-25"
  end
  req = wrk.format("POST", nil, nil, body)
end

function request()
  return req
end

function response(status, headers, body)
  if status ~= 200 or not body:find('"result"', 1, true) or body:find('"isError":true', 1, true)
     or not body:find('hello', 1, true) then
    bad = bad + 1
  end
end

function done(summary, latency, requests)
  local b = 0
  for _, t in ipairs(threads) do
    b = b + (t:get("bad") or 0)
  end
  local e = summary.errors
  io.write(string.format(
    '{"requests": %d, "duration_us": %d, "bad": %d, "socket_errors": %d, "p50_us": %d, "p99_us": %d}\n',
    summary.requests, summary.duration, b, e.connect + e.read + e.write + e.status + e.timeout,
    latency:percentile(50), latency:percentile(99)))
end
