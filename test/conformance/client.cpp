// SPDX-License-Identifier: MIT
// Client under test for the official MCP conformance suite (@modelcontextprotocol/conformance):
// the pinned 0.1.16 suite (test/interop) and the pre-release suite (test/conformance/next) with
// the 2026-07-28 scenarios.
//
// The suite starts a scenario server, then runs `conformance_client <server-url>` with the
// scenario name in MCP_CONFORMANCE_SCENARIO, the spec revision it targets in
// MCP_CONFORMANCE_PROTOCOL_VERSION (newer suites) and, for some scenarios, JSON test data in
// MCP_CONFORMANCE_CONTEXT. The URL is always the last argument. We do what the scenario's
// server expects of a client, print what we saw on stdout, and exit non-zero with the
// Error::what() text on stderr when something fails. The suite judges the wire; our exit code
// only tells it (and run.sh) whether the client itself was happy.
//
// Everything on the wire (era detection, _meta, MCP-Protocol-Version / Mcp-Method / Mcp-Name /
// Mcp-Param-* headers, version retry, multi round-trip requests, schema defaults of
// elicitation answers, dropping tools with invalid x-mcp-header annotations) is the library's
// job: this client only uses the public API the way an application would.
//
// Exit codes: 0 ok, 1 failure, 2 usage / unknown scenario, 3 scenario needs a feature the
// public API does not have yet (reported as "blocked").
//
// Optional knob for diagnosis (not set by the suite): MCP_CPP_CONFORMANCE_ERA=legacy|modern
// pins the era instead of letting the library detect it.

#include <mcp/client.hpp>
#include <mcp/oauth.hpp>

#include <httplib.h>

#include <chrono>
#include <condition_variable>
#include <cstdlib>
#include <functional>
#include <iostream>
#include <map>
#include <mutex>
#include <string>
#include <thread>

