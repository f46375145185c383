// SPDX-License-Identifier: MIT
// The stdio transport's server process: spawning it (environment, executable, pipes, its own
// process group), reaping it, and closing it (stdin, then SIGTERM, then SIGKILL to the group).
#include "stdio_internal.hpp"
#include "stdio_transport.hpp"

#include <boost/process/args.hpp>
#include <boost/process/child.hpp>
#include <boost/process/env.hpp>
#include <boost/process/environment.hpp>
#include <boost/process/exe.hpp>
#include <boost/process/extend.hpp>
#include <boost/process/handles.hpp>
#include <boost/process/io.hpp>
#include <boost/process/pipe.hpp>
#include <boost/process/search_path.hpp>
#include <boost/process/start_dir.hpp>

#include <fcntl.h>
#include <linux/close_range.h>
#include <signal.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include <cerrno>
#include <cstdlib>
#include <memory>

extern char** environ;

namespace bp = boost::process;

namespace mcp::detail {
namespace {

using namespace std::chrono_literals;

// Runs in the forked child before exec, after the stdio redirections: own process group
// (so shutdown can signal the whole tree), a clean signal state (a caller's blocked mask
// or ignored SIGPIPE must not leak into the server), and no inherited descriptors beyond
// 0-2. (Boost's limit_handles is not used: in 1.81 it closes a piped stdout.)
struct ChildSetup : bp::extend::handler {
  template <class Executor>
  void on_exec_setup(Executor&) const {
    ::setpgid(0, 0);
    // Mark, rather than close, so Boost's own exec-error pipe keeps working until exec.
    if (::close_range(3, ~0U, CLOSE_RANGE_CLOEXEC) != 0) {
      const long max = std::min(::sysconf(_SC_OPEN_MAX), 65536L);
      for (int fd = 3; fd < max; ++fd) ::fcntl(fd, F_SETFD, FD_CLOEXEC);
    }
    sigset_t none;
    sigemptyset(&none);
    ::sigprocmask(SIG_SETMASK, &none, nullptr);
    ::signal(SIGPIPE, SIG_DFL);
  }
};

bool make_pipe(int fds[2]) { return ::pipe2(fds, O_CLOEXEC) == 0; }

// The server's stdin is a connected AF_UNIX socket pair rather than a pipe, as Node's
// child_process (libuv) gives every server it spawns, so the official TypeScript clients'
// servers already see one. A socket lets us write with MSG_NOSIGNAL: a dead reader is an
// EPIPE and never a SIGPIPE, without blocking and unblocking the signal around every write
// (two syscalls per message) and without touching the process's signal dispositions.
// fds[0] is the child's (read) end, fds[1] ours.
bool make_input_channel(int fds[2]) {
  if (::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, fds) != 0) return false;
  ::shutdown(fds[1], SHUT_RD);  // the child cannot write back into our end
  ::shutdown(fds[0], SHUT_WR);
  return true;
}

}  // namespace

