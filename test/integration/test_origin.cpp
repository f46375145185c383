// Hostile servers and credentials leaving their origin (issue 14): redirects to another origin,
// HTTP+SSE endpoints on another origin, request targets with control characters, secrets in
// error text. Two fixtures on two ports of 127.0.0.1 are two origins.
#include "../../lib/auth/oauth_util.hpp"
#include "../../lib/http1.hpp"
#include "../../lib/client/http_transport.hpp"
#include "http_fixture.hpp"

#include <mcp/oauth.hpp>

#include <doctest/doctest.h>
#include <httplib.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <atomic>
#include <mutex>
#include <thread>

using namespace std::chrono_literals;
using nlohmann::json;

namespace {

// Credentials in every form a server's configuration carries them.
mcp::ServerConfig with_secrets(const std::string& url) {
  mcp::HttpServerConfig h;
  h.url = url;
  h.headers = {{"Authorization", "Bearer secret-conf"}, {"X-Api-Key", "secret-key"}};
  h.header_provider = [] { return std::map<std::string, std::string>{{"X-Provided", "secret-provided"}}; };
  h.verify_tls = false;
  mcp::ServerConfig sc;
  sc.transport = std::move(h);
  return sc;
}

mcp::Client make(mcp::ServerConfig sc, bool listening = false) {
  auto cfg = testutil::one("h", std::move(sc));
  cfg.request_timeout = 10s;
  if (listening) cfg.handlers.on_log = [](const std::string&, const mcp::LogMessage&) {};
  auto c = mcp::Client::create(std::move(cfg));
  REQUIRE(c);
  return std::move(*c);
}

// A configuration that cannot work is refused when the client is made.
mcp::Result<mcp::Client> create(mcp::ServerConfig sc) { return mcp::Client::create(testutil::one("h", std::move(sc))); }

std::string origin_of(const Fixture& fx) { return fx.url(""); }

void check_no_secret(const std::string& text) {
  CHECK(text.find("secret") == std::string::npos);
}

}  // namespace

TEST_CASE("http origin: a redirect of a POST to another origin is refused, nothing is sent there") {
  const std::string dir = TLS_FIXTURE_DIR;
  for (const std::string status : {"307", "302"}) {
    for (bool tls : {false, true}) {
      CAPTURE(status);
      CAPTURE(tls);
      Fixture other({"--mode", "modern"});
      std::vector<std::string> flags{"--mode", "modern", "--redirect-to", other.url("/mcp?token=secret-q"),
                                     "--redirect-status", status};
      if (tls) for (std::string f : {std::string("--tls-cert"), dir + "/cert.pem", std::string("--tls-key"), dir + "/key.pem"}) flags.push_back(f);
      Fixture fx(flags);
      auto client = make(with_secrets(tls ? "https" + fx.url().substr(4) : fx.url()));
      auto r = client.list_tools();
      REQUIRE_FALSE(r);
      CHECK(r.error().errc() == mcp::Errc::http_error);
      CHECK(r.error().data.value("status", 0) == std::stoi(status));
      CHECK(r.error().data.value("location_origin", "") == origin_of(other));
      CHECK_MESSAGE(r.error().message.find(origin_of(other)) != std::string::npos, r.error().message);
      check_no_secret(r.error().what());
      CHECK(other.requests().empty());
    }
  }
}

TEST_CASE("http origin: same-origin redirects are followed with every header, a bounded number of times") {
  Fixture fx({"--mode", "modern", "--redirect"});  // /mcp -> /mcp2
  auto client = make(with_secrets(fx.url()));
  REQUIRE(client.list_tools());
  bool moved = false;
  for (const auto& req : fx.requests())
    if (req["path"] == "/mcp2") {
      moved = true;
      CHECK(req["headers"].value("authorization", "") == "Bearer secret-conf");
      CHECK(req["headers"].value("x-provided", "") == "secret-provided");
    }
  CHECK(moved);
  // A redirect to itself, for ever: given up after 10 hops.
  Fixture loop({"--mode", "modern", "--redirect-to", "/mcp"});
  auto looping = make(with_secrets(loop.url()));
  auto r = looping.list_tools();
  REQUIRE_FALSE(r);
  CHECK(r.error().errc() == mcp::Errc::http_error);
  CHECK(r.error().message.find("redirects") != std::string::npos);
  CHECK(loop.count("POST") == 11);
}

