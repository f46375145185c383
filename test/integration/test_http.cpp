// HTTP transports against the fault-injecting HTTP fixture: headers on every request, sessions,
// expiry, statuses, broken and resumed streams, silence, redirects, huge events, fallback.
#include "http_fixture.hpp"

#include <doctest/doctest.h>

#include <atomic>
#include <future>
#include <set>
#include <stdexcept>

using namespace std::chrono_literals;
using nlohmann::json;

namespace {

using Clock = std::chrono::steady_clock;
using testutil::ms_since;

mcp::ServerConfig http(const std::string& url, std::map<std::string, std::string> headers = {}) {
  mcp::HttpServerConfig h;
  h.url = url;
  h.headers = std::move(headers);
  mcp::ServerConfig sc;
  sc.transport = std::move(h);
  return sc;
}

mcp::Client make(mcp::ServerConfig sc, std::chrono::milliseconds timeout = 10s, bool listening = false) {
  auto cfg = testutil::one("h", std::move(sc));
  cfg.request_timeout = timeout;
  // The legacy GET stream opens only for a client that handles what it carries.
  if (listening) cfg.handlers.on_log = [](const std::string&, const mcp::LogMessage&) {};
  auto c = mcp::Client::create(std::move(cfg));
  REQUIRE(c);
  return std::move(*c);
}
// A client with a handler for server messages, so that legacy servers get a GET stream.
mcp::Client make_listening(mcp::ServerConfig sc) { return make(std::move(sc), 10s, true); }

}  // namespace

TEST_CASE("http modern: headers mirrored from the body, JSON and SSE replies") {
  for (bool sse : {false, true}) {
    CAPTURE(sse);
    Fixture fx(sse ? std::vector<std::string>{"--mode", "modern", "--sse"} : std::vector<std::string>{"--mode", "modern"});
    auto client = make(http(fx.url()));
    auto r = client.call_tool("h", "add", {{"a", 2}, {"b", 3}});
    REQUIRE_MESSAGE(r, (r ? "" : r.error().what()));
    CHECK(r->text() == "5");
    CHECK(client.server_info("h")->era == mcp::Era::modern);
    bool saw_call = false;
    for (const auto& req : fx.requests()) {
      if (req["method"] != "POST") continue;
      const auto& h = req["headers"];
      CHECK(h.value("mcp-protocol-version", "") == "2026-07-28");
      CHECK(h.value("mcp-method", "") == req["body"].value("method", ""));
      CHECK(h.value("accept", "").find("text/event-stream") != std::string::npos);
      if (req["body"].value("method", "") == "tools/call") {
        saw_call = true;
        CHECK(h.value("mcp-name", "") == "add");
      }
      CHECK_FALSE(h.contains("mcp-session-id"));
    }
    CHECK(saw_call);
  }
}

TEST_CASE("http legacy: a log handler that calls the server gets its answer, during connect and during a call") {
  // The fixture's SSE replies (initialize's too) carry a log notification before the
  // response. Handlers run off the thread reading that reply, so a handler may call the
  // server itself: before, this deadlocked inside connect.
  Fixture fx({"--mode", "legacy", "--sse"});
  auto cfg = testutil::one("h", http(fx.url()));
  cfg.request_timeout = 10s;
  mcp::Client* self = nullptr;
  std::atomic<int> logs{0};
  std::promise<std::string> inner;
  cfg.handlers.on_log = [&](const std::string&, const mcp::LogMessage&) {
    if (logs.fetch_add(1) != 0) return;  // once: the inner call's own log does not recurse
    auto r = self->call_tool("h", "echo", {{"message", "inner"}});
    inner.set_value(r ? r->text() : std::string("error: ") + r.error().what());
  };
  auto c = mcp::Client::create(std::move(cfg));
  REQUIRE(c);
  self = &*c;
  const auto start = Clock::now();
  auto r = c->call_tool("h", "echo", {{"message", "outer"}});
  REQUIRE_MESSAGE(r, (r ? "" : r.error().what()));
  CHECK(r->text() == "outer");
  CHECK(ms_since(start) < 5000);  // no stall until a timeout
  auto answer = inner.get_future();
  REQUIRE(answer.wait_for(10s) == std::future_status::ready);
  CHECK(answer.get() == "inner");
  auto again = c->call_tool("h", "echo", {{"message", "after"}});
  REQUIRE(again);
  CHECK(again->text() == "after");
  c->disconnect();  // waits for the handler thread: nothing runs on after this
}

TEST_CASE("http modern: every request carries the client's _meta, and a progress token only where asked for") {
  Fixture fx({"--mode", "modern"});
  auto client = make(http(fx.url()));
  mcp::RequestOptions with_progress;
  with_progress.on_progress = [](const mcp::Progress&) {};
  // Alternating, so that a token from one request could leak into the next one's _meta.
  for (int i = 0; i < 3; ++i) {
    REQUIRE(client.call_tool("h", "echo", {{"message", "a"}}, with_progress));
    REQUIRE(client.call_tool("h", "echo", {{"message", "b"}}));
  }
  int calls = 0;
  for (const auto& req : fx.requests()) {
    const auto& body = req["body"];
    if (body.value("method", "") != "tools/call") continue;
    const auto& meta = body["params"]["_meta"];
    CAPTURE(meta.dump());
    CHECK(meta["io.modelcontextprotocol/protocolVersion"] == "2026-07-28");
    CHECK(meta["io.modelcontextprotocol/clientInfo"]["name"] == "mcp-cpp");
    CHECK(meta.contains("io.modelcontextprotocol/clientCapabilities"));
    const bool asked = body["params"]["arguments"]["message"] == "a";
    CHECK(meta.contains("progressToken") == asked);
    if (asked) CHECK(meta["progressToken"] == body["id"]);
    ++calls;
  }
  CHECK(calls == 6);
}