Result<void> StdioTransport::start(Callbacks cb) {
  cb_ = std::move(cb);
  if (cfg_.command.empty()) return fail(Errc::invalid_config, "stdio server '" + name_ + "': empty command");

  // The environment: a safe default unless the config asks for all of ours.
  bp::environment env;
  static const char* const safe[] = {"HOME", "LOGNAME", "PATH", "SHELL", "TERM", "USER"};
  if (cfg_.inherit_env) {
    for (char** e = environ; e && *e; ++e) {
      std::string kv(*e);
      auto eq = kv.find('=');
      if (eq != std::string::npos && eq > 0) env[kv.substr(0, eq)] = kv.substr(eq + 1);
    }
  } else {
    for (const char* k : safe)
      if (const char* v = std::getenv(k)) env[k] = v;
  }
  for (const auto& [k, v] : cfg_.env) env[k] = v;

  // Resolve the executable now, against the child's PATH, so a missing one is a clear error.
  boost::filesystem::path exe;
  if (cfg_.command.find('/') != std::string::npos) {
    exe = cfg_.command;
    if (::access(cfg_.command.c_str(), X_OK) != 0)
      return fail(Errc::spawn_failed, "cannot execute '" + cfg_.command + "': " + errno_text(errno));
  } else {
    std::vector<boost::filesystem::path> dirs;
    std::string path = env.count("PATH") ? env["PATH"].to_string() : std::string();
    std::size_t pos = 0;
    while (pos <= path.size()) {
      auto c = path.find(':', pos);
      if (c == std::string::npos) c = path.size();
      if (c > pos) dirs.emplace_back(path.substr(pos, c - pos));
      pos = c + 1;
    }
    exe = bp::search_path(cfg_.command, dirs);
    if (exe.empty())
      return fail(Errc::spawn_failed, "executable '" + cfg_.command + "' not found in PATH (" + path + ")");
  }
  if (cfg_.cwd) {
    struct stat st{};
    if (::stat(cfg_.cwd->c_str(), &st) != 0 || !S_ISDIR(st.st_mode))
      return fail(Errc::spawn_failed, "working directory '" + *cfg_.cwd + "' does not exist");
  }

  int in_fds[2], out_fds[2], err_fds[2] = {-1, -1}, wake_fds[2];
  if (!make_input_channel(in_fds)) return fail(Errc::spawn_failed, "socketpair: " + errno_text(errno));
  bp::pipe in_pipe(in_fds[0], in_fds[1]);
  if (!make_pipe(out_fds)) return fail(Errc::spawn_failed, "pipe: " + errno_text(errno));
  bp::pipe out_pipe(out_fds[0], out_fds[1]);
  const bool capture = cfg_.stderr_mode == StderrMode::capture;
  if (capture && !make_pipe(err_fds)) return fail(Errc::spawn_failed, "pipe: " + errno_text(errno));
  bp::pipe err_pipe = capture ? bp::pipe(err_fds[0], err_fds[1]) : bp::pipe();
  if (!make_pipe(wake_fds)) return fail(Errc::spawn_failed, "pipe: " + errno_text(errno));
  wake_r_.reset(wake_fds[0]);
  wake_w_.reset(wake_fds[1]);

  try {
    std::error_code ec;
    const std::string dir = cfg_.cwd.value_or(std::string());
    auto launch = [&](auto&& err_redirect) {
      if (cfg_.cwd)
        return bp::child(bp::exe = exe, bp::args = cfg_.args, env, bp::start_dir = dir, bp::std_in < in_pipe,
                         bp::std_out > out_pipe, err_redirect, ChildSetup{}, ec);
      return bp::child(bp::exe = exe, bp::args = cfg_.args, env, bp::std_in < in_pipe, bp::std_out > out_pipe,
                       err_redirect, ChildSetup{}, ec);
    };
    bp::child child = cfg_.stderr_mode == StderrMode::capture ? launch(bp::std_err > err_pipe)
                      : cfg_.stderr_mode == StderrMode::ignore ? launch(bp::std_err > bp::null)
                                                                : launch(bp::std_err > stderr);
    if (ec || !child.valid())
      return fail(Errc::spawn_failed, "cannot start '" + cfg_.command + "': " + (ec ? ec.message() : "unknown error"));
    pid_ = child.id();
    child.detach();  // we reap it ourselves (try_reap), with our own timeouts
  } catch (const std::exception& e) {
    return fail(Errc::spawn_failed, "cannot start '" + cfg_.command + "': " + e.what());
  }
  // Boost closed the child's ends in the parent; take ownership of ours.
  in_.reset(in_pipe.native_sink());
  in_pipe.assign_sink(-1);
  out_.reset(out_pipe.native_source());
  out_pipe.assign_source(-1);
  if (capture) {
    err_.reset(err_pipe.native_source());
    err_pipe.assign_source(-1);
  }
  ::fcntl(in_.fd, F_SETFL, ::fcntl(in_.fd, F_GETFL) | O_NONBLOCK);
  // Non-blocking: the reader thread and a leader may both be told stdout is readable.
  ::fcntl(out_.fd, F_SETFL, ::fcntl(out_.fd, F_GETFL) | O_NONBLOCK);
  epoll_.reset(::epoll_create1(EPOLL_CLOEXEC));
  lead_epoll_.reset(::epoll_create1(EPOLL_CLOEXEC));
  handover_fd_.reset(::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK));
  lead_fd_.reset(::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK));
  if (epoll_.fd < 0 || lead_epoll_.fd < 0 || handover_fd_.fd < 0 || lead_fd_.fd < 0) {
    const int e = errno;
    close();
    return fail(Errc::spawn_failed, "epoll/eventfd: " + errno_text(e));
  }
  auto watch = [](int ep, int fd, std::uint32_t events) {
    epoll_event ev{};
    ev.events = events;
    ev.data.fd = fd;
    return ::epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev) == 0;
  };
  // The leader's set takes stdout first: exclusive entries are woken in the order they were
  // added, and the first one whose epoll has a waiter ends the wake-up (see stdio_internal.hpp).
  // A kernel that refuses it leaves leading off (replies then come through the reader thread).
  if (!watch(lead_epoll_.fd, out_.fd, EPOLLIN | EPOLLEXCLUSIVE) || !watch(lead_epoll_.fd, lead_fd_.fd, EPOLLIN))
    lead_epoll_.reset();
  for (int fd : {wake_r_.fd, err_.fd, handover_fd_.fd}) {
    if (fd >= 0) watch(epoll_.fd, fd, EPOLLIN);
  }
  if (!watch(epoll_.fd, out_.fd, EPOLLIN | EPOLLEXCLUSIVE)) watch(epoll_.fd, out_.fd, EPOLLIN);
  open_ = true;
  std::lock_guard close_lk(close_mutex_);  // reader_ is close()'s
  reader_ = std::thread(&StdioTransport::run_reader, std::static_pointer_cast<StdioTransport>(shared_from_this()));
  return {};
}

