// append_json must give exactly what nlohmann's dump(-1, ' ', false, replace) gives.
#include "../../lib/protocol/json_write.hpp"  // private header: lib/ is not on the public include path
#include "../../lib/protocol/json_chars.hpp"

#include <doctest/doctest.h>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <cstdint>
#include <limits>
#include <random>
#include <string>

using nlohmann::json;

namespace {

std::string ours(const json& j) {
  std::string out;
  CHECK(mcp::detail::append_json(out, j));
  return out;
}
std::string theirs(const json& j) { return j.dump(-1, ' ', false, json::error_handler_t::replace); }

// Bytes biased towards what breaks encoders: controls, quotes, UTF-8 leads and continuations.
std::string random_bytes(std::mt19937& rng, std::size_t max_len) {
  static const unsigned char interesting[] = {0x00, 0x01, 0x08, 0x09, 0x0a, 0x0c, 0x0d, 0x1f, 0x20, '"', '\\', '/',
                                              0x7f, 0x80, 0x8f, 0x90, 0x9f, 0xa0, 0xbf, 0xc0, 0xc1, 0xc2, 0xdf,
                                              0xe0, 0xe1, 0xec, 0xed, 0xee, 0xef, 0xf0, 0xf1, 0xf3, 0xf4, 0xf5, 0xff};
  std::string s(rng() % (max_len + 1), '\0');
  for (auto& c : s) {
    const auto r = rng() % 4;
    if (r == 0) c = static_cast<char>(interesting[rng() % sizeof interesting]);
    else if (r == 1) c = static_cast<char>(rng() % 256);
    else c = static_cast<char>('a' + rng() % 26);
  }
  return s;
}

json random_json(std::mt19937& rng, int depth) {
  switch (rng() % (depth > 3 ? 6 : 8)) {
    case 0: return nullptr;
    case 1: return rng() % 2 == 0;
    case 2: return static_cast<std::int64_t>(rng()) - static_cast<std::int64_t>(rng()) * 4096;
    case 3: return static_cast<std::uint64_t>(rng()) << 33;
    case 4: return static_cast<double>(static_cast<int>(rng() % 200000) - 100000) / 64.0;
    case 5: return random_bytes(rng, 24);
    case 6: {
      json a = json::array();
      for (int i = rng() % 5; i > 0; --i) a.push_back(random_json(rng, depth + 1));
      return a;
    }
    default: {
      json o = json::object();
      for (int i = rng() % 5; i > 0; --i) o[random_bytes(rng, 8)] = random_json(rng, depth + 1);
      return o;
    }
  }
}

}  // namespace

TEST_CASE("append_json: the same text as nlohmann's dump, invalid UTF-8 included") {
  const json fixed[] = {
      json::object(), json::array(), "", "plain", "quote\" backslash\\ slash/ \b\f\n\r\t \x01\x1f \x7f",
      "é 中 😀", std::numeric_limits<std::int64_t>::min(), std::numeric_limits<std::uint64_t>::max(), 0, -0.0, 1.0,
      1e300, 0.1, std::numeric_limits<double>::quiet_NaN(), std::numeric_limits<double>::infinity(),
      json{{"jsonrpc", "2.0"}, {"id", 7}, {"method", "tools/call"}, {"params", {{"name", "echo"}, {"arguments", {{"text", "hi"}}}}}},
      json::binary({1, 2, 3}),
      // Invalid UTF-8: lone continuation, overlong lead, surrogate, truncated at the end, bad
      // second and third bytes, above U+10FFFF.
      "a\x80z", "\xc0\xaf", "\xed\xa0\x80", "end\xe2\x82", "\xe2\x28\xa1", "\xe2\x82\x28", "\xf4\x90\x80\x80",
      "\xf0\x9f\x98", "\xff\xfe", "ok\xf0\x9f\x98\x80ok"};
  for (const auto& j : fixed) {
    CAPTURE(theirs(j));
    CHECK(ours(j) == theirs(j));
  }
  std::mt19937 rng(20261121);
  for (int i = 0; i < 3000; ++i) {
    const json j = random_json(rng, 0);
    const auto want = theirs(j);
    const auto got = ours(j);
    if (got != want) {
      CAPTURE(want);
      CAPTURE(got);
      FAIL("append_json differs from dump");
    }
  }
  std::string out = "prefix:";
  CHECK(mcp::detail::append_json(out, json{{"a", 1}}));
  CHECK(out == "prefix:{\"a\":1}");
}

