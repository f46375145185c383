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

#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <stop_token>
#include <string>
#include <string_view>
#include <vector>

namespace mcp {

namespace detail {
struct SessionAccess;
}  // namespace detail

/// Options for one request.
struct RequestOptions {
  std::optional<Milliseconds> timeout;  ///< overrides the server's / client's default
  std::stop_token stop;                 ///< request cancellation (sends notifications/cancelled)
  /// Progress notifications for this request (a progressToken is sent). Called on the
  /// calling thread while it waits for the reply, in order, never after the call returned.
  /// An exception it throws ends the call: it propagates out of the call (the one exception
  /// that does), and the server is told the request is cancelled.
  std::function<void(const Progress&)> on_progress;
  /// Restart the timeout at each progress notification...
  bool reset_timeout_on_progress = false;
  /// ...but never beyond this total (default: 10 x the timeout).
  std::optional<Milliseconds> max_total_time;
  /// Skip the session's result cache (modern servers' `ttlMs`) for this request.
  bool no_cache = false;
};

/// The protocol with one server.
class Session {
 public:
  /// Nothing is opened until the first call that needs the server. From `client` the session
  /// takes what a client's sessions share: `client_info`, `request_timeout`, `probe_timeout`,
  /// `on_diagnostic`, `handlers`, `log_level` and `max_input_rounds` (its `id` and `servers`
  /// are not used). `config` is not validated here (a constructor cannot fail): a configuration
  /// that cannot work fails the first call; `Client::create()` refuses it up front.
  Session(std::string name, ServerConfig config, ClientConfig client = {});
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

  /// All resources (follows pagination).
  [[nodiscard]] Result<std::vector<Resource>> list_resources(const RequestOptions& options = {});
  /// All resource templates (follows pagination).
  [[nodiscard]] Result<std::vector<ResourceTemplate>> list_resource_templates(const RequestOptions& options = {});
  /// Read a resource (text and base64 blobs).
  [[nodiscard]] Result<ReadResourceResult> read_resource(const std::string& uri, const RequestOptions& options = {});
  /// All prompts (follows pagination).
  [[nodiscard]] Result<std::vector<Prompt>> list_prompts(const RequestOptions& options = {});
  /// Render a prompt with string arguments.
  [[nodiscard]] Result<GetPromptResult> get_prompt(const std::string& name,
                                                   const std::map<std::string, std::string>& arguments = {},
                                                   const RequestOptions& options = {});
  /// `completion/complete`: `ref` is {"type":"ref/prompt","name":..} or {"type":"ref/resource","uri":..};
  /// returns the `completion` object ({values, total, hasMore}).
  [[nodiscard]] Result<nlohmann::json> complete(const nlohmann::json& ref, const std::string& argument,
                                                const std::string& value,
                                                const nlohmann::json& context = nlohmann::json(),
                                                const RequestOptions& options = {});
  /// Liveness check: `ping` (legacy) or `server/discover` (modern, which has no ping).
  [[nodiscard]] Result<void> ping(const RequestOptions& options = {});
  /// Legacy: subscribe to updates of one resource (`resources/subscribe`); updates arrive
  /// through ClientHandlers::on_change.
  [[nodiscard]] Result<void> subscribe_resource(const std::string& uri, const RequestOptions& options = {});
  /// Legacy: `resources/unsubscribe`.
  [[nodiscard]] Result<void> unsubscribe_resource(const std::string& uri, const RequestOptions& options = {});

  /// Close the connection (stdio: close stdin, SIGTERM, SIGKILL the process group).
  /// Idempotent; in-flight requests fail with Errc::disconnected. A later request reconnects.
  void disconnect();

 private:
  friend struct detail::SessionAccess;  // the Client's listings over several sessions
  struct Impl;
  std::shared_ptr<Impl> impl_;
};

}  // namespace mcp
