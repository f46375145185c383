// SPDX-License-Identifier: MIT
// Client benchmark: our mcp::Client on the same cases, servers and config file as the Node
// peers (bench/peers/harness.mjs), with the same JSON output shape. bench/run.sh runs all
// three and bench/report.mjs puts them side by side.
//
//   client_bench --config FILE --out FILE [--cases cold,seq,conc,mem,floor,inflight] [--targets ID,...]
//                [--api blocking|async]
//
// Cases per target (a server reached over stdio or HTTP):
//   cold  construct a client -> connected, era detected, tools listed (median/p90 of N runs)
//   seq   N sequential `echo` calls on one connection: calls/s, latency p50/p99 and the
//         process's own CPU (user+sys, getrusage(RUSAGE_SELF)) per call
//   conc  N calls with K in flight on one connection (K threads sharing one Client)
//   mem   RSS per connected client (tools listed) with M clients at once, then what
//         disconnect gives back: RSS, child processes left, server sessions left
//   floor the same sequential echo calls with no MCP client at all: pre-built request bytes,
//         one write, read until the reply is complete (stdio: a line; HTTP: the lean HTTP/1.1
//         exchange, one sendmsg, then a poll and a recv per part the server sends). What the
//         kernel alone costs per round trip on this machine, for a client that reads each part
//         as it comes. With seq in the same run, the two run in alternate rounds.
//   inflight N calls of a `sleep` tool, all started at once through one client (the target's
//         runs: {calls, sleep_ms}; a 0 ms sleep is the HTTP burst): wall time, the process's
//         CPU, peak RSS and threads, failures. The blocking API (--api blocking, the default)
//         takes one thread per call in flight; --api async starts them all from one thread
//         with the asynchronous API (completions on the library's threads), and conc then
//         keeps K calls in flight the same way.
// Bounded: per-case time limits from the config and a request timeout on every call.
#include <mcp/client.hpp>
#include <mcp/version.hpp>

#include "../lib/http1.hpp"  // the floor case's HTTP exchange (a private header of the library)

#include <arpa/inet.h>
#include <dirent.h>
#include <fcntl.h>
#include <malloc.h>
#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <system_error>
#include <netinet/in.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <charconv>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <functional>
#include <iostream>
#include <latch>
#include <map>
#include <memory>
#include <condition_variable>
#include <mutex>
#include <sstream>
#include <stdexcept>
#include <string>
#include <thread>
#include <tuple>
#include <vector>

