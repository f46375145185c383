// SPDX-License-Identifier: MIT
#include "json_read.hpp"

#include "json_chars.hpp"
#include "../util/ascii.hpp"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <cstdint>
#include <optional>
#include <string>

namespace mcp::detail {

namespace {

using json = nlohmann::json;

// A recursive-descent parser for the common shapes. Every function returns false for
// anything it does not take on itself; the caller then hands the whole text to nlohmann,
// which either parses it (floats, long integers, deep nesting, a byte order mark) or rejects
// it. The fast path therefore never accepts what nlohmann rejects, and never decides an error.
class Fast {
 public:
  Fast(const char* first, const char* last)
      : p_(reinterpret_cast<const unsigned char*>(first)), end_(reinterpret_cast<const unsigned char*>(last)) {}

  bool document(json& out) {
    if (!value(out)) return false;
    skip_ws();
    return p_ == end_;
  }

  // The text nests deeper than kMaxJsonDepth: refused, not for nlohmann's parser.
  bool too_deep() const { return too_deep_; }

  // A JSON-RPC success response, `{"jsonrpc": ..., "id": <integer>, "result": <value>}` in any
  // order (jsonrpc optional): its id, and its result parsed as document() would parse it,
  // without the envelope's values. False for anything else (an error, a request, another
  // member, a repeated one, or what document() would not take).
  bool response(std::int64_t& id, json& result, std::string& scratch) {
    skip_ws();
    if (p_ == end_ || *p_ != '{') return false;
    ++depth_;  // the envelope is level 1, as in document()
    ++p_;
    bool has_id = false, has_result = false, has_version = false;
    for (;;) {
      if (!member_name(scratch)) return false;
      skip_ws();
      if (p_ == end_) return false;
      const std::string_view name = scratch;  // compared without a strlen per test
      if (name == "result") {
        if (has_result || !value(result)) return false;
        has_result = true;
      } else if (name == "id") {
        if (has_id || *p_ == '"' || *p_ == '{' || *p_ == '[') return false;
        json n;
        if (!value(n) || !n.is_number_integer()) return false;  // number() gives no float
        id = n.get<std::int64_t>();
        has_id = true;
      } else if (name == "jsonrpc") {
        if (has_version || *p_ != '"') return false;  // not a string: the whole text is nlohmann's
        scratch.clear();
        if (!string(scratch)) return false;
        has_version = true;
      } else {
        return false;
      }
      skip_ws();
      if (p_ == end_) return false;
      if (*p_ == ',') {
        ++p_;
        continue;
      }
      if (*p_ != '}') return false;
      ++p_;
      skip_ws();
      return p_ == end_ && has_id && has_result;
    }
  }

 private:

  void skip_ws() {
    while (p_ < end_ && (*p_ == ' ' || *p_ == '\n' || *p_ == '\r' || *p_ == '\t')) ++p_;
  }

  // A member's `"name" :` (whitespace around it): the name into `key`, p_ past the colon.
  bool member_name(std::string& key) {
    skip_ws();
    if (p_ == end_ || *p_ != '"') return false;
    key.clear();
    if (!string(key)) return false;
    skip_ws();
    if (p_ == end_ || *p_ != ':') return false;
    ++p_;
    return true;
  }

  bool literal(const char* word, std::size_t n) {
    if (static_cast<std::size_t>(end_ - p_) < n || std::char_traits<char>::compare(reinterpret_cast<const char*>(p_), word, n) != 0)
      return false;
    p_ += n;
    return true;
  }

  bool value(json& out) {
    skip_ws();
    if (p_ == end_) return false;
    switch (*p_) {
      case '{': return object(out);
      case '[': return array(out);
      case '"':
        out = json::value_t::string;
        return string(out.get_ref<std::string&>());
      case 't':
        out = true;
        return literal("true", 4);
      case 'f':
        out = false;
        return literal("false", 5);
      case 'n':
        out = nullptr;
        return literal("null", 4);
      default: return number(out);
    }
  }

  bool object(json& out) {
    if (++depth_ > kMaxJsonDepth) return too_deep_ = true, false;
    ++p_;
    out = json::value_t::object;
    auto& members = out.get_ref<json::object_t&>();
    skip_ws();
    if (p_ < end_ && *p_ == '}') {
      ++p_;
      --depth_;
      return true;
    }
    std::string key;
    for (;;) {
      if (!member_name(key)) return false;
      // Parsed in place. A repeated key keeps its last value, as nlohmann's parser does.
      // (value() replaces whatever an earlier duplicate left there.)
      auto it = members.try_emplace(std::move(key)).first;
      if (!value(it->second)) return false;
      skip_ws();
      if (p_ == end_) return false;
      if (*p_ == ',') {
        ++p_;
        continue;
      }
      if (*p_ != '}') return false;
      ++p_;
      --depth_;
      return true;
    }
  }

