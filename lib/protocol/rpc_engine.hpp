// SPDX-License-Identifier: MIT
#pragma once
// JSON-RPC 2.0 engine, for either side of the protocol: ids, the pending map, deadlines,
// cancellation, progress, and the peer's requests (answered on a worker thread, so a slow
// handler never blocks reading) and notifications (on the reading thread). What carries the
// messages belongs to a subclass (the client's: lib/client/client_engine, over a Transport).
#include <mcp/error.hpp>
#include <mcp/types.hpp>

#include "async_service.hpp"
#include "diagnostic.hpp"

#include <nlohmann/json.hpp>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <list>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <stop_token>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

namespace mcp::detail {

/// Progress handling for one request.
struct ProgressOptions {
  std::function<void(const Progress&)> on_progress;
  bool reset_timeout = false;                          ///< each notification restarts the timeout...
  std::chrono::steady_clock::duration timeout{};       ///< ...of this length...
  std::chrono::steady_clock::time_point hard_deadline{};  ///< ...but never past this
};

/// What a wait does when it gives up (timeout, or its stop token).
struct WaitOptions {
  /// Tell the peer (`notifications/cancelled`) that the request was given up.
  bool cancel_on_abort = true;
  /// On timeout, the request stays registered, so that a late reply can still be collected
  /// by another wait (the era probe uses this).
  bool keep_on_timeout = false;
};

/// Runs a task somewhere (an application's executor); empty: where the engine is.
using Executor = std::function<void(std::function<void()>)>;

/// An asynchronous request: nobody waits for it; `done` is called once with its outcome.
struct AsyncOptions {
  std::function<void(Result<nlohmann::json>)> done;
  std::stop_token stop;  ///< cancels it (the peer is told, as for a waited request)
  /// Where `done` and progress run. Empty: on the engine's thread that settled the request (the
  /// reader of the reply; the timer thread for a timeout or a cancellation; the worker when
  /// handlers for earlier messages are still queued).
  Executor executor;
  bool cancel_on_abort = true;  ///< as WaitOptions::cancel_on_abort
};

class RpcEngine : public std::enable_shared_from_this<RpcEngine> {
 public:
  using Clock = std::chrono::steady_clock;
  using json = nlohmann::json;
  /// Answers a peer's request: a result object, or an Error (sent as a JSON-RPC error;
  /// `rpc_code` is used when set, else jsonrpc::internal_error).
  using RequestHandler = std::function<Result<json>(const std::string& method, const json& params)>;
  using NotificationHandler = std::function<void(const std::string& method, const json& params)>;

  struct Options {
    std::string server;                                  ///< the peer, for error messages
    DiagnosticSink on_diagnostic;                        ///< non-fatal oddities, and the request they concern
    std::function<void(const Error&)> on_closed;         ///< the channel ended by itself
    /// Who the engine works for (the session): what an UnorderedHandlersScope names.
    const void* owner = nullptr;
  };

  using ProgressOptions = detail::ProgressOptions;
  using WaitOptions = detail::WaitOptions;

