// SPDX-License-Identifier: MIT
#pragma once
// The server's insides, shared by its hosts (stdio_host.cpp; HTTP later): the registry, the
// protocol (dispatch.cpp: both eras, decided per request) and the handler threads.
#include <mcp/server.hpp>

#include "../lib/client/tool_headers.hpp"
#include "../lib/protocol/diagnostic.hpp"
#include "../lib/protocol/schema_validator.hpp"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <array>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <deque>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
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
inline constexpr const char* kMetaSubscriptionId = "io.modelcontextprotocol/subscriptionId";
inline constexpr const char* kMetaRelatedTask = "io.modelcontextprotocol/related-task";
inline constexpr const char* kTasksExtension = "io.modelcontextprotocol/tasks";

// A request's log level that lets no message through (modern requests without logLevel).
inline constexpr int kNoLogs = 100;

// The tasks extension (tasks.cpp): whether a request's client capabilities declare it, and the
// -32021 error (data.requiredCapabilities) for a request that needs it.
bool declares_tasks_extension(const json& client_capabilities);
Error missing_tasks_extension(const std::string& why);

// The JSON-RPC answer to request `id` with `result` (null: {}), appended to `out` as it is, in
// the order a message object's members would have (id, jsonrpc, result): no message object is
// built around the result. False when a value is too deep to write (then `out` is not whole).
bool append_result_message(std::string& out, const json& id, const json& result);

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

// Whether a handler ran long on a host's own thread (Connection::run_on_host): then its calls
// go to the handler threads for a while (1 s, doubling with each time it ran long again).
struct Slowness {
  std::atomic<std::int64_t> pool_until_ms{0};  // steady clock; 0: it never ran long
  std::atomic<int> strikes{0};
  [[nodiscard]] bool pool_now() const {
    const auto until = pool_until_ms.load(std::memory_order_relaxed);
    return until != 0 && steady_ms() < until;
  }
  void mark() {
    const int k = std::min(strikes.fetch_add(1, std::memory_order_relaxed), 30);
    pool_until_ms.store(steady_ms() + (std::int64_t{1000} << k), std::memory_order_relaxed);
  }
  static std::int64_t steady_ms() {
    return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now().time_since_epoch()).count();
  }
};

// Set on a host's thread while a handler runs there (Connection::run_on_host): called before
// the handler waits for the client (legacy elicit/sample/roots), so that the host lets another
// thread do its I/O meanwhile.
struct BlockingHook {
  virtual void will_block() = 0;

 protected:
  ~BlockingHook() = default;
};
extern thread_local BlockingHook* blocking_hook;

// What a legacy client said of itself in `initialize`.
struct ClientDeclared {
  Implementation info;
  json capabilities = json::object();
};

// A request id as a map key: its JSON text ("7" and "\"7\"" differ, as they must); integers
// written without the serializer.
std::string id_key(const json& id);

// One client's channel as a host gives it to the protocol: how answers and notifications go
// out, and what the client said about itself (legacy: in `initialize`).
class Connection {
 public:
  virtual ~Connection() = default;
  // A request to the client about request `about` (legacy elicitation, sampling, roots),
  // waited for on the calling (handler) thread. Hosts that cannot: Errc::invalid_argument.
  virtual Result<json> request(const json& about, const std::string& method, json params, std::stop_token stop,
                               std::chrono::steady_clock::time_point deadline) {
    (void)about, (void)method, (void)params, (void)stop, (void)deadline;
    return fail(Errc::invalid_argument, "this connection cannot send requests to the client");
  }
  // Lets the client poll for request `about`'s answer (RequestContext::close_stream); false
  // where there is no stream to let go of, or it could not be resumed.
  virtual bool close_stream(const json& about, std::chrono::milliseconds retry) {
    (void)about, (void)retry;
    return false;
  }
  // Runs `task` (a handler's run, answering for itself) on the host's own thread instead of a
  // handler thread, where the host can hand its I/O to another thread when the task runs long
  // or waits (HttpHost: the I/O threads, outside the connection's strand); `slow` is marked
  // when it ran long. False (task untouched): the caller uses the handler threads.
  virtual bool run_on_host(std::function<void()>& task, const std::shared_ptr<Slowness>& slow) {
    (void)task, (void)slow;
    return false;
  }
  // The answer to request `id` (a host over HTTP sends it on that request's response).
  virtual void respond(const json& id, Result<json> r) = 0;
  // A notification about request `about` (progress, a log line of its handler: over HTTP on
  // that request's response stream), or about none (null: list changes, resource updates).
  virtual Result<void> notify(const json& about, const std::string& method, json params) = 0;

