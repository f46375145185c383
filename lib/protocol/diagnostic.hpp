// SPDX-License-Identifier: MIT
#pragma once
// A diagnostic (a non-fatal oddity) as the library's layers pass it upwards: its text and, when
// it concerns one request, that request's JSON-RPC id and method, for LogEvent::request_id and
// LogEvent::method (<mcp/log.hpp>). on_diagnostic gets the text alone, as it always did.
#include <nlohmann/json_fwd.hpp>

#include <cstdint>
#include <functional>
#include <string_view>

namespace mcp::detail {

/// What a diagnostic is about, when it is about one request.
struct DiagnosticAbout {
  std::uint64_t request_id = 0;  ///< its JSON-RPC id, when that is a positive integer (0: none, or not one)
  std::string_view method;       ///< its method, when known
};

/// Where a layer sends its diagnostics.
using DiagnosticSink = std::function<void(std::string_view what, const DiagnosticAbout& about)>;

/// `id` as LogEvent::request_id: itself when a positive integer, else 0 (a string id, null, 0).
[[nodiscard]] std::uint64_t log_request_id(const nlohmann::json& id) noexcept;
[[nodiscard]] inline std::uint64_t log_request_id(std::int64_t id) noexcept {
  return id > 0 ? static_cast<std::uint64_t>(id) : 0;
}

}  // namespace mcp::detail
