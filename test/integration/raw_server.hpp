// RawServer: a server on 127.0.0.1 that writes exactly the bytes a test (a hostile server)
// wants, plain or TLS, a thread per connection; Conn: one of its connections.
#pragma once
#include <doctest/doctest.h>
#include <openssl/ssl.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <functional>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace testutil {

// One accepted connection, plain or TLS.
class Conn {
 public:
  Conn(int fd, SSL* ssl) : fd_(fd), ssl_(ssl) {}
  int fd() const { return fd_; }
  // Reads one request (head and Content-Length body); false at the close or on an error.
  bool read_request(std::string* head = nullptr, std::string* body = nullptr) {
    for (;;) {
      const auto end = in_.find("\r\n\r\n");
      if (end != std::string::npos) {
        std::size_t len = 0;
        for (const char* name : {"Content-Length: ", "content-length: "}) {
          const auto cl = in_.find(name);
          if (cl != std::string::npos && cl < end) len = std::stoul(in_.substr(cl + 16));
        }
        if (in_.size() >= end + 4 + len) {
          if (head) *head = in_.substr(0, end + 4);
          if (body) *body = in_.substr(end + 4, len);
          in_.erase(0, end + 4 + len);
          return true;
        }
      }
      char buf[4096];
      const int n = ssl_ ? SSL_read(ssl_, buf, sizeof buf) : static_cast<int>(::recv(fd_, buf, sizeof buf, 0));
      if (n <= 0) return false;
      in_.append(buf, static_cast<std::size_t>(n));
    }
  }
  bool send(const std::string& s) {
    std::size_t off = 0;
    while (off < s.size()) {
      const int n = ssl_ ? SSL_write(ssl_, s.data() + off, static_cast<int>(s.size() - off))
                         : static_cast<int>(::send(fd_, s.data() + off, s.size() - off, MSG_NOSIGNAL));
      if (n <= 0) return false;
      off += static_cast<std::size_t>(n);
    }
    return true;
  }
  // Sends `s` a byte at a time, `gap` apart, for at most `limit`; false once the peer is gone.
  bool trickle(const std::string& s, std::chrono::milliseconds gap, std::chrono::milliseconds limit) {
    const auto until = std::chrono::steady_clock::now() + limit;
    for (char c : s) {
      if (std::chrono::steady_clock::now() >= until || !send(std::string(1, c)) || peer_closed()) return false;
      std::this_thread::sleep_for(gap);
    }
    return true;
  }
  // The peer closed (or reset) the connection.
  bool peer_closed() const {
    pollfd p{fd_, POLLIN | POLLRDHUP, 0};
    if (::poll(&p, 1, 0) <= 0) return false;
    if (p.revents & (POLLRDHUP | POLLHUP | POLLERR)) return true;
    char c;
    return ::recv(fd_, &c, 1, MSG_PEEK | MSG_DONTWAIT) == 0;
  }

 private:
  int fd_;
  SSL* ssl_;
  std::string in_;
};

// A server on 127.0.0.1 (or `address`, another loopback address) that runs `serve` on a
// thread per connection (TLS with the test certificate, issued to 127.0.0.1 and localhost,
// when `tls`). Counts connections, and the most open at once. TLS: a connection waits
// `handshake_delay_ms` before its handshake, and the most waiting so at once is counted (each
// is a connection its client is still opening: its handshake needs the server's answer).
class RawServer {
 public:
  explicit RawServer(std::function<void(Conn&)> serve, bool tls = false, int backlog = 64,
                     const char* address = "127.0.0.1")
      : serve_(std::move(serve)) {
    if (tls) {
      ::signal(SIGPIPE, SIG_IGN);  // SSL_write to a client that left
      ctx_ = SSL_CTX_new(TLS_server_method());
      const std::string dir = TLS_FIXTURE_DIR;
      REQUIRE(SSL_CTX_use_certificate_chain_file(ctx_, (dir + "/cert.pem").c_str()) == 1);
      REQUIRE(SSL_CTX_use_PrivateKey_file(ctx_, (dir + "/key.pem").c_str(), SSL_FILETYPE_PEM) == 1);
    }
    fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    const int one = 1;
    ::setsockopt(fd_, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    REQUIRE(::inet_pton(AF_INET, address, &a.sin_addr) == 1);
    REQUIRE(::bind(fd_, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0);
    socklen_t len = sizeof a;
    ::getsockname(fd_, reinterpret_cast<sockaddr*>(&a), &len);
    port_ = ntohs(a.sin_port);
    REQUIRE(::listen(fd_, backlog) == 0);
    acceptor_ = std::thread([this] {
      for (;;) {
        const int c = ::accept4(fd_, nullptr, nullptr, SOCK_CLOEXEC);
        if (c < 0) return;
        const int now = ++open_;
        int seen = most_.load();
        while (now > seen && !most_.compare_exchange_weak(seen, now)) {
        }
        if (ctx_) {
          const int opening = ++handshaking_;
          int most = most_handshaking_.load();
          while (opening > most && !most_handshaking_.compare_exchange_weak(most, opening)) {
          }
        }
        ++accepted_;
        std::lock_guard lk(m_);
        workers_.emplace_back([this, c] {
          SSL* ssl = nullptr;
          if (ctx_) {
            if (const int ms = handshake_delay_ms; ms > 0) std::this_thread::sleep_for(std::chrono::milliseconds(ms));
            --handshaking_;  // before the server answers: until then its client is still connecting
            ssl = SSL_new(ctx_);
            SSL_set_fd(ssl, c);
            if (SSL_accept(ssl) != 1) {
              SSL_free(ssl);
              --open_;
              ::close(c);
              return;
            }
          }
          Conn conn(c, ssl);
          serve_(conn);
          if (ssl) {
            SSL_shutdown(ssl);
            SSL_free(ssl);
          }
          --open_;
          ::close(c);
        });
      }
    });
  }
  ~RawServer() {
    ::shutdown(fd_, SHUT_RDWR);
    ::close(fd_);
    acceptor_.join();
    for (auto& w : workers_) w.join();
    if (ctx_) SSL_CTX_free(ctx_);
  }
  int port() const { return port_; }
  int accepted() const { return accepted_; }
  int most_open() const { return most_; }
  // TLS: the most connections accepted and not yet answered at once (see handshake_delay_ms).
  int most_handshaking() const { return most_handshaking_; }
  std::atomic<int> handshake_delay_ms{0};
  std::string url(bool tls = false) const {
    return std::string(tls ? "https" : "http") + "://127.0.0.1:" + std::to_string(port_) + "/mcp";
  }

 private:
  std::function<void(Conn&)> serve_;
  SSL_CTX* ctx_ = nullptr;
  int fd_ = -1;
  int port_ = 0;
  std::atomic<int> accepted_{0}, open_{0}, most_{0}, handshaking_{0}, most_handshaking_{0};
  std::mutex m_;
  std::thread acceptor_;
  std::vector<std::thread> workers_;
};

}  // namespace testutil
