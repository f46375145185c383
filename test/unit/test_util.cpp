// SPDX-License-Identifier: MIT
// lib/util: the one URL grammar, base64, ASCII helpers, lenient JSON getters and the backoff.
#include "../../lib/util/ascii.hpp"  // private headers: lib/ is not on the public include path
#include "../../lib/util/backoff.hpp"
#include "../../lib/util/base64.hpp"
#include "../../lib/util/json_get.hpp"
#include "../../lib/util/url.hpp"

#include <doctest/doctest.h>

#include <chrono>
#include <string>

using namespace mcp::detail;
using nlohmann::json;

TEST_CASE("util url: RFC 3986 5.4 reference resolution, dot segments removed") {
  const std::string base = "http://a/b/c/d;p?q";
  const std::pair<const char*, const char*> cases[] = {
      {"g:h", "g:h"},           {"g", "http://a/b/c/g"},         {"./g", "http://a/b/c/g"},
      {"g/", "http://a/b/c/g/"}, {"/g", "http://a/g"},           {"//g", "http://g"},
      {"?y", "http://a/b/c/d;p?y"}, {"g?y", "http://a/b/c/g?y"}, {"#s", "http://a/b/c/d;p?q#s"},
      {"", "http://a/b/c/d;p?q"}, {".", "http://a/b/c/"},        {"..", "http://a/b/"},
      {"../g", "http://a/b/g"},  {"../../g", "http://a/g"},      {"../../../g", "http://a/g"},
      {"/./g", "http://a/g"},    {"g/../h", "http://a/b/c/h"},   {"g;x=1/../y", "http://a/b/c/y"},
  };
  for (const auto& [ref, want] : cases) {
    CAPTURE(ref);
    CHECK(resolve_uri(base, ref) == want);
  }
  CHECK(remove_dot_segments("/a/b/c/./../../g") == "/a/g");
  CHECK(remove_dot_segments("mid/content=5/../6") == "mid/6");
  const Uri u = parse_uri("HTTPS://user@h:8/p?q#f");
  CHECK(u.scheme == "https");
  CHECK(u.authority == "user@h:8");
  CHECK(u.path == "/p");
  CHECK(u.query == "q");
  CHECK(u.fragment == "f");
  CHECK(to_string(u) == "https://user@h:8/p?q#f");
}

TEST_CASE("util url: split_url gives the parts of an absolute http(s) URL and refuses the rest") {
  auto p = split_url("HTTP://u:pw@[::1]:8080/a/b?x=1#frag");
  REQUIRE(p);
  CHECK(p->scheme == "http");
  CHECK(p->userinfo == "u:pw");
  CHECK(p->host == "[::1]");
  CHECK(p->port == "8080");
  CHECK(p->path == "/a/b");
  CHECK(p->has_query);
  CHECK(p->query == "x=1");
  CHECK(p->has_fragment);
  CHECK(p->fragment == "frag");
  CHECK(origin_of(*p) == "http://[::1]:8080");
  auto q = split_url("https://Example.COM:443");
  REQUIRE(q);
  CHECK(q->path.empty());
  CHECK_FALSE(q->has_query);
  CHECK(origin_of(*q) == "https://example.com");
  for (const char* bad : {"ftp://x/", "mailto:a@b", "//host/x", "http:/x", "http://", "http://[::1/x", "http://h:12ab/",
                          "http://h:123456/", "http://h/a b", "http://h/\x01"}) {
    CAPTURE(bad);
    auto r = split_url(bad);
    REQUIRE_FALSE(r);
    CHECK(r.error().errc() == mcp::Errc::invalid_config);
    CHECK(r.error().message.find(bad) == std::string::npos);
  }
}

TEST_CASE("util url: request URLs are sent with dot segments removed, relative references resolved by RFC 3986") {
  auto u = parse_url("http://Host:8080/a/./b/../c/?k=v#x");
  REQUIRE(u);
  CHECK(u->host == "host");
  CHECK(u->target == "/a/c/?k=v");
  CHECK(u->shown() == "http://host:8080/a/c/");
  CHECK(parse_url("http://h/..")->target == "/");
  CHECK(parse_url("http://h")->target == "/");
  auto base = parse_url("http://h:1/a/b/sse?s=1");
  REQUIRE(base);
  CHECK(resolve_url(*base, "../x")->str() == "http://h:1/a/x");
  CHECK(resolve_url(*base, "./m?y=2")->str() == "http://h:1/a/b/m?y=2");
  CHECK(resolve_url(*base, "")->str() == "http://h:1/a/b/sse?s=1");
  CHECK(resolve_url(*base, "//other:2/p/../q")->str() == "http://other:2/q");
  CHECK(resolve_url(*base, "https://o/x/./y#f")->str() == "https://o:443/x/y");
  auto bad = resolve_url(*base, "/m x");
  REQUIRE_FALSE(bad);
  CHECK(bad.error().errc() == mcp::Errc::invalid_message);
  CHECK(target_ok("/a%20b?c=d&e=f:g@h"));
  CHECK_FALSE(target_ok("a"));
  CHECK_FALSE(target_ok("/%2"));
  CHECK_FALSE(target_ok("/a#b"));
}

