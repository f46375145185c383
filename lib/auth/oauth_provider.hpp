// SPDX-License-Identifier: MIT
#pragma once
// The AuthProvider of <mcp/oauth.hpp>, private to lib/auth. Its members are defined by job:
// oauth_client.cpp (credentials on requests, challenges, per-server state, the DPoP key),
// oauth_discovery.cpp (metadata discovery), oauth_registration.cpp (client identity) and
// oauth_grants.cpp (authorization grants and token requests).
#include "oauth_http.hpp"

#include <mcp/oauth.hpp>

#include <condition_variable>
#include <map>
#include <mutex>
#include <optional>
#include <stop_token>

namespace mcp::detail::oauth_client {

constexpr std::size_t kMaxNonce = 1024;  // longer DPoP-Nonce values are ignored
constexpr const char* kJwtBearerGrant = "urn:ietf:params:oauth:grant-type:jwt-bearer";

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

inline bool is_dpop(const StoredAuth& a) { return a.token_type == "DPoP"; }

// What goes on a request: the Authorization value and, for a DPoP-bound token, what its proof
// binds.
struct Credentials {
  std::string header;  // "" : none
  std::string token;
  bool dpop = false;
  std::string nonce;
};

class OAuthProvider final : public AuthProvider {
 public:
  explicit OAuthProvider(OAuthClientOptions o);
  Result<std::string> authorization(const std::string& server_url, Clock::time_point deadline) override;

  // Authorization plus, for a DPoP-bound token, a fresh proof for this method and URL.
  Result<AuthHeaders> request_headers(const AuthRequestInfo& request, Clock::time_point deadline) override;
  Result<bool> on_challenge(const AuthChallengeInfo& info, Clock::time_point deadline) override;

 private:
  // ---- oauth_client.cpp: credentials, per-server state, DPoP

  Result<Credentials> credentials(const std::string& server_url, Clock::time_point deadline);

  // The provider's DPoP key: the configured one, else generated on first use.
  Result<oauth::DpopKey> dpop_key() const;

  // Whether token requests to this authorization server carry DPoP proofs.
  bool wants_dpop(const Discovery& d) const;

  // A stored DPoP-bound token is only usable with the key it is bound to.
  bool usable(const StoredAuth& a) const;
  std::string as_nonce(const std::string& token_endpoint) const;
  std::shared_ptr<ServerState> state(const std::string& url);
  void diag(const std::string& msg) const;
  TokenKey key_for(const ServerState& st, const std::string& issuer) const { return {o_.tenant, issuer, st.canonical}; }

  // Stores new credentials (memory and store). Called with st.m held.
  void commit(ServerState& st, const StoredAuth& a);

  // A refresh of `cur` under the store's refresh lock (TokenStore::lock_refresh): the entry is
  // reloaded first, and when another provider (thread, process, replica) has refreshed it
  // meanwhile its tokens are taken instead of presenting a refresh token it may have used up;
  // otherwise the latest stored refresh token is presented and the result saved before the
  // lock is released (so the caller does not save it again). `store_failed`: the error is the
  // store's (lock, load), not the authorization server's.
  Result<StoredAuth> refresh_shared(const ServerState& st, const StoredAuth& cur, const Discovery& d,
                                    Clock::time_point deadline, bool& store_failed) const;
  Result<void> check_options() const;
  Result<bool> handle(ServerState& st, const AuthChallengeInfo& info, Clock::time_point deadline);
  static bool contains_view(const std::vector<std::string_view>& v, std::string_view s);

  // ---- oauth_discovery.cpp

  // The first candidate URL that answers 200 with a JSON object; nullopt when none does.
  Result<std::optional<std::pair<std::string, json>>> first_json(const std::vector<std::string>& urls,
                                                                  Clock::time_point deadline,
                                                                  const std::vector<oauth::HostClass>& reach) const;

  // AS metadata for `issuer` (RFC 8414 3.3: its `issuer` must be the one asked for). `strict`
  // is off only for the 2025-03-26 fallback, where the "issuer" is just the MCP server's origin
  // (the authorization base URL), not an identifier a third party told us.
  Result<std::optional<json>> as_metadata(const std::string& issuer, Clock::time_point deadline,
                                          const std::vector<oauth::HostClass>& reach, bool strict = true) const;

  // Is the PRM `resource` the server (or a prefix of it, for metadata found at the root)?
  static bool resource_matches(const std::string& prm_resource, const std::string& canonical);
  static std::vector<oauth::HostClass> reach_of(const std::string& server_url);

  Result<Discovery> discover(const std::string& server_url, const std::string& canonical,
                             const std::optional<std::string>& header_prm, Clock::time_point deadline) const;

  // ---- oauth_registration.cpp: client identity

  std::string auth_method(bool has_secret, const std::string& registered, const Discovery& d) const;
  Result<Client> client_for(const Discovery& d, const std::optional<StoredAuth>& cur, Clock::time_point deadline) const;
  Result<Client> register_client(const Discovery& d, Clock::time_point deadline) const;

  // ---- oauth_grants.cpp

  Result<StoredAuth> authorization_code(const Discovery& d, const Client& c, const std::optional<std::string>& scope,
                                        Clock::time_point deadline, const std::stop_token& stop) const;

  // The grants without a user: client credentials, and the RFC 7523 JWT bearer grant (with
  // the workload's JWT, or with an ID-JAG from the enterprise IdP).
  Result<StoredAuth> assertion_grant(const Discovery& d, const Client& c, const std::optional<std::string>& scope,
                                     Clock::time_point deadline) const;

  // SEP-990: exchanges the user's identity assertion at the enterprise IdP (RFC 8693) for an
  // Identity Assertion JWT Authorization Grant for the MCP server's authorization server.
  Result<std::string> id_jag(const Discovery& d, const std::optional<std::string>& scope,
                             Clock::time_point deadline) const;
  Result<StoredAuth> refresh(const StoredAuth& cur, const Discovery& d, Clock::time_point deadline) const;

  // Adds the client's authentication (`c.method`) to a token request; `audience` is the `aud`
  // of a private_key_jwt assertion.
  Result<void> authenticate(const Client& c, const std::string& audience, Params& p, Headers& h) const;

  // POSTs a token request with the client's authentication (and with `dpop`, a DPoP proof; an
  // AS asking for a nonce gets the request once more with it); the new credentials.
  Result<StoredAuth> token_request(const Discovery& d, const Client& c, const Params& params,
                                   const std::optional<std::string>& scope, const std::string& old_refresh, bool dpop,
                                   Clock::time_point deadline) const;

  OAuthClientOptions o_;
  Http http_;
  mutable std::mutex dpop_m_;  // the DPoP key and the authorization servers' nonces
  mutable std::optional<oauth::DpopKey> dpop_key_;
  mutable std::map<std::string, std::string> as_nonces_;  // token endpoint -> DPoP-Nonce
  std::mutex m_;
  std::map<std::string, std::shared_ptr<ServerState>> servers_;
};

}  // namespace mcp::detail::oauth_client
