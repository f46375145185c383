// The structured logging hook (ClientConfig::on_log, <mcp/log.hpp>) against real servers: the
// stdio fault fixture (connected, era detected, stderr lines, a diagnostic, the connection lost
// when the server crashes, reconnected, disconnected) and the HTTP fault fixture (the fallback
// to HTTP+SSE, a legacy session re-initialised after a 404), with credentials configured
// everywhere (headers, a header provider, the URL's query, a stdio server's environment) and
// quoted back by the servers, checking that none reaches the hook.
#include "http_fixture.hpp"

#include <atomic>
#include <mcp/client.hpp>

#include <doctest/doctest.h>

#include <mutex>
#include <optional>
#include <stdexcept>

using namespace std::chrono_literals;
using nlohmann::json;

namespace {

// A LogEvent with its views made owning.
struct Seen {
  mcp::LogLevel level;
  mcp::LogKind kind;
  std::string server, message, method, transport, protocol_version, target;
  mcp::Era era;
  std::uint64_t request_id;
};

struct Log {
  std::mutex m;
  std::vector<Seen> events;
  std::vector<std::string> diagnostics;  // what on_diagnostic got, beside on_log

  void attach(mcp::ClientConfig& cfg) {
    cfg.on_log = [this](const mcp::LogEvent& e) {
      std::lock_guard lk(m);
      events.push_back({e.level, e.kind, std::string(e.server), std::string(e.message), std::string(e.method),
                        std::string(e.transport), std::string(e.protocol_version), std::string(e.target), e.era,
                        e.request_id});
    };
    cfg.on_diagnostic = [this](std::string_view, std::string_view msg) {
      std::lock_guard lk(m);
      diagnostics.emplace_back(msg);
    };
  }
  std::vector<Seen> of(mcp::LogKind k) {
    std::lock_guard lk(m);
    std::vector<Seen> out;
    for (const auto& e : events)
      if (e.kind == k) out.push_back(e);
    return out;
  }
  std::size_t count(mcp::LogKind k) { return of(k).size(); }
  // The first diagnostic whose message holds `text`, if one came within 3 s.
  std::optional<Seen> diagnostic_with(const std::string& text) {
    std::optional<Seen> found;
    testutil::eventually([&] {
      for (const auto& d : of(mcp::LogKind::diagnostic)) {
        if (d.message.find(text) == std::string::npos) continue;
        found = d;
        return true;
      }
      return false;
    });
    return found;
  }
  // No field of any event holds any of `secrets`.
  void check_clean(const std::vector<std::string>& secrets) {
    std::lock_guard lk(m);
    for (const auto& e : events)
      for (const auto* f : {&e.server, &e.message, &e.method, &e.transport, &e.protocol_version, &e.target})
        for (const auto& s : secrets) CHECK_MESSAGE(f->find(s) == std::string::npos, mcp::to_string(e.kind), ": ", *f);
  }
};

// A raw tool call whose server writes `text` as a line of garbage before its reply (stdio), or
// as an SSE event of garbage before the reply's event (HTTP).
json garbage_then_reply(const std::string& text, bool sse) {
  json reply = R"({"jsonrpc":"2.0","id":0,"result":{"content":[{"type":"text","text":"ok"}]}})"_json;
  std::string r = reply.dump();
  r.replace(r.find("\"id\":0"), 6, "\"id\":$ID");
  json a{{"lines", json::array({json::array({{{"text", text}}}), json::array({{{"text", r}}})})}};
  if (sse) a["sse"] = true;
  else a["lines"].erase(1), a["reply"] = true;
  return a;
}

// Raw lines for the fault fixtures' "raw" tool: a result and an error for ids we never sent, a
// message with an id that is no response, then the call's own reply cut short (not JSON).
const json kUnknownThenCut = json::array(
    {json::array({{{"text", R"({"jsonrpc":"2.0","id":987654,"result":{}})"}}}),
     json::array({{{"text", R"({"jsonrpc":"2.0","id":987655,"error":{"code":-32603,"message":"late"}})"}}}),
     json::array({{{"text", R"({"jsonrpc":"2.0","id":987656})"}}}),
     json::array({{{"text", R"({"jsonrpc":"2.0","id":$ID,"result":{"content":[)"}}})});
// The call's reply holding 1,100,002 JSON values: more than a 4 MiB message limit allows (1 Mi).
const json kOversized = json::array({json::array({{{"text", R"({"jsonrpc":"2.0","id":$ID,"result":{"v":[)"}},
                                                  {{"text", "0,"}, {"repeat", 1100000}},
                                                  {{"text", "0]}}"}}})});

// The diagnostics about one request carry its id (and, for a reply to a request still pending,
// its method): a reply to an unknown id, the call's reply unreadable, then too large.
void check_reply_ids(mcp::Client& client, Log& log, bool sse) {
  json cut{{"lines", kUnknownThenCut}};
  if (sse) cut["sse"] = true;
  auto r = client.call_tool("s", "raw", cut);
  REQUIRE_FALSE(r);
  CHECK(r.error().errc() == mcp::Errc::invalid_message);
  auto unknown = log.diagnostic_with("unknown or abandoned request id 987654");
  REQUIRE(unknown);
  CHECK(unknown->request_id == 987654);
  CHECK(unknown->method.empty());  // nothing of ours had that id
  CHECK(unknown->level == mcp::LogLevel::warning);
  CHECK(unknown->server == "s");
  auto unknown_error = log.diagnostic_with("unknown or abandoned request id 987655");
  REQUIRE(unknown_error);
  CHECK(unknown_error->request_id == 987655);
  auto neither = log.diagnostic_with("neither request, notification nor response");
  REQUIRE(neither);
  CHECK(neither->request_id == 987656);
  auto bad = log.diagnostic_with(sse ? "non-JSON SSE event ignored" : "non-JSON line on stdout ignored");
  REQUIRE(bad);
  CHECK(bad->request_id != 0);
  CHECK(bad->request_id != 987654);
  CHECK_MESSAGE(bad->message.find("\"id\":" + std::to_string(bad->request_id) + ",") != std::string::npos, bad->message);
  CHECK(bad->method == "tools/call");

  json big{{"lines", kOversized}};
  if (sse) big["sse"] = true;
  r = client.call_tool("s", "raw", big);
  REQUIRE_FALSE(r);
  CHECK(r.error().errc() == mcp::Errc::message_too_large);
  auto large = log.diagnostic_with("holds more than 1048576 JSON values");
  REQUIRE(large);
  CHECK(large->request_id > bad->request_id);
  CHECK_MESSAGE(large->message.find("\"id\":" + std::to_string(large->request_id) + ",") != std::string::npos, large->message);
  CHECK(large->method == "tools/call");
  // The connection is still usable.
  auto echo = client.call_tool("s", "echo", {{"message", "still here"}});
  REQUIRE_MESSAGE(echo, (echo ? "" : echo.error().what()));
  CHECK(echo->text() == "still here");
}

}  // namespace

