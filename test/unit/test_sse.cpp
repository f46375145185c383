// SPDX-License-Identifier: MIT
#include "../../lib/protocol/sse.hpp"  // private header: lib/ is not on the public include path

#include <doctest/doctest.h>

#include <chrono>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

using mcp::detail::SseEvent;
using mcp::detail::SseParser;
using namespace std::chrono_literals;

namespace {

/// Everything observable about one parse, so split and one-shot runs compare in one check.
struct Outcome {
  std::vector<SseEvent> events;
  std::string last_event_id;
  std::optional<std::chrono::milliseconds> retry;
  bool failed = false;
  bool operator==(const Outcome&) const = default;
};

Outcome parse_chunks(const std::vector<std::string_view>& chunks, std::size_t max = 64u << 20) {
  SseParser p(max);
  Outcome out;
  for (auto c : chunks) p.feed(c, [&](SseEvent&& e) { out.events.push_back(std::move(e)); });
  p.finish();
  out.last_event_id = p.last_event_id();
  out.retry = p.retry();
  out.failed = p.failed();
  return out;
}

Outcome parse(std::string_view s, std::size_t max = 64u << 20) {
  return parse_chunks({s}, max);
}

Outcome parse_bytewise(std::string_view s) {
  std::vector<std::string_view> chunks;
  for (std::size_t i = 0; i < s.size(); ++i) chunks.push_back(s.substr(i, 1));
  return parse_chunks(chunks);
}

SseEvent ev(std::string event, std::string data, std::string id = "", bool has_id = false) {
  return SseEvent{std::move(event), std::move(data), std::move(id), has_id};
}

}  // namespace

TEST_CASE("sse: a single event") {
  auto out = parse("data: hello\n\n");
  REQUIRE(out.events.size() == 1);
  CHECK(out.events[0] == ev("message", "hello"));
  CHECK_FALSE(out.failed);
  CHECK(out.last_event_id.empty());
  CHECK_FALSE(out.retry);
}

TEST_CASE("sse: multi-line data is joined by LF without a trailing LF") {
  auto out = parse("data: line one\ndata: line two\ndata:\ndata: last\n\n");
  REQUIRE(out.events.size() == 1);
  CHECK(out.events[0].data == "line one\nline two\n\nlast");
  // A lone empty data line is still an event, with empty data.
  out = parse("data\n\n");
  REQUIRE(out.events.size() == 1);
  CHECK(out.events[0].data == "");
}

TEST_CASE("sse: event names, reset after each event, empty name means message") {
  auto out = parse("event: endpoint\ndata: /messages?s=1\n\ndata: x\n\nevent:\ndata: y\n\n");
  REQUIRE(out.events.size() == 3);
  CHECK(out.events[0] == ev("endpoint", "/messages?s=1"));
  CHECK(out.events[1] == ev("message", "x"));
  CHECK(out.events[2] == ev("message", "y"));
  // The last event field before the blank line wins.
  out = parse("event: a\nevent: b\ndata: z\n\n");
  REQUIRE(out.events.size() == 1);
  CHECK(out.events[0].event == "b");
}

TEST_CASE("sse: id persists across events; an id with NUL is ignored") {
  auto out = parse("id: 1\ndata: a\n\ndata: b\n\nid: 2\ndata: c\n\nid\ndata: d\n\n");
  REQUIRE(out.events.size() == 4);
  CHECK(out.events[0] == ev("message", "a", "1", true));
  CHECK(out.events[1] == ev("message", "b", "1", false));
  CHECK(out.events[2] == ev("message", "c", "2", true));
  // A bare `id` resets the ID to empty.
  CHECK(out.events[3] == ev("message", "d", "", true));
  CHECK(out.last_event_id == "");

  using namespace std::string_literals;
  out = parse("id: good\ndata: a\n\nid: b\0d\ndata: b\n\n"s);
  REQUIRE(out.events.size() == 2);
  CHECK(out.events[1] == ev("message", "b", "good", false));
  CHECK(out.last_event_id == "good");
}

