// SPDX-License-Identifier: MIT
#pragma once
/// @file session.hpp
/// One server, in its era. Detects the era on first use (unless pinned), keeps the verdict,
/// reconnects lazily after the connection dies (a stdio child is restarted).
///
/// Thread-safety: all member functions may be called from many threads at once. Requests
/// from several threads share one connection; replies are matched by id.

#include <mcp/async.hpp>
#include <mcp/config.hpp>
#include <mcp/error.hpp>
#include <mcp/skills.hpp>
#include <mcp/tool_task.hpp>
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
  /// Overrides the server's / client's default. The time a ClientHandlers::elicitation
  /// handler takes to answer (a person filling a form) does not count: legacy, the requests in
  /// flight on that connection are held while it runs (over HTTP, not yet for a blocking call,
  /// whose stream is read on the caller's thread within the timeout); modern, each round of a multi
  /// round-trip request has its own timeout; a task's limit is moved by the time its input
  /// took. (Across the rounds of a modern multi round-trip request it still counts against
  /// max_total_time.)
  std::optional<Milliseconds> timeout;
  std::stop_token stop;                 ///< request cancellation (sends notifications/cancelled)
  /// Progress notifications for this request (a progressToken is sent). Called on the
  /// calling thread while it waits for the reply, in order, never after the call returned.
  /// An exception it throws ends the call: it propagates out of the call (the one exception
  /// that does), and the server is told the request is cancelled. With the asynchronous API
  /// (`async_*`) it is called where the completion runs (a library thread, or
  /// ClientConfig::executor), before the completion; what it throws there is reported through
  /// `on_diagnostic` and does not end the call.
  std::function<void(const Progress&)> on_progress;
  /// Restart the timeout at each progress notification...
  bool reset_timeout_on_progress = false;
  /// ...but never beyond this total (default: 10 x the timeout).
  std::optional<Milliseconds> max_total_time;
  /// Skip the session's result cache (modern servers' `ttlMs`) for this request.
  bool no_cache = false;
  /// Trace context for this request (see TraceContext), instead of ClientConfig::trace_context's.
  /// A malformed member fails the request with Errc::invalid_argument before anything is sent.
  std::optional<TraceContext> trace;
};

namespace detail {
/// A completion token, for the overloads that take no RequestOptions.
template <class Token>
concept NotOptions = !std::is_same_v<std::decay_t<Token>, RequestOptions>;

/// Adds `cancel` (an Asio cancellation slot's, see mcp/asio.hpp) to the request's stop token:
/// the request stops when either does; `cb` keeps what links them until it is called.
template <class T>
void with_cancel(RequestOptions& o, const std::stop_token& cancel, Callback<T>& cb) {
  if (!cancel.stop_possible()) return;
  if (!o.stop.stop_possible()) {
    o.stop = cancel;
    return;
  }
  auto link = std::make_shared<StopLink>(o.stop, cancel);
  o.stop = link->source.get_token();
  cb = [cb = std::move(cb), link](Result<T> r) { cb(std::move(r)); };
}
}  // namespace detail

/// The protocol with one server.
class Session {
 public:
  /// Nothing is opened until the first call that needs the server. From `client` the session
  /// takes what a client's sessions share: `client_info`, `request_timeout`, `probe_timeout`,
  /// `on_diagnostic`, `handlers`, `log_level`, `max_input_rounds`, `executor`, `trace_context`,
  /// `on_request` and `tasks` (its `id` and `servers`
  /// are not used). `config` is not validated here (a constructor cannot fail): a configuration
  /// that cannot work fails the first call; `Client::create()` refuses it up front.
  Session(std::string name, ServerConfig config, ClientConfig client = {});
  ~Session();  ///< disconnects
  Session(const Session&) = delete;
  Session& operator=(const Session&) = delete;

  /// The library's side of a session (opaque: only declared here).
  struct Impl;

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

