// SPDX-License-Identifier: MIT
#include "http1.hpp"

#include "read_buffer.hpp"
#include "util/ascii.hpp"

#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include <arpa/inet.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <memory>

namespace mcp::detail::http1 {

namespace {

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

// Calls f(token) for each comma-separated, trimmed, non-empty token of a field value.
template <class F>
void each_token(std::string_view v, F&& f) {
  while (!v.empty()) {
    const auto comma = v.find(',');
    const auto t = trim(v.substr(0, comma));
    if (!t.empty()) f(t);
    if (comma == std::string_view::npos) break;
    v.remove_prefix(comma + 1);
  }
}


int poll_ms(std::chrono::microseconds d) {
  const auto ms = (d.count() + 999) / 1000;
  return static_cast<int>(std::clamp<long long>(ms, 0, 24LL * 3600 * 1000));
}

// The socket under a TLS session: OpenSSL's own socket BIO writes with write(2), which raises
// SIGPIPE in the host process when the server has gone; this one sends with MSG_NOSIGNAL.
int bio_fd(BIO* b) { return static_cast<int>(reinterpret_cast<std::intptr_t>(BIO_get_data(b))); }

int bio_write(BIO* b, const char* data, int n) {
  BIO_clear_retry_flags(b);
  const ssize_t r = ::send(bio_fd(b), data, static_cast<std::size_t>(n), MSG_NOSIGNAL);
  if (r < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)) BIO_set_retry_write(b);
  return static_cast<int>(r);
}

int bio_read(BIO* b, char* data, int n) {
  BIO_clear_retry_flags(b);
  const ssize_t r = ::recv(bio_fd(b), data, static_cast<std::size_t>(n), 0);
  if (r < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)) BIO_set_retry_read(b);
  return static_cast<int>(r);
}

long bio_ctrl(BIO* b, int cmd, long, void* ptr) {
  if (cmd == BIO_CTRL_FLUSH) return 1;
  if (cmd != BIO_C_GET_FD) return 0;
  if (ptr) *static_cast<int*>(ptr) = bio_fd(b);
  return bio_fd(b);
}

int bio_create(BIO* b) {
  BIO_set_init(b, 1);
  return 1;
}

const BIO_METHOD* socket_bio() {
  static BIO_METHOD* const method = [] {
    BIO_METHOD* m = BIO_meth_new(BIO_get_new_index() | BIO_TYPE_SOURCE_SINK | BIO_TYPE_DESCRIPTOR, "mcp socket");
    if (m) {
      BIO_meth_set_write(m, bio_write);
      BIO_meth_set_read(m, bio_read);
      BIO_meth_set_ctrl(m, bio_ctrl);
      BIO_meth_set_create(m, bio_create);
    }
    return m;
  }();
  return method;
}

bool ip_literal(const std::string& host) {
  unsigned char addr[16];
  return ::inet_pton(AF_INET, host.c_str(), addr) == 1 || ::inet_pton(AF_INET6, host.c_str(), addr) == 1;
}

// OpenSSL's reason for the last error on this thread (its queue then emptied), or `otherwise`.
std::string ssl_reason(const char* otherwise) {
  const unsigned long e = ERR_peek_last_error();
  const char* r = e ? ERR_reason_error_string(e) : nullptr;
  ERR_clear_error();
  return r ? r : otherwise;
}

}  // namespace

// ---------------------------------------------------------------- TLS

TlsContext::TlsContext(bool verify, const std::string& ca_file, const std::string& ca_dir) : verify_(verify) {
  ERR_clear_error();
  ctx_ = SSL_CTX_new(TLS_client_method());
  if (!ctx_) {
    error_ = "could not set up TLS: " + ssl_reason("out of memory");
    return;
  }
  SSL_CTX_set_min_proto_version(ctx_, TLS1_2_VERSION);
  // Partial writes (the exchange loop advances by what was taken); idle kept-alive connections
  // give their buffers back.
  SSL_CTX_set_mode(ctx_, SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER | SSL_MODE_RELEASE_BUFFERS);
#ifdef SSL_OP_IGNORE_UNEXPECTED_EOF
  // Many servers close without a close_notify: that ends a body delimited by the close (the
  // message it carries is still checked whole), as cpp-httplib had it.
  SSL_CTX_set_options(ctx_, SSL_OP_IGNORE_UNEXPECTED_EOF);
#endif
  SSL_CTX_set_verify(ctx_, verify ? SSL_VERIFY_PEER : SSL_VERIFY_NONE, nullptr);
  if (!verify) return;
  const bool given = !ca_file.empty() || !ca_dir.empty();
  const int loaded = given ? SSL_CTX_load_verify_locations(ctx_, ca_file.empty() ? nullptr : ca_file.c_str(),
                                                           ca_dir.empty() ? nullptr : ca_dir.c_str())
                           : SSL_CTX_set_default_verify_paths(ctx_);
  if (loaded != 1) {
    error_ = "could not load CA certificates" +
             (given ? " from " + (ca_file.empty() ? ca_dir : ca_file) : std::string(" from the system store"));
    ERR_clear_error();
  }
}

