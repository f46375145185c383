// mcp::HttpHost over HTTPS (HttpServerOptions::tls): our client with verification on (the
// certificate in test/fixtures/tls, self-signed for 127.0.0.1), in each era and on each kind
// of stream; what a client that does not speak TLS properly gets (a bounded handshake, a 400
// for plain HTTP); files that cannot be used; mTLS with certificates made by the openssl CLI.
#include "../integration/helpers.hpp"

#include <mcp/client.hpp>
#include <mcp/server.hpp>
#include <mcp/server_auth.hpp>
#include <mcp/server_http.hpp>

#include <doctest/doctest.h>
#include <nlohmann/json.hpp>

#include <openssl/err.h>
#include <openssl/ssl.h>

#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <cstdlib>
#include <mutex>
#include <thread>

using namespace std::chrono_literals;
using nlohmann::json;

namespace {

const std::string kFixtures = TLS_FIXTURE_DIR;
const std::string kCert = kFixtures + "/cert.pem";
const std::string kKey = kFixtures + "/key.pem";

mcp::HttpTlsOptions fixture_tls() {
  mcp::HttpTlsOptions t;
  t.cert_file = kCert;
  t.key_file = kKey;
  return t;
}

// A server with the tools these tests need, on an HTTPS host.
struct TlsHosted {
  std::mutex m;
  std::vector<std::string> diagnostics;
  mcp::Server server;
  mcp::HttpHost host;
  unsigned short port = 0;

  explicit TlsHosted(mcp::HttpServerOptions opt = with_tls({}))
      : server({.identity = {.name = "tls-server", .version = "1.0.0"},
                .on_diagnostic = [this](std::string_view d) {
                  std::lock_guard lk(m);
                  diagnostics.emplace_back(d);
                }}),
        host(server, std::move(opt)) {
    add_tools();
    auto p = host.start();
    REQUIRE_MESSAGE(p, (p ? "" : p.error().message));
    port = *p;
  }
  static mcp::HttpServerOptions with_tls(mcp::HttpServerOptions o) {
    o.tls = fixture_tls();
    return o;
  }
  std::string base() const { return "https://127.0.0.1:" + std::to_string(port); }

