// SPDX-License-Identifier: MIT
// The asynchronous pipeline: what request_lent (pipeline.cpp) does, as a chain of completions
// instead of a waiting thread, and the Session's async_* entry points over it. The fast path (an
// open connection, one round, no retry) runs on no thread of its own: sent from the caller's,
// completed on the reader's. The slow steps written as blocking code (connecting, a server's
// input requests, a new legacy handshake, re-listing tools) run on the AsyncService's few
// blocking workers.
#include "listing_pages.hpp"
#include "session_impl.hpp"

#include "../protocol/async_service.hpp"
#include "../protocol/json_write.hpp"
#include "era.hpp"
#include "tool_task_state.hpp"

#include <atomic>
#include <mutex>
#include <optional>
#include "session_access.hpp"

namespace mcp {

using nlohmann::json;
using detail::AsyncService;

namespace {

// Where a step of an asynchronous call runs, which says how its outcome reaches the user:
// `engine` is inside a completion the engine delivered (on the executor, or flagged as a
// completion on a library thread): the callback is called there. Elsewhere (the caller's thread,
// a blocking worker) it is posted.
enum class Where { caller, engine, worker };

struct AsyncCall : std::enable_shared_from_this<AsyncCall> {
  using Clock = Session::Impl::Clock;
  std::shared_ptr<Session::Impl> impl;
  std::string method;
  json params;
  RequestOptions opt;
  SendOptions so;
  Callback<json> done;

  std::string key;  // the result cache's, when cacheable
  bool cacheable = false;
  int round = 0, attempt = 0;
  std::optional<Clock::time_point> overall;
  Session::Impl::Engine eng;
  std::shared_ptr<const ServerInfo> si;
  std::uint64_t epoch = 0;
  Clock::time_point deadline;
  // Held while `params` are lent to the engine: a reply may come (on another thread) before the
  // send returns, and its handling uses them (another try, another round).
  std::mutex sending;
  detail::RequestSpan span;  // ClientConfig::on_request
  bool quiet = false;        // a step of a task (AsyncTask): no events of its own
  // A tools/call whose task a ToolTask handle follows (Session::call_tool_task): the task's
  // states are reported to it, and the task has no deadline but max_total_time's.
  std::shared_ptr<ToolTask::State> watch;
  Clock::time_point started = Clock::now();
  std::uint64_t generation = 0;  // the session's when the call started (disconnected_since)

  void start() {
    if (impl->client.on_request && !quiet) span.start(impl->client.on_request, impl->name, method, impl->era_now());
    if (params.is_null()) params = json::object();
    if (!params.is_object())
      return finish(fail(Errc::invalid_argument, method + ": params must be a JSON object", impl->name), Where::caller);
    cacheable = !opt.no_cache && detail::ResultCache::cacheable(method);
    if (cacheable) {
      key = detail::ResultCache::key(method, params);
      if (auto hit = impl->cache.get(key)) return finish(std::move(*hit), Where::caller);
    }
    if (opt.max_total_time) overall = Clock::now() + *opt.max_total_time;
    generation = impl->generation_now();
    begin_round(Where::caller);
  }

  // request_once: a connection (opened on a worker if there is none), then the send.
  void begin_round(Where w) {
    if (auto c = impl->connected_now()) return connected(std::move(*c), w);
    AsyncService::instance().run_blocking([self = shared_from_this()] {
      auto c = self->impl->ensure(self->opt);
      if (!c) return self->finish(fail(c.error()), Where::worker);
      self->connected(std::move(*c), Where::worker);
    });
  }

  void connected(Session::Impl::Connection c, Where w) {
    eng = std::move(c.first);
    si = std::move(c.second);
    {
      std::lock_guard lk(impl->mutex);
      epoch = impl->session_epoch;
    }
    deadline = Clock::now() + impl->request_timeout(opt);
    attempt = 0;
    send(w);
  }