  bool array(json& out) {
    if (++depth_ > kMaxJsonDepth) return too_deep_ = true, false;
    ++p_;
    out = json::value_t::array;
    auto& items = out.get_ref<json::array_t&>();
    skip_ws();
    if (p_ < end_ && *p_ == ']') {
      ++p_;
      --depth_;
      return true;
    }
    for (;;) {
      if (!value(items.emplace_back())) return false;
      skip_ws();
      if (p_ == end_) return false;
      if (*p_ == ',') {
        ++p_;
        continue;
      }
      if (*p_ != ']') return false;
      ++p_;
      --depth_;
      return true;
    }
  }

  // Integers of up to 18 digits (they fit both int64 and uint64); anything longer, and every
  // fraction or exponent, is nlohmann's.
  bool number(json& out) {
    const bool negative = *p_ == '-';
    const unsigned char* q = p_ + (negative ? 1 : 0);
    const unsigned char* digits = q;
    std::uint64_t v = 0;
    while (q < end_ && *q >= '0' && *q <= '9') {
      v = v * 10 + static_cast<unsigned>(*q - '0');
      ++q;
    }
    const auto n = q - digits;
    if (n == 0 || n > 18) return false;
    if (*digits == '0' && n > 1) return false;  // a leading zero: nlohmann rejects it
    if (q < end_ && (*q == '.' || *q == 'e' || *q == 'E')) return false;
    if (negative) out = -static_cast<std::int64_t>(v);
    else out = v;
    p_ = q;
    return true;
  }

  // Four hex digits after "\u"; -1 if they are not.
  long hex4() {
    if (end_ - p_ < 4) return -1;
    long v = 0;
    for (int i = 0; i < 4; ++i) {
      const unsigned char c = p_[i];
      const int d = hex_value(static_cast<char>(c));
      if (d < 0) return -1;
      v = v * 16 + d;
    }
    p_ += 4;
    return v;
  }

  bool escape(std::string& out) {
    if (p_ == end_) return false;
    const unsigned char c = *p_++;
    switch (c) {
      case '"': out += '"'; return true;
      case '\\': out += '\\'; return true;
      case '/': out += '/'; return true;
      case 'b': out += '\b'; return true;
      case 'f': out += '\f'; return true;
      case 'n': out += '\n'; return true;
      case 'r': out += '\r'; return true;
      case 't': out += '\t'; return true;
      case 'u': break;
      default: return false;
    }
    const long hi = hex4();
    if (hi < 0 || (hi >= 0xDC00 && hi <= 0xDFFF)) return false;  // a lone low surrogate
    if (hi < 0xD800 || hi > 0xDBFF) {
      append_utf8(out, static_cast<std::uint32_t>(hi));
      return true;
    }
    // A high surrogate needs its low half right after it.
    if (end_ - p_ < 2 || p_[0] != '\\' || p_[1] != 'u') return false;
    p_ += 2;
    const long lo = hex4();
    if (lo < 0xDC00 || lo > 0xDFFF) return false;
    append_utf8(out, 0x10000 + ((static_cast<std::uint32_t>(hi) - 0xD800) << 10) + (static_cast<std::uint32_t>(lo) - 0xDC00));
    return true;
  }

  // One UTF-8 sequence (RFC 3629, the ranges nlohmann's lexer checks), copied as it is.
  bool utf8(std::string& out) {
    unsigned char lo, hi;
    const std::size_t len = utf8_sequence(*p_, lo, hi);
    if (len == 0) return false;
    if (static_cast<std::size_t>(end_ - p_) < len) return false;
    if (p_[1] < lo || p_[1] > hi) return false;
    for (std::size_t k = 2; k < len; ++k)
      if (p_[k] < 0x80 || p_[k] > 0xBF) return false;
    out.append(reinterpret_cast<const char*>(p_), len);
    p_ += len;
    return true;
  }

  bool string(std::string& out) {
    ++p_;  // the opening quote
    for (;;) {
      const unsigned char* run = p_;
      p_ = plain_run(p_, end_);
      out.append(reinterpret_cast<const char*>(run), static_cast<std::size_t>(p_ - run));
      if (p_ == end_) return false;
      const unsigned char c = *p_;
      if (c == '"') {
        ++p_;
        return true;
      }
      if (c == '\\') {
        ++p_;
        if (!escape(out)) return false;
      } else if (c < 0x20) {
        return false;  // a raw control character
      } else if (!utf8(out)) {
        return false;
      }
    }
  }