TEST_CASE("http modern: a call refused as a header mismatch is retried once, after a re-list, with the same params") {
  Fixture fx({"--mode", "modern"});
  auto client = make(http(fx.url()));
  const json args = {{"text", "x"}, {"n", 1}};
  auto r = client.call_tool("h", "mismatch_once", args);
  REQUIRE_MESSAGE(r, (r ? "" : r.error().what()));
  // The server echoes what the retry sent: name and arguments, nothing left from the first try.
  CHECK(json::parse(r->text()) == json{{"name", "mismatch_once"}, {"arguments", args}});
  int calls = 0, lists = 0;
  for (const auto& req : fx.requests()) {
    const auto method = req["body"].value("method", "");
    if (method == "tools/call") ++calls;
    if (calls == 1 && method == "tools/list") ++lists;
  }
  CHECK(calls == 2);
  CHECK(lists >= 1);  // re-listed between the two
}

TEST_CASE("http: one headers map reaches every request of every kind") {
  const std::map<std::string, std::string> auth{{"Authorization", "Bearer s3cret"}};
  {
    Fixture fx({"--mode", "legacy", "--get-stream", "--require-auth", "s3cret"});
    {
      auto client = make_listening(http(fx.url(), auth));
      auto r = client.call_tool("h", "echo", {{"message", "x"}});
      REQUIRE_MESSAGE(r, (r ? "" : r.error().what()));
      CHECK(testutil::eventually([&] { return fx.count("GET") >= 1; }));
      client.disconnect();
    }
    CHECK(fx.count("DELETE") == 1);
    CHECK(fx.count("POST") >= 3);
    for (const auto& req : fx.requests())
      CHECK_MESSAGE(req["headers"].value("authorization", "") == "Bearer s3cret", req.dump());
  }
  {
    Fixture fx({"--mode", "sse", "--require-auth", "s3cret"});
    auto client = make(http(fx.url("/sse"), auth));
    auto r = client.call_tool("h", "echo", {{"message", "x"}});
    REQUIRE_MESSAGE(r, (r ? "" : r.error().what()));
    CHECK(fx.count("GET") == 1);
    for (const auto& req : fx.requests())
      CHECK_MESSAGE(req["headers"].value("authorization", "") == "Bearer s3cret", req.dump());
  }
}

TEST_CASE("http: a header_provider adds credentials at call time") {
  Fixture fx({"--mode", "modern", "--require-auth", "t-2"});
  std::atomic<int> n{0};
  auto sc = http(fx.url());
  std::get<mcp::HttpServerConfig>(sc.transport).header_provider = [&] {
    ++n;
    return std::map<std::string, std::string>{{"Authorization", "Bearer t-2"}};
  };
  auto client = make(std::move(sc));
  auto r = client.call_tool("h", "echo", {{"message", "x"}});
  REQUIRE(r);
  CHECK(n >= 2);
}

TEST_CASE("http legacy: session id and protocol version after initialize, DELETE on disconnect") {
  Fixture fx({"--mode", "legacy"});
  {
    auto client = make(http(fx.url()));
    auto r = client.call_tool("h", "echo", {{"message", "legacy"}});
    REQUIRE_MESSAGE(r, (r ? "" : r.error().what()));
    CHECK(client.server_info("h")->era == mcp::Era::legacy);
    client.disconnect();
  }
  std::string sid;
  for (const auto& req : fx.requests()) {
    const auto method = req["body"].is_object() ? req["body"].value("method", "") : "";
    const auto& h = req["headers"];
    if (method == "initialize" || method == "server/discover") {
      CHECK_FALSE(h.contains("mcp-session-id"));
      continue;
    }
    if (sid.empty()) sid = h.value("mcp-session-id", "");
    CHECK(h.value("mcp-session-id", "") == sid);
    CHECK(h.value("mcp-protocol-version", "") == "2025-11-25");
  }
  CHECK(sid.size() == 32);
  CHECK(fx.count("DELETE") == 1);
}

TEST_CASE("http legacy: the GET stream opens only for a client with handlers for server messages") {
  for (bool listening : {false, true}) {
    CAPTURE(listening);
    Fixture fx({"--mode", "legacy", "--get-stream"});
    {
      auto client = make(http(fx.url()), 10s, listening);
      for (int i = 0; i < 3; ++i) REQUIRE(client.call_tool("h", "echo", {{"message", "x"}}));
      if (listening) CHECK(testutil::eventually([&] { return fx.count("GET") >= 1; }));
      client.disconnect();
    }
    if (!listening) CHECK(fx.count("GET") == 0);
    CHECK(fx.count("DELETE") == 1);
  }
}

TEST_CASE("http legacy: a listening client's GET stream is answered before its first request") {
  // Servers drop server-to-client messages that have no stream to go on (the TypeScript SDK's
  // does), so a request whose elicitation goes out on the GET stream must not overtake it.
  for (int round = 0; round < 5; ++round) {
    CAPTURE(round);
    Fixture fx({"--mode", "legacy", "--get-stream"});
    auto client = make_listening(http(fx.url()));
    REQUIRE(client.list_tools());
    const auto reqs = fx.requests();
    int get_at = -1, list_at = -1;
    for (int i = 0; i < static_cast<int>(reqs.size()); ++i) {
      if (get_at < 0 && reqs[i].value("method", "") == "GET") get_at = i;
      if (list_at < 0 && reqs[i]["body"].is_object() && reqs[i]["body"].value("method", "") == "tools/list") list_at = i;
    }
    CHECK(get_at >= 0);
    CHECK(get_at < list_at);
  }
}

