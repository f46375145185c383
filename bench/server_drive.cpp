// SPDX-License-Identifier: MIT
// server_drive: the server benchmark's load driver (bench/server_run.sh), on plain sockets and
// pipes, so that it measures the server and not a client library. Each mode prints one JSON
// object on stdout; with --pid, the server's CPU (utime + stime over the measured window, from
// /proc/PID/stat), RSS and threads (/proc/PID/status) are in it. Every wait is bounded.
//
//   server_drive http --url URL --era legacy|modern|stateless --conns C --seconds S [--pid PID]
//       C keep-alive connections (a thread each) calling `tools/call echo` back to back for S
//       seconds. legacy: one session per connection (initialize, notifications/initialized,
//       then Mcp-Session-Id on each call); stateless: legacy requests without a session;
//       modern: 2026-07-28 requests (_meta, MCP-Protocol-Version, Mcp-Method, Mcp-Name).
//       --calls N: each connection stops after N calls (S is then a time limit): fixed counts
//       for instruction counts (bench/server_callgrind.sh).
//   server_drive stdio --era legacy|modern --inflight K[,K2...] --seconds S -- CMD ARGS...
//       Starts CMD (the server) on pipes and keeps K calls of `echo` in flight for S seconds
//       (then K2 for S seconds ...: a JSON line each). --calls N: each window ends after N calls.
//       The server's CPU is measured on its own pid.
//   server_drive streams --url URL --kind listen|get --n N --pid PID [--seconds LIMIT]
//       Opens N streams: `subscriptions/listen` (modern; resourcesListChanged) or legacy GET
//       streams (one session each). Then calls the `notify` tool once and times how long the
//       notifications/resources/list_changed takes to reach every stream.
//   server_drive sessions --url URL --n N --pid PID --expiry-ms MS [--seconds LIMIT]
//       Opens N legacy sessions (initialize + notifications/initialized) and abandons them;
//       RSS before, at the peak, and after MS (the server's session idle timeout) plus a margin;
//       then (MS > 0) RSS at the peak of a second round of N - 1 sessions.
#include <nlohmann/json.hpp>

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <signal.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <iostream>
#include <map>
#include <mutex>
#include <optional>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

using nlohmann::json;
using Clock = std::chrono::steady_clock;

namespace {

constexpr const char* kModern = "2026-07-28";
constexpr const char* kLegacy = "2025-11-25";

[[noreturn]] void die(const std::string& message) {
  std::cerr << "server_drive: " << message << "\n";
  std::exit(1);
}

// ---------------------------------------------------------------- /proc
struct ProcSample {
  double cpu_s = 0;  // utime + stime
  long rss_kb = 0;
  long threads = 0;
};

std::optional<ProcSample> sample(int pid) {
  if (pid <= 0) return std::nullopt;
  ProcSample s;
  std::ifstream stat("/proc/" + std::to_string(pid) + "/stat");
  std::string line;
  if (!std::getline(stat, line)) return std::nullopt;
  const auto close = line.rfind(')');
  if (close == std::string::npos) return std::nullopt;
  std::istringstream rest(line.substr(close + 2));
  std::vector<std::string> f;
  for (std::string w; rest >> w;) f.push_back(w);
  if (f.size() < 13) return std::nullopt;  // f[0] is field 3 (state): utime is field 14
  s.cpu_s = static_cast<double>(std::stoll(f[11]) + std::stoll(f[12])) / static_cast<double>(sysconf(_SC_CLK_TCK));
  std::ifstream status("/proc/" + std::to_string(pid) + "/status");
  while (std::getline(status, line)) {
    if (line.rfind("VmRSS:", 0) == 0) s.rss_kb = std::stol(line.substr(6));
    if (line.rfind("Threads:", 0) == 0) s.threads = std::stol(line.substr(8));
  }
  return s;
}

void raise_fd_limit() {
  rlimit r{};
  if (getrlimit(RLIMIT_NOFILE, &r) == 0 && r.rlim_cur < r.rlim_max) {
    r.rlim_cur = r.rlim_max;
    setrlimit(RLIMIT_NOFILE, &r);
  }
}

// ---------------------------------------------------------------- requests
json meta() {
  return {{"io.modelcontextprotocol/protocolVersion", kModern},
          {"io.modelcontextprotocol/clientCapabilities", json::object()}};
}

std::string call_body(long id, bool modern, const std::string& tool = "echo") {
  json params{{"name", tool}, {"arguments", tool == "echo" ? json{{"text", "hello"}} : json::object()}};
  if (modern) params["_meta"] = meta();
  return json{{"jsonrpc", "2.0"}, {"id", id}, {"method", "tools/call"}, {"params", params}}.dump();
}

std::string initialize_body(long id) {
  return json{{"jsonrpc", "2.0"},
              {"id", id},
              {"method", "initialize"},
              {"params",
               {{"protocolVersion", kLegacy},
                {"capabilities", json::object()},
                {"clientInfo", {{"name", "server_drive"}, {"version", "1"}}}}}}
      .dump();
}

const std::string kInitialized = R"({"jsonrpc":"2.0","method":"notifications/initialized"})";

// ---------------------------------------------------------------- HTTP/1.1 on a blocking socket
struct Url {
  std::string host = "127.0.0.1";
  int port = 0;
  std::string path = "/";
};

Url parse_url(const std::string& s) {
  Url u;
  const std::string prefix = "http://";
  if (s.rfind(prefix, 0) != 0) die("only http:// URLs: " + s);
  const auto rest = s.substr(prefix.size());
  const auto slash = rest.find('/');
  const auto hostport = rest.substr(0, slash);
  u.path = slash == std::string::npos ? "/" : rest.substr(slash);
  const auto colon = hostport.rfind(':');
  if (colon == std::string::npos) die("the URL needs a port: " + s);
  u.host = hostport.substr(0, colon);
  u.port = std::stoi(hostport.substr(colon + 1));
  return u;
}

int open_socket(const Url& u, bool blocking, int timeout_ms) {
  const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC | (blocking ? 0 : SOCK_NONBLOCK), 0);
  if (fd < 0) return -1;
  int one = 1;
  setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  if (blocking) {
    timeval tv{timeout_ms / 1000, (timeout_ms % 1000) * 1000};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
  }
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(static_cast<uint16_t>(u.port));
  if (inet_pton(AF_INET, u.host == "localhost" ? "127.0.0.1" : u.host.c_str(), &a.sin_addr) != 1)
    die("bad host " + u.host);
  if (::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0 && errno != EINPROGRESS) {
    ::close(fd);
    return -1;
  }
  return fd;
}

