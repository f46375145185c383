// SPDX-License-Identifier: MIT
#pragma once
// Session::Impl, shared by the files of lib/client/ that make up a session: connect.cpp (probe,
// handshakes), pipeline.cpp (requests), server_requests.cpp, listener.cpp, listings.cpp.
#include <mcp/session.hpp>

#include "client_engine.hpp"
#include "../server_error.hpp"
#include "request_meta.hpp"
#include "result_cache.hpp"
#include "tool_headers.hpp"
#include "trace_context.hpp"
#include "transport_choice.hpp"

#include <atomic>
#include <condition_variable>
#include <set>
#include <thread>

namespace mcp {

namespace detail {
class SchemaValidator;
}  // namespace detail

struct Session::Impl : std::enable_shared_from_this<Session::Impl> {
  using Clock = Transport::Clock;
  using Engine = std::shared_ptr<detail::ClientEngine>;
  using Opened = std::pair<Engine, ServerInfo>;  // a connection and what its handshake learnt
  using Connection = std::pair<Engine, std::shared_ptr<const ServerInfo>>;

  std::string name;
  ServerConfig cfg;
  // What the session inherits from its client (its `servers` and `id` are not used here).
  ClientConfig client;
  detail::TransportTraits transport;
  detail::RequestMeta meta{client};
  detail::ResultCache cache;

  std::mutex connect_mutex;  // one connection attempt at a time
  mutable std::mutex mutex;  // guards everything below
  Engine engine;
  ServerInfo info;
  // An immutable copy of `info`, replaced whenever `info` changes, so that a request takes a
  // reference to it instead of copying it (capabilities and all) every time.
  std::shared_ptr<const ServerInfo> shared_info;
  Era verdict = Era::unknown;       // cached era, survives reconnects
  std::string modern_version;       // the modern revision agreed on
  // Bumped by disconnect() (under `mutex`); read without it by a request that starts
  // (generation_now: an atomic load, no lock per call).
  std::atomic<std::uint64_t> generation{0};
  // Connections closed on one of their own threads (disconnect() from a completion or a
  // handler), which that close could not wait for (ClientEngine::close_deferred): the next
  // disconnect() or the destructor closes them again from its own thread, waiting for them.
  std::vector<Engine> retired;
  std::uint64_t session_epoch = 0;  // bumped by each transparent re-initialisation
  // Set by ~Session: what still follows a task (a ToolTask, an async call) stops instead of
  // opening a new connection.
  std::atomic<bool> closed{false};
  // Modern change notifications (listener.cpp): a listener thread keeps one
  // subscriptions/listen open while ClientHandlers::on_change is set.
  struct Listener {
    std::thread thread;
    std::uint64_t gen = 0;  // a listener runs while this still equals the value it started with
    std::condition_variable cv;
    std::optional<std::stop_source> cancel;  // cancels the current listen (re-filter, stop)
    nlohmann::json id;                       // its JSON-RPC id = the subscription id
    std::set<std::string> resource_subscriptions;
  } listener;
  // Tool name -> its compiled outputSchema, or why it cannot be used (from the last tools/list).
  std::map<std::string, tl::expected<std::shared_ptr<const detail::SchemaValidator>, std::string>> output_schemas;
  // HTTP: tool name -> arguments mirrored into Mcp-Param-* headers (from the last tools/list)
  std::map<std::string, std::vector<detail::ParamHeader>> param_headers;

  Impl(std::string n, ServerConfig c, ClientConfig d);

  Milliseconds request_timeout(const RequestOptions& o) const {
    if (o.timeout) return *o.timeout;
    if (cfg.request_timeout) return *cfg.request_timeout;
    return client.request_timeout;
  }
  // An authorization the probe meets (a 401) does not count against it: the transport holds
  // the request meanwhile.
  Milliseconds probe_timeout() const { return cfg.probe_timeout.value_or(client.probe_timeout); }
  // Called from reader, worker and flight threads as well as the caller's: what the user's
  // callback throws is dropped, so a diagnostic can never end the process. Goes to
  // on_diagnostic and on_log alike (the latter with the method and JSON-RPC id concerned, when known).
  void diagnostic(const std::string& msg, std::string_view method = {}, std::uint64_t request_id = 0) const noexcept;

