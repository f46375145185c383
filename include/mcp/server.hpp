// SPDX-License-Identifier: MIT
#pragma once
// mcp::Server: the server side of MCP (libmcp-server). One server object answers both eras,
// decided per request from what the client sends: the stateless 2026-07-28 revision
// (`server/discover`, per-request `_meta`) and the `initialize`-based revisions up to
// 2025-11-25.
//
//   mcp::Server server({.identity = {.name = "demo", .version = "1.0.0"}});
//   server.add_tool({.name = "echo",
//                    .input_schema = {{"type", "object"},
//                                     {"properties", {{"text", {{"type", "string"}}}}},
//                                     {"required", {"text"}}},
//                    .handler = [](const nlohmann::json& args, mcp::RequestContext&)
//                        -> mcp::Result<mcp::CallToolResult> {
//                      mcp::CallToolResult r;
//                      mcp::ContentBlock b;
//                      b.type = "text";
//                      b.text = args["text"].get<std::string>();
//                      r.content.push_back(std::move(b));
//                      return r;
//                    }});
//   return server.serve_stdio() ? 0 : 1;
//
// Tool handlers run on the server's handler threads (ServerOptions::handler_threads), never on
// the thread that reads the client: a slow tool does not delay another request's answer.
#include <mcp/error.hpp>
#include <mcp/types.hpp>

#include <nlohmann/json.hpp>

#include <cstddef>
#include <functional>
#include <memory>
#include <optional>
#include <stop_token>
#include <string>
#include <string_view>
#include <vector>

namespace mcp {

/// Who the server is: `serverInfo` (legacy) and the `io.modelcontextprotocol/serverInfo` of
/// results (modern), and the `instructions` of `initialize` / `server/discover`.
struct ServerIdentity {
  std::string name{};                         ///< programmatic name (required)
  std::string version{};                      ///< version string (required)
  std::optional<std::string> title{};         ///< display name
  std::optional<std::string> description{};   ///< what the server does
  std::optional<std::string> website_url{};   ///< websiteUrl
  std::optional<std::string> instructions{};  ///< how a model should use the server
};

/// How a server runs.
struct ServerOptions {
  ServerIdentity identity{};
  /// Tool handlers running at once (threads, started when first needed). Requests beyond wait
  /// their turn, in order of arrival.
  std::size_t handler_threads = 4;
  /// Requests waiting for a handler thread; more are answered at once with an internal error
  /// ("server busy") rather than held in unbounded memory.
  std::size_t max_queued_requests = 1024;
  /// One message (a line over stdio) may be this large; longer ones are refused (-32600) and
  /// skipped. Values and nesting are capped as for the client (32 MiB, 128 levels).
  std::size_t max_message_bytes = 32u << 20;
  /// Oddities worth a log line (a client's malformed message, a handler that threw). Default:
  /// none. Never given a client's credentials.
  std::function<void(std::string_view)> on_diagnostic{};
};

/// What a handler knows about the request it serves, and what it can send back while it runs.
/// Valid for the duration of the handler call only.
class RequestContext {
 public:
  /// The era of this request, and its protocol revision ("2026-07-28", "2025-11-25", ...).
  [[nodiscard]] Era era() const;
  [[nodiscard]] const std::string& protocol_version() const;
  /// clientInfo (from `initialize`, or the request's `_meta`), and the client's capabilities.
  [[nodiscard]] const Implementation& client_info() const;
  [[nodiscard]] const nlohmann::json& client_capabilities() const;
  /// The request's `_meta` (progress token, trace context, ...), or an empty object.
  [[nodiscard]] const nlohmann::json& meta() const;
  /// Fires when the client cancels the request (`notifications/cancelled`) or goes away.
  [[nodiscard]] std::stop_token stop_token() const;
  [[nodiscard]] bool cancelled() const { return stop_token().stop_requested(); }

  /// Sends `notifications/progress` for this request, if the client asked for progress (a
  /// progressToken in `_meta`); otherwise does nothing. `progress` should increase.
  Result<void> progress(double progress, std::optional<double> total = std::nullopt, std::string message = {});
  /// Sends `notifications/message` at `level` ("debug" ... "emergency") unless the client asked
  /// for less (legacy `logging/setLevel`, modern `_meta` logLevel).
  Result<void> log(std::string_view level, nlohmann::json data, std::string logger = {});

  struct Impl;
  explicit RequestContext(Impl& impl) : impl_(impl) {}

 private:
  Impl& impl_;
};

/// Runs a tool: the arguments (already checked against the input schema) and the context.
/// An Error becomes a JSON-RPC error (its `rpc_code`, else internal error); a thrown exception
/// becomes an `isError` result saying what was thrown.
using ToolHandler = std::function<Result<CallToolResult>(const nlohmann::json& arguments, RequestContext& context)>;

/// A tool the server offers.
struct ServerTool {
  std::string name{};                         ///< unique within the server
  std::optional<std::string> title{};         ///< display name
  std::optional<std::string> description{};   ///< what it does (for the model)
  nlohmann::json input_schema = nlohmann::json{{"type", "object"}};  ///< JSON Schema (2020-12 unless $schema says)
  std::optional<nlohmann::json> output_schema{};  ///< structuredContent must match it, when set
  nlohmann::json annotations{};             ///< ToolAnnotations (readOnlyHint, ...), or null
  ToolHandler handler{};                    ///< required
};

class HttpHost;  // <mcp/server_http.hpp>

/// An MCP server: its tools, and the hosts that serve them.
class Server {
 public:
  explicit Server(ServerOptions options);
  ~Server();
  Server(const Server&) = delete;
  Server& operator=(const Server&) = delete;

  /// Adds a tool. Fails with Errc::invalid_argument for an empty or taken name, no handler, or
  /// a schema that does not compile (the message says why).
  Result<void> add_tool(ServerTool tool);

  /// Who the server is.
  [[nodiscard]] const ServerIdentity& info() const;
  /// The tools as `tools/list` gives them, in the order they were added.
  [[nodiscard]] std::vector<ToolDefinition> tool_infos() const;
  [[nodiscard]] std::optional<ToolDefinition> tool_info(std::string_view name) const;

  /// Runs a tool directly, with no client and no transport (arguments checked as for
  /// `tools/call`; the context has Era::unknown, no client, a stop token that never fires).
  /// Errc::tool_not_found for an unknown tool, Errc::invalid_argument for arguments the input
  /// schema refuses.
  Result<CallToolResult> execute_tool(std::string_view name, const nlohmann::json& arguments);

  /// Serves one client over stdin and stdout (newline-delimited JSON-RPC) until stdin ends,
  /// then cancels what still runs and returns once every handler has returned. Nothing but
  /// protocol messages is written to stdout.
  Result<void> serve_stdio();
  /// The same over two descriptors of the caller's (not closed here).
  Result<void> serve_stdio(int in_fd, int out_fd);

  struct Impl;

 private:
  friend class HttpHost;  // serves impl_ over HTTP (server/http_host.cpp)
  std::shared_ptr<Impl> impl_;
};

}  // namespace mcp
