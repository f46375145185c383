// SPDX-License-Identifier: MIT
#pragma once
// The server's insides, shared by its hosts (stdio_host.cpp; HTTP later): the registry, the
// protocol (dispatch.cpp: both eras, decided per request) and the handler threads.
#include <mcp/server.hpp>

#include "../lib/protocol/schema_validator.hpp"

#include <nlohmann/json.hpp>

#include <condition_variable>
#include <deque>
#include <map>
#include <memory>
#include <mutex>
#include <stop_token>
#include <string>
#include <thread>
#include <vector>

namespace mcp::server_detail {

using json = nlohmann::json;

// The revisions we answer: per request (modern), and through `initialize` (legacy, newest first).
inline const std::vector<std::string> kModernVersions{"2026-07-28"};
inline const std::vector<std::string> kLegacyVersions{"2025-11-25", "2025-06-18", "2025-03-26", "2024-11-05"};

inline constexpr const char* kMetaVersion = "io.modelcontextprotocol/protocolVersion";
inline constexpr const char* kMetaClientInfo = "io.modelcontextprotocol/clientInfo";
inline constexpr const char* kMetaClientCaps = "io.modelcontextprotocol/clientCapabilities";
inline constexpr const char* kMetaLogLevel = "io.modelcontextprotocol/logLevel";
inline constexpr const char* kMetaServerInfo = "io.modelcontextprotocol/serverInfo";

// A request's log level that lets no message through (modern requests without logLevel).
inline constexpr int kNoLogs = 100;

// Log levels (RFC 5424 order, as MCP's LoggingLevel): the index, or -1 for an unknown name.
int log_level_index(std::string_view level);

// Bounded handler threads: `threads` at most, started when work comes, a queue of at most
// `max_queued` tasks. Tasks of a stopped pool are dropped (their owners were told by stop()).
class HandlerPool {
 public:
  HandlerPool(std::size_t threads, std::size_t max_queued);
  ~HandlerPool();
  // False when the queue is full or the pool stopped.
  bool submit(std::function<void()> task);
  // Waits for the running tasks, drops the queued ones, joins the threads.
  void stop();

 private:
  void loop();
  std::mutex m_;
  std::condition_variable cv_;
  std::deque<std::function<void()>> queue_;
  std::vector<std::thread> threads_;
  std::size_t idle_ = 0;
  std::size_t max_threads_, max_queued_;
  bool stopped_ = false;
};

// One client's channel as a host gives it to the protocol: how answers and notifications go
// out, and what the client said about itself (legacy: in `initialize`).
class Connection {
 public:
  virtual ~Connection() = default;
  // The answer to request `id` (a host over HTTP sends it on that request's response).
  virtual void respond(const json& id, Result<json> r) = 0;
  // A notification about request `about` (progress, a log line of its handler: over HTTP on
  // that request's response stream), or about none (null: list changes, resource updates).
  virtual Result<void> notify(const json& about, const std::string& method, json params) = 0;

  // Legacy session state (guarded by m).
  std::mutex m;
  bool initialized = false;     // `initialize` answered
  std::string legacy_version;   // what it negotiated
  Implementation client_info;
  json client_capabilities = json::object();
  int log_level = -1;           // logging/setLevel (-1: not set: everything goes)
  // Requests being handled, by id (json dumped), for notifications/cancelled.
  std::map<std::string, std::shared_ptr<std::stop_source>> running;
  std::condition_variable idle;  // notified when a request leaves `running`
  bool closing = false;         // the client went away: new work is refused, running work stopped
};


}  // namespace mcp::server_detail

namespace mcp {

struct RequestContext::Impl {
  Era era = Era::unknown;
  std::string protocol_version;
  Implementation client_info;
  nlohmann::json client_capabilities = nlohmann::json::object();
  nlohmann::json meta = nlohmann::json::object();
  std::stop_token stop;
  int log_level = -1;
  std::shared_ptr<server_detail::Connection> connection;  // null for execute_tool
  nlohmann::json id;  // the request's id
};

struct Server::Impl : std::enable_shared_from_this<Server::Impl> {
  using json = nlohmann::json;
  struct Tool {
    ServerTool spec;
    ToolDefinition definition;
    std::shared_ptr<const detail::SchemaValidator> input, output;
  };

  explicit Impl(ServerOptions o);

  ServerOptions options;
  server_detail::HandlerPool pool;
  mutable std::mutex m;
  std::vector<std::shared_ptr<const Tool>> tools;
  std::map<std::string, std::shared_ptr<const Tool>, std::less<>> tools_by_name;

  [[nodiscard]] std::shared_ptr<const Tool> find_tool(std::string_view name) const;
  void diagnose(std::string_view what) const;

  // The protocol (dispatch.cpp). Called on the host's reading thread; never blocks.
  void dispatch(const std::shared_ptr<server_detail::Connection>& c, json id, std::string method, json params);
  // notifications/cancelled, notifications/initialized, ... (reading thread).
  void notification(const std::shared_ptr<server_detail::Connection>& c, const std::string& method, const json& params);
  // The client went away: stop what runs for it.
  static void close(server_detail::Connection& c);

  // Runs a tool's handler with the arguments checked: what tools/call and execute_tool share.
  // `legacy_invalid_params`: arguments the schema refuses are a -32602 error (revisions before
  // 2025-11-25), else an isError result.
  Result<CallToolResult> run_tool(const Tool& tool, const json& arguments, RequestContext::Impl& ctx,
                                  bool legacy_invalid_params);
  [[nodiscard]] json identity_json() const;
  [[nodiscard]] json capabilities() const;
};

}  // namespace mcp
