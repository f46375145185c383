// SPDX-License-Identifier: MIT
// Tasks on the server's side: a tools/call answered at once with a task whose handler runs on
// the handler threads, then polled. Two wire forms:
//   2025-11-25 (legacy sessions at that revision): the client asks with `task` in the call's
//     params; CreateTaskResult {task}; tasks/get, tasks/result (waits), tasks/list,
//     tasks/cancel; notifications/tasks/status. Tasks belong to the session.
//   2026-07-28 (extension io.modelcontextprotocol/tasks, SEP-2663): the server decides, for a
//     client that declared the extension in the request's capabilities; CreateTaskResult is
//     the Task with resultType "task"; tasks/get inlines result/error/inputRequests,
//     tasks/update answers inputRequests, tasks/cancel acknowledges. No sessions: a task id
//     (128 random bits) is the only handle, and there is no tasks/list.
#include "server_impl.hpp"

#include "../lib/protocol/jsonrpc.hpp"

#include <openssl/rand.h>

#include <algorithm>
#include <cstdio>
#include <ctime>
#include <set>

namespace mcp {

namespace sd = server_detail;
using json = nlohmann::json;

namespace {

Error rpc_error(int code, std::string message, json data = nullptr) {
  Error e = jsonrpc::error(Errc::rpc_error, code, std::move(message));
  e.data = std::move(data);
  return e;
}

std::int64_t wall_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch()).count();
}

// ISO 8601 / RFC 3339, UTC, with milliseconds.
std::string iso8601(std::int64_t ms) {
  const std::time_t secs = static_cast<std::time_t>(ms / 1000);
  std::tm tm{};
  gmtime_r(&secs, &tm);
  char buf[40];
  const std::size_t n = std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%S", &tm);
  char frac[8];
  std::snprintf(frac, sizeof frac, ".%03dZ", static_cast<int>(ms % 1000));
  return std::string(buf, n) + frac;
}

// 128 bits from the CSPRNG, hex: unguessable (the only handle a 2026-07-28 task has).
std::optional<std::string> new_task_id() {
  unsigned char rnd[16];
  if (RAND_bytes(rnd, sizeof rnd) != 1) return std::nullopt;
  static const char* hex = "0123456789abcdef";
  std::string id;
  for (unsigned char b : rnd) {
    id += hex[b >> 4];
    id += hex[b & 15];
  }
  return id;
}

bool terminal(const std::string& status) { return status == "completed" || status == "failed" || status == "cancelled"; }

json error_json(const Error& e) {
  json j{{"code", e.rpc_code.value_or(jsonrpc::internal_error)}, {"message", e.message}};
  if (!e.data.is_null()) j["data"] = e.data;
  return j;
}

using Record = Server::Impl::TaskRecord;
using Waiters = Server::Impl::TaskWaiters;

// The Task object of either era (guarded by tasks_m).
json task_json(const Record& r, std::int64_t poll_ms) {
  json j{{"taskId", r.id}, {"status", r.status}, {"createdAt", iso8601(r.created_ms)}, {"lastUpdatedAt", iso8601(r.updated_ms)}};
  if (!r.message.empty()) j["statusMessage"] = r.message;
  if (r.modern) {
    j["ttlMs"] = r.ttl_ms;
    j["pollIntervalMs"] = poll_ms;
  } else {
    j["ttl"] = r.ttl_ms;
    j["pollInterval"] = poll_ms;
  }
  return j;
}

// 2026-07-28 DetailedTask: the Task and what its status carries.
json detailed_json(const Record& r, std::int64_t poll_ms) {
  json j = task_json(r, poll_ms);
  if (r.status == "input_required") j["inputRequests"] = r.outstanding;
  if (r.outcome && r.status == "completed" && *r.outcome) j["result"] = **r.outcome;
  if (r.outcome && r.status == "failed" && !*r.outcome) j["error"] = error_json(r.outcome->error());
  return j;
}

// Under tasks_m: what only a run needs, let go once the task is terminal (a modern task's
// context holds its request's channel).
void release_run(Record& r) {
  r.ctx.reset();
  r.tool.reset();
  r.args = nullptr;
}

// What tasks/result answers for a terminal legacy task: exactly the underlying answer, with
// the related-task _meta on a result.
Result<json> payload(const Record& r) {
  if (!r.outcome)
    return fail(rpc_error(jsonrpc::invalid_params, "Task " + r.id + " was cancelled: it has no result",
                          json{{"taskId", r.id}, {"status", r.status}}));
  if (!*r.outcome) return fail(r.outcome->error());
  json res = **r.outcome;
  res["_meta"][sd::kMetaRelatedTask] = json{{"taskId", r.id}};
  return res;
}

}  // namespace