TEST_CASE("sse: retry accepts only ASCII digits and guards overflow") {
  CHECK(parse("retry: 1500\n\n").retry == 1500ms);
  CHECK(parse("retry:0\n").retry == 0ms);
  CHECK(parse("retry: 000042\n").retry == 42ms);
  CHECK_FALSE(parse("retry: 15s\n").retry);
  CHECK_FALSE(parse("retry: -5\n").retry);
  CHECK_FALSE(parse("retry: 1.5\n").retry);
  CHECK_FALSE(parse("retry:  15\n").retry);  // only one space is stripped
  CHECK_FALSE(parse("retry:\n").retry);
  CHECK_FALSE(parse("retry\n").retry);
  CHECK_FALSE(parse("retry: 99999999999999999999999999\n").retry);
  CHECK(parse("retry: 9223372036854775807\n").retry == std::chrono::milliseconds::max());
  CHECK_FALSE(parse("retry: 9223372036854775808\n").retry);
  // An invalid value leaves the last valid one in place.
  CHECK(parse("retry: 100\nretry: x\nretry: 99999999999999999999\n").retry == 100ms);
  CHECK(parse("retry: 100\nretry: 200\n").retry == 200ms);
}

TEST_CASE("sse: comments and unknown fields are ignored") {
  auto out = parse(": keep-alive\n:\ndata: a\n: in the middle\nfoo: bar\ndata: b\n\n: trailing\n\n");
  REQUIRE(out.events.size() == 1);
  CHECK(out.events[0] == ev("message", "a\nb"));
  // A comment-only block is a blank-line dispatch with no data: nothing is delivered.
  CHECK(parse(": ping\n\n: ping\n\n").events.empty());
}

TEST_CASE("sse: a field without colon has an empty value") {
  auto out = parse("data\ndata\n\n");
  REQUIRE(out.events.size() == 1);
  CHECK(out.events[0].data == "\n");
  out = parse("event\ndata: x\n\n");
  REQUIRE(out.events.size() == 1);
  CHECK(out.events[0].event == "message");
  // Field names are case-sensitive and exact.
  CHECK(parse("Data: x\n\n").events.empty());
  CHECK(parse("data : x\n\n").events.empty());
}

TEST_CASE("sse: data with and without the space after the colon") {
  auto out = parse("data:x\n\ndata: x\n\ndata:  x\n\ndata:x: y\n\ndata: \n\n");
  REQUIRE(out.events.size() == 5);
  CHECK(out.events[0].data == "x");
  CHECK(out.events[1].data == "x");
  CHECK(out.events[2].data == " x");
  CHECK(out.events[3].data == "x: y");
  CHECK(out.events[4].data == "");
}

TEST_CASE("sse: CR, LF and CRLF line endings") {
  const std::vector<SseEvent> expected{ev("a", "1\n2"), ev("message", "3")};
  CHECK(parse("event: a\ndata: 1\ndata: 2\n\ndata: 3\n\n").events == expected);
  CHECK(parse("event: a\rdata: 1\rdata: 2\r\rdata: 3\r\r").events == expected);
  CHECK(parse("event: a\r\ndata: 1\r\ndata: 2\r\n\r\ndata: 3\r\n\r\n").events == expected);
  // Mixed in one stream.
  CHECK(parse("event: a\r\ndata: 1\rdata: 2\n\r\ndata: 3\r\n\n").events == expected);
  // LF CR is two line endings (the second ends a blank line), CR LF is one.
  CHECK(parse("data: x\n\r").events.size() == 1);
  CHECK(parse("data: x\r\n").events.empty());
}

TEST_CASE("sse: CRLF split across feeds is one line ending") {
  Outcome a = parse_chunks({"data: a\r", "\ndata: b\r", "\n\r", "\n"});
  REQUIRE(a.events.size() == 1);
  CHECK(a.events[0].data == "a\nb");
  // Empty chunks between CR and LF do not break the pairing.
  Outcome b = parse_chunks({"data: a\r", "", "", "\n", "\r", "", "\n"});
  REQUIRE(b.events.size() == 1);
  CHECK(b.events[0].data == "a");
  // A CR at the end of a chunk followed by anything else ends the line on its own.
  Outcome c = parse_chunks({"data: a\r", "\r"});
  REQUIRE(c.events.size() == 1);
  CHECK(c.events[0].data == "a");
  // A lone CR at the end of the stream is a complete line ending.
  SseParser p;
  std::vector<SseEvent> got;
  p.feed("data: z\r\r", [&](SseEvent&& e) { got.push_back(std::move(e)); });
  REQUIRE(got.size() == 1);
  CHECK(got[0].data == "z");
}