  // session_log.cpp: ClientConfig::on_log. What a message must not quote (configured header and
  // environment values, the URL's userinfo and query), and the target connection events name
  // (the URL without userinfo and query, or the command without its arguments). Set by the
  // constructor when on_log is, which also routes a stdio server's stderr lines to it.
  std::vector<std::string> log_secrets;
  std::string log_target;
  bool had_connection = false;  // guarded by mutex: connected since creation or disconnect()
  void prepare_log();
  // One event to on_log (if set; never under `mutex`: the hook may call the client). `si`
  // gives its era, transport and protocol version.
  void log(LogKind kind, LogLevel level, std::string_view message, const ServerInfo* si = nullptr,
           std::string_view method = {}, std::uint64_t request_id = 0) const noexcept;
  // connect.cpp's events for a new connection: era_detected (`detected`: the era was probed),
  // fell_back_to_sse, then connected or (`again`) reconnected.
  void log_connected(const ServerInfo& si, bool detected, bool again) const;

  // connect.cpp: the connection, the era, the handshakes.
  Result<Connection> ensure(const RequestOptions& opt);
  Result<Engine> open_engine();
  bool publish(const Engine& eng, std::uint64_t gen);
  Result<Opened> connect_locked(const RequestOptions& opt);
  Result<Opened> known_modern(const Engine& eng, const RequestOptions& opt);
  Result<Opened> detect(Engine eng, std::uint64_t gen, const RequestOptions& opt);
  Result<Opened> legacy_on_fresh_process(const Engine& eng, std::uint64_t gen, const RequestOptions& opt);
  Result<Opened> legacy_after_silent_probe(const Engine& eng, const std::shared_ptr<detail::ClientEngine::Pending>& probe,
                                           const RequestOptions& opt);
  Result<Opened> opened_legacy(const Engine& eng, const RequestOptions& opt);  // the handshake, as a connection
  Result<ServerInfo> handshake_legacy(const Engine& eng, const RequestOptions& opt);
  Result<ServerInfo> finish_legacy(const Engine& eng, const nlohmann::json& r);
  Result<ServerInfo> reinitialize(const Engine& eng, std::uint64_t seen_epoch, const RequestOptions& opt);
  void disconnect();
  // A request's next round (multi round-trip input) after a disconnect() since `gen` (the
  // generation when it started): it ends, rather than open a new connection.
  std::uint64_t generation_now() const;
  std::optional<Error> disconnected_since(std::uint64_t gen, const std::string& method) const;

  // pipeline.cpp: a request, from the cache to the checked result.
  Result<nlohmann::json> request(std::string_view method, nlohmann::json params, const RequestOptions& opt,
                                 const SendOptions& send_options = {}) {
    return request_lent(method, params, opt, send_options);
  }
  // `params` are lent (ClientEngine::call_lent): the caller gets them back, as last sent, for a
  // retry of its own without copying them.
  Result<nlohmann::json> request_lent(std::string_view method, nlohmann::json& params, const RequestOptions& opt,
                                      const SendOptions& send_options = {});
  // request_lent without ClientConfig::on_request's events (what request_lent observes).
  Result<nlohmann::json> request_unobserved(const std::string& method, nlohmann::json& params,
                                            const RequestOptions& opt, const SendOptions& send_options);
  // The trace context to send with one request: RequestOptions::trace (malformed: an error),
  // else ClientConfig::trace_context's (malformed members dropped and reported). Call only when
  // either is set.
  Result<std::optional<TraceContext>> trace_for(std::string_view method, const RequestOptions& opt) const;
  // The era as known now (for on_request's events).
  Era era_now() const;
  Result<nlohmann::json> request_once(const std::string& method, nlohmann::json& params, const RequestOptions& opt,
                                      const SendOptions& send_options);
  Result<nlohmann::json> check_result(const std::string& method, nlohmann::json r) const;
  // The next round of a multi round-trip request (`ir`: the input_required result): the
  // checks, the input requests fulfilled (the user's handlers: may block), `current` updated.
  Result<void> next_round(const std::string& method, int round, const std::optional<Clock::time_point>& overall,
                          nlohmann::json ir, nlohmann::json& current) const;
  // What a failed attempt allows: another try as is (a lost stream), after re-initialising (an
  // expired legacy session), or with another modern revision (`version`).
  struct Again {
    enum Kind { no, resend, reinitialize, other_version } kind = no;
    std::string version;
  };
  static Again again(Era era, int attempt, const Error& e, std::string_view version);
  std::shared_ptr<const ServerInfo> adopt_version(const std::shared_ptr<const ServerInfo>& si, const std::string& v);
  detail::ProgressOptions progress_options(const RequestOptions& opt) const;
  void remember(const std::string& key, const nlohmann::json& r);

  // A listing's first page sent and not yet awaited (SessionAccess::first_pages): what
  // request() does for it, split at the wait.
  struct Flight {
    std::string method;
    Engine eng;
    std::shared_ptr<detail::ClientEngine::Pending> pending;
    Era era = Era::unknown;
    Clock::time_point deadline;
    std::string cache_key;                       // empty: not cached (RequestOptions::no_cache)
    std::optional<Result<nlohmann::json>> done;  // settled without a reply (the cache, or a failure to send)
    detail::RequestSpan span;                    // ClientConfig::on_request
  };
  Flight send_first(const std::string& method, const RequestOptions& opt);
  Result<nlohmann::json> finish_first(Flight& f, const RequestOptions& opt);
  Result<nlohmann::json> finish_unobserved(Flight& f, const RequestOptions& opt);