  // A legacy HTTP session's id (Mcp-Session-Id, or HTTP+SSE sessionId); empty for stdio and
  // sessionless channels. Set before the connection is shared, then constant.
  std::string session_id;

  // Legacy session state (guarded by m).
  std::mutex m;
  bool initialized = false;     // `initialize` answered
  std::string legacy_version;   // what it negotiated
  // What `initialize` said of the client (null before: no info, no capabilities): shared with
  // every request's context, not copied into each.
  std::shared_ptr<const ClientDeclared> client;
  int log_level = -1;           // logging/setLevel (-1: not set: everything goes)
  // Requests being handled, by id_key, for notifications/cancelled (a stop_source is a shared
  // handle on its stop state: the handler's token sees what this one requests).
  std::map<std::string, std::stop_source> running;
  std::set<std::string> subscriptions;  // legacy resources/subscribe
  std::condition_variable idle;  // notified when a request leaves `running`
  bool closing = false;         // the client went away: new work is refused, running work stopped
};


// Who an authorization speaks for, as tasks and sessions remember it (empty without one).
inline std::string principal_of(const AuthInfo* a) {
  return a ? a->issuer + '\n' + a->subject + '\n' + a->client_id : std::string();
}

// An RFC 6570 template as far as resource templates use it: literals, `{name}` (one path
// segment) and `{+name}` (anything). Parsed once; matched in time linear in the URI.
class UriTemplate {
 public:
  // nullopt for a template that does not parse (an unclosed brace, an empty or odd name).
  static std::optional<UriTemplate> parse(const std::string& text);
  // The variables `uri` gives (percent-decoded), if it matches.
  [[nodiscard]] std::optional<std::map<std::string, std::string>> match(std::string_view uri) const;
  [[nodiscard]] bool has_variable(std::string_view name) const;

 private:
  struct Part {
    std::string literal;  // a literal, or
    std::string name;     // a variable
    bool reserved = false;
  };
  static constexpr std::size_t kMaxUri = 4096;  // longer URIs match no template
  std::vector<Part> parts_;
};


}  // namespace mcp::server_detail

