// SPDX-License-Identifier: MIT
#pragma once
// JSON-RPC 2.0 error codes by name, and the one way to build an Error that carries one.
// Shared by both sides of the protocol: nothing client-only belongs here.
#include <mcp/error.hpp>

#include <string>

namespace mcp::jsonrpc {

// JSON-RPC 2.0, section 5.1.
inline constexpr int parse_error = -32700;       // the text was not JSON
inline constexpr int invalid_request = -32600;   // JSON, but not a Request object
inline constexpr int method_not_found = -32601;  // no such method (or not available)
inline constexpr int invalid_params = -32602;    // the method exists; its params do not fit
inline constexpr int internal_error = -32603;    // the answering side failed

// MCP 2026-07-28, basic "Error Codes" (-32020..-32099 is reserved for the specification).
inline constexpr int header_mismatch = -32020;                     // Mcp-* headers differ from the body
inline constexpr int missing_required_client_capability = -32021;  // data.requiredCapabilities
inline constexpr int unsupported_protocol_version = -32022;        // data.supported, data.requested

/// An error that carries JSON-RPC code `code`: what a handler's failure is answered with
/// (`Errc::rpc_error` for a server's reply, another `Errc` where the client's own side failed).
inline Error error(Errc c, int code, std::string message) {
  Error e = Error::make(c, std::move(message));
  e.rpc_code = code;
  return e;
}

/// The `error` object of a reply to `method`, as an Error: Errc::rpc_error, the code and `data`
/// kept, the message prefixed with the method.
Error error_from(const nlohmann::json& error_object, const std::string& method);

}  // namespace mcp::jsonrpc
