// The server benchmark's peer servers (bench/server_run.sh), with the same 20 small tools as
// bench/peers/server.mjs and bench/bench_server.cpp, one resource, and with --notify-tool a
// 21st tool, `notify {}`, that tells every listener the resource list changed.
//
//   node servers.mjs ts1    stdio | http PORT [--stateless] [--notify-tool]
//       @modelcontextprotocol/sdk 1.32.2 (legacy era): Streamable HTTP with sessions (one
//       McpServer per session, GET streams), or with --stateless one McpServer and transport
//       per request (the SDK's stateless idiom).
//   node servers.mjs ts2    stdio | http PORT [--notify-tool]
//       @modelcontextprotocol/server 2.4.0: createMcpHandler (modern 2026-07-28, stateless
//       legacy fallback; subscriptions/listen on its in-process bus), serveStdio.
//   node servers.mjs mastra stdio | http PORT [--notify-tool]
//       @mastra/mcp 2.0.0 MCPServer (modern only).
//
// HTTP: http://127.0.0.1:PORT/mcp (0: a free port); prints "PORT <n>" on stdout when it
// listens; exits when stdin ends or on SIGTERM. Run with the pinned Node 22
// (bench/server-peers/node_modules/.bin/node).
import http from "node:http";
import { Readable } from "node:stream";
import { randomUUID, randomBytes } from "node:crypto";
import { z } from "zod";

const args = process.argv.slice(2);
const flag = (f) => args.includes(f);
const [kind, mode = "stdio", portArg = "0"] = args.filter((a) => !a.startsWith("--"));
const notifyTool = flag("--notify-tool");

// [name, description, zod shape, fn(args) -> value]
const TOOLS = [
  ["echo", "Return the given text unchanged", { text: z.string() }, ({ text: t }) => t],
  ["add", "a + b", { a: z.number(), b: z.number() }, ({ a, b }) => a + b],
  ["sub", "a - b", { a: z.number(), b: z.number() }, ({ a, b }) => a - b],
  ["mul", "a * b", { a: z.number(), b: z.number() }, ({ a, b }) => a * b],
  ["div", "a / b", { a: z.number(), b: z.number() }, ({ a, b }) => a / b],
  ["max", "max(a, b)", { a: z.number(), b: z.number() }, ({ a, b }) => Math.max(a, b)],
  ["min", "min(a, b)", { a: z.number(), b: z.number() }, ({ a, b }) => Math.min(a, b)],
  ["upper", "Upper-case text", { text: z.string() }, ({ text: t }) => t.toUpperCase()],
  ["lower", "Lower-case text", { text: z.string() }, ({ text: t }) => t.toLowerCase()],
  ["reverse", "Reverse text", { text: z.string() }, ({ text: t }) => [...t].reverse().join("")],
  ["length", "Length of text", { text: z.string() }, ({ text: t }) => t.length],
  ["word_count", "Words in text", { text: z.string() }, ({ text: t }) => t.split(/\s+/).filter(Boolean).length],
  ["concat", "a + b as strings", { a: z.string(), b: z.string() }, ({ a, b }) => a + b],
  ["repeat", "Repeat text n times", { text: z.string(), n: z.number().int().min(0).max(100) }, ({ text: t, n }) => t.repeat(n)],
  ["now", "Current time (ISO 8601)", {}, () => new Date().toISOString()],
  ["uuid", "A random UUID", {}, () => randomUUID()],
  ["random", "A random number in [0, 1)", {}, () => Math.random()],
  ["is_even", "Whether n is even", { n: z.number().int() }, ({ n }) => n % 2 === 0],
  ["sum_list", "Sum of a list of numbers", { values: z.array(z.number()) }, ({ values }) => values.reduce((s, v) => s + v, 0)],
  ["ping", "Returns pong", {}, () => "pong"],
];
const text = (t) => ({ content: [{ type: "text", text: String(t) }] });
const README = { uri: "mem://bench/readme", name: "readme", mimeType: "text/plain" };

