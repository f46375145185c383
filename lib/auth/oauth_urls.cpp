// SPDX-License-Identifier: MIT
// The URLs of authorization: host classes and the checks on endpoints a server names, the
// RFC 8707 canonical resource URI, metadata discovery candidates (RFC 9728 3.1, RFC 8414 3.1,
// OIDC Discovery) and form encoding.
#include "oauth_util.hpp"

#include "../util/ascii.hpp"

#include <arpa/inet.h>
#include <netdb.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <algorithm>
#include <cstdint>
#include <utility>

namespace mcp::detail::oauth {

HostClass host_class(std::string_view host_text) {
  std::string host = to_lower(host_text);
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']') host = host.substr(1, host.size() - 2);
  if (!host.empty() && host.back() == '.') host.pop_back();  // "localhost." is localhost
  if (host == "localhost" || (host.size() > 10 && host.compare(host.size() - 10, 10, ".localhost") == 0))
    return HostClass::loopback;
  auto v4 = [](std::uint32_t a) {
    if ((a >> 24) == 127) return HostClass::loopback;
    if ((a >> 24) == 0) return HostClass::unspecified;
    if ((a >> 24) == 10 || (a >> 20) == 0xac1 || (a >> 16) == 0xc0a8) return HostClass::private_net;
    if ((a >> 16) == 0xa9fe) return HostClass::link_local;
    return HostClass::public_host;
  };
  in_addr a4{};
  // inet_aton, not inet_pton: it takes every IPv4 spelling getaddrinfo takes ("0x7f.1", "2130706433").
  if (host.find(':') == std::string::npos && ::inet_aton(host.c_str(), &a4) != 0) return v4(ntohl(a4.s_addr));
  in6_addr a6{};
  if (::inet_pton(AF_INET6, host.c_str(), &a6) != 1) return HostClass::public_host;
  const unsigned char* b = a6.s6_addr;
  const bool zero10 = std::all_of(b, b + 10, [](unsigned char c) { return c == 0; });
  if (zero10 && b[10] == 0xff && b[11] == 0xff)  // ::ffff:a.b.c.d
    return v4(static_cast<std::uint32_t>(b[12]) << 24 | static_cast<std::uint32_t>(b[13]) << 16 |
              static_cast<std::uint32_t>(b[14]) << 8 | b[15]);
  if (zero10 && b[10] == 0 && b[11] == 0 && b[12] == 0 && b[13] == 0 && b[14] == 0)
    return b[15] == 1 ? HostClass::loopback : b[15] == 0 ? HostClass::unspecified : HostClass::public_host;
  if ((b[0] & 0xfe) == 0xfc) return HostClass::private_net;
  if (b[0] == 0xfe && (b[1] & 0xc0) == 0x80) return HostClass::link_local;
  return HostClass::public_host;
}

HostClass address_class(const sockaddr& address) {
  char text[INET6_ADDRSTRLEN] = {};
  const void* bytes = address.sa_family == AF_INET    ? static_cast<const void*>(&reinterpret_cast<const sockaddr_in&>(address).sin_addr)
                      : address.sa_family == AF_INET6 ? static_cast<const void*>(&reinterpret_cast<const sockaddr_in6&>(address).sin6_addr)
                                                      : nullptr;
  if (!bytes || !::inet_ntop(address.sa_family, bytes, text, sizeof text)) return HostClass::public_host;
  return host_class(text);
}

std::vector<HostClass> host_classes(std::string_view host_text) {
  std::string host(host_text);
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']') host = host.substr(1, host.size() - 2);
  const HostClass literal = host_class(host);
  in6_addr a6{};
  in_addr a4{};
  if (literal != HostClass::public_host || ::inet_pton(AF_INET6, host.c_str(), &a6) == 1 ||
      (host.find(':') == std::string::npos && ::inet_aton(host.c_str(), &a4) != 0))
    return {literal};
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  addrinfo* res = nullptr;
  std::vector<HostClass> out;
  if (::getaddrinfo(host.c_str(), nullptr, &hints, &res) != 0 || !res) return out;
  for (addrinfo* ai = res; ai; ai = ai->ai_next) {
    const HostClass c = address_class(*ai->ai_addr);
    if (std::find(out.begin(), out.end(), c) == out.end()) out.push_back(c);
  }
  ::freeaddrinfo(res);
  return out;
}

std::string refuse_address(const sockaddr& address, const std::vector<HostClass>& server_classes) {
  const HostClass c = address_class(address);
  if (c == HostClass::public_host || std::find(server_classes.begin(), server_classes.end(), c) != server_classes.end())
    return {};
  const char* kind = c == HostClass::loopback      ? "a loopback"
                     : c == HostClass::private_net ? "a private-network"
                     : c == HostClass::link_local  ? "a link-local"
                                                   : "an unspecified";
  return std::string("the name resolves to ") + kind + " address and the MCP server's does not; refused";
}

