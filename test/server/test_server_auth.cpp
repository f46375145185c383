// SPDX-License-Identifier: MIT
// The server as an OAuth protected resource: token validators against a real authorization
// server stand-in (cpp-httplib on 127.0.0.1 serving metadata, JWKS and introspection; test
// equipment, not our library), tokens signed here with OpenSSL keys made per run.
#include "../integration/helpers.hpp"
#include "oauth_test_as.hpp"

#include <mcp/client.hpp>
#include <mcp/server.hpp>
#include <mcp/server_auth.hpp>
#include <mcp/server_http.hpp>
#include <mcp/server_httplib.hpp>

#include <doctest/doctest.h>
#include <httplib.h>

#include <atomic>
#include <chrono>
#include <memory>
#include <string>
#include <thread>

using nlohmann::json;
using namespace std::chrono_literals;

namespace {

using testas::b64url;
using testas::now_s;
using testas::TestKey;

const char* kResource = "https://mcp.example.com/mcp";

json claims_for(const std::string& iss, double exp_in = 300) {
  return {{"iss", iss}, {"sub", "user-1"}, {"client_id", "app-7"}, {"aud", kResource},
          {"scope", "files:read tools"}, {"exp", now_s() + exp_in}, {"iat", now_s()}};
}

// An authorization server stand-in on 127.0.0.1: RFC 8414 metadata, a JWKS that the test can
// change, and an introspection endpoint answering from a table.
struct AuthServer {
  httplib::Server srv;
  std::thread th;
  int port = 0;
  std::string issuer;
  std::mutex m;
  json jwks = {{"keys", json::array()}};
  std::map<std::string, json> introspect;  // token -> response
  std::string last_authorization;
  std::atomic<int> jwks_fetches{0}, metadata_fetches{0}, introspections{0};

  AuthServer() {
    srv.Get("/.well-known/oauth-authorization-server", [this](const httplib::Request&, httplib::Response& res) {
      ++metadata_fetches;
      res.set_content(json{{"issuer", issuer}, {"jwks_uri", issuer + "/jwks"}, {"token_endpoint", issuer + "/token"}}.dump(),
                      "application/json");
    });
    srv.Get("/jwks", [this](const httplib::Request&, httplib::Response& res) {
      ++jwks_fetches;
      std::lock_guard lk(m);
      res.set_content(jwks.dump(), "application/json");
    });
    srv.Post("/introspect", [this](const httplib::Request& req, httplib::Response& res) {
      ++introspections;
      std::lock_guard lk(m);
      last_authorization = req.get_header_value("Authorization");
      auto it = introspect.find(req.get_param_value("token"));
      res.set_content(it == introspect.end() ? json{{"active", false}}.dump() : it->second.dump(), "application/json");
    });
    port = srv.bind_to_any_port("127.0.0.1");
    REQUIRE(port > 0);
    issuer = "http://127.0.0.1:" + std::to_string(port);
    th = std::thread([this] { srv.listen_after_bind(); });
    for (int i = 0; i < 500 && !srv.is_running(); ++i) std::this_thread::sleep_for(10ms);
  }
  ~AuthServer() {
    srv.stop();
    th.join();
  }
  void set_keys(std::initializer_list<const TestKey*> keys) {
    std::lock_guard lk(m);
    jwks["keys"] = json::array();
    for (auto* k : keys) jwks["keys"].push_back(k->jwk);
  }
};

bool mentions(const mcp::Error& e, const std::string& token) { return e.message.find(token) != std::string::npos; }

}  // namespace

TEST_CASE("static token validator: listed tokens only, compared as digests; bad lists refused") {
  mcp::AuthInfo who;
  who.subject = "svc";
  who.scopes = {"tools"};
  auto v = mcp::make_static_token_validator({{"0123456789abcdef-secret", who}});
  REQUIRE(v);
  CHECK((*v)->answers_at_once("anything"));
  auto ok = (*v)->validate("0123456789abcdef-secret");
  REQUIRE(ok);
  CHECK(ok->subject == "svc");
  auto bad = (*v)->validate("0123456789abcdef-secreT");
  REQUIRE(!bad);
  CHECK(bad.error().errc() == mcp::Errc::unauthorized);
  CHECK(!mentions(bad.error(), "0123456789abcdef-secreT"));
  CHECK((*v)->validate("").error().errc() == mcp::Errc::unauthorized);

  mcp::AuthInfo expired;
  expired.expires_at = std::chrono::system_clock::now() - 1s;
  auto ve = mcp::make_static_token_validator({{"expired-token-0123456", expired}});
  REQUIRE(ve);
  CHECK((*ve)->validate("expired-token-0123456").error().errc() == mcp::Errc::unauthorized);

  CHECK(mcp::make_static_token_validator({}).error().errc() == mcp::Errc::invalid_config);
  CHECK(mcp::make_static_token_validator({{"short", {}}}).error().errc() == mcp::Errc::invalid_config);
  CHECK(mcp::make_static_token_validator({{"same-token-0123456", {}}, {"same-token-0123456", {}}}).error().errc() ==
        mcp::Errc::invalid_config);
}