// Registers the tools and the resource on an McpServer (v1 or v2; v2 takes z.object schemas).
function register(server, wrap, notify) {
  for (const [name, description, shape, fn] of TOOLS)
    server.registerTool(name, { description, inputSchema: wrap(shape) }, async (a) => text(fn(a)));
  if (notifyTool)
    server.registerTool("notify", { description: "Tell every listener that the resource list changed", inputSchema: wrap({}) },
                        async () => { notify(); return text("notified"); });
  server.registerResource("readme", README.uri, { mimeType: "text/plain" },
                          async (uri) => ({ contents: [{ uri: uri.href, mimeType: "text/plain", text: "bench" }] }));
}

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
const rpcError = (res, status, message, code = -32000) => reply(res, status, { jsonrpc: "2.0", error: { code, message }, id: null });

// A web-standard fetch handler served on node:http, streaming the response body (SSE).
function fetchToNode(fetchHandler) {
  return async (req, res) => {
    const controller = new AbortController();
    res.on("close", () => controller.abort());
    const hasBody = req.method !== "GET" && req.method !== "HEAD";
    const request = new Request(new URL(req.url, `http://${req.headers.host ?? "127.0.0.1"}`), {
      method: req.method,
      headers: req.headers,
      body: hasBody ? Readable.toWeb(req) : undefined,
      duplex: hasBody ? "half" : undefined,
      signal: controller.signal,
    });
    const response = await fetchHandler(request);
    res.writeHead(response.status, Object.fromEntries(response.headers));
    if (!response.body) return res.end();
    res.flushHeaders();
    const reader = response.body.getReader();
    res.on("close", () => reader.cancel().catch(() => {}));
    try {
      for (;;) {
        const { done, value } = await reader.read();
        if (done) break;
        res.write(value);
      }
    } catch {
      // the client went away
    }
    res.end();
  };
}

// ---------------------------------------------------------------- the servers
async function ts1() {
  const { McpServer } = await import("@modelcontextprotocol/sdk/server/mcp.js");
  const { StdioServerTransport } = await import("@modelcontextprotocol/sdk/server/stdio.js");
  const { StreamableHTTPServerTransport } = await import("@modelcontextprotocol/sdk/server/streamableHttp.js");
  const { isInitializeRequest } = await import("@modelcontextprotocol/sdk/types.js");
  const servers = new Set(); // every connected McpServer (one per session)
  const build = () => {
    const server = new McpServer({ name: "bench-ts1-server", version: "1.0.0" });
    register(server, (shape) => shape, () => { for (const s of servers) s.sendResourceListChanged(); });
    return server;
  };
  if (mode === "stdio") {
    const server = build();
    servers.add(server);
    await server.connect(new StdioServerTransport());
    return null;
  }
  if (flag("--stateless"))
    return async (req, res) => {
      if (req.method !== "POST") return rpcError(res, 405, "Method not allowed.");
      const body = JSON.parse(await readBody(req));
      const server = build();
      const transport = new StreamableHTTPServerTransport({ sessionIdGenerator: undefined });
      res.on("close", () => { transport.close(); server.close(); });
      await server.connect(transport);
      await transport.handleRequest(req, res, body);
    };
  const transports = new Map(); // session id -> transport
  return async (req, res) => {
    const sid = req.headers["mcp-session-id"];
    if (req.method === "POST") {
      let body;
      try {
        body = JSON.parse(await readBody(req));
      } catch {
        return rpcError(res, 400, "Parse error", -32700);
      }
      if (sid && transports.has(sid)) return transports.get(sid).handleRequest(req, res, body);
      if (sid) return rpcError(res, 404, "Session not found");
      if (!isInitializeRequest(body)) return rpcError(res, 400, "Bad Request: No valid session ID provided");
      const server = build();
      const transport = new StreamableHTTPServerTransport({
        sessionIdGenerator: () => randomUUID(),
        onsessioninitialized: (id) => transports.set(id, transport),
        onsessionclosed: (id) => transports.delete(id),
      });
      transport.onclose = () => {
        if (transport.sessionId) transports.delete(transport.sessionId);
        servers.delete(server);
      };
      servers.add(server);
      await server.connect(transport);
      return transport.handleRequest(req, res, body);
    }
    if (req.method === "GET" || req.method === "DELETE") {
      if (!sid || !transports.has(sid)) return rpcError(res, sid ? 404 : 400, "Invalid or missing session ID");
      return transports.get(sid).handleRequest(req, res);
    }
    res.writeHead(405, { allow: "GET, POST, DELETE" }).end();
  };
}

