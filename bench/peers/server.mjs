// Benchmark MCP server built with the official TypeScript SDK (@modelcontextprotocol/sdk,
// pinned in package.json): 20 tools, `echo {text}` plus 19 small ones. Legacy era
// (initialize handshake, protocol up to 2025-11-25), which is what the SDK's server speaks.
// With --sleep-tool it has a 21st tool, `sleep {ms}`, that answers after ms milliseconds (the
// inflight case's; the other cases run without it, so their tool list stays the same).
//
//   node server.mjs stdio [--sleep-tool]        newline-delimited JSON-RPC on stdin/stdout
//   node server.mjs http [PORT] [--sleep-tool]  Streamable HTTP with sessions on http://127.0.0.1:PORT/mcp
//                                (PORT 0 or absent: a free port). Prints "PORT <n>" on stdout
//                                when listening. GET /sessions returns {"sessions": <live>},
//                                DELETE /mcp ends a session. Exits when stdin closes or on SIGTERM.
//
// Run it with the pinned Node 22 (bench/peers/node_modules/.bin/node).
import http from "node:http";
import { randomUUID } from "node:crypto";
import { McpServer } from "@modelcontextprotocol/sdk/server/mcp.js";
import { StdioServerTransport } from "@modelcontextprotocol/sdk/server/stdio.js";
import { StreamableHTTPServerTransport } from "@modelcontextprotocol/sdk/server/streamableHttp.js";
import { isInitializeRequest } from "@modelcontextprotocol/sdk/types.js";
import { z } from "zod";

const text = (t) => ({ content: [{ type: "text", text: String(t) }] });

function buildServer() {
  const server = new McpServer({ name: "bench-ts-server", version: "1.0.0" });
  const tool = (name, description, shape, fn) =>
    server.registerTool(name, { description, inputSchema: shape }, async (args) => text(fn(args)));
  tool("echo", "Return the given text unchanged", { text: z.string() }, ({ text: t }) => t);
  tool("add", "a + b", { a: z.number(), b: z.number() }, ({ a, b }) => a + b);
  tool("sub", "a - b", { a: z.number(), b: z.number() }, ({ a, b }) => a - b);
  tool("mul", "a * b", { a: z.number(), b: z.number() }, ({ a, b }) => a * b);
  tool("div", "a / b", { a: z.number(), b: z.number() }, ({ a, b }) => a / b);
  tool("max", "max(a, b)", { a: z.number(), b: z.number() }, ({ a, b }) => Math.max(a, b));
  tool("min", "min(a, b)", { a: z.number(), b: z.number() }, ({ a, b }) => Math.min(a, b));
  tool("upper", "Upper-case text", { text: z.string() }, ({ text: t }) => t.toUpperCase());
  tool("lower", "Lower-case text", { text: z.string() }, ({ text: t }) => t.toLowerCase());
  tool("reverse", "Reverse text", { text: z.string() }, ({ text: t }) => [...t].reverse().join(""));
  tool("length", "Length of text", { text: z.string() }, ({ text: t }) => t.length);
  tool("word_count", "Words in text", { text: z.string() }, ({ text: t }) => t.split(/\s+/).filter(Boolean).length);
  tool("concat", "a + b as strings", { a: z.string(), b: z.string() }, ({ a, b }) => a + b);
  tool("repeat", "Repeat text n times", { text: z.string(), n: z.number().int().min(0).max(100) },
       ({ text: t, n }) => t.repeat(n));
  tool("now", "Current time (ISO 8601)", {}, () => new Date().toISOString());
  tool("uuid", "A random UUID", {}, () => randomUUID());
  tool("random", "A random number in [0, 1)", {}, () => Math.random());
  tool("is_even", "Whether n is even", { n: z.number().int() }, ({ n }) => n % 2 === 0);
  tool("sum_list", "Sum of a list of numbers", { values: z.array(z.number()) },
       ({ values }) => values.reduce((s, v) => s + v, 0));
  tool("ping", "Returns pong", {}, () => "pong");
  if (sleepTool)
    server.registerTool("sleep", { description: "Wait ms milliseconds, then return ms", inputSchema: { ms: z.number().int().min(0).max(600000) } },
                        async ({ ms }) => new Promise((resolve) => setTimeout(() => resolve(text(ms)), ms)));
  return server;
}