namespace mcp {

struct RequestContext::Impl {
  Era era = Era::unknown;
  std::string protocol_version;
  // The client: legacy, what its session's `initialize` said (shared); 2026-07-28, its info
  // from `_meta` (`modern_info`) and its capabilities read where they are, in `meta`.
  std::shared_ptr<const server_detail::ClientDeclared> session_client;
  Implementation modern_info;
  [[nodiscard]] const Implementation& client_info() const {
    static const Implementation kNone;
    return era == Era::modern ? modern_info : session_client ? session_client->info : kNone;
  }
  [[nodiscard]] const nlohmann::json& client_capabilities() const;
  nlohmann::json meta;  // the request's `_meta`; null: none (read as {})
  std::stop_token stop;
  int log_level = -1;
  std::shared_ptr<server_detail::Connection> connection;  // null for execute_tool
  nlohmann::json id;  // the request's id
  std::chrono::milliseconds client_request_timeout{60000};
  // 2026-07-28 input rounds (tools/call, resources/read, prompts/get): answers by key, from the
  // sealed requestState and this round's inputResponses; what the handler asked for and has no
  // answer to; the number of questions asked so far in this run of the handler (the default
  // keys); every key this run asked, answered or not (what a new requestState carries).
  bool input_rounds = false;
  nlohmann::json answers;  // null until the first (as empty as an empty object to every reader)
  nlohmann::json asked;
  int questions = 0;
  std::set<std::string> keys;
  std::string input_method, input_digest;  // what a sealed state is bound to (the digest: once needed)
  // The request's params (its `_meta` taken out): the digest is of their name, uri and
  // arguments, built only when a state is opened or sealed; tools/call reads its arguments here.
  nlohmann::json input_params;
  // The handler runs on the thread that read the request (ServerTool::run_inline): it must not
  // wait for the client.
  bool inline_run = false;
  // A task's run (tasks.cpp): its id; legacy: told when the handler waits for the client's
  // answer (the task is input_required meanwhile).
  std::string task_id;
  std::function<void(bool waiting)> task_waiting;
  // Who asked (HttpHost with auth), or null.
  std::shared_ptr<const AuthInfo> auth;
};

struct Server::Impl : std::enable_shared_from_this<Server::Impl> {
  using json = nlohmann::json;
  struct Tool {
    ServerTool spec;
    ToolDefinition info;
    std::shared_ptr<const detail::SchemaValidator> input, output;
    std::vector<detail::ParamHeader> param_headers;  // x-mcp-header: mirrored in Mcp-Param-* (HTTP)
    // Ran long on a host's thread: to the handler threads for a while (run_on_pool).
    std::shared_ptr<server_detail::Slowness> slow = std::make_shared<server_detail::Slowness>();
  };
  struct ResourceEntry {
    ServerResource spec;
    Resource info;
  };
  struct TemplateEntry {
    ServerResourceTemplate spec;
    ResourceTemplate info;
    server_detail::UriTemplate uri;
  };
  struct PromptEntry {
    ServerPrompt spec;
    Prompt info;
  };

  explicit Impl(ServerOptions o);

  // Tasks (tasks.cpp): the 2025-11-25 utility (legacy sessions at that revision) and the
  // 2026-07-28 extension. Guarded by tasks_m.
  struct TaskRecord {
    std::string id;
    std::uint64_t seq = 0;           // creation order (tasks/list cursors)
    bool modern = false;
    std::weak_ptr<server_detail::Connection> owner;  // legacy: the session the task belongs to
    const server_detail::Connection* owner_ptr = nullptr;
    std::string status = "working";
    std::string message;             // statusMessage
    std::int64_t created_ms = 0, updated_ms = 0;  // wall clock, ms since the epoch
    std::int64_t ttl_ms = 0;
    std::chrono::steady_clock::time_point expires;
    std::optional<Result<json>> outcome;  // the underlying request's answer, once done
    std::shared_ptr<std::stop_source> stop;
    std::shared_ptr<RequestContext::Impl> ctx;
    std::shared_ptr<const Tool> tool;
    json args;
    bool legacy_invalid = false;
    json outstanding = json::object();   // 2026-07-28: inputRequests not answered yet
    std::string principal;           // who created it (an HttpHost with auth), else empty: only they find it
    std::vector<std::pair<std::weak_ptr<server_detail::Connection>, json>> waiters;  // tasks/result
  };
  using TaskWaiters = std::vector<std::pair<std::weak_ptr<server_detail::Connection>, json>>;
  using DroppedTasks = std::vector<std::pair<std::shared_ptr<TaskRecord>, TaskWaiters>>;
  std::mutex tasks_m;
  std::map<std::string, std::shared_ptr<TaskRecord>> tasks;
  std::uint64_t task_seq = 0;
  // Any tool runs as a task: the capability (legacy) / extension (modern) is declared.
  [[nodiscard]] bool tasks_enabled() const;
  // tools/call as a task: answers the CreateTaskResult, runs the handler on the pool.
  void start_task(const std::shared_ptr<server_detail::Connection>& c, const json& id,
                  const std::shared_ptr<RequestContext::Impl>& ctx, std::shared_ptr<const Tool> tool, json args,
                  bool legacy_invalid, std::optional<std::int64_t> requested_ttl);
  // tasks/get, tasks/result, tasks/list, tasks/cancel, tasks/update (true: `method` was one).
  bool task_method(const std::shared_ptr<server_detail::Connection>& c, const json& id, const std::string& method,
                   const json& params, const RequestContext::Impl& ctx);
  void cancel_all_tasks();
  void run_task(const std::shared_ptr<TaskRecord>& rec);
  // The handler's run ended with `r` (`asked`: 2026-07-28, it waits for the client's input).
  void finish_task(const std::shared_ptr<TaskRecord>& rec, Result<json> r, bool asked);
  void set_task_status(const std::shared_ptr<TaskRecord>& rec, const std::string& status, const std::string& message);
  void prune_tasks(DroppedTasks& dropped);  // under tasks_m
  void after_prune(DroppedTasks& dropped);  // outside it
  // 2026-07-28: notifications/tasks to the subscriptions/listen streams that asked for the task.
  void notify_task_listeners(const std::string& task_id, const json& task);