  void send(Where w) {
    if (opt.stop.stop_requested()) return finish(fail(Errc::cancelled, method + ": cancelled", impl->name), w);
    std::optional<TraceContext> trace;
    if (opt.trace || impl->client.trace_context) {
      auto t = impl->trace_for(method, opt);
      if (!t) return finish(fail(t.error()), w);
      trace = std::move(*t);
    }
    bool added_meta = false;
    if (si->era == Era::modern) {
      auto m = params.find("_meta");
      if (m == params.end() && trace) {
        params["_meta"] = *impl->meta.shared(si->protocol_version);
        added_meta = true;
      } else if (m == params.end()) {
        // As text written once per session (one copy of its bytes, not of a tree), unless the
        // engine is to add a progress token to it.
        auto text = opt.on_progress ? nullptr : impl->meta.shared_text(si->protocol_version);
        if (text && !text->empty()) params["_meta"] = detail::raw_json(*text);
        else params["_meta"] = *impl->meta.shared(si->protocol_version);
        added_meta = true;
      } else {
        const auto ours = impl->meta.shared(si->protocol_version);
        if (!m->is_object()) *m = json::object();
        for (auto it = ours->begin(); it != ours->end(); ++it) (*m)[it.key()] = it.value();
      }
    }
    if (trace) {
      if (!params.contains("_meta")) added_meta = true;
      detail::put_trace(params["_meta"], *trace);  // both eras
    }
    detail::AsyncOptions a;
    a.done = [self = shared_from_this()](Result<json> r) {
      { std::lock_guard wait_for_the_sender(self->sending); }
      self->handle(std::move(r), Where::engine);
    };
    a.stop = opt.stop;
    a.executor = impl->client.executor;
    Result<void> sent;
    {
      std::lock_guard lk(sending);
      auto p = eng->send_async(method, params, deadline, so, impl->progress_options(opt), std::move(a));
      if (added_meta) params.erase("_meta");  // the next round or try adds it again
      if (!p) sent = fail(p.error());
    }
    if (!sent) handle(fail(sent.error()), w);
  }

  // A reply, or a failure to send: request_once's retries, request_lent's rounds, the check.
  void handle(Result<json> r, Where w) {
    if (r) {
      auto checked = impl->check_result(method, std::move(*r));
      if (checked && method == "tools/call" && Session::Impl::is_task(*checked)) return follow(std::move(*checked), w);
      if (checked) {
        if (cacheable && round == 0) impl->remember(key, *checked);  // never after input rounds
        return finish(std::move(checked), w);
      }
      if (checked.error().errc() != Errc::input_required) return finish(std::move(checked), w);
      // The user's handlers answer the server's input requests: they may block.
      AsyncService::instance().run_blocking([self = shared_from_this(), ir = std::move(checked.error().data)]() mutable {
        auto next = self->impl->next_round(self->method, self->round, self->overall, std::move(ir), self->params);
        if (!next) return self->finish(fail(next.error()), Where::worker);
        // A handler that disconnected ends the call (the next round would open a new connection).
        if (auto gone = self->impl->disconnected_since(self->generation, self->method))
          return self->finish(fail(std::move(*gone)), Where::worker);
        ++self->round;
        self->begin_round(Where::worker);
      });
      return;
    }
    auto next = Session::Impl::again(si->era, attempt, r.error(), si->protocol_version);
    switch (next.kind) {
      case Session::Impl::Again::resend:
        ++attempt;
        return send(w);
      case Session::Impl::Again::other_version:
        si = impl->adopt_version(si, next.version);
        ++attempt;
        return send(w);
      case Session::Impl::Again::reinitialize:
        AsyncService::instance().run_blocking([self = shared_from_this()] {
          auto re = self->impl->reinitialize(self->eng, self->epoch, self->opt);
          if (!re) return self->finish(fail(re.error()), Where::worker);
          self->si = std::make_shared<const ServerInfo>(std::move(*re));
          ++self->attempt;
          self->send(Where::worker);
        });
        return;
      case Session::Impl::Again::no:
        break;
    }
    finish(fail(tagged(r.error(), impl->name)), w);
  }

