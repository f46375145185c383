// SPDX-License-Identifier: MIT
#pragma once
/// @file oauth.hpp
/// The OAuth 2.1 client of MCP "Authorization" (spec revisions 2025-11-25 and 2026-07-28, with
/// the 2025-03-26 fallbacks), as an `AuthProvider` for `HttpServerConfig::auth`, and the token
/// stores it keeps its credentials in.
///
/// What the provider does when the server answers 401: it discovers the Protected Resource
/// Metadata (RFC 9728; the `resource_metadata` of the challenge, then the path-based and root
/// well-known URLs) and refuses one whose `resource` is not the server's; it discovers the
/// Authorization Server metadata (RFC 8414 / OpenID Connect, path-aware) and refuses one whose
/// `issuer` is not the issuer it asked for. Without Protected Resource Metadata (2025-03-26
/// servers) the AS metadata is looked up at the server's origin, and without that the
/// default endpoints `/authorize`, `/token`, `/register` are used. The client identity is the
/// pre-registered `client_id`, else the Client ID Metadata Document URL when the AS supports
/// it, else one obtained by Dynamic Client Registration (RFC 7591). Then it runs the
/// authorization code grant with PKCE S256, `state`, the RFC 8707 `resource` and the MCP scope
/// selection strategy (`offline_access` added when the AS lists it), validates the
/// authorization response (`iss`, RFC 9207), and exchanges the code at the token endpoint with
/// the client authentication the AS accepts (client_secret_basic, client_secret_post, none,
/// private_key_jwt). Alternatively it uses the client credentials grant (machine to machine),
/// the JWT bearer grant (workload identity), or enterprise-managed authorization (an ID token
/// of the enterprise IdP exchanged for an ID-JAG, then the JWT bearer grant).
/// An expired or refused access token is refreshed with the refresh token first; a 403
/// `insufficient_scope` starts a step-up authorization for the union of the scopes (bounded);
/// credentials bound to an authorization server that the resource no longer lists are dropped.
/// Optionally (`OAuthClientOptions::dpop`) tokens are DPoP-bound (RFC 9449; see `DpopMode`).
///
/// Secrets (tokens, client secrets, codes, verifiers, keys) never appear in error messages or
/// diagnostics. Concurrent challenges of one server are served by one authorization.
///
/// Thread-safety: providers and stores are safe to use from many threads at once.

#include <mcp/auth.hpp>
#include <mcp/error.hpp>
#include <mcp/log.hpp>

#include <chrono>
#include <functional>
#include <memory>
#include <optional>
#include <stop_token>
#include <string>
#include <string_view>
#include <vector>

namespace mcp {

/// What a stored credential is for: one tenant (an application-chosen name: a user, an
/// account) at one authorization server for one protected resource.
struct TokenKey {
  std::string tenant;    ///< application-defined; "" is a valid tenant
  std::string issuer;    ///< the authorization server's issuer identifier
  std::string resource;  ///< the protected resource (RFC 8707 resource indicator)

  bool operator==(const TokenKey&) const = default;  ///< same server, issuer and resource
};

/// Credentials kept between runs: the tokens and the client registration they were issued to
/// (so that a restarted application neither registers again nor asks the user again).
struct StoredAuth {
  std::string access_token;  ///< the access token (sent as `Authorization: <token_type> <token>`)
  std::string token_type = "Bearer";  ///< "Bearer", or "DPoP" for a DPoP-bound token (RFC 9449)
  /// For a DPoP-bound token: the RFC 7638 thumbprint of the key it is bound to (a token bound
  /// to another key, e.g. of an earlier run with a generated key, is not used).
  std::string dpop_jkt;
  std::string refresh_token;  ///< empty: none
  /// When the access token expires (from `expires_in`); nullopt: unknown.
  std::optional<std::chrono::system_clock::time_point> expires_at;
  std::string scope;  ///< the granted (or, when the AS did not say, requested) scopes