  ServerOptions options;
  // What diagnose() calls (on_diagnostic and on_log), also given to the hosts' JSON-RPC
  // channels, whose engines say which request a diagnostic is about. Empty when both are.
  detail::DiagnosticSink diagnostics;
  server_detail::HandlerPool pool;
  mutable std::mutex m;  // the registries
  std::vector<std::shared_ptr<const Tool>> tools;
  std::vector<std::shared_ptr<const ResourceEntry>> resources;
  std::vector<std::shared_ptr<const TemplateEntry>> templates;
  std::vector<std::shared_ptr<const PromptEntry>> prompts;
  // 2026-07-28 subscriptions/listen streams: what each asked for (and was granted).
  struct Listener {
    std::weak_ptr<server_detail::Connection> connection;
    json id;                        // the listen request's id: the subscriptionId
    bool tools = false, prompts = false, resources = false;
    std::set<std::string> uris;     // resourceSubscriptions
    std::set<std::string> task_ids; // taskIds (tasks extension)
    std::shared_ptr<std::stop_source> stop;
    std::unique_ptr<std::stop_callback<std::function<void()>>> on_stop;
  };
  std::mutex listeners_m;
  std::vector<std::shared_ptr<Listener>> listeners;
  void listen(const std::shared_ptr<server_detail::Connection>& c, const json& id, const json& params,
              const json& client_caps, const AuthInfo* auth = nullptr);
  // The hosts' connections, for list changes and resource updates (pruned as they end).
  std::mutex connections_m;
  std::vector<std::weak_ptr<server_detail::Connection>> connections;
  std::size_t prune_connections_at = 64;  // connections' size at which add_connection prunes
  void prune_connections();                // drops the ended ones
  void prune_connections_locked();

  template <class T>
  std::vector<std::shared_ptr<const T>> snapshot(const std::vector<std::shared_ptr<const T>>& v) const {
    std::lock_guard lk(m);
    return v;
  }
  [[nodiscard]] std::shared_ptr<const Tool> find_tool(std::string_view name) const;
  [[nodiscard]] std::shared_ptr<const PromptEntry> find_prompt(std::string_view name) const;
  // The resource at `uri`, else the first template matching it (its variables in `variables`).
  [[nodiscard]] std::pair<std::shared_ptr<const ResourceEntry>, std::shared_ptr<const TemplateEntry>> find_resource(
      const std::string& uri, std::map<std::string, std::string>& variables) const;
  // To on_diagnostic (the text) and on_log (with the request concerned: `about`).
  void diagnose(std::string_view what, detail::DiagnosticAbout about = {}) const;

  // The protocol (dispatch.cpp). Called on the host's reading thread; never blocks.
  // `auth`: who asked (an HttpHost with auth), or null.
  void dispatch(const std::shared_ptr<server_detail::Connection>& c, json id, std::string method, json params,
                std::shared_ptr<const AuthInfo> auth = nullptr);
  // notifications/cancelled, notifications/initialized, ... (reading thread).
  void notification(const std::shared_ptr<server_detail::Connection>& c, const std::string& method, const json& params);
  // The client went away: stop what runs for it.
  static void close(server_detail::Connection& c);
  // A host's connection, told about list changes and resource updates while it lives.
  void add_connection(const std::shared_ptr<server_detail::Connection>& c);
  // Sends a notification to every live legacy connection (subscribed to `uri`, when given).
  void broadcast(const std::string& method, const json& params, const std::string* uri = nullptr);

