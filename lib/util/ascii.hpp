// SPDX-License-Identifier: MIT
#pragma once
// ASCII character helpers, independent of the C locale: HTTP field names and tokens, URL
// schemes and hosts and OAuth parameter names compare case-insensitively in ASCII only.
// Internal linkage (an unnamed namespace), as when each file had its own copy: header parsing
// and the JSON reader call them per byte, and the shared library would otherwise reach the
// token table through the GOT and call what is not inlined through the PLT.
#include <cstddef>
#include <string>
#include <string_view>

namespace mcp::detail {
namespace {  // NOLINT(google-build-namespaces): see above

/// `c` with A-Z mapped to a-z; every other byte as it is.
constexpr char ascii_lower(char c) noexcept { return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c; }

/// `s` with A-Z mapped to a-z.
inline std::string to_lower(std::string_view s) {
  std::string out(s);
  for (auto& c : out) c = ascii_lower(c);
  return out;
}

/// Equal ignoring ASCII case ("Content-Length" and "content-length").
constexpr bool iequals(std::string_view a, std::string_view b) noexcept {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i)
    if (ascii_lower(a[i]) != ascii_lower(b[i])) return false;
  return true;
}

/// 0-9, a-z, A-Z.
constexpr bool is_alnum(char c) noexcept {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
}

/// RFC 9110 5.6.2 token characters (header field names, auth schemes and parameters).
inline constexpr struct TcharTable {
  bool v[256]{};
  constexpr TcharTable() {
    for (int c = '0'; c <= '9'; ++c) v[c] = true;
    for (int c = 'a'; c <= 'z'; ++c) v[c] = v[c - 'a' + 'A'] = true;
    for (const char* p = "!#$%&'*+-.^_`|~"; *p; ++p) v[static_cast<unsigned char>(*p)] = true;
  }
} kTchar;
constexpr bool is_tchar(char c) noexcept { return kTchar.v[static_cast<unsigned char>(c)]; }

/// The value of a hex digit (either case), or -1.
constexpr int hex_value(char c) noexcept {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

}  // namespace
}  // namespace mcp::detail
