// SPDX-License-Identifier: MIT
#include "schema_validator.hpp"

#include "../util/ascii.hpp"
#include "../util/url.hpp"

// Why not valijson (the Debian 1.0 package was the first choice): tool schemas and results come
// from untrusted servers, and valijson 1.0 crashes or misvalidates on inputs a server controls
// (each reproduced against the installed headers):
//  - `pattern` runs std::regex's backtracking executor, which recurses once per character: a
//    100k-character string against `^[a-z]+$` overflows an 8 MiB stack (SIGSEGV);
//    `patternProperties` does the same on property names;
//  - `{"$ref": "#"}` (any pure `$ref` cycle) recurses in the parser until the stack overflows,
//    and `$ref` chains through definitions recurse as deep as the chain is long;
//  - type coercion: the string "7" fails `multipleOf: 5` and 10.5 passes it, `format` rejects
//    non-strings, 1.0 is not an integer; `uniqueItems` is quadratic;
//  - its subschema cache is keyed by unescaped paths, so a property named "a/properties/b"
//    is validated against the schema of `properties.a.properties.b` once a `$ref` names it;
//  - no 2019-09/2020-12 semantics: `prefixItems`, `unevaluated*`, `dependentSchemas`,
//    `$anchor`, `$dynamicRef`, `$ref` with siblings, `$id` (it reads draft-04 `id`).
// Working around all of that meant replacing every keyword but the applicator dispatch, so this
// file compiles schemas into its own form and evaluates it directly, with explicit bounds on
// depth, size and work. Conformance: every required test of the JSON-Schema-Test-Suite for
// 2020-12, 2019-09, draft-07, draft-06 and draft-04 passes, except those that need remote
// references or custom meta-schemas, which are refused by design.
//
// Shape: compile() (1) checks the document's JSON depth iteratively, (2) scans every subschema
// location (recursion bounded by SchemaLimits::max_depth), recording its base URI, resource and
// dialect, every `$id`, `$anchor` and `$dynamicAnchor`, (3) compiles each location into a Node
// whose children are indices (so `$ref` is an index, and cycles cost nothing to represent), and
// (4) rejects reference cycles, reachable from the root, that never descend into the instance.
// validate() walks Nodes recursively with a depth counter and a work budget; a second,
// reporting pass runs only when the first finds the instance invalid.
//
// Known deviations from the specifications:
//  - Regular expressions are ECMAScript as std::wregex (libstdc++, polynomial mode) implements
//    it, over Unicode code points, with `\s`, `\cX` and `\u{...}` rewritten to ECMA-262
//    meaning: back-references, lookbehind, named groups and `\p{...}` are not supported, and a
//    schema using them fails to compile (never silently ignored).
//  - `format` is an annotation (the 2020-12 default), in every dialect; `$vocabulary` is not
//    read (the standard vocabularies are assumed); `content*` keywords are annotations.
//  - `multipleOf` is decided on the shortest decimal form of both numbers, so 0.3 is a
//    multiple of 0.1 (a double-precision division would say no).
//  - Leniencies for generated schemas: in 2020-12 the legacy tuple form (`items` as an array,
//    with `additionalItems`) is read as in draft-07, since it is otherwise invalid; `definitions`
//    is a subschema container in every dialect; `dependencies` is honoured in 2019-09 and later.

#include <algorithm>
#include <cctype>
#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <exception>
#include <limits>
#include <optional>
#include <regex>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

namespace mcp::detail {
namespace {

using nlohmann::json;

// ----------------------------------------------------------------------------------------------
// Errors and dialects

struct CompileError {
  std::string message;
};
[[noreturn]] void fail(std::string message) { throw CompileError{std::move(message)}; }

/// Thrown out of evaluation when a bound is hit; the message is returned by validate().
struct Abort {
  std::string message;
};

enum class Dialect { d4, d6, d7, d2019, d2020 };

const char* dialect_uri(Dialect d) {
  switch (d) {
    case Dialect::d4:
      return "http://json-schema.org/draft-04/schema#";
    case Dialect::d6:
      return "http://json-schema.org/draft-06/schema#";
    case Dialect::d7:
      return "http://json-schema.org/draft-07/schema#";
    case Dialect::d2019:
      return "https://json-schema.org/draft/2019-09/schema";
    case Dialect::d2020:
      break;
  }
  return "https://json-schema.org/draft/2020-12/schema";
}

std::optional<Dialect> dialect_of(std::string_view uri) {
  std::string u(uri);
  if (!u.empty() && u.back() == '#') u.pop_back();
  if (u.rfind("https://", 0) == 0) u = "http://" + u.substr(8);
  if (u == "http://json-schema.org/draft/2020-12/schema") return Dialect::d2020;
  if (u == "http://json-schema.org/draft/2019-09/schema") return Dialect::d2019;
  if (u == "http://json-schema.org/draft-07/schema") return Dialect::d7;
  if (u == "http://json-schema.org/draft-06/schema") return Dialect::d6;
  if (u == "http://json-schema.org/draft-04/schema") return Dialect::d4;
  return std::nullopt;
}

// ----------------------------------------------------------------------------------------------
// URIs: RFC 3986 reference resolution is lib/util/url.hpp's (parse_uri, resolve_uri)

/// Splits "doc#fragment" into {doc, fragment}.
std::pair<std::string, std::string> split_fragment(const std::string& uri) {
  const std::size_t hash = uri.find('#');
  if (hash == std::string::npos) return {uri, {}};
  return {uri.substr(0, hash), uri.substr(hash + 1)};
}

/// The base URI of a document that has no `$id`: private, hierarchical (so relative `$id`s of
/// embedded resources resolve against it), and impossible to fetch.
constexpr const char* kDefaultBase = "x-mcp-cpp-schema:///root.json";

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

/// Tokens of a JSON Pointer ("" or "/a/b"), unescaped; nullopt if malformed.
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

struct Size {
  std::size_t depth = 0;   ///< nesting (a scalar is 0), stops growing past the limit
  std::size_t values = 0;  ///< values visited
  std::size_t string_bytes = 0;
};

/// Measures a document iteratively (nothing here may recurse on untrusted nesting), stopping
/// as soon as the nesting exceeds `limit`.
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

/// A short rendering of a value for messages (never the whole of a large value).
std::string describe(const json& j) {
  if (j.is_object()) return "an object";
  if (j.is_array()) return "an array of " + std::to_string(j.size()) + " items";
  std::string s = j.dump(-1, ' ', false, json::error_handler_t::replace);
  if (s.size() > 48) s = s.substr(0, 45) + "...";
  return s;
}

std::string render(const json& j, std::size_t max = 64) {
  std::string s = j.dump(-1, ' ', false, json::error_handler_t::replace);
  if (s.size() > max) s = s.substr(0, max - 3) + "...";
  return s;
}

std::string unsupported_dialect(const json& value) {
  return "unsupported JSON Schema dialect " + render(value, 200) +
         " in $schema (supported: 2020-12, the default; 2019-09; draft-07; draft-06; draft-04)";
}

/// A JSON string literal for messages; invalid UTF-8 becomes U+FFFD instead of throwing.
std::string quote(const std::string& s) {
  return json(s).dump(-1, ' ', false, json::error_handler_t::replace);
}

/// Messages end up in JSON (errors, logs): make them valid UTF-8 whatever the input held.
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

/// Three-way numeric comparison, exact for 64-bit integers of either sign.
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

/// x is an integer multiple of divisor (> 0), decided on the decimal values, so 0.3 is a multiple
/// of 0.1 and 1e308 of 0.5 but not of 0.123456789.
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

/// The representation used to find duplicates for `uniqueItems`: equal JSON values (1 and 1.0
/// included) map to equal strings. Recursion is bounded by max_instance_depth.
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

/// ECMA-262 features std::wregex lacks, rewritten into equivalents: `\s`/`\S` with the
/// Unicode white space and line terminators, `\cX`, `\u{...}` and `\uHHHH` surrogate pairs.
/// `\p{...}` is left alone, so that compiling it fails.
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

struct Regex {
  std::string source;
  std::wregex re;
  std::size_t cost = 1;  ///< estimated automaton states times capture groups, per input character
};

/// Estimates the size of the automaton libstdc++ builds (counted repetitions are expanded), so
/// that matching can be charged to the work budget before it runs.
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

// ----------------------------------------------------------------------------------------------
// Compiled form

enum TypeBits : std::uint8_t {
  kNull = 1,
  kBoolean = 2,
  kObject = 4,
  kArray = 8,
  kNumber = 16,
  kString = 32,
  kInteger = 64,
};

constexpr int kNone = -1;
constexpr int kFalse = -2;  ///< draft-04 `additionalProperties`/`additionalItems: false`

using Named = std::pair<const std::string*, int>;

struct Node {
  std::string pointer;  ///< location in the document, for compile-time messages
  Dialect dialect = Dialect::d2020;
  int resource = 0;
  bool is_bool = false;
  bool bool_value = true;

