// mcp::Server against real clients over stdio: the official TypeScript SDK's v1 client (legacy
// era), its v2 client (2026-07-28, input rounds served through requestState) and Mastra's
// MCPClient, all pinned in test/interop (test/interop/server_clients.mjs drives them).
#include "tool_server_path.hpp"
#include "../integration/helpers.hpp"
#include "node_run.hpp"

#include <doctest/doctest.h>
#include <nlohmann/json.hpp>

#include <array>
#include <cstdio>
#include <cstdlib>
#include <string>

using nlohmann::json;

namespace {

// Runs the script with `client` against our tool server (or `target`: a URL and its transport),
// `env` ("NAME=value ") before it; its one line of JSON.
json run_client(const std::string& client, const std::string& target = {}, const std::string& env = {}) {
  return testnode::run("server_clients.mjs", client + " " + (target.empty() ? "'" + tool_server() + "'" : target), 120, env);
}

}  // namespace

TEST_CASE("server interop: the TypeScript SDK v1 client (legacy) and v2 client (2026-07-28) over stdio") {
  for (const char* client : {"v1", "v2"}) {
    CAPTURE(client);
    const json r = run_client(client);
    CAPTURE(r.dump());
    CHECK(r["era"] == (std::string(client) == "v2" ? "modern 2026-07-28" : "legacy"));
    CHECK(r["server"] == "tool-server");
    CHECK(r["tools"].size() >= 10);
    CHECK(r["echo"] == "hi");
    CHECK(r["add"] == json{{"sum", 5}});
    CHECK(r["invalid"]["isError"] == true);
    CHECK(r["resources"] == json::array({"test://static-binary", "test://static-text"}));
    CHECK(r["read"] == "static text");
    CHECK(r["template"] == "data for 7");
    CHECK(r["prompts"] == json::array({"greet"}));
    CHECK(r["prompt"] == "Say hello to Ada in a warm tone");
    CHECK(r["complete"] == json::array({"warm", "wry"}));
    // Two questions in one call: legacy sends two elicitation requests, 2026-07-28 answers
    // input_required twice and the client retries with the sealed state.
    CHECK(r["elicit"] == "Ada+Ada");
    CHECK(r["roots"] == "file:///work");
  }
}

TEST_CASE("server interop: the TypeScript SDK v1 client over Streamable HTTP and 2024-11-05 HTTP+SSE, v2 and Mastra over Streamable HTTP (HttpHost, and mounted in an httplib server)") {
  // --http: the host's own listener; --mount: the host mounted into the tool server's own
  // httplib::Server (mcp/server_httplib.hpp), which answers /health besides.
  for (const char* mode : {"--http", "--mount"}) {
    CAPTURE(mode);
    const int port = testutil::free_port();
    testutil::ServerProcess server({tool_server(), mode, std::to_string(port)}, {},
                                   testutil::temp_path("tool-server-http.log"));
    REQUIRE(testutil::eventually([&] { return testutil::port_open(port); }, 10000));
    const std::string base = "http://127.0.0.1:" + std::to_string(port);
    // v2 on Streamable HTTP: 2026-07-28 (its elicitation in input rounds).
    for (const auto& [client, target] : {std::pair<std::string, std::string>{"v1", base + "/mcp"},
                                         {"v1", base + "/sse sse"},
                                         {"v2", base + "/mcp"}}) {
      CAPTURE(client);
      CAPTURE(target);
      const json r = run_client(client, target);
      CAPTURE(r.dump());
      CHECK(r["era"] == (client == "v2" ? "modern 2026-07-28" : "legacy"));
      CHECK(r["server"] == "tool-server");
      CHECK(r["tools"].size() >= 10);
      CHECK(r["echo"] == "hi");
      CHECK(r["add"] == json{{"sum", 5}});
      CHECK(r["read"] == "static text");
      CHECK(r["prompt"] == "Say hello to Ada in a warm tone");
      CHECK(r["complete"] == json::array({"warm", "wry"}));
      // Requests to the client: on the POST's event stream (Streamable HTTP), on the one stream
      // (HTTP+SSE); the client POSTs its answers.
      CHECK(r["elicit"] == "Ada+Ada");
      CHECK(r["roots"] == "file:///work");
    }
    // Mastra's MCPClient (what the mounting issue takes after) over Streamable HTTP.
    const json r = run_client("mastra", base + "/mcp");
    CAPTURE(r.dump());
    CHECK(r["tools"].size() >= 10);
    CHECK(r["echo"] == "hi");
    CHECK(r["add"] == json{{"sum", 5}});
    CHECK(r["read"] == "static text");
    CHECK(r["prompt"] == "Say hello to Ada");
  }
}

TEST_CASE("server interop: Mastra's MCPClient over stdio") {
  const json r = run_client("mastra");
  CAPTURE(r.dump());
  CHECK(r["tools"].size() >= 10);
  CHECK(r["echo"] == "hi");
  CHECK(r["add"] == json{{"sum", 5}});
  CHECK(r["resources"] == json::array({"test://static-binary", "test://static-text"}));
  CHECK(r["read"] == "static text");
  CHECK(r["prompts"] == json::array({"greet"}));
  CHECK(r["prompt"] == "Say hello to Ada");
}

TEST_CASE("server interop: the TypeScript SDK v1 and v2 clients over HTTPS (HttpHost with TLS, the CA given to Node)") {
  const int port = testutil::free_port();
  const std::string tls = TLS_FIXTURE_DIR;
  testutil::ServerProcess server({tool_server(), "--https", std::to_string(port), tls + "/cert.pem", tls + "/key.pem"}, {},
                                 testutil::temp_path("tool-server-https.log"));
  REQUIRE(testutil::eventually([&] { return testutil::port_open(port); }, 10000));
  const std::string base = "https://127.0.0.1:" + std::to_string(port);
  // Node verifies the certificate (its default) against the fixture, given as an extra CA.
  const std::string env = "NODE_EXTRA_CA_CERTS='" + tls + "/cert.pem' ";
  for (const auto& [client, target] : {std::pair<std::string, std::string>{"v1", base + "/mcp"},
                                       {"v1", base + "/sse sse"},
                                       {"v2", base + "/mcp"}}) {
    CAPTURE(client);
    CAPTURE(target);
    const json r = run_client(client, target, env);
    CAPTURE(r.dump());
    CHECK(r["era"] == (client == "v2" ? "modern 2026-07-28" : "legacy"));
    CHECK(r["server"] == "tool-server");
    CHECK(r["echo"] == "hi");
    CHECK(r["add"] == json{{"sum", 5}});
    CHECK(r["elicit"] == "Ada+Ada");
    CHECK(r["roots"] == "file:///work");
  }
}
