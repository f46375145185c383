// SPDX-License-Identifier: MIT
// Authorization end to end (issue 18): an HttpHost protected by make_jwt_validator, a test
// authorization server (test/server/oauth_test_as.hpp: cpp-httplib on 127.0.0.1, JWTs it signs,
// PKCE checked, dynamic registration), and a real client through the whole OAuth dance: our
// mcp::Client with oauth_provider (authorization code + PKCE through the loopback redirect, and
// client credentials) in both eras, and the TypeScript SDK's client with its OAuth providers
// (test/interop/auth_clients.mjs). No mocks: every step crosses a socket.
#include "../integration/helpers.hpp"
#include "node_run.hpp"
#include "oauth_test_as.hpp"

#include <mcp/client.hpp>
#include <mcp/oauth.hpp>
#include <mcp/oauth_loopback.hpp>
#include <mcp/server.hpp>
#include <mcp/server_auth.hpp>
#include <mcp/server_http.hpp>

#include <doctest/doctest.h>
#include <httplib.h>

#include <chrono>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

using nlohmann::json;
using namespace std::chrono_literals;

namespace {

// Every diagnostic and error text seen, to check that no secret ever shows up in one.
struct Log {
  std::mutex m;
  std::vector<std::string> lines;
  void add(std::string_view s) {
    std::lock_guard lk(m);
    lines.emplace_back(s);
  }
  std::string leak(const testas::TestAs& as) {
    std::lock_guard lk(m);
    if (lines.empty()) return "(nothing was logged: the check would prove nothing)";
    for (const auto& l : lines)
      if (auto s = as.leaked_in(l); !s.empty()) return s + " in: " + l.substr(0, 200);
    return {};
  }
};

void no_leak(Log& log, const testas::TestAs& as) {
  const std::string leak = log.leak(as);
  CHECK_MESSAGE(leak.empty(), leak);
}

// "http://h:p/path?q" -> {"http://h:p", "/path?q"}
std::pair<std::string, std::string> split_url(const std::string& url) {
  const auto slash = url.find('/', url.find("://") + 3);
  if (slash == std::string::npos) return {url, "/"};
  return {url.substr(0, slash), url.substr(slash)};
}

// The protected MCP server: tools that report who called them, `admin` needing mcp:admin.
struct ProtectedHost {
  mcp::Server server;
  std::unique_ptr<mcp::HttpHost> host;
  std::string url;  // the MCP endpoint, also the resource (RFC 8707) and the tokens' audience
  Log& log;