TEST_CASE("http origin: the legacy GET stream and DELETE are not redirected to another origin") {
  for (const std::string method : {"GET", "DELETE"}) {
    CAPTURE(method);
    Fixture other({"--mode", "legacy", "--get-stream"});
    Fixture fx({"--mode", "legacy", "--get-stream", "--redirect-to", other.url(), "--redirect-method", method});
    {
      auto client = make(with_secrets(fx.url()), true);
      REQUIRE(client.list_tools());
      client.disconnect();
    }
    CHECK(fx.count(method) >= 1);
    CHECK(other.requests().empty());
  }
}

TEST_CASE("http origin: the legacy HTTP+SSE stream is not redirected to another origin") {
  Fixture other({"--mode", "sse"});
  Fixture fx({"--mode", "sse", "--redirect-to", other.url("/sse"), "--redirect-method", "GET"});
  auto client = make(with_secrets(fx.url("/sse")));
  auto r = client.list_tools();
  REQUIRE_FALSE(r);
  CHECK_MESSAGE(r.error().message.find(origin_of(other)) != std::string::npos, r.error().message);
  check_no_secret(r.error().what());
  CHECK(other.requests().empty());
}

TEST_CASE("http origin: an HTTP+SSE endpoint event naming another origin is refused, nothing is posted") {
  Fixture other({"--mode", "sse"});
  Fixture fx({"--mode", "sse", "--endpoint-prefix", other.url("")});
  auto client = make(with_secrets(fx.url("/sse")));
  auto r = client.list_tools();
  REQUIRE_FALSE(r);
  CHECK(r.error().errc() == mcp::Errc::invalid_message);
  CHECK_MESSAGE(r.error().message.find("another origin, " + origin_of(other)) != std::string::npos, r.error().message);
  check_no_secret(r.error().what());
  CHECK(other.requests().empty());
  CHECK(fx.count("POST") == 0);
}

TEST_CASE("http origin: an endpoint event of two data lines (a line feed in the target) is refused") {
  Fixture fx({"--mode", "sse", "--endpoint-prefix", "/x HTTP/1.1\nX-Injected: 1\n\nPOST /y"});
  auto client = make(with_secrets(fx.url("/sse")));
  auto r = client.list_tools();
  REQUIRE_FALSE(r);
  CHECK_MESSAGE(r.error().errc() == mcp::Errc::invalid_message, r.error().what());
  CHECK_MESSAGE(r.error().message.find("endpoint event is unusable") != std::string::npos, r.error().message);
  CHECK(fx.count("POST") == 0);
}

TEST_CASE("http origin: a configured URL with a space, CR/LF or a character RFC 3986 forbids is invalid_config when the client is made; nothing is sent") {
  Fixture fx({"--mode", "modern"});
  for (const std::string path : {"/mcp x", "/mcp\r\nX-Injected: 1", "/mcp<x>", "/m\xc3\xa9"}) {
    CAPTURE(path);
    auto r = create(with_secrets(fx.url(path)));
    REQUIRE_FALSE(r);
    CHECK(r.error().errc() == mcp::Errc::invalid_config);
    CHECK(r.error().message.find("X-Injected") == std::string::npos);
  }
  CHECK(fx.requests().empty());
}

