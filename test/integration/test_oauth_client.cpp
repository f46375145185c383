// SPDX-License-Identifier: MIT
// The OAuth client (<mcp/oauth.hpp>) against an in-process authorization server + protected
// MCP resource (cpp-httplib on 127.0.0.1, ephemeral port): discovery, registration, the code
// flow with PKCE/resource/state/iss, refresh, step-up, client credentials with
// private_key_jwt, the JWT bearer grant with a workload JWT or (SEP-990) with an ID-JAG from a
// token exchange at a fake enterprise IdP, token stores (tenants, file mode, resume), single flight, and that no
// secret ever shows up in an error or diagnostic.
#include "../../lib/auth/oauth_util.hpp"  // private header: PKCE/JWS checks on the server side
#include "helpers.hpp"

#include <mcp/client.hpp>
#include <mcp/oauth.hpp>
#include <mcp/pool.hpp>

#include <doctest/doctest.h>
#include <httplib.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <sys/stat.h>

#include <atomic>
#include <mutex>
#include <set>
#include <thread>

using namespace std::chrono_literals;
using nlohmann::json;
namespace oauth = mcp::detail::oauth;

namespace {

using Clock = std::chrono::steady_clock;

// What the fake authorization server remembers and counts.
struct AsState {
  std::mutex m;
  // knobs
  int expires_in = 3600;
  bool issue_refresh = true;
  bool iss_supported = true;
  std::string iss_override;             // sent as iss instead of the issuer when set
  std::string prm_resource_override;    // PRM resource instead of <base>/mcp
  std::string token_error;              // token endpoint answers 400 with this error
  std::vector<std::string> auth_methods{"client_secret_basic", "client_secret_post", "none"};
  std::string tools_call_scope;         // tools/call needs this scope (403 insufficient_scope)
  bool tools_call_always_403 = false;   // ... and is refused whatever the token has
  std::string deny_scope;               // the AS never grants this scope
  std::string public_key_pem;           // for private_key_jwt
  std::string idp_error;                // the IdP's token endpoint answers 400 with this error
  std::string idp_issued_token_type = "urn:ietf:params:oauth:token-type:id-jag";
  // DPoP (RFC 9449): advertise ES256 and require a valid proof at the token endpoint; tokens
  // issued for a proof are bound to its key (cnf.jkt), refresh tokens too, and the MCP endpoint
  // then wants `Authorization: DPoP` with a valid proof of that key.
  bool dpop = false;
  std::string as_nonce;                 // non-empty: token requests need this DPoP nonce
  std::string rs_nonce;                 // non-empty: MCP requests with a DPoP token need it
  bool rs_nonce_rotates = false;        // ... a new one for every request (never satisfied)
  // observations
  int registrations = 0, authorizations = 0, code_grants = 0, refresh_grants = 0, cc_grants = 0;
  std::vector<std::string> auth_scopes;          // scope of each authorization request
  std::vector<std::string> token_resources;      // resource of each token request
  std::vector<std::string> client_auth;          // basic / post / none / jwt per token request
  std::set<std::string> secrets;                 // every secret the AS handed out or saw
  int idp_requests = 0, jag_grants = 0;
  int token_proofs = 0, dpop_tokens = 0, dpop_resource_requests = 0;
  int as_nonce_challenges = 0, rs_nonce_challenges = 0;
  std::vector<std::string> dpop_errors;         // every proof the AS or the MCP endpoint refused
  std::set<std::string> jtis;                   // of every proof seen (replay detection)
  std::map<std::string, std::string> jkt;       // access or refresh token -> bound key thumbprint
  std::map<std::string, std::string> idp_params;  // the last token exchange request's parameters
  std::string idp_client_auth;                    // basic:<id> / post:<id> / none:<id>
  struct Jag {
    std::string client_id, audience, resource;
  };
  std::map<std::string, Jag> jags;                // ID-JAGs the IdP issued
  // live data
  std::map<std::string, std::string> clients;   // client_id -> secret
  struct Code {
    std::string client_id, challenge, redirect_uri, resource, scope;
  };
  std::map<std::string, Code> codes;
  std::map<std::string, std::string> tokens;    // access token -> scope
  std::map<std::string, std::string> refresh;   // refresh token -> scope
  int serial = 0;
};

std::string basic_client(const httplib::Request& req, std::string* secret) {
  auto h = req.get_header_value("Authorization");
  if (h.rfind("Basic ", 0) != 0) return {};
  auto raw = oauth::base64url_decode([&] {
    std::string s = h.substr(6);
    for (char& c : s) c = c == '+' ? '-' : c == '/' ? '_' : c;
    return s;
  }());
  if (!raw) return {};
  auto colon = raw->find(':');
  if (colon == std::string::npos) return {};
  *secret = oauth::form_urldecode(raw->substr(colon + 1));
  return oauth::form_urldecode(raw->substr(0, colon));
}

class FakeAs {
 public:
  FakeAs() {
    port_ = srv_.bind_to_any_port("127.0.0.1");
    REQUIRE(port_ > 0);
    base_ = "http://127.0.0.1:" + std::to_string(port_);
    routes();
    thread_ = std::thread([this] { srv_.listen_after_bind(); });
    for (int i = 0; i < 500 && !srv_.is_running(); ++i) std::this_thread::sleep_for(10ms);
  }
  ~FakeAs() {
    srv_.stop();
    thread_.join();
  }
  std::string base() const { return base_; }
  std::string mcp_url() const { return base_ + "/mcp"; }
  AsState s;

  // Revokes every access token (the next request gets 401).
  void revoke_access_tokens() {
    std::lock_guard lk(s.m);
    s.tokens.clear();
  }

 private:
  std::string next(const char* prefix) { return prefix + std::to_string(++s.serial) + "-" + *oauth::random_token(8); }

  // Checks a DPoP proof as RFC 9449 4.3 says (with s.m held): the thumbprint of its key, or
  // an error. `token` non-empty: `ath` must match; `nonce` non-empty: `nonce` must match.
  std::pair<std::string, std::string> check_proof(const httplib::Request& req, const std::string& htu,
                                                  const std::string& token, const std::string& nonce,
                                                  bool* nonce_missing) {
    *nonce_missing = false;
    if (req.get_header_value_count("DPoP") != 1) return {{}, "not exactly one DPoP header"};
    const std::string proof = req.get_header_value("DPoP");
    auto dot = proof.find('.');
    auto header_raw = oauth::base64url_decode(proof.substr(0, dot == std::string::npos ? 0 : dot));
    json header = header_raw ? json::parse(*header_raw, nullptr, false) : json();
    if (!header.is_object() || header.value("typ", "") != "dpop+jwt") return {{}, "typ"};
    if (!header.contains("jwk") || header["jwk"].contains("d")) return {{}, "jwk"};
    auto pem = oauth::ec_public_pem_from_jwk(header["jwk"]);
    if (!pem) return {{}, "jwk key"};
    auto v = oauth::verify_jws_es256(proof, *pem);
    if (!v) return {{}, "signature"};
    const json& c = v->claims;
    if (!c.contains("jti") || !c["jti"].is_string() || !s.jtis.insert(c["jti"].get<std::string>()).second)
      return {{}, "jti missing or replayed"};
    if (c.value("htm", "") != req.method) return {{}, "htm"};
    if (c.value("htu", "") != htu) return {{}, "htu"};
    const auto now = std::chrono::duration_cast<std::chrono::seconds>(
                         std::chrono::system_clock::now().time_since_epoch()).count();
    if (!c.contains("iat") || !c["iat"].is_number_integer() || std::abs(c["iat"].get<std::int64_t>() - now) > 60)
      return {{}, "iat"};
    if (token.empty() ? c.contains("ath") : c.value("ath", "") != oauth::sha256_base64url(token)) return {{}, "ath"};
    if (!nonce.empty() && c.value("nonce", "") != nonce) {
      *nonce_missing = true;
      return {{}, {}};
    }
    return {*oauth::jwk_thumbprint(header["jwk"]), {}};
  }