TEST_CASE("JWT validator with given keys: ES256 and RS256 accepted; every wrong claim, key or algorithm refused") {
  const auto es = TestKey::make("ES256", "es-1");
  const auto rs = TestKey::make("RS256", "rs-1");
  const std::string iss = "https://auth.example.com";
  auto v = mcp::make_jwt_validator({.issuer = iss, .audience = kResource,
                                    .jwks = json{{"keys", {es.jwk, rs.jwk}}}});
  REQUIRE(v);
  auto& val = **v;

  for (const auto* k : {&es, &rs}) {
    CAPTURE(k->alg);
    auto ok = val.validate(k->sign(claims_for(iss)));
    REQUIRE(ok);
    CHECK(ok->subject == "user-1");
    CHECK(ok->client_id == "app-7");
    CHECK(ok->scopes == std::vector<std::string>{"files:read", "tools"});
    CHECK(ok->issuer == iss);
    CHECK(ok->audience == std::vector<std::string>{kResource});
    REQUIRE(ok->expires_at);
    CHECK(ok->claims["sub"] == "user-1");
  }

  auto refused = [&](const std::string& token, const char* why) {
    CAPTURE(why);
    auto r = val.validate(token);
    REQUIRE(!r);
    CHECK(r.error().errc() == mcp::Errc::unauthorized);
    CHECK(!mentions(r.error(), token));
  };
  auto c = claims_for(iss);
  refused(es.sign(claims_for("https://other.example.com")), "another issuer");
  c["aud"] = json::array({"https://other.example.com/mcp"});
  refused(es.sign(c), "another audience");
  c["aud"] = json::array({"x", kResource});
  CHECK(val.validate(es.sign(c)));  // an array holding us
  refused(es.sign(claims_for(iss, -120)), "expired beyond the leeway");
  CHECK(val.validate(es.sign(claims_for(iss, -30))));  // expired within the leeway
  c = claims_for(iss);
  c["nbf"] = now_s() + 600;
  refused(es.sign(c), "not yet valid");
  c = claims_for(iss);
  c.erase("exp");
  refused(es.sign(c), "no exp");
  c = claims_for(iss);
  c["exp"] = "tomorrow";
  refused(es.sign(c), "exp not a number");
  refused(es.sign(claims_for(iss), {{"alg", "none"}}), "alg none");
  refused(es.sign(claims_for(iss), {{"alg", "HS256"}}), "alg HS256");
  refused(rs.sign(claims_for(iss), {{"alg", "ES256"}}), "RSA signature claimed as ES256");
  refused(es.sign(claims_for(iss), {{"kid", "unknown"}}), "unknown kid");
  refused(es.sign(claims_for(iss), {{"crit", {"exp"}}}), "crit");
  const auto other = TestKey::make("ES256", "es-1");  // same kid, another key
  refused(other.sign(claims_for(iss)), "signed by a key not the issuer's");
  // Payload swapped under a valid signature.
  std::string t = es.sign(claims_for(iss));
  auto d1 = t.find('.'), d2 = t.find('.', d1 + 1);
  auto evil = claims_for(iss);
  evil["sub"] = "admin";
  refused(t.substr(0, d1 + 1) + b64url(evil.dump()) + t.substr(d2), "payload tampered");
  refused("not-a-jwt", "garbage");
  refused("a.b.c.d", "four parts");
  refused(std::string(20000, 'a') + ".b.c", "oversized");

  // typ checked when asked.
  auto strict = mcp::make_jwt_validator({.issuer = iss, .audience = kResource, .jwks = json{{"keys", {es.jwk}}},
                                         .require_at_jwt_typ = true});
  REQUIRE(strict);
  CHECK((*strict)->validate(es.sign(claims_for(iss))));
  CHECK(!(*strict)->validate(es.sign(claims_for(iss), {{"typ", "JWT"}})));

  // Configuration mistakes.
  CHECK(mcp::make_jwt_validator({.issuer = iss}).error().errc() == mcp::Errc::invalid_config);
  CHECK(mcp::make_jwt_validator({.audience = kResource}).error().errc() == mcp::Errc::invalid_config);
  CHECK(mcp::make_jwt_validator({.issuer = iss, .audience = kResource, .algorithms = {"HS256"}}).error().errc() ==
        mcp::Errc::invalid_config);
  CHECK(mcp::make_jwt_validator({.issuer = iss, .audience = kResource, .jwks = json{{"keys", json::array()}}})
            .error().errc() == mcp::Errc::invalid_config);
  CHECK(mcp::make_jwt_validator({.issuer = iss, .audience = kResource, .jwks_uri = "http://example.com/jwks"})
            .error().errc() == mcp::Errc::invalid_config);  // plain http off loopback
  // An RSA key below 2048 bits is not usable.
  auto weak = rs.jwk;
  weak["n"] = b64url(std::string(128, '\xff'));
  CHECK(mcp::make_jwt_validator({.issuer = iss, .audience = kResource, .jwks = json{{"keys", {weak}}}}).error().errc() ==
        mcp::Errc::invalid_config);
}

