// parse_json must give exactly what nlohmann::json::parse(text, nullptr, false) gives: the same
// values, the same number types, the same strings, and `discarded` for the same texts.
#include "../../lib/protocol/json_read.hpp"  // private header: lib/ is not on the public include path

#include <doctest/doctest.h>
#include <nlohmann/json.hpp>

#include "json_same.hpp"

#include <algorithm>
#include <cstdint>
#include <random>
#include <string>
#include <vector>

using nlohmann::json;
using mcp_test::depth_of;

namespace {

json theirs(const std::string& s) { return json::parse(s, nullptr, false); }

std::string show(const json& j) {
  return j.is_discarded() ? "<discarded>" : j.dump(-1, ' ', true, json::error_handler_t::replace);
}


// What nlohmann's parser gives, with parse_json's two differences: text that fails for invalid
// UTF-8 or an unpaired surrogate is read repaired, and values nested too deep are refused.
void check_same(const std::string& text) {
  json want = theirs(text);
  if (want.is_discarded())
    if (auto fixed = mcp::detail::repaired_json_text(text)) want = theirs(*fixed);
  if (!want.is_discarded() && depth_of(want) > mcp::detail::kMaxJsonDepth) want = json(json::value_t::discarded);
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

  // Deeper than the limit: refused (see "parse_json: nesting deeper than ..." for the limit).
  check_same(std::string(300, '[') + std::string(300, ']'));
  check_same(std::string(5000, '['));

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

TEST_CASE("parse_json: nesting deeper than kMaxJsonDepth is refused, on every path") {
  using mcp::detail::JsonRefusal;
  using mcp::detail::kMaxJsonDepth;
  auto nest = [](int levels, const std::string& inner) {
    std::string s;
    for (int i = 0; i < levels; ++i) s += i % 2 ? "[" : "{\"k\":";
    s += inner;
    for (int i = levels - 1; i >= 0; --i) s += i % 2 ? "]" : "}";
    return s;
  };
  // "1" stays on the fast path, "1.5" goes to nlohmann's parser, padding to the value count.
  for (const std::string inner : {"1", "1.5"}) {
    for (const std::size_t pad : {std::size_t(0), std::size_t(5) << 20}) {
      CAPTURE(inner);
      CAPTURE(pad);
      const std::string spaces(pad, ' ');
      JsonRefusal why = JsonRefusal::malformed;
      const json at = mcp::detail::parse_json(nest(kMaxJsonDepth, inner) + spaces, &why);
      CHECK_FALSE(at.is_discarded());
      CHECK(why == JsonRefusal::none);
      CHECK(depth_of(at) == kMaxJsonDepth);
      const json over = mcp::detail::parse_json(nest(kMaxJsonDepth + 1, inner) + spaces, &why);
      CHECK(over.is_discarded());
      CHECK(why == JsonRefusal::too_deep);
    }
  }
  // 60,000 levels (120 KB) and 10 million: refused, quickly, without building them.
  JsonRefusal why{};
  CHECK(mcp::detail::parse_json(std::string(60000, '[') + std::string(60000, ']'), &why).is_discarded());
  CHECK(why == JsonRefusal::too_deep);
  CHECK(mcp::detail::parse_json(std::string(10000000, '[') + "1.5" + std::string(10000000, ']'), &why).is_discarded());
  CHECK(why == JsonRefusal::too_deep);
  CHECK(mcp::detail::describe(JsonRefusal::too_deep) == "nests deeper than 128 levels");
}

TEST_CASE("parse_json: more values than the cap are refused before they are built") {
  using mcp::detail::JsonRefusal;
  auto zeros = [](int n, const char* item) {
    std::string s = "[";
    for (int i = 0; i < n; ++i) s += i ? std::string(",") + item : std::string(item);
    return s + "]";
  };
  for (const char* item : {"0", "[]", "{\"a\":0}", "0.5"}) {
    CAPTURE(item);
    JsonRefusal why{};
    // [x, ...] with n items holds n + 1 values (n + 1 more for each {"a":0}).
    const int per = std::string(item) == "{\"a\":0}" ? 2 : 1;
    CHECK_FALSE(mcp::detail::parse_json(zeros(999 / per, item), &why, 1000).is_discarded());
    CHECK(why == JsonRefusal::none);
    CHECK(mcp::detail::parse_json(zeros(1000 / per, item), &why, 1000).is_discarded());
    CHECK(why == JsonRefusal::too_many_values);
  }
  // Commas in strings are not values; "[]" is no item.
  JsonRefusal why{};
  CHECK_FALSE(mcp::detail::parse_json("[\"" + std::string(5000, ',') + "\",[],{}]", &why, 5).is_discarded());
  CHECK(mcp::detail::max_json_values(32u << 20) == (2u << 20));
  CHECK(mcp::detail::max_json_values(1u << 20) == (1u << 20));
}

TEST_CASE("parse_json: invalid UTF-8 and unpaired surrogates are read as U+FFFD") {
  using mcp::detail::JsonRefusal;
  const std::string fffd = "\xEF\xBF\xBD";
  auto text_of = [](const std::string& t) {
    JsonRefusal why{};
    const json j = mcp::detail::parse_json(t, &why);
    CHECK(why == JsonRefusal::none);
    return j.is_string() ? j.get<std::string>() : std::string("<not a string>");
  };
  CHECK(text_of("\"caf\xe9\"") == "caf" + fffd);
  CHECK(text_of("\"\xe9t\xe9 \xc3\xa9\"") == fffd + "t" + fffd + " \xc3\xa9");
  CHECK(text_of("\"\\ud800\"") == fffd);
  CHECK(text_of("\"\\udc00x\\ud83d\\ude00\"") == fffd + "x\xF0\x9F\x98\x80");
  CHECK(text_of("\"\\ud83d\\u0041\"") == fffd + "A");
  CHECK(text_of("\"\\\\ud800\"") == "\\ud800");  // an escaped backslash, then plain text
  // In a reply: the rest of it is kept.
  const json r = mcp::detail::parse_json("{\"id\":1,\"result\":{\"text\":\"caf\xe9\"}}");
  REQUIRE(r.is_object());
  CHECK(r["result"]["text"] == "caf" + fffd);
  // What repair cannot fix stays refused.
  JsonRefusal why{};
  CHECK(mcp::detail::parse_json("\"caf\xe9", &why).is_discarded());
  CHECK(why == JsonRefusal::malformed);
  CHECK(mcp::detail::parse_json(std::string("\"a\0b\"", 5), &why).is_discarded());
  CHECK_FALSE(mcp::detail::repaired_json_text("{\"a\":\"\xc3\xa9\\ud83d\\ude00\"}"));
}

TEST_CASE("response_id: the id of a refused reply, only when certain") {
  using mcp::detail::response_id;
  CHECK(response_id("{\"jsonrpc\":\"2.0\",\"id\":7,\"result\":{\"text\":\"caf\xe9\"}}") == 7);
  CHECK(response_id(" {\"result\":[[[[1e999999]]]], \"id\" : -3 }") == -3);
  CHECK(response_id("{\"error\":{\"code\":1,\"message\":\"\\ud800\"},\"id\":12}") == 12);
  CHECK(response_id("{\"id\":5,\"result\":" + std::string(60000, '[') + std::string(60000, ']') + "}") == 5);
  // Not certain, or not a reply: nothing.
  CHECK_FALSE(response_id("{\"id\":7,\"method\":\"x\",\"params\":\"\xe9\"}"));          // a server request
  CHECK_FALSE(response_id("{\"id\":\"7\",\"result\":\"\xe9\"}"));                     // a string id
  CHECK_FALSE(response_id("{\"id\":7.5,\"result\":\"\xe9\"}"));
  CHECK_FALSE(response_id("{\"id\":07,\"result\":1}"));
  CHECK_FALSE(response_id("{\"id\":99999999999999999999,\"result\":1}"));
  CHECK_FALSE(response_id("{\"id\":1,\"id\":2,\"result\":1}"));
  CHECK_FALSE(response_id("{\"result\":{\"id\":7},\"x\":\"\xe9\"}"));                // a nested id
  CHECK_FALSE(response_id("{\"params\":\"\\\",\\\"id\\\":7,\",\"result\":1}"));         // "id" inside a string
  CHECK_FALSE(response_id("{\"id\":7}"));                                            // no result or error
  CHECK_FALSE(response_id("[{\"id\":7,\"result\":1}]"));
  CHECK_FALSE(response_id("not json"));
}