namespace {

// Exercises every rule at once: BOM, comments, all three line endings, ids (kept, reset,
// NUL), retry (valid, invalid), names, multi-line and empty data, priming event, unknown
// fields, and an unterminated final event that must be dropped.
std::string mixed_stream() {
  using namespace std::string_literals;
  std::string s =
      "\xEF\xBB\xBF"
      ": welcome\r\n"
      "retry: 3000\r\n"
      "id: prime-0\r\n"
      "\r\n"
      "event: endpoint\n"
      "data: /messages?sessionId=abc\n"
      "\n"
      "id: 7\r"
      "data: {\"jsonrpc\":\"2.0\",\"id\":1,\r"
      "data:\"result\":{}}\r"
      "\r"
      "data\r\n"
      "\r\n"
      "id: bad\0id\n"s
      "retry: nope\n"
      "foo: ignored\n"
      "data: after-bad-id\n"
      "\n"
      ":\r"
      "event: custom\r\n"
      "data:  two spaces\n"
      "data:\n"
      "id\n"
      "\r"
      "id: 42\n"
      "retry: 250\n"
      "data: last\n"
      "\n"
      "data: dropped because unterminated";
  return s;
}

}  // namespace

TEST_CASE("sse: every split point of a multi-event stream gives the same result") {
  const std::string s = mixed_stream();
  REQUIRE(s.size() > 250);
  const Outcome whole = parse(s);
  REQUIRE(whole.events.size() == 6);
  CHECK(whole.events[0] == ev("endpoint", "/messages?sessionId=abc", "prime-0", false));
  CHECK(whole.events[1] == ev("message", "{\"jsonrpc\":\"2.0\",\"id\":1,\n\"result\":{}}", "7", true));
  CHECK(whole.events[2] == ev("message", "", "7", false));
  CHECK(whole.events[3] == ev("message", "after-bad-id", "7", false));
  CHECK(whole.events[4] == ev("custom", " two spaces\n", "", true));
  CHECK(whole.events[5] == ev("message", "last", "42", true));
  CHECK(whole.last_event_id == "42");
  CHECK(whole.retry == 250ms);
  CHECK_FALSE(whole.failed);

  CHECK(parse_bytewise(s) == whole);

  std::string_view v(s);
  for (std::size_t i = 0; i <= s.size(); ++i) {
    CAPTURE(i);
    REQUIRE(parse_chunks({v.substr(0, i), v.substr(i)}) == whole);
  }
  // Every pair of split points (three chunks): about 45k parses of 300 bytes.
  for (std::size_t i = 0; i <= s.size(); ++i) {
    for (std::size_t j = i; j <= s.size(); ++j) {
      if (!(parse_chunks({v.substr(0, i), v.substr(i, j - i), v.substr(j)}) == whole)) {
        FAIL("three-way split differs at " << i << ", " << j);
      }
    }
  }
}

