// SPDX-License-Identifier: MIT
#pragma once
// Test equipment for the server's authorization tests, not built on our library: signing keys
// made per run with OpenSSL (TestKey), and an OAuth 2.1 authorization server on 127.0.0.1
// (cpp-httplib, ephemeral port; TestAs) that issues JWT access tokens (RFC 9068) for the
// resource a client names (RFC 8707):
//   GET  /.well-known/oauth-authorization-server   RFC 8414 metadata
//   GET  /jwks                                      its public keys (ES256 and RS256)
//   POST /register                                  RFC 7591 dynamic client registration
//   GET  /authorize                                 auto-approves: 302 to the registered
//                                                   redirect_uri with code, state and iss (RFC 9207)
//   POST /token                                     authorization_code (PKCE S256 checked),
//                                                   client_credentials, refresh_token (rotated)
//   POST /introspect                                RFC 7662, for the tokens it issued
// Every secret it hands out or receives is kept (TestAs::secrets) so that tests can check that
// none shows up in an error or a log line.
#include <doctest/doctest.h>
#include <httplib.h>
#include <nlohmann/json.hpp>
#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/ec.h>
#include <openssl/evp.h>
#include <openssl/rand.h>

#include <atomic>
#include <chrono>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

namespace testas {

using nlohmann::json;

inline std::string b64url(std::string_view in) {
  static const char* tbl = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
  std::string out;
  std::size_t i = 0;
  for (; i + 2 < in.size(); i += 3) {
    unsigned v = (unsigned char)in[i] << 16 | (unsigned char)in[i + 1] << 8 | (unsigned char)in[i + 2];
    for (int s = 18; s >= 0; s -= 6) out += tbl[(v >> s) & 63];
  }
  if (i + 1 == in.size()) {
    unsigned v = (unsigned char)in[i] << 16;
    out += tbl[(v >> 18) & 63];
    out += tbl[(v >> 12) & 63];
  } else if (i + 2 == in.size()) {
    unsigned v = (unsigned char)in[i] << 16 | (unsigned char)in[i + 1] << 8;
    out += tbl[(v >> 18) & 63];
    out += tbl[(v >> 12) & 63];
    out += tbl[(v >> 6) & 63];
  }
  return out;
}

// Standard or URL-safe base64, padding optional; "" for anything else.
inline std::string b64decode(std::string_view in) {
  std::string out;
  unsigned v = 0;
  int bits = 0;
  for (char c : in) {
    int d = c >= 'A' && c <= 'Z' ? c - 'A' : c >= 'a' && c <= 'z' ? c - 'a' + 26 : c >= '0' && c <= '9' ? c - '0' + 52
          : c == '+' || c == '-' ? 62 : c == '/' || c == '_' ? 63 : c == '=' ? -2 : -1;
    if (d == -2) break;
    if (d < 0) return {};
    v = v << 6 | static_cast<unsigned>(d);
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out += static_cast<char>((v >> bits) & 0xff);
    }
  }
  return out;
}

inline std::string sha256_b64url(std::string_view in) {
  unsigned char md[32];
  unsigned len = 0;
  EVP_Digest(in.data(), in.size(), md, &len, EVP_sha256(), nullptr);
  return b64url(std::string_view(reinterpret_cast<const char*>(md), len));
}

inline std::string random_id(const char* prefix) {
  unsigned char r[12];
  RAND_bytes(r, sizeof r);
  return prefix + b64url(std::string_view(reinterpret_cast<const char*>(r), sizeof r));
}

inline std::string bn_bytes(const BIGNUM* bn, int len = 0) {
  const int n = len ? len : BN_num_bytes(bn);
  std::string s(static_cast<std::size_t>(n), '\0');
  BN_bn2binpad(bn, reinterpret_cast<unsigned char*>(s.data()), n);
  return s;
}

inline double now_s() {
  return std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count();
}

// A signing key made for this run, and its public JWK.
struct TestKey {
  std::shared_ptr<EVP_PKEY> pkey;
  std::string alg, kid;
  json jwk;

