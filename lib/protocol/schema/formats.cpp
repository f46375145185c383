// SPDX-License-Identifier: MIT
// Values as the validator reads them: JSON Pointers, numbers (exact comparison and
// `multipleOf`), strings (code points, UTF-16/32 for std::wregex), the canonical form behind
// `uniqueItems`, ECMA-262 regular expressions and the text of messages.
#include "model.hpp"

#include "../../util/ascii.hpp"

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <limits>

namespace mcp::detail::schema {

// ----------------------------------------------------------------------------------------------
// JSON Pointer

std::string escape_token(std::string_view t) {
  std::string r;
  r.reserve(t.size());
  for (char c : t) {
    if (c == '~') {
      r += "~0";
    } else if (c == '/') {
      r += "~1";
    } else {
      r += c;
    }
  }
  return r;
}

std::string append(const std::string& ptr, std::string_view token) { return ptr + "/" + escape_token(token); }

std::string where(const std::string& ptr) { return "#" + ptr; }

std::optional<std::string> percent_decode(std::string_view s) {
  std::string r;
  r.reserve(s.size());
  for (std::size_t i = 0; i < s.size(); ++i) {
    if (s[i] != '%') {
      r += s[i];
      continue;
    }
    if (i + 2 >= s.size()) return std::nullopt;
    const int hi = hex_value(s[i + 1]);
    const int lo = hex_value(s[i + 2]);
    if (hi < 0 || lo < 0) return std::nullopt;
    r += static_cast<char>(hi * 16 + lo);
    i += 2;
  }
  return r;
}

std::optional<std::vector<std::string>> parse_pointer(std::string_view p) {
  std::vector<std::string> tokens;
  if (p.empty()) return tokens;
  if (p[0] != '/') return std::nullopt;
  std::size_t i = 1;
  while (true) {
    std::size_t end = p.find('/', i);
    if (end == std::string_view::npos) end = p.size();
    std::string tok;
    for (std::size_t j = i; j < end; ++j) {
      if (p[j] != '~') {
        tok += p[j];
      } else if (j + 1 < end && p[j + 1] == '0') {
        tok += '~';
        ++j;
      } else if (j + 1 < end && p[j + 1] == '1') {
        tok += '/';
        ++j;
      } else {
        return std::nullopt;
      }
    }
    tokens.push_back(std::move(tok));
    if (end == p.size()) break;
    i = end + 1;
  }
  return tokens;
}

const json* navigate(const json* node, const std::vector<std::string>& tokens) {
  for (const std::string& tok : tokens) {
    if (node->is_object()) {
      const auto it = node->find(tok);
      if (it == node->end()) return nullptr;
      node = &*it;
    } else if (node->is_array()) {
      if (tok.empty() || tok.size() > 18 || (tok.size() > 1 && tok[0] == '0') ||
          !std::all_of(tok.begin(), tok.end(), [](char c) { return c >= '0' && c <= '9'; })) {
        return nullptr;
      }
      const std::size_t i = std::stoull(tok);
      if (i >= node->size()) return nullptr;
      node = &(*node)[i];
    } else {
      return nullptr;
    }
  }
  return node;
}

// ----------------------------------------------------------------------------------------------
// JSON helpers

Size measure(const json& root, std::size_t limit) {
  std::vector<std::pair<const json*, std::size_t>> stack{{&root, 0}};
  Size size;
  while (!stack.empty()) {
    auto [j, d] = stack.back();
    stack.pop_back();
    ++size.values;
    size.depth = std::max(size.depth, d);
    if (d > limit) break;
    if (j->is_string()) {
      size.string_bytes += j->get_ref<const std::string&>().size();
    } else if (j->is_object()) {
      for (auto it = j->begin(); it != j->end(); ++it) {
        size.string_bytes += it.key().size();
        stack.emplace_back(&*it, d + 1);
      }
    } else if (j->is_array()) {
      for (const auto& child : *j) stack.emplace_back(&child, d + 1);
    }
  }
  return size;
}

const char* type_name(const json& j) {
  switch (j.type()) {
    case json::value_t::null:
      return "null";
    case json::value_t::boolean:
      return "boolean";
    case json::value_t::object:
      return "object";
    case json::value_t::array:
      return "array";
    case json::value_t::string:
      return "string";
    case json::value_t::number_integer:
    case json::value_t::number_unsigned:
      return "integer";
    case json::value_t::number_float: {
      const double d = j.get<double>();
      return std::isfinite(d) && std::floor(d) == d ? "integer" : "number";
    }
    default:
      return "value";
  }
}

std::string describe(const json& j) {
  if (j.is_object()) return "an object";
  if (j.is_array()) return "an array of " + std::to_string(j.size()) + " items";
  std::string s = j.dump(-1, ' ', false, json::error_handler_t::replace);
  if (s.size() > 48) s = s.substr(0, 45) + "...";
  return s;
}

std::string render(const json& j, std::size_t max) {
  std::string s = j.dump(-1, ' ', false, json::error_handler_t::replace);
  if (s.size() > max) s = s.substr(0, max - 3) + "...";
  return s;
}

std::string unsupported_dialect(const json& value) {
  return "unsupported JSON Schema dialect " + render(value, 200) +
         " in $schema (supported: 2020-12, the default; 2019-09; draft-07; draft-06; draft-04)";
}

std::string quote(const std::string& s) {
  return json(s).dump(-1, ' ', false, json::error_handler_t::replace);
}

std::string valid_utf8(const std::string& s) { return json::parse(quote(s)).get<std::string>(); }

std::size_t saturating_mul(std::size_t a, std::size_t b) {
  return a != 0 && b > std::numeric_limits<std::size_t>::max() / a ? std::numeric_limits<std::size_t>::max()
                                                                   : a * b;
}

bool is_integral(const json& j) {
  if (j.is_number_integer()) return true;  // includes unsigned
  if (!j.is_number_float()) return false;
  const double d = j.get<double>();
  return std::isfinite(d) && std::floor(d) == d;
}

int compare_numbers(const json& a, const json& b) {
  if (a.is_number_integer() && b.is_number_integer()) {
    const bool au = a.is_number_unsigned(), bu = b.is_number_unsigned();
    if (!au && !bu) {
      const auto x = a.get<std::int64_t>(), y = b.get<std::int64_t>();
      return x < y ? -1 : x > y ? 1 : 0;
    }
    if (!au && a.get<std::int64_t>() < 0) return -1;
    if (!bu && b.get<std::int64_t>() < 0) return 1;
    const auto x = a.get<std::uint64_t>(), y = b.get<std::uint64_t>();
    return x < y ? -1 : x > y ? 1 : 0;
  }
  const auto x = a.get<long double>(), y = b.get<long double>();
  return x < y ? -1 : x > y ? 1 : 0;
}

/// |value| = m * 10^e with m free of trailing zeros: the shortest decimal that round-trips (what
/// the schema author wrote, for any number a double represents faithfully).
namespace {

struct Decimal {
  std::uint64_t m = 0;
  long e = 0;
};

std::optional<Decimal> decimal_of(const json& j) {
  Decimal d;
  if (j.is_number_unsigned()) {
    d.m = j.get<std::uint64_t>();
  } else if (j.is_number_integer()) {
    const std::int64_t v = j.get<std::int64_t>();
    d.m = v < 0 ? std::uint64_t(0) - static_cast<std::uint64_t>(v) : static_cast<std::uint64_t>(v);
  } else {
    if (!std::isfinite(j.get<double>())) return std::nullopt;
    const std::string text = j.dump();  // shortest round-trip form, e.g. "1.5e-05"
    long frac = 0, exp = 0;
    bool dot = false;
    std::size_t i = text[0] == '-' ? 1 : 0;
    for (; i < text.size() && text[i] != 'e' && text[i] != 'E'; ++i) {
      if (text[i] == '.') {
        dot = true;
        continue;
      }
      if (d.m > (std::numeric_limits<std::uint64_t>::max() - 9) / 10) return std::nullopt;
      d.m = d.m * 10 + std::uint64_t(text[i] - '0');
      frac += dot;
    }
    if (i < text.size()) exp = std::strtol(text.c_str() + i + 1, nullptr, 10);
    d.e = exp - frac;
  }
  if (d.m == 0) return Decimal{};
  while (d.m % 10 == 0) {
    d.m /= 10;
    ++d.e;
  }
  return d;
}

}  // namespace

bool multiple_of(const json& x, const json& divisor) {
  const auto a = decimal_of(x);
  const auto b = decimal_of(divisor);
#if defined(__SIZEOF_INT128__)
  if (a && b && b->m != 0) {
    if (a->m == 0) return true;
    if (a->e < b->e) return false;  // b->m * 10^k would have to divide a->m, which has no factor 10
    using u128 = unsigned __int128;
    const std::uint64_t mod = b->m;
    std::uint64_t r = a->m % mod, base = 10 % mod;
    for (long n = a->e - b->e; n > 0; n >>= 1) {
      if (n & 1) r = static_cast<std::uint64_t>(u128(r) * base % mod);
      base = static_cast<std::uint64_t>(u128(base) * base % mod);
    }
    return r == 0;
  }
#endif
  if (!std::isfinite(x.get<double>() / divisor.get<double>())) return false;
  const long double q = x.get<long double>() / divisor.get<long double>();
  const long double r = std::fabs(q - std::nearbyint(q));
  return r <= std::max(1e-9L, std::fabs(q) * 8 * std::numeric_limits<double>::epsilon());
}

std::size_t code_points(const std::string& s) {
  std::size_t n = 0;
  for (unsigned char c : s) n += (c & 0xC0) != 0x80;
  return n;
}

std::wstring widen(std::string_view s) {
  std::wstring out;
  out.reserve(s.size());
  auto put = [&out](char32_t cp) {
    if constexpr (sizeof(wchar_t) >= 4) {
      out += static_cast<wchar_t>(cp);
    } else if (cp >= 0x10000) {
      cp -= 0x10000;
      out += static_cast<wchar_t>(0xD800 + (cp >> 10));
      out += static_cast<wchar_t>(0xDC00 + (cp & 0x3FF));
    } else {
      out += static_cast<wchar_t>(cp);
    }
  };
  for (std::size_t i = 0; i < s.size();) {
    const auto c = static_cast<unsigned char>(s[i]);
    std::size_t len = c < 0x80 ? 1 : (c >> 5) == 6 ? 2 : (c >> 4) == 14 ? 3 : (c >> 3) == 30 ? 4 : 0;
    char32_t cp = len == 1 ? c : len == 2 ? (c & 0x1F) : len == 3 ? (c & 0x0F) : (c & 0x07);
    bool ok = len != 0 && i + len <= s.size();
    for (std::size_t k = 1; ok && k < len; ++k) {
      const auto cc = static_cast<unsigned char>(s[i + k]);
      if ((cc & 0xC0) != 0x80) ok = false;
      cp = (cp << 6) | (cc & 0x3F);
    }
    if (!ok || cp > 0x10FFFF) {
      put(0xFFFD);
      ++i;
      continue;
    }
    put(cp);
    i += len;
  }
  return out;
}

void canonical(const json& j, std::string& out) {
  switch (j.type()) {
    case json::value_t::number_float: {
      const double d = j.get<double>();
      if (std::isfinite(d) && std::floor(d) == d && std::fabs(d) < 9.2e18) {
        out += std::to_string(static_cast<std::int64_t>(d));
      } else {
        out += j.dump();
      }
      return;
    }
    case json::value_t::array:
      out += '[';
      for (const auto& e : j) {
        canonical(e, out);
        out += ',';
      }
      out += ']';
      return;
    case json::value_t::object:
      out += '{';
      for (const auto& [k, v] : j.items()) {
        out += json(k).dump(-1, ' ', false, json::error_handler_t::replace);
        out += ':';
        canonical(v, out);
        out += ',';
      }
      out += '}';
      return;
    default:
      out += j.dump(-1, ' ', false, json::error_handler_t::replace);
  }
}

// ----------------------------------------------------------------------------------------------
// Regular expressions

std::wstring translate_pattern(const std::wstring& p) {
  static const std::wstring kSpace = L"\\s\u00a0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000\ufeff";
  auto hex_value = [](wchar_t c) -> int {
    if (c >= L'0' && c <= L'9') return c - L'0';
    if (c >= L'a' && c <= L'f') return c - L'a' + 10;
    if (c >= L'A' && c <= L'F') return c - L'A' + 10;
    return -1;
  };
  auto read_hex = [&](std::size_t at, std::size_t n, std::uint32_t& out) {
    if (at + n > p.size()) return false;
    out = 0;
    for (std::size_t k = 0; k < n; ++k) {
      const int v = hex_value(p[at + k]);
      if (v < 0) return false;
      out = out * 16 + std::uint32_t(v);
    }
    return true;
  };
  std::wstring out;
  bool in_class = false;
  auto literal = [&](std::uint32_t cp) {
    if (cp < 0x80 && std::wstring_view(L"\\^$.|?*+()[]{}-/").find(wchar_t(cp)) != std::wstring_view::npos) {
      out += L'\\';
    }
    if (sizeof(wchar_t) >= 4 || cp < 0x10000) {
      out += static_cast<wchar_t>(cp);
    } else {
      out += static_cast<wchar_t>(0xD800 + ((cp - 0x10000) >> 10));
      out += static_cast<wchar_t>(0xDC00 + ((cp - 0x10000) & 0x3FF));
    }
  };
  for (std::size_t i = 0; i < p.size(); ++i) {
    const wchar_t c = p[i];
    if (c == L'[' && !in_class) {
      in_class = true;
      out += c;
      if (i + 1 < p.size() && p[i + 1] == L'^') out += p[++i];
      if (i + 1 < p.size() && p[i + 1] == L']') out += L"\\]", ++i;
      continue;
    }
    if (c == L']' && in_class) {
      in_class = false;
      out += c;
      continue;
    }
    if (c != L'\\' || i + 1 >= p.size()) {
      out += c;
      continue;
    }
    const wchar_t e = p[i + 1];
    std::uint32_t cp = 0;
    if (e == L's') {
      out += in_class ? kSpace : L"[" + kSpace + L"]";
      ++i;
    } else if (e == L'S' && !in_class) {
      out += L"[^" + kSpace + L"]";
      ++i;
    } else if (e == L'c' && i + 2 < p.size() &&
               ((p[i + 2] >= L'a' && p[i + 2] <= L'z') || (p[i + 2] >= L'A' && p[i + 2] <= L'Z'))) {
      literal(std::uint32_t(p[i + 2]) % 32);
      i += 2;
    } else if (e == L'u' && i + 2 < p.size() && p[i + 2] == L'{') {
      std::size_t end = p.find(L'}', i + 3);
      if (end == std::wstring::npos || end - (i + 3) > 6 || !read_hex(i + 3, end - (i + 3), cp) ||
          cp > 0x10FFFF) {
        out += c;
        continue;
      }
      literal(cp);
      i = end;
    } else if (e == L'u' && read_hex(i + 2, 4, cp) && cp >= 0xD800 && cp < 0xDC00) {
      std::uint32_t lo = 0;
      if (i + 7 < p.size() && p[i + 6] == L'\\' && p[i + 7] == L'u' && read_hex(i + 8, 4, lo) &&
          lo >= 0xDC00 && lo < 0xE000) {
        literal(0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00));
        i += 11;
      } else {
        out += c;
      }
    } else {
      out += c;
      out += e;
      ++i;
    }
  }
  return out;
}

