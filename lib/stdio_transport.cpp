// SPDX-License-Identifier: MIT
#include "stdio_transport.hpp"

#include "server_error.hpp"

#include "protocol/json_read.hpp"
#include "protocol/json_write.hpp"
#include "read_buffer.hpp"

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
#include <poll.h>
#include <signal.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <deque>
#include <memory>
#include <mutex>
#include <optional>
#include <thread>
#include <vector>

extern char** environ;

namespace bp = boost::process;

namespace mcp::detail {
namespace {

using Clock = Transport::Clock;
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

struct Fd {
  int fd = -1;
  Fd() = default;
  explicit Fd(int f) : fd(f) {}
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;
  ~Fd() { reset(); }
  void reset(int f = -1) {
    if (fd >= 0) ::close(fd);
    fd = f;
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

std::string errno_text(int e) { return std::strerror(e); }

constexpr std::size_t kChunk = 1 << 16;  // one read from the server's stdout

// The transport whose stdout the current thread is reading (reader thread or leader): a
// callback that waits for a reply must not try to lead on the same transport.
thread_local const void* tl_reading = nullptr;

// Bumps an eventfd (wakes whoever polls it).
void signal_fd(int fd) {
  const std::uint64_t one = 1;
  ssize_t ignored = ::write(fd, &one, sizeof one);
  (void)ignored;
}
void drain_fd(int fd) {
  std::uint64_t v;
  ssize_t ignored = ::read(fd, &v, sizeof v);
  (void)ignored;
}

class StdioTransport final : public Transport {
 public:
  StdioTransport(std::string name, StdioServerConfig cfg) : name_(std::move(name)), cfg_(std::move(cfg)) {}
  ~StdioTransport() override { close(); }

  Result<void> start(Callbacks cb) override;
  Result<void> send(const nlohmann::json& message, Clock::time_point deadline, const SendOptions&) override;
  void close() override;
  bool is_open() const override { return open_.load(); }
  bool lead(const std::function<bool()>& changed, Clock::time_point until) override;
  void interrupt_lead() override {
    if (lead_fd_.fd >= 0) signal_fd(lead_fd_.fd);
  }

 private:
  void reader_loop();
  // Splits what was read from stdout into lines (read_mutex_ held). As the leader, replies
  // are delivered here and anything else is handed to the reader thread (`handover`).
  // False: a line outgrew max_message_bytes.
  bool consume_stdout(const char* data, std::size_t n, bool leader, bool& handover);
  void leader_line(std::string_view line, bool& handover);
  // Delivers what a leader handed over (read_mutex_ held); false once a leader found an
  // oversized line (reported by the reader thread, which then stops).
  bool deliver_handed_over();
  void watch_stdout(bool on);
  Result<void> died();
  // Writes data[off..] to the server's stdin (write_mutex_ held); `off` says how far it got.
  Result<void> write_all(const std::string& data, Clock::time_point deadline, std::size_t& off);
  void handle_line(std::string_view line);
  // A line parse_json refused: reported, and the request it answers (if that is certain) fails.
  void refused_line(std::string_view line, JsonRefusal why);
  void keep_stderr_line(std::string line);
  std::string stderr_tail() const;
  bool try_reap(std::chrono::milliseconds within);
  std::string exit_description() const;
  void report_closed(Errc code, const std::string& what);

  std::string name_;
  StdioServerConfig cfg_;
  Callbacks cb_;
  pid_t pid_ = -1;
  Fd in_, out_, err_, wake_r_, wake_w_;
  // The reader thread waits in epoll on stdout, stderr, wake_r_ and handover_fd_. A thread
  // that leads (see lead()) takes stdout out of that set while it reads it itself.
  Fd epoll_, handover_fd_, lead_fd_;
  std::mutex read_mutex_;  // held while reading stdout and delivering what it held
  std::string out_buf_;    // the current, unfinished stdout line (read_mutex_)
  std::vector<nlohmann::json> handed_over_;  // parsed by a leader, for the reader (read_mutex_)
  bool too_large_ = false;  // a leader found an oversized line (read_mutex_)
  bool out_eof_ = false;    // stdout ended (read_mutex_)
  bool watching_out_ = false;  // stdout is watched by the epoll set (read_mutex_)
  std::atomic<bool> open_{false};
  std::atomic<bool> closing_{false};
  std::atomic<bool> closed_reported_{false};
  std::thread reader_;
  std::mutex write_mutex_;  // held by the writing thread (see send) and by close()
  std::mutex queue_mutex_;  // guards queued_ and writer_active_; taken after write_mutex_
  std::string queued_;      // lines for the writing thread to send after its own
  bool writer_active_ = false;  // a thread is in send()'s write loop
  std::mutex close_mutex_;
  bool closed_ = false;
  mutable std::mutex reap_mutex_;
  bool reaped_ = false;
  int wait_status_ = 0;
  mutable std::mutex tail_mutex_;
  std::deque<std::string> tail_;
};

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
  handover_fd_.reset(::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK));
  lead_fd_.reset(::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK));
  if (epoll_.fd < 0 || handover_fd_.fd < 0 || lead_fd_.fd < 0) {
    const int e = errno;
    close();
    return fail(Errc::spawn_failed, "epoll/eventfd: " + errno_text(e));
  }
  for (int fd : {wake_r_.fd, err_.fd, handover_fd_.fd, out_.fd}) {
    if (fd < 0) continue;
    epoll_event ev{};
    ev.events = EPOLLIN;
    ev.data.fd = fd;
    ::epoll_ctl(epoll_.fd, EPOLL_CTL_ADD, fd, &ev);
  }
  watching_out_ = true;
  open_ = true;
  reader_ = std::thread([this] { reader_loop(); });
  return {};
}

Result<void> StdioTransport::send(const nlohmann::json& message, Clock::time_point deadline, const SendOptions&) {
  // Invalid UTF-8 from the caller is replaced rather than thrown.
  std::string line;
  line.reserve(512);  // one allocation for a typical message, not one per doubling
  if (!append_json(line, message))
    return fail(Errc::invalid_message, too_deep_to_send_text());
  line += '\n';
  std::string batch;
  // Where this caller's own line starts in the first batch: a line whose caller is told it
  // failed is never sent later (the server must not act on a request its caller gave up).
  std::size_t own_start = 0;
  {
    std::lock_guard q(queue_mutex_);
    if (writer_active_ && !closing_ && open_) {
      // Another thread is writing: it sends this line after what it has, in order, often in
      // the same syscall as other lines. Under concurrency that saves a write and a wait for
      // write_mutex_ per message. A line the writer cannot send ends as that request's
      // timeout, or as the connection's end for everything in flight.
      queued_ += line;
      return {};
    }
    writer_active_ = true;
    batch.swap(queued_);  // what a writer that timed out left goes first
    own_start = batch.size();
    batch += line;
  }
  // This thread is the writer until the queue is empty (write_mutex_ keeps in_ open meanwhile).
  std::lock_guard lk(write_mutex_);
  Result<void> result;
  bool first = true;  // `batch` ends with this caller's line
  for (;;) {
    std::size_t off = 0;
    Result<void> r = write_all(batch, deadline, off);
    if (!r) {
      std::lock_guard q(queue_mutex_);
      const std::size_t others_end = first ? own_start : batch.size();
      if (off > 0 && batch[off - 1] != '\n') {
        in_.reset();  // a partial line would corrupt the stream for every later message
        queued_.clear();
      } else if (in_.fd < 0) {
        queued_.clear();
      } else if (off < others_end) {
        queued_.insert(0, batch, off, others_end - off);  // for the next writer, still first
      }
      writer_active_ = false;
      if (first) result = std::move(r);
      break;
    }
    first = false;
    std::lock_guard q(queue_mutex_);
    if (queued_.empty()) {
      writer_active_ = false;
      break;
    }
    batch.clear();
    batch.swap(queued_);
  }
  if (!result && result.error().errc() == Errc::process_exited) return died();
  return result;
}

Result<void> StdioTransport::write_all(const std::string& data, Clock::time_point deadline, std::size_t& off) {
  if (closing_ || in_.fd < 0) return fail(Errc::connection_closed, "server '" + name_ + "' is not running");
  if (!open_) return fail(Errc::process_exited, "server '" + name_ + "' closed its output");
  while (off < data.size()) {
    // MSG_NOSIGNAL: a server that died is an EPIPE here, never a SIGPIPE for the host process.
    ssize_t n = ::send(in_.fd, data.data() + off, data.size() - off, MSG_NOSIGNAL | MSG_DONTWAIT);
    if (n > 0) {
      off += static_cast<std::size_t>(n);
      continue;
    }
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
      if (closing_) return fail(Errc::connection_closed, "server '" + name_ + "' was closed during a write");
      auto now = Clock::now();
      if (now >= deadline) return fail(Errc::timeout, "server '" + name_ + "' is not reading its input");
      auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - now).count();
      pollfd p{in_.fd, POLLOUT, 0};
      ::poll(&p, 1, static_cast<int>(std::min<long long>(left + 1, 50)));
      continue;
    }
    const int e = errno;
    if (e == EPIPE || e == ECONNRESET) return fail(Errc::process_exited, "server '" + name_ + "' closed its input");
    return fail(Errc::io_error, "write to server '" + name_ + "': " + errno_text(e));
  }
  return {};
}

