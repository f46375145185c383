// SPDX-License-Identifier: MIT
// Pool benchmark: acquire latency on a hit, per-request cost with the pool versus a fresh
// client per request (stdio and HTTP), client memory per pooled idle client, and a churn of
// many tenants through a small pool. Bounded in count and time; prints a Markdown table and
// writes JSON results.
//
// With --scale BENCH_SERVER, the scale case (issue 20): 10,000 and 100,000 pooled tenants of one
// modern HTTP server, and as many of one legacy server (sessions), each with a shared connection
// pool (mcp::HttpConnectionShare) and without: client-side sockets, threads, RSS per idle pooled
// client, acquire latency (a hit) and acquire + call latency, p50 and p99. BENCH_SERVER is
// bench/bench_server (our libmcp-server, both eras, sessions for legacy clients). Raises the
// soft descriptor limit to the hard one; a configuration whose sockets cannot fit under it is
// skipped and reported. Each configuration's set-up stops at --scale-limit seconds (default 40)
// and reports how many tenants it reached.
//
//   pool_bench DEMO_SERVER HTTP_FIXTURE [--smoke] [--json FILE]
//              [--scale BENCH_SERVER [--scale-tenants 10000,100000] [--scale-limit S] [--scale-only]]
#include <mcp/pool.hpp>

#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <dirent.h>
#include <malloc.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <iostream>
#include <mutex>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

extern char** environ;