TEST_CASE("http legacy: a forgotten session is re-initialised once, transparently") {
  Fixture fx({"--mode", "legacy", "--expire-session-after", "2"});
  auto client = make(http(fx.url()));
  for (int i = 0; i < 5; ++i) {
    auto r = client.call_tool("h", "echo", {{"message", std::to_string(i)}});
    REQUIRE_MESSAGE(r, (r ? "" : r.error().what()));
    CHECK(r->text() == std::to_string(i));
  }
  CHECK(fx.count("POST", "initialize") >= 2);
}

TEST_CASE("http: statuses are typed errors, and never era verdicts") {
  SUBCASE("401 on the probe is an auth error, no fallback") {
    Fixture fx({"--mode", "legacy", "--status-on", "server/discover:401"});
    auto client = make(http(fx.url()));
    auto r = client.list_tools();
    REQUIRE_FALSE(r);
    CHECK(r.error().errc() == mcp::Errc::unauthorized);
    CHECK(r.error().kind() == mcp::ErrorKind::auth);
    CHECK(r.error().data.value("www_authenticate", "") == "Bearer");
    CHECK(fx.count("POST", "initialize") == 0);
    CHECK(fx.count("GET") == 0);
  }
  SUBCASE("500 on the probe is an error, not legacy") {
    Fixture fx({"--mode", "legacy", "--status-on", "server/discover:500"});
    auto client = make(http(fx.url()));
    auto r = client.list_tools();
    REQUIRE_FALSE(r);
    CHECK(r.error().errc() == mcp::Errc::http_error);
    CHECK(r.error().data.value("status", 0) == 500);
    CHECK(fx.count("POST", "initialize") == 0);
  }
  SUBCASE("500 on a call fails that call only") {
    Fixture fx({"--mode", "modern", "--status-on", "tools/call:500"});
    auto client = make(http(fx.url()));
    auto r = client.call_tool("h", "echo", {{"message", "x"}});
    REQUIRE_FALSE(r);
    CHECK(r.error().errc() == mcp::Errc::http_error);
    CHECK(client.list_tools());
  }
  SUBCASE("a connection refused is a transport error") {
    auto client = make(http("http://127.0.0.1:1/mcp"));
    auto r = client.list_tools();
    REQUIRE_FALSE(r);
    CHECK(r.error().errc() == mcp::Errc::connection_failed);
  }
}

TEST_CASE("http modern: a stream cut mid-event is re-issued once with a new id, then reported") {
  Fixture fx({"--mode", "modern", "--cut-stream"});
  auto client = make(http(fx.url()));
  auto t0 = Clock::now();
  auto r = client.call_tool("h", "echo", {{"message", "x"}});
  REQUIRE_FALSE(r);
  CHECK(r.error().errc() == mcp::Errc::stream_broken);
  CHECK(ms_since(t0) < 5000);
  std::set<json> ids;
  for (const auto& req : fx.requests())
    if (req["body"].is_object() && req["body"].value("method", "") == "tools/call") ids.insert(req["body"]["id"]);
  CHECK(ids.size() == 2);
  CHECK(client.list_tools());  // the connection is still usable
}

TEST_CASE("http legacy: a stream cut before the reply is resumed with Last-Event-ID") {
  Fixture fx({"--mode", "legacy", "--sse", "--cut-stream", "--resumable", "--retry-ms", "100"});
  auto client = make(http(fx.url()));
  auto r = client.call_tool("h", "echo", {{"message", "resumed"}});
  REQUIRE_MESSAGE(r, (r ? "" : r.error().what()));
  CHECK(r->text() == "resumed");
  bool resumed = false;
  for (const auto& req : fx.requests())
    if (req["method"] == "GET" && req["headers"].contains("last-event-id")) resumed = true;
  CHECK(resumed);
}

TEST_CASE("http legacy: a reply on a resumed stream that stays open is handed over at once") {
  // The TS SDK keeps a resumed stream open after the reply it carried: the call must not
  // wait for the request's deadline (issue 19: 10.1 s for a 4.1 s answer).
  Fixture fx({"--mode", "legacy", "--sse", "--cut-stream", "--resumable", "--retry-ms", "100", "--resume-stays-open"});
  auto client = make(http(fx.url()), 10000ms);
  REQUIRE(client.list_tools());
  for (int i = 0; i < 2; ++i) {
    const auto t0 = Clock::now();
    auto r = client.call_tool("h", "echo", {{"message", "resumed"}});
    REQUIRE_MESSAGE(r, (r ? "" : r.error().what()));
    CHECK(r->text() == "resumed");
    // The cut, 100 ms of retry, the replay: well under a second, far from the 10 s deadline.
    CHECK_MESSAGE(ms_since(t0) < 2000, ms_since(t0));
  }
}

TEST_CASE("http: a server that accepts and never answers times out; other calls go on") {
  Fixture fx({"--mode", "modern", "--never-answer", "tools/call"});
  auto client = make(http(fx.url()), 800ms);
  auto t0 = Clock::now();
  auto r = client.call_tool("h", "echo", {{"message", "x"}});
  REQUIRE_FALSE(r);
  CHECK(r.error().errc() == mcp::Errc::timeout);
  CHECK(ms_since(t0) < 3000);
  CHECK(client.list_tools());
}

