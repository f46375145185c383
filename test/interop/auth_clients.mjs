// The TypeScript SDK's client with its OAuth providers against a protected server of ours, for
// test/server/test_server_auth_e2e.cpp (which runs the test authorization server and the
// HttpHost, then this script). One JSON object on stdout: what each step saw (errors as
// {error}).
//   node auth_clients.mjs v1|v2 cc   URL '{"clientId":..,"clientSecret":..,"scope":..,"calls":[..]}'
//       the SDK's ClientCredentialsProvider (client_credentials grant)
//   node auth_clients.mjs v1|v2 code URL '{"keepRefresh":true|false,"calls":[..]}'
//       an OAuthClientProvider kept in memory: dynamic registration, authorization code + PKCE;
//       the "browser" is this script fetching the authorization URL (the test AS approves at
//       once) and reading the code off the redirect; then transport.finishAuth().
// v1: @modelcontextprotocol/sdk (legacy era, Streamable HTTP sessions); v2:
// @modelcontextprotocol/client with `versionNegotiation: auto` (2026-07-28 when offered).
// `calls`: tool names to call in order, or {"sleep": ms}.
const [which, mode, url, optsJson] = process.argv.slice(2);
const opts = JSON.parse(optsJson ?? "{}");
const v2 = which === "v2";
const pkg = v2 ? "@modelcontextprotocol/client" : "@modelcontextprotocol/sdk";
const { Client, StreamableHTTPClientTransport, UnauthorizedError, ClientCredentialsProvider } = v2
  ? await import(pkg)
  : {
      ...(await import(`${pkg}/client/index.js`)),
      ...(await import(`${pkg}/client/streamableHttp.js`)),
      ...(await import(`${pkg}/client/auth.js`)),
      ...(await import(`${pkg}/client/auth-extensions.js`)),
    };

const { readFileSync } = await import("node:fs");
const sdkPackage = new URL(`./node_modules/${pkg}/package.json`, import.meta.url);
const out = { sdk: `${pkg}@${JSON.parse(readFileSync(sdkPackage, "utf8")).version}`, steps: [] };

// An OAuthClientProvider for the authorization code flow, everything in memory.
class MemoryProvider {
  constructor(keepRefresh) {
    this.keepRefresh = keepRefresh;
    this.pending = [];  // authorization URLs the SDK asked us to open
    this.savedScopes = [];
  }
  get redirectUrl() {
    return "http://127.0.0.1:9/callback";  // never served: the script reads the redirect itself
  }
  get clientMetadata() {
    return {
      client_name: "ts-sdk e2e",
      redirect_uris: [this.redirectUrl],
      grant_types: ["authorization_code", "refresh_token"],
      response_types: ["code"],
    };
  }
  state() {
    this._state = `st-${Math.random().toString(36).slice(2)}`;
    return this._state;
  }
  clientInformation() {
    return this._client;
  }
  saveClientInformation(info) {
    this._client = info;
  }
  tokens() {
    return this._tokens;
  }
  saveTokens(tokens) {
    const t = { ...tokens };
    if (!this.keepRefresh) delete t.refresh_token;
    this._tokens = t;
    this.savedScopes.push(t.scope ?? null);
  }
  redirectToAuthorization(authorizationUrl) {
    this.pending.push(new URL(authorizationUrl));
  }
  saveCodeVerifier(v) {
    this._verifier = v;
  }
  codeVerifier() {
    return this._verifier;
  }
}

// The user-agent: the authorization URL, its redirect, the code (state and iss checked).
async function approve(provider) {
  const u = provider.pending.shift();
  if (!u) throw new Error("no authorization URL was opened");
  out.authorizeParams ??= Object.fromEntries([...u.searchParams].filter(([k]) => k !== "state" && k !== "code_challenge"));
  const r = await fetch(u, { redirect: "manual" });
  if (r.status !== 302) throw new Error(`the authorization endpoint answered ${r.status}: ${await r.text()}`);
  const back = new URL(r.headers.get("location"));
  if (back.searchParams.get("state") !== provider._state) throw new Error("state differs");
  out.iss = back.searchParams.get("iss");
  out.authorizations = (out.authorizations ?? 0) + 1;
  // v2 takes the whole callback (and checks iss itself, RFC 9207); v1 the code.
  return v2 ? back.searchParams : back.searchParams.get("code");
}

const provider =
  mode === "cc"
    ? new ClientCredentialsProvider({ clientId: opts.clientId, clientSecret: opts.clientSecret, scope: opts.scope })
    : new MemoryProvider(opts.keepRefresh);

let client, transport;
async function connect() {
  for (let attempt = 0; attempt < 3; ++attempt) {
    transport = new StreamableHTTPClientTransport(new URL(url), { authProvider: provider });
    client = v2
      ? new Client({ name: "ts-sdk-auth-e2e", version: "1.0.0" }, { versionNegotiation: { mode: "auto" } })
      : new Client({ name: "ts-sdk-auth-e2e", version: "1.0.0" });
    try {
      await client.connect(transport);
      return;
    } catch (e) {
      await client.close().catch(() => {});
      if (!(e instanceof UnauthorizedError) || mode !== "code") throw e;
      // The SDK asked for a redirect: play the browser, then hand it the code.
      await transport.finishAuth(await approve(provider));
    }
  }
  throw new Error("not connected after 3 authorizations");
}

async function call(name) {
  for (let attempt = 0; attempt < 3; ++attempt) {
    try {
      const r = await client.callTool({ name, arguments: {} });
      const text = r.content?.[0]?.text;
      return name === "whoami" ? JSON.parse(text) : text;
    } catch (e) {
      if (!(e instanceof UnauthorizedError) || mode !== "code") throw e;
      // A step-up (403 insufficient_scope) or an expired token the SDK could not refresh.
      await transport.finishAuth(await approve(provider));
      out.reauthorized = (out.reauthorized ?? 0) + 1;
    }
  }
  throw new Error("still unauthorized after 3 authorizations");
}

try {
  await connect();
  out.connected = true;
  out.era = v2 ? `${client.getProtocolEra()} ${client.getNegotiatedProtocolVersion()}` : "legacy";
  for (const c of opts.calls ?? []) {
    if (typeof c === "object" && c.sleep) {
      await new Promise((r) => setTimeout(r, c.sleep));
      continue;
    }
    try {
      out.steps.push({ [c]: await call(c) });
    } catch (e) {
      out.steps.push({ [c]: { error: String(e?.message ?? e) } });
    }
  }
} catch (e) {
  out.error = String(e?.stack ?? e);
} finally {
  await client?.close().catch(() => {});
}
if (mode === "code") out.savedScopes = provider.savedScopes;
console.log(JSON.stringify(out));
process.exit(0);
