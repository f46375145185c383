// SPDX-License-Identifier: MIT
#pragma once
/// @file metrics.hpp
/// `mcp::Metrics` (library `mcp-pool`): the timings of the requests clients make
/// (ClientConfig::on_request) and the counters of client pools (ClientPool::stats), in the
/// Prometheus text exposition format 0.0.4, for the application to serve (`GET /metrics`).
///
///     mcp::Metrics metrics;
///     options.factory = [&](const std::string& tenant) -> mcp::Result<mcp::ClientConfig> {
///       mcp::ClientConfig config = ...;          // the tenant's servers and credentials
///       config.on_request = metrics.hook();      // or metrics.hook(your_own_hook)
///       return config;
///     };
///     auto pool = mcp::ClientPool::create(std::move(options));
///     metrics.add_pool("tenants", **pool);        // remove_pool("tenants") before the pool goes
///     app.Get("/metrics", [&](const httplib::Request&, httplib::Response& res) {
///       res.set_content(metrics.text(), std::string(mcp::Metrics::content_type));
///     });
///
/// The families (label values escaped as the format says; invalid UTF-8 becomes U+FFFD):
/// - `mcp_client_request_duration_seconds{server,method,era,outcome}` histogram: every request
///   of every client whose on_request is a hook() of this object, by configured server name,
///   method (`tools/call`: never the tool's name, which a server chooses), era (`modern`,
///   `legacy`, `unknown`) and outcome (`ok`, `error`, `timeout`, `cancelled`). Its `_count` is
///   the request count.
/// - `mcp_client_request_errors_total{server,method,kind}` counter: requests that did not end
///   `ok`, by ErrorKind (`transport`, `protocol`, `timeout`, `cancelled`, `auth`, `config`,
///   `pool`).
/// - `mcp_client_requests_in_flight{server,method}` gauge: started and not yet ended.
/// - per pool added, label `pool`: `mcp_pool_hits_total`, `mcp_pool_misses_total`,
///   `mcp_pool_creations_total`, `mcp_pool_creation_failures_total`,
///   `mcp_pool_evictions_total{reason}` (`lru`, `ttl`, `explicit`, `dead`, `rotated`) counters;
///   `mcp_pool_clients`, `mcp_pool_clients_leased`, `mcp_pool_clients_disposing` gauges.
///
/// The number of series is bounded whatever names clients use: at most
/// MetricsOptions::max_series (server, method) pairs get series of their own, later pairs are
/// counted under `server="_other",method="_other"`. There is no tenant label: a pool of
/// 100,000 tenants would otherwise make 100,000 series per family.
///
/// Thread-safety: every member function may be called from many threads at once. A request
/// event costs a hash lookup without a lock and a few relaxed atomic increments (a lock only
/// the first time a (server, method) pair is seen); text() takes a lock to list the series and
/// pools, reads the counters without stopping the requests, then calls each pool's stats().
/// A hook() keeps what it records alive: it may outlive this object.

#include <mcp/config.hpp>
#include <mcp/error.hpp>
#include <mcp/pool.hpp>

#include <cstddef>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace mcp {

/// How a Metrics object counts.
struct MetricsOptions {
  /// Upper bounds (`le`) of the request duration histogram's buckets, in seconds: finite,
  /// positive, increasing, at least a nanosecond apart, at most 64 of them; `+Inf` is added.
  /// Default: 1 ms to 60 s.
  std::vector<double> buckets{0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60};
  /// (server, method) pairs given series of their own (at least 1); requests of later pairs
  /// are counted under `server="_other",method="_other"`. Each pair holds about
  /// 12 x (buckets + 2) counters (1.6 KiB with the default buckets). Default 1000.
  std::size_t max_series = 1000;
};

/// Request timings and pool counters, exported in the Prometheus text format (see the file's
/// comment). Movable, not copyable; a moved-from object records nothing and exports nothing.
class Metrics {
 public:
  /// The `Content-Type` to serve text() with (the Prometheus text format, version 0.0.4).
  static constexpr std::string_view content_type = "text/plain; version=0.0.4; charset=utf-8";

  /// With the default MetricsOptions (which cannot fail).
  Metrics();
  /// With the given options; Errc::invalid_config when they cannot work (buckets not
  /// increasing, not finite or not positive, too many; max_series 0).
  [[nodiscard]] static Result<Metrics> create(MetricsOptions options);
  Metrics(Metrics&&) noexcept;             ///< takes the other's counters (it then records nothing)
  Metrics& operator=(Metrics&&) noexcept;  ///< takes the other's counters (it then records nothing)
  Metrics(const Metrics&) = delete;
  Metrics& operator=(const Metrics&) = delete;
  ~Metrics();  ///< hooks handed out keep recording into counters nobody exports

  /// A function for ClientConfig::on_request that records each request here, then calls
  /// `next` (when set) with the same event: a hook of the application's own (tracing, logs)
  /// composes with it. Cheap to copy; one per client, or one for them all.
  [[nodiscard]] std::function<void(const RequestEvent&)> hook(std::function<void(const RequestEvent&)> next = {}) const;
  /// Records one event as hook() does (for an application that dispatches events itself).
  void observe(const RequestEvent& event);

  /// Exports `pool`'s stats() under the label `pool="<name>"`, read at each text(). The pool
  /// must outlive its registration: remove_pool(name) before destroying it (or destroy this
  /// object first). A name already added is replaced.
  void add_pool(std::string name, const ClientPool& pool);
  /// Exports what `stats` returns under the label `pool="<name>"` (called at each text(),
  /// outside this object's lock; must be thread-safe; what it throws leaves that pool out of
  /// this scrape). A name already added is replaced.
  void add_pool(std::string name, std::function<PoolStats()> stats);
  /// Stops exporting the pool of that name (no-op when there is none). Returns after any
  /// text() that was reading it has finished with it.
  void remove_pool(std::string_view name);

  /// Every family, in the Prometheus text format 0.0.4 (serve it with `content_type`).
  [[nodiscard]] std::string text() const;
  /// The same, appended to `out` (reuse one buffer across scrapes).
  void write(std::string& out) const;

 private:
  struct Impl;
  explicit Metrics(std::shared_ptr<Impl> impl);
  std::shared_ptr<Impl> impl_;
};

}  // namespace mcp