namespace {

using Clock = std::chrono::steady_clock;
using nlohmann::json;

double us_since(Clock::time_point t) {
  return std::chrono::duration<double, std::micro>(Clock::now() - t).count();
}

long rss_kib() {
  // Freed heap handed back first: what an earlier case freed must not count as this one's.
  ::malloc_trim(0);
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

// The HTTP fixture server in modern mode (or `args`), on an ephemeral port.
// It exits when its stdin closes: we hold the pipe open for its lifetime.
struct HttpServer {
  pid_t pid = -1;
  int port = 0;
  int stdin_fd = -1;
  explicit HttpServer(const std::string& exe, std::vector<std::string> extra = {"--mode", "modern"}) {
    int out[2], in[2];
    if (::pipe2(out, O_CLOEXEC) != 0 || ::pipe2(in, O_CLOEXEC) != 0) return;
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_adddup2(&fa, out[1], 1);
    posix_spawn_file_actions_adddup2(&fa, in[0], 0);
    std::vector<std::string> args{exe, "--port", "0"};
    args.insert(args.end(), extra.begin(), extra.end());
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

// Descriptors of this process that are sockets, and all of them.
std::size_t count_fds(bool sockets_only) {
  std::size_t n = 0;
  if (DIR* d = ::opendir("/proc/self/fd")) {
    while (auto* e = ::readdir(d)) {
      if (e->d_name[0] == '.') continue;
      if (!sockets_only) {
        ++n;
        continue;
      }
      char target[64];
      const std::string path = std::string("/proc/self/fd/") + e->d_name;
      const auto len = ::readlink(path.c_str(), target, sizeof target - 1);
      if (len > 0 && std::string(target, static_cast<std::size_t>(len)).rfind("socket:", 0) == 0) ++n;
    }
    ::closedir(d);
  }
  return n;
}

std::size_t count_threads() {
  std::size_t n = 0;
  if (DIR* d = ::opendir("/proc/self/task")) {
    while (auto* e = ::readdir(d))
      if (e->d_name[0] != '.') ++n;
    ::closedir(d);
  }
  return n;
}

// The soft descriptor limit raised to the hard one; the limit now.
rlim_t raise_fd_limit() {
  rlimit r{};
  if (::getrlimit(RLIMIT_NOFILE, &r) != 0) return 1024;
  if (r.rlim_cur < r.rlim_max) {
    r.rlim_cur = r.rlim_max;
    (void)::setrlimit(RLIMIT_NOFILE, &r);
    (void)::getrlimit(RLIMIT_NOFILE, &r);
  }
  return r.rlim_cur;
}

// How many ephemeral ports one source address has (net.ipv4.ip_local_port_range), 0: unknown.
std::size_t ephemeral_ports() {
  std::ifstream in("/proc/sys/net/ipv4/ip_local_port_range");
  long lo = 0, hi = 0;
  if (!(in >> lo >> hi) || hi < lo) return 0;
  return static_cast<std::size_t>(hi - lo + 1);
}

// One configuration of the scale case: `tenants` pooled clients of the server at `url`
// (legacy: the era pinned, so each opens a session), with a shared connection pool or without.
json scale_case(const std::string& url, std::size_t tenants, bool legacy, bool share_on, int limit_s, rlim_t fd_limit) {
  json r{{"tenants", tenants}, {"era", legacy ? "legacy" : "modern"}, {"share", share_on}};
  // Without a share (or with a legacy server) every idle client keeps its own socket.
  const std::size_t needed = (share_on && !legacy ? 64 : tenants) + count_fds(false) + 64;
  if (needed > fd_limit) {
    r["skipped"] = "needs about " + std::to_string(needed) + " descriptors, the limit is " + std::to_string(fd_limit);
    return r;
  }
  // Every socket to the one server port needs an ephemeral port of its own (one source address).
  if (const std::size_t ports = ephemeral_ports(); !(share_on && !legacy) && ports > 0 && tenants + 64 > ports) {
    r["skipped"] = "needs " + std::to_string(tenants) + " connections to one server port; one source address has " +
                   std::to_string(ports) + " ephemeral ports (net.ipv4.ip_local_port_range)";
    return r;
  }
  auto share = share_on ? mcp::HttpConnectionShare::create() : nullptr;
  mcp::PoolOptions o;
  o.max_clients = tenants;
  o.idle_ttl = std::chrono::hours(1);
  o.http_connections = share;
  o.factory = [&](const std::string& t) -> mcp::Result<mcp::ClientConfig> {
    auto cfg = http_config(url, t);
    if (legacy) cfg.servers["echo"].era = mcp::Era::legacy;
    return cfg;
  };
  const std::size_t sockets0 = count_fds(true), threads0 = count_threads();
  const long rss0 = rss_kib();
  auto pool = std::move(*mcp::ClientPool::create(std::move(o)));  // o's share: the pool's (and ours) alone
  // Set-up: every tenant's client made and called once (4 threads, bounded in time).
  std::atomic<std::size_t> next{0};
  std::atomic<int> failures{0};
  std::string first_failure;
  std::mutex fm;
  const auto t0 = Clock::now();
  const auto until = t0 + std::chrono::seconds(limit_s);
  std::vector<std::thread> workers;
  for (int w = 0; w < 4; ++w)
    workers.emplace_back([&] {
      for (std::size_t i; (i = next++) < tenants && Clock::now() < until;) {
        auto l = pool->acquire("t" + std::to_string(i));
        auto c = l ? (*l)->call_tool("echo", "echo", {{"text", "hi"}}) : mcp::Result<mcp::CallToolResult>(mcp::fail(l.error()));
        if (!c) {
          if (failures++ == 0) {
            std::lock_guard lk(fm);
            first_failure = c.error().what();
          }
        }
      }
    });
  for (auto& w : workers) w.join();
  const double setup_s = us_since(t0) / 1e6;
  const std::size_t live = pool->stats().live;
  const std::size_t sockets = count_fds(true) - std::min(count_fds(true), sockets0);
  const std::size_t threads = count_threads();
  const long rss = rss_kib();
  r["setup_seconds"] = setup_s;
  r["tenants_reached"] = live;
  r["complete"] = live >= tenants;
  r["failures"] = failures.load();
  if (!first_failure.empty()) r["first_failure"] = first_failure;
  r["sockets"] = sockets;
  r["threads"] = threads;
  r["threads_before"] = threads0;
  r["rss_per_idle_client_kib"] = live ? static_cast<double>(rss - rss0) / static_cast<double>(live) : 0.0;
  // Acquire on a hit, every tenant once (at most 100,000), then acquire + call for 5,000 tenants
  // spread over the pool.
  std::vector<double> acq, call;
  for (std::size_t i = 0; i < live; ++i) {
    const std::string t = "t" + std::to_string(i);
    const auto a0 = Clock::now();
    auto l = pool->acquire(t);
    acq.push_back(us_since(a0));
  }
  const std::size_t calls = std::min<std::size_t>(live, 5000);
  for (std::size_t k = 0; k < calls; ++k) {
    const std::string t = "t" + std::to_string(k * (live / calls));
    const auto a0 = Clock::now();
    auto l = pool->acquire(t);
    if (!l || !(*l)->call_tool("echo", "echo", {{"text", "hi"}})) ++failures;
    call.push_back(us_since(a0));
  }
  r["failures"] = failures.load();
  r["acquire_us_p50"] = median(acq);
  r["acquire_us_p99"] = pct(acq, 0.99);
  r["acquire_call_us_p50"] = median(call);
  r["acquire_call_us_p99"] = pct(call, 0.99);
  r["sockets_after_calls"] = count_fds(true) - std::min(count_fds(true), sockets0);
  if (share) {
    const auto st = share->stats();
    r["share_opened"] = st.opened;
    r["share_idle"] = st.idle;
  }
  const auto c0 = Clock::now();
  pool.reset();
  share.reset();
  r["teardown_seconds"] = us_since(c0) / 1e6;
  r["sockets_left"] = count_fds(true) - std::min(count_fds(true), sockets0);
  return r;
}

std::string scale_row(const json& r) {
  if (r.contains("skipped")) return "skipped: " + r["skipped"].get<std::string>();
  char buf[512];
  std::snprintf(buf, sizeof buf,
                "%s%zu tenants in %.1f s; %zu sockets, %zu threads, %.1f KiB RSS per idle client; acquire p50 %.2f us "
                "(p99 %.2f); acquire + call p50 %.0f us (p99 %.0f); %d failures",
                r["complete"].get<bool>() ? "" : "INCOMPLETE (time limit): ", r["tenants_reached"].get<std::size_t>(),
                r["setup_seconds"].get<double>(), r["sockets"].get<std::size_t>(), r["threads"].get<std::size_t>(),
                r["rss_per_idle_client_kib"].get<double>(), r["acquire_us_p50"].get<double>(),
                r["acquire_us_p99"].get<double>(), r["acquire_call_us_p50"].get<double>(),
                r["acquire_call_us_p99"].get<double>(), r["failures"].get<int>());
  return buf;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 3) {
    std::cerr << "usage: pool_bench DEMO_SERVER HTTP_FIXTURE [--smoke] [--json FILE]\n";
    return 2;
  }
  const std::string demo = argv[1], fixture = argv[2];
  bool smoke = false, scale_only = false;
  std::string json_out, scale_server;
  std::vector<std::size_t> scale_tenants{10000, 100000};
  int scale_limit = 40;
  for (int i = 3; i < argc; ++i) {
    std::string a = argv[i];
    if (a == "--smoke") smoke = true;
    else if (a == "--json" && i + 1 < argc) json_out = argv[++i];
    else if (a == "--scale" && i + 1 < argc) scale_server = argv[++i];
    else if (a == "--scale-only") scale_only = true;
    else if (a == "--scale-limit" && i + 1 < argc) scale_limit = std::max(1, std::atoi(argv[++i]));
    else if (a == "--scale-tenants" && i + 1 < argc) {
      scale_tenants.clear();
      std::stringstream list(argv[++i]);
      for (std::string n; std::getline(list, n, ',');)
        if (std::atol(n.c_str()) > 0) scale_tenants.push_back(static_cast<std::size_t>(std::atol(n.c_str())));
    }
  }
  if (smoke && scale_tenants == std::vector<std::size_t>{10000, 100000}) scale_tenants = {200};
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
  if (!scale_only) {
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
    if (scale_only) break;
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
  if (!scale_only) {
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
  if (!scale_only) {
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

  // 5. scale: very many pooled tenants of one server, with a shared connection pool and without
  bool scale_ok = true;
  if (!scale_server.empty()) {
    const rlim_t fd_limit = raise_fd_limit();
    results["scale_fd_limit"] = static_cast<std::uint64_t>(fd_limit);
    // Our server, both eras; sessions (legacy) kept for as long as the case runs.
    HttpServer server(scale_server, {"--max-sessions", "1000000", "--session-idle-ms", "3600000"});
    if (server.port == 0) {
      std::cerr << "pool_bench: could not start " << scale_server << "\n";
      return 1;
    }
    json cases = json::array();
    auto run = [&](std::size_t n, bool legacy, bool share_on) {
      auto r = scale_case(server.url(), n, legacy, share_on, scale_limit, fd_limit);
      if (!r.contains("skipped") && r["failures"].get<int>() > 0) scale_ok = false;
      rows.push_back({"scale: " + std::to_string(n) + " pooled tenants, " + (legacy ? "legacy" : "modern") +
                          " server, share " + (share_on ? "on" : "off"),
                      scale_row(r)});
      cases.push_back(std::move(r));
    };
    for (std::size_t n : scale_tenants)
      for (bool share_on : {true, false}) run(n, false, share_on);
    // Legacy sessions stay one per tenant, each on its own socket: a count beyond the descriptor
    // limit or the ephemeral ports is reported as skipped, with the reason.
    for (std::size_t n : scale_tenants)
      for (bool share_on : {true, false}) run(n, true, share_on);
    results["scale"] = std::move(cases);
  }

  std::cout << "| pool figure | value |\n|---|---|\n";
  for (const auto& r : rows) std::cout << "| " << r.figure << " | " << r.value << " |\n";
  if (!json_out.empty()) std::ofstream(json_out) << results.dump(2) << "\n";
  const bool ok = results.value("failures_stdio", 0) == 0 && results.value("failures_http", 0) == 0 &&
                  results.value("churn_failures", 0) == 0 && scale_ok;
  return ok ? 0 : 1;
}