  // `introspect`: the host asks the AS about each token (RFC 7662) instead of checking JWTs.
  ProtectedHost(const testas::TestAs& as, Log& l, bool introspect = false)
      : server({.identity = {.name = "protected-e2e", .version = "1.0.0"},
                .on_diagnostic = [&l](std::string_view s) { l.add(s); }}),
        log(l) {
    server.add_tool({.name = "whoami",
                     .input_schema = {{"type", "object"}},
                     .handler = [](const json&, mcp::RequestContext& ctx) -> mcp::Result<mcp::CallToolResult> {
                       const auto* a = ctx.auth();
                       if (!a) return mcp::text_result("{}");
                       return mcp::text_result(json{{"sub", a->subject}, {"client_id", a->client_id}, {"scopes", a->scopes},
                                                    {"iss", a->issuer}, {"aud", a->audience}}
                                                   .dump());
                     }});
    mcp::ServerTool admin{.name = "admin",
                          .input_schema = {{"type", "object"}},
                          .handler = [](const json&, mcp::RequestContext& ctx) -> mcp::Result<mcp::CallToolResult> {
                            return mcp::text_result("admin done for " + (ctx.auth() ? ctx.auth()->subject : "?"));
                          }};
    admin.required_scopes = {"mcp:admin"};
    server.add_tool(std::move(admin));
    // The resource names its port, so the port is chosen first (a few tries if taken meanwhile).
    for (int attempt = 0; attempt < 5; ++attempt) {
      const int port = testutil::free_port();
      url = "http://127.0.0.1:" + std::to_string(port) + "/mcp";
      mcp::HttpServerOptions o;
      o.port = static_cast<unsigned short>(port);
      o.auth.metadata = {.resource = url, .authorization_servers = {as.issuer()},
                         .scopes_supported = {"mcp:tools", "mcp:admin"}, .resource_name = "e2e"};
      auto v = introspect ? mcp::make_introspection_validator({.endpoint = as.issuer() + "/introspect", .audience = url,
                                                               .require_audience = true, .issuer = as.issuer(),
                                                               .cache_ttl = 1s, .http_timeout = 5s})
                          : mcp::make_jwt_validator({.issuer = as.issuer(), .audience = url, .leeway = 0s, .http_timeout = 5s});
      REQUIRE(v);
      o.auth.validator = *v;
      o.auth.required_scopes = {"mcp:tools"};
      host = std::make_unique<mcp::HttpHost>(server, o);
      if (host->start()) return;
    }
    FAIL("no port for the host");
  }
  ~ProtectedHost() { host->stop(); }
  std::string metadata_url() const { return split_url(url).first + "/.well-known/oauth-protected-resource/mcp"; }
};

// An AuthProvider wrapper that records the challenges the client met (status and the
// WWW-Authenticate header: never the refused credential).
class Recorder : public mcp::AuthProvider {
 public:
  explicit Recorder(std::shared_ptr<mcp::AuthProvider> inner) : inner_(std::move(inner)) {}
  struct Seen {
    int status;
    std::string www_authenticate;
    bool had_credential;
  };
  mcp::Result<std::string> authorization(const std::string& server_url, Clock::time_point deadline) override {
    return inner_->authorization(server_url, deadline);
  }
  mcp::Result<mcp::AuthHeaders> request_headers(const mcp::AuthRequestInfo& r, Clock::time_point deadline) override {
    return inner_->request_headers(r, deadline);
  }
  mcp::Result<bool> on_challenge(const mcp::AuthChallengeInfo& c, Clock::time_point deadline) override {
    {
      std::lock_guard lk(m_);
      seen_.push_back({c.status, c.www_authenticate, !c.rejected_authorization.empty()});
    }
    return inner_->on_challenge(c, deadline);
  }
  std::vector<Seen> take() {
    std::lock_guard lk(m_);
    return std::exchange(seen_, {});
  }

 private:
  std::shared_ptr<mcp::AuthProvider> inner_;
  std::mutex m_;
  std::vector<Seen> seen_;
};

mcp::ClientConfig client_config(const std::string& url, mcp::Era era, std::shared_ptr<mcp::AuthProvider> auth, Log& log) {
  mcp::HttpServerConfig h;
  h.url = url;
  h.auth = std::move(auth);
  mcp::ServerConfig sc;
  sc.transport = std::move(h);
  sc.era = era;
  auto cfg = testutil::one("s", std::move(sc));
  cfg.request_timeout = 20s;
  cfg.on_diagnostic = [&log](std::string_view, std::string_view m) { log.add(m); };
  return cfg;
}

// The user-agent of the code flow: fetches the authorization URL (the test AS approves at once
// and redirects), then follows the redirect to the loopback listener, as a browser would.
mcp::Result<void> browse(const std::string& authorization_url) {
  auto [origin, target] = split_url(authorization_url);
  httplib::Client as(origin);
  as.set_read_timeout(10, 0);
  auto r = as.Get(target);
  if (!r || r->status != 302) return mcp::fail(mcp::Errc::unauthorized, "the authorization endpoint did not redirect");
  auto [back_origin, back_target] = split_url(r->get_header_value("Location"));
  httplib::Client loop(back_origin);
  loop.set_read_timeout(10, 0);
  auto b = loop.Get(back_target);
  if (!b || b->status != 200) return mcp::fail(mcp::Errc::unauthorized, "the loopback listener did not take the redirect");
  return {};
}

json whoami(mcp::Client& c, Log& log) {
  auto r = c.call_tool("s", "whoami", json::object());
  if (!r) log.add(r.error().what());
  REQUIRE_MESSAGE(r, (r ? "" : r.error().what()));
  REQUIRE(!r->content.empty());
  return json::parse(r->content[0].text);
}

bool has(const json& scopes, const char* s) {
  for (const auto& x : scopes)
    if (x == s) return true;
  return false;
}

httplib::Result raw_call(const std::string& url, const std::string& token, const std::string& tool = "whoami") {
  auto [origin, target] = split_url(url);
  httplib::Client c(origin);
  c.set_read_timeout(10, 0);
  httplib::Headers h{{"Accept", "application/json, text/event-stream"}, {"MCP-Protocol-Version", "2026-07-28"},
                     {"Mcp-Method", "tools/call"}, {"Mcp-Name", tool}};
  if (!token.empty()) h.emplace("Authorization", "Bearer " + token);
  const std::string body =
      R"({"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":")" + tool +
      R"(","arguments":{},"_meta":{"io.modelcontextprotocol/protocolVersion":"2026-07-28","io.modelcontextprotocol/clientCapabilities":{}}}})";
  return c.Post(target, h, body, "application/json");
}

}  // namespace