bool send_all(int fd, const std::string& s) {
  std::size_t off = 0;
  while (off < s.size()) {
    const ssize_t n = ::send(fd, s.data() + off, s.size() - off, MSG_NOSIGNAL);
    if (n <= 0) {
      if (n < 0 && errno == EINTR) continue;
      return false;
    }
    off += static_cast<std::size_t>(n);
  }
  return true;
}

bool send_all_fd(int fd, const std::string& s) {
  std::size_t off = 0;
  while (off < s.size()) {
    const ssize_t n = ::write(fd, s.data() + off, s.size() - off);
    if (n <= 0) {
      if (n < 0 && errno == EINTR) continue;
      return false;
    }
    off += static_cast<std::size_t>(n);
  }
  return true;
}

std::string request_text(const Url& u, const std::string& method, const std::string& body,
                         const std::vector<std::pair<std::string, std::string>>& headers) {
  std::string r = method + " " + u.path + " HTTP/1.1\r\nHost: " + u.host + ":" + std::to_string(u.port) +
                  "\r\nAccept: application/json, text/event-stream\r\n";
  for (const auto& [k, v] : headers) r += k + ": " + v + "\r\n";
  if (method == "POST")
    r += "Content-Type: application/json\r\nContent-Length: " + std::to_string(body.size()) + "\r\n";
  r += "\r\n";
  return r + body;
}

struct Response {
  int status = 0;
  std::map<std::string, std::string> headers;  // lower-case names
  std::string body;
};

// One keep-alive connection; reconnects when the server closed it.
class Conn {
 public:
  Conn(Url url, int timeout_ms) : url_(std::move(url)), timeout_ms_(timeout_ms) {}
  ~Conn() { reset(); }
  Conn(const Conn&) = delete;
  Conn& operator=(const Conn&) = delete;

  std::optional<Response> exchange(const std::string& method, const std::string& body,
                                   const std::vector<std::pair<std::string, std::string>>& headers) {
    if (fd_ < 0) {
      fd_ = open_socket(url_, true, timeout_ms_);
      buf_.clear();
      if (fd_ < 0) return std::nullopt;
    }
    if (!send_all(fd_, request_text(url_, method, body, headers))) {
      reset();
      return std::nullopt;
    }
    auto r = read_response();
    if (!r) reset();
    return r;
  }