  void routes() {
    srv_.Get("/.well-known/oauth-protected-resource/mcp", [this](const httplib::Request&, httplib::Response& res) {
      std::lock_guard lk(s.m);
      json prm = {{"resource", s.prm_resource_override.empty() ? mcp_url() : s.prm_resource_override},
                  {"authorization_servers", {base_}},
                  {"scopes_supported", {"mcp:read"}}};
      res.set_content(prm.dump(), "application/json");
    });
    srv_.Get("/.well-known/oauth-authorization-server", [this](const httplib::Request&, httplib::Response& res) {
      std::lock_guard lk(s.m);
      json m = {{"issuer", base_},
                {"authorization_endpoint", base_ + "/authorize"},
                {"token_endpoint", base_ + "/token"},
                {"registration_endpoint", base_ + "/register"},
                {"response_types_supported", {"code"}},
                {"code_challenge_methods_supported", {"S256"}},
                {"token_endpoint_auth_methods_supported", s.auth_methods},
                {"scopes_supported", {"mcp:read", "mcp:write", "offline_access"}},
                {"authorization_response_iss_parameter_supported", s.iss_supported}};
      if (s.dpop) m["dpop_signing_alg_values_supported"] = {"ES256"};
      res.set_content(m.dump(), "application/json");
    });
    srv_.Post("/register", [this](const httplib::Request& req, httplib::Response& res) {
      std::lock_guard lk(s.m);
      json body = json::parse(req.body, nullptr, false);
      ++s.registrations;
      CHECK(body.value("application_type", "") == "native");
      std::string id = next("client-"), secret = next("client-secret-");
      s.clients[id] = secret;
      s.secrets.insert(secret);
      res.status = 201;
      res.set_content(json{{"client_id", id}, {"client_secret", secret}}.dump(), "application/json");
    });
    srv_.Get("/authorize", [this](const httplib::Request& req, httplib::Response& res) {
      std::lock_guard lk(s.m);
      ++s.authorizations;
      s.auth_scopes.push_back(req.get_param_value("scope"));
      CHECK(req.get_param_value("response_type") == "code");
      CHECK(req.get_param_value("code_challenge_method") == "S256");
      std::string code = next("code-");
      s.secrets.insert(code);
      s.codes[code] = {req.get_param_value("client_id"), req.get_param_value("code_challenge"),
                       req.get_param_value("redirect_uri"), req.get_param_value("resource"),
                       req.get_param_value("scope")};
      std::string loc = req.get_param_value("redirect_uri") + "?code=" + code +
                        "&state=" + oauth::form_urlencode(req.get_param_value("state"));
      if (s.iss_supported || !s.iss_override.empty())
        loc += "&iss=" + oauth::form_urlencode(s.iss_override.empty() ? base_ : s.iss_override);
      res.status = 302;
      res.set_header("Location", loc);
    });
    srv_.Post("/token", [this](const httplib::Request& req, httplib::Response& res) {
      std::lock_guard lk(s.m);
      auto reply_error = [&](int status, const std::string& e) {
        res.status = status;
        res.set_content(json{{"error", e}, {"error_description", "fake AS says no"}}.dump(), "application/json");
      };
      if (!s.token_error.empty()) return reply_error(400, s.token_error);
      std::string proof_jkt;  // the key the new tokens get bound to
      if (req.has_header("DPoP")) ++s.token_proofs;
      if (s.dpop) {
        bool nonce_missing = false;
        auto [jkt, error] = check_proof(req, base_ + "/token", "", s.as_nonce, &nonce_missing);
        if (nonce_missing) {
          ++s.as_nonce_challenges;
          res.set_header("DPoP-Nonce", s.as_nonce);
          return reply_error(400, "use_dpop_nonce");
        }
        if (!error.empty()) {
          s.dpop_errors.push_back("token: " + error);
          return reply_error(400, "invalid_dpop_proof");
        }
        proof_jkt = jkt;
      }
      // client authentication
      std::string secret;
      std::string id = basic_client(req, &secret);
      if (!id.empty()) s.client_auth.push_back("basic");
      else if (req.has_param("client_assertion")) {
        id = req.get_param_value("client_id");
        auto v = oauth::verify_jws_es256(req.get_param_value("client_assertion"), s.public_key_pem);
        if (!v || v->claims.value("iss", "") != id || v->claims.value("aud", "") != base_) return reply_error(401, "invalid_client");
        s.client_auth.push_back("jwt");
      } else if (req.has_param("client_secret")) {
        id = req.get_param_value("client_id");
        secret = req.get_param_value("client_secret");
        s.client_auth.push_back("post");
      } else {
        id = req.get_param_value("client_id");
        s.client_auth.push_back("none");
      }
      s.secrets.insert(secret);
      const std::string grant = req.get_param_value("grant_type");
      s.token_resources.push_back(req.get_param_value("resource"));
      std::string scope;
      if (grant == "authorization_code") {
        if (s.clients.count(id) && s.clients[id] != secret) return reply_error(401, "invalid_client");
        auto it = s.codes.find(req.get_param_value("code"));
        if (it == s.codes.end()) return reply_error(400, "invalid_grant");
        auto c = it->second;
        s.codes.erase(it);
        s.secrets.insert(req.get_param_value("code_verifier"));
        if (c.client_id != id || c.redirect_uri != req.get_param_value("redirect_uri") ||
            oauth::code_challenge_s256(req.get_param_value("code_verifier")) != c.challenge ||
            c.resource != req.get_param_value("resource"))
          return reply_error(400, "invalid_grant");
        ++s.code_grants;
        scope = c.scope;
      } else if (grant == "refresh_token") {
        auto it = s.refresh.find(req.get_param_value("refresh_token"));
        if (it == s.refresh.end()) return reply_error(400, "invalid_grant");
        if (s.jkt.count(it->first) && s.jkt[it->first] != proof_jkt) {
          s.dpop_errors.push_back("refresh token presented with another key");
          return reply_error(400, "invalid_grant");
        }
        scope = it->second;
        s.refresh.erase(it);
        ++s.refresh_grants;
      } else if (grant == "urn:ietf:params:oauth:grant-type:jwt-bearer" && s.jags.count(req.get_param_value("assertion"))) {
        // SEP-990: an ID-JAG for this AS and resource, issued to the authenticated client
        const auto& jag = s.jags[req.get_param_value("assertion")];
        if (!s.clients.count(id) || s.clients[id] != secret || jag.client_id != id) return reply_error(401, "invalid_client");
        if (jag.audience != base_ || jag.resource != mcp_url() || req.get_param_value("resource") != mcp_url())
          return reply_error(400, "invalid_grant");
        ++s.jag_grants;
      } else if (grant == "urn:ietf:params:oauth:grant-type:jwt-bearer") {
        if (req.get_param_value("assertion") != "workload-jwt") return reply_error(400, "invalid_grant");
        s.secrets.insert("workload-jwt");
        ++s.cc_grants;
      } else if (grant == "client_credentials") {
        ++s.cc_grants;
        scope = req.get_param_value("scope");
      } else {
        return reply_error(400, "unsupported_grant_type");
      }
      if (!s.deny_scope.empty()) {
        std::string kept;
        for (auto sc : oauth::split_scopes(scope))
          if (sc != s.deny_scope) kept += (kept.empty() ? "" : " ") + std::string(sc);
        scope = kept;
      }
      std::string at = next("access-"), rt = next("refresh-");
      s.tokens[at] = scope;
      s.secrets.insert(at);
      json out = {{"access_token", at}, {"token_type", "bearer"}, {"expires_in", s.expires_in}};
      if (!proof_jkt.empty()) {
        out["token_type"] = "DPoP";
        s.jkt[at] = proof_jkt;
        ++s.dpop_tokens;
      }
      if (!scope.empty()) out["scope"] = scope;
      if (s.issue_refresh && grant != "client_credentials") {
        s.refresh[rt] = scope;
        s.secrets.insert(rt);
        if (!proof_jkt.empty()) s.jkt[rt] = proof_jkt;
        out["refresh_token"] = rt;
      }
      res.set_content(out.dump(), "application/json");
    });
    // The enterprise IdP's token endpoint (RFC 8693 token exchange -> ID-JAG, SEP-990). Its
    // client "idp-client" (secret "idp-secret" when it authenticates) maps to the AS client "xaa".
    srv_.Post("/idp/token", [this](const httplib::Request& req, httplib::Response& res) {
      std::lock_guard lk(s.m);
      ++s.idp_requests;
      s.idp_params.clear();
      for (const auto& [k, v] : req.params) s.idp_params[k] = v;
      s.secrets.insert(req.get_param_value("subject_token"));
      std::string secret, id = basic_client(req, &secret);
      if (!id.empty()) s.idp_client_auth = "basic:" + id;
      else if (req.has_param("client_secret")) {
        id = req.get_param_value("client_id");
        secret = req.get_param_value("client_secret");
        s.idp_client_auth = "post:" + id;
      } else {
        id = req.get_param_value("client_id");
        s.idp_client_auth = "none:" + id;
      }
      s.secrets.insert(secret);
      if (!s.idp_error.empty() || id != "idp-client" || (!secret.empty() && secret != "idp-secret")) {
        res.status = 400;
        res.set_content(json{{"error", s.idp_error.empty() ? "invalid_client" : s.idp_error},
                             {"error_description", "fake IdP says no"}}.dump(),
                        "application/json");
        return;
      }
      std::string jag = next("id-jag-");
      s.secrets.insert(jag);
      s.jags[jag] = {"xaa", req.get_param_value("audience"), req.get_param_value("resource")};
      res.set_content(json{{"access_token", jag}, {"issued_token_type", s.idp_issued_token_type}, {"token_type", "N_A"}}.dump(),
                      "application/json");
    });
    // The protected MCP endpoint (legacy era, JSON responses).
    srv_.Post("/mcp", [this](const httplib::Request& req, httplib::Response& res) {
      json msg = json::parse(req.body, nullptr, false);
      const std::string method = msg.value("method", "");
      const std::string rm = "resource_metadata=\"" + base_ + "/.well-known/oauth-protected-resource/mcp\"";
      std::string scope;
      {
        std::lock_guard lk(s.m);
        auto h = req.get_header_value("Authorization");
        const bool dpop_scheme = h.rfind("DPoP ", 0) == 0;
        auto it = h.rfind("Bearer ", 0) == 0 || dpop_scheme ? s.tokens.find(h.substr(h.find(' ') + 1)) : s.tokens.end();
        const bool bound = it != s.tokens.end() && s.jkt.count(it->first);
        if (it != s.tokens.end() && bound != dpop_scheme) {
          s.dpop_errors.push_back(dpop_scheme ? "DPoP scheme with a bearer token" : "DPoP-bound token sent as bearer");
          it = s.tokens.end();
        }
        if (it != s.tokens.end() && bound) {
          ++s.dpop_resource_requests;
          if (s.rs_nonce_rotates) s.rs_nonce = "rs-nonce-r" + std::to_string(s.dpop_resource_requests);
          bool nonce_missing = false;
          auto [jkt, error] = check_proof(req, mcp_url(), it->first, s.rs_nonce, &nonce_missing);
          if (nonce_missing) {
            ++s.rs_nonce_challenges;
            res.status = 401;
            res.set_header("WWW-Authenticate", "DPoP error=\"use_dpop_nonce\", " + rm);
            res.set_header("DPoP-Nonce", s.rs_nonce);
            return;
          }
          if (!error.empty() || jkt != s.jkt[it->first]) {
            s.dpop_errors.push_back("resource: " + (error.empty() ? std::string("key is not the bound one") : error));
            it = s.tokens.end();
          }
        }
        if (it == s.tokens.end()) {
          res.status = 401;
          res.set_header("WWW-Authenticate", std::string(s.dpop ? "DPoP" : "Bearer") + " error=\"invalid_token\", " + rm);
          return;
        }
        scope = it->second;
        if (method == "tools/call" && !s.tools_call_scope.empty()) {
          auto granted = oauth::split_scopes(scope);
          if (s.tools_call_always_403 || std::find(granted.begin(), granted.end(), s.tools_call_scope) == granted.end()) {
            res.status = 403;
            res.set_header("WWW-Authenticate", "Bearer error=\"insufficient_scope\", scope=\"" + s.tools_call_scope + "\", " + rm);
            return;
          }
        }
      }
      if (!msg.contains("id")) {
        res.status = 202;
        return;
      }
      json result;
      if (method == "initialize")
        result = {{"protocolVersion", "2025-11-25"}, {"capabilities", {{"tools", json::object()}}}, {"serverInfo", {{"name", "fake"}, {"version", "1"}}}};
      else if (method == "tools/list")
        result = {{"tools", {{{"name", "echo"}, {"inputSchema", {{"type", "object"}}}}}}};
      else if (method == "tools/call")
        result = {{"content", {{{"type", "text"}, {"text", "ok"}}}}};
      else {
        res.set_content(json{{"jsonrpc", "2.0"}, {"id", msg["id"]}, {"error", {{"code", -32601}, {"message", "no"}}}}.dump(), "application/json");
        return;
      }
      res.set_content(json{{"jsonrpc", "2.0"}, {"id", msg["id"]}, {"result", result}}.dump(), "application/json");
    });
  }

