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
//                      return mcp::text_result(args["text"].get<std::string>());
//                    }});
//   return server.serve_stdio() ? 0 : 1;
//
// Threads. Over stdio, handlers run on the server's handler threads
// (ServerOptions::handler_threads), never on the thread that reads the client. Over an HttpHost,
// a tool's handler runs by default on the I/O thread that read the call, outside that
// connection's strand (ServerOptions::handlers_on_io_threads), sparing two thread switches per
// call; a watchdog sees a handler that runs past ~2 ms (io_handler_takeover) blocked or busy, or
// that waits for the client (legacy elicit/sample/roots), and starts a fresh I/O thread to take
// over the I/O, and that tool's calls
// go to the handler threads for a while (1 s, doubling each time it runs long again). So a slow
// or blocking tool does not stall other connections or requests beyond ~2 ms, once; a tool
// that blocks only now and then delays the requests its I/O thread would serve by up to ~2 ms
// each time. Cancellation reaches a handler on either kind of thread.
//
// Thread-safety: add_*, remove_*, notify_* and the *_info(s) queries may be called from any
// thread, while serving too (from a handler included). One Server may be served by several
// hosts at once (serve_stdio on a thread, an HttpHost). serve_stdio() blocks its caller until
// stdin ends. Destroying the Server while a host still serves it is not allowed.
#include <mcp/error.hpp>
#include <mcp/log.hpp>
#include <mcp/server_auth.hpp>
#include <mcp/types.hpp>

#include <nlohmann/json.hpp>

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <map>
#include <optional>
#include <stdexcept>
#include <stop_token>
#include <string>
#include <string_view>
#include <vector>