TlsContext::~TlsContext() { SSL_CTX_free(ctx_); }

Outcome Connection::handshake(Clock::time_point deadline) {
  const auto until = std::min(deadline, Clock::now() + connect_timeout_);
  auto failed = [&](Failure f, std::string detail) {
    ERR_clear_error();
    close_fd();
    return Outcome{stop_ ? Failure::stopped : f, std::move(detail), false};
  };
  ERR_clear_error();
  ssl_ = SSL_new(tls_->get());
  BIO* bio = ssl_ ? BIO_new(socket_bio()) : nullptr;
  if (!bio) return failed(Failure::tls, "could not set up TLS");
  BIO_set_data(bio, reinterpret_cast<void*>(static_cast<std::intptr_t>(fd_)));
  SSL_set_bio(ssl_, bio, bio);
  const bool ip = ip_literal(host_);
  // SNI names a host, never an address (RFC 6066 3).
  if (!ip && SSL_set_tlsext_host_name(ssl_, host_.c_str()) != 1) return failed(Failure::tls, "could not set up TLS");
  if (tls_->verify()) {
    // The certificate must name the host we connect to: an IP literal as an IP address.
    const int named = ip ? X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(ssl_), host_.c_str())
                         : SSL_set1_host(ssl_, host_.c_str());
    if (named != 1) return failed(Failure::tls, "could not set up TLS");
  }
  SSL_set_connect_state(ssl_);
  for (;;) {
    ERR_clear_error();
    const int r = SSL_connect(ssl_);
    if (r == 1) break;
    const int e = SSL_get_error(ssl_, r);
    if (e != SSL_ERROR_WANT_READ && e != SSL_ERROR_WANT_WRITE) {
      const long verified = SSL_get_verify_result(ssl_);
      if (tls_->verify() && verified != X509_V_OK)
        return failed(Failure::tls_verify, X509_verify_cert_error_string(verified));
      if (e == SSL_ERROR_SYSCALL || e == SSL_ERROR_ZERO_RETURN)
        return failed(Failure::tls, ssl_reason("the server closed or reset the connection"));
      return failed(Failure::tls, ssl_reason("protocol error"));
    }
    if (stop_) return failed(Failure::stopped, {});
    const auto left = std::chrono::duration_cast<std::chrono::microseconds>(until - Clock::now());
    if (left.count() <= 0)
      return Clock::now() >= deadline ? failed(Failure::timeout, {})
                                      : failed(Failure::tls, "the handshake did not finish within the connect timeout");
    pollfd pfd{fd_, static_cast<short>(e == SSL_ERROR_WANT_READ ? POLLIN : POLLOUT), 0};
    if (::poll(&pfd, 1, poll_ms(left)) < 0 && errno != EINTR) return failed(Failure::tls, "poll failed");
  }
  tls_clean_ = true;
  tls_wait_ = 0;
  return {};
}

long Connection::tls_result(int r) {
  if (r > 0) {
    tls_wait_ = 0;  // more may be buffered in the session: call again before polling
    return r;
  }
  const int e = SSL_get_error(ssl_, r);
  if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE) {
    tls_wait_ = e == SSL_ERROR_WANT_READ ? POLLIN : POLLOUT;
    errno = EAGAIN;
    return -1;
  }
  if (e == SSL_ERROR_ZERO_RETURN) return 0;  // close_notify
  // A fatal error (SSL_ERROR_SSL, SYSCALL): no close_notify may follow.
  tls_clean_ = false;
  ERR_clear_error();
  errno = EIO;
  return -1;
}

