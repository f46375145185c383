// SPDX-License-Identifier: MIT
#pragma once
// The stdio transport's class, shared by its files: stdio_process.cpp (spawning the server,
// reaping it, closing), stdio_reader.cpp (the reader thread, and a caller leading), and
// stdio_writer.cpp (writing to the server's stdin). Boost.Process stays in stdio_process.cpp.
#include "../protocol/json_read.hpp"

#include <mcp/config.hpp>
#include "transport.hpp"

#include <sys/types.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstring>
#include <deque>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

namespace mcp::detail {

// An owned file descriptor.
struct [[gnu::visibility("hidden")]] Fd {
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

inline std::string errno_text(int e) { return std::strerror(e); }

// Hidden, as it was inside one file's anonymous namespace: calls among its members stay direct
// and inlinable (a default-visibility member of a shared library may be interposed, so GCC
// calls it through the PLT and inlines none of it: +4% instructions per stdio call).
class [[gnu::visibility("hidden")]] StdioTransport final : public Transport {
 public:
  StdioTransport(std::string name, StdioServerConfig cfg) : name_(std::move(name)), cfg_(std::move(cfg)) {}
  ~StdioTransport() override {
    close();
    // Destroyed on the reader thread itself, by the reference it held (see start): it ends
    // right after this.
    if (reader_.joinable()) reader_.detach();
  }

  Result<void> start(Callbacks cb) override;
  Result<void> send(const nlohmann::json& message, Clock::time_point deadline, const SendOptions&) override;
  void close() override;
  // close()'s work but for the reader thread and the pipes it reads: once, close_mutex_ held.
  void close_locked();
  bool close_deferred() const override { return close_deferred_.load(); }
  bool is_open() const override { return open_.load(); }
  bool lead(const std::function<bool()>& changed, Clock::time_point until) override;
  void interrupt_lead() override;
  InUse in_use() const override { return {"stdio", false}; }

 private:
  // The reader thread: holds `self` while it runs (the transport may lose its other owners
  // meanwhile), marks itself as this transport's reader, and reads until closed.
  static void run_reader(std::shared_ptr<StdioTransport> self);
  void reader_loop();
  // This thread is the transport's reader thread (its callbacks run there).
  bool on_reader_thread() const;
  // Splits what was read from stdout into lines (read_mutex_ held). As the leader, replies
  // are delivered here and anything else is handed to the reader thread (`handover`).
  // False: a line outgrew max_message_bytes.
  bool consume_stdout(const char* data, std::size_t n, bool leader, bool& handover);
  void leader_line(std::string_view line, bool& handover);
  // Delivers what a leader handed over (read_mutex_ held); false once a leader found an
  // oversized line (reported by the reader thread, which then stops).
  bool deliver_handed_over();
  Result<void> died();
  // As the writer (writer_active_ set by this thread): writes *out (`batch` or the caller's
  // line; with `own`, the caller's line starts at own_start), then what others queued
  // meanwhile, until the queue is empty. The caller's own failure, if `own`.
  Result<void> write_queue(std::string& batch, const std::string* out, std::size_t own_start, bool own,
                           Clock::time_point deadline);
  // Writes the lines the reader thread's deliveries queued (DeferSends), unless a writer has.
  void flush_deferred();
  // While one lives, this thread's sends on `t` are queued, and written when it ends.
  struct DeferSends {
    explicit DeferSends(StdioTransport& t);
    ~DeferSends();
    DeferSends(const DeferSends&) = delete;
    DeferSends& operator=(const DeferSends&) = delete;
    StdioTransport& t_;
  };
  // Writes data[off..] to the server's stdin (write_mutex_ held); `off` says how far it got.
  Result<void> write_all(const std::string& data, Clock::time_point deadline, std::size_t& off);
  void handle_line(std::string_view line);
  // Delivers `line` through on_result if it is a success response parse_response takes.
  bool deliver_result(std::string_view line);
  // A line parse_json refused: reported, and the request it answers (if that is certain) fails.
  void refused_line(std::string_view line, JsonRefusal why);
  void keep_stderr_line(std::string line);
  std::string stderr_tail() const;
  bool try_reap(std::chrono::milliseconds within);
  std::string exit_description() const;
  void report_closed(Errc code, const std::string& what);
  // This thread is reading this transport's stdout (its reader thread, or a leader).
  bool reading_here() const;

  std::string name_;
  StdioServerConfig cfg_;
  Callbacks cb_;
  pid_t pid_ = -1;
  Fd in_, out_, err_, wake_r_, wake_w_;
  // The reader thread waits in epoll_ on stdout, stderr, wake_r_ and handover_fd_; a thread
  // that leads (see lead()) waits in lead_epoll_ on stdout and lead_fd_. Both hold stdout
  // with EPOLLEXCLUSIVE, lead_epoll_ first: the pipe wakes the first of them with a waiter,
  // so a reply wakes its leader alone and the reader thread sleeps on, with no epoll_ctl
  // per call. When nobody leads, the reader thread is woken.
  Fd epoll_, lead_epoll_, handover_fd_, lead_fd_;
  std::mutex read_mutex_;  // held while reading stdout and delivering what it held
  std::string out_buf_;    // the current, unfinished stdout line (read_mutex_)
  std::vector<nlohmann::json> handed_over_;  // parsed by a leader, for the reader (read_mutex_)
  bool too_large_ = false;  // a leader found an oversized line (read_mutex_)
  bool out_eof_ = false;    // stdout ended (read_mutex_)
  bool out_unread_ = false;  // a leader left bytes on stdout, for the reader (read_mutex_)
  std::atomic<bool> open_{false};
  std::atomic<bool> closing_{false};
  std::atomic<bool> closed_reported_{false};
  std::thread reader_;
  std::mutex write_mutex_;  // held by the writing thread (see send) and by close()
  std::mutex queue_mutex_;  // guards queued_ and writer_active_; taken after write_mutex_
  std::string queued_;      // lines for the writing thread to send after its own
  bool writer_active_ = false;  // a thread is in send()'s write loop
  bool deferred_ = false;       // queued_ holds lines the reader thread deferred (DeferSends)
  Clock::time_point deferred_deadline_ = Clock::time_point::max();  // the earliest of theirs
  std::mutex close_mutex_;  // held by close(), and by start() while it starts reader_
  bool closed_ = false;
  // A close() on the reader thread (or a leader's) could not join the reader: a later close()
  // from another thread does (Transport::close_deferred).
  std::atomic<bool> close_deferred_{false};
  mutable std::mutex reap_mutex_;
  bool reaped_ = false;
  int wait_status_ = 0;
  mutable std::mutex tail_mutex_;
  std::deque<std::string> tail_;
};

}  // namespace mcp::detail