  httplib::Server srv_;
  int port_ = 0;
  std::string base_;
  std::thread thread_;
};

// The user-agent: follows nothing, returns the Location of the authorization endpoint's answer.
mcp::Result<std::string> user_agent(const std::string& url, std::stop_token = {}) {
  auto u = oauth::split_url(url);
  if (!u) return mcp::fail(u.error());
  httplib::Client c(u->scheme + "://" + u->host + ":" + u->port);
  auto r = c.Get(u->path + "?" + u->query);
  if (!r || r->status != 302) return mcp::fail(mcp::Errc::unauthorized, "authorization endpoint did not redirect");
  return r->get_header_value("Location");
}

struct Diags {
  std::mutex m;
  std::vector<std::string> lines;
  std::function<void(std::string_view)> sink() {
    return [this](std::string_view s) {
      std::lock_guard lk(m);
      lines.emplace_back(s);
    };
  }
};

mcp::OAuthClientOptions options(Diags& d, std::shared_ptr<mcp::TokenStore> store = nullptr, std::string tenant = {}) {
  mcp::OAuthClientOptions o;
  o.tenant = std::move(tenant);
  o.store = std::move(store);
  o.redirect_uri = "http://127.0.0.1:1/callback";
  o.authorize = user_agent;
  o.on_diagnostic = d.sink();
  return o;
}

// What the transport does: send with request_headers(), on 401/403 ask on_challenge (with the
// refused Authorization and the DPoP-Nonce), resend.
struct Outcome {
  int status = 0;
  std::string error;
};
Outcome call(FakeAs& as, mcp::AuthProvider& p, const std::string& method = "tools/list") {
  const auto deadline = Clock::now() + 10s;
  httplib::Client c(as.base());
  for (int attempt = 1; attempt <= 6; ++attempt) {
    auto headers = p.request_headers({as.mcp_url(), "POST", as.mcp_url()}, deadline);
    if (!headers) return {0, headers.error().what()};
    httplib::Headers h(headers->begin(), headers->end());
    json body = {{"jsonrpc", "2.0"}, {"id", 1}, {"method", method}, {"params", json::object()}};
    auto r = c.Post("/mcp", h, body.dump(), "application/json");
    if (!r) return {0, "request failed"};
    if (r->status != 401 && r->status != 403) return {r->status, {}};
    mcp::AuthChallengeInfo info;
    info.status = r->status;
    info.www_authenticate = r->get_header_value("WWW-Authenticate");
    info.server_url = as.mcp_url();
    if (h.count("Authorization")) info.rejected_authorization = h.find("Authorization")->second;
    info.attempt = attempt;
    info.dpop_nonce = r->get_header_value("DPoP-Nonce");
    auto again = p.on_challenge(info, deadline);
    if (!again) return {r->status, again.error().what()};
    if (!*again) return {r->status, {}};
  }
  return {-1, "too many attempts"};
}

// No secret the AS handed out or received appears in `text`.
void check_no_secrets(FakeAs& as, const std::string& text) {
  std::lock_guard lk(as.s.m);
  for (const auto& secret : as.s.secrets)
    if (!secret.empty()) CHECK_MESSAGE(text.find(secret) == std::string::npos, "secret leaked into: " << text);
}
void check_no_secrets(FakeAs& as, Diags& d) {
  std::lock_guard lk(d.m);
  for (const auto& l : d.lines) check_no_secrets(as, l);
}

// A client of the fake AS's MCP endpoint (legacy era) authorizing with `auth`.
mcp::ClientConfig client_config(FakeAs& as, std::shared_ptr<mcp::AuthProvider> auth) {
  mcp::HttpServerConfig h;
  h.url = as.mcp_url();
  h.auth = std::move(auth);
  mcp::ServerConfig sc;
  sc.transport = h;
  sc.era = mcp::Era::legacy;
  auto cfg = testutil::one("h", std::move(sc));
  cfg.request_timeout = 10s;
  return cfg;
}

std::string temp_store_path(const std::string& stem) {
  auto p = testutil::temp_path(stem);
  ::unlink(p.c_str());
  ::unlink((p + ".lock").c_str());
  return p;
}

}  // namespace