TEST_CASE("auth e2e: the host's challenges and metadata; tokens for another audience, expired or unsigned refused") {
  testas::TestAs as;
  Log log;
  ProtectedHost p(as, log);

  auto r = raw_call(p.url, "");
  REQUIRE(r);
  CHECK(r->status == 401);
  CHECK(r->get_header_value("WWW-Authenticate") ==
        "Bearer scope=\"mcp:tools\", resource_metadata=\"" + p.metadata_url() + "\"");
  auto [origin, md_path] = split_url(p.metadata_url());
  httplib::Client c(origin);
  auto md = c.Get(md_path);
  REQUIRE(md);
  REQUIRE(md->status == 200);
  auto prm = json::parse(md->body);
  CHECK(prm["resource"] == p.url);
  CHECK(prm["authorization_servers"] == json::array({as.issuer()}));

  // Tokens straight from the AS: for us (ES256, then RS256), for another resource, for none,
  // expired, short of the scope every request needs.
  const std::string good = as.issue("u-1", "c-1", "mcp:tools", p.url, 300);
  CHECK(!as.leaked_in("a line holding " + good).empty());  // the leak check can fail
  r = raw_call(p.url, good);
  REQUIRE(r);
  CHECK(r->status == 200);
  as.signing_alg = "RS256";
  r = raw_call(p.url, as.issue("u-1", "c-1", "mcp:tools", p.url, 300));
  REQUIRE(r);
  CHECK(r->status == 200);
  as.signing_alg = "ES256";
  for (const auto& [why, token] : std::vector<std::pair<std::string, std::string>>{
           {"another audience", as.issue("u-1", "c-1", "mcp:tools", "http://127.0.0.1:1/mcp", 300)},
           {"no audience named", as.issue("u-1", "c-1", "mcp:tools", "", 300)},
           {"expired", as.issue("u-1", "c-1", "mcp:tools", p.url, -5)},
           {"signature broken", good.substr(0, good.size() - 4) + "AAAA"}}) {
    CAPTURE(why);
    r = raw_call(p.url, token);
    REQUIRE(r);
    CHECK(r->status == 401);
    CHECK(r->get_header_value("WWW-Authenticate").find("error=\"invalid_token\"") != std::string::npos);
    CHECK(r->body.find(token) == std::string::npos);
    log.add(r->body + " " + r->get_header_value("WWW-Authenticate"));
  }
  r = raw_call(p.url, as.issue("u-1", "c-1", "offline_access", p.url, 300));
  REQUIRE(r);
  CHECK(r->status == 403);
  CHECK(r->get_header_value("WWW-Authenticate").find("error=\"insufficient_scope\", ") != std::string::npos);
  r = raw_call(p.url, good, "admin");
  REQUIRE(r);
  CHECK(r->status == 403);
  CHECK(r->get_header_value("WWW-Authenticate").find("scope=\"mcp:tools mcp:admin\"") != std::string::npos);
  {
    std::lock_guard lk(as.m);
    CHECK(as.metadata_fetches == 1);  // the validator found the JWKS through the AS metadata
    CHECK(as.jwks_fetches == 1);      // once: both keys came in it
  }
  no_leak(log, as);
}