  /// One request in flight.
  struct Pending {
    std::mutex m;  // guards done, result and deadline
    bool done = false;
    Result<json> result = json();
    std::int64_t id = 0;
    std::string method;
    Clock::time_point deadline;  // moved by progress when reset_timeout is set
    // While the request is held (an authorization is running, a person answers the peer's
    // elicitation) it cannot time out; time spent held moves the deadline. A count: holds of
    // both kinds may overlap.
    int held = 0;
    Clock::time_point held_since{};
    Clock::duration held_total{};
    ProgressOptions progress;
    // Progress notifications not yet given to on_progress (guarded by m). The waiting caller
    // calls on_progress itself, on its own thread: never on a thread that reads the
    // channel, and never after the call returned (the callback may capture its locals).
    std::vector<Progress> progress_updates;  // not a deque: that allocates even when empty
    // The worker's queue length when the reply came (see wait_for_handlers).
    std::uint64_t handlers_before = 0;
    // The waiting caller sleeps on `signal` (a futex word), which is bumped after every change
    // it must see (done, deadline, stop); the futex is woken only when `waiters` says someone
    // sleeps. Cheaper than a condition variable: no mutex to re-take on wake-up, no syscall
    // when the reply comes before the caller waits.
    std::atomic<std::uint32_t> signal{0};
    std::atomic<std::uint32_t> waiters{0};
    // The waiting caller is inside lead() (it reads the channel itself): a change is
    // signalled by interrupt_lead() instead.
    std::atomic<bool> leading{false};
    // An asynchronous request (send_async_lent): no caller waits; settle() hands the result to
    // `on_done` once. Set before the request is registered, never changed after (but for the
    // members guarded by m: on_done, timer, on_stop).
    bool async = false;
    bool cancel_on_abort = true;
    std::function<void(Result<json>)> on_done;
    Executor executor;
    AsyncService::Timer timer;  // its deadline on the timer thread
    std::unique_ptr<std::stop_callback<std::function<void()>>> on_stop;
  };

  /// Subclasses call close() in their destructor (closing the channel is theirs).
  virtual ~RpcEngine();
  RpcEngine(const RpcEngine&) = delete;
  RpcEngine& operator=(const RpcEngine&) = delete;

  void set_request_handler(RequestHandler h);
  void set_notification_handler(NotificationHandler h);
  /// A server's way in: the peer's requests go to `d` on the
  /// thread that read them, instead of the ordered worker and the RequestHandler; `d` must not
  /// block, and answers each request later, from any thread, with respond(). Set it before
  /// the channel delivers anything.
  using RequestDispatcher = std::function<void(json id, std::string method, json params)>;
  void set_request_dispatcher(RequestDispatcher d);
  /// The answer to a peer request that a RequestDispatcher took: a result, or an Error sent as
  /// a JSON-RPC error (its `rpc_code`, else internal error; its message and `data`).
  void respond(const json& id, Result<json> r) { answer(id, std::move(r)); }

  /// Wait for a reply. On timeout or stop the request is forgotten (but see WaitOptions) and,
  /// with `cancel_on_abort`, `notifications/cancelled` is sent.
  [[nodiscard]] Result<json> wait(const std::shared_ptr<Pending>& p, Clock::time_point deadline,
                                  const std::stop_token& stop, WaitOptions options = {});
  /// Runs `task` on the engine's worker thread, after what is already queued there (peer
  /// requests and earlier tasks, in order). For user callbacks that must not run on a thread
  /// reading the channel: they may block, or call the peer. Dropped once closed.
  void post(std::function<void()> task);
  /// True on a thread running an asynchronous request's completion or progress callback for
  /// the engine itself (no executor): a blocking wait there could be waiting for the very
  /// thread it runs on, so wait() refuses it (Errc::invalid_argument).
  [[nodiscard]] static bool in_completion();
  /// The error of a blocking call made where in_completion() is true.
  [[nodiscard]] static Error blocking_in_completion(const std::string& what);
  /// Runs an asynchronous callback that no engine settled (an immediate answer): on `executor`,
  /// else on the timer thread, as a completion (in_completion() is true there).
  static void post_callback(const Executor& executor, std::function<void()> task);
  /// Send a notification.
  [[nodiscard]] Result<void> notify(const std::string& method, json params, Clock::time_point deadline);
  /// Holds every request in flight (their timeouts suspended, as request_held does) until the
  /// list returned is given to release_held(): while the peer's request is answered by a person.
  [[nodiscard]] std::vector<std::weak_ptr<Pending>> hold_all();
  void release_held(const std::vector<std::weak_ptr<Pending>>& held);
  /// Forget a pending request (the caller gave up on it).
  void abandon(const std::shared_ptr<Pending>& p);

  /// Fail every pending request with `reason` and close the channel. Idempotent.
  void close(const Error& reason);
  [[nodiscard]] bool is_open() const;

