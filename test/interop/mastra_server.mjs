// Modern-era (MCP 2026-07-28) interop server built on @mastra/mcp's MCPServer.
//
//   node mastra_server.mjs stdio          serve newline-delimited JSON-RPC on stdin/stdout
//   node mastra_server.mjs http PORT      serve Streamable HTTP on http://127.0.0.1:PORT/mcp
//
// Run it with test/interop/node_modules/.bin/node (Node 22); @mastra/* need Node >= 22.13.
// Tools: get-sum {a,b}, echo {message}, fail {} (always an isError result).
import http from "node:http";
import { MCPServer } from "@mastra/mcp";
import { createTool } from "@mastra/core/tools";
import { z } from "zod";

const getSum = createTool({
  id: "get-sum",
  description: "Returns the sum of two numbers",
  inputSchema: z.object({
    a: z.number().describe("First number"),
    b: z.number().describe("Second number"),
  }),
  outputSchema: z.object({ result: z.number() }),
  execute: async ({ a, b }) => ({ result: a + b }),
});

const echo = createTool({
  id: "echo",
  description: "Echoes back the input string",
  inputSchema: z.object({ message: z.string().describe("Message to echo") }),
  execute: async ({ message }) => message,
});

const fail = createTool({
  id: "fail",
  description: "Always fails (returns a tool result with isError: true)",
  inputSchema: z.object({}),
  execute: async () => {
    throw new Error("intentional failure");
  },
});

// MCPServer 2.0.0 sets a tool's text content to JSON.stringify(structuredContent)
// when the tool has an outputSchema. To make get-sum's text identical to
// server-everything's ("The sum of A and B is S."), rewrite the text block of
// selected tools. Relies on the pinned @mastra/mcp's runTool/toCallToolResult
// (runTool's output is handed straight to toCallToolResult); if they ever
// change, the text simply falls back to Mastra's JSON text.
const TEXT = {
  "get-sum": (args, out) => `The sum of ${args.a} and ${args.b} is ${out.result}.`,
};

class InteropServer extends MCPServer {
  #texts = new WeakMap();

  async runTool(name, tool, args, options) {
    const run = await super.runTool(name, tool, args, options);
    const out = run?.output;
    if (run?.status === "completed" && TEXT[name] && out && typeof out === "object") {
      this.#texts.set(out, TEXT[name](args, out));
    }
    return run;
  }

  toCallToolResult(name, tool, value) {
    const result = super.toCallToolResult(name, tool, value);
    const text = value && typeof value === "object" ? this.#texts.get(value) : undefined;
    if (text !== undefined && !result.isError) result.content = [{ type: "text", text }];
    return result;
  }
}

const server = new InteropServer({
  id: "mastra-interop",
  name: "mastra-interop",
  version: "1.0.0",
  tools: { "get-sum": getSum, echo, fail },
});

const [mode = "stdio", portArg] = process.argv.slice(2);

if (mode === "stdio") {
  await server.startStdio();
  // When the client closes our stdin, let in-flight requests finish (the event
  // loop then empties and the process exits by itself), but never linger more
  // than 2 s. The unref'd timer does not keep the process alive on its own.
  const bye = () => setTimeout(() => process.exit(0), 2000).unref();
  process.stdin.once("end", bye);
  process.stdin.once("close", bye);
} else if (mode === "http") {
  const port = Number(portArg);
  if (!Number.isInteger(port) || port < 0 || port > 65535) {
    console.error("usage: node mastra_server.mjs http PORT");
    process.exit(2);
  }
  const httpServer = http.createServer((req, res) => {
    const url = new URL(req.url ?? "/", "http://127.0.0.1");
    server.startHTTP({ url, httpPath: "/mcp", req, res }).catch((err) => {
      console.error("http handler error:", err);
      if (!res.headersSent) res.writeHead(500);
      res.end();
    });
  });
  httpServer.listen(port, "127.0.0.1", () => {
    // One line on stderr so a test can wait for readiness (and learn the port when PORT is 0).
    console.error(`listening on http://127.0.0.1:${httpServer.address().port}/mcp`);
  });
  const stop = () => httpServer.close(() => process.exit(0));
  process.on("SIGTERM", stop);
  process.on("SIGINT", stop);
} else {
  console.error("usage: node mastra_server.mjs stdio | http PORT");
  process.exit(2);
}
