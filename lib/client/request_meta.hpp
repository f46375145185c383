// SPDX-License-Identifier: MIT
#pragma once
// What a modern request carries in `_meta` (the client's version, capabilities and identity),
// built once per session and lent to each request rather than copied.
#include <mcp/config.hpp>

#include <nlohmann/json.hpp>

#include <memory>
#include <mutex>
#include <string>

namespace mcp::detail {

/// The client's capabilities and a modern request's `_meta`, for one session. Thread-safe.
class RequestMeta {
 public:
  explicit RequestMeta(const ClientConfig& client) : client_(client) {}  ///< `client` outlives this

  /// Declared only for the handlers that are set.
  nlohmann::json capabilities() const;
  /// A modern request's `_meta` for `version`.
  nlohmann::json build(const std::string& version) const;
  /// build(version), shared: the same for every request of a session.
  std::shared_ptr<const nlohmann::json> shared(const std::string& version);

 private:
  const ClientConfig& client_;
  std::mutex mutex_;
  std::shared_ptr<const nlohmann::json> shared_;  // build(version_), built once
  std::string version_;
};

// A modern request's _meta is the same for every request of a session; building a copy per
// request (three long keys, nested objects) was a measurable share of a call. Each thread
// keeps one copy and lends it to the request it is making: moved into the params, and moved
// back once the request is sent. A nested request on the same thread (from a handler) finds
// the copy out on loan and makes its own.
class MetaLoan {
 public:
  void lend(nlohmann::json& params, const std::shared_ptr<const nlohmann::json>& ours);
  /// Takes our _meta back out of `params` (as sent, less the progress token the engine adds).
  void take_back(nlohmann::json& params);

 private:
  std::shared_ptr<const nlohmann::json> source_;  // set while a tree of ours is lent out
};

}  // namespace mcp::detail
