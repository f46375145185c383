// SPDX-License-Identifier: MIT
// The stdio transport's reading: the reader thread (stdout lines and stderr, epoll), a waiting
// caller reading its own reply (lead), parsing lines, and the end of the server's output.
#include "stdio_internal.hpp"

#include "../read_buffer.hpp"
#include "../server_error.hpp"

#include <sys/epoll.h>

#include <cerrno>
#include <cstring>
#include <memory>
#include <optional>
#include <utility>

namespace mcp::detail {
namespace {

using namespace std::chrono_literals;

constexpr std::size_t kChunk = 1 << 14;  // one read from the server's stdout (reader thread)

// The transport whose stdout the current thread is reading (reader thread or leader): a
// callback that waits for a reply must not try to lead on the same transport.
thread_local const void* tl_reading = nullptr;

// The transport whose reader thread this is (set once, as the thread starts).
thread_local const void* tl_reader_of = nullptr;

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

}  // namespace

bool StdioTransport::reading_here() const { return tl_reading == this; }
bool StdioTransport::on_reader_thread() const { return tl_reader_of == this; }

void StdioTransport::run_reader(std::shared_ptr<StdioTransport> self) {
  tl_reader_of = self.get();
  self->reader_loop();
  // `self` goes last: if it was the last reference, the transport is destroyed here, on this
  // thread, once nothing of it is on the stack (its destructor detaches this thread).
}

void StdioTransport::interrupt_lead() {
  if (lead_fd_.fd >= 0) signal_fd(lead_fd_.fd);
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
  if (deliver_result(line)) return;
  JsonRefusal why{};
  auto j = parse_json(line, &why, max_json_values(cfg_.max_message_bytes));
  if (j.is_discarded()) return refused_line(line, why);
  if (cb_.on_message) cb_.on_message(std::move(j));
}

bool StdioTransport::deliver_result(std::string_view line) {
  if (!cb_.on_result) return false;
  std::int64_t id = 0;
  nlohmann::json result;
  if (!parse_response(line, id, result, max_json_values(cfg_.max_message_bytes))) return false;
  cb_.on_result(id, std::move(result));
  return true;
}

void StdioTransport::refused_line(std::string_view line, JsonRefusal why) {
  const std::size_t max_values = max_json_values(cfg_.max_message_bytes);
  const auto id = response_id(line);  // the request an unreadable reply answers, when certain
  if (cb_.on_diagnostic) {
    const std::string head = std::string(line.substr(0, 200)) + (line.size() > 200 ? "..." : "");
    const DiagnosticAbout about{id ? log_request_id(*id) : 0, {}};
    if (why == JsonRefusal::malformed) cb_.on_diagnostic("non-JSON line on stdout ignored: " + head, about);
    else cb_.on_diagnostic("a line on stdout " + describe(why, max_values) + ", ignored: " + head, about);
  }
  // A reply we cannot read fails its request now, rather than at its timeout.
  if (id && cb_.on_request_failed) {
    const Errc code = why == JsonRefusal::too_many_values ? Errc::message_too_large : Errc::invalid_message;
    cb_.on_request_failed(nlohmann::json(*id), server_error(code, "the server's reply " + describe(why, max_values), name_));
  }
}

void StdioTransport::report_closed(Errc code, const std::string& what) {
  open_ = false;
  if (closing_ || closed_reported_.exchange(true)) return;
  Error e = server_error(code, what, name_);
  e.stderr_tail = stderr_tail();
  if (cb_.on_closed) cb_.on_closed(e);
}

bool StdioTransport::consume_stdout(const char* data, std::size_t n, bool leader, bool& handover) {
  std::size_t start = 0;
  for (;;) {
    const void* nl = std::memchr(data + start, '\n', n - start);
    if (!nl) break;
    const std::size_t i = static_cast<std::size_t>(static_cast<const char*>(nl) - data);
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
  // A success response, read without its envelope, is delivered at once (as below).
  if (!handover && deliver_result(line)) return;
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
  if (!lk.owns_lock() || out_eof_ || too_large_ || !handed_over_.empty() || closing_ || lead_epoll_.fd < 0)
    return false;
  tl_reading = this;
  bool handover = false;
  bool led = true;  // false: poll failed; the caller waits as usual, the reader thread reads
  std::optional<ReadBuffer> chunk;  // the thread's read buffer, taken at the first read
  for (;;) {
    if (changed() || closing_) break;
    const auto now = Clock::now();
    if (now >= until) break;
    const auto left = std::chrono::ceil<std::chrono::milliseconds>(until - now).count();
    // While this thread waits here, stdout wakes it and not the reader thread (the sets'
    // order, see stdio_internal.hpp).
    epoll_event evs[2];
    const int r = ::epoll_wait(lead_epoll_.fd, evs, 2, static_cast<int>(std::min<long long>(left, 60000)));
    if (r < 0 && errno != EINTR) {
      led = false;
      break;
    }
    bool out_ready = false, interrupted = false;
    for (int i = 0; i < r; ++i) (evs[i].data.fd == out_.fd ? out_ready : interrupted) = true;
    if (out_ready) {
      // Read before anything ends the lead: this wake-up was stdout's only one (the reader
      // thread did not get it), so what it announced is read here or handed on below.
      if (!chunk) chunk.emplace();
      const ssize_t got = ::read(out_.fd, chunk->data(), ReadBuffer::kSize);
      out_unread_ = got == static_cast<ssize_t>(ReadBuffer::kSize) || (got < 0 && errno == EINTR);
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
    if (interrupted) {
      drain_fd(lead_fd_.fd);
      break;  // interrupted: the caller re-checks its state
    }
  }
  // Bytes left on stdout would wake nobody: the reader thread reads them.
  if (out_unread_) handover = true;
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
    // What completions send while this read is delivered goes in one write at its end (after
    // read_mutex_ is released: `defer` outlives `lk`).
    DeferSends defer(*this);
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
    const bool unread = std::exchange(out_unread_, false);
    if ((out_ready || unread) && out_open) {
      // On this thread's stack, not a ReadBuffer nor a heap block: this thread is the
      // connection's own, so a block kept for its lifetime would be a block per idle
      // connection, and a 64 KiB block malloc'd and freed per read made glibc consolidate its
      // fastbins on every read (every allocation after it then missed them: about 1.5k
      // instructions per reply read here, callgrind). Only the pages a read writes become
      // resident. A longer message takes more reads (stdout stays ready: epoll_wait returns at
      // once). (Woken while a leader read, it may find nothing: stdout is non-blocking.)
      char chunk[kChunk];
      const ssize_t got = ::read(out_.fd, chunk, kChunk);
      if (got > 0) {
        bool unused = false;
        if (!consume_stdout(chunk, static_cast<std::size_t>(got), false, unused)) {
          tl_reading = nullptr;
          lk.unlock();
          too_large();
          return;
        }
      } else if (got == 0 || (errno != EINTR && errno != EAGAIN)) {
        out_open = false;
        out_eof_ = true;
        // Out of the set for good: it would report EPOLLHUP on every epoll_wait while
        // stderr is drained, a busy loop until the drain ends.
        ::epoll_ctl(epoll_.fd, EPOLL_CTL_DEL, out_.fd, nullptr);
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

}  // namespace mcp::detail