TEST_CASE("log: diagnostics about one request carry its id: unknown, unreadable and oversized replies") {
  const mcp::Era eras[] = {mcp::Era::legacy, mcp::Era::modern};
  SUBCASE("stdio") {
    for (const mcp::Era era : eras) {
      CAPTURE(mcp::to_string(era));
      auto sc = testutil::fault({"--era", era == mcp::Era::modern ? "modern" : "legacy"});
      sc.era = era;
      std::get<mcp::StdioServerConfig>(sc.transport).max_message_bytes = 4u << 20;
      auto cfg = testutil::one("s", std::move(sc));
      Log log;
      log.attach(cfg);
      auto client = mcp::Client::create(std::move(cfg));
      REQUIRE(client);
      check_reply_ids(*client, log, false);
      client->disconnect();
    }
  }
  SUBCASE("HTTP") {
    // Modern Streamable HTTP (the replies on the POST's event stream), legacy HTTP+SSE (on the
    // session's stream).
    for (const mcp::Era era : eras) {
      CAPTURE(mcp::to_string(era));
      testutil::Fixture fx({"--mode", era == mcp::Era::modern ? "modern" : "sse"});
      mcp::HttpServerConfig h;
      h.url = fx.url(era == mcp::Era::modern ? "/mcp" : "/sse");
      h.max_message_bytes = 4u << 20;
      h.transport = era == mcp::Era::modern ? mcp::HttpTransportKind::streamable_http : mcp::HttpTransportKind::sse;
      mcp::ServerConfig sc;
      sc.transport = std::move(h);
      sc.era = era;
      auto cfg = testutil::one("s", std::move(sc));
      cfg.request_timeout = 10s;
      Log log;
      log.attach(cfg);
      auto client = mcp::Client::create(std::move(cfg));
      REQUIRE(client);
      check_reply_ids(*client, log, true);
      client->disconnect();
    }
  }
}