TEST_CASE("oauth: authorization code flow end to end through mcp::Client") {
  FakeAs as;
  Diags d;
  auto client = mcp::Client::create(client_config(as, mcp::oauth_provider(options(d))));
  REQUIRE(client);
  auto r = client->call_tool("h", "echo", json::object());
  REQUIRE_MESSAGE(r, (r ? "" : r.error().what()));
  CHECK(r->text() == "ok");
  std::lock_guard lk(as.s.m);
  CHECK(as.s.registrations == 1);
  CHECK(as.s.authorizations == 1);
  CHECK(as.s.code_grants == 1);
  REQUIRE(as.s.token_resources.size() == 1);
  CHECK(as.s.token_resources[0] == as.mcp_url());
  REQUIRE(as.s.auth_scopes.size() == 1);
  // scopes_supported of the PRM, plus offline_access the AS lists
  CHECK(as.s.auth_scopes[0] == "mcp:read offline_access");
  CHECK(as.s.client_auth == std::vector<std::string>{"basic"});
}

TEST_CASE("oauth: provider API; refresh before a new flow; proactive refresh of an expired token") {
  FakeAs as;
  Diags d;
  auto p = mcp::oauth_provider(options(d));
  CHECK(*p->authorization(as.mcp_url(), Clock::now() + 5s) == "");
  auto o = call(as, *p);
  REQUIRE_MESSAGE(o.status == 200, o.error);
  const std::string first = *p->authorization(as.mcp_url(), Clock::now() + 5s);
  CHECK(first.rfind("Bearer access-", 0) == 0);

  SUBCASE("a refused token is refreshed, not re-authorized") {
    as.revoke_access_tokens();
    o = call(as, *p);
    REQUIRE_MESSAGE(o.status == 200, o.error);
    std::lock_guard lk(as.s.m);
    CHECK(as.s.authorizations == 1);
    CHECK(as.s.refresh_grants == 1);
    CHECK(as.s.registrations == 1);
  }
  SUBCASE("an expired token is refreshed before it is sent") {
    {
      std::lock_guard lk(as.s.m);
      as.s.expires_in = 5;  // within the 30 s skew: expired at once
    }
    as.revoke_access_tokens();
    o = call(as, *p);  // 401 -> refresh (token now "expired")
    REQUIRE_MESSAGE(o.status == 200, o.error);
    const std::string second = *p->authorization(as.mcp_url(), Clock::now() + 5s);  // proactive refresh
    CHECK(second != first);
    std::lock_guard lk(as.s.m);
    // 1: the refused token; 2: the refreshed one is already "expired" when call() resends;
    // 3: the authorization() above.
    CHECK(as.s.refresh_grants == 3);
    CHECK(as.s.authorizations == 1);
  }
  SUBCASE("a refresh the AS refuses falls back to a new authorization") {
    {
      std::lock_guard lk(as.s.m);
      as.s.refresh.clear();
    }
    as.revoke_access_tokens();
    o = call(as, *p);
    REQUIRE_MESSAGE(o.status == 200, o.error);
    std::lock_guard lk(as.s.m);
    CHECK(as.s.authorizations == 2);
    CHECK(as.s.registrations == 1);  // the registration is kept
  }
  check_no_secrets(as, d);
}

