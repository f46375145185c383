// SPDX-License-Identifier: MIT
// ToolTask: the handle on a tool call the server may run as a task. The following itself is
// async_session.cpp's AsyncTask; this file is the handle's side of their shared state.
#include "tool_task_state.hpp"

namespace mcp {

using nlohmann::json;

const char* to_string(TaskStatus s) noexcept {
  switch (s) {
    case TaskStatus::working: return "working";
    case TaskStatus::input_required: return "input_required";
    case TaskStatus::completed: return "completed";
    case TaskStatus::failed: return "failed";
    case TaskStatus::cancelled: return "cancelled";
  }
  return "working";
}

namespace {
// A task's status and statusMessage, under the state's lock. Terminal states are recorded by
// settle(), with the outcome they go with.
void read_state(const json& t, TaskStatus& status, std::string& message) {
  if (!t.is_object()) return;
  if (auto m = t.find(std::string_view("statusMessage")); m != t.end() && m->is_string()) message = m->get<std::string>();
  const auto st = t.find(std::string_view("status"));
  if (st == t.end() || !st->is_string()) return;
  const auto& s = st->get_ref<const std::string&>();
  if (s == "working") status = TaskStatus::working;
  else if (s == "input_required") status = TaskStatus::input_required;
}
}  // namespace

void ToolTask::State::created(const json& t) {
  std::function<void()> cb;
  {
    std::lock_guard lk(m);
    task = true;
    if (auto i = t.find(std::string_view("taskId")); i != t.end() && i->is_string()) id = i->get<std::string>();
    read_state(t, status, message);
    started = true;
    cb = std::move(on_started);
    on_started = nullptr;
  }
  cv.notify_all();
  if (cb) cb();
}

void ToolTask::State::seen(const json& t) {
  std::lock_guard lk(m);
  if (!outcome) read_state(t, status, message);
}

void ToolTask::State::input_answered() {
  std::lock_guard lk(m);
  if (!outcome) status = TaskStatus::working;
}

void ToolTask::State::settle(Result<CallToolResult> r) {
  std::function<void()> cb;
  std::vector<std::function<void(const Result<CallToolResult>&)>> ws;
  {
    std::lock_guard lk(m);
    if (outcome) return;
    if (r) status = TaskStatus::completed;
    else if (r.error().errc() == Errc::cancelled || r.error().errc() == Errc::timeout) status = TaskStatus::cancelled;
    else status = TaskStatus::failed;
    outcome = std::move(r);
    started = true;
    cb = std::move(on_started);
    on_started = nullptr;
    ws.swap(waiting);
  }
  cv.notify_all();
  if (cb) cb();
  for (auto& w : ws) {
    try {
      w(*outcome);  // `outcome` is never written again
    } catch (...) {
    }
  }
}

std::optional<Error> ToolTask::State::start_error() const {
  std::lock_guard lk(m);
  if (task || !outcome || *outcome) return std::nullopt;
  return outcome->error();
}

ToolTask::ToolTask(std::shared_ptr<State> state) noexcept : state_(std::move(state)) {}
ToolTask::ToolTask(ToolTask&& o) noexcept : state_(std::move(o.state_)) {}
ToolTask& ToolTask::operator=(ToolTask&& o) noexcept {
  if (this != &o) {
    cancel();
    state_ = std::move(o.state_);
  }
  return *this;
}
ToolTask::~ToolTask() { cancel(); }

std::string ToolTask::id() const {
  if (!state_) return {};
  std::lock_guard lk(state_->m);
  return state_->id;
}

bool ToolTask::is_task() const {
  if (!state_) return false;
  std::lock_guard lk(state_->m);
  return state_->task;
}

TaskStatus ToolTask::status() const {
  if (!state_) return TaskStatus::cancelled;
  std::lock_guard lk(state_->m);
  return state_->status;
}

std::string ToolTask::status_message() const {
  if (!state_) return {};
  std::lock_guard lk(state_->m);
  return state_->message;
}

bool ToolTask::done() const {
  if (!state_) return true;
  std::lock_guard lk(state_->m);
  return state_->outcome.has_value();
}

Result<CallToolResult> ToolTask::wait() const {
  if (!state_) return fail(Errc::invalid_argument, "ToolTask::wait: an empty handle");
  std::unique_lock lk(state_->m);
  state_->cv.wait(lk, [&] { return state_->outcome.has_value(); });
  return *state_->outcome;
}

Result<CallToolResult> ToolTask::wait_for(Milliseconds timeout) const {
  if (!state_) return fail(Errc::invalid_argument, "ToolTask::wait_for: an empty handle");
  std::unique_lock lk(state_->m);
  if (!state_->cv.wait_for(lk, timeout, [&] { return state_->outcome.has_value(); }))
    return fail(Errc::timeout, "task " + state_->id + " has not ended after " + std::to_string(timeout.count()) +
                                   " ms (it goes on)");
  return *state_->outcome;
}

void ToolTask::cancel() {
  if (!state_) return;
  {
    std::lock_guard lk(state_->m);
    if (state_->outcome) return;
  }
  state_->stop.request_stop();  // the follower's stop callback sends tasks/cancel
}

void ToolTask::on_done(std::function<void(const Result<CallToolResult>&)> f) {
  if (!state_ || !f) return;
  {
    std::lock_guard lk(state_->m);
    if (!state_->outcome) {
      state_->waiting.push_back(std::move(f));
      return;
    }
  }
  try {
    f(*state_->outcome);
  } catch (...) {
  }
}

}  // namespace mcp
