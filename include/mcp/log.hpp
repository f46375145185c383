// SPDX-License-Identifier: MIT
#pragma once
/// @file log.hpp
/// The structured logging hook shared by the client (ClientConfig::on_log) and the server
/// (ServerOptions::on_log): one event type for what the library reports (its diagnostics, a
/// stdio server's stderr lines, and the client's connection events), for bridging to a
/// logging library (examples/logging_spdlog.cpp bridges to spdlog; libmcp depends on none).
///
/// Thread-safety: a LogEvent is a view, valid only during the call that receives it: copy
/// what must outlive the call (the string views point into the library's buffers).

#include <mcp/types.hpp>

#include <cstdint>
#include <functional>
#include <string_view>

namespace mcp {

/// How much a LogEvent matters, least first.
enum class LogLevel {
  trace,    ///< detail for following the library step by step (not used yet)
  debug,    ///< what helps when something goes wrong (a stdio server's stderr lines)
  info,     ///< a connection event in the ordinary course (connected, era detected, disconnected)
  warning,  ///< a non-fatal oddity (every diagnostic), a fallback, a lost connection
  error,    ///< a failure the library handled but the application should see
};

/// What a LogEvent reports.
enum class LogKind {
  diagnostic,             ///< a non-fatal oddity: what `on_diagnostic` receives too
  server_stderr,          ///< a line a stdio server wrote on its stderr (StderrMode::capture)
  connected,              ///< a connection opened and its handshake done (the first since start or disconnect)
  reconnected,            ///< a connection opened again after the previous one was lost
  era_detected,           ///< the era was found by probing (not pinned, not known from before)
  fell_back_to_sse,       ///< Streamable HTTP refused: the legacy HTTP+SSE transport is used
  session_reinitialized,  ///< a legacy server forgot the session (HTTP 404): `initialize` again
  connection_lost,        ///< the connection ended by itself (the process exited, the stream broke)
  disconnected,           ///< the application disconnected (Client::disconnect, destruction)
};

/// One thing the library reports. Fields that do not apply are empty (or Era::unknown, or
/// request_id 0). Never carries a credential: URLs lose their userinfo and query, stdio servers
/// are named by their command without its arguments or environment, header values are never
/// included, and configured header and environment values are masked (`***`) wherever a
/// message would quote them.
struct LogEvent {
  LogLevel level = LogLevel::info;          ///< how much it matters
  LogKind kind = LogKind::diagnostic;       ///< what it reports
  std::string_view server;                  ///< the configured name (client), the identity's name (server)
  std::string_view message;                 ///< one line for people
  std::string_view method;                  ///< the MCP method concerned, when one is
  std::uint64_t request_id = 0;             ///< the JSON-RPC id concerned, when known (0: none)
  Era era = Era::unknown;                   ///< the server's era, when known
  std::string_view transport;               ///< "stdio", "streamable-http" or "sse" (ServerInfo::transport)
  std::string_view protocol_version;        ///< the revision agreed on, when known
  std::string_view target;                  ///< connection events: `scheme://host[:port]/path` or the command
};

/// The hook: called from any of the library's threads, possibly concurrently (see
/// ClientConfig::on_log and ServerOptions::on_log). Must be quick and thread-safe; what it
/// throws is caught and dropped.
using LogHook = std::function<void(const LogEvent&)>;

/// "trace", "debug", "info", "warning" or "error".
const char* to_string(LogLevel level) noexcept;
/// "diagnostic", "server_stderr", "connected", "reconnected", "era_detected",
/// "fell_back_to_sse", "session_reinitialized", "connection_lost" or "disconnected".
const char* to_string(LogKind kind) noexcept;

}  // namespace mcp