TEST_CASE("util base64: strict base64url for JWS parts, lenient decoding for what servers send") {
  CHECK(base64_encode("") == "");
  CHECK(base64_encode("f") == "Zg==");
  CHECK(base64_encode("fo") == "Zm8=");
  CHECK(base64_encode("\xfb\xff") == "+/8=");
  CHECK(base64url_encode("\xfb\xff") == "-_8");
  CHECK(base64url_decode("-_8").value() == "\xfb\xff");
  CHECK_FALSE(base64url_decode("+/8="));  // standard alphabet: not base64url
  CHECK_FALSE(base64url_decode("Zh"));    // non-canonical trailing bits
  CHECK_FALSE(base64url_decode("Zm9vY"));
  CHECK(base64_decode_lenient("+/8=").value() == "\xfb\xff");
  CHECK(base64_decode_lenient("-_8").value() == "\xfb\xff");
  CHECK(base64_decode_lenient("Zm9v\r\nYmFy").value() == "foobar");
  CHECK(base64_decode_lenient("Zh").value() == "f");  // trailing bits ignored
  CHECK_FALSE(base64_decode_lenient("Zg==Zg"));       // data after padding
  CHECK_FALSE(base64_decode_lenient("Zg==="));        // more than two '='
  CHECK_FALSE(base64_decode_lenient("Zm9v!"));
  for (std::string s : {std::string(), std::string("a"), std::string("\0\x01\xfe\xff", 4), std::string(100, 'z')}) {
    CHECK(base64url_decode(base64url_encode(s)).value() == s);
    CHECK(base64_decode_lenient(base64_encode(s)).value() == s);
  }
}

TEST_CASE("util ascii: locale-independent case folding, tokens and hex digits") {
  CHECK(iequals("Content-Length", "content-LENGTH"));
  CHECK_FALSE(iequals("Content-Length", "Content-Lengt"));
  CHECK_FALSE(iequals("\xc3\x89", "\xc3\xa9"));  // only ASCII folds
  CHECK(to_lower("MiXeD-09\xc3\x89") == "mixed-09\xc3\x89");
  CHECK(is_tchar('!'));
  CHECK(is_tchar('~'));
  CHECK_FALSE(is_tchar(' '));
  CHECK_FALSE(is_tchar(':'));
  CHECK_FALSE(is_tchar('\xe9'));
  CHECK(hex_value('0') == 0);
  CHECK(hex_value('f') == 15);
  CHECK(hex_value('F') == 15);
  CHECK(hex_value('g') == -1);
  CHECK(is_alnum('z'));
  CHECK_FALSE(is_alnum('-'));
}

TEST_CASE("util json_get: missing, mistyped and non-object values read as absent, never throw") {
  const json j = {{"s", "text"}, {"n", 7}, {"b", true}, {"o", json::object()}};
  CHECK(str_or(j, "s") == "text");
  CHECK(str_or(j, "n", "dflt") == "dflt");
  CHECK(str_or(j, "missing", "dflt") == "dflt");
  CHECK(str_or(json::array({1, 2}), "s").empty());
  CHECK(str_or(json(), "s").empty());
  CHECK(opt_str(j, "s") == std::optional<std::string>("text"));
  CHECK_FALSE(opt_str(j, "b"));
  CHECK(bool_or(j, "b"));
  CHECK_FALSE(bool_or(j, "s"));
  CHECK(bool_or(j, "missing", true));
  CHECK(member_of(j, "o", json::value_t::object) == &j["o"]);
  CHECK(member_of(j, "o", json::value_t::array) == nullptr);
  CHECK(member_of(json("str"), "o", json::value_t::object) == nullptr);
}

TEST_CASE("util backoff: doubles to the cap, takes the server's retry, starts over after a success") {
  using std::chrono::milliseconds;
  Backoff b(milliseconds(100), milliseconds(350));
  CHECK(b.delay() == milliseconds(100));
  b.grow();
  CHECK(b.delay() == milliseconds(200));
  b.grow();
  CHECK(b.delay() == milliseconds(350));
  b.grow();
  CHECK(b.delay() == milliseconds(350));
  b.set(milliseconds(5000));
  CHECK(b.delay() == milliseconds(350));  // a server's retry is capped too
  b.set(milliseconds(30));
  CHECK(b.delay() == milliseconds(30));
  b.grow();
  CHECK(b.delay() == milliseconds(60));
  b.reset();
  CHECK(b.delay() == milliseconds(100));

  Backoff slow(milliseconds(10000), milliseconds(10000));
  const auto t0 = std::chrono::steady_clock::now();
  CHECK_FALSE(slow.sleep([] { return true; }, milliseconds(5)));  // stopped: returns at once
  CHECK(std::chrono::steady_clock::now() - t0 < milliseconds(1000));
  Backoff quick(milliseconds(20), milliseconds(20));
  const auto t1 = std::chrono::steady_clock::now();
  CHECK(quick.sleep([] { return false; }, milliseconds(5)));
  CHECK(std::chrono::steady_clock::now() - t1 >= milliseconds(20));
}
