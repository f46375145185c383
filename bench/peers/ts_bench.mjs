// The official TypeScript SDK client (@modelcontextprotocol/sdk, pinned in package.json) on the
// benchmark cases of harness.mjs. One `Client` per connection; HTTP through its
// StreamableHTTPClientTransport, stdio through its StdioClientTransport; `client.close()` is
// its disconnect.
//   node --expose-gc ts_bench.mjs --config FILE --out FILE
import fs from "node:fs";
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StdioClientTransport } from "@modelcontextprotocol/sdk/client/stdio.js";
import { StreamableHTTPClientTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js";
import { runBench } from "./harness.mjs";

const { version } = JSON.parse(
  fs.readFileSync(new URL("./node_modules/@modelcontextprotocol/sdk/package.json", import.meta.url), "utf8"),
);

await runBench({
  name: "ts-sdk",
  version: `@modelcontextprotocol/sdk ${version}`,
  async open(t) {
    const client = new Client({ name: "bench-ts-sdk", version: "1.0.0" });
    const transport =
      t.transport === "http"
        ? new StreamableHTTPClientTransport(new URL(t.url))
        : new StdioClientTransport({ command: t.command, args: t.args });
    // The SDK hands the negotiated revision only to transports that take it (HTTP); record it
    // for stdio too, for the report.
    if (!transport.setProtocolVersion) transport.setProtocolVersion = (v) => (transport.protocolVersion = v);
    try {
      await client.connect(transport);
      const { tools } = await client.listTools();
      return { handle: client, tools: tools.length };
    } catch (e) {
      await client.close().catch(() => {});
      throw e;
    }
  },
  async call(client, t, args) {
    const r = await client.callTool({ name: "echo", arguments: args });
    return r.content?.[0]?.text;
  },
  // The SDK's client only speaks the legacy era; its HTTP transport records the revision.
  protocol: (client) => client.transport?.protocolVersion ?? "legacy",
  close: (client) => client.close(),
});