  std::uint8_t types = 0;  ///< 0: no `type`
  const json* const_value = nullptr;
  const json* enum_values = nullptr;
  const json* multiple_of = nullptr;
  const json* maximum = nullptr;
  const json* exclusive_maximum = nullptr;
  const json* minimum = nullptr;
  const json* exclusive_minimum = nullptr;
  std::optional<std::uint64_t> min_length, max_length, min_items, max_items, min_properties, max_properties,
      min_contains, max_contains;
  int pattern = kNone;
  bool unique_items = false;
  std::vector<const std::string*> required;
  std::vector<std::pair<const std::string*, std::vector<const std::string*>>> dependent_required;

  int ref = kNone;
  int dynamic_ref = kNone;   ///< static target of `$dynamicRef` / `$recursiveRef`
  std::string dynamic_name;  ///< anchor name for a bookended `$dynamicRef`
  bool dynamic_bookend = false;
  bool recursive_ref = false;  ///< the dynamic reference is a 2019-09 `$recursiveRef`
  std::vector<int> all_of, any_of, one_of;
  int not_ = kNone, if_ = kNone, then_ = kNone, else_ = kNone;
  std::vector<Named> properties;                        ///< sorted by name
  std::vector<std::pair<int, int>> pattern_properties;  ///< regex, node
  int additional_properties = kNone;
  int property_names = kNone;
  std::vector<Named> dependent_schemas;
  std::vector<int> prefix_items;
  int items = kNone;                 ///< applies to indices >= prefix_items.size()
  bool items_is_additional = false;  ///< annotation semantics of 2019-09 `additionalItems`
  int contains = kNone;
  int unevaluated_properties = kNone;
  int unevaluated_items = kNone;
};

struct Resource {
  std::string uri;
  std::string pointer;
  Dialect dialect = Dialect::d2020;
  int root_node = kNone;
  bool recursive_anchor = false;
  std::unordered_map<std::string, std::string> dynamic_anchors;  ///< name -> pointer
  std::unordered_map<std::string, int> dynamic_nodes;            ///< name -> node
};

}  // namespace

struct SchemaValidator::Impl {
  json doc;
  SchemaLimits limits;
  Dialect dialect = Dialect::d2020;
  std::string dialect_uri;
  std::vector<Node> nodes;
  std::vector<Resource> resources;
  std::vector<Regex> regexes;
};

namespace {

// ----------------------------------------------------------------------------------------------
// Compiler

class Compiler {
 public:
  explicit Compiler(SchemaValidator::Impl& impl) : impl_(impl), lim_(impl.limits) {}

  void run() {
    const json& root = impl_.doc;
    if (!root.is_object() && !root.is_boolean()) {
      fail(std::string("a schema must be an object or a boolean, got ") + type_name(root));
    }
    Dialect d = Dialect::d2020;
    if (root.is_object()) {
      if (const auto it = root.find("$schema"); it != root.end()) {
        if (!it->is_string()) fail("$schema must be a string");
        const auto found = dialect_of(it->get_ref<const std::string&>());
        if (!found) fail(unsupported_dialect(*it));
        d = *found;
      }
    }
    impl_.dialect = d;
    impl_.dialect_uri = dialect_uri(d);
    Resource r0;
    r0.uri = kDefaultBase;
    r0.dialect = d;
    impl_.resources.push_back(std::move(r0));
    resource_by_uri_[kDefaultBase] = 0;
    scan(root, "", kDefaultBase, 0, d, 0);

    for (std::size_t i = 0; i < entries_.size(); ++i) compile_node(i);
    for (Resource& r : impl_.resources) {
      r.root_node = node_at(r.pointer);
      for (const auto& [name, ptr] : r.dynamic_anchors) r.dynamic_nodes[name] = node_at(ptr);
    }
    check_cycles();
  }

 private:
  struct Entry {
    std::string pointer;
    const json* node;
    std::string base;
    int resource;
    Dialect dialect;
  };

  SchemaValidator::Impl& impl_;
  const SchemaLimits& lim_;
  std::vector<Entry> entries_;
  std::unordered_map<std::string, int> by_pointer_;
  std::unordered_map<std::string, int> resource_by_uri_;
  std::unordered_map<std::string, std::string> anchors_;  ///< "uri#name" -> pointer
  std::unordered_map<std::string, int> regex_by_source_;
  std::size_t count_ = 0;

  // --- pass 1: locations, identifiers, anchors -------------------------------------------------

  void scan(const json& node, const std::string& ptr, std::string base, int res, Dialect d,
            std::size_t depth) {
    if (depth > lim_.max_depth) {
      fail("schema nesting exceeds " + std::to_string(lim_.max_depth) + " levels at " + where(ptr));
    }
    if (by_pointer_.count(ptr)) return;
    if (++count_ > lim_.max_subschemas) {
      fail("schema has more than " + std::to_string(lim_.max_subschemas) + " subschemas");
    }
    if (node.is_boolean()) {
      if (d == Dialect::d4) fail("boolean schema at " + where(ptr) + " is not allowed in draft-04");
      add_entry(ptr, node, base, res, d);
      return;
    }
    if (!node.is_object()) {
      fail("expected a schema (object or boolean) at " + where(ptr) + ", got " + type_name(node));
    }
    if (!ptr.empty()) {
      if (const auto it = node.find("$schema"); it != node.end()) {
        if (!it->is_string()) fail("$schema at " + where(ptr) + " must be a string");
        const auto found = dialect_of(it->get_ref<const std::string&>());
        if (!found) fail(unsupported_dialect(*it) + " at " + where(ptr));
        d = *found;
      }
    }
    const bool ref_only = d <= Dialect::d7 && node.contains("$ref");
    const char* id_keyword = d == Dialect::d4 ? "id" : "$id";
    if (const auto it = node.find(id_keyword); it != node.end() && !ref_only) {
      if (!it->is_string()) fail(std::string(id_keyword) + " at " + where(ptr) + " must be a string");
      Uri id = parse_uri(it->get_ref<const std::string&>());
      const std::string fragment = id.fragment;
      id.has_fragment = false;
      id.fragment.clear();
      const std::string doc_part = to_string(id);
      if (d >= Dialect::d2019 && !fragment.empty()) {
        fail("$id at " + where(ptr) + " must not contain a fragment (use $anchor)");
      }
      if (!doc_part.empty()) {
        base = split_fragment(resolve_uri(base, doc_part)).first;
        const auto found = resource_by_uri_.find(base);
        if (ptr.empty()) {
          impl_.resources[0].uri = base;
          resource_by_uri_[base] = 0;
        } else if (found != resource_by_uri_.end()) {
          if (impl_.resources[std::size_t(found->second)].pointer != ptr) {
            fail("duplicate $id \"" + base + "\" at " + where(ptr));
          }
          res = found->second;
        } else {
          Resource r;
          r.uri = base;
          r.pointer = ptr;
          r.dialect = d;
          res = static_cast<int>(impl_.resources.size());
          impl_.resources.push_back(std::move(r));
          resource_by_uri_[base] = res;
        }
      }
      if (d <= Dialect::d7 && !fragment.empty() && fragment[0] != '/') {
        add_anchor(base, fragment, ptr);
      }
    }
    if (d >= Dialect::d2019) {
      if (const auto it = node.find("$anchor"); it != node.end()) {
        add_anchor(base, anchor_name(*it, "$anchor", ptr), ptr);
      }
      if (d == Dialect::d2020) {
        if (const auto it = node.find("$dynamicAnchor"); it != node.end()) {
          const std::string name = anchor_name(*it, "$dynamicAnchor", ptr);
          add_anchor(base, name, ptr);
          impl_.resources[std::size_t(res)].dynamic_anchors.emplace(name, ptr);
        }
      } else if (const auto it = node.find("$recursiveAnchor"); it != node.end()) {
        if (!it->is_boolean()) fail("$recursiveAnchor at " + where(ptr) + " must be a boolean");
        if (it->get<bool>() && impl_.resources[std::size_t(res)].pointer == ptr) {
          impl_.resources[std::size_t(res)].recursive_anchor = true;
        }
      }
    }
    add_entry(ptr, node, base, res, d);
    for_each_subschema(node, ptr, d, [&](const json& child, const std::string& child_ptr) {
      scan(child, child_ptr, base, res, d, depth + 1);
    });
  }

  void add_entry(const std::string& ptr, const json& node, const std::string& base, int res, Dialect d) {
    by_pointer_[ptr] = static_cast<int>(entries_.size());
    entries_.push_back(Entry{ptr, &node, base, res, d});
  }