namespace mcp {

/// Where a server's source lives (MCP Registry `repository`).
struct ServerRepository {
  std::string url{};     ///< e.g. "https://github.com/org/server"
  std::string source{};  ///< "github", "gitlab", ...
  std::string id{};      ///< the repository's id at its source
};

/// A remote endpoint the server is reachable at (MCP Registry `remotes`).
struct ServerRemote {
  std::string transport_type{};  ///< "streamable", "sse", ...
  std::string url{};  ///< the endpoint URL
};

/// How the server is published, as the MCP Registry describes a server: what
/// Server::detail() reports (Mastra's `getServerDetail()`). Nothing of it goes on the wire.
struct ServerRegistryInfo {
  std::string id{};                                ///< unique id; default: the identity's name
  std::optional<ServerRepository> repository{};  ///< where the source lives
  std::string release_date{};                      ///< ISO 8601; default: when the Server was made (UTC)
  bool is_latest = true;                           ///< this version is the newest
  std::optional<std::string> package_canonical{};  ///< "npm", "docker", "pypi", ...
  nlohmann::json packages = nlohmann::json::array();  ///< installable packages, as the registry's PackageInfo objects
  std::vector<ServerRemote> remotes{};  ///< remote endpoints, as the registry lists them
};

/// Who the server is: `serverInfo` (legacy) and the `io.modelcontextprotocol/serverInfo` of
/// results (modern), and the `instructions` of `initialize` / `server/discover`.
struct ServerIdentity {
  std::string name{};                         ///< programmatic name (required)
  std::string version{};                      ///< version string (required)
  std::optional<std::string> title{};         ///< display name
  std::optional<std::string> description{};   ///< what the server does
  std::optional<std::string> website_url{};   ///< websiteUrl
  std::optional<std::string> instructions{};  ///< how a model should use the server
  /// Icons (http(s) or data: URIs; an icon with any other scheme is not sent, and
  /// on_diagnostic says so).
  std::vector<Icon> icons{};
  ServerRegistryInfo registry{};              ///< for detail(); not sent to clients
};

/// How a server runs.
struct ServerOptions {
  ServerIdentity identity{};  ///< name, version and what the registry says of the server
  /// Tool handlers running at once (threads, started when first needed). Requests beyond wait
  /// their turn, in order of arrival.
  std::size_t handler_threads = 4;
  /// Over an HttpHost: tool handlers run on the I/O thread that read the call (outside its
  /// connection's strand) with a takeover when they run long (see the top of this header).
  /// The host's I/O threads are then HttpServerOptions::io_threads, plus one per handler that
  /// ran long on an I/O thread and still runs (at most `handler_threads` such at once; beyond
  /// that a long run holds its I/O thread), plus one watchdog. False: every handler runs on the
  /// handler threads. Resource reads, prompts, completions and tasks always use the handler
  /// threads; stdio always does.
  bool handlers_on_io_threads = true;
  /// How long a handler may run on an I/O thread before the watchdog takes over: a handler
  /// past it that is blocked (sleeping, waiting) or that used this much CPU. One merely waiting
  /// for a CPU on a loaded machine is not taken over. Larger values suit tools under a profiler
  /// (valgrind, strace), where everything is many times slower.
  std::chrono::milliseconds io_handler_takeover{2};
  /// Requests waiting for a handler thread; more are answered at once with an internal error
  /// ("server busy") rather than held in unbounded memory.
  std::size_t max_queued_requests = 1024;
  /// One message (a line over stdio) may be this large; longer ones are refused (-32600) and
  /// skipped. Values and nesting are capped as for the client (32 MiB, 128 levels).
  std::size_t max_message_bytes = 32u << 20;
  /// 2026-07-28: put `io.modelcontextprotocol/serverInfo` in every result's `_meta`, as the
  /// specification recommends (`server/discover` always has it). False keeps results smaller.
  bool server_info_in_results = true;
  /// Items per page of tools/list, resources/list, resources/templates/list, prompts/list.
  std::size_t page_size = 100;
  /// When a client goes away (stdin ends), requests still running may finish and answer
  /// within this time; then their stop tokens fire.
  std::chrono::milliseconds shutdown_grace{1000};
  /// stdio: how long one message may wait for the client to read its input (our stdout). A
  /// client that reads nothing for this long is taken as gone: what runs is cancelled, nothing
  /// more is sent or served, and serve_stdio() returns Errc::timeout once stdin ends.
  std::chrono::milliseconds write_timeout{10000};
  /// How long a handler's elicit(), sample() or roots() waits for a legacy client's answer.
  std::chrono::milliseconds client_request_timeout{60000};
  /// 2026-07-28 input rounds: the `requestState` a client carries between rounds holds the
  /// answers so far, sealed (AES-256-GCM) with this 32-byte key and valid for
  /// `input_state_ttl`. Empty: a random key per process (then the rounds of one call must
  /// reach the same process; replicas behind a load balancer need one shared key).
  std::string input_state_key{};
  std::chrono::seconds input_state_ttl{600};  ///< how long a sealed `requestState` stays valid (10 min)
  /// Tasks (tools with ServerTool::task_support): tasks kept at once, over every session and
  /// both eras, running or finished and not yet expired. A task-augmented call beyond this is
  /// refused with a JSON-RPC error (-32603, data.reason "too many tasks", data.maxTasks).
  std::size_t max_tasks = 1000;
  /// How long a task is kept from its creation when the client asks for no TTL (2025-11-25
  /// `task.ttl`; 2026-07-28 clients cannot ask). After it the task and its result are deleted
  /// (one still running is cancelled first).
  std::chrono::milliseconds task_ttl{3600000};
  /// The longest TTL a client may ask for: longer requests are cut to this.
  std::chrono::milliseconds max_task_ttl{86400000};
  /// The polling interval tasks suggest to clients (pollInterval / pollIntervalMs).
  std::chrono::milliseconds task_poll_interval{1000};
  /// Oddities worth a log line (a client's malformed message, a handler that threw). Default:
  /// none. Never given a client's credentials.
  std::function<void(std::string_view)> on_diagnostic{};
  /// The structured logging hook (<mcp/log.hpp>), as ClientConfig::on_log: each diagnostic
  /// above is also given to it as a LogKind::diagnostic event at LogLevel::warning, with the
  /// identity's name as its server. Called from the server's threads (I/O, handler, stdio
  /// reader), concurrently; must be quick and thread-safe; what it throws is caught and
  /// dropped. Empty (default): nothing is built for it.
  LogHook on_log{};
};

/// What a handler knows about the request it serves, and what it can send back while it runs.
/// Valid for the duration of the handler call only.
class RequestContext {
 public:
  /// The era of this request, and its protocol revision ("2026-07-28", "2025-11-25", ...).
  [[nodiscard]] Era era() const;
  [[nodiscard]] const std::string& protocol_version() const;  ///< the negotiated protocol revision
  /// clientInfo (from `initialize`, or the request's `_meta`), and the client's capabilities.
  [[nodiscard]] const Implementation& client_info() const;
  [[nodiscard]] const nlohmann::json& client_capabilities() const;  ///< the client's capabilities object
  /// The request's `_meta` (progress token, trace context, ...), or an empty object.
  [[nodiscard]] const nlohmann::json& meta() const;
  /// The legacy session this request came in: its Mcp-Session-Id (Streamable HTTP) or
  /// sessionId (2024-11-05 HTTP+SSE). Empty for stdio, 2026-07-28 (stateless) requests,
  /// sessionless legacy HTTP (HttpServerOptions::legacy_sessions off) and execute_tool().
  [[nodiscard]] const std::string& session_id() const;
  /// Who the request comes from, over an HttpHost with HttpServerOptions::auth: the validated
  /// token's subject, client id, scopes and claims, and what the host's auth middleware
  /// attached. nullptr without authorization (stdio, execute_tool, a host without auth).
  [[nodiscard]] const AuthInfo* auth() const;
  /// Fires when the client cancels the request (`notifications/cancelled`) or goes away.
  [[nodiscard]] std::stop_token stop_token() const;
  [[nodiscard]] bool cancelled() const { return stop_token().stop_requested(); }  ///< stop_token().stop_requested()

