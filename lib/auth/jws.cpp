// SPDX-License-Identifier: MIT
// ES256 JWS (RFC 7515/7518): private_key_jwt client assertions (RFC 7523), verification, and
// DPoP keys and proofs (RFC 9449, RFC 7638 thumbprints).
#include "oauth_util.hpp"

#include "../protocol/json_read.hpp"

#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/ec.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/param_build.h>
#include <openssl/pem.h>

#include <memory>
#include <utility>

namespace mcp::detail::oauth {

// ---------------------------------------------------------------------------------------------
// ES256

namespace {
struct PkeyFree { void operator()(EVP_PKEY* p) const noexcept { EVP_PKEY_free(p); } };
struct BioFree { void operator()(BIO* b) const noexcept { BIO_free(b); } };
struct MdCtxFree { void operator()(EVP_MD_CTX* c) const noexcept { EVP_MD_CTX_free(c); } };
struct SigFree { void operator()(ECDSA_SIG* s) const noexcept { ECDSA_SIG_free(s); } };
using PkeyPtr = std::unique_ptr<EVP_PKEY, PkeyFree>;

// No passphrase prompt: an encrypted key fails instead of reading the terminal.
int no_password(char*, int, int, void*) { return 0; }

bool is_p256(EVP_PKEY* k) {
  if (EVP_PKEY_get_base_id(k) != EVP_PKEY_EC) return false;
  char name[64] = {};
  std::size_t len = 0;
  if (EVP_PKEY_get_group_name(k, name, sizeof name, &len) != 1) return false;
  std::string_view n(name, len);
  return n == "prime256v1" || n == "P-256" || n == "secp256r1";
}

Result<PkeyPtr> load_key(std::string_view pem, bool is_private) {
  if (pem.size() > (1u << 16)) return fail(Errc::invalid_config, "key PEM is too large");
  std::unique_ptr<BIO, BioFree> bio(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())));
  if (!bio) return fail(Errc::invalid_config, "could not read the key");
  EVP_PKEY* k = is_private ? PEM_read_bio_PrivateKey(bio.get(), nullptr, no_password, nullptr)
                           : PEM_read_bio_PUBKEY(bio.get(), nullptr, no_password, nullptr);
  // OpenSSL's error queue may describe the input; drop it rather than surface it.
  ERR_clear_error();
  if (!k)
    return fail(Errc::invalid_config, is_private ? "could not parse the EC private key PEM"
                                                 : "could not parse the EC public key PEM");
  PkeyPtr key(k);
  if (!is_p256(key.get())) return fail(Errc::invalid_config, "ES256 requires an EC P-256 key");
  return key;
}

constexpr std::size_t kCoordBytes = 32;

// The compact JWS of `header`.`claims` signed with ES256 by `key`; `what` names the failure.
Result<std::string> sign_es256(EVP_PKEY* key, const nlohmann::json& header, const nlohmann::json& claims,
                               const char* what) {
  std::string signing_input = base64url_encode(header.dump()) + "." + base64url_encode(claims.dump());
  std::unique_ptr<EVP_MD_CTX, MdCtxFree> ctx(EVP_MD_CTX_new());
  std::size_t der_len = 0;
  if (!ctx || EVP_DigestSignInit(ctx.get(), nullptr, EVP_sha256(), nullptr, key) != 1 ||
      EVP_DigestSign(ctx.get(), nullptr, &der_len,
                     reinterpret_cast<const unsigned char*>(signing_input.data()), signing_input.size()) != 1) {
    ERR_clear_error();
    return fail(Errc::invalid_config, what);
  }
  std::string der(der_len, '\0');
  if (EVP_DigestSign(ctx.get(), reinterpret_cast<unsigned char*>(der.data()), &der_len,
                     reinterpret_cast<const unsigned char*>(signing_input.data()), signing_input.size()) != 1) {
    ERR_clear_error();
    return fail(Errc::invalid_config, what);
  }
  der.resize(der_len);
  // JWS wants the raw fixed-width R||S (RFC 7518 3.4), not OpenSSL's DER ECDSA-Sig-Value.
  const auto* p = reinterpret_cast<const unsigned char*>(der.data());
  std::unique_ptr<ECDSA_SIG, SigFree> sig(d2i_ECDSA_SIG(nullptr, &p, static_cast<long>(der.size())));
  if (!sig) {
    ERR_clear_error();
    return fail(Errc::invalid_config, what);
  }
  const BIGNUM* r = nullptr;
  const BIGNUM* s = nullptr;
  ECDSA_SIG_get0(sig.get(), &r, &s);
  std::string raw(2 * kCoordBytes, '\0');
  auto* out = reinterpret_cast<unsigned char*>(raw.data());
  if (BN_bn2binpad(r, out, kCoordBytes) != static_cast<int>(kCoordBytes) ||
      BN_bn2binpad(s, out + kCoordBytes, kCoordBytes) != static_cast<int>(kCoordBytes)) {
    ERR_clear_error();
    return fail(Errc::invalid_config, what);
  }
  return signing_input + "." + base64url_encode(raw);
}
}  // namespace

