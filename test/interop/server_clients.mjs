// Real clients against a server of ours over stdio, for test/server/test_server_interop.cpp:
// the official TypeScript SDK's v1 client (@modelcontextprotocol/sdk, legacy era), its v2 client
// (@modelcontextprotocol/client, `versionNegotiation: auto`: 2026-07-28 when the server offers
// it) and Mastra's MCPClient (@mastra/mcp). Each runs the same script against
// test/servers/tool_server and prints one JSON object of what it saw (errors as strings).
//   node server_clients.mjs v1|v2|mastra COMMAND [ARGS...]
//   node server_clients.mjs v1|v2|mastra http://HOST:PORT/mcp (over Streamable HTTP)
//   node server_clients.mjs v1 http://HOST:PORT/sse sse      (v1 over 2024-11-05 HTTP+SSE)
const [which, command, ...args] = process.argv.slice(2);
const out = {};
const step = async (name, fn) => {
  try {
    out[name] = await fn();
  } catch (e) {
    out[name] = { error: String(e?.message ?? e) };
  }
};
const elicited = { action: "accept", content: { name: "Ada" } };
const rootsAnswer = { roots: [{ uri: "file:///work", name: "work" }] };

if (which === "mastra") {
  const { MCPClient } = await import("@mastra/mcp");
  const mcp = new MCPClient({ id: `interop-${process.pid}`, servers: { s: command.startsWith("http") ? { url: new URL(command) } : { command, args } }, timeout: 20000 });
  try {
    await step("tools", async () => Object.keys(await mcp.listTools()).sort());
    await step("echo", async () => {
      const tools = await mcp.listTools();
      const r = await tools["s_echo"].execute({ text: "hi" }, {});
      return r?.content?.[0]?.text ?? r;
    });
    await step("add", async () => {
      const tools = await mcp.listTools();
      const r = await tools["s_add"].execute({ a: 2, b: 3 }, {});
      return r?.structuredContent ?? r;
    });
    await step("resources", async () => {
      const all = await mcp.resources.list();
      return (all.s ?? []).map((r) => r.uri).sort();
    });
    await step("read", async () => (await mcp.resources.read("s", "test://static-text")).contents?.[0]?.text);
    await step("prompts", async () => ((await mcp.prompts.list()).s ?? []).map((p) => p.name));
    await step("prompt", async () => {
      const r = await mcp.prompts.get({ serverName: "s", name: "greet", args: { name: "Ada" } });
      return r.messages?.[0]?.content?.text;
    });
  } finally {
    await mcp.disconnect().catch(() => {});
  }
} else {
  const v2 = which === "v2";
  const pkg = v2 ? "@modelcontextprotocol/client" : "@modelcontextprotocol/sdk";
  const { Client } = await import(v2 ? pkg : `${pkg}/client/index.js`);
  const { StdioClientTransport } = await import(v2 ? `${pkg}/stdio` : `${pkg}/client/stdio.js`);
  const capabilities = { elicitation: {}, roots: {} };
  const client = v2
    ? new Client({ name: "interop-v2", version: "1.0.0" }, { capabilities, versionNegotiation: { mode: "auto" } })
    : new Client({ name: "interop-v1", version: "1.0.0" }, { capabilities });
  if (v2) {
    client.setRequestHandler("elicitation/create", async () => elicited);
    client.setRequestHandler("roots/list", async () => rootsAnswer);
  } else {
    const { ElicitRequestSchema, ListRootsRequestSchema } = await import(`${pkg}/types.js`);
    client.setRequestHandler(ElicitRequestSchema, async () => elicited);
    client.setRequestHandler(ListRootsRequestSchema, async () => rootsAnswer);
  }
  const call = (name, a) => client.callTool({ name, arguments: a });
  try {
    let transport;
    if (command.startsWith("http") && args[0] === "sse") {
      const { SSEClientTransport } = await import(`${pkg}/client/sse.js`);
      transport = new SSEClientTransport(new URL(command));
    } else if (command.startsWith("http")) {
      const { StreamableHTTPClientTransport } = await import(v2 ? pkg : `${pkg}/client/streamableHttp.js`);
      transport = new StreamableHTTPClientTransport(new URL(command));
    } else {
      transport = new StdioClientTransport({ command, args });
    }
    await client.connect(transport);
    out.era = v2 ? `${client.getProtocolEra()} ${client.getNegotiatedProtocolVersion()}` : "legacy";
    out.server = client.getServerVersion()?.name;
    await step("tools", async () => (await client.listTools()).tools.map((t) => t.name).sort());
    await step("echo", async () => (await call("echo", { text: "hi" })).content?.[0]?.text);
    await step("add", async () => (await call("add", { a: 2, b: 3 })).structuredContent);
    await step("invalid", async () => {
      const r = await call("echo", { text: 5 });
      return { isError: r.isError === true, text: r.content?.[0]?.text };
    });
    await step("resources", async () => (await client.listResources()).resources.map((r) => r.uri).sort());
    await step("read", async () => (await client.readResource({ uri: "test://static-text" })).contents?.[0]?.text);
    await step("template", async () => (await client.readResource({ uri: "test://template/7/data" })).contents?.[0]?.text);
    await step("prompts", async () => (await client.listPrompts()).prompts.map((p) => p.name));
    await step("prompt", async () => {
      const r = await client.getPrompt({ name: "greet", arguments: { name: "Ada", tone: "warm" } });
      return r.messages?.[0]?.content?.text;
    });
    await step("complete", async () => {
      const r = await client.complete({ ref: { type: "ref/prompt", name: "greet" }, argument: { name: "tone", value: "w" } });
      return r.completion?.values;
    });
    await step("elicit", async () => (await call("ask_twice", {})).content?.[0]?.text);
    await step("roots", async () => (await call("list_roots", {})).content?.[0]?.text);
  } finally {
    await client.close().catch(() => {});
  }
}
process.stdout.write(JSON.stringify(out) + "\n");
process.exit(0);