TEST_CASE("http origin: error text shows origin and path, never userinfo or the query") {
  {
    // userinfo: refused, not echoed, and the message says what is wrong
    auto r = create(with_secrets("http://user:secret-pw@127.0.0.1:1/mcp"));
    REQUIRE_FALSE(r);
    CHECK(r.error().errc() == mcp::Errc::invalid_config);
    check_no_secret(r.error().what());
    CHECK_MESSAGE(r.error().message.find("user name or password") != std::string::npos, r.error().message);
  }
  {
    auto r = create(with_secrets("ftp://127.0.0.1:1/mcp"));
    REQUIRE_FALSE(r);
    CHECK(r.error().errc() == mcp::Errc::invalid_config);
    CHECK_MESSAGE(r.error().message.find("scheme") != std::string::npos, r.error().message);
  }
  {
    // nothing listens: "could not connect" names origin and path only
    auto client = make(with_secrets("http://127.0.0.1:1/mcp?api_key=secret-q"));
    auto r = client.list_tools();
    REQUIRE_FALSE(r);
    CHECK(r.error().errc() == mcp::Errc::connection_failed);
    check_no_secret(r.error().what());
    CHECK_MESSAGE(r.error().message.find("http://127.0.0.1:1/mcp") != std::string::npos, r.error().message);
    CHECK_MESSAGE(r.error().message.find("connection refused") != std::string::npos, r.error().message);
  }
  {
    // the same over legacy HTTP+SSE (a /sse URL): refused, not "no endpoint event"
    auto client = make(with_secrets("http://127.0.0.1:1/sse?api_key=secret-q"));
    auto r = client.list_tools();
    REQUIRE_FALSE(r);
    CHECK(r.error().errc() == mcp::Errc::connection_failed);
    check_no_secret(r.error().what());
    CHECK_MESSAGE(r.error().message.find("http://127.0.0.1:1/sse") != std::string::npos, r.error().message);
    CHECK_MESSAGE(r.error().message.find("connection refused") != std::string::npos, r.error().message);
    CHECK_MESSAGE(r.error().message.find("endpoint") == std::string::npos, r.error().message);
  }
  {
    // a 401 names the path too (the server may serve several endpoints)
    Fixture fx({"--mode", "modern", "--require-auth", "tok"});
    auto client = make(with_secrets(fx.url("/mcp?api_key=secret-q")));
    auto r = client.list_tools();
    REQUIRE_FALSE(r);
    CHECK(r.error().errc() == mcp::Errc::unauthorized);
    check_no_secret(r.error().what());
    CHECK_MESSAGE(r.error().message.find(fx.url("/mcp")) != std::string::npos, r.error().message);
  }
  {
    // an HTTP status: the same
    Fixture fx({"--mode", "modern", "--status-on", "tools/list:500"});
    auto client = make(with_secrets(fx.url("/mcp?api_key=secret-q")));
    auto r = client.list_tools();
    REQUIRE_FALSE(r);
    CHECK(r.error().errc() == mcp::Errc::http_error);
    check_no_secret(r.error().what());
    CHECK_MESSAGE(r.error().message.find(fx.url("/mcp")) != std::string::npos, r.error().message);
  }
}

// ---------------------------------------------------------------- OAuth discovery

namespace {

// A server that answers GETs with the JSON set for their path (else 404) and POST /token with
// a token (or, with big_token, a 2 MiB reply), and records every request with its
// Authorization header.
class Trap {
 public:
  Trap() {
    port_ = srv_.bind_to_any_port("127.0.0.1");
    REQUIRE(port_ > 0);
    srv_.Get(".*", [this](const httplib::Request& req, httplib::Response& res) {
      std::lock_guard lk(m_);
      seen_.push_back("GET " + req.path + " " + req.get_header_value("Authorization"));
      auto it = json_at.find(req.path);
      if (it == json_at.end()) {
        res.status = 404;
        return;
      }
      res.set_content(it->second.dump(), "application/json");
    });
    srv_.Post(".*", [this](const httplib::Request& req, httplib::Response& res) {
      std::lock_guard lk(m_);
      seen_.push_back("POST " + req.path + " " + req.get_header_value("Authorization"));
      if (big_token) res.set_content("{\"x\":\"" + std::string(2u << 20, 'x') + "\"}", "application/json");
      else res.set_content(R"({"access_token":"t-1","token_type":"Bearer","expires_in":3600})", "application/json");
    });
    thread_ = std::thread([this] { srv_.listen_after_bind(); });
    for (int i = 0; i < 500 && !srv_.is_running(); ++i) std::this_thread::sleep_for(10ms);
  }
  ~Trap() {
    srv_.stop();
    thread_.join();
  }
  std::string base(const std::string& host = "127.0.0.1") const { return "http://" + host + ":" + std::to_string(port_); }
  std::vector<std::string> seen() {
    std::lock_guard lk(m_);
    return seen_;
  }
  void set(const std::string& path, json body) {
    std::lock_guard lk(m_);
    json_at[path] = std::move(body);
  }
  bool big_token = false;  // set before the first request