 private:
  void reset() {
    if (fd_ >= 0) ::close(fd_);
    fd_ = -1;
    buf_.clear();
  }
  bool fill() {
    char tmp[16384];
    for (;;) {
      const ssize_t n = ::recv(fd_, tmp, sizeof tmp, 0);
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) return false;
      buf_.append(tmp, static_cast<std::size_t>(n));
      return true;
    }
  }
  std::optional<Response> read_response() {
    std::size_t end;
    while ((end = buf_.find("\r\n\r\n")) == std::string::npos)
      if (!fill()) return std::nullopt;
    Response r;
    std::istringstream head(buf_.substr(0, end));
    std::string line;
    std::getline(head, line);
    if (line.size() < 12) return std::nullopt;
    r.status = std::atoi(line.c_str() + 9);
    while (std::getline(head, line)) {
      if (!line.empty() && line.back() == '\r') line.pop_back();
      const auto colon = line.find(':');
      if (colon == std::string::npos) continue;
      std::string name = line.substr(0, colon);
      std::transform(name.begin(), name.end(), name.begin(), [](unsigned char c) { return std::tolower(c); });
      std::string value = line.substr(colon + 1);
      value.erase(0, value.find_first_not_of(' '));
      r.headers[name] = value;
    }
    buf_.erase(0, end + 4);
    bool keep = !(r.headers.count("connection") && r.headers["connection"] == "close");
    if (auto cl = r.headers.find("content-length"); cl != r.headers.end()) {
      const auto len = std::stoull(cl->second);
      while (buf_.size() < len)
        if (!fill()) return std::nullopt;
      r.body = buf_.substr(0, len);
      buf_.erase(0, len);
    } else if (r.headers.count("transfer-encoding")) {  // chunked
      for (;;) {
        std::size_t eol;
        while ((eol = buf_.find("\r\n")) == std::string::npos)
          if (!fill()) return std::nullopt;
        const auto size = std::stoull(buf_.substr(0, eol), nullptr, 16);
        while (buf_.size() < eol + 2 + size + 2)
          if (!fill()) return std::nullopt;
        r.body.append(buf_, eol + 2, size);
        buf_.erase(0, eol + 2 + size + 2);
        if (size == 0) break;
      }
    } else if (r.status != 204 && r.status != 304 && r.status >= 200) {  // until close
      while (fill()) {}
      r.body = std::move(buf_);
      buf_.clear();
      keep = false;
    }
    if (!keep) reset();
    return r;
  }

  Url url_;
  int timeout_ms_;
  int fd_ = -1;
  std::string buf_;
};

// The JSON-RPC answer in a response body: plain JSON, or the `data:` of an event stream.
std::optional<json> answer_of(const Response& r) {
  auto parse = [](const std::string& s) -> std::optional<json> {
    auto j = json::parse(s, nullptr, false);
    if (j.is_discarded() || !j.is_object() || !(j.contains("result") || j.contains("error"))) return std::nullopt;
    return j;
  };
  if (r.body.empty()) return std::nullopt;
  if (r.body[0] == '{') return parse(r.body);
  std::istringstream in(r.body);
  for (std::string line; std::getline(in, line);) {
    if (!line.empty() && line.back() == '\r') line.pop_back();
    if (line.rfind("data:", 0) == 0)
      if (auto j = parse(line.substr(line[5] == ' ' ? 6 : 5))) return j;
  }
  return std::nullopt;
}

// A tools/call answered with a result that is not an error result.
bool succeeded(const std::optional<json>& j) {
  if (!j || !j->contains("result") || !(*j)["result"].is_object()) return false;
  const auto& r = (*j)["result"];
  return !r.value("isError", false) && r.contains("content");
}

using Headers = std::vector<std::pair<std::string, std::string>>;

Headers modern_headers(const std::string& method, const std::string& name = "") {
  Headers h{{"MCP-Protocol-Version", kModern}, {"Mcp-Method", method}};
  if (!name.empty()) h.emplace_back("Mcp-Name", name);
  return h;
}

// A legacy session on `c`: its id, or nullopt.
std::optional<std::string> open_session(Conn& c, long id) {
  auto r = c.exchange("POST", initialize_body(id), {});
  if (!r || r->status != 200 || !answer_of(*r)) return std::nullopt;
  auto sid = r->headers.find("mcp-session-id");
  if (sid == r->headers.end()) return std::nullopt;
  auto n = c.exchange("POST", kInitialized, {{"Mcp-Session-Id", sid->second}, {"MCP-Protocol-Version", kLegacy}});
  if (!n || n->status / 100 != 2) return std::nullopt;
  return sid->second;
}

