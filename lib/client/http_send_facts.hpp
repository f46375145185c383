// SPDX-License-Identifier: MIT
#pragma once
// The session's side of HTTP: what each MCP message means to the HTTP transport (its Mcp-Method,
// Mcp-Name and MCP-Protocol-Version headers, the session facts of SendOptions), so that the
// transport itself reads no MCP; and the header value encoding every Mcp-* header uses.
#include "transport.hpp"

#include <nlohmann/json.hpp>

#include <memory>
#include <string>

namespace mcp::detail {

/// Header value per 2026-07-28 "Value Encoding": plain when it is visible ASCII without
/// leading/trailing whitespace and not sentinel-shaped, else `=?base64?...?=`.
std::string encode_header_value(const std::string& value);

/// `given` (the caller's options: Mcp-Param-* headers, the caller's thread) with what `message`
/// tells an HTTP transport: the Mcp-Method and Mcp-Name headers, MCP-Protocol-Version from the
/// request's `_meta`, and the facts opens_session (initialize), session_ready
/// (notifications/initialized), cancels and uncounted (notifications/cancelled).
SendOptions http_send_options(const nlohmann::json& message, const SendOptions& given);
/// The same, into `out` (not `given`), reusing its strings' capacity.
void http_send_options(const nlohmann::json& message, const SendOptions& given, SendOptions& out);

/// `http` with http_send_options applied to every message sent through it, those the JSON-RPC
/// engine builds by itself (cancellations, answers) included. Only HTTP pays for it.
std::shared_ptr<Transport> with_http_send_options(std::shared_ptr<Transport> http);

}  // namespace mcp::detail