Result<void> check_endpoint(std::string_view url, std::string_view server_url, std::string_view what) {
  auto u = split_url(url);
  if (!u) return fail(Errc::unauthorized, std::string(what) + " is not an absolute http(s) URL");
  if (!u->userinfo.empty()) return fail(Errc::unauthorized, std::string(what) + " has userinfo; refused");
  const HostClass target = host_class(u->host);
  if (u->scheme != "https" && target != HostClass::loopback)
    return fail(Errc::unauthorized, std::string(what) + " at " + origin_of(*u) +
                                        " is not https; refusing to send credentials over plain http "
                                        "(only loopback hosts may use http)");
  if (target == HostClass::public_host) return {};
  auto s = split_url(server_url);
  if (s && host_class(s->host) == target) return {};
  const char* kind = target == HostClass::loopback      ? "a loopback"
                     : target == HostClass::private_net ? "a private-network"
                     : target == HostClass::link_local  ? "a link-local"
                                                        : "an unspecified";
  return fail(Errc::unauthorized, std::string(what) + " at " + origin_of(*u) + " is " + kind +
                                      " address and the MCP server is not; refused");
}

namespace {

std::string strip_trailing_slash(std::string path) {
  while (!path.empty() && path.back() == '/') path.pop_back();
  return path;
}

void push_unique(std::vector<std::string>& v, std::string s) {
  if (std::find(v.begin(), v.end(), s) == v.end()) v.push_back(std::move(s));
}

}  // namespace

Result<std::string> canonical_resource_uri(std::string_view server_url) {
  auto u = split_url(server_url);
  if (!u) return fail(u.error());
  if (!u->userinfo.empty()) return fail(Errc::invalid_config, "resource URL must not contain userinfo");
  std::string out = origin_of(*u);
  if (u->path != "/") out += u->path;
  if (u->has_query) out += "?" + u->query;
  return out;
}

Result<std::vector<std::string>> protected_resource_metadata_urls(
    std::string_view server_url, std::optional<std::string_view> header_resource_metadata) {
  auto u = split_url(server_url);
  if (!u) return fail(u.error());
  std::vector<std::string> out;
  if (header_resource_metadata && split_url(*header_resource_metadata))
    out.emplace_back(*header_resource_metadata);
  const std::string origin = origin_of(*u);
  const std::string base = origin + "/.well-known/oauth-protected-resource";
  std::string path = strip_trailing_slash(u->path);
  // RFC 9728 3.1 keeps the query component after the inserted suffix.
  if (!path.empty() || (u->has_query && !u->query.empty()))
    push_unique(out, base + path + (u->has_query && !u->query.empty() ? "?" + u->query : ""));
  push_unique(out, base);
  return out;
}

Result<std::vector<std::string>> authorization_server_metadata_urls(std::string_view issuer) {
  auto u = split_url(issuer);
  if (!u) return fail(u.error());
  if (u->has_query || u->has_fragment)
    return fail(Errc::invalid_config, "issuer must not have a query or fragment");
  const std::string origin = origin_of(*u);
  std::string path = strip_trailing_slash(u->path);
  std::vector<std::string> out;
  if (path.empty()) {
    out.push_back(origin + "/.well-known/oauth-authorization-server");
    out.push_back(origin + "/.well-known/openid-configuration");
  } else {
    out.push_back(origin + "/.well-known/oauth-authorization-server" + path);
    out.push_back(origin + "/.well-known/openid-configuration" + path);
    out.push_back(origin + path + "/.well-known/openid-configuration");
  }
  return out;
}

std::string form_urlencode(std::string_view s) {
  static constexpr char hex[] = "0123456789ABCDEF";
  std::string out;
  out.reserve(s.size() * 3);
  for (char ch : s) {
    auto c = static_cast<unsigned char>(ch);
    if (is_alnum(c) || c == '-' ||
        c == '.' || c == '_' || c == '~' || c == '*') {
      out.push_back(ch);
    } else if (c == ' ') {
      out.push_back('+');
    } else {
      out.push_back('%');
      out.push_back(hex[c >> 4]);
      out.push_back(hex[c & 15]);
    }
  }
  return out;
}

std::string form_urldecode(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  for (std::size_t i = 0; i < s.size(); ++i) {
    char c = s[i];
    if (c == '+') {
      out.push_back(' ');
    } else if (c == '%' && i + 2 < s.size() && hex_value(s[i + 1]) >= 0 &&
               hex_value(s[i + 2]) >= 0) {
      out.push_back(static_cast<char>(hex_value(s[i + 1]) * 16 + hex_value(s[i + 2])));
      i += 2;
    } else {
      out.push_back(c);
    }
  }
  return out;
}

std::vector<std::pair<std::string, std::string>> parse_query(std::string_view query) {
  std::vector<std::pair<std::string, std::string>> out;
  while (!query.empty()) {
    auto amp = query.find('&');
    std::string_view part = query.substr(0, amp);
    query = amp == std::string_view::npos ? std::string_view{} : query.substr(amp + 1);
    if (part.empty()) continue;
    auto eq = part.find('=');
    if (eq == std::string_view::npos)
      out.emplace_back(form_urldecode(part), std::string{});
    else
      out.emplace_back(form_urldecode(part.substr(0, eq)), form_urldecode(part.substr(eq + 1)));
  }
  return out;
}

}  // namespace mcp::detail::oauth
