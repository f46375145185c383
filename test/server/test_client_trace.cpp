// The client's trace context (`_meta` traceparent / tracestate / baggage) and its request
// lifecycle hook (ClientConfig::trace_context, RequestOptions::trace, ClientConfig::on_request),
// against test/servers/tool_server (its `meta` tool answers with the `_meta` it received), in
// both eras, over stdio and Streamable HTTP, with the blocking and the asynchronous API.
#include "tool_server_path.hpp"
#include "../integration/helpers.hpp"

#include <mcp/client.hpp>

#include <doctest/doctest.h>
#include <nlohmann/json.hpp>

#include <atomic>
#include <mutex>
#include <thread>

using namespace std::chrono_literals;
using nlohmann::json;

namespace {

const std::string kParent = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01";
const std::string kState = "congo=t61rcWkgMzE,rojo=00f067aa0ba902b7";
const std::string kBaggage = "userId=alice,serverNode=DF%2028;ttl=5";

// What the hooks saw.
struct Seen {
  std::mutex m;
  std::vector<mcp::RequestEvent> events;    // copies, string views made owning below
  std::vector<std::string> methods;         // one per event
  std::vector<std::string> diagnostics;
  std::atomic<int> trace_calls{0};
  std::vector<mcp::TraceContext> wanted;  // what the trace hook answers (its last one repeated)
};

// One server of the tool server, over `transport` ("stdio" or "http" on `port`), in `era`.
mcp::ServerConfig server_config(const std::string& transport, int port, mcp::Era era) {
  mcp::ServerConfig sc;
  if (transport == "stdio") {
    mcp::StdioServerConfig st;
    st.command = tool_server();
    st.shutdown_grace = 500ms;
    sc.transport = std::move(st);
  } else {
    mcp::HttpServerConfig h;
    h.url = "http://127.0.0.1:" + std::to_string(port) + "/mcp";
    h.transport = mcp::HttpTransportKind::streamable_http;
    sc.transport = std::move(h);
  }
  sc.era = era;
  return sc;
}

mcp::ClientConfig traced_config(mcp::ServerConfig sc, Seen& seen, bool with_trace_hook = true) {
  auto cfg = testutil::one("srv", std::move(sc));
  cfg.on_diagnostic = [&seen](std::string_view, std::string_view msg) {
    std::lock_guard lk(seen.m);
    seen.diagnostics.emplace_back(msg);
  };
  if (with_trace_hook) {
    cfg.trace_context = [&seen](std::string_view server, std::string_view) -> std::optional<mcp::TraceContext> {
      CHECK(server == "srv");
      ++seen.trace_calls;
      std::lock_guard lk(seen.m);
      if (seen.wanted.empty()) return std::nullopt;
      return seen.wanted.back();
    };
  }
  cfg.on_request = [&seen](const mcp::RequestEvent& e) {
    std::lock_guard lk(seen.m);
    seen.events.push_back(e);
    seen.events.back().server = {};
    seen.events.back().method = {};
    seen.events.back().error = nullptr;
    seen.methods.emplace_back(e.method);
    if (e.phase == mcp::RequestEvent::Phase::end && e.outcome != mcp::RequestEvent::Outcome::ok) {
      REQUIRE(e.error != nullptr);
      seen.methods.back() += " " + std::to_string(e.error->rpc_code.value_or(0));
    }
  };
  return cfg;
}

json received_meta(const mcp::Result<mcp::CallToolResult>& r) {
  REQUIRE_MESSAGE(r, (r ? "" : r.error().message));
  REQUIRE(r->structured_content);
  return *r->structured_content;
}

}  // namespace

