// SPDX-License-Identifier: MIT
// The connection of the lean HTTP/1.1 client (http1.hpp): connecting (with the address check),
// writing a request in one sendmsg, reading its response within one deadline, coalescing.
// The TLS side is in http1_tls.cpp, the response parser in http1_parser.cpp.
#include "http1.hpp"

#include "read_buffer.hpp"

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
#include <cctype>
#include <cerrno>
#include <cstring>
#include <memory>

namespace mcp::detail::http1 {

int poll_ms(std::chrono::microseconds d) {
  const auto ms = (d.count() + 999) / 1000;
  return static_cast<int>(std::clamp<long long>(ms, 0, 24LL * 3600 * 1000));
}

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
  end_tls();
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

Outcome Connection::connect(std::chrono::microseconds timeout) {
  if (stop_) return {Failure::stopped, {}, false};
  if (fd_ >= 0) return {};
  return open(Clock::now() + std::min<std::chrono::microseconds>(timeout, std::chrono::hours(24)));
}

Outcome Connection::open(Clock::time_point deadline) {
  if (tls_ && !tls_->error().empty()) return {Failure::tls, tls_->error(), false};
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = AI_NUMERICSERV;
  addrinfo* res = nullptr;
  const std::string port = std::to_string(port_);
  if (::getaddrinfo(host_.c_str(), port.c_str(), &hints, &res) != 0 || !res)
    return {Failure::connect, "cannot resolve '" + host_ + "'", false};
  std::unique_ptr<addrinfo, void (*)(addrinfo*)> owned(res, ::freeaddrinfo);
  Failure why = Failure::connect;
  std::string refused;  // why the last address was refused by the check
  bool tried = false;
  int last_error = 0;  // why the last address could not be connected (errno)
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
    last_error = errno;
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
        last_error = err;
        break;
      }
    }
    close_fd();
  }
  if (!tried && !refused.empty()) return {Failure::refused, std::move(refused), false};
  // "connection refused" (nothing listens there), "network is unreachable", ...
  std::string detail;
  if (why == Failure::connect && last_error != 0 && last_error != EINPROGRESS) {
    detail = std::strerror(last_error);
    if (!detail.empty()) detail[0] = static_cast<char>(std::tolower(static_cast<unsigned char>(detail[0])));
  }
  return {why, std::move(detail), false};
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
    case Failure::connect: return o.detail.empty() ? "could not connect" : "could not connect: " + o.detail;
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
