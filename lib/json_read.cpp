// SPDX-License-Identifier: MIT
#include "json_read.hpp"

#include "json_chars.hpp"

#include <nlohmann/json.hpp>

#include <cstdint>
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

 private:
  static constexpr int kMaxDepth = 256;  // deeper: nlohmann's parser, which is not recursive

  void skip_ws() {
    while (p_ < end_ && (*p_ == ' ' || *p_ == '\n' || *p_ == '\r' || *p_ == '\t')) ++p_;
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
    if (++depth_ > kMaxDepth) return false;
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
      skip_ws();
      if (p_ == end_ || *p_ != '"') return false;
      key.clear();
      if (!string(key)) return false;
      skip_ws();
      if (p_ == end_ || *p_ != ':') return false;
      ++p_;
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
    if (++depth_ > kMaxDepth) return false;
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

  static void put_utf8(std::string& out, std::uint32_t cp) {
    if (cp < 0x80) {
      out += static_cast<char>(cp);
    } else if (cp < 0x800) {
      out += static_cast<char>(0xC0 | (cp >> 6));
      out += static_cast<char>(0x80 | (cp & 0x3F));
    } else if (cp < 0x10000) {
      out += static_cast<char>(0xE0 | (cp >> 12));
      out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
      out += static_cast<char>(0x80 | (cp & 0x3F));
    } else {
      out += static_cast<char>(0xF0 | (cp >> 18));
      out += static_cast<char>(0x80 | ((cp >> 12) & 0x3F));
      out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
      out += static_cast<char>(0x80 | (cp & 0x3F));
    }
  }

  // Four hex digits after "\u"; -1 if they are not.
  long hex4() {
    if (end_ - p_ < 4) return -1;
    long v = 0;
    for (int i = 0; i < 4; ++i) {
      const unsigned char c = p_[i];
      int d;
      if (c >= '0' && c <= '9') d = c - '0';
      else if (c >= 'a' && c <= 'f') d = c - 'a' + 10;
      else if (c >= 'A' && c <= 'F') d = c - 'A' + 10;
      else return -1;
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
      put_utf8(out, static_cast<std::uint32_t>(hi));
      return true;
    }
    // A high surrogate needs its low half right after it.
    if (end_ - p_ < 2 || p_[0] != '\\' || p_[1] != 'u') return false;
    p_ += 2;
    const long lo = hex4();
    if (lo < 0xDC00 || lo > 0xDFFF) return false;
    put_utf8(out, 0x10000 + ((static_cast<std::uint32_t>(hi) - 0xD800) << 10) + (static_cast<std::uint32_t>(lo) - 0xDC00));
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
      while (p_ < end_ && kJsonPlain.v[*p_]) ++p_;
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
};

}  // namespace

bool parse_json_fast(std::string_view text, json& out) {
  return Fast(text.data(), text.data() + text.size()).document(out);
}

json parse_json(std::string_view text) {
  {
    json out;
    if (parse_json_fast(text, out)) return out;
  }
  return json::parse(text.begin(), text.end(), nullptr, /*allow_exceptions=*/false);
}

}  // namespace mcp::detail