TEST_CASE("oauth: step-up on 403 insufficient_scope asks for the union, and gives up when it cannot help") {
  FakeAs as;
  Diags d;
  {
    std::lock_guard lk(as.s.m);
    as.s.tools_call_scope = "mcp:write";
  }
  auto p = mcp::oauth_provider(options(d));
  REQUIRE(call(as, *p).status == 200);
  auto o = call(as, *p, "tools/call");
  REQUIRE_MESSAGE(o.status == 200, o.error);
  {
    std::lock_guard lk(as.s.m);
    REQUIRE(as.s.auth_scopes.size() == 2);
    CHECK(as.s.auth_scopes[1] == "mcp:read offline_access mcp:write");
  }
  SUBCASE("a scope the AS never grants: bounded by max_step_up") {
    {
      std::lock_guard lk(as.s.m);
      as.s.tools_call_scope = "mcp:admin";
      as.s.deny_scope = "mcp:admin";
    }
    o = call(as, *p, "tools/call");
    CHECK(o.status == 403);
    CHECK(o.error.empty());  // not an error: the provider says "no new credentials"
    std::lock_guard lk(as.s.m);
    CHECK(as.s.authorizations == 2 + 3);
    CHECK(as.s.auth_scopes.back().find("mcp:admin") != std::string::npos);
  }
  SUBCASE("a server that refuses a token with every scope it asks for: no re-authorization loop") {
    {
      std::lock_guard lk(as.s.m);
      as.s.tools_call_scope = "mcp:write";
      as.s.tools_call_always_403 = true;
    }
    o = call(as, *p, "tools/call");
    CHECK(o.status == 403);
    std::lock_guard lk(as.s.m);
    CHECK(as.s.authorizations == 2);
  }
}

TEST_CASE("oauth: token store isolation per tenant, file mode 0600, resume without a new flow") {
  FakeAs as;
  Diags d;
  const std::string path = temp_store_path("tokens.json");
  auto store = mcp::file_token_store(path);
  auto alice = mcp::oauth_provider(options(d, store, "alice"));
  auto bob = mcp::oauth_provider(options(d, store, "bob"));
  REQUIRE(call(as, *alice).status == 200);
  REQUIRE(call(as, *bob).status == 200);
  const std::string a = *alice->authorization(as.mcp_url(), Clock::now() + 5s);
  const std::string b = *bob->authorization(as.mcp_url(), Clock::now() + 5s);
  CHECK(!a.empty());
  CHECK(!b.empty());
  CHECK(a != b);
  struct stat st {};
  REQUIRE(::stat(path.c_str(), &st) == 0);
  CHECK((st.st_mode & 0777) == 0600);
  json doc = json::parse(testutil::read_file(path));
  CHECK(doc["entries"].size() == 2);

  // A new process (a new provider and store object on the same file) resumes alice's token.
  auto alice2 = mcp::oauth_provider(options(d, mcp::file_token_store(path), "alice"));
  CHECK(*alice2->authorization(as.mcp_url(), Clock::now() + 5s) == a);
  REQUIRE(call(as, *alice2).status == 200);
  {
    std::lock_guard lk(as.s.m);
    CHECK(as.s.authorizations == 2);
    CHECK(as.s.registrations == 2);
  }
  // Refusing a store file others can read.
  REQUIRE(::chmod(path.c_str(), 0644) == 0);
  auto loaded = mcp::file_token_store(path)->load({"alice", "", as.mcp_url()});
  REQUIRE_FALSE(loaded);
  CHECK(loaded.error().errc() == mcp::Errc::invalid_config);
  ::unlink(path.c_str());
  ::unlink((path + ".lock").c_str());
}

TEST_CASE("oauth: failures are clear and never carry secrets") {
  FakeAs as;
  Diags d;
  SUBCASE("token endpoint error") {
    auto p = mcp::oauth_provider(options(d));
    {
      std::lock_guard lk(as.s.m);
      as.s.token_error = "invalid_grant";
    }
    auto o = call(as, *p);
    CHECK(o.status == 401);
    CHECK(o.error.find("invalid_grant") != std::string::npos);
    check_no_secrets(as, o.error);
  }
  SUBCASE("iss mismatch: the code is never sent to the token endpoint") {
    auto p = mcp::oauth_provider(options(d));
    {
      std::lock_guard lk(as.s.m);
      as.s.iss_override = "https://evil.example.com";
    }
    auto o = call(as, *p);
    CHECK(o.error.find("iss") != std::string::npos);
    check_no_secrets(as, o.error);
    std::lock_guard lk(as.s.m);
    CHECK(as.s.code_grants == 0);
    CHECK(as.s.token_resources.empty());
  }
  SUBCASE("state mismatch") {
    auto o = options(d);
    o.authorize = [](const std::string& url, std::stop_token) -> mcp::Result<std::string> {
      auto loc = user_agent(url);
      if (!loc) return loc;
      auto pos = loc->find("state=");
      return loc->substr(0, pos) + "state=forged" + loc->substr(loc->find('&', pos));
    };
    auto p = mcp::oauth_provider(o);
    auto r = call(as, *p);
    CHECK(r.error.find("state") != std::string::npos);
    check_no_secrets(as, r.error);
  }
  SUBCASE("PRM for another resource: no authorization attempted") {
    {
      std::lock_guard lk(as.s.m);
      as.s.prm_resource_override = "https://evil.example.com/mcp";
    }
    auto p = mcp::oauth_provider(options(d));
    auto r = call(as, *p);
    CHECK(r.error.find("different resource") != std::string::npos);
    std::lock_guard lk(as.s.m);
    CHECK(as.s.registrations == 0);
    CHECK(as.s.authorizations == 0);
  }
  SUBCASE("missing options") {
    mcp::OAuthClientOptions o;
    auto p = mcp::oauth_provider(o);
    auto r = call(as, *p);
    CHECK(r.error.find("authorize callback") != std::string::npos);
  }
  check_no_secrets(as, d);
}