TEST_CASE("http: a reply stream that keeps sending but never answers still times out on time") {
  // The exchange runs on the caller's thread, and every read there is bounded by the
  // request's deadline, as is the whole stream: events arriving do not extend it.
  for (const std::string mode : {"modern", "legacy"}) {
    CAPTURE(mode);
    Fixture fx({"--mode", mode});
    std::atomic<int> logs{0};
    auto sc = http(fx.url());
    mcp::ClientConfig cfg = testutil::one("h", sc);
    cfg.request_timeout = 800ms;
    cfg.handlers.on_log = [&](const std::string&, const mcp::LogMessage&) { ++logs; };
    auto created = mcp::Client::create(std::move(cfg));
    REQUIRE(created);
    auto& client = *created;
    REQUIRE(client.list_tools());
    const auto t0 = Clock::now();
    auto r = client.call_tool("h", "trickle");
    REQUIRE_FALSE(r);
    CHECK(r.error().errc() == mcp::Errc::timeout);
    CHECK(ms_since(t0) >= 700);
    CHECK(ms_since(t0) < 2500);
    CHECK(logs >= 3);
    auto again = client.call_tool("h", "echo", {{"message", "after"}});
    REQUIRE(again);
    CHECK(again->text() == "after");
  }
}

TEST_CASE("http: redirects are followed") {
  Fixture fx({"--mode", "modern", "--redirect"});
  auto client = make(http(fx.url()));
  auto r = client.call_tool("h", "echo", {{"message", "moved"}});
  REQUIRE_MESSAGE(r, (r ? "" : r.error().what()));
  CHECK(r->text() == "moved");
}

// Above the limit: test_transports.cpp, "a reply larger than the configured maximum".
TEST_CASE("http: a 50 MiB event arrives whole") {
  Fixture fx({"--mode", "modern", "--big-event", std::to_string(50u << 20)});
  auto sc = http(fx.url());
  std::get<mcp::HttpServerConfig>(sc.transport).max_message_bytes = 64u << 20;  // above the 32 MiB default
  auto client = make(std::move(sc), 60s);
  auto r = client.call_tool("h", "big", {{"bytes", 1}});
  REQUIRE_MESSAGE(r, (r ? "" : r.error().what()));
  CHECK(r->text().size() == (50u << 20));
}

TEST_CASE("http: Streamable HTTP refused on initialize falls back to HTTP+SSE; /sse URLs go there directly") {
  for (const char* status : {"405", "404", "400"}) {
    CAPTURE(status);
    Fixture fx({"--mode", "sse", "--post-status", status});
    auto client = make(http(fx.url("/mcp")));
    auto r = client.call_tool("h", "echo", {{"message", "fallback"}});
    REQUIRE_MESSAGE(r, (r ? "" : r.error().what()));
    CHECK(r->text() == "fallback");
    CHECK(client.server_info("h")->era == mcp::Era::legacy);
  }
  Fixture fx({"--mode", "sse", "--absolute-endpoint"});
  auto client = make(http(fx.url("/sse")));
  auto r = client.call_tool("h", "echo", {{"message", "direct"}});
  REQUIRE(r);
  CHECK(fx.count("POST", "server/discover") == 1);  // on the SSE endpoint
  CHECK(fx.count("POST") >= 3);
}

TEST_CASE("http: never fall back to HTTP+SSE on 401") {
  Fixture fx({"--mode", "sse", "--post-status", "401"});
  auto client = make(http(fx.url("/mcp")));
  auto r = client.list_tools();
  REQUIRE_FALSE(r);
  CHECK(r.error().errc() == mcp::Errc::unauthorized);
  CHECK(fx.count("GET") == 0);
}

TEST_CASE("https: the certificate is verified by default; a CA file or verify_tls=false accepts it") {
  const std::string dir = TLS_FIXTURE_DIR;
  Fixture fx({"--mode", "modern", "--tls-cert", dir + "/cert.pem", "--tls-key", dir + "/key.pem"});
  const std::string url = "https" + fx.url().substr(4);
  {
    auto client = make(http(url));
    auto r = client.list_tools();
    REQUIRE_FALSE(r);
    CHECK(r.error().errc() == mcp::Errc::connection_failed);
    CHECK(r.error().message.find("TLS") != std::string::npos);
  }
  {
    auto sc = http(url);
    std::get<mcp::HttpServerConfig>(sc.transport).ca_file = dir + "/cert.pem";
    auto client = make(std::move(sc));
    auto r = client.call_tool("h", "echo", {{"message", "over tls"}});
    REQUIRE_MESSAGE(r, (r ? "" : r.error().what()));
    CHECK(r->text() == "over tls");
  }
  {
    auto sc = http(url);
    std::get<mcp::HttpServerConfig>(sc.transport).verify_tls = false;
    auto client = make(std::move(sc));
    CHECK(client.list_tools());
  }
}

TEST_CASE("http legacy: stateless servers, DELETE refused with 405, and a pinned HTTP+SSE transport") {
  {
    Fixture fx({"--mode", "legacy", "--stateless"});
    auto client = make(http(fx.url()));
    auto r = client.call_tool("h", "echo", {{"message", "stateless"}});
    REQUIRE_MESSAGE(r, (r ? "" : r.error().what()));
    client.disconnect();
    CHECK(fx.count("DELETE") == 0);  // no session id, nothing to delete
  }
  {
    Fixture fx({"--mode", "legacy", "--no-delete"});
    auto client = make(http(fx.url()));
    REQUIRE(client.call_tool("h", "echo", {{"message", "x"}}));
    client.disconnect();  // the 405 is fine
    CHECK(fx.count("DELETE") == 1);
    CHECK(client.call_tool("h", "echo", {{"message", "again"}}));
  }
  {
    Fixture fx({"--mode", "sse"});
    auto sc = http(fx.url("/mcp"));  // not an /sse path: only the pin selects HTTP+SSE
    std::get<mcp::HttpServerConfig>(sc.transport).transport = mcp::HttpTransportKind::sse;
    auto client = make(std::move(sc));
    auto r = client.call_tool("h", "echo", {{"message", "pinned"}});
    REQUIRE_MESSAGE(r, (r ? "" : r.error().what()));
    CHECK(fx.count("POST", "server/discover") == 1);  // went straight to the SSE endpoint
    for (const auto& req : fx.requests())
      if (req["method"] == "POST") CHECK(req["path"] == "/messages");
  }
}

