// SPDX-License-Identifier: MIT
// Matching resource URIs against RFC 6570 templates, as far as resource templates use them:
// literals, `{name}` (simple expansion: one path segment) and `{+name}` (reserved expansion:
// anything). Values are percent-decoded.
#include "server_impl.hpp"

#include <cctype>

namespace mcp::server_detail {

namespace {

bool valid_name(std::string_view n) {
  if (n.empty()) return false;
  for (unsigned char ch : n)
    if (!std::isalnum(ch) && ch != '_' && ch != '.') return false;
  return true;
}

int hex(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// Percent-decoding; a malformed escape is kept as written.
std::string decode(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  for (std::size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '%' && i + 2 < s.size()) {
      const int a = hex(s[i + 1]), b = hex(s[i + 2]);
      if (a >= 0 && b >= 0) {
        out += static_cast<char>(a * 16 + b);
        i += 2;
        continue;
      }
    }
    out += s[i];
  }
  return out;
}

}  // namespace

std::optional<UriTemplate> UriTemplate::parse(const std::string& text) {
  UriTemplate t;
  std::size_t i = 0;
  while (i < text.size()) {
    const auto open = text.find('{', i);
    if (text.find('}', i) < open) return std::nullopt;  // a '}' with no '{'
    if (open == std::string::npos) {
      t.parts_.push_back({text.substr(i), {}, false});
      break;
    }
    if (open > i) t.parts_.push_back({text.substr(i, open - i), {}, false});
    const auto close = text.find('}', open);
    if (close == std::string::npos) return std::nullopt;
    std::string_view expr(text.data() + open + 1, close - open - 1);
    Part p;
    if (!expr.empty() && expr.front() == '+') {
      p.reserved = true;
      expr.remove_prefix(1);
    }
    if (!valid_name(expr)) return std::nullopt;  // operators other than '+', lists, modifiers
    // Two variables side by side cannot be told apart.
    if (!t.parts_.empty() && t.parts_.back().literal.empty()) return std::nullopt;
    p.name = std::string(expr);
    t.parts_.push_back(std::move(p));
    i = close + 1;
  }
  return t;
}

bool UriTemplate::has_variable(std::string_view name) const {
  for (const auto& p : parts_)
    if (p.literal.empty() && p.name == name) return true;
  return false;
}

std::optional<std::map<std::string, std::string>> UriTemplate::match(std::string_view uri) const {
  // Dynamic programming from the end: ok[k][p] says whether parts k.. match uri[p..]. A
  // variable's value is the shortest (non-empty) one after which the rest matches; `next[k][p]`
  // is the first end at or after p where the rest (part k + 1..) matches. Linear in parts x
  // length, whatever the template and the URI; URIs over kMaxUri match nothing.
  if (uri.size() > kMaxUri) return std::nullopt;
  const std::size_t n = uri.size(), parts = parts_.size();
  std::vector<std::vector<char>> ok(parts + 1, std::vector<char>(n + 2, 0));
  std::vector<std::vector<std::size_t>> next(parts, std::vector<std::size_t>());
  ok[parts][n] = 1;
  // stop[p]: the first '/', '?' or '#' at or after p (n if none): where a simple value ends.
  std::vector<std::size_t> stop(n + 1, n);
  for (std::size_t p = n; p-- > 0;) stop[p] = (uri[p] == '/' || uri[p] == '?' || uri[p] == '#') ? p : stop[p + 1];
  for (std::size_t k = parts; k-- > 0;) {
    const Part& part = parts_[k];
    if (!part.literal.empty()) {
      const std::size_t len = part.literal.size();
      for (std::size_t p = 0; p + len <= n; ++p) ok[k][p] = ok[k + 1][p + len] && uri.compare(p, len, part.literal) == 0;
      continue;
    }
    // The first e >= p at which parts k + 1.. match.
    auto& first = next[k];
    first.assign(n + 2, n + 1);
    for (std::size_t e = n + 1; e-- > 0;) first[e] = ok[k + 1][e] ? e : first[e + 1];
    for (std::size_t p = 0; p < n; ++p) {
      const std::size_t limit = part.reserved ? n : stop[p];  // the value is uri[p..e)
      ok[k][p] = first[p + 1] <= limit;
    }
  }
  if (!ok[0][0]) return std::nullopt;
  std::map<std::string, std::string> out;
  std::size_t p = 0;
  for (std::size_t k = 0; k < parts; ++k) {
    const Part& part = parts_[k];
    if (!part.literal.empty()) {
      p += part.literal.size();
      continue;
    }
    const std::size_t e = next[k][p + 1];
    out[part.name] = decode(uri.substr(p, e - p));
    p = e;
  }
  return out;
}

}  // namespace mcp::server_detail
