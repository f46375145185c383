// Hostile servers and credentials leaving their origin (issue 14): redirects to another origin,
// HTTP+SSE endpoints on another origin, request targets with control characters, secrets in
// error text. Two fixtures on two ports of 127.0.0.1 are two origins.
#include "../../lib/http_transport.hpp"
#include "http_fixture.hpp"

#include <doctest/doctest.h>

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

TEST_CASE("http origin: request targets hold only what RFC 3986 allows") {
  using mcp::detail::parse_url;
  using mcp::detail::resolve_url;
  auto base = parse_url("http://127.0.0.1:8080/a/sse");
  REQUIRE(base);
  CHECK(resolve_url(*base, "/m?s=1%20x&k=a:b@c")->target == "/m?s=1%20x&k=a:b@c");
  CHECK(resolve_url(*base, "/m#frag")->target == "/m");
  for (std::string bad : std::vector<std::string>{"/m\n/x", "/m\r\nX: 1", "/m x", "/m\t", std::string("/m\0x", 4), "/m%zz", "/m%4", "/m<x>",
                          "/m\"", "/m{}", "/m|", "/m\\x", "/m^", "/m`", "/\xc3\xa9", "/m\x7f"}) {
    CAPTURE(bad);
    CHECK_FALSE(resolve_url(*base, bad));
    CHECK_FALSE(parse_url("http://127.0.0.1:8080" + bad));
  }
  CHECK(parse_url("HTTP://LocalHost:8080/x")->origin() == "http://localhost:8080");
}

TEST_CASE("http origin: a configured URL with a space, CR/LF or a character RFC 3986 forbids is invalid_config; nothing is sent") {
  Fixture fx({"--mode", "modern"});
  for (const std::string path : {"/mcp x", "/mcp\r\nX-Injected: 1", "/mcp<x>", "/m\xc3\xa9"}) {
    CAPTURE(path);
    auto client = make(with_secrets(fx.url(path)));
    auto r = client.list_tools();
    REQUIRE_FALSE(r);
    CHECK(r.error().errc() == mcp::Errc::invalid_config);
    CHECK(r.error().message.find("X-Injected") == std::string::npos);
  }
  CHECK(fx.requests().empty());
}

TEST_CASE("http origin: error text shows origin and path, never userinfo or the query") {
  {
    // userinfo: refused, not echoed, and the message says what is wrong
    auto client = make(with_secrets("http://user:secret-pw@127.0.0.1:1/mcp"));
    auto r = client.list_tools();
    REQUIRE_FALSE(r);
    CHECK(r.error().errc() == mcp::Errc::invalid_config);
    check_no_secret(r.error().what());
    CHECK_MESSAGE(r.error().message.find("user name or password") != std::string::npos, r.error().message);
  }
  {
    auto client = make(with_secrets("ftp://127.0.0.1:1/mcp"));
    auto r = client.list_tools();
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