 private:
  std::map<std::string, json> json_at;
  httplib::Server srv_;
  int port_ = 0;
  std::thread thread_;
  std::mutex m_;
  std::vector<std::string> seen_;
};

// AS metadata for `issuer` with its endpoints under `endpoints` (default: the issuer).
json as_metadata(const std::string& issuer, const std::string& endpoints = "") {
  const std::string e = endpoints.empty() ? issuer : endpoints;
  return json{{"issuer", issuer},
              {"authorization_endpoint", e + "/authorize"},
              {"token_endpoint", e + "/token"},
              {"response_types_supported", {"code"}},
              {"code_challenge_methods_supported", {"S256"}},
              {"token_endpoint_auth_methods_supported", {"client_secret_basic"}}};
}

// The provider's answer to the MCP server's 401, with a confidential client (client
// credentials grant: the secret goes to the token endpoint).
mcp::Result<bool> challenge(const std::string& server_url, const std::string& www_authenticate = "Bearer") {
  mcp::OAuthClientOptions o;
  o.grant = mcp::OAuthGrant::client_credentials;
  o.client_id = "c-1";
  o.client_secret = "secret-cs";
  auto p = mcp::oauth_provider(o);
  mcp::AuthChallengeInfo info;
  info.status = 401;
  info.server_url = server_url;
  info.www_authenticate = www_authenticate;
  return p->on_challenge(info, std::chrono::steady_clock::now() + 10s);
}

}  // namespace

TEST_CASE("http: ServerInfo names the transport: Streamable HTTP, HTTP+SSE by its /sse URL, and HTTP+SSE after a fallback") {
  // (--mode sse: POST /mcp is refused with 405, and GET /mcp and /sse serve the HTTP+SSE stream)
  Fixture modern({"--mode", "modern"});
  auto a = make(with_secrets(modern.url("/mcp")));
  auto ia = a.server_info(a.server_names().front());
  REQUIRE(ia);
  CHECK(ia->transport == "streamable-http");
  CHECK_FALSE(ia->transport_fallback);
  Fixture sse({"--mode", "sse"});
  auto b = make(with_secrets(sse.url("/mcp")));
  auto ib = b.server_info(b.server_names().front());
  REQUIRE(ib);
  CHECK(ib->transport == "sse");
  CHECK(ib->transport_fallback);
  auto c = make(with_secrets(sse.url("/sse")));
  auto ic = c.server_info(c.server_names().front());
  REQUIRE(ic);
  CHECK(ic->transport == "sse");
  CHECK_FALSE(ic->transport_fallback);
}

TEST_CASE("oauth origin: resource_metadata on another origin than the MCP server's is not fetched") {
  Trap mcp_server, other;
  other.set("/prm", json{{"resource", mcp_server.base() + "/mcp"}, {"authorization_servers", {other.base()}}});
  auto r = challenge(mcp_server.base() + "/mcp", "Bearer resource_metadata=\"" + other.base() + "/prm\"");
  REQUIRE_FALSE(r);
  CHECK(r.error().errc() == mcp::Errc::unauthorized);
  CHECK_MESSAGE(r.error().message.find("another origin, " + other.base()) != std::string::npos, r.error().message);
  CHECK(other.seen().empty());
  // On the server's own origin it is fetched.
  mcp_server.set("/prm", json{{"resource", mcp_server.base() + "/mcp"}, {"authorization_servers", {mcp_server.base()}}});
  mcp_server.set("/.well-known/oauth-authorization-server", as_metadata(mcp_server.base()));
  auto ok = challenge(mcp_server.base() + "/mcp", "Bearer resource_metadata=\"" + mcp_server.base() + "/prm\"");
  REQUIRE_MESSAGE(ok, ok.error().what());
  CHECK(*ok);
}

TEST_CASE("oauth origin: an authorization server on an address of another class gets neither requests nor the secret") {
  // 0.0.0.0 reaches this machine, like 127.0.0.1, but is not loopback by name: a server on
  // 127.0.0.1 naming it is naming "an unspecified address", refused (as a private or
  // link-local one would be), and it is plain http besides.
  Trap mcp_server, as;
  const std::string hostile = as.base("0.0.0.0");
  as.set("/.well-known/oauth-authorization-server", as_metadata(hostile));
  SUBCASE("named by the protected resource metadata") {
    mcp_server.set("/.well-known/oauth-protected-resource/mcp", json{{"resource", mcp_server.base() + "/mcp"}, {"authorization_servers", {hostile}}});
  }
  SUBCASE("the token endpoint named by the authorization server metadata") {
    mcp_server.set("/.well-known/oauth-protected-resource/mcp", json{{"resource", mcp_server.base() + "/mcp"}, {"authorization_servers", {mcp_server.base()}}});
    mcp_server.set("/.well-known/oauth-authorization-server", as_metadata(mcp_server.base(), hostile));
  }
  auto r = challenge(mcp_server.base() + "/mcp");
  REQUIRE_FALSE(r);
  CHECK(r.error().errc() == mcp::Errc::unauthorized);
  // Refused as plain http first; check_endpoint's own test covers the class rule for https.
  CHECK_MESSAGE(r.error().message.find(hostile + " is not https") != std::string::npos, r.error().message);
  check_no_secret(r.error().what());
  CHECK(as.seen().empty());
}