  /// Sends `notifications/progress` for this request, if the client asked for progress (a
  /// progressToken in `_meta`); otherwise does nothing. `progress` should increase.
  Result<void> progress(double progress, std::optional<double> total = std::nullopt, std::string message = {});
  /// Legacy Streamable HTTP, 2025-11-25 (SEP-1699 polling): ends this request's response stream
  /// now, after an event telling the client to come back in `retry`; the answer, and what the
  /// handler sends meanwhile, wait in the session's event store until the client resumes with
  /// GET + Last-Event-ID. For long calls behind proxies that cut idle streams. False (nothing
  /// done) where it cannot be: stdio, 2026-07-28, a JSON-only response, older revisions, a
  /// host without resumable streams.
  bool close_stream(std::chrono::milliseconds retry = std::chrono::milliseconds(1000));
  /// Sends `notifications/message` at `level` ("debug" ... "emergency") unless the client asked
  /// for less (legacy `logging/setLevel`, modern `_meta` logLevel).
  Result<void> log(std::string_view level, nlohmann::json data, std::string logger = {});

  /// Asks the user, through the client (`elicitation/create`, form or URL mode), and returns
  /// the answer. Legacy revisions: a request to the client, waited for within
  /// ServerOptions::client_request_timeout. 2026-07-28: the call answers `input_required` and
  /// the client calls again with the answer, which runs the handler again from the start: a
  /// handler that asks must be safe to run again up to its question. Until the answer is there,
  /// this fails with Errc::input_required: return that error (the server answers
  /// `input_required` whatever the handler returns once it asked).
  /// A client that did not declare the capability: an error with rpc_code -32021 and
  /// data.requiredCapabilities (returned as is, it tells the client what it lacks).
  /// `key` names the question in the 2026-07-28 `inputRequests` (and the client's
  /// `inputResponses`): 1 to 64 printable ASCII characters, unique within one run of the
  /// handler; empty (default): "elicit-N" / "sample-N" / "roots-N", N the question's number in
  /// the run. A handler may ask several questions before returning: they go to the client in
  /// one `input_required` result. Legacy revisions ignore the key.
  Result<ElicitResult> elicit(const ElicitRequest& request, std::string_view key = {});
  /// `sampling/createMessage`: `params` as the specification defines them; the
  /// CreateMessageResult. As elicit() in each era.
  Result<nlohmann::json> sample(const nlohmann::json& params, std::string_view key = {});
  /// `roots/list`: the client's roots. As elicit() in each era.
  Result<std::vector<Root>> roots(std::string_view key = {});

