// Interop over stdio with the pinned reference servers from npm (test/interop/package.json):
// server-everything speaks the legacy era, our Mastra-based server only the modern one.
// Same client code for both.
#include "interop_helpers.hpp"

#include <doctest/doctest.h>

#include <atomic>
#include <cstdlib>
#include <filesystem>
#include <mutex>
#include <thread>
#include <vector>

namespace fs = std::filesystem;
using nlohmann::json;

namespace {

using testutil::everything;
using testutil::node_server;

mcp::ServerConfig mastra() { return node_server({testutil::mastra_js(), "stdio"}); }

}  // namespace

TEST_CASE("server-everything (legacy era) and the Mastra server (modern era) through one client") {
  testutil::Resources before;
  {
    mcp::ClientConfig cfg;
    cfg.id = "interop";
    cfg.servers.emplace("everything", everything());
    cfg.servers.emplace("mastra", mastra());
    cfg.request_timeout = std::chrono::milliseconds(20000);
    auto client = mcp::Client::create(cfg);
    REQUIRE(client);

    auto tools = client->list_tools();
    REQUIRE_MESSAGE(tools, (tools ? "" : tools.error().what()));
    CHECK(tools->count("everything_get-sum") == 1);
    CHECK(tools->count("everything_echo") == 1);
    CHECK(tools->count("mastra_get-sum") == 1);
    CHECK(tools->count("mastra_echo") == 1);

    auto ev = client->server_info("everything");
    REQUIRE(ev);
    CHECK(ev->era == mcp::Era::legacy);
    CHECK(ev->protocol_version == "2025-11-25");
    auto ma = client->server_info("mastra");
    REQUIRE(ma);
    CHECK(ma->era == mcp::Era::modern);
    CHECK(ma->protocol_version == "2026-07-28");
    CHECK(ma->implementation.name == "mastra-interop");

    for (const char* key : {"everything_get-sum", "mastra_get-sum"}) {
      CAPTURE(key);
      auto r = tools->at(key).call({{"a", 2}, {"b", 3}});
      REQUIRE_MESSAGE(r, (r ? "" : r.error().what()));
      CHECK_FALSE(r->is_error);
      CHECK(r->text().find('5') != std::string::npos);
    }
    auto structured = tools->at("mastra_get-sum").call({{"a", 20}, {"b", 22}});
    REQUIRE(structured);
    REQUIRE(structured->structured_content);
    CHECK((*structured->structured_content)["result"] == 42);

    auto sets = client->list_toolsets();
    REQUIRE(sets);
    auto echo = sets->at("everything").at("echo").call({{"message", "hello legacy"}});
    REQUIRE(echo);
    CHECK(echo->text().find("hello legacy") != std::string::npos);
    auto echo2 = sets->at("mastra").at("echo").call({{"message", "hello modern"}});
    REQUIRE(echo2);
    CHECK(echo2->text() == "hello modern");

    auto failed = client->call_tool("mastra", "fail");
    REQUIRE(failed);
    CHECK(failed->is_error);

    client->disconnect();
  }
  CHECK_NO_LEAKS(before);
}

TEST_CASE("concurrent calls against the real servers are matched correctly") {
  mcp::ClientConfig cfg;
  cfg.id = "interop-concurrent";
  cfg.servers.emplace("everything", everything());
  cfg.servers.emplace("mastra", mastra());
  auto client = mcp::Client::create(cfg);
  REQUIRE(client);
  std::atomic<int> ok{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 6; ++t) {
    threads.emplace_back([&, t] {
      const std::string server = t % 2 ? "mastra" : "everything";
      for (int i = 0; i < 10; ++i) {
        auto r = client->call_tool(server, "get-sum", {{"a", t}, {"b", i}});
        if (r && r->text().find(std::to_string(t + i)) != std::string::npos) ++ok;
      }
    });
  }
  for (auto& th : threads) th.join();
  CHECK(ok == 60);
}

// ---------------------------------------------------------------- over HTTP

namespace {

std::string node() { return testutil::interop_node(); }

mcp::ServerConfig http(const std::string& url) {
  mcp::HttpServerConfig h;
  h.url = url;
  mcp::ServerConfig sc;
  sc.transport = h;
  return sc;
}

bool wait_port(int port) {
  return testutil::eventually([&] { return testutil::port_open(port); }, 15000);
}

}  // namespace

