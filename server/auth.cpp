// SPDX-License-Identifier: MIT
// The server as an OAuth protected resource: token validators (static, JWT with the issuer's
// JWKS, introspection), Protected Resource Metadata, scope checks and Bearer challenges.
#include <mcp/server_auth.hpp>

#include "../lib/auth/oauth_http.hpp"
#include "../lib/auth/oauth_util.hpp"
#include "../lib/protocol/json_read.hpp"
#include "../lib/util/base64.hpp"
#include "../lib/util/url.hpp"

#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/ec.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/param_build.h>

#include <algorithm>
#include <list>
#include <mutex>
#include <set>
#include <unordered_map>

namespace mcp {

using nlohmann::json;
namespace oauth = detail::oauth;
using detail::oauth_client::Http;
using SteadyClock = std::chrono::steady_clock;
using SystemClock = std::chrono::system_clock;

namespace {

// ---------------------------------------------------------------------------------------------
// Small helpers

std::string sha256(std::string_view bytes) {
  unsigned char md[32];
  unsigned int len = 0;
  if (EVP_Digest(bytes.data(), bytes.size(), md, &len, EVP_sha256(), nullptr) != 1 || len != 32) {
    ERR_clear_error();
    return {};
  }
  return std::string(reinterpret_cast<const char*>(md), 32);
}

tl::unexpected<Error> refuse(std::string why) { return fail(Errc::unauthorized, "access token refused: " + std::move(why)); }

std::vector<std::string> split_ws(std::string_view s) {
  std::vector<std::string> out;
  for (auto v : oauth::split_scopes(s)) out.emplace_back(v);
  return out;
}

// Scopes from `scope` (space-separated, RFC 9068/8693) or `scp` (array or string, common in
// the field).
std::vector<std::string> scopes_of(const json& claims) {
  if (auto it = claims.find("scope"); it != claims.end() && it->is_string()) return split_ws(it->get_ref<const std::string&>());
  if (auto it = claims.find("scp"); it != claims.end()) {
    if (it->is_string()) return split_ws(it->get_ref<const std::string&>());
    std::vector<std::string> out;
    if (it->is_array())
      for (const auto& v : *it)
        if (v.is_string()) out.push_back(v.get<std::string>());
    return out;
  }
  return {};
}

std::vector<std::string> audience_of(const json& claims) {
  std::vector<std::string> out;
  auto it = claims.find("aud");
  if (it == claims.end()) return out;
  if (it->is_string()) out.push_back(it->get<std::string>());
  else if (it->is_array())
    for (const auto& v : *it)
      if (v.is_string()) out.push_back(v.get<std::string>());
  return out;
}

std::string string_claim(const json& claims, const char* k) {
  auto it = claims.find(k);
  return it != claims.end() && it->is_string() ? it->get<std::string>() : std::string();
}

// A NumericDate claim (seconds since the epoch; fractions allowed), or nullopt when absent.
// Refused (false) when present but not a number.
bool numeric_date(const json& claims, const char* k, std::optional<double>& out) {
  auto it = claims.find(k);
  if (it == claims.end()) return true;
  if (!it->is_number()) return false;
  out = it->get<double>();
  return true;
}

double now_seconds() {
  return std::chrono::duration<double>(SystemClock::now().time_since_epoch()).count();
}

AuthInfo info_from_claims(json claims) {
  AuthInfo a;
  a.subject = string_claim(claims, "sub");
  a.client_id = string_claim(claims, "client_id");
  if (a.client_id.empty()) a.client_id = string_claim(claims, "azp");
  a.scopes = scopes_of(claims);
  a.issuer = string_claim(claims, "iss");
  a.audience = audience_of(claims);
  if (auto it = claims.find("exp"); it != claims.end() && it->is_number())
    a.expires_at = SystemClock::time_point(std::chrono::duration_cast<SystemClock::duration>(
        std::chrono::duration<double>(it->get<double>())));
  a.claims = std::move(claims);
  return a;
}

// An http(s) URL we may fetch from: https, or http to a loopback host (development).
Result<void> fetchable(const std::string& url, const char* what) {
  auto u = detail::split_url(url);
  if (!u || !u->userinfo.empty()) return fail(Errc::invalid_config, std::string(what) + " is not an absolute http(s) URL");
  if (u->scheme == "https") return {};
  if (oauth::host_class(u->host) == oauth::HostClass::loopback) return {};
  return fail(Errc::invalid_config, std::string(what) + " must be https (http only for a loopback host)");
}

// ---------------------------------------------------------------------------------------------
// Static tokens

class StaticValidator final : public TokenValidator {
 public:
  explicit StaticValidator(std::vector<std::pair<std::string, AuthInfo>> entries) : entries_(std::move(entries)) {}

