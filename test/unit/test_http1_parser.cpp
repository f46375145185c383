// The lean HTTP/1.1 client's response parser: framing fed in every split, protocol errors,
// bounds. Pure code; the connection against real sockets is in test/integration/test_http1.cpp.
#include "../../lib/http1.hpp"  // private headers: lib/ is not on the public include path

#include <doctest/doctest.h>

#include <algorithm>
#include <string>
#include <utility>
#include <vector>

namespace h1 = mcp::detail::http1;

namespace {

struct Parsed {
  bool ok = false;
  int heads = 0;
  int status = 0;
  std::string body;
  std::string error;
  bool done = false;
  bool keep_alive = false;
  std::vector<std::pair<std::string, std::string>> fields;
};

// Feeds `text` in pieces of `step` bytes (0: all at once), then the close when `close`.
Parsed parse(const std::string& text, std::size_t step = 0, bool close = false, bool head_request = false) {
  h1::ResponseParser p;
  p.reset(head_request);
  Parsed out;
  auto on_head = [&](const h1::Head& h) {
    ++out.heads;
    out.status = h.status;
    out.fields.clear();
    for (const auto& [k, v] : h.fields) out.fields.emplace_back(k, v);
    return true;
  };
  auto on_data = [&](const char* d, std::size_t n) {
    out.body.append(d, n);
    return true;
  };
  out.ok = true;
  const std::size_t n = step ? step : std::max<std::size_t>(text.size(), 1);
  for (std::size_t i = 0; i < text.size() && out.ok; i += n)
    out.ok = p.feed(text.data() + i, std::min(n, text.size() - i), on_head, on_data);
  if (out.ok && close) out.ok = p.finish();
  out.done = p.done();
  out.keep_alive = p.keep_alive();
  out.error = p.error();
  return out;
}

// Every split of `text` gives the same result as feeding it whole.
void check_all_splits(const std::string& text, const Parsed& expected, bool close = false) {
  for (std::size_t step : {1, 2, 3, 5, 7, 16}) {
    CAPTURE(step);
    auto got = parse(text, step, close);
    CHECK(got.ok == expected.ok);
    CHECK(got.done == expected.done);
    CHECK(got.status == expected.status);
    CHECK(got.body == expected.body);
    CHECK(got.heads == expected.heads);
    CHECK(got.keep_alive == expected.keep_alive);
  }
}

}  // namespace

TEST_CASE("http1 parser: Content-Length, chunked, close-delimited and bodiless responses, in any split") {
  {
    const std::string r =
        "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 13\r\nMcp-Session-Id: abc\r\n\r\n{\"a\":\"hello\"}";
    auto p = parse(r);
    REQUIRE(p.ok);
    CHECK(p.done);
    CHECK(p.status == 200);
    CHECK(p.body == "{\"a\":\"hello\"}");
    CHECK(p.keep_alive);
    REQUIRE(p.fields.size() == 3);
    CHECK(p.fields[2].first == "Mcp-Session-Id");
    CHECK(p.fields[2].second == "abc");
    check_all_splits(r, p);
  }
  {
    // Chunk extensions, upper-case hex, trailers, and bare LF line ends.
    const std::string r =
        "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nContent-Type: text/event-stream\r\n\r\n"
        "5;ext=1\r\nhello\r\nA\r\n, world!!!\r\n1\nx\n0\r\nX-Trailer: t\r\n\r\n";
    auto p = parse(r);
    REQUIRE(p.ok);
    CHECK(p.done);
    CHECK(p.body == "hello, world!!!x");
    CHECK(p.keep_alive);
    check_all_splits(r, p);
  }
  {
    // No length: the body runs to the close, and the connection is not reused.
    const std::string r = "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n\r\n{\"x\":1}";
    auto p = parse(r, 0, true);
    REQUIRE(p.ok);
    CHECK(p.done);
    CHECK(p.body == "{\"x\":1}");
    CHECK_FALSE(p.keep_alive);
    check_all_splits(r, p, true);
    auto open = parse(r);  // not yet closed: not done
    CHECK(open.ok);
    CHECK_FALSE(open.done);
  }
  {
    // 1xx responses are skipped; 204 has no body even with a length; HEAD neither.
    const std::string r = "HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 103 Early Hints\r\nLink: </a>\r\n\r\n"
                          "HTTP/1.1 202 Accepted\r\nContent-Length: 0\r\n\r\n";
    auto p = parse(r);
    REQUIRE(p.ok);
    CHECK(p.done);
    CHECK(p.heads == 1);
    CHECK(p.status == 202);
    check_all_splits(r, p);
    auto nc = parse("HTTP/1.1 204 No Content\r\nContent-Length: 10\r\n\r\n");
    CHECK(nc.ok);
    CHECK(nc.done);
    CHECK(nc.body.empty());
    auto head = parse("HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\n", 0, false, true);
    CHECK(head.done);
  }
  {
    // Transfer-Encoding wins over Content-Length; a non-chunked final coding runs to the close.
    auto both = parse("HTTP/1.1 200 OK\r\nContent-Length: 100\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n");
    CHECK(both.ok);
    CHECK(both.done);
    CHECK(both.body == "abc");
    auto gz = parse("HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip\r\n\r\nzzz", 0, true);
    CHECK(gz.ok);
    CHECK(gz.body == "zzz");
    CHECK_FALSE(gz.keep_alive);
  }
  {
    // Keep-alive: "Connection: close" and HTTP/1.0 end it; identical repeated lengths are fine.
    CHECK_FALSE(parse("HTTP/1.1 200 OK\r\nConnection: keep-alive, Close\r\nContent-Length: 0\r\n\r\n").keep_alive);
    CHECK_FALSE(parse("HTTP/1.0 200 OK\r\nContent-Length: 0\r\n\r\n").keep_alive);
    CHECK(parse("HTTP/1.0 200 OK\r\nConnection: keep-alive\r\nContent-Length: 0\r\n\r\n").keep_alive);
    auto same = parse("HTTP/1.1 200 OK\r\nContent-Length: 2\r\nContent-Length: 2, 2\r\n\r\nok");
    CHECK(same.ok);
    CHECK(same.body == "ok");
    // Bytes after a complete response: the response stands, the connection is not reused.
    auto extra = parse("HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nokJUNK");
    CHECK(extra.ok);
    CHECK(extra.body == "ok");
    CHECK_FALSE(extra.keep_alive);
  }
}