TEST_CASE("trace context: sent in _meta in both eras, over stdio and HTTP; the per-request one wins over the hook's") {
  const int port = testutil::free_port();
  testutil::ServerProcess http_server({tool_server(), "--http", std::to_string(port)}, {},
                                      testutil::temp_path("trace-tool-server.log"));
  REQUIRE(testutil::eventually([&] { return testutil::port_open(port); }, 10000));
  for (const std::string transport : {"stdio", "http"}) {
    for (const mcp::Era era : {mcp::Era::modern, mcp::Era::legacy}) {
      CAPTURE(transport);
      CAPTURE(mcp::to_string(era));
      Seen seen;
      seen.wanted.push_back({kParent, kState, kBaggage});
      auto client = mcp::Client::create(traced_config(server_config(transport, port, era), seen));
      REQUIRE(client);

      // The hook's context, blocking API.
      json meta = received_meta(client->call_tool("srv", "meta"));
      CHECK(meta["traceparent"] == kParent);
      CHECK(meta["tracestate"] == kState);
      CHECK(meta["baggage"] == kBaggage);
      if (era == mcp::Era::modern) CHECK(meta["io.modelcontextprotocol/protocolVersion"] == "2026-07-28");
      else CHECK_FALSE(meta.contains("io.modelcontextprotocol/protocolVersion"));
      const int calls = seen.trace_calls.load();
      CHECK(calls >= 1);

      // The hook's context, asynchronous API.
      auto f = client->async_call_tool("srv", "meta", json::object(), mcp::use_future);
      REQUIRE(f.wait_for(10s) == std::future_status::ready);
      meta = received_meta(f.get());
      CHECK(meta["traceparent"] == kParent);
      CHECK(meta["baggage"] == kBaggage);

      // Per request: replaces the hook's whole context (the hook is not asked).
      const std::string other = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-00";
      mcp::RequestOptions o;
      o.trace = mcp::TraceContext{other, "", ""};
      const int before = seen.trace_calls.load();
      meta = received_meta(client->call_tool("srv", "meta", json::object(), o));
      CHECK(meta["traceparent"] == other);
      CHECK_FALSE(meta.contains("tracestate"));
      CHECK_FALSE(meta.contains("baggage"));
      auto fo = client->async_call_tool("srv", "meta", json::object(), o, mcp::use_future);
      REQUIRE(fo.wait_for(10s) == std::future_status::ready);
      CHECK(received_meta(fo.get())["traceparent"] == other);
      CHECK(seen.trace_calls.load() == before);

      // A malformed traceparent from the hook is not sent (nor its tracestate), and said.
      {
        std::lock_guard lk(seen.m);
        seen.wanted.push_back({"00-0AF7651916CD43DD8448EB211C80319C-b7ad6b7169203331-01", kState, kBaggage});
      }
      meta = received_meta(client->call_tool("srv", "meta"));
      CHECK_FALSE(meta.contains("traceparent"));
      CHECK_FALSE(meta.contains("tracestate"));
      CHECK(meta["baggage"] == kBaggage);
      {
        std::lock_guard lk(seen.m);
        REQUIRE_FALSE(seen.diagnostics.empty());
        CHECK(seen.diagnostics.back().find("traceparent") != std::string::npos);
        CHECK(seen.diagnostics.back().find("not sent") != std::string::npos);
      }
      // A malformed per-request context fails the request before it is sent.
      o.trace = mcp::TraceContext{kParent, "Bad Key=1", ""};
      auto bad = client->call_tool("srv", "meta", json::object(), o);
      REQUIRE_FALSE(bad);
      CHECK(bad.error().errc() == mcp::Errc::invalid_argument);
      CHECK(bad.error().message.find("tracestate") != std::string::npos);
      auto fb = client->async_call_tool("srv", "meta", json::object(), o, mcp::use_future);
      REQUIRE(fb.wait_for(10s) == std::future_status::ready);
      auto bad_async = fb.get();
      REQUIRE_FALSE(bad_async);
      CHECK(bad_async.error().errc() == mcp::Errc::invalid_argument);

      // The listings carry it too (their pages are requests like any other).
      {
        std::lock_guard lk(seen.m);
        seen.wanted.push_back({kParent, "", ""});
      }
      const int before_list = seen.trace_calls.load();
      REQUIRE(client->list_tools());
      CHECK(seen.trace_calls.load() > before_list);
      client->disconnect();
    }
  }
}