TEST_CASE("oauth: client credentials with private_key_jwt and with client_secret_basic") {
  FakeAs as;
  Diags d;
  EVP_PKEY* key = EVP_EC_gen("P-256");
  REQUIRE(key);
  auto pem = [&](bool priv) {
    BIO* bio = BIO_new(BIO_s_mem());
    if (priv) PEM_write_bio_PrivateKey(bio, key, nullptr, nullptr, 0, nullptr, nullptr);
    else PEM_write_bio_PUBKEY(bio, key);
    char* data = nullptr;
    long n = BIO_get_mem_data(bio, &data);
    std::string out(data, static_cast<std::size_t>(n));
    BIO_free(bio);
    return out;
  };
  {
    std::lock_guard lk(as.s.m);
    as.s.public_key_pem = pem(false);
    as.s.clients["m2m"] = "m2m-secret";
    as.s.secrets.insert("m2m-secret");
  }
  mcp::OAuthClientOptions o;
  o.grant = mcp::OAuthGrant::client_credentials;
  o.client_id = "m2m";
  o.on_diagnostic = d.sink();
  SUBCASE("private_key_jwt") {
    o.private_key_pem = pem(true);
    auto p = mcp::oauth_provider(o);
    auto r = call(as, *p);
    REQUIRE_MESSAGE(r.status == 200, r.error);
    std::lock_guard lk(as.s.m);
    CHECK(as.s.client_auth == std::vector<std::string>{"jwt"});
    CHECK(as.s.cc_grants == 1);
    CHECK(as.s.authorizations == 0);
    CHECK(as.s.registrations == 0);
  }
  SUBCASE("client_secret_basic") {
    o.client_secret = "m2m-secret";
    auto p = mcp::oauth_provider(o);
    auto r = call(as, *p);
    REQUIRE_MESSAGE(r.status == 200, r.error);
    std::lock_guard lk(as.s.m);
    CHECK(as.s.client_auth == std::vector<std::string>{"basic"});
  }
  SUBCASE("jwt bearer grant (workload identity)") {
    o.grant = mcp::OAuthGrant::jwt_bearer;
    o.assertion = [] { return mcp::Result<std::string>("workload-jwt"); };
    auto p = mcp::oauth_provider(o);
    auto r = call(as, *p);
    REQUIRE_MESSAGE(r.status == 200, r.error);
    std::lock_guard lk(as.s.m);
    CHECK(as.s.cc_grants == 1);
    CHECK(as.s.client_auth == std::vector<std::string>{"none"});
  }
  EVP_PKEY_free(key);
  check_no_secrets(as, d);
}

TEST_CASE("oauth: enterprise-managed authorization: token exchange at the IdP, then the JWT bearer grant") {
  FakeAs as;
  Diags d;
  auto knob = [&](const std::function<void(AsState&)>& set) {
    std::lock_guard lk(as.s.m);
    set(as.s);
  };
  knob([](AsState& s) {
    s.clients["xaa"] = "xaa-secret";
    s.secrets.insert("xaa-secret");
    s.secrets.insert("idp-secret");
  });
  std::atomic<int> subject_calls{0};
  mcp::OAuthClientOptions o;
  o.grant = mcp::OAuthGrant::enterprise_managed;
  o.client_id = "xaa";
  o.client_secret = "xaa-secret";
  o.idp_token_endpoint = as.base() + "/idp/token";
  o.idp_client_id = "idp-client";
  o.idp_client_secret = "idp-secret";
  o.idp_subject_token = [&] {
    ++subject_calls;
    return mcp::Result<std::string>("user-id-token");
  };
  o.on_diagnostic = d.sink();
  // No grant at the AS, no browser, no registration.
  auto no_as_grant = [&] {
    std::lock_guard lk(as.s.m);
    CHECK(as.s.jag_grants == 0);
    CHECK(as.s.token_resources.empty());
    CHECK(as.s.authorizations == 0);
    CHECK(as.s.registrations == 0);
  };

  SUBCASE("the exchange request, then the grant with the ID-JAG and the client's authentication") {
    auto p = mcp::oauth_provider(o);
    auto r = call(as, *p);
    REQUIRE_MESSAGE(r.status == 200, r.error);
    std::lock_guard lk(as.s.m);
    CHECK(as.s.idp_requests == 1);
    auto& q = as.s.idp_params;
    CHECK(q["grant_type"] == "urn:ietf:params:oauth:grant-type:token-exchange");
    CHECK(q["requested_token_type"] == "urn:ietf:params:oauth:token-type:id-jag");
    CHECK(q["subject_token"] == "user-id-token");
    CHECK(q["subject_token_type"] == "urn:ietf:params:oauth:token-type:id_token");
    CHECK(q["audience"] == as.base());    // the AS issuer from the PRM
    CHECK(q["resource"] == as.mcp_url());  // the PRM resource
    CHECK(q["scope"] == "mcp:read");       // scopes_supported of the PRM
    CHECK(q.count("client_secret") == 0);
    CHECK(as.s.idp_client_auth == "basic:idp-client");
    CHECK(as.s.jag_grants == 1);
    CHECK(as.s.client_auth == std::vector<std::string>{"basic"});
    CHECK(as.s.token_resources == std::vector<std::string>{as.mcp_url()});
    CHECK(as.s.authorizations == 0);
    CHECK(as.s.registrations == 0);
    CHECK(subject_calls == 1);
  }
  SUBCASE("IdP client authentication: client_secret_post, and none without a secret; explicit audience/resource") {
    o.idp_token_endpoint_auth_method = "client_secret_post";
    SUBCASE("post") {}
    SUBCASE("none") {
      o.idp_token_endpoint_auth_method.clear();
      o.idp_client_secret.clear();
    }
    o.idp_audience = "https://as.example/override";
    auto p = mcp::oauth_provider(o);
    auto r = call(as, *p);
    CHECK(r.status == 401);  // the fake AS refuses an ID-JAG for another audience
    std::lock_guard lk(as.s.m);
    CHECK(as.s.idp_params["audience"] == "https://as.example/override");
    CHECK(as.s.idp_client_auth == (o.idp_client_secret.empty() ? "none:idp-client" : "post:idp-client"));
    CHECK(as.s.jag_grants == 0);
  }
  SUBCASE("the IdP refuses: the error is surfaced once, without a grant at the AS or a secret") {
    knob([](AsState& s) { s.idp_error = "invalid_grant"; });
    auto p = mcp::oauth_provider(o);
    auto r = call(as, *p);
    CHECK(r.status == 401);
    CHECK(r.error.find("token exchange") != std::string::npos);
    CHECK(r.error.find("invalid_grant") != std::string::npos);
    CHECK(r.error.find("/idp/token") != std::string::npos);
    check_no_secrets(as, r.error);
    no_as_grant();
    {
      std::lock_guard lk(as.s.m);
      CHECK(as.s.idp_requests == 1);
      CHECK(subject_calls == 1);
    }
    // Through mcp::Client: the request fails with the IdP's refusal after one exchange.
    auto client = mcp::Client::create(client_config(as, p));
    REQUIRE(client);
    auto tr = client->call_tool("h", "echo", json::object());
    REQUIRE_FALSE(tr);
    CHECK(std::string(tr.error().what()).find("invalid_grant") != std::string::npos);
    check_no_secrets(as, tr.error().what());
    no_as_grant();
    std::lock_guard lk(as.s.m);
    CHECK(as.s.idp_requests == 2);
  }
  SUBCASE("the IdP issues something else than an ID-JAG: not presented to the AS") {
    knob([](AsState& s) { s.idp_issued_token_type = "urn:ietf:params:oauth:token-type:access_token"; });
    auto p = mcp::oauth_provider(o);
    auto r = call(as, *p);
    CHECK(r.error.find("did not issue an ID-JAG") != std::string::npos);
    check_no_secrets(as, r.error);
    no_as_grant();
  }
  SUBCASE("the AS refuses the grant: surfaced once") {
    o.client_secret = "wrong-secret";
    auto p = mcp::oauth_provider(o);
    auto r = call(as, *p);
    CHECK(r.status == 401);
    CHECK(r.error.find("invalid_client") != std::string::npos);
    CHECK(r.error.find("wrong-secret") == std::string::npos);
    check_no_secrets(as, r.error);
    std::lock_guard lk(as.s.m);
    CHECK(as.s.idp_requests == 1);
    CHECK(as.s.jag_grants == 0);
    CHECK(as.s.token_resources.size() == 1);
  }
  SUBCASE("the subject token callback fails: nothing is sent") {
    o.idp_subject_token = [] { return mcp::Result<std::string>(mcp::fail(mcp::Errc::unauthorized, "not signed in")); };
    auto p = mcp::oauth_provider(o);
    auto r = call(as, *p);
    CHECK(r.error.find("not signed in") != std::string::npos);
    no_as_grant();
    std::lock_guard lk(as.s.m);
    CHECK(as.s.idp_requests == 0);
  }
  SUBCASE("missing options") {
    SUBCASE("idp_token_endpoint") { o.idp_token_endpoint.clear(); }
    SUBCASE("idp_subject_token") { o.idp_subject_token = nullptr; }
    SUBCASE("idp_client_id") { o.idp_client_id.clear(); }
    SUBCASE("client_id") { o.client_id.clear(); }
    SUBCASE("idp auth method") { o.idp_token_endpoint_auth_method = "private_key_jwt"; }
    auto p = mcp::oauth_provider(o);
    auto r = call(as, *p);
    const bool named = r.error.find("enterprise-managed") != std::string::npos ||
                       r.error.find("idp_token_endpoint_auth_method") != std::string::npos;
    CHECK_MESSAGE(named, r.error);
    CHECK(r.error.find("xaa-secret") == std::string::npos);
    no_as_grant();
    std::lock_guard lk(as.s.m);
    CHECK(as.s.idp_requests == 0);
  }
  check_no_secrets(as, d);
}