TEST_CASE("log: a late reply (its request timed out) is logged with its request's id") {
  for (const mcp::Era era : {mcp::Era::legacy, mcp::Era::modern}) {
    CAPTURE(mcp::to_string(era));
    // Every reply comes 800 ms late; the call gives up after 200 ms.
    auto sc = testutil::fault({"--era", era == mcp::Era::modern ? "modern" : "legacy", "--delay-ms", "800"});
    sc.era = era;
    auto cfg = testutil::one("s", std::move(sc));
    cfg.request_timeout = 10s;
    Log log;
    log.attach(cfg);
    auto client = mcp::Client::create(std::move(cfg));
    REQUIRE(client);
    REQUIRE(client->list_tools());
    mcp::RequestOptions quick;
    quick.timeout = 200ms;
    auto r = client->call_tool("s", "echo", {{"message", "late"}}, quick);
    REQUIRE_FALSE(r);
    CHECK(r.error().errc() == mcp::Errc::timeout);
    auto late = log.diagnostic_with("unknown or abandoned request id");
    REQUIRE(late);
    CHECK(late->request_id != 0);
    const std::string tail = " id " + std::to_string(late->request_id);
    CHECK_MESSAGE(late->message.size() > tail.size(), late->message);
    CHECK(late->message.compare(late->message.size() - tail.size(), tail.size(), tail) == 0);
    CHECK(late->method.empty());  // forgotten when it timed out
    // A timeout is the caller's error, not a diagnostic: the late reply is the only one.
    CHECK(log.count(mcp::LogKind::diagnostic) == 1);
    client->disconnect();
  }
}