TEST_CASE("trace context: the W3C formats are checked") {
  Seen seen;
  auto client = mcp::Client::create(traced_config(server_config("stdio", 0, mcp::Era::modern), seen, false));
  REQUIRE(client);
  auto refused = [&](mcp::TraceContext t) {
    mcp::RequestOptions o;
    o.trace = std::move(t);
    auto r = client->call_tool("srv", "meta", json::object(), o);
    return !r && r.error().errc() == mcp::Errc::invalid_argument;
  };
  const std::string good = kParent;
  CHECK_FALSE(refused({good, kState, kBaggage}));
  CHECK_FALSE(refused({"01-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01-extra", "", ""}));  // a later version
  CHECK_FALSE(refused({good, "a@b=1, c=2 ,,", "k=v; p; q=1"}));
  CHECK(refused({"00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-0", "", ""}));     // short
  CHECK(refused({"ff-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01", "", ""}));    // version ff
  CHECK(refused({"00-00000000000000000000000000000000-b7ad6b7169203331-01", "", ""}));    // zero trace id
  CHECK(refused({"00-0af7651916cd43dd8448eb211c80319c-0000000000000000-01", "", ""}));    // zero parent id
  CHECK(refused({"00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01-x", "", ""}));  // 00 is exactly 55
  CHECK(refused({"00_0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01", "", ""}));
  CHECK(refused({good, "1abc=x", ""}));    // key starts with a digit
  CHECK(refused({good, "k=a,b", ""}));     // member without '='
  CHECK(refused({good, "k=a=b", ""}));     // "=" in a value
  CHECK(refused({"", kState, ""}));        // tracestate alone
  CHECK(refused({good, "", "k=a b"}));     // space in a baggage value
  CHECK(refused({good, "", "=v"}));        // no key
  CHECK(refused({good, "", "k=\"v\""}));   // quote
  CHECK(refused({good, "", std::string(8193, 'a')}));
  std::string many;
  for (int i = 0; i < 33; ++i) many += (i ? ",k" : "k") + std::to_string(i) + "=v";
  CHECK(refused({good, many, ""}));  // 33 members
}

