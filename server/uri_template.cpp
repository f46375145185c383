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
  // Matching backtracks; each (part, position) is tried once (`failed` remembers), so the work
  // is bounded by parts x length x candidates, and the length is capped.
  if (uri.size() > kMaxUri) return std::nullopt;
  std::map<std::string, std::string> out;
  std::vector<bool> failed((parts_.size() + 1) * (uri.size() + 1), false);
  if (!match_from(0, uri, uri.size(), failed, out)) return std::nullopt;
  return out;
}

bool UriTemplate::match_from(std::size_t part, std::string_view rest, std::size_t total, std::vector<bool>& failed,
                             std::map<std::string, std::string>& out) const {
  if (part == parts_.size()) return rest.empty();
  const std::size_t state = part * (total + 1) + (total - rest.size());
  if (failed[state]) return false;
  const Part& p = parts_[part];
  bool ok = false;
  if (!p.literal.empty()) {
    ok = rest.substr(0, p.literal.size()) == p.literal &&
         match_from(part + 1, rest.substr(p.literal.size()), total, failed, out);
  } else {
    // A variable: the shortest value (non-empty) after which the rest matches; only where the
    // next literal starts. A simple one stops at '/', '?' or '#'.
    const std::string* next = part + 1 < parts_.size() ? &parts_[part + 1].literal : nullptr;
    for (std::size_t n = 1; n <= rest.size() && !ok; ++n) {
      const char ch = rest[n - 1];
      if (!p.reserved && (ch == '/' || ch == '?' || ch == '#')) break;
      if (next ? rest.compare(n, next->size(), *next) != 0 : n != rest.size()) continue;
      if (match_from(part + 1, rest.substr(n), total, failed, out)) {
        out[p.name] = decode(rest.substr(0, n));
        ok = true;
      }
    }
  }
  if (!ok) failed[state] = true;
  return ok;
}

}  // namespace mcp::server_detail