  void follow(json task, Where w);  // AsyncTask

  void finish(Result<json> r, Where w) {
    auto cb = std::move(done);
    if (span.active()) {  // the end event where the completion runs, just before it
      cb = [cb = std::move(cb), self = shared_from_this()](Result<json> r) {
        self->span.end(self->impl->era_now(), r ? nullptr : &r.error());
        cb(std::move(r));
      };
    }
    if (w == Where::engine) return cb(std::move(r));
    impl->post_outcome([cb = std::move(cb), r = std::move(r)]() mutable { cb(std::move(r)); });
  }
};

// A tools/call answered with a task, followed as follow_task (tasks.cpp) does, with timers for
// the poll interval instead of a waiting thread; the handlers' answers on a blocking worker.
struct AsyncTask : std::enable_shared_from_this<AsyncTask> {
  using Clock = Session::Impl::Clock;
  std::shared_ptr<AsyncCall> call;  // the tools/call: its finish() is the task's end
  Clock::time_point deadline;
  std::string task_id;
  std::string request_state;  // the task's last requestState, echoed (SEP-2663)
  std::atomic<bool> over{false};
  std::mutex m;  // guards timer, and the stop callback's installation
  AsyncService::Timer timer;
  std::optional<std::stop_callback<std::function<void()>>> on_stop;

  void begin(json task, Where w) {
    if (call->watch) {
      const auto& limit = call->opt.max_total_time;
      deadline = limit ? call->started + *limit : Clock::time_point::max();
    } else {
      deadline = call->impl->task_deadline(call->opt, call->started);
    }
    task_id = task.value("taskId", std::string());
    if (call->opt.stop.stop_possible()) {
      std::lock_guard lk(m);
      on_stop.emplace(call->opt.stop, std::function<void()>([weak = weak_from_this()] {
                        if (auto self = weak.lock()) AsyncService::instance().post([self] { self->give_up(Errc::cancelled); });
                      }));
    }
    if (call->watch) call->watch->created(task);
    step(std::move(task), w);
  }

  void end(Result<json> r, Where w) {
    if (over.exchange(true)) return;
    {
      std::lock_guard lk(m);
      AsyncService::instance().cancel(timer);
    }
    call->finish(std::move(r), w);
  }

  void give_up(Errc why) {
    if (over.load()) return;
    // Told to the server on a worker (it blocks), the caller answered at once.
    AsyncService::instance().run_blocking([impl = call->impl, id = task_id, opt = call->opt] { impl->cancel_task(id, opt); });
    end(fail(why, why == Errc::timeout ? "tools/call: task " + task_id + " did not finish in time (cancelled)"
                                       : "tools/call: cancelled (task " + task_id + " cancelled)",
             call->impl->name),
        Where::worker);
  }

  void step(json task, Where w) {
    if (over.load()) return;
    if (auto rs = task.find(std::string_view("requestState")); rs != task.end() && rs->is_string())
      request_state = rs->get<std::string>();
    if (call->watch) call->watch->seen(task);
    auto s = call->impl->task_step(task);
    if (s.kind == Session::Impl::TaskStep::done) return end(std::move(s.outcome), w);
    if (s.kind == Session::Impl::TaskStep::input) {
      AsyncService::instance().run_blocking([self = shared_from_this(), requests = std::move(s.requests)] {
        const auto asked = Clock::now();
        auto responses = self->call->impl->task_answers(requests);
        // A person's time does not count against the task's limit (the steps run one at a
        // time: nothing else reads `deadline` now).
        self->deadline = Session::Impl::extended(self->deadline, Clock::now() - asked);
        if (!responses) return self->end(fail(responses.error()), Where::worker);
        if (self->call->watch) self->call->watch->input_answered();
        self->send("tasks/update", json{{"taskId", self->task_id}, {"inputResponses", std::move(*responses)}}, Where::worker);
      });
      return;
    }
    const auto when = std::min(deadline, Clock::now() + s.wait);
    std::lock_guard lk(m);
    timer = AsyncService::instance().at(when, [self = shared_from_this()] {
      if (self->call->opt.stop.stop_requested()) return self->give_up(Errc::cancelled);
      if (Clock::now() >= self->deadline) return self->give_up(Errc::timeout);
      self->send("tasks/get", json{{"taskId", self->task_id}}, Where::worker);
    });
  }

