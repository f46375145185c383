// parse_json must give exactly what nlohmann::json::parse(text, nullptr, false) gives: the same
// values, the same number types, the same strings, and `discarded` for the same texts.
#include "../../lib/json_read.hpp"  // private header: lib/ is not on the public include path

#include <doctest/doctest.h>
#include <nlohmann/json.hpp>

#include "json_same.hpp"

#include <cstdint>
#include <random>
#include <string>
#include <vector>

using nlohmann::json;

namespace {

json theirs(const std::string& s) { return json::parse(s, nullptr, false); }

std::string show(const json& j) {
  return j.is_discarded() ? "<discarded>" : j.dump(-1, ' ', true, json::error_handler_t::replace);
}

void check_same(const std::string& text) {
  const json want = theirs(text);
  const json got = mcp::detail::parse_json(text);
  if (!mcp_test::same_json(got, want)) {
    CAPTURE(text);
    CAPTURE(show(want));
    CAPTURE(show(got));
    FAIL("parse_json differs from nlohmann::json::parse");
  }
}

std::string random_text(std::mt19937& rng, std::size_t max_len) {
  static const char* pieces[] = {"a", "é", "中", "😀", "\\\"", "\\\\", "\\/", "\\n", "\\u00e9", "\\ud83d\\ude00", " ", "\t"};
  std::string s;
  for (auto n = rng() % (max_len + 1); n > 0; --n) s += pieces[rng() % (sizeof pieces / sizeof *pieces)];
  return s;
}

// A valid text, as servers write them: compact or pretty, escaped or raw UTF-8.
std::string random_document(std::mt19937& rng, int depth = 0) {
  switch (rng() % (depth > 3 ? 7 : 9)) {
    case 0: return "null";
    case 1: return rng() % 2 ? "true" : "false";
    case 2: return std::to_string(static_cast<std::int64_t>(rng()) - static_cast<std::int64_t>(rng()) * 4096);
    case 3: return std::to_string(static_cast<std::uint64_t>(rng()) << (rng() % 40));
    case 4: {
      static const char* nums[] = {"0", "-0", "0.5", "-1.25e3", "1E2", "1e-400", "1e400", "12345678901234567890",
                                   "-9223372036854775808", "-9223372036854775809", "18446744073709551615",
                                   "18446744073709551616", "999999999999999999", "1000000000000000000", "-0.0"};
      return nums[rng() % (sizeof nums / sizeof *nums)];
    }
    case 5:
    case 6: return "\"" + random_text(rng, 12) + "\"";
    case 7: {
      std::string s = "[";
      for (int i = rng() % 5; i > 0; --i) s += random_document(rng, depth + 1) + (i > 1 ? (rng() % 2 ? ", " : ",") : "");
      return s + "]";
    }
    default: {
      std::string s = rng() % 2 ? "{" : "{\n  ";
      for (int i = rng() % 5; i > 0; --i)
        s += "\"" + random_text(rng, 4) + "\"" + (rng() % 2 ? ": " : ":") + random_document(rng, depth + 1) + (i > 1 ? "," : "");
      return s + "}";
    }
  }
}

// What breaks parsers: a flipped, dropped, doubled or inserted byte, or a cut.
std::string mutate(std::mt19937& rng, std::string s) {
  static const unsigned char bytes[] = {0x00, 0x01, 0x1f, ' ', '"', '\\', '/', ',', ':', '[', ']', '{', '}', '-', '+',
                                        '.', 'e', '0', '1', 'u', 'd', 'n', 't', 0x7f, 0x80, 0xbf, 0xc0, 0xc2, 0xe0,
                                        0xed, 0xef, 0xbb, 0xf0, 0xf4, 0xf5, 0xff};
  for (int i = rng() % 3 + 1; i > 0 && !s.empty(); --i) {
    const std::size_t at = rng() % s.size();
    switch (rng() % 5) {
      case 0: s[at] = static_cast<char>(bytes[rng() % sizeof bytes]); break;
      case 1: s.erase(at, 1); break;
      case 2: s.insert(at, 1, static_cast<char>(bytes[rng() % sizeof bytes])); break;
      case 3: s.insert(at, 1, s[at]); break;
      default: s.resize(at); break;
    }
  }
  return s;
}

}  // namespace