TEST_CASE("http: 32 calls in flight on one client, repeatedly, all succeed (keep-alive pool)") {
  for (const char* mode : {"modern", "legacy"}) {
    CAPTURE(mode);
    Fixture fx({"--mode", mode});
    auto client = make(http(fx.url()));
    REQUIRE(client.list_tools());
    std::atomic<int> ok{0};
    std::vector<std::string> errors;
    std::mutex m;
    std::vector<std::thread> threads;
    for (int t = 0; t < 32; ++t)
      threads.emplace_back([&, t] {
        for (int i = 0; i < 20; ++i) {
          auto r = client.call_tool("h", "echo", {{"message", std::to_string(t * 100 + i)}});
          if (r && r->text() == std::to_string(t * 100 + i)) ++ok;
          else {
            std::lock_guard lk(m);
            errors.push_back(r ? r->text() : r.error().what());
          }
        }
      });
    for (auto& th : threads) th.join();
    CHECK_MESSAGE(ok == 640, (errors.empty() ? "" : errors.front()));
  }
}

// ---------------------------------------------------------------- auth providers

namespace {

mcp::ServerConfig http_auth(const std::string& url, std::shared_ptr<mcp::AuthProvider> auth) {
  auto sc = http(url);
  std::get<mcp::HttpServerConfig>(sc.transport).auth = std::move(auth);
  return sc;
}

// Counts what the transport asks of it; a scripted provider for the retry paths.
struct ScriptedProvider final : mcp::AuthProvider {
  std::mutex m;
  std::string token;                       // what authorization() hands out
  std::function<mcp::Result<bool>(const mcp::AuthChallengeInfo&)> on_401;
  std::vector<mcp::AuthChallengeInfo> challenges;
  std::atomic<int> asked{0};
  mcp::Result<std::string> authorization(const std::string&, Clock::time_point) override {
    ++asked;
    std::lock_guard lk(m);
    return token.empty() ? std::string() : "Bearer " + token;
  }
  mcp::Result<bool> on_challenge(const mcp::AuthChallengeInfo& c, Clock::time_point) override {
    std::lock_guard lk(m);
    challenges.push_back(c);
    return on_401(c);
  }
};

}  // namespace

TEST_CASE("http auth: a bearer provider's token goes on every request of every transport") {
  for (const char* mode : {"modern", "legacy", "sse"}) {
    CAPTURE(mode);
    const std::string m = mode;
    std::vector<std::string> args{"--mode", m, "--require-auth", "p-1"};
    if (m == "legacy") args.push_back("--get-stream");
    Fixture fx(args);
    {
      auto client = make_listening(http_auth(fx.url(m == "sse" ? "/sse" : "/mcp"), mcp::bearer_token_provider("p-1")));
      auto r = client.call_tool("h", "echo", {{"message", "x"}});
      REQUIRE_MESSAGE(r, (r ? "" : r.error().what()));
      if (m == "legacy") CHECK(testutil::eventually([&] { return fx.count("GET") >= 1; }));
      client.disconnect();
    }
    if (m == "legacy") CHECK(fx.count("DELETE") == 1);
    CHECK(fx.requests().size() >= 2);
    for (const auto& req : fx.requests())
      CHECK_MESSAGE(req["headers"].value("authorization", "") == "Bearer p-1", req.dump());
  }
}

TEST_CASE("http auth: a 401 is handed to the provider and the request is resent with the new token") {
  for (const char* mode : {"modern", "legacy", "sse"}) {
    CAPTURE(mode);
    const std::string m = mode;
    Fixture fx({"--mode", m, "--require-auth", "fresh"});
    auto p = std::make_shared<ScriptedProvider>();
    p->token = "stale";
    p->on_401 = [&](const mcp::AuthChallengeInfo& c) -> mcp::Result<bool> {
      p->token = "fresh";  // under p->m
      return c.rejected_authorization != "Bearer fresh";
    };
    auto client = make(http_auth(fx.url(m == "sse" ? "/sse" : "/mcp"), p));
    auto r = client.call_tool("h", "echo", {{"message", "x"}});
    REQUIRE_MESSAGE(r, (r ? "" : r.error().what()));
    std::lock_guard lk(p->m);
    REQUIRE(!p->challenges.empty());
    CHECK(p->challenges[0].status == 401);
    CHECK(p->challenges[0].www_authenticate == "Bearer");
    CHECK(p->challenges[0].rejected_authorization == "Bearer stale");
    CHECK(p->challenges[0].attempt == 1);
    CHECK(p->challenges[0].server_url == fx.url(m == "sse" ? "/sse" : "/mcp"));
    CHECK(p->challenges.size() == 1);  // one refusal, then the new token everywhere
  }
}