  void send(std::string method, json params, Where) {
    if (over.load()) return;
    if (call->impl->closed.load())  // the Session is gone: a request would open a new connection
      return end(fail(Errc::disconnected, "tools/call: task " + task_id + ": the session was closed", call->impl->name),
                 Where::worker);
    if (!request_state.empty()) params["requestState"] = request_state;
    auto c = std::make_shared<AsyncCall>();
    c->impl = call->impl;
    c->method = method;
    c->params = std::move(params);
    // A handle's task may run for long: each request has the request timeout.
    const auto until = call->watch ? std::min(deadline, Clock::now() + call->impl->request_timeout(call->opt)) : deadline;
    c->opt = Session::Impl::task_request_options(call->opt, until);
    c->quiet = true;
    const bool update = method == "tasks/update";
    c->done = [self = shared_from_this(), update](Result<json> r) {
      if (!r) {
        const Errc e = r.error().errc();
        if (e == Errc::cancelled || e == Errc::timeout) return self->give_up(e);
        return self->end(fail(r.error()), Where::engine);
      }
      // After tasks/update the task runs again: its state is asked for at once.
      if (update) return self->step(json{{"taskId", self->task_id}, {"status", "working"}, {"pollIntervalMs", 0}}, Where::engine);
      self->step(std::move(*r), Where::engine);
    };
    c->start();
  }
};

void AsyncCall::follow(json task, Where w) {
  auto t = std::make_shared<AsyncTask>();
  t->call = shared_from_this();
  t->begin(std::move(task), w);
}

// A listing's pages, one asynchronous request after the other.
template <class T, class L = detail::ListingOf<T>>
struct AsyncListing : std::enable_shared_from_this<AsyncListing<T, L>> {
  std::shared_ptr<Session::Impl> impl;
  RequestOptions opt;
  Callback<std::vector<T>> done;
  detail::Pager pager;
  detail::Collect<T> collect;

  AsyncListing(std::shared_ptr<Session::Impl> i, RequestOptions o, Callback<std::vector<T>> d,
               json base = json::object())
      : impl(std::move(i)), opt(std::move(o)), done(std::move(d)), pager(L::method, L::key, impl->name, std::move(base)),
        collect(*impl, L::method) {}