TEST_CASE("sse: a UTF-8 BOM is skipped only once and only at the start") {
  const std::vector<SseEvent> plain{ev("message", "x")};
  CHECK(parse("\xEF\xBB\xBF" "data: x\n\n").events == plain);
  // Split anywhere inside the BOM, including empty chunks in between.
  CHECK(parse_chunks({"\xEF", "\xBB", "\xBF" "data: x\n\n"}).events == plain);
  CHECK(parse_chunks({"", "\xEF\xBB", "", "\xBF", "data: x\n\n"}).events == plain);
  CHECK(parse_bytewise("\xEF\xBB\xBF" "data: x\n\n").events == plain);
  // A second BOM is part of the first line: here it makes the field name unknown.
  CHECK(parse("\xEF\xBB\xBF\xEF\xBB\xBF" "data: x\n\n").events.empty());
  CHECK(parse_chunks({"\xEF\xBB\xBF", "\xEF\xBB\xBF" "data: x\n\n"}).events.empty());
  CHECK(parse_chunks({"\xEF\xBB\xBF", "\xEF", "\xBB\xBF" "data: x\n\n"}).events.empty());
  // A BOM later in the stream is kept as data.
  auto out = parse("data: \xEF\xBB\xBF" "a\n\n\xEF\xBB\xBF" "data: b\n\ndata: c\n\n");
  REQUIRE(out.events.size() == 2);
  CHECK(out.events[0].data == "\xEF\xBB\xBF" "a");
  CHECK(out.events[1].data == "c");
  // A partial BOM is ordinary bytes, even split across feeds.
  out = parse_chunks({"\xEF\xBB", "data: x\n\n"});
  CHECK(out.events.empty());  // field name "\xEF\xBB" "data" is unknown
  out = parse_chunks({"\xEF", "\n", "data: y\n\n"});
  REQUIRE(out.events.size() == 1);
  CHECK(out.events[0].data == "y");
}

TEST_CASE("sse: an id-only priming event is not dispatched but its id is recorded") {
  SseParser p;
  std::vector<SseEvent> got;
  auto sink = [&](SseEvent&& e) { got.push_back(std::move(e)); };
  CHECK(p.feed("id: prime-1\n\n", sink));
  CHECK(got.empty());
  CHECK(p.last_event_id() == "prime-1");
  // An event type alone is not dispatched either, and does not leak into the next event.
  CHECK(p.feed("event: ping\nid: prime-2\n\ndata: real\n\n", sink));
  REQUIRE(got.size() == 1);
  CHECK(got[0] == ev("message", "real", "prime-2", false));
}

TEST_CASE("sse: finish() discards an unterminated final event") {
  SseParser p;
  std::vector<SseEvent> got;
  auto sink = [&](SseEvent&& e) { got.push_back(std::move(e)); };
  CHECK(p.feed("data: complete\n\nid: 9\ndata: partial\n", sink));
  REQUIRE(got.size() == 1);
  p.finish();
  CHECK(got.size() == 1);
  // The id of the unfinished event was never committed.
  CHECK(p.last_event_id() == "");
  CHECK_FALSE(p.failed());
  // An unterminated last line is discarded too.
  got.clear();
  SseParser q;
  q.feed("data: a\n\ndata: b", sink);
  q.finish();
  REQUIRE(got.size() == 1);
  CHECK(got[0].data == "a");
}

TEST_CASE("sse: exceeding max_event_bytes fails the parser for good") {
  std::vector<SseEvent> got;
  auto sink = [&](SseEvent&& e) { got.push_back(std::move(e)); };

  SUBCASE("accumulated data of one event") {
    SseParser p(100);
    std::string line = "data: " + std::string(60, 'a') + "\n";  // 61 bytes of data each
    CHECK(p.feed(line, sink));
    CHECK_FALSE(p.feed(line, sink));
    CHECK(p.failed());
  }
  SUBCASE("exactly at the limit is allowed") {
    SseParser p(100);
    CHECK(p.feed("data: " + std::string(49, 'a') + "\ndata: " + std::string(49, 'b') + "\n\n", sink));
    REQUIRE(got.size() == 1);
    CHECK(got[0].data.size() == 99);  // 100 buffered bytes minus the trailing LF
    CHECK_FALSE(p.failed());
  }
  SUBCASE("a single unterminated line, fed in pieces") {
    SseParser p(100);
    CHECK(p.feed("data: ", sink));
    for (int i = 0; i < 9; ++i) CHECK(p.feed(std::string(10, 'x'), sink));
    CHECK_FALSE(p.feed(std::string(10, 'x'), sink));  // 106 bytes without a line ending
    CHECK(p.failed());
  }
  SUBCASE("a long comment line counts as well") {
    SseParser p(100);
    CHECK_FALSE(p.feed(":" + std::string(200, 'c') + "\n", sink));
    CHECK(p.failed());
  }
  SUBCASE("events before the oversized one are delivered") {
    SseParser p(100);
    CHECK_FALSE(p.feed("data: ok\n\ndata: " + std::string(200, 'x') + "\n\ndata: never\n\n", sink));
    REQUIRE(got.size() == 1);
    CHECK(got[0].data == "ok");
  }
  // Once failed, input is ignored and feed keeps returning false.
  SseParser p(10);
  CHECK_FALSE(p.feed("data: 0123456789\n\n", sink));
  got.clear();
  CHECK_FALSE(p.feed("data: a\n\n", sink));
  CHECK(got.empty());
  CHECK(p.failed());
  p.finish();
  CHECK(p.failed());
  // reset() starts a new stream, which may succeed.
  p.reset();
  CHECK_FALSE(p.failed());
  CHECK(p.feed("data: a\n\n", sink));
  CHECK(got.size() == 1);
}