namespace {

using nlohmann::json;

constexpr const char* kServer = "conformance";
constexpr int kOk = 0, kFail = 1, kUsage = 2, kBlocked = 3;

struct Ctx {
  mcp::Client& client;
  std::string url;
  json context;  // MCP_CONFORMANCE_CONTEXT, or null
};

std::mutex g_out_mutex;  // handlers print from SDK threads

void out(const std::string& line) {
  std::lock_guard lock(g_out_mutex);
  std::cout << line << "\n" << std::flush;
}

int report(const mcp::Error& e, const std::string& step) {
  std::lock_guard lock(g_out_mutex);
  std::cerr << "conformance_client: " << step << " failed: " << e.what() << "\n";
  return kFail;
}

int fail_msg(const std::string& msg) {
  std::lock_guard lock(g_out_mutex);
  std::cerr << "conformance_client: " << msg << "\n";
  return kFail;
}

// Connect (era detection, handshake) and print what the server told us.
int connect(Ctx& c) {
  auto info = c.client.server_info(kServer);
  if (!info) return report(info.error(), "connect");
  out("connected: era=" + std::string(mcp::to_string(info->era)) + " protocol=" + info->protocol_version +
      " server=" + info->implementation.name + " " + info->implementation.version);
  return kOk;
}

std::shared_ptr<mcp::Session> session_of(Ctx& c) {
  auto s = c.client.session(kServer);
  if (!s) {
    report(s.error(), "session");
    return nullptr;
  }
  return *s;
}

// Listing tools through the session gives the server's own names (Client::list_tools prefixes them).
int list_tools(Ctx& c, std::vector<mcp::ToolDefinition>& tools) {
  auto s = session_of(c);
  if (!s) return kFail;
  auto r = s->list_tools();
  if (!r) return report(r.error(), "tools/list");
  tools = std::move(*r);
  std::string line = "tools:";
  for (const auto& t : tools) line += " " + t.name;
  out(line);
  return kOk;
}

const mcp::ToolDefinition* find_tool(const std::vector<mcp::ToolDefinition>& tools, const std::string& name) {
  for (const auto& t : tools)
    if (t.name == name) return &t;
  return nullptr;
}

// Call through the client facade (the route applications use). A tool that reports isError is
// a failure here: every tool a scenario offers is meant to succeed.
int call(Ctx& c, const std::string& tool, json args, mcp::CallToolResult& result) {
  auto r = c.client.call_tool(kServer, tool, std::move(args));
  if (!r) return report(r.error(), "tools/call " + tool);
  result = std::move(*r);
  out("result of " + tool + ": " + nlohmann::json(result).dump());
  if (result.is_error) return fail_msg("tool " + tool + " returned isError: " + result.text());
  return kOk;
}

int call_expecting(Ctx& c, const std::string& tool, json args, const std::string& expected) {
  mcp::CallToolResult r;
  if (int rc = call(c, tool, std::move(args), r)) return rc;
  if (r.text().find(expected) == std::string::npos)
    return fail_msg("unexpected " + tool + " result (wanted '" + expected + "'): " + r.text());
  return kOk;
}

// initialize: the handshake (clientInfo name+version, a known protocolVersion), then tools/list
// like the reference client does.
int scenario_initialize(Ctx& c) {
  if (int rc = connect(c)) return rc;
  std::vector<mcp::ToolDefinition> tools;
  return list_tools(c, tools);
}

// tools_call: the server offers add_numbers {a: number, b: number} and records a check when it
// is called; it answers "The sum of A and B is S".
int scenario_tools_call(Ctx& c) {
  if (int rc = connect(c)) return rc;
  std::vector<mcp::ToolDefinition> tools;
  if (int rc = list_tools(c, tools)) return rc;
  if (!find_tool(tools, "add_numbers")) return fail_msg("the server does not list add_numbers");
  return call_expecting(c, "add_numbers", {{"a", 5}, {"b", 3}}, "8");
}

// sse-retry (SEP-1699): the server answers tools/call with an SSE stream carrying only a priming
// event (id + retry: 500), closes it after 50 ms, and sends the result on the GET stream the
// client must open after waiting `retry` ms, with Last-Event-ID. All of that is the library's
// job; the client just calls the tool and checks the answer.
int scenario_sse_retry(Ctx& c) {
  if (int rc = connect(c)) return rc;
  std::vector<mcp::ToolDefinition> tools;
  if (int rc = list_tools(c, tools)) return rc;
  if (!find_tool(tools, "test_reconnection")) return fail_msg("the server does not list test_reconnection");
  return call_expecting(c, "test_reconnection", json::object(), "Reconnection test completed successfully");
}

// elicitation-sep1034-client-defaults (legacy server): test_client_elicitation_defaults makes
// the server send elicitation/create with a schema whose five optional fields all have
// defaults; the server checks that the accepted content has all five. Our handler (see
// make_handlers) accepts with EMPTY content, so the values come from the library filling in the
// schema defaults. The tool answers "Elicitation completed: {...}" (or "...error..."/"...not
// accepted" when the elicitation failed).
int scenario_elicitation_defaults(Ctx& c) {
  if (int rc = connect(c)) return rc;
  std::vector<mcp::ToolDefinition> tools;
  if (int rc = list_tools(c, tools)) return rc;
  return call_expecting(c, "test_client_elicitation_defaults", json::object(), "Elicitation completed");
}

// request-metadata (SEP-2575, modern): the server answers the client's FIRST request, whatever it
// is, with HTTP 400 + -32022 UnsupportedProtocolVersion {supported: ["2026-07-28"]}; the client
// must retry with a supported version. Every POST must carry MCP-Protocol-Version equal to
// _meta.io.modelcontextprotocol/protocolVersion, and _meta must hold clientCapabilities (and
// SHOULD hold clientInfo). The capability checks pass only when roots/sampling/elicitation are
// declared (as objects): make_handlers sets all three handlers. tools/list answers []; we also
// call a tool so a tools/call POST is judged too (the server answers every tools/call with
// empty content).
int scenario_request_metadata(Ctx& c) {
  if (int rc = connect(c)) return rc;
  std::vector<mcp::ToolDefinition> tools;
  if (int rc = list_tools(c, tools)) return rc;
  auto s = session_of(c);
  if (!s) return kFail;
  // Session::call_tool: the server lists no tools, and the facade may refuse unknown ones.
  auto r = s->call_tool("request_metadata_probe", json::object());
  if (!r) return report(r.error(), "tools/call request_metadata_probe");
  out("result of request_metadata_probe: " + r->raw.dump());
  return kOk;
}

// http-standard-headers (SEP-2243, modern): every POST must carry Mcp-Method = the body's method;
// tools/call and prompts/get Mcp-Name = params.name, resources/read Mcp-Name = params.uri. The
// server offers two tools (one hyphenated), two resources (a percent-encoded URI and one with
// a query string) and a prompt; we exercise every method it checks.
int scenario_http_standard_headers(Ctx& c) {
  if (int rc = connect(c)) return rc;
  std::vector<mcp::ToolDefinition> tools;
  if (int rc = list_tools(c, tools)) return rc;
  for (const char* name : {"test_headers", "my-hyphenated-tool"}) {
    if (!find_tool(tools, name)) return fail_msg(std::string("the server does not list ") + name);
    mcp::CallToolResult r;
    if (int rc = call(c, name, json::object(), r)) return rc;
  }
  auto s = session_of(c);
  if (!s) return kFail;
  auto resources = s->list_resources();
  if (!resources) return report(resources.error(), "resources/list");
  if (resources->empty()) return fail_msg("the server lists no resources");
  for (const auto& res : *resources) {
    auto rr = c.client.read_resource(kServer, res.uri);
    if (!rr) return report(rr.error(), "resources/read " + res.uri);
    out("read " + res.uri + ": " + rr->raw.dump());
  }
  auto prompts = s->list_prompts();
  if (!prompts) return report(prompts.error(), "prompts/list");
  if (prompts->empty()) return fail_msg("the server lists no prompts");
  for (const auto& p : *prompts) {
    auto pr = c.client.get_prompt(kServer, p.name);
    if (!pr) return report(pr.error(), "prompts/get " + p.name);
    out("prompt " + p.name + ": " + pr->raw.dump());
  }
  return kOk;
}

// http-custom-headers (SEP-2243, modern): MCP_CONFORMANCE_CONTEXT carries
// {toolCalls: [{name, arguments}, ...]}; the tools' inputSchemas annotate parameters with
// x-mcp-header, and the server checks the Mcp-Param-<Name> headers of each call (plain
// values, numbers/booleans as text, Base64 "=?base64?...?=" for non-ASCII, control characters
// and leading/trailing whitespace; no header for unannotated or null parameters).
int scenario_http_custom_headers(Ctx& c) {
  if (!c.context.is_object() || !c.context.contains("toolCalls") || !c.context["toolCalls"].is_array())
    return fail_msg("MCP_CONFORMANCE_CONTEXT has no toolCalls array");
  if (int rc = connect(c)) return rc;
  std::vector<mcp::ToolDefinition> tools;
  if (int rc = list_tools(c, tools)) return rc;
  for (const auto& tc : c.context["toolCalls"]) {
    const std::string name = tc.value("name", "");
    if (!find_tool(tools, name)) return fail_msg("the server does not list " + name);
    mcp::CallToolResult r;
    if (int rc = call(c, name, tc.value("arguments", json::object()), r)) return rc;
  }
  return kOk;
}

// Arguments that satisfy a tool's inputSchema well enough for the mock servers: each required
// property gets a value of its declared type.
json sample_arguments(const json& schema) {
  json args = json::object();
  if (!schema.is_object() || !schema.contains("required") || !schema["required"].is_array()) return args;
  const json props = schema.value("properties", json::object());
  for (const auto& req : schema["required"]) {
    if (!req.is_string()) continue;
    const std::string key = req.get<std::string>();
    const json p = props.value(key, json::object());
    const std::string type = p.is_object() && p.contains("type") && p["type"].is_string() ? p["type"].get<std::string>() : "string";
    if (type == "object") args[key] = json::object();
    else if (type == "array") args[key] = json::array();
    else if (type == "null") args[key] = nullptr;
    else if (type == "boolean") args[key] = true;
    else if (type == "integer" || type == "number") args[key] = 1;
    else args[key] = "us-west1";
  }
  return args;
}

// http-invalid-tool-headers (SEP-2243, modern): tools/list offers valid_tool and ten tools whose
// x-mcp-header annotations are invalid (empty, on object/array/null, duplicated with or without
// case, space/colon/non-ASCII/control characters in the name). The client must exclude the
// invalid ones and keep valid_tool. We behave like an application: call every tool the library
// hands us (Client::list_tools), so a tool the library fails to drop reaches the server and
// fails the scenario.
int scenario_http_invalid_tool_headers(Ctx& c) {
  if (int rc = connect(c)) return rc;
  auto all = c.client.list_tools();
  if (!all) return report(all.error(), "tools/list");
  std::string line = "tools kept by the library:";
  for (const auto& [key, tool] : *all) line += " " + tool.name();
  out(line);
  bool valid_seen = false;
  int rc = kOk;
  for (const auto& [key, tool] : *all) {
    if (tool.name() == "valid_tool") valid_seen = true;
    json args = sample_arguments(tool.definition().input_schema);
    auto r = tool.call(args);
    if (!r) {
      rc = report(r.error(), "tools/call " + tool.name());
      continue;
    }
    out("result of " + tool.name() + ": " + r->raw.dump());
    if (tool.name() != "valid_tool") rc = fail_msg("the library kept and called invalid tool " + tool.name());
  }
  if (!valid_seen) return fail_msg("the library dropped valid_tool");
  return rc;
}

// json-schema-ref-no-deref (SEP-2106, modern): lookup_user's inputSchema has a same-document
// $ref (#/$defs/userId) and a $ref to a canary URL on the scenario server; the client must
// never fetch the canary. We list the tools and then call lookup_user, so any schema processing
// the library does on the call path (argument validation) runs too. The scenario's server has
// no tools/call handler, so a JSON-RPC error answer is expected and fine; a local error is
// printed (it would mean the library refused valid arguments).
int scenario_json_schema_ref_no_deref(Ctx& c) {
  if (int rc = connect(c)) return rc;
  std::vector<mcp::ToolDefinition> tools;
  if (int rc = list_tools(c, tools)) return rc;
  const auto* t = find_tool(tools, "lookup_user");
  if (!t) return fail_msg("the server does not list lookup_user");
  out("lookup_user inputSchema: " + t->input_schema.dump());
  auto r = c.client.call_tool(kServer, "lookup_user", {{"id", "user-1"}});
  if (r) out("result of lookup_user: " + r->raw.dump());
  else if (r.error().errc() == mcp::Errc::rpc_error) out("lookup_user answered with an error (expected): " + r.error().what());
  else return report(r.error(), "tools/call lookup_user");
  return kOk;
}

// json-schema-2020-12-preservation (SEP-1613/SEP-2106; legacy at 2025-11-25, modern at
// 2026-07-28): echo json_schema_2020_12_tool's inputSchema, exactly as the library gives it to
// us, back through json_schema_echo {schema}; the server diffs it against what it sent
// ($schema, $defs/$anchor, additionalProperties, allOf/anyOf, if/then/else).
int scenario_json_schema_preservation(Ctx& c) {
  if (int rc = connect(c)) return rc;
  std::vector<mcp::ToolDefinition> tools;
  if (int rc = list_tools(c, tools)) return rc;
  const auto* focal = find_tool(tools, "json_schema_2020_12_tool");
  if (!focal) return fail_msg("the server does not list json_schema_2020_12_tool");
  if (!find_tool(tools, "json_schema_echo")) return fail_msg("the server does not list json_schema_echo");
  out("json_schema_2020_12_tool inputSchema: " + focal->input_schema.dump());
  return call_expecting(c, "json_schema_echo", {{"schema", focal->input_schema}}, "echoed");
}

// Shared by the MRTR scenario's elicitation handler and its driver: the handler, on its first
// round, calls test_mrtr_unrelated while the echo-state request is between rounds (the server
// checks that unrelated call carries no inputResponses/requestState).
struct MrtrState {
  mcp::Client* client = nullptr;
  std::mutex m;
  std::condition_variable cv;
  bool started = false, done = false;
  int rc = kOk;
  std::thread unrelated;
};
MrtrState g_mrtr;

void mrtr_call_unrelated_between_rounds() {
  std::unique_lock lock(g_mrtr.m);
  if (g_mrtr.started || !g_mrtr.client) return;
  g_mrtr.started = true;
  g_mrtr.unrelated = std::thread([] {
    auto r = g_mrtr.client->call_tool(kServer, "test_mrtr_unrelated", json::object());
    int rc = kOk;
    if (!r) rc = report(r.error(), "tools/call test_mrtr_unrelated (between rounds)");
    else if (r->text().find("unrelated-ok") == std::string::npos) rc = fail_msg("unexpected test_mrtr_unrelated result: " + r->text());
    else out("result of test_mrtr_unrelated (between rounds): " + r->raw.dump());
    std::lock_guard l(g_mrtr.m);
    g_mrtr.done = true;
    if (rc != kOk) g_mrtr.rc = rc;
    g_mrtr.cv.notify_all();
  });
  // Hold the echo-state round open until the unrelated call is answered (or give up).
  if (!g_mrtr.cv.wait_for(lock, std::chrono::seconds(10), [] { return g_mrtr.done; })) {
    g_mrtr.rc = kFail;
    lock.unlock();
    fail_msg("test_mrtr_unrelated did not finish within 10 s while another request was between rounds");
  }
}

// sep-2322-client-request-state (SEP-2322, modern multi round-trip requests): test_mrtr_echo_state
// answers input_required with an elicitation and requestState (the retry must echo it byte for
// byte, with a new JSON-RPC id); test_mrtr_no_state answers input_required without requestState
// (the retry must not invent one); test_mrtr_unrelated must never carry another request's
// inputResponses/requestState (we call it while echo_state is between rounds, and again after);
// test_mrtr_no_result_type answers without resultType (must be taken as complete, no retry).
int scenario_mrtr(Ctx& c) {
  if (int rc = connect(c)) return rc;
  std::vector<mcp::ToolDefinition> tools;
  if (int rc = list_tools(c, tools)) return rc;
  {
    std::lock_guard l(g_mrtr.m);
    g_mrtr.client = &c.client;
  }
  int rc = call_expecting(c, "test_mrtr_echo_state", json::object(), "echo-state-ok");
  if (g_mrtr.unrelated.joinable()) g_mrtr.unrelated.join();
  {
    std::lock_guard l(g_mrtr.m);
    g_mrtr.client = nullptr;
    if (!g_mrtr.started) rc = fail_msg("test_mrtr_echo_state never asked for input (no elicitation reached the handler)");
    if (g_mrtr.rc != kOk) rc = g_mrtr.rc;
  }
  if (rc) return rc;
  if (int r = call_expecting(c, "test_mrtr_no_state", json::object(), "no-state-ok")) return r;
  if (int r = call_expecting(c, "test_mrtr_unrelated", json::object(), "unrelated-ok")) return r;
  return call_expecting(c, "test_mrtr_no_result_type", json::object(), "no-result-type-test-ok");
}

// auth/*: the server (and its authorization server) answer 401 until the client has done the
// OAuth dance the scenario checks; the library's OAuth provider (set on the server config in
// main, see oauth_options) does all of it. Like an application, we connect, list the tools and
// call the scenario's tool. Scenarios that expect the client to refuse (resource-mismatch,
// iss-wrong-issuer, metadata-issuer-mismatch, ...) end with an error here, which the suite
// allows; it judges what reached its servers.
int scenario_auth(Ctx& c, const std::string&) {
  if (int rc = connect(c)) return rc;
  std::vector<mcp::ToolDefinition> tools;
  if (int rc = list_tools(c, tools)) return rc;
  for (const auto& t : tools) {
    mcp::CallToolResult r;
    if (int rc = call(c, t.name, sample_arguments(t.input_schema), r)) return rc;
  }
  return kOk;
}

// The user-agent of the authorization code grant: GET the authorization URL without following
// redirects and hand the Location (the redirect back to us) to the library.
mcp::Result<std::string> follow_authorization(const std::string& url, std::stop_token) {
  auto scheme_end = url.find("://");
  if (scheme_end == std::string::npos) return mcp::fail(mcp::Errc::unauthorized, "bad authorization URL");
  auto path_start = url.find('/', scheme_end + 3);
  httplib::Client cli(url.substr(0, path_start));
  cli.set_follow_location(false);
  cli.set_connection_timeout(5, 0);
  cli.set_read_timeout(10, 0);
  auto res = cli.Get(path_start == std::string::npos ? "/" : url.substr(path_start));
  if (!res) return mcp::fail(mcp::Errc::connection_failed, "authorization endpoint unreachable");
  if (res->status < 300 || res->status >= 400 || !res->has_header("Location"))
    return mcp::fail(mcp::Errc::unauthorized, "authorization endpoint answered HTTP " + std::to_string(res->status) +
                                                  " instead of redirecting back");
  return res->get_header_value("Location");
}

// OAuth client options for an auth/* scenario from MCP_CONFORMANCE_CONTEXT: pre-registered
// credentials (client_id, client_secret), a private key for private_key_jwt
// (private_key_pem, signing_algorithm ES256); client-credentials-* scenarios use that grant.
// The Client ID Metadata Document URL is the one the suite expects (basic-cimd). DPoP is used
// when the authorization server advertises it.
mcp::OAuthClientOptions oauth_options(const std::string& scenario, const json& context) {
  mcp::OAuthClientOptions o;
  o.client_name = "mcp-cpp-conformance-client";
  o.redirect_uri = "http://localhost:3000/callback";
  o.client_metadata_url = "https://conformance-test.local/client-metadata.json";
  o.authorize = follow_authorization;
  o.http_timeout = std::chrono::milliseconds(5000);
  // Like an application supporting the DPoP extension (SEP-1932): sender-constrained tokens
  // wherever the authorization server offers them (auth/dpop, auth/dpop-nonce advertise
  // dpop_signing_alg_values_supported ES256; the other scenarios do not, and get bearer tokens).
  o.dpop = mcp::DpopMode::if_supported;
  if (context.is_object()) {
    std::string keys;
    for (const auto& [k, v] : context.items()) keys += " " + k;
    out("context fields:" + keys);  // names only: the values are secrets
    o.client_id = context.value("client_id", "");
    o.client_secret = context.value("client_secret", "");
    o.private_key_pem = context.value("private_key_pem", "");
  }
  if (scenario.rfind("auth/client-credentials", 0) == 0) o.grant = mcp::OAuthGrant::client_credentials;
  if (scenario == "auth/wif-jwt-bearer") {  // the workload JWT the suite minted for its AS
    o.grant = mcp::OAuthGrant::jwt_bearer;
    const std::string jwt = context.is_object() ? context.value("valid_jwt", "") : "";
    o.assertion = [jwt]() -> mcp::Result<std::string> { return jwt; };
  }
  // SEP-990 (enterprise-managed authorization; cross-app-access in 0.1.16): the suite's IdP
  // signed an ID token for the user; the client is pre-registered at both the IdP and the AS.
  if (scenario == "auth/enterprise-managed-authorization" || scenario == "auth/cross-app-access-complete-flow") {
    o.grant = mcp::OAuthGrant::enterprise_managed;
    if (context.is_object()) {
      o.idp_token_endpoint = context.value("idp_token_endpoint", "");
      o.idp_client_id = context.value("idp_client_id", "");
      const std::string id_token = context.value("idp_id_token", "");
      o.idp_subject_token = [id_token]() -> mcp::Result<std::string> { return id_token; };
    }
  }
  o.on_diagnostic = [](std::string_view msg) {
    std::lock_guard lock(g_out_mutex);
    std::cerr << "diagnostic " << msg << "\n";
  };
  return o;
}

// Handlers for everything a server may ask of a client, set for every scenario (so the
// capabilities roots, sampling and elicitation are declared, which request-metadata checks).
mcp::ClientHandlers make_handlers(const std::string& scenario) {
  mcp::ClientHandlers h;
  h.elicitation = [scenario](const std::string&, const mcp::ElicitRequest& req) -> mcp::Result<mcp::ElicitResult> {
    out("elicitation (" + req.mode + "): " + req.message + " schema=" + req.requested_schema.dump());
    mcp::ElicitResult r;
    r.action = "accept";
    if (scenario == "sep-2322-client-request-state") {
      r.content = {{"confirmed", true}};
      mrtr_call_unrelated_between_rounds();
    }
    // Otherwise accept with nothing filled in: the library applies the schema defaults
    // (elicitation-sep1034-client-defaults checks exactly that).
    return r;
  };
  h.sampling = [](const std::string&, const json& params) -> mcp::Result<json> {
    out("sampling/createMessage: " + params.dump());
    return json{{"role", "assistant"},
                {"content", {{"type", "text"}, {"text", "conformance sampling answer"}}},
                {"model", "mcp-cpp-conformance"},
                {"stopReason", "endTurn"}};
  };
  h.roots = [](const std::string&) { return std::vector<mcp::Root>{{"file:///tmp/mcp-cpp-conformance", "conformance"}}; };
  h.on_log = [](const std::string&, const mcp::LogMessage& m) { out("log [" + m.level + "]: " + m.data.dump()); };
  return h;
}

// sep-2640-client-*: the Skills extension. The server declares it and lists one skill,
// pdf-processing (SKILL.md and references/FORMS.md). no-prefetch: the client lists and reads
// nothing (a host fetches a file only when a skill is loaded or a file read). verify-*: the
// client loads the skill, as a host would when the model asks for it; the SKILL.md the server
// sends fails one check (digest, size, frontmatter), so the load must fail with that check's
// error and FORMS.md must never be read. Had the load succeeded, every listed file would be
// read (verified) as a host's model would, and the scenario fails on the FORMS.md read.
int scenario_skills(Ctx& c, const std::string& scenario) {
  auto listed = c.client.list_skills();
  if (!listed.errors.empty()) return report(listed.errors.begin()->second, "skills/list");
  const auto& skills = listed.value[kServer];
  for (const auto& s : skills)
    out("skill " + s.name + " at " + s.uri + ": " + std::to_string(s.files ? s.files->size() : 0) + " files");
  if (skills.empty()) return fail_msg("the server lists no skill");
  if (scenario == "sep-2640-client-no-prefetch") return kOk;
  static const std::map<std::string, mcp::Errc> expected = {
      {"sep-2640-client-verify-digest", mcp::Errc::digest_mismatch},
      {"sep-2640-client-verify-size", mcp::Errc::size_mismatch},
      {"sep-2640-client-verify-frontmatter", mcp::Errc::frontmatter_mismatch},
  };
  auto want = expected.find(scenario);
  if (want == expected.end()) return fail_msg("unknown skills scenario '" + scenario + "'");
  for (const auto& s : skills) {
    auto loaded = c.client.load_skill(kServer, s);
    if (!loaded) {
      out("load_skill " + s.uri + " refused: " + loaded.error().what());
      if (loaded.error().errc() != want->second) return report(loaded.error(), "load_skill " + s.uri);
      continue;
    }
    out("loaded " + s.uri + " (" + std::to_string(loaded->bytes.size()) + " bytes)");
    for (const auto& f : *s.files) {
      if (f.uri == s.uri) continue;
      auto read = c.client.read_skill_file(kServer, s, f.uri);
      if (!read) return report(read.error(), "read_skill_file " + f.uri);
    }
    return fail_msg("the tampered skill " + s.uri + " was loaded");
  }
  return kOk;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) {
    std::cerr << "usage: " << argv[0] << " [args...] <server-url>  (scenario in MCP_CONFORMANCE_SCENARIO)\n";
    return kUsage;
  }
  const std::string url = argv[argc - 1];
  const char* sc = std::getenv("MCP_CONFORMANCE_SCENARIO");
  const std::string scenario = sc ? sc : "initialize";
  const char* pv = std::getenv("MCP_CONFORMANCE_PROTOCOL_VERSION");
  out("scenario " + scenario + " against " + url + (pv ? std::string(" (suite targets ") + pv + ")" : ""));

