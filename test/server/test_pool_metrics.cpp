// mcp::Metrics end to end: a ClientPool whose tenants call test/servers/tool_server (one over
// Streamable HTTP in the modern era, one over stdio in the legacy era), with the metrics hook
// composed with the application's own; the scrape is read by a parser that is not ours
// (prometheus_client, through test/prometheus_check.py), and what it reads is what was done.
#include "tool_server_path.hpp"
#include "../integration/helpers.hpp"

#include <mcp/metrics.hpp>
#include <mcp/pool.hpp>

#include <doctest/doctest.h>
#include <nlohmann/json.hpp>

#include <atomic>
#include <cstdio>
#include <fstream>
#include <map>

using namespace std::chrono_literals;
using nlohmann::json;

namespace {

// What prometheus_check.py makes of `text`: {"families": {name: type}, "samples": [...]}.
json read_with_prometheus_client(const std::string& text) {
  const std::string path = testutil::temp_path("scrape.txt");
  std::ofstream(path) << text;
  const std::string command = "/usr/bin/python3 " PROMETHEUS_CHECK_PATH " " + path + " 2>&1";
  FILE* p = ::popen(command.c_str(), "r");
  REQUIRE(p != nullptr);
  std::string out;
  char buf[4096];
  for (std::size_t n; (n = std::fread(buf, 1, sizeof buf, p)) > 0;) out.append(buf, n);
  const int status = ::pclose(p);
  ::unlink(path.c_str());
  INFO("prometheus_check.py (needs python3-prometheus-client: scripts/setup.sh) said: " << out);
  REQUIRE(status == 0);
  return json::parse(out);
}

// The value of the sample with exactly these labels, or -1.
double sample(const json& doc, const std::string& name, const std::map<std::string, std::string>& labels) {
  for (const auto& s : doc["samples"])
    if (s["name"] == name && s["labels"].get<std::map<std::string, std::string>>() == labels) return s["value"].get<double>();
  return -1;
}

}  // namespace

TEST_CASE("metrics end to end: pooled tenants call tool_server over HTTP and stdio; prometheus_client reads what they did") {
  const int port = testutil::free_port();
  testutil::ServerProcess http_server({tool_server(), "--http", std::to_string(port)}, {},
                                      testutil::temp_path("metrics-tool-server.log"));
  REQUIRE(testutil::eventually([&] { return testutil::port_open(port); }, 10000));

  mcp::Metrics metrics;
  std::atomic<int> own_hook{0};
  mcp::PoolOptions options;
  options.factory = [&](const std::string& tenant) -> mcp::Result<mcp::ClientConfig> {
    mcp::ClientConfig config;
    auto& server = config.servers["tools"];
    if (tenant == "over-http") {
      mcp::HttpServerConfig http;
      http.url = "http://127.0.0.1:" + std::to_string(port) + "/mcp";
      http.transport = mcp::HttpTransportKind::streamable_http;
      server.transport = std::move(http);
      server.era = mcp::Era::modern;
    } else {
      mcp::StdioServerConfig stdio;
      stdio.command = tool_server();
      stdio.shutdown_grace = 500ms;
      server.transport = std::move(stdio);
      server.era = mcp::Era::legacy;
    }
    config.on_request = metrics.hook([&](const mcp::RequestEvent&) { ++own_hook; });
    return config;
  };
  auto pool = mcp::ClientPool::create(std::move(options));
  REQUIRE(pool);
  metrics.add_pool("tenants", **pool);

  for (const std::string tenant : {"over-http", "over-stdio"}) {
    CAPTURE(tenant);
    for (int i = 0; i < 3; ++i) {
      auto lease = (*pool)->acquire(tenant);
      REQUIRE(lease);
      auto r = (*lease)->call_tool("tools", "echo", {{"text", "hi"}});
      REQUIRE(r);
      CHECK(r->text() == "hi");
    }
    auto lease = (*pool)->acquire(tenant);
    REQUIRE(lease);
    auto refused = (*lease)->call_tool("tools", "refuses");
    REQUIRE_FALSE(refused);
    CHECK(refused.error().errc() == mcp::Errc::rpc_error);
    mcp::RequestOptions quick;
    quick.timeout = 200ms;
    auto slow = (*lease)->call_tool("tools", "sleep", {{"ms", 3000}}, quick);
    REQUIRE_FALSE(slow);
    CHECK(slow.error().errc() == mcp::Errc::timeout);
  }
  (*pool)->evict("over-stdio");

  const json doc = read_with_prometheus_client(metrics.text());
  const auto& families = doc["families"];
  CHECK(families["mcp_client_request_duration_seconds"] == "histogram");
  CHECK(families["mcp_client_request_errors"] == "counter");  // the parser drops _total from a counter's family
  CHECK(families["mcp_client_requests_in_flight"] == "gauge");
  CHECK(families["mcp_pool_hits"] == "counter");
  CHECK(families["mcp_pool_evictions"] == "counter");
  CHECK(families["mcp_pool_clients"] == "gauge");

  const std::string count = "mcp_client_request_duration_seconds_count";
  for (const std::string era : {"modern", "legacy"}) {
    CAPTURE(era);
    auto labels = [&](const char* outcome) {
      return std::map<std::string, std::string>{{"server", "tools"}, {"method", "tools/call"}, {"era", era}, {"outcome", outcome}};
    };
    CHECK(sample(doc, count, labels("ok")) == 3);
    CHECK(sample(doc, count, labels("error")) == 1);
    CHECK(sample(doc, count, labels("timeout")) == 1);
    CHECK(sample(doc, "mcp_client_request_duration_seconds_sum", labels("timeout")) >= 0.2);
    auto bucket = labels("timeout");
    bucket["le"] = "0.1";
    CHECK(sample(doc, "mcp_client_request_duration_seconds_bucket", bucket) == 0);  // it took the 200 ms
    bucket["le"] = "+Inf";
    CHECK(sample(doc, "mcp_client_request_duration_seconds_bucket", bucket) == 1);
  }
  const std::map<std::string, std::string> call{{"server", "tools"}, {"method", "tools/call"}};
  auto kind = [&](const char* k) {
    auto l = call;
    l["kind"] = k;
    return l;
  };
  CHECK(sample(doc, "mcp_client_request_errors_total", kind("protocol")) == 2);
  CHECK(sample(doc, "mcp_client_request_errors_total", kind("timeout")) == 2);
  CHECK(sample(doc, "mcp_client_requests_in_flight", call) == 0);

  const std::map<std::string, std::string> tenants{{"pool", "tenants"}};
  CHECK(sample(doc, "mcp_pool_misses_total", tenants) == 2);
  CHECK(sample(doc, "mcp_pool_hits_total", tenants) == 6);
  CHECK(sample(doc, "mcp_pool_creations_total", tenants) == 2);
  CHECK(sample(doc, "mcp_pool_evictions_total", {{"pool", "tenants"}, {"reason", "explicit"}}) == 1);
  CHECK(sample(doc, "mcp_pool_clients", tenants) == 1);
  CHECK(sample(doc, "mcp_pool_clients_leased", tenants) == 0);

  // The application's hook saw a start and an end of every request the metrics counted.
  double ended = 0;
  for (const auto& s : doc["samples"])
    if (s["name"] == count) ended += s["value"].get<double>();
  CHECK(own_hook.load() == 2 * static_cast<int>(ended));
  metrics.remove_pool("tenants");
}