  // tasks.cpp: a tools/call answered with a task (the tasks extension), followed to its end.
  struct TaskStep {
    enum Kind { done, poll, input } kind = done;
    Result<nlohmann::json> outcome = nlohmann::json();  // done: the tool's result, or why not
    Milliseconds wait{10};                              // poll: the server's poll interval
    nlohmann::json requests;                            // input: the task's inputRequests
  };
  static bool is_task(const nlohmann::json& r);  // resultType "task"
  TaskStep task_step(const nlohmann::json& task) const;
  Result<nlohmann::json> task_answers(const nlohmann::json& requests) const;  // the handlers' (may block)
  static RequestOptions task_request_options(const RequestOptions& opt, Clock::time_point deadline);
  Clock::time_point task_deadline(const RequestOptions& opt, Clock::time_point started) const;
  // `deadline` moved by the time the handlers took to answer a task's input (never overflowing).
  static Clock::time_point extended(Clock::time_point deadline, Clock::duration by);
  void cancel_task(const std::string& task_id, const RequestOptions& opt);  // best effort, blocking
  Result<nlohmann::json> follow_task(nlohmann::json task, const RequestOptions& opt, Clock::time_point started);

  // session.cpp: what the typed requests send and make of their results.
  Result<nlohmann::json> tool_call_params(std::string_view tool, nlohmann::json arguments) const;
  Result<SendOptions> tool_send_options(std::string_view tool, const nlohmann::json& params);
  bool relist_on(const Error& e) const;  // a tools/call failure that re-listing may cure
  static void strip_for_retry(nlohmann::json& params);
  Result<CallToolResult> tool_result(const std::string& tool, nlohmann::json r);
  Result<ReadResourceResult> read_result(const std::string& uri, nlohmann::json r) const;
  // Skills (session.cpp): whether the server declared the extension (and directoryRead), a
  // skills/get result, and a read skill file checked against its entry.
  Result<void> skills_declared(const ServerInfo& si, bool directory_read) const;
  Result<Skill> skill_result(const std::string& uri, nlohmann::json r) const;
  Result<void> skill_file_precheck(const Skill& skill, const std::string& uri) const;
  Result<SkillFileContent> skill_file_result(const Skill& skill, const std::string& uri, nlohmann::json r) const;
  static nlohmann::json prompt_params(const std::string& prompt, const std::map<std::string, std::string>& arguments);
  Result<GetPromptResult> prompt_result(const std::string& prompt, nlohmann::json r) const;
  static nlohmann::json complete_params(const nlohmann::json& ref, const std::string& argument,
                                        const std::string& value, const nlohmann::json& context);
  Result<nlohmann::json> completion_result(nlohmann::json r) const;

  // async_session.cpp: the asynchronous pipeline.
  // The open connection, if there is one (never blocks, never connects).
  std::optional<Connection> connected_now() const;
  // Runs a completion that is not settled by an engine (an immediate answer, or one found on a
  // blocking worker): on the client's executor, else on the library's timer thread.
  void post_outcome(std::function<void()> task) const;
  // `watch`: a tools/call whose task a ToolTask handle follows (async_session.cpp).
  void async_request(std::string method, nlohmann::json params, RequestOptions opt, SendOptions so,
                     Callback<nlohmann::json> done, std::shared_ptr<ToolTask::State> watch = nullptr);

  // server_requests.cpp: what the server asks of the client, and what it tells it.
  Result<nlohmann::json> fulfil(const std::string& method, const nlohmann::json& params) const;
  Result<nlohmann::json> fulfil_unguarded(const std::string& method, const nlohmann::json& params) const;
  void on_notification(const std::string& method, const nlohmann::json& params,
                       const std::weak_ptr<detail::ClientEngine>& weak_eng);

  // listener.cpp: the modern subscriptions/listen thread.
  void start_listener_locked();  // under `mutex`
  void listen_loop(std::uint64_t mine);
  nlohmann::json listen_filter(const ServerInfo& si);
  bool is_current_subscription(const nlohmann::json& id) const;
  Result<void> subscribe_modern(const std::string& uri);
  void unsubscribe_modern(const std::string& uri);
  // Stops the listener and hands its thread to the caller (under `mutex`), then join_listener.
  std::thread stop_listener_locked();
  static void join_listener(std::thread& t);
};

}  // namespace mcp
