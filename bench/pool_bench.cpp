// SPDX-License-Identifier: MIT
// Pool benchmark: acquire latency on a hit, per-request cost with the pool versus a fresh
// client per request (stdio and HTTP), client memory per pooled idle client, and a churn of
// many tenants through a small pool. Bounded in count and time; prints a Markdown table and
// writes JSON results.
//
//   pool_bench DEMO_SERVER HTTP_FIXTURE [--smoke] [--json FILE]
#include <mcp/pool.hpp>

#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <iostream>
#include <sstream>
#include <string>
#include <vector>

extern char** environ;

namespace {

using Clock = std::chrono::steady_clock;
using nlohmann::json;

double us_since(Clock::time_point t) {
  return std::chrono::duration<double, std::micro>(Clock::now() - t).count();
}

long rss_kib() {
  std::ifstream f("/proc/self/status");
  std::string line;
  while (std::getline(f, line))
    if (line.rfind("VmRSS:", 0) == 0) return std::stol(line.substr(6));
  return 0;
}

double median(std::vector<double> v) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}
double pct(std::vector<double> v, double p) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  return v[std::min(v.size() - 1, static_cast<std::size_t>(p * v.size()))];
}

// The HTTP fixture server in modern mode, on an ephemeral port.
// It exits when its stdin closes: we hold the pipe open for its lifetime.
struct HttpServer {
  pid_t pid = -1;
  int port = 0;
  int stdin_fd = -1;
  explicit HttpServer(const std::string& exe) {
    int out[2], in[2];
    if (::pipe2(out, O_CLOEXEC) != 0 || ::pipe2(in, O_CLOEXEC) != 0) return;
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_adddup2(&fa, out[1], 1);
    posix_spawn_file_actions_adddup2(&fa, in[0], 0);
    std::vector<std::string> args{exe, "--port", "0", "--mode", "modern"};
    std::vector<char*> argv;
    for (auto& a : args) argv.push_back(a.data());
    argv.push_back(nullptr);
    if (::posix_spawn(&pid, exe.c_str(), &fa, nullptr, argv.data(), environ) != 0) pid = -1;
    posix_spawn_file_actions_destroy(&fa);
    ::close(out[1]);
    ::close(in[0]);
    stdin_fd = in[1];
    std::string line;
    char c;
    while (::read(out[0], &c, 1) == 1 && c != '\n') line += c;
    ::close(out[0]);
    if (line.rfind("PORT ", 0) == 0) port = std::stoi(line.substr(5));
  }
  ~HttpServer() {
    if (stdin_fd >= 0) ::close(stdin_fd);
    if (pid > 0) {
      ::kill(pid, SIGTERM);
      ::waitpid(pid, nullptr, 0);
    }
  }
  std::string url() const { return "http://127.0.0.1:" + std::to_string(port) + "/mcp"; }
};

mcp::ClientConfig stdio_config(const std::string& demo, const std::string& tenant) {
  mcp::ClientConfig cfg;
  mcp::StdioServerConfig st;
  st.command = demo;
  st.args = {"--name", "math"};
  st.env["TENANT"] = tenant;
  cfg.servers["math"].transport = st;
  return cfg;
}

mcp::ClientConfig http_config(const std::string& url, const std::string& tenant) {
  mcp::ClientConfig cfg;
  mcp::HttpServerConfig h;
  h.url = url;
  h.headers["Authorization"] = "Bearer " + tenant;
  cfg.servers["echo"].transport = h;
  return cfg;
}

struct Row {
  std::string figure, value;
};

}  // namespace

