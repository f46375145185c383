// SPDX-License-Identifier: MIT
#pragma once
/// @file client.hpp
/// The multi-server facade: one session per configured server, opened lazily.
///
/// Thread-safety: every member function may be called from many threads at once,
/// including `disconnect()` while calls are in flight (those fail with Errc::disconnected).
///
/// A moved-from Client fails every call with Errc::invalid_argument (the `Partial` listings
/// report it under an empty server name), has no servers and is not healthy.
/// A server name that is not configured fails with Errc::unknown_server.

#include <mcp/config.hpp>
#include <mcp/error.hpp>
#include <mcp/session.hpp>
#include <mcp/tool.hpp>
#include <mcp/types.hpp>

#include <map>
#include <memory>
#include <string>
#include <vector>

namespace mcp {

/// Tools keyed `"<server>_<tool>"`.
using ToolMap = std::map<std::string, Tool>;
/// Tools keyed `{server: {tool: Tool}}`.
using Toolsets = std::map<std::string, std::map<std::string, Tool>>;

/// A result gathered from every server: what worked, and an error per server that did not.
template <class T>
struct Partial {
  T value;                              ///< what the healthy servers returned
  std::map<std::string, Error> errors;  ///< server name -> its error
};

/// Client of any number of MCP servers.
class Client {
 public:
  /// Validate `config` and build a client. Nothing is spawned or opened yet. This is where a
  /// configuration is checked (Errc::invalid_config: no servers, an empty command, a URL that
  /// is not http(s), ...). Fails with Errc::duplicate_client if another live client has an
  /// identical configuration and the same id or none (see ClientConfig::refuse_duplicate).
  [[nodiscard]] static Result<Client> create(ClientConfig config);

  Client(Client&&) noexcept;
  Client& operator=(Client&&) noexcept;
  ~Client();  ///< disconnects

  /// Configured server names, sorted.
  [[nodiscard]] std::vector<std::string> server_names() const;
  /// The session for one server (connects lazily on its first request).
  [[nodiscard]] Result<std::shared_ptr<Session>> session(const std::string& server) const;
  /// Connect to one server and return what it told us.
  [[nodiscard]] Result<ServerInfo> server_info(const std::string& server,
                                               const RequestOptions& options = {});

  /// Every tool of every server, keyed `"<server>_<tool>"`. Fails if any server fails.
  /// The listings over all servers send their requests to every server before waiting for
  /// any reply: servers answer in parallel, and a call on open connections starts no thread
  /// of its own (over HTTP the requests use the transport's shared, reused flight threads);
  /// connections still to open are opened side by side, a thread each but one.
  [[nodiscard]] Result<ToolMap> list_tools(const RequestOptions& options = {});
  /// Every tool of every server that answered, plus an error per server that did not.
  [[nodiscard]] Partial<ToolMap> list_tools_partial(const RequestOptions& options = {});
  /// Every tool, nested `{server: {tool}}`. Fails if any server fails.
  [[nodiscard]] Result<Toolsets> list_toolsets(const RequestOptions& options = {});
  /// Nested tools of the servers that answered, plus an error per server that did not.
  [[nodiscard]] Partial<Toolsets> list_toolsets_partial(const RequestOptions& options = {});

  /// Call `tool` on `server` directly.
  [[nodiscard]] Result<CallToolResult> call_tool(const std::string& server, const std::string& tool,
                                                 nlohmann::json arguments = nlohmann::json::object(),
                                                 const RequestOptions& options = {});

  /// False if a server's connection ended by itself since it was opened (the server died,
  /// a stream broke). The client recovers on its own (it reconnects on the next call); a
  /// pool uses this to rebuild such clients instead.
  [[nodiscard]] bool healthy() const;

  /// Resources of every server, keyed by server; failing servers in `errors`.
  [[nodiscard]] Partial<std::map<std::string, std::vector<Resource>>> list_resources(const RequestOptions& options = {});
  /// Resource templates of every server, keyed by server.
  [[nodiscard]] Partial<std::map<std::string, std::vector<ResourceTemplate>>> list_resource_templates(
      const RequestOptions& options = {});
  /// Prompts of every server, keyed by server.
  [[nodiscard]] Partial<std::map<std::string, std::vector<Prompt>>> list_prompts(const RequestOptions& options = {});
  /// Read one resource of one server.
  [[nodiscard]] Result<ReadResourceResult> read_resource(const std::string& server, const std::string& uri,
                                                         const RequestOptions& options = {});
  /// Render one prompt of one server.
  [[nodiscard]] Result<GetPromptResult> get_prompt(const std::string& server, const std::string& name,
                                                   const std::map<std::string, std::string>& arguments = {},
                                                   const RequestOptions& options = {});

  /// Close every connection. Idempotent; in-flight calls fail with Errc::disconnected.
  /// The client stays usable: a later call reconnects (never refused as a duplicate).
  void disconnect();

 private:
  struct Impl;
  explicit Client(std::shared_ptr<Impl> impl);
  std::shared_ptr<Impl> impl_;
};

}  // namespace mcp
