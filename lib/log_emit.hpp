// SPDX-License-Identifier: MIT
#pragma once
// Handing LogEvents to the user's hook (<mcp/log.hpp>): the one place that calls it, so that
// what it throws never leaves, and the masking of credentials in the text an event quotes.
#include <mcp/log.hpp>

#include "protocol/diagnostic.hpp"

#include <functional>
#include <string>
#include <string_view>
#include <vector>

namespace mcp::detail {

/// Calls `hook` (if set) with `event`; what it throws is dropped.
void emit_log(const LogHook& hook, const LogEvent& event) noexcept;

/// `text` with every occurrence of each of `secrets` replaced by `***` (empty secrets skipped).
[[nodiscard]] std::string mask_secrets(std::string_view text, const std::vector<std::string>& secrets);

/// A diagnostic callback that calls `diagnostic` (if set) and gives `log` the same text as a
/// LogKind::diagnostic event of `server` at LogLevel::warning. When `log` is empty, returns
/// `diagnostic` itself: an unset hook costs nothing.
[[nodiscard]] std::function<void(std::string_view)> diagnostics_also_to(std::function<void(std::string_view)> diagnostic,
                                                                        LogHook log, std::string server);

/// The same for a layer that says which request a diagnostic is about: `diagnostic` gets the
/// text, `log` the event with its request_id and method. Empty when both are.
[[nodiscard]] DiagnosticSink diagnostic_sink(std::function<void(std::string_view)> diagnostic, LogHook log,
                                             std::string server);

}  // namespace mcp::detail