TEST_CASE("auth e2e: our client, authorization code + PKCE through the loopback redirect, both eras: 401, discovery, "
          "registration, token, step-up on 403, refresh of an expired token") {
  testas::TestAs as;
  Log log;
  ProtectedHost p(as, log);

  for (const auto era : {mcp::Era::modern, mcp::Era::legacy}) {
    CAPTURE(era == mcp::Era::modern ? "modern" : "legacy");
    {
      std::lock_guard lk(as.m);
      as.registrations = as.authorizations = as.code_grants = as.refresh_grants = 0;
      as.authorize_scopes.clear();
      as.token_resources.clear();
      as.token_lifetime = 3600;
      as.expires_in = -1;
    }
    mcp::LoopbackOptions lo;
    lo.timeout = 15s;
    lo.open_url = browse;
    auto loop = mcp::loopback_redirect(lo);
    REQUIRE(loop);
    mcp::OAuthClientOptions o;
    o.client_name = "e2e code flow";
    o.redirect_uri = loop->redirect_uri;
    o.authorize = loop->authorize;
    o.on_diagnostic = [&log](std::string_view s) { log.add(s); };
    auto rec = std::make_shared<Recorder>(mcp::oauth_provider(o));
    auto client = mcp::Client::create(client_config(p.url, era, rec, log));
    REQUIRE(client);

    // First call: 401 naming the metadata, then discovery, registration, the code flow.
    const json me = whoami(*client, log);
    CHECK(me["sub"] == "user-1");
    CHECK(me["client_id"].get<std::string>().rfind("client-", 0) == 0);
    CHECK(has(me["scopes"], "mcp:tools"));
    CHECK(!has(me["scopes"], "mcp:admin"));
    CHECK(me["iss"] == as.issuer());
    CHECK(me["aud"] == json::array({p.url}));
    auto seen = rec->take();
    REQUIRE(!seen.empty());
    CHECK(seen[0].status == 401);
    CHECK(!seen[0].had_credential);
    CHECK(seen[0].www_authenticate.find("resource_metadata=\"" + p.metadata_url() + "\"") != std::string::npos);
    {
      std::lock_guard lk(as.m);
      CHECK(as.registrations == 1);
      CHECK(as.authorizations == 1);
      CHECK(as.code_grants == 1);
      REQUIRE(!as.authorize_scopes.empty());
      CHECK(as.authorize_scopes[0].find("mcp:tools") != std::string::npos);
      CHECK(as.token_resources == std::vector<std::string>{p.url});
    }

    // A tool needing more: 403 insufficient_scope, the client steps up (a second
    // authorization for the union of the scopes) and the call goes through.
    auto admin = client->call_tool("s", "admin", json::object());
    REQUIRE_MESSAGE(admin, (admin ? "" : admin.error().what()));
    CHECK(admin->content.at(0).text == "admin done for user-1");
    seen = rec->take();
    REQUIRE(!seen.empty());
    CHECK(seen[0].status == 403);
    CHECK(seen[0].www_authenticate.find("error=\"insufficient_scope\"") != std::string::npos);
    CHECK(seen[0].www_authenticate.find("mcp:admin") != std::string::npos);
    {
      std::lock_guard lk(as.m);
      CHECK(as.authorizations == 2);
      CHECK(as.code_grants == 2);
      CHECK(as.registrations == 1);  // the registration is kept
      CHECK(as.authorize_scopes.back().find("mcp:tools") != std::string::npos);
      CHECK(as.authorize_scopes.back().find("mcp:admin") != std::string::npos);
    }
    CHECK(has(whoami(*client, log)["scopes"], "mcp:admin"));
    CHECK(rec->take().empty());  // the stepped-up token is simply used

    client->disconnect();

    // A fresh client whose tokens live 2 s, though the AS says expires_in 3600: the token
    // expires while the client believes it good, the host refuses it (401 invalid_token), the
    // client refreshes it and goes on.
    {
      std::lock_guard lk(as.m);
      as.token_lifetime = 2;
      as.expires_in = 3600;
    }
    auto rec2 = std::make_shared<Recorder>(mcp::oauth_provider(o));
    auto client2 = mcp::Client::create(client_config(p.url, era, rec2, log));
    REQUIRE(client2);
    CHECK(whoami(*client2, log)["sub"] == "user-1");
    int refreshes_before = 0;
    {
      std::lock_guard lk(as.m);
      refreshes_before = as.refresh_grants;
      as.token_lifetime = 3600;  // the next token (the refresh's) lives on: no timing race
    }
    rec2->take();
    std::this_thread::sleep_for(2500ms);
    CHECK(whoami(*client2, log)["sub"] == "user-1");
    seen = rec2->take();
    REQUIRE(seen.size() == 1);
    CHECK(seen[0].status == 401);
    CHECK(seen[0].had_credential);
    CHECK(seen[0].www_authenticate.find("error=\"invalid_token\"") != std::string::npos);
    {
      std::lock_guard lk(as.m);
      CHECK(as.refresh_grants == refreshes_before + 1);
      CHECK(as.token_resources.back() == p.url);  // the refresh names the resource too
    }
    client2->disconnect();
  }
  no_leak(log, as);
}