namespace {

using Clock = std::chrono::steady_clock;
using nlohmann::json;

double ms_since(Clock::time_point t) {
  return std::chrono::duration<double, std::milli>(Clock::now() - t).count();
}
double us_since(Clock::time_point t) {
  return std::chrono::duration<double, std::micro>(Clock::now() - t).count();
}

// Percentile as the harness computes it: sorted[min(n-1, floor(p*n))].
json pct(std::vector<double> v, double p) {
  if (v.empty()) return nullptr;
  std::sort(v.begin(), v.end());
  return v[std::min(v.size() - 1, static_cast<std::size_t>(p * static_cast<double>(v.size())))];
}

// User + system CPU of this whole process (all threads), in microseconds.
double cpu_us() {
  rusage ru{};
  ::getrusage(RUSAGE_SELF, &ru);
  auto us = [](const timeval& t) { return static_cast<double>(t.tv_sec) * 1e6 + static_cast<double>(t.tv_usec); };
  return us(ru.ru_utime) + us(ru.ru_stime);
}

// What the kernel counts for this process: CPU split into user and system time, minor page
// faults, and voluntary/involuntary context switches. Deltas per call tell a client's own
// work (user) from what it costs the kernel (system, faults, switches).
struct Usage {
  double user_us = 0, sys_us = 0, minflt = 0, nvcsw = 0, nivcsw = 0;
  static Usage now() {
    rusage ru{};
    ::getrusage(RUSAGE_SELF, &ru);
    auto us = [](const timeval& t) { return static_cast<double>(t.tv_sec) * 1e6 + static_cast<double>(t.tv_usec); };
    return {us(ru.ru_utime), us(ru.ru_stime), static_cast<double>(ru.ru_minflt), static_cast<double>(ru.ru_nvcsw),
            static_cast<double>(ru.ru_nivcsw)};
  }
  json per_call_since(const Usage& a, double calls) const {
    return {{"user_us", (user_us - a.user_us) / calls},
            {"sys_us", (sys_us - a.sys_us) / calls},
            {"minor_faults", (minflt - a.minflt) / calls},
            {"voluntary_switches", (nvcsw - a.nvcsw) / calls},
            {"involuntary_switches", (nivcsw - a.nivcsw) / calls}};
  }
};

// A "Name:   value" field of /proc/self/status (VmRSS in KiB, Threads, ...).
long status_field(const char* name) {
  std::ifstream f("/proc/self/status");
  std::string line;
  const std::string key = std::string(name) + ":";
  while (std::getline(f, line))
    if (line.rfind(key, 0) == 0) return std::stol(line.substr(key.size()));
  return 0;
}
long rss_kib() { return status_field("VmRSS"); }
// Heap in use (all malloc arenas, mmapped chunks included), in KiB: the C++ counterpart of
// the Node harness's V8 heapUsed + external.
double heap_kib() {
  const auto mi = ::mallinfo2();
  return static_cast<double>(mi.uordblks + mi.hblkhd) / 1024.0;
}
long threads() { return status_field("Threads"); }
// Peak RSS (VmHWM) from now on: writing 5 to clear_refs resets it (Linux 4.0 and later).
bool reset_peak_rss() {
  std::ofstream f("/proc/self/clear_refs");
  return static_cast<bool>(f << "5" << std::flush);
}

// Descendants of this process (children, grandchildren, ...) from /proc: {live, zombies}.
std::pair<int, int> descendants() {
  std::map<int, int> parent;
  std::map<int, char> state;
  if (DIR* d = ::opendir("/proc")) {
    while (dirent* e = ::readdir(d)) {
      const std::string name = e->d_name;
      if (name.empty() || name.find_first_not_of("0123456789") != std::string::npos) continue;
      std::ifstream f("/proc/" + name + "/stat");
      std::string stat;
      if (!std::getline(f, stat)) continue;
      const auto close = stat.rfind(')');
      if (close == std::string::npos || close + 2 >= stat.size()) continue;
      std::istringstream rest(stat.substr(close + 2));
      char st = '?';
      int ppid = 0;
      rest >> st >> ppid;
      parent[std::stoi(name)] = ppid;
      state[std::stoi(name)] = st;
    }
    ::closedir(d);
  }
  const int self = static_cast<int>(::getpid());
  int live = 0, zombies = 0;
  for (const auto& [pid, pp] : parent) {
    int p = pp;
    for (int hops = 0; p != 0 && hops < 64; ++hops) {
      if (p == self) {
        (state[pid] == 'Z' ? zombies : live) += 1;
        break;
      }
      auto it = parent.find(p);
      p = it == parent.end() ? 0 : it->second;
    }
  }
  return {live, zombies};
}

// GET http://127.0.0.1:PORT/PATH -> the "sessions" number of the JSON body (or -1).
// A few lines of sockets rather than an HTTP library: the bench only ever asks this.
long get_sessions(const std::string& url) {
  const std::string prefix = "http://127.0.0.1:";
  if (url.rfind(prefix, 0) != 0) return -1;
  const auto slash = url.find('/', prefix.size());
  const int port = std::stoi(url.substr(prefix.size(), slash - prefix.size()));
  const std::string path = slash == std::string::npos ? "/" : url.substr(slash);
  const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return -1;
  timeval tv{5, 0};
  ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  ::setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>(port));
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  long result = -1;
  if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0) {
    const std::string req = "GET " + path + " HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n";
    if (::send(fd, req.data(), req.size(), MSG_NOSIGNAL) == static_cast<ssize_t>(req.size())) {
      std::string resp;
      char buf[4096];
      ssize_t n;
      while (resp.size() < (1u << 20) && (n = ::recv(fd, buf, sizeof buf, 0)) > 0) resp.append(buf, static_cast<size_t>(n));
      const auto body = resp.find("\r\n\r\n");
      if (body != std::string::npos) {
        const auto j = json::parse(resp.substr(body + 4), nullptr, false);
        if (j.is_object() && j.contains("sessions") && j["sessions"].is_number()) result = j["sessions"].get<long>();
      }
    }
  }
  ::close(fd);
  return result;
}

struct Target {
  std::string id, transport, command, url, sessions_url, echo_arg;
  std::vector<std::string> args, cases;
  std::vector<std::pair<int, int>> inflight;  // the inflight case's runs: {calls, sleep_ms}
};

struct Bench {
  json cfg;
  std::chrono::milliseconds call_timeout{30000};
  std::chrono::milliseconds case_limit{60000};
  std::chrono::milliseconds inflight_timeout{30000};
  std::atomic<long> next_id{0};
  std::atomic<long> seq{0};
  bool async = false;  // --api async: conc and inflight use the asynchronous API

  // A client connected to `t` with its tools listed.
  struct Open {
    std::unique_ptr<mcp::Client> client;
    std::size_t tools = 0;
  };

  Open open(const Target& t) { return open(t, call_timeout); }
  Open open(const Target& t, std::chrono::milliseconds request_timeout) {
    mcp::ClientConfig config;
    config.id = "bench-" + std::to_string(next_id++);  // clients to one server are deliberate
    config.request_timeout = request_timeout;
    mcp::ServerConfig server;
    if (t.transport == "http") {
      mcp::HttpServerConfig h;
      h.url = t.url;
      server.transport = h;
    } else {
      mcp::StdioServerConfig s;
      s.command = t.command;
      s.args = t.args;
      server.transport = s;
    }
    config.servers["s"] = server;
    auto client = mcp::Client::create(std::move(config));
    if (!client) throw std::runtime_error(client.error().what());
    Open o{std::make_unique<mcp::Client>(std::move(*client)), 0};
    auto tools = o.client->list_tools();
    if (!tools) throw std::runtime_error(tools.error().what());
    o.tools = tools->size();
    return o;
  }

