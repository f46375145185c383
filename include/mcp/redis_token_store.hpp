// SPDX-License-Identifier: MIT
#pragma once
/// @file redis_token_store.hpp
/// A `TokenStore` in Redis (library `mcp-redis`, built when hiredis is found: meson option
/// `redis`), for several processes or replicas sharing the OAuth credentials of many tenants.
///
/// Layout (every key starts with `key_prefix`; the tenant, issuer and resource are
/// percent-encoded, so no two keys collide whatever they contain):
/// @code{.unparsed}
///   <prefix>tok|<tenant>|<issuer>|<resource>   the entry: JSON (as in the token file)
///   <prefix>new|<tenant>|<resource>            the name of the most recently saved entry
///                                              (for loads with an empty issuer)
///   <prefix>lock|<tenant>|<issuer>|<resource>  the refresh lock: a random owner token
/// @endcode
/// Saves and erases are one Lua script each (atomic: both keys or neither). An entry's Redis
/// TTL follows the token's expiry: without a refresh token, `expires_at` + `expiry_grace`;
/// with a refresh token, `expires_at` + `refresh_token_lifetime` when that is known, else no
/// TTL (a refresh token is never lost by expiring it early); no `expires_at`: no TTL. (The
/// entry also carries the client registration, so an expired entry means registering again.)
///
/// The refresh lock (`lock_refresh`) is a key set, when absent, to a random owner token with a
/// TTL of `refresh_lease` (one Lua script, like SET NX PX), released by a Lua script that
/// deletes the key only if it still holds this owner's token: a crashed holder blocks the
/// others for at most `refresh_lease`, and a holder whose lease ran out never releases someone
/// else's lock. When a lock command or a release fails midway (Redis died or stalled), the
/// store keeps the owner token and its next lock of that key takes the lock over if Redis
/// holds it for that token, rather than waiting out its own lease. Waiters poll every 20 ms
/// until the request's deadline. The lease must exceed the time a refresh may take (the
/// provider's `http_timeout`).
///
/// Connections: a bounded pool of blocking hiredis connections, opened on demand and dropped
/// after any error (the next operation reconnects, so a restarted Redis is used again). Every
/// operation is bounded: waiting for a pooled connection and connecting by `connect_timeout`,
/// each command (AUTH, SELECT, the operation) by `command_timeout`; an unreachable, slow or
/// refusing Redis gives `Errc::connection_failed`, `Errc::timeout`, `Errc::connection_closed`,
/// `Errc::io_error` or `Errc::unauthorized` (AUTH refused), never a hang. Error messages name
/// the address, never a password or token.
///
/// TLS: not available. hiredis 0.14 (Debian 12's libhiredis-dev) has no TLS support (hiredis_ssl
/// came with hiredis 1.0); use a unix socket, a loopback address or a TLS tunnel (stunnel,
/// spiped) to a remote Redis.
///
/// Thread-safety: the store may be used from many threads at once.

#include <mcp/error.hpp>
#include <mcp/oauth.hpp>

#include <chrono>
#include <cstddef>
#include <memory>
#include <optional>
#include <string>

namespace mcp {

/// Where the Redis server is and how to use it.
struct RedisStoreOptions {
  std::string host = "127.0.0.1";  ///< the server's address (ignored when unix_socket is set)
  int port = 6379;                 ///< the server's TCP port
  std::string unix_socket;  ///< non-empty: connect to this socket instead of host:port
  std::string username;     ///< ACL user (Redis 6+: `AUTH username password`); empty: `AUTH password`
  std::string password;     ///< empty: no AUTH
  int database = 0;         ///< SELECT'ed on every new connection when not 0
  std::string key_prefix = "mcp:oauth:";  ///< must not be empty
  std::chrono::milliseconds connect_timeout{1000};  ///< bounds connecting and waiting for a pooled connection
  std::chrono::milliseconds command_timeout{1000};  ///< bounds each command (AUTH, SELECT, the operation)
  std::size_t max_connections = 8;  ///< connections open at once; more operations wait (connect_timeout)
  std::chrono::milliseconds refresh_lease{30000};  ///< how long a refresh lock lasts unless released
  /// How long an entry without a refresh token is kept after its access token expires.
  std::chrono::seconds expiry_grace{60};
  /// The authorization server's refresh token lifetime, when known: entries with a refresh
  /// token are kept until `expires_at` + this. nullopt (default): no TTL on them.
  std::optional<std::chrono::seconds> refresh_token_lifetime;
};

/// The store; unusable options (empty prefix or host, port outside 1..65535, a negative
/// database, zero timeouts, lease or connections) give `Errc::invalid_config`. Does not
/// connect yet: the first operation does.
[[nodiscard]] Result<std::shared_ptr<TokenStore>> redis_token_store(RedisStoreOptions options);

}  // namespace mcp