struct Stats {
  std::vector<double> lat_us;
  long errors = 0;
};

void put_latency(json& out, std::vector<double>& lat) {
  std::sort(lat.begin(), lat.end());
  auto pct = [&](double p) {
    return lat.empty() ? 0.0 : lat[std::min(lat.size() - 1, static_cast<std::size_t>(p * lat.size()))];
  };
  out["p50_us"] = std::round(pct(0.50));
  out["p99_us"] = std::round(pct(0.99));
}

void put_server(json& out, const std::optional<ProcSample>& before, const std::optional<ProcSample>& after,
                long requests) {
  if (!before || !after) return;
  out["server_cpu_s"] = after->cpu_s - before->cpu_s;
  if (requests > 0)
    out["server_cpu_us_per_req"] =
        std::round((after->cpu_s - before->cpu_s) * 1e6 / static_cast<double>(requests) * 10) / 10;
  out["server_rss_kb"] = after->rss_kb;
  out["server_threads"] = after->threads;
}

// ---------------------------------------------------------------- http
int run_http(const Url& url, const std::string& era, int conns, double seconds, int pid, long calls) {
  const bool modern = era == "modern";
  std::vector<Stats> stats(static_cast<std::size_t>(conns));
  std::atomic<int> ready{0}, finished{0};
  std::atomic<bool> go{false}, stop{false};
  std::vector<std::thread> threads;
  for (int i = 0; i < conns; ++i)
    threads.emplace_back([&, i] {
      Stats& st = stats[static_cast<std::size_t>(i)];
      Conn c(url, 10000);
      Headers h;
      if (modern) h = modern_headers("tools/call", "echo");
      if (era == "stateless") h = {{"MCP-Protocol-Version", kLegacy}};
      if (era == "legacy") {
        auto sid = open_session(c, 1);
        if (!sid) {
          ++st.errors;
          ++ready;
          return;
        }
        h = {{"Mcp-Session-Id", *sid}, {"MCP-Protocol-Version", kLegacy}};
      }
      ++ready;
      while (!go.load()) std::this_thread::sleep_for(std::chrono::milliseconds(1));
      for (long id = 2; !stop.load() && (calls <= 0 || id - 2 < calls); ++id) {
        const auto t0 = Clock::now();
        auto r = c.exchange("POST", call_body(id, modern), h);
        const auto t1 = Clock::now();
        if (stop.load()) break;  // only whole calls inside the window
        if (!r || r->status != 200 || !succeeded(answer_of(*r))) {
          if (++st.errors > 1000) return;
          continue;
        }
        st.lat_us.push_back(std::chrono::duration<double, std::micro>(t1 - t0).count());
      }
      ++finished;
    });
  const auto limit = Clock::now() + std::chrono::seconds(30);
  while (ready.load() < conns && Clock::now() < limit) std::this_thread::sleep_for(std::chrono::milliseconds(5));
  const auto before = sample(pid);
  const auto t0 = Clock::now();
  go = true;
  if (calls > 0) {  // until every connection made its calls (S: the limit)
    const auto end = t0 + std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(seconds));
    while (finished.load() < conns && Clock::now() < end) std::this_thread::sleep_for(std::chrono::milliseconds(1));
  } else {
    std::this_thread::sleep_for(std::chrono::duration<double>(seconds));
  }
  stop = true;
  const auto t1 = Clock::now();
  const auto after = sample(pid);
  for (auto& t : threads) t.join();
  std::vector<double> lat;
  long errors = 0;
  for (auto& s : stats) {
    lat.insert(lat.end(), s.lat_us.begin(), s.lat_us.end());
    errors += s.errors;
  }
  const double secs = std::chrono::duration<double>(t1 - t0).count();
  json out{
      {"mode", "http"},  {"era", era}, {"conns", conns}, {"seconds", secs}, {"requests", static_cast<long>(lat.size())},
      {"errors", errors}};
  out["rps"] = std::round(static_cast<double>(lat.size()) / secs);
  put_latency(out, lat);
  put_server(out, before, after, static_cast<long>(lat.size()));
  std::cout << out.dump() << std::endl;
  return lat.empty() ? 1 : 0;
}