  void call(mcp::Client& c, const Target& t) {
    const std::string text = "hi " + std::to_string(seq++);
    auto r = c.call_tool("s", "echo", {{t.echo_arg, text}});
    if (!r) throw std::runtime_error(r.error().what());
    if (r->is_error || r->text() != text)
      throw std::runtime_error("echo returned " + r->raw.dump().substr(0, 200) + ", expected \"" + text + "\"");
  }

  json cold(const Target& t) {
    std::vector<double> times;
    std::size_t tools = 0;
    json protocol = nullptr;
    const auto deadline = Clock::now() + case_limit;
    const int runs = cfg.value("cold_runs", 20);
    open(t).client->disconnect();  // warm-up, not counted: the first connection to a server
    for (int i = 0; i < runs && Clock::now() < deadline; ++i) {
      const auto t0 = Clock::now();
      auto o = open(t);
      times.push_back(ms_since(t0));
      tools = o.tools;
      if (i == 0)
        if (auto info = o.client->server_info("s"))
          protocol = std::string(mcp::to_string(info->era)) + " " + info->protocol_version;
      o.client->disconnect();
    }
    return {{"runs", times.size()}, {"median_ms", pct(times, 0.5)}, {"p90_ms", pct(times, 0.9)},
            {"min_ms", pct(times, 0)}, {"tools", tools}, {"protocol", protocol}};
  }

  json seq_case(const Target& t) {
    auto o = open(t);
    json r = timed_calls([&](int) { call(*o.client, t); });
    o.client->disconnect();
    return r;
  }

  // K threads share one client (our API is synchronous and thread-safe: one thread per call
  // in flight is how a C++ backend would use it).
  json conc(const Target& t) {
    if (async) return conc_async(t);
    auto o = open(t);
    for (int i = 0; i < cfg.value("warmup_calls", 50); ++i) call(*o.client, t);
    const int n = cfg.value("conc_calls", 2000);
    const int k = cfg.value("conc_inflight", 32);
    std::atomic<int> next{0};
    std::mutex mu;
    std::vector<double> lat;
    std::string first_error;
    const auto deadline = Clock::now() + case_limit;
    std::latch ready(k + 1), go(1);
    std::vector<std::thread> threads;
    for (int w = 0; w < k; ++w)
      threads.emplace_back([&] {
        std::vector<double> mine;
        ready.count_down();
        go.wait();
        try {
          while (next.fetch_add(1) < n && Clock::now() < deadline) {
            const auto s = Clock::now();
            call(*o.client, t);
            mine.push_back(us_since(s));
          }
        } catch (const std::exception& e) {
          std::lock_guard lock(mu);
          if (first_error.empty()) first_error = e.what();
        }
        std::lock_guard lock(mu);
        lat.insert(lat.end(), mine.begin(), mine.end());
      });
    ready.arrive_and_wait();
    const Usage u0 = Usage::now();
    const double c0 = cpu_us();
    const auto t0 = Clock::now();
    go.count_down();
    for (auto& th : threads) th.join();
    const double secs = us_since(t0) / 1e6;
    const double cpu = cpu_us() - c0;
    const Usage u1 = Usage::now();
    o.client->disconnect();
    if (!first_error.empty()) throw std::runtime_error(first_error);
    const double calls = static_cast<double>(lat.size());
    return {{"calls", lat.size()}, {"inflight", k}, {"seconds", secs}, {"calls_per_s", calls / secs},
            {"p50_us", pct(lat, 0.5)}, {"p99_us", pct(lat, 0.99)}, {"cpu_us_per_call", cpu / calls},
            {"usage_per_call", u1.per_call_since(u0, calls)}};
  }