  static std::string anchor_name(const json& v, const char* keyword, const std::string& ptr) {
    if (!v.is_string()) fail(std::string(keyword) + " at " + where(ptr) + " must be a string");
    const std::string& s = v.get_ref<const std::string&>();
    const bool ok = !s.empty() && (std::isalpha(static_cast<unsigned char>(s[0])) || s[0] == '_') &&
                    std::all_of(s.begin(), s.end(), [](char c) {
                      return std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '-' || c == '.';
                    });
    if (!ok) fail(std::string(keyword) + " \"" + s + "\" at " + where(ptr) + " is not a valid name");
    return s;
  }

  void add_anchor(const std::string& base, const std::string& name, const std::string& ptr) {
    const auto [it, inserted] = anchors_.emplace(base + "#" + name, ptr);
    if (!inserted && it->second != ptr) {
      fail("duplicate anchor \"" + name + "\" at " + where(ptr));
    }
  }

  /// Whether `dependencies` is read: always before 2019-09 (where it must be an object), and
  /// afterwards, for compatibility, only when it has the old shape (arrays of names or schemas).
  static bool read_dependencies(const json& node, Dialect d, const std::string& ptr) {
    const auto it = node.find("dependencies");
    if (it == node.end()) return false;
    if (d <= Dialect::d7) {
      if (!it->is_object()) fail("'dependencies' at " + where(ptr) + " must be an object");
      return true;
    }
    if (!it->is_object()) return false;
    return std::all_of(it->begin(), it->end(), [](const json& v) {
      return v.is_object() || v.is_boolean() ||
             (v.is_array() && std::all_of(v.begin(), v.end(), [](const json& e) { return e.is_string(); }));
    });
  }

  /// Calls fn(child, pointer) for every subschema position of `node` in dialect `d`, checking
  /// the shape of each applicator keyword on the way.
  template <class Fn>
  void for_each_subschema(const json& node, const std::string& ptr, Dialect d, Fn&& fn) {
    auto single = [&](const char* kw) {
      if (const auto it = node.find(kw); it != node.end()) fn(*it, append(ptr, kw));
    };
    auto array = [&](const char* kw) {
      const auto it = node.find(kw);
      if (it == node.end()) return;
      if (!it->is_array() || it->empty()) {
        fail(std::string("'") + kw + "' at " + where(ptr) + " must be a non-empty array of schemas");
      }
      const std::string base = append(ptr, kw);
      for (std::size_t i = 0; i < it->size(); ++i) fn((*it)[i], base + "/" + std::to_string(i));
    };
    auto map = [&](const char* kw, bool strict) {
      const auto it = node.find(kw);
      if (it == node.end()) return;
      if (!it->is_object()) {
        if (!strict) return;
        fail(std::string("'") + kw + "' at " + where(ptr) + " must be an object of schemas");
      }
      if (!strict) {
        for (const auto& v : *it) {
          if (!v.is_object() && !v.is_boolean()) return;  // not a schema container after all
        }
      }
      const std::string base = append(ptr, kw);
      for (const auto& [k, v] : it->items()) fn(v, append(base, k));
    };
    // Containers are scanned even beside a draft-07 `$ref` (which ignores its siblings): the
    // `{"$ref": "#/definitions/x", "definitions": {...}}` shape is what generators emit.
    map("$defs", d >= Dialect::d2019);
    map("definitions", d <= Dialect::d7);
    if (d <= Dialect::d7 && node.contains("$ref")) return;

    const bool d4 = d == Dialect::d4;
    if (const auto it = node.find("additionalProperties"); it != node.end() && !(d4 && it->is_boolean())) {
      fn(*it, append(ptr, "additionalProperties"));
    }
    single("not");
    array("allOf");
    array("anyOf");
    array("oneOf");
    map("properties", true);
    map("patternProperties", true);
    if (d >= Dialect::d6) {
      single("propertyNames");
      single("contains");
    }
    if (d >= Dialect::d7) {
      single("if");
      single("then");
      single("else");
    }
    if (d >= Dialect::d2019) {
      map("dependentSchemas", true);
      single("unevaluatedProperties");
      single("unevaluatedItems");
    }
    // `dependencies` was split in 2019-09; it stays honoured there for compatibility (the
    // test suite's optional "dependencies-compatibility"), when it has the old shape.
    if (read_dependencies(node, d, ptr)) {
      const std::string base = append(ptr, "dependencies");
      for (const auto& [k, v] : node.at("dependencies").items()) {
        if (!v.is_array()) fn(v, append(base, k));
      }
    }
    if (d == Dialect::d2020) array("prefixItems");
    if (const auto it = node.find("items"); it != node.end()) {
      if (it->is_array()) {
        // An empty array is valid in draft-04..2019-09 tuple form.
        const std::string base = append(ptr, "items");
        for (std::size_t i = 0; i < it->size(); ++i) fn((*it)[i], base + "/" + std::to_string(i));
      } else {
        fn(*it, append(ptr, "items"));
      }
    }
    const bool additional_items = d != Dialect::d2020 || (node.contains("items") && node["items"].is_array());
    if (additional_items) {
      if (const auto it = node.find("additionalItems"); it != node.end() && !(d4 && it->is_boolean())) {
        fn(*it, append(ptr, "additionalItems"));
      }
    }
  }

  // --- references ---------------------------------------------------------------------------------

  /// The node a reference resolves to, scanning the target first if it lies outside the
  /// locations pass 1 knew to be schemas.
  int resolve_reference(const std::string& ref, const Entry& at, const char* keyword) {
    const std::string absolute = resolve_uri(at.base, ref);
    const auto [doc, raw_fragment] = split_fragment(absolute);
    const auto res = resource_by_uri_.find(doc);
    if (res == resource_by_uri_.end()) {
      fail(std::string(keyword) + " \"" + ref + "\" at " + where(at.pointer) +
           " does not resolve within the schema document; external references are never fetched");
    }
    const Resource& resource = impl_.resources[std::size_t(res->second)];
    const auto fragment = percent_decode(raw_fragment);
    if (!fragment) fail(std::string(keyword) + " \"" + ref + "\" at " + where(at.pointer) + " is malformed");
    std::string target;
    if (fragment->empty() || (*fragment)[0] == '/') {
      const auto tokens = parse_pointer(*fragment);
      if (!tokens) fail(std::string(keyword) + " \"" + ref + "\" at " + where(at.pointer) + " is malformed");
      target = resource.pointer;
      for (const std::string& t : *tokens) target = append(target, t);
    } else {
      const auto it = anchors_.find(doc + "#" + *fragment);
      if (it == anchors_.end()) {
        fail(std::string(keyword) + " \"" + ref + "\" at " + where(at.pointer) + " names an unknown anchor");
      }
      target = it->second;
    }
    if (const auto it = by_pointer_.find(target); it != by_pointer_.end()) return it->second;
    const auto tokens = parse_pointer(target);
    const json* node = tokens ? navigate(&impl_.doc, *tokens) : nullptr;
    if (!node) {
      fail(std::string(keyword) + " \"" + ref + "\" at " + where(at.pointer) +
           " points to a missing location");
    }
    scan(*node, target, resource.uri, res->second, resource.dialect, 0);
    return by_pointer_.at(target);
  }

  int node_at(const std::string& ptr) const {
    const auto it = by_pointer_.find(ptr);
    return it == by_pointer_.end() ? kNone : it->second;
  }

  int child(const std::string& ptr) const {
    const int i = node_at(ptr);
    if (i == kNone) fail("internal error: unscanned subschema at " + where(ptr));
    return i;
  }

  // --- pass 2: nodes ------------------------------------------------------------------------------

  std::uint64_t non_negative(const json& v, const char* kw, const std::string& ptr) {
    if (!v.is_number() || !is_integral(v) || compare_numbers(v, json(0)) < 0) {
      fail(std::string("'") + kw + "' at " + where(ptr) + " must be a non-negative integer");
    }
    if (v.is_number_float()) {
      const double d = v.get<double>();
      return d >= 1.8e19 ? std::numeric_limits<std::uint64_t>::max() : static_cast<std::uint64_t>(d);
    }
    return v.get<std::uint64_t>();
  }

  const json* number(const json& v, const char* kw, const std::string& ptr) {
    if (!v.is_number()) fail(std::string("'") + kw + "' at " + where(ptr) + " must be a number");
    return &v;
  }