TEST_CASE("JWT validator fetches the issuer's keys through its metadata, refetches for a new kid at most every jwks_min_refetch") {
  AuthServer as;
  const auto k1 = TestKey::make("ES256", "k1");
  const auto k2 = TestKey::make("RS256", "k2");
  as.set_keys({&k1});
  auto v = mcp::make_jwt_validator({.issuer = as.issuer, .audience = kResource, .jwks_min_refetch = 1s});
  REQUIRE(v);
  CHECK(as.jwks_fetches == 0);  // nothing until the first token
  CHECK(!(*v)->answers_at_once(k1.sign(claims_for(as.issuer))));  // a fetch is due
  for (int i = 0; i < 20; ++i) REQUIRE((*v)->validate(k1.sign(claims_for(as.issuer))));
  CHECK(as.metadata_fetches == 1);
  CHECK(as.jwks_fetches == 1);
  CHECK((*v)->answers_at_once(k1.sign(claims_for(as.issuer))));  // the key is cached
  CHECK((*v)->answers_at_once(k2.sign(claims_for(as.issuer))));  // unknown, but no refetch yet: refused at once

  // The issuer rotates: a token with the new kid makes one refetch (the last fetch was long
  // enough ago only after a second).
  as.set_keys({&k1, &k2});
  std::this_thread::sleep_for(1100ms);
  CHECK(!(*v)->answers_at_once(k2.sign(claims_for(as.issuer))));  // now a refetch may come
  CHECK((*v)->answers_at_once(k1.sign(claims_for(as.issuer))));
  REQUIRE((*v)->validate(k2.sign(claims_for(as.issuer))));
  CHECK(as.jwks_fetches == 2);

  // A flood of tokens naming keys that do not exist cannot make a fetch per token.
  for (int i = 0; i < 50; ++i) {
    auto r = (*v)->validate(k1.sign(claims_for(as.issuer), {{"kid", "nope-" + std::to_string(i)}}));
    REQUIRE(!r);
    CHECK(r.error().errc() == mcp::Errc::unauthorized);
  }
  CHECK(as.jwks_fetches <= 3);
}

TEST_CASE("JWT validator: an unreachable issuer is no decision (connection_failed), not a refusal") {
  int port = 0;
  {
    httplib::Server probe;
    port = probe.bind_to_any_port("127.0.0.1");
  }  // closed: nothing listens there now
  const auto k = TestKey::make("ES256", "k");
  auto v = mcp::make_jwt_validator({.issuer = "http://127.0.0.1:" + std::to_string(port), .audience = kResource,
                                    .http_timeout = 2s});
  REQUIRE(v);
  const auto t0 = std::chrono::steady_clock::now();
  auto r = (*v)->validate(k.sign(claims_for("http://127.0.0.1:" + std::to_string(port))));
  REQUIRE(!r);
  CHECK(r.error().errc() == mcp::Errc::connection_failed);
  CHECK(std::chrono::steady_clock::now() - t0 < 5s);
}

TEST_CASE("introspection validator: active tokens accepted with their claims, answers cached, decisions only") {
  AuthServer as;
  {
    std::lock_guard lk(as.m);
    as.introspect["tok-good"] = {{"active", true}, {"sub", "u-9"}, {"client_id", "c-1"}, {"scope", "a b"},
                                 {"aud", kResource}, {"exp", now_s() + 600}};
    as.introspect["tok-other-aud"] = {{"active", true}, {"aud", "https://elsewhere/mcp"}};
    as.introspect["tok-expired"] = {{"active", true}, {"exp", now_s() - 10}};
  }
  auto v = mcp::make_introspection_validator({.endpoint = as.issuer + "/introspect", .client_id = "rs",
                                              .client_secret = "s3cret", .audience = kResource});
  REQUIRE(v);
  CHECK(!(*v)->answers_at_once("tok-good"));
  auto ok = (*v)->validate("tok-good");
  REQUIRE(ok);
  CHECK(ok->subject == "u-9");
  CHECK(ok->client_id == "c-1");
  CHECK(ok->scopes == std::vector<std::string>{"a", "b"});
  CHECK(as.last_authorization == "Basic cnM6czNjcmV0");  // rs:s3cret
  CHECK((*v)->answers_at_once("tok-good"));
  CHECK((*v)->validate("tok-good"));
  CHECK(as.introspections == 1);  // the second answer came from the cache

  for (const char* t : {"tok-unknown", "tok-other-aud", "tok-expired"}) {
    CAPTURE(t);
    auto r = (*v)->validate(t);
    REQUIRE(!r);
    CHECK(r.error().errc() == mcp::Errc::unauthorized);
    CHECK(!mentions(r.error(), t));
  }
  const int before = as.introspections;
  CHECK(!(*v)->validate("tok-unknown"));  // refusals are cached briefly too
  CHECK(as.introspections == before);

  // The endpoint gone: no decision, and nothing cached.
  auto gone = mcp::make_introspection_validator({.endpoint = as.issuer + "/nowhere", .http_timeout = 2s});
  REQUIRE(gone);
  auto r = (*gone)->validate("tok-good");
  REQUIRE(!r);
  CHECK(r.error().errc() == mcp::Errc::connection_failed);

  CHECK(mcp::make_introspection_validator({.endpoint = "http://auth.example.com/introspect"}).error().errc() ==
        mcp::Errc::invalid_config);
  CHECK(mcp::make_introspection_validator({}).error().errc() == mcp::Errc::invalid_config);
}

TEST_CASE("introspection cache stays within cache_entries") {
  AuthServer as;
  {
    std::lock_guard lk(as.m);
    for (int i = 0; i < 20; ++i) as.introspect["t" + std::to_string(i)] = {{"active", true}, {"sub", std::to_string(i)}};
  }
  auto v = mcp::make_introspection_validator({.endpoint = as.issuer + "/introspect", .cache_entries = 4});
  REQUIRE(v);
  for (int i = 0; i < 20; ++i) REQUIRE((*v)->validate("t" + std::to_string(i)));
  CHECK(as.introspections == 20);
  for (int i = 16; i < 20; ++i) REQUIRE((*v)->validate("t" + std::to_string(i)));  // the newest four: cached
  CHECK(as.introspections == 20);
  REQUIRE((*v)->validate("t0"));  // evicted long ago
  CHECK(as.introspections == 21);
}