TEST_CASE("log: stdio events in order, stderr lines, diagnostics, lost and reconnected, env secrets masked") {
  const std::string secret = "stdio-secret-5a1d9e";
  auto sc = testutil::fault({});
  std::get<mcp::StdioServerConfig>(sc.transport).env = {{"MCP_TEST_TOKEN", secret}};
  auto cfg = testutil::one("s", std::move(sc));
  Log log;
  log.attach(cfg);
  auto client = mcp::Client::create(std::move(cfg));
  REQUIRE(client);

  REQUIRE(client->list_tools());
  auto detected = log.of(mcp::LogKind::era_detected);
  REQUIRE(detected.size() == 1);
  CHECK(detected[0].era == mcp::Era::legacy);
  CHECK(detected[0].level == mcp::LogLevel::info);
  CHECK_FALSE(detected[0].protocol_version.empty());
  auto connected = log.of(mcp::LogKind::connected);
  REQUIRE(connected.size() == 1);
  CHECK(connected[0].server == "s");
  CHECK(connected[0].transport == "stdio");
  CHECK(connected[0].target == testutil::fault_server());
  CHECK(connected[0].era == mcp::Era::legacy);
  CHECK(log.count(mcp::LogKind::fell_back_to_sse) == 0);

  // The server reads its secret back to us (a tool result: not logged), then writes it as a
  // garbage line on stdout (a diagnostic: masked for on_log; on_diagnostic keeps today's text).
  auto env = client->call_tool("s", "env", {{"name", "MCP_TEST_TOKEN"}});
  REQUIRE(env);
  CHECK(env->text() == secret);
  auto raw = client->call_tool("s", "raw", garbage_then_reply("not json: token=" + secret, false));
  REQUIRE_MESSAGE(raw, (raw ? "" : raw.error().what()));
  auto garbage = [&] {
    for (const auto& d : log.of(mcp::LogKind::diagnostic))
      if (d.message.find("not json: token=***") != std::string::npos) return true;
    return false;
  };
  REQUIRE(testutil::eventually(garbage));
  auto diag = log.of(mcp::LogKind::diagnostic);
  CHECK(diag.back().level == mcp::LogLevel::warning);
  CHECK(diag.back().server == "s");
  {
    std::lock_guard lk(log.m);
    // on_diagnostic sees the same diagnostics, with today's text.
    REQUIRE(log.diagnostics.size() == diag.size());
    CHECK(log.diagnostics.back().find(secret) != std::string::npos);
    log.diagnostics.clear();  // check_clean looks at on_log's events only
  }

  REQUIRE(client->call_tool("s", "stderr", {{"lines", 2}}));
  REQUIRE(testutil::eventually([&] { return log.count(mcp::LogKind::server_stderr) >= 2; }));
  auto err = log.of(mcp::LogKind::server_stderr);
  CHECK(err[0].message == "stderr line 1");
  CHECK(err[1].message == "stderr line 2");
  CHECK(err[0].level == mcp::LogLevel::debug);

  // The server dies: the connection is lost, and the next call reconnects (no second probe).
  CHECK_FALSE(client->call_tool("s", "crash", json::object()));
  REQUIRE(testutil::eventually([&] { return log.count(mcp::LogKind::connection_lost) == 1; }));
  CHECK(log.of(mcp::LogKind::connection_lost)[0].level == mcp::LogLevel::warning);
  mcp::RequestOptions fresh;
  fresh.no_cache = true;
  REQUIRE(client->list_tools(fresh));
  auto again = log.of(mcp::LogKind::reconnected);
  REQUIRE(again.size() == 1);
  CHECK(again[0].transport == "stdio");
  CHECK(log.count(mcp::LogKind::connected) == 1);
  CHECK(log.count(mcp::LogKind::era_detected) == 1);

  client->disconnect();
  auto gone = log.of(mcp::LogKind::disconnected);
  REQUIRE(gone.size() == 1);
  CHECK(gone[0].era == mcp::Era::legacy);
  // After a disconnect the next connection is a first one again.
  REQUIRE(client->list_tools());
  CHECK(log.count(mcp::LogKind::connected) == 2);
  client->disconnect();
  log.check_clean({secret});
}

TEST_CASE("log: a hook that throws changes nothing; an unset hook is never called") {
  auto cfg = testutil::one("s", testutil::fault({}));
  std::atomic<int> calls{0};  // the hook runs on library threads (the stderr reader) too
  cfg.on_log = [&calls](const mcp::LogEvent&) {
    ++calls;
    throw std::runtime_error("a logging hook that throws");
  };
  auto client = mcp::Client::create(std::move(cfg));
  REQUIRE(client);
  REQUIRE(client->list_tools());
  auto r = client->call_tool("s", "echo", {{"message", "hi"}});
  REQUIRE(r);
  CHECK(r->text() == "hi");
  REQUIRE(client->call_tool("s", "stderr", {{"lines", 1}}));
  client->disconnect();
  CHECK(calls >= 3);  // era detected, connected, disconnected (and the stderr line)
}

