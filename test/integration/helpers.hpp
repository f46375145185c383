// Test helpers: resource counting from /proc, fixture paths, config builders.
#pragma once
#include <mcp/client.hpp>

#include <arpa/inet.h>
#include <dirent.h>
#include <netinet/in.h>
#include <signal.h>
#include <spawn.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <sys/types.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdlib>
#include <fstream>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include <fcntl.h>

extern char** environ;

namespace testutil {

/// The fixture servers are test equipment, not code under test: a sanitizer run may point
/// these at uninstrumented builds (MCP_FAULT_SERVER, MCP_HTTP_FAULT_SERVER).
inline std::string fault_server() {
  const char* e = std::getenv("MCP_FAULT_SERVER");
  return e && *e ? e : FAULT_SERVER_PATH;
}
inline std::string http_fault_server() {
  const char* e = std::getenv("MCP_HTTP_FAULT_SERVER");
  return e && *e ? e : HTTP_FAULT_SERVER_PATH;
}

inline mcp::ServerConfig fault(std::vector<std::string> args) {
  mcp::StdioServerConfig st;
  st.command = fault_server();
  st.args = std::move(args);
  st.shutdown_grace = std::chrono::milliseconds(500);
  mcp::ServerConfig sc;
  sc.transport = std::move(st);
  return sc;
}

inline mcp::ClientConfig one(const std::string& name, mcp::ServerConfig sc, std::string id = {}) {
  mcp::ClientConfig cfg;
  cfg.servers.emplace(name, std::move(sc));
  static int counter = 0;
  cfg.id = id.empty() ? "test-" + std::to_string(++counter) : id;
  cfg.probe_timeout = std::chrono::milliseconds(1500);
  return cfg;
}

inline std::vector<std::string> list_dir(const std::string& path) {
  std::vector<std::string> out;
  if (DIR* d = ::opendir(path.c_str())) {
    while (auto* e = ::readdir(d))
      if (e->d_name[0] != '.') out.emplace_back(e->d_name);
    ::closedir(d);
  }
  return out;
}

inline std::size_t open_fds() { return list_dir("/proc/self/fd").size(); }

/// Milliseconds since `t` (steady clock).
inline long long ms_since(std::chrono::steady_clock::time_point t) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - t).count();
}
}  // namespace testutil
namespace mcp::detail {
std::size_t idle_flight_threads();  // lib/client/http_transport.hpp
std::size_t async_timer_threads();  // lib/protocol/async_service.cpp
}
namespace testutil {
/// Our threads, less the HTTP flight pool's idle ones (kept for reuse, not leaked) and the
/// asynchronous API's timer thread.
inline std::size_t threads() {
  const std::size_t all = list_dir("/proc/self/task").size();
  // Read second: errs high, never low. The asynchronous API's timer thread lives on once started.
  const std::size_t idle = mcp::detail::idle_flight_threads() + mcp::detail::async_timer_threads();
  return all > idle ? all - idle : 0;
}

struct ProcInfo {
  int pid;
  int ppid;
  int pgid;
  char state;
};

inline std::vector<ProcInfo> all_procs() {
  std::vector<ProcInfo> out;
  for (const auto& name : list_dir("/proc")) {
    if (name.find_first_not_of("0123456789") != std::string::npos) continue;
    std::ifstream f("/proc/" + name + "/stat");
    std::string line;
    if (!std::getline(f, line)) continue;
    auto rp = line.rfind(')');
    if (rp == std::string::npos) continue;
    std::istringstream rest(line.substr(rp + 2));
    ProcInfo p{};
    p.pid = std::stoi(name);
    rest >> p.state >> p.ppid >> p.pgid;
    out.push_back(p);
  }
  return out;
}

/// Our direct children (any state, zombies included).
inline std::vector<ProcInfo> children() {
  std::vector<ProcInfo> out;
  for (const auto& p : all_procs())
    if (p.ppid == ::getpid()) out.push_back(p);
  return out;
}

/// True if a live (non-zombie) process with this pid exists.
inline bool alive(int pid) {
  for (const auto& p : all_procs())
    if (p.pid == pid) return p.state != 'Z';
  return false;
}

/// Waits up to `ms` for `pred`.
template <class F>
bool eventually(F pred, int ms = 3000) {
  auto until = std::chrono::steady_clock::now() + std::chrono::milliseconds(ms);
  while (std::chrono::steady_clock::now() < until) {
    if (pred()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  return pred();
}

/// Snapshot of fds/threads/children to compare after a test.
struct Resources {
  std::size_t fds = open_fds();
  std::size_t thr = threads();
  std::size_t kids = children().size();
};

inline std::string read_file(const std::string& path) {
  std::ifstream f(path);
  std::stringstream ss;
  ss << f.rdbuf();
  return ss.str();
}

inline std::string temp_path(const std::string& stem) {
  static std::atomic<int> n{0};  // tests call this from many threads at once
  std::string path = "/tmp/mcp-test-" + std::to_string(::getpid()) + "-" + std::to_string(++n) + "-" + stem;
  // Fresh every time: fixtures append to their logs, and a file left by an earlier process
  // with the same pid would add its lines to this test's.
  ::unlink(path.c_str());
  return path;
}

/// A free TCP port on 127.0.0.1 (bound and released; good enough for tests).
inline int free_port() {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a);
  socklen_t len = sizeof a;
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len);
  ::close(fd);
  return ntohs(a.sin_port);
}

/// True once something accepts TCP connections on 127.0.0.1:port.
inline bool port_open(int port) {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(static_cast<uint16_t>(port));
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  bool ok = ::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0;
  ::close(fd);
  return ok;
}

/// A server process for a test (an HTTP MCP server): started with posix_spawn, its stdout
/// and stderr to a log file, stopped with SIGTERM (then SIGKILL) and reaped when destroyed.
class ServerProcess {
 public:
  ServerProcess(std::vector<std::string> argv, std::vector<std::string> extra_env, const std::string& log) {
    std::vector<char*> args;
    for (auto& a : argv) args.push_back(a.data());
    args.push_back(nullptr);
    std::vector<std::string> env_store;
    for (char** e = environ; *e; ++e) env_store.emplace_back(*e);
    for (auto& e : extra_env) env_store.push_back(e);
    std::vector<char*> env;
    for (auto& e : env_store) env.push_back(e.data());
    env.push_back(nullptr);
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
    posix_spawn_file_actions_addopen(&fa, 1, log.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    posix_spawn_file_actions_adddup2(&fa, 1, 2);
    if (::posix_spawn(&pid_, args[0], &fa, nullptr, args.data(), env.data()) != 0) pid_ = -1;
    posix_spawn_file_actions_destroy(&fa);
  }
  ~ServerProcess() { stop(); }
  ServerProcess(const ServerProcess&) = delete;
  ServerProcess& operator=(const ServerProcess&) = delete;
  [[nodiscard]] int pid() const { return pid_; }
  void stop() {
    if (pid_ <= 0) return;
    ::kill(pid_, SIGTERM);
    for (int i = 0; i < 300; ++i) {
      if (::waitpid(pid_, nullptr, WNOHANG) == pid_) { pid_ = -1; return; }
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    ::kill(pid_, SIGKILL);
    ::waitpid(pid_, nullptr, 0);
    pid_ = -1;
  }

 private:
  pid_t pid_ = -1;
};

}  // namespace testutil

/// Assert no fd, thread or child process is left over relative to `before`.
#define CHECK_NO_LEAKS(before)                                                                  \
  do {                                                                                          \
    CHECK(testutil::eventually([&] { return testutil::children().size() <= (before).kids; })); \
    CHECK(testutil::eventually([&] { return testutil::threads() <= (before).thr; }));          \
    CHECK(testutil::open_fds() <= (before).fds);                                                \
  } while (0)
