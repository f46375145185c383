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


// What nlohmann's parser gives, with parse_json's three differences: text that fails for invalid
// UTF-8 or an unpaired surrogate is read repaired, values nested too deep are refused, and so is
// text with a raw NUL byte (where nlohmann stops reading).
void check_same(const std::string& text) {
  json want = theirs(text);
  if (want.is_discarded())
    if (auto fixed = mcp::detail::repaired_json_text(text)) want = theirs(*fixed);
  if (!want.is_discarded() && depth_of(want) > mcp::detail::kMaxJsonDepth) want = json(json::value_t::discarded);
  if (text.find('\0') != std::string::npos) want = json(json::value_t::discarded);
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

// ---- parse_response: a reply's result read without its envelope (the transports' fast path)

#include "../../lib/protocol/types_detail.hpp"

namespace {

// What a tool call's reply became before parse_response (the whole message parsed, its result
// moved out), and what it becomes now (parse_response, else the same as before). The outcome
// of each: the id and result, or why there is none.
struct Read {
  bool taken = false;  // parse_response took it
  json id;
  json result;  // discarded: no result (an error, a request, not JSON ...)
};
Read old_path(const std::string& line) {
  Read r;
  json msg = mcp::detail::parse_json(line);
  r.result = json(json::value_t::discarded);
  if (!msg.is_object() || msg.contains("method") || !msg.contains("id") || !msg["id"].is_number_integer()) return r;
  if (msg.contains("error") || !msg.contains("result")) return r;
  r.id = msg["id"].get<std::int64_t>();
  r.result = std::move(msg["result"]);
  return r;
}
Read new_path(const std::string& line) {
  Read r;
  std::int64_t id = 0;
  json result;
  if (mcp::detail::parse_response(line, id, result)) {
    r.taken = true;
    r.id = id;
    r.result = std::move(result);
    return r;
  }
  return old_path(line);
}

// Every member of the typed result, `raw` included (strictly: types, float bits, key order).
void check_same_result(json a, json b, const std::string& line) {
  mcp::CallToolResult x, y;
  std::string ex, ey;
  try {
    mcp::detail::call_tool_result_from(std::move(a), x);
  } catch (const std::exception& e) {
    ex = e.what();
  }
  try {
    mcp::detail::call_tool_result_from(std::move(b), y);
  } catch (const std::exception& e) {
    ey = e.what();
  }
  INFO(line);
  CHECK(ex == ey);
  if (!ex.empty()) return;
  REQUIRE(x.content.size() == y.content.size());
  for (std::size_t i = 0; i < x.content.size(); ++i) {
    const auto &p = x.content[i], &q = y.content[i];
    CHECK(p.type == q.type);
    CHECK(p.text == q.text);
    CHECK(p.data == q.data);
    CHECK(p.mime_type == q.mime_type);
    CHECK(p.uri == q.uri);
    CHECK(mcp_test::same_json(p.raw, q.raw));
  }
  CHECK(x.structured_content.has_value() == y.structured_content.has_value());
  if (x.structured_content && y.structured_content) CHECK(mcp_test::same_json(*x.structured_content, *y.structured_content));
  CHECK(x.is_error == y.is_error);
  CHECK(mcp_test::same_json(x.meta, y.meta));
  CHECK(mcp_test::same_json(x.raw, y.raw));
  CHECK(x.text() == y.text());
  CHECK(json(x).dump() == json(y).dump());
}

}  // namespace

TEST_CASE("parse_response: a reply's result exactly as parse_json reads it, and the same CallToolResult") {
  const std::vector<std::string> taken = {
      // What servers send: the echo reply, every content type, structuredContent, isError, _meta.
      R"({"id":1,"jsonrpc":"2.0","result":{"content":[{"text":"hi 12","type":"text"}],"isError":false,"resultType":"complete"}})",
      R"({"jsonrpc":"2.0","id":2,"result":{"content":[{"type":"image","data":"iVBORw0KGgo=","mimeType":"image/png"},{"type":"audio","data":"UklGRg==","mimeType":"audio/wav","annotations":{"audience":["user"],"priority":0}}]}})",
      R"({"result":{"content":[{"type":"resource_link","uri":"file:///a%20b.txt","name":"a b","mimeType":"text/plain","size":12}]},"id":3,"jsonrpc":"2.0"})",
      R"({"jsonrpc":"2.0","id":4,"result":{"content":[{"type":"resource","resource":{"uri":"mem://x","mimeType":"text/markdown","text":"# T\n\u00e9\ud83d\ude00","_meta":{"k":1}}},{"type":"resource","resource":{"uri":"mem://b","blob":"AAEC","mimeType":"application/octet-stream"}}]}})",
      R"({"jsonrpc":"2.0","id":5,"result":{"content":[],"structuredContent":{"temperature":22,"unit":"C","ok":true,"list":[1,-2,null,"s",{"n":{}}]},"isError":false}})",
      R"({"jsonrpc":"2.0","id":6,"result":{"content":[{"type":"text","text":"boom: \"quoted\" \\ \/ \b\f\n\r\t \u0001 \u001f"}],"isError":true}})",
      R"({"jsonrpc":"2.0","id":7,"result":{"content":[{"type":"text","text":"x"}],"_meta":{"io.modelcontextprotocol/related-task":{"taskId":"t1"},"progressToken":9},"unknownField":{"nested":[[],{}]},"zeta":"last"}})",
      R"({"jsonrpc":"2.0","id":8,"result":{"content":[{"type":"text","text":"caf\u00e9 \u20ac \ud83d\ude00 — ünïcödé 日本語","unknown":[1,2]},{"type":"future_kind","payload":{"a":1}},"not a block",42,null]}})",
      R"({"jsonrpc":"2.0","id":9,"result":{}})",
      R"({"jsonrpc":"2.0","id":0,"result":{"content":{"not":"an array"},"structuredContent":null,"isError":"yes","_meta":null}})",
      R"(  {  "jsonrpc" : "2.0" , "id" : -17 , "result" : { "content" : [ { "type" : "text" , "text" : "spaced" } ] }  }  )",
      R"({"id":123456789012345678,"result":{"content":[{"type":"text","text":"big id"}]}})",
      R"({"jsonrpc":"2.0","id":11,"result":{"content":[{"type":"text","text":"dup","text":"last wins"}],"isError":true,"isError":false}})",
      R"({"jsonrpc":"1.0","id":12,"result":{"content":[{"type":"text","text":"other version string"}]}})",
      R"({"jsonrpc":"2.0","id":13,"result":[1,2,3]})",
      R"({"jsonrpc":"2.0","id":14,"result":"a string result"})",
      R"({"jsonrpc":"2.0","id":15,"result":null})",
      R"({"jsonrpc":"2.0","id":16,"result":{"content":[{"type":"text","text":"\u0000 nul and \ud800\udc00"}]}})",
      R"({"jsonrpc":"2.0","res\u0075lt":{"content":[]},"i\u0064":17})",
  };
  const std::vector<std::string> left = {
      // Not for parse_response: parse_json reads these, as before.
      R"({"jsonrpc":"2.0","id":20,"error":{"code":-32602,"message":"Unknown tool: x","data":{"a":1}}})",
      R"({"jsonrpc":"2.0","id":21,"result":{"content":[]},"error":{"code":1,"message":"both"}})",
      R"({"jsonrpc":"2.0","id":22,"method":"roots/list","params":{}})",
      R"({"jsonrpc":"2.0","method":"notifications/message","params":{"level":"info","data":"x"}})",
      R"({"jsonrpc":"2.0","id":"23","result":{"content":[]}})",
      R"({"jsonrpc":"2.0","id":24.0,"result":{"content":[]}})",
      R"({"jsonrpc":"2.0","id":1234567890123456789,"result":{"content":[]}})",
      R"({"jsonrpc":"2.0","id":null,"result":{"content":[]}})",
      R"({"jsonrpc":"2.0","id":25,"id":26,"result":{"content":[]}})",
      R"({"jsonrpc":"2.0","id":27,"result":{"content":[]},"result":{"content":[{"type":"text","text":"2nd"}]}})",
      R"({"jsonrpc":2,"id":28,"result":{"content":[]}})",
      R"({"jsonrpc":"2.0","id":29,"result":{"content":[]},"extra":true})",
      R"({"jsonrpc":"2.0","id":30,"result":{"content":[{"type":"text","text":"float 1.5"}],"structuredContent":{"v":1.5}}})",
      R"({"jsonrpc":"2.0","id":31,"result":{"content":[{"type":"text","text":"caf)" "\xe9" R"("}]}})",
      R"({"jsonrpc":"2.0","id":32,"result":{"content":[{"type":"text","text":"\ud800 lone"}]}})",
      R"({"jsonrpc":"2.0","id":33,"result":{"content":[]}} trailing)",
      R"({"jsonrpc":"2.0","id":34,"result":{"content":[})",
      R"({"jsonrpc":"2.0","id":35})",
      R"({"jsonrpc":"2.0","result":{"content":[]}})",
      R"([{"jsonrpc":"2.0","id":36,"result":{}}])",
      R"({})",
      R"("just a string")",
      "",
      "\xEF\xBB\xBF{\"jsonrpc\":\"2.0\",\"id\":37,\"result\":{}}",
      R"({"jsonrpc":"2.0","id":38,"result":{"big":18446744073709551615}})",
  };
  for (const auto& line : taken) {
    INFO(line);
    const Read a = old_path(line), b = new_path(line);
    CHECK(b.taken);
    CHECK(mcp_test::same_json(a.id, b.id));
    CHECK(mcp_test::same_json(a.result, b.result));
    if (!a.result.is_discarded()) check_same_result(a.result, b.result, line);
  }
  for (const auto& line : left) {
    INFO(line);
    std::int64_t id = 0;
    json result;
    CHECK_FALSE(mcp::detail::parse_response(line, id, result));
    CHECK(result.is_null());
  }
  // Deep results: refused alike (the fast path stops at the limit; parse_json refuses).
  std::string deep = R"({"jsonrpc":"2.0","id":40,"result":)";
  for (int i = 0; i < mcp::detail::kMaxJsonDepth; ++i) deep += '[';
  for (int i = 0; i < mcp::detail::kMaxJsonDepth; ++i) deep += ']';
  deep += '}';
  std::int64_t id = 0;
  json result;
  CHECK_FALSE(mcp::detail::parse_response(deep, id, result));
  CHECK(mcp::detail::parse_json(deep).is_discarded());
  std::string ok = R"({"jsonrpc":"2.0","id":41,"result":)";
  for (int i = 1; i < mcp::detail::kMaxJsonDepth; ++i) ok += '[';
  for (int i = 1; i < mcp::detail::kMaxJsonDepth; ++i) ok += ']';
  ok += '}';
  CHECK(mcp::detail::parse_response(ok, id, result));
  CHECK(id == 41);
  CHECK(mcp_test::same_json(result, mcp::detail::parse_json(ok)["result"]));
  // Over the value cap: left to parse_json, which counts.
  CHECK_FALSE(mcp::detail::parse_response(R"({"id":42,"result":[1,2,3,4,5,6,7,8]})", id, result, 4));
  CHECK(mcp::detail::parse_response(R"({"id":42,"result":[1,2,3,4,5,6,7,8]})", id, result, 64));
}