TEST_CASE("request lifecycle hook: start and end with server, method, era, duration and outcome (ok, error, timeout, cancelled)") {
  for (const mcp::Era era : {mcp::Era::modern, mcp::Era::legacy}) {
    CAPTURE(mcp::to_string(era));
    Seen seen;
    auto client = mcp::Client::create(traced_config(server_config("stdio", 0, era), seen, false));
    REQUIRE(client);
    auto session = client->session("srv");
    REQUIRE(session);
    REQUIRE((*session)->connect());  // the handshake is not a request of the API's
    {
      std::lock_guard lk(seen.m);
      CHECK(seen.events.empty());
    }
    using Outcome = mcp::RequestEvent::Outcome;
    using Phase = mcp::RequestEvent::Phase;
    auto last_two = [&] {
      std::lock_guard lk(seen.m);
      REQUIRE(seen.events.size() >= 2);
      return std::make_pair(seen.events[seen.events.size() - 2], seen.events.back());
    };
    auto last_method = [&] {
      std::lock_guard lk(seen.m);
      return seen.methods.back();
    };

    // ok
    REQUIRE(client->call_tool("srv", "echo", {{"text", "hi"}}));
    auto [s, e] = last_two();
    CHECK(s.phase == Phase::start);
    CHECK(e.phase == Phase::end);
    CHECK(s.id == e.id);
    CHECK(s.era == era);
    CHECK(e.era == era);
    CHECK(e.outcome == Outcome::ok);
    CHECK(e.duration > 0ns);
    CHECK(last_method() == "tools/call");

    // error: the server's code
    auto r = (*session)->request("no/such_method", json::object());
    REQUIRE_FALSE(r);
    std::tie(s, e) = last_two();
    CHECK(e.outcome == Outcome::error);
    CHECK(s.id == e.id);
    CHECK(last_method() == "no/such_method -32601");

    // timeout
    mcp::RequestOptions o;
    o.timeout = 150ms;
    auto t = client->call_tool("srv", "sleep", {{"ms", 3000}}, o);
    REQUIRE_FALSE(t);
    CHECK(t.error().errc() == mcp::Errc::timeout);
    std::tie(s, e) = last_two();
    CHECK(e.outcome == Outcome::timeout);
    CHECK(e.duration >= 150ms);

    // cancelled
    std::stop_source stop;
    mcp::RequestOptions oc;
    oc.stop = stop.get_token();
    std::thread canceller([&] {
      std::this_thread::sleep_for(150ms);
      stop.request_stop();
    });
    auto c = client->call_tool("srv", "sleep", {{"ms", 3000}}, oc);
    canceller.join();
    REQUIRE_FALSE(c);
    CHECK(c.error().errc() == mcp::Errc::cancelled);
    std::tie(s, e) = last_two();
    CHECK(e.outcome == Outcome::cancelled);

    // The asynchronous API: the end event comes before the completion runs.
    std::atomic<bool> ended_first{false};
    auto f = client->async_call_tool("srv", "echo", {{"text", "x"}}, mcp::use_future);
    REQUIRE(f.wait_for(10s) == std::future_status::ready);
    REQUIRE(f.get());
    std::tie(s, e) = last_two();
    CHECK(s.id == e.id);
    CHECK(e.outcome == Outcome::ok);
    std::stop_source astop;
    mcp::RequestOptions ao;
    ao.stop = astop.get_token();
    auto fc = client->async_call_tool("srv", "sleep", {{"ms", 3000}}, ao, mcp::use_future);
    std::this_thread::sleep_for(100ms);
    astop.request_stop();
    REQUIRE(fc.wait_for(10s) == std::future_status::ready);
    CHECK(fc.get().error().errc() == mcp::Errc::cancelled);
    std::tie(s, e) = last_two();
    CHECK(e.outcome == Outcome::cancelled);
    ao = {};
    ao.timeout = 150ms;
    auto ft = client->async_call_tool("srv", "sleep", {{"ms", 3000}}, ao, mcp::use_future);
    REQUIRE(ft.wait_for(10s) == std::future_status::ready);
    CHECK(ft.get().error().errc() == mcp::Errc::timeout);
    std::tie(s, e) = last_two();
    CHECK(e.outcome == Outcome::timeout);

    // Every start has its end, once.
    std::lock_guard lk(seen.m);
    std::map<std::uint64_t, int> balance;
    for (const auto& ev : seen.events) balance[ev.id] += ev.phase == Phase::start ? 1 : -1;
    for (const auto& [id, n] : balance) CHECK(n == 0);
  }
}

TEST_CASE("request lifecycle hook: from many threads at once, asynchronous completions included") {
  Seen seen;
  auto cfg = traced_config(server_config("stdio", 0, mcp::Era::modern), seen);
  seen.wanted.push_back({kParent, "", ""});
  std::atomic<int> starts{0}, ends{0};
  auto record = cfg.on_request;
  cfg.on_request = [&, record](const mcp::RequestEvent& e) {
    (e.phase == mcp::RequestEvent::Phase::start ? starts : ends)++;
    record(e);
  };
  auto client = mcp::Client::create(std::move(cfg));
  REQUIRE(client);
  REQUIRE(client->call_tool("srv", "echo", {{"text", "warm"}}));
  std::vector<std::thread> threads;
  std::atomic<int> ok{0};
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&] {
      std::vector<std::future<mcp::Result<mcp::CallToolResult>>> fs;
      for (int i = 0; i < 25; ++i) {
        fs.push_back(client->async_call_tool("srv", "echo", {{"text", "a"}}, mcp::use_future));
        if (client->call_tool("srv", "echo", {{"text", "b"}})) ++ok;
      }
      for (auto& f : fs)
        if (f.get()) ++ok;
    });
  }
  for (auto& t : threads) t.join();
  CHECK(ok == 200);
  CHECK(starts == 201);
  CHECK(ends == 201);
}
