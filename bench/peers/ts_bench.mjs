// The official TypeScript SDK's clients on the benchmark cases of harness.mjs: v1
// (@modelcontextprotocol/sdk, legacy era only) by default, v2 (@modelcontextprotocol/client,
// both eras: `versionNegotiation: {mode: "auto"}` probes with server/discover and falls back to
// initialize) with --v2. Both pinned in package.json. One `Client` per connection; HTTP through
// the SDK's StreamableHTTPClientTransport, stdio through its StdioClientTransport;
// `client.close()` is its disconnect.
//   node --expose-gc ts_bench.mjs [--v2] --config FILE --out FILE
import fs from "node:fs";
import { runBench } from "./harness.mjs";

const v2 = process.argv.includes("--v2");
const pkg = v2 ? "@modelcontextprotocol/client" : "@modelcontextprotocol/sdk";
const { Client, StreamableHTTPClientTransport } = await import(v2 ? pkg : `${pkg}/client/index.js`).then(async (m) =>
  v2 ? m : { Client: m.Client, ...(await import(`${pkg}/client/streamableHttp.js`)) },
);
const { StdioClientTransport } = await import(v2 ? `${pkg}/stdio` : `${pkg}/client/stdio.js`);
const { version } = JSON.parse(fs.readFileSync(new URL(`./node_modules/${pkg}/package.json`, import.meta.url), "utf8"));

await runBench({
  name: v2 ? "ts-sdk-v2" : "ts-sdk",
  version: `${pkg} ${version}`,
  async open(t) {
    const client = v2
      ? new Client({ name: "bench-ts-sdk-v2", version: "1.0.0" }, { versionNegotiation: { mode: "auto" } })
      : new Client({ name: "bench-ts-sdk", version: "1.0.0" });
    const transport =
      t.transport === "http"
        ? new StreamableHTTPClientTransport(new URL(t.url))
        : new StdioClientTransport({ command: t.command, args: t.args });
    // v1 hands the negotiated revision only to transports that take it (HTTP); record it for
    // stdio too, for the report.
    if (!v2 && !transport.setProtocolVersion) transport.setProtocolVersion = (v) => (transport.protocolVersion = v);
    try {
      await client.connect(transport);
      const { tools } = await client.listTools();
      return { handle: client, tools: tools.length };
    } catch (e) {
      await client.close().catch(() => {});
      throw e;
    }
  },
  async call(client, t, name, args, timeout) {
    const params = { name, arguments: args };
    const r = await (v2 ? client.callTool(params, { timeout }) : client.callTool(params, undefined, { timeout }));
    return r.content?.[0]?.text;
  },
  // v1 only speaks the legacy era; its HTTP transport records the revision.
  protocol: (client) =>
    v2
      ? `${client.getProtocolEra() ?? "?"} ${client.getNegotiatedProtocolVersion() ?? "?"}`
      : client.transport?.protocolVersion ?? "legacy",
  close: (client) => client.close(),
});