TEST_CASE("parse_response: random replies read alike on both paths") {
  std::mt19937 rng(20261207);
  const char* pieces[] = {"\"text\"", "\"type\"", "\"content\"", "\"isError\"", "\"_meta\"", "\"structuredContent\"",
                          "true", "false", "null", "0", "-1", "17", "1.5", "\"\\u00e9\"", "\"\\ud83d\\ude00\"",
                          "\"a\\\"b\"", "[]", "{}", "\"\xc3\xa9\"", "\"\xff\""};
  for (int n = 0; n < 3000; ++n) {
    // A result built from pieces, wrapped in an envelope whose members vary.
    std::string result;
    const int kind = static_cast<int>(rng() % 3);
    if (kind == 0) {
      result = "{\"content\":[";
      const int blocks = static_cast<int>(rng() % 4);
      for (int b = 0; b < blocks; ++b) {
        if (b) result += ',';
        result += "{\"type\":" + std::string(pieces[rng() % 20]) + ",\"text\":" + pieces[rng() % 20] + "}";
      }
      result += "],\"isError\":" + std::string(pieces[rng() % 20]) + ",\"x\":" + pieces[rng() % 20] + "}";
    } else if (kind == 1) {
      result = pieces[rng() % 20];
    } else {
      result = "{\"structuredContent\":{\"k\":" + std::string(pieces[rng() % 20]) + "},\"_meta\":" + pieces[rng() % 20] + "}";
    }
    std::vector<std::string> members = {"\"id\":" + std::string(pieces[rng() % 20]), "\"result\":" + result};
    if (rng() % 2) members.push_back("\"jsonrpc\":\"2.0\"");
    if (rng() % 8 == 0) members.push_back("\"error\":{}");
    if (rng() % 8 == 0) members.push_back("\"id\":3");
    std::shuffle(members.begin(), members.end(), rng);
    std::string line = "{";
    for (std::size_t i = 0; i < members.size(); ++i) line += (i ? "," : "") + members[i];
    line += "}";
    if (rng() % 16 == 0) line.pop_back();  // malformed
    INFO(line);
    const Read a = old_path(line), b = new_path(line);
    CHECK(mcp_test::same_json(a.id, b.id));
    CHECK(mcp_test::same_json(a.result, b.result));
    if (!a.result.is_discarded() && a.result.is_object()) check_same_result(a.result, b.result, line);
  }
}

TEST_CASE("parse_json: a raw NUL byte makes the text malformed (nlohmann would stop reading there)") {
  using namespace std::string_view_literals;
  mcp::detail::JsonRefusal why{};
  for (const auto text : {"1\0garbage"sv, "{\"a\":1}\0{\"b\":2}"sv, "[1,\0 2]"sv, "\0"sv, "\"a\0b\""sv}) {
    CAPTURE(text.size());
    CHECK(mcp::detail::parse_json(text, &why).is_discarded());
    CHECK(why == mcp::detail::JsonRefusal::malformed);
  }
  CHECK(mcp::detail::parse_json("\"a\\u0000b\"").get<std::string>() == std::string("a\0b", 3));  // escaped: fine
}