TEST_CASE("log: HTTP fallback to HTTP+SSE and a re-initialised legacy session; no credential reaches the hook") {
  const std::vector<std::string> secrets{"secret-conf-7f3a", "secret-key-91bc", "secret-provided-22d0",
                                         "url-secret-c0ffee"};
  auto http = [&](const std::string& url) {
    mcp::HttpServerConfig h;
    h.url = url + "?token=url-secret-c0ffee&v=1";
    h.headers = {{"Authorization", "Bearer secret-conf-7f3a"}, {"X-Api-Key", "secret-key-91bc"}};
    h.header_provider = [] { return std::map<std::string, std::string>{{"X-Provided", "secret-provided-22d0"}}; };
    mcp::ServerConfig sc;
    sc.transport = std::move(h);
    return sc;
  };

  SUBCASE("fell back to HTTP+SSE") {
    testutil::Fixture fx({"--mode", "sse"});
    auto cfg = testutil::one("h", http(fx.url("/mcp")));
    cfg.request_timeout = 10s;
    Log log;
    log.attach(cfg);
    auto client = mcp::Client::create(std::move(cfg));
    REQUIRE(client);
    auto r = client->list_tools();
    REQUIRE_MESSAGE(r, (r ? "" : r.error().what()));
    auto fell = log.of(mcp::LogKind::fell_back_to_sse);
    REQUIRE(fell.size() == 1);
    CHECK(fell[0].transport == "sse");
    CHECK(fell[0].level == mcp::LogLevel::warning);
    auto connected = log.of(mcp::LogKind::connected);
    REQUIRE(connected.size() == 1);
    CHECK(connected[0].target == fx.url("/mcp"));  // no query
    CHECK(connected[0].era == mcp::Era::legacy);
    // An error on the way.
    CHECK_FALSE(client->call_tool("h", "no_such_tool", json::object()));
    client->disconnect();
    CHECK(log.count(mcp::LogKind::disconnected) == 1);
    log.check_clean(secrets);
  }

  SUBCASE("a forgotten legacy session is re-initialised, once") {
    testutil::Fixture fx({"--mode", "legacy", "--expire-session-after", "2"});
    auto cfg = testutil::one("h", http(fx.url("/mcp")));
    cfg.request_timeout = 10s;
    Log log;
    log.attach(cfg);
    auto client = mcp::Client::create(std::move(cfg));
    REQUIRE(client);
    for (int i = 0; i < 5; ++i) {
      auto r = client->call_tool("h", "echo", {{"message", std::to_string(i)}});
      REQUIRE_MESSAGE(r, (r ? "" : r.error().what()));
    }
    auto re = log.of(mcp::LogKind::session_reinitialized);
    REQUIRE(re.size() >= 1);
    CHECK(re.size() + 1 == static_cast<std::size_t>(fx.count("POST", "initialize")));
    CHECK(re[0].method == "initialize");
    CHECK(re[0].era == mcp::Era::legacy);
    CHECK(re[0].transport == "streamable-http");
    CHECK(log.count(mcp::LogKind::connected) == 1);
    client->disconnect();
    log.check_clean(secrets);
  }

  SUBCASE("a server quoting the credentials back in garbage: masked") {
    testutil::Fixture fx({"--mode", "modern", "--sse"});
    auto cfg = testutil::one("h", http(fx.url("/mcp")));
    cfg.request_timeout = 10s;
    Log log;
    log.attach(cfg);
    auto client = mcp::Client::create(std::move(cfg));
    REQUIRE(client);
    auto r = client->call_tool("h", "raw",
                               garbage_then_reply("Bearer secret-conf-7f3a secret-key-91bc url-secret-c0ffee", true));
    REQUIRE_MESSAGE(r, (r ? "" : r.error().what()));
    REQUIRE(testutil::eventually([&] { return log.count(mcp::LogKind::diagnostic) >= 1; }));
    CHECK(log.of(mcp::LogKind::diagnostic).back().message.find("***") != std::string::npos);
    CHECK(log.of(mcp::LogKind::era_detected).at(0).era == mcp::Era::modern);
    client->disconnect();
    log.check_clean(secrets);
  }
}