TEST_CASE("protected resource metadata, its well-known URL, scope hierarchies and Bearer challenges") {
  mcp::ProtectedResourceMetadata m{.resource = kResource, .authorization_servers = {"https://auth.example.com"},
                                   .scopes_supported = {"files:read", "files:write"}, .resource_name = "Files"};
  m.extra = {{"resource", "https://evil.example.com"}, {"resource_signing_alg_values_supported", {"ES256"}}};
  auto j = mcp::to_json(m);
  CHECK(j["resource"] == kResource);  // extra never replaces ours
  CHECK(j["authorization_servers"] == json::array({"https://auth.example.com"}));
  CHECK(j["scopes_supported"].size() == 2);
  CHECK(j["resource_name"] == "Files");
  CHECK(j["bearer_methods_supported"] == json::array({"header"}));
  CHECK(j["resource_signing_alg_values_supported"] == json::array({"ES256"}));

  CHECK(*mcp::protected_resource_metadata_path("https://example.com/public/mcp") ==
        "/.well-known/oauth-protected-resource/public/mcp");
  CHECK(*mcp::protected_resource_metadata_path("https://example.com") == "/.well-known/oauth-protected-resource");
  CHECK(*mcp::protected_resource_metadata_path("https://example.com/") == "/.well-known/oauth-protected-resource");
  CHECK(*mcp::protected_resource_metadata_url("HTTPS://Example.com:443/mcp") ==
        "https://example.com/.well-known/oauth-protected-resource/mcp");
  CHECK(*mcp::protected_resource_metadata_url("http://127.0.0.1:8080/mcp") ==
        "http://127.0.0.1:8080/.well-known/oauth-protected-resource/mcp");
  CHECK(!mcp::protected_resource_metadata_path("https://example.com/mcp?x=1"));
  CHECK(!mcp::protected_resource_metadata_path("/mcp"));
  CHECK(!mcp::protected_resource_metadata_path("https://u:p@example.com/mcp"));

  const mcp::ScopeHierarchy h{{"admin", {"files"}}, {"files", {"files:read", "files:write"}}, {"loop", {"loop"}}};
  CHECK(mcp::missing_scopes({"files:read"}, {"files:read"}).empty());
  CHECK(mcp::missing_scopes({"files:read"}, {"files:write"}) == std::vector<std::string>{"files:write"});
  CHECK(mcp::missing_scopes({"admin"}, {"files:write", "files:read"}, h).empty());  // transitively
  CHECK(mcp::missing_scopes({"files"}, {"admin"}, h) == std::vector<std::string>{"admin"});
  CHECK(mcp::missing_scopes({"loop"}, {"x", "x"}, h) == std::vector<std::string>{"x"});  // cycles end; once each

  CHECK(mcp::bearer_challenge("", {}, "https://mcp.example.com/.well-known/oauth-protected-resource/mcp") ==
        "Bearer resource_metadata=\"https://mcp.example.com/.well-known/oauth-protected-resource/mcp\"");
  CHECK(mcp::bearer_challenge("insufficient_scope", {"files:write", "x y", "a\"b"}, "https://r/m") ==
        "Bearer error=\"insufficient_scope\", scope=\"files:write ab\", resource_metadata=\"https://r/m\"");
  CHECK(mcp::bearer_challenge("invalid_token", {}, "", "bad\r\nSet-Cookie: x=\"1\"") ==
        "Bearer error=\"invalid_token\", error_description=\"badSet-Cookie: x=1\"");
}

// ---------------------------------------------------------------------------------------------
// The HTTP host as a protected resource

namespace {

const char* kHostResource = "https://mcp.example.com/mcp";
const char* kTokenA = "token-A-0123456789abcdef";
const char* kTokenB = "token-B-0123456789abcdef";
const char* kTokenNoScope = "token-C-0123456789abcdef";

// A server whose tools say who called them; `admin` needs the "admin" scope.
void add_tools(mcp::Server& server) {
  server.add_tool({.name = "whoami",
                   .input_schema = {{"type", "object"}},
                   .handler = [](const json&, mcp::RequestContext& ctx) -> mcp::Result<mcp::CallToolResult> {
                     const auto* a = ctx.auth();
                     if (!a) return mcp::text_result("nobody");
                     std::string s = a->subject + "|" + a->client_id + "|";
                     for (const auto& sc : a->scopes) s += sc + ",";
                     s += "|" + a->extra.value("tenant", std::string());
                     return mcp::text_result(s);
                   }});
  mcp::ServerTool admin{.name = "admin",
                        .input_schema = {{"type", "object"}},
                        .handler = [](const json&, mcp::RequestContext&) -> mcp::Result<mcp::CallToolResult> {
                          return mcp::text_result("done");
                        }};
  admin.required_scopes = {"admin"};
  server.add_tool(std::move(admin));
}

mcp::AuthInfo who(const std::string& sub, std::vector<std::string> scopes) {
  mcp::AuthInfo a;
  a.subject = sub;
  a.client_id = "client-" + sub;
  a.scopes = std::move(scopes);
  return a;
}

mcp::HttpAuthOptions static_auth() {
  mcp::HttpAuthOptions a;
  a.metadata = {.resource = kHostResource, .authorization_servers = {"https://auth.example.com"},
                .scopes_supported = {"tools", "admin"}};
  a.validator = *mcp::make_static_token_validator({{kTokenA, who("alice", {"tools", "root"})},
                                                   {kTokenB, who("bob", {"tools"})},
                                                   {kTokenNoScope, who("carol", {})}});
  a.required_scopes = {"tools"};
  a.scope_hierarchy = {{"root", {"admin"}}};
  return a;
}

const char* kModernMeta =
    R"("_meta":{"io.modelcontextprotocol/protocolVersion":"2026-07-28","io.modelcontextprotocol/clientCapabilities":{}})";

httplib::Result post(httplib::Client& c, const std::string& body, httplib::Headers h = {}) {
  h.emplace("Accept", "application/json, text/event-stream");
  h.emplace("MCP-Protocol-Version", "2026-07-28");
  return c.Post("/mcp", h, body, "application/json");
}
std::string modern_call(const std::string& tool) {
  return R"({"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":")" + tool + R"(","arguments":{},)" +
         kModernMeta + "}}";
}
httplib::Headers bearer(const std::string& t, httplib::Headers h = {}) {
  h.emplace("Authorization", "Bearer " + t);
  h.emplace("Mcp-Method", "tools/call");
  return h;
}
httplib::Headers named(const std::string& tool, httplib::Headers h) {
  h.emplace("Mcp-Name", tool);
  return h;
}

// A batch calling whoami then admin, in a legacy session: its HTTP status (0: no answer).
int whoami_admin_batch(httplib::Client& c, const httplib::Headers& h) {
  auto batch = c.Post("/mcp", h,
                      R"([{"jsonrpc":"2.0","id":2,"method":"tools/call","params":{"name":"whoami","arguments":{}}},)"
                      R"({"jsonrpc":"2.0","id":3,"method":"tools/call","params":{"name":"admin","arguments":{}}}])",
                      "application/json");
  return batch ? batch->status : 0;
}

std::string text_of(const httplib::Result& r) {
  if (!r || r->status != 200) return "";
  auto j = json::parse(r->body, nullptr, false);
  if (j.is_discarded() || !j.contains("result")) return "";
  return j["result"]["content"][0].value("text", "");
}

// A legacy `initialize` with `token`: the session id ("" when refused).
std::string legacy_session(httplib::Client& c, const std::string& token, const std::string& version) {
  httplib::Headers h = bearer(token);
  h.emplace("Accept", "application/json, text/event-stream");
  auto init = c.Post("/mcp", h,
                     R"({"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":")" + version +
                         R"(","capabilities":{},"clientInfo":{"name":"t","version":"1"}}})",
                     "application/json");
  return init && init->status == 200 ? init->get_header_value("Mcp-Session-Id") : std::string();
}

