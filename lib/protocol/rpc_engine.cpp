// SPDX-License-Identifier: MIT
// The JSON-RPC engine's core (rpc_engine.hpp): ids and the pending map, waiting for a reply
// (futex, deadlines, holds, progress, cancellation), the peer's messages, the worker thread.
#include "rpc_engine.hpp"

#include "json_read.hpp"
#include "json_write.hpp"
#include "jsonrpc.hpp"

#include <linux/futex.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <climits>
#include <ctime>

namespace mcp::detail {

using json = nlohmann::json;

namespace {

static_assert(sizeof(std::atomic<std::uint32_t>) == sizeof(std::uint32_t) &&
              std::atomic<std::uint32_t>::is_always_lock_free);

// Sleeps while `word` still holds `seen`, until `deadline` (CLOCK_MONOTONIC, which is what
// steady_clock reads on Linux) at the latest. Spurious returns are fine: callers re-check.
void futex_wait_until(std::atomic<std::uint32_t>& word, std::uint32_t seen, RpcEngine::Clock::time_point deadline) {
  const auto ns = std::chrono::duration_cast<std::chrono::nanoseconds>(deadline.time_since_epoch()).count();
  if (ns <= 0) return;
  timespec ts{};
  ts.tv_sec = static_cast<time_t>(ns / 1000000000);
  ts.tv_nsec = static_cast<long>(ns % 1000000000);
  ::syscall(SYS_futex, reinterpret_cast<std::uint32_t*>(&word), FUTEX_WAIT_BITSET_PRIVATE, seen, &ts, nullptr,
            FUTEX_BITSET_MATCH_ANY);
}

// This thread runs an asynchronous request's callback for an engine (RpcEngine::in_completion).
thread_local bool tl_completion = false;

// The owner named by this thread's innermost UnorderedHandlersScope (null: none).
thread_local const void* tl_unordered = nullptr;

// A request's envelope {"jsonrpc", "id", "method", "params"}, kept per thread and refilled
// for each request: its map nodes and strings are allocated once, not per request. The
// params are moved in for the send and out again after it. Busy while a send is under way.
struct Envelope {
  json msg;
  json* id = nullptr;
  std::string* method = nullptr;
  json* params = nullptr;
  bool busy = false;

