// SPDX-License-Identifier: MIT
#include "json_write.hpp"
#include "json_string.hpp"

#include "json_chars.hpp"

#include <nlohmann/json.hpp>

#include <charconv>
#include <cstring>
#include <cstdint>

namespace mcp::detail {

namespace {

// The binary subtype of a raw_json value ("mcp-raw" and a 1): a binary value a caller made
// for itself is written as nlohmann writes it unless it picked this very number.
constexpr std::uint64_t kRawJsonSubtype = 0x6d63702d72617701ULL;

void append_escaped(std::string& out, std::string_view s) {
  static constexpr char hex[] = "0123456789abcdef";
  static constexpr char replacement[] = "\xEF\xBF\xBD";  // U+FFFD
  const auto* p = reinterpret_cast<const unsigned char*>(s.data());
  const std::size_t n = s.size();
  std::size_t i = 0;
  while (i < n) {
    const std::size_t run = static_cast<std::size_t>(plain_run(p + i, p + n) - p);
    out.append(s.data() + i, run - i);
    i = run;
    if (i >= n) break;
    const unsigned char c = p[i];
    if (c < 0x80) {
      switch (c) {
        case '"': out += "\\\""; break;
        case '\\': out += "\\\\"; break;
        case '\b': out += "\\b"; break;
        case '\f': out += "\\f"; break;
        case '\n': out += "\\n"; break;
        case '\r': out += "\\r"; break;
        case '\t': out += "\\t"; break;
        default:
          out += "\\u00";
          out += hex[c >> 4];
          out += hex[c & 0xF];
      }
      ++i;
      continue;
    }
    // A UTF-8 sequence (RFC 3629): the lead fixes the length and the range of the second byte.
    unsigned char lo, hi;
    const std::size_t len = utf8_sequence(c, lo, hi);
    if (len == 0) {  // not a lead byte: replaced, and consumed
      out += replacement;
      ++i;
      continue;
    }
    std::size_t k = 1;
    for (; k < len; ++k) {
      if (i + k >= n) break;
      const unsigned char b = p[i + k];
      if (b < (k == 1 ? lo : 0x80) || b > (k == 1 ? hi : 0xBF)) break;
    }
    if (k == len) {
      out.append(s.data() + i, len);
      i += len;
    } else {
      // The sequence breaks at i + k: one replacement for what came before, and that byte is
      // read again on its own (as nlohmann's decoder does).
      out += replacement;
      i += k;
    }
  }
}

// The longest key or string written in one append of a stack buffer (a message's member names
// and most of its short values): one call instead of three or four.
constexpr std::size_t kShort = 48;

bool plain(std::string_view s) {
  const auto* p = reinterpret_cast<const unsigned char*>(s.data());
  return plain_run(p, p + s.size()) == p + s.size();
}

// `,"key":` (the comma unless first), escaped as needed.
void append_key(std::string& out, const std::string& k, bool first) {
  if (k.size() <= kShort && plain(k)) {
    char buf[kShort + 4];
    char* q = buf;
    if (!first) *q++ = ',';
    *q++ = '"';
    std::memcpy(q, k.data(), k.size());
    q += k.size();
    *q++ = '"';
    *q++ = ':';
    out.append(buf, static_cast<std::size_t>(q - buf));
    return;
  }
  if (!first) out += ',';
  out += '"';
  append_escaped(out, k);
  out += "\":";
}

// `"s"`, escaped as needed.
void append_string(std::string& out, std::string_view s) {
  if (s.size() <= kShort && plain(s)) {
    char buf[kShort + 2];
    buf[0] = '"';
    std::memcpy(buf + 1, s.data(), s.size());
    buf[s.size() + 1] = '"';
    out.append(buf, s.size() + 2);
    return;
  }
  out += '"';
  append_escaped(out, s);
  out += '"';
}

bool write(std::string& out, const nlohmann::json& j, int depth) {
  using t = nlohmann::json::value_t;
  switch (j.type()) {
    case t::object: {
      if (++depth > kMaxJsonWriteDepth) return false;
      out += '{';
      bool first = true;
      for (const auto& [k, v] : j.get_ref<const nlohmann::json::object_t&>()) {
        append_key(out, k, first);
        first = false;
        if (!write(out, v, depth)) return false;
      }
      out += '}';
      return true;
    }
    case t::array: {
      if (++depth > kMaxJsonWriteDepth) return false;
      out += '[';
      bool first = true;
      for (const auto& v : j.get_ref<const nlohmann::json::array_t&>()) {
        if (!first) out += ',';
        first = false;
        if (!write(out, v, depth)) return false;
      }
      out += ']';
      return true;
    }
    case t::string:
      append_string(out, j.get_ref<const std::string&>());
      return true;
    case t::boolean:
      out += j.get<bool>() ? "true" : "false";
      return true;
    case t::null:
      out += "null";
      return true;
    case t::number_integer:
    case t::number_unsigned: {
      char buf[24];
      auto r = j.type() == t::number_integer ? std::to_chars(buf, buf + sizeof buf, j.get<std::int64_t>())
                                             : std::to_chars(buf, buf + sizeof buf, j.get<std::uint64_t>());
      out.append(buf, r.ptr);
      return true;
    }
    case t::binary:
      if (is_raw_json(j)) {
        out += raw_json_text(j);
        return true;
      }
      [[fallthrough]];
    default:  // floats (nlohmann's own shortest form), binary, discarded: rare, and exact
      out += j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
      return true;
  }
}

}  // namespace

bool append_json(std::string& out, const nlohmann::json& j) { return write(out, j, 0); }

void append_json_string(std::string& out, std::string_view s) { append_string(out, s); }

nlohmann::json raw_json(std::string_view text) {
  return nlohmann::json::binary(nlohmann::json::binary_t::container_type(text.begin(), text.end()), kRawJsonSubtype);
}

bool is_raw_json(const nlohmann::json& j) {
  if (!j.is_binary()) return false;
  const auto& b = j.get_binary();
  return b.has_subtype() && b.subtype() == kRawJsonSubtype;
}

std::string_view raw_json_text(const nlohmann::json& j) {
  if (!is_raw_json(j)) return {};
  const auto& b = j.get_binary();
  return {reinterpret_cast<const char*>(b.data()), b.size()};
}

std::string too_deep_to_send_text() {
  return "the message nests deeper than " + std::to_string(kMaxJsonWriteDepth) + " levels; not sent";
}

}  // namespace mcp::detail
