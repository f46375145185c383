// SPDX-License-Identifier: MIT
#pragma once
/// @file error.hpp
/// Typed errors. No exception crosses the public API: every fallible call returns
/// `mcp::Result<T>` (a `tl::expected<T, mcp::Error>`).
///
/// Thread-safety: plain value types; safe to copy between threads.

#include <nlohmann/json.hpp>
#include <tl/expected.hpp>

#include <optional>
#include <string>
#include <system_error>

namespace mcp {

/// Specific error codes. Each belongs to one `ErrorKind` (see `kind_of`).
enum class Errc {
  // transport
  spawn_failed = 1,      ///< the server process could not be started (missing executable, bad cwd)
  process_exited,        ///< the server process exited (or closed stdout) while we needed it
  connection_failed,     ///< could not connect to a remote server
  connection_closed,     ///< the connection closed while a request was in flight
  io_error,              ///< read/write failure on the underlying channel
  message_too_large,     ///< a message exceeded the configured maximum size
  http_error,            ///< an HTTP status that is neither success nor a JSON-RPC answer (data.status)
  session_expired,       ///< the server no longer knows our (legacy) session (HTTP 404)
  stream_broken,         ///< a response stream ended before the response arrived
  // protocol
  invalid_message = 100, ///< the peer sent something that is not valid JSON-RPC / MCP
  rpc_error,             ///< the server answered with a JSON-RPC error (code/data kept)
  unsupported_version,   ///< no protocol version in common with the server
  invalid_result,        ///< a result with an unknown resultType or a malformed shape
  input_required,        ///< the server needs client input and no handler can provide it
  tool_not_found,        ///< no such tool: for an application's own lookups (the library reports
                         ///< an unknown server as unknown_server, a server's refusal as rpc_error)
  // the Skills extension (mcp/skills.hpp): content that fails verification is never returned
  extension_not_supported = 150,  ///< the server does not declare the extension (or the setting) the call needs
  digest_mismatch,        ///< a skill file's content does not match its entry's SHA-256 digest
  size_mismatch,          ///< a skill file's length differs from its entry's size
  invalid_frontmatter,    ///< a SKILL.md without a readable YAML frontmatter holding name and description
  frontmatter_mismatch,   ///< a SKILL.md whose frontmatter differs from its entry's
  file_not_listed,        ///< a read of a file the skill's entry does not list
  limit_exceeded,         ///< a skill beyond the per-skill limits (512 files, 16 MiB)
  // timeout / cancelled
  timeout = 200,         ///< no reply within the configured time
  cancelled,             ///< cancelled through a std::stop_token
  disconnected,          ///< the client was disconnected while the call was in flight
  call_denied,           ///< the tool-call approval callback said no
  // auth
  unauthorized = 300,    ///< 401 / 403 from a remote server, or no credentials to send (an
                         ///< auth provider or header_provider failed or threw)
  // config
  invalid_config = 400,  ///< the configuration cannot work (empty command, bad URL, ...)
  duplicate_client,      ///< a second live client with an identical configuration and no id
  // 402 was unsupported_transport, never produced: every build has stdio and HTTP(S).
  invalid_argument = 403,  ///< a call's arguments cannot work (tool arguments not an object, ...);
                           ///< also any call on a moved-from Client
  unknown_server,          ///< no server of that name is configured
  // pool
  pool_closed = 500,     ///< the pool was closed
  pool_factory_failed,   ///< the pool's factory could not build a configuration
};

/// Broad classes of errors, usable as `std::error_condition`s:
/// `if (err.code() == mcp::ErrorKind::timeout) ...`
enum class ErrorKind { transport = 1, protocol, timeout, cancelled, auth, config, pool };

/// The category of `Errc` codes.
const std::error_category& error_category() noexcept;
/// The category of `ErrorKind` conditions.
const std::error_category& error_kind_category() noexcept;

/// `std::error_code` for an `Errc`.
std::error_code make_error_code(Errc e) noexcept;
/// `std::error_condition` for an `ErrorKind`.
std::error_condition make_error_condition(ErrorKind k) noexcept;
/// The kind an `Errc` belongs to.
ErrorKind kind_of(Errc e) noexcept;

/// An error: a code, a human-readable message, and for JSON-RPC errors the
/// remote code and `data`.
struct Error {
  std::error_code code;             ///< an `Errc` in `mcp::error_category()`
  std::string message;              ///< human-readable, already says what to do where it can
  std::optional<int> rpc_code;      ///< JSON-RPC error code when the server sent an error
  nlohmann::json data;              ///< JSON-RPC `data` (or null)
  std::string server;               ///< the configured server name, when known
  std::string stderr_tail;          ///< last stderr lines of a stdio server that died
  /// The HTTP status when an HTTP exchange failed with one (http_error, session_expired,
  /// unauthorized from a 401/403); `data["status"]` says the same.
  std::optional<int> http_status;

  /// Build an error.
  static Error make(Errc e, std::string message);
  /// The `Errc` of this error (or 0 if the code is from another category).
  [[nodiscard]] Errc errc() const noexcept;
  /// The broad kind of this error.
  [[nodiscard]] ErrorKind kind() const noexcept;
  /// One line: "[server] message (rpc code N)" plus the stderr tail if any.
  [[nodiscard]] std::string what() const;
};

/// The result of a fallible operation.
template <class T>
using Result = tl::expected<T, Error>;

/// Shorthand for returning an error.
inline tl::unexpected<Error> fail(Errc e, std::string message) {
  return tl::unexpected<Error>(Error::make(e, std::move(message)));
}
/// Shorthand for returning an existing error.
inline tl::unexpected<Error> fail(Error e) { return tl::unexpected<Error>(std::move(e)); }

}  // namespace mcp

namespace std {
template <>
struct is_error_code_enum<mcp::Errc> : true_type {};
template <>
struct is_error_condition_enum<mcp::ErrorKind> : true_type {};
}  // namespace std
