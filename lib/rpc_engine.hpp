// SPDX-License-Identifier: MIT
#pragma once
// JSON-RPC 2.0 peer over a Transport: ids, the pending map, timeouts, cancellation,
// dispatch of server requests (on a worker thread, so a slow handler never blocks reading)
// and notifications (on the reader thread).
#include <mcp/error.hpp>
#include "client/transport.hpp"
#include <mcp/types.hpp>

#include <nlohmann/json.hpp>

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <list>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <stop_token>
#include <string>
#include <thread>
#include <vector>

namespace mcp::detail {

/// Progress handling for one request.
struct ProgressOptions {
  std::function<void(const Progress&)> on_progress;
  bool reset_timeout = false;                          ///< each notification restarts the timeout...
  Transport::Clock::duration timeout{};                ///< ...of this length...
  Transport::Clock::time_point hard_deadline{};        ///< ...but never past this
};

class RpcEngine : public std::enable_shared_from_this<RpcEngine> {
 public:
  using Clock = Transport::Clock;
  using json = nlohmann::json;
  /// Answers a server request: a result object, or an Error (sent as a JSON-RPC error;
  /// `rpc_code` is used when set, else jsonrpc::internal_error).
  using RequestHandler = std::function<Result<json>(const std::string& method, const json& params)>;
  using NotificationHandler = std::function<void(const std::string& method, const json& params)>;

  struct Options {
    std::string server;                                  ///< for error messages
    std::function<void(std::string_view)> on_diagnostic;  ///< non-fatal oddities
    std::function<void(const Error&)> on_closed;         ///< the transport ended by itself
    /// Who the engine works for (the session): what an UnorderedHandlersScope names.
    const void* owner = nullptr;
  };

  using ProgressOptions = detail::ProgressOptions;

  /// One request in flight.
  struct Pending {
    std::mutex m;  // guards done, result and deadline
    bool done = false;
    Result<json> result = json();
    std::int64_t id = 0;
    std::string method;
    Clock::time_point deadline;  // moved by progress when reset_timeout is set
    // While the transport holds the request (an authorization is running) it cannot time
    // out; time spent held moves the deadline.
    bool held = false;
    Clock::time_point held_since{};
    Clock::duration held_total{};
    ProgressOptions progress;
    // Progress notifications not yet given to on_progress (guarded by m). The waiting caller
    // calls on_progress itself, on its own thread: never on a thread that reads the
    // transport, and never after the call returned (the callback may capture its locals).
    std::vector<Progress> progress_updates;  // not a deque: that allocates even when empty
    // The worker's queue length when the reply came (see wait_for_handlers).
    std::uint64_t handlers_before = 0;
    // The waiting caller sleeps on `signal` (a futex word), which is bumped after every change
    // it must see (done, deadline, stop); the futex is woken only when `waiters` says someone
    // sleeps. Cheaper than a condition variable: no mutex to re-take on wake-up, no syscall
    // when the reply comes before the caller waits.
    std::atomic<std::uint32_t> signal{0};
    std::atomic<std::uint32_t> waiters{0};
    // The waiting caller reads the transport itself (Transport::lead): a change is signalled
    // by interrupting that instead.
    std::atomic<bool> leading{false};
  };

  RpcEngine(std::unique_ptr<Transport> transport, Options options);
  ~RpcEngine();

  /// Start the transport. Must be called once before anything else.
  [[nodiscard]] Result<void> start();
  void set_request_handler(RequestHandler h);
  void set_notification_handler(NotificationHandler h);