  struct Impl;
  explicit RequestContext(Impl& impl) : impl_(impl) {}  ///< made by the library for each request

 private:
  Impl& impl_;
};

/// Thrown by a handler for a failure the model should read: the tool call answers an `isError`
/// result with this message. Any other exception is an internal error (-32603) whose text is
/// not sent (it may hold what the client must not see); on_diagnostic gets it.
struct ToolError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

/// A tool result of one text block, with structured content when given: what most tools return.
CallToolResult text_result(std::string text, std::optional<nlohmann::json> structured_content = std::nullopt);
/// A tool's failure that the model reads (`isError`, one text block).
CallToolResult error_result(std::string text);

/// Runs a tool: the arguments (already checked against the input schema) and the context.
/// An Error becomes a JSON-RPC error (its `rpc_code`, else internal error); see ToolError for
/// exceptions.
using ToolHandler = std::function<Result<CallToolResult>(const nlohmann::json& arguments, RequestContext& context)>;

/// Whether a tool runs as a task (the 2025-11-25 tasks utility; the 2026-07-28 extension
/// `io.modelcontextprotocol/tasks`). A task's handler runs on the handler threads after the
/// call was answered with the task; the client polls for its status and result.
enum class TaskSupport {
  forbidden,  ///< never a task (default). 2025-11-25: a call asking for one is refused (-32601)
  optional,   ///< 2025-11-25: a task when the call asks for one (`task` in its params).
              ///< 2026-07-28: always a task for a client that declared the extension, else sync
  required,   ///< as optional, and a call that cannot be a task is refused: 2025-11-25 without
              ///< `task` (-32601), 2026-07-28 from a client without the extension (-32021)
};

/// A tool the server offers.
struct ServerTool {
  std::string name{};                         ///< unique within the server
  std::optional<std::string> title{};         ///< display name
  std::optional<std::string> description{};   ///< what it does (for the model)
  nlohmann::json input_schema = nlohmann::json{{"type", "object"}};  ///< JSON Schema (2020-12 unless $schema says)
  std::optional<nlohmann::json> output_schema{};  ///< structuredContent must match it, when set
  nlohmann::json annotations{};             ///< ToolAnnotations (readOnlyHint, ...), or null
  std::vector<Icon> icons{};                ///< http(s) or data: URIs; theme "light" or "dark"
  ToolHandler handler{};                    ///< required
  /// Task execution (tools/list `execution.taskSupport` in 2025-11-25). A task's handler sees
  /// the task's stop token (tasks/cancel, TTL expiry, its legacy session ending).
  TaskSupport task_support = TaskSupport::forbidden;
  /// 2026-07-28 tasks, optional: runs on the handler threads before the task is created, as an
  /// ordinary call would: what it asks (elicit(), sample(), roots()) is answered by input rounds
  /// (`input_required`, the client calls again), resolved before the task exists (SEP-2663).
  /// An error ends the call with it; success creates the task, whose handler finds the answers
  /// given so far under the same keys. 2025-11-25 and sync calls do not run it.
  std::function<Result<void>(const nlohmann::json& arguments, RequestContext& context)> before_task{};
  /// Scopes the caller must have to call this tool, over an HttpHost with
  /// HttpServerOptions::auth: its token's, or, on a host with a middleware and no validator,
  /// the AuthInfo::scopes the middleware filled (else 403 `insufficient_scope` naming them, so
  /// the client can step up; scope hierarchies count). Not checked where there is no
  /// authorization (stdio, execute_tool, a host without auth).
  std::vector<std::string> required_scopes{};
  /// Runs the handler on the thread that read the request (an HttpHost I/O thread, the thread
  /// in serve_stdio), at once and within the connection's turn, instead of handing the call to a
  /// handler thread (stdio) or to the I/O thread's queue with a watchdog (HTTP, the default):
  /// the cheapest way, for handlers that return at once (a computation of microseconds).
  /// While it runs, that thread serves nobody else and no watchdog takes over: such a handler
  /// must never block or wait (no I/O, no sleeping, no lock held for long). In a legacy session, elicit(), sample() and
  /// roots() fail at once (Errc::invalid_argument) instead of waiting for the client; 2026-07-28
  /// input rounds work (they answer input_required). Its stop token does not fire while it
  /// runs. Calls as tasks, and execute_tool(), are not affected.
  bool run_inline = false;
};

/// Reads a resource: its contents (one item or more; text or base64 blob). For a template,
/// `variables` holds what the URI gave each of its variables (percent-decoded).
using ResourceReader = std::function<Result<std::vector<ResourceContents>>(
    const std::string& uri, const std::map<std::string, std::string>& variables, RequestContext& context)>;
/// Completes an argument (a prompt's) or a variable (a template's): values for `name` starting
/// from what the user typed (`value`), given the `context` arguments already chosen. At most
/// 100 are sent (the count of all is sent as `total`).
using Completer = std::function<std::vector<std::string>(const std::string& name, const std::string& value,
                                                         const std::map<std::string, std::string>& context)>;

/// A resource at a fixed URI.
struct ServerResource {
  std::string uri{};                        ///< unique within the server
  std::string name{};                       ///< programmatic name (required)
  std::optional<std::string> title{};       ///< display name
  std::optional<std::string> description{};  ///< what the resource is
  std::optional<std::string> mime_type{};  ///< its MIME type
  std::optional<std::int64_t> size{};       ///< bytes, if known
  nlohmann::json annotations{};             ///< audience, priority, lastModified; or null
  std::vector<Icon> icons{};                ///< as ServerTool::icons
  ResourceReader read{};                    ///< required
};

/// A family of resources named by an RFC 6570 URI template: `{name}` is one path segment (no
/// '/', '?' or '#'), `{+name}` anything (reserved expansion); the rest must match as written.
struct ServerResourceTemplate {
  std::string uri_template{};               ///< e.g. "file:///logs/{day}.txt"
  std::string name{};                       ///< programmatic name (required)
  std::optional<std::string> title{};  ///< display name
  std::optional<std::string> description{};  ///< what the template names
  std::optional<std::string> mime_type{};   ///< of the resources it names
  nlohmann::json annotations{};  ///< the MCP annotations object (audience, priority); null: none
  std::vector<Icon> icons{};                ///< as ServerTool::icons
  ResourceReader read{};                    ///< required
  Completer complete{};                     ///< optional: values for its variables
};

/// Renders a prompt from its arguments (required ones are checked before it runs).
using PromptHandler =
    std::function<Result<GetPromptResult>(const std::map<std::string, std::string>& arguments, RequestContext& context)>;

/// A prompt template.
struct ServerPrompt {
  std::string name{};                       ///< unique within the server
  std::optional<std::string> title{};  ///< display name
  std::optional<std::string> description{};  ///< what the prompt is for
  std::vector<PromptArgument> arguments{};  ///< the arguments the prompt takes
  std::vector<Icon> icons{};                ///< as ServerTool::icons
  PromptHandler get{};                      ///< required
  Completer complete{};                     ///< optional: values for its arguments
};

class HttpHost;  // <mcp/server_http.hpp>

/// An MCP server: its tools, and the hosts that serve them.
class Server {
 public:
  explicit Server(ServerOptions options);  ///< a server with no tools yet; nothing is served until a host runs
  ~Server();
  Server(const Server&) = delete;
  Server& operator=(const Server&) = delete;