Result<std::string> make_client_assertion_es256(std::string_view private_key_pem,
                                                const ClientAssertionOptions& opts) {
  if (opts.client_id.empty()) return fail(Errc::invalid_config, "client assertion needs a client_id");
  if (opts.audience.empty()) return fail(Errc::invalid_config, "client assertion needs an audience");
  if (opts.lifetime.count() <= 0) return fail(Errc::invalid_config, "client assertion lifetime must be positive");
  auto key = load_key(private_key_pem, true);
  if (!key) return fail(key.error());
  auto jti = random_token(16);
  if (!jti) return fail(jti.error());

  auto now = opts.issued_at == std::chrono::system_clock::time_point{} ? std::chrono::system_clock::now()
                                                                        : opts.issued_at;
  auto iat = std::chrono::duration_cast<std::chrono::seconds>(now.time_since_epoch()).count();
  nlohmann::json header = {{"alg", "ES256"}, {"typ", "JWT"}};
  if (opts.key_id) header["kid"] = *opts.key_id;
  nlohmann::json claims = {{"iss", opts.client_id}, {"sub", opts.client_id}, {"aud", opts.audience},
                           {"iat", iat},            {"exp", iat + opts.lifetime.count()},
                           {"jti", *jti}};
  return sign_es256(key->get(), header, claims, "could not sign the client assertion");
}

Result<VerifiedJws> verify_jws_es256(std::string_view jws, std::string_view public_key_pem) {
  if (jws.size() > (1u << 16)) return fail(Errc::unauthorized, "JWS is too large");
  auto d1 = jws.find('.');
  auto d2 = d1 == std::string_view::npos ? d1 : jws.find('.', d1 + 1);
  if (d2 == std::string_view::npos || jws.find('.', d2 + 1) != std::string_view::npos)
    return fail(Errc::unauthorized, "JWS is not in compact serialization");
  auto header_raw = base64url_decode(jws.substr(0, d1));
  auto payload_raw = base64url_decode(jws.substr(d1 + 1, d2 - d1 - 1));
  auto sig_raw = base64url_decode(jws.substr(d2 + 1));
  if (!header_raw || !payload_raw || !sig_raw) return fail(Errc::unauthorized, "JWS is not valid base64url");
  VerifiedJws v;
  v.header = parse_json(*header_raw);
  if (!v.header.is_object()) return fail(Errc::unauthorized, "JWS header is not a JSON object");
  auto alg = v.header.find("alg");
  if (alg == v.header.end() || !alg->is_string() || alg->get_ref<const std::string&>() != "ES256")
    return fail(Errc::unauthorized, "JWS alg is not ES256");
  if (sig_raw->size() != 2 * kCoordBytes) return fail(Errc::unauthorized, "JWS signature has the wrong length");
  auto key = load_key(public_key_pem, false);
  if (!key) return fail(key.error());

  std::unique_ptr<ECDSA_SIG, SigFree> sig(ECDSA_SIG_new());
  const auto* raw = reinterpret_cast<const unsigned char*>(sig_raw->data());
  BIGNUM* r = BN_bin2bn(raw, kCoordBytes, nullptr);
  BIGNUM* s = BN_bin2bn(raw + kCoordBytes, kCoordBytes, nullptr);
  if (!sig || !r || !s || ECDSA_SIG_set0(sig.get(), r, s) != 1) {
    BN_free(r);
    BN_free(s);
    ERR_clear_error();
    return fail(Errc::unauthorized, "JWS signature could not be decoded");
  }
  unsigned char* der = nullptr;
  int der_len = i2d_ECDSA_SIG(sig.get(), &der);
  if (der_len <= 0) {
    ERR_clear_error();
    return fail(Errc::unauthorized, "JWS signature could not be decoded");
  }
  std::unique_ptr<unsigned char, void (*)(unsigned char*)> der_guard(der, [](unsigned char* q) { OPENSSL_free(q); });
  std::string_view signing_input = jws.substr(0, d2);
  std::unique_ptr<EVP_MD_CTX, MdCtxFree> ctx(EVP_MD_CTX_new());
  int ok = ctx && EVP_DigestVerifyInit(ctx.get(), nullptr, EVP_sha256(), nullptr, key->get()) == 1
               ? EVP_DigestVerify(ctx.get(), der, static_cast<std::size_t>(der_len),
                                  reinterpret_cast<const unsigned char*>(signing_input.data()),
                                  signing_input.size())
               : -1;
  ERR_clear_error();
  if (ok != 1) return fail(Errc::unauthorized, "JWS signature does not verify");
  v.claims = parse_json(*payload_raw);
  if (!v.claims.is_object()) return fail(Errc::unauthorized, "JWS payload is not a JSON object");
  return v;
}