  static std::vector<const std::string*> string_list(const json& v, const std::string& what,
                                                     const std::string& ptr) {
    if (!v.is_array()) fail(what + " at " + where(ptr) + " must be an array of strings");
    std::vector<const std::string*> out;
    for (const auto& e : v) {
      if (!e.is_string()) fail(what + " at " + where(ptr) + " must be an array of strings");
      out.push_back(&e.get_ref<const std::string&>());
    }
    return out;
  }

  int regex(const std::string& source, const std::string& ptr) {
    if (const auto it = regex_by_source_.find(source); it != regex_by_source_.end()) return it->second;
    if (source.size() > lim_.max_pattern_bytes) {
      fail("regular expression at " + where(ptr) + " is longer than " +
           std::to_string(lim_.max_pattern_bytes) + " bytes");
    }
    Regex r;
    r.source = source;
    const std::wstring wide = translate_pattern(widen(source));
    r.cost = estimate_regex_cost(wide);
    try {
      auto flags = std::regex_constants::ECMAScript;
#if defined(__GLIBCXX__)
      // Thompson-style (breadth-first) matching: time linear in the input, no recursion per
      // character (the default executor overflows the stack on long inputs).
      flags |= std::regex_constants::__polynomial;
#endif
      r.re = std::wregex(wide, flags);
    } catch (const std::regex_error& e) {
      fail("unsupported or invalid regular expression " + quote(source) + " at " + where(ptr) + " (" +
           e.what() + ")");
    }
    const int index = static_cast<int>(impl_.regexes.size());
    impl_.regexes.push_back(std::move(r));
    regex_by_source_.emplace(source, index);
    return index;
  }

  void compile_node(std::size_t index) {
    const Entry e = entries_[index];  // copy: resolving references may grow entries_
    if (impl_.nodes.size() <= index) impl_.nodes.resize(index + 1);
    Node n;
    n.pointer = e.pointer;
    n.dialect = e.dialect;
    n.resource = e.resource;
    const json& o = *e.node;
    const std::string& ptr = e.pointer;
    const Dialect d = e.dialect;
    if (o.is_boolean()) {
      n.is_bool = true;
      n.bool_value = o.get<bool>();
      impl_.nodes[index] = std::move(n);
      return;
    }
    auto find = [&o](const char* kw) -> const json* {
      const auto it = o.find(kw);
      return it == o.end() ? nullptr : &*it;
    };
    auto sub = [&](const char* kw) { return child(append(ptr, kw)); };

    if (const json* ref = find("$ref")) {
      if (!ref->is_string()) fail("$ref at " + where(ptr) + " must be a string");
      n.ref = resolve_reference(ref->get_ref<const std::string&>(), e, "$ref");
      if (d <= Dialect::d7) {  // siblings of $ref are ignored before 2019-09
        impl_.nodes[index] = std::move(n);
        return;
      }
    }
    if (d == Dialect::d2020) {
      if (const json* ref = find("$dynamicRef")) {
        if (!ref->is_string()) fail("$dynamicRef at " + where(ptr) + " must be a string");
        const std::string& s = ref->get_ref<const std::string&>();
        n.dynamic_ref = resolve_reference(s, e, "$dynamicRef");
        const std::string fragment = split_fragment(resolve_uri(e.base, s)).second;
        const json& target = *entries_[std::size_t(n.dynamic_ref)].node;
        if (!fragment.empty() && fragment[0] != '/' && target.is_object()) {
          const auto it = target.find("$dynamicAnchor");
          if (it != target.end() && it->is_string() && it->get_ref<const std::string&>() == fragment) {
            n.dynamic_bookend = true;
            n.dynamic_name = fragment;
          }
        }
      }
    } else if (d == Dialect::d2019) {
      if (const json* ref = find("$recursiveRef")) {
        if (!ref->is_string() || ref->get_ref<const std::string&>() != "#") {
          fail("$recursiveRef at " + where(ptr) + " must be \"#\"");
        }
        n.dynamic_ref = resolve_reference("#", e, "$recursiveRef");
        n.recursive_ref = true;
        const json& target = *entries_[std::size_t(n.dynamic_ref)].node;
        if (target.is_object()) {
          const auto it = target.find("$recursiveAnchor");
          n.dynamic_bookend = it != target.end() && it->is_boolean() && it->get<bool>();
        }
      }
    }

    // Assertions.
    if (const json* t = find("type")) {
      auto bit = [&](const json& name) -> std::uint8_t {
        if (name.is_string()) {
          const std::string& s = name.get_ref<const std::string&>();
          if (s == "null") return kNull;
          if (s == "boolean") return kBoolean;
          if (s == "object") return kObject;
          if (s == "array") return kArray;
          if (s == "number") return kNumber;
          if (s == "string") return kString;
          if (s == "integer") return kInteger;
        }
        fail("'type' at " + where(ptr) + " names an unknown type " + render(name));
      };
      if (t->is_array()) {
        for (const auto& name : *t) n.types |= bit(name);
        if (t->empty()) fail("'type' at " + where(ptr) + " must not be an empty array");
      } else {
        n.types = bit(*t);
      }
    }
    if (const json* v = find("enum")) {
      if (!v->is_array()) fail("'enum' at " + where(ptr) + " must be an array");
      n.enum_values = v;
    }
    if (d >= Dialect::d6) {
      if (const json* v = find("const")) n.const_value = v;
    }
    if (const json* v = find("multipleOf")) {
      n.multiple_of = number(*v, "multipleOf", ptr);
      if (compare_numbers(*v, json(0)) <= 0)
        fail("'multipleOf' at " + where(ptr) + " must be greater than 0");
    }
    if (d == Dialect::d4) {
      const json* max = find("maximum");
      const json* min = find("minimum");
      if (max) number(*max, "maximum", ptr);
      if (min) number(*min, "minimum", ptr);
      auto exclusive = [&](const char* kw) {
        const json* v = find(kw);
        if (v && !v->is_boolean())
          fail(std::string("'") + kw + "' at " + where(ptr) + " must be a boolean in draft-04");
        return v && v->get<bool>();
      };
      (exclusive("exclusiveMaximum") ? n.exclusive_maximum : n.maximum) = max;
      (exclusive("exclusiveMinimum") ? n.exclusive_minimum : n.minimum) = min;
    } else {
      if (const json* v = find("maximum")) n.maximum = number(*v, "maximum", ptr);
      if (const json* v = find("minimum")) n.minimum = number(*v, "minimum", ptr);
      if (const json* v = find("exclusiveMaximum")) n.exclusive_maximum = number(*v, "exclusiveMaximum", ptr);
      if (const json* v = find("exclusiveMinimum")) n.exclusive_minimum = number(*v, "exclusiveMinimum", ptr);
    }
    auto count = [&](const char* kw, std::optional<std::uint64_t>& out) {
      if (const json* v = find(kw)) out = non_negative(*v, kw, ptr);
    };
    count("minLength", n.min_length);
    count("maxLength", n.max_length);
    count("minItems", n.min_items);
    count("maxItems", n.max_items);
    count("minProperties", n.min_properties);
    count("maxProperties", n.max_properties);
    if (d >= Dialect::d2019) {
      count("minContains", n.min_contains);
      count("maxContains", n.max_contains);
    }
    if (const json* v = find("pattern")) {
      if (!v->is_string()) fail("'pattern' at " + where(ptr) + " must be a string");
      n.pattern = regex(v->get_ref<const std::string&>(), append(ptr, "pattern"));
    }
    if (const json* v = find("uniqueItems")) {
      if (!v->is_boolean()) fail("'uniqueItems' at " + where(ptr) + " must be a boolean");
      n.unique_items = v->get<bool>();
    }
    if (const json* v = find("required")) n.required = string_list(*v, "'required'", ptr);
    if (d >= Dialect::d2019) {
      if (const json* v = find("dependentRequired")) {
        if (!v->is_object()) fail("'dependentRequired' at " + where(ptr) + " must be an object");
        for (const auto& [k, list] : v->items()) {
          n.dependent_required.emplace_back(&k, string_list(list, "'dependentRequired'", ptr));
        }
      }
    }
    if (const json* v = find("dependencies"); v && read_dependencies(o, d, ptr)) {
      for (const auto& [k, dep] : v->items()) {
        if (dep.is_array()) {
          n.dependent_required.emplace_back(&k, string_list(dep, "'dependencies'", ptr));
        } else {
          n.dependent_schemas.emplace_back(&k, child(append(append(ptr, "dependencies"), k)));
        }
      }
    }

    // Applicators.
    auto list = [&](const char* kw, std::vector<int>& out) {
      if (const json* v = find(kw)) {
        for (std::size_t i = 0; i < v->size(); ++i)
          out.push_back(child(append(ptr, kw) + "/" + std::to_string(i)));
      }
    };
    list("allOf", n.all_of);
    list("anyOf", n.any_of);
    list("oneOf", n.one_of);
    if (find("not")) n.not_ = sub("not");
    if (d >= Dialect::d7 && find("if")) {
      n.if_ = sub("if");
      if (find("then")) n.then_ = sub("then");
      if (find("else")) n.else_ = sub("else");
    }
    if (const json* v = find("properties")) {
      for (const auto& item : v->items()) {
        n.properties.emplace_back(&item.key(), child(append(append(ptr, "properties"), item.key())));
      }
    }
    if (const json* v = find("patternProperties")) {
      for (const auto& item : v->items()) {
        const std::string at = append(append(ptr, "patternProperties"), item.key());
        n.pattern_properties.emplace_back(regex(item.key(), at), child(at));
      }
    }
    if (const json* v = find("additionalProperties")) {
      if (d == Dialect::d4 && v->is_boolean()) {
        n.additional_properties = v->get<bool>() ? kNone : kFalse;
      } else {
        n.additional_properties = sub("additionalProperties");
      }
    }
    if (d >= Dialect::d6 && find("propertyNames")) n.property_names = sub("propertyNames");
    if (d >= Dialect::d2019) {
      if (const json* v = find("dependentSchemas")) {
        for (const auto& item : v->items()) {
          n.dependent_schemas.emplace_back(&item.key(),
                                           child(append(append(ptr, "dependentSchemas"), item.key())));
        }
      }
      if (find("unevaluatedProperties")) n.unevaluated_properties = sub("unevaluatedProperties");
      if (find("unevaluatedItems")) n.unevaluated_items = sub("unevaluatedItems");
    }
    const json* items = find("items");
    if (d == Dialect::d2020 && !(items && items->is_array())) {
      list("prefixItems", n.prefix_items);
      if (items) n.items = sub("items");
    } else if (items && items->is_array()) {
      list("items", n.prefix_items);
      if (const json* v = find("additionalItems")) {
        if (d == Dialect::d4 && v->is_boolean()) {
          n.items = v->get<bool>() ? kNone : kFalse;
        } else {
          n.items = sub("additionalItems");
        }
        n.items_is_additional = true;
      }
    } else if (items) {
      n.items = sub("items");
    }
    if (d >= Dialect::d6 && find("contains")) n.contains = sub("contains");

    std::sort(n.properties.begin(), n.properties.end(),
              [](const Named& a, const Named& b) { return *a.first < *b.first; });
    impl_.nodes[index] = std::move(n);
  }