TEST_CASE("oauth origin: an endpoint's name is judged by the addresses it resolves to, when connecting") {
  // check_endpoint classifies literals only; a name (say, one a hostile server registered to
  // point at 169.254.169.254) is judged on the address the connection would use.
  using HC = mcp::detail::oauth::HostClass;
  namespace oauth = mcp::detail::oauth;
  auto v4 = [](const char* text) {
    sockaddr_in a{};
    a.sin_family = AF_INET;
    REQUIRE(::inet_pton(AF_INET, text, &a.sin_addr) == 1);
    return a;
  };
  auto v6 = [](const char* text) {
    sockaddr_in6 a{};
    a.sin6_family = AF_INET6;
    REQUIRE(::inet_pton(AF_INET6, text, &a.sin6_addr) == 1);
    return a;
  };
  auto as_sa = [](const auto& a) -> const sockaddr& { return reinterpret_cast<const sockaddr&>(a); };
  const auto metadata = v4("169.254.169.254"), ten = v4("10.0.0.7"), lo = v4("127.0.0.1"), pub = v4("8.8.8.8");
  const auto lo6 = v6("::1"), ll6 = v6("fe80::1"), mapped = v6("::ffff:169.254.1.1");
  CHECK(oauth::address_class(as_sa(metadata)) == HC::link_local);
  CHECK(oauth::address_class(as_sa(ten)) == HC::private_net);
  CHECK(oauth::address_class(as_sa(lo6)) == HC::loopback);
  CHECK(oauth::address_class(as_sa(ll6)) == HC::link_local);
  CHECK(oauth::address_class(as_sa(mapped)) == HC::link_local);
  CHECK(oauth::address_class(as_sa(pub)) == HC::public_host);
  const std::vector<HC> public_server{HC::public_host}, loopback_server{HC::loopback};
  CHECK(oauth::refuse_address(as_sa(pub), public_server).empty());
  CHECK(oauth::refuse_address(as_sa(metadata), public_server).find("link-local") != std::string::npos);
  CHECK(oauth::refuse_address(as_sa(ten), public_server).find("private-network") != std::string::npos);
  CHECK_FALSE(oauth::refuse_address(as_sa(lo), public_server).empty());
  CHECK(oauth::refuse_address(as_sa(lo), loopback_server).empty());
  CHECK_FALSE(oauth::refuse_address(as_sa(metadata), loopback_server).empty());
  CHECK(oauth::host_classes("localhost") == loopback_server);
  CHECK(oauth::host_classes("[::1]") == loopback_server);
  CHECK(oauth::host_classes("10.1.2.3") == std::vector<HC>{HC::private_net});
  CHECK(oauth::host_classes("no-such-host.invalid").empty());
  // The check runs on the address the connection uses: "localhost" is refused when only
  // public addresses may be reached, and nothing reaches the server.
  std::atomic<int> requests{0};
  httplib::Server srv;
  srv.Get("/.well-known/oauth-authorization-server", [&](const httplib::Request&, httplib::Response& res) {
    ++requests;
    res.set_content("{}", "application/json");
  });
  const int port = srv.bind_to_any_port("127.0.0.1");
  std::thread t([&] { srv.listen_after_bind(); });
  namespace http1 = mcp::detail::http1;
  http1::Connection conn("localhost", port, std::chrono::seconds(3));
  conn.set_address_check([&](const sockaddr& a) { return oauth::refuse_address(a, public_server); });
  const std::string head = "GET /.well-known/oauth-authorization-server HTTP/1.1\r\nHost: " + conn.host_header() + "\r\n\r\n";
  auto out = conn.exchange(head, {}, false, std::chrono::seconds(3), [](const http1::Head&) { return true; },
                           [](const char*, std::size_t) { return true; });
  CHECK(out.failure == http1::Failure::refused);
  CHECK(http1::describe(out).find("resolves to a loopback address") != std::string::npos);
  // Allowed when the MCP server is itself on loopback.
  http1::Connection ok("localhost", port, std::chrono::seconds(3));
  ok.set_address_check([&](const sockaddr& a) { return oauth::refuse_address(a, loopback_server); });
  int status = 0;
  auto out2 = ok.exchange(head, {}, false, std::chrono::seconds(3), [&](const http1::Head& h) { status = h.status; return true; },
                          [](const char*, std::size_t) { return true; });
  CHECK(out2.ok());
  CHECK(status == 200);
  srv.stop();
  t.join();
  CHECK(requests == 1);
}