// ---------------------------------------------------------------- stdio
// One window (and one JSON line) per value of `inflights`, on one server process.
int run_stdio(const std::string& era, const std::vector<int>& inflights, double seconds, long calls,
              std::vector<char*> cmd) {
  int to_child[2], from_child[2];
  if (pipe2(to_child, O_CLOEXEC) != 0 || pipe2(from_child, O_CLOEXEC) != 0) die("pipe");
  const pid_t pid = fork();
  if (pid < 0) die("fork");
  if (pid == 0) {
    dup2(to_child[0], 0);
    dup2(from_child[1], 1);
    cmd.push_back(nullptr);
    execvp(cmd[0], cmd.data());
    _exit(127);
  }
  ::close(to_child[0]);
  ::close(from_child[1]);
  const int out = to_child[1], in = from_child[0];
  std::string buf;
  auto write_line = [&](const std::string& s) { return send_all_fd(out, s + "\n"); };
  // Reads one line (bounded by `deadline`).
  auto read_line = [&](Clock::time_point deadline, std::string& line) {
    for (;;) {
      if (auto nl = buf.find('\n'); nl != std::string::npos) {
        line = buf.substr(0, nl);
        buf.erase(0, nl + 1);
        return true;
      }
      const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now()).count();
      if (left <= 0) return false;
      pollfd p{in, POLLIN, 0};
      if (::poll(&p, 1, static_cast<int>(left)) <= 0) continue;
      char tmp[65536];
      const ssize_t n = ::read(in, tmp, sizeof tmp);
      if (n <= 0) return false;
      buf.append(tmp, static_cast<std::size_t>(n));
    }
  };
  const bool modern = era == "modern";
  std::string line;
  auto finish = [&](int status) {
    ::close(out);
    for (int i = 0; i < 50; ++i) {
      if (waitpid(pid, nullptr, WNOHANG) == pid) return status;
      std::this_thread::sleep_for(std::chrono::milliseconds(40));
    }
    kill(pid, SIGKILL);
    waitpid(pid, nullptr, 0);
    return status;
  };
  if (!modern) {
    write_line(initialize_body(0));
    const auto limit = Clock::now() + std::chrono::seconds(30);
    bool ok = false;
    while (!ok && read_line(limit, line))
      ok = line.find("\"id\":0") != std::string::npos || line.find("\"id\": 0") != std::string::npos;
    if (!ok) {
      std::cerr << "server_drive: no answer to initialize\n";
      return finish(1);
    }
    write_line(kInitialized);
  }
  // Warm-up call (the first one may load code), then the timed window.
  write_line(call_body(1, modern));
  {
    const auto limit = Clock::now() + std::chrono::seconds(30);
    bool ok = false;
    while (!ok && read_line(limit, line)) {
      auto j = json::parse(line, nullptr, false);
      ok = !j.is_discarded() && j.value("id", json()) == 1;
    }
    if (!ok) {
      std::cerr << "server_drive: no answer to the first call\n";
      return finish(1);
    }
  }
  long next = 2;
  bool all_ok = true;
  for (const int inflight : inflights) {
    std::map<long, Clock::time_point> sent;
    std::vector<double> lat;
    long errors = 0;
    const auto before = sample(pid);
    const auto t0 = Clock::now();
    const auto end = t0 + std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(seconds));
    auto t1 = end;
    long made = 0;
    for (;;) {
      const auto now = Clock::now();
      while (now < end && static_cast<int>(sent.size()) < inflight && (calls <= 0 || made < calls)) {
        ++made;
        sent[next] = Clock::now();
        write_line(call_body(next++, modern));
      }
      if (sent.empty()) {
        t1 = Clock::now();
        break;
      }
      if (!read_line(std::max(now, end) + std::chrono::seconds(10), line)) {
        std::cerr << "server_drive: the server stopped answering (" << sent.size() << " calls in flight)\n";
        return finish(1);
      }
      auto j = json::parse(line, nullptr, false);
      if (j.is_discarded() || !j.contains("id") || !j["id"].is_number_integer()) continue;  // notifications
      auto it = sent.find(j["id"].get<long>());
      if (it == sent.end()) continue;
      if (succeeded(j))
        lat.push_back(std::chrono::duration<double, std::micro>(Clock::now() - it->second).count());
      else
        ++errors;
      sent.erase(it);
    }
    const auto after = sample(pid);
    const double secs = std::chrono::duration<double>(t1 - t0).count();
    json o{{"mode", "stdio"},
           {"era", era},
           {"inflight", inflight},
           {"seconds", secs},
           {"requests", static_cast<long>(lat.size())},
           {"errors", errors}};
    o["rps"] = std::round(static_cast<double>(lat.size()) / secs);
    put_latency(o, lat);
    put_server(o, before, after, static_cast<long>(lat.size()));
    std::cout << o.dump() << std::endl;
    all_ok = all_ok && !lat.empty();
  }
  return finish(all_ok ? 0 : 1);
}