TEST_CASE("auth e2e: our client, client credentials, both eras: token, step-up by a new grant, a new grant when "
          "expired; an AS that never grants the scope ends in a bounded refusal") {
  testas::TestAs as;
  as.add_client("svc-e2e", "svc-e2e-secret-0123456789");
  Log log;
  ProtectedHost p(as, log);

  for (const auto era : {mcp::Era::modern, mcp::Era::legacy}) {
    CAPTURE(era == mcp::Era::modern ? "modern" : "legacy");
    {
      std::lock_guard lk(as.m);
      as.cc_grants = as.registrations = as.authorizations = 0;
      as.token_lifetime = 3600;
      as.expires_in = -1;
      as.grantable = {"mcp:tools", "mcp:admin"};
    }
    mcp::OAuthClientOptions o;
    o.grant = mcp::OAuthGrant::client_credentials;
    o.client_id = "svc-e2e";
    o.client_secret = "svc-e2e-secret-0123456789";
    o.on_diagnostic = [&log](std::string_view s) { log.add(s); };
    auto rec = std::make_shared<Recorder>(mcp::oauth_provider(o));
    auto client = mcp::Client::create(client_config(p.url, era, rec, log));
    REQUIRE(client);
    const json me = whoami(*client, log);
    CHECK(me["sub"] == "svc-e2e");
    CHECK(me["client_id"] == "svc-e2e");
    CHECK(me["scopes"] == json::array({"mcp:tools"}));
    auto seen = rec->take();
    REQUIRE(!seen.empty());
    CHECK(seen[0].status == 401);
    auto admin = client->call_tool("s", "admin", json::object());
    REQUIRE_MESSAGE(admin, (admin ? "" : admin.error().what()));
    CHECK(admin->content.at(0).text == "admin done for svc-e2e");
    {
      std::lock_guard lk(as.m);
      CHECK(as.cc_grants == 2);
      CHECK(as.registrations == 0);
      CHECK(as.authorizations == 0);
      CHECK(as.issued_scopes.back() == "mcp:tools mcp:admin");
      CHECK(as.token_resources.back() == p.url);
      as.token_lifetime = 2;
    }
    client->disconnect();

    // Short-lived tokens (no refresh token in this grant): a new grant after expiry.
    auto client2 = mcp::Client::create(client_config(p.url, era, std::make_shared<Recorder>(mcp::oauth_provider(o)), log));
    REQUIRE(client2);
    CHECK(whoami(*client2, log)["sub"] == "svc-e2e");
    {
      std::lock_guard lk(as.m);
      as.token_lifetime = 3600;  // the next grant's token lives on: no timing race
    }
    std::this_thread::sleep_for(2500ms);
    CHECK(whoami(*client2, log)["sub"] == "svc-e2e");
    {
      std::lock_guard lk(as.m);
      CHECK(as.cc_grants == 4);
      as.grantable = {"mcp:tools"};  // from now on mcp:admin is never granted
    }
    client2->disconnect();

    auto rec3 = std::make_shared<Recorder>(mcp::oauth_provider(o));
    auto client3 = mcp::Client::create(client_config(p.url, era, rec3, log));
    REQUIRE(client3);
    CHECK(whoami(*client3, log)["sub"] == "svc-e2e");
    const auto t0 = std::chrono::steady_clock::now();
    auto refused = client3->call_tool("s", "admin", json::object());
    REQUIRE(!refused);
    CHECK(refused.error().errc() == mcp::Errc::unauthorized);
    CHECK(refused.error().http_status == 403);
    CHECK(std::chrono::steady_clock::now() - t0 < 10s);
    log.add(refused.error().what());
    seen = rec3->take();
    CHECK(seen.size() <= 5);  // the step-ups are bounded (max_step_up)
    client3->disconnect();
  }
  no_leak(log, as);
}