  static TestKey make(const std::string& alg, const std::string& kid) {
    TestKey k;
    k.alg = alg;
    k.kid = kid;
    if (alg == "ES256") {
      k.pkey.reset(EVP_PKEY_Q_keygen(nullptr, nullptr, "EC", "P-256"), EVP_PKEY_free);
      BIGNUM *x = nullptr, *y = nullptr;
      EVP_PKEY_get_bn_param(k.pkey.get(), OSSL_PKEY_PARAM_EC_PUB_X, &x);
      EVP_PKEY_get_bn_param(k.pkey.get(), OSSL_PKEY_PARAM_EC_PUB_Y, &y);
      k.jwk = {{"kty", "EC"}, {"crv", "P-256"}, {"x", b64url(bn_bytes(x, 32))}, {"y", b64url(bn_bytes(y, 32))}};
      BN_free(x);
      BN_free(y);
    } else {
      k.pkey.reset(EVP_PKEY_Q_keygen(nullptr, nullptr, "RSA", static_cast<size_t>(2048)), EVP_PKEY_free);
      BIGNUM *n = nullptr, *e = nullptr;
      EVP_PKEY_get_bn_param(k.pkey.get(), OSSL_PKEY_PARAM_RSA_N, &n);
      EVP_PKEY_get_bn_param(k.pkey.get(), OSSL_PKEY_PARAM_RSA_E, &e);
      k.jwk = {{"kty", "RSA"}, {"n", b64url(bn_bytes(n))}, {"e", b64url(bn_bytes(e))}};
      BN_free(n);
      BN_free(e);
    }
    REQUIRE(k.pkey);
    k.jwk["kid"] = kid;
    k.jwk["use"] = "sig";
    k.jwk["alg"] = alg;
    return k;
  }

  // A compact JWS of `claims`; "" if OpenSSL failed (checked by the caller: this also runs on
  // the authorization server's threads, where a doctest REQUIRE must not throw).
  std::string try_sign(const json& claims, json header = json::object()) const {
    if (!header.contains("alg")) header["alg"] = alg;
    if (!header.contains("kid")) header["kid"] = kid;
    if (!header.contains("typ")) header["typ"] = "at+jwt";
    const std::string input = b64url(header.dump()) + "." + b64url(claims.dump());
    std::unique_ptr<EVP_MD_CTX, decltype(&EVP_MD_CTX_free)> ctx(EVP_MD_CTX_new(), EVP_MD_CTX_free);
    std::size_t len = 0;
    if (EVP_DigestSignInit(ctx.get(), nullptr, EVP_sha256(), nullptr, pkey.get()) != 1 ||
        EVP_DigestSign(ctx.get(), nullptr, &len, reinterpret_cast<const unsigned char*>(input.data()), input.size()) != 1)
      return {};
    std::string sig(len, '\0');
    if (EVP_DigestSign(ctx.get(), reinterpret_cast<unsigned char*>(sig.data()), &len,
                       reinterpret_cast<const unsigned char*>(input.data()), input.size()) != 1)
      return {};
    sig.resize(len);
    if (alg == "ES256") {  // DER -> r||s (JWS)
      const auto* p = reinterpret_cast<const unsigned char*>(sig.data());
      ECDSA_SIG* es = d2i_ECDSA_SIG(nullptr, &p, static_cast<long>(sig.size()));
      if (!es) return {};
      sig = bn_bytes(ECDSA_SIG_get0_r(es), 32) + bn_bytes(ECDSA_SIG_get0_s(es), 32);
      ECDSA_SIG_free(es);
    }
    return input + "." + b64url(sig);
  }

  std::string sign(const json& claims, json header = json::object()) const {
    std::string t = try_sign(claims, std::move(header));
    REQUIRE(!t.empty());
    return t;
  }
};

// The OAuth authorization server (see the file's comment).
class TestAs {
 public:
  struct Client {
    std::string secret;  // empty: a public client
    std::vector<std::string> redirect_uris;
  };
  struct Grant {  // what a code or a refresh token stands for
    std::string client_id, subject, scope, resource, redirect_uri, challenge;
  };

  // ---- knobs (set before use, or under m)
  std::string signing_alg = "ES256";          // "ES256" or "RS256"
  int token_lifetime = 3600;                  // seconds until `exp`
  int expires_in = -1;                        // what /token says; -1: token_lifetime
  std::string subject = "user-1";             // who approves at /authorize
  std::set<std::string> grantable{"mcp:tools", "mcp:admin", "offline_access"};  // scopes it may grant

