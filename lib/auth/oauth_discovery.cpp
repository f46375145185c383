// SPDX-License-Identifier: MIT
// Discovery of the authorization server: Protected Resource Metadata (RFC 9728), its
// authorization server's metadata (RFC 8414, OIDC Discovery), the 2025-03-26 fallback to the
// server's origin, and the checks on every endpoint found.
#include "oauth_provider.hpp"

#include "../util/json_get.hpp"

#include <utility>

namespace mcp::detail::oauth_client {

using detail::str_or;

Result<std::optional<std::pair<std::string, json>>> OAuthProvider::first_json(
    const std::vector<std::string>& urls, Clock::time_point deadline,
    const std::vector<oauth::HostClass>& reach) const {
  std::optional<Error> network;
  bool answered = false;
  for (const auto& url : urls) {
    auto r = http_.get(url, deadline, &reach);
    if (!r) {
      if (r.error().errc() == Errc::timeout) return fail(r.error());
      network = r.error();
      continue;
    }
    answered = true;
    if (r->status == 200) {
      json j = parse_object(r->body);
      if (j.is_object()) return std::optional(std::pair(url, std::move(j)));
      diag(safe_url(url) + " did not return a JSON object");
    }
  }
  if (network && !answered) return fail(*network);  // nothing reachable: say so
  return std::optional<std::pair<std::string, json>>();
}

Result<std::optional<json>> OAuthProvider::as_metadata(const std::string& issuer, Clock::time_point deadline,
                                                       const std::vector<oauth::HostClass>& reach, bool strict) const {
  auto urls = oauth::authorization_server_metadata_urls(issuer);
  if (!urls) return fail(Errc::unauthorized, "the authorization server issuer is not a valid https URL");
  auto found = first_json(*urls, deadline, reach);
  if (!found) return fail(found.error());
  if (!*found) return std::optional<json>();
  auto& [url, meta] = **found;
  if (!strict && str_or(meta, "issuer") != issuer) {
    diag("the server's authorization server metadata names another issuer; accepted (2025-03-26 fallback)");
  } else if (str_or(meta, "issuer") != issuer)
    return fail(Errc::unauthorized, "the authorization server metadata at " + safe_url(url) +
                                        " names a different issuer than the one it was looked up for; "
                                        "refusing to use it (RFC 8414 3.3)");
  diag("authorization server metadata from " + safe_url(url));
  return std::optional<json>(std::move(meta));
}

bool OAuthProvider::resource_matches(const std::string& prm_resource, const std::string& canonical) {
  auto c = oauth::canonical_resource_uri(prm_resource);
  if (!c) return false;
  if (*c == canonical) return true;
  return canonical.size() > c->size() && canonical.compare(0, c->size(), *c) == 0 &&
         (canonical[c->size()] == '/' || (*c)[c->size() - 1] == '/');
}

std::vector<oauth::HostClass> OAuthProvider::reach_of(const std::string& server_url) {
  auto server = oauth::split_url(server_url);
  return server ? oauth::host_classes(server->host) : std::vector<oauth::HostClass>{};
}

Result<Discovery> OAuthProvider::discover(const std::string& server_url, const std::string& canonical,
                                          const std::optional<std::string>& header_prm,
                                          Clock::time_point deadline) const {
  Discovery d;
  d.reach = reach_of(server_url);
  if (header_prm) {
    // A 401 may name any URL: only the MCP server's own origin is asked (as the
    // specification's discovery sequence shows), never a cloud metadata service or another
    // host of the server's choosing.
    auto prm_url = oauth::split_url(*header_prm);
    auto server = oauth::split_url(server_url);
    if (prm_url && server && oauth::origin_of(*prm_url) != oauth::origin_of(*server))
      return fail(Errc::unauthorized, "the server's 401 names resource metadata on another origin, " +
                                          oauth::origin_of(*prm_url) + ", than the MCP server's (" +
                                          oauth::origin_of(*server) + "); refusing to fetch it");
  }
  auto urls = oauth::protected_resource_metadata_urls(server_url, header_prm ? std::optional<std::string_view>(*header_prm)
                                                                             : std::nullopt);
  if (!urls) return fail(Errc::invalid_config, "the server URL is not an absolute http(s) URL");
  auto prm = first_json(*urls, deadline, d.reach);
  if (!prm) return fail(prm.error());
  if (*prm) {
    auto& [url, meta] = **prm;
    diag("protected resource metadata from " + safe_url(url));
    d.prm = meta;
    d.resource = str_or(meta, "resource");
    if (d.resource.empty() || !resource_matches(d.resource, canonical))
      return fail(Errc::unauthorized,
                  "the protected resource metadata at " + safe_url(url) +
                      " is for a different resource than " + safe_url(server_url) +
                      "; refusing to authorize (RFC 9728 3.3)");
    auto servers = strings(meta, "authorization_servers");
    if (servers.empty())
      return fail(Errc::unauthorized, "the protected resource metadata at " + safe_url(url) +
                                          " lists no authorization server");
    d.issuer = servers.front();
    if (auto ok = oauth::check_endpoint(d.issuer, server_url, "the authorization server"); !ok) return fail(ok.error());
    auto as = as_metadata(d.issuer, deadline, d.reach);
    if (!as) return fail(as.error());
    if (!*as)
      return fail(Errc::unauthorized, "no authorization server metadata found for " + safe_url(d.issuer));
    d.as = std::move(**as);
  } else {
    // 2025-03-26: no PRM; the AS is the server's origin (metadata there, else default paths).
    auto u = oauth::split_url(server_url);
    if (!u) return fail(Errc::invalid_config, "the server URL is not an absolute http(s) URL");
    d.resource = canonical;
    d.issuer = oauth::origin_of(*u);
    diag("no protected resource metadata; using the server's origin as authorization server");
    if (auto ok = oauth::check_endpoint(d.issuer, server_url, "the authorization server"); !ok) return fail(ok.error());
    auto as = as_metadata(d.issuer, deadline, d.reach, /*strict=*/false);
    if (!as) return fail(as.error());
    if (*as) {
      d.as = std::move(**as);
      if (auto iss = str_or(d.as, "issuer"); !iss.empty()) d.issuer = iss;  // what `iss` must match
    }
  }
  if (d.as.is_object()) {
    d.authorization_endpoint = str_or(d.as, "authorization_endpoint");
    d.token_endpoint = str_or(d.as, "token_endpoint");
    d.registration_endpoint = str_or(d.as, "registration_endpoint");
    if (d.token_endpoint.empty())
      return fail(Errc::unauthorized, "the authorization server metadata has no token_endpoint");
    // Where the client secret, codes and tokens go: https (or loopback), and no private or
    // link-local address unless the MCP server is one too.
    for (const auto& [what, url] : {std::pair<const char*, const std::string*>{"the token endpoint", &d.token_endpoint},
                                    {"the authorization endpoint", &d.authorization_endpoint},
                                    {"the registration endpoint", &d.registration_endpoint}})
      if (!url->empty())
        if (auto ok = oauth::check_endpoint(*url, server_url, what); !ok) return fail(ok.error());
  } else {
    diag("no authorization server metadata; using the default endpoints /authorize, /token, /register");
    d.authorization_endpoint = d.issuer + "/authorize";
    d.token_endpoint = d.issuer + "/token";
    d.registration_endpoint = d.issuer + "/register";
  }
  return d;
}

}  // namespace mcp::detail::oauth_client
