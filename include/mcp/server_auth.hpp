// SPDX-License-Identifier: MIT
#pragma once
// The server as an OAuth 2.1 protected resource (MCP authorization, 2026-07-28 basic/
// authorization; RFC 9728, RFC 8707, RFC 6750, RFC 7662): what checks a request's access token
// and what the server tells clients about where to get one.
//
//   auto jwt = mcp::make_jwt_validator({.issuer = "https://auth.example.com",
//                                       .audience = "https://mcp.example.com/mcp"});
//   if (!jwt) { ... jwt.error().message ... }
//   auto who = (*jwt)->validate(bearer_token);   // Result<AuthInfo>
//
// Validators:
// - make_static_token_validator: a fixed list of tokens (development, service accounts; Mastra's
//   createStaticTokenValidator). Tokens are kept as SHA-256 digests and compared in constant time.
// - make_jwt_validator: JWT access tokens (RFC 9068) signed ES256 or RS256 by the issuer's
//   keys (its JWKS, fetched over HTTP(S), cached, fetched again for an unknown `kid` at most
//   every `jwks_min_refetch`); checks `iss`, `aud` (this resource, RFC 8707), `exp` and `nbf`
//   with a leeway.
// - make_introspection_validator: RFC 7662 token introspection at the authorization server,
//   answers cached (bounded, keyed by the token's digest, never past the token's `exp`).
//
// A validator's error is Errc::unauthorized when the token is not good for this resource (the
// host answers 401 with `WWW-Authenticate: Bearer error="invalid_token"`); any other error
// (the authorization server unreachable, Errc::connection_failed or timeout) means no decision
// could be made (503). Tokens never appear in an error's text nor in AuthInfo: the MCP spec
// forbids passing a client's token on, and a handler has no use for it.
//
// Thread-safety: validators are called from many threads at once; each is safe for that.
// The free functions are pure.
#include <mcp/error.hpp>

#include <nlohmann/json.hpp>

#include <chrono>
#include <cstddef>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace mcp {

/// Who a request comes from, as its access token (or the application's own scheme) says.
/// Handlers read it through their RequestContext.
struct AuthInfo {
  std::string subject{};             ///< `sub`: the user (or client) the token was issued for
  std::string client_id{};           ///< `client_id` (or `azp`): the OAuth client that holds it
  std::vector<std::string> scopes{}; ///< granted scopes (`scope`, space-separated, or `scp`)
  std::string issuer{};              ///< `iss`
  std::vector<std::string> audience{};  ///< `aud`
  /// `exp`, when the token expires (none: no expiry known).
  std::optional<std::chrono::system_clock::time_point> expires_at{};
  /// Every claim of the token (JWT payload, or the introspection response); never the token.
  nlohmann::json claims = nlohmann::json::object();
  /// What the application's own check attached (middleware), for its handlers.
  nlohmann::json extra = nlohmann::json::object();
};

/// Checks an access token (the credential of `Authorization: Bearer`).
class TokenValidator {
 public:
  virtual ~TokenValidator() = default;
  /// Who the token speaks for. Errc::unauthorized: not a token for this resource (invalid,
  /// expired, wrong issuer or audience, unknown key); other errors: no decision could be made
  /// now (the authorization server did not answer). Never puts the token in the error.
  [[nodiscard]] virtual Result<AuthInfo> validate(std::string_view token) = 0;
  /// Whether validate(token) would answer now, without waiting on the network (the keys or
  /// the answer are cached). A host calls validate() on its I/O thread when this is true, on
  /// a worker thread otherwise. The default, false, is always safe.
  [[nodiscard]] virtual bool answers_at_once(std::string_view token) {
    (void)token;
    return false;
  }
};

/// One token a static validator accepts, and who it speaks for.
struct StaticToken {
  std::string token{};  ///< the bearer credential (at least 16 bytes)
  AuthInfo info{};      ///< what a request bearing it is
};