// ---------------------------------------------------------------- streams
int run_streams(const Url& url, const std::string& kind, int n, int pid, double limit_s) {
  raise_fd_limit();
  const auto deadline =
      Clock::now() + std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(limit_s));
  const bool listen = kind == "listen";
  const auto base = sample(pid);
  // Legacy: a session for each stream first (over a few keep-alive connections).
  std::vector<std::string> sessions;
  if (!listen) {
    Conn c(url, 10000);
    for (int i = 0; i < n && Clock::now() < deadline; ++i) {
      auto sid = open_session(c, i);
      if (!sid) die("could not open session " + std::to_string(i));
      sessions.push_back(*sid);
    }
    if (static_cast<int>(sessions.size()) < n) die("time limit while opening sessions");
  }
  const auto with_sessions = sample(pid);
  const int ep = epoll_create1(EPOLL_CLOEXEC);
  struct Stream {
    int fd = -1;
    std::string pending;  // request bytes not yet sent
    std::string seen;     // bytes received (trimmed)
    bool open = false, notified = false;
  };
  std::vector<Stream> streams(static_cast<std::size_t>(n));
  const std::string listen_body =
      json{{"jsonrpc", "2.0"},
           {"id", 1},
           {"method", "subscriptions/listen"},
           {"params", {{"notifications", {{"resourcesListChanged", true}}}, {"_meta", meta()}}}}
          .dump();
  // refused: answered with an error (or closed) before it opened; lost: closed once open.
  int opened = 0, notified = 0, refused = 0, lost = 0;
  std::string first_error;
  auto drop = [&](Stream& s) {
    epoll_ctl(ep, EPOLL_CTL_DEL, s.fd, nullptr);
    ::close(s.fd);
    s.fd = -1;
    s.open = s.notified = true;  // done with
  };
  auto refuse = [&](Stream& s) {
    ++refused;
    if (first_error.empty()) {  // the status line and the body
      const auto head_end = s.seen.find("\r\n\r\n");
      first_error = s.seen.substr(0, s.seen.find("\r\n"));
      if (head_end != std::string::npos) first_error += " " + s.seen.substr(head_end + 4, 240);
      if (first_error.empty()) first_error = "closed before it opened";
    }
    drop(s);
  };
  auto on_bytes = [&](Stream& s) {
    if (!s.open) {
      // Open: the listen stream's acknowledgement, or the GET stream's 200 head. Refused: another
      // status, or (listen) an error answer before any acknowledgement.
      const auto head_end = s.seen.find("\r\n\r\n");
      if (head_end == std::string::npos) return;
      if (s.seen.rfind("HTTP/1.1 200", 0) != 0) return refuse(s);
      const bool ok = !listen || s.seen.find("subscriptions/acknowledged") != std::string::npos;
      if (!ok && s.seen.find("\"error\"") != std::string::npos) return refuse(s);
      if (ok) {
        s.open = true;
        ++opened;
        s.seen.clear();
      }
    } else if (!s.notified && s.seen.find("list_changed") != std::string::npos) {
      s.notified = true;
      ++notified;
    }
    if (s.seen.size() > 4096) s.seen.erase(0, s.seen.size() - 64);
  };
  auto pump = [&](int timeout_ms) {
    epoll_event events[256];
    const int k = epoll_wait(ep, events, 256, timeout_ms);
    for (int e = 0; e < k; ++e) {
      Stream& s = streams[events[e].data.u32];
      if ((events[e].events & EPOLLOUT) && !s.pending.empty()) {
        const ssize_t w = ::send(s.fd, s.pending.data(), s.pending.size(), MSG_NOSIGNAL);
        if (w > 0) s.pending.erase(0, static_cast<std::size_t>(w));
        if (s.pending.empty()) {
          epoll_event ev{EPOLLIN, {}};
          ev.data.u32 = events[e].data.u32;
          epoll_ctl(ep, EPOLL_CTL_MOD, s.fd, &ev);
        }
      }
      if (events[e].events & (EPOLLIN | EPOLLHUP | EPOLLERR)) {
        char tmp[8192];
        const ssize_t r = ::recv(s.fd, tmp, sizeof tmp, 0);
        if (r > 0) {
          s.seen.append(tmp, static_cast<std::size_t>(r));
          on_bytes(s);
        } else if (r == 0 || (errno != EAGAIN && errno != EINTR)) {
          if (!s.open) {
            refuse(s);
          } else {
            if (!s.notified) ++lost;
            drop(s);
          }
        }
      }
    }
  };
  // Open them, at most 256 connecting at a time.
  const auto t_open = Clock::now();
  int started = 0;
  while ((opened + refused) < n && Clock::now() < deadline) {
    while (started < n && started - (opened + refused) < 256) {
      Stream& s = streams[static_cast<std::size_t>(started)];
      s.fd = open_socket(url, false, 0);
      if (s.fd < 0) die("socket/connect failed at stream " + std::to_string(started) + ": " + std::strerror(errno));
      s.pending = listen ? request_text(url, "POST", listen_body, modern_headers("subscriptions/listen"))
                         : request_text(url, "GET", "",
                                        {{"Mcp-Session-Id", sessions[static_cast<std::size_t>(started)]},
                                         {"MCP-Protocol-Version", kLegacy}});
      epoll_event ev{EPOLLIN | EPOLLOUT, {}};
      ev.data.u32 = static_cast<uint32_t>(started);
      epoll_ctl(ep, EPOLL_CTL_ADD, s.fd, &ev);
      ++started;
    }
    pump(100);
  }
  const double open_s = std::chrono::duration<double>(Clock::now() - t_open).count();
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  const auto with_streams = sample(pid);
  // One notification to all of them (to those that opened, if some were refused).
  double fanout_ms = -1;
  if (opened > 0) {
    Conn c(url, 10000);
    Headers h = listen ? modern_headers("tools/call", "notify")
                       : Headers{{"Mcp-Session-Id", sessions[0]}, {"MCP-Protocol-Version", kLegacy}};
    const auto t0 = Clock::now();
    auto r = c.exchange("POST", call_body(1000000, listen, "notify"), h);
    if (!r || r->status != 200) die("the notify call failed");
    while (notified + lost < opened && Clock::now() < deadline) pump(50);
    fanout_ms = std::chrono::duration<double, std::milli>(Clock::now() - t0).count();
  }
  json o{{"mode", "streams"},    {"kind", kind},       {"streams", n}, {"opened", opened},
         {"notified", notified}, {"refused", refused}, {"lost", lost}, {"open_s", open_s}};
  if (!first_error.empty()) o["first_error"] = first_error;
  if (fanout_ms >= 0 && notified == opened) o["fanout_ms"] = std::round(fanout_ms * 10) / 10;
  if (base && with_streams) {
    o["rss_base_kb"] = base->rss_kb;
    o["rss_sessions_kb"] = with_sessions ? with_sessions->rss_kb : 0;
    o["rss_streams_kb"] = with_streams->rss_kb;
    o["threads"] = with_streams->threads;
    // The stream's own cost; for GET streams also the session's and the stream's together.
    const long from = with_sessions ? with_sessions->rss_kb : base->rss_kb;
    const double open_n = std::max(opened, 1);  // per stream that opened
    o["rss_per_stream_kb"] = std::round(static_cast<double>(with_streams->rss_kb - from) / open_n * 10) / 10;
    if (!listen)
      o["rss_per_session_and_stream_kb"] =
          std::round(static_cast<double>(with_streams->rss_kb - base->rss_kb) / open_n * 10) / 10;
  }
  std::cout << o.dump() << std::endl;
  for (auto& s : streams)
    if (s.fd >= 0) ::close(s.fd);
  ::close(ep);
  // A server that refuses streams is a finding, not a failure of the run.
  return opened > 0 && notified == opened ? 0 : 1;
}

