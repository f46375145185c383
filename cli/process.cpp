// SPDX-License-Identifier: MIT
// The process-level parts of mcpc: it is a child subreaper, and at exit it ends what its
// servers left behind.

#include "mcpc.hpp"

#include <chrono>
#include <filesystem>
#include <fstream>
#include <signal.h>
#include <sstream>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <thread>
#include <unistd.h>

namespace mcpc {

namespace {

// The processes whose parent is this one and whose process group is not ours, from /proc.
// Our servers run in process groups of their own, and what leaves them by setsid() does too;
// a --browser command and what it starts stay in ours, and are left alone.
std::vector<pid_t> children() {
  std::vector<pid_t> out;
  const pid_t self = ::getpid(), group = ::getpgrp();
  std::error_code ec;
  for (const auto& entry : std::filesystem::directory_iterator("/proc", ec)) {
    const std::string name = entry.path().filename().string();
    if (name.empty() || name.find_first_not_of("0123456789") != std::string::npos) continue;
    std::ifstream stat(entry.path() / "stat");
    std::string line;
    if (!std::getline(stat, line)) continue;
    // "pid (comm) state ppid ...": comm may hold spaces and parentheses, so read after the last ')'.
    const auto close = line.rfind(')');
    if (close == std::string::npos) continue;
    std::istringstream rest(line.substr(close + 1));
    char state = 0;
    long ppid = 0, pgrp = 0;
    if (rest >> state >> ppid >> pgrp && ppid == self && pgrp != group) out.push_back(static_cast<pid_t>(std::stol(name)));
  }
  return out;
}

}  // namespace

void become_subreaper() { ::prctl(PR_SET_CHILD_SUBREAPER, 1); }

// mcpc is a child subreaper (see main): what the servers left behind when they exited (a
// daemon that called setsid(), out of reach of the group kill) is reparented to us. Ended
// here: SIGTERM, up to 500 ms, then SIGKILL, and every one reaped. The library cannot do this
// for its host process, whose other children are not its own.
void end_orphans() {
  auto left = children();
  if (left.empty()) return;
  for (pid_t pid : left) ::kill(pid, SIGTERM);
  const auto until = std::chrono::steady_clock::now() + std::chrono::milliseconds(500);
  while (!left.empty() && std::chrono::steady_clock::now() < until) {
    std::erase_if(left, [](pid_t pid) { return ::waitpid(pid, nullptr, WNOHANG) != 0; });
    if (!left.empty()) std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  for (pid_t pid : left) {
    ::kill(pid, SIGKILL);
    ::waitpid(pid, nullptr, 0);
  }
  // A daemon's own children are ours now too: one more pass (bounded: what is left is killed).
  for (pid_t pid : children()) {
    ::kill(pid, SIGKILL);
    ::waitpid(pid, nullptr, 0);
  }
}

}  // namespace mcpc