  // The same with the asynchronous API: K calls in flight on no thread of ours; each completion
  // (on the library's reader thread) checks its reply and starts the next call.
  json conc_async(const Target& t) {
    auto o = open(t);
    for (int i = 0; i < cfg.value("warmup_calls", 50); ++i) call(*o.client, t);
    const int n = cfg.value("conc_calls", 2000);
    const int k = cfg.value("conc_inflight", 32);
    struct State {
      std::mutex mu;
      std::condition_variable cv;
      std::vector<double> lat;
      std::string first_error;
      int done = 0;
    } st;
    std::atomic<int> next{0};
    const auto deadline = Clock::now() + case_limit;
    std::function<void()> start_one = [&] {
      if (next.fetch_add(1) >= n || Clock::now() >= deadline) {
        std::lock_guard lock(st.mu);
        if (++st.done == k) st.cv.notify_all();
        return;
      }
      const std::string text = "hi " + std::to_string(seq++);
      const auto s = Clock::now();
      o.client->async_call_tool("s", "echo", {{t.echo_arg, text}}, [&, text, s](mcp::Result<mcp::CallToolResult> r) {
        const double us = us_since(s);
        std::string e;
        if (!r) e = r.error().what();
        else if (r->is_error || r->text() != text) e = "echo returned " + r->raw.dump().substr(0, 200);
        {
          std::lock_guard lock(st.mu);
          if (!e.empty() && st.first_error.empty()) st.first_error = e;
          st.lat.push_back(us);
        }
        start_one();
      });
    };
    const Usage u0 = Usage::now();
    const double c0 = cpu_us();
    const auto t0 = Clock::now();
    for (int w = 0; w < k; ++w) start_one();
    {
      std::unique_lock lock(st.mu);
      st.cv.wait_until(lock, deadline + call_timeout, [&] { return st.done == k; });
    }
    const double secs = us_since(t0) / 1e6;
    const double cpu = cpu_us() - c0;
    const Usage u1 = Usage::now();
    o.client->disconnect();
    std::lock_guard lock(st.mu);
    if (st.done != k) throw std::runtime_error("conc_async: calls still in flight after the case limit");
    if (!st.first_error.empty()) throw std::runtime_error(st.first_error);
    const double calls = static_cast<double>(st.lat.size());
    return {{"calls", st.lat.size()}, {"inflight", k}, {"api", "async"}, {"seconds", secs}, {"calls_per_s", calls / secs},
            {"p50_us", pct(st.lat, 0.5)}, {"p99_us", pct(st.lat, 0.99)}, {"cpu_us_per_call", cpu / calls},
            {"usage_per_call", u1.per_call_since(u0, calls)}};
  }

  // The round-trip floor: the seq case's calls with no client library in the way. With
  // `ours` (the seq case's call), the two run in alternate rounds and `ours_out` gets the seq
  // case's figures: both then see the machine in the same states, which on a shared VM change
  // from one second to the next.
  using Call = std::function<void(int)>;
  json floor_case(const Target& t, const Call& ours = {}, json* ours_out = nullptr) {
    return t.transport == "http" ? floor_http(t, ours, ours_out) : floor_stdio(t, ours, ours_out);
  }

  // The seq case and the floor, in alternate rounds.
  std::pair<json, json> seq_and_floor(const Target& t) {
    auto o = open(t);
    json seq;
    json floor = floor_case(t, [&](int) { call(*o.client, t); }, &seq);
    o.client->disconnect();
    return {std::move(seq), std::move(floor)};
  }

  // What the kernel and the clock counted over rounds of one sequential loop.
  struct Rounds {
    std::vector<double> lat, per_round;
    json usage = json::array();  // the kernel's counts per call, round by round
    double seconds = 0;
    [[nodiscard]] json result() const {
      const double calls = static_cast<double>(lat.size());
      return {{"calls", lat.size()}, {"seconds", seconds}, {"calls_per_s", calls / seconds}, {"p50_us", pct(lat, 0.5)},
              {"p99_us", pct(lat, 0.99)}, {"cpu_us_per_call", pct(per_round, 0.5)}, {"cpu_us_per_call_rounds", per_round},
              {"usage_per_call_rounds", usage}};
    }
  };

  // One round of `n` calls of `one(base + i)`, unless past the deadline.
  void round(const Call& one, int n, int base, Clock::time_point deadline, Rounds& acc) {
    const Usage u0 = Usage::now();
    const auto t0 = Clock::now();
    int done = 0;
    for (; done < n && Clock::now() < deadline; ++done) {
      const auto s = Clock::now();
      one(base + done);
      acc.lat.push_back(us_since(s));
    }
    acc.seconds += us_since(t0) / 1e6;
    if (done == 0) return;
    const Usage u1 = Usage::now();
    acc.per_round.push_back((u1.user_us + u1.sys_us - u0.user_us - u0.sys_us) / done);
    acc.usage.push_back(u1.per_call_since(u0, done));
  }

  // The sequential loop of the seq and floor cases: warm-up calls, then `seq_rounds` rounds of
  // `seq_calls` calls of `one(i)` (alternating with rounds of `other`, whose figures go to
  // `other_out`). Client CPU per call is the median round's (one round disturbed by something
  // else on the machine does not decide the figure); latencies are over every call.
  json timed_calls(const Call& one, const Call& other = {}, json* other_out = nullptr) {
    for (int i = 0; i < cfg.value("warmup_calls", 50); ++i) {
      one(i);
      if (other) other(i);
    }
    const int n = cfg.value("seq_calls", 2000);
    const int rounds = std::max(1, cfg.value("seq_rounds", 1));
    Rounds mine, theirs;
    mine.lat.reserve(static_cast<std::size_t>(n) * static_cast<std::size_t>(rounds));
    if (other) theirs.lat.reserve(mine.lat.capacity());
    const auto deadline = Clock::now() + case_limit;
    for (int r = 0; r < rounds && Clock::now() < deadline; ++r) {
      const int base = 1000000 + r * n;
      if (other) round(other, n, base, deadline, theirs);
      round(one, n, base, deadline, mine);
    }
    if (other && other_out) *other_out = theirs.result();
    return mine.result();
  }