  /// Adds a tool. Fails with Errc::invalid_argument for an empty or taken name, no handler, a
  /// schema that does not compile, or an icon that is not an http(s) or data: URI (or whose
  /// theme is not "light"/"dark"); the message says why.
  Result<void> add_tool(ServerTool tool);

  /// Adds a resource, a resource template or a prompt (Errc::invalid_argument for a missing
  /// name, URI or handler, a taken URI or name, a template that does not parse, or an icon as
  /// add_tool refuses it).
  Result<void> add_resource(ServerResource resource);
  Result<void> add_resource_template(ServerResourceTemplate resource_template);  ///< see add_resource()
  Result<void> add_prompt(ServerPrompt prompt);  ///< see add_resource()
  /// Removes a tool, resource or prompt; false if there was none. Connected clients are told
  /// the list changed.
  bool remove_tool(std::string_view name);
  bool remove_resource(std::string_view uri);  ///< see remove_tool()
  bool remove_prompt(std::string_view name);  ///< see remove_tool()

  /// Tell connected clients that a list changed (tools, resources, prompts: sent by add_* and
  /// remove_* themselves), or that a resource changed (to clients subscribed to its URI).
  void notify_tools_changed();
  void notify_resources_changed();  ///< see notify_tools_changed()
  void notify_prompts_changed();  ///< see notify_tools_changed()
  void notify_resource_updated(std::string_view uri);  ///< see notify_tools_changed()