/// Accepts exactly the given tokens (kept as digests, compared in constant time).
/// Errc::invalid_config: an empty list, a token shorter than 16 bytes, or the same token twice.
[[nodiscard]] Result<std::shared_ptr<TokenValidator>> make_static_token_validator(std::vector<StaticToken> tokens);

/// How a JWT access token is checked (RFC 9068; RFC 7519).
struct JwtValidatorOptions {
  /// The authorization server (`iss` must equal it exactly). Required.
  std::string issuer{};
  /// This resource's canonical URI (RFC 8707), e.g. "https://mcp.example.com/mcp": `aud` (a
  /// string or an array) must contain it. Required: a token for another resource is refused.
  std::string audience{};
  /// Where the issuer's keys are (a JWKS document). Empty (default): taken from the issuer's
  /// metadata (RFC 8414 `/.well-known/oauth-authorization-server`, then OpenID Connect's
  /// `/.well-known/openid-configuration`), whose `issuer` must match.
  std::string jwks_uri{};
  /// The keys, given instead of fetched (a JWKS document: {"keys": [...]}); nothing is fetched.
  std::optional<nlohmann::json> jwks{};
  /// Signature algorithms accepted (of "ES256", "RS256"); never "none".
  std::vector<std::string> algorithms{"ES256", "RS256"};
  /// Clock skew allowed on `exp`, `nbf` and `iat`.
  std::chrono::seconds leeway{60};
  /// Tokens must carry `exp` (default): one without it is refused.
  bool require_exp = true;
  /// The header's `typ` must be "at+jwt" (RFC 9068 2.1). Off by default: many servers send "JWT".
  bool require_at_jwt_typ = false;
  /// The keys are fetched again after this long.
  std::chrono::seconds jwks_max_age{std::chrono::hours(1)};
  /// A token signed with a key we do not have (an unknown `kid`: the issuer rotated its keys)
  /// fetches the keys again, at most this often.
  std::chrono::seconds jwks_min_refetch{std::chrono::seconds(30)};
  /// Each fetch (metadata, JWKS) within this, connect to last byte.
  std::chrono::milliseconds http_timeout{std::chrono::seconds(5)};
  /// Verify the TLS certificates of https fetches (against `ca_file` if set, else the system's).
  bool verify_tls = true;
  std::string ca_file{};  ///< a PEM bundle of trusted CAs; empty: the system's
  /// Largest token accepted (bytes): larger ones are refused unread.
  std::size_t max_token_bytes = 16 * 1024;
};

/// A validator for JWT access tokens. Errc::invalid_config for missing issuer/audience, an
/// unsupported algorithm or unusable given keys. Fetches nothing until the first token.
[[nodiscard]] Result<std::shared_ptr<TokenValidator>> make_jwt_validator(JwtValidatorOptions options);

/// How tokens are introspected (RFC 7662).
struct IntrospectionOptions {
  /// The authorization server's introspection endpoint (https, or http on a loopback host).
  std::string endpoint{};
  /// This resource's credentials at the endpoint (HTTP Basic), when it requires them.
  std::string client_id{};
  std::string client_secret{};  ///< the secret for `client_id`
  /// This resource's canonical URI: when the response has `aud`, it must contain it.
  std::string audience{};
  /// When the response has `aud` no more: refuse tokens whose response lacks `aud` (default
  /// false; many servers leave it out).
  bool require_audience = false;
  /// The issuer, when responses carry `iss` that must equal it (empty: not checked).
  std::string issuer{};
  /// An active token's answer is reused this long (never past its `exp`); an inactive one's
  /// `negative_cache_ttl`.
  std::chrono::seconds cache_ttl{std::chrono::seconds(60)};
  std::chrono::seconds negative_cache_ttl{std::chrono::seconds(5)};  ///< see `cache_ttl`
  /// Answers kept at most (the oldest go first).
  std::size_t cache_entries = 10000;
  std::chrono::milliseconds http_timeout{std::chrono::seconds(5)};  ///< the introspection request's timeout
  bool verify_tls = true;  ///< verify the endpoint's TLS certificate (against `ca_file` if set)
  std::string ca_file{};  ///< a PEM bundle of trusted CAs; empty: the system's
  std::size_t max_token_bytes = 16 * 1024;  ///< longer tokens are refused without a request
};