  json floor_stdio(const Target& t, const Call& ours, json* ours_out) {
    int in[2], out[2];
    if (::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, in) != 0 || ::pipe2(out, O_CLOEXEC) != 0)
      throw std::runtime_error("socketpair/pipe failed");
    std::vector<std::string> args{t.command};
    args.insert(args.end(), t.args.begin(), t.args.end());
    std::vector<char*> argv;
    for (auto& a : args) argv.push_back(a.data());
    argv.push_back(nullptr);
    const pid_t pid = ::fork();
    if (pid == 0) {
      ::dup2(in[0], 0);
      ::dup2(out[1], 1);
      const int null = ::open("/dev/null", O_WRONLY);
      ::dup2(null, 2);
      ::execvp(argv[0], argv.data());
      ::_exit(127);
    }
    ::close(in[0]);
    ::close(out[1]);
    struct Child {
      pid_t pid;
      int w, r;
      ~Child() {
        ::close(w);
        ::close(r);
        for (int i = 0; i < 200; ++i) {
          if (::waitpid(pid, nullptr, WNOHANG) != 0) return;
          std::this_thread::sleep_for(std::chrono::milliseconds(10));
        }
        ::kill(pid, SIGKILL);
        ::waitpid(pid, nullptr, 0);
      }
    } child{pid, in[1], out[0]};
    std::string buf;
    std::unique_ptr<char[]> chunk(new char[65536]);
    auto send_line = [&](const std::string& line) {
      std::size_t off = 0;
      while (off < line.size()) {
        const ssize_t n = ::send(child.w, line.data() + off, line.size() - off, MSG_NOSIGNAL);
        if (n <= 0) throw std::runtime_error("the server stopped reading");
        off += static_cast<std::size_t>(n);
      }
    };
    const int timeout_ms = static_cast<int>(call_timeout.count());
    auto read_line = [&](std::string& line) {
      for (;;) {
        const auto nl = buf.find('\n');
        if (nl != std::string::npos) {
          line.assign(buf, 0, nl);
          buf.erase(0, nl + 1);
          return;
        }
        pollfd p{child.r, POLLIN, 0};
        if (::poll(&p, 1, timeout_ms) <= 0) throw std::runtime_error("no reply within the timeout");
        const ssize_t n = ::read(child.r, chunk.get(), 65536);
        if (n <= 0) throw std::runtime_error("the server closed its output");
        buf.append(chunk.get(), static_cast<std::size_t>(n));
      }
    };
    // Every stdio server here speaks the legacy handshake (the demo server is dual-era).
    std::string line;
    send_line(R"({"jsonrpc":"2.0","id":0,"method":"initialize","params":{"protocolVersion":"2025-11-25","capabilities":{},"clientInfo":{"name":"floor","version":"1"}}})" "\n");
    do read_line(line);
    while (line.find("\"id\":0") == std::string::npos);
    send_line(R"({"jsonrpc":"2.0","method":"notifications/initialized"})" "\n");
    const std::string head = R"({"jsonrpc":"2.0","id":)";
    const std::string tail = R"(,"method":"tools/call","params":{"name":"echo","arguments":{")" + t.echo_arg + R"(":"hi"}}})" "\n";
    std::string request;
    return timed_calls([&](int id) {
      char digits[16];
      request.assign(head);
      request.append(digits, std::to_chars(digits, digits + sizeof digits, id).ptr);
      request.append(tail);
      send_line(request);
      read_line(line);
      if (line.find("\"result\"") == std::string::npos) throw std::runtime_error("echo failed: " + line.substr(0, 200));
    }, ours, ours_out);
  }

  json floor_http(const Target& t, const Call& ours, json* ours_out) {
    namespace h1 = mcp::detail::http1;
    const std::string prefix = "http://127.0.0.1:";
    if (t.url.rfind(prefix, 0) != 0) throw std::runtime_error("the floor case needs an http://127.0.0.1 URL");
    const auto slash = t.url.find('/', prefix.size());
    const int port = std::stoi(t.url.substr(prefix.size(), slash - prefix.size()));
    const std::string path = slash == std::string::npos ? "/" : t.url.substr(slash);
    h1::Connection conn("127.0.0.1", port, std::chrono::seconds(5));
    const auto timeout = std::chrono::duration_cast<std::chrono::microseconds>(call_timeout);
    std::string body_in, session;
    int status = 0;
    auto on_head = [&](const h1::Head& h) {
      status = h.status;
      if (auto sid = h.get("Mcp-Session-Id"); !sid.empty()) session = std::string(sid);
      return true;
    };
    auto on_data = [&](const char* d, std::size_t n) {
      body_in.append(d, n);
      return true;
    };
    auto post = [&](const std::string& extra, const std::string& body) {
      body_in.clear();
      status = 0;
      const std::string head = "POST " + path + " HTTP/1.1\r\nHost: " + conn.host_header() +
                               "\r\nContent-Type: application/json\r\nAccept: application/json, text/event-stream\r\n" +
                               extra + "Content-Length: " + std::to_string(body.size()) + "\r\n\r\n";
      const auto o = conn.exchange(head, body, false, timeout, on_head, on_data);
      if (!o.ok()) throw std::runtime_error("floor POST: " + h1::describe(o));
    };
    // A legacy server takes the handshake; a modern one refuses it and gets per-request _meta.
    post("", R"({"jsonrpc":"2.0","id":0,"method":"initialize","params":{"protocolVersion":"2025-11-25","capabilities":{},"clientInfo":{"name":"floor","version":"1"}}})");
    const bool legacy = status == 200;
    std::string extra;
    if (legacy) {
      if (!session.empty()) extra += "Mcp-Session-Id: " + session + "\r\n";
      extra += "MCP-Protocol-Version: 2025-11-25\r\n";
      post(extra, R"({"jsonrpc":"2.0","method":"notifications/initialized"})");
    } else {
      extra = "MCP-Protocol-Version: 2026-07-28\r\nMcp-Method: tools/call\r\nMcp-Name: echo\r\n";
    }
    const std::string head = R"({"jsonrpc":"2.0","id":)";
    const std::string tail = R"(,"method":"tools/call","params":{"name":"echo","arguments":{")" + t.echo_arg + R"(":"hi"})" +
                             (legacy ? "" : R"(,"_meta":{"io.modelcontextprotocol/protocolVersion":"2026-07-28"})") + "}}";
    std::string request;
    json result = timed_calls([&](int id) {
      char digits[16];
      request.assign(head);
      request.append(digits, std::to_chars(digits, digits + sizeof digits, id).ptr);
      request.append(tail);
      post(extra, request);
      if (status != 200 || body_in.find("\"result\"") == std::string::npos)
        throw std::runtime_error("echo failed: HTTP " + std::to_string(status) + " " + body_in.substr(0, 200));
    }, ours, ours_out);
    if (legacy && !session.empty()) {  // leave no session behind
      const std::string del = "DELETE " + path + " HTTP/1.1\r\nHost: " + conn.host_header() + "\r\n" + extra +
                              "Content-Length: 0\r\n\r\n";
      (void)conn.exchange(del, "", false, std::chrono::seconds(5), nullptr, nullptr);
    }
    return result;
  }

  // One call of the `sleep` tool: "" when it answered its ms, else what went wrong.
  static std::string sleep_call(mcp::Client& c, int ms) {
    auto r = c.call_tool("s", "sleep", {{"ms", ms}});
    if (!r) return r.error().what();
    if (r->is_error || r->text() != std::to_string(ms)) return "sleep returned " + r->raw.dump().substr(0, 200);
    return {};
  }

  // The target's inflight runs, each on a fresh client: `calls` calls of `sleep {ms}` started
  // at once. The blocking API takes one thread per call in flight: each call gets its own
  // std::thread (default stack size), and all wait at a gate until the last is made, so that
  // all are in flight together (wall time and CPU include making them; `spawn_ms` says how
  // long that took). Should the machine refuse a thread, the calls not started count as
  // failures and `threads_cap` records how many call threads it made.
  json inflight(const Target& t) {
    json runs = json::array();
    for (const auto& [n, ms] : t.inflight) {
      auto o = open(t, inflight_timeout);
      if (auto e = sleep_call(*o.client, ms); !e.empty()) throw std::runtime_error(e);
      ::malloc_trim(0);
      const bool peak_reset = reset_peak_rss();
      const long rss_base = rss_kib();
      const long threads_base = threads();
      long threads_peak = threads_base;
      std::atomic<int> done{0}, ok{0};
      std::atomic<bool> gate{false};
      std::mutex mu;
      int failures = 0;
      std::string first_error, refused;
      std::vector<std::thread> pool;
      if (!async) pool.reserve(static_cast<std::size_t>(n));
      const double c0 = cpu_us();
      const auto t0 = Clock::now();
      if (async) {
        // No thread per call: every call is started from this thread and completes on the
        // library's; the gate is not needed (nothing waits to start).
        for (int i = 0; i < n; ++i) {
          o.client->async_call_tool("s", "sleep", {{"ms", ms}}, [&, ms = ms](mcp::Result<mcp::CallToolResult> r) {
            std::string e;
            if (!r) e = r.error().what();
            else if (r->is_error || r->text() != std::to_string(ms)) e = "sleep returned " + r->raw.dump().substr(0, 200);
            if (e.empty()) ++ok;
            else {
              std::lock_guard lock(mu);
              if (failures++ == 0) first_error = e;
            }
            ++done;
          });
          if (i % 256 == 0) threads_peak = std::max(threads_peak, threads());
        }
      }
      for (int i = 0; !async && i < n; ++i) {
        try {
          pool.emplace_back([&, ms = ms] {
            gate.wait(false);
            if (auto e = sleep_call(*o.client, ms); e.empty()) ++ok;
            else {
              std::lock_guard lock(mu);
              if (failures++ == 0) first_error = e;
            }
            ++done;
          });
        } catch (const std::system_error& e) {
          refused = e.what();
          break;
        }
        if (i % 256 == 0) threads_peak = std::max(threads_peak, threads());
      }
      const int started = async ? n : static_cast<int>(pool.size());
      const double spawn_ms = us_since(t0) / 1000;
      gate = true;
      gate.notify_all();
      // Every call ends within its timeout; sample the thread count until then.
      while (done.load() < started) {
        threads_peak = std::max(threads_peak, threads());
        std::this_thread::sleep_for(std::chrono::milliseconds(20));
      }
      for (auto& th : pool) th.join();
      const double secs = us_since(t0) / 1e6;
      const double cpu = cpu_us() - c0;
      const long rss_peak = peak_reset ? status_field("VmHWM") : -1;
      o.client->disconnect();
      if (started < n) {
        if (failures == 0) first_error = "thread " + std::to_string(started + 1) + " not created: " + refused;
        failures += n - started;
      }
      runs.push_back({{"calls", n}, {"sleep_ms", ms}, {"api", async ? "async" : "blocking"}, {"ok", ok.load()}, {"failures", failures},
                      {"first_error", first_error.empty() ? json(nullptr) : json(first_error.substr(0, 300))},
                      {"seconds", secs}, {"spawn_ms", spawn_ms}, {"cpu_ms", cpu / 1000}, {"cpu_us_per_call", cpu / n}, {"rss_base_kib", rss_base},
                      {"rss_peak_kib", rss_peak < 0 ? json(nullptr) : json(rss_peak)}, {"threads_base", threads_base},
                      {"threads_peak", threads_peak}, {"threads_cap", started < n ? json(started) : json(nullptr)},
                      {"timeout_ms", inflight_timeout.count()}});
    }
    return {{"runs", runs}};
  }

  // `n` clients connected at once, plus one warm-up client opened first so that one-time
  // costs (first thread stacks, allocator arenas) are not counted per client.
  json mem(const Target& t) {
    const int n = t.transport == "http" ? cfg.value("mem_http_clients", 200) : cfg.value("mem_stdio_clients", 50);
    // Exercise the code paths first (opened and closed, not counted), as the Node harness does.
    for (int i = 0; i < cfg.value("mem_prewarm", 5); ++i) open(t).client->disconnect();
    std::this_thread::sleep_for(std::chrono::milliseconds(cfg.value("settle_ms", 500)));
    const long sessions0 = t.sessions_url.empty() ? -1 : get_sessions(t.sessions_url);
    const int children0 = descendants().first;
    std::vector<Open> clients;
    clients.push_back(open(t));
    call(*clients.front().client, t);
    ::malloc_trim(0);
    const long rss_base = rss_kib();
    const double heap_base = heap_kib();
    const long threads_base = threads();
    const auto deadline = Clock::now() + case_limit;
    for (int i = 0; i < n && Clock::now() < deadline; ++i) clients.push_back(open(t));
    const long opened = static_cast<long>(clients.size()) - 1;
    const long rss_connected = rss_kib();
    const double heap_connected = heap_kib();
    const long threads_connected = threads();
    const int children_connected = descendants().first - children0;
    const long sessions_connected = sessions0 < 0 ? -1 : get_sessions(t.sessions_url) - sessions0;
    for (auto& c : clients) c.client->disconnect();
    const auto [live, zombies] = descendants();
    const int settle_ms = cfg.value("settle_ms", 500);
    std::this_thread::sleep_for(std::chrono::milliseconds(settle_ms));
    const auto [live2, zombies2] = descendants();
    const long sessions_left = sessions0 < 0 ? -1 : get_sessions(t.sessions_url) - sessions0;
    clients.clear();
    // The C++ counterpart of the Node harness's gc(): hand freed heap back to the system.
    ::malloc_trim(0);
    const long rss_after = rss_kib();
    auto opt = [](long v) { return v < 0 ? json(nullptr) : json(v); };
    return {{"clients", opened + 1},
            {"rss_base_kib", rss_base},
            {"rss_connected_kib", rss_connected},
            {"rss_per_client_kib", static_cast<double>(rss_connected - rss_base) / static_cast<double>(std::max(1L, opened))},
            {"rss_after_disconnect_kib", rss_after},
            {"heap_per_client_kib", (heap_connected - heap_base) / static_cast<double>(std::max(1L, opened))},
            {"threads_base", threads_base},
            {"threads_connected", threads_connected},
            {"rss_returned_kib", rss_connected - rss_after},
            {"children_connected", children_connected},
            {"children_left", live - children0},
            {"zombies_left", zombies},
            {"children_left_after_settle", live2 - children0},
            {"zombies_left_after_settle", zombies2},
            {"sessions_connected", opt(sessions_connected)},
            {"sessions_left", opt(sessions_left)}};
  }
};

}  // namespace