TEST_CASE("oauth: concurrent challenges run one authorization") {
  FakeAs as;
  Diags d;
  std::atomic<int> authorizes{0};
  auto o = options(d);
  o.authorize = [&](const std::string& url, std::stop_token) {
    ++authorizes;
    std::this_thread::sleep_for(100ms);
    return user_agent(url);
  };
  auto p = mcp::oauth_provider(o);
  std::vector<std::thread> threads;
  std::atomic<int> ok{0};
  for (int i = 0; i < 4; ++i)
    threads.emplace_back([&] {
      if (call(as, *p).status == 200) ++ok;
    });
  for (auto& t : threads) t.join();
  CHECK(ok == 4);
  CHECK(authorizes == 1);
}

TEST_CASE("oauth: a pool keeps each tenant's tokens apart in one shared store, and an evicted tenant resumes") {
  FakeAs as;
  Diags d;
  const std::string path = temp_store_path("pool-tokens.json");
  auto store = mcp::file_token_store(path);
  std::mutex seen_m;
  std::map<std::string, std::set<std::string>> seen;  // tenant -> Authorization values sent
  mcp::PoolOptions po;
  po.max_clients = 4;
  po.factory = [&](const std::string& tenant) -> mcp::Result<mcp::ClientConfig> {
    auto inner = mcp::oauth_provider(options(d, store, tenant));
    // Records what each tenant's client sends, to check no tenant ever sends another's token.
    struct Recording final : mcp::AuthProvider {
      std::shared_ptr<mcp::AuthProvider> inner;
      std::function<void(const std::string&)> record;
      mcp::Result<std::string> authorization(const std::string& url, Clock::time_point dl) override {
        auto v = inner->authorization(url, dl);
        if (v && !v->empty()) record(*v);
        return v;
      }
      mcp::Result<bool> on_challenge(const mcp::AuthChallengeInfo& c, Clock::time_point dl) override {
        return inner->on_challenge(c, dl);
      }
    };
    auto rec = std::make_shared<Recording>();
    rec->inner = inner;
    rec->record = [&, tenant](const std::string& v) {
      std::lock_guard lk(seen_m);
      seen[tenant].insert(v);
    };
    auto cfg = client_config(as, rec);
    cfg.id = tenant;
    return cfg;
  };
  auto pool = mcp::ClientPool::create(std::move(po));
  REQUIRE(pool);
  for (const char* t : {"t1", "t2", "t3", "t1", "t2"}) {
    auto lease = (*pool)->acquire(t);
    REQUIRE(lease);
    auto r = (*lease)->call_tool("h", "echo", json::object());
    REQUIRE_MESSAGE(r, (r ? "" : r.error().what()));
  }
  {
    std::lock_guard lk(as.s.m);
    CHECK(as.s.authorizations == 3);  // one per tenant; pooled clients reuse theirs
  }
  (*pool)->evict("t1");
  {
    auto lease = (*pool)->acquire("t1");  // a new client: the store already holds t1's token
    REQUIRE(lease);
    REQUIRE((*lease)->call_tool("h", "echo", json::object()));
  }
  {
    std::lock_guard lk(as.s.m);
    CHECK(as.s.authorizations == 3);
  }
  std::lock_guard lk(seen_m);
  REQUIRE(seen.size() == 3);
  for (const auto& [a, va] : seen)
    for (const auto& [b, vb] : seen)
      if (a != b)
        for (const auto& v : va) CHECK_MESSAGE(vb.count(v) == 0, a << " and " << b << " sent the same token");
  json doc = json::parse(testutil::read_file(path));
  CHECK(doc["entries"].size() == 3);
  check_no_secrets(as, d);
  pool->reset();
  ::unlink(path.c_str());
  ::unlink((path + ".lock").c_str());
}

// ---------------------------------------------------------------------------------------------
// DPoP (RFC 9449)

namespace {
mcp::OAuthClientOptions dpop_options(Diags& d, mcp::DpopMode mode = mcp::DpopMode::if_supported,
                                     std::shared_ptr<mcp::TokenStore> store = nullptr) {
  auto o = options(d, std::move(store));
  o.dpop = mode;
  return o;
}

std::vector<std::string> dpop_errors(FakeAs& as) {
  std::lock_guard lk(as.s.m);
  return as.s.dpop_errors;
}

std::string pem_of(const oauth::DpopKey& k) {
  std::unique_ptr<BIO, int (*)(BIO*)> bio(BIO_new(BIO_s_mem()), BIO_free);
  REQUIRE(PEM_write_bio_PrivateKey(bio.get(), k.native(), nullptr, nullptr, 0, nullptr, nullptr) == 1);
  char* data = nullptr;
  long n = BIO_get_mem_data(bio.get(), &data);
  return std::string(data, static_cast<std::size_t>(n));
}
}  // namespace

TEST_CASE("oauth: DPoP end to end through mcp::Client: bound token, DPoP scheme, a fresh proof per request") {
  FakeAs as;
  as.s.dpop = true;
  Diags d;
  auto client = mcp::Client::create(client_config(as, mcp::oauth_provider(dpop_options(d))));
  REQUIRE(client);
  for (int i = 0; i < 3; ++i) {
    auto r = client->call_tool("h", "echo", json::object());
    REQUIRE_MESSAGE(r, (r ? "" : r.error().what()));
  }
  CHECK(dpop_errors(as).empty());
  std::lock_guard lk(as.s.m);
  CHECK(as.s.code_grants == 1);
  CHECK(as.s.token_proofs == 1);
  CHECK(as.s.dpop_tokens == 1);
  CHECK(as.s.dpop_resource_requests >= 4);  // initialize, initialized, the calls: each its own jti
}