  void page(json params) {
    impl->async_request(L::method, std::move(params), opt, {}, [self = this->shared_from_this()](Result<json> r) {
      auto next = self->pager.take(std::move(r), [&](const json& item) { self->collect.add(item); });
      if (!next) return self->done(fail(next.error()));
      if (!*next) return self->done(self->collect.finish());
      self->page(std::move(**next));
    });
  }
};

template <class T, class L = detail::ListingOf<T>>
void list(const std::shared_ptr<Session::Impl>& impl, RequestOptions options, Callback<std::vector<T>> done,
          json base = json::object()) {
  auto l = std::make_shared<AsyncListing<T, L>>(impl, std::move(options), std::move(done), std::move(base));
  l->page(l->pager.first());
}

// `done` of an asynchronous request whose result `convert` turns into a T.
template <class T, class Convert>
Callback<json> then(Callback<T> done, Convert convert) {
  return [done = std::move(done), convert = std::move(convert)](Result<json> r) mutable {
    if (!r) return done(fail(r.error()));
    done(convert(std::move(*r)));
  };
}

}  // namespace

std::optional<Session::Impl::Connection> Session::Impl::connected_now() const {
  std::lock_guard lk(mutex);
  if (engine && engine->is_open() && info.era != Era::unknown && shared_info) return std::make_pair(engine, shared_info);
  return std::nullopt;
}

void Session::Impl::post_outcome(std::function<void()> task) const {
  detail::RpcEngine::post_callback(client.executor, std::move(task));
}

void Session::Impl::async_request(std::string method, json params, RequestOptions opt, SendOptions so,
                                  Callback<json> done, std::shared_ptr<ToolTask::State> watch) {
  auto call = std::make_shared<AsyncCall>();
  call->watch = std::move(watch);
  call->impl = shared_from_this();
  call->method = std::move(method);
  call->params = std::move(params);
  call->opt = std::move(opt);
  call->so = std::move(so);
  call->done = std::move(done);
  call->start();
}

void Session::start_connect(const std::shared_ptr<Impl>& impl, RequestOptions options, Callback<ServerInfo> done) {
  if (auto c = impl->connected_now()) {
    impl->post_outcome([done = std::move(done), si = c->second] { done(ServerInfo(*si)); });
    return;
  }
  AsyncService::instance().run_blocking([impl, options = std::move(options), done = std::move(done)]() mutable {
    auto c = impl->ensure(options);
    Result<ServerInfo> r = c ? Result<ServerInfo>(*c->second) : fail(c.error());
    impl->post_outcome([done = std::move(done), r = std::move(r)]() mutable { done(std::move(r)); });
  });
}

void Session::start_request(const std::shared_ptr<Impl>& impl, std::string method, json params, RequestOptions options,
                            Callback<json> done) {
  impl->async_request(std::move(method), std::move(params), std::move(options), {}, std::move(done));
}

namespace {
// A tools/call sent without waiting (Session::async_call_tool, Session::call_tool_task): `watch`,
// when set, is told of the task the server may make of it.
void call_tool_async(const std::shared_ptr<Session::Impl>& impl, std::string name, json arguments,
                     RequestOptions options, std::shared_ptr<ToolTask::State> watch, Callback<CallToolResult> done) {
  using Impl = Session::Impl;
  auto params = impl->tool_call_params(name, std::move(arguments));
  auto so = params ? impl->tool_send_options(name, *params) : Result<SendOptions>(fail(params.error()));
  if (!so) {
    impl->post_outcome([done = std::move(done), e = so.error()] { done(fail(e)); });
    return;
  }
  // The params are kept for the one retry a HeaderMismatch allows (after re-listing the tools),
  // which only HTTP's Mcp-Param headers can bring.
  auto retry = impl->transport.param_headers ? std::make_shared<json>(*params) : nullptr;
  impl->async_request(
      "tools/call", std::move(*params), options, std::move(*so),
      [impl, name, options, retry, watch, done = std::move(done)](Result<json> r) mutable {
        if (r || !impl->relist_on(r.error())) {
          if (!r) return done(fail(r.error()));
          return done(impl->tool_result(name, std::move(*r)));
        }
        // Re-listing is a blocking listing: on a worker, then the retry is asynchronous again.
        AsyncService::instance().run_blocking([impl, name, options, retry, watch, done = std::move(done)]() mutable {
          auto fail_posted = [&](const Error& e) { impl->post_outcome([done, e] { done(fail(e)); }); };
          auto relisted = detail::SessionAccess::list_tools_of(*impl, options);
          if (!relisted) return fail_posted(relisted.error());
          auto so = impl->tool_send_options(name, *retry);
          if (!so) return fail_posted(so.error());
          Impl::strip_for_retry(*retry);
          impl->async_request("tools/call", std::move(*retry), options, std::move(*so),
                              then<CallToolResult>(std::move(done), [impl, name](json j) {
                                return impl->tool_result(name, std::move(j));
                              }),
                              watch);
        });
      },
      watch);
}
}  // namespace

void Session::start_call_tool(const std::shared_ptr<Impl>& impl, std::string name, json arguments,
                              RequestOptions options, Callback<CallToolResult> done) {
  call_tool_async(impl, std::move(name), std::move(arguments), std::move(options), nullptr, std::move(done));
}

namespace {
// Starts the tools/call a ToolTask handle follows; `st->on_started` is called once the task is
// made or the call ended without one.
void start_tool_task(const std::shared_ptr<Session::Impl>& impl, const std::shared_ptr<ToolTask::State>& st,
                     std::string name, json arguments, RequestOptions options) {
  // The handle's cancel() and the caller's stop token both stop the task.
  if (options.stop.stop_possible()) {
    st->link = std::make_shared<detail::StopLink>(options.stop, st->stop.get_token());
    options.stop = st->link->source.get_token();
  } else {
    options.stop = st->stop.get_token();
  }
  call_tool_async(impl, std::move(name), std::move(arguments), std::move(options), st,
                  [st](Result<CallToolResult> r) { st->settle(std::move(r)); });
}
}  // namespace

Result<ToolTask> Session::call_tool_task(std::string_view name, json arguments, const RequestOptions& options) {
  auto st = std::make_shared<ToolTask::State>();
  start_tool_task(impl_, st, std::string(name), std::move(arguments), options);
  ToolTask handle(st);  // from here on, leaving cancels
  {
    std::unique_lock lk(st->m);
    st->cv.wait(lk, [&] { return st->started; });
  }
  if (auto e = st->start_error()) return fail(std::move(*e));
  return handle;
}

void Session::start_call_tool_task(const std::shared_ptr<Impl>& impl, std::string name, json arguments,
                                   RequestOptions options, Callback<ToolTask> done) {
  auto st = std::make_shared<ToolTask::State>();
  // Called by a member function of the state (which is alive then): weak, or the state would
  // own itself.
  st->on_started = [impl, weak = std::weak_ptr<ToolTask::State>(st), done = std::move(done)]() mutable {
    auto st = weak.lock();
    if (!st) return;
    impl->post_outcome([st = std::move(st), done = std::move(done)]() mutable {
      if (auto e = st->start_error()) return done(fail(std::move(*e)));
      done(ToolTask(std::move(st)));
    });
  };
  start_tool_task(impl, st, std::move(name), std::move(arguments), std::move(options));
}

void Session::start_list(const std::shared_ptr<Impl>& impl, RequestOptions options,
                         Callback<std::vector<ToolDefinition>> done) {
  list<ToolDefinition>(impl, std::move(options), std::move(done));
}
void Session::start_list(const std::shared_ptr<Impl>& impl, RequestOptions options,
                         Callback<std::vector<Resource>> done) {
  list<Resource>(impl, std::move(options), std::move(done));
}
void Session::start_list(const std::shared_ptr<Impl>& impl, RequestOptions options,
                         Callback<std::vector<ResourceTemplate>> done) {
  list<ResourceTemplate>(impl, std::move(options), std::move(done));
}
void Session::start_list(const std::shared_ptr<Impl>& impl, RequestOptions options,
                         Callback<std::vector<Prompt>> done) {
  list<Prompt>(impl, std::move(options), std::move(done));
}

void Session::start_read_resource(const std::shared_ptr<Impl>& impl, std::string uri, RequestOptions options,
                                  Callback<ReadResourceResult> done) {
  json params{{"uri", uri}};
  impl->async_request("resources/read", std::move(params), std::move(options), {},
                      then<ReadResourceResult>(std::move(done), [impl, uri = std::move(uri)](json r) {
                        return impl->read_result(uri, std::move(r));
                      }));
}

void Session::start_get_prompt(const std::shared_ptr<Impl>& impl, std::string name,
                               std::map<std::string, std::string> arguments, RequestOptions options,
                               Callback<GetPromptResult> done) {
  impl->async_request("prompts/get", Impl::prompt_params(name, arguments), std::move(options), {},
                      then<GetPromptResult>(std::move(done), [impl, name = std::move(name)](json r) {
                        return impl->prompt_result(name, std::move(r));
                      }));
}

void Session::start_complete(const std::shared_ptr<Impl>& impl, json ref, std::string argument, std::string value,
                             json context, RequestOptions options, Callback<json> done) {
  impl->async_request("completion/complete", Impl::complete_params(ref, argument, value, context), std::move(options),
                      {}, then<json>(std::move(done), [impl](json r) { return impl->completion_result(std::move(r)); }));
}

// The Skills calls: connect if needed, check what the server declared, then as any request.
void Session::start_list_skills(const std::shared_ptr<Impl>& impl, RequestOptions options,
                                Callback<std::vector<Skill>> done) {
  start_connect(impl, options, [impl, options, done = std::move(done)](Result<ServerInfo> si) mutable {
    if (si) {
      if (auto d = impl->skills_declared(*si, false); !d) si = fail(d.error());
    }
    if (!si) return done(fail(si.error()));
    list<Skill>(impl, std::move(options), std::move(done));
  });
}

void Session::start_get_skill(const std::shared_ptr<Impl>& impl, std::string uri, RequestOptions options,
                              Callback<Skill> done) {
  start_connect(impl, options, [impl, uri = std::move(uri), options, done = std::move(done)](Result<ServerInfo> si) mutable {
    if (si) {
      if (auto d = impl->skills_declared(*si, false); !d) si = fail(d.error());
    }
    if (!si) return done(fail(si.error()));
    json params{{"uri", uri}};
    impl->async_request("skills/get", std::move(params), std::move(options), {},
                        then<Skill>(std::move(done), [impl, uri = std::move(uri)](json r) {
                          return impl->skill_result(uri, std::move(r));
                        }));
  });
}

void Session::start_read_skill_file(const std::shared_ptr<Impl>& impl, Skill skill, std::string uri,
                                    RequestOptions options, Callback<SkillFileContent> done) {
  if (auto p = impl->skill_file_precheck(skill, uri); !p) {
    impl->post_outcome([done = std::move(done), e = p.error()] { done(fail(e)); });
    return;
  }
  json params{{"uri", uri}};
  impl->async_request("resources/read", std::move(params), std::move(options), {},
                      then<SkillFileContent>(std::move(done), [impl, skill = std::move(skill), uri = std::move(uri)](json r) {
                        return impl->skill_file_result(skill, uri, std::move(r));
                      }));
}

void Session::start_read_directory(const std::shared_ptr<Impl>& impl, std::string uri, RequestOptions options,
                                   Callback<std::vector<Resource>> done) {
  start_connect(impl, options, [impl, uri = std::move(uri), options, done = std::move(done)](Result<ServerInfo> si) mutable {
    if (si) {
      if (auto d = impl->skills_declared(*si, true); !d) si = fail(d.error());
    }
    if (!si) return done(fail(si.error()));
    list<Resource, detail::DirectoryListing>(impl, std::move(options), std::move(done), json{{"uri", uri}});
  });
}

void Session::start_ping(const std::shared_ptr<Impl>& impl, RequestOptions options, Callback<void> done) {
  // The method depends on the era: known once connected.
  start_connect(impl, options, [impl, options, done = std::move(done)](Result<ServerInfo> si) mutable {
    if (!si) return done(fail(si.error()));
    impl->async_request(si->era == Era::modern ? "server/discover" : "ping", json::object(), std::move(options), {},
                        [done = std::move(done)](Result<json> r) {
                          if (!r) return done(fail(r.error()));
                          done({});
                        });
  });
}

}  // namespace mcp