bool StdioTransport::try_reap(std::chrono::milliseconds within) {
  const auto until = Clock::now() + within;
  auto pause = 1ms;
  for (;;) {
    {
      std::lock_guard lk(reap_mutex_);
      if (reaped_ || pid_ <= 0) return true;
      int st = 0;
      pid_t r = ::waitpid(pid_, &st, WNOHANG);
      if (r == pid_ || (r < 0 && errno == ECHILD)) {
        reaped_ = true;
        wait_status_ = st;
        return true;
      }
    }
    if (Clock::now() >= until) return false;
    std::this_thread::sleep_for(pause);
    pause = std::min(pause * 2, 20ms);
  }
}

std::string StdioTransport::exit_description() const {
  std::lock_guard lk(reap_mutex_);
  if (!reaped_) return "closed its output";
  if (WIFEXITED(wait_status_)) return "exited with status " + std::to_string(WEXITSTATUS(wait_status_));
  if (WIFSIGNALED(wait_status_)) return std::string("was killed by signal ") + ::strsignal(WTERMSIG(wait_status_));
  return "exited";
}

void StdioTransport::close() {
  // On the reader thread, or a caller reading stdout (lead): a callback that disconnects (a
  // completion, a progress callback, on_stderr). It cannot join the reader thread (itself, or
  // one waiting for read_mutex_, which this thread holds), nor wait for a close under way
  // elsewhere (which joins that reader, which waits for this callback to return).
  const bool own = on_reader_thread() || reading_here();
  std::unique_lock close_lk(close_mutex_, std::defer_lock);
  if (!own) {
    close_lk.lock();
  } else if (!close_lk.try_lock()) {
    closing_ = true;  // the thread closing does the rest, once this callback has returned
    open_ = false;
    interrupt_lead();
    return;
  }
  if (!closed_) close_locked();
  if (own) {
    // The reader thread ends by itself once this callback returns; the next close() from
    // another thread (or the destructor) joins it and closes the pipes it reads.
    if (reader_.joinable()) close_deferred_ = true;
    return;
  }
  if (reader_.joinable()) reader_.join();
  close_deferred_ = false;
  // A leader polls stdout until it sees closing_ (interrupted in close_locked); not under its
  // feet. (The epoll and eventfds stay until destruction: interrupt_lead() may still be called.)
  std::lock_guard rl(read_mutex_);
  out_.reset();
  err_.reset();
}

void StdioTransport::close_locked() {
  closed_ = true;
  closing_ = true;
  open_ = false;
  interrupt_lead();
  if (pid_ <= 0) return;  // never started
  {
    // Graceful step 1: close the server's input.
    std::lock_guard lk(write_mutex_);
    in_.reset();
  }
  const auto grace = cfg_.shutdown_grace;
  if (!try_reap(grace)) {
    ::kill(-pid_, SIGTERM);
    if (!try_reap(grace)) {
      ::kill(-pid_, SIGKILL);
      try_reap(std::chrono::milliseconds(60000));
    }
  }
  // The leader is gone; whatever else it left in its process group goes too.
  if (::kill(-pid_, 0) == 0) {
    ::kill(-pid_, SIGTERM);
    const auto until = Clock::now() + std::min<std::chrono::milliseconds>(grace, 500ms);
    while (::kill(-pid_, 0) == 0 && Clock::now() < until) std::this_thread::sleep_for(5ms);
    ::kill(-pid_, SIGKILL);
  }
  if (wake_w_.fd >= 0) {
    char c = 'x';
    ssize_t ignored = ::write(wake_w_.fd, &c, 1);
    (void)ignored;
  }
  // The reader thread returns at this wake-up (close() joins it).
}

std::shared_ptr<Transport> make_stdio_transport(std::string server_name, StdioServerConfig config) {
  return std::make_shared<StdioTransport>(std::move(server_name), std::move(config));
}

}  // namespace mcp::detail
