// SPDX-License-Identifier: MIT
#pragma once
/// @file http_connections.hpp
/// `mcp::HttpConnectionShare`: keep-alive HTTP connections shared by many clients (a pool's
/// tenants), for the stateless exchanges of modern (2026-07-28) servers.
///
/// Thread-safety: a share is used by every client given it, from their threads at once; its
/// member functions may be called from any thread.

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>

namespace mcp {

namespace detail {
struct ShareAccess;
}

/// How a share keeps its connections. Plain values; a zero cap counts as 1.
struct HttpConnectionShareOptions {
  /// Connections open at once to one origin (scheme, host, port and connection settings),
  /// across every client of the share; requests beyond wait their turn, first come first
  /// served, within their own timeout, holding no thread (as HttpServerConfig::max_connections
  /// does for one client). Default 64.
  std::size_t max_connections = 64;
  /// Connections being opened at once to one origin (HttpServerConfig::max_connecting). Default 4.
  std::size_t max_connecting = 4;
  /// A kept-alive connection unused this long is closed (30 s).
  std::chrono::milliseconds idle_timeout{30000};
};

/// What a share holds now, over all its origins, and what it did since it was made.
struct HttpConnectionShareStats {
  std::size_t origins = 0;         ///< distinct connection keys (origin and connection settings) in use
  std::size_t in_use = 0;          ///< exchanges running now, each holding one connection (or opening it)
  std::size_t idle = 0;            ///< kept-alive connections waiting for the next exchange
  std::size_t waiting = 0;         ///< requests in line for a connection
  std::uint64_t opened = 0;        ///< connections opened since the share was made
  std::uint64_t closed_idle = 0;   ///< connections closed after `idle_timeout` unused
};

/// Keep-alive HTTP connections shared by every client given this share
/// (HttpServerConfig::connection_share, or PoolOptions::http_connections for every client of a
/// pool): 10,000 tenants' clients of one stateless server hold at most `max_connections`
/// sockets to it, not one set per client.
///
/// What is shared: only the requests of a modern (2026-07-28) server, which keeps no session.
/// A legacy server's session (its Mcp-Session-Id, its GET stream, the DELETE that ends it), the
/// legacy HTTP+SSE transport, `subscriptions/listen` (a stream open as long as the client
/// listens) and notifications keep to the client's own connections. A request whose response
/// is an SSE stream holds its shared connection until that response ends, at the latest at the
/// request's timeout (a stream that outlives its response would starve the other tenants).
///
/// What is never shared: state. A connection carries no credentials: each request sends its
/// own client's headers, `header_provider` result and auth provider's `Authorization`, built
/// for that request alone. Connections are kept per connection key: scheme, host and port,
/// and for https the TLS settings (`verify_tls`, `ca_file`, `ca_dir`): clients whose
/// connections would differ never share one. Each client keeps its own result caches.
///
/// Lifetime: held by shared_ptr by every client configured with it (and the pool); a client's
/// disconnect() or destruction closes nothing of the others'. One thread per share (started with
/// the first connection) closes idle connections after `idle_timeout`; destroying the share
/// closes all it holds.
class HttpConnectionShare {
 public:
  /// A new share, empty: connections are opened as its clients need them.
  [[nodiscard]] static std::shared_ptr<HttpConnectionShare> create(HttpConnectionShareOptions options = {});
  ~HttpConnectionShare();  ///< closes every connection it holds, stops its thread
  HttpConnectionShare(const HttpConnectionShare&) = delete;
  HttpConnectionShare& operator=(const HttpConnectionShare&) = delete;

  /// What it holds now (see HttpConnectionShareStats).
  [[nodiscard]] HttpConnectionShareStats stats() const;
  /// The options it was made with (caps of 0 raised to 1).
  [[nodiscard]] const HttpConnectionShareOptions& options() const noexcept;


 private:
  struct Impl;
  explicit HttpConnectionShare(HttpConnectionShareOptions options);
  friend struct detail::ShareAccess;
  std::unique_ptr<Impl> impl_;
};

}  // namespace mcp