// ---------------------------------------------------------------------------------------------
// DPoP

namespace {
struct BnFree { void operator()(BIGNUM* b) const noexcept { BN_free(b); } };
struct ParamBldFree { void operator()(OSSL_PARAM_BLD* b) const noexcept { OSSL_PARAM_BLD_free(b); } };
struct ParamFree { void operator()(OSSL_PARAM* p) const noexcept { OSSL_PARAM_free(p); } };
struct PkeyCtxFree { void operator()(EVP_PKEY_CTX* c) const noexcept { EVP_PKEY_CTX_free(c); } };

// A coordinate of a P-256 public key, base64url of its fixed-width big-endian bytes.
std::optional<std::string> coordinate(EVP_PKEY* k, const char* name) {
  BIGNUM* raw = nullptr;
  if (EVP_PKEY_get_bn_param(k, name, &raw) != 1) return std::nullopt;
  std::unique_ptr<BIGNUM, BnFree> bn(raw);
  std::string out(kCoordBytes, '\0');
  if (BN_bn2binpad(bn.get(), reinterpret_cast<unsigned char*>(out.data()), kCoordBytes) != static_cast<int>(kCoordBytes))
    return std::nullopt;
  return base64url_encode(out);
}
}  // namespace

Result<DpopKey> DpopKey::from_native(std::shared_ptr<evp_pkey_st> key) {
  DpopKey k;
  auto x = coordinate(key.get(), OSSL_PKEY_PARAM_EC_PUB_X);
  auto y = coordinate(key.get(), OSSL_PKEY_PARAM_EC_PUB_Y);
  ERR_clear_error();
  if (!x || !y) return fail(Errc::invalid_config, "could not read the DPoP public key");
  k.jwk_ = {{"kty", "EC"}, {"crv", "P-256"}, {"x", *x}, {"y", *y}};
  auto t = jwk_thumbprint(k.jwk_);
  if (!t) return fail(t.error());
  k.thumbprint_ = *t;
  k.key_ = std::move(key);
  return k;
}

Result<DpopKey> DpopKey::generate() {
  EVP_PKEY* raw = EVP_PKEY_Q_keygen(nullptr, nullptr, "EC", "P-256");
  ERR_clear_error();
  if (!raw) return fail(Errc::invalid_config, "could not generate a DPoP key");
  return from_native(std::shared_ptr<evp_pkey_st>(raw, EVP_PKEY_free));
}

Result<DpopKey> DpopKey::from_pem(std::string_view private_key_pem) {
  auto key = load_key(private_key_pem, true);
  if (!key) return fail(key.error());
  return from_native(std::shared_ptr<evp_pkey_st>(key->release(), EVP_PKEY_free));
}