mcp::ServerConfig http_config(const std::string& url, mcp::Era era, const std::string& token) {
  mcp::HttpServerConfig h;
  h.url = url;
  if (!token.empty()) h.headers["Authorization"] = "Bearer " + token;
  mcp::ServerConfig sc;
  sc.transport = std::move(h);
  sc.era = era;
  return sc;
}

}  // namespace

TEST_CASE("HttpHost with auth: metadata served, 401 challenges, scopes (403 step-up), auth() in handlers, sessions bound to their caller") {
  mcp::Server server({.identity = {.name = "protected", .version = "1.0.0"}});
  add_tools(server);
  mcp::HttpHost host(server, {.auth = static_auth()});
  auto port = host.start();
  REQUIRE(port);
  httplib::Client c("127.0.0.1", *port);
  c.set_read_timeout(10, 0);
  const std::string md_url = "https://mcp.example.com/.well-known/oauth-protected-resource/mcp";

  // RFC 9728: both well-known paths, no token needed.
  for (const char* path : {"/.well-known/oauth-protected-resource/mcp", "/.well-known/oauth-protected-resource"}) {
    CAPTURE(path);
    auto r = c.Get(path);
    REQUIRE(r);
    CHECK(r->status == 200);
    auto j = json::parse(r->body);
    CHECK(j["resource"] == kHostResource);
    CHECK(j["authorization_servers"] == json::array({"https://auth.example.com"}));
  }

  // No token: 401 naming the metadata and the scopes; a bad token: invalid_token.
  auto r = post(c, modern_call("whoami"), named("whoami", {{"Mcp-Method", "tools/call"}}));
  REQUIRE(r);
  CHECK(r->status == 401);
  CHECK(r->get_header_value("WWW-Authenticate") ==
        std::string("Bearer scope=\"tools\", resource_metadata=\"") + md_url + "\"");
  r = post(c, modern_call("whoami"), named("whoami", bearer("not-a-token-at-all")));
  REQUIRE(r);
  CHECK(r->status == 401);
  CHECK(r->get_header_value("WWW-Authenticate").find("error=\"invalid_token\"") != std::string::npos);
  CHECK(r->body.find("not-a-token-at-all") == std::string::npos);
  r = c.Post("/mcp", {{"Authorization", "Basic " + std::string(kTokenA)}}, modern_call("whoami"), "application/json");
  REQUIRE(r);
  CHECK(r->status == 401);

  // A good token: the handler sees who called.
  r = post(c, modern_call("whoami"), named("whoami", bearer(kTokenA)));
  CHECK(text_of(r) == "alice|client-alice|tools,root,|");
  // The scope every request needs is missing: 403 with the scope to ask for.
  r = post(c, modern_call("whoami"), named("whoami", bearer(kTokenNoScope)));
  REQUIRE(r);
  CHECK(r->status == 403);
  CHECK(r->get_header_value("WWW-Authenticate").find("error=\"insufficient_scope\"") != std::string::npos);
  CHECK(r->get_header_value("WWW-Authenticate").find("scope=\"tools\"") != std::string::npos);
  // A tool's own scope: bob lacks it (403 naming both), alice has it through "root".
  r = post(c, modern_call("admin"), named("admin", bearer(kTokenB)));
  REQUIRE(r);
  CHECK(r->status == 403);
  CHECK(r->get_header_value("WWW-Authenticate") ==
        std::string("Bearer error=\"insufficient_scope\", error_description=\"the access token lacks a scope this tool "
                    "needs\", scope=\"tools admin\", resource_metadata=\"") + md_url + "\"");
  CHECK(text_of(post(c, modern_call("admin"), named("admin", bearer(kTokenA)))) == "done");
  // In a batch too (2025-03-26 session).
  {
    const std::string sid = legacy_session(c, kTokenB, "2025-03-26");
    REQUIRE(!sid.empty());
    httplib::Headers h = bearer(kTokenB);
    h.emplace("Accept", "application/json, text/event-stream");
    h.emplace("Mcp-Session-Id", sid);
    CHECK(whoami_admin_batch(c, h) == 403);
  }

  // Our client, both eras, with the token in its headers.
  for (const auto era : {mcp::Era::modern, mcp::Era::legacy}) {
    CAPTURE(static_cast<int>(era));
    auto client = mcp::Client::create(
        testutil::one("s", http_config("http://127.0.0.1:" + std::to_string(*port) + "/mcp", era, kTokenA)));
    REQUIRE(client);
    auto res = client->call_tool("s", "whoami", json::object());
    REQUIRE_MESSAGE(res, (res ? "" : res.error().message));
    REQUIRE(!res->content.empty());
    CHECK(res->content[0].text == "alice|client-alice|tools,root,|");
    auto denied = client->call_tool("s", "admin", json::object());
    CHECK(denied);  // alice may
    client->disconnect();
    auto anon = mcp::Client::create(
        testutil::one("s", http_config("http://127.0.0.1:" + std::to_string(*port) + "/mcp", era, "")));
    REQUIRE(anon);
    auto no = anon->call_tool("s", "whoami", json::object());
    REQUIRE(!no);
    CHECK(no.error().errc() == mcp::Errc::unauthorized);
  }

  // A legacy session belongs to its caller: bob's token does not find alice's session.
  {
    const std::string sid = legacy_session(c, kTokenA, "2025-11-25");
    REQUIRE(!sid.empty());
    httplib::Headers ha = bearer(kTokenA);
    ha.emplace("Accept", "application/json, text/event-stream");
    const std::string call =
        R"({"jsonrpc":"2.0","id":2,"method":"tools/call","params":{"name":"whoami","arguments":{}}})";
    httplib::Headers hb = bearer(kTokenB);
    hb.emplace("Accept", "application/json, text/event-stream");
    hb.emplace("Mcp-Session-Id", sid);
    hb.emplace("MCP-Protocol-Version", "2025-11-25");
    auto stolen = c.Post("/mcp", hb, call, "application/json");
    REQUIRE(stolen);
    CHECK(stolen->status == 404);
    ha.emplace("Mcp-Session-Id", sid);
    ha.emplace("MCP-Protocol-Version", "2025-11-25");
    auto own = c.Post("/mcp", ha, call, "application/json");
    REQUIRE(own);
    CHECK(own->status == 200);
  }
  host.stop();
}