Result<void> StdioTransport::died() {
  // The reader thread is collecting the server's last stderr lines and its exit status; wait
  // for that (bounded) so the error says why, not just "closed its input".
  const auto until = Clock::now() + 1500ms;
  while (!closed_reported_ && !closing_ && Clock::now() < until) std::this_thread::sleep_for(5ms);
  Error e = server_error(Errc::process_exited, "server '" + name_ + "' " + exit_description(), name_);
  e.stderr_tail = stderr_tail();
  return fail(std::move(e));
}

void StdioTransport::keep_stderr_line(std::string line) {
  if (!line.empty() && line.back() == '\r') line.pop_back();
  if (cfg_.on_stderr) {
    try {
      cfg_.on_stderr(name_, line);
    } catch (...) {  // on the reader thread: nothing it throws may leave it
    }
  }
  std::lock_guard lk(tail_mutex_);
  if (line.size() > 4096) line.resize(4096);
  tail_.push_back(std::move(line));
  while (tail_.size() > cfg_.stderr_tail_lines) tail_.pop_front();
}

std::string StdioTransport::stderr_tail() const {
  std::lock_guard lk(tail_mutex_);
  std::string out;
  for (const auto& l : tail_) out += l + "\n";
  return out;
}

void StdioTransport::handle_line(std::string_view line) {
  if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
  if (line.find_first_not_of(" \t") == std::string_view::npos) return;
  JsonRefusal why{};
  auto j = parse_json(line, &why, max_json_values(cfg_.max_message_bytes));
  if (j.is_discarded()) return refused_line(line, why);
  if (cb_.on_message) cb_.on_message(std::move(j));
}