long Connection::tls_read(char* buf, std::size_t n) {
  ERR_clear_error();
  return tls_result(SSL_read(ssl_, buf, static_cast<int>(std::min<std::size_t>(n, 1 << 30))));
}

long Connection::tls_write(const char* buf, std::size_t n) {
  ERR_clear_error();
  return tls_result(SSL_write(ssl_, buf, static_cast<int>(std::min<std::size_t>(n, 1 << 30))));
}

std::string_view Head::get(std::string_view name) const {
  for (const auto& [k, v] : fields)
    if (iequals(k, name)) return v;
  return {};
}

// ---------------------------------------------------------------- the parser

void ResponseParser::reset(bool head_request) {
  state_ = State::head;
  head_request_ = head_request;
  stopped_ = started_ = keep_alive_ = false;
  buf_.clear();
  informational_ = 0;
  left_ = 0;
  trailer_bytes_ = 0;
  head_.status = 0;
  head_.fields.clear();
  error_.clear();
}

bool ResponseParser::fail(std::string why) {
  state_ = State::failed;
  keep_alive_ = false;
  error_ = std::move(why);
  return false;
}

bool ResponseParser::take_line(const char*& p, const char* end, std::size_t limit, std::string& line,
                               bool& complete) {
  const char* nl = static_cast<const char*>(std::memchr(p, '\n', static_cast<std::size_t>(end - p)));
  const char* stop = nl ? nl : end;
  line.append(p, stop);
  p = nl ? nl + 1 : end;
  complete = nl != nullptr;
  if (complete && !line.empty() && line.back() == '\r') line.pop_back();
  if (line.size() > limit) return fail("a line of the response is too long");
  return true;
}

bool ResponseParser::parse_head(const OnHead& on_head) {
  head_text_.swap(buf_);  // kept: the fields view it
  std::string_view text(head_text_);
  head_.status = 0;
  head_.fields.clear();  // keeps its capacity from one response to the next
  bool first = true;
  while (!text.empty()) {
    auto nl = text.find('\n');
    std::string_view line = text.substr(0, nl);
    text.remove_prefix(nl == std::string_view::npos ? text.size() : nl + 1);
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    if (first) {
      first = false;
      // HTTP/1.x SP 3DIGIT [SP reason]
      if (line.size() < 12 || line.substr(0, 7) != "HTTP/1." || line[7] < '0' || line[7] > '9' || line[8] != ' ' ||
          (line.size() > 12 && line[12] != ' '))
        return fail("malformed status line");
      int status = 0;
      for (int i = 9; i < 12; ++i) {
        if (line[i] < '0' || line[i] > '9') return fail("malformed status line");
        status = status * 10 + (line[i] - '0');
      }
      if (status < 100) return fail("malformed status line");
      head_.status = status;
      head_.minor_version = line[7] - '0';
      continue;
    }
    if (line.empty()) break;  // the blank line ending the head
    if (line.front() == ' ' || line.front() == '\t') return fail("obsolete line folding in the response head");
    const auto colon = line.find(':');
    if (colon == std::string_view::npos || colon == 0) return fail("malformed header field");
    const auto name = line.substr(0, colon);
    for (char c : name)
      if (!is_tchar(c)) return fail("malformed header field name");
    if (head_.fields.size() >= kMaxFields) return fail("more than 100 header fields in the response head");
    head_.fields.emplace_back(name, trim(line.substr(colon + 1)));
  }
  if (first) return fail("empty response head");
  buf_.clear();  // the previous head's text, swapped out above: its capacity is reused
  const int status = head_.status;
  if (status < 200) {
    if (status == 101) return fail("unexpected 101 Switching Protocols");
    if (++informational_ > kMaxInformational) return fail("too many informational responses");
    state_ = State::head;  // skipped; the real response follows
    return true;
  }
  bool close = false, keep = false;
  for (const auto& [k, v] : head_.fields) {
    if (!iequals(k, "Connection")) continue;
    each_token(v, [&](std::string_view t) {
      if (iequals(t, "close")) close = true;
      if (iequals(t, "keep-alive")) keep = true;
    });
  }
  keep_alive_ = !close && (head_.minor_version >= 1 || keep);
  if (on_head && !on_head(head_)) {
    stopped_ = true;
    keep_alive_ = false;
    return false;
  }
  if (head_request_ || status == 204 || status == 304) {
    state_ = State::done;
    return true;
  }
  // Transfer-Encoding wins over Content-Length (RFC 9112, 6.3).
  bool has_te = false;
  std::string_view last_coding;
  for (const auto& [k, v] : head_.fields) {
    if (!iequals(k, "Transfer-Encoding")) continue;
    has_te = true;
    each_token(v, [&](std::string_view t) { last_coding = t; });
  }
  if (has_te) {
    if (iequals(last_coding, "chunked")) {
      state_ = State::chunk_size;
    } else {
      state_ = State::until_close;
      keep_alive_ = false;
    }
    return true;
  }
  bool has_length = false;
  std::uint64_t length = 0;
  for (const auto& [k, v] : head_.fields) {
    if (!iequals(k, "Content-Length")) continue;
    bool bad = false;
    each_token(v, [&](std::string_view t) {
      std::uint64_t n = 0;
      if (t.size() > 15) bad = true;
      for (char c : t) {
        if (c < '0' || c > '9') bad = true;
        else n = n * 10 + static_cast<std::uint64_t>(c - '0');
      }
      if (has_length && n != length) bad = true;
      has_length = true;
      length = n;
    });
    if (bad || trim(v).empty()) return fail("invalid or conflicting Content-Length");
  }
  if (has_length) {
    left_ = length;
    state_ = length ? State::length : State::done;
    return true;
  }
  state_ = State::until_close;
  keep_alive_ = false;
  return true;
}