// ---------------------------------------------------------------- sessions
int run_sessions(const Url& url, int n, int pid, long expiry_ms, double limit_s) {
  const auto deadline =
      Clock::now() + std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(limit_s));
  const auto before = sample(pid);
  Conn c(url, 10000);
  int made = 0;
  const auto t0 = Clock::now();
  for (; made < n && Clock::now() < deadline; ++made)
    if (!open_session(c, made)) die("could not open session " + std::to_string(made));
  const double open_s = std::chrono::duration<double>(Clock::now() - t0).count();
  const auto peak = sample(pid);
  // Whether one more session is accepted now (a server at its max_sessions refuses it).
  const bool room_at_peak = open_session(c, n).has_value();
  // Wait for expiry (plus a margin), then take the lowest RSS seen over a second.
  const auto wake = Clock::now() + std::chrono::milliseconds(expiry_ms) + std::chrono::milliseconds(1500);
  while (Clock::now() < wake && Clock::now() < deadline) std::this_thread::sleep_for(std::chrono::milliseconds(100));
  // A session opened after expiry proves the table has room again (max_sessions).
  const bool room = open_session(c, n + 1).has_value();
  const auto after = sample(pid);
  // With an expiry: a second round (N - 1: the session above holds a place) reuses what expiry
  // freed if its peak is no higher than the first's: RSS that does not fall (memory kept by the
  // allocator) is then not a leak.
  std::optional<ProcSample> second;
  int made2 = 0;
  if (expiry_ms > 0) {
    for (; made2 < n - 1 && Clock::now() < deadline; ++made2)
      if (!open_session(c, n + 2 + made2)) break;
    second = sample(pid);
  }
  json o{{"mode", "sessions"},
         {"sessions", made},
         {"open_s", open_s},
         {"expiry_ms", expiry_ms},
         {"new_session_at_peak", room_at_peak},
         {"new_session_after", room}};
  if (before && peak && after) {
    o["rss_before_kb"] = before->rss_kb;
    o["rss_peak_kb"] = peak->rss_kb;
    o["rss_after_kb"] = after->rss_kb;
    o["threads"] = peak->threads;
    if (second) {
      o["second_round_sessions"] = made2;
      o["rss_second_peak_kb"] = second->rss_kb;
    }
    o["rss_per_session_kb"] =
        std::round(static_cast<double>(peak->rss_kb - before->rss_kb) / std::max(made, 1) * 10) / 10;
  }
  std::cout << o.dump() << std::endl;
  return made == n ? 0 : 1;
}