TEST_CASE("parse_json: the same values, number types and rejections as nlohmann's parser") {
  const std::vector<std::string> fixed = {
      // Valid: every shape, number edge and escape.
      "{}", "[]", " {\"a\" : [1, -2, 3.5, true, false, null, \"x\"]} ", "\"\"", "0", "-0", "7", "-7",
      "999999999999999999", "-999999999999999999", "1000000000000000000", "18446744073709551615",
      "18446744073709551616", "-9223372036854775808", "-9223372036854775809", "1.0", "1e2", "1E+2", "-1e-2",
      "1e400", "-1e400", "1e-400", "\"\\u0000\"", "\"\\u00e9\\u4e2d\\ud83d\\ude00\"", "\"\\\"\\\\\\/\\b\\f\\n\\r\\t\"",
      "\"é中😀\"", "{\"a\":1,\"a\":2}", "{\"a\":{\"b\":1},\"a\":[2]}", "[[[[[]]]]]", "\t\n\r [ ] \t\n\r",
      "\xEF\xBB\xBF{}", "{\"jsonrpc\":\"2.0\",\"id\":3,\"result\":{\"content\":[{\"type\":\"text\",\"text\":\"hi\"}]}}",
      // Invalid: each must be discarded, as nlohmann does.
      "", " ", "{", "}", "[1,]", "{\"a\":1,}", "{\"a\"}", "{a:1}", "[01]", "-", "--1", "+1", "1.", ".5", "1e", "1e+",
      "0x10", "tru", "truee", "nul", "[1 2]", "{} {}", "\"abc", "\"a\x01\"", "\"\\x\"", "\"\\u12\"", "\"\\ud83d\"",
      "\"\\ud83d\\u0041\"", "\"\\ude00\"", "\"\x80\"", "\"\xc0\xaf\"", "\"\xed\xa0\x80\"", "\"\xf4\x90\x80\x80\"",
      "\"\xe2\x82\"", "\xEF\xBB", "{}\x00", std::string("[1]\0", 4), "'a'", "[1]x", "NaN", "Infinity", "/**/{}"};
  for (const auto& text : fixed) check_same(text);

  // Deeper than the fast path goes: nlohmann's parser takes it, with the same result.
  check_same(std::string(300, '[') + std::string(300, ']'));
  check_same(std::string(5000, '[') + std::string(5000, ']'));
  check_same(std::string(5000, '['));
  {
    // Far deeper still: no recursion runs out of stack (compared by walking, not by same_json()).
    const json deep = mcp::detail::parse_json(std::string(100000, '[') + std::string(100000, ']'));
    int levels = 0;
    for (const json* j = &deep; j->is_array(); j = j->empty() ? nullptr : &(*j)[0]) {
      ++levels;
      if (j->empty()) break;
    }
    CHECK(levels == 100000);
    CHECK(mcp::detail::parse_json(std::string(100000, '[')).is_discarded());
  }

  std::mt19937 rng(20261122);
  for (int i = 0; i < 4000; ++i) {
    const std::string doc = random_document(rng);
    check_same(doc);
    check_same(mutate(rng, doc));
  }
}

TEST_CASE("parse_json: the fast path takes the messages servers send") {
  // If it handed these to nlohmann, parse_json would still be right but no faster.
  const std::string messages[] = {
      "{\"jsonrpc\":\"2.0\",\"id\":3,\"result\":{\"content\":[{\"type\":\"text\",\"text\":\"hi \\\"there\\\"\\n\"}],"
      "\"isError\":false}}",
      "{\"id\":12,\"jsonrpc\":\"2.0\",\"error\":{\"code\":-32602,\"message\":\"Unknown tool: nope\"}}",
      "{\"jsonrpc\":\"2.0\",\"method\":\"notifications/progress\",\"params\":{\"progressToken\":5,\"progress\":1,"
      "\"total\":10,\"message\":\"é中😀 \\u00e9\\ud83d\\ude00\"}}",
      "{\"result\":{\"tools\":[{\"name\":\"echo\",\"inputSchema\":{\"type\":\"object\",\"properties\":{\"text\":"
      "{\"type\":\"string\"}},\"required\":[\"text\"]}}],\"nextCursor\":null},\"jsonrpc\":\"2.0\",\"id\":2}\r\n"};
  for (const auto& m : messages) {
    CAPTURE(m);
    json out;
    CHECK(mcp::detail::parse_json_fast(m, out));
    CHECK(mcp_test::same_json(out, theirs(m)));
  }
  // And hands over what it does not take on itself.
  for (const char* m : {"1.5", "[1e3]", "12345678901234567890", "\xEF\xBB\xBF{}", "[1,]"}) {
    json out;
    CHECK_FALSE(mcp::detail::parse_json_fast(m, out));
  }
}
