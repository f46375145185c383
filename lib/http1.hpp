// SPDX-License-Identifier: MIT
#pragma once
// A lean HTTP/1.1 client for every exchange of the HTTP transports and the OAuth client, http
// or https: one kept-alive connection, the request written in one sendmsg, the response head
// parsed in place and bounded (64 KiB, 100 fields), the body (Content-Length, chunked, or until
// close) handed over as it arrives, the whole exchange within one deadline. It replaced
// cpp-httplib, which spent about half of a call's instructions and nine syscalls per exchange,
// and bounded a header line but not the number of lines. TLS (OpenSSL) is an indirection taken
// only on https connections: the plain path reads and writes the socket itself.
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
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

struct ssl_ctx_st;  // OpenSSL's SSL_CTX and SSL, without its headers here
struct ssl_st;

struct sockaddr;  // <sys/socket.h>

namespace mcp::detail::http1 {

using Clock = std::chrono::steady_clock;

/// The most kept of a response body read whole that is not an MCP message (an error
/// status's body, a notification's reply, OAuth metadata and token responses): 1 MiB.
inline constexpr std::size_t kMaxBody = std::size_t{1} << 20;

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

/// Why an exchange ended without a complete response. `tls`: the TLS handshake failed (or
/// the CA certificates could not be loaded); `tls_verify`: the server's certificate was
/// refused (an unknown CA, another host name, expired ...). Outcome::detail says which.
enum class Failure { none, connect, connect_timeout, write, read, timeout, stopped, protocol, tls, tls_verify, refused };

struct Outcome {
  Failure failure = Failure::none;
  std::string detail;          ///< for protocol errors; for `connect`, why ("connection refused")
  bool response_started = false;  ///< some of the response arrived
  [[nodiscard]] bool ok() const { return failure == Failure::none; }
};

/// What https connections trust, shared by the connections of one client: certificates are
/// verified (chain and host name, an IP-literal host as an IP address) unless `verify` is
/// false, against `ca_file` and/or `ca_dir`, or the system's default store when both are empty.
class TlsContext {
 public:
  TlsContext(bool verify, const std::string& ca_file, const std::string& ca_dir);
  ~TlsContext();
  TlsContext(const TlsContext&) = delete;
  TlsContext& operator=(const TlsContext&) = delete;
  [[nodiscard]] ssl_ctx_st* get() const { return ctx_; }
  [[nodiscard]] bool verify() const { return verify_; }
  /// Why no connection can be made (the CA certificates could not be loaded), or empty.
  [[nodiscard]] const std::string& error() const { return error_; }

 private:
  ssl_ctx_st* ctx_ = nullptr;
  bool verify_;
  std::string error_;
};

/// One connection to host:port, reused for as long as the server keeps it alive; TLS when
/// `tls` is given (its handshake is part of the exchange that opens the connection, within
/// its deadline and the connect timeout).
class Connection {
 public:
  Connection(std::string host, int port, std::chrono::microseconds connect_timeout,
             std::shared_ptr<const TlsContext> tls = nullptr);
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
  /// learnt) kMaxStrikes times in a row stops coalescing. TLS connections never coalesce
  /// (the kernel sees records, not the head).
  Outcome exchange(std::string_view head, std::string_view body, bool head_request,
                   std::chrono::microseconds timeout, const ResponseParser::OnHead& on_head,
                   const ResponseParser::OnData& on_data, bool coalesce = false,
                   std::chrono::microseconds head_timeout = std::chrono::microseconds::max());
  /// Opens the connection (TCP connect, then the TLS handshake for https) if it is not open,
  /// within `timeout` from now and the connect timeout: exchange() then sends at once. For a
  /// caller that counts the connections being opened (the HTTP transport's connection
  /// attempts at once); exchange() opens a connection itself otherwise.
  Outcome connect(std::chrono::microseconds timeout);
  static constexpr int kCoalesceWaitMs = 2;
  static constexpr int kMaxStrikes = 3;
  /// From any thread: makes a running exchange end soon with Failure::stopped.
  void stop();
  /// Connected, and the last response left it reusable (and no stop() came meanwhile: a stop
  /// that raced the end of an exchange leaves the socket shut down, of no use to the next one).
  [[nodiscard]] bool reusable() const { return fd_ >= 0 && reusable_ && !stop_; }
  /// A coalescing exchange waits for more than a head on this connection (see exchange).
  [[nodiscard]] bool coalescing() const { return head_lowat_ > 1; }
  /// ... and the next one will (no gate expired lately).
  [[nodiscard]] bool gating() const { return head_lowat_ > 1 && skip_ == 0; }
  /// `Host` header value for this connection's origin.
  [[nodiscard]] const std::string& host_header() const { return host_header_; }
  /// Judges each address the host name resolves to before connecting to it: an empty string
  /// allows it, a reason refuses it. When every address is refused the exchange fails with
  /// Failure::refused and that reason (nothing was sent anywhere). Checked at connect time, on
  /// the addresses actually used, so a name cannot resolve one way for a check and another
  /// for the connection.
  using AddressCheck = std::function<std::string(const struct sockaddr& address)>;
  void set_address_check(AddressCheck check) { address_check_ = std::move(check); }

 private:
  Outcome open(Clock::time_point deadline);
  Outcome handshake(Clock::time_point deadline);
  // TLS reads and writes: > 0 bytes, 0 the peer closed, -1 with errno EAGAIN (poll for
  // tls_wait_) or another error.
  long tls_read(char* buf, std::size_t n);
  long tls_write(const char* buf, std::size_t n);
  long tls_result(int r);
  // Frees the TLS session, after its close_notify when the session allows one.
  void end_tls();
  void close_fd();
  void set_lowat(int bytes);

  std::string host_;
  int port_;
  std::chrono::microseconds connect_timeout_;
  AddressCheck address_check_;
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
  std::shared_ptr<const TlsContext> tls_;  // null: plain http
  ssl_st* ssl_ = nullptr;                  // the TLS session on fd_
  short tls_wait_ = 0;                     // what the last TLS call waits for; 0: call again first
  bool tls_clean_ = false;                 // the session may send its close_notify
};

/// Text for a failure, for error messages (no credentials: nothing of the request).
std::string describe(const Outcome& o);

/// Milliseconds for poll(2): `d` rounded up, within 0 and a day (for the http1_*.cpp files).
int poll_ms(std::chrono::microseconds d);

}  // namespace mcp::detail::http1