  // --- pass 3: reference cycles that never reach a value -----------------------------------------

  /// A chain of in-place applicators (`$ref`, `allOf`, `not`, ...) that returns to where it
  /// started evaluates the same instance location forever; reject it, when the root can reach
  /// it, rather than let validate() hit its depth bound on every call.
  void check_cycles() {
    const std::size_t n = impl_.nodes.size();
    auto in_place = [](const Node& s, std::vector<int>& out) {
      out.clear();
      auto add = [&out](int i) {
        if (i >= 0) out.push_back(i);
      };
      add(s.ref);
      add(s.dynamic_ref);
      for (int i : s.all_of) add(i);
      for (int i : s.any_of) add(i);
      for (int i : s.one_of) add(i);
      add(s.not_);
      add(s.if_);
      add(s.then_);
      add(s.else_);
      for (const auto& dep : s.dependent_schemas) add(dep.second);
    };
    auto descending = [](const Node& s, std::vector<int>& out) {
      auto add = [&out](int i) {
        if (i >= 0) out.push_back(i);
      };
      for (const auto& p : s.properties) add(p.second);
      for (const auto& p : s.pattern_properties) add(p.second);
      add(s.additional_properties);
      add(s.property_names);
      for (int i : s.prefix_items) add(i);
      add(s.items);
      add(s.contains);
      add(s.unevaluated_properties);
      add(s.unevaluated_items);
    };

    // Reachable from the root; a `$dynamicRef` may land on any dynamic anchor.
    std::vector<std::uint8_t> reachable(n, 0);
    std::vector<int> todo{0}, children;
    reachable[0] = 1;
    bool dynamic = false;
    while (!todo.empty()) {
      const Node& s = impl_.nodes[std::size_t(todo.back())];
      todo.pop_back();
      dynamic |= s.dynamic_bookend;
      in_place(s, children);
      descending(s, children);
      for (int c : children) {
        if (!reachable[std::size_t(c)]) {
          reachable[std::size_t(c)] = 1;
          todo.push_back(c);
        }
      }
      if (todo.empty() && dynamic) {
        dynamic = false;
        for (const Resource& r : impl_.resources) {
          for (const auto& anchor : r.dynamic_nodes) {
            if (!reachable[std::size_t(anchor.second)]) {
              reachable[std::size_t(anchor.second)] = 1;
              todo.push_back(anchor.second);
            }
          }
          if (r.recursive_anchor && !reachable[std::size_t(r.root_node)]) {
            reachable[std::size_t(r.root_node)] = 1;
            todo.push_back(r.root_node);
          }
        }
      }
    }

    // Depth-first over in-place edges only; 0 = unvisited, 1 = on the stack, 2 = done.
    std::vector<std::uint8_t> state(n, 0);
    struct Frame {
      int node;
      std::vector<int> children;
      std::size_t next;
    };
    for (std::size_t start = 0; start < n; ++start) {
      if (state[start] || !reachable[start]) continue;
      std::vector<Frame> stack;
      in_place(impl_.nodes[start], children);
      stack.push_back(Frame{static_cast<int>(start), children, 0});
      state[start] = 1;
      while (!stack.empty()) {
        Frame& f = stack.back();
        if (f.next == f.children.size()) {
          state[std::size_t(f.node)] = 2;
          stack.pop_back();
          continue;
        }
        const int c = f.children[f.next++];
        if (state[std::size_t(c)] == 1) {
          fail("reference cycle at " + where(impl_.nodes[std::size_t(c)].pointer) +
               " never descends into the instance: the schema would recurse forever");
        }
        if (state[std::size_t(c)] == 0) {
          state[std::size_t(c)] = 1;
          in_place(impl_.nodes[std::size_t(c)], children);
          stack.push_back(Frame{c, children, 0});
        }
      }
    }
  }
};

// ----------------------------------------------------------------------------------------------
// Evaluation

#if defined(__GNUC__)
#define MCP_COLD __attribute__((noinline, cold))
#define MCP_NOINLINE __attribute__((noinline))
#else
#define MCP_COLD
#define MCP_NOINLINE
#endif

/// What a successful evaluation saw, for `unevaluatedProperties`/`unevaluatedItems`.
struct Annotations {
  std::vector<std::string_view> props;
  bool all_props = false;
  std::size_t items = 0;  ///< indices below this were evaluated
  bool all_items = false;
  std::vector<std::size_t> item_indices;  ///< 2020-12 `contains` matches

  void merge(Annotations&& o) {
    if (props.empty()) {
      props = std::move(o.props);
    } else {
      props.insert(props.end(), o.props.begin(), o.props.end());
    }
    all_props |= o.all_props;
    items = std::max(items, o.items);
    all_items |= o.all_items;
    item_indices.insert(item_indices.end(), o.item_indices.begin(), o.item_indices.end());
  }
};

struct Error {
  std::string path;
  std::string message;
};

/// One validate() pass. The recursive path (eval -> keywords -> object/array/in-place -> eval)
/// keeps its frames small; messages, alternatives and unevaluated* live in separate functions,
/// so that max_eval_depth levels fit in a modest stack.
class Evaluator {
 public:
  Evaluator(const SchemaValidator::Impl& impl, bool report, std::size_t budget)
      : impl_(impl), report_(report), budget_(budget) {}

  bool run(const json& instance) {
    scope_.push_back(0);
    return eval(0, instance, nullptr);
  }

  std::vector<Error> errors;

 private:
  static constexpr std::size_t kMaxErrors = 3;

  struct Segment {
    const std::string* key;
    std::size_t index;
  };

  const SchemaValidator::Impl& impl_;
  const bool report_;
  const std::size_t budget_;
  std::size_t steps_ = 0;
  std::size_t depth_ = 0;
  int silent_ = 0;
  std::vector<Segment> path_;
  std::vector<int> scope_;  ///< dynamic scope: resources entered, outermost first

  struct PathGuard {
    std::vector<Segment>& path;
    PathGuard(std::vector<Segment>& p, const std::string* key, std::size_t index) : path(p) {
      path.push_back(Segment{key, index});
    }
    ~PathGuard() { path.pop_back(); }
  };

  struct Frame {  ///< depth and dynamic scope of one eval()
    Evaluator& ev;
    bool entered;
    ~Frame() {
      --ev.depth_;
      if (entered) ev.scope_.pop_back();
    }
  };

