// Behaviours that exist over both transports, one test body each, run against the stdio fault
// fixture and the HTTP fault fixture (testutil::Served).
#include "transports.hpp"

#include <doctest/doctest.h>

#include <atomic>
#include <sstream>
#include <stop_token>
#include <string>
#include <thread>
#include <variant>
#include <vector>

using namespace std::chrono_literals;
using testutil::Over;

namespace {
using Clock = std::chrono::steady_clock;
using testutil::ms_since;

mcp::Client make(const testutil::Served& s, std::size_t max_message_bytes = 0) {
  auto server = s.server();
  if (max_message_bytes) std::visit([&](auto& t) { t.max_message_bytes = max_message_bytes; }, server.transport);
  auto cfg = testutil::one("cc", std::move(server));
  cfg.request_timeout = 10s;
  auto c = mcp::Client::create(std::move(cfg));
  REQUIRE_MESSAGE(c.has_value(), (c ? "" : c.error().what()));
  return std::move(*c);
}
}  // namespace

TEST_CASE("concurrent callers on one client get their own replies, and nothing leaks after disconnect") {
  for (const Over over : testutil::kBothTransports) {
    CAPTURE(over);
    testutil::Resources before;
    {
      // stdio: every reply delayed, so the calls overlap; HTTP: legacy with every reply on SSE.
      testutil::Served s(over, {"--era", "legacy", "--delay-ms", "20"}, {"--mode", "legacy", "--sse"});
      auto client = make(s);
      auto tools = client.list_tools();
      REQUIRE(tools);
      const auto& echo = tools->at("cc_echo");
      std::atomic<int> ok{0}, bad{0};
      std::vector<std::thread> threads;
      for (int t = 0; t < 8; ++t)
        threads.emplace_back([&, t] {
          for (int i = 0; i < 10; ++i) {
            const std::string msg = "t" + std::to_string(t) + "-" + std::to_string(i);
            // Both routes: the Tool handle and Client::call_tool.
            auto r = t % 2 ? echo.call({{"message", msg}}) : client.call_tool("cc", "echo", {{"message", msg}});
            if (r && r->text() == msg) ++ok;
            else ++bad;
          }
        });
      for (auto& th : threads) th.join();
      CHECK(ok == 80);
      CHECK(bad == 0);
      client.disconnect();
      if (s.http()) CHECK(s.fixture().count("DELETE") == 1);
    }
    CHECK_NO_LEAKS(before);
  }
}

TEST_CASE("a reply larger than the configured maximum is message_too_large, and the connection carries on") {
  for (const Over over : testutil::kBothTransports) {
    CAPTURE(over);
    // stdio: a 2 MiB line; HTTP: a 50 MiB SSE event (--big-event ignores the argument).
    testutil::Served s(over, {"--era", "legacy"}, {"--mode", "modern", "--big-event", std::to_string(50u << 20)});
    auto client = make(s, 1u << 20);
    auto r = client.call_tool("cc", "big", {{"bytes", 2 << 20}});
    REQUIRE_FALSE(r);
    CHECK(r.error().errc() == mcp::Errc::message_too_large);
    auto ok = client.call_tool("cc", "echo", {{"message", "recovered"}});
    REQUIRE(ok);
    CHECK(ok->text() == "recovered");
    CHECK(client.list_tools());
  }
}

TEST_CASE("cancellation through a stop_token: stdio sends notifications/cancelled; modern HTTP closes the "
          "request's stream and posts none") {
  for (const Over over : testutil::kBothTransports) {
    CAPTURE(over);
    const auto log = testutil::temp_path("cancel.log");
    testutil::Served s(over, {"--era", "legacy", "--log", log}, {"--mode", "modern", "--sse"});
    auto client = make(s);
    REQUIRE(client.server_info("cc"));
    REQUIRE(client.list_tools());
    std::stop_source src;
    mcp::RequestOptions o;
    o.stop = src.get_token();
    std::thread canceller([&] {
      std::this_thread::sleep_for(200ms);
      src.request_stop();
    });
    auto t0 = Clock::now();
    auto r = client.call_tool("cc", "sleep", {{"ms", 5000}}, o);
    canceller.join();
    REQUIRE_FALSE(r);
    CHECK(r.error().errc() == mcp::Errc::cancelled);
    CHECK(ms_since(t0) < 2000);
    if (s.http()) {
      CHECK(s.fixture().count("POST", "notifications/cancelled") == 0);
    } else {
      CHECK(testutil::eventually([&] {
        std::istringstream in(testutil::read_file(log));
        for (std::string line; std::getline(in, line);) {
          const auto l = nlohmann::json::parse(line, nullptr, false);
          if (l.is_object() && l.value("method", "") == "notifications/cancelled") return l["params"].contains("requestId");
        }
        return false;
      }));
    }
    CHECK(client.call_tool("cc", "echo", {{"message", "after"}}));
    // Already-stopped token: fails at once.
    auto r2 = client.call_tool("cc", "echo", {{"message", "x"}}, o);
    REQUIRE_FALSE(r2);
    CHECK(r2.error().errc() == mcp::Errc::cancelled);
  }
}