TEST_CASE("http auth: a provider that gives up, fails or keeps retrying ends the request with a clear error") {
  Fixture fx({"--mode", "modern", "--require-auth", "never-this"});
  SUBCASE("gives up: unauthorized with the challenge, token not in the text") {
    auto p = std::make_shared<ScriptedProvider>();
    p->token = "tok-SECRET-1";
    p->on_401 = [](const mcp::AuthChallengeInfo&) -> mcp::Result<bool> { return false; };
    auto client = make(http_auth(fx.url(), p));
    auto r = client.call_tool("h", "echo", {{"message", "x"}});
    REQUIRE_FALSE(r);
    CHECK(r.error().errc() == mcp::Errc::unauthorized);
    CHECK(r.error().data.value("status", 0) == 401);
    CHECK(r.error().data.value("www_authenticate", "") == "Bearer");
    CHECK(std::string(r.error().what()).find("SECRET") == std::string::npos);
    CHECK(r.error().data.dump().find("SECRET") == std::string::npos);
  }
  SUBCASE("fails: the provider's error is the request's error") {
    auto p = std::make_shared<ScriptedProvider>();
    p->on_401 = [](const mcp::AuthChallengeInfo&) -> mcp::Result<bool> {
      return tl::unexpected(mcp::Error::make(mcp::Errc::unauthorized, "user declined the authorization"));
    };
    auto client = make(http_auth(fx.url(), p));
    auto r = client.call_tool("h", "echo", {{"message", "x"}});
    REQUIRE_FALSE(r);
    CHECK(r.error().errc() == mcp::Errc::unauthorized);
    CHECK(std::string(r.error().what()).find("user declined") != std::string::npos);
    CHECK(r.error().server == "h");
  }
  SUBCASE("always says retry: bounded") {
    auto p = std::make_shared<ScriptedProvider>();
    p->token = "wrong";
    p->on_401 = [](const mcp::AuthChallengeInfo&) -> mcp::Result<bool> { return true; };
    auto client = make(http_auth(fx.url(), p));
    const auto t0 = Clock::now();
    auto r = client.call_tool("h", "echo", {{"message", "x"}});
    REQUIRE_FALSE(r);
    CHECK(r.error().errc() == mcp::Errc::unauthorized);
    std::lock_guard lk(p->m);
    CHECK(p->challenges.size() == 6);  // per request: the probe's refusals end the connect
    CHECK(p->challenges.back().attempt == 6);
    CHECK(ms_since(t0) < 8000);
  }
  SUBCASE("authorization() fails: nothing is sent") {
    auto p = std::make_shared<ScriptedProvider>();
    struct Failing final : mcp::AuthProvider {
      mcp::Result<std::string> authorization(const std::string&, Clock::time_point) override {
        return tl::unexpected(mcp::Error::make(mcp::Errc::unauthorized, "vault unreachable"));
      }
      mcp::Result<bool> on_challenge(const mcp::AuthChallengeInfo&, Clock::time_point) override { return false; }
    };
    auto client = make(http_auth(fx.url(), std::make_shared<Failing>()));
    auto r = client.call_tool("h", "echo", {{"message", "x"}});
    REQUIRE_FALSE(r);
    CHECK(std::string(r.error().what()).find("vault unreachable") != std::string::npos);
    CHECK(fx.count("POST") == 0);
  }
}

TEST_CASE("http auth: token_callback_provider refreshes once per request") {
  Fixture fx({"--mode", "legacy", "--require-auth", "v2"});
  std::atomic<int> refreshes{0};
  std::mutex m;
  std::string current = "v1";
  auto p = mcp::token_callback_provider([&](bool refresh) -> mcp::Result<std::string> {
    std::lock_guard lk(m);
    if (refresh) {
      ++refreshes;
      current = "v2";
    }
    return current;
  });
  auto client = make(http_auth(fx.url(), p));
  auto r = client.call_tool("h", "echo", {{"message", "x"}});
  REQUIRE_MESSAGE(r, (r ? "" : r.error().what()));
  CHECK(refreshes == 1);
  auto r2 = client.call_tool("h", "echo", {{"message", "y"}});
  REQUIRE(r2);
  CHECK(refreshes == 1);
}

TEST_CASE("http auth: with a provider, redirects are not followed (the token stays on its origin)") {
  Fixture fx({"--mode", "modern", "--redirect", "--require-auth", "r-1"});
  auto client = make(http_auth(fx.url(), mcp::bearer_token_provider("r-1")));
  auto r = client.call_tool("h", "echo", {{"message", "x"}});
  REQUIRE_FALSE(r);
  CHECK(r.error().errc() == mcp::Errc::http_error);
  CHECK(r.error().data.value("status", 0) / 100 == 3);
}

TEST_CASE("http auth: request_headers sees each request's method and URL, and its headers are sent") {
  Fixture fx({"--mode", "legacy", "--get-stream"});
  struct Binding final : mcp::AuthProvider {
    std::mutex m;
    std::vector<mcp::AuthRequestInfo> seen;
    mcp::Result<std::string> authorization(const std::string&, Clock::time_point) override { return std::string(); }
    mcp::Result<bool> on_challenge(const mcp::AuthChallengeInfo&, Clock::time_point) override { return false; }
    mcp::Result<mcp::AuthHeaders> request_headers(const mcp::AuthRequestInfo& r, Clock::time_point) override {
      std::lock_guard lk(m);
      seen.push_back(r);
      return mcp::AuthHeaders{{"Authorization", "Bound tok"}, {"DPoP", r.method + " " + r.url}};
    }
  };
  auto p = std::make_shared<Binding>();
  const std::string url = fx.url() + "#frag";
  {
    auto client = make_listening(http_auth(url, p));
    REQUIRE(client.call_tool("h", "echo", {{"message", "x"}}));
    CHECK(testutil::eventually([&] { return fx.count("GET") >= 1; }));
    client.disconnect();
  }
  std::set<std::string> methods;
  {
    std::lock_guard lk(p->m);
    for (const auto& r : p->seen) {
      methods.insert(r.method);
      CHECK(r.server_url == url);
      CHECK(r.url == fx.url());  // as configured, without the fragment
    }
  }
  CHECK(methods == std::set<std::string>{"POST", "GET", "DELETE"});
  for (const auto& req : fx.requests()) {
    CHECK(req["headers"].value("authorization", "") == "Bound tok");
    CHECK(req["headers"].value("dpop", "") == req["method"].get<std::string>() + " " + fx.url());
  }
}