  void charge(std::size_t units) {
    steps_ += units;
    if (steps_ > budget_) out_of_budget();
  }

  [[noreturn]] MCP_COLD void out_of_budget() const {
    throw Abort{"validation abandoned: the work budget of " + std::to_string(budget_) +
                " steps is exhausted (schema or instance too expensive to check)"};
  }

  [[noreturn]] MCP_COLD void too_deep() const {
    throw Abort{"validation abandoned: subschemas nest deeper than " +
                std::to_string(impl_.limits.max_eval_depth) + " levels (recursive schema too deep)"};
  }

  std::string pointer() const {
    std::string p;
    for (const Segment& s : path_) {
      p += '/';
      p += s.key ? escape_token(*s.key) : std::to_string(s.index);
    }
    return p;
  }

  bool recording() const { return report_ && silent_ == 0; }
  /// After a failed assertion: evaluate the rest (to report more errors) or stop now.
  bool keep_going() const { return recording() && errors.size() < kMaxErrors; }

  MCP_COLD void error(std::string message) {
    if (recording() && errors.size() < kMaxErrors) errors.push_back(Error{pointer(), std::move(message)});
  }

  /// Records the message `make()` builds, only when recording (building it costs). The
  /// building happens in a separate cold frame, so message temporaries never enlarge the frames
  /// of the recursive path.
  template <class Make>
  void report(const Make& make) {
    if (recording() && errors.size() < kMaxErrors) report_cold(make);
  }
  template <class Make>
  MCP_COLD void report_cold(const Make& make) {
    error(make());
  }

  bool is_false(int node) const {
    return node == kFalse || (node >= 0 && impl_.nodes[std::size_t(node)].is_bool &&
                              !impl_.nodes[std::size_t(node)].bool_value);
  }

  MCP_NOINLINE bool matches(int regex, const std::string& s) {
    const Regex& r = impl_.regexes[std::size_t(regex)];
    const std::size_t len = code_points(s) + 1;
    charge(1 + saturating_mul(len, r.cost) / 16);
    const std::wstring w = widen(s);
    return std::regex_search(w, r.re);
  }

  /// Evaluates `node` silently (its failures are expected, e.g. the `if` of if/then/else).
  bool test(int node, const json& inst, Annotations* ann) {
    ++silent_;
    struct Unsilence {
      int& s;
      ~Unsilence() { --s; }
    } unsilence{silent_};
    return eval(node, inst, ann);
  }

  /// Evaluates one alternative of anyOf/oneOf/propertyNames, capturing its errors in
  /// `captured` when reporting.
  MCP_NOINLINE bool alternative(int node, const json& inst, Annotations* ann, std::vector<Error>& captured) {
    if (!recording()) return eval(node, inst, ann);
    std::vector<Error> saved;
    saved.swap(errors);
    bool ok = false;
    try {
      ok = eval(node, inst, ann);
    } catch (...) {
      errors.swap(saved);
      throw;
    }
    captured = std::move(errors);
    errors = std::move(saved);
    return ok;
  }

  /// The first error of the alternative that got furthest: the deepest path, and on a tie one
  /// whose type matched (a type mismatch means the alternative is for another kind of value).
  static std::string closest(const std::vector<std::vector<Error>>& branches) {
    const Error* best = nullptr;
    auto score = [](const Error& e) {
      return e.path.size() * 2 + (e.message.rfind("expected ", 0) == 0 ? 0 : 1);
    };
    for (const auto& b : branches) {
      if (!b.empty() && (!best || score(b.front()) > score(*best))) best = &b.front();
    }
    if (!best) return {};
    return "; closest: " + (best->path.empty() ? std::string("(root)") : best->path) + ": " + best->message;
  }

  int dynamic_target(const Node& s) const {
    if (!s.dynamic_bookend) return s.dynamic_ref;
    for (int r : scope_) {
      const Resource& res = impl_.resources[std::size_t(r)];
      if (s.recursive_ref) {
        if (res.recursive_anchor) return res.root_node;
      } else if (const auto it = res.dynamic_nodes.find(s.dynamic_name); it != res.dynamic_nodes.end()) {
        return it->second;
      }
    }
    return s.dynamic_ref;
  }

  static bool has_in_place(const Node& s) {
    return s.ref != kNone || s.dynamic_ref != kNone || !s.all_of.empty() || !s.any_of.empty() ||
           !s.one_of.empty() || s.not_ != kNone || s.if_ != kNone || !s.dependent_schemas.empty();
  }