const sleepTool = process.argv.includes("--sleep-tool");
const [mode = "stdio", portArg = "0"] = process.argv.slice(2).filter((a) => a !== "--sleep-tool");

if (mode === "stdio") {
  const server = buildServer();
  await server.connect(new StdioServerTransport());
} else if (mode === "http") {
  const transports = new Map(); // session id -> transport
  const readBody = (req) =>
    new Promise((resolve, reject) => {
      const chunks = [];
      req.on("data", (c) => chunks.push(c));
      req.on("end", () => resolve(Buffer.concat(chunks).toString("utf8")));
      req.on("error", reject);
    });
  const reply = (res, status, obj) => {
    const body = JSON.stringify(obj);
    res.writeHead(status, { "content-type": "application/json", "content-length": Buffer.byteLength(body) });
    res.end(body);
  };
  const rpcError = (res, status, message) =>
    reply(res, status, { jsonrpc: "2.0", error: { code: -32000, message }, id: null });

  const httpServer = http.createServer(async (req, res) => {
    try {
      const url = new URL(req.url, "http://127.0.0.1");
      if (url.pathname === "/sessions" && req.method === "GET") return reply(res, 200, { sessions: transports.size });
      if (url.pathname !== "/mcp") return reply(res, 404, { error: "not found" });
      const sid = req.headers["mcp-session-id"];
      if (req.method === "POST") {
        const raw = await readBody(req);
        let body;
        try {
          body = JSON.parse(raw);
        } catch {
          return reply(res, 400, { jsonrpc: "2.0", error: { code: -32700, message: "Parse error" }, id: null });
        }
        if (sid && transports.has(sid)) return transports.get(sid).handleRequest(req, res, body);
        if (sid) return rpcError(res, 404, "Session not found");
        if (!isInitializeRequest(body)) return rpcError(res, 400, "Bad Request: No valid session ID provided");
        const transport = new StreamableHTTPServerTransport({
          sessionIdGenerator: () => randomUUID(),
          onsessioninitialized: (id) => transports.set(id, transport),
          onsessionclosed: (id) => transports.delete(id),
        });
        transport.onclose = () => {
          if (transport.sessionId) transports.delete(transport.sessionId);
        };
        await buildServer().connect(transport);
        return transport.handleRequest(req, res, body);
      }
      if (req.method === "GET" || req.method === "DELETE") {
        if (!sid || !transports.has(sid)) return rpcError(res, sid ? 404 : 400, "Invalid or missing session ID");
        return transports.get(sid).handleRequest(req, res);
      }
      res.writeHead(405, { allow: "GET, POST, DELETE" }).end();
    } catch (e) {
      if (!res.headersSent) rpcError(res, 500, String(e?.message ?? e));
    }
  });
  const stop = () => {
    httpServer.closeAllConnections?.();
    process.exit(0);
  };
  process.on("SIGTERM", stop);
  process.on("SIGINT", stop);
  process.stdin.on("end", stop);
  process.stdin.on("error", stop);
  process.stdin.resume();
  // The inflight and burst cases open thousands of connections at once (the Node clients use
  // one per call in flight): a long listen queue, and no cap on connections (Node's default).
  httpServer.listen({ port: Number(portArg), host: "127.0.0.1", backlog: 4096 }, () => {
    process.stdout.write(`PORT ${httpServer.address().port}\n`);
  });
} else {
  process.stderr.write("usage: server.mjs stdio | http [PORT]\n");
  process.exit(2);
}
