// SPDX-License-Identifier: MIT
#pragma once
// Pure building blocks for MCP authorization (spec revision 2026-07-28, "Authorization"):
// WWW-Authenticate parsing (RFC 9110 11.6.1, RFC 6750 3, RFC 9728 5.1), metadata discovery
// URL candidates (RFC 9728 3.1, RFC 8414 3.1 / 5, OIDC Discovery), the RFC 8707 canonical
// resource URI, PKCE S256 (RFC 7636), scope selection, ES256 `private_key_jwt` client
// assertions (RFC 7523, RFC 7515/7518), DPoP keys and proofs (RFC 9449, RFC 7638 thumbprints)
// and authorization response validation (RFC 6749 4.1.2, RFC 9207).
// Defined one section a file: www_authenticate.cpp, oauth_urls.cpp, pkce.cpp, scopes.cpp,
// jws.cpp (ES256 and DPoP) and authorization_response.cpp.
//
// Nothing here does I/O. Functions that can fail return `mcp::Result`; their error messages
// never echo codes, states, verifiers, keys, tokens or URLs given as input (URLs may carry
// credentials in their userinfo or query), so errors are safe to log.
//
// Thread-safety: all functions are free functions without shared state; safe to call from
// many threads at once (the random functions use OpenSSL's thread-safe RAND_bytes).
#include <mcp/error.hpp>

#include "../util/base64.hpp"
#include "../util/url.hpp"

#include <nlohmann/json.hpp>

#include <chrono>
#include <cstddef>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

struct evp_pkey_st;  // OpenSSL's EVP_PKEY

struct sockaddr;  // <sys/socket.h>

namespace mcp::detail::oauth {

// ---------------------------------------------------------------------------------------------
// WWW-Authenticate

/// One challenge of a `WWW-Authenticate` header.
struct AuthChallenge {
  std::string scheme;                         ///< as sent; compare with `is_scheme`
  std::string token68;                        ///< the token68 form, when the challenge used it
  std::map<std::string, std::string> params;  ///< auth-params, names lowercased, values unquoted

  /// Case-insensitive scheme comparison (`"bearer"` matches `"Bearer"`).
  [[nodiscard]] bool is_scheme(std::string_view s) const noexcept;
  /// The value of a parameter (name compared case-insensitively), or nullptr.
  [[nodiscard]] const std::string* param(std::string_view name) const;

  /// Field-wise equality (tests).
  bool operator==(const AuthChallenge&) const = default;
};

/// Limits that keep parsing bounded on hostile input.
inline constexpr std::size_t kMaxHeaderBytes = 16 * 1024;  ///< bytes beyond this are ignored
inline constexpr std::size_t kMaxChallenges = 16;          ///< further challenges are ignored
inline constexpr std::size_t kMaxParams = 32;              ///< further params are ignored

/// Parses the value of a `WWW-Authenticate` header into its challenges.
///
/// Never throws (beyond `std::bad_alloc`), linear in the input, and lenient: garbage between
/// challenges is skipped up to the next top-level comma, an unterminated quoted string ends at
/// the end of the header, unquoted values may contain any character except comma and
/// whitespace (some servers send `resource_metadata=https://...` unquoted). For duplicate
/// parameter names the first wins. Several header lines can be joined with ", " first.
[[nodiscard]] std::vector<AuthChallenge> parse_www_authenticate(std::string_view header);

/// The parameters of a Bearer challenge that matter to an MCP client.
struct BearerChallenge {
  std::optional<std::string> resource_metadata;  ///< RFC 9728 5.1 PRM URL
  std::optional<std::string> scope;              ///< RFC 6750 3 space-separated scopes
  std::optional<std::string> error;              ///< e.g. "invalid_token", "insufficient_scope"
  std::optional<std::string> error_description;  ///< human-readable, from the server
  std::optional<std::string> realm;              ///< RFC 6750 realm