  json context;
  if (const char* ctx = std::getenv("MCP_CONFORMANCE_CONTEXT")) {
    context = json::parse(ctx, nullptr, /*allow_exceptions=*/false);
    if (context.is_discarded()) {
      fail_msg("MCP_CONFORMANCE_CONTEXT is not JSON");
      return kUsage;
    }
  }

  mcp::HttpServerConfig http;
  http.url = url;
  if (scenario.rfind("auth/", 0) == 0) http.auth = mcp::oauth_provider(oauth_options(scenario, context));
  mcp::ServerConfig server;
  server.transport = http;
  // The suite kills us after 30 s; run.sh fails a scenario that lasts this long.
  server.request_timeout = std::chrono::milliseconds(20000);
  if (const char* t = std::getenv("MCP_CPP_CONFORMANCE_REQUEST_TIMEOUT_MS"); t && std::atol(t) > 0)
    server.request_timeout = std::chrono::milliseconds(std::atol(t));
  if (const char* era = std::getenv("MCP_CPP_CONFORMANCE_ERA")) {
    const std::string e = era;
    if (e == "legacy") server.era = mcp::Era::legacy;
    else if (e == "modern") server.era = mcp::Era::modern;
  }

  mcp::ClientConfig cfg;
  cfg.id = "conformance";
  cfg.client_info = mcp::Implementation{"mcp-cpp-conformance-client", mcp::version_string, std::nullopt, nullptr, {}};
  cfg.servers.emplace(kServer, std::move(server));
  cfg.handlers = make_handlers(scenario);
  cfg.on_diagnostic = [](std::string_view srv, std::string_view msg) {
    std::lock_guard lock(g_out_mutex);
    std::cerr << "diagnostic [" << srv << "]: " << msg << "\n";
  };