  /// Call a tool and return a handle (mcp/tool_task.hpp) instead of its result, once the
  /// server has answered the call: with a task (tasks extension, SEP-2663), which the library
  /// then follows without a thread of its own (polls at the server's interval, input requests
  /// answered by ClientConfig::handlers, tasks/cancel on ToolTask::cancel or destruction), or
  /// at once (the handle is complete, `is_task()` false). Fails only when the call fails before
  /// the server made a task (as call_tool would). `options.timeout` bounds the call and each
  /// poll; `options.max_total_time`, if set, the whole task; `options.stop` cancels the task.
  /// Needs ClientConfig::tasks (the default) for the server to make tasks at all.
  [[nodiscard]] Result<ToolTask> call_tool_task(std::string_view name, nlohmann::json arguments,
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

  /// @name Skills (`io.modelcontextprotocol/skills`, mcp/skills.hpp)
  /// Listing and getting read no file of a skill; loading reads its SKILL.md, reading one file
  /// reads that file, each verified against the entry before it is returned. A server that
  /// does not declare the extension fails list_skills and get_skill with
  /// Errc::extension_not_supported, as read_directory without `directoryRead: true`.
  /// @{

  /// `skills/list`, every page. Entries that are invalid (see from_json(json, Skill&)) are
  /// skipped with a diagnostic: a host must not load them.
  [[nodiscard]] Result<std::vector<Skill>> list_skills(const RequestOptions& options = {});
  /// `skills/get`: the entry of the skill whose SKILL.md is `uri`, listed or not.
  [[nodiscard]] Result<Skill> get_skill(const std::string& uri, const RequestOptions& options = {});
  /// Load a skill: read its SKILL.md and verify it (limits, size, digest, frontmatter).
  [[nodiscard]] Result<SkillFileContent> load_skill(const Skill& skill, const RequestOptions& options = {});
  /// Read one file of a skill and verify it. A file the entry does not list is not read
  /// (Errc::file_not_listed); the SKILL.md is verified as load_skill does.
  [[nodiscard]] Result<SkillFileContent> read_skill_file(const Skill& skill, const std::string& uri,
                                                         const RequestOptions& options = {});
  /// `resources/directory/read`, every page: the direct children of a directory resource
  /// (subdirectories have mimeType "inode/directory"). A live view: it never adds files to an
  /// entry (read_skill_file still refuses what the entry does not list).
  [[nodiscard]] Result<std::vector<Resource>> read_directory(const std::string& uri, const RequestOptions& options = {});
  /// @}

  /// @name Asynchronous API
  /// The same requests without a thread waiting for them: the last argument is a completion
  /// token (mcp/async.hpp: a callable taking Result<T>, mcp::use_future, or an Asio token with
  /// mcp/asio.hpp). Timeouts, `RequestOptions::stop`, progress (called where the completion
  /// is, before it) and the client's handlers keep their meaning. A connection still to open
  /// is opened on one of the library's few blocking workers, as are the slow steps of a call
  /// (a server's input requests, an expired session's new handshake).
  /// @{

  /// connect(), asynchronously
  template <class Token>
  auto async_connect(RequestOptions options, Token&& token) {
    return detail::async_start<ServerInfo>(std::forward<Token>(token),
                                           [impl = impl_, options = std::move(options)](Callback<ServerInfo> cb, std::stop_token cancel) mutable {
          detail::with_cancel(options, cancel, cb);
                                             start_connect(impl, std::move(options), std::move(cb));
                                           });
  }
  /// request(), asynchronously
  template <class Token>
  auto async_request(std::string method, nlohmann::json params, RequestOptions options, Token&& token) {
    return detail::async_start<nlohmann::json>(
        std::forward<Token>(token), [impl = impl_, method = std::move(method), params = std::move(params),
                                     options = std::move(options)](Callback<nlohmann::json> cb, std::stop_token cancel) mutable {
          detail::with_cancel(options, cancel, cb);
          start_request(impl, std::move(method), std::move(params), std::move(options), std::move(cb));
        });
  }
  /// call_tool(), asynchronously
  template <class Token>
  auto async_call_tool(std::string name, nlohmann::json arguments, RequestOptions options, Token&& token) {
    return detail::async_start<CallToolResult>(
        std::forward<Token>(token), [impl = impl_, name = std::move(name), arguments = std::move(arguments),
                                     options = std::move(options)](Callback<CallToolResult> cb, std::stop_token cancel) mutable {
          detail::with_cancel(options, cancel, cb);
          start_call_tool(impl, std::move(name), std::move(arguments), std::move(options), std::move(cb));
        });
  }
  /// call_tool() with default RequestOptions, asynchronously
  template <detail::NotOptions Token>
  auto async_call_tool(std::string name, nlohmann::json arguments, Token&& token) {
    return async_call_tool(std::move(name), std::move(arguments), RequestOptions{}, std::forward<Token>(token));
  }
  /// call_tool_task without waiting: completes with the handle once the server answered the call.
  template <class Token>
  auto async_call_tool_task(std::string name, nlohmann::json arguments, RequestOptions options, Token&& token) {
    return detail::async_start<ToolTask>(
        std::forward<Token>(token), [impl = impl_, name = std::move(name), arguments = std::move(arguments),
                                     options = std::move(options)](Callback<ToolTask> cb, std::stop_token cancel) mutable {
          detail::with_cancel(options, cancel, cb);
          start_call_tool_task(impl, std::move(name), std::move(arguments), std::move(options), std::move(cb));
        });
  }
  /// list_tools(), asynchronously
  template <class Token>
  auto async_list_tools(RequestOptions options, Token&& token) {
    return list_async<std::vector<ToolDefinition>>(std::move(options), std::forward<Token>(token));
  }
  /// list_resources(), asynchronously
  template <class Token>
  auto async_list_resources(RequestOptions options, Token&& token) {
    return list_async<std::vector<Resource>>(std::move(options), std::forward<Token>(token));
  }
  /// list_resource_templates(), asynchronously
  template <class Token>
  auto async_list_resource_templates(RequestOptions options, Token&& token) {
    return list_async<std::vector<ResourceTemplate>>(std::move(options),
                                                     std::forward<Token>(token));
  }
  /// list_prompts(), asynchronously
  template <class Token>
  auto async_list_prompts(RequestOptions options, Token&& token) {
    return list_async<std::vector<Prompt>>(std::move(options), std::forward<Token>(token));
  }
  /// read_resource(), asynchronously
  template <class Token>
  auto async_read_resource(std::string uri, RequestOptions options, Token&& token) {
    return detail::async_start<ReadResourceResult>(
        std::forward<Token>(token),
        [impl = impl_, uri = std::move(uri), options = std::move(options)](Callback<ReadResourceResult> cb, std::stop_token cancel) mutable {
          detail::with_cancel(options, cancel, cb);
          start_read_resource(impl, std::move(uri), std::move(options), std::move(cb));
        });
  }
  /// get_prompt(), asynchronously
  template <class Token>
  auto async_get_prompt(std::string name, std::map<std::string, std::string> arguments, RequestOptions options,
                        Token&& token) {
    return detail::async_start<GetPromptResult>(
        std::forward<Token>(token), [impl = impl_, name = std::move(name), arguments = std::move(arguments),
                                     options = std::move(options)](Callback<GetPromptResult> cb, std::stop_token cancel) mutable {
          detail::with_cancel(options, cancel, cb);
          start_get_prompt(impl, std::move(name), std::move(arguments), std::move(options), std::move(cb));
        });
  }
  /// complete(), asynchronously
  template <class Token>
  auto async_complete(nlohmann::json ref, std::string argument, std::string value, nlohmann::json context,
                      RequestOptions options, Token&& token) {
    return detail::async_start<nlohmann::json>(
        std::forward<Token>(token),
        [impl = impl_, ref = std::move(ref), argument = std::move(argument), value = std::move(value),
         context = std::move(context), options = std::move(options)](Callback<nlohmann::json> cb, std::stop_token cancel) mutable {
          detail::with_cancel(options, cancel, cb);
          start_complete(impl, std::move(ref), std::move(argument), std::move(value), std::move(context),
                         std::move(options), std::move(cb));
        });
  }
  /// ping(), asynchronously
  template <class Token>
  auto async_ping(RequestOptions options, Token&& token) {
    return detail::async_start<void>(std::forward<Token>(token),
                                     [impl = impl_, options = std::move(options)](Callback<void> cb, std::stop_token cancel) mutable {
          detail::with_cancel(options, cancel, cb);
                                       start_ping(impl, std::move(options), std::move(cb));
                                     });
  }
  /// list_skills(), asynchronously
  template <class Token>
  auto async_list_skills(RequestOptions options, Token&& token) {
    return detail::async_start<std::vector<Skill>>(
        std::forward<Token>(token),
        [impl = impl_, options = std::move(options)](Callback<std::vector<Skill>> cb, std::stop_token cancel) mutable {
          detail::with_cancel(options, cancel, cb);
          start_list_skills(impl, std::move(options), std::move(cb));
        });
  }
  /// get_skill(), asynchronously
  template <class Token>
  auto async_get_skill(std::string uri, RequestOptions options, Token&& token) {
    return detail::async_start<Skill>(
        std::forward<Token>(token),
        [impl = impl_, uri = std::move(uri), options = std::move(options)](Callback<Skill> cb, std::stop_token cancel) mutable {
          detail::with_cancel(options, cancel, cb);
          start_get_skill(impl, std::move(uri), std::move(options), std::move(cb));
        });
  }
  /// load_skill(), asynchronously
  template <class Token>
  auto async_load_skill(Skill skill, RequestOptions options, Token&& token) {
    std::string uri = skill.uri;
    return async_read_skill_file(std::move(skill), std::move(uri), std::move(options), std::forward<Token>(token));
  }
  /// read_skill_file(), asynchronously
  template <class Token>
  auto async_read_skill_file(Skill skill, std::string uri, RequestOptions options, Token&& token) {
    return detail::async_start<SkillFileContent>(
        std::forward<Token>(token), [impl = impl_, skill = std::move(skill), uri = std::move(uri),
                                     options = std::move(options)](Callback<SkillFileContent> cb, std::stop_token cancel) mutable {
          detail::with_cancel(options, cancel, cb);
          start_read_skill_file(impl, std::move(skill), std::move(uri), std::move(options), std::move(cb));
        });
  }
  /// read_directory(), asynchronously
  template <class Token>
  auto async_read_directory(std::string uri, RequestOptions options, Token&& token) {
    return detail::async_start<std::vector<Resource>>(
        std::forward<Token>(token),
        [impl = impl_, uri = std::move(uri), options = std::move(options)](Callback<std::vector<Resource>> cb, std::stop_token cancel) mutable {
          detail::with_cancel(options, cancel, cb);
          start_read_directory(impl, std::move(uri), std::move(options), std::move(cb));
        });
  }
  /// @}

  /// Close the connection (stdio: close stdin, SIGTERM, SIGKILL the process group).
  /// Idempotent; in-flight requests fail with Errc::disconnected. A later request reconnects.
  /// Allowed inside the session's own callbacks, as Client::disconnect() (mcp/client.hpp).
  void disconnect();

 private:
  friend struct detail::SessionAccess;  // the Client's listings over several sessions
  std::shared_ptr<Impl> impl_;

  // The asynchronous API's entry points (lib/client/async_session.cpp).
  // T: the listing's vector; start_list's overload is chosen by its callback's type.
  template <class T, class Token>
  auto list_async(RequestOptions options, Token&& token) {
    return detail::async_start<T>(std::forward<Token>(token),
                                  [impl = impl_, options = std::move(options)](Callback<T> cb, std::stop_token cancel) mutable {
          detail::with_cancel(options, cancel, cb);
                                    start_list(impl, std::move(options), std::move(cb));
                                  });
  }
  static void start_connect(const std::shared_ptr<Impl>& impl, RequestOptions options, Callback<ServerInfo> done);
  static void start_request(const std::shared_ptr<Impl>& impl, std::string method, nlohmann::json params,
                            RequestOptions options, Callback<nlohmann::json> done);
  static void start_call_tool(const std::shared_ptr<Impl>& impl, std::string name, nlohmann::json arguments,
                              RequestOptions options, Callback<CallToolResult> done);
  static void start_call_tool_task(const std::shared_ptr<Impl>& impl, std::string name, nlohmann::json arguments,
                                   RequestOptions options, Callback<ToolTask> done);
  static void start_list(const std::shared_ptr<Impl>& impl, RequestOptions options,
                         Callback<std::vector<ToolDefinition>> done);
  static void start_list(const std::shared_ptr<Impl>& impl, RequestOptions options,
                         Callback<std::vector<Resource>> done);
  static void start_list(const std::shared_ptr<Impl>& impl, RequestOptions options,
                         Callback<std::vector<ResourceTemplate>> done);
  static void start_list(const std::shared_ptr<Impl>& impl, RequestOptions options,
                         Callback<std::vector<Prompt>> done);
  static void start_read_resource(const std::shared_ptr<Impl>& impl, std::string uri, RequestOptions options,
                                  Callback<ReadResourceResult> done);
  static void start_get_prompt(const std::shared_ptr<Impl>& impl, std::string name,
                               std::map<std::string, std::string> arguments, RequestOptions options,
                               Callback<GetPromptResult> done);
  static void start_complete(const std::shared_ptr<Impl>& impl, nlohmann::json ref, std::string argument,
                             std::string value, nlohmann::json context, RequestOptions options,
                             Callback<nlohmann::json> done);
  static void start_ping(const std::shared_ptr<Impl>& impl, RequestOptions options, Callback<void> done);
  static void start_list_skills(const std::shared_ptr<Impl>& impl, RequestOptions options,
                                Callback<std::vector<Skill>> done);
  static void start_get_skill(const std::shared_ptr<Impl>& impl, std::string uri, RequestOptions options,
                              Callback<Skill> done);
  static void start_read_skill_file(const std::shared_ptr<Impl>& impl, Skill skill, std::string uri,
                                    RequestOptions options, Callback<SkillFileContent> done);
  static void start_read_directory(const std::shared_ptr<Impl>& impl, std::string uri, RequestOptions options,
                                   Callback<std::vector<Resource>> done);
};

}  // namespace mcp