bool ResponseParser::feed(const char* data, std::size_t n, const OnHead& on_head, const OnData& on_data) {
  if (state_ == State::failed) return false;
  if (n) started_ = true;
  const char* p = data;
  const char* end = data + n;
  std::string spill;  // bytes after a head, kept while buf_ is reused
  bool complete = false;
  while (p < end) {
    switch (state_) {
      case State::head: {
        const std::size_t old = buf_.size();
        const std::size_t room = kMaxHead + 3 - std::min(old, kMaxHead + 3);
        const std::size_t take = std::min<std::size_t>(room, static_cast<std::size_t>(end - p));
        buf_.append(p, take);
        p += take;
        std::size_t term = std::string::npos;
        for (std::size_t i = old >= 2 ? old - 2 : 0; i < buf_.size(); ++i) {
          const void* nl = std::memchr(buf_.data() + i, '\n', buf_.size() - i);
          if (!nl) break;
          i = static_cast<std::size_t>(static_cast<const char*>(nl) - buf_.data());
          if (i + 1 < buf_.size() && buf_[i + 1] == '\n') { term = i + 2; break; }
          if (i + 2 < buf_.size() && buf_[i + 1] == '\r' && buf_[i + 2] == '\n') { term = i + 3; break; }
        }
        if (term == std::string::npos) {
          if (buf_.size() > kMaxHead) return fail("response head larger than 64 KiB");
          break;
        }
        // What follows the head is body (or the next response, after a 1xx).
        std::string rest(buf_, term);
        rest.append(p, end);
        buf_.resize(term);
        if (!parse_head(on_head)) return false;
        spill = std::move(rest);
        p = spill.data();
        end = p + spill.size();
        break;
      }
      case State::length:
      case State::chunk_data: {
        const std::size_t take = static_cast<std::size_t>(std::min<std::uint64_t>(left_, static_cast<std::uint64_t>(end - p)));
        if (take && on_data && !on_data(p, take)) {
          stopped_ = true;
          keep_alive_ = false;
          return false;
        }
        p += take;
        left_ -= take;
        if (left_ == 0) state_ = state_ == State::length ? State::done : State::chunk_end;
        break;
      }
      case State::until_close:
        if (on_data && !on_data(p, static_cast<std::size_t>(end - p))) {
          stopped_ = true;
          return false;
        }
        p = end;
        break;
      case State::chunk_size: {
        if (!take_line(p, end, 1024, buf_, complete)) return false;
        if (!complete) break;
        std::string_view line = trim(std::string_view(buf_).substr(0, buf_.find(';')));
        if (line.empty() || line.size() > 15) return fail("malformed chunk size");
        std::uint64_t size = 0;
        for (char c : line) {
          const int d = hex_value(c);
          if (d < 0) return fail("malformed chunk size");
          size = size * 16 + static_cast<std::uint64_t>(d);
        }
        buf_.clear();
        left_ = size;
        state_ = size ? State::chunk_data : State::trailers;
        break;
      }
      case State::chunk_end:
        if (!take_line(p, end, 2, buf_, complete)) return fail("chunk data not followed by CRLF");
        if (!complete) break;
        if (!buf_.empty()) return fail("chunk data not followed by CRLF");
        state_ = State::chunk_size;
        break;
      case State::trailers: {
        if (!take_line(p, end, kMaxHead, buf_, complete)) return false;
        if (!complete) break;
        trailer_bytes_ += buf_.size() + 2;
        if (trailer_bytes_ > kMaxHead) return fail("trailer section larger than 64 KiB");
        const bool blank = buf_.empty();
        buf_.clear();
        if (blank) state_ = State::done;
        break;
      }
      case State::done:
        // Nothing may follow a response on a connection without pipelining: the response
        // stands, the connection is not reused.
        keep_alive_ = false;
        p = end;
        break;
      case State::failed:
        return false;
    }
  }
  return true;
}