  // The client registration (pre-registered, Client ID Metadata Document URL or obtained by
  // Dynamic Client Registration) and the authorization server it belongs to.
  std::string client_id;  ///< the registered client id
  std::string client_secret;               ///< empty: public client
  std::string token_endpoint_auth_method;  ///< "client_secret_basic", "client_secret_post", "none", ...
  std::string issuer;                      ///< the authorization server's issuer
  std::string token_endpoint;              ///< for refreshing without rediscovery
  std::string resource;                    ///< the resource indicator the token was requested for

  bool operator==(const StoredAuth&) const = default;  ///< every field equal
};

/// A held refresh lock of `TokenStore::lock_refresh`: released when destroyed.
class TokenLock {
 public:
  virtual ~TokenLock() = default;
};

/// Where the provider keeps credentials. Implementations must be thread-safe.
class TokenStore {
 public:
  virtual ~TokenStore() = default;
  /// Serializes refreshes of `key`'s tokens among everyone sharing the store (threads and, for
  /// shared stores, processes and replicas), so that an authorization server that rotates
  /// refresh tokens never sees the same refresh token twice. The provider holds the lock while
  /// it reloads the entry, refreshes (unless the entry meanwhile holds new tokens) and saves.
  /// Waits until it gets the lock or `deadline` (then `Errc::timeout`). The default
  /// implementation locks within this process only (per store object and key); stores shared
  /// between processes override it.
  [[nodiscard]] virtual Result<std::unique_ptr<TokenLock>> lock_refresh(
      const TokenKey& key, std::chrono::steady_clock::time_point deadline);
  /// The entry for `key`, or nullopt. With an empty `key.issuer`: the most recently saved entry
  /// for `key.tenant` and `key.resource`, whatever its issuer (the provider uses that before it
  /// has talked to the server; it checks the issuer again on the first challenge).
  [[nodiscard]] virtual Result<std::optional<StoredAuth>> load(const TokenKey& key) = 0;
  /// Stores (replaces) the entry for `key`.
  [[nodiscard]] virtual Result<void> save(const TokenKey& key, const StoredAuth& value) = 0;
  /// Removes the entry for `key` (no error when there is none).
  [[nodiscard]] virtual Result<void> erase(const TokenKey& key) = 0;
};

/// A store in memory (lost when the process exits).
[[nodiscard]] std::shared_ptr<TokenStore> memory_token_store();

/// A store in a JSON file: created with mode 0600 (its directory must exist); an existing file
/// readable or writable by group or others is refused (fix its mode). Every save writes a
/// temporary file next to it and renames it over, under an exclusive `flock` on a
/// `<path>.lock` file, so several processes can share one file; the lock file exists only
/// while a load or save holds it (removed before the lock is released, unless the process
/// dies meanwhile). Entries are keyed by tenant, issuer and resource. Refreshes are serialized
/// across processes by an exclusive `flock` on `<path>.refresh.lock` (one lock for the whole
/// file, held only while a refresh runs; the kernel releases it when a holder dies).
[[nodiscard]] std::shared_ptr<TokenStore> file_token_store(std::string path);

/// Which OAuth grant the provider uses.
enum class OAuthGrant {
  authorization_code,  ///< a user authorizes in a browser (default)
  client_credentials,  ///< machine to machine: client secret or private_key_jwt, no user
  /// RFC 7523 JWT bearer grant (workload identity federation): `OAuthClientOptions::assertion`
  /// supplies the workload's JWT; no user, no retry with another grant when refused.
  jwt_bearer,
  /// Enterprise-Managed Authorization (SEP-990, the Identity Assertion JWT Authorization Grant):
  /// the user's identity assertion from the enterprise IdP (`idp_subject_token`, an OpenID
  /// Connect ID token) is exchanged at the IdP's token endpoint (RFC 8693 token exchange,
  /// `requested_token_type` `urn:ietf:params:oauth:token-type:id-jag`) for an ID-JAG whose
  /// audience is the MCP server's authorization server and whose resource is the MCP server;
  /// the ID-JAG is then the assertion of an RFC 7523 JWT bearer grant at that authorization
  /// server, with the client's (pre-registered) `client_id` authentication. No browser; a
  /// refused exchange or grant fails the request (no retry with another grant).
  enterprise_managed,
};

/// When the provider uses DPoP (RFC 9449, the MCP DPoP extension SEP-1932): sender-constrained
/// tokens. With DPoP every token request carries a `DPoP` proof signed by the provider's EC P-256
/// key (ES256); the authorization server then issues a token bound to that key
/// (`token_type` "DPoP"), which is sent as `Authorization: DPoP <token>` with a fresh proof per
/// request (`AuthProvider::request_headers`: method, URL, `ath`). Server-supplied nonces are
/// honoured: a token endpoint's 400 `use_dpop_nonce` is retried once with the `DPoP-Nonce`, a
/// resource's 401 `DPoP error="use_dpop_nonce"` makes the request go again with it (bounded),
/// and later proofs carry the latest nonce. An authorization server that answers with a Bearer
/// token anyway (it ignored the proof) gets that token used as a bearer token.
enum class DpopMode {
  off,           ///< bearer tokens only (default: DPoP is an optional extension)
  if_supported,  ///< DPoP when the AS metadata lists ES256 in `dpop_signing_alg_values_supported`
  always,        ///< DPoP proofs on every token request, whatever the AS metadata says
};

/// Options of `oauth_provider`.
struct OAuthClientOptions {
  /// Separates the credentials of several users/accounts sharing one store.
  std::string tenant;
  /// Where tokens and registrations are kept. Null: a private in-memory store.
  std::shared_ptr<TokenStore> store;

