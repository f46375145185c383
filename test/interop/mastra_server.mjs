// Modern-era (MCP 2026-07-28) interop server built on @mastra/mcp's MCPServer.
//
//   node mastra_server.mjs stdio          serve newline-delimited JSON-RPC on stdin/stdout
//   node mastra_server.mjs http PORT      serve Streamable HTTP on http://127.0.0.1:PORT/mcp
//
// Run it with test/interop/node_modules/.bin/node (Node 22); @mastra/* need Node >= 22.13.
// Tools: get-sum {a,b}, echo {message}, fail {} (always an isError result),
//        ask-name {} (asks for input through input_required), report {steps} (logs + progress).
// Resources: mastra://docs/readme (text), mastra://images/pixel.png (blob),
//            template mastra://greetings/{name}. Prompts: hello, summarize {text, style?}.
import http from "node:http";
import { randomBytes } from "node:crypto";
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

// Elicitation in the 2026-07-28 era (multi round-trip). @mastra/mcp 2.0.0 removed
// context.mcp.elicitation.sendRequest (it rejects: "not available on a 2026-07-28 server").
// A tool calls context.suspend(payload) instead; MCPServer answers the tools/call with
//   {resultType: "input_required",
//    inputRequests: {input: {method: "elicitation/create",
//                            params: {mode: "form", message: payload.message,
//                                     requestedSchema: <resumeSchema as JSON Schema>}}},
//    requestState: <signed opaque state>}
// and, when the client retries with inputResponses.input = {action, content} and the same
// requestState, runs the tool again with context.resumeData = content. A declined or
// cancelled form ends the call with an isError result and the tool does not run again.
// The tool sees the client's raw answer (Mastra validates it against resumeSchema but
// passes the unvalidated object on), so `color` is present only if the client put it
// there: the schema default "blue" must be applied by the client.
const askName = createTool({
  id: "ask-name",
  description: "Asks the user for their name (form elicitation) and greets them",
  inputSchema: z.object({}),
  resumeSchema: z.object({
    name: z.string().describe("Your name"),
    color: z.string().default("blue").describe("Your favourite colour"),
  }),
  execute: async (_input, context) => {
    const answer = context?.resumeData;
    if (!answer) {
      await context.suspend({ message: "What is your name?" });
      return undefined;
    }
    return `Hello ${answer.name} (${answer.color ?? "no colour given"})`;
  },
});

// Logging and progress in the 2026-07-28 era: context.mcp.log sends notifications/message
// for this request only, if the request's _meta carries io.modelcontextprotocol/logLevel
// (and filtered by it); context.mcp.progress sends notifications/progress only if the
// request's _meta carries a progressToken.
const report = createTool({
  id: "report",
  description: "Logs one info message, then reports progress `steps` times",
  inputSchema: z.object({ steps: z.number().int().min(1).max(20) }),
  execute: async ({ steps }, context) => {
    await context?.mcp?.log("info", "report started", { steps });
    await context?.mcp?.log("debug", "report debug detail");
    for (let i = 1; i <= steps; ++i) {
      await context?.mcp?.progress({ progress: i, total: steps, message: `step ${i}` });
    }
    return `reported ${steps} steps`;
  },
});

// Resources. MCPServer reads only URIs that listResources returns: a URI that merely
// matches a listed template is answered "Resource not found".
const README_TEXT = "Mastra interop server.\nIt serves two resources and a template.\n";
// The 8-byte PNG signature followed by bytes that are not valid UTF-8 (and a NUL).
const PIXEL = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 0x00, 0xff, 0xfe, 0x01]);
const RESOURCES = [
  { uri: "mastra://docs/readme", name: "readme", title: "Read me", description: "A text resource", mimeType: "text/plain" },
  { uri: "mastra://images/pixel.png", name: "pixel", description: "A binary resource", mimeType: "image/png" },
];
const resources = {
  listResources: async () => RESOURCES,
  resourceTemplates: async () => [
    { uriTemplate: "mastra://greetings/{name}", name: "greeting", description: "A greeting for {name}", mimeType: "text/plain" },
  ],
  getResourceContent: async ({ uri }) => {
    if (uri === "mastra://docs/readme") return { text: README_TEXT };
    if (uri === "mastra://images/pixel.png") return { blob: PIXEL.toString("base64") };
    return undefined;
  },
};

// Prompts.
const PROMPTS = [
  { name: "hello", title: "Hello", description: "A prompt without arguments" },
  {
    name: "summarize",
    description: "Summarize a text",
    arguments: [
      { name: "text", description: "The text to summarize", required: true },
      { name: "style", description: "How to summarize", required: false },
    ],
  },
];
const prompts = {
  listPrompts: async () => PROMPTS,
  getPromptMessages: async ({ name, args }) => {
    if (name === "hello") return [{ role: "user", content: { type: "text", text: "Say hello." } }];
    const style = args?.style ?? "brief";
    return [
      { role: "user", content: { type: "text", text: `Summarize in a ${style} style: ${args?.text}` } },
      { role: "assistant", content: { type: "text", text: "Sure." } },
    ];
  },
};

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
  tools: { "get-sum": getSum, echo, fail, "ask-name": askName, report },
  resources,
  prompts,
  // Continuations are signed; a key of our own just silences the per-process-key warning.
  requestState: { key: randomBytes(32) },
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