  void add_tools() {
    auto must = [](mcp::Result<void> r) { REQUIRE_MESSAGE(r, (r ? "" : r.error().message)); };
    must(server.add_tool({.name = "echo",
                          .input_schema = {{"type", "object"}, {"properties", {{"text", {{"type", "string"}}}}}},
                          .handler = [](const json& a, mcp::RequestContext&) -> mcp::Result<mcp::CallToolResult> {
                            return mcp::text_result(a.value("text", ""));
                          }}));
    // Sleeps `ms`, reporting progress every 50 ms.
    must(server.add_tool({.name = "sleep",
                          .input_schema = {{"type", "object"}, {"properties", {{"ms", {{"type", "integer"}}}}}},
                          .handler = [](const json& a, mcp::RequestContext& ctx) -> mcp::Result<mcp::CallToolResult> {
                            const int ms = a.value("ms", 0);
                            for (int t = 50; t <= ms && !ctx.cancelled(); t += 50) {
                              std::this_thread::sleep_for(50ms);
                              (void)ctx.progress(t, ms);
                            }
                            return mcp::text_result(std::to_string(ms));
                          }}));
    must(server.add_tool({.name = "toggle_tool",
                          .handler = [this](const json&, mcp::RequestContext&) -> mcp::Result<mcp::CallToolResult> {
                            if (server.remove_tool("extra")) return mcp::text_result("removed");
                            (void)server.add_tool({.name = "extra",
                                                   .handler = [](const json&, mcp::RequestContext&)
                                                       -> mcp::Result<mcp::CallToolResult> { return mcp::text_result("extra"); }});
                            return mcp::text_result("added");
                          }}));
  }
};

mcp::ServerConfig https_server(const std::string& url, mcp::Era era, bool with_ca = true,
                               mcp::HttpTransportKind kind = mcp::HttpTransportKind::streamable_http) {
  mcp::HttpServerConfig h;
  h.url = url;
  h.transport = kind;
  h.verify_tls = true;
  if (with_ca) h.ca_file = kCert;
  mcp::ServerConfig sc;
  sc.transport = std::move(h);
  sc.era = era;
  return sc;
}

// A TCP connection to 127.0.0.1:port, blocking, reads bounded by poll.
struct Tcp {
  int fd = -1;
  explicit Tcp(unsigned short port) {
    fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    REQUIRE(fd >= 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_port = htons(port);
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    REQUIRE(::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0);
  }
  ~Tcp() {
    if (fd >= 0) ::close(fd);
  }
  // Everything the peer sends until it closes; nullopt if it has not closed within `ms`.
  std::optional<std::string> read_to_eof(int ms) {
    const auto until = std::chrono::steady_clock::now() + std::chrono::milliseconds(ms);
    std::string in;
    for (;;) {
      const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(until - std::chrono::steady_clock::now()).count();
      pollfd p{fd, POLLIN, 0};
      if (left <= 0 || ::poll(&p, 1, static_cast<int>(left)) <= 0) return std::nullopt;
      char buf[4096];
      const ssize_t n = ::recv(fd, buf, sizeof buf, 0);
      if (n <= 0) return in;  // EOF or reset: closed
      in.append(buf, static_cast<std::size_t>(n));
    }
  }
};

// One HTTPS exchange with OpenSSL directly (our client has no client certificates): the
// server verified against the fixture, optionally a client certificate. The response as read
// until the server closes (Connection: close), or what failed.
struct TlsExchange {
  bool handshake_ok = false;
  std::string error;     // OpenSSL's reason when the handshake or a read failed
  std::string response;  // status line, headers, body
  std::string version;   // the protocol version negotiated ("TLSv1.3")
  int status() const { return response.size() > 12 ? std::atoi(response.c_str() + 9) : 0; }
  std::string body() const {
    const auto p = response.find("\r\n\r\n");
    return p == std::string::npos ? "" : response.substr(p + 4);
  }
};

TlsExchange tls_post(unsigned short port, const std::string& body, const std::string& client_cert = {},
                     const std::string& client_key = {}, int max_version = 0) {
  TlsExchange out;
  Tcp tcp(port);
  timeval tv{5, 0};
  ::setsockopt(tcp.fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  SSL_CTX* ctx = SSL_CTX_new(TLS_client_method());
  REQUIRE(ctx);
  REQUIRE(SSL_CTX_load_verify_locations(ctx, kCert.c_str(), nullptr) == 1);
  SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, nullptr);
  if (max_version) {
    SSL_CTX_set_min_proto_version(ctx, 0);
    SSL_CTX_set_max_proto_version(ctx, max_version);
    SSL_CTX_set_security_level(ctx, 0);  // let the client offer TLS 1.1: the server must refuse it
  }
  if (!client_cert.empty()) {
    REQUIRE(SSL_CTX_use_certificate_file(ctx, client_cert.c_str(), SSL_FILETYPE_PEM) == 1);
    REQUIRE(SSL_CTX_use_PrivateKey_file(ctx, client_key.c_str(), SSL_FILETYPE_PEM) == 1);
  }
  SSL* ssl = SSL_new(ctx);
  SSL_set_fd(ssl, tcp.fd);
  SSL_set1_host(ssl, "127.0.0.1");
  const auto reason = [] {
    const unsigned long e = ERR_get_error();
    ERR_clear_error();
    const char* r = e ? ERR_reason_error_string(e) : nullptr;
    return std::string(r ? r : "no reason");
  };
  if (SSL_connect(ssl) == 1) {
    out.handshake_ok = true;
    out.version = SSL_get_version(ssl);
    const std::string req = "POST /mcp HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
                            "Accept: application/json, text/event-stream\r\nMCP-Protocol-Version: 2026-07-28\r\n"
                            "Mcp-Method: tools/call\r\nMcp-Name: echo\r\nConnection: close\r\nContent-Length: " +
                            std::to_string(body.size()) + "\r\n\r\n" + body;
    if (SSL_write(ssl, req.data(), static_cast<int>(req.size())) > 0) {
      char buf[4096];
      int n;
      while ((n = SSL_read(ssl, buf, sizeof buf)) > 0) out.response.append(buf, static_cast<std::size_t>(n));
      // TLS 1.3: a refused client certificate is only reported on the client's first read.
      if (out.response.empty()) out.error = reason();
    } else {
      out.error = reason();
    }
  } else {
    out.error = reason();
  }
  SSL_free(ssl);
  SSL_CTX_free(ctx);
  return out;
}

std::string echo_call(const std::string& text) {
  return json{{"jsonrpc", "2.0"},
              {"id", 1},
              {"method", "tools/call"},
              {"params",
               {{"name", "echo"},
                {"arguments", {{"text", text}}},
                {"_meta",
                 {{"io.modelcontextprotocol/protocolVersion", "2026-07-28"},
                  {"io.modelcontextprotocol/clientCapabilities", json::object()}}}}}}
      .dump();
}

bool have_openssl_cli() { return std::system("openssl version >/dev/null 2>&1") == 0; }

// Runs a shell command (the openssl CLI); true when it succeeded.
bool sh(const std::string& cmd) { return std::system(("(" + cmd + ") >/dev/null 2>&1").c_str()) == 0; }

// A directory of its own under /tmp for generated keys and certificates.
std::string temp_dir(const std::string& stem) {
  const std::string dir = testutil::temp_path(stem);
  REQUIRE(sh("rm -rf '" + dir + "' && mkdir -p '" + dir + "'"));
  return dir;
}

}  // namespace

TEST_CASE("server over HTTPS: our client, verification on, in each era: calls, a streamed call, legacy sessions") {
  TlsHosted h;
  for (const auto era : {mcp::Era::modern, mcp::Era::legacy}) {
    CAPTURE(mcp::to_string(era));
    auto client = mcp::Client::create(testutil::one("s", https_server(h.base() + "/mcp", era)));
    REQUIRE(client);
    auto info = client->server_info("s");
    REQUIRE_MESSAGE(info, (info ? "" : info.error().message));
    CHECK(info->era == era);
    CHECK(info->implementation.name == "tls-server");
    auto echo = client->call_tool("s", "echo", {{"text", "over TLS"}});
    REQUIRE_MESSAGE(echo, (echo ? "" : echo.error().message));
    CHECK(echo->text() == "over TLS");
    // Progress turns the response into an event stream, over TLS like the rest.
    std::vector<double> progress;
    mcp::RequestOptions ro;
    ro.on_progress = [&](const mcp::Progress& p) { progress.push_back(p.progress); };
    auto slept = client->call_tool("s", "sleep", {{"ms", 300}}, ro);
    REQUIRE_MESSAGE(slept, (slept ? "" : slept.error().message));
    CHECK(slept->text() == "300");
    CHECK(progress.size() >= 3);
    // Many calls on the client's kept-alive TLS connections.
    for (int i = 0; i < 20; ++i) {
      auto r = client->call_tool("s", "echo", {{"text", std::to_string(i)}});
      REQUIRE(r);
      CHECK(r->text() == std::to_string(i));
    }
    if (era == mcp::Era::legacy) CHECK(h.host.session_count() == 1);
    client->disconnect();
  }
  CHECK(testutil::eventually([&] { return h.host.session_count() == 0; }));
}

TEST_CASE("server over HTTPS: 2024-11-05 HTTP+SSE and a 2026-07-28 subscriptions/listen stream") {
  TlsHosted h;
  {
    auto client = mcp::Client::create(
        testutil::one("s", https_server(h.base() + "/sse", mcp::Era::legacy, true, mcp::HttpTransportKind::sse)));
    REQUIRE(client);
    auto echo = client->call_tool("s", "echo", {{"text", "on the SSE stream"}});
    REQUIRE_MESSAGE(echo, (echo ? "" : echo.error().message));
    CHECK(echo->text() == "on the SSE stream");
    CHECK(h.host.session_count() == 1);
    client->disconnect();
    CHECK(testutil::eventually([&] { return h.host.session_count() == 0; }));
  }
  std::mutex m;
  int tool_changes = 0;
  auto cfg = testutil::one("s", https_server(h.base() + "/mcp", mcp::Era::modern));
  cfg.handlers.on_change = [&](const std::string&, const mcp::ChangeEvent& e) {
    std::lock_guard lk(m);
    if (e.kind == mcp::ChangeEvent::Kind::tools) ++tool_changes;
  };
  auto client = mcp::Client::create(std::move(cfg));
  REQUIRE(client);
  REQUIRE(client->server_info("s"));
  // The listener opens its stream in the background: toggle until a change arrives on it.
  CHECK(testutil::eventually([&] {
    (void)client->call_tool("s", "toggle_tool", json::object());
    std::lock_guard lk(m);
    return tool_changes >= 1;
  }, 5000));
  client->disconnect();
}

TEST_CASE("server over HTTPS: a client that cannot verify the certificate fails with a typed error at once") {
  TlsHosted h;
  // No ca_file: the system's store, which does not hold the self-signed fixture.
  const auto t0 = std::chrono::steady_clock::now();
  auto client = mcp::Client::create(testutil::one("s", https_server(h.base() + "/mcp", mcp::Era::modern, false)));
  REQUIRE(client);
  auto r = client->call_tool("s", "echo", {{"text", "x"}});
  REQUIRE_FALSE(r);
  CAPTURE(r.error().message);
  CHECK(r.error().errc() == mcp::Errc::connection_failed);
  CHECK(testutil::ms_since(t0) < 5000);
  client->disconnect();
  // The host serves on: the same client with the CA gets through.
  auto good = mcp::Client::create(testutil::one("s", https_server(h.base() + "/mcp", mcp::Era::modern)));
  REQUIRE(good);
  CHECK(good->call_tool("s", "echo", {{"text", "y"}}));
  good->disconnect();
}

TEST_CASE("server over HTTPS: a client that never handshakes is closed after handshake_timeout; plain HTTP gets a 400") {
  auto opt = TlsHosted::with_tls({});
  opt.tls->handshake_timeout = 300ms;
  TlsHosted h(opt);
  {
    Tcp silent(h.port);
    const auto t0 = std::chrono::steady_clock::now();
    auto got = silent.read_to_eof(5000);
    REQUIRE(got);  // closed, not left open
    CHECK(got->empty());
    const auto ms = testutil::ms_since(t0);
    CHECK(ms >= 250);
    CHECK(ms < 2000);
  }
  {
    // Half a ClientHello (a record header promising more): the same bound.
    Tcp partial(h.port);
    const unsigned char hello[] = {0x16, 0x03, 0x01, 0x02, 0x00, 0x01};
    REQUIRE(::send(partial.fd, hello, sizeof hello, MSG_NOSIGNAL) == static_cast<ssize_t>(sizeof hello));
    const auto t0 = std::chrono::steady_clock::now();
    REQUIRE(partial.read_to_eof(5000));
    CHECK(testutil::ms_since(t0) < 2000);
  }
  {
    Tcp plain(h.port);
    const std::string req = "POST /mcp HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: 2\r\n\r\n{}";
    REQUIRE(::send(plain.fd, req.data(), req.size(), MSG_NOSIGNAL) == static_cast<ssize_t>(req.size()));
    const auto t0 = std::chrono::steady_clock::now();
    auto got = plain.read_to_eof(5000);
    REQUIRE(got);
    CHECK(got->rfind("HTTP/1.1 400 ", 0) == 0);
    CHECK(got->find("HTTPS only") != std::string::npos);
    CHECK(testutil::ms_since(t0) < 3000);
  }
  // The host still serves TLS clients.
  auto r = tls_post(h.port, echo_call("still here"));
  CHECK(r.handshake_ok);
  CHECK(r.status() == 200);
  CHECK(r.body().find("still here") != std::string::npos);
}

TEST_CASE("server over HTTPS: a graceful close does not wait on a client that never answers close_notify") {
  auto opt = TlsHosted::with_tls({});
  opt.tls->shutdown_timeout = 300ms;
  TlsHosted h(opt);
  // Connection: close, then the client reads its response and stops reading (it never sends
  // its close_notify, nor closes): the host closes the TCP connection after shutdown_timeout.
  Tcp tcp(h.port);
  SSL_CTX* ctx = SSL_CTX_new(TLS_client_method());
  REQUIRE(SSL_CTX_load_verify_locations(ctx, kCert.c_str(), nullptr) == 1);
  SSL* ssl = SSL_new(ctx);
  SSL_set_fd(ssl, tcp.fd);
  REQUIRE(SSL_connect(ssl) == 1);
  const std::string body = echo_call("bye");
  const std::string req = "POST /mcp HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
                          "Accept: application/json, text/event-stream\r\nMCP-Protocol-Version: 2026-07-28\r\n"
                          "Mcp-Method: tools/call\r\nMcp-Name: echo\r\nConnection: close\r\nContent-Length: " +
                          std::to_string(body.size()) + "\r\n\r\n" + body;
  REQUIRE(SSL_write(ssl, req.data(), static_cast<int>(req.size())) > 0);
  std::string got;
  char buf[4096];
  timeval tv{5, 0};
  ::setsockopt(tcp.fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  int n;
  while (got.find("bye") == std::string::npos && (n = SSL_read(ssl, buf, sizeof buf)) > 0) got.append(buf, static_cast<std::size_t>(n));
  CHECK(got.find("bye") != std::string::npos);
  // Now only raw TCP: the server's close_notify arrives, then (unanswered) the close.
  const auto t0 = std::chrono::steady_clock::now();
  auto rest = tcp.read_to_eof(5000);
  REQUIRE(rest.has_value());
  CHECK_FALSE(rest->empty());  // the close_notify record
  const auto waited = testutil::ms_since(t0);
  CHECK(waited >= 150);  // it waited for ours
  CHECK(waited < 2000);
  SSL_free(ssl);
  SSL_CTX_free(ctx);
}

TEST_CASE("server over HTTPS: files that cannot be used fail start() with invalid_config naming the file") {
  const auto start_with = [](mcp::HttpTlsOptions t) -> mcp::Result<unsigned short> {
    mcp::Server server({.identity = {.name = "s", .version = "1"}});
    mcp::HttpServerOptions o;
    o.tls = std::move(t);
    mcp::HttpHost host(server, std::move(o));
    return host.start();
  };
  const auto refused = [&](mcp::HttpTlsOptions t, const std::string& must_name) {
    auto r = start_with(std::move(t));
    REQUIRE_FALSE(r);
    CAPTURE(r.error().message);
    CHECK(r.error().errc() == mcp::Errc::invalid_config);
    CHECK(r.error().message.find(must_name) != std::string::npos);
    return r.error().message;
  };
  auto t = fixture_tls();
  t.cert_file = "/nonexistent/cert.pem";
  refused(t, "/nonexistent/cert.pem");
  t = fixture_tls();
  t.key_file = "/nonexistent/key.pem";
  refused(t, "/nonexistent/key.pem");
  t = fixture_tls();
  t.cert_file.clear();
  refused(t, "tls.cert_file");

  const std::string dir = temp_dir("tls-bad");
  const std::string junk = dir + "/junk.pem";
  REQUIRE(sh("echo 'not a PEM file' > '" + junk + "'"));
  t = fixture_tls();
  t.cert_file = junk;
  refused(t, junk);
  t = fixture_tls();
  t.key_file = junk;
  refused(t, junk);
  t = fixture_tls();
  t.key_file = kCert;  // a certificate where the key should be
  refused(t, kCert);
  t = fixture_tls();
  t.client_ca_file = junk;
  refused(t, junk);
  t = fixture_tls();
  t.ciphers = "NO-SUCH-CIPHER";
  refused(t, "tls.ciphers");

  if (!have_openssl_cli()) {
    MESSAGE("no openssl CLI: the key mismatch and encrypted key cases are skipped");
    return;
  }
  // Another key: does not match the certificate.
  const std::string other = dir + "/other.key";
  REQUIRE(sh("openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out '" + other + "'"));
  t = fixture_tls();
  t.key_file = other;
  const auto why = refused(t, other);
  CHECK(why.find("does not match") != std::string::npos);
  // The fixture's key encrypted: the right password starts, a wrong (or no) password fails
  // and the password never appears in the error.
  const std::string enc = dir + "/enc.key";
  REQUIRE(sh("openssl pkey -in '" + kKey + "' -aes256 -passout pass:s3cret-pass -out '" + enc + "'"));
  t = fixture_tls();
  t.key_file = enc;
  t.key_password = "wrong-password";
  CHECK(refused(t, enc).find("wrong-password") == std::string::npos);
  t.key_password.clear();
  refused(t, enc);  // no prompt on the terminal: refused
  t.key_password = "s3cret-pass";
  mcp::HttpServerOptions o;
  o.tls = t;
  TlsHosted h(o);
  CHECK(h.host.options().tls->key_password.empty());  // not kept once the key is read
  auto r = tls_post(h.port, echo_call("encrypted key"));
  CHECK(r.status() == 200);
  CHECK(r.body().find("encrypted key") != std::string::npos);
  sh("rm -rf '" + dir + "'");
}

TEST_CASE("server over HTTPS: mTLS: client certificates verified, their identity given to the auth middleware") {
  if (!have_openssl_cli()) {
    MESSAGE("no openssl CLI: skipped");
    return;
  }
  const std::string dir = temp_dir("tls-mtls");
  const auto make_ca = [&](const std::string& name) {
    REQUIRE(sh("openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 -subj '/CN=" + name +
               "' -keyout '" + dir + "/" + name + ".key' -out '" + dir + "/" + name + ".pem'"));
  };
  const auto make_client = [&](const std::string& name, const std::string& ca) {
    REQUIRE(sh("openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -subj '/O=Example/CN=" + name +
               "' -keyout '" + dir + "/" + name + ".key' -out '" + dir + "/" + name + ".csr'"));
    REQUIRE(sh("printf 'subjectAltName=URI:spiffe://example.org/" + name + ",DNS:" + name + ".example.org\\n' > '" + dir +
               "/" + name + ".ext'"));
    REQUIRE(sh("openssl x509 -req -in '" + dir + "/" + name + ".csr' -CA '" + dir + "/" + ca + ".pem' -CAkey '" + dir +
               "/" + ca + ".key' -CAcreateserial -days 2 -extfile '" + dir + "/" + name + ".ext' -out '" + dir + "/" +
               name + ".pem'"));
  };
  make_ca("test-ca");
  make_ca("rogue-ca");
  make_client("agent-7", "test-ca");
  make_client("agent-8", "test-ca");
  make_client("intruder", "rogue-ca");
  const auto cert = [&](const std::string& n) { return dir + "/" + n + ".pem"; };
  const auto key = [&](const std::string& n) { return dir + "/" + n + ".key"; };

  // The application authorizes by certificate: agent-7 only. What the middleware saw is kept.
  std::mutex m;
  std::vector<std::optional<mcp::ClientCertificate>> seen;
  const auto options = [&](bool require) {
    auto o = TlsHosted::with_tls({});
    o.tls->client_ca_file = cert("test-ca");
    o.tls->require_client_certificate = require;
    o.auth.middleware = [&](const mcp::AuthRequest& req, mcp::AuthInfo& info) {
      {
        std::lock_guard lk(m);
        seen.push_back(req.client_certificate ? std::optional(*req.client_certificate) : std::nullopt);
      }
      if (!req.client_certificate) return mcp::AuthDecision::deny(401, "a client certificate is required");
      if (req.client_certificate->subject != "CN=agent-7,O=Example")
        return mcp::AuthDecision::deny(403, "this certificate may not call tools");
      info.subject = req.client_certificate->subject;
      return mcp::AuthDecision::allow();
    };
    return o;
  };

  {
    TlsHosted h(options(true));
    auto ok = tls_post(h.port, echo_call("hello agent"), cert("agent-7"), key("agent-7"));
    CAPTURE(ok.error);
    CHECK(ok.handshake_ok);
    CHECK(ok.status() == 200);
    CHECK(ok.body().find("hello agent") != std::string::npos);
    {
      std::lock_guard lk(m);
      REQUIRE(seen.size() == 1);
      REQUIRE(seen[0]);
      const auto& c = *seen[0];
      CHECK(c.subject == "CN=agent-7,O=Example");
      CHECK(c.issuer == "CN=test-ca");
      CHECK(c.sha256_fingerprint.size() == 64);
      CHECK(c.uris == std::vector<std::string>{"spiffe://example.org/agent-7"});
      CHECK(c.dns_names == std::vector<std::string>{"agent-7.example.org"});
      CHECK_FALSE(c.serial.empty());
      // The fingerprint is the certificate's, as openssl computes it.
      const std::string fp_file = dir + "/fp.txt";
      REQUIRE(sh("openssl x509 -in '" + cert("agent-7") + "' -noout -fingerprint -sha256 > '" + fp_file + "'"));
      std::string fp = testutil::read_file(fp_file);
      fp = fp.substr(fp.find('=') + 1);
      std::string hex;
      for (char ch : fp)
        if (std::isxdigit(static_cast<unsigned char>(ch))) hex += static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
      CHECK(c.sha256_fingerprint == hex);
    }
    // Another certificate of the same CA: verified, then refused by the application.
    auto other = tls_post(h.port, echo_call("x"), cert("agent-8"), key("agent-8"));
    CHECK(other.handshake_ok);
    CHECK(other.status() == 403);
    // A certificate of another CA, or none: the handshake fails; the middleware never runs.
    const std::size_t before = [&] {
      std::lock_guard lk(m);  // the middleware writes it on an I/O thread
      return seen.size();
    }();
    auto rogue = tls_post(h.port, echo_call("x"), cert("intruder"), key("intruder"));
    CAPTURE(rogue.error);
    CHECK(rogue.status() == 0);
    CHECK_FALSE(rogue.error.empty());
    auto none = tls_post(h.port, echo_call("x"));
    CAPTURE(none.error);
    CHECK(none.status() == 0);
    CHECK_FALSE(none.error.empty());
    {
      std::lock_guard lk(m);
      CHECK(seen.size() == before);
    }
    // Our own client (no client certificate) cannot connect: a typed error, no hang.
    const auto t0 = std::chrono::steady_clock::now();
    auto client = mcp::Client::create(testutil::one("s", https_server(h.base() + "/mcp", mcp::Era::modern)));
    REQUIRE(client);
    auto r = client->call_tool("s", "echo", {{"text", "x"}});
    REQUIRE_FALSE(r);
    CAPTURE(r.error().message);
    CHECK(testutil::ms_since(t0) < 5000);
    client->disconnect();
    // The handshake failures were told to on_diagnostic with OpenSSL's reason.
    std::lock_guard lk(h.m);
    CHECK(std::any_of(h.diagnostics.begin(), h.diagnostics.end(),
                      [](const std::string& d) { return d.find("TLS handshake failed") != std::string::npos; }));
  }
  {
    // Certificates optional: a client without one reaches the middleware with none.
    TlsHosted h(options(false));
    {
      std::lock_guard lk(m);
      seen.clear();
    }
    auto none = tls_post(h.port, echo_call("x"));
    CAPTURE(none.error);
    CHECK(none.handshake_ok);
    CHECK(none.status() == 401);
    auto ok = tls_post(h.port, echo_call("optional"), cert("agent-7"), key("agent-7"));
    CHECK(ok.status() == 200);
    auto rogue = tls_post(h.port, echo_call("x"), cert("intruder"), key("intruder"));
    CHECK(rogue.status() == 0);  // one sent must still verify
    std::lock_guard lk(m);
    REQUIRE(seen.size() == 2);
    CHECK_FALSE(seen[0]);
    CHECK(seen[1]);
  }
  sh("rm -rf '" + dir + "'");
}

TEST_CASE("server over HTTPS: bearer tokens and their challenges work the same") {
  const std::string token = "tls-test-token-0123456789";
  auto validator = mcp::make_static_token_validator({{.token = token, .info = {.subject = "alice"}}});
  REQUIRE(validator);
  auto opt = TlsHosted::with_tls({});
  opt.auth.metadata = {.resource = "https://127.0.0.1/mcp", .authorization_servers = {"https://auth.example.com"}};
  opt.auth.validator = *validator;
  TlsHosted h(opt);
  // No token: 401 with the challenge naming the metadata.
  auto raw = tls_post(h.port, echo_call("x"));
  CHECK(raw.status() == 401);
  CHECK(raw.response.find("WWW-Authenticate: Bearer resource_metadata=\"https://127.0.0.1/.well-known/oauth-protected-resource/mcp\"") !=
        std::string::npos);
  // Our client: refused without the token (a typed error), served with it.
  auto refused = mcp::Client::create(testutil::one("s", https_server(h.base() + "/mcp", mcp::Era::modern)));
  REQUIRE(refused);
  auto r = refused->call_tool("s", "echo", {{"text", "x"}});
  REQUIRE_FALSE(r);
  CHECK(r.error().errc() == mcp::Errc::unauthorized);
  refused->disconnect();
  auto sc = https_server(h.base() + "/mcp", mcp::Era::modern);
  std::get<mcp::HttpServerConfig>(sc.transport).headers["Authorization"] = "Bearer " + token;
  auto client = mcp::Client::create(testutil::one("s", std::move(sc)));
  REQUIRE(client);
  auto ok = client->call_tool("s", "echo", {{"text", "authorized"}});
  REQUIRE_MESSAGE(ok, (ok ? "" : ok.error().message));
  CHECK(ok->text() == "authorized");
  client->disconnect();
}

TEST_CASE("server over HTTPS: TLS 1.2 at least by default; min_version tls1_3 refuses TLS 1.2") {
  {
    TlsHosted h;
    auto v13 = tls_post(h.port, echo_call("a"));
    CHECK(v13.version == "TLSv1.3");
    CHECK(v13.status() == 200);
    auto v12 = tls_post(h.port, echo_call("b"), {}, {}, TLS1_2_VERSION);
    CHECK(v12.version == "TLSv1.2");
    CHECK(v12.status() == 200);
    auto v11 = tls_post(h.port, echo_call("c"), {}, {}, TLS1_1_VERSION);
    CAPTURE(v11.error);
    CHECK_FALSE(v11.handshake_ok);
  }
  auto opt = TlsHosted::with_tls({});
  opt.tls->min_version = mcp::TlsVersion::tls1_3;
  TlsHosted h(opt);
  auto v12 = tls_post(h.port, echo_call("b"), {}, {}, TLS1_2_VERSION);
  CAPTURE(v12.error);
  CHECK_FALSE(v12.handshake_ok);
  CHECK(tls_post(h.port, echo_call("a")).status() == 200);
}