TEST_CASE("HttpHost with a JWT validator: keys fetched off the I/O thread on first use; an unreachable issuer is 503") {
  AuthServer as;
  const auto k = TestKey::make("ES256", "k1");
  as.set_keys({&k});
  mcp::Server server({.identity = {.name = "protected", .version = "1.0.0"}});
  add_tools(server);
  mcp::HttpAuthOptions a;
  a.metadata = {.resource = kHostResource, .authorization_servers = {as.issuer}};
  a.validator = *mcp::make_jwt_validator({.issuer = as.issuer, .audience = kHostResource});
  mcp::HttpHost host(server, {.auth = a});
  auto port = host.start();
  REQUIRE(port);
  httplib::Client c("127.0.0.1", *port);
  c.set_read_timeout(10, 0);
  auto claims = claims_for(as.issuer);
  claims["aud"] = kHostResource;
  claims["scope"] = "tools";
  CHECK(text_of(post(c, modern_call("whoami"), named("whoami", bearer(k.sign(claims))))) == "user-1|app-7|tools,|");
  CHECK(as.jwks_fetches == 1);
  CHECK(text_of(post(c, modern_call("whoami"), named("whoami", bearer(k.sign(claims))))) == "user-1|app-7|tools,|");
  CHECK(as.jwks_fetches == 1);
  claims["aud"] = "https://other.example.com/mcp";
  auto r = post(c, modern_call("whoami"), named("whoami", bearer(k.sign(claims))));
  REQUIRE(r);
  CHECK(r->status == 401);
  host.stop();

  // The issuer down: the token cannot be judged, the client is told to come back.
  int dead = 0;
  {
    httplib::Server probe;
    dead = probe.bind_to_any_port("127.0.0.1");
  }
  mcp::HttpAuthOptions b = a;
  const std::string dead_issuer = "http://127.0.0.1:" + std::to_string(dead);
  b.validator = *mcp::make_jwt_validator({.issuer = dead_issuer, .audience = kHostResource, .http_timeout = 2s});
  mcp::HttpHost host2(server, {.auth = b});
  auto port2 = host2.start();
  REQUIRE(port2);
  httplib::Client c2("127.0.0.1", *port2);
  c2.set_read_timeout(10, 0);
  claims = claims_for(dead_issuer);
  claims["aud"] = kHostResource;
  r = post(c2, modern_call("whoami"), named("whoami", bearer(k.sign(claims))));
  REQUIRE(r);
  CHECK(r->status == 503);
  CHECK(r->get_header_value("Retry-After") == "5");
  host2.stop();

  // Configuration: a validator without a resource, or without authorization servers.
  mcp::HttpAuthOptions bad = a;
  bad.metadata.resource.clear();
  mcp::HttpHost h3(server, {.auth = bad});
  CHECK(h3.start().error().errc() == mcp::Errc::invalid_config);
  bad = a;
  bad.metadata.authorization_servers.clear();
  mcp::HttpHost h4(server, {.auth = bad});
  CHECK(h4.start().error().errc() == mcp::Errc::invalid_config);
}