void StdioTransport::refused_line(std::string_view line, JsonRefusal why) {
  const std::size_t max_values = max_json_values(cfg_.max_message_bytes);
  if (cb_.on_diagnostic) {
    const std::string head = std::string(line.substr(0, 200)) + (line.size() > 200 ? "..." : "");
    if (why == JsonRefusal::malformed) cb_.on_diagnostic("non-JSON line on stdout ignored: " + head);
    else cb_.on_diagnostic("a line on stdout " + describe(why, max_values) + ", ignored: " + head);
  }
  // A reply we cannot read fails its request now, rather than at its timeout.
  if (auto id = response_id(line); id && cb_.on_request_failed) {
    const Errc code = why == JsonRefusal::too_many_values ? Errc::message_too_large : Errc::invalid_message;
    cb_.on_request_failed(nlohmann::json(*id), server_error(code, "the server's reply " + describe(why, max_values), name_));
  }
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

void StdioTransport::report_closed(Errc code, const std::string& what) {
  open_ = false;
  if (closing_ || closed_reported_.exchange(true)) return;
  Error e = server_error(code, what, name_);
  e.stderr_tail = stderr_tail();
  if (cb_.on_closed) cb_.on_closed(e);
}

void StdioTransport::watch_stdout(bool on) {
  if (on == watching_out_) return;
  // stdout stays in the set; an empty event mask disables EPOLLIN and keeps its wait-queue
  // entry. Two MODs cost about half of a DEL plus an ADD, and a leader pays them on every
  // call. The kernel still reports EPOLLHUP and EPOLLERR for a disabled entry: a server that
  // closes stdout during a lead wakes the reader thread until the leader, which sees the
  // end too, gives stdout back. At the end of stdout the reader deletes the entry instead.
  epoll_event ev{};
  ev.events = on ? EPOLLIN : 0u;
  ev.data.fd = out_.fd;
  ::epoll_ctl(epoll_.fd, EPOLL_CTL_MOD, out_.fd, &ev);
  watching_out_ = on;
}

bool StdioTransport::consume_stdout(const char* data, std::size_t n, bool leader, bool& handover) {
  std::size_t start = 0;
  for (std::size_t i = 0; i < n; ++i) {
    if (data[i] != '\n') continue;
    std::string_view line(data + start, i - start);
    if (!out_buf_.empty()) {
      out_buf_.append(line);
      line = out_buf_;
    }
    if (leader) leader_line(line, handover);
    else handle_line(line);
    out_buf_.clear();
    // The buffer of a large message is not kept for the connection's life (up to
    // max_message_bytes per server, idle or not).
    if (out_buf_.capacity() > (1u << 20)) std::string().swap(out_buf_);
    start = i + 1;
  }
  out_buf_.append(data + start, n - start);
  return out_buf_.size() <= cfg_.max_message_bytes;
}

void StdioTransport::leader_line(std::string_view line, bool& handover) {
  if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
  if (line.find_first_not_of(" \t") == std::string_view::npos) return;
  JsonRefusal why{};
  auto j = parse_json(line, &why, max_json_values(cfg_.max_message_bytes));
  if (j.is_discarded()) return refused_line(line, why);
  // Replies are delivered at once (that only records them and wakes their waiters). Server
  // requests and notifications run handlers, which belong on the reader thread: from the
  // first of them on, everything goes there, in order.
  if (!handover && j.is_object() && j.contains("id") && !j.contains("method")) {
    if (cb_.on_message) cb_.on_message(std::move(j));
    return;
  }
  handover = true;
  handed_over_.push_back(std::move(j));
}

bool StdioTransport::deliver_handed_over() {
  if (too_large_) return false;
  for (std::size_t i = 0; i < handed_over_.size(); ++i)
    if (cb_.on_message) cb_.on_message(std::move(handed_over_[i]));
  handed_over_.clear();
  return true;
}

bool StdioTransport::lead(const std::function<bool()>& changed, Clock::time_point until) {
  if (tl_reading == this || closing_ || !open_) return false;
  std::unique_lock lk(read_mutex_, std::try_to_lock);
  if (!lk.owns_lock() || out_eof_ || too_large_ || !handed_over_.empty() || closing_) return false;
  tl_reading = this;
  watch_stdout(false);  // the reader thread sleeps on: no hand-off to pay for
  bool handover = false;
  bool led = true;  // false: poll failed; the caller waits as usual, the reader thread reads
  std::optional<ReadBuffer> chunk;  // the thread's read buffer, taken at the first read
  for (;;) {
    if (changed() || closing_) break;
    const auto now = Clock::now();
    if (now >= until) break;
    const auto left = std::chrono::ceil<std::chrono::milliseconds>(until - now).count();
    pollfd fds[2] = {{out_.fd, POLLIN, 0}, {lead_fd_.fd, POLLIN, 0}};
    const int r = ::poll(fds, 2, static_cast<int>(std::min<long long>(left, 60000)));
    if (r < 0 && errno != EINTR) {
      led = false;
      break;
    }
    if (r <= 0) continue;
    if (fds[1].revents) {
      drain_fd(lead_fd_.fd);
      break;  // interrupted: the caller re-checks its state
    }
    if (!fds[0].revents) continue;
    if (!chunk) chunk.emplace();
    const ssize_t got = ::read(out_.fd, chunk->data(), ReadBuffer::kSize);
    if (got > 0) {
      if (!consume_stdout(chunk->data(), static_cast<std::size_t>(got), true, handover)) {
        too_large_ = true;  // the reader thread reports it
        handover = true;
      }
      if (handover) break;
    } else if (got == 0 || (errno != EINTR && errno != EAGAIN)) {
      out_eof_ = true;  // the reader thread sees the end too, and reports it
      break;
    }
  }
  watch_stdout(!too_large_);
  tl_reading = nullptr;
  lk.unlock();
  if (handover) signal_fd(handover_fd_.fd);
  return led;
}

void StdioTransport::reader_loop() {
  std::string err_buf;  // bytes of the current, unfinished stderr line
  // Not a std::vector: that zero-fills the buffer, making every page resident per connection;
  // uninitialised, only the pages a large message actually touches are.
  constexpr std::size_t err_chunk_size = 4096;  // stderr is for people: lines are short
  std::unique_ptr<char[]> err_chunk(new char[err_chunk_size]);
  bool out_open = true, err_open = err_.fd >= 0;
  Clock::time_point stderr_drain_until{};
  auto too_large = [&] {
    report_closed(Errc::message_too_large, "server '" + name_ + "' sent a message larger than " +
                                               std::to_string(cfg_.max_message_bytes) + " bytes");
  };
  for (;;) {
    int timeout = -1;
    if (!out_open) {
      // stdout is gone: drain stderr briefly so the error carries the server's last words.
      auto left = std::chrono::duration_cast<std::chrono::milliseconds>(stderr_drain_until - Clock::now()).count();
      if (!err_open || left <= 0) break;
      timeout = static_cast<int>(left);
    }
    epoll_event evs[4];
    const int r = ::epoll_wait(epoll_.fd, evs, 4, timeout);
    if (r < 0) {
      if (errno == EINTR) continue;
      break;
    }
    bool out_ready = false, err_ready = false, handed = false;
    for (int i = 0; i < r; ++i) {
      const int fd = evs[i].data.fd;
      if (fd == wake_r_.fd) return;  // close() woke us; it reports nothing
      if (fd == out_.fd) out_ready = true;
      else if (fd == err_.fd) err_ready = true;
      else if (fd == handover_fd_.fd) handed = true;
    }
    if (err_ready && err_open) {
      ssize_t got = ::read(err_.fd, err_chunk.get(), err_chunk_size);
      if (got > 0) {
        std::size_t start = 0;
        for (ssize_t i = 0; i < got; ++i) {
          if (err_chunk[i] == '\n') {
            err_buf.append(err_chunk.get() + start, i - start);
            keep_stderr_line(std::move(err_buf));
            err_buf.clear();
            start = i + 1;
          }
        }
        err_buf.append(err_chunk.get() + start, got - start);
        if (err_buf.size() > 64 * 1024) {
          keep_stderr_line(std::move(err_buf));
          err_buf.clear();
        }
      } else if (got == 0 || (errno != EINTR && errno != EAGAIN)) {
        if (!err_buf.empty()) keep_stderr_line(std::move(err_buf)), err_buf.clear();
        err_open = false;
        ::epoll_ctl(epoll_.fd, EPOLL_CTL_DEL, err_.fd, nullptr);
      }
    }
    if (!handed && !out_ready) continue;
    std::unique_lock lk(read_mutex_);
    tl_reading = this;
    if (handed) drain_fd(handover_fd_.fd);
    // What a leader handed over came from stdout before anything still unread there.
    if (!deliver_handed_over()) {
      tl_reading = nullptr;
      lk.unlock();
      too_large();
      return;
    }
    if (out_ready && out_open && watching_out_) {
      // Per read, not a ReadBuffer: this thread is the connection's own, and a block kept
      // for its lifetime would be a block per idle connection. Replies usually reach a
      // leader instead; this thread reads what nobody waits for.
      std::unique_ptr<char[]> chunk(new char[kChunk]);
      const ssize_t got = ::read(out_.fd, chunk.get(), kChunk);
      if (got > 0) {
        bool unused = false;
        if (!consume_stdout(chunk.get(), static_cast<std::size_t>(got), false, unused)) {
          tl_reading = nullptr;
          lk.unlock();
          too_large();
          return;
        }
      } else if (got == 0 || (errno != EINTR && errno != EAGAIN)) {
        out_open = false;
        out_eof_ = true;
        // Out of the set for good: a disabled entry would report EPOLLHUP on every
        // epoll_wait while stderr is drained, a busy loop until the drain ends.
        ::epoll_ctl(epoll_.fd, EPOLL_CTL_DEL, out_.fd, nullptr);
        watching_out_ = false;
        stderr_drain_until = Clock::now() + 200ms;
      }
    }
    tl_reading = nullptr;
  }
  // stdout ended: the server is gone (or going). Reap it if it exits promptly, so no
  // zombie waits for the next call.
  try_reap(std::chrono::milliseconds(500));
  report_closed(Errc::process_exited, "server '" + name_ + "' " + exit_description());
}

void StdioTransport::close() {
  std::lock_guard close_lk(close_mutex_);
  if (closed_) return;
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
  if (reader_.joinable()) {
    if (reader_.get_id() == std::this_thread::get_id()) reader_.detach();
    else reader_.join();
  }
  // A leader polls stdout until it sees closing_ (interrupted above); not under its feet.
  // (The epoll and eventfds stay until destruction: interrupt_lead() may still be called.)
  std::unique_lock rl(read_mutex_, std::defer_lock);
  if (tl_reading != this) rl.lock();
  out_.reset();
  err_.reset();
}

}  // namespace

std::unique_ptr<Transport> make_stdio_transport(std::string server_name, StdioServerConfig config) {
  return std::make_unique<StdioTransport>(std::move(server_name), std::move(config));
}

}  // namespace mcp::detail