TEST_CASE("oauth: DPoP nonces of the AS and the MCP server; refresh with the bound refresh token") {
  FakeAs as;
  as.s.dpop = true;
  as.s.as_nonce = "as-nonce-1";
  as.s.rs_nonce = "rs-nonce-1";
  Diags d;
  auto p = mcp::oauth_provider(dpop_options(d));
  auto o = call(as, *p);
  REQUIRE_MESSAGE(o.status == 200, o.error);
  auto h = p->request_headers({as.mcp_url(), "GET", as.mcp_url() + "?x=1"}, Clock::now() + 5s);
  REQUIRE(h);
  REQUIRE(h->size() == 2);
  CHECK((*h)[0].first == "Authorization");
  CHECK((*h)[0].second.rfind("DPoP access-", 0) == 0);
  CHECK((*h)[1].first == "DPoP");
  {
    std::lock_guard lk(as.s.m);
    CHECK(as.s.as_nonce_challenges == 1);  // the token request went again with the nonce
    CHECK(as.s.code_grants == 1);
    CHECK(as.s.rs_nonce_challenges == 1);  // the MCP request went again with the nonce
  }
  o = call(as, *p);  // the nonce is remembered: no new challenge
  REQUIRE_MESSAGE(o.status == 200, o.error);
  {
    std::lock_guard lk(as.s.m);
    CHECK(as.s.rs_nonce_challenges == 1);
    as.s.rs_nonce = "rs-nonce-2";  // the server moves on: one more challenge
  }
  o = call(as, *p);
  REQUIRE_MESSAGE(o.status == 200, o.error);
  as.revoke_access_tokens();
  o = call(as, *p);  // refreshed with a proof of the same key, the AS nonce already known
  REQUIRE_MESSAGE(o.status == 200, o.error);
  CHECK(dpop_errors(as).empty());
  std::lock_guard lk(as.s.m);
  CHECK(as.s.rs_nonce_challenges == 2);
  CHECK(as.s.as_nonce_challenges == 1);
  CHECK(as.s.refresh_grants == 1);
  CHECK(as.s.authorizations == 1);
  CHECK(as.s.dpop_tokens == 2);
}

TEST_CASE("oauth: DPoP nonce challenges are bounded") {
  FakeAs as;
  as.s.dpop = true;
  as.s.rs_nonce = "rs-nonce-0";
  as.s.rs_nonce_rotates = true;  // every proof gets a use_dpop_nonce with a newer nonce
  Diags d;
  auto p = mcp::oauth_provider(dpop_options(d));
  auto o = call(as, *p);
  CHECK(o.status == 401);
  std::lock_guard lk(as.s.m);
  // Attempt 1 is the 401 without a token; the nonce challenges of attempts 2 and 3 are retried,
  // the one of attempt 4 ends it.
  CHECK(as.s.rs_nonce_challenges == 3);
  CHECK(as.s.authorizations == 1);       // a nonce challenge never starts an authorization
}

TEST_CASE("oauth: DPoP modes: off and unadvertised send no proof; always sends one, a bearer answer is used as such") {
  FakeAs as;  // no dpop_signing_alg_values_supported; ignores proofs, issues bearer tokens
  Diags d;
  SUBCASE("if_supported without the AS advertising it") {
    auto p = mcp::oauth_provider(dpop_options(d));
    REQUIRE(call(as, *p).status == 200);
    std::lock_guard lk(as.s.m);
    CHECK(as.s.token_proofs == 0);
  }
  SUBCASE("always") {
    auto p = mcp::oauth_provider(dpop_options(d, mcp::DpopMode::always));
    REQUIRE(call(as, *p).status == 200);
    CHECK(p->authorization(as.mcp_url(), Clock::now() + 5s)->rfind("Bearer access-", 0) == 0);
    auto h = p->request_headers({as.mcp_url(), "POST", as.mcp_url()}, Clock::now() + 5s);
    REQUIRE(h);
    CHECK(h->size() == 1);  // a bearer token needs no proof
    std::lock_guard lk(as.s.m);
    CHECK(as.s.token_proofs == 1);
  }
  SUBCASE("off, with an AS requiring DPoP: refused, no proof sent") {
    {
      std::lock_guard lk(as.s.m);
      as.s.dpop = true;
    }
    auto p = mcp::oauth_provider(dpop_options(d, mcp::DpopMode::off));
    auto o = call(as, *p);
    CHECK(o.status == 401);
    CHECK(o.error.find("invalid_dpop_proof") != std::string::npos);
    std::lock_guard lk(as.s.m);
    CHECK(as.s.token_proofs == 0);
  }
}

TEST_CASE("oauth: DPoP tokens in a store are used only with the key they are bound to; keys stay secret") {
  FakeAs as;
  as.s.dpop = true;
  Diags d;
  const std::string path = temp_store_path("dpop-tokens.json");
  auto key = oauth::DpopKey::generate();
  REQUIRE(key);
  const std::string pem = pem_of(*key);
  {
    std::lock_guard lk(as.s.m);
    as.s.secrets.insert(pem);
  }
  auto o = dpop_options(d, mcp::DpopMode::if_supported, mcp::file_token_store(path));
  o.dpop_private_key_pem = pem;
  {
    auto p = mcp::oauth_provider(o);
    REQUIRE(call(as, *p).status == 200);
    CHECK(json::parse(testutil::read_file(path))["entries"][0]["dpop_jkt"] == key->thumbprint());
  }
  {  // the same key (a restart): the stored token is used as it is
    auto p = mcp::oauth_provider(o);
    CHECK(p->authorization(as.mcp_url(), Clock::now() + 5s)->rfind("DPoP access-", 0) == 0);
    REQUIRE(call(as, *p).status == 200);
    std::lock_guard lk(as.s.m);
    CHECK(as.s.authorizations == 1);
  }
  {  // another key: neither the token nor its bound refresh token; the registration is kept
    o.dpop_private_key_pem.clear();
    auto p = mcp::oauth_provider(o);
    CHECK(*p->authorization(as.mcp_url(), Clock::now() + 5s) == "");
    auto r = call(as, *p);
    REQUIRE_MESSAGE(r.status == 200, r.error);
    std::lock_guard lk(as.s.m);
    CHECK(as.s.authorizations == 2);
    CHECK(as.s.registrations == 1);
    CHECK(as.s.refresh_grants == 0);
  }
  CHECK(dpop_errors(as).empty());
  {  // an unusable key PEM: a configuration error that does not quote it
    o.dpop_private_key_pem = "-----BEGIN PRIVATE KEY-----\nTOPSECRETKEYMATERIAL\n-----END PRIVATE KEY-----\n";
    o.store = nullptr;
    auto r = call(as, *mcp::oauth_provider(o));
    CHECK(r.error.find("DPoP key") != std::string::npos);
    CHECK(r.error.find("TOPSECRET") == std::string::npos);
  }
  check_no_secrets(as, d);
  ::unlink(path.c_str());
  ::unlink((path + ".lock").c_str());
}
