// SPDX-License-Identifier: MIT
#pragma once
/// @file client.hpp
/// The multi-server facade: one session per configured server, opened lazily.
///
/// Thread-safety: every member function may be called from many threads at once,
/// including `disconnect()` while calls are in flight (those fail with Errc::disconnected).
///
/// `disconnect()` and the destructor may also be called on the library's own threads: inside
/// a completion or progress callback of the asynchronous API, a handler (ClientHandlers:
/// elicitation, sampling, roots, on_log, on_change) or a hook (ClientConfig::on_log). There
/// they never wait for the thread they run on: the other calls in flight end with
/// Errc::disconnected at once, and the connection's last thread and descriptors are released
/// when that callback returns. A disconnect() or the destructor on another thread meanwhile
/// waits for that callback to return: the callback must not wait for that thread in turn.
/// The Client may be destroyed inside its own callback; the callback must not use it after.
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

  Client(Client&&) noexcept;  ///< moves the sessions; the moved-from client fails every call
  Client& operator=(Client&&) noexcept;  ///< ends this client's sessions as the destructor does, then takes the other's
  ~Client();  ///< disconnects (also allowed inside the client's own callbacks: see above)

  /// Configured server names, sorted.
  [[nodiscard]] std::vector<std::string> server_names() const;
  /// The session for one server (connects lazily on its first request).
  [[nodiscard]] Result<std::shared_ptr<Session>> session(const std::string& server) const;
  /// Connect to one server and return what it told us.
  [[nodiscard]] Result<ServerInfo> server_info(const std::string& server,
                                               const RequestOptions& options = {});

  /// Every tool of every server, keyed `"<server>_<tool>"`. Fails if any server fails. In
  /// every listing over all servers (tools, resources, templates, prompts), a server that
  /// does not implement the listing (it answers -32601, "Method not found") lists nothing: it
  /// is not a failure. Session's own listings return that error.
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

  /// Call `tool` on `server` and return a handle on it (a task the server made, or the result
  /// it gave at once) instead of waiting: see Session::call_tool_task and mcp/tool_task.hpp.
  [[nodiscard]] Result<ToolTask> call_tool_task(const std::string& server, const std::string& tool,
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

  /// @name Skills (`io.modelcontextprotocol/skills`, mcp/skills.hpp; see Session's)
  /// A skill is identified by its server and its uri: keep both.
  /// @{

  /// The skills of every server that declares the extension (the others list nothing), keyed
  /// by server; failing servers in `errors`. Reads no file of any skill. The servers are asked
  /// one after the other (async_list_skills asks them all at once).
  [[nodiscard]] Partial<std::map<std::string, std::vector<Skill>>> list_skills(const RequestOptions& options = {});
  /// `skills/get` on one server.
  [[nodiscard]] Result<Skill> get_skill(const std::string& server, const std::string& uri,
                                        const RequestOptions& options = {});
  /// Load a skill of `server`: its SKILL.md, verified.
  [[nodiscard]] Result<SkillFileContent> load_skill(const std::string& server, const Skill& skill,
                                                    const RequestOptions& options = {});
  /// One listed file of a skill of `server`, verified.
  [[nodiscard]] Result<SkillFileContent> read_skill_file(const std::string& server, const Skill& skill,
                                                         const std::string& uri, const RequestOptions& options = {});
  /// `resources/directory/read` on one server.
  [[nodiscard]] Result<std::vector<Resource>> read_directory(const std::string& server, const std::string& uri,
                                                             const RequestOptions& options = {});
  /// @}

  /// @name Asynchronous API
  /// The requests above without a thread waiting for them (see Session's asynchronous API and
  /// mcp/async.hpp): the last argument is a completion token, a callable taking Result<T>,
  /// mcp::use_future, or an Asio token with mcp/asio.hpp:
  ///     client.async_call_tool("srv", "echo", args, [](mcp::Result<mcp::CallToolResult> r) { ... });
  ///     auto r = co_await client.async_call_tool("srv", "echo", args, asio::use_awaitable);
  /// Listings over every server send to all of them at once and complete when the last answers.
  /// @{
  template <class Token>
  auto async_call_tool(std::string server, std::string tool, nlohmann::json arguments, RequestOptions options,
                       Token&& token) {
    return detail::async_start<CallToolResult>(
        std::forward<Token>(token), [impl = impl_, server = std::move(server), tool = std::move(tool),
                                     arguments = std::move(arguments),
                                     options = std::move(options)](Callback<CallToolResult> cb, std::stop_token cancel) mutable {
          detail::with_cancel(options, cancel, cb);
          start_call_tool(impl, std::move(server), std::move(tool), std::move(arguments), std::move(options),
                          std::move(cb));
        });
  }
  template <detail::NotOptions Token>
  auto async_call_tool(std::string server, std::string tool, nlohmann::json arguments, Token&& token) {
    return async_call_tool(std::move(server), std::move(tool), std::move(arguments), RequestOptions{},
                           std::forward<Token>(token));
  }
  /// call_tool_task without waiting: completes with the handle once the server answered.
  template <class Token>
  auto async_call_tool_task(std::string server, std::string tool, nlohmann::json arguments, RequestOptions options,
                            Token&& token) {
    return async_on<ToolTask>(std::move(server), std::move(options), std::forward<Token>(token),
                              [tool = std::move(tool), arguments = std::move(arguments)](
                                  Session& s, RequestOptions o, Callback<ToolTask> cb) mutable {
                                s.async_call_tool_task(std::move(tool), std::move(arguments), std::move(o), std::move(cb));
                              });
  }
  template <class Token>
  auto async_server_info(std::string server, RequestOptions options, Token&& token) {
    return detail::async_start<ServerInfo>(std::forward<Token>(token),
                                           [impl = impl_, server = std::move(server),
                                            options = std::move(options)](Callback<ServerInfo> cb, std::stop_token cancel) mutable {
          detail::with_cancel(options, cancel, cb);
                                             start_server_info(impl, std::move(server), std::move(options), std::move(cb));
                                           });
  }
  /// Every tool of every server (fails if any server fails), as list_tools().
  template <class Token>
  auto async_list_tools(RequestOptions options, Token&& token) {
    return detail::async_start<ToolMap>(std::forward<Token>(token),
                                        [impl = impl_, options = std::move(options)](Callback<ToolMap> cb, std::stop_token cancel) mutable {
          detail::with_cancel(options, cancel, cb);
                                          start_list_tools(impl, std::move(options), std::move(cb));
                                        });
  }
  template <class Token>
  auto async_list_toolsets(RequestOptions options, Token&& token) {
    return detail::async_start<Toolsets>(std::forward<Token>(token),
                                         [impl = impl_, options = std::move(options)](Callback<Toolsets> cb, std::stop_token cancel) mutable {
          detail::with_cancel(options, cancel, cb);
                                           start_list_toolsets(impl, std::move(options), std::move(cb));
                                         });
  }
  /// Resources of every server (the Result fails only for a moved-from client).
  template <class Token>
  auto async_list_resources(RequestOptions options, Token&& token) {
    using T = Partial<std::map<std::string, std::vector<Resource>>>;
    return detail::async_start<T>(std::forward<Token>(token),
                                  [impl = impl_, options = std::move(options)](Callback<T> cb, std::stop_token cancel) mutable {
          detail::with_cancel(options, cancel, cb);
                                    start_list(impl, std::move(options), std::move(cb));
                                  });
  }
  template <class Token>
  auto async_list_resource_templates(RequestOptions options, Token&& token) {
    using T = Partial<std::map<std::string, std::vector<ResourceTemplate>>>;
    return detail::async_start<T>(std::forward<Token>(token),
                                  [impl = impl_, options = std::move(options)](Callback<T> cb, std::stop_token cancel) mutable {
          detail::with_cancel(options, cancel, cb);
                                    start_list(impl, std::move(options), std::move(cb));
                                  });
  }
  template <class Token>
  auto async_list_prompts(RequestOptions options, Token&& token) {
    using T = Partial<std::map<std::string, std::vector<Prompt>>>;
    return detail::async_start<T>(std::forward<Token>(token),
                                  [impl = impl_, options = std::move(options)](Callback<T> cb, std::stop_token cancel) mutable {
          detail::with_cancel(options, cancel, cb);
                                    start_list(impl, std::move(options), std::move(cb));
                                  });
  }
  template <class Token>
  auto async_read_resource(std::string server, std::string uri, RequestOptions options, Token&& token) {
    return detail::async_start<ReadResourceResult>(
        std::forward<Token>(token), [impl = impl_, server = std::move(server), uri = std::move(uri),
                                     options = std::move(options)](Callback<ReadResourceResult> cb, std::stop_token cancel) mutable {
          detail::with_cancel(options, cancel, cb);
          start_read_resource(impl, std::move(server), std::move(uri), std::move(options), std::move(cb));
        });
  }
  template <class Token>
  auto async_get_prompt(std::string server, std::string name, std::map<std::string, std::string> arguments,
                        RequestOptions options, Token&& token) {
    return detail::async_start<GetPromptResult>(
        std::forward<Token>(token),
        [impl = impl_, server = std::move(server), name = std::move(name), arguments = std::move(arguments),
         options = std::move(options)](Callback<GetPromptResult> cb, std::stop_token cancel) mutable {
          detail::with_cancel(options, cancel, cb);
          start_get_prompt(impl, std::move(server), std::move(name), std::move(arguments), std::move(options),
                           std::move(cb));
        });
  }
  /// Skills of every server that declares the extension (the Result fails only for a moved-from client).
  template <class Token>
  auto async_list_skills(RequestOptions options, Token&& token) {
    using T = Partial<std::map<std::string, std::vector<Skill>>>;
    return detail::async_start<T>(std::forward<Token>(token),
                                  [impl = impl_, options = std::move(options)](Callback<T> cb, std::stop_token cancel) mutable {
                                    detail::with_cancel(options, cancel, cb);
                                    start_list(impl, std::move(options), std::move(cb));
                                  });
  }
  template <class Token>
  auto async_get_skill(std::string server, std::string uri, RequestOptions options, Token&& token) {
    return async_on<Skill>(std::move(server), std::move(options), std::forward<Token>(token),
                           [uri = std::move(uri)](Session& s, RequestOptions o, Callback<Skill> cb) mutable {
                             s.async_get_skill(std::move(uri), std::move(o), std::move(cb));
                           });
  }
  template <class Token>
  auto async_load_skill(std::string server, Skill skill, RequestOptions options, Token&& token) {
    std::string uri = skill.uri;
    return async_read_skill_file(std::move(server), std::move(skill), std::move(uri), std::move(options),
                                 std::forward<Token>(token));
  }
  template <class Token>
  auto async_read_skill_file(std::string server, Skill skill, std::string uri, RequestOptions options, Token&& token) {
    return async_on<SkillFileContent>(
        std::move(server), std::move(options), std::forward<Token>(token),
        [skill = std::move(skill), uri = std::move(uri)](Session& s, RequestOptions o, Callback<SkillFileContent> cb) mutable {
          s.async_read_skill_file(std::move(skill), std::move(uri), std::move(o), std::move(cb));
        });
  }
  template <class Token>
  auto async_read_directory(std::string server, std::string uri, RequestOptions options, Token&& token) {
    return async_on<std::vector<Resource>>(
        std::move(server), std::move(options), std::forward<Token>(token),
        [uri = std::move(uri)](Session& s, RequestOptions o, Callback<std::vector<Resource>> cb) mutable {
          s.async_read_directory(std::move(uri), std::move(o), std::move(cb));
        });
  }
  /// @}

  /// Close every connection. Idempotent; in-flight calls fail with Errc::disconnected (a call
  /// between two rounds of input too). The client stays usable: a later call reconnects (never
  /// refused as a duplicate). Allowed inside a completion or a handler (see above).
  void disconnect();

 private:
  struct Impl;
  explicit Client(std::shared_ptr<Impl> impl);
  std::shared_ptr<Impl> impl_;

  // The asynchronous API's entry points (client.cpp).
  static void start_call_tool(const std::shared_ptr<Impl>& impl, std::string server, std::string tool,
                              nlohmann::json arguments, RequestOptions options, Callback<CallToolResult> done);
  static void start_server_info(const std::shared_ptr<Impl>& impl, std::string server, RequestOptions options,
                                Callback<ServerInfo> done);
  static void start_list_tools(const std::shared_ptr<Impl>& impl, RequestOptions options, Callback<ToolMap> done);
  static void start_list_toolsets(const std::shared_ptr<Impl>& impl, RequestOptions options, Callback<Toolsets> done);
  static void start_list(const std::shared_ptr<Impl>& impl, RequestOptions options,
                         Callback<Partial<std::map<std::string, std::vector<Resource>>>> done);
  static void start_list(const std::shared_ptr<Impl>& impl, RequestOptions options,
                         Callback<Partial<std::map<std::string, std::vector<ResourceTemplate>>>> done);
  static void start_list(const std::shared_ptr<Impl>& impl, RequestOptions options,
                         Callback<Partial<std::map<std::string, std::vector<Prompt>>>> done);
  static void start_list(const std::shared_ptr<Impl>& impl, RequestOptions options,
                         Callback<Partial<std::map<std::string, std::vector<Skill>>>> done);
  // The session of `server` for an asynchronous call (a moved-from client, an unknown server
  // fail), and where such an immediate failure is posted.
  static Result<std::shared_ptr<Session>> session_of(const std::shared_ptr<Impl>& impl, const std::string& server);
  static void post(const std::shared_ptr<Impl>& impl, std::function<void()> task);
  // An asynchronous call on one server's session: `start(session, options, callback)`.
  template <class T, class Token, class Start>
  auto async_on(std::string server, RequestOptions options, Token&& token, Start start) {
    return detail::async_start<T>(
        std::forward<Token>(token), [impl = impl_, server = std::move(server), options = std::move(options),
                                     start = std::move(start)](Callback<T> cb, std::stop_token cancel) mutable {
          detail::with_cancel(options, cancel, cb);
          auto s = session_of(impl, server);
          if (!s) return post(impl, [cb = std::move(cb), e = std::move(s.error())] { cb(fail(e)); });
          start(**s, std::move(options), std::move(cb));
        });
  }
  static void start_read_resource(const std::shared_ptr<Impl>& impl, std::string server, std::string uri,
                                  RequestOptions options, Callback<ReadResourceResult> done);
  static void start_get_prompt(const std::shared_ptr<Impl>& impl, std::string server, std::string name,
                               std::map<std::string, std::string> arguments, RequestOptions options,
                               Callback<GetPromptResult> done);
};

}  // namespace mcp