  Envelope() : msg(json::value_t::object) {
    auto& fields = msg.get_ref<json::object_t&>();
    fields.emplace("jsonrpc", "2.0");
    id = &fields.emplace("id", 0).first->second;
    method = &fields.emplace("method", json::value_t::string).first->second.get_ref<std::string&>();
    params = &fields.emplace("params", nullptr).first->second;
  }
};

Envelope& envelope() {
  thread_local Envelope e;
  return e;
}

// A node of the pending map, kept by the thread that took a reply's request out of the map for
// the next request it registers: a caller reading its own reply (lead) allocates no node per
// call. Nodes move between engines freely (std::allocator).
using PendingMap = std::map<std::int64_t, std::shared_ptr<RpcEngine::Pending>>;
PendingMap::node_type& spare_node() {
  thread_local PendingMap::node_type n;
  return n;
}

}  // namespace

UnorderedHandlersScope::UnorderedHandlersScope(const void* owner) : previous_(tl_unordered) { tl_unordered = owner; }
UnorderedHandlersScope::~UnorderedHandlersScope() { tl_unordered = previous_; }

void RpcEngine::wake(Pending& p) {
  p.signal.fetch_add(1, std::memory_order_seq_cst);
  if (p.waiters.load(std::memory_order_seq_cst) != 0)
    ::syscall(SYS_futex, reinterpret_cast<std::uint32_t*>(&p.signal), FUTEX_WAKE_PRIVATE, INT_MAX, nullptr, nullptr, 0);
  if (p.leading.load(std::memory_order_seq_cst)) interrupt_lead(p);
}

RpcEngine::RpcEngine(Options options) : options_(std::move(options)) {}

RpcEngine::~RpcEngine() { shut_down(Error::make(Errc::disconnected, "connection closed")); }

Error RpcEngine::decorate(Error e) const {
  if (e.server.empty()) e.server = options_.server;  // as tagged() (lib/server_error.hpp)
  return e;
}

void RpcEngine::diagnose(std::string_view what, DiagnosticAbout about) const {
  if (options_.on_diagnostic) options_.on_diagnostic(what, about);
}

void RpcEngine::diagnose_reply(std::string_view what, DiagnosticAbout about) const {
  if (!options_.on_diagnostic) return;
  std::string method;
  if (about.request_id != 0 && about.method.empty()) {
    std::lock_guard lk(mutex_);
    if (auto it = pending_.find(static_cast<std::int64_t>(about.request_id)); it != pending_.end()) method = it->second->method;
    about.method = method;
  }
  options_.on_diagnostic(what, about);
}

void RpcEngine::refuse() {
  std::lock_guard lk(mutex_);
  closed_ = true;
}

void RpcEngine::set_request_handler(RequestHandler h) {
  std::lock_guard lk(mutex_);
  request_handler_ = std::move(h);
}
void RpcEngine::set_notification_handler(NotificationHandler h) {
  std::lock_guard lk(mutex_);
  notification_handler_ = std::move(h);
}

bool RpcEngine::is_open() const {
  std::lock_guard lk(mutex_);
  return !closed_;
}

Result<std::shared_ptr<RpcEngine::Pending>> RpcEngine::send_lent(const std::string& method, json& params,
                                                                  Clock::time_point deadline, ProgressOptions progress,
                                                                  RequestWriter& writer) {
  auto p = std::make_shared<Pending>();
  p->method = method;
  p->deadline = deadline;
  p->progress = std::move(progress);
  return send_prepared(std::move(p), params, writer);
}

Result<std::shared_ptr<RpcEngine::Pending>> RpcEngine::send_async_lent(const std::string& method, json& params,
                                                                        Clock::time_point deadline,
                                                                        ProgressOptions progress, AsyncOptions async,
                                                                        RequestWriter& writer) {
  if (async.stop.stop_requested()) return fail(decorate(Error::make(Errc::cancelled, method + ": cancelled")));
  auto p = std::make_shared<Pending>();
  p->method = method;
  p->deadline = deadline;
  p->progress = std::move(progress);
  p->async = true;
  p->cancel_on_abort = async.cancel_on_abort;
  p->on_done = std::move(async.done);
  p->executor = std::move(async.executor);
  // Armed before the write: a reply, a timeout or a stop may come at any time after it.
  arm(p, async.stop);
  auto sent = send_prepared(p, params, writer);
  if (!sent) {
    // Not sent: the caller has the error, the completion is never called; unless the channel
    // closed while we wrote and the completion has the outcome already (fail_all).
    std::unique_ptr<std::stop_callback<std::function<void()>>> on_stop;
    AsyncService::Timer timer;
    {
      std::lock_guard lk(p->m);
      if (p->done) return p;
      p->done = true;
      p->on_done = nullptr;
      on_stop = std::move(p->on_stop);
      timer = p->timer;
    }
    AsyncService::instance().cancel(timer);
  }
  return sent;
}

Result<std::shared_ptr<RpcEngine::Pending>> RpcEngine::send_prepared(std::shared_ptr<Pending> p, json& params,
                                                                      RequestWriter& writer) {
  const std::string& method = p->method;
  {
    std::lock_guard lk(mutex_);
    if (closed_) {
      if (close_reason_) return fail(*close_reason_);
      return fail(decorate(Error::make(Errc::connection_closed, method + ": connection is closed")));
    }
    p->id = next_id_++;
    if (auto& node = spare_node(); !node.empty()) {
      node.key() = p->id;
      node.mapped() = p;
      pending_.insert(std::move(node));  // leaves it empty
    } else {
      pending_.emplace(p->id, p);
    }
  }
  if (p->progress.on_progress) {
    // The request id doubles as its progress token: unique among requests in flight.
    if (!params.is_object()) params = json::object();
    // A _meta lent as text (json_write.hpp: raw_json) becomes a tree again to take the token.
    if (auto m = params.find("_meta"); m != params.end() && is_raw_json(*m)) *m = parse_json(raw_json_text(*m));
    if (!params.contains("_meta") || !params["_meta"].is_object()) params["_meta"] = json::object();
    params["_meta"]["progressToken"] = p->id;
  }
  // The message goes out in this thread's envelope, or in one of its own for a request made
  // from a callback while another send on this thread is under way.
  Envelope* e = &envelope();
  std::optional<Envelope> own;
  if (e->busy) e = &own.emplace();
  if (params.is_null()) params = json::object();  // JSON-RPC params, when present, are structured
  // Whatever send does (a throw included), the params go back and the envelope is free.
  struct Loan {
    Envelope& e;
    json& params;
    ~Loan() {
      params = std::move(*e.params);
      *e.params = nullptr;
      e.busy = false;
    }
  } loan{*e, params};
  e->busy = true;
  *e->params = std::move(params);  // first: whatever throws below, the loan gives them back
  Result<void> sent;
  try {
    *e->id = p->id;
    e->method->assign(method);
    // A channel is done with the message when write returns (it serialises what it keeps).
    sent = writer.write(e->msg);
  } catch (...) {
    abandon(p);  // nobody will wait for it
    throw;
  }
  if (!sent) {
    abandon(p);
    // A channel that died while we wrote reports the cause through channel_closed; prefer it.
    std::lock_guard lk(mutex_);
    if (close_reason_) return fail(*close_reason_);
    return fail(decorate(sent.error()));
  }
  return p;
}

void RpcEngine::abandon(const std::shared_ptr<Pending>& p) {
  std::lock_guard lk(mutex_);
  pending_.erase(p->id);
}

Result<json> RpcEngine::wait(const std::shared_ptr<Pending>& p, Clock::time_point deadline,
                             const std::stop_token& stop, WaitOptions options) {
  if (tl_completion) {
    abandon(p);
    if (options.cancel_on_abort) send_cancelled(p->id, "a blocking call from a completion handler");
    return fail(decorate(blocking_in_completion(p->method)));
  }
  std::atomic<bool> stopped{false};
  {
    // Registered before taking p->m: if stop was already requested the callback runs
    // right here, synchronously.
    std::stop_callback on_stop(stop, [&] {
      stopped.store(true, std::memory_order_seq_cst);
      wake(*p);
    });
    std::unique_lock lk(p->m);
    if (!p->progress.reset_timeout) p->deadline = deadline;
    for (;;) {
      // Read the word before looking at the state: a change after this read bumps it, so the
      // futex wait below returns at once instead of missing it.
      const std::uint32_t seen = p->signal.load(std::memory_order_seq_cst);
      if (!p->progress_updates.empty()) {
        // Progress first: what came before the reply is reported before the call returns.
        std::vector<Progress> updates;
        updates.swap(p->progress_updates);
        lk.unlock();
        try {
          for (const auto& u : updates) p->progress.on_progress(u);
        } catch (...) {
          // The caller's callback threw: its exception ends the call, and the server is told
          // to stop working on it, as for any other abandoned request.
          abandon(p);
          if (options.cancel_on_abort) send_cancelled(p->id, "the progress callback threw");
          throw;
        }
        lk.lock();
        continue;
      }
      if (p->done) {
        const auto before = p->handlers_before;
        const auto until = p->deadline + p->held_total;
        lk.unlock();
        if (!tl_unordered || tl_unordered != options_.owner) wait_for_handlers(before, until);
        lk.lock();
        return std::move(p->result);
      }
      if (stopped.load(std::memory_order_seq_cst)) break;
      // The deadline may move (progress resets it, holds extend it): wait against its
      // current value. A held request has none; it is woken when the hold ends.
      const auto until = p->held ? Clock::now() + std::chrono::hours(1) : p->deadline + p->held_total;
      if (Clock::now() >= until) break;
      lk.unlock();
      // Read the reply ourselves if the channel lets us: no hand-off from a reading thread (a
      // wake-up and a context switch per call). Otherwise sleep until woken.
      p->leading.store(true, std::memory_order_seq_cst);
      const bool led = p->signal.load(std::memory_order_seq_cst) == seen && lead(*p, seen, until);
      p->leading.store(false, std::memory_order_seq_cst);
      if (!led) {
        p->waiters.fetch_add(1, std::memory_order_seq_cst);
        futex_wait_until(p->signal, seen, until);
        p->waiters.fetch_sub(1, std::memory_order_relaxed);
      }
      lk.lock();
    }
    if (options.keep_on_timeout && !stopped)
      return fail(decorate(Error::make(Errc::timeout, p->method + ": no reply within the timeout")));
  }
  abandon(p);
  {
    // The reply may have raced in between.
    std::lock_guard lk(p->m);
    if (p->done) return std::move(p->result);
  }
  if (options.cancel_on_abort) send_cancelled(p->id, stopped ? "cancelled by the client" : "timed out");
  if (stopped) return fail(decorate(Error::make(Errc::cancelled, p->method + ": cancelled")));
  return fail(decorate(Error::make(Errc::timeout, p->method + ": no reply within the timeout")));
}

Result<void> RpcEngine::notify(const std::string& method, json params, Clock::time_point deadline) {
  {
    std::lock_guard lk(mutex_);
    if (closed_) return fail(decorate(Error::make(Errc::connection_closed, method + ": connection is closed")));
  }
  json msg{{"jsonrpc", "2.0"}, {"method", method}};
  if (!params.is_null()) msg["params"] = std::move(params);
  auto r = write(msg, deadline);
  if (!r) return fail(decorate(r.error()));
  return {};
}

void RpcEngine::send_cancelled(std::int64_t id, const char* reason) {
  if (!is_open()) return;
  auto ignored = notify("notifications/cancelled", json{{"requestId", id}, {"reason", reason}},
                        Clock::now() + std::chrono::milliseconds(500));
  (void)ignored;
}

void RpcEngine::receive(json&& msg) {
  auto diag = [&](const std::string& s, DiagnosticAbout about = {}) { diagnose(s, about); };
  if (!msg.is_object()) {
    diag("ignored a message that is not a JSON object");
    return;
  }
  const auto method = msg.find("method");
  const auto id = msg.find("id");
  if (method != msg.end()) {
    if (!method->is_string()) {
      diag("ignored a message whose method is not a string");
      return;
    }
    if (id != msg.end() && !id->is_null()) {
      RequestDispatcher d;
      {
        std::lock_guard lk(mutex_);
        d = request_dispatcher_;
      }
      if (d) {
        std::string name = method->get<std::string>();
        json params = msg.contains("params") ? std::move(msg["params"]) : json::object();
        d(std::move(*id), std::move(name), std::move(params));
        return;
      }
      const bool ordered = *method != "ping";
      Work w{std::move(msg), {}, ordered};
      if (!enqueue(std::move(w))) {  // left in `w` when refused
        // A server flooding us with requests loses the excess rather than costing unbounded
        // memory. They go unanswered: an answer written here could block this thread (which
        // reads the replies callers wait for) on a server that does not read its input.
        const auto n = dropped_requests_.fetch_add(1, std::memory_order_relaxed);
        if (n % 1000 == 0)
          diag("dropped a server request unanswered: 1024 are already waiting (" + std::to_string(n + 1) +
                   " dropped so far)",
               {log_request_id(w.request["id"]), w.request["method"].get_ref<const std::string&>()});
      }
      return;
    }
    if (*method == "notifications/progress" && deliver_progress(msg.contains("params") ? msg["params"] : json()))
      return;
    NotificationHandler h;
    {
      std::lock_guard lk(mutex_);
      h = notification_handler_;
    }
    if (h) h(method->get<std::string>(), msg.contains("params") ? msg["params"] : json::object());
    return;
  }
  const bool is_result = msg.contains("result"), is_error = msg.contains("error");
  if (id == msg.end() || (!is_result && !is_error)) {
    diag("ignored a message that is neither request, notification nor response: " + msg.dump().substr(0, 200),
         {id == msg.end() ? 0 : log_request_id(*id), {}});
    return;
  }
  if (!id->is_number_integer()) {
    diag("ignored a response with an id we never sent: " + id->dump());
    return;
  }
  std::shared_ptr<Pending> p = take_replied(id->get<std::int64_t>());
  if (!p) {
    // A late reply (its request timed out or was cancelled), or one to nothing we sent.
    diag("ignored a response to an unknown or abandoned request id " + id->dump(), {log_request_id(*id), {}});
    return;
  }
  Result<json> r = json();
  if (is_error) {
    r = fail(decorate(jsonrpc::error_from(msg["error"], p->method)));
  } else {
    r = std::move(msg["result"]);
  }
  settle(p, std::move(r), true);
}

std::shared_ptr<RpcEngine::Pending> RpcEngine::take_replied(std::int64_t id) {
  std::shared_ptr<Pending> p;
  {
    std::lock_guard lk(mutex_);
    auto it = pending_.find(id);
    if (it != pending_.end()) {
      auto node = pending_.extract(it);
      p = std::move(node.mapped());
      if (auto& spare = spare_node(); spare.empty()) spare = std::move(node);
    }
  }
  return p;
}

void RpcEngine::receive_result(std::int64_t id, json&& result) {
  std::shared_ptr<Pending> p = take_replied(id);
  if (!p) {
    diagnose("ignored a response to an unknown or abandoned request id " + std::to_string(id), {log_request_id(id), {}});
    return;
  }
  settle(p, Result<json>(std::move(result)), true);
}

void RpcEngine::set_request_dispatcher(RequestDispatcher d) {
  std::lock_guard lk(mutex_);
  request_dispatcher_ = std::move(d);
}

void RpcEngine::answer(const json& id, Result<json> r) {
  json msg{{"jsonrpc", "2.0"}, {"id", id}};
  if (r) {
    msg["result"] = r->is_null() ? json::object() : std::move(*r);
  } else {
    json err{{"code", r.error().rpc_code.value_or(jsonrpc::internal_error)}, {"message", r.error().message}};
    if (!r.error().data.is_null()) err["data"] = r.error().data;
    msg["error"] = std::move(err);
  }
  auto sent = write(msg, Clock::now() + std::chrono::seconds(10));
  if (!sent) diagnose("could not answer a server request: " + sent.error().message, {log_request_id(id), {}});
}

bool RpcEngine::enqueue(Work&& w) {
  {
    std::lock_guard lk(work_->m);
    if (work_->stop || work_->items.size() >= 1024) return false;
    if (w.ordered) work_->queued.fetch_add(1, std::memory_order_seq_cst);
    work_->items.push_back(std::move(w));
    // Started on first use: most connections never get a server request or a notification
    // for a handler, and an idle thread costs memory per connection.
    if (!worker_.joinable()) {
      worker_ = std::thread(&RpcEngine::dispatch_loop, work_, weak_from_this());
      work_->worker_id = worker_.get_id();
    }
  }
  work_->cv.notify_one();
  return true;
}

void RpcEngine::post(std::function<void()> task) {
  if (!enqueue(Work{json(), std::move(task)}) && options_.on_diagnostic) {
    std::lock_guard lk(work_->m);
    if (!work_->stop) options_.on_diagnostic("a notification for a handler was dropped: 1024 are already waiting", {});
  }
}

void RpcEngine::dispatch_loop(std::shared_ptr<WorkQueue> work, std::weak_ptr<RpcEngine> weak) {
  for (;;) {
    Work w;
    {
      std::unique_lock lk(work->m);
      work->cv.wait(lk, [&] { return work->stop || !work->items.empty(); });
      if (work->stop) return;
      w = std::move(work->items.front());
      work->items.pop_front();
    }
    // If this was the last reference, the engine is destroyed here, on this thread; its
    // close() then detaches us and we only touch `work` afterwards.
    auto self = weak.lock();
    if (!self) {
      // Being destroyed (its shut_down takes what is still queued): a completion taken just
      // now still runs, elsewhere.
      if (w.completion) AsyncService::instance().post(std::move(w.task));
      return;
    }
    if (!w.task) {
      try {
        self->handle_peer_request(w.request);
      } catch (...) {
        // The handlers are guarded where they are called; this is the thread's last line (an
        // on_diagnostic that throws, bad_alloc): nothing leaves the worker thread.
        try {
          if (self->options_.on_diagnostic) {
            const auto m = w.request.find("method");
            self->options_.on_diagnostic(
                "a server request could not be answered",
                {log_request_id(w.request.value("id", json())),
                 m != w.request.end() && m->is_string() ? std::string_view(m->get_ref<const std::string&>()) : ""});
          }
        } catch (...) {
        }
      }
    } else {
      try {
        w.task();
      } catch (const std::exception& e) {
        if (self->options_.on_diagnostic) self->options_.on_diagnostic(std::string("a handler threw: ") + e.what(), {});
      } catch (...) {
        if (self->options_.on_diagnostic) self->options_.on_diagnostic("a handler threw", {});
      }
    }
    self.reset();
    if (w.ordered) {
      std::lock_guard lk(work->m);
      work->finished.fetch_add(1, std::memory_order_seq_cst);
    }
    work->done_cv.notify_all();
  }
}

void RpcEngine::wait_for_handlers(std::uint64_t before, Clock::time_point until) {
  if (work_->finished.load(std::memory_order_seq_cst) >= before) return;  // the usual case
  std::unique_lock lk(work_->m);
  // A handler waiting for its own call's reply cannot wait for the handlers queued after it.
  if (std::this_thread::get_id() == work_->worker_id) return;
  work_->done_cv.wait_until(lk, until, [&] {
    return work_->stop || work_->finished.load(std::memory_order_seq_cst) >= before;
  });
}

void RpcEngine::handle_peer_request(json& msg) {
  const std::string method = msg["method"].get<std::string>();
  const json params = msg.contains("params") ? msg["params"] : json::object();
  RequestHandler h;
  {
    std::lock_guard lk(mutex_);
    h = request_handler_;
  }
  Result<json> r = json();
  if (method == "ping") {
    r = json::object();
  } else if (h) {
    r = h(method, params);
  } else {
    r = fail(jsonrpc::error(Errc::rpc_error, jsonrpc::method_not_found, "Method not found: " + method));
  }
  answer(msg["id"], std::move(r));
}

void RpcEngine::fail_all(const Error& e) {
  std::map<std::int64_t, std::shared_ptr<Pending>> pending;
  {
    std::lock_guard lk(mutex_);
    pending.swap(pending_);
  }
  for (auto& [id, p] : pending) {
    Error copy = e;
    if (!p->method.empty()) copy.message = p->method + ": " + copy.message;
    settle(p, fail(std::move(copy)));
  }
}

bool RpcEngine::deliver_progress(const json& params) {
  if (!params.is_object() || !params.contains("progressToken") || !params["progressToken"].is_number_integer())
    return false;
  std::shared_ptr<Pending> p;
  {
    std::lock_guard lk(mutex_);
    auto it = pending_.find(params["progressToken"].get<std::int64_t>());
    if (it == pending_.end()) return false;
    p = it->second;
  }
  if (!p->progress.on_progress) return false;
  Progress pr;
  if (params.contains("progress") && params["progress"].is_number()) pr.progress = params["progress"].get<double>();
  if (params.contains("total") && params["total"].is_number()) pr.total = params["total"].get<double>();
  if (params.contains("message") && params["message"].is_string()) pr.message = params["message"].get<std::string>();
  {
    std::lock_guard lk(p->m);
    if (p->progress.reset_timeout) {
      p->deadline = std::min(Clock::now() + p->progress.timeout, p->progress.hard_deadline);
      p->held_total = {};  // a reset deadline starts from now
    }
    if (p->done) return true;
    if (!p->async) {
      // For the waiting caller to hand to on_progress (see Pending). A flood keeps the latest.
      if (p->progress_updates.size() >= 1024) p->progress_updates.erase(p->progress_updates.begin());
      p->progress_updates.push_back(std::move(pr));
    }
  }
  if (p->async) {
    // No caller to hand it to: it goes where the completion will, before it (a reply is read
    // after the notifications that came before it, on the same thread).
    run_callback(p->executor, [cb = p->progress.on_progress, pr = std::move(pr)] { cb(pr); }, this);
    return true;
  }
  wake(*p);
  return true;
}

std::shared_ptr<RpcEngine::Pending> RpcEngine::find_pending(const json& id, Take take) {
  if (!id.is_number_integer()) return nullptr;
  std::lock_guard lk(mutex_);
  auto it = pending_.find(id.get<std::int64_t>());
  if (it == pending_.end()) return nullptr;
  auto p = it->second;
  if (take == Take::remove) pending_.erase(it);
  return p;
}

namespace {
// One hold more or less on `p` (under p.m); false if nothing changed for its waiter.
bool hold(RpcEngine::Pending& p, bool held) {
  using Clock = RpcEngine::Clock;
  if (held) {
    if (p.held++ == 0) p.held_since = Clock::now();
    return true;
  }
  if (p.held == 0) return false;
  if (--p.held == 0) p.held_total += Clock::now() - p.held_since;
  return true;
}
}  // namespace

void RpcEngine::request_held(const json& id, bool held) {
  auto p = find_pending(id, Take::leave);
  if (!p) return;
  {
    std::lock_guard lk(p->m);
    if (!hold(*p, held)) return;
  }
  wake(*p);
}

std::vector<std::weak_ptr<RpcEngine::Pending>> RpcEngine::hold_all() {
  std::vector<std::shared_ptr<Pending>> all;
  {
    std::lock_guard lk(mutex_);
    all.reserve(pending_.size());
    for (const auto& [id, p] : pending_) all.push_back(p);
  }
  std::vector<std::weak_ptr<Pending>> out;
  out.reserve(all.size());
  for (const auto& p : all) {
    {
      std::lock_guard lk(p->m);
      if (p->done) continue;
      hold(*p, true);
    }
    out.push_back(p);
  }
  return out;
}

void RpcEngine::release_held(const std::vector<std::weak_ptr<Pending>>& held) {
  for (const auto& w : held) {
    auto p = w.lock();
    if (!p) continue;
    {
      std::lock_guard lk(p->m);
      if (!hold(*p, false)) continue;
    }
    wake(*p);
  }
}

void RpcEngine::request_failed(const json& id, const Error& e) {
  auto p = find_pending(id, Take::remove);
  if (!p) return;
  Error copy = decorate(e);
  copy.message = p->method + ": " + copy.message;
  settle(p, fail(std::move(copy)));
}

void RpcEngine::channel_closed(const Error& e) {
  Error reason = decorate(e);
  {
    std::lock_guard lk(mutex_);
    if (closed_) return;
    closed_ = true;
    close_reason_ = reason;
  }
  fail_all(reason);
  if (options_.on_closed) options_.on_closed(reason);
}

void RpcEngine::close(const Error& reason) {
  shut_down(reason);
  close_channel();
}

void RpcEngine::shut_down(const Error& reason) {
  {
    std::lock_guard lk(mutex_);
    if (!closed_) {
      closed_ = true;
      close_reason_ = decorate(reason);
    }
  }
  fail_all(decorate(reason));
  std::thread worker;
  std::list<Work> left;
  {
    std::lock_guard lk(work_->m);
    work_->stop = true;
    worker.swap(worker_);
    left.swap(work_->items);  // the worker runs nothing more; server requests go unanswered
  }
  work_->cv.notify_all();
  work_->done_cv.notify_all();
  // Completions that waited behind the handlers (a handler may have disconnected): each still
  // runs once, on the timer thread, not on this one (it may hold the application's locks).
  for (auto& w : left)
    if (w.completion) AsyncService::instance().post(std::move(w.task));
  left.clear();
  if (worker.joinable()) {
    if (worker.get_id() == std::this_thread::get_id()) worker.detach();  // closed from a handler
    else worker.join();
  }
}

bool RpcEngine::in_completion() { return tl_completion; }

Error RpcEngine::blocking_in_completion(const std::string& what) {
  return Error::make(Errc::invalid_argument,
                     what + ": a blocking call from inside an asynchronous completion or progress callback, which "
                            "runs on a library thread that may be the one to read its reply: use the asynchronous "
                            "API there, or give ClientConfig::executor");
}

bool RpcEngine::settle(const std::shared_ptr<Pending>& p, Result<json> r, bool reply) {
  std::function<void(Result<json>)> done;
  std::unique_ptr<std::stop_callback<std::function<void()>>> on_stop;
  AsyncService::Timer timer;
  {
    std::lock_guard lk(p->m);
    if (p->done) return false;
    p->result = std::move(r);
    if (reply) p->handlers_before = work_->queued.load(std::memory_order_seq_cst);
    p->done = true;
    if (p->async) {
      done = std::move(p->on_done);
      on_stop = std::move(p->on_stop);
      timer = p->timer;
    }
  }
  if (!p->async) {
    wake(*p);
    return true;
  }
  AsyncService::instance().cancel(timer);
  on_stop.reset();  // waits for a stop callback running on another thread (it only posts)
  if (done) complete(p, std::move(done), reply);
  return true;
}

void RpcEngine::arm(const std::shared_ptr<Pending>& p, const std::stop_token& stop) {
  std::weak_ptr<RpcEngine> engine = weak_from_this();
  std::weak_ptr<Pending> weak = p;
  std::lock_guard lk(p->m);
  p->timer = AsyncService::instance().at(p->deadline, [engine, weak] { give_up(engine, weak, false); });
  if (stop.stop_possible())
    p->on_stop = std::make_unique<std::stop_callback<std::function<void()>>>(
        stop, std::function<void()>([engine, weak] {
          // Not here: the thread asking for the stop may hold locks the completion takes.
          AsyncService::instance().post([engine, weak] { give_up(engine, weak, true); });
        }));
}

void RpcEngine::give_up(const std::weak_ptr<RpcEngine>& engine, const std::weak_ptr<Pending>& weak, bool stopped) {
  auto self = engine.lock();
  auto p = weak.lock();
  if (!self || !p) return;
  {
    std::lock_guard lk(p->m);
    if (p->done) return;
    if (!stopped) {
      // Held (an authorization runs) or moved (progress, holds): not yet; look again later.
      const auto now = Clock::now();
      const auto until = p->held ? now + std::chrono::seconds(1) : p->deadline + p->held_total;
      if (now < until) {
        p->timer = AsyncService::instance().at(until, [engine, weak] { give_up(engine, weak, false); });
        return;
      }
    }
  }
  self->abandon(p);
  const bool settled = self->settle(
      p, fail(self->decorate(Error::make(stopped ? Errc::cancelled : Errc::timeout,
                                         p->method + (stopped ? ": cancelled" : ": no reply within the timeout")))));
  if (settled && p->cancel_on_abort) {
    // Writing may block (a peer that does not read): not on the timer thread.
    AsyncService::instance().run_blocking([engine, id = p->id, stopped] {
      if (auto e = engine.lock()) e->send_cancelled(id, stopped ? "cancelled by the client" : "timed out");
    });
  }
}

void RpcEngine::complete(const std::shared_ptr<Pending>& p, std::function<void(Result<json>)> done, bool reply) {
  Result<json> r = json();
  std::uint64_t before;
  {
    std::lock_guard lk(p->m);
    r = std::move(p->result);
    before = p->handlers_before;
  }
  std::function<void()> task = [done = std::move(done), r = std::move(r)]() mutable { done(std::move(r)); };
  // A reply is completed after the handlers of what came before it (as wait() returns it);
  // behind them on the worker when they are still queued.
  if (reply && work_->finished.load(std::memory_order_seq_cst) < before &&
      std::this_thread::get_id() != work_->worker_id) {
    auto shared = std::make_shared<std::function<void()>>(std::move(task));
    std::function<void()> queued = [shared, executor = p->executor, weak = weak_from_this()] {
      const auto self = weak.lock();  // only to report what it throws: it may run after close
      run_callback(executor, std::move(*shared), self.get());
    };
    if (enqueue(Work{json(), std::move(queued), true, true})) return;
    task = std::move(*shared);
  }
  // A failure (a closed channel, a timeout, a stop) may be settled on a thread that holds the
  // application's locks (disconnect(), request_stop()): its completion runs on the timer thread.
  if (!reply) post_callback(p->executor, std::move(task));
  else run_callback(p->executor, std::move(task), this);
}

void RpcEngine::post_callback(const Executor& executor, std::function<void()> task) {
  if (executor) {
    executor(std::move(task));
    return;
  }
  AsyncService::instance().post([task = std::move(task)] {
    tl_completion = true;
    try {
      task();
    } catch (...) {  // as run_callback, but there is no engine here to tell
    }
    tl_completion = false;
  });
}

void RpcEngine::run_callback(const Executor& executor, std::function<void()> task, RpcEngine* engine) {
  if (executor) {
    executor(std::move(task));
    return;
  }
  const bool outer = tl_completion;
  tl_completion = true;
  try {
    task();
  } catch (const std::exception& e) {
    if (engine) engine->diagnose(std::string("an asynchronous callback threw: ") + e.what());
  } catch (...) {
    if (engine) engine->diagnose("an asynchronous callback threw");
  }
  tl_completion = outer;
}

}  // namespace mcp::detail