 protected:
  explicit RpcEngine(Options options);

  // ---- the channel, a subclass's
  /// Sends a notification or an answer to a peer's request.
  virtual Result<void> write(const json& message, Clock::time_point deadline) = 0;
  /// Ends the channel; called by close() once nothing is pending and the worker has stopped.
  virtual void close_channel() = 0;
  /// The waiting caller's fast path (optional): read the channel on this thread, delivering
  /// what comes through receive(), until `p.signal` is no longer `seen`, `until` passes or
  /// interrupt_lead() is called. Returns false at once, having read nothing, when it cannot;
  /// the caller then sleeps until woken. Called with `p.leading` set.
  virtual bool lead(Pending& /*p*/, std::uint32_t /*seen*/, Clock::time_point /*until*/) { return false; }
  /// Makes a lead() for `p` return soon (any thread; wake() calls it while `p.leading`).
  virtual void interrupt_lead(Pending& /*p*/) {}

  // ---- what a subclass uses to send
  /// Hands one request's message to the channel, as the subclass sends it.
  class RequestWriter {
   public:
    /// The message is only lent for the call (see send_lent).
    virtual Result<void> write(const json& message) = 0;

   protected:
    ~RequestWriter() = default;
  };
  /// Sends a request through `writer` without waiting. `params` are lent, not given: moved
  /// into the message while it is written and moved back after, so a caller that may send
  /// them again (a retry, another round) needs no copy. They come back as sent (with a
  /// progress token, if one was added).
  Result<std::shared_ptr<Pending>> send_lent(const std::string& method, json& params, Clock::time_point deadline,
                                             ProgressOptions progress, RequestWriter& writer);
  /// The same for an asynchronous request: its outcome goes to `async.done` (never called when
  /// this returns an error: the request was not sent). Its deadline is kept by the timer thread.
  Result<std::shared_ptr<Pending>> send_async_lent(const std::string& method, json& params, Clock::time_point deadline,
                                                   ProgressOptions progress, AsyncOptions async, RequestWriter& writer);

  // ---- what the channel reports (from its reading thread, or a leader's)
  /// One message from the peer.
  void receive(json&& msg);
  /// The `result` of a success response from the peer to request `id`, read without its
  /// envelope: what receive() does with the whole response.
  void receive_result(std::int64_t id, json&& result);
  /// The channel ended by itself.
  void channel_closed(const Error& e);
  /// One request failed below JSON-RPC; the channel stays usable.
  void request_failed(const json& id, const Error& e);
  /// The channel is waiting on something other than the peer for request `id` (an
  /// authorization): its timeout is suspended while held.
  void request_held(const json& id, bool held);
  /// The channel could not start: every call fails as on a closed connection.
  void refuse();

  void diagnose(std::string_view what, DiagnosticAbout about = {}) const;
  // A diagnostic about the reply to our request `about.request_id` (a transport's: a reply it
  // could not read): named with that request's method while it is pending.
  void diagnose_reply(std::string_view what, DiagnosticAbout about) const;
  // `e`, naming the peer unless it names one already.
  [[nodiscard]] Error decorate(Error e) const;