TEST_CASE("HttpHost auth middleware: an application's own scheme (API keys) decides, attaches data, refuses with its status") {
  mcp::Server server({.identity = {.name = "keys", .version = "1.0.0"}});
  add_tools(server);
  mcp::HttpAuthOptions a;
  a.middleware = [](const mcp::AuthRequest& req, mcp::AuthInfo& info) {
    const auto key = req.header("x-api-key");
    if (key == "boom") throw std::runtime_error("middleware bug");
    if (key != "k-123") {
      auto d = mcp::AuthDecision::deny(401, "a valid X-API-Key is needed");
      d.headers.emplace_back("WWW-Authenticate", "ApiKey");
      return d;
    }
    info.subject = "key-user";
    info.extra["tenant"] = "t1";
    return mcp::AuthDecision::allow();
  };
  mcp::HttpHost host(server, {.auth = a});
  auto port = host.start();
  REQUIRE(port);
  httplib::Client c("127.0.0.1", *port);
  c.set_read_timeout(10, 0);
  auto r = post(c, modern_call("whoami"), named("whoami", {{"Mcp-Method", "tools/call"}}));
  REQUIRE(r);
  CHECK(r->status == 401);
  CHECK(r->get_header_value("WWW-Authenticate") == "ApiKey");
  CHECK(text_of(post(c, modern_call("whoami"), named("whoami", {{"Mcp-Method", "tools/call"}, {"X-API-Key", "k-123"}}))) ==
        "key-user|||t1");
  r = post(c, modern_call("whoami"), named("whoami", {{"Mcp-Method", "tools/call"}, {"X-API-Key", "boom"}}));
  REQUIRE(r);
  CHECK(r->status == 500);
  // No metadata without a resource: its paths are plain 404s.
  r = c.Get("/.well-known/oauth-protected-resource");
  REQUIRE(r);
  CHECK(r->status == 404);
  host.stop();
}

TEST_CASE("auth through the httplib mount: metadata routed, challenges, the caller seen by handlers") {
  mcp::Server server({.identity = {.name = "protected", .version = "1.0.0"}});
  add_tools(server);
  mcp::HttpServerOptions o;
  o.auth = static_auth();
  o.allowed_hosts = {"127.0.0.1"};
  mcp::HttpHost host(server, o);
  REQUIRE(host.start_mounted());
  httplib::Server app;
  mcp::mount_httplib(app, host);
  const int port = app.bind_to_any_port("127.0.0.1");
  REQUIRE(port > 0);
  std::thread t([&] { app.listen_after_bind(); });
  for (int i = 0; i < 500 && !app.is_running(); ++i) std::this_thread::sleep_for(10ms);
  httplib::Client c("127.0.0.1", port);
  c.set_read_timeout(10, 0);
  auto md = c.Get("/.well-known/oauth-protected-resource/mcp");
  REQUIRE(md);
  CHECK(md->status == 200);
  CHECK(json::parse(md->body)["resource"] == kHostResource);
  auto r = post(c, modern_call("whoami"), named("whoami", {{"Mcp-Method", "tools/call"}}));
  REQUIRE(r);
  CHECK(r->status == 401);
  CHECK(r->get_header_value("WWW-Authenticate").find("resource_metadata=") != std::string::npos);
  CHECK(text_of(post(c, modern_call("whoami"), named("whoami", bearer(kTokenB)))) == "bob|client-bob|tools,|");
  host.stop();
  app.stop();
  t.join();
}

TEST_CASE("2026-07-28 tasks belong to the caller who created them (SEP-2663): another token finds no task") {
  mcp::Server server({.identity = {.name = "protected", .version = "1.0.0"}});
  mcp::ServerTool slow{.name = "slow",
                       .input_schema = {{"type", "object"}},
                       .handler = [](const json&, mcp::RequestContext&) -> mcp::Result<mcp::CallToolResult> {
                         return mcp::text_result("done");
                       }};
  slow.task_support = mcp::TaskSupport::optional;
  server.add_tool(std::move(slow));
  mcp::HttpHost host(server, {.auth = static_auth()});
  auto port = host.start();
  REQUIRE(port);
  httplib::Client c("127.0.0.1", *port);
  c.set_read_timeout(10, 0);
  const json caps = {{"extensions", {{"io.modelcontextprotocol/tasks", json::object()}}}};
  auto request = [&](int id, const std::string& method, json params) {
    params["_meta"] = {{"io.modelcontextprotocol/protocolVersion", "2026-07-28"},
                       {"io.modelcontextprotocol/clientCapabilities", caps}};
    return json{{"jsonrpc", "2.0"}, {"id", id}, {"method", method}, {"params", params}}.dump();
  };
  auto created = post(c, request(1, "tools/call", {{"name", "slow"}, {"arguments", json::object()}}),
                      named("slow", bearer(kTokenA)));
  REQUIRE(created);
  REQUIRE(created->status == 200);
  auto task = json::parse(created->body)["result"];
  REQUIRE(task["resultType"] == "task");
  const std::string tid = task["taskId"];
  auto get = [&](const char* token) {
    httplib::Headers h = {{"Authorization", std::string("Bearer ") + token}, {"Mcp-Method", "tasks/get"}, {"Mcp-Name", tid}};
    auto r = post(c, request(2, "tasks/get", {{"taskId", tid}}), h);
    REQUIRE(r);
    return json::parse(r->body);
  };
  json mine;
  for (int i = 0; i < 300; ++i) {
    mine = get(kTokenA);
    if (mine["result"]["status"] == "completed") break;
    std::this_thread::sleep_for(10ms);
  }
  CHECK(mine["result"]["status"] == "completed");
  auto theirs = get(kTokenB);
  CHECK(theirs["error"]["code"] == -32602);
  CHECK(!theirs.contains("result"));
}

