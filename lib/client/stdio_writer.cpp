// SPDX-License-Identifier: MIT
// The stdio transport's writing: one JSON line per message to the server's stdin, batched
// behind a thread already writing, within each message's deadline.
#include "stdio_internal.hpp"

#include "../protocol/json_write.hpp"
#include "../server_error.hpp"

#include <poll.h>
#include <sys/socket.h>

#include <cerrno>
#include <utility>

namespace mcp::detail {

using namespace std::chrono_literals;

namespace {

// The caller's line, built in a buffer the thread keeps from one message to the next: no
// allocation per message. A large message's buffer is not kept (up to max_message_bytes per
// thread, idle or not).
struct LineBuffer {
  std::string& text;
  LineBuffer() : text(buffer()) { text.clear(); }
  ~LineBuffer() {
    if (text.capacity() > (std::size_t{1} << 16)) std::string().swap(text);
  }
  LineBuffer(const LineBuffer&) = delete;
  LineBuffer& operator=(const LineBuffer&) = delete;
  static std::string& buffer() {
    thread_local std::string b;
    return b;
  }
};

}  // namespace

namespace {
// The transport whose reader thread is delivering what it read (completions run there): the
// lines that thread sends meanwhile wait in queued_ and go in one write once the read is
// handled (flush_deferred), rather than one write, and one wake-up of the server, per line.
thread_local const void* tl_deferring = nullptr;
}  // namespace

StdioTransport::DeferSends::DeferSends(StdioTransport& t) : t_(t) { tl_deferring = &t; }
StdioTransport::DeferSends::~DeferSends() {
  tl_deferring = nullptr;
  t_.flush_deferred();
}

Result<void> StdioTransport::send(const nlohmann::json& message, Clock::time_point deadline, const SendOptions&) {
  // Invalid UTF-8 from the caller is replaced rather than thrown.
  LineBuffer own;
  std::string& line = own.text;
  if (!append_json(line, message))
    return fail(Errc::invalid_message, too_deep_to_send_text());
  line += '\n';
  // What this thread writes: its own line alone (the usual case, written from `line`), or
  // after what a writer that timed out left (`batch`), then what others queued meanwhile.
  std::string batch;
  const std::string* out = &line;
  // Where this caller's own line starts in the first write: a line whose caller is told it
  // failed is never sent later (the server must not act on a request its caller gave up).
  std::size_t own_start = 0;
  {
    std::lock_guard q(queue_mutex_);
    const bool defer = tl_deferring == this;
    if ((writer_active_ || defer) && !closing_ && open_) {
      // Another thread is writing: it sends this line after what it has, in order, often in
      // the same syscall as other lines. Under concurrency that saves a write and a wait for
      // write_mutex_ per message. A line the writer cannot send ends as that request's
      // timeout, or as the connection's end for everything in flight. On the reader thread,
      // while it delivers (a completion starting the next call), the line waits for the
      // read's end (DeferSends) if no other writer takes it first.
      queued_ += line;
      if (defer && !writer_active_) {
        deferred_ = true;
        if (deadline < deferred_deadline_) deferred_deadline_ = deadline;
      }
      return {};
    }
    writer_active_ = true;
    if (!queued_.empty()) {
      batch.swap(queued_);  // what a writer that timed out left goes first
      own_start = batch.size();
      batch += line;
      out = &batch;
    }
  }
  Result<void> result = write_queue(batch, out, own_start, true, deadline);
  if (!result && result.error().errc() == Errc::process_exited) return died();
  return result;
}

void StdioTransport::flush_deferred() {
  std::string batch;
  Clock::time_point deadline;
  {
    std::lock_guard q(queue_mutex_);
    if (!deferred_) return;
    deferred_ = false;
    deadline = std::exchange(deferred_deadline_, Clock::time_point::max());
    // Another writer took the lines (or is about to, after its own), or the connection is
    // going (everything in flight ends with it).
    if (writer_active_ || queued_.empty() || closing_ || !open_) return;
    writer_active_ = true;
    batch.swap(queued_);
  }
  (void)write_queue(batch, &batch, 0, false, deadline);  // a failure ends those requests as in send()
}

Result<void> StdioTransport::write_queue(std::string& batch, const std::string* out, std::size_t own_start, bool own,
                                         Clock::time_point deadline) {
  // This thread is the writer until the queue is empty (write_mutex_ keeps in_ open meanwhile).
  std::lock_guard lk(write_mutex_);
  Result<void> result;
  bool first = own;  // `*out` ends with this caller's line
  for (;;) {
    std::size_t off = 0;
    Result<void> r = write_all(*out, deadline, off);
    if (!r) {
      std::lock_guard q(queue_mutex_);
      const std::string& data = *out;
      const std::size_t others_end = first ? own_start : data.size();
      if (off > 0 && data[off - 1] != '\n') {
        in_.reset();  // a partial line would corrupt the stream for every later message
        queued_.clear();
      } else if (in_.fd < 0) {
        queued_.clear();
      } else if (off < others_end) {
        queued_.insert(0, data, off, others_end - off);  // for the next writer, still first
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
    out = &batch;
  }
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

}  // namespace mcp::detail
