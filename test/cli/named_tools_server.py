#!/usr/bin/env python3
"""A minimal stdio MCP server (2025-06-18, legacy era) whose tools have the names given on its
command line; calling one answers "called NAME". Test equipment for mcpc's `call SERVER_TOOL`
resolution: names that read as more than one server's tool."""
import json
import sys

names = sys.argv[1:]
for line in sys.stdin:
    try:
        msg = json.loads(line)
    except ValueError:
        continue
    if "id" not in msg or "method" not in msg:
        continue
    method, rid = msg["method"], msg["id"]
    if method == "initialize":
        result = {"protocolVersion": "2025-06-18", "capabilities": {"tools": {}},
                  "serverInfo": {"name": "named-tools", "version": "1"}}
    elif method == "tools/list":
        result = {"tools": [{"name": n, "inputSchema": {"type": "object"}} for n in names]}
    elif method == "tools/call":
        result = {"content": [{"type": "text", "text": "called " + msg["params"]["name"]}]}
    elif method == "ping":
        result = {}
    else:
        reply = {"jsonrpc": "2.0", "id": rid, "error": {"code": -32601, "message": "Method not found"}}
        print(json.dumps(reply), flush=True)
        continue
    print(json.dumps({"jsonrpc": "2.0", "id": rid, "result": result}), flush=True)