  /// Who the server is.
  [[nodiscard]] const ServerIdentity& info() const;
  /// The server as the MCP Registry's server detail describes it (Mastra's `getServerDetail()`):
  /// {id, name, description, repository, version_detail: {version, release_date, is_latest},
  /// package_canonical, packages, remotes}, from ServerIdentity and its `registry`.
  [[nodiscard]] nlohmann::json detail() const;
  /// The tools as `tools/list` gives them, in the order they were added.
  [[nodiscard]] std::vector<ToolDefinition> tool_infos() const;
  [[nodiscard]] std::optional<ToolDefinition> tool_info(std::string_view name) const;  ///< one tool as `tools/list` gives it; nullopt: no such tool
  [[nodiscard]] std::vector<Resource> resource_infos() const;  ///< the resources as `resources/list` gives them
  [[nodiscard]] std::vector<ResourceTemplate> resource_template_infos() const;  ///< the templates as `resources/templates/list` gives them
  [[nodiscard]] std::vector<Prompt> prompt_infos() const;  ///< the prompts as `prompts/list` gives them

  /// Runs a tool directly, with no client and no transport (arguments checked as for
  /// `tools/call`; the context has Era::unknown, no client, a stop token that never fires).
  /// Errc::tool_not_found for an unknown tool, Errc::invalid_argument for arguments the input
  /// schema refuses.
  Result<CallToolResult> execute_tool(std::string_view name, const nlohmann::json& arguments);

  /// Serves one client over stdin and stdout (newline-delimited JSON-RPC) until stdin ends;
  /// then what still runs may answer within ServerOptions::shutdown_grace before it is
  /// cancelled, and this returns once every handler has returned. Nothing but protocol
  /// messages is written to stdout.
  Result<void> serve_stdio();
  /// The same over two descriptors of the caller's (not closed here).
  Result<void> serve_stdio(int in_fd, int out_fd);

  struct Impl;

 private:
  friend class HttpHost;  // serves impl_ over HTTP (server/http_host.cpp)
  std::shared_ptr<Impl> impl_;
};

}  // namespace mcp