TEST_CASE("sse: a 50 MiB event fed in 64 KiB chunks parses in linear time") {
  constexpr std::size_t payload = 50u << 20;
  constexpr std::size_t chunk = 64u << 10;
  // No timing assertion (machines differ); a quadratic parser would take minutes here,
  // a linear one well under a second.
  auto run = [&](const std::string& stream) {
    SseParser p;
    std::vector<SseEvent> got;
    for (std::size_t off = 0; off < stream.size(); off += chunk) {
      REQUIRE(p.feed(std::string_view(stream).substr(off, chunk), [&](SseEvent&& e) { got.push_back(std::move(e)); }));
    }
    p.finish();
    return got;
  };

  SUBCASE("one line") {
    std::string stream = "id: big\ndata: ";
    stream.append(payload, 'x');
    stream.append("\n\ndata: after\n\n");
    auto got = run(stream);
    REQUIRE(got.size() == 2);
    CHECK(got[0].data.size() == payload);
    CHECK(got[0].data.find_first_not_of('x') == std::string::npos);
    CHECK(got[0].id == "big");
    CHECK(got[1].data == "after");
  }
  SUBCASE("many lines") {
    std::string line = "data: " + std::string(1000, 'y') + "\r\n";
    std::string stream;
    const std::size_t lines = payload / 1001;
    stream.reserve(lines * line.size() + 8);
    for (std::size_t i = 0; i < lines; ++i) stream += line;
    stream += "\r\n";
    auto got = run(stream);
    REQUIRE(got.size() == 1);
    CHECK(got[0].data.size() == lines * 1001 - 1);
  }
}

TEST_CASE("sse: reset() keeps last_event_id and retry and clears the rest") {
  SseParser p;
  std::vector<SseEvent> got;
  auto sink = [&](SseEvent&& e) { got.push_back(std::move(e)); };
  CHECK(p.feed("retry: 500\nid: 5\ndata: a\n\nid: 6\nevent: half\ndata: partial\r", sink));
  REQUIRE(got.size() == 1);
  p.reset();
  CHECK(p.last_event_id() == "5");
  CHECK(p.retry() == 500ms);
  // The new stream starts clean: no pending CR (the LF is a blank line of its own, which
  // dispatches nothing), no half event, and a BOM is skipped again.
  CHECK(p.feed("\n\xEF\xBB\xBF" "data: b\n\n", sink));
  REQUIRE(got.size() == 1);  // the BOM is not at the start of this stream, so "data" is unknown
  p.reset();
  CHECK(p.feed("\xEF\xBB\xBF" "data: c\n\n", sink));
  REQUIRE(got.size() == 2);
  CHECK(got[1] == ev("message", "c", "5", false));
}

TEST_CASE("sse: a throwing callback leaves the parser usable") {
  SseParser p;
  std::vector<SseEvent> got;
  bool throw_next = true;
  auto sink = [&](SseEvent&& e) {
    if (std::exchange(throw_next, false)) throw std::runtime_error("consumer failed");
    got.push_back(std::move(e));
  };
  CHECK_THROWS_AS(p.feed("data: a\n\ndata: dropped\n\n", sink), std::runtime_error);
  CHECK(p.feed("data: b\n\n", sink));
  REQUIRE(got.size() == 1);
  CHECK(got[0].data == "b");
  // An empty callback is allowed: events are parsed and dropped, state still advances.
  CHECK(p.feed("id: 3\ndata: c\n\n", {}));
  CHECK(p.last_event_id() == "3");
}