  // ---- client identity
  /// Pre-registered client (skips Client ID Metadata Documents and registration).
  std::string client_id;
  std::string client_secret;  ///< for a confidential pre-registered client
  /// "client_secret_basic", "client_secret_post", "none", "private_key_jwt"; empty (default):
  /// chosen from what registration returned and the AS's
  /// `token_endpoint_auth_methods_supported`.
  std::string token_endpoint_auth_method;
  /// An HTTPS URL serving this client's Client ID Metadata Document; used as the client_id
  /// when the AS metadata says `client_id_metadata_document_supported: true`.
  std::string client_metadata_url;

  // ---- Dynamic Client Registration (RFC 7591), when there is no other identity
  std::string client_name = "mcp-cpp client";  ///< the `client_name` registered
  /// Registered redirect URIs; empty: `{redirect_uri}`.
  std::vector<std::string> redirect_uris;
  /// Registered grant types; empty: authorization_code + refresh_token (or client_credentials).
  std::vector<std::string> grant_types;
  /// "native" (default, right for loopback redirects) or "web".
  std::string application_type = "native";

  // ---- the grant
  OAuthGrant grant = OAuthGrant::authorization_code;  ///< which grant obtains tokens (OAuthGrant)
  /// Where the authorization server sends the user-agent back (required for
  /// authorization_code), e.g. "http://127.0.0.1:33418/callback".
  std::string redirect_uri;
  /// An EC P-256 private key (PEM) for `private_key_jwt` (ES256) client authentication, used
  /// with `client_id`; `key_id` goes in the JWS header when set.
  std::string private_key_pem;
  std::string key_id;  ///< the JWS `kid` of `private_key_pem`; empty: none
  /// For `OAuthGrant::jwt_bearer`: the JWT to present (e.g. read from the platform's token
  /// file); called for every token request.
  std::function<Result<std::string>()> assertion;

