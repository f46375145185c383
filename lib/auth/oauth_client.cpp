// SPDX-License-Identifier: MIT
// The OAuth 2.1 client of <mcp/oauth.hpp>: discovery (RFC 9728, RFC 8414, OIDC), client
// identity (pre-registered, Client ID Metadata Document, RFC 7591 registration), the
// authorization code grant with PKCE, the client credentials grant, the RFC 7523 JWT bearer
// grant (with a workload JWT, or with an ID-JAG from an RFC 8693 token exchange at the
// enterprise IdP: SEP-990), refresh and step-up, as an AuthProvider for the HTTP transport.
// The pure pieces are in oauth_util.
//
// Secrets never go into Error messages or diagnostics: messages name endpoints by
// scheme://host[:port]/path only (no query, no userinfo) and quote nothing a server sent
// except sanitized, truncated OAuth error codes and descriptions.
#include "oauth_util.hpp"

#include "../http1.hpp"
#include "../protocol/json_read.hpp"
#include "../util/json_get.hpp"
#include "../util/ascii.hpp"

#include <mcp/oauth.hpp>

#include <nlohmann/json.hpp>

#include <algorithm>
#include <condition_variable>
#include <map>
#include <mutex>
#include <utility>

namespace mcp {
namespace {

namespace oauth = detail::oauth;
using detail::str_or;
using detail::to_lower;
using nlohmann::json;
using Clock = AuthProvider::Clock;
using SysClock = std::chrono::system_clock;
using Params = std::vector<std::pair<std::string, std::string>>;
using Headers = std::vector<std::pair<std::string, std::string>>;  // of a request we send

constexpr std::size_t kMaxBody = detail::http1::kMaxBody;  // metadata and token responses
constexpr int kMax401Attempts = 2;          // a fresh token refused again: give up
constexpr int kMaxNonceAttempts = 3;        // challenges of one request answered with a DPoP nonce retry
constexpr std::size_t kMaxNonce = 1024;     // longer DPoP-Nonce values are ignored
constexpr const char* kJwtBearerGrant = "urn:ietf:params:oauth:grant-type:jwt-bearer";
constexpr const char* kTokenExchangeGrant = "urn:ietf:params:oauth:grant-type:token-exchange";
constexpr const char* kIdJagTokenType = "urn:ietf:params:oauth:token-type:id-jag";

// scheme://host[:port]/path of a URL, for messages (no userinfo, query or fragment).
std::string safe_url(std::string_view url) {
  auto u = oauth::split_url(url);
  if (!u) return "(invalid URL)";
  return oauth::origin_of(*u) + u->path;
}

std::vector<std::string> strings(const json& j, const char* k) {
  std::vector<std::string> out;
  if (!j.is_object()) return out;
  auto it = j.find(k);
  if (it == j.end() || !it->is_array()) return out;
  for (const auto& v : *it)
    if (v.is_string()) out.push_back(v.get<std::string>());
  return out;
}

bool contains(const std::vector<std::string>& v, std::string_view s) {
  return std::find(v.begin(), v.end(), s) != v.end();
}

// `a=1&b=2`; in a URL query (`query` = true) spaces become %20, which every server decodes
// (form encoding's '+' is not understood by all).
std::string form_encode(const Params& params, bool query = false) {
  std::string out;
  for (const auto& [k, v] : params) {
    if (!out.empty()) out.push_back('&');
    out += oauth::form_urlencode(k) + "=" + oauth::form_urlencode(v);
  }
  if (query) {
    std::string q;
    for (char c : out) q += c == '+' ? std::string("%20") : std::string(1, c);  // a literal '+' is %2B
    out = std::move(q);
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// HTTP to metadata, registration and token endpoints

struct Reply {
  int status = 0;
  std::string body;
  std::string dpop_nonce;  // the DPoP-Nonce response header (RFC 9449 8)
};

// Exchanges with the authorization server's endpoints, through the library's own HTTP/1.1
// client: a bounded response head (64 KiB, 100 fields), a body of at most kMaxBody, and the
// whole exchange (connect, TLS handshake, request, response) within one deadline.
class Http {
 public:
  Http(std::chrono::milliseconds timeout, bool verify_tls, std::string ca_file)
      : timeout_(timeout), verify_tls_(verify_tls), ca_file_(std::move(ca_file)) {}

  // One request, no redirects followed, all of it within the timeout and by `deadline`
  // (Errc::timeout after). Network failures are Errc::connection_failed.
  // `reach`: the address classes an endpoint a server named may resolve to besides public ones
  // (see oauth::refuse_address); null for endpoints the user configured.
  Result<Reply> send(const std::string& method, const std::string& url, const Headers& headers,
                     const std::string& body, const std::string& content_type, Clock::time_point deadline,
                     const std::vector<oauth::HostClass>* reach) const {
    namespace http1 = detail::http1;
    if (timeout_ > std::chrono::milliseconds(0) && deadline - Clock::now() > timeout_) deadline = Clock::now() + timeout_;
    auto u = oauth::split_url(url);  // no whitespace or control characters: nothing splits the request
    if (!u) return fail(Errc::unauthorized, "invalid authorization endpoint URL");
    if (!u->userinfo.empty()) return fail(Errc::unauthorized, "authorization endpoint URL with userinfo refused");
    const auto left = std::chrono::duration_cast<std::chrono::microseconds>(deadline - Clock::now());
    if (left.count() <= 0) return fail(Errc::timeout, "timed out before contacting " + safe_url(url));
    std::string host = u->host;
    if (host.size() >= 2 && host.front() == '[' && host.back() == ']') host = host.substr(1, host.size() - 2);
    const bool tls = u->scheme == "https";
    const int port = u->port.empty() ? (tls ? 443 : 80) : std::stoi(u->port);  // at most 5 digits
    if (port <= 0 || port > 65535) return fail(Errc::unauthorized, "authorization endpoint URL with a bad port");
    for (const auto& [k, v] : headers)
      for (char c : k + v)
        if (c == '\r' || c == '\n' || c == '\0')
          return fail(Errc::unauthorized, "a request header for " + safe_url(url) + " contains CR, LF or NUL");
    http1::Connection conn(host, port, left, tls ? tls_context() : nullptr);
    if (reach) conn.set_address_check([reach](const sockaddr& a) { return oauth::refuse_address(a, *reach); });
    std::string head = method + " " + (u->path.empty() ? "/" : u->path) + (u->has_query ? "?" + u->query : "") +
                       " HTTP/1.1\r\nHost: " + conn.host_header() +
                       "\r\nUser-Agent: mcp-cpp\r\nAccept: application/json\r\nAccept-Encoding: identity\r\n"
                       "Connection: close\r\n";
    for (const auto& [k, v] : headers) head += k + ": " + v + "\r\n";
    if (!content_type.empty())
      head += "Content-Type: " + content_type + "\r\nContent-Length: " + std::to_string(body.size()) + "\r\n";
    head += "\r\n";
    Reply reply;
    bool too_large = false;
    const auto out = conn.exchange(
        head, content_type.empty() ? std::string_view() : std::string_view(body), method == "HEAD", left,
        [&](const http1::Head& h) {
          reply.status = h.status;
          reply.dpop_nonce = h.get("DPoP-Nonce");
          return true;
        },
        [&](const char* data, std::size_t n) {
          if (reply.body.size() + n > kMaxBody) {
            too_large = true;
            return false;
          }
          reply.body.append(data, n);
          return true;
        });
    if (too_large)  // a cut body would read as a reply without what we asked for
      return fail(Errc::message_too_large, "the reply from " + safe_url(url) + " exceeded " +
                                               std::to_string(kMaxBody >> 20) + " MiB; refused");
    if (out.ok()) return reply;
    if (out.failure == http1::Failure::refused)
      return fail(Errc::unauthorized, "not contacting " + safe_url(url) + ": " + out.detail);
    if (out.failure == http1::Failure::timeout || Clock::now() >= deadline)
      return fail(Errc::timeout, "timed out waiting for " + safe_url(url));
    if (reply.status == 0 || out.failure == http1::Failure::protocol)
      return fail(Errc::connection_failed, "could not reach " + safe_url(url) + " (" + http1::describe(out) + ")");
    return reply;  // the connection broke in the body: what came is judged as it is
  }

  Result<Reply> get(const std::string& url, Clock::time_point deadline, const std::vector<oauth::HostClass>* reach) const {
    return send("GET", url, {}, {}, {}, deadline, reach);
  }

 private:
  // What https endpoints are trusted with, made at the first https exchange.
  std::shared_ptr<const detail::http1::TlsContext> tls_context() const {
    std::lock_guard lk(tls_mutex_);
    if (!tls_) tls_ = std::make_shared<detail::http1::TlsContext>(verify_tls_, ca_file_, std::string());
    return tls_;
  }

  std::chrono::milliseconds timeout_;
  bool verify_tls_;
  std::string ca_file_;
  mutable std::mutex tls_mutex_;
  mutable std::shared_ptr<const detail::http1::TlsContext> tls_;
};

json parse_object(const std::string& body) {
  json j = detail::parse_json(body);  // limits on depth and size: the body is a peer's
  return j.is_object() ? j : json();
}

// "invalid_grant (The code has expired)" from an OAuth error response, sanitized.
std::string oauth_error_text(const Reply& r) {
  json j = parse_object(r.body);
  std::string e = oauth::sanitize(str_or(j, "error"), 64);
  std::string d = oauth::sanitize(str_or(j, "error_description"), 200);
  std::string out = "HTTP " + std::to_string(r.status);
  if (!e.empty()) out += ", " + e;
  if (!d.empty()) out += " (" + d + ")";
  return out;
}

// ---------------------------------------------------------------------------------------------
// Discovery results and per-server state

struct Discovery {
  std::string resource;  // the resource indicator to send (PRM `resource`, else the canonical URI)
  json prm;              // Protected Resource Metadata, or null (2025-03-26 server)
  std::string issuer;    // PRM authorization_servers[0]; the server's origin without PRM
  json as;               // AS metadata, or null (default endpoints)
  std::string authorization_endpoint, token_endpoint, registration_endpoint;
  // The classes of the MCP server's own addresses: an endpoint's name may resolve to a
  // loopback, private or link-local address only when one of these is of that class.
  std::vector<oauth::HostClass> reach;
};

struct Client {
  std::string id, secret, method;
};

struct ServerState {
  std::mutex m;
  std::condition_variable cv;
  bool busy = false;    // a flow (authorization, refresh) is running for this server
  bool loaded = false;  // the store was consulted
  std::optional<StoredAuth> auth;
  std::string canonical;  // canonical URI of the server URL (the store key's resource)
  std::string rs_nonce;   // the server's latest DPoP-Nonce (RFC 9449 9)
};

bool is_dpop(const StoredAuth& a) { return a.token_type == "DPoP"; }

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

// What goes on a request: the Authorization value and, for a DPoP-bound token, what its proof
// binds.
struct Credentials {
  std::string header;  // "" : none
  std::string token;
  bool dpop = false;
  std::string nonce;
};

bool expired(const StoredAuth& a) {
  return a.expires_at && *a.expires_at <= SysClock::now() + std::chrono::seconds(30);
}

class OAuthProvider final : public AuthProvider {
 public:
  explicit OAuthProvider(OAuthClientOptions o)
      : o_(std::move(o)), http_(o_.http_timeout, o_.verify_tls, o_.ca_file) {
    if (!o_.store) o_.store = memory_token_store();
  }

  Result<std::string> authorization(const std::string& server_url, Clock::time_point deadline) override {
    auto c = credentials(server_url, deadline);
    if (!c) return fail(c.error());
    return c->header;
  }

  // Authorization plus, for a DPoP-bound token, a fresh proof for this method and URL.
  Result<AuthHeaders> request_headers(const AuthRequestInfo& request, Clock::time_point deadline) override {
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

  Result<bool> on_challenge(const AuthChallengeInfo& info, Clock::time_point deadline) override {
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

 private:
  Result<Credentials> credentials(const std::string& server_url, Clock::time_point deadline) {
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
      auto fresh = refresh(cur, d, deadline);
      lk.lock();
      st->busy = false;
      st->cv.notify_all();
      if (fresh) commit(*st, *fresh);
      else diag("proactive refresh failed: " + fresh.error().message);
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

  // ---- DPoP

  // The provider's DPoP key: the configured one, else generated on first use.
  Result<oauth::DpopKey> dpop_key() const {
    std::lock_guard lk(dpop_m_);
    if (!dpop_key_) {
      auto k = o_.dpop_private_key_pem.empty() ? oauth::DpopKey::generate()
                                               : oauth::DpopKey::from_pem(o_.dpop_private_key_pem);
      if (!k) return fail(Errc::invalid_config, "DPoP key: " + k.error().message);
      dpop_key_ = std::move(*k);
    }
    return *dpop_key_;
  }

  // Whether token requests to this authorization server carry DPoP proofs.
  bool wants_dpop(const Discovery& d) const {
    if (o_.dpop == DpopMode::always) return true;
    if (o_.dpop == DpopMode::off || !d.as.is_object()) return false;
    auto algs = strings(d.as, "dpop_signing_alg_values_supported");
    if (contains(algs, "ES256")) return true;
    if (!algs.empty()) diag("the authorization server does not accept ES256 DPoP proofs; using bearer tokens");
    return false;
  }

  // A stored DPoP-bound token is only usable with the key it is bound to.
  bool usable(const StoredAuth& a) const {
    if (!is_dpop(a)) return true;
    auto k = dpop_key();
    return k && k->thumbprint() == a.dpop_jkt;
  }

  std::string as_nonce(const std::string& token_endpoint) const {
    std::lock_guard lk(dpop_m_);
    auto it = as_nonces_.find(token_endpoint);
    return it == as_nonces_.end() ? std::string() : it->second;
  }

  std::shared_ptr<ServerState> state(const std::string& url) {
    std::lock_guard lk(m_);
    auto& s = servers_[url];
    if (!s) {
      s = std::make_shared<ServerState>();
      if (auto c = oauth::canonical_resource_uri(url)) s->canonical = *c;
    }
    return s;
  }

  void diag(const std::string& msg) const {
    if (o_.on_diagnostic) o_.on_diagnostic("oauth: " + msg);
  }

  TokenKey key_for(const ServerState& st, const std::string& issuer) const { return {o_.tenant, issuer, st.canonical}; }

  // Stores new credentials (memory and store). Called with st.m held.
  void commit(ServerState& st, const StoredAuth& a) {
    st.auth = a;
    if (auto r = o_.store->save(key_for(st, a.issuer), a); !r) diag("token store: " + r.error().message);
  }

  Result<void> check_options() const {
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

  Result<bool> handle(ServerState& st, const AuthChallengeInfo& info, Clock::time_point deadline) {
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
      auto fresh = refresh(*cur, *d, deadline);
      if (fresh) {
        std::lock_guard lk(st.m);
        commit(st, *fresh);
        return true;
      }
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

  static bool contains_view(const std::vector<std::string_view>& v, std::string_view s) {
    return std::find(v.begin(), v.end(), s) != v.end();
  }

  // ---- discovery

  // The first candidate URL that answers 200 with a JSON object; nullopt when none does.
  Result<std::optional<std::pair<std::string, json>>> first_json(const std::vector<std::string>& urls,
                                                                  Clock::time_point deadline,
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

  // AS metadata for `issuer` (RFC 8414 3.3: its `issuer` must be the one asked for). `strict`
  // is off only for the 2025-03-26 fallback, where the "issuer" is just the MCP server's origin
  // (the authorization base URL), not an identifier a third party told us.
  Result<std::optional<json>> as_metadata(const std::string& issuer, Clock::time_point deadline,
                                          const std::vector<oauth::HostClass>& reach, bool strict = true) const {
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

  // Is the PRM `resource` the server (or a prefix of it, for metadata found at the root)?
  static bool resource_matches(const std::string& prm_resource, const std::string& canonical) {
    auto c = oauth::canonical_resource_uri(prm_resource);
    if (!c) return false;
    if (*c == canonical) return true;
    return canonical.size() > c->size() && canonical.compare(0, c->size(), *c) == 0 &&
           (canonical[c->size()] == '/' || (*c)[c->size() - 1] == '/');
  }

  static std::vector<oauth::HostClass> reach_of(const std::string& server_url) {
    auto server = oauth::split_url(server_url);
    return server ? oauth::host_classes(server->host) : std::vector<oauth::HostClass>{};
  }

  Result<Discovery> discover(const std::string& server_url, const std::string& canonical,
                             const std::optional<std::string>& header_prm, Clock::time_point deadline) const {
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

  // ---- client identity

  std::string auth_method(bool has_secret, const std::string& registered, const Discovery& d) const {
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

  Result<Client> client_for(const Discovery& d, const std::optional<StoredAuth>& cur, Clock::time_point deadline) const {
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

  Result<Client> register_client(const Discovery& d, Clock::time_point deadline) const {
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

  // ---- grants

  Result<StoredAuth> authorization_code(const Discovery& d, const Client& c, const std::optional<std::string>& scope,
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

  // The grants without a user: client credentials, and the RFC 7523 JWT bearer grant (with
  // the workload's JWT, or with an ID-JAG from the enterprise IdP).
  Result<StoredAuth> assertion_grant(const Discovery& d, const Client& c, const std::optional<std::string>& scope,
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

  // SEP-990: exchanges the user's identity assertion at the enterprise IdP (RFC 8693) for an
  // Identity Assertion JWT Authorization Grant for the MCP server's authorization server.
  Result<std::string> id_jag(const Discovery& d, const std::optional<std::string>& scope,
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

  Result<StoredAuth> refresh(const StoredAuth& cur, const Discovery& d, Clock::time_point deadline) const {
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

  // Adds the client's authentication (`c.method`) to a token request; `audience` is the `aud`
  // of a private_key_jwt assertion.
  Result<void> authenticate(const Client& c, const std::string& audience, Params& p, Headers& h) const {
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

  // POSTs a token request with the client's authentication (and with `dpop`, a DPoP proof; an
  // AS asking for a nonce gets the request once more with it); the new credentials.
  Result<StoredAuth> token_request(const Discovery& d, const Client& c, const Params& params,
                                   const std::optional<std::string>& scope, const std::string& old_refresh, bool dpop,
                                   Clock::time_point deadline) const {
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
      a.expires_at = SysClock::now() + std::chrono::seconds(static_cast<std::int64_t>(it->get<double>()));
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

  OAuthClientOptions o_;
  Http http_;
  mutable std::mutex dpop_m_;  // the DPoP key and the authorization servers' nonces
  mutable std::optional<oauth::DpopKey> dpop_key_;
  mutable std::map<std::string, std::string> as_nonces_;  // token endpoint -> DPoP-Nonce
  std::mutex m_;
  std::map<std::string, std::shared_ptr<ServerState>> servers_;
};

}  // namespace

std::shared_ptr<AuthProvider> oauth_provider(OAuthClientOptions options) {
  return std::make_shared<OAuthProvider>(std::move(options));
}

}  // namespace mcp