  auto client = mcp::Client::create(std::move(cfg));
  if (!client) return report(client.error(), "create");
  Ctx ctx{*client, url, context};

  static const std::map<std::string, std::function<int(Ctx&)>> scenarios = {
      {"initialize", scenario_initialize},
      {"tools_call", scenario_tools_call},
      {"tools-call", scenario_tools_call},
      {"sse-retry", scenario_sse_retry},
      {"elicitation-sep1034-client-defaults", scenario_elicitation_defaults},
      {"request-metadata", scenario_request_metadata},
      {"http-standard-headers", scenario_http_standard_headers},
      {"http-custom-headers", scenario_http_custom_headers},
      {"http-invalid-tool-headers", scenario_http_invalid_tool_headers},
      {"json-schema-ref-no-deref", scenario_json_schema_ref_no_deref},
      {"json-schema-2020-12-preservation", scenario_json_schema_preservation},
      {"sep-2322-client-request-state", scenario_mrtr},
  };

  int rc;
  if (auto it = scenarios.find(scenario); it != scenarios.end()) rc = it->second(ctx);
  else if (scenario.rfind("auth/", 0) == 0) rc = scenario_auth(ctx, scenario);
  else if (scenario.rfind("sep-2640-client-", 0) == 0) rc = scenario_skills(ctx, scenario);
  else {
    fail_msg("unknown scenario '" + scenario + "'");
    rc = kUsage;
  }
  client->disconnect();
  if (rc == kOk) out("scenario " + scenario + ": client ok");
  return rc;
}
