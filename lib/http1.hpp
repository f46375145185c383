// SPDX-License-Identifier: MIT
#pragma once
// A lean HTTP/1.1 client for plain-http (no TLS) exchanges on the hot path of the Streamable
// HTTP transport: one kept-alive connection, the request written in one sendmsg, the response
// head parsed in place, the body (Content-Length, chunked, or until close) handed over as it
// arrives. cpp-httplib stays in charge of TLS, redirects and the long-lived streams; this
// exists because it spent about half of a call's instructions and nine syscalls per exchange.
//
// RFC 9112 framing: 1xx responses are skipped; 204/304 have no body; Transfer-Encoding wins
// over Content-Length (chunked if it is the final coding, else the body runs to the close);
// differing Content-Length values, obsolete line folding, malformed chunk sizes and oversized
// heads are protocol errors.
#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <mutex>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace mcp::detail::http1 {

using Clock = std::chrono::steady_clock;

/// A response's status line and header fields, as received. The fields view the parser's
/// copy of the head: valid until the parser is reset or parses another head.
struct Head {
  int status = 0;
  int minor_version = 1;  ///< HTTP/1.x
  std::vector<std::pair<std::string_view, std::string_view>> fields;
  /// The first field named `name` (ASCII case-insensitive), or empty.
  [[nodiscard]] std::string_view get(std::string_view name) const;
};

/// Incremental response parser: bytes in, head and body pieces out.
class ResponseParser {
 public:
  using OnHead = std::function<bool(const Head&)>;                  ///< false: stop
  using OnData = std::function<bool(const char*, std::size_t)>;     ///< false: stop

  static constexpr std::size_t kMaxHead = 64 * 1024;
  static constexpr std::size_t kMaxFields = 100;  ///< header fields in one head

  /// Ready for a response to a request with this method ("HEAD" has no body).
  void reset(bool head_request = false);
  /// Feeds bytes. False on a protocol error (`error()` says which) or when a callback asked
  /// to stop (`stopped()`). Bytes after the end of the response are an error too: HTTP/1.1
  /// without pipelining has nothing there.
  bool feed(const char* data, std::size_t n, const OnHead& on_head, const OnData& on_data);
  /// The connection closed: true if that ends the response properly (a body delimited by the
  /// close, or a response already complete).
  bool finish();
  [[nodiscard]] bool done() const { return state_ == State::done; }
  [[nodiscard]] bool stopped() const { return stopped_; }
  [[nodiscard]] bool started() const { return started_; }  ///< any byte of a response arrived
  /// The (final) response head has been parsed.
  [[nodiscard]] bool past_head() const { return state_ != State::head && state_ != State::failed; }
  [[nodiscard]] const std::string& error() const { return error_; }
  /// The connection may carry another request after this (complete) response.
  [[nodiscard]] bool keep_alive() const { return keep_alive_; }
  /// Bytes of the last head parsed (its blank line included).
  [[nodiscard]] std::size_t head_size() const { return head_text_.size(); }

 private:
  enum class State { head, length, chunk_size, chunk_data, chunk_end, trailers, until_close, done, failed };
  static constexpr int kMaxInformational = 16;  // 1xx responses before the real one
  bool fail(std::string why);
  bool parse_head(const OnHead& on_head);
  bool take_line(const char*& p, const char* end, std::size_t limit, std::string& line, bool& complete);

  State state_ = State::head;
  bool head_request_ = false;
  bool stopped_ = false;
  bool started_ = false;
  bool keep_alive_ = false;
  std::string buf_;  // the head, or a chunk-size / trailer line, being collected
  std::string head_text_;  // the last head, which head_.fields view
  int informational_ = 0;
  std::uint64_t left_ = 0;  // body bytes (length) or chunk bytes still to come
  std::size_t trailer_bytes_ = 0;
  Head head_;
  std::string error_;
};

/// Why an exchange ended without a complete response.
enum class Failure { none, connect, connect_timeout, write, read, timeout, stopped, protocol };

struct Outcome {
  Failure failure = Failure::none;
  std::string detail;          ///< for protocol errors
  bool response_started = false;  ///< some of the response arrived
  [[nodiscard]] bool ok() const { return failure == Failure::none; }
};

/// One connection to host:port, reused for as long as the server keeps it alive.
class Connection {
 public:
  Connection(std::string host, int port, std::chrono::microseconds connect_timeout);
  ~Connection();
  Connection(const Connection&) = delete;
  Connection& operator=(const Connection&) = delete;

  /// Sends `head` then `body` (one sendmsg when they fit the socket buffer) and reads the
  /// response. The whole exchange (connecting, writing, reading) ends by `timeout` from now
  /// (Failure::timeout), however the server spreads its bytes; the response head must have
  /// come by `head_timeout` from now (for long-lived streams); `on_head`/`on_data` may
  /// stop the exchange (it then ends with Failure::stopped, and the connection is closed).
  /// With `coalesce`, a server seen sending a response's head alone (an SSE stream's head,
  /// flushed before its first event) is read once per response instead of twice: the first
  /// wait asks the kernel (SO_RCVLOWAT) for a byte more than that head, for at most
  /// kCoalesceWaitMs, then for any byte. After a wait that expired, the next 1, 2, 4 ... 64
  /// exchanges do not wait (a server slower than the wait gains nothing from it). A
  /// connection that finds whole responses waiting below that gate (shorter than the head
  /// learnt) kMaxStrikes times in a row stops coalescing.
  Outcome exchange(std::string_view head, std::string_view body, bool head_request,
                   std::chrono::microseconds timeout, const ResponseParser::OnHead& on_head,
                   const ResponseParser::OnData& on_data, bool coalesce = false,
                   std::chrono::microseconds head_timeout = std::chrono::microseconds::max());
  static constexpr int kCoalesceWaitMs = 2;
  static constexpr int kMaxStrikes = 3;
  /// From any thread: makes a running exchange end soon with Failure::stopped.
  void stop();
  /// Connected, and the last response left it reusable.
  [[nodiscard]] bool reusable() const { return fd_ >= 0 && reusable_; }
  /// A coalescing exchange waits for more than a head on this connection (see exchange).
  [[nodiscard]] bool coalescing() const { return head_lowat_ > 1; }
  /// ... and the next one will (no gate expired lately).
  [[nodiscard]] bool gating() const { return head_lowat_ > 1 && skip_ == 0; }
  /// `Host` header value for this connection's origin.
  [[nodiscard]] const std::string& host_header() const { return host_header_; }

 private:
  Outcome open(Clock::time_point deadline);
  void close_fd();
  void set_lowat(int bytes);

  std::string host_;
  int port_;
  std::chrono::microseconds connect_timeout_;
  std::string host_header_;
  int fd_ = -1;
  bool reusable_ = false;
  std::atomic<bool> stop_{false};
  std::mutex fd_mutex_;  // stop() never shuts down a descriptor number already reused
  int live_fd_ = -1;     // fd_, as stop() may see it (fd_mutex_)
  int lowat_ = 1;        // SO_RCVLOWAT on fd_
  int head_lowat_ = 1;   // > 1: the server sends heads alone, wait for this many bytes first;
                         // 1: not seen yet; 0: never on this connection
  int strikes_ = 0;      // gates in a row that only delayed a response (see exchange)
  int backoff_ = 0;      // exchanges to go ungated after the next gate that expires
  int skip_ = 0;         // exchanges still to go ungated
  ResponseParser parser_;
};

/// Text for a failure, in the words the transport uses for cpp-httplib's errors.
std::string describe(const Outcome& o);

}  // namespace mcp::detail::http1