int usage() {
  std::cerr << "usage: server_drive http --url URL --era legacy|modern|stateless --conns C --seconds S [--pid PID]\n"
               "                           [--calls N]\n"
               "       server_drive stdio --era legacy|modern --inflight K[,K...] --seconds S [--calls N] -- CMD ARGS...\n"
               "       server_drive streams --url URL --kind listen|get --n N [--pid PID] [--seconds LIMIT]\n"
               "       server_drive sessions --url URL --n N --expiry-ms MS [--pid PID] [--seconds LIMIT]\n";
  return 2;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) return usage();
  signal(SIGPIPE, SIG_IGN);
  const std::string mode = argv[1];
  std::map<std::string, std::string> opt{{"--era", "modern"},  {"--conns", "1"},       {"--seconds", "10"},
                                         {"--pid", "0"},       {"--inflight", "1"},    {"--n", "100"},
                                         {"--kind", "listen"}, {"--expiry-ms", "2000"}, {"--calls", "0"}};
  std::vector<char*> cmd;
  for (int i = 2; i < argc; ++i) {
    const std::string a = argv[i];
    if (a == "--") {
      cmd.assign(argv + i + 1, argv + argc);
      break;
    }
    if (i + 1 >= argc || (!opt.count(a) && a != "--url")) return usage();
    opt[a] = argv[++i];
  }
  try {
    const double seconds = std::stod(opt["--seconds"]);
    const int pid = std::stoi(opt["--pid"]);
    const long calls = std::stol(opt["--calls"]);
    if (mode == "stdio") {
      if (cmd.empty()) return usage();
      std::vector<int> inflights;
      std::istringstream list(opt["--inflight"]);
      for (std::string k; std::getline(list, k, ',');) inflights.push_back(std::max(1, std::stoi(k)));
      if (inflights.empty()) return usage();
      return run_stdio(opt["--era"], inflights, seconds, calls, cmd);
    }
    if (!opt.count("--url")) return usage();
    const Url url = parse_url(opt["--url"]);
    if (mode == "http") return run_http(url, opt["--era"], std::max(1, std::stoi(opt["--conns"])), seconds, pid, calls);
    if (mode == "streams") return run_streams(url, opt["--kind"], std::max(1, std::stoi(opt["--n"])), pid, seconds);
    if (mode == "sessions")
      return run_sessions(url, std::max(1, std::stoi(opt["--n"])), pid, std::stol(opt["--expiry-ms"]), seconds);
  } catch (const std::exception& e) {
    die(std::string("bad argument: ") + e.what());
  }
  return usage();
}