  Result<AuthInfo> validate(std::string_view token) override {
    const std::string d = sha256(token);
    if (d.empty()) return fail(Errc::connection_failed, "could not hash the access token");
    // Every entry is compared, so the time taken says nothing about which one matched.
    const AuthInfo* found = nullptr;
    for (const auto& [digest, info] : entries_)
      if (CRYPTO_memcmp(digest.data(), d.data(), 32) == 0) found = &info;
    if (!found) return refuse("unknown token");
    if (found->expires_at && *found->expires_at <= SystemClock::now()) return refuse("the token has expired");
    return *found;
  }

  bool answers_at_once(std::string_view) override { return true; }

 private:
  std::vector<std::pair<std::string, AuthInfo>> entries_;  // (SHA-256 of the token, who)
};

// ---------------------------------------------------------------------------------------------
// JWT

struct PkeyFree { void operator()(EVP_PKEY* p) const noexcept { EVP_PKEY_free(p); } };
struct BnFree { void operator()(BIGNUM* b) const noexcept { BN_free(b); } };
struct ParamBldFree { void operator()(OSSL_PARAM_BLD* b) const noexcept { OSSL_PARAM_BLD_free(b); } };
struct ParamFree { void operator()(OSSL_PARAM* p) const noexcept { OSSL_PARAM_free(p); } };
struct PkeyCtxFree { void operator()(EVP_PKEY_CTX* c) const noexcept { EVP_PKEY_CTX_free(c); } };
struct MdCtxFree { void operator()(EVP_MD_CTX* c) const noexcept { EVP_MD_CTX_free(c); } };
struct SigFree { void operator()(ECDSA_SIG* s) const noexcept { ECDSA_SIG_free(s); } };

struct Key {
  std::string kid;  // empty: none given
  std::string alg;  // "ES256" or "RS256"
  std::shared_ptr<EVP_PKEY> pkey;
};
using KeySet = std::vector<Key>;

Result<std::shared_ptr<EVP_PKEY>> pkey_from_data(const char* type, OSSL_PARAM_BLD* bld) {
  std::unique_ptr<OSSL_PARAM, ParamFree> params(OSSL_PARAM_BLD_to_param(bld));
  std::unique_ptr<EVP_PKEY_CTX, PkeyCtxFree> ctx(EVP_PKEY_CTX_new_from_name(nullptr, type, nullptr));
  EVP_PKEY* raw = nullptr;
  if (!params || !ctx || EVP_PKEY_fromdata_init(ctx.get()) != 1 ||
      EVP_PKEY_fromdata(ctx.get(), &raw, EVP_PKEY_PUBLIC_KEY, params.get()) != 1) {
    ERR_clear_error();
    return fail(Errc::invalid_message, "the key could not be built");
  }
  std::shared_ptr<EVP_PKEY> key(raw, PkeyFree{});
  std::unique_ptr<EVP_PKEY_CTX, PkeyCtxFree> check(EVP_PKEY_CTX_new_from_pkey(nullptr, key.get(), nullptr));
  if (!check || EVP_PKEY_public_check(check.get()) != 1) {
    ERR_clear_error();
    return fail(Errc::invalid_message, "the key is not a valid public key");
  }
  return key;
}

Result<std::shared_ptr<EVP_PKEY>> ec_key(const json& jwk) {
  if (jwk.value("crv", "") != "P-256") return fail(Errc::invalid_message, "EC key not on P-256");
  auto x = detail::base64url_decode(jwk.value("x", ""));
  auto y = detail::base64url_decode(jwk.value("y", ""));
  if (!x || !y || x->size() != 32 || y->size() != 32) return fail(Errc::invalid_message, "EC key coordinates are malformed");
  std::string point = "\x04" + *x + *y;
  std::unique_ptr<OSSL_PARAM_BLD, ParamBldFree> bld(OSSL_PARAM_BLD_new());
  char group[] = "prime256v1";
  if (!bld || OSSL_PARAM_BLD_push_utf8_string(bld.get(), OSSL_PKEY_PARAM_GROUP_NAME, group, 0) != 1 ||
      OSSL_PARAM_BLD_push_octet_string(bld.get(), OSSL_PKEY_PARAM_PUB_KEY, point.data(), point.size()) != 1) {
    ERR_clear_error();
    return fail(Errc::invalid_message, "the EC key could not be built");
  }
  return pkey_from_data("EC", bld.get());
}

Result<std::shared_ptr<EVP_PKEY>> rsa_key(const json& jwk) {
  auto n = detail::base64url_decode(jwk.value("n", ""));
  auto e = detail::base64url_decode(jwk.value("e", ""));
  if (!n || !e || n->empty() || e->empty() || e->size() > 8) return fail(Errc::invalid_message, "RSA key is malformed");
  std::size_t lead = n->find_first_not_of('\0');
  if (lead == std::string::npos || (n->size() - lead) * 8 < 2048 || (n->size() - lead) > 2048)
    return fail(Errc::invalid_message, "RSA key shorter than 2048 bits (or over 16384)");
  auto to_bn = [](const std::string& s) {
    return std::unique_ptr<BIGNUM, BnFree>(
        BN_bin2bn(reinterpret_cast<const unsigned char*>(s.data()), static_cast<int>(s.size()), nullptr));
  };
  auto bn_n = to_bn(*n), bn_e = to_bn(*e);
  std::unique_ptr<OSSL_PARAM_BLD, ParamBldFree> bld(OSSL_PARAM_BLD_new());
  if (!bn_n || !bn_e || !bld || OSSL_PARAM_BLD_push_BN(bld.get(), OSSL_PKEY_PARAM_RSA_N, bn_n.get()) != 1 ||
      OSSL_PARAM_BLD_push_BN(bld.get(), OSSL_PKEY_PARAM_RSA_E, bn_e.get()) != 1) {
    ERR_clear_error();
    return fail(Errc::invalid_message, "the RSA key could not be built");
  }
  return pkey_from_data("RSA", bld.get());
}

// The usable signing keys of a JWKS document: those we can verify with, for an accepted
// algorithm. Keys of other types, uses or algorithms are skipped (a JWKS may hold many).
Result<KeySet> keys_from_jwks(const json& jwks, const std::vector<std::string>& algorithms) {
  if (!jwks.is_object() || !jwks.contains("keys") || !jwks["keys"].is_array())
    return fail(Errc::invalid_message, "the JWKS is not an object with a \"keys\" array");
  KeySet out;
  for (const auto& jwk : jwks["keys"]) {
    if (!jwk.is_object() || out.size() >= 64) continue;
    if (jwk.contains("d")) continue;  // a private key: not something to publish; not used
    if (auto use = jwk.find("use"); use != jwk.end() && (!use->is_string() || *use != "sig")) continue;
    const std::string kty = jwk.value("kty", "");
    std::string alg = jwk.contains("alg") && jwk["alg"].is_string() ? jwk["alg"].get<std::string>() : "";
    Key k;
    k.kid = jwk.contains("kid") && jwk["kid"].is_string() ? jwk["kid"].get<std::string>() : "";
    Result<std::shared_ptr<EVP_PKEY>> p = fail(Errc::invalid_message, "");
    if (kty == "EC" && (alg.empty() || alg == "ES256")) {
      k.alg = "ES256";
      p = ec_key(jwk);
    } else if (kty == "RSA" && (alg.empty() || alg == "RS256")) {
      k.alg = "RS256";
      p = rsa_key(jwk);
    } else {
      continue;
    }
    if (!p || std::find(algorithms.begin(), algorithms.end(), k.alg) == algorithms.end()) continue;
    k.pkey = std::move(*p);
    out.push_back(std::move(k));
  }
  return out;
}

bool verify_signature(const Key& key, std::string_view signing_input, const std::string& sig) {
  std::string der;
  const unsigned char* sp = reinterpret_cast<const unsigned char*>(sig.data());
  std::size_t sn = sig.size();
  if (key.alg == "ES256") {
    if (sig.size() != 64) return false;
    std::unique_ptr<ECDSA_SIG, SigFree> s(ECDSA_SIG_new());
    BIGNUM* r = BN_bin2bn(sp, 32, nullptr);
    BIGNUM* t = BN_bin2bn(sp + 32, 32, nullptr);
    if (!s || !r || !t || ECDSA_SIG_set0(s.get(), r, t) != 1) {
      BN_free(r);
      BN_free(t);
      ERR_clear_error();
      return false;
    }
    unsigned char* d = nullptr;
    const int dn = i2d_ECDSA_SIG(s.get(), &d);
    if (dn <= 0) {
      ERR_clear_error();
      return false;
    }
    der.assign(reinterpret_cast<const char*>(d), static_cast<std::size_t>(dn));
    OPENSSL_free(d);
    sp = reinterpret_cast<const unsigned char*>(der.data());
    sn = der.size();
  }
  std::unique_ptr<EVP_MD_CTX, MdCtxFree> ctx(EVP_MD_CTX_new());
  const int ok = ctx && EVP_DigestVerifyInit(ctx.get(), nullptr, EVP_sha256(), nullptr, key.pkey.get()) == 1
                     ? EVP_DigestVerify(ctx.get(), sp, sn, reinterpret_cast<const unsigned char*>(signing_input.data()),
                                        signing_input.size())
                     : -1;
  ERR_clear_error();
  return ok == 1;
}

class JwtValidator final : public TokenValidator {
 public:
  explicit JwtValidator(JwtValidatorOptions o)
      : o_(std::move(o)), http_(o_.http_timeout, o_.verify_tls, o_.ca_file) {}

