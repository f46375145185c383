// SPDX-License-Identifier: MIT
#pragma once
// Modern results cached per their ttlMs and cacheScope (2026-07-28), one cache per session, so
// never shared across clients and therefore across tenants.
#include <nlohmann/json.hpp>

#include <chrono>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>

namespace mcp::detail {

/// Thread-safe.
class ResultCache {
 public:
  /// Whether `method`'s results may be cached at all.
  static bool cacheable(std::string_view method);
  /// The key of a request: method + params without `_meta` (`params` must be an object).
  static std::string key(std::string_view method, const nlohmann::json& params);

  /// The result cached under `key`, if one is still fresh.
  std::optional<nlohmann::json> get(const std::string& key);
  /// Keep `r` under `key` per its ttlMs / cacheScope. With credentials that can change per
  /// call (`per_call_credentials`) only public results are kept: they must not see each
  /// other's private results.
  void remember(const std::string& key, const nlohmann::json& r, bool per_call_credentials);
  /// Drop every entry whose key starts with `prefix`.
  void invalidate(const std::string& prefix);
  void clear();

 private:
  using Clock = std::chrono::steady_clock;
  struct Entry {
    nlohmann::json result;
    Clock::time_point expires;
  };
  std::mutex mutex_;
  std::map<std::string, Entry> entries_;
};

}  // namespace mcp::detail