 private:
  struct WorkQueue;
  // The pending request with JSON-RPC id `id` (null if none), taken out of the map if `remove`.
  enum class Take { leave, remove };
  std::shared_ptr<Pending> find_pending(const json& id, Take take);
  // The pending request `id` of a reply, taken out of the map (null if none).
  std::shared_ptr<Pending> take_replied(std::int64_t id);
  bool deliver_progress(const json& params);
  void fail_all(const Error& e);
  // close() but for the channel: what the destructor does.
  void shut_down(const Error& reason);
  static void dispatch_loop(std::shared_ptr<WorkQueue> work, std::weak_ptr<RpcEngine> engine);
  void handle_peer_request(json& msg);
  void answer(const json& id, Result<json> r);
  void send_cancelled(std::int64_t id, const char* reason);
  // After a change the waiter of `p` must see (made under p.m, or an atomic flag).
  void wake(Pending& p);
  // Registers `p` and writes its request (send_lent, send_async_lent).
  Result<std::shared_ptr<Pending>> send_prepared(std::shared_ptr<Pending> p, json& params, RequestWriter& writer);
  // Gives `p` its outcome unless it has one: wakes its waiter, or completes it (asynchronous).
  // False if it was settled already. `reply` marks a reply from the peer (handlers ordering).
  bool settle(const std::shared_ptr<Pending>& p, Result<json> r, bool reply = false);
  // Asynchronous requests: arms the deadline / stop, gives up (timer thread), hands over the outcome.
  void arm(const std::shared_ptr<Pending>& p, const std::stop_token& stop);
  static void give_up(const std::weak_ptr<RpcEngine>& engine, const std::weak_ptr<Pending>& p, bool stopped);
  void complete(const std::shared_ptr<Pending>& p, std::function<void(Result<json>)> done, bool reply);
  // `engine` (may be null) is told what the callback threw.
  static void run_callback(const Executor& executor, std::function<void()> task, RpcEngine* engine);

  Options options_;
  mutable std::mutex mutex_;
  std::map<std::int64_t, std::shared_ptr<Pending>> pending_;
  std::int64_t next_id_ = 1;
  bool closed_ = false;
  std::optional<Error> close_reason_;
  RequestHandler request_handler_;
  RequestDispatcher request_dispatcher_;
  NotificationHandler notification_handler_;
  // Peer requests and posted tasks run on a worker thread, one at a time, in order, off the
  // reading thread. Its state is shared so the worker outlives an engine destroyed from
  // inside a handler.
  struct Work {
    json request;                // a peer's request, or
    std::function<void()> task;  // a posted task
    // Whether a reply waits for it (wait_for_handlers): not for a ping, whose answer nobody
    // sees, so a peer that floods pings and reads no answers cannot hold up our replies.
    bool ordered = true;
    // An asynchronous request's completion queued behind the handlers (complete()): never
    // dropped. Still queued when the engine closes, it is posted to the timer thread instead
    // (its task holds no reference to the engine).
    bool completion = false;
  };
  struct WorkQueue {
    std::mutex m;
    std::condition_variable cv;       // work arrived, or stop
    std::condition_variable done_cv;  // an item finished
    std::list<Work> items;  // a list: an empty deque already holds a 512-byte block per connection
    bool stop = false;
    std::atomic<std::uint64_t> queued{0}, finished{0};  // ordered items ever queued, and done
    std::thread::id worker_id;
  };
  // Queues `w` (false if the queue is full or stopped), starting the worker on first use.
  bool enqueue(Work&& w);
  // A reply is returned only after the handlers for what came before it have run (a tool's
  // log lines are all seen when its call returns), as long as that takes until `until`.
  void wait_for_handlers(std::uint64_t before, Clock::time_point until);
  std::shared_ptr<WorkQueue> work_ = std::make_shared<WorkQueue>();
  std::thread worker_;
  std::atomic<std::uint64_t> dropped_requests_{0};  // peer requests over the queue's bound
};

/// While one lives on a thread, the calls that thread makes through the engines of `owner`
/// (RpcEngine::Options::owner) return as soon as their reply is in, without waiting for the
/// handlers of what came before it (RpcEngine::wait_for_handlers). The session's handshakes use
/// it: they hold its connect mutex, which a handler calling the server would need. Calls to
/// any other owner's engines from the same thread (from a callback run during the handshake)
/// still wait for their handlers.
class UnorderedHandlersScope {
 public:
  explicit UnorderedHandlersScope(const void* owner);
  ~UnorderedHandlersScope();
  UnorderedHandlersScope(const UnorderedHandlersScope&) = delete;
  UnorderedHandlersScope& operator=(const UnorderedHandlersScope&) = delete;

 private:
  const void* previous_;
};

}  // namespace mcp::detail