  /// Send a request without waiting.
  [[nodiscard]] Result<std::shared_ptr<Pending>> send_request(const std::string& method, json params,
                                                              Clock::time_point deadline,
                                                              const SendOptions& send_options = {},
                                                              ProgressOptions progress = {});
  /// Wait for a reply. On timeout or stop the request is forgotten and, if `cancel_on_abort`,
  /// `notifications/cancelled` is sent.
  /// With `keep_on_timeout`, a timed-out request stays registered so a late reply can still
  /// be collected by another wait (the era probe uses this).
  [[nodiscard]] Result<json> wait(const std::shared_ptr<Pending>& p, Clock::time_point deadline,
                                  const std::stop_token& stop, bool cancel_on_abort,
                                  bool keep_on_timeout = false);
  /// send_request + wait.
  [[nodiscard]] Result<json> call(const std::string& method, json params, Clock::time_point deadline,
                                  const std::stop_token& stop, bool cancel_on_abort = true,
                                  const SendOptions& send_options = {}, ProgressOptions progress = {});
  /// The same with `params` lent, not given: moved into the message while it is sent and
  /// moved back after, so a caller that may send them again (a retry, another round) needs
  /// no copy. They come back as sent (with a progress token, if one was added).
  [[nodiscard]] Result<json> call_lent(const std::string& method, json& params, Clock::time_point deadline,
                                       const std::stop_token& stop, bool cancel_on_abort,
                                       const SendOptions& send_options, ProgressOptions progress);
  /// Runs `task` on the engine's worker thread, after what is already queued there (server
  /// requests and earlier tasks, in order). For user callbacks that must not run on a thread
  /// reading the transport: they may block, or call the server. Dropped once closed.
  void post(std::function<void()> task);
  /// Send a notification.
  [[nodiscard]] Result<void> notify(const std::string& method, json params, Clock::time_point deadline);
  /// Forget a pending request (the caller gave up on it).
  void abandon(const std::shared_ptr<Pending>& p);

  /// Fail every pending request with `reason` and close the transport. Idempotent.
  void close(const Error& reason);
  [[nodiscard]] bool is_open() const;
  /// Forwarded to the transport (HTTP sends it as MCP-Protocol-Version).
  void set_protocol_version(const std::string& v) { transport_->set_protocol_version(v); }

 private:
  struct WorkQueue;
  // send_request with `params` lent (see call_lent).
  Result<std::shared_ptr<Pending>> send_lent(const std::string& method, json& params, Clock::time_point deadline,
                                             const SendOptions& send_options, ProgressOptions progress);
  void on_message(json&& msg);
  void on_transport_closed(const Error& e);
  void on_request_failed(const json& id, const Error& e);
  void on_request_held(const json& id, bool held);
  // The pending request with JSON-RPC id `id` (null if none), taken out of the map if `remove`.
  std::shared_ptr<Pending> find_pending(const json& id, bool remove);
  bool deliver_progress(const json& params);
  void fail_all(const Error& e);
  static void dispatch_loop(std::shared_ptr<WorkQueue> work, std::weak_ptr<RpcEngine> engine);
  void handle_server_request(json& msg);
  void answer(const json& id, Result<json> r);
  Error decorate(Error e) const;
  // After a change the waiter of `p` must see (made under p.m, or an atomic flag).
  void wake(Pending& p);

  std::unique_ptr<Transport> transport_;
  Options options_;
  mutable std::mutex mutex_;
  std::map<std::int64_t, std::shared_ptr<Pending>> pending_;
  std::int64_t next_id_ = 1;
  bool closed_ = false;
  bool started_ = false;
  std::optional<Error> close_reason_;
  RequestHandler request_handler_;
  NotificationHandler notification_handler_;
  // Server->client requests and posted tasks run on a worker thread, one at a time, in
  // order, off the reader thread. Its state is shared so the worker outlives an engine
  // destroyed from inside a handler.
  struct Work {
    json request;                // a server request, or
    std::function<void()> task;  // a posted task
    // Whether a reply waits for it (wait_for_handlers): not for a ping, whose answer nobody
    // sees, so a server that floods pings and reads no answers cannot hold up our replies.
    bool ordered = true;
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
  std::atomic<std::uint64_t> dropped_requests_{0};  // server requests over the queue's bound
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