Result<std::string> make_dpop_proof(const DpopKey& key, const DpopProofOptions& opts) {
  if (!key.native()) return fail(Errc::invalid_config, "DPoP proof without a key");
  if (opts.method.empty()) return fail(Errc::invalid_config, "DPoP proof needs the HTTP method");
  if (opts.url.empty()) return fail(Errc::invalid_config, "DPoP proof needs the request URL");
  auto jti = random_token(16);
  if (!jti) return fail(jti.error());
  auto now = opts.issued_at == std::chrono::system_clock::time_point{} ? std::chrono::system_clock::now()
                                                                        : opts.issued_at;
  nlohmann::json header = {{"typ", "dpop+jwt"}, {"alg", "ES256"}, {"jwk", key.public_jwk()}};
  nlohmann::json claims = {{"jti", *jti},
                           {"htm", opts.method},
                           {"htu", opts.url.substr(0, opts.url.find_first_of("?#"))},
                           {"iat", std::chrono::duration_cast<std::chrono::seconds>(now.time_since_epoch()).count()}};
  if (!opts.access_token.empty()) claims["ath"] = sha256_base64url(opts.access_token);
  if (!opts.nonce.empty()) claims["nonce"] = opts.nonce;
  return sign_es256(key.native(), header, claims, "could not sign the DPoP proof");
}

Result<std::string> jwk_thumbprint(const nlohmann::json& jwk) {
  if (!jwk.is_object()) return fail(Errc::invalid_config, "JWK is not an object");
  nlohmann::json members = nlohmann::json::object();
  for (const char* k : {"crv", "kty", "x", "y"}) {
    auto it = jwk.find(k);
    if (it == jwk.end() || !it->is_string()) return fail(Errc::invalid_config, "JWK is not an EC public key");
    members[k] = *it;
  }
  return sha256_base64url(members.dump());  // RFC 7638 3: sorted members, no whitespace
}

Result<std::string> ec_public_pem_from_jwk(const nlohmann::json& jwk) {
  if (!jwk.is_object() || jwk.value("kty", "") != "EC" || jwk.value("crv", "") != "P-256")
    return fail(Errc::unauthorized, "JWK is not an EC P-256 key");
  if (jwk.contains("d")) return fail(Errc::unauthorized, "JWK carries a private key");
  auto x = base64url_decode(jwk.value("x", ""));
  auto y = base64url_decode(jwk.value("y", ""));
  if (!x || !y || x->size() != kCoordBytes || y->size() != kCoordBytes)
    return fail(Errc::unauthorized, "JWK coordinates are malformed");
  std::string point = "\x04" + *x + *y;  // uncompressed SEC1 point
  std::unique_ptr<OSSL_PARAM_BLD, ParamBldFree> bld(OSSL_PARAM_BLD_new());
  char group[] = "prime256v1";
  if (!bld || OSSL_PARAM_BLD_push_utf8_string(bld.get(), OSSL_PKEY_PARAM_GROUP_NAME, group, 0) != 1 ||
      OSSL_PARAM_BLD_push_octet_string(bld.get(), OSSL_PKEY_PARAM_PUB_KEY, point.data(), point.size()) != 1) {
    ERR_clear_error();
    return fail(Errc::unauthorized, "could not build the public key");
  }
  std::unique_ptr<OSSL_PARAM, ParamFree> params(OSSL_PARAM_BLD_to_param(bld.get()));
  std::unique_ptr<EVP_PKEY_CTX, PkeyCtxFree> ctx(EVP_PKEY_CTX_new_from_name(nullptr, "EC", nullptr));
  EVP_PKEY* raw = nullptr;
  if (!params || !ctx || EVP_PKEY_fromdata_init(ctx.get()) != 1 ||
      EVP_PKEY_fromdata(ctx.get(), &raw, EVP_PKEY_PUBLIC_KEY, params.get()) != 1) {
    ERR_clear_error();
    return fail(Errc::unauthorized, "JWK is not a point on P-256");
  }
  PkeyPtr key(raw);
  // fromdata does not check the point: make sure it is on the curve.
  std::unique_ptr<EVP_PKEY_CTX, PkeyCtxFree> check(EVP_PKEY_CTX_new_from_pkey(nullptr, key.get(), nullptr));
  if (!check || EVP_PKEY_public_check(check.get()) != 1) {
    ERR_clear_error();
    return fail(Errc::unauthorized, "JWK is not a point on P-256");
  }
  std::unique_ptr<BIO, BioFree> bio(BIO_new(BIO_s_mem()));
  if (!bio || PEM_write_bio_PUBKEY(bio.get(), key.get()) != 1) {
    ERR_clear_error();
    return fail(Errc::unauthorized, "could not encode the public key");
  }
  char* data = nullptr;
  long n = BIO_get_mem_data(bio.get(), &data);
  return std::string(data, static_cast<std::size_t>(n));
}

}  // namespace mcp::detail::oauth