TEST_CASE("auth e2e: a host that introspects (RFC 7662) at the test AS, our client with client credentials") {
  testas::TestAs as;
  as.add_client("svc-i", "svc-i-secret-0123456789");
  Log log;
  ProtectedHost p(as, log, /*introspect=*/true);
  mcp::OAuthClientOptions o;
  o.grant = mcp::OAuthGrant::client_credentials;
  o.client_id = "svc-i";
  o.client_secret = "svc-i-secret-0123456789";
  o.on_diagnostic = [&log](std::string_view s) { log.add(s); };
  auto client = mcp::Client::create(client_config(p.url, mcp::Era::modern, mcp::oauth_provider(o), log));
  REQUIRE(client);
  const json me = whoami(*client, log);
  CHECK(me["sub"] == "svc-i");
  CHECK(me["scopes"] == json::array({"mcp:tools"}));
  CHECK(me["aud"] == json::array({p.url}));
  CHECK(whoami(*client, log)["sub"] == "svc-i");
  {
    std::lock_guard lk(as.m);
    CHECK(as.introspections == 1);  // the second call's answer came from the cache
    CHECK(as.jwks_fetches == 0);
  }
  auto admin = client->call_tool("s", "admin", json::object());
  REQUIRE_MESSAGE(admin, (admin ? "" : admin.error().what()));
  CHECK(admin->content.at(0).text == "admin done for svc-i");
  // Tokens of another audience are inactive for us, whatever the AS says of them otherwise.
  auto r = raw_call(p.url, as.issue("svc-i", "svc-i", "mcp:tools", "http://127.0.0.1:1/mcp", 300));
  REQUIRE(r);
  CHECK(r->status == 401);
  r = raw_call(p.url, "never-issued-token-0123456789");
  REQUIRE(r);
  CHECK(r->status == 401);
  client->disconnect();
  no_leak(log, as);
}

namespace {

std::string quoted(const json& j) { return "'" + j.dump() + "'"; }

const json* step(const json& r, std::size_t i, const char* name) {
  if (!r.contains("steps") || r["steps"].size() <= i || !r["steps"][i].contains(name)) return nullptr;
  return &r["steps"][i][name];
}

}  // namespace

