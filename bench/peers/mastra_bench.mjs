// Mastra's MCPClient (@mastra/mcp with @mastra/core, pinned in package.json) on the benchmark
// cases of harness.mjs. One MCPClient with one server per connection (distinct ids, as Mastra
// requires); `listTools()` connects and lists, a call is the listed tool's `execute`, and
// `disconnect()` is its disconnect. It negotiates the era itself (server/discover probe,
// legacy fallback).
//   node --expose-gc mastra_bench.mjs --config FILE --out FILE
import { MCPClient } from "@mastra/mcp";
import fs from "node:fs";
import { runBench } from "./harness.mjs";

const mcpVersion = JSON.parse(
  fs.readFileSync(new URL("./node_modules/@mastra/mcp/package.json", import.meta.url), "utf8"),
).version;
const coreVersion = JSON.parse(
  fs.readFileSync(new URL("./node_modules/@mastra/core/package.json", import.meta.url), "utf8"),
).version;

let seq = 0;
await runBench({
  name: "mastra",
  version: `@mastra/mcp ${mcpVersion} (@mastra/core ${coreVersion})`,
  async open(t) {
    const server = t.transport === "http" ? { url: new URL(t.url) } : { command: t.command, args: t.args };
    const mcp = new MCPClient({ id: `bench-${process.pid}-${seq++}`, servers: { s: server }, timeout: 30000 });
    try {
      // listTools() is listToolsWithErrors().tools; this form keeps the reason of a failure.
      const { tools, errors } = await mcp.listToolsWithErrors();
      if (!tools["s_echo"]) throw new Error(errors?.s ?? `no s_echo among ${Object.keys(tools).join(", ")}`);
      return { handle: { mcp, tools }, tools: Object.keys(tools).length };
    } catch (e) {
      await mcp.disconnect().catch(() => {});
      throw e;
    }
  },
  async call({ tools }, t, name, args) {
    const r = await tools[`s_${name}`].execute(args, {});
    // A text-only result comes back as the CallToolResult envelope.
    return r?.content?.[0]?.text ?? r?.error?.message ?? r;
  },
  protocol: ({ mcp }) => mcp.mcpClientsById?.get("s")?.negotiatedProtocolVersion ?? null,
  close: ({ mcp }) => mcp.disconnect(),
});