async function ts2() {
  const { McpServer, createMcpHandler } = await import("@modelcontextprotocol/server");
  let handler = null;
  const factory = () => {
    const server = new McpServer({ name: "bench-ts2-server", version: "1.0.0" });
    register(server, (shape) => z.object(shape), () => handler?.notify.resourcesChanged());
    return server;
  };
  if (mode === "stdio") {
    const { serveStdio } = await import("@modelcontextprotocol/server/stdio");
    serveStdio(factory);
    return null;
  }
  // The open-streams case holds up to 10,000 listen streams (the default cap is 1024).
  handler = createMcpHandler(factory, { maxSubscriptions: 100000 });
  return fetchToNode(handler.fetch);
}

async function mastra() {
  const { MCPServer } = await import("@mastra/mcp");
  const { createTool } = await import("@mastra/core/tools");
  const tools = {};
  for (const [name, description, shape, fn] of TOOLS)
    tools[name] = createTool({ id: name, description, inputSchema: z.object(shape), execute: async (a) => String(fn(a)) });
  let server = null;
  if (notifyTool)
    tools.notify = createTool({ id: "notify", description: "Tell every listener that the resource list changed", inputSchema: z.object({}),
                                execute: async () => { await server.resources.notifyListChanged(); return "notified"; } });
  server = new MCPServer({
    id: "bench-mastra-server", name: "bench-mastra-server", version: "1.0.0", tools,
    resources: {
      listResources: async () => [README],
      getResourceContent: async () => ({ text: "bench" }),
    },
    requestState: { key: randomBytes(32) },
  });
  if (mode === "stdio") {
    await server.startStdio();
    return null;
  }
  return (req, res) => {
    const url = new URL(req.url ?? "/", "http://127.0.0.1");
    return server.startHTTP({ url, httpPath: "/mcp", req, res });
  };
}

const makers = { ts1, ts2, mastra };
if (!makers[kind] || (mode !== "stdio" && mode !== "http")) {
  process.stderr.write("usage: servers.mjs ts1|ts2|mastra stdio | http PORT [--stateless] [--notify-tool]\n");
  process.exit(2);
}
const handle = await makers[kind]();
if (mode === "stdio") {
  // When the client closes our stdin, let what runs finish, but never linger more than 2 s.
  const bye = () => setTimeout(() => process.exit(0), 2000).unref();
  process.stdin.once("end", bye);
  process.stdin.once("close", bye);
} else {
  const httpServer = http.createServer(async (req, res) => {
    try {
      const path = new URL(req.url, "http://127.0.0.1").pathname;
      if (path !== "/mcp") return reply(res, 404, { error: "not found" });
      await handle(req, res);
    } catch (e) {
      if (!res.headersSent) rpcError(res, 500, String(e?.message ?? e));
      else res.end();
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
  // The streams cases open thousands of connections: a long listen queue, no connection cap.
  httpServer.listen({ port: Number(portArg), host: "127.0.0.1", backlog: 4096 }, () => {
    process.stdout.write(`PORT ${httpServer.address().port}\n`);
  });
}