TEST_CASE("auth e2e: the TypeScript SDK clients (v1 1.32: legacy era; v2: 2026-07-28) with their OAuth providers: "
          "client credentials, and the authorization code flow with PKCE, dynamic registration, step-up and refresh") {
  for (const std::string sdk : {"v1", "v2"}) {
    CAPTURE(sdk);
    const bool v2 = sdk == "v2";
    testas::TestAs as;
    as.add_client("ts-svc", "ts-svc-secret-0123456789");
    Log log;
    ProtectedHost p(as, log);
    // Runs the script; what it printed (the SDK's errors too) goes to the log checked for secrets.
    auto run = [&](const char* mode, const json& opts) {
      json out = testnode::run("auth_clients.mjs", sdk + " " + mode + " '" + p.url + "' " + quoted(opts));
      log.add(out.dump());
      return out;
    };
    const char* era = v2 ? "modern 2026-07-28" : "legacy";

    // ---- client credentials (the SDK's ClientCredentialsProvider), configured with mcp:tools
    json r = run("cc", {{"clientId", "ts-svc"}, {"clientSecret", "ts-svc-secret-0123456789"}, {"scope", "mcp:tools"},
                        {"calls", {"whoami", "admin"}}});
    CAPTURE(r);
    CHECK(r["sdk"] == (v2 ? "@modelcontextprotocol/client@2.4.0" : "@modelcontextprotocol/sdk@1.32.2"));
    REQUIRE(r["connected"] == true);
    CHECK(r["era"] == era);
    const json* me = step(r, 0, "whoami");
    REQUIRE(me);
    CHECK((*me)["sub"] == "ts-svc");
    CHECK((*me)["client_id"] == "ts-svc");
    CHECK((*me)["scopes"] == json::array({"mcp:tools"}));
    CHECK((*me)["aud"] == json::array({p.url}));
    const json* admin = step(r, 1, "admin");
    REQUIRE(admin);
    {
      std::lock_guard lk(as.m);
      CHECK(as.token_resources.size() >= 2);
      for (const auto& res : as.token_resources) CHECK(res == p.url);
      if (v2) {
        // v2 asks for the union of its scopes and the challenge's: the step-up works.
        CHECK(*admin == "admin done for ts-svc");
        CHECK(as.issued_scopes.back() == "mcp:tools mcp:admin");
      } else {
        // v1 asks for its configured scope again (not the challenge's), gets the same token and
        // stops ("403 after trying upscoping").
        REQUIRE(admin->contains("error"));
        CHECK((*admin)["error"].get<std::string>().find("403") != std::string::npos);
        CHECK(as.issued_scopes.back() == "mcp:tools");
      }
      as.issued_scopes.clear();
    }
    // Configured with both scopes: admin at once.
    r = run("cc", {{"clientId", "ts-svc"}, {"clientSecret", "ts-svc-secret-0123456789"}, {"scope", "mcp:tools mcp:admin"},
                   {"calls", {"admin"}}});
    const json* ok = step(r, 0, "admin");
    REQUIRE(ok);
    CHECK(*ok == "admin done for ts-svc");
    // A wrong secret: the AS refuses, the SDK reports it, nothing is served.
    r = run("cc", {{"clientId", "ts-svc"}, {"clientSecret", "wrong-secret-0123456789"}, {"scope", "mcp:tools"},
                   {"calls", {"whoami"}}});
    CHECK(!r.contains("connected"));
    CHECK(r.contains("error"));

    // ---- authorization code + PKCE, no refresh token kept: the 403 insufficient_scope is
    // answered by a new authorization for the challenge's scopes.
    {
      std::lock_guard lk(as.m);
      as.registrations = as.authorizations = as.code_grants = as.refresh_grants = 0;
      as.authorize_scopes.clear();
    }
    r = run("code", {{"keepRefresh", false}, {"calls", {"whoami", "admin", "whoami"}}});
    REQUIRE(r["connected"] == true);
    CHECK(r["era"] == era);
    CHECK(r["iss"] == as.issuer());
    CHECK(r["authorizeParams"]["code_challenge_method"] == "S256");
    CHECK(r["authorizeParams"]["resource"] == p.url);
    // v2 adds offline_access, which the AS lists (our client does too).
    CHECK(r["authorizeParams"]["scope"] == (v2 ? "mcp:tools offline_access" : "mcp:tools"));
    me = step(r, 0, "whoami");
    REQUIRE(me);
    CHECK((*me)["sub"] == "user-1");
    CHECK((*me)["client_id"].get<std::string>().rfind("client-", 0) == 0);
    CHECK(has((*me)["scopes"], "mcp:tools"));
    CHECK(!has((*me)["scopes"], "mcp:admin"));
    admin = step(r, 1, "admin");
    REQUIRE(admin);
    CHECK(*admin == "admin done for user-1");
    CHECK(r["reauthorized"] == 1);
    const json* me2 = step(r, 2, "whoami");
    REQUIRE(me2);
    CHECK(has((*me2)["scopes"], "mcp:tools"));
    CHECK(has((*me2)["scopes"], "mcp:admin"));
    {
      std::lock_guard lk(as.m);
      CHECK(as.registrations == 1);
      CHECK(as.authorizations == 2);
      CHECK(as.code_grants == 2);
      REQUIRE(as.authorize_scopes.size() == 2);
      CHECK(as.authorize_scopes[1].find("mcp:tools") != std::string::npos);
      CHECK(as.authorize_scopes[1].find("mcp:admin") != std::string::npos);
      as.registrations = as.authorizations = as.code_grants = as.refresh_grants = 0;
      as.token_lifetime = 2;  // tokens expire while the script sleeps
    }

    // ---- authorization code with a refresh token: an expired token is refreshed.
    r = run("code", {{"keepRefresh", true}, {"calls", {"whoami", {{"sleep", 2500}}, "whoami", "admin"}}});
    REQUIRE(r["connected"] == true);
    me = step(r, 0, "whoami");
    me2 = step(r, 1, "whoami");
    REQUIRE(me);
    REQUIRE(me2);
    CHECK((*me2)["sub"] == "user-1");
    CHECK((*me2)["client_id"] == (*me)["client_id"]);
    admin = step(r, 2, "admin");
    REQUIRE(admin);
    {
      std::lock_guard lk(as.m);
      CHECK(as.refresh_grants >= 1);
      CHECK(as.token_resources.back() == p.url);
      if (v2) {
        // v2 re-authorizes when the challenge wants more than the token has.
        CHECK(*admin == "admin done for user-1");
        CHECK(as.authorizations == 2);
      } else {
        // v1 refreshes the token it has (same scopes) and gives up when refused again.
        REQUIRE(admin->contains("error"));
        CHECK((*admin)["error"].get<std::string>().find("403") != std::string::npos);
        CHECK(as.authorizations == 1);
      }
    }
    no_leak(log, as);
  }
}