  Result<void> init() {
    if (o_.issuer.empty()) return fail(Errc::invalid_config, "JWT validator: no issuer");
    if (o_.audience.empty()) return fail(Errc::invalid_config, "JWT validator: no audience (this resource's URI)");
    if (o_.algorithms.empty()) return fail(Errc::invalid_config, "JWT validator: no algorithms");
    for (const auto& a : o_.algorithms)
      if (a != "ES256" && a != "RS256")
        return fail(Errc::invalid_config, "JWT validator: algorithm " + oauth::sanitize(a, 16) + " is not supported (ES256, RS256)");
    if (o_.jwks) {
      auto ks = keys_from_jwks(*o_.jwks, o_.algorithms);
      if (!ks) return fail(Errc::invalid_config, "JWT validator: " + ks.error().message);
      if (ks->empty()) return fail(Errc::invalid_config, "JWT validator: the given JWKS has no usable signing key");
      keys_ = std::make_shared<const KeySet>(std::move(*ks));
      return {};
    }
    if (!o_.jwks_uri.empty()) {
      if (auto ok = fetchable(o_.jwks_uri, "jwks_uri"); !ok) return fail(Errc::invalid_config, "JWT validator: " + ok.error().message);
    } else if (auto urls = oauth::authorization_server_metadata_urls(o_.issuer); !urls) {
      return fail(Errc::invalid_config, "JWT validator: the issuer is not an http(s) URL without query or fragment");
    }
    return {};
  }