  /// Field-wise equality (tests).
  bool operator==(const BearerChallenge&) const = default;
};

/// The first challenge of `scheme` (default Bearer; "DPoP" for RFC 9449 7.1 challenges, which
/// carry the same parameters) among `challenges`, if any.
[[nodiscard]] std::optional<BearerChallenge> find_bearer_challenge(
    const std::vector<AuthChallenge>& challenges, std::string_view scheme = "Bearer");
/// `find_bearer_challenge(parse_www_authenticate(header), scheme)`.
[[nodiscard]] std::optional<BearerChallenge> parse_bearer_challenge(std::string_view header,
                                                                    std::string_view scheme = "Bearer");

// ---------------------------------------------------------------------------------------------
// URLs

/// Absolute http(s) URLs are split by lib/util/url.hpp (one URL grammar for the library).
using detail::origin_of;
using detail::split_url;
using detail::UrlParts;

/// What kind of address a URL's host is. Only IP literals (IPv4 in any form the resolver
/// accepts, e.g. "2852039166" or "0xA9FEA9FE", and IPv6, bracketed or not, IPv4-mapped ones
/// as IPv4) and the name "localhost" are classified; other names are `public_host` (no DNS
/// lookup is made).
enum class HostClass {
  public_host,  ///< anything else
  loopback,     ///< 127.0.0.0/8, ::1, localhost (and *.localhost)
  private_net,  ///< 10/8, 172.16/12, 192.168/16, fc00::/7
  link_local,   ///< 169.254/16 (cloud metadata services), fe80::/10
  unspecified,  ///< 0.0.0.0/8, :: (which reach this machine)
};
[[nodiscard]] HostClass host_class(std::string_view host);
/// The class of a resolved address (IPv4 or IPv6; anything else is `public_host`).
[[nodiscard]] HostClass address_class(const struct sockaddr& address);
/// The classes of the addresses `host` stands for: a literal or "localhost" as host_class
/// says, a name by resolving it (no address: empty).
[[nodiscard]] std::vector<HostClass> host_classes(std::string_view host);
/// Why the OAuth client must not connect to `address` for an endpoint whose URL passed
/// check_endpoint (empty: it may): a loopback, private, link-local or unspecified address is
/// refused unless the MCP server's own addresses (`server_classes`, from host_classes) are of
/// that class. A host name can resolve to anything; this is checked on the address used.
[[nodiscard]] std::string refuse_address(const struct sockaddr& address, const std::vector<HostClass>& server_classes);

/// Whether the OAuth client may send requests (and secrets) to `url`, an endpoint a server
/// named (`what`, e.g. "the token endpoint", goes into the message): it must use https unless
/// its host is loopback (for development, as the MCP specification allows), and a loopback,
/// private, link-local or unspecified address only when the MCP server at `server_url` is of
/// the same class. Fails with Errc::unauthorized; the message names origins only.
[[nodiscard]] Result<void> check_endpoint(std::string_view url, std::string_view server_url, std::string_view what);

/// The RFC 8707 / MCP canonical resource URI of an MCP server URL: lowercase scheme and host,
/// default port (80/443) elided, no fragment, path and query kept, a lone "/" path dropped
/// (`https://MCP.example.com/` -> `https://mcp.example.com`). Rejects userinfo.
[[nodiscard]] Result<std::string> canonical_resource_uri(std::string_view server_url);

/// Protected Resource Metadata URLs to try, in order (MCP "Protected Resource Metadata
/// Discovery Requirements", RFC 9728 3.1):
///   1. `header_resource_metadata` (from the 401's WWW-Authenticate), if it is an http(s) URL;
///   2. path-based `<origin>/.well-known/oauth-protected-resource<path>[?query]` (trailing
///      slash removed) when the server URL has a path;
///   3. root `<origin>/.well-known/oauth-protected-resource`.
/// Duplicates are removed. Fails only when `server_url` is not an absolute http(s) URL.
[[nodiscard]] Result<std::vector<std::string>> protected_resource_metadata_urls(
    std::string_view server_url, std::optional<std::string_view> header_resource_metadata = {});

/// Authorization Server metadata URLs to try for `issuer`, in the MCP order:
/// with a path (`https://a.example/t1`):
///   `https://a.example/.well-known/oauth-authorization-server/t1`,
///   `https://a.example/.well-known/openid-configuration/t1`,
///   `https://a.example/t1/.well-known/openid-configuration`;
/// without a path: `.../.well-known/oauth-authorization-server`, `.../.well-known/openid-configuration`.
/// Fails when the issuer is not an http(s) URL or has a query or fragment (RFC 8414 2).
[[nodiscard]] Result<std::vector<std::string>> authorization_server_metadata_urls(
    std::string_view issuer);

/// `application/x-www-form-urlencoded` encoding of one name or value (space -> "+").
[[nodiscard]] std::string form_urlencode(std::string_view s);
/// Decodes `application/x-www-form-urlencoded` text ("+" -> space, %XX); invalid escapes are
/// kept literally.
[[nodiscard]] std::string form_urldecode(std::string_view s);
/// Parses a query string (`a=1&b=2`, no leading '?') into decoded name/value pairs, in order.
[[nodiscard]] std::vector<std::pair<std::string, std::string>> parse_query(std::string_view query);

// ---------------------------------------------------------------------------------------------
// Randomness, PKCE

/// Base64 lives in lib/util/base64.hpp.
using detail::base64_encode;
using detail::base64url_decode;
using detail::base64url_encode;

/// `n_bytes` from a CSPRNG, base64url-encoded (for `state`, `jti`, nonces).
[[nodiscard]] Result<std::string> random_token(std::size_t n_bytes = 32);

/// A PKCE code verifier (RFC 7636 4.1): `length` characters (43..128) from the unreserved
/// alphabet, uniformly random from RAND_bytes.
[[nodiscard]] Result<std::string> generate_code_verifier(std::size_t length = 64);
/// base64url(SHA-256(bytes)) without padding.
[[nodiscard]] std::string sha256_base64url(std::string_view bytes);
/// The S256 code challenge: base64url(SHA-256(verifier)) without padding (RFC 7636 4.2).
[[nodiscard]] std::string code_challenge_s256(std::string_view verifier);
/// True when `verifier` is 43..128 unreserved characters.
[[nodiscard]] bool is_valid_code_verifier(std::string_view verifier) noexcept;

/// A verifier with its S256 challenge.
struct Pkce {
  std::string verifier;                 ///< secret: keep until the token request
  std::string challenge;                ///< sent in the authorization request
  std::string method = "S256";          ///< `code_challenge_method`
};
/// A fresh PKCE pair.
[[nodiscard]] Result<Pkce> make_pkce(std::size_t verifier_length = 64);

// ---------------------------------------------------------------------------------------------
// Scopes

/// The MCP "Scope Selection Strategy": the challenge's `scope` if present and non-blank, else
/// all of the Protected Resource Metadata `scopes_supported` (space-joined, string entries
/// only), else nullopt (omit the `scope` parameter).
[[nodiscard]] std::optional<std::string> select_scope(
    const std::optional<std::string>& challenge_scope, const nlohmann::json& resource_metadata);

/// The scopes of a space-separated scope string (empty entries dropped), views into `s`.
[[nodiscard]] std::vector<std::string_view> split_scopes(std::string_view s);

/// Step-up: the union of previously requested scopes and a challenge's scopes (space
/// separated), keeping first-seen order and dropping duplicates.
[[nodiscard]] std::string union_scopes(std::string_view previous, std::string_view challenge);

/// Adds `offline_access` when the AS metadata lists it in `scopes_supported` and it is not
/// already requested (MCP "Refresh Tokens": MAY).
[[nodiscard]] std::string add_offline_access_if_supported(std::string_view scope,
                                                          const nlohmann::json& as_metadata);

// ---------------------------------------------------------------------------------------------
// private_key_jwt client assertions (ES256)

/// What goes into a client assertion (RFC 7523 3).
struct ClientAssertionOptions {
  std::string client_id;                        ///< `iss` and `sub`
  std::string audience;                         ///< `aud`: the token endpoint (or AS issuer)
  std::chrono::seconds lifetime{300};           ///< `exp` = `iat` + lifetime (default 5 min)
  std::optional<std::string> key_id;            ///< JWS header `kid`, when the JWKS needs it
  /// `iat`; the default (epoch) means "now".
  std::chrono::system_clock::time_point issued_at{};
};

/// Signs a client assertion with an EC P-256 private key in PEM (PKCS#8 or SEC1) using ES256
/// (JWS signature is the raw 64-byte R||S, RFC 7518 3.4). Claims: iss, sub, aud, iat, exp,
/// jti (random). Errors never contain the key.
[[nodiscard]] Result<std::string> make_client_assertion_es256(std::string_view private_key_pem,
                                                              const ClientAssertionOptions& opts);

/// A verified JWS: its header and claims.
struct VerifiedJws {
  nlohmann::json header;  ///< the protected header
  nlohmann::json claims;  ///< the payload, parsed as a JSON object
};

/// Verifies a compact ES256 JWS against an EC P-256 public key in PEM (SubjectPublicKeyInfo);
/// requires `alg` = "ES256" (never "none"). Checks the signature only, not the claims.
[[nodiscard]] Result<VerifiedJws> verify_jws_es256(std::string_view jws,
                                                   std::string_view public_key_pem);

// ---------------------------------------------------------------------------------------------
// DPoP (RFC 9449) proofs, ES256

/// An EC P-256 key pair for DPoP proofs. Copies share one key; the private half never leaves
/// it (no accessor, not in errors).
class DpopKey {
 public:
  /// A fresh key pair from OpenSSL's CSPRNG.
  [[nodiscard]] static Result<DpopKey> generate();
  /// An existing EC P-256 private key in PEM (PKCS#8 or SEC1).
  [[nodiscard]] static Result<DpopKey> from_pem(std::string_view private_key_pem);