bool ResponseParser::finish() {
  if (state_ == State::until_close) state_ = State::done;
  if (state_ == State::done) {
    keep_alive_ = false;
    return true;
  }
  if (state_ != State::failed)
    fail(started_ ? "the connection closed before the end of the response" : "the connection closed before a response");
  return false;
}

// ---------------------------------------------------------------- the connection

Connection::Connection(std::string host, int port, std::chrono::microseconds connect_timeout,
                       std::shared_ptr<const TlsContext> tls)
    : host_(std::move(host)), port_(port), connect_timeout_(connect_timeout), tls_(std::move(tls)) {
  const bool v6 = host_.find(':') != std::string::npos;
  host_header_ = v6 ? "[" + host_ + "]" : host_;
  if (port_ != (tls_ ? 443 : 80)) host_header_ += ":" + std::to_string(port_);
  if (tls_) head_lowat_ = 0;  // SO_RCVLOWAT counts record bytes, not the head's
}

Connection::~Connection() { close_fd(); }

void Connection::close_fd() {
  std::lock_guard lk(fd_mutex_);
  if (ssl_) {
    if (tls_clean_) {
      // The close_notify, once and without waiting for the server's (non-blocking socket).
      ERR_clear_error();
      (void)SSL_shutdown(ssl_);
      ERR_clear_error();
    }
    SSL_free(ssl_);  // and its BIO; the descriptor is ours
    ssl_ = nullptr;
    tls_clean_ = false;
  }
  if (fd_ >= 0) ::close(fd_);
  fd_ = live_fd_ = -1;
  reusable_ = false;
}

void Connection::set_lowat(int bytes) {
  if (::setsockopt(fd_, SOL_SOCKET, SO_RCVLOWAT, &bytes, sizeof bytes) == 0) {
    lowat_ = bytes;
  } else {
    head_lowat_ = 0;  // not on this socket
  }
}

void Connection::stop() {
  stop_ = true;
  std::lock_guard lk(fd_mutex_);
  if (live_fd_ >= 0) ::shutdown(live_fd_, SHUT_RDWR);  // wakes a poll or recv at once
}

