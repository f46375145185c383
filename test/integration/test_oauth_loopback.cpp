// The RFC 8252 loopback redirect listener: receives the redirect, times out, refuses strays.
#include <mcp/oauth_loopback.hpp>

#include <doctest/doctest.h>
#include <httplib.h>

#include <thread>

using namespace std::chrono_literals;

TEST_CASE("oauth loopback: the redirect is received and returned whole") {
  std::thread browser;
  mcp::LoopbackOptions lo;
  std::string shown;
  lo.open_url = [&](const std::string& url) -> mcp::Result<void> {
    shown = url;
    browser = std::thread([url] {
      // The "browser": the authorization server would redirect here with code and state.
      const auto q = url.find('?');
      httplib::Client c(url.substr(0, url.find('/', 8)));
      auto stray = c.Get("/elsewhere");
      REQUIRE(stray);
      CHECK(stray->status == 404);
      auto r = c.Get(url.substr(url.find('/', 8), q - url.find('/', 8)) + "?code=c%201&state=s1");
      REQUIRE(r);
      CHECK(r->status == 200);
    });
    return {};
  };
  auto loop = mcp::loopback_redirect(lo);
  REQUIRE(loop);
  CHECK(loop->redirect_uri.rfind("http://127.0.0.1:", 0) == 0);
  CHECK(loop->redirect_uri.find("/callback") != std::string::npos);
  auto got = loop->authorize(loop->redirect_uri + "?pretend=authorization-url", {});
  browser.join();
  REQUIRE_MESSAGE(got, (got ? "" : got.error().what()));
  CHECK(*got == loop->redirect_uri + "?code=c%201&state=s1");
  CHECK(shown == loop->redirect_uri + "?pretend=authorization-url");
}

TEST_CASE("oauth loopback: no redirect in time is Errc::timeout; a failing open_url aborts") {
  mcp::LoopbackOptions lo;
  lo.timeout = 300ms;
  lo.open_url = [](const std::string&) -> mcp::Result<void> { return {}; };
  auto loop = mcp::loopback_redirect(lo);
  REQUIRE(loop);
  const auto t0 = std::chrono::steady_clock::now();
  auto got = loop->authorize("http://example.invalid/authorize", {});
  REQUIRE_FALSE(got);
  CHECK(got.error().errc() == mcp::Errc::timeout);
  CHECK(std::chrono::steady_clock::now() - t0 < 3s);

  mcp::LoopbackOptions bad;
  bad.open_url = [](const std::string&) -> mcp::Result<void> {
    return tl::unexpected(mcp::Error::make(mcp::Errc::invalid_config, "no browser"));
  };
  auto loop2 = mcp::loopback_redirect(bad);
  REQUIRE(loop2);
  auto got2 = loop2->authorize("http://example.invalid/authorize", {});
  REQUIRE_FALSE(got2);
  CHECK(got2.error().message == "no browser");
}

TEST_CASE("oauth loopback: a taken port and a bad path are clear errors") {
  auto first = mcp::loopback_redirect();
  REQUIRE(first);
  const int port = std::stoi(first->redirect_uri.substr(std::string("http://127.0.0.1:").size()));
  mcp::LoopbackOptions lo;
  lo.port = port;
  auto second = mcp::loopback_redirect(lo);
  REQUIRE_FALSE(second);
  CHECK(second.error().errc() == mcp::Errc::connection_failed);
  mcp::LoopbackOptions p;
  p.path = "callback";
  auto third = mcp::loopback_redirect(p);
  REQUIRE_FALSE(third);
  CHECK(third.error().errc() == mcp::Errc::invalid_config);
}

TEST_CASE("oauth loopback: a stop request abandons the wait at once") {
  mcp::LoopbackOptions lo;
  lo.open_url = [](const std::string&) -> mcp::Result<void> { return {}; };
  auto loop = mcp::loopback_redirect(lo);  // default timeout: 5 minutes
  REQUIRE(loop);
  std::stop_source stop;
  std::thread t([&] {
    std::this_thread::sleep_for(200ms);
    stop.request_stop();
  });
  const auto t0 = std::chrono::steady_clock::now();
  auto got = loop->authorize("http://example.invalid/authorize", stop.get_token());
  t.join();
  REQUIRE_FALSE(got);
  CHECK(got.error().errc() == mcp::Errc::cancelled);
  CHECK(std::chrono::steady_clock::now() - t0 < 2s);
}