  /// The public key as a JWK: {"kty":"EC","crv":"P-256","x":...,"y":...}.
  [[nodiscard]] const nlohmann::json& public_jwk() const noexcept { return jwk_; }
  /// Its RFC 7638 SHA-256 thumbprint (what a bound token's `cnf.jkt` holds).
  [[nodiscard]] const std::string& thumbprint() const noexcept { return thumbprint_; }
  /// The OpenSSL key (EVP_PKEY), for signing.
  [[nodiscard]] evp_pkey_st* native() const noexcept { return key_.get(); }

 private:
  static Result<DpopKey> from_native(std::shared_ptr<evp_pkey_st> key);
  std::shared_ptr<evp_pkey_st> key_;
  nlohmann::json jwk_;
  std::string thumbprint_;
};

/// What a DPoP proof binds (RFC 9449 4.2).
struct DpopProofOptions {
  std::string method;        ///< `htm`: the HTTP method, e.g. "POST"
  std::string url;           ///< `htu`: the request URL; its query and fragment are dropped
  std::string access_token;  ///< non-empty: `ath` = base64url(SHA-256(token)) (resource requests)
  std::string nonce;         ///< non-empty: `nonce`, as the server supplied it (RFC 9449 8, 9)
  /// `iat`; the default (epoch) means "now".
  std::chrono::system_clock::time_point issued_at{};
};

/// A DPoP proof JWT: header {typ "dpop+jwt", alg "ES256", jwk}, claims jti (random), htm, htu,
/// iat, and ath / nonce when given. Errors never contain the token, nonce or URL.
[[nodiscard]] Result<std::string> make_dpop_proof(const DpopKey& key, const DpopProofOptions& opts);

/// The RFC 7638 SHA-256 thumbprint of an EC public JWK (members crv, kty, x, y).
[[nodiscard]] Result<std::string> jwk_thumbprint(const nlohmann::json& jwk);
/// The SubjectPublicKeyInfo PEM of an EC P-256 public JWK (e.g. a proof's `jwk` header, to
/// check it with `verify_jws_es256`). Rejects other curves, malformed coordinates, points off
/// the curve and JWKs carrying a private part (`d`).
[[nodiscard]] Result<std::string> ec_public_pem_from_jwk(const nlohmann::json& jwk);

// ---------------------------------------------------------------------------------------------
// Authorization response (redirect) validation

/// At most `max` bytes of `s` with every byte outside printable ASCII replaced by '?': for
/// showing text a server sent (error codes, descriptions) without injecting into logs.
[[nodiscard]] std::string sanitize(std::string_view s, std::size_t max);

/// What the client recorded before redirecting the user-agent.
struct ExpectedAuthorization {
  std::string state;   ///< the `state` sent; empty means none was sent (then none may come back)
  std::string issuer;  ///< `issuer` of the validated AS metadata (RFC 9207)
  /// AS metadata `authorization_response_iss_parameter_supported`.
  bool iss_parameter_supported = false;
};

/// A validated successful authorization response.
struct AuthorizationResponse {
  std::string code;                ///< secret: the authorization code
  std::optional<std::string> iss;  ///< the `iss` parameter, when present (already checked)
};

/// Validates the redirect URL the user-agent came back with (query parameters), in the order
/// the spec requires: duplicate parameters rejected; `iss` compared to the recorded issuer by
/// simple string comparison (present and different -> reject; absent while the AS advertises
/// support -> reject), before `error` is looked at, so on mismatch the AS's error is neither
/// acted on nor shown; then `state` (constant-time); then `error`; then `code`.
/// Failures are `Errc::unauthorized`; messages never contain code, state or URL.
[[nodiscard]] Result<AuthorizationResponse> validate_authorization_response(
    std::string_view redirect_url, const ExpectedAuthorization& expected);

}  // namespace mcp::detail::oauth