  // Runs `work` on the handler threads as request `id`: cancellable (its stop token), answered
  // unless cancelled, the result finished for its era.
  // `inline_run` (ServerTool::run_inline): on the calling (reading) thread instead, at once.
  // `on_host` (a tool's Slowness, ServerOptions::handlers_on_io_threads): on the host's own
  // thread where it offers one (Connection::run_on_host) and the tool did not run long lately.
  // `work`: a callable returning Result<json> (defined in dispatch.cpp, its only user: the
  // work and the run's bookkeeping are one allocation).
  template <class Work>
  void run_on_pool(const std::shared_ptr<server_detail::Connection>& c, const json& id,
                   const std::shared_ptr<RequestContext::Impl>& ctx, Work work, bool cacheable = false,
                   bool inline_run = false, const std::shared_ptr<server_detail::Slowness>& on_host = nullptr);
  // A run's outcome answered for its era (run_on_pool).
  void deliver(const std::shared_ptr<server_detail::Connection>& c, const json& id, const RequestContext::Impl& ctx,
               Result<json> r, bool cacheable);
  // Hands a registered request's run to the handler threads; a full queue answers "server busy".
  void submit_or_refuse(const std::shared_ptr<server_detail::Connection>& c, const json& id, const std::string& key,
                        std::function<void()> task);
  // Runs a tool's handler with the arguments checked: what tools/call and execute_tool share.
  // `legacy_invalid_params`: arguments the schema refuses are a -32602 error (revisions before
  // 2025-11-25), else an isError result.
  Result<CallToolResult> run_tool(const Tool& tool, const json& arguments, RequestContext::Impl& ctx,
                                  bool legacy_invalid_params);
  Result<json> run_reader(const ResourceReader& reader, const std::string& uri,
                          const std::map<std::string, std::string>& variables, RequestContext::Impl& ctx);
  Result<json> run_prompt(const PromptEntry& prompt, const std::map<std::string, std::string>& args,
                          RequestContext::Impl& ctx);
  void complete(const std::shared_ptr<server_detail::Connection>& c, const json& id, const json& params,
                const std::shared_ptr<RequestContext::Impl>& ctx);
  // 2026-07-28 input rounds: reads the retry's requestState and inputResponses into ctx (false
  // and an error answered when the state is not ours, expired or for another request), and
  // builds the input_required result once a handler asked.
  // The params are moved into ctx.input_params (tools/call reads its arguments there).
  bool open_input_state(const std::shared_ptr<server_detail::Connection>& c, const json& id, const std::string& method,
                        json& params, RequestContext::Impl& ctx);
  [[nodiscard]] json input_required_result(const RequestContext::Impl& ctx) const;
  std::string state_key;  // 32 bytes (options.input_state_key, or random)
  [[nodiscard]] json identity_json() const;
  json identity_cached;  // identity_json(), built once (the identity does not change)
  // A finished result's _meta naming the server ({kMetaServerInfo: identity}): as text, and as
  // a raw_json value (json_write.hpp) of it; both empty if the identity could not be written.
  std::string server_info_meta_text;
  json server_info_meta;
  // What the server declares (legacy, modern): built once per change of the registries (every
  // request asks), shared; capabilities_now() builds it (under m).
  [[nodiscard]] std::shared_ptr<const json> capabilities(bool modern) const;
  [[nodiscard]] json capabilities_now(bool modern) const;
  mutable std::array<std::shared_ptr<const json>, 2> caps_cache;  // guarded by m; reset whenever a registry changes
  // A result as its era wants it: modern results say they are complete and who answered, and
  // cacheable ones for how long.
  [[nodiscard]] json finish(bool modern, json result, bool cacheable) const;
  // A tool's result as its answer (not cacheable). A plain one (what text_result builds:
  // blocks of nothing but their fields; no structured content, _meta or other members) is
  // written at once, finished for its era, as a raw_json value that deliver() sends as it is
  // (no tree built and torn down); any other is the tree (deliver finishes it).
  [[nodiscard]] json tool_answer(bool modern, CallToolResult&& r) const;
};

}  // namespace mcp