std::size_t estimate_regex_cost(const std::wstring& p) {
  struct Level {
    std::size_t sum = 0, last = 0;
  };
  static constexpr std::size_t kCap = std::size_t(1) << 40;
  std::vector<Level> stack(1);
  std::size_t groups = 0;
  auto add_atom = [&stack](std::size_t w) {
    stack.back().sum = std::min(kCap, stack.back().sum + w);
    stack.back().last = w;
  };
  for (std::size_t i = 0; i < p.size(); ++i) {
    const wchar_t c = p[i];
    if (c == L'\\') {
      ++i;
      add_atom(1);
    } else if (c == L'[') {
      ++i;
      if (i < p.size() && p[i] == L'^') ++i;
      if (i < p.size() && p[i] == L']') ++i;
      while (i < p.size() && p[i] != L']') {
        if (p[i] == L'\\') ++i;
        ++i;
      }
      add_atom(2);
    } else if (c == L'(') {
      if (i + 1 < p.size() && p[i + 1] == L'?') {
        i += 2;
      } else {
        ++groups;
      }
      stack.emplace_back();
    } else if (c == L')') {
      if (stack.size() > 1) {
        const std::size_t w = std::min(kCap, stack.back().sum + 2);
        stack.pop_back();
        add_atom(w);
      }
    } else if (c == L'|') {
      stack.back().sum += 1;
    } else if (c == L'*' || c == L'+' || c == L'?') {
      stack.back().sum += 1;
    } else if (c == L'{') {
      std::size_t j = i + 1, n = 0, m = 0;
      bool digits = false, comma = false, m_digits = false;
      while (j < p.size() && p[j] >= L'0' && p[j] <= L'9') {
        n = std::min<std::size_t>(n * 10 + std::size_t(p[j] - L'0'), 1u << 20);
        digits = true;
        ++j;
      }
      if (j < p.size() && p[j] == L',') {
        comma = true;
        ++j;
        while (j < p.size() && p[j] >= L'0' && p[j] <= L'9') {
          m = std::min<std::size_t>(m * 10 + std::size_t(p[j] - L'0'), 1u << 20);
          m_digits = true;
          ++j;
        }
      }
      if (digits && j < p.size() && p[j] == L'}') {
        const std::size_t times = comma ? (m_digits ? std::max(n, m) : n + 1) : n;
        Level& l = stack.back();
        l.sum = std::min(kCap, l.sum + l.last * (times > 0 ? times - 1 : 0) + 1);
        i = j;
      } else {
        add_atom(1);
      }
    } else {
      add_atom(1);
    }
  }
  std::size_t total = 0;
  for (const Level& l : stack) total = std::min(kCap, total + l.sum);
  return std::min(kCap, std::max<std::size_t>(1, total) * (1 + groups));
}

}  // namespace mcp::detail::schema
