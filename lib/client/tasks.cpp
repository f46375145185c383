// SPDX-License-Identifier: MIT
// The tasks extension (io.modelcontextprotocol/tasks, SEP-2663, 2026-07-28) on the client's
// side: a tools/call the server answered with a task (resultType "task") is followed to its
// end, tasks/get at the server's poll interval, its input requests answered with tasks/update
// through the client's handlers, tasks/cancel when the caller cancels or the time is up.
// task_step says what a task's state calls for; follow_task drives it on the calling thread
// (async_session.cpp drives it with timers).
#include "session_impl.hpp"

#include "../protocol/jsonrpc.hpp"

#include <algorithm>
#include <condition_variable>

namespace mcp {

using nlohmann::json;

namespace {
constexpr Milliseconds kDefaultPoll{1000};  // when the task names no pollIntervalMs
constexpr Milliseconds kMinPoll{10}, kMaxPoll{30000};
}  // namespace

bool Session::Impl::is_task(const json& r) {
  if (!r.is_object()) return false;
  const auto rt = r.find(std::string_view("resultType"));
  return rt != r.end() && rt->is_string() && rt->get_ref<const std::string&>() == "task";
}

Session::Impl::TaskStep Session::Impl::task_step(const json& task) const {
  TaskStep s;
  const auto status = task.find(std::string_view("status"));
  const auto id = task.find(std::string_view("taskId"));
  if (id == task.end() || !id->is_string() || status == task.end() || !status->is_string()) {
    s.outcome = fail(Errc::invalid_result, "tools/call: a task without a taskId or a status", name);
    return s;
  }
  const std::string& st = status->get_ref<const std::string&>();
  const std::string& tid = id->get_ref<const std::string&>();
  if (st == "completed") {
    const auto r = task.find(std::string_view("result"));
    if (r == task.end()) {  // a CreateTaskResult may already say completed: the result is fetched
      s.kind = TaskStep::poll;
      return s;
    }
    if (!r->is_object()) s.outcome = fail(Errc::invalid_result, "tasks/get: task " + tid + ": result is not an object", name);
    else s.outcome = *r;
    return s;
  }
  if (st == "failed") {
    const auto e = task.find(std::string_view("error"));
    if (e == task.end()) {
      s.kind = TaskStep::poll;
      return s;
    }
    Error err = jsonrpc::error_from(*e, "tools/call");
    err.message += " (task " + tid + ")";
    s.outcome = fail(tagged(std::move(err), name));
    return s;
  }
  if (st == "cancelled") {
    s.outcome = fail(Errc::cancelled, "tools/call: the server cancelled task " + tid, name);
    return s;
  }
  if (st == "input_required") {
    const auto q = task.find(std::string_view("inputRequests"));
    if (q != task.end() && q->is_object() && !q->empty()) {
      s.kind = TaskStep::input;
      s.requests = *q;
      return s;
    }
  } else if (st != "working") {
    s.outcome = fail(Errc::invalid_result, "tools/call: task " + tid + " has an unknown status '" + st + "'", name);
    return s;
  }
  s.kind = TaskStep::poll;
  // pollIntervalMs (the pinned schema), pollIntervalMilliseconds (the SEP's later text).
  auto p = task.find(std::string_view("pollIntervalMs"));
  if (p == task.end()) p = task.find(std::string_view("pollIntervalMilliseconds"));
  if (p != task.end() && p->is_number() && p->get<double>() >= 0)
    s.wait = std::clamp(Milliseconds(static_cast<std::int64_t>(p->get<double>())), kMinPoll, kMaxPoll);
  else s.wait = kDefaultPoll;
  return s;
}

Result<json> Session::Impl::task_answers(const json& requests) const {
  json responses = json::object();
  for (const auto& [key, q] : requests.items()) {
    if (!q.is_object() || !q.contains("method") || !q["method"].is_string())
      return fail(Errc::invalid_result, "tasks/get: input request '" + key + "' has no method", name);
    auto answer = fulfil(q["method"].get<std::string>(), q.contains("params") ? q["params"] : json::object());
    if (!answer) {
      Error e = tagged(answer.error(), name);
      e.code = make_error_code(Errc::input_required);
      e.message = "tools/call (task): " + e.message;
      return fail(std::move(e));
    }
    responses[key] = std::move(*answer);
  }
  return responses;
}

RequestOptions Session::Impl::task_request_options(const RequestOptions& opt, Clock::time_point deadline) {
  RequestOptions o;
  o.timeout = std::max(Milliseconds(1), std::chrono::duration_cast<Milliseconds>(deadline - Clock::now()));
  o.stop = opt.stop;
  o.trace = opt.trace;
  o.no_cache = true;
  return o;
}

Session::Impl::Clock::time_point Session::Impl::extended(Clock::time_point deadline, Clock::duration by) {
  if (deadline >= Clock::time_point::max() - by) return Clock::time_point::max();
  return deadline + by;
}

Session::Impl::Clock::time_point Session::Impl::task_deadline(const RequestOptions& opt, Clock::time_point started) const {
  return started + std::max(request_timeout(opt), opt.max_total_time.value_or(Milliseconds(0)));
}

void Session::Impl::cancel_task(const std::string& task_id, const RequestOptions& opt) {
  if (closed.load()) return;  // the Session is gone: a request would open a new connection
  RequestOptions o;
  o.timeout = std::min(request_timeout(opt), Milliseconds(5000));
  o.trace = opt.trace;
  o.no_cache = true;
  json params{{"taskId", task_id}};
  auto r = request_unobserved("tasks/cancel", params, o, {});
  if (!r) diagnostic("tasks/cancel " + task_id + ": " + r.error().message, "tasks/cancel");
}

Result<json> Session::Impl::follow_task(json task, const RequestOptions& opt, Clock::time_point started) {
  auto deadline = task_deadline(opt, started);
  const std::string task_id = task.value("taskId", std::string());
  std::string request_state;  // the task's last requestState, echoed (SEP-2663)
  auto give_up = [&](Errc why) -> Result<json> {
    if (!task_id.empty()) cancel_task(task_id, opt);
    return fail(why, why == Errc::timeout ? "tools/call: task " + task_id + " did not finish in time (cancelled)"
                                          : "tools/call: cancelled (task " + task_id + " cancelled)",
                name);
  };
  for (;;) {
    if (auto rs = task.find(std::string_view("requestState")); rs != task.end() && rs->is_string())
      request_state = rs->get<std::string>();
    TaskStep s = task_step(task);
    if (s.kind == TaskStep::done) return std::move(s.outcome);
    json params{{"taskId", task_id}};
    if (!request_state.empty()) params["requestState"] = request_state;
    std::string method = "tasks/get";
    if (s.kind == TaskStep::input) {
      const auto asked = Clock::now();
      auto responses = task_answers(s.requests);
      deadline = extended(deadline, Clock::now() - asked);  // a person's time does not count
      if (!responses) return fail(responses.error());
      params["inputResponses"] = std::move(*responses);
      method = "tasks/update";
    } else {
      // The server's poll interval, cut short by cancellation.
      std::mutex m;
      std::condition_variable_any cv;
      std::unique_lock lk(m);
      const auto until = std::min(deadline, Clock::now() + s.wait);
      cv.wait_until(lk, opt.stop, until, [] { return false; });
    }
    if (opt.stop.stop_requested()) return give_up(Errc::cancelled);
    if (Clock::now() >= deadline) return give_up(Errc::timeout);
    auto r = request_unobserved(method, params, task_request_options(opt, deadline), {});
    if (!r) {
      if (r.error().errc() == Errc::cancelled || r.error().errc() == Errc::timeout) return give_up(r.error().errc());
      return fail(r.error());
    }
    // After tasks/update the task runs again: its state is asked for at once.
    task = method == "tasks/update" ? json{{"taskId", task_id}, {"status", "working"}, {"pollIntervalMs", 0}}
                                    : std::move(*r);
  }
}

}  // namespace mcp