namespace server_detail {

bool declares_tasks_extension(const json& client_capabilities) {
  const auto ext = client_capabilities.find("extensions");
  return ext != client_capabilities.end() && ext->is_object() && ext->contains(kTasksExtension);
}

Error missing_tasks_extension(const std::string& why) {
  return rpc_error(-32021, "Missing required client capability: " + why + " (extension " + kTasksExtension + ")",
                   json{{"requiredCapabilities", {{"extensions", {{kTasksExtension, json::object()}}}}}});
}

}  // namespace server_detail

bool Server::Impl::tasks_enabled() const {
  std::lock_guard lk(m);
  for (const auto& t : tools)
    if (t->spec.task_support != TaskSupport::forbidden) return true;
  return false;
}

// Under tasks_m: deletes tasks past their TTL, and legacy tasks whose session is gone. Their
// stop tokens fire and their waiters are answered by after_prune (outside the lock).
void Server::Impl::prune_tasks(DroppedTasks& dropped) {
  const auto now = std::chrono::steady_clock::now();
  for (auto it = tasks.begin(); it != tasks.end();) {
    auto& r = it->second;
    if (now >= r->expires || (!r->modern && r->owner.expired())) {
      dropped.emplace_back(r, std::move(r->waiters));
      it = tasks.erase(it);
    } else {
      ++it;
    }
  }
}

void Server::Impl::after_prune(DroppedTasks& dropped) {
  for (auto& [r, waiters] : dropped) {
    r->stop->request_stop();
    for (auto& [weak, wid] : waiters)
      if (auto w = weak.lock())
        w->respond(wid, fail(rpc_error(jsonrpc::invalid_params, "Failed to retrieve task: Task has expired",
                                       json{{"taskId", r->id}})));
  }
  dropped.clear();
}

void Server::Impl::cancel_all_tasks() {
  std::lock_guard lk(tasks_m);
  for (auto& [id, r] : tasks) r->stop->request_stop();
}

void Server::Impl::start_task(const std::shared_ptr<sd::Connection>& c, const json& id,
                              const std::shared_ptr<RequestContext::Impl>& ctx, std::shared_ptr<const Tool> tool, json args,
                              bool legacy_invalid, std::optional<std::int64_t> requested_ttl) {
  const bool modern = ctx->era == Era::modern;
  auto tid = new_task_id();
  if (!tid) return c->respond(id, fail(rpc_error(jsonrpc::internal_error, "no randomness for a task id")));
  auto rec = std::make_shared<TaskRecord>();
  rec->id = *tid;
  rec->modern = modern;
  rec->principal = sd::principal_of(ctx->auth.get());
  if (!modern) {
    rec->owner = c;
    rec->owner_ptr = c.get();
  }
  const std::int64_t max_ttl = options.max_task_ttl.count();
  rec->ttl_ms = std::clamp<std::int64_t>(requested_ttl.value_or(options.task_ttl.count()), 1, std::max<std::int64_t>(max_ttl, 1));
  rec->created_ms = rec->updated_ms = wall_ms();
  rec->expires = std::chrono::steady_clock::now() + std::chrono::milliseconds(rec->ttl_ms);
  rec->stop = std::make_shared<std::stop_source>();
  rec->ctx = ctx;
  rec->tool = std::move(tool);
  rec->args = std::move(args);
  rec->legacy_invalid = legacy_invalid;
  ctx->stop = rec->stop->get_token();
  ctx->task_id = rec->id;
  if (!modern) {
    // A legacy handler waiting for the client's answer (elicitation, sampling, roots): the task
    // is input_required meanwhile.
    std::weak_ptr<Impl> weak_self = weak_from_this();
    std::weak_ptr<TaskRecord> weak_rec = rec;
    ctx->task_waiting = [weak_self, weak_rec](bool waiting) {
      auto self = weak_self.lock();
      auto r = weak_rec.lock();
      if (self && r) self->set_task_status(r, waiting ? "input_required" : "working", waiting ? "waiting for the client" : "");
    };
  }
  DroppedTasks dropped;
  bool full = false;
  {
    std::lock_guard lk(tasks_m);
    prune_tasks(dropped);
    if (tasks.size() >= options.max_tasks) {
      full = true;
    } else {
      rec->seq = ++task_seq;
      tasks[rec->id] = rec;
    }
  }
  after_prune(dropped);
  if (full) {
    diagnose("a task was refused: max_tasks tasks are kept already", {detail::log_request_id(id), "tools/call"});
    return c->respond(id, fail(rpc_error(jsonrpc::internal_error, "too many tasks: try again when some have finished or expired",
                                         json{{"reason", "too many tasks"}, {"maxTasks", options.max_tasks}})));
  }
  if (!modern) {
    // The session's running work: cancelled when it closes, and waited for (stdio) before
    // serving ends.
    std::lock_guard lk(c->m);
    if (c->closing) {
      std::lock_guard lt(tasks_m);
      tasks.erase(rec->id);
      return;
    }
    c->running.insert_or_assign("task:" + rec->id, *rec->stop);
  }
  json created;
  {
    std::lock_guard lk(tasks_m);
    created = task_json(*rec, options.task_poll_interval.count());
  }
  if (modern) {
    created["resultType"] = "task";
    if (options.server_info_in_results) created["_meta"][sd::kMetaServerInfo] = identity_json();
    c->respond(id, std::move(created));
  } else {
    c->respond(id, json{{"task", std::move(created)}});
  }
  // Answered first (the task exists: tasks/get finds it), then run.
  if (!pool.submit([self = shared_from_this(), rec] { self->run_task(rec); }))
    finish_task(rec, fail(rpc_error(jsonrpc::internal_error, "server busy: too many requests waiting")), false);
}