  // ---- observations (under m)
  mutable std::mutex m;
  int metadata_fetches = 0, jwks_fetches = 0, registrations = 0, authorizations = 0;
  int code_grants = 0, cc_grants = 0, refresh_grants = 0, introspections = 0, refusals = 0;  // error answers of any endpoint
  std::vector<std::string> authorize_scopes;   // `scope` of each /authorize
  std::vector<std::string> token_resources;    // `resource` of each /token
  std::vector<std::string> issued_scopes;      // `scope` of each access token issued
  std::set<std::string> secrets;               // every secret handed out or received
  std::map<std::string, std::vector<double>> refresh_times;  // subject -> when each refresh grant was made (s)

  TestAs() : es_(TestKey::make("ES256", "as-es-1")), rs_(TestKey::make("RS256", "as-rs-1")) {
    routes();
    port_ = srv_.bind_to_any_port("127.0.0.1");
    REQUIRE(port_ > 0);
    issuer_ = "http://127.0.0.1:" + std::to_string(port_);
    thread_ = std::thread([this] { srv_.listen_after_bind(); });
    for (int i = 0; i < 500 && !srv_.is_running(); ++i) std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  ~TestAs() {
    srv_.stop();
    thread_.join();
  }
  TestAs(const TestAs&) = delete;
  TestAs& operator=(const TestAs&) = delete;

  const std::string& issuer() const { return issuer_; }
  int port() const { return port_; }

  // A pre-registered confidential client (for client_credentials).
  void add_client(const std::string& id, const std::string& secret) {
    std::lock_guard lk(m);
    clients_[id] = {secret, {}};
    secrets.insert(secret);
  }

  // An access token as /token would issue it (for tests that make their own).
  std::string issue(const std::string& sub, const std::string& client_id, const std::string& scope,
                    const std::string& resource, int lifetime) {
    std::lock_guard lk(m);
    return mint(sub, client_id, scope, resource, lifetime);
  }

  // A refresh token as /token issues it after an authorization of `sub` (for tests that start
  // from stored credentials).
  std::string issue_refresh_token(const std::string& sub, const std::string& client_id, const std::string& scope,
                                  const std::string& resource) {
    std::lock_guard lk(m);
    const std::string rt = random_id("refresh-");
    secrets.insert(rt);
    refresh_[rt] = {client_id, sub, scope, resource, {}, {}};
    return rt;
  }

  // No secret of `secrets` occurs in `text` (the name of the first one that does, else "").
  std::string leaked_in(const std::string& text) const {
    std::lock_guard lk(m);
    for (const auto& s : secrets)
      if (s.size() >= 8 && text.find(s) != std::string::npos) return s.substr(0, 12) + "...";
    return {};
  }

 private:
  using Req = httplib::Request;
  using Res = httplib::Response;

  const TestKey& key() const { return signing_alg == "RS256" ? rs_ : es_; }

  // With m held.
  std::string mint(const std::string& sub, const std::string& client_id, const std::string& scope,
                   const std::string& resource, int lifetime) {
    const double now = now_s();
    json claims = {{"iss", issuer_}, {"sub", sub}, {"client_id", client_id},
                   {"aud", resource.empty() ? "urn:test-as:no-resource-named" : resource},
                   {"scope", scope}, {"iat", static_cast<long long>(now)},
                   {"exp", now + lifetime}, {"jti", random_id("jti-")}};
    std::string t = key().try_sign(claims);
    secrets.insert(t);
    issued_[t] = claims;
    issued_scopes.push_back(scope);
    return t;
  }

  static void reply(Res& res, int status, const json& body) {
    res.status = status;
    res.set_header("Cache-Control", "no-store");
    res.set_content(body.dump(), "application/json");
  }
  void error(Res& res, int status, const std::string& code, const std::string& why) {
    ++refusals;
    reply(res, status, {{"error", code}, {"error_description", why}});
  }

  // The scopes of `wanted` this server grants (space-separated).
  std::string grant_scopes(const std::string& wanted) const {
    std::istringstream in(wanted);
    std::string s, out;
    while (in >> s)
      if (grantable.count(s) && out.find(s) == std::string::npos) out += (out.empty() ? "" : " ") + s;
    return out;
  }

  // The authenticated client of a token request ("" and an error reply when it is not).
  std::string client_of(const Req& req, Res& res) {
    std::string id, secret;
    const auto h = req.get_header_value("Authorization");
    if (h.rfind("Basic ", 0) == 0) {
      const std::string raw = b64decode(h.substr(6));
      const auto colon = raw.find(':');
      if (colon == std::string::npos) return error(res, 401, "invalid_client", "bad Basic credentials"), "";
      id = httplib::detail::decode_url(raw.substr(0, colon), true);
      secret = httplib::detail::decode_url(raw.substr(colon + 1), true);
    } else {
      id = req.get_param_value("client_id");
      secret = req.get_param_value("client_secret");
    }
    secrets.insert(secret);
    auto it = clients_.find(id);
    if (it == clients_.end()) return error(res, 401, "invalid_client", "unknown client"), "";
    if (it->second.secret != secret) return error(res, 401, "invalid_client", "wrong client secret"), "";
    return id;
  }

  void routes() {
    srv_.Get("/.well-known/oauth-authorization-server", [this](const Req&, Res& res) {
      std::lock_guard lk(m);
      ++metadata_fetches;
      reply(res, 200,
            {{"issuer", issuer_},
             {"authorization_endpoint", issuer_ + "/authorize"},
             {"token_endpoint", issuer_ + "/token"},
             {"registration_endpoint", issuer_ + "/register"},
             {"jwks_uri", issuer_ + "/jwks"},
             {"introspection_endpoint", issuer_ + "/introspect"},
             {"response_types_supported", {"code"}},
             {"grant_types_supported", {"authorization_code", "client_credentials", "refresh_token"}},
             {"code_challenge_methods_supported", {"S256"}},
             {"token_endpoint_auth_methods_supported", {"client_secret_basic", "client_secret_post", "none"}},
             {"scopes_supported", {"mcp:tools", "mcp:admin", "offline_access"}},
             {"authorization_response_iss_parameter_supported", true}});
    });
    srv_.Get("/jwks", [this](const Req&, Res& res) {
      std::lock_guard lk(m);
      ++jwks_fetches;
      reply(res, 200, {{"keys", {es_.jwk, rs_.jwk}}});
    });
    srv_.Post("/register", [this](const Req& req, Res& res) {
      std::lock_guard lk(m);
      json body = json::parse(req.body, nullptr, false);
      if (!body.is_object() || !body.contains("redirect_uris") || !body["redirect_uris"].is_array())
        return error(res, 400, "invalid_client_metadata", "redirect_uris is required");
      ++registrations;
      Client c;
      for (const auto& u : body["redirect_uris"])
        if (u.is_string()) c.redirect_uris.push_back(u.get<std::string>());
      const std::string id = random_id("client-");
      if (body.value("token_endpoint_auth_method", "client_secret_basic") != "none") c.secret = random_id("csecret-");
      json out = body;
      out["client_id"] = id;
      out["client_id_issued_at"] = static_cast<long long>(now_s());
      if (!c.secret.empty()) {
        out["client_secret"] = c.secret;
        out["client_secret_expires_at"] = 0;
        secrets.insert(c.secret);
      }
      clients_[id] = std::move(c);
      reply(res, 201, out);
    });
    srv_.Get("/authorize", [this](const Req& req, Res& res) {
      std::lock_guard lk(m);
      ++authorizations;
      authorize_scopes.push_back(req.get_param_value("scope"));
      // Errors are shown to the "user" (400), never redirected: the redirect_uri is unproven.
      auto it = clients_.find(req.get_param_value("client_id"));
      const std::string redirect = req.get_param_value("redirect_uri");
      if (it == clients_.end()) return error(res, 400, "invalid_request", "unknown client_id");
      const auto& uris = it->second.redirect_uris;
      if (std::find(uris.begin(), uris.end(), redirect) == uris.end())
        return error(res, 400, "invalid_request", "redirect_uri not registered");
      if (req.get_param_value("response_type") != "code" || req.get_param_value("code_challenge_method") != "S256" ||
          req.get_param_value("code_challenge").empty())
        return error(res, 400, "invalid_request", "response_type code with a PKCE S256 challenge is required");
      const std::string code = random_id("code-");
      secrets.insert(code);
      codes_[code] = {it->first, subject, grant_scopes(req.get_param_value("scope")), req.get_param_value("resource"),
                      redirect, req.get_param_value("code_challenge")};
      std::string loc = redirect + (redirect.find('?') == std::string::npos ? "?" : "&") + "code=" + code;
      if (req.has_param("state")) loc += "&state=" + httplib::detail::encode_query_param(req.get_param_value("state"));
      loc += "&iss=" + httplib::detail::encode_query_param(issuer_);
      res.status = 302;
      res.set_header("Location", loc);
    });
    srv_.Post("/token", [this](const Req& req, Res& res) {
      std::lock_guard lk(m);
      const std::string client = client_of(req, res);
      if (client.empty()) return;
      const std::string grant = req.get_param_value("grant_type");
      const std::string resource = req.get_param_value("resource");
      token_resources.push_back(resource);
      Grant g;
      if (grant == "authorization_code") {
        auto it = codes_.find(req.get_param_value("code"));
        if (it == codes_.end()) return error(res, 400, "invalid_grant", "unknown or used code");
        g = it->second;
        codes_.erase(it);  // single use
        const std::string verifier = req.get_param_value("code_verifier");
        secrets.insert(verifier);
        if (g.client_id != client) return error(res, 400, "invalid_grant", "code issued to another client");
        if (g.redirect_uri != req.get_param_value("redirect_uri")) return error(res, 400, "invalid_grant", "redirect_uri differs");
        if (verifier.size() < 43 || sha256_b64url(verifier) != g.challenge)
          return error(res, 400, "invalid_grant", "PKCE verification failed");
        if (g.resource != resource) return error(res, 400, "invalid_target", "resource differs from the authorization's");
        ++code_grants;
      } else if (grant == "client_credentials") {
        if (clients_[client].secret.empty()) return error(res, 400, "unauthorized_client", "public clients have no credentials");
        g = {client, client, grant_scopes(req.get_param_value("scope")), resource, {}, {}};
        ++cc_grants;
      } else if (grant == "refresh_token") {
        const std::string rt = req.get_param_value("refresh_token");
        secrets.insert(rt);
        auto it = refresh_.find(rt);
        if (it == refresh_.end()) return error(res, 400, "invalid_grant", "unknown or used refresh token");
        g = it->second;
        refresh_.erase(it);  // rotated
        if (g.client_id != client) return error(res, 400, "invalid_grant", "refresh token of another client");
        if (!resource.empty() && resource != g.resource) return error(res, 400, "invalid_target", "resource differs");
        ++refresh_grants;
        refresh_times[g.subject].push_back(now_s());
      } else {
        return error(res, 400, "unsupported_grant_type", "not supported here");
      }
      json out = {{"access_token", mint(g.subject, g.client_id, g.scope, g.resource, token_lifetime)},
                  {"token_type", "Bearer"},
                  {"expires_in", expires_in < 0 ? token_lifetime : expires_in},
                  {"scope", g.scope}};
      if (grant != "client_credentials") {
        const std::string rt = random_id("refresh-");
        secrets.insert(rt);
        refresh_[rt] = g;
        out["refresh_token"] = rt;
      }
      reply(res, 200, out);
    });
    srv_.Post("/introspect", [this](const Req& req, Res& res) {
      std::lock_guard lk(m);
      ++introspections;
      auto it = issued_.find(req.get_param_value("token"));
      if (it == issued_.end() || it->second["exp"].get<double>() < now_s()) return reply(res, 200, {{"active", false}});
      json out = it->second;
      out["active"] = true;
      reply(res, 200, out);
    });
  }

  TestKey es_, rs_;
  httplib::Server srv_;
  std::thread thread_;
  int port_ = 0;
  std::string issuer_;
  std::map<std::string, Client> clients_;
  std::map<std::string, Grant> codes_, refresh_;
  std::map<std::string, json> issued_;
};

}  // namespace testas
