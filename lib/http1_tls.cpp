// SPDX-License-Identifier: MIT
// The TLS side of the lean HTTP/1.1 client (http1.hpp): the trust context, a connection's
// handshake, its reads and writes through OpenSSL, and its close_notify.
#include "http1.hpp"

#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>

#include <algorithm>
#include <cerrno>
#include <cstdint>

namespace mcp::detail::http1 {

namespace {

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

void Connection::end_tls() {
  if (!ssl_) return;
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

}  // namespace mcp::detail::http1
