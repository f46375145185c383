// SPDX-License-Identifier: MIT
// The OAuth 2.1 client of <mcp/oauth.hpp>: discovery (RFC 9728, RFC 8414, OIDC), client
// identity (pre-registered, Client ID Metadata Document, RFC 7591 registration), the
// authorization code grant with PKCE, the client credentials grant, the RFC 7523 JWT bearer
// grant (with a workload JWT, or with an ID-JAG from an RFC 8693 token exchange at the
// enterprise IdP: SEP-990), refresh and step-up, as an AuthProvider for the HTTP transport.
// The pure pieces are in oauth_util. This file: the provider's entry points (credentials on
// requests, challenges), its per-server state and DPoP key; the rest of oauth_provider.hpp is
// in oauth_discovery.cpp, oauth_registration.cpp and oauth_grants.cpp, HTTP in oauth_http.cpp.
//
// Secrets never go into Error messages or diagnostics: messages name endpoints by
// scheme://host[:port]/path only (no query, no userinfo) and quote nothing a server sent
// except sanitized, truncated OAuth error codes and descriptions.
#include "oauth_provider.hpp"
#include "../log_emit.hpp"

#include <algorithm>
#include <utility>

namespace mcp {
namespace detail::oauth_client {
namespace {

using SysClock = std::chrono::system_clock;

constexpr int kMax401Attempts = 2;          // a fresh token refused again: give up
constexpr int kMaxNonceAttempts = 3;        // challenges of one request answered with a DPoP nonce retry

std::string header_value(const std::optional<StoredAuth>& a) {
  if (!a || a->access_token.empty()) return {};
  return (is_dpop(*a) ? "DPoP " : "Bearer ") + a->access_token;
}

// The parameters of the server's Bearer challenge, else of its DPoP one (RFC 9449 7.1).
std::optional<oauth::BearerChallenge> challenge_params(std::string_view www_authenticate) {
  auto challenges = oauth::parse_www_authenticate(www_authenticate);
  auto b = oauth::find_bearer_challenge(challenges);
  return b ? b : oauth::find_bearer_challenge(challenges, "DPoP");
}

bool expired(const StoredAuth& a) {
  return a.expires_at && *a.expires_at <= SysClock::now() + std::chrono::seconds(30);
}

}  // namespace

OAuthProvider::OAuthProvider(OAuthClientOptions o)
    : o_(std::move(o)), http_(o_.http_timeout, o_.verify_tls, o_.ca_file) {
  if (!o_.store) o_.store = memory_token_store();
  o_.on_diagnostic = detail::diagnostics_also_to(std::move(o_.on_diagnostic), o_.on_log, "oauth");
}

Result<std::string> OAuthProvider::authorization(const std::string& server_url, Clock::time_point deadline) {
  auto c = credentials(server_url, deadline);
  if (!c) return fail(c.error());
  return c->header;
}

Result<AuthHeaders> OAuthProvider::request_headers(const AuthRequestInfo& request, Clock::time_point deadline) {
  auto c = credentials(request.server_url, deadline);
  if (!c) return fail(c.error());
  AuthHeaders out;
  if (c->header.empty()) return out;
  out.emplace_back("Authorization", c->header);
  if (c->dpop) {
    auto key = dpop_key();
    if (!key) return fail(key.error());
    oauth::DpopProofOptions po;
    po.method = request.method;
    po.url = request.url.empty() ? request.server_url : request.url;
    po.access_token = c->token;
    po.nonce = c->nonce;
    auto proof = oauth::make_dpop_proof(*key, po);
    if (!proof) return fail(proof.error());
    out.emplace_back("DPoP", std::move(*proof));
  }
  return out;
}

Result<bool> OAuthProvider::on_challenge(const AuthChallengeInfo& info, Clock::time_point deadline) {
  auto st = state(info.server_url);
  std::unique_lock lk(st->m);
  if (!info.dpop_nonce.empty() && info.dpop_nonce.size() <= kMaxNonce) {
    // RFC 9449 9: later proofs carry the server's nonce; `use_dpop_nonce` asks to resend now.
    st->rs_nonce = info.dpop_nonce;
    auto ch = oauth::parse_bearer_challenge(info.www_authenticate, "DPoP");
    if (info.status == 401 && ch && ch->error == "use_dpop_nonce" && st->auth && is_dpop(*st->auth)) {
      if (info.attempt <= kMaxNonceAttempts) return true;
      diag("the server keeps asking for a new DPoP nonce; giving up");
      return false;
    }
  }
  // Single flight: wait for a running flow, then retry if it produced other credentials.
  // Waited in slices, so a cancelled request stops waiting for another's sign-in.
  while (st->busy) {
    if (info.stop.stop_requested()) return fail(Errc::cancelled, "authorization abandoned: the request ended");
    if (Clock::now() >= deadline) return fail(Errc::timeout, "timed out waiting for a running authorization");
    st->cv.wait_until(lk, std::min(deadline, Clock::now() + std::chrono::milliseconds(100)));
  }
  const std::string current = header_value(st->auth);
  if (!current.empty() && current != info.rejected_authorization) return true;
  st->busy = true;
  lk.unlock();
  auto r = handle(*st, info, deadline);
  lk.lock();
  st->busy = false;
  st->cv.notify_all();
  return r;
}

Result<Credentials> OAuthProvider::credentials(const std::string& server_url, Clock::time_point deadline) {
  auto st = state(server_url);
  std::unique_lock lk(st->m);
  if (!st->loaded) {
    st->loaded = true;
    if (!st->canonical.empty()) {
      auto r = o_.store->load({o_.tenant, "", st->canonical});
      if (!r) diag("token store: " + r.error().message);
      else if (*r && !(*r)->access_token.empty() && usable(**r)) st->auth = **r;
    }
  }
  // Refresh an expired token before using it (one thread does it; the others wait).
  if (st->auth && expired(*st->auth) && !st->auth->refresh_token.empty() && !st->auth->token_endpoint.empty() &&
      !st->busy) {
    StoredAuth cur = *st->auth;
    st->busy = true;
    lk.unlock();
    Discovery d;
    d.reach = reach_of(server_url);
    d.issuer = cur.issuer;
    d.token_endpoint = cur.token_endpoint;
    d.resource = cur.resource;
    bool store_failed = false;
    auto fresh = refresh_shared(*st, cur, d, deadline, store_failed);
    lk.lock();
    st->busy = false;
    st->cv.notify_all();
    if (fresh) {
      st->auth = *fresh;  // saved already
    } else if (store_failed) {
      return fail(fresh.error());  // the store is down or slow: say so now, not after a 401
    } else {
      diag("proactive refresh failed: " + fresh.error().message);
    }
  }
  Credentials c;
  c.header = header_value(st->auth);
  if (!c.header.empty()) {
    c.token = st->auth->access_token;
    c.dpop = is_dpop(*st->auth);
    c.nonce = st->rs_nonce;
  }
  return c;
}

Result<oauth::DpopKey> OAuthProvider::dpop_key() const {
  std::lock_guard lk(dpop_m_);
  if (!dpop_key_) {
    auto k = o_.dpop_private_key_pem.empty() ? oauth::DpopKey::generate()
                                             : oauth::DpopKey::from_pem(o_.dpop_private_key_pem);
    if (!k) return fail(Errc::invalid_config, "DPoP key: " + k.error().message);
    dpop_key_ = std::move(*k);
  }
  return *dpop_key_;
}

bool OAuthProvider::wants_dpop(const Discovery& d) const {
  if (o_.dpop == DpopMode::always) return true;
  if (o_.dpop == DpopMode::off || !d.as.is_object()) return false;
  auto algs = strings(d.as, "dpop_signing_alg_values_supported");
  if (contains(algs, "ES256")) return true;
  if (!algs.empty()) diag("the authorization server does not accept ES256 DPoP proofs; using bearer tokens");
  return false;
}

bool OAuthProvider::usable(const StoredAuth& a) const {
  if (!is_dpop(a)) return true;
  auto k = dpop_key();
  return k && k->thumbprint() == a.dpop_jkt;
}

std::string OAuthProvider::as_nonce(const std::string& token_endpoint) const {
  std::lock_guard lk(dpop_m_);
  auto it = as_nonces_.find(token_endpoint);
  return it == as_nonces_.end() ? std::string() : it->second;
}

std::shared_ptr<ServerState> OAuthProvider::state(const std::string& url) {
  std::lock_guard lk(m_);
  auto& s = servers_[url];
  if (!s) {
    s = std::make_shared<ServerState>();
    if (auto c = oauth::canonical_resource_uri(url)) s->canonical = *c;
  }
  return s;
}

void OAuthProvider::diag(const std::string& msg) const {
  if (o_.on_diagnostic) o_.on_diagnostic("oauth: " + msg);
}

void OAuthProvider::commit(ServerState& st, const StoredAuth& a) {
  st.auth = a;
  if (auto r = o_.store->save(key_for(st, a.issuer), a); !r) diag("token store: " + r.error().message);
}

Result<StoredAuth> OAuthProvider::refresh_shared(const ServerState& st, const StoredAuth& cur, const Discovery& d,
                                                 Clock::time_point deadline, bool& store_failed) const {
  const TokenKey key = key_for(st, cur.issuer);
  auto lock = o_.store->lock_refresh(key, deadline);
  store_failed = !lock;
  if (!lock) return fail(lock.error());
  auto stored = o_.store->load(key);
  store_failed = !stored;
  if (!stored) return fail(stored.error());
  StoredAuth base = cur;
  if (*stored && usable(**stored)) {
    const StoredAuth& s = **stored;
    if (!s.access_token.empty() && s.access_token != cur.access_token && !expired(s)) {
      diag("the tokens were refreshed by another client sharing the store; using them");
      return s;
    }
    if (!s.refresh_token.empty()) base = s;  // the latest refresh token (rotation)
  }
  auto fresh = refresh(base, d, deadline);
  if (!fresh) return fail(fresh.error());
  // Saved while the lock is held, so the next holder finds it.
  // A failed save leaves the fresh tokens usable here; the next holder will find the old entry.
  if (auto r = o_.store->save(key_for(st, fresh->issuer), *fresh); !r) diag("token store: " + r.error().message);
  return fresh;
}

Result<void> OAuthProvider::check_options() const {
  if (o_.grant == OAuthGrant::enterprise_managed) {
    // The ID-JAG names the client it was issued to: a dynamically registered one cannot match.
    if (o_.client_id.empty())
      return fail(Errc::invalid_config,
                  "OAuth enterprise-managed authorization needs client_id (the client's registration at the "
                  "MCP server's authorization server)");
    if (o_.idp_token_endpoint.empty())
      return fail(Errc::invalid_config, "OAuth enterprise-managed authorization needs idp_token_endpoint");
    if (!o_.idp_subject_token)
      return fail(Errc::invalid_config, "OAuth enterprise-managed authorization needs an idp_subject_token callback");
    if (o_.idp_client_id.empty())
      return fail(Errc::invalid_config, "OAuth enterprise-managed authorization needs idp_client_id");
    const auto& m = o_.idp_token_endpoint_auth_method;
    if (!m.empty() && m != "client_secret_basic" && m != "client_secret_post" && m != "none")
      return fail(Errc::invalid_config, "unsupported idp_token_endpoint_auth_method '" + oauth::sanitize(m, 64) +
                                            "' (client_secret_basic, client_secret_post or none)");
  } else if (o_.grant == OAuthGrant::jwt_bearer) {
    if (!o_.assertion) return fail(Errc::invalid_config, "OAuth JWT bearer grant needs an assertion callback");
  } else if (o_.grant == OAuthGrant::client_credentials) {
    if (o_.client_id.empty()) return fail(Errc::invalid_config, "OAuth client credentials grant needs client_id");
    if (o_.client_secret.empty() && o_.private_key_pem.empty())
      return fail(Errc::invalid_config, "OAuth client credentials grant needs client_secret or private_key_pem");
  } else {
    if (!o_.authorize) return fail(Errc::invalid_config, "OAuth authorization code grant needs an authorize callback");
    if (o_.redirect_uri.empty()) return fail(Errc::invalid_config, "OAuth authorization code grant needs redirect_uri");
  }
  if (o_.dpop != DpopMode::off)
    if (auto k = dpop_key(); !k) return fail(k.error());
  return {};
}

Result<bool> OAuthProvider::handle(ServerState& st, const AuthChallengeInfo& info, Clock::time_point deadline) {
  if (auto r = check_options(); !r) return fail(r.error());
  if (st.canonical.empty()) return fail(Errc::invalid_config, "the server URL is not an absolute http(s) URL");
  const auto bearer = challenge_params(info.www_authenticate);
  const bool step_up = info.status == 403;
  if (step_up) {
    if (!bearer || bearer->error != "insufficient_scope") return false;  // nothing a new token fixes
    if (info.attempt > o_.max_step_up) {
      diag("giving up after " + std::to_string(o_.max_step_up) + " step-up authorizations for one request");
      return false;
    }
  } else if (info.status != 401 || info.attempt > kMax401Attempts) {
    return false;
  }

  auto d = discover(info.server_url, st.canonical, bearer ? bearer->resource_metadata : std::nullopt, deadline);
  if (!d) return fail(d.error());

  std::optional<StoredAuth> cur;
  {
    std::lock_guard lk(st.m);
    cur = st.auth;
  }
  if (cur && cur->issuer != d->issuer) {
    // The resource moved to another authorization server: credentials of the old one
    // (tokens and client registration) are not valid there.
    diag("the authorization server changed; discarding credentials of the previous one");
    if (auto r = o_.store->erase(key_for(st, cur->issuer)); !r) diag("token store: " + r.error().message);
    cur.reset();
    std::lock_guard lk(st.m);
    st.auth.reset();
  }
  if (!cur) {
    auto r = o_.store->load(key_for(st, d->issuer));
    if (!r) diag("token store: " + r.error().message);
    else if (*r) {
      cur = **r;
      if (!usable(*cur)) {  // bound to another DPoP key: keep only the client registration
        cur->access_token.clear();
        cur->refresh_token.clear();
      }
      const std::string value = header_value(cur);
      if (!step_up && !value.empty() && value != info.rejected_authorization && !expired(*cur)) {
        std::lock_guard lk(st.m);
        st.auth = cur;
        return true;
      }
    }
  }

  if (!step_up && cur && !cur->refresh_token.empty() && cur->issuer == d->issuer) {
    bool store_failed = false;
    auto fresh = refresh_shared(st, *cur, *d, deadline, store_failed);
    if (fresh) {
      std::lock_guard lk(st.m);
      st.auth = *fresh;  // saved already
      return true;
    }
    if (store_failed) return fail(fresh.error());
    diag("refresh failed (" + fresh.error().message + "); starting a new authorization");
  }

  // Scopes: the configured ones, else the MCP scope selection strategy; a step-up asks for
  // the union of what was asked before and what the challenge wants.
  std::optional<std::string> scope;
  if (!o_.scope.empty()) scope = o_.scope;
  else scope = oauth::select_scope(bearer ? bearer->scope : std::nullopt, d->prm);
  if (step_up) {
    const std::string wanted = bearer->scope ? *bearer->scope : scope.value_or("");
    const std::string previous = cur ? cur->scope : std::string();
    if (cur && header_value(cur) == info.rejected_authorization && !wanted.empty()) {
      auto granted = oauth::split_scopes(previous);
      bool all = true;
      for (auto s : oauth::split_scopes(wanted)) all = all && contains_view(granted, s);
      if (all) {
        diag("the server refuses a token that already has every scope it asks for; not authorizing again");
        return false;
      }
    }
    scope = oauth::union_scopes(previous, wanted);
    if (scope->empty()) scope.reset();
  }
  if (o_.grant == OAuthGrant::authorization_code && scope && d->as.is_object())
    scope = oauth::add_offline_access_if_supported(*scope, d->as);

  auto client = client_for(*d, cur, deadline);
  if (!client) return fail(client.error());
  if (info.stop.stop_requested()) return fail(Errc::cancelled, "authorization abandoned: the request ended");
  auto fresh = o_.grant == OAuthGrant::authorization_code
                   ? authorization_code(*d, *client, scope, deadline, info.stop)
                   : assertion_grant(*d, *client, scope, deadline);
  if (!fresh) return fail(fresh.error());
  std::lock_guard lk(st.m);
  commit(st, *fresh);
  return true;
}

bool OAuthProvider::contains_view(const std::vector<std::string_view>& v, std::string_view s) {
  return std::find(v.begin(), v.end(), s) != v.end();
}

}  // namespace detail::oauth_client

std::shared_ptr<AuthProvider> oauth_provider(OAuthClientOptions options) {
  return std::make_shared<detail::oauth_client::OAuthProvider>(std::move(options));
}

}  // namespace mcp