/// A validator that asks the authorization server. Errc::invalid_config for a missing or
/// non-https endpoint (http is allowed for loopback hosts only).
[[nodiscard]] Result<std::shared_ptr<TokenValidator>> make_introspection_validator(IntrospectionOptions options);

/// Protected Resource Metadata (RFC 9728): what a client is told about this resource.
struct ProtectedResourceMetadata {
  /// The resource's canonical URI (the MCP endpoint's URL, without a trailing slash). Required.
  std::string resource{};
  /// The authorization servers' issuer URLs. Required (at least one).
  std::vector<std::string> authorization_servers{};
  /// Scopes clients may ask for (leave out `offline_access`: the spec says so).
  std::vector<std::string> scopes_supported{};
  std::optional<std::string> resource_name{};  ///< human-readable name of the resource
  std::optional<std::string> resource_documentation{};  ///< URL of its documentation for developers
  /// How tokens may be sent: "header" only (the spec forbids the query string).
  std::vector<std::string> bearer_methods_supported{"header"};
  /// Other members, added as they are (e.g. `resource_signing_alg_values_supported`).
  nlohmann::json extra = nlohmann::json::object();
};

/// The metadata document (RFC 9728 2). Members of `extra` never replace the ones above.
[[nodiscard]] nlohmann::json to_json(const ProtectedResourceMetadata& metadata);

/// The path of the metadata's well-known URL for a resource (RFC 9728 3.1): for
/// "https://example.com/public/mcp", "/.well-known/oauth-protected-resource/public/mcp"; for
/// a resource at the root, "/.well-known/oauth-protected-resource". Errc::invalid_config when
/// `resource` is not an absolute http(s) URL or has a query or fragment.
[[nodiscard]] Result<std::string> protected_resource_metadata_path(std::string_view resource);
/// The whole well-known URL (scheme and authority of `resource`, then the path above).
[[nodiscard]] Result<std::string> protected_resource_metadata_url(std::string_view resource);

/// Which scopes a broader scope implies (the spec: servers MUST account for scope
/// hierarchies): {"files": {"files:read", "files:write"}} lets a token with "files" do what
/// needs "files:read". Followed transitively.
using ScopeHierarchy = std::map<std::string, std::vector<std::string>, std::less<>>;

/// The scopes of `required` that `granted` does not cover (directly or through `hierarchy`);
/// empty: the token is sufficient.
[[nodiscard]] std::vector<std::string> missing_scopes(const std::vector<std::string>& granted,
                                                      const std::vector<std::string>& required,
                                                      const ScopeHierarchy& hierarchy = {});

/// A `WWW-Authenticate: Bearer` challenge (RFC 6750 3, RFC 9728 5.1). `error`: empty (no
/// token was sent), "invalid_token" (401) or "insufficient_scope" (403); `scopes`: what to ask
/// for; `resource_metadata`: the metadata URL. `description` is sanitized (printable ASCII, no
/// quotes or backslashes, at most 200 bytes).
[[nodiscard]] std::string bearer_challenge(std::string_view error, const std::vector<std::string>& scopes,
                                           std::string_view resource_metadata, std::string_view description = {});

/// The certificate a client presented in its TLS handshake and the host verified against
/// HttpTlsOptions::client_ca_file (mTLS).
struct ClientCertificate {
  std::string subject{};             ///< its subject, RFC 2253 form: "CN=agent-7,O=Example"
  std::string issuer{};              ///< its issuer, the same form
  std::string serial{};              ///< its serial number, hex (upper case)
  std::string sha256_fingerprint{};  ///< SHA-256 of its DER encoding, hex (lower case, no colons)
  std::vector<std::string> dns_names{};  ///< its subjectAltName DNS entries
  std::vector<std::string> uris{};       ///< its subjectAltName URI entries (SPIFFE IDs ...)
};