void Server::Impl::run_task(const std::shared_ptr<TaskRecord>& rec) {
  std::shared_ptr<RequestContext::Impl> ctxp;
  std::shared_ptr<const Tool> tool;
  json args;
  {
    std::lock_guard lk(tasks_m);
    ctxp = rec->ctx;
    tool = rec->tool;
    args = rec->args;
  }
  if (!ctxp || !tool) return finish_task(rec, fail(Errc::cancelled, "ended"), false);  // ended meanwhile
  auto& ctx = *ctxp;
  Result<json> r = fail(Errc::cancelled, "cancelled");
  if (!rec->stop->stop_requested()) {
    // Each run (2026-07-28: again after tasks/update) asks its questions afresh.
    ctx.asked = json::object();
    ctx.questions = 0;
    ctx.keys.clear();
    auto t = run_tool(*tool, args, ctx, rec->legacy_invalid);
    if (t) {
      json out;
      to_json(out, *t);
      r = std::move(out);
    } else {
      r = fail(std::move(t.error()));
    }
  }
  finish_task(rec, std::move(r), rec->modern && !ctx.asked.empty());
}


void Server::Impl::finish_task(const std::shared_ptr<TaskRecord>& rec, Result<json> r, bool asked) {
  Waiters waiters;
  json note;
  bool changed = false;
  {
    std::lock_guard lk(tasks_m);
    const auto it = tasks.find(rec->id);
    const bool live = it != tasks.end() && it->second == rec;
    if (live && !terminal(rec->status)) {
      changed = true;
      rec->updated_ms = wall_ms();
      if (rec->stop->stop_requested()) {
        rec->status = "cancelled";
        rec->message = "The task was cancelled.";
      } else if (asked) {
        // 2026-07-28: what the handler asked for and has no answer to; tasks/update answers it
        // and the handler runs again.
        rec->outstanding = json::object();
        for (const auto& [k, v] : rec->ctx->asked.items())
          if (!rec->ctx->answers.contains(k)) rec->outstanding[k] = v;
        rec->status = "input_required";
        rec->message = "The task needs the client's input (inputRequests).";
      } else {
        const bool tool_error = r && r->is_object() && r->value("isError", false) == true;
        // A tool's isError result: failed in 2025-11-25, completed in 2026-07-28 (failed is for
        // JSON-RPC errors only there).
        rec->status = !r || (tool_error && !rec->modern) ? "failed" : "completed";
        rec->message = !r ? "The task failed: " + r.error().message : tool_error ? "The tool reported an error." : "";
        rec->outcome = std::move(r);
        waiters = std::move(rec->waiters);
      }
      note = rec->modern ? detailed_json(*rec, options.task_poll_interval.count())
                         : task_json(*rec, options.task_poll_interval.count());
    }
    if (terminal(rec->status)) release_run(*rec);
  }
  if (!rec->modern) {
    auto owner = rec->owner.lock();
    // The status notification first: a client that has the result has been told the end (its
    // tasks/get after tasks/result must not overtake the notification).
    if (owner && changed) (void)owner->notify(nullptr, "notifications/tasks/status", note);
    Result<json> answer = fail(Errc::cancelled, "");
    if (!waiters.empty()) {
      std::lock_guard lk(tasks_m);
      answer = payload(*rec);
    }
    for (auto& [weak, wid] : waiters)
      if (auto w = weak.lock()) w->respond(wid, answer);
    if (owner) {
      std::lock_guard lk(owner->m);
      owner->running.erase("task:" + rec->id);
      owner->idle.notify_all();
    }
  } else if (changed) {
    notify_task_listeners(rec->id, note);
  }
}

