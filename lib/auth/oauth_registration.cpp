// SPDX-License-Identifier: MIT
// The client's identity at an authorization server: pre-registered, a Client ID Metadata
// Document URL, or RFC 7591 dynamic registration; and its token endpoint auth method.
#include "oauth_provider.hpp"

#include "../util/json_get.hpp"

namespace mcp::detail::oauth_client {

using detail::str_or;

std::string OAuthProvider::auth_method(bool has_secret, const std::string& registered, const Discovery& d) const {
  if (!o_.token_endpoint_auth_method.empty()) return o_.token_endpoint_auth_method;
  if (!o_.private_key_pem.empty()) return "private_key_jwt";
  if (!registered.empty()) return registered;
  if (!has_secret) return "none";
  auto supported = strings(d.as, "token_endpoint_auth_methods_supported");
  if (supported.empty() || contains(supported, "client_secret_basic")) return "client_secret_basic";
  if (contains(supported, "client_secret_post")) return "client_secret_post";
  if (contains(supported, "none")) return "none";
  return "client_secret_basic";
}

Result<Client> OAuthProvider::client_for(const Discovery& d, const std::optional<StoredAuth>& cur, Clock::time_point deadline) const {
  if (!o_.client_id.empty()) {
    return Client{o_.client_id, o_.client_secret, auth_method(!o_.client_secret.empty(), {}, d)};
  }
  if (cur && cur->issuer == d.issuer && !cur->client_id.empty())
    return Client{cur->client_id, cur->client_secret, cur->token_endpoint_auth_method};
  if (!o_.client_metadata_url.empty() && d.as.is_object() && d.as.value("client_id_metadata_document_supported", false) == true) {
    diag("using the client ID metadata document URL as client_id");
    return Client{o_.client_metadata_url, "", "none"};
  }
  if (d.registration_endpoint.empty())
    return fail(Errc::unauthorized,
                "the authorization server supports neither client ID metadata documents nor dynamic client "
                "registration; configure a pre-registered client_id");
  return register_client(d, deadline);
}

Result<Client> OAuthProvider::register_client(const Discovery& d, Clock::time_point deadline) const {
  const bool code = o_.grant == OAuthGrant::authorization_code;
  json req = {{"client_name", o_.client_name}};
  if (code) {
    json uris = json::array();
    if (o_.redirect_uris.empty()) uris.push_back(o_.redirect_uri);
    for (const auto& u : o_.redirect_uris) uris.push_back(u);
    req["redirect_uris"] = uris;
    req["response_types"] = {"code"};
    req["application_type"] = o_.application_type.empty() ? "native" : o_.application_type;
  }
  if (!o_.grant_types.empty()) req["grant_types"] = o_.grant_types;
  else if (code) req["grant_types"] = {"authorization_code", "refresh_token"};
  else if (o_.grant == OAuthGrant::jwt_bearer || o_.grant == OAuthGrant::enterprise_managed)
    req["grant_types"] = {kJwtBearerGrant};
  else req["grant_types"] = {"client_credentials"};
  auto supported = strings(d.as, "token_endpoint_auth_methods_supported");
  if (!o_.token_endpoint_auth_method.empty()) req["token_endpoint_auth_method"] = o_.token_endpoint_auth_method;
  else if (code && contains(supported, "none")) req["token_endpoint_auth_method"] = "none";
  else if (contains(supported, "client_secret_basic")) req["token_endpoint_auth_method"] = "client_secret_basic";
  else if (contains(supported, "client_secret_post")) req["token_endpoint_auth_method"] = "client_secret_post";
  if (!o_.scope.empty()) req["scope"] = o_.scope;

  auto r = http_.send("POST", d.registration_endpoint, {}, req.dump(), "application/json", deadline, &d.reach);
  if (!r) return fail(r.error());
  if (r->status != 200 && r->status != 201)
    return fail(Errc::unauthorized, "client registration at " + safe_url(d.registration_endpoint) +
                                        " failed: " + oauth_error_text(*r));
  json j = parse_object(r->body);
  Client c{str_or(j, "client_id"), str_or(j, "client_secret"), str_or(j, "token_endpoint_auth_method")};
  if (c.id.empty())
    return fail(Errc::unauthorized, "client registration at " + safe_url(d.registration_endpoint) +
                                        " returned no client_id");
  c.method = auth_method(!c.secret.empty(), c.method, d);
  diag("registered a client at " + safe_url(d.registration_endpoint));
  return c;
}

}  // namespace mcp::detail::oauth_client