  Result<AuthInfo> validate(std::string_view token) override {
    if (token.empty()) return refuse("empty token");
    if (token.size() > o_.max_token_bytes) return refuse("token too large");
    const auto d1 = token.find('.');
    const auto d2 = d1 == std::string_view::npos ? d1 : token.find('.', d1 + 1);
    if (d2 == std::string_view::npos || token.find('.', d2 + 1) != std::string_view::npos)
      return refuse("not a JWT (compact serialization)");
    auto header_raw = detail::base64url_decode(token.substr(0, d1));
    auto payload_raw = detail::base64url_decode(token.substr(d1 + 1, d2 - d1 - 1));
    auto sig = detail::base64url_decode(token.substr(d2 + 1));
    if (!header_raw || !payload_raw || !sig) return refuse("not valid base64url");
    json header = detail::parse_json(*header_raw);
    if (!header.is_object()) return refuse("the JWT header is not a JSON object");
    const std::string alg = string_claim(header, "alg");
    if (std::find(o_.algorithms.begin(), o_.algorithms.end(), alg) == o_.algorithms.end())
      return refuse("algorithm " + oauth::sanitize(alg, 16) + " not accepted");
    if (header.contains("crit")) return refuse("critical header parameters are not understood");
    if (o_.require_at_jwt_typ) {
      std::string typ = string_claim(header, "typ");
      std::transform(typ.begin(), typ.end(), typ.begin(), [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
      if (typ != "at+jwt" && typ != "application/at+jwt") return refuse("typ is not at+jwt");
    }
    const std::string kid = string_claim(header, "kid");

    auto keys = key_set(kid, alg);
    if (!keys) return fail(keys.error());
    bool verified = false;
    const std::string_view signing_input = token.substr(0, d2);
    for (const auto& k : **keys)
      if (k.alg == alg && (kid.empty() || k.kid == kid) && verify_signature(k, signing_input, *sig)) {
        verified = true;
        break;
      }
    if (!verified) return refuse("the signature does not verify with the issuer's keys");

    json claims = detail::parse_json(*payload_raw);
    if (!claims.is_object()) return refuse("the JWT payload is not a JSON object");
    if (string_claim(claims, "iss") != o_.issuer) return refuse("issued by another authorization server");
    const auto aud = audience_of(claims);
    if (std::find(aud.begin(), aud.end(), o_.audience) == aud.end()) return refuse("issued for another resource (aud)");
    std::optional<double> exp, nbf, iat;
    if (!numeric_date(claims, "exp", exp) || !numeric_date(claims, "nbf", nbf) || !numeric_date(claims, "iat", iat))
      return refuse("exp, nbf or iat is not a number");
    const double now = now_seconds(), leeway = static_cast<double>(o_.leeway.count());
    if (!exp && o_.require_exp) return refuse("no expiry (exp)");
    if (exp && now > *exp + leeway) return refuse("the token has expired");
    if (nbf && now + leeway < *nbf) return refuse("the token is not valid yet (nbf)");
    if (iat && now + leeway < *iat) return refuse("the token was issued in the future (iat)");
    return info_from_claims(std::move(claims));
  }

  bool answers_at_once(std::string_view token) override {
    if (o_.jwks) return true;
    std::lock_guard lk(mutex_);
    // Fresh keys: a token with a known kid is checked at once, and so is one whose kid is
    // unknown while a refetch is not due (it is refused); otherwise a fetch may come.
    if (!keys_ || SteadyClock::now() - fetched_ >= o_.jwks_max_age) return false;
    if (SteadyClock::now() - fetched_ < o_.jwks_min_refetch) return true;
    const auto d1 = token.find('.');
    if (d1 == std::string_view::npos) return true;  // refused without keys
    auto header_raw = detail::base64url_decode(token.substr(0, std::min<std::size_t>(d1, 4096)));
    if (!header_raw) return true;
    json header = detail::parse_json(*header_raw);
    if (!header.is_object()) return true;
    const std::string kid = string_claim(header, "kid"), alg = string_claim(header, "alg");
    return std::any_of(keys_->begin(), keys_->end(),
                       [&](const Key& k) { return k.alg == alg && (kid.empty() || k.kid == kid); });
  }

 private:
  // The keys to try for a token with this kid: the cached set, fetched first when there is
  // none, it is old, or it lacks the kid (then at most every jwks_min_refetch).
  Result<std::shared_ptr<const KeySet>> key_set(const std::string& kid, const std::string& alg) {
    auto has = [&](const KeySet& ks) {
      return std::any_of(ks.begin(), ks.end(), [&](const Key& k) { return k.alg == alg && (kid.empty() || k.kid == kid); });
    };
    std::shared_ptr<const KeySet> cur;
    SteadyClock::time_point fetched;
    {
      std::lock_guard lk(mutex_);
      cur = keys_;
      fetched = fetched_;
    }
    if (o_.jwks) return cur;  // given: never fetched
    const auto now = SteadyClock::now();
    const bool stale = !cur || now - fetched >= o_.jwks_max_age;
    const bool unknown = cur && !has(*cur);
    if (!stale && !(unknown && now - fetched >= o_.jwks_min_refetch)) return cur;
    // One fetch at a time; whoever waited here uses what the fetch before it brought.
    std::lock_guard fl(fetch_mutex_);
    {
      std::lock_guard lk(mutex_);
      if (keys_ != cur) return keys_;
    }
    auto fresh = fetch_keys();
    if (!fresh) {
      if (cur && !unknown) return cur;  // keep serving with the keys we have until they can be renewed
      std::lock_guard lk(mutex_);
      fetched_ = SteadyClock::now();  // failed fetches are paced like successful ones
      if (cur) return cur;
      return fail(fresh.error());
    }
    auto ks = std::make_shared<const KeySet>(std::move(*fresh));
    std::lock_guard lk(mutex_);
    keys_ = ks;
    fetched_ = SteadyClock::now();
    return ks;
  }

  // GETs a JSON object; any failure is Errc::connection_failed (no decision can be made).
  Result<json> get_json(const std::string& url, const char* what) {
    auto r = http_.get(url, SteadyClock::now() + o_.http_timeout, nullptr);
    const std::string where = detail::oauth_client::safe_url(url);
    if (!r) return fail(Errc::connection_failed, std::string("could not fetch the ") + what + " from " + where + ": " + r.error().message);
    if (r->status != 200)
      return fail(Errc::connection_failed, std::string("the ") + what + " at " + where + " answered HTTP " + std::to_string(r->status));
    json j = detail::oauth_client::parse_object(r->body);
    if (j.is_null()) return fail(Errc::connection_failed, std::string("the ") + what + " at " + where + " is not a JSON object");
    return j;
  }

  Result<KeySet> fetch_keys() {
    std::string uri = o_.jwks_uri;
    if (uri.empty()) {
      auto urls = oauth::authorization_server_metadata_urls(o_.issuer);
      if (!urls) return fail(Errc::invalid_config, "the issuer is not an http(s) URL");
      Error last = Error::make(Errc::connection_failed, "no authorization server metadata found for the issuer");
      for (const auto& u : *urls) {
        auto m = get_json(u, "authorization server metadata");
        if (!m) {
          last = m.error();
          continue;
        }
        if (string_claim(*m, "issuer") != o_.issuer) {
          last = Error::make(Errc::connection_failed, "the metadata at " + detail::oauth_client::safe_url(u) + " is for another issuer");
          continue;
        }
        uri = string_claim(*m, "jwks_uri");
        if (uri.empty() || !fetchable(uri, "jwks_uri"))
          return fail(Errc::connection_failed, "the issuer's metadata has no usable jwks_uri");
        break;
      }
      if (uri.empty()) return fail(last);
    }
    auto j = get_json(uri, "JWKS");
    if (!j) return fail(j.error());
    auto ks = keys_from_jwks(*j, o_.algorithms);
    if (!ks) return fail(Errc::connection_failed, "the JWKS at " + detail::oauth_client::safe_url(uri) + ": " + ks.error().message);
    return ks;
  }

  JwtValidatorOptions o_;
  Http http_;
  std::mutex mutex_;        // keys_, fetched_
  std::mutex fetch_mutex_;  // one fetch at a time
  std::shared_ptr<const KeySet> keys_;
  SteadyClock::time_point fetched_{};
};

// ---------------------------------------------------------------------------------------------
// Introspection

class IntrospectionValidator final : public TokenValidator {
 public:
  explicit IntrospectionValidator(IntrospectionOptions o)
      : o_(std::move(o)), http_(o_.http_timeout, o_.verify_tls, o_.ca_file) {}

  Result<AuthInfo> validate(std::string_view token) override {
    if (token.empty()) return refuse("empty token");
    if (token.size() > o_.max_token_bytes) return refuse("token too large");
    const std::string key = sha256(token);
    if (key.empty()) return fail(Errc::connection_failed, "could not hash the access token");
    if (auto hit = lookup(key)) return *hit;

    detail::oauth_client::Headers headers;
    if (!o_.client_id.empty())
      headers.emplace_back("Authorization", "Basic " + detail::base64_encode(oauth::form_urlencode(o_.client_id) + ":" +
                                                                     oauth::form_urlencode(o_.client_secret)));
    const std::string body = "token=" + oauth::form_urlencode(token) + "&token_type_hint=access_token";
    auto r = http_.send("POST", o_.endpoint, headers, body, "application/x-www-form-urlencoded",
                        SteadyClock::now() + o_.http_timeout, nullptr);
    const std::string where = detail::oauth_client::safe_url(o_.endpoint);
    if (!r) return fail(Errc::connection_failed, "token introspection at " + where + " failed: " + r.error().message);
    if (r->status != 200)
      return fail(Errc::connection_failed, "token introspection at " + where + " answered HTTP " + std::to_string(r->status));
    json j = detail::oauth_client::parse_object(r->body);
    if (j.is_null()) return fail(Errc::connection_failed, "token introspection at " + where + " did not answer a JSON object");

    Result<AuthInfo> out = judge(std::move(j));
    remember(key, out);
    return out;
  }

  bool answers_at_once(std::string_view token) override {
    if (token.empty() || token.size() > o_.max_token_bytes) return true;
    return lookup(sha256(token)).has_value();
  }

 private:
  Result<AuthInfo> judge(json j) {
    auto active = j.find("active");
    if (active == j.end() || !active->is_boolean() || !active->get<bool>()) return refuse("inactive (introspection)");
    if (!o_.issuer.empty() && j.contains("iss") && string_claim(j, "iss") != o_.issuer)
      return refuse("issued by another authorization server");
    const auto aud = audience_of(j);
    if (!o_.audience.empty()) {
      if (aud.empty() && o_.require_audience) return refuse("no audience (introspection)");
      if (!aud.empty() && std::find(aud.begin(), aud.end(), o_.audience) == aud.end())
        return refuse("issued for another resource (aud)");
    }
    std::optional<double> exp, nbf;
    if (!numeric_date(j, "exp", exp) || !numeric_date(j, "nbf", nbf)) return refuse("exp or nbf is not a number");
    const double now = now_seconds();
    if (exp && now > *exp) return refuse("the token has expired");
    if (nbf && now < *nbf) return refuse("the token is not valid yet (nbf)");
    return info_from_claims(std::move(j));
  }

  struct Entry {
    Result<AuthInfo> answer;
    SteadyClock::time_point until;
    std::list<std::string>::iterator age;
  };

  std::optional<Result<AuthInfo>> lookup(const std::string& key) {
    std::lock_guard lk(mutex_);
    auto it = cache_.find(key);
    if (it == cache_.end()) return std::nullopt;
    if (SteadyClock::now() >= it->second.until ||
        (it->second.answer && it->second.answer->expires_at && *it->second.answer->expires_at <= SystemClock::now())) {
      order_.erase(it->second.age);
      cache_.erase(it);
      return std::nullopt;
    }
    return it->second.answer;
  }

  void remember(const std::string& key, const Result<AuthInfo>& answer) {
    if (o_.cache_entries == 0) return;
    // Only decisions are kept: "no decision" (the endpoint down) is asked again next time.
    if (!answer && answer.error().errc() != Errc::unauthorized) return;
    const auto ttl = answer ? o_.cache_ttl : o_.negative_cache_ttl;
    if (ttl.count() <= 0) return;
    std::lock_guard lk(mutex_);
    if (auto it = cache_.find(key); it != cache_.end()) {
      order_.erase(it->second.age);
      cache_.erase(it);
    }
    while (cache_.size() >= o_.cache_entries && !order_.empty()) {
      cache_.erase(order_.front());
      order_.pop_front();
    }
    order_.push_back(key);
    cache_.emplace(key, Entry{answer, SteadyClock::now() + ttl, std::prev(order_.end())});
  }

  IntrospectionOptions o_;
  Http http_;
  std::mutex mutex_;  // cache_, order_
  std::unordered_map<std::string, Entry> cache_;  // by SHA-256 of the token
  std::list<std::string> order_;                   // oldest first
};

}  // namespace

// ---------------------------------------------------------------------------------------------
// Public functions

std::string_view AuthRequest::header(std::string_view name) const {
  if (!headers) return {};
  for (const auto& [k, v] : *headers)
    if (k.size() == name.size() &&
        std::equal(k.begin(), k.end(), name.begin(), [](char a, char b) { return std::tolower((unsigned char)a) == std::tolower((unsigned char)b); }))
      return v;
  return {};
}

Result<std::shared_ptr<TokenValidator>> make_static_token_validator(std::vector<StaticToken> tokens) {
  if (tokens.empty()) return fail(Errc::invalid_config, "static token validator: no tokens");
  std::vector<std::pair<std::string, AuthInfo>> entries;
  std::set<std::string> seen;
  for (auto& t : tokens) {
    if (t.token.size() < 16) return fail(Errc::invalid_config, "static token validator: a token shorter than 16 bytes");
    std::string d = sha256(t.token);
    if (d.empty()) return fail(Errc::invalid_config, "static token validator: could not hash a token");
    if (!seen.insert(d).second) return fail(Errc::invalid_config, "static token validator: the same token twice");
    entries.emplace_back(std::move(d), std::move(t.info));
  }
  return std::shared_ptr<TokenValidator>(std::make_shared<StaticValidator>(std::move(entries)));
}

Result<std::shared_ptr<TokenValidator>> make_jwt_validator(JwtValidatorOptions options) {
  auto v = std::make_shared<JwtValidator>(std::move(options));
  if (auto ok = v->init(); !ok) return fail(ok.error());
  return std::shared_ptr<TokenValidator>(std::move(v));
}

Result<std::shared_ptr<TokenValidator>> make_introspection_validator(IntrospectionOptions options) {
  if (options.endpoint.empty()) return fail(Errc::invalid_config, "introspection validator: no endpoint");
  if (auto ok = fetchable(options.endpoint, "the introspection endpoint"); !ok)
    return fail(Errc::invalid_config, "introspection validator: " + ok.error().message);
  return std::shared_ptr<TokenValidator>(std::make_shared<IntrospectionValidator>(std::move(options)));
}

json to_json(const ProtectedResourceMetadata& m) {
  json j = m.extra.is_object() ? m.extra : json::object();
  j["resource"] = m.resource;
  j["authorization_servers"] = m.authorization_servers;
  if (!m.scopes_supported.empty()) j["scopes_supported"] = m.scopes_supported;
  else j.erase("scopes_supported");
  if (m.resource_name) j["resource_name"] = *m.resource_name;
  if (m.resource_documentation) j["resource_documentation"] = *m.resource_documentation;
  if (!m.bearer_methods_supported.empty()) j["bearer_methods_supported"] = m.bearer_methods_supported;
  return j;
}

Result<std::string> protected_resource_metadata_path(std::string_view resource) {
  auto u = detail::split_url(resource);
  if (!u || !u->userinfo.empty() || u->has_query || u->has_fragment || u->host.empty())
    return fail(Errc::invalid_config, "the resource must be an absolute http(s) URL without userinfo, query or fragment");
  std::string path = u->path;
  while (!path.empty() && path.back() == '/') path.pop_back();
  return "/.well-known/oauth-protected-resource" + path;
}

Result<std::string> protected_resource_metadata_url(std::string_view resource) {
  auto p = protected_resource_metadata_path(resource);
  if (!p) return p;
  auto u = detail::split_url(resource);
  return detail::origin_of(*u) + *p;
}

std::vector<std::string> missing_scopes(const std::vector<std::string>& granted, const std::vector<std::string>& required,
                                        const ScopeHierarchy& hierarchy) {
  // Everything the granted scopes cover, following the hierarchy (bounded: each scope once).
  std::set<std::string, std::less<>> covered;
  std::vector<std::string> todo(granted.begin(), granted.end());
  while (!todo.empty()) {
    std::string s = std::move(todo.back());
    todo.pop_back();
    if (!covered.insert(s).second) continue;
    if (auto it = hierarchy.find(s); it != hierarchy.end())
      for (const auto& narrower : it->second) todo.push_back(narrower);
  }
  std::vector<std::string> out;
  for (const auto& r : required)
    if (!covered.count(r) && std::find(out.begin(), out.end(), r) == out.end()) out.push_back(r);
  return out;
}

std::string bearer_challenge(std::string_view error, const std::vector<std::string>& scopes,
                             std::string_view resource_metadata, std::string_view description) {
  // Quoted-string values: what cannot be in one is dropped (RFC 6750 3 limits error and scope
  // to printable ASCII without '"' and '\\').
  auto clean = [](std::string_view s, std::size_t max) {
    std::string out;
    for (char c : s.substr(0, max)) {
      const auto u = static_cast<unsigned char>(c);
      if (u >= 0x20 && u < 0x7f && c != '"' && c != '\\') out += c;
    }
    return out;
  };
  std::string h = "Bearer";
  const char* sep = " ";
  auto param = [&](const char* name, const std::string& v) {
    h += sep;
    h += name;
    h += "=\"" + v + "\"";
    sep = ", ";
  };
  if (!error.empty()) param("error", clean(error, 64));
  if (!description.empty()) param("error_description", clean(description, 200));
  std::string sc;
  for (const auto& s : scopes) {
    std::string c = clean(s, 256);
    if (c.empty() || c.find(' ') != std::string::npos) continue;
    if (!sc.empty()) sc += ' ';
    sc += c;
  }
  if (!sc.empty()) param("scope", sc);
  if (!resource_metadata.empty()) param("resource_metadata", clean(resource_metadata, 2048));
  return h;
}

}  // namespace mcp
