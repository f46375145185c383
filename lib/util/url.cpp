// SPDX-License-Identifier: MIT
#include "url.hpp"

#include "ascii.hpp"

#include <algorithm>

namespace mcp::detail {

// ---------------------------------------------------------------------------------------------
// URI references

Uri parse_uri(std::string_view s) {
  Uri u;
  std::size_t i = 0;
  const std::size_t colon = s.find(':');
  if (colon != std::string_view::npos && colon > 0 && is_alnum(s[0]) && !(s[0] >= '0' && s[0] <= '9')) {
    bool ok = true;
    for (std::size_t j = 0; j < colon; ++j)
      if (!is_alnum(s[j]) && s[j] != '+' && s[j] != '-' && s[j] != '.') ok = false;
    if (ok) {
      u.has_scheme = true;
      u.scheme = to_lower(s.substr(0, colon));
      i = colon + 1;
    }
  }
  if (s.substr(i, 2) == "//") {
    i += 2;
    std::size_t e = s.find_first_of("/?#", i);
    if (e == std::string_view::npos) e = s.size();
    u.authority = std::string(s.substr(i, e - i));
    u.has_authority = true;
    i = e;
  }
  std::size_t e = s.find_first_of("?#", i);
  if (e == std::string_view::npos) e = s.size();
  u.path = std::string(s.substr(i, e - i));
  i = e;
  if (i < s.size() && s[i] == '?') {
    e = s.find('#', i);
    if (e == std::string_view::npos) e = s.size();
    u.query = std::string(s.substr(i + 1, e - i - 1));
    u.has_query = true;
    i = e;
  }
  if (i < s.size() && s[i] == '#') {
    u.fragment = std::string(s.substr(i + 1));
    u.has_fragment = true;
  }
  return u;
}

std::string to_string(const Uri& u) {
  std::string r;
  if (u.has_scheme) r += u.scheme + ":";
  if (u.has_authority) r += "//" + u.authority;
  r += u.path;
  if (u.has_query) r += "?" + u.query;
  if (u.has_fragment) r += "#" + u.fragment;
  return r;
}

std::string remove_dot_segments(std::string_view s) {
  std::string out;
  auto pop_last = [&out] {
    const std::size_t p = out.rfind('/');
    out.erase(p == std::string::npos ? 0 : p);
  };
  while (!s.empty()) {
    if (s.substr(0, 3) == "../") {
      s.remove_prefix(3);
    } else if (s.substr(0, 2) == "./") {
      s.remove_prefix(2);
    } else if (s.substr(0, 3) == "/./") {
      s.remove_prefix(2);
    } else if (s == "/.") {
      s = "/";
    } else if (s.substr(0, 4) == "/../") {
      s.remove_prefix(3);
      pop_last();
    } else if (s == "/..") {
      s = "/";
      pop_last();
    } else if (s == "." || s == "..") {
      s = {};
    } else {
      std::size_t end = s.find('/', s[0] == '/' ? 1 : 0);
      if (end == std::string_view::npos) end = s.size();
      out += s.substr(0, end);
      s.remove_prefix(end);
    }
  }
  return out;
}

std::string resolve_uri(const std::string& base, const std::string& ref) {
  const Uri r = parse_uri(ref);
  const Uri b = parse_uri(base);
  Uri t;
  if (r.has_scheme) {
    t = r;
    t.path = remove_dot_segments(r.path);
  } else {
    if (r.has_authority) {
      t.authority = r.authority;
      t.has_authority = true;
      t.path = remove_dot_segments(r.path);
      t.query = r.query;
      t.has_query = r.has_query;
    } else {
      if (r.path.empty()) {
        t.path = b.path;
        t.query = r.has_query ? r.query : b.query;
        t.has_query = r.has_query || b.has_query;
      } else {
        if (r.path[0] == '/') {
          t.path = remove_dot_segments(r.path);
        } else if (b.has_authority && b.path.empty()) {
          t.path = remove_dot_segments("/" + r.path);
        } else {
          const std::size_t slash = b.path.rfind('/');
          t.path =
              remove_dot_segments(slash == std::string::npos ? r.path : b.path.substr(0, slash + 1) + r.path);
        }
        t.query = r.query;
        t.has_query = r.has_query;
      }
      t.authority = b.authority;
      t.has_authority = b.has_authority;
    }
    t.scheme = b.scheme;
    t.has_scheme = b.has_scheme;
  }
  t.fragment = r.fragment;
  t.has_fragment = r.has_fragment;
  return to_string(t);
}

// ---------------------------------------------------------------------------------------------
// Absolute http(s) URLs

Result<UrlParts> split_url(std::string_view url) {
  Uri p = parse_uri(url);
  if (!p.has_scheme || !p.has_authority) return fail(Errc::invalid_config, "URL is not absolute");
  if (p.scheme != "http" && p.scheme != "https") return fail(Errc::invalid_config, "URL scheme must be http or https");
  for (char ch : url)
    if (static_cast<unsigned char>(ch) <= 0x20 || ch == 0x7f)
      return fail(Errc::invalid_config, "URL contains whitespace or control characters");
  UrlParts u;
  u.scheme = std::move(p.scheme);
  u.path = std::move(p.path);
  u.query = std::move(p.query);
  u.has_query = p.has_query;
  u.fragment = std::move(p.fragment);
  u.has_fragment = p.has_fragment;
  std::string_view authority = p.authority;
  if (auto at = authority.rfind('@'); at != std::string_view::npos) {
    u.userinfo = std::string(authority.substr(0, at));
    authority = authority.substr(at + 1);
  }
  std::string_view hostport = authority;
  if (!hostport.empty() && hostport.front() == '[') {
    auto close = hostport.find(']');
    if (close == std::string_view::npos) return fail(Errc::invalid_config, "URL has a malformed IPv6 host");
    u.host = std::string(hostport.substr(0, close + 1));
    hostport = hostport.substr(close + 1);
    if (!hostport.empty()) {
      if (hostport.front() != ':') return fail(Errc::invalid_config, "URL has a malformed port");
      u.port = std::string(hostport.substr(1));
    }
  } else if (auto pc = hostport.find(':'); pc != std::string_view::npos) {
    u.host = std::string(hostport.substr(0, pc));
    u.port = std::string(hostport.substr(pc + 1));
  } else {
    u.host = std::string(hostport);
  }
  if (u.host.empty()) return fail(Errc::invalid_config, "URL has no host");
  if (u.port.size() > 5 || !std::all_of(u.port.begin(), u.port.end(), [](char d) { return d >= '0' && d <= '9'; }))
    return fail(Errc::invalid_config, "URL has a malformed port");
  return u;
}

std::string origin_of(const UrlParts& u) {
  std::string o = u.scheme + "://" + to_lower(u.host);
  bool default_port = (u.scheme == "https" && u.port == "443") || (u.scheme == "http" && u.port == "80");
  if (!u.port.empty() && !default_port) o += ":" + u.port;
  return o;
}

// ---------------------------------------------------------------------------------------------
// Request URLs

std::string Url::origin() const {
  const bool v6 = host.find(':') != std::string::npos;
  return scheme + "://" + (v6 ? "[" + host + "]" : host) + ":" + std::to_string(port);
}
std::string Url::str() const { return origin() + target; }

std::string Url::shown() const { return origin() + target.substr(0, target.find('?')); }

bool target_ok(std::string_view t) {
  if (t.empty() || t.front() != '/') return false;
  for (std::size_t i = 0; i < t.size(); ++i) {
    const char c = t[i];
    if (is_alnum(c)) continue;
    if (std::string_view("-._~!$&'()*+,;=:@/?").find(c) != std::string_view::npos) continue;
    if (c == '%' && i + 2 < t.size() && hex_value(t[i + 1]) >= 0 && hex_value(t[i + 2]) >= 0) {
      i += 2;
      continue;
    }
    return false;  // a control character, space, non-ASCII byte, stray '%', or one of "<>[]{}|\^`\""
  }
  return true;
}

Result<Url> parse_url(const std::string& text) {
  auto p = split_url(text);
  if (!p) return fail(Errc::invalid_config, p.error().message);
  if (!p->userinfo.empty())
    return fail(Errc::invalid_config, "URL has a user name or password in it (user:password@host): send credentials in headers instead");
  Url u;
  u.scheme = p->scheme;
  u.host = to_lower(p->host);  // host names are case-insensitive: one spelling per origin
  if (u.host.size() >= 2 && u.host.front() == '[' && u.host.back() == ']') u.host = u.host.substr(1, u.host.size() - 2);
  if (u.host.empty()) return fail(Errc::invalid_config, "URL has no host");
  if (p->port.empty()) {
    u.port = u.scheme == "https" ? 443 : 80;
  } else {
    u.port = std::stoi(p->port);  // at most 5 digits
    if (u.port <= 0 || u.port > 65535) return fail(Errc::invalid_config, "URL has a port outside 1-65535");
  }
  const std::string path = remove_dot_segments(p->path);
  u.target = (path.empty() ? "/" : path) + (p->has_query ? "?" + p->query : "");
  if (!target_ok(u.target))
    return fail(Errc::invalid_config,
                "URL has a character that RFC 3986 does not allow in a path or query (percent-encode it)");
  return u;
}

Result<Url> resolve_url(const Url& base, const std::string& ref_text) {
  const std::string ref = ref_text.substr(0, ref_text.find('#'));
  const auto colon = ref.find(':');
  if (colon != std::string::npos && colon < ref.find_first_of("/?")) return parse_url(ref);  // has a scheme
  if (ref.rfind("//", 0) == 0) return parse_url(base.scheme + ":" + ref);
  Url out = base;
  out.target = resolve_uri(base.target, ref);
  if (!target_ok(out.target))
    return fail(Errc::invalid_message,
                "URL has a character that RFC 3986 does not allow in a path or query (a control character, space, ...)");
  return out;
}

}  // namespace mcp::detail