TEST_CASE("http auth: a slow authorization does not time the request out; cancelling still works") {
  for (const char* mode : {"modern", "legacy", "sse"}) {
    CAPTURE(mode);
    const std::string m = mode;
    Fixture fx({"--mode", m, "--require-auth", "late"});
    auto p = std::make_shared<ScriptedProvider>();
    p->on_401 = [&](const mcp::AuthChallengeInfo& c) -> mcp::Result<bool> {
      std::this_thread::sleep_for(1500ms);  // a person signing in, longer than the timeout
      p->token = "late";
      return c.rejected_authorization != "Bearer late";
    };
    auto sc = http_auth(fx.url(m == "sse" ? "/sse" : "/mcp"), p);
    sc.probe_timeout = 800ms;
    auto client = make(std::move(sc), 800ms);
    auto r = client.call_tool("h", "echo", {{"message", "x"}});
    REQUIRE_MESSAGE(r, (r ? "" : r.error().what()));
    CHECK(r->text() == "x");
    CHECK(client.server_info("h")->era == (m == "modern" ? mcp::Era::modern : mcp::Era::legacy));
  }
  // A held request can still be cancelled.
  Fixture fx({"--mode", "modern", "--require-auth", "never"});
  auto p = std::make_shared<ScriptedProvider>();
  std::atomic<bool> saw_stop{false};
  p->on_401 = [&](const mcp::AuthChallengeInfo& c) -> mcp::Result<bool> {
    // A sign-in that would take 5 s, abandoned when the request ends.
    for (int i = 0; i < 500 && !c.stop.stop_requested(); ++i) std::this_thread::sleep_for(10ms);
    saw_stop = c.stop.stop_requested();
    return false;
  };
  auto sc = http_auth(fx.url(), p);
  sc.era = mcp::Era::modern;  // no probe: the call itself meets the 401
  auto client = make(std::move(sc), 10s);
  auto session = client.session("h");
  REQUIRE(session);
  std::stop_source stop;
  std::thread canceller([&] {
    std::this_thread::sleep_for(300ms);
    stop.request_stop();
  });
  mcp::RequestOptions ro;
  ro.stop = stop.get_token();
  const auto t0 = Clock::now();
  auto r = (*session)->call_tool("echo", {{"message", "x"}}, ro);
  canceller.join();
  REQUIRE_FALSE(r);
  CHECK(r.error().errc() == mcp::Errc::cancelled);
  CHECK(ms_since(t0) < 1200);
  // Disconnecting ends the sign-in too (the connect's discover was the request that met it).
  const auto t1 = Clock::now();
  client.disconnect();
  CHECK(ms_since(t1) < 1500);
  CHECK(saw_stop);
}

TEST_CASE("http: a call made from a callback while another session connects still waits for its handlers") {
  // B: every SSE reply carries a log notification before the response.
  Fixture fxb({"--mode", "legacy", "--sse"});
  auto cfg_b = testutil::one("h", http(fxb.url()));
  cfg_b.request_timeout = 10s;
  std::atomic<int> b_logs{0};
  cfg_b.handlers.on_log = [&](const std::string&, const mcp::LogMessage&) {
    std::this_thread::sleep_for(300ms);  // a handler that takes a moment
    ++b_logs;
  };
  auto b = mcp::Client::create(std::move(cfg_b));
  REQUIRE(b);
  auto bs = b->session("h");
  REQUIRE(bs);
  REQUIRE((*bs)->connect());
  REQUIRE(testutil::eventually([&] { return b_logs.load() >= 1; }));  // initialize's own log line

  // A: its header_provider, when armed, makes one call on B (on A's calling thread).
  Fixture fxa({"--mode", "modern"});
  std::atomic<bool> armed{false};
  int before = -1, at_return = -1;
  auto sca = http(fxa.url());
  std::get<mcp::HttpServerConfig>(sca.transport).header_provider = [&] {
    if (armed.exchange(false)) {
      before = b_logs.load();
      auto r = b->call_tool("h", "echo", {{"message", "nested"}});
      CHECK(r);
      at_return = b_logs.load();
    }
    return std::map<std::string, std::string>{};
  };
  auto a = make(std::move(sca));
  auto as = a.session("h");
  REQUIRE(as);

  // While A is connecting: B's call must still return after the handler for the log line that
  // preceded its reply (the ClientHandlers contract).
  armed = true;
  REQUIRE((*as)->connect());
  CHECK_MESSAGE(at_return == before + 1, "B's call returned before B's on_log ran (during A's connect)");

  // The same nested call once A is connected: ordered.
  REQUIRE(testutil::eventually([&] { return b_logs.load() >= before + 1; }));
  armed = true;
  REQUIRE(a.call_tool("h", "echo", {{"message", "x"}}));
  CHECK(at_return == before + 1);
}

