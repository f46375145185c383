// SPDX-License-Identifier: MIT
#pragma once
/// @file session.hpp
/// One server, in its era. Detects the era on first use (unless pinned), keeps the verdict,
/// reconnects lazily after the connection dies (a stdio child is restarted).
///
/// Thread-safety: all member functions may be called from many threads at once. Requests
/// from several threads share one connection; replies are matched by id.

#include <mcp/config.hpp>
#include <mcp/error.hpp>
#include <mcp/types.hpp>

#include <nlohmann/json.hpp>

#include <memory>
#include <optional>
#include <stop_token>
#include <string>
#include <string_view>
#include <vector>

namespace mcp {

/// Options for one request.
struct RequestOptions {
  std::optional<Milliseconds> timeout;  ///< overrides the server's / client's default
  std::stop_token stop;                 ///< request cancellation (sends notifications/cancelled)
};

/// Defaults a session inherits from its client.
struct SessionDefaults {
  Implementation client_info{"mcp-cpp", "0.1.0", std::nullopt, nullptr};  ///< our identity
  Milliseconds request_timeout{60000};  ///< per request
  Milliseconds probe_timeout{5000};     ///< era probe
  /// Non-fatal oddities, tagged with the server name. Called from SDK threads.
  std::function<void(std::string_view server, std::string_view message)> on_diagnostic;
};

/// The protocol with one server.
class Session {
 public:
  /// Nothing is opened until the first call that needs the server.
  Session(std::string name, ServerConfig config, SessionDefaults defaults = {});
  ~Session();  ///< disconnects
  Session(const Session&) = delete;
  Session& operator=(const Session&) = delete;

  /// The configured name.
  [[nodiscard]] const std::string& name() const noexcept;
  /// Connect if needed (detecting the era) and return what we know of the server.
  [[nodiscard]] Result<ServerInfo> connect(const RequestOptions& options = {});
  /// The era detected so far (Era::unknown before the first connection).
  [[nodiscard]] Era era() const;
  /// True while a connection is open.
  [[nodiscard]] bool connected() const;
  /// True when the last connection ended by itself (the server died or the stream broke)
  /// rather than through disconnect(); the next request reconnects.
  [[nodiscard]] bool failed() const;

  /// Any request. In the modern era `_meta` gets the protocol fields; the result's
  /// `resultType` is checked. Connects if needed.
  [[nodiscard]] Result<nlohmann::json> request(std::string_view method, nlohmann::json params,
                                               const RequestOptions& options = {});
  /// A notification to the server. Connects if needed.
  [[nodiscard]] Result<void> notify(std::string_view method, nlohmann::json params);

  /// All tools (follows pagination to the end).
  [[nodiscard]] Result<std::vector<ToolDefinition>> list_tools(const RequestOptions& options = {});
  /// Call a tool. A tool that fails is `CallToolResult::is_error`, not an `Error`.
  [[nodiscard]] Result<CallToolResult> call_tool(std::string_view name, nlohmann::json arguments,
                                                 const RequestOptions& options = {});

  /// Close the connection (stdio: close stdin, SIGTERM, SIGKILL the process group).
  /// Idempotent; in-flight requests fail with Errc::disconnected. A later request reconnects.
  void disconnect();

 private:
  struct Impl;
  std::shared_ptr<Impl> impl_;
};

}  // namespace mcp