void Server::Impl::set_task_status(const std::shared_ptr<TaskRecord>& rec, const std::string& status,
                                   const std::string& message) {
  json note;
  {
    std::lock_guard lk(tasks_m);
    if (terminal(rec->status) || rec->status == status) return;
    rec->status = status;
    rec->message = message;
    rec->updated_ms = wall_ms();
    note = task_json(*rec, options.task_poll_interval.count());
  }
  if (auto owner = rec->owner.lock()) (void)owner->notify(nullptr, "notifications/tasks/status", note);
}

bool Server::Impl::task_method(const std::shared_ptr<sd::Connection>& c, const json& id, const std::string& method,
                               const json& params, const RequestContext::Impl& ctx) {
  static const std::set<std::string> methods{"tasks/get", "tasks/result", "tasks/list", "tasks/cancel", "tasks/update"};
  if (!method.starts_with("tasks/") || !methods.count(method)) return false;
  const bool modern = ctx.era == Era::modern;
  const auto respond_error = [&](int code, std::string message, json data = nullptr) {
    c->respond(id, fail(rpc_error(code, std::move(message), std::move(data))));
    return true;
  };
  const auto not_found = [&](std::string why) { return respond_error(jsonrpc::method_not_found, "Method not found: " + method + why); };
  if (!tasks_enabled()) return not_found("");
  if (modern) {
    // SEP-2663: tasks/result and tasks/list are not part of the extension; the rest needs it.
    if (method == "tasks/result" || method == "tasks/list") return not_found(" is not part of the tasks extension");
    if (!sd::declares_tasks_extension(ctx.client_capabilities())) {
      c->respond(id, fail(sd::missing_tasks_extension(method + " is part of the tasks extension")));
      return true;
    }
  } else if (ctx.protocol_version < "2025-11-25" || method == "tasks/update") {
    return not_found(method == "tasks/update" ? " is not part of protocol revision " + ctx.protocol_version
                                              : " (tasks are part of protocol revision 2025-11-25)");
  }
  const std::int64_t poll = options.task_poll_interval.count();
  DroppedTasks dropped;

  if (method == "tasks/list") {
    std::uint64_t after = 0;
    if (auto cur = params.find("cursor"); cur != params.end() && !cur->is_null()) {
      const std::string s = cur->is_string() ? cur->get<std::string>() : std::string();
      bool ok = s.size() >= 2 && s.size() <= 21 && s[0] == 't';
      for (std::size_t i = 1; ok && i < s.size(); ++i) ok = s[i] >= '0' && s[i] <= '9';
      if (!ok) return respond_error(jsonrpc::invalid_params, "tasks/list: invalid cursor");
      after = std::stoull(s.substr(1));
    }
    const std::size_t page = std::max<std::size_t>(options.page_size, 1);
    json items = json::array();
    std::uint64_t last = 0;
    bool more = false;
    {
      std::lock_guard lk(tasks_m);
      prune_tasks(dropped);
      std::vector<std::shared_ptr<TaskRecord>> mine;
      for (const auto& [tid, r] : tasks)
        if (!r->modern && r->owner_ptr == c.get() && r->seq > after && r->principal == sd::principal_of(ctx.auth.get()))
          mine.push_back(r);
      std::sort(mine.begin(), mine.end(), [](const auto& a, const auto& b) { return a->seq < b->seq; });
      for (const auto& r : mine) {
        if (items.size() == page) {
          more = true;
          break;
        }
        items.push_back(task_json(*r, poll));
        last = r->seq;
      }
    }
    after_prune(dropped);
    json result{{"tasks", std::move(items)}};
    if (more) result["nextCursor"] = "t" + std::to_string(last);
    c->respond(id, std::move(result));
    return true;
  }

  const auto tid = params.find("taskId");
  if (tid == params.end() || !tid->is_string()) return respond_error(jsonrpc::invalid_params, method + ": taskId must be a string");
  const std::string task_id = tid->get<std::string>();
  std::shared_ptr<TaskRecord> rec;
  Result<json> answer = json::object();
  json note;
  bool notify_change = false, resubmit = false, waiting = false;
  Waiters cancelled_waiters;
  Result<json> cancelled_payload = json::object();
  {
    std::lock_guard lk(tasks_m);
    prune_tasks(dropped);
    if (auto it = tasks.find(task_id); it != tasks.end()) {
      // A task is found only by its era, and a legacy one only by its own session.
      const auto& r = it->second;
      if (r->modern == modern && (modern || r->owner_ptr == c.get()) && r->principal == sd::principal_of(ctx.auth.get())) rec = r;
    }
    if (!rec) {
      answer = fail(rpc_error(jsonrpc::invalid_params, "Failed to retrieve task: Task not found", json{{"taskId", task_id}}));
    } else if (method == "tasks/get") {
      answer = modern ? detailed_json(*rec, poll) : task_json(*rec, poll);
    } else if (method == "tasks/result") {
      if (terminal(rec->status)) answer = payload(*rec);
      else {
        rec->waiters.emplace_back(c, id);  // answered when the task ends
        waiting = true;
      }
    } else if (method == "tasks/cancel") {
      if (terminal(rec->status)) {
        // 2025-11-25: a terminal task cannot be cancelled (-32602); 2026-07-28: acknowledged.
        if (!modern)
          answer = fail(rpc_error(jsonrpc::invalid_params,
                                  "Cannot cancel task: already in terminal status '" + rec->status + "'",
                                  json{{"taskId", task_id}, {"status", rec->status}}));
      } else {
        if (rec->status == "input_required" && modern) release_run(*rec);  // no run under way
        rec->status = "cancelled";
        rec->message = "The task was cancelled by request.";
        rec->updated_ms = wall_ms();
        rec->stop->request_stop();
        notify_change = true;
        note = modern ? detailed_json(*rec, poll) : task_json(*rec, poll);
        if (!modern) {
          answer = note;
          cancelled_waiters = std::move(rec->waiters);
          cancelled_payload = payload(*rec);
        }
      }
    } else {  // tasks/update (2026-07-28)
      const auto in = params.find("inputResponses");
      if (in == params.end() || !in->is_object()) {
        answer = fail(rpc_error(jsonrpc::invalid_params, "tasks/update: inputResponses must be an object"));
      } else {
        // Answers to what is outstanding; other keys (unknown, answered already) are ignored.
        for (const auto& [k, v] : in->items())
          if (rec->status == "input_required" && rec->outstanding.contains(k)) {
            rec->ctx->answers[k] = v;
            rec->outstanding.erase(k);
          }
        if (rec->status == "input_required" && rec->outstanding.empty()) {
          rec->status = "working";
          rec->message.clear();
          rec->updated_ms = wall_ms();
          resubmit = notify_change = true;
          note = detailed_json(*rec, poll);
        }
      }
    }
  }
  after_prune(dropped);
  if (waiting) return true;  // tasks/result on a running task: answered when it ends
  if (answer && modern) answer = finish(true, std::move(*answer), false);
  // A legacy cancel answers the tasks/result calls waiting for the task.
  for (auto& [weak, wid] : cancelled_waiters)
    if (auto w = weak.lock()) w->respond(wid, cancelled_payload);
  c->respond(id, std::move(answer));
  if (notify_change) {
    if (modern) notify_task_listeners(task_id, note);
    else if (auto owner = rec->owner.lock()) (void)owner->notify(nullptr, "notifications/tasks/status", note);
  }
  if (resubmit && !pool.submit([self = shared_from_this(), rec] { self->run_task(rec); }))
    finish_task(rec, fail(rpc_error(jsonrpc::internal_error, "server busy: too many requests waiting")), false);
  return true;
}

void Server::Impl::notify_task_listeners(const std::string& task_id, const json& task) {
  std::vector<std::shared_ptr<Listener>> streams;
  {
    std::lock_guard lk(listeners_m);
    for (const auto& l : listeners)
      if (!l->stop->stop_requested() && l->task_ids.count(task_id)) streams.push_back(l);
  }
  for (const auto& l : streams) {
    auto c = l->connection.lock();
    if (!c) continue;
    json p = task;
    p["_meta"][sd::kMetaSubscriptionId] = l->id;
    (void)c->notify(l->id, "notifications/tasks", std::move(p));
  }
}

}  // namespace mcp
