// SPDX-License-Identifier: MIT
#pragma once
// What a modern request carries in `_meta` (the client's version, capabilities and identity),
// built and serialised once per session and lent to each request rather than copied.
#include <mcp/config.hpp>

#include <nlohmann/json.hpp>

#include <memory>
#include <mutex>
#include <string>
#include <string_view>

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
  /// shared(version) as append_json writes it: what a request splices in (MetaLoan::lend_text).
  std::shared_ptr<const std::string> shared_text(const std::string& version);

 private:
  struct Built {
    nlohmann::json tree;
    std::string text;  // append_json(tree)
  };
  std::shared_ptr<const Built> current(const std::string& version);

  const ClientConfig& client_;
  std::mutex mutex_;
  // Made again only when the version changes: what else it carries (capabilities, identity,
  // log level) is the session's ClientConfig, which does not change.
  std::shared_ptr<const Built> built_;
  std::string version_;
};

/// The protocol version a request's `_meta` names (a tree, or the text lent by
/// MetaLoan::lend_text); empty if it names none.
std::string_view meta_protocol_version(const nlohmann::json& meta);

// A modern request's _meta is the same for every request of a session; building a copy per
// request (three long keys, nested objects) was a measurable share of a call, and so was
// serialising it. Each thread keeps one copy and lends it to the request it is making: moved
// into the params, and moved back once the request is sent. A nested request on the same
// thread (from a handler) finds the copy out on loan and makes its own.
class MetaLoan {
 public:
  /// Lends the tree (for a request whose _meta may change on the way: a progress token).
  void lend(nlohmann::json& params, const std::shared_ptr<const nlohmann::json>& ours);
  /// Lends the text, as a raw_json value (json_write.hpp) that the transport's writer splices
  /// in: the same bytes on the wire as the tree, without writing it out again per request.
  void lend_text(nlohmann::json& params, const std::shared_ptr<const std::string>& ours);
  /// Takes our _meta back out of `params` (as sent, less the progress token the engine adds).
  void take_back(nlohmann::json& params);

 private:
  std::shared_ptr<const void> source_;  // set while a copy of ours is lent out
};

}  // namespace mcp::detail
