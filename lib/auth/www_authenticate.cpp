// SPDX-License-Identifier: MIT
// WWW-Authenticate parsing (RFC 9110 11.6.1, RFC 6750 3, RFC 9728 5.1): the challenges of a
// header and the Bearer (or DPoP) parameters an MCP client acts on.
#include "oauth_util.hpp"

#include "../util/ascii.hpp"

#include <algorithm>
#include <utility>

namespace mcp::detail::oauth {

namespace {

bool is_token68_char(char c) noexcept {
  return is_alnum(c) || c == '-' ||
         c == '.' || c == '_' || c == '~' || c == '+' || c == '/';
}

bool is_ows(char c) noexcept { return c == ' ' || c == '\t'; }

// Cursor over the header; every method advances or reports, so loops terminate.
struct Cursor {
  std::string_view s;
  std::size_t p = 0;
  bool done() const noexcept { return p >= s.size(); }
  char peek() const noexcept { return s[p]; }
  void skip_ows() noexcept { while (!done() && is_ows(s[p])) ++p; }
  void skip_ows_and_commas() noexcept {
    while (!done() && (is_ows(s[p]) || s[p] == ',' || s[p] == '\r' || s[p] == '\n')) ++p;
  }
  std::string_view token() noexcept {
    std::size_t b = p;
    while (!done() && is_tchar(s[p])) ++p;
    return s.substr(b, p - b);
  }
  // Skips to the next comma outside a quoted string (not consuming it).
  void skip_to_comma() noexcept {
    bool quoted = false;
    while (!done()) {
      char c = s[p];
      if (quoted) {
        if (c == '\\') ++p;
        else if (c == '"') quoted = false;
      } else if (c == '"') {
        quoted = true;
      } else if (c == ',') {
        return;
      }
      ++p;
    }
    if (p > s.size()) p = s.size();
  }
  // After an opening quote: reads up to the closing quote, unescaping quoted-pairs.
  std::string quoted_string() {
    std::string out;
    while (!done()) {
      char c = s[p++];
      if (c == '"') return out;
      if (c == '\\' && !done()) c = s[p++];
      out.push_back(c);
    }
    return out;  // unterminated: lenient, ends at the end of the header
  }
  std::string bare_value() {
    std::size_t b = p;
    while (!done() && s[p] != ',' && !is_ows(s[p])) ++p;
    return std::string(s.substr(b, p - b));
  }
};

// Tries "token68 OWS (end|,)" at the cursor; restores the cursor when it is not one.
bool try_token68(Cursor& c, std::string& out) {
  std::size_t b = c.p, q = c.p;
  while (q < c.s.size() && is_token68_char(c.s[q])) ++q;
  if (q == b) return false;
  while (q < c.s.size() && c.s[q] == '=') ++q;
  std::size_t e = q;
  while (q < c.s.size() && is_ows(c.s[q])) ++q;
  if (q < c.s.size() && c.s[q] != ',') return false;
  out.assign(c.s.substr(b, e - b));
  c.p = q;
  return true;
}

// Parses auth-params of one challenge. Stops (cursor at the token) when the next element is
// a new challenge rather than a parameter.
void parse_params(Cursor& c, AuthChallenge& ch) {
  std::size_t count = 0;
  while (true) {
    c.skip_ows_and_commas();
    if (c.done()) return;
    std::size_t start = c.p;
    std::string_view name = c.token();
    if (name.empty()) {  // garbage: skip this element
      c.skip_to_comma();
      if (c.p == start) ++c.p;
      continue;
    }
    c.skip_ows();
    if (c.done() || c.peek() != '=') {
      // A token not followed by '=' starts the next challenge.
      c.p = start;
      return;
    }
    ++c.p;  // '='
    c.skip_ows();
    std::string value;
    if (!c.done() && c.peek() == '"') {
      ++c.p;
      value = c.quoted_string();
    } else {
      value = c.bare_value();
    }
    c.skip_ows();
    if (!c.done() && c.peek() != ',') c.skip_to_comma();  // trailing garbage in this element
    if (count < kMaxParams) {
      ch.params.emplace(to_lower(name), std::move(value));  // emplace: first wins
      ++count;
    }
  }
}

}  // namespace

bool AuthChallenge::is_scheme(std::string_view s) const noexcept { return iequals(scheme, s); }

const std::string* AuthChallenge::param(std::string_view name) const {
  auto it = params.find(to_lower(name));
  return it == params.end() ? nullptr : &it->second;
}

std::vector<AuthChallenge> parse_www_authenticate(std::string_view header) {
  std::vector<AuthChallenge> out;
  Cursor c{header.substr(0, std::min(header.size(), kMaxHeaderBytes))};
  while (true) {
    c.skip_ows_and_commas();
    if (c.done() || out.size() >= kMaxChallenges) break;
    std::size_t start = c.p;
    std::string_view scheme = c.token();
    if (scheme.empty()) {
      c.skip_to_comma();
      if (c.p == start) ++c.p;
      continue;
    }
    AuthChallenge ch;
    ch.scheme = std::string(scheme);
    if (!c.done() && !is_ows(c.peek()) && c.peek() != ',') {
      // e.g. "Bearer=x" or "Bearer\"": not a challenge; drop the element.
      c.skip_to_comma();
      continue;
    }
    c.skip_ows();
    if (!c.done() && c.peek() != ',') {
      if (!try_token68(c, ch.token68)) parse_params(c, ch);
    }
    out.push_back(std::move(ch));
  }
  return out;
}

std::optional<BearerChallenge> find_bearer_challenge(const std::vector<AuthChallenge>& challenges,
                                                    std::string_view scheme) {
  for (const auto& ch : challenges) {
    if (!ch.is_scheme(scheme)) continue;
    BearerChallenge b;
    auto get = [&](std::string_view n) -> std::optional<std::string> {
      if (const auto* v = ch.param(n)) return *v;
      return std::nullopt;
    };
    b.resource_metadata = get("resource_metadata");
    b.scope = get("scope");
    b.error = get("error");
    b.error_description = get("error_description");
    b.realm = get("realm");
    return b;
  }
  return std::nullopt;
}

std::optional<BearerChallenge> parse_bearer_challenge(std::string_view header, std::string_view scheme) {
  return find_bearer_challenge(parse_www_authenticate(header), scheme);
}

}  // namespace mcp::detail::oauth