TEST_CASE("http: one session's _meta never goes out on another session's request, even after a nested call threw") {
  Fixture fxa({"--mode", "modern"});
  Fixture fxb({"--mode", "modern"});
  std::atomic<bool> b_throws{false};
  auto scb = http(fxb.url());
  std::get<mcp::HttpServerConfig>(scb.transport).header_provider = [&] {
    if (b_throws) throw std::runtime_error("token store unavailable");
    return std::map<std::string, std::string>{};
  };
  auto cfg_b = testutil::one("h", std::move(scb));
  cfg_b.client_info.name = "client-B";
  auto b = mcp::Client::create(std::move(cfg_b));
  REQUIRE(b);

  std::atomic<bool> armed{false};
  auto sca = http(fxa.url());
  std::get<mcp::HttpServerConfig>(sca.transport).header_provider = [&] {
    if (armed.exchange(false)) {
      try {
        (void)b->call_tool("h", "echo", {{"message", "nested"}});
      } catch (const std::exception&) {
        // B's credentials failed; A carries on.
      }
    }
    return std::map<std::string, std::string>{};
  };
  auto cfg_a = testutil::one("h", std::move(sca));
  cfg_a.client_info.name = "client-A";
  auto a = mcp::Client::create(std::move(cfg_a));
  REQUIRE(a);

  REQUIRE(b->call_tool("h", "echo", {{"message", "first"}}));
  REQUIRE(a->call_tool("h", "echo", {{"message", "first"}}));
  armed = true;
  b_throws = true;
  REQUIRE(a->call_tool("h", "echo", {{"message", "outer"}}));
  b_throws = false;
  REQUIRE(b->call_tool("h", "echo", {{"message", "after"}}));

  int checked = 0;
  for (const auto& req : fxb.requests()) {
    const auto& body = req["body"];
    if (!body.is_object() || body.value("method", "") != "tools/call") continue;
    CAPTURE(body.dump());
    CHECK(body["params"]["_meta"]["io.modelcontextprotocol/clientInfo"]["name"] == "client-B");
    ++checked;
  }
  CHECK(checked == 2);
}

namespace {
// An auth provider whose authorization() throws while `throws` is set; the fixture asks for
// no credentials, so its challenge is never reached in this test.
struct ThrowingAuth final : mcp::AuthProvider {
  std::atomic<bool>& throws;
  std::atomic<int>& calls;
  ThrowingAuth(std::atomic<bool>& t, std::atomic<int>& c) : throws(t), calls(c) {}
  mcp::Result<std::string> authorization(const std::string&, Clock::time_point) override {
    ++calls;
    if (throws) throw std::runtime_error("vault unreachable");
    return std::string("Bearer t1");
  }
  mcp::Result<bool> on_challenge(const mcp::AuthChallengeInfo&, Clock::time_point) override {
    throw std::logic_error("not reached");
  }
};
}  // namespace

TEST_CASE("http: a header_provider or auth provider that throws fails the request with a typed error, on every thread") {
  // Each is called on the caller's thread for a request, on a flight thread for the legacy
  // handshake, and on the GET stream's thread (on_log makes a legacy client listen). Before,
  // what they threw escaped call_tool, or ended the process from a thread of ours.
  for (const bool use_auth : {false, true})
    for (const char* mode : {"legacy", "modern"}) {
      CAPTURE(use_auth);
      CAPTURE(mode);
      Fixture fx({"--mode", mode, "--sse"});
      std::atomic<int> calls{0};
      std::atomic<bool> throws{true};
      auto sc = http(fx.url());
      auto& hc = std::get<mcp::HttpServerConfig>(sc.transport);
      if (use_auth) {
        hc.auth = std::make_shared<ThrowingAuth>(throws, calls);
      } else {
        hc.header_provider = [&] {
          ++calls;
          if (throws) throw std::runtime_error("vault unreachable");
          return std::map<std::string, std::string>{{"X-Tenant", "t1"}};
        };
      }
      auto cfg = testutil::one("h", std::move(sc));
      cfg.handlers.on_log = [](const std::string&, const mcp::LogMessage&) {};
      auto c = mcp::Client::create(std::move(cfg));
      REQUIRE(c);
      auto r = c->call_tool("h", "echo", {{"message", "x"}});
      REQUIRE_FALSE(r);
      CHECK(r.error().code == mcp::ErrorKind::auth);
      CHECK(std::string(r.error().what()).find("vault unreachable") != std::string::npos);
      CHECK(calls > 0);
      // Once it works again, so does the client.
      throws = false;
      CHECK(c->call_tool("h", "echo", {{"message", "y"}}));
      // It throws again while connected (the GET stream, if open, reconnects meanwhile):
      // that request fails, the connection survives.
      throws = true;
      auto again = c->call_tool("h", "echo", {{"message", "z"}});
      REQUIRE_FALSE(again);
      CHECK(again.error().code == mcp::ErrorKind::auth);
      throws = false;
      CHECK(c->call_tool("h", "echo", {{"message", "w"}}));
      throws = true;  // disconnect's DELETE meets it too
      c->disconnect();
    }
}

TEST_CASE("an HTTP server that refuses connections: connection_failed, not an era verdict") {
  mcp::ClientConfig cfg;
  cfg.id = "http-unsupported";
  mcp::HttpServerConfig h;
  h.url = "http://127.0.0.1:1/mcp";
  mcp::ServerConfig sc;
  sc.transport = h;
  cfg.servers.emplace("remote", sc);
  auto client = mcp::Client::create(cfg);
  REQUIRE(client);
  auto r = client->list_tools();
  REQUIRE_FALSE(r);
  CHECK(r.error().errc() == mcp::Errc::connection_failed);
  CHECK(r.error().kind() == mcp::ErrorKind::transport);
  CHECK(r.error().server == "remote");
}