TEST_CASE("over HTTP: server-everything Streamable HTTP and HTTP+SSE (legacy), Mastra (modern)") {
  REQUIRE_MESSAGE(fs::exists(node()), "interop packages missing: run `npm ci --prefix test/interop`");
  const int p_stream = testutil::free_port(), p_sse = testutil::free_port(), p_mastra = testutil::free_port();
  const std::string everything_js = testutil::everything_js();
  testutil::ServerProcess s1({node(), everything_js, "streamableHttp"}, {"PORT=" + std::to_string(p_stream)},
                             testutil::temp_path("everything-http.log"));
  testutil::ServerProcess s2({node(), everything_js, "sse"}, {"PORT=" + std::to_string(p_sse)},
                             testutil::temp_path("everything-sse.log"));
  testutil::ServerProcess s3({node(), testutil::mastra_js(), "http", std::to_string(p_mastra)}, {},
                             testutil::temp_path("mastra-http.log"));
  REQUIRE(wait_port(p_stream));
  REQUIRE(wait_port(p_sse));
  REQUIRE(wait_port(p_mastra));

  testutil::Resources before;
  {
    mcp::ClientConfig cfg;
    cfg.id = "interop-http";
    cfg.servers.emplace("streamable", http("http://127.0.0.1:" + std::to_string(p_stream) + "/mcp"));
    cfg.servers.emplace("sse", http("http://127.0.0.1:" + std::to_string(p_sse) + "/sse"));
    cfg.servers.emplace("mastra", http("http://127.0.0.1:" + std::to_string(p_mastra) + "/mcp"));
    cfg.request_timeout = std::chrono::milliseconds(20000);
    auto client = mcp::Client::create(cfg);
    REQUIRE(client);
    auto tools = client->list_tools();
    REQUIRE_MESSAGE(tools, (tools ? "" : tools.error().what()));
    for (const char* key : {"streamable_get-sum", "sse_get-sum", "mastra_get-sum"}) {
      CAPTURE(key);
      REQUIRE(tools->count(key) == 1);
      auto r = tools->at(key).call({{"a", 2}, {"b", 3}});
      REQUIRE_MESSAGE(r, (r ? "" : r.error().what()));
      CHECK(r->text().find("5") != std::string::npos);
    }
    CHECK(client->server_info("streamable")->era == mcp::Era::legacy);
    CHECK(client->server_info("sse")->era == mcp::Era::legacy);
    CHECK(client->server_info("mastra")->era == mcp::Era::modern);

    std::atomic<int> ok{0};
    std::vector<std::thread> threads;
    for (int t = 0; t < 6; ++t) {
      threads.emplace_back([&, t] {
        const char* server = t % 3 == 0 ? "streamable" : t % 3 == 1 ? "sse" : "mastra";
        for (int i = 0; i < 5; ++i) {
          auto r = client->call_tool(server, "get-sum", {{"a", t}, {"b", i}});
          if (r && r->text().find(std::to_string(t + i)) != std::string::npos) ++ok;
        }
      });
    }
    for (auto& th : threads) th.join();
    CHECK(ok == 30);
    client->disconnect();
  }
  CHECK_NO_LEAKS(before);
}

TEST_CASE("over HTTP: a burst of 2,000 calls from 250 threads on one Node server all succeed") {
  REQUIRE_MESSAGE(fs::exists(node()), "interop packages missing: run `npm ci --prefix test/interop`");
  const int port = testutil::free_port();
  testutil::ServerProcess server({node(), testutil::mastra_js(), "http", std::to_string(port)}, {},
                                 testutil::temp_path("mastra-burst.log"));
  REQUIRE(wait_port(port));
  mcp::ClientConfig cfg;
  cfg.id = "interop-burst";
  cfg.servers.emplace("m", http("http://127.0.0.1:" + std::to_string(port) + "/mcp"));
  cfg.request_timeout = std::chrono::milliseconds(30000);
  auto client = mcp::Client::create(cfg);
  REQUIRE(client);
  REQUIRE(client->list_tools());
  std::atomic<int> ok{0};
  std::atomic<bool> go{false};
  std::string first_error;
  std::mutex m;
  std::vector<std::thread> threads;
  for (int t = 0; t < 250; ++t)
    threads.emplace_back([&, t] {
      while (!go) std::this_thread::yield();
      for (int i = 0; i < 8; ++i) {
        auto r = client->call_tool("m", "get-sum", {{"a", t}, {"b", i}});
        if (r && r->text().find(std::to_string(t + i)) != std::string::npos) {
          ++ok;
        } else {
          std::lock_guard lk(m);
          if (first_error.empty()) first_error = r ? r->text() : r.error().what();
        }
      }
    });
  const auto t0 = std::chrono::steady_clock::now();
  go = true;
  for (auto& th : threads) th.join();
  MESSAGE("2000 calls in " << std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - t0).count() << " ms");
  CHECK_MESSAGE(ok == 2000, first_error);
}