/// What an auth middleware sees of a request to the MCP endpoint.
struct AuthRequest {
  std::string_view method{};  ///< "POST", "GET", "DELETE"
  std::string_view target{};  ///< path and query as sent
  const std::vector<std::pair<std::string, std::string>>* headers = nullptr;  ///< as received
  /// The client's verified certificate (an HTTPS host with HttpTlsOptions::client_ca_file);
  /// null otherwise (plain HTTP, no client certificate asked for or sent, mounted exchanges).
  const ClientCertificate* client_certificate = nullptr;
  /// The first value of header `name` (case-insensitive), or empty.
  [[nodiscard]] std::string_view header(std::string_view name) const;
};

/// An auth middleware's verdict on a request.
struct AuthDecision {
  int status = 0;           ///< 0: serve it; else the HTTP status refusing it (401, 403, 429 ...)
  std::string message{};    ///< the refusal's text (the client reads it: no secrets)
  std::vector<std::pair<std::string, std::string>> headers{};  ///< the refusal's extra headers
  [[nodiscard]] static AuthDecision allow() { return {}; }  ///< serve the request
  [[nodiscard]] static AuthDecision deny(int status, std::string message) {  ///< refuse it with `status` and `message`
    AuthDecision d;
    d.status = status;
    d.message = std::move(message);
    return d;
  }
};

/// An application's own check, before the request is served: it may refuse it, and it may
/// fill or add to `info` (`extra` is for it), which handlers then read (RequestContext::auth()).
/// With a TokenValidator, it runs after the token was accepted (`info` is what the token
/// says); without one, `info` starts empty and the middleware alone decides (API keys, an
/// identity from a proxy's header, a client certificate: AuthRequest::client_certificate).
/// It runs on a host thread and must not block for long (a check that waits on the network
/// belongs in a TokenValidator). An exception is a 500.
using AuthMiddleware = std::function<AuthDecision(const AuthRequest& request, AuthInfo& info)>;

/// How an HttpHost protects its MCP endpoint (HttpServerOptions::auth). Off while neither a
/// validator nor a middleware is set.
///
/// With a validator: every request to the MCP paths (the endpoint, and the HTTP+SSE ones)
/// needs `Authorization: Bearer <token>`; none, or a refused token: 401 with
/// `WWW-Authenticate: Bearer` naming the metadata (`resource_metadata`) and `required_scopes`;
/// no decision (the authorization server down): 503. A token that lacks `required_scopes`, or a
/// tool's ServerTool::required_scopes: 403 `insufficient_scope` with the scopes to ask for.
/// Without a validator the same scope checks apply to the AuthInfo::scopes the middleware
/// filled (API keys with scopes): 403 with `WWW-Authenticate: Bearer error="insufficient_scope"`
/// naming the scopes (and the metadata, when `metadata.resource` is set). A
/// legacy session belongs to the subject and client that opened it: another's token finds no
/// session (404). The metadata (RFC 9728) is served at its well-known paths (the endpoint's
/// path form and the root form) to anyone, as the spec asks.
struct HttpAuthOptions {
  /// The Protected Resource Metadata; `resource` is the endpoint's public URL (required with a
  /// validator), e.g. "https://mcp.example.com/mcp".
  ProtectedResourceMetadata metadata{};
  /// Checks bearer tokens. Null: no tokens (the middleware alone decides).
  std::shared_ptr<TokenValidator> validator{};
  /// Scopes every request needs (the token's, or the middleware's AuthInfo::scopes).
  std::vector<std::string> required_scopes{};
  /// Broader scopes and what they imply (see missing_scopes).
  ScopeHierarchy scope_hierarchy{};
  /// The application's own check (see AuthMiddleware).
  AuthMiddleware middleware{};
  [[nodiscard]] bool enabled() const { return validator != nullptr || static_cast<bool>(middleware); }  ///< a validator or a middleware is set
};

}  // namespace mcp