  // ---- enterprise-managed authorization (OAuthGrant::enterprise_managed, SEP-990)
  /// The enterprise IdP's token endpoint (RFC 8693 token exchange), e.g.
  /// "https://idp.example.com/oauth2/token". Required.
  std::string idp_token_endpoint;
  /// The subject token to exchange: the user's identity assertion from single sign-on at the
  /// IdP (an ID token, unless `idp_subject_token_type` says otherwise). Called for every
  /// exchange, so it may refresh the sign-in; an error aborts the authorization. Required.
  std::function<Result<std::string>()> idp_subject_token;
  /// The RFC 8693 `subject_token_type` of `idp_subject_token`: the ID token type (default), or
  /// e.g. "urn:ietf:params:oauth:token-type:saml2".
  std::string idp_subject_token_type = "urn:ietf:params:oauth:token-type:id_token";
  /// The client's registration at the IdP (distinct from `client_id`, its registration at the
  /// MCP server's authorization server). `idp_client_id` is required; with a secret the client
  /// authenticates with `idp_token_endpoint_auth_method`.
  std::string idp_client_id;
  std::string idp_client_secret;  ///< the client secret at the IdP; empty: a public client
  /// "client_secret_basic", "client_secret_post" or "none"; empty (default):
  /// client_secret_basic with a secret, else none (`client_id` in the body).
  std::string idp_token_endpoint_auth_method;
  /// The ID-JAG's `audience`; empty (default): the issuer of the authorization server the MCP
  /// server's Protected Resource Metadata names.
  std::string idp_audience;
  /// The ID-JAG's `resource`; empty (default): the MCP server's resource identifier (RFC 8707,
  /// as its Protected Resource Metadata publishes it).
  std::string idp_resource;

  // ---- DPoP (RFC 9449)
  DpopMode dpop = DpopMode::off;  ///< whether tokens are DPoP-bound (DpopMode)
  /// The DPoP key: an EC P-256 private key (PEM, PKCS#8 or SEC1). Empty (default): a key is
  /// generated (OpenSSL) when DPoP is first used and kept for the provider's lifetime; tokens
  /// stored in a persistent store then do not survive a restart (they are bound to that key).
  std::string dpop_private_key_pem;

  /// Requested scopes (space-separated); empty: the MCP scope selection strategy (the
  /// challenge's `scope`, else the resource's `scopes_supported`, else none).
  std::string scope;

  /// Runs the user-agent part of the authorization code grant: receives the authorization URL
  /// (open it in a browser), returns the URL the user-agent was redirected to (with `code`,
  /// `state`, maybe `iss`). May block; an error aborts the authorization.
  /// `stop` is requested when the request that needed the authorization is cancelled or the
  /// connection closes: return promptly then (disconnecting waits for this call).
  std::function<Result<std::string>(const std::string& authorization_url, std::stop_token stop)> authorize;

  /// Step-up authorizations (403 `insufficient_scope`) allowed per request.
  int max_step_up = 3;
  /// Timeout of each request to the authorization server or metadata endpoints.
  std::chrono::milliseconds http_timeout{10000};
  bool verify_tls = true;  ///< verify certificates of metadata/AS endpoints (https)
  std::string ca_file;     ///< CA bundle (default: system store)
  /// Progress and oddities (discovery, registration, refresh); never carries secrets.
  std::function<void(std::string_view message)> on_diagnostic;
  /// The structured logging hook (<mcp/log.hpp>): each message above is also given to it as a
  /// LogKind::diagnostic event at LogLevel::warning whose server is "oauth" (a provider may
  /// serve several servers). Pass the same hook as ClientConfig::on_log to see it all in one
  /// place. What it throws is dropped. Never carries tokens, codes or client secrets.
  LogHook on_log;
};

/// The OAuth 2.1 client as an `AuthProvider`. Unusable options (the authorization code grant
/// without `authorize` or `redirect_uri`, client credentials without `client_id`, JWT bearer
/// without `assertion`, enterprise-managed authorization without `client_id`,
/// `idp_token_endpoint`, `idp_subject_token` or `idp_client_id`; an unusable
/// `dpop_private_key_pem`) fail the first challenge with `Errc::invalid_config`.
[[nodiscard]] std::shared_ptr<AuthProvider> oauth_provider(OAuthClientOptions options);

}  // namespace mcp