Outcome Connection::open(Clock::time_point deadline) {
  if (tls_ && !tls_->error().empty()) return {Failure::tls, tls_->error(), false};
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = AI_NUMERICSERV;
  addrinfo* res = nullptr;
  const std::string port = std::to_string(port_);
  if (::getaddrinfo(host_.c_str(), port.c_str(), &hints, &res) != 0 || !res) return {Failure::connect, {}, false};
  std::unique_ptr<addrinfo, void (*)(addrinfo*)> owned(res, ::freeaddrinfo);
  Failure why = Failure::connect;
  std::string refused;  // why the last address was refused by the check
  bool tried = false;
  for (addrinfo* ai = res; ai; ai = ai->ai_next) {
    if (address_check_) {
      if (std::string no = address_check_(*ai->ai_addr); !no.empty()) {
        refused = std::move(no);
        continue;
      }
    }
    tried = true;
    const int fd = ::socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC | SOCK_NONBLOCK, ai->ai_protocol);
    if (fd < 0) continue;
    const int one = 1;
    ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    {
      std::lock_guard lk(fd_mutex_);
      fd_ = live_fd_ = fd;
    }
    lowat_ = 1;
    if (::connect(fd, ai->ai_addr, ai->ai_addrlen) == 0) return tls_ ? handshake(deadline) : Outcome{};
    if (errno == EINPROGRESS) {
      // In slices, so that stop() (which cannot interrupt a connect) is seen soon.
      const auto until = std::min(deadline, Clock::now() + connect_timeout_);
      for (;;) {
        if (stop_) {
          close_fd();
          return {Failure::stopped, {}, false};
        }
        const auto left = std::chrono::duration_cast<std::chrono::microseconds>(until - Clock::now());
        if (left.count() <= 0) {
          why = Failure::connect_timeout;
          break;
        }
        pollfd pfd{fd, POLLOUT, 0};
        const int r = ::poll(&pfd, 1, std::min(poll_ms(left), 100));
        if (r < 0 && errno != EINTR) break;
        if (r <= 0) continue;
        int err = 0;
        socklen_t len = sizeof err;
        ::getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len);
        if (err == 0) return tls_ ? handshake(deadline) : Outcome{};
        break;
      }
    }
    close_fd();
  }
  if (!tried && !refused.empty()) return {Failure::refused, std::move(refused), false};
  return {why, {}, false};
}