TEST_CASE("http1 parser: malformed responses are protocol errors, never crashes or hangs") {
  const std::vector<std::string> bad = {
      "HTTP/2 200 OK\r\n\r\n",
      "HTTP/1.1 20 OK\r\n\r\n",
      "HTTP/1.1 2x0 OK\r\n\r\n",
      "HTTP/1.1 200OK\r\n\r\n",
      "ICY 200 OK\r\n\r\n",
      "HTTP/1.1 200 OK\r\nFolded: a\r\n b\r\n\r\n",
      "HTTP/1.1 200 OK\r\nNo colon here\r\n\r\n",
      "HTTP/1.1 200 OK\r\n: empty name\r\n\r\n",
      "HTTP/1.1 200 OK\r\nBad Name: x\r\n\r\n",
      "HTTP/1.1 200 OK\r\nContent-Length: 2\r\nContent-Length: 3\r\n\r\nabc",
      "HTTP/1.1 200 OK\r\nContent-Length: -1\r\n\r\n",
      "HTTP/1.1 200 OK\r\nContent-Length: 99999999999999999999\r\n\r\n",
      "HTTP/1.1 200 OK\r\nContent-Length:\r\n\r\n",
      "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n",
      "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n\r\n",
      "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabcX\r\n",
      "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nffffffffffffffffff\r\n",
      "HTTP/1.1 101 Switching Protocols\r\n\r\n",
  };
  for (const auto& r : bad) {
    CAPTURE(r);
    for (std::size_t step : {0, 1, 4}) {
      auto p = parse(r, step);
      CHECK_FALSE(p.ok);
      CHECK_FALSE(p.error.empty());
      CHECK_FALSE(p.keep_alive);
    }
  }
  // Unbounded input is bounded: a head that never ends, endless 1xx, an endless chunk line.
  CHECK_FALSE(parse("HTTP/1.1 200 OK\r\n" + std::string(70000, 'x')).ok);
  std::string many;
  for (int i = 0; i < 40; ++i) many += "HTTP/1.1 100 Continue\r\n\r\n";
  CHECK_FALSE(parse(many).ok);
  CHECK_FALSE(parse("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n1" + std::string(5000, ';')).ok);
  std::string trailers = "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n";
  for (int i = 0; i < 2000; ++i) trailers += "X-T: " + std::string(40, 'y') + "\r\n";
  CHECK_FALSE(parse(trailers).ok);
  // The close before the end of a response is an error; before any byte, too.
  CHECK_FALSE(parse("HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabc", 0, true).ok);
  CHECK_FALSE(parse("", 0, true).ok);
  // A callback that stops ends the feed, with no error.
  h1::ResponseParser p;
  p.reset();
  CHECK_FALSE(p.feed("HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\nabc", 40, [](const h1::Head&) { return false; }, nullptr));
  CHECK(p.stopped());
}

TEST_CASE("http1 parser: a head of more than 100 fields is a protocol error") {
  std::string ok = "HTTP/1.1 200 OK\r\n";
  for (int i = 0; i < 99; ++i) ok += "X-A: a\r\n";
  auto p = parse(ok + "Content-Length: 0\r\n\r\n");
  CHECK(p.ok);
  CHECK(p.fields.size() == 100);
  auto bad = parse(ok + "X-B: b\r\nContent-Length: 0\r\n\r\n");
  CHECK_FALSE(bad.ok);
  CHECK(bad.error.find("100 header fields") != std::string::npos);
}