  const unsigned char* p_;
  const unsigned char* end_;
  int depth_ = 0;
  bool too_deep_ = false;
};

// The shape of a text, read without building anything: its deepest nesting and how many values
// it holds, stopping once either is over its limit. Exact for valid JSON (a value is the root,
// an array's first item, one after a comma in an array, or one after a colon); for malformed
// text it reads what a parser would take of it before failing, or more.
struct Shape {
  bool too_deep = false;
  bool too_many = false;
};

Shape shape_of(std::string_view text, std::size_t max_values) {
  Shape out;
  const char* p = text.data();
  const char* const end = p + text.size();
  bool in_array[kMaxJsonDepth + 1] = {};  // per level: an array (else an object)
  int depth = 0;
  std::size_t values = 1;
  bool opened_array = false;  // just after '[': the next byte may be a first item
  for (; p < end; ++p) {
    const char c = *p;
    if (c == ' ' || c == '\n' || c == '\r' || c == '\t') continue;
    if (opened_array) {
      opened_array = false;
      if (c != ']') ++values;
    }
    switch (c) {
      case '"':
        for (++p; p < end && *p != '"'; ++p)
          if (*p == '\\') ++p;
        break;
      case '[':
      case '{':
        if (++depth > kMaxJsonDepth) return out.too_deep = true, out;
        in_array[depth] = c == '[';
        opened_array = c == '[';
        break;
      case ']':
      case '}':
        if (depth > 0) --depth;
        break;
      case ',':
        if (depth > 0 && in_array[depth]) ++values;
        break;
      case ':':
        ++values;
        break;
      default: break;
    }
    if (values > max_values) return out.too_many = true, out;
  }
  return out;
}

// U+FFFD for each invalid UTF-8 sequence (where nlohmann's writer would put one) and for each
// escape of an unpaired surrogate. Nothing if the text has neither.
}  // namespace

std::optional<std::string> repaired_json_text(std::string_view text) {
  static constexpr char replacement[] = "\xEF\xBF\xBD";
  const auto* p = reinterpret_cast<const unsigned char*>(text.data());
  const std::size_t n = text.size();
  std::string out;
  bool changed = false;
  bool in_string = false;
  auto hex4 = [&](std::size_t at) -> long {  // four hex digits at p[at], or -1
    if (at + 4 > n) return -1;
    long v = 0;
    for (std::size_t k = at; k < at + 4; ++k) {
      const unsigned char c = p[k];
      const int d = hex_value(static_cast<char>(c));
      if (d < 0) return -1;
      v = v * 16 + d;
    }
    return v;
  };
  out.reserve(n + 16);
  std::size_t i = 0;
  while (i < n) {
    const unsigned char c = p[i];
    if (c < 0x80) {
      if (c == '"') in_string = !in_string;
      if (c == '\\' && in_string && i + 1 < n) {
        if (p[i + 1] == 'u') {
          const long hi = hex4(i + 2);
          if (hi >= 0xD800 && hi <= 0xDFFF) {
            const bool paired = hi <= 0xDBFF && i + 12 <= n && p[i + 6] == '\\' && p[i + 7] == 'u' &&
                                hex4(i + 8) >= 0xDC00 && hex4(i + 8) <= 0xDFFF;
            if (paired) {
              out.append(text, i, 12);
              i += 12;
            } else {
              out += "\\ufffd";
              changed = true;
              i += 6;
            }
            continue;
          }
        }
        out.append(text, i, 2);  // an escape: its second byte is not a quote that ends the string
        i += 2;
        continue;
      }
      out += static_cast<char>(c);
      ++i;
      continue;
    }
    unsigned char lo, hi;
    const std::size_t len = utf8_sequence(c, lo, hi);
    std::size_t k = 1;
    for (; k < len && i + k < n; ++k) {
      const unsigned char b = p[i + k];
      if (b < (k == 1 ? lo : 0x80) || b > (k == 1 ? hi : 0xBF)) break;
    }
    if (len != 0 && k == len) {
      out.append(text, i, len);
      i += len;
    } else {
      out += replacement;  // as json_write.cpp: the byte that broke the sequence is read again
      changed = true;
      i += len == 0 ? 1 : k;
    }
  }
  if (!changed) return std::nullopt;
  return out;
}

namespace {

json parse_within(std::string_view text, JsonRefusal* why, std::size_t max_values) {
  *why = JsonRefusal::none;
  auto refuse = [&](JsonRefusal r) {
    *why = r;
    return json(json::value_t::discarded);
  };
  // Each value but the root needs a byte and a separator: a short text cannot hold too many.
  const bool count = text.size() / 2 + 1 > max_values;
  if (count) {
    const Shape s = shape_of(text, max_values);
    if (s.too_deep) return refuse(JsonRefusal::too_deep);
    if (s.too_many) return refuse(JsonRefusal::too_many_values);
  }
  {
    json out;
    Fast fast(text.data(), text.data() + text.size());
    if (fast.document(out)) return out;
    if (fast.too_deep()) return refuse(JsonRefusal::too_deep);
  }
  if (!count) {
    const Shape s = shape_of(text, max_values);
    if (s.too_deep) return refuse(JsonRefusal::too_deep);
    if (s.too_many) return refuse(JsonRefusal::too_many_values);
  }
  // nlohmann reads a NUL byte where a token may start as the end of the input (it takes
  // "1\0garbage" as 1); JSON has no place for a raw NUL.
  if (text.find('\0') != std::string_view::npos) return refuse(JsonRefusal::malformed);
  json out = json::parse(text.begin(), text.end(), nullptr, /*allow_exceptions=*/false);
  if (out.is_discarded()) return refuse(JsonRefusal::malformed);
  return out;
}

}  // namespace

std::size_t max_json_values(std::size_t max_message_bytes) {
  return std::max<std::size_t>(max_message_bytes / 16, std::size_t(1) << 20);
}

std::string describe(JsonRefusal why, std::size_t max_values) {
  switch (why) {
    case JsonRefusal::none: return "is JSON";
    case JsonRefusal::malformed: return "is not valid JSON";
    case JsonRefusal::too_deep: return "nests deeper than " + std::to_string(kMaxJsonDepth) + " levels";
    case JsonRefusal::too_many_values: return "holds more than " + std::to_string(max_values) + " JSON values";
  }
  return "is not valid JSON";
}

bool parse_json_fast(std::string_view text, json& out) {
  return Fast(text.data(), text.data() + text.size()).document(out);
}

json parse_json(std::string_view text, JsonRefusal* why, std::size_t max_values) {
  if (why) *why = JsonRefusal::none;
  JsonRefusal r = JsonRefusal::none;
  json out = parse_within(text, &r, max_values);
  if (r == JsonRefusal::malformed) {
    if (auto fixed = repaired_json_text(text)) out = parse_within(*fixed, &r, max_values);
  }
  if (why) *why = r;
  return out;
}

bool parse_response(std::string_view text, std::int64_t& id, json& result, std::size_t max_values) {
  // A text that could hold more values than allowed is for parse_json (which counts them).
  if (text.size() / 2 + 1 > max_values) return false;
  // The members' names and the jsonrpc value: short, so held inline (SSO) with no allocation;
  // a local, not a thread_local (each use of one in a shared library is a __tls_get_addr call).
  std::string scratch;
  Fast fast(text.data(), text.data() + text.size());
  if (fast.response(id, result, scratch)) return true;
  result = nullptr;
  return false;
}

std::optional<std::int64_t> response_id(std::string_view text) {
  const char* p = text.data();
  const char* const end = p + text.size();
  auto skip_ws = [&] {
    while (p < end && (*p == ' ' || *p == '\n' || *p == '\r' || *p == '\t')) ++p;
  };
  skip_ws();
  if (p == end || *p != '{') return std::nullopt;
  ++p;
  int depth = 1;
  bool key_next = true;  // at depth 1: the next string is a member name
  bool has_method = false, has_answer = false, bad_id = false;
  int ids = 0;
  std::int64_t id = 0;
  while (p < end) {
    const char c = *p;
    if (c == '"') {
      const char* s = ++p;
      for (; p < end && *p != '"'; ++p)
        if (*p == '\\') ++p;
      if (p >= end) break;
      const std::string_view str(s, static_cast<std::size_t>(p - s));
      ++p;
      if (depth != 1 || !key_next) continue;
      key_next = false;
      skip_ws();
      if (p == end || *p != ':') return std::nullopt;  // not the shape of an object
      ++p;
      if (str == "method") has_method = true;
      if (str == "result" || str == "error") has_answer = true;
      if (str != "id") continue;
      ++ids;
      skip_ws();
      const char* q = p;
      const bool negative = q < end && *q == '-';
      if (negative) ++q;
      std::uint64_t v = 0;
      const char* digits = q;
      while (q < end && *q >= '0' && *q <= '9' && q - digits < 19) v = v * 10 + static_cast<unsigned>(*q++ - '0');
      const char* after = q;
      while (after < end && (*after == ' ' || *after == '\n' || *after == '\r' || *after == '\t')) ++after;
      if (q == digits || q - digits > 18 || (*digits == '0' && q - digits > 1) || (after < end && *after != ',' && *after != '}') || after == end) {
        bad_id = true;  // a string, a float, a huge number: never one of ours
        continue;
      }
      id = negative ? -static_cast<std::int64_t>(v) : static_cast<std::int64_t>(v);
      p = q;
      continue;
    }
    if (c == '{' || c == '[') ++depth;
    else if (c == '}' || c == ']') --depth;
    else if (c == ',' && depth == 1) key_next = true;
    ++p;
  }
  if (ids != 1 || bad_id || has_method || !has_answer) return std::nullopt;
  return id;
}

}  // namespace mcp::detail