int main(int argc, char** argv) {
  if (argc < 3) {
    std::cerr << "usage: pool_bench DEMO_SERVER HTTP_FIXTURE [--smoke] [--json FILE]\n";
    return 2;
  }
  const std::string demo = argv[1], fixture = argv[2];
  bool smoke = false;
  std::string json_out;
  for (int i = 3; i < argc; ++i) {
    std::string a = argv[i];
    if (a == "--smoke") smoke = true;
    else if (a == "--json" && i + 1 < argc) json_out = argv[++i];
  }
  const int requests = smoke ? 5 : 200;
  const int idle_clients = smoke ? 5 : 200;
  const int churn = smoke ? 50 : 10000;

  HttpServer http(fixture);
  if (http.port == 0) {
    std::cerr << "pool_bench: could not start " << fixture << "\n";
    return 1;
  }
  std::vector<Row> rows;
  json results = json::object();
  auto call_stdio = [](mcp::Client& c) { return c.call_tool("math", "add", {{"a", 2}, {"b", 3}}); };
  auto call_http = [](mcp::Client& c) { return c.call_tool("echo", "echo", {{"message", "hi"}}); };

  // 1. acquire on a hit
  {
    mcp::PoolOptions o;
    o.factory = [&](const std::string& t) -> mcp::Result<mcp::ClientConfig> { return http_config(http.url(), t); };
    auto pool = std::move(*mcp::ClientPool::create(o));
    { auto warm = pool->acquire("t"); }
    std::vector<double> lat;
    const int n = smoke ? 1000 : 100000;
    for (int i = 0; i < n; ++i) {
      auto t0 = Clock::now();
      auto l = pool->acquire("t");
      lat.push_back(us_since(t0));
    }
    results["acquire_hit_us_p50"] = median(lat);
    results["acquire_hit_us_p99"] = pct(lat, 0.99);
    char buf[128];
    std::snprintf(buf, sizeof buf, "%.2f us (p99 %.2f us)", median(lat), pct(lat, 0.99));
    rows.push_back({"acquire latency on a hit, p50", buf});
  }

  // 2. per-request cost: pool vs a fresh client per request
  for (const bool use_http : {false, true}) {
    const char* kind = use_http ? "http" : "stdio";
    auto config = [&](const std::string& t) { return use_http ? http_config(http.url(), t) : stdio_config(demo, t); };
    mcp::PoolOptions o;
    o.factory = [&](const std::string& t) -> mcp::Result<mcp::ClientConfig> { return config(t); };
    auto pool = std::move(*mcp::ClientPool::create(o));
    std::vector<double> pooled, fresh;
    int failures = 0;
    for (int i = 0; i < requests; ++i) {
      auto t0 = Clock::now();
      auto l = pool->acquire("tenant-" + std::to_string(i % 10));
      auto r = l ? (use_http ? call_http(**l) : call_stdio(**l)) : mcp::Result<mcp::CallToolResult>(mcp::fail(l.error()));
      if (!r) ++failures;
      pooled.push_back(us_since(t0));
    }
    for (int i = 0; i < requests; ++i) {
      auto t0 = Clock::now();
      auto cfg = config("fresh-" + std::to_string(i));
      auto c = mcp::Client::create(std::move(cfg));
      auto r = c ? (use_http ? call_http(*c) : call_stdio(*c)) : mcp::Result<mcp::CallToolResult>(mcp::fail(c.error()));
      if (!r) ++failures;
      if (c) c->disconnect();
      fresh.push_back(us_since(t0));
    }
    results[std::string("per_request_pooled_us_") + kind] = median(pooled);
    results[std::string("per_request_fresh_us_") + kind] = median(fresh);
    results[std::string("failures_") + kind] = failures;
    char buf[160];
    std::snprintf(buf, sizeof buf, "%.0f us pooled vs %.0f us fresh (%.1fx)", median(pooled), median(fresh),
                  median(fresh) / std::max(1.0, median(pooled)));
    rows.push_back({std::string("per-request cost, ") + kind + " (p50)", buf});
    if (failures) rows.push_back({std::string("FAILED calls, ") + kind, std::to_string(failures)});
  }

  // 3. memory per pooled idle client (HTTP, connected: tools listed once)
  {
    mcp::PoolOptions o;
    o.max_clients = static_cast<std::size_t>(idle_clients) + 10;
    o.factory = [&](const std::string& t) -> mcp::Result<mcp::ClientConfig> { return http_config(http.url(), t); };
    auto pool = std::move(*mcp::ClientPool::create(o));
    { auto warm = pool->acquire("warm"); if (warm) (void)(*warm)->list_tools(); }
    const long before = rss_kib();
    for (int i = 0; i < idle_clients; ++i) {
      auto l = pool->acquire("idle-" + std::to_string(i));
      if (l) (void)(*l)->list_tools();
    }
    const long after = rss_kib();
    const double per = static_cast<double>(after - before) / idle_clients;
    results["rss_per_idle_http_client_kib"] = per;
    char buf[96];
    std::snprintf(buf, sizeof buf, "%.1f KiB (%d clients)", per, idle_clients);
    rows.push_back({"client RSS per pooled idle HTTP client", buf});
  }

  // 4. churn: many tenants through a small pool
  {
    mcp::PoolOptions o;
    o.max_clients = 100;
    o.factory = [&](const std::string& t) -> mcp::Result<mcp::ClientConfig> { return http_config(http.url(), t); };
    auto pool = std::move(*mcp::ClientPool::create(o));
    int failures = 0;
    const auto t0 = Clock::now();
    const auto limit = t0 + std::chrono::seconds(smoke ? 20 : 240);
    int done = 0;
    for (; done < churn && Clock::now() < limit; ++done) {
      auto l = pool->acquire("churn-" + std::to_string(done));
      if (!l || !call_http(**l)) ++failures;
    }
    const double secs = us_since(t0) / 1e6;
    pool->clear();
    auto s = pool->stats();
    results["churn_tenants"] = done;
    results["churn_seconds"] = secs;
    results["churn_failures"] = failures;
    results["churn_evictions"] = s.evictions_lru;
    char buf[160];
    std::snprintf(buf, sizeof buf, "%d tenants in %.1f s (%.0f/s), %llu LRU evictions, %d failures", done, secs,
                  done / std::max(secs, 1e-9), static_cast<unsigned long long>(s.evictions_lru), failures);
    rows.push_back({"tenant churn through a pool of 100 (HTTP)", buf});
  }

  std::cout << "| pool figure | value |\n|---|---|\n";
  for (const auto& r : rows) std::cout << "| " << r.figure << " | " << r.value << " |\n";
  if (!json_out.empty()) std::ofstream(json_out) << results.dump(2) << "\n";
  const bool ok = results.value("failures_stdio", 0) == 0 && results.value("failures_http", 0) == 0 &&
                  results.value("churn_failures", 0) == 0;
  return ok ? 0 : 1;
}