int main(int argc, char** argv) {
  std::string config_path, out_path;
  std::vector<std::string> only_cases, only_targets;  // empty: all
  std::string api = "blocking";
  auto split = [](const std::string& csv) {
    std::vector<std::string> v;
    std::stringstream ss(csv);
    for (std::string item; std::getline(ss, item, ',');)
      if (!item.empty()) v.push_back(item);
    return v;
  };
  for (int i = 1; i + 1 < argc; ++i) {
    const std::string a = argv[i];
    if (a == "--config") config_path = argv[++i];
    else if (a == "--out") out_path = argv[++i];
    else if (a == "--cases") only_cases = split(argv[++i]);
    else if (a == "--targets") only_targets = split(argv[++i]);
    else if (a == "--api") api = argv[++i];
  }
  if (api != "blocking" && api != "async") {
    std::cerr << "client_bench: --api is blocking or async\n";
    return 2;
  }
  if (config_path.empty() || out_path.empty()) {
    std::cerr << "usage: client_bench --config FILE --out FILE [--cases LIST] [--targets LIST] [--api blocking|async]\n";
    return 2;
  }
  auto selected = [](const std::vector<std::string>& only, const std::string& x) {
    return only.empty() || std::find(only.begin(), only.end(), x) != only.end();
  };
  Bench b;
  b.async = api == "async";
  {
    std::ifstream f(config_path);
    b.cfg = json::parse(f, nullptr, false);
    if (b.cfg.is_discarded() || !b.cfg.is_object()) {
      std::cerr << "client_bench: cannot read " << config_path << "\n";
      return 2;
    }
  }
  b.call_timeout = std::chrono::milliseconds(b.cfg.value("call_timeout_ms", 30000));
  b.case_limit = std::chrono::milliseconds(static_cast<long>(b.cfg.value("case_time_limit_s", 60.0) * 1000));
  b.inflight_timeout = std::chrono::milliseconds(b.cfg.value("inflight_timeout_ms", b.call_timeout.count()));

  json out = {{"client", "mcp-cpp"},
              {"client_version", std::string("mcp-cpp ") + mcp::version_string},
              {"runtime", "C++ (" __VERSION__ ")"},
              {"api", api},
              {"smoke", b.cfg.value("smoke", false)},
              {"results", json::object()}};
  for (const auto& jt : b.cfg.at("targets")) {
    Target t;
    t.id = jt.at("id");
    t.transport = jt.at("transport");
    t.command = jt.value("command", "");
    t.args = jt.value("args", std::vector<std::string>{});
    t.url = jt.value("url", "");
    t.sessions_url = jt.value("sessions_url", "");
    t.echo_arg = jt.value("echo_arg", "text");
    for (const auto& r : jt.value("inflight", json::array())) t.inflight.emplace_back(r.at("calls"), r.at("sleep_ms"));
    for (const auto& c : jt.value("cases", std::vector<std::string>{}))
      if (selected(only_cases, c)) t.cases.push_back(c);
    if (!selected(only_targets, t.id) || t.cases.empty()) continue;
    json& res = out["results"][t.id] = json::object();
    std::string unreachable;
    // With both seq and floor wanted, they run together, in alternate rounds.
    const bool paired = std::find(t.cases.begin(), t.cases.end(), "floor") != t.cases.end() &&
                        std::find(t.cases.begin(), t.cases.end(), "seq") != t.cases.end();
    for (const auto& c : t.cases) {
      if (!unreachable.empty()) {
        res[c] = {{"error", "skipped: " + unreachable}};
        continue;
      }
      if (c == "floor" && paired) continue;  // ran with seq
      std::cerr << "[mcp-cpp] " << t.id << " " << c << std::endl;
      const auto t0 = Clock::now();
      try {
        if (c == "cold") res[c] = b.cold(t);
        else if (c == "seq" && paired) {
          try {
            std::tie(res["seq"], res["floor"]) = b.seq_and_floor(t);
          } catch (const std::exception& e) {
            // The floor failed, or ours did: ours alone, as when no floor is wanted (if ours
            // fails again, that is seq's error below).
            std::cerr << "[mcp-cpp] " << t.id << " seq with floor failed: " << e.what() << std::endl;
            res["floor"] = {{"error", std::string(e.what()).substr(0, 500)}};
            res[c] = b.seq_case(t);
          }
        }
        else if (c == "seq") res[c] = b.seq_case(t);
        else if (c == "conc") res[c] = b.conc(t);
        else if (c == "mem") res[c] = b.mem(t);
        else if (c == "floor") res[c] = b.floor_case(t);
        else if (c == "inflight") res[c] = b.inflight(t);
        else continue;
      } catch (const std::exception& e) {
        std::cerr << "[mcp-cpp] " << t.id << " " << c << " failed: " << e.what() << std::endl;
        res[c] = {{"error", std::string(e.what()).substr(0, 500)}};
        if (c == "cold") unreachable = "the client could not connect (see cold)";
      }
      res[c]["wall_s"] = ms_since(t0) / 1000;
    }
  }
  std::ofstream(out_path) << out.dump(2) << "\n";
  return 0;
}
