// SPDX-License-Identifier: MIT
#pragma once
/// @file pool.hpp
/// `mcp::ClientPool` (library `mcp-pool`): one `mcp::Client` per tenant, kept in an LRU with an
/// idle TTL, so each tenant's credentials stay in its own client and connection set-up is paid
/// once per tenant rather than per request.
///
/// Thread-safety: every member function of ClientPool may be called from many threads at once.
/// A ClientLease object is used by one thread at a time; the Client it points to is shared by
/// all leases of its tenant and is itself thread-safe. Leases may outlive the pool.

#include <mcp/client.hpp>
#include <mcp/config.hpp>
#include <mcp/error.hpp>
#include <mcp/http_connections.hpp>

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>

namespace mcp {

/// How a pool builds and keeps clients.
struct PoolOptions {
  /// Builds the configuration of a tenant's client (its servers, headers, environment...).
  /// Called outside the pool's lock, at most once at a time per tenant. Required.
  std::function<Result<ClientConfig>(const std::string& tenant)> factory;
  std::size_t max_clients = 64;         ///< live clients; the least recently used idle one goes first
  Milliseconds idle_ttl{5 * 60 * 1000};  ///< an unleased client idle this long is disconnected (5 min)
  Milliseconds sweep_interval{1000};    ///< how often idle clients are checked (1 s)
  /// Credential rotation: the version of a tenant's credentials (an API key's id or hash, a
  /// token source's generation: any string that changes when they change). Called on every
  /// acquire, outside the pool's lock (keep it cheap); when it differs from the version the
  /// tenant's client was built with, that client is replaced: the acquire builds a new one
  /// (the factory must then return the new credentials), and the old one is disconnected once
  /// its last lease ends (calls in flight on it finish). Change the credentials the factory
  /// reads before the version. Empty (default): no rotation; evict()
  /// also replaces a client. An exception fails the acquire (`Errc::pool_factory_failed`).
  std::function<std::string(const std::string& tenant)> credentials_version;
  /// Keep-alive connections shared by every client of the pool: set to
  /// `HttpConnectionShare::create()` and each HTTP server of the configurations the factory
  /// returns gets it (unless the factory gave it a share of its own), so N tenants of one
  /// modern (stateless) server hold at most the share's max_connections sockets to it instead
  /// of N sets. Each request still carries its own tenant's credentials; legacy sessions stay
  /// per tenant (see HttpConnectionShare). Null (default): every client has its own connections.
  std::shared_ptr<HttpConnectionShare> http_connections;
};

/// Counters since the pool was created, and its current size.
struct PoolStats {
  std::uint64_t hits = 0;               ///< acquire found a live client
  std::uint64_t misses = 0;             ///< acquire had to create one (or wait for its creation)
  std::uint64_t creations = 0;          ///< clients created
  std::uint64_t creation_failures = 0;  ///< factory or Client::create failures
  std::uint64_t evictions_lru = 0;      ///< evicted because the pool was full
  std::uint64_t evictions_ttl = 0;      ///< evicted because idle too long
  std::uint64_t evictions_explicit = 0; ///< evict() and clear()
  std::uint64_t evictions_dead = 0;     ///< dropped because a server connection had died
  std::uint64_t evictions_rotated = 0;  ///< replaced because the tenant's credentials_version changed
  std::size_t live = 0;                 ///< clients in the pool
  std::size_t leased = 0;               ///< of those, with at least one lease
  std::size_t disposing = 0;            ///< evicted clients not yet disconnected (leased, or queued)
};

class ClientPool;

/// A handle on a tenant's client that keeps it in the pool (not evicted, not disconnected)
/// while the lease lives; released when destroyed. Movable. Not exclusive: every lease of one
/// tenant points to the same Client, which serves them all at once (it is thread-safe), so
/// what one holder does to it (disconnect(), say) the others see.
class ClientLease {
 public:
  ClientLease() = default;
  ClientLease(ClientLease&&) noexcept;  ///< takes the other lease (which then holds nothing)
  ClientLease& operator=(ClientLease&&) noexcept;  ///< releases this lease, then takes the other
  ClientLease(const ClientLease&) = delete;
  ClientLease& operator=(const ClientLease&) = delete;
  ~ClientLease();

  /// The client (valid while the lease is).
  [[nodiscard]] Client& client() const noexcept { return *client_; }
  Client* operator->() const noexcept { return client_.get(); }  ///< the client
  Client& operator*() const noexcept { return *client_; }        ///< the client
  /// The tenant this lease is for.
  [[nodiscard]] const std::string& tenant() const noexcept { return tenant_; }
  /// Give the client back now (the destructor does it otherwise). Idempotent.
  void release();

 private:
  friend class ClientPool;
  struct Entry;
  struct State;
  std::shared_ptr<State> state_;
  std::shared_ptr<Entry> entry_;
  std::shared_ptr<Client> client_;
  std::string tenant_;
};

/// Per-tenant LRU of clients with idle TTL.
class ClientPool {
 public:
  /// Fails with Errc::invalid_config when the options cannot work (no factory, max 0).
  [[nodiscard]] static Result<std::unique_ptr<ClientPool>> create(PoolOptions options);
  ~ClientPool();  ///< clear(), and stops the pool's background thread
  ClientPool(const ClientPool&) = delete;
  ClientPool& operator=(const ClientPool&) = delete;

  /// A lease on `tenant`'s client, creating the client on a miss. Concurrent acquires of a
  /// tenant being created wait for that one creation; a failure reaches all of them and is
  /// not cached.
  [[nodiscard]] Result<ClientLease> acquire(const std::string& tenant);
  /// Disconnect `tenant`'s client now (or, if leased, when its last lease ends).
  void evict(const std::string& tenant);
  /// Evict every client. Unleased ones are disconnected before this returns.
  void clear();
  /// Counters and sizes.
  [[nodiscard]] PoolStats stats() const;

 private:
  explicit ClientPool(std::shared_ptr<ClientLease::State> state);
  std::shared_ptr<ClientLease::State> state_;
};

}  // namespace mcp