TEST_CASE("HttpHost auth middleware without a validator: the scopes it fills get the same checks (host-wide and per "
          "tool: 403 insufficient_scope), in both eras, in batches and through our client") {
  mcp::Server server({.identity = {.name = "keys", .version = "1.0.0"}});
  add_tools(server);
  mcp::HttpAuthOptions a;
  a.required_scopes = {"tools"};
  a.scope_hierarchy = {{"root", {"admin"}}};
  a.middleware = [](const mcp::AuthRequest& req, mcp::AuthInfo& info) {
    const auto key = req.header("x-api-key");
    if (key == "k-basic") info.scopes = {"tools"};
    else if (key == "k-admin") info.scopes = {"tools", "admin"};
    else if (key == "k-root") info.scopes = {"tools", "root"};
    else if (key == "k-none") info.scopes = {};
    else return mcp::AuthDecision::deny(401, "a valid X-API-Key is needed");
    info.subject = std::string(key);
    return mcp::AuthDecision::allow();
  };
  // A tools/call's headers with an API key.
  auto keyed = [](const char* key, const std::string& tool) {
    return named(tool, {{"Mcp-Method", "tools/call"}, {"X-API-Key", key}});
  };
  mcp::HttpHost host(server, {.auth = a});
  auto port = host.start();
  REQUIRE(port);
  httplib::Client c("127.0.0.1", *port);
  c.set_read_timeout(10, 0);
  CHECK(text_of(post(c, modern_call("whoami"), keyed("k-basic", "whoami"))) == "k-basic||tools,|");
  auto r = post(c, modern_call("admin"), keyed("k-basic", "admin"));
  REQUIRE(r);
  CHECK(r->status == 403);
  // No metadata configured: the challenge names the scopes and nothing else.
  CHECK(r->get_header_value("WWW-Authenticate") ==
        "Bearer error=\"insufficient_scope\", error_description=\"the caller lacks a scope this tool needs\", "
        "scope=\"tools admin\"");
  CHECK(json::parse(r->body)["error"] == "insufficient_scope");
  CHECK(text_of(post(c, modern_call("admin"), keyed("k-admin", "admin"))) == "done");
  CHECK(text_of(post(c, modern_call("admin"), keyed("k-root", "admin"))) == "done");  // through the hierarchy
  // The scope every request needs.
  r = post(c, modern_call("whoami"), keyed("k-none", "whoami"));
  REQUIRE(r);
  CHECK(r->status == 403);
  CHECK(r->get_header_value("WWW-Authenticate").find("scope=\"tools\"") != std::string::npos);
  r = post(c, modern_call("whoami"), keyed("k-wrong", "whoami"));
  REQUIRE(r);
  CHECK(r->status == 401);
  // A 2025-03-26 batch holding a call the key may not make.
  {
    httplib::Headers h = {{"X-API-Key", "k-basic"}, {"Accept", "application/json, text/event-stream"}};
    auto init = c.Post("/mcp", h,
                       R"({"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-03-26",)"
                       R"("capabilities":{},"clientInfo":{"name":"t","version":"1"}}})",
                       "application/json");
    REQUIRE(init);
    REQUIRE(init->status == 200);
    h.emplace("Mcp-Session-Id", init->get_header_value("Mcp-Session-Id"));
    CHECK(whoami_admin_batch(c, h) == 403);
  }
  // Our client with the key in its headers, both eras: the call is refused with the status.
  for (const auto era : {mcp::Era::modern, mcp::Era::legacy}) {
    CAPTURE(static_cast<int>(era));
    auto sc = http_config("http://127.0.0.1:" + std::to_string(*port) + "/mcp", era, "");
    std::get<mcp::HttpServerConfig>(sc.transport).headers["X-API-Key"] = "k-basic";
    auto client = mcp::Client::create(testutil::one("s", std::move(sc)));
    REQUIRE(client);
    auto ok = client->call_tool("s", "whoami", json::object());
    REQUIRE_MESSAGE(ok, (ok ? "" : ok.error().message));
    CHECK(ok->content.at(0).text == "k-basic||tools,|");
    auto denied = client->call_tool("s", "admin", json::object());
    REQUIRE(!denied);
    CHECK(denied.error().errc() == mcp::Errc::unauthorized);
    CHECK(denied.error().http_status == 403);
    client->disconnect();
  }
  host.stop();

  // With metadata (a middleware host may still publish it): the challenge names it too.
  a.metadata = {.resource = kHostResource, .authorization_servers = {"https://auth.example.com"}};
  mcp::HttpHost host2(server, {.auth = a});
  auto port2 = host2.start();
  REQUIRE(port2);
  httplib::Client c2("127.0.0.1", *port2);
  c2.set_read_timeout(10, 0);
  r = post(c2, modern_call("admin"), keyed("k-basic", "admin"));
  REQUIRE(r);
  CHECK(r->status == 403);
  CHECK(r->get_header_value("WWW-Authenticate").find(
            "resource_metadata=\"https://mcp.example.com/.well-known/oauth-protected-resource/mcp\"") != std::string::npos);
  host2.stop();
}
