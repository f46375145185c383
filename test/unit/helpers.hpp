// Test helpers: resource counting from /proc, fixture paths, config builders.
#pragma once
#include <mcp/client.hpp>

#include <dirent.h>
#include <sys/types.h>
#include <unistd.h>

#include <chrono>
#include <fstream>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

namespace testutil {

inline std::string fault_server() { return FAULT_SERVER_PATH; }

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
inline std::size_t threads() { return list_dir("/proc/self/task").size(); }

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
  static int n = 0;
  return "/tmp/mcp-test-" + std::to_string(::getpid()) + "-" + std::to_string(++n) + "-" + stem;
}

}  // namespace testutil

/// Assert no fd, thread or child process is left over relative to `before`.
#define CHECK_NO_LEAKS(before)                                                                  \
  do {                                                                                          \
    CHECK(testutil::eventually([&] { return testutil::children().size() <= (before).kids; })); \
    CHECK(testutil::eventually([&] { return testutil::threads() <= (before).thr; }));          \
    CHECK(testutil::open_fds() <= (before).fds);                                                \
  } while (0)