TEST_CASE("plain_run: the first byte a JSON string cannot hold as it is, eight bytes at a time") {
  // The word-at-a-time scan (reader and writer) against the byte-by-byte table it replaces:
  // every byte value at every offset of words, tails and the word boundary.
  const auto byte_by_byte = [](const unsigned char* p, const unsigned char* end) {
    while (p < end && mcp::detail::kJsonPlain.v[*p]) ++p;
    return p;
  };
  for (std::size_t len = 0; len <= 19; ++len) {
    for (std::size_t at = 0; at < std::max<std::size_t>(len, 1); ++at) {
      for (int b = 0; b < 256; ++b) {
        std::string s(len, 'a');
        if (at < len) s[at] = static_cast<char>(b);
        const auto* p = reinterpret_cast<const unsigned char*>(s.data());
        if (mcp::detail::plain_run(p, p + len) != byte_by_byte(p, p + len)) {
          CAPTURE(len);
          CAPTURE(at);
          CAPTURE(b);
          FAIL("plain_run differs");
        }
      }
    }
  }
  // Two specials in one word (a borrow from the first must not hide it or mark a byte before it).
  std::mt19937 rng(20261207);
  const unsigned char pool[] = {0x00, 0x1f, 0x20, 0x21, '"', '\\', 0x7f, 0x80, 0xff, 'a', 0x5b, 0x5d};
  for (int i = 0; i < 200000; ++i) {
    unsigned char w[24];
    for (auto& c : w) c = (rng() % 3 == 0) ? pool[rng() % sizeof pool] : static_cast<unsigned char>('a' + rng() % 26);
    const std::size_t start = rng() % 8, len = rng() % (sizeof w - start + 1);
    if (mcp::detail::plain_run(w + start, w + start + len) != byte_by_byte(w + start, w + start + len)) {
      CAPTURE(i);
      FAIL("plain_run differs on random words");
    }
  }
}

TEST_CASE("append_json: values nested deeper than kMaxJsonWriteDepth are refused, not recursed into") {
  const int max = mcp::detail::kMaxJsonWriteDepth;
  auto deep = [](int levels) { return json::parse(std::string(levels, '[') + std::string(levels, ']')); };
  std::string out;
  CHECK(mcp::detail::append_json(out, deep(max)));
  CHECK(out == std::string(max, '[') + std::string(max, ']'));
  out.clear();
  CHECK_FALSE(mcp::detail::append_json(out, deep(max + 1)));
  out.clear();
  CHECK_FALSE(mcp::detail::append_json(out, json{{"a", deep(100000)}}));  // would overflow the stack
}

TEST_CASE("append_json: keys and strings around the one-append length (48 bytes), plain or escaped") {
  // The writer appends a short plain key or string from a stack buffer, and anything longer or
  // needing an escape piece by piece: both must give dump's text, at every length near the limit.
  for (std::size_t n = 0; n <= 100; ++n) {
    const std::string plain(n, 'k');
    for (const std::string& s : {plain, plain + "\"", "\n" + plain, plain + "\xc3\xa9", plain + "\xff"}) {
      json o = json::object();
      o[s] = s;
      o["a"] = json::array({s, 1});
      CAPTURE(n);
      CHECK(ours(o) == theirs(o));
      CHECK(ours(json(s)) == theirs(json(s)));
    }
  }
}