TEST_CASE("oauth origin: which endpoints the client sends credentials to") {
  using mcp::detail::oauth::check_endpoint;
  using mcp::detail::oauth::host_class;
  using HC = mcp::detail::oauth::HostClass;
  CHECK(host_class("169.254.169.254") == HC::link_local);
  CHECK(host_class("2852039166") == HC::link_local);  // 169.254.169.254 as getaddrinfo reads it
  CHECK(host_class("0xA9FEA9FE") == HC::link_local);
  CHECK(host_class("[fe80::1]") == HC::link_local);
  CHECK(host_class("[::ffff:169.254.1.1]") == HC::link_local);
  CHECK(host_class("10.1.2.3") == HC::private_net);
  CHECK(host_class("172.16.0.1") == HC::private_net);
  CHECK(host_class("172.31.255.1") == HC::private_net);
  CHECK(host_class("172.32.0.1") == HC::public_host);
  CHECK(host_class("192.168.1.1") == HC::private_net);
  CHECK(host_class("[fd00::1]") == HC::private_net);
  CHECK(host_class("0.0.0.0") == HC::unspecified);
  CHECK(host_class("[::]") == HC::unspecified);
  CHECK(host_class("127.0.0.2") == HC::loopback);
  CHECK(host_class("[::1]") == HC::loopback);
  CHECK(host_class("LocalHost") == HC::loopback);
  CHECK(host_class("as.example.com") == HC::public_host);
  CHECK(host_class("8.8.8.8") == HC::public_host);
  const std::string server = "https://mcp.example.com/mcp";
  CHECK(check_endpoint("https://as.example.com/token", server, "t"));
  CHECK_FALSE(check_endpoint("http://as.example.com/token", server, "t"));  // plain http
  CHECK(check_endpoint("http://localhost:9000/token", "http://localhost:8000/mcp", "t"));  // development
  CHECK(check_endpoint("http://127.0.0.1:9000/token", "http://localhost:8000/mcp", "t"));
  CHECK_FALSE(check_endpoint("http://127.0.0.1:9000/token", server, "t"));  // loopback, server is not
  for (std::string bad : {"https://169.254.169.254/", "https://10.0.0.1/", "https://192.168.0.1/", "https://[fe80::1]/",
                          "https://[fc00::1]/", "https://0.0.0.0/", "https://2852039166/"}) {
    CAPTURE(bad);
    auto r = check_endpoint(bad + "token?k=secret", server, "the token endpoint");
    REQUIRE_FALSE(r);
    check_no_secret(r.error().message);
  }
  CHECK(check_endpoint("https://10.0.0.2/token", "https://10.0.0.1/mcp", "t"));  // the server is private too
  CHECK(check_endpoint("https://[fe80::2]/token", "http://[fe80::1]:8/mcp", "t"));
  CHECK_FALSE(check_endpoint("https://169.254.169.254/token", "https://10.0.0.1/mcp", "t"));
}

TEST_CASE("oauth origin: a token endpoint reply over 1 MiB is reported as too large") {
  Trap s;
  s.big_token = true;
  s.set("/.well-known/oauth-protected-resource/mcp", json{{"resource", s.base() + "/mcp"}, {"authorization_servers", {s.base()}}});
  s.set("/.well-known/oauth-authorization-server", as_metadata(s.base()));
  auto r = challenge(s.base() + "/mcp");
  REQUIRE_FALSE(r);
  CHECK_MESSAGE(r.error().errc() == mcp::Errc::message_too_large, r.error().what());
  CHECK_MESSAGE(r.error().message.find("exceeded 1 MiB") != std::string::npos, r.error().message);
}