  bool eval(int index, const json& inst, Annotations* ann);
  MCP_NOINLINE bool keywords(const Node& s, const json& inst, Annotations* a);
  MCP_NOINLINE bool unevaluated(const Node& s, const json& inst, Annotations* ann);
  MCP_NOINLINE bool check_value(const Node& s, const json& inst);
  bool type_matches(const Node& s, const json& inst);
  MCP_NOINLINE bool check_object(const Node& s, const json& inst);
  MCP_NOINLINE bool check_array(const Node& s, const json& inst);
  MCP_NOINLINE bool in_place(const Node& s, const json& inst, Annotations* a);
  MCP_NOINLINE bool any_of(const Node& s, const json& inst, Annotations* a);
  MCP_NOINLINE bool one_of(const Node& s, const json& inst, Annotations* a);
  MCP_NOINLINE bool property_name(const Node& s, const std::string& key);
  MCP_NOINLINE bool members(const Node& s, const json& inst, Annotations* a);
  MCP_NOINLINE bool elements(const Node& s, const json& inst, Annotations* a);
  MCP_NOINLINE bool contains(const Node& s, const json& inst, Annotations* a);
  bool unique(const json& inst);
  MCP_COLD void type_error(const Node& s, const json& inst);
};

#define FAILED()                     \
  do {                               \
    ok = false;                      \
    if (!keep_going()) return false; \
  } while (0)

bool Evaluator::eval(int index, const json& inst, Annotations* ann) {
  if (index == kFalse) {
    error("no value is allowed here");
    return false;
  }
  const Node& s = impl_.nodes[std::size_t(index)];
  if (depth_ >= impl_.limits.max_eval_depth) too_deep();
  charge(1);
  if (s.is_bool) {
    if (!s.bool_value) error("no value is allowed here (the schema is false)");
    return s.bool_value;
  }
  ++depth_;
  const bool enter = s.resource != scope_.back();
  if (enter) scope_.push_back(s.resource);
  Frame frame{*this, enter};
  if (s.unevaluated_properties != kNone || s.unevaluated_items != kNone) return unevaluated(s, inst, ann);
  return keywords(s, inst, ann);
}

bool Evaluator::keywords(const Node& s, const json& inst, Annotations* a) {
  if (s.types && !type_matches(s, inst)) {
    if (recording()) type_error(s, inst);
    return false;  // the other keywords' complaints would only be noise
  }
  bool ok = true;
  if (!check_value(s, inst)) FAILED();
  if (inst.is_object()) {
    if (!check_object(s, inst)) FAILED();
    if (!members(s, inst, a)) FAILED();
  } else if (inst.is_array()) {
    if (!check_array(s, inst)) FAILED();
    if (!elements(s, inst, a)) FAILED();
  }
  if (has_in_place(s) && !in_place(s, inst, a)) FAILED();
  return ok;
}

// unevaluatedProperties / unevaluatedItems see the annotations of every other keyword of the
// schema and of its in-place subschemas; when something already failed the schema fails anyway
// (and the annotations are incomplete), so they are not applied.
bool Evaluator::unevaluated(const Node& s, const json& inst, Annotations* ann) {
  Annotations local;
  bool ok = keywords(s, inst, &local);
  if (!ok) return false;
  if (s.unevaluated_properties != kNone && inst.is_object() && !local.all_props) {
    std::sort(local.props.begin(), local.props.end());
    for (auto member = inst.begin(); member != inst.end(); ++member) {
      const std::string& key = member.key();
      const json& value = *member;
      if (std::binary_search(local.props.begin(), local.props.end(), std::string_view(key))) continue;
      if (is_false(s.unevaluated_properties)) {
        report([&] { return "unexpected property " + quote(key) + " (unevaluatedProperties)"; });
        FAILED();
        continue;
      }
      PathGuard g(path_, &key, 0);
      if (!eval(s.unevaluated_properties, value, nullptr)) FAILED();
    }
    local.all_props = true;
  }
  if (s.unevaluated_items != kNone && inst.is_array() && !local.all_items) {
    std::sort(local.item_indices.begin(), local.item_indices.end());
    for (std::size_t i = local.items; i < inst.size(); ++i) {
      if (std::binary_search(local.item_indices.begin(), local.item_indices.end(), i)) continue;
      PathGuard g(path_, nullptr, i);
      if (is_false(s.unevaluated_items)) {
        error("unexpected item (unevaluatedItems)");
        FAILED();
        continue;
      }
      if (!eval(s.unevaluated_items, inst[i], nullptr)) FAILED();
    }
    local.all_items = true;
  }
  if (ok && ann) ann->merge(std::move(local));
  return ok;
}

void Evaluator::type_error(const Node& s, const json& inst) {
  std::string expected;
  static constexpr std::pair<std::uint8_t, const char*> kNames[] = {
      {kObject, "object"},   {kArray, "array"},     {kString, "string"}, {kNumber, "number"},
      {kInteger, "integer"}, {kBoolean, "boolean"}, {kNull, "null"}};
  for (const auto& [bit, name] : kNames) {
    if (s.types & bit) expected += (expected.empty() ? "" : " or ") + std::string(name);
  }
  const bool d4_float = s.dialect == Dialect::d4 && inst.is_number_float();
  error("expected " + expected + ", got " + (d4_float ? "number" : type_name(inst)));
}

bool Evaluator::type_matches(const Node& s, const json& inst) {
  if (inst.is_number()) {
    // draft-04 predates "1.0 is an integer"; a float only counts when it is too large to
    // have been parsed as a 64-bit integer (a bignum).
    const bool integer =
        s.dialect == Dialect::d4
            ? inst.is_number_integer() || (is_integral(inst) && std::fabs(inst.get<double>()) >= 9.2e18)
            : is_integral(inst);
    return (s.types & kNumber) || ((s.types & kInteger) && integer);
  }
  const std::uint8_t have = inst.is_null()      ? kNull
                            : inst.is_boolean() ? kBoolean
                            : inst.is_object()  ? kObject
                            : inst.is_array()   ? kArray
                            : inst.is_string()  ? kString
                                                : 0;
  return (have & s.types) != 0;
}

bool Evaluator::check_value(const Node& s, const json& inst) {
  bool ok = true;
  if (s.const_value && !(*s.const_value == inst)) {
    report([&] { return "must equal " + render(*s.const_value) + ", got " + describe(inst); });
    FAILED();
  }
  if (s.enum_values) {
    charge(s.enum_values->size() / 8);
    if (std::find(s.enum_values->begin(), s.enum_values->end(), inst) == s.enum_values->end()) {
      report([&] { return "must be one of " + render(*s.enum_values) + ", got " + describe(inst); });
      FAILED();
    }
  }
  if (inst.is_number_float() && !std::isfinite(inst.get<double>()) &&
      (s.maximum || s.exclusive_maximum || s.minimum || s.exclusive_minimum || s.multiple_of)) {
    // Not JSON (only a program can build it), and no bound holds for it.
    error("must be a finite number");
    FAILED();
  } else if (inst.is_number()) {
    auto bound = [&](const json* limit, bool pass, const char* op) {
      if (!limit || pass) return true;
      report([&] { return std::string("must be ") + op + " " + limit->dump() + ", got " + inst.dump(); });
      return false;
    };
    if (!bound(s.maximum, !s.maximum || compare_numbers(inst, *s.maximum) <= 0, "<=")) FAILED();
    if (!bound(s.exclusive_maximum, !s.exclusive_maximum || compare_numbers(inst, *s.exclusive_maximum) < 0,
               "<"))
      FAILED();
    if (!bound(s.minimum, !s.minimum || compare_numbers(inst, *s.minimum) >= 0, ">=")) FAILED();
    if (!bound(s.exclusive_minimum, !s.exclusive_minimum || compare_numbers(inst, *s.exclusive_minimum) > 0,
               ">"))
      FAILED();
    if (s.multiple_of && !multiple_of(inst, *s.multiple_of)) {
      report([&] { return "must be a multiple of " + s.multiple_of->dump() + ", got " + inst.dump(); });
      FAILED();
    }
  } else if (inst.is_string()) {
    const std::string& str = inst.get_ref<const std::string&>();
    if (s.min_length || s.max_length) {
      const std::size_t len = code_points(str);
      if (s.min_length && len < *s.min_length) {
        report([&] {
          return "must be at least " + std::to_string(*s.min_length) + " characters long, got " +
                 std::to_string(len);
        });
        FAILED();
      }
      if (s.max_length && len > *s.max_length) {
        report([&] {
          return "must be at most " + std::to_string(*s.max_length) + " characters long, got " +
                 std::to_string(len);
        });
        FAILED();
      }
    }
    if (s.pattern != kNone && !matches(s.pattern, str)) {
      report(
          [&] { return "must match pattern " + render(json(impl_.regexes[std::size_t(s.pattern)].source)); });
      FAILED();
    }
  }
  return ok;
}

bool Evaluator::check_object(const Node& s, const json& inst) {
  bool ok = true;
  for (const std::string* name : s.required) {
    if (!inst.contains(*name)) {
      report([&] { return "missing required property " + quote(*name); });
      FAILED();
    }
  }
  if (s.min_properties && inst.size() < *s.min_properties) {
    report([&] {
      return "must have at least " + std::to_string(*s.min_properties) + " properties, got " +
             std::to_string(inst.size());
    });
    FAILED();
  }
  if (s.max_properties && inst.size() > *s.max_properties) {
    report([&] {
      return "must have at most " + std::to_string(*s.max_properties) + " properties, got " +
             std::to_string(inst.size());
    });
    FAILED();
  }
  for (const auto& [name, deps] : s.dependent_required) {
    if (!inst.contains(*name)) continue;
    for (const std::string* dep : deps) {
      if (!inst.contains(*dep)) {
        report([&] { return "property " + quote(*name) + " requires property " + quote(*dep); });
        FAILED();
      }
    }
  }
  return ok;
}

bool Evaluator::property_name(const Node& s, const std::string& key) {
  const json name(key);
  std::vector<Error> captured;
  if (alternative(s.property_names, name, nullptr, captured)) return true;
  report([&] {
    return "invalid property name " + quote(key) +
           (captured.empty() ? std::string() : ": " + captured.front().message);
  });
  return false;
}

bool Evaluator::members(const Node& s, const json& inst, Annotations* a) {
  if (s.properties.empty() && s.pattern_properties.empty() && s.additional_properties == kNone &&
      s.property_names == kNone) {
    return true;
  }
  bool ok = true;
  for (auto member = inst.begin(); member != inst.end(); ++member) {
    const std::string& key = member.key();
    const json& value = *member;
    charge(1);
    if (s.property_names != kNone && !property_name(s, key)) FAILED();
    bool known = false;
    const auto it = std::lower_bound(s.properties.begin(), s.properties.end(), key,
                                     [](const Named& p, const std::string& k) { return *p.first < k; });
    if (it != s.properties.end() && *it->first == key) {
      known = true;
      PathGuard g(path_, &key, 0);
      if (!eval(it->second, value, nullptr)) FAILED();
    }
    for (const auto& [regex, c] : s.pattern_properties) {
      if (!matches(regex, key)) continue;
      known = true;
      PathGuard g(path_, &key, 0);
      if (!eval(c, value, nullptr)) FAILED();
    }
    if (!known && s.additional_properties != kNone) {
      known = true;
      if (is_false(s.additional_properties)) {
        report([&] { return "unexpected property " + quote(key); });
        FAILED();
      } else {
        PathGuard g(path_, &key, 0);
        if (!eval(s.additional_properties, value, nullptr)) FAILED();
      }
    }
    if (a && known) a->props.emplace_back(key);
  }
  return ok;
}

bool Evaluator::check_array(const Node& s, const json& inst) {
  bool ok = true;
  const std::size_t size = inst.size();
  if (s.min_items && size < *s.min_items) {
    report([&] {
      return "must have at least " + std::to_string(*s.min_items) + " items, got " + std::to_string(size);
    });
    FAILED();
  }
  if (s.max_items && size > *s.max_items) {
    report([&] {
      return "must have at most " + std::to_string(*s.max_items) + " items, got " + std::to_string(size);
    });
    FAILED();
  }
  if (s.unique_items && !unique(inst)) FAILED();
  return ok;
}

bool Evaluator::elements(const Node& s, const json& inst, Annotations* a) {
  bool ok = true;
  const std::size_t size = inst.size();
  const std::size_t prefix = std::min(size, s.prefix_items.size());
  for (std::size_t i = 0; i < prefix; ++i) {
    PathGuard g(path_, nullptr, i);
    if (!eval(s.prefix_items[i], inst[i], nullptr)) FAILED();
  }
  if (a) a->items = std::max(a->items, prefix);
  if (s.items != kNone && size > s.prefix_items.size()) {
    if (s.items == kFalse || (is_false(s.items) && s.items_is_additional)) {
      report([&] {
        return "must have at most " + std::to_string(s.prefix_items.size()) + " items, got " +
               std::to_string(size);
      });
      FAILED();
    } else {
      for (std::size_t i = s.prefix_items.size(); i < size; ++i) {
        PathGuard g(path_, nullptr, i);
        if (!eval(s.items, inst[i], nullptr)) FAILED();
      }
    }
    if (a) a->all_items = true;
  }
  if (s.contains != kNone && !contains(s, inst, a)) FAILED();
  return ok;
}

bool Evaluator::contains(const Node& s, const json& inst, Annotations* a) {
  const bool modern = s.dialect >= Dialect::d2019;
  const std::uint64_t min = modern && s.min_contains ? *s.min_contains : 1;
  const bool has_max = modern && s.max_contains.has_value();
  const std::uint64_t max = has_max ? *s.max_contains : 0;
  const bool collect = a && s.dialect == Dialect::d2020;
  std::uint64_t found = 0;
  for (std::size_t i = 0; i < inst.size(); ++i) {
    PathGuard g(path_, nullptr, i);
    if (test(s.contains, inst[i], nullptr)) {
      ++found;
      if (collect) a->item_indices.push_back(i);
      if (!collect && !has_max && found >= min) break;
    }
  }
  if (found < min) {
    report([&] {
      return "must contain at least " + std::to_string(min) + " item" + (min == 1 ? "" : "s") +
             " matching 'contains', found " + std::to_string(found);
    });
    return false;
  }
  if (has_max && found > max) {
    report([&] {
      return "must contain at most " + std::to_string(max) + " item" + (max == 1 ? "" : "s") +
             " matching 'contains', found " + std::to_string(found);
    });
    return false;
  }
  return true;
}

bool Evaluator::in_place(const Node& s, const json& inst, Annotations* a) {
  bool ok = true;
  if (s.ref != kNone && !eval(s.ref, inst, a)) FAILED();
  if (s.dynamic_ref != kNone && !eval(dynamic_target(s), inst, a)) FAILED();
  for (int c : s.all_of) {
    if (!eval(c, inst, a)) FAILED();
  }
  if (!s.any_of.empty() && !any_of(s, inst, a)) FAILED();
  if (!s.one_of.empty() && !one_of(s, inst, a)) FAILED();
  if (s.not_ != kNone && test(s.not_, inst, nullptr)) {
    error("must not match the schema in 'not'");
    FAILED();
  }
  if (s.if_ != kNone && (s.then_ != kNone || s.else_ != kNone || a)) {
    Annotations t;
    if (test(s.if_, inst, a ? &t : nullptr)) {
      if (a) a->merge(std::move(t));
      if (s.then_ != kNone && !eval(s.then_, inst, a)) FAILED();
    } else if (s.else_ != kNone && !eval(s.else_, inst, a)) {
      FAILED();
    }
  }
  if (inst.is_object()) {
    for (const auto& [name, c] : s.dependent_schemas) {
      if (inst.contains(*name) && !eval(c, inst, a)) FAILED();
    }
  }
  return ok;
}

bool Evaluator::any_of(const Node& s, const json& inst, Annotations* a) {
  bool any = false;
  std::vector<std::vector<Error>> captured(recording() ? s.any_of.size() : 0);
  std::vector<Error> ignored;
  for (std::size_t i = 0; i < s.any_of.size(); ++i) {
    Annotations t;
    if (alternative(s.any_of[i], inst, a ? &t : nullptr, captured.empty() ? ignored : captured[i])) {
      any = true;
      if (!a) break;  // annotations need every passing alternative
      a->merge(std::move(t));
    }
  }
  if (!any) report([&] { return "must match at least one schema in anyOf" + closest(captured); });
  return any;
}

bool Evaluator::one_of(const Node& s, const json& inst, Annotations* a) {
  std::vector<std::size_t> passed;
  std::vector<std::vector<Error>> captured(recording() ? s.one_of.size() : 0);
  std::vector<Error> ignored;
  Annotations kept;
  for (std::size_t i = 0; i < s.one_of.size() && passed.size() < 2; ++i) {
    Annotations t;
    if (alternative(s.one_of[i], inst, a ? &t : nullptr, captured.empty() ? ignored : captured[i])) {
      passed.push_back(i);
      kept = std::move(t);
    }
  }
  if (passed.size() == 1) {
    if (a) a->merge(std::move(kept));
    return true;
  }
  report([&] {
    if (passed.empty()) return "must match exactly one schema in oneOf, but matches none" + closest(captured);
    return "must match exactly one schema in oneOf, but matches #" + std::to_string(passed[0]) + " and #" +
           std::to_string(passed[1]);
  });
  return false;
}

bool Evaluator::unique(const json& inst) {
  const std::size_t size = inst.size();
  if (size < 2) return true;
  auto duplicate = [&](std::size_t i, std::size_t j) {
    report([&] {
      return "items must be unique, but #" + std::to_string(i) + " and #" + std::to_string(j) + " are equal";
    });
    return false;
  };
  if (size <= 8) {
    charge(size * size / 2);
    for (std::size_t i = 0; i < size; ++i) {
      for (std::size_t j = i + 1; j < size; ++j) {
        // Scalars compare by value (1 == 1.0); containers through the canonical form.
        bool equal = false;
        if (inst[i].is_structured() || inst[j].is_structured()) {
          std::string x, y;
          canonical(inst[i], x);
          canonical(inst[j], y);
          equal = x == y;
        } else {
          equal = inst[i] == inst[j];
        }
        if (equal) return duplicate(i, j);
      }
    }
    return true;
  }
  std::unordered_map<std::string, std::size_t> seen;
  seen.reserve(size);
  for (std::size_t i = 0; i < size; ++i) {
    std::string key;
    canonical(inst[i], key);
    charge(1 + key.size() / 64);
    const auto [it, inserted] = seen.emplace(std::move(key), i);
    if (!inserted) return duplicate(it->second, i);
  }
  return true;
}

#undef FAILED

}  // namespace

// ----------------------------------------------------------------------------------------------
// SchemaValidator

SchemaValidator::SchemaValidator(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
SchemaValidator::~SchemaValidator() = default;

const std::string& SchemaValidator::dialect() const noexcept { return impl_->dialect_uri; }

tl::expected<std::shared_ptr<const SchemaValidator>, std::string> SchemaValidator::compile(
    const nlohmann::json& schema, const SchemaLimits& limits) {
  try {
    // Before anything copies or recurses over the document (nlohmann's copy is recursive).
    if (measure(schema, limits.max_document_depth).depth > limits.max_document_depth) {
      return tl::unexpected("schema document nests deeper than " + std::to_string(limits.max_document_depth) +
                            " levels");
    }
    auto impl = std::make_unique<Impl>();
    impl->doc = schema;
    impl->limits = limits;
    Compiler(*impl).run();
    return std::shared_ptr<const SchemaValidator>(new SchemaValidator(std::move(impl)));
  } catch (const CompileError& e) {
    return tl::unexpected(valid_utf8(e.message));
  } catch (const std::exception& e) {
    return tl::unexpected(std::string("cannot compile schema: ") + e.what());
  } catch (...) {
    return tl::unexpected(std::string("cannot compile schema: unknown error"));
  }
}

std::string SchemaValidator::validate(const nlohmann::json& instance) const {
  try {
    const SchemaLimits& lim = impl_->limits;
    const Size size = measure(instance, lim.max_instance_depth);
    if (size.depth > lim.max_instance_depth) {
      return "(root): instance nests deeper than " + std::to_string(lim.max_instance_depth) + " levels";
    }
    // Saturating: base + per_value * values + string bytes.
    constexpr std::size_t kMax = std::numeric_limits<std::size_t>::max();
    std::size_t budget = lim.max_steps_base;
    auto add = [&budget](std::size_t n) { budget = n > kMax - budget ? kMax : budget + n; };
    add(lim.max_steps_per_value && size.values > kMax / lim.max_steps_per_value
            ? kMax
            : size.values * lim.max_steps_per_value);
    add(size.string_bytes);
    if (Evaluator(*impl_, false, budget).run(instance)) return {};
    Evaluator reporting(*impl_, true, budget);
    reporting.run(instance);
    if (reporting.errors.empty()) return "(root): does not match the schema";
    std::string out;
    for (const Error& e : reporting.errors) {
      if (!out.empty()) out += "; ";
      out += e.path.empty() ? "(root)" : e.path;
      out += ": ";
      out += e.message;
    }
    return valid_utf8(out);
  } catch (const Abort& a) {
    return a.message;
  } catch (const std::exception& e) {
    return std::string("validation failed: ") + e.what();
  } catch (...) {
    return "validation failed: unknown error";
  }
}

}  // namespace mcp::detail