Outcome Connection::exchange(std::string_view head, std::string_view body, bool head_request,
                             std::chrono::microseconds timeout, const ResponseParser::OnHead& on_head,
                             const ResponseParser::OnData& on_data, bool coalesce,
                             std::chrono::microseconds head_timeout) {
  if (stop_) return {Failure::stopped, {}, false};
  // One deadline for the whole exchange, not a timeout per wait: a server trickling its
  // response a byte at a time must not hold the caller past it.
  const auto deadline = Clock::now() + std::min<std::chrono::microseconds>(timeout, std::chrono::hours(24));
  const auto head_by = Clock::now() + std::min<std::chrono::microseconds>(head_timeout, std::chrono::hours(24));
  auto left = [&] {
    const auto until = parser_.past_head() ? deadline : std::min(deadline, head_by);
    return std::chrono::duration_cast<std::chrono::microseconds>(until - Clock::now());
  };
  if (fd_ < 0) {
    auto o = open(std::min(deadline, head_by));
    if (!o.ok()) return o;
  }
  reusable_ = false;
  parser_.reset(head_request);
  auto failed = [&](Failure f, std::string detail = {}) {
    const bool started = parser_.started();
    close_fd();
    return Outcome{stop_ ? Failure::stopped : f, std::move(detail), started};
  };
  // The request, in one sendmsg when the socket buffer takes it.
  iovec iov[2] = {{const_cast<char*>(head.data()), head.size()}, {const_cast<char*>(body.data()), body.size()}};
  std::size_t sent = 0;
  const std::size_t total = head.size() + body.size();
  while (sent < total) {
    msghdr msg{};
    iovec part[2];
    int count = 0;
    std::size_t skip = sent;
    for (const auto& v : iov) {
      if (skip >= v.iov_len) {
        skip -= v.iov_len;
        continue;
      }
      part[count++] = iovec{static_cast<char*>(v.iov_base) + skip, v.iov_len - skip};
      skip = 0;
    }
    msg.msg_iov = part;
    msg.msg_iovlen = static_cast<std::size_t>(count);
    const ssize_t n = ssl_ ? tls_write(static_cast<const char*>(part[0].iov_base), part[0].iov_len)
                           : ::sendmsg(fd_, &msg, MSG_NOSIGNAL);
    if (n > 0) {
      sent += static_cast<std::size_t>(n);
      continue;
    }
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
      if (stop_) return failed(Failure::stopped);
      if (left().count() <= 0) return failed(Failure::timeout);
      pollfd pfd{fd_, ssl_ ? tls_wait_ : static_cast<short>(POLLOUT), 0};
      const int r = ::poll(&pfd, 1, poll_ms(std::min<std::chrono::microseconds>(left(), std::chrono::seconds(60))));
      if (r == 0) return failed(left().count() <= 0 ? Failure::timeout : Failure::write);
      continue;
    }
    return failed(Failure::write);
  }
  // The first wait of a coalescing exchange is for more than the head: the gate (the setting
  // stays on the socket from one exchange to the next while responses come whole). After a
  // gate that expired, the next exchanges go ungated (see the end).
  const bool gate = coalesce && head_lowat_ > 1 && skip_ == 0;
  if (coalesce && head_lowat_ > 1 && skip_ > 0) --skip_;
  const int want = gate ? head_lowat_ : 1;
  if (want != lowat_) set_lowat(want);
  bool first = true;
  bool expired = false;    // the gate's wait ran out
  bool held_back = false;  // ... with bytes waiting below it
  // The thread's read buffer, not the connection's: an idle kept-alive connection holds none.
  const ReadBuffer buf;
  for (;;) {
    if (stop_) return failed(Failure::stopped);
    const auto wait = left();
    if (wait.count() <= 0) return failed(Failure::timeout);
    pollfd pfd{fd_, ssl_ ? tls_wait_ : static_cast<short>(POLLIN), 0};
    const bool gated = lowat_ > 1;
    // A TLS session may hold bytes already read from the socket: it is asked before polling.
    const int r = ssl_ && tls_wait_ == 0
                      ? 1
                      : ::poll(&pfd, 1, gated ? std::min(poll_ms(wait), kCoalesceWaitMs) : poll_ms(wait));
    if (r < 0) {
      if (errno == EINTR) continue;
      return failed(Failure::read);
    }
    if (r == 0) {
      if (!gated) continue;  // the deadline, checked above
      // Nothing yet (a slow reply), or bytes held below the gate: any byte will do now.
      int waiting = 0;
      expired = true;
      held_back = ::ioctl(fd_, FIONREAD, &waiting) == 0 && waiting > 0;
      set_lowat(1);
      continue;
    }
    const ssize_t n = ssl_ ? tls_read(buf.data(), ReadBuffer::kSize) : ::recv(fd_, buf.data(), ReadBuffer::kSize, 0);
    if (n > 0) {
      if (!parser_.feed(buf.data(), static_cast<std::size_t>(n), on_head, on_data)) {
        if (parser_.stopped()) return failed(Failure::stopped);
        return failed(Failure::protocol, parser_.error());
      }
      if (parser_.done()) break;
      // The head came alone, and more is to come: next time, wait for a byte past it.
      if (first && coalesce && head_lowat_ == 1 && parser_.head_size() == static_cast<std::size_t>(n) && n < (1 << 16))
        head_lowat_ = static_cast<int>(n) + 1;
      first = false;
      if (lowat_ > 1) set_lowat(1);  // what is left may be shorter than the gate
      continue;
    }
    if (n < 0 && (errno == EINTR || errno == EAGAIN || errno == EWOULDBLOCK)) continue;
    if (n == 0 && !stop_ && parser_.finish()) break;  // a body delimited by the close
    return failed(Failure::read);
  }
  // A gate that expired means a reply slower than its wait (under load that costs a timer wake
  // and three syscalls per exchange): the next 1, 2, 4 ... 64 exchanges go ungated, until a
  // gate holds again. If the whole response was waiting below the gate (it took one read), it
  // was shorter than the head learnt and the gate only delayed it: after a few of those in a
  // row this connection stops coalescing.
  if (gate && !expired) {
    strikes_ = backoff_ = 0;
  } else if (gate) {
    backoff_ = std::min(backoff_ ? backoff_ * 2 : 1, 64);
    skip_ = backoff_;
    if (held_back && first && ++strikes_ >= kMaxStrikes) head_lowat_ = 0;
  }
  reusable_ = parser_.keep_alive();
  if (!reusable_) close_fd();
  return Outcome{Failure::none, {}, true};
}

std::string describe(const Outcome& o) {
  switch (o.failure) {
    case Failure::none: return "ok";
    case Failure::connect: return "could not connect";
    case Failure::connect_timeout: return "connect timed out";
    case Failure::write: return "connection lost while writing";
    case Failure::read:
    case Failure::timeout: return "connection lost while reading";
    case Failure::stopped: return "cancelled";
    case Failure::protocol: return "invalid HTTP response: " + o.detail;
    case Failure::tls: return "TLS handshake failed: " + o.detail;
    case Failure::tls_verify: return "TLS certificate verification failed: " + o.detail;
    case Failure::refused: return o.detail;
  }
  return "error";
}

}  // namespace mcp::detail::http1
