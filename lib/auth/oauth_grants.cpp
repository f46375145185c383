// SPDX-License-Identifier: MIT
// The grants: authorization code with PKCE, client credentials, the RFC 7523 JWT bearer grant
// (with a workload JWT, or an ID-JAG from an RFC 8693 token exchange at the enterprise IdP:
// SEP-990), refresh; client authentication and the token request (with DPoP proofs).
#include "oauth_provider.hpp"

#include "../util/ascii.hpp"
#include "../util/json_get.hpp"

#include <utility>

namespace mcp::detail::oauth_client {

using detail::str_or;
using detail::to_lower;
using SysClock = std::chrono::system_clock;

constexpr const char* kTokenExchangeGrant = "urn:ietf:params:oauth:grant-type:token-exchange";
constexpr const char* kIdJagTokenType = "urn:ietf:params:oauth:token-type:id-jag";

Result<StoredAuth> OAuthProvider::authorization_code(const Discovery& d, const Client& c,
                                                     const std::optional<std::string>& scope,
                                                     Clock::time_point deadline, const std::stop_token& stop) const {
  if (d.authorization_endpoint.empty())
    return fail(Errc::unauthorized, "the authorization server metadata has no authorization_endpoint");
  if (d.as.is_object() && !contains(strings(d.as, "code_challenge_methods_supported"), "S256"))
    return fail(Errc::unauthorized,
                "the authorization server does not advertise PKCE S256 (code_challenge_methods_supported); "
                "refusing to authorize");
  auto pkce = oauth::make_pkce();
  if (!pkce) return fail(pkce.error());
  auto state = oauth::random_token(32);
  if (!state) return fail(state.error());
  Params q = {{"response_type", "code"},
              {"client_id", c.id},
              {"redirect_uri", o_.redirect_uri},
              {"code_challenge", pkce->challenge},
              {"code_challenge_method", pkce->method},
              {"state", *state}};
  if (scope) q.emplace_back("scope", *scope);
  q.emplace_back("resource", d.resource);
  const std::string url =
      d.authorization_endpoint + (d.authorization_endpoint.find('?') == std::string::npos ? "?" : "&") + form_encode(q, true);
  diag("authorization request to " + safe_url(d.authorization_endpoint));
  auto redirect = o_.authorize(url, stop);
  if (!redirect) return fail(redirect.error());
  if (stop.stop_requested()) return fail(Errc::cancelled, "authorization abandoned: the request ended");
  oauth::ExpectedAuthorization expected;
  expected.state = *state;
  expected.issuer = d.issuer;
  expected.iss_parameter_supported =
      d.as.is_object() && d.as.value("authorization_response_iss_parameter_supported", false) == true;
  auto resp = oauth::validate_authorization_response(*redirect, expected);
  if (!resp) return fail(resp.error());
  Params p = {{"grant_type", "authorization_code"},
              {"code", resp->code},
              {"redirect_uri", o_.redirect_uri},
              {"code_verifier", pkce->verifier},
              {"resource", d.resource}};
  return token_request(d, c, std::move(p), scope, {}, wants_dpop(d), deadline);
}

Result<StoredAuth> OAuthProvider::assertion_grant(const Discovery& d, const Client& c,
                                                  const std::optional<std::string>& scope,
                                                  Clock::time_point deadline) const {
  Params p;
  if (o_.grant == OAuthGrant::jwt_bearer || o_.grant == OAuthGrant::enterprise_managed) {
    auto jwt = o_.grant == OAuthGrant::jwt_bearer ? o_.assertion() : id_jag(d, scope, deadline);
    if (!jwt) return fail(jwt.error());
    p = {{"grant_type", kJwtBearerGrant}, {"assertion", *jwt}};
  } else {
    p = {{"grant_type", "client_credentials"}};
  }
  if (scope) p.emplace_back("scope", *scope);
  p.emplace_back("resource", d.resource);
  return token_request(d, c, std::move(p), scope, {}, wants_dpop(d), deadline);
}

Result<std::string> OAuthProvider::id_jag(const Discovery& d, const std::optional<std::string>& scope,
                                          Clock::time_point deadline) const {
  auto subject = o_.idp_subject_token();
  if (!subject) return fail(subject.error());
  if (subject->empty()) return fail(Errc::unauthorized, "the identity provider subject token is empty");
  Params p = {{"grant_type", kTokenExchangeGrant},
              {"requested_token_type", kIdJagTokenType},
              {"audience", o_.idp_audience.empty() ? d.issuer : o_.idp_audience},
              {"resource", o_.idp_resource.empty() ? d.resource : o_.idp_resource},
              {"subject_token", *subject},
              {"subject_token_type", o_.idp_subject_token_type}};
  if (scope) p.emplace_back("scope", *scope);
  std::string method = o_.idp_token_endpoint_auth_method;
  if (method.empty()) method = o_.idp_client_secret.empty() ? "none" : "client_secret_basic";
  Headers h;
  if (auto r = authenticate(Client{o_.idp_client_id, o_.idp_client_secret, method}, o_.idp_token_endpoint, p, h); !r)
    return fail(r.error());
  diag("token exchange for an ID-JAG at " + safe_url(o_.idp_token_endpoint));
  auto r = http_.send("POST", o_.idp_token_endpoint, std::move(h), form_encode(p), "application/x-www-form-urlencoded",
                      deadline, /*reach=*/nullptr);  // the user's own identity provider
  if (!r) return fail(r.error());
  if (r->status != 200)
    return fail(Errc::unauthorized, "the identity provider's token endpoint " + safe_url(o_.idp_token_endpoint) +
                                        " refused the token exchange: " + oauth_error_text(*r));
  json j = parse_object(r->body);
  std::string jag = str_or(j, "access_token");
  if (jag.empty() || str_or(j, "issued_token_type") != kIdJagTokenType)
    return fail(Errc::unauthorized, "the identity provider's token endpoint " + safe_url(o_.idp_token_endpoint) +
                                        " did not issue an ID-JAG (issued_token_type " + kIdJagTokenType + ")");
  return jag;
}

Result<StoredAuth> OAuthProvider::refresh(const StoredAuth& cur, const Discovery& d, Clock::time_point deadline) const {
  Client c{cur.client_id, cur.client_secret, cur.token_endpoint_auth_method};
  if (!o_.client_id.empty()) c = Client{o_.client_id, o_.client_secret, cur.token_endpoint_auth_method};
  Params p = {{"grant_type", "refresh_token"}, {"refresh_token", cur.refresh_token}};
  const std::string resource = d.resource.empty() ? cur.resource : d.resource;
  if (!resource.empty()) p.emplace_back("resource", resource);
  Discovery dd = d;
  dd.resource = resource;
  diag("refreshing the access token");
  // A DPoP-bound refresh token (public clients, RFC 9449 5) needs a proof of the same key.
  return token_request(dd, c, std::move(p), cur.scope, cur.refresh_token, is_dpop(cur) || wants_dpop(d), deadline);
}

Result<void> OAuthProvider::authenticate(const Client& c, const std::string& audience, Params& p, Headers& h) const {
  const std::string& m = c.method;
  if (m == "client_secret_basic") {
    h.emplace_back("Authorization", "Basic " + oauth::base64_encode(oauth::form_urlencode(c.id) + ":" +
                                                               oauth::form_urlencode(c.secret)));
  } else if (m == "client_secret_post") {
    p.emplace_back("client_id", c.id);
    p.emplace_back("client_secret", c.secret);
  } else if (m == "private_key_jwt") {
    if (o_.private_key_pem.empty())
      return fail(Errc::invalid_config, "private_key_jwt client authentication needs private_key_pem");
    oauth::ClientAssertionOptions a;
    a.client_id = c.id;
    a.audience = audience;
    if (!o_.key_id.empty()) a.key_id = o_.key_id;
    auto jwt = oauth::make_client_assertion_es256(o_.private_key_pem, a);
    if (!jwt) return fail(jwt.error());
    p.emplace_back("client_id", c.id);
    p.emplace_back("client_assertion_type", "urn:ietf:params:oauth:client-assertion-type:jwt-bearer");
    p.emplace_back("client_assertion", *jwt);
  } else if (m == "none") {
    p.emplace_back("client_id", c.id);
  } else {
    return fail(Errc::invalid_config, "unsupported token endpoint auth method '" + oauth::sanitize(m, 64) + "'");
  }
  return {};
}

Result<StoredAuth> OAuthProvider::token_request(const Discovery& d, const Client& c, const Params& params,
                                                const std::optional<std::string>& scope, const std::string& old_refresh,
                                                bool dpop, Clock::time_point deadline) const {
  std::optional<oauth::DpopKey> key;
  if (dpop) {
    auto k = dpop_key();
    if (!k) return fail(k.error());
    key = std::move(*k);
  }
  Result<Reply> r;
  for (int round = 1;; ++round) {
    Params p = params;  // authentication afresh: a client assertion's jti is single-use
    Headers h;
    if (auto a = authenticate(c, d.issuer.empty() ? d.token_endpoint : d.issuer, p, h); !a) return fail(a.error());
    if (key) {
      oauth::DpopProofOptions po;
      po.method = "POST";
      po.url = d.token_endpoint;
      po.nonce = as_nonce(d.token_endpoint);
      auto proof = oauth::make_dpop_proof(*key, po);
      if (!proof) return fail(proof.error());
      h.emplace_back("DPoP", std::move(*proof));
    }
    r = http_.send("POST", d.token_endpoint, std::move(h), form_encode(p), "application/x-www-form-urlencoded",
                   deadline, &d.reach);
    if (!r) return fail(r.error());
    if (!key || r->dpop_nonce.empty() || r->dpop_nonce.size() > kMaxNonce) break;
    {
      std::lock_guard lk(dpop_m_);
      as_nonces_[d.token_endpoint] = r->dpop_nonce;
    }
    if (round > 1 || r->status != 400 || str_or(parse_object(r->body), "error") != "use_dpop_nonce") break;
    diag("the token endpoint " + safe_url(d.token_endpoint) + " asks for a DPoP nonce; sending the request again");
  }
  if (r->status != 200)
    return fail(Errc::unauthorized,
                "the token endpoint " + safe_url(d.token_endpoint) + " refused the request: " + oauth_error_text(*r));
  json j = parse_object(r->body);
  StoredAuth a;
  a.access_token = str_or(j, "access_token");
  a.token_type = str_or(j, "token_type");
  if (a.access_token.empty())
    return fail(Errc::unauthorized, "the token endpoint " + safe_url(d.token_endpoint) + " returned no access_token");
  const std::string type = to_lower(a.token_type);
  if (type == "dpop" && key) {
    a.token_type = "DPoP";
    a.dpop_jkt = key->thumbprint();
  } else if (type.empty() || type == "bearer") {
    if (key) diag("the authorization server issued a bearer token despite the DPoP proof");
    a.token_type = "Bearer";
  } else {
    return fail(Errc::unauthorized, "the token endpoint returned an unsupported token_type '" +
                                        oauth::sanitize(a.token_type, 32) + "'");
  }
  a.refresh_token = str_or(j, "refresh_token");
  if (a.refresh_token.empty()) a.refresh_token = old_refresh;  // RFC 6749 6: may keep the old one
  if (auto it = j.find("expires_in"); it != j.end() && it->is_number() && it->get<double>() > 0)
    // Whole seconds, as stores keep it: every process sharing a store sees the same expiry.
    a.expires_at = std::chrono::floor<std::chrono::seconds>(SysClock::now()) +
                   std::chrono::seconds(static_cast<std::int64_t>(it->get<double>()));
  a.scope = str_or(j, "scope");
  if (a.scope.empty() && scope) a.scope = *scope;
  a.client_id = c.id;
  a.client_secret = c.secret;
  a.token_endpoint_auth_method = c.method;
  a.issuer = d.issuer;
  a.token_endpoint = d.token_endpoint;
  a.resource = d.resource;
  diag("obtained an access token from " + safe_url(d.token_endpoint));
  return a;
}

}  // namespace mcp::detail::oauth_client
