// SPDX-License-Identifier: MIT
// The session's cache of modern results (ttlMs, cacheScope), keyed by method and params.
#include "result_cache.hpp"

#include "../util/json_get.hpp"

#include <algorithm>

namespace mcp::detail {

using nlohmann::json;

bool ResultCache::cacheable(std::string_view method) {
  return method == "tools/list" || method == "prompts/list" || method == "resources/list" ||
         method == "resources/templates/list" || method == "resources/read";
}

std::string ResultCache::key(std::string_view method, const json& params) {
  json bare = params;
  bare.erase("_meta");
  std::string k(method);
  k += '\n';
  k += bare.dump();
  return k;
}

std::optional<json> ResultCache::get(const std::string& key) {
  std::lock_guard lk(mutex_);
  auto it = entries_.find(key);
  if (it == entries_.end()) return std::nullopt;
  if (Clock::now() < it->second.expires) return it->second.result;
  entries_.erase(it);
  return std::nullopt;
}

void ResultCache::remember(const std::string& key, const json& r, bool per_call_credentials) {
  if (!r.is_object() || !r.contains("ttlMs") || !r["ttlMs"].is_number() || r["ttlMs"].get<double>() <= 0) return;
  const std::string scope = detail::str_or(r, "cacheScope", "private");
  if (scope != "public" && per_call_credentials) return;
  const auto ttl = std::chrono::milliseconds(static_cast<long long>(std::min(r["ttlMs"].get<double>(), 86400000.0)));
  std::lock_guard lk(mutex_);
  if (entries_.size() >= 1024) entries_.erase(entries_.begin());
  entries_[key] = Entry{r, Clock::now() + ttl};
}

void ResultCache::invalidate(const std::string& prefix) {
  std::lock_guard lk(mutex_);
  for (auto it = entries_.lower_bound(prefix);
       it != entries_.end() && it->first.compare(0, prefix.size(), prefix) == 0;)
    it = entries_.erase(it);
}

void ResultCache::clear() {
  std::lock_guard lk(mutex_);
  entries_.clear();
}

}  // namespace mcp::detail
