// SPDX-License-Identifier: MIT
#pragma once
// ToolTask's shared state: written by the asynchronous task follower (async_session.cpp),
// read by the handle (tool_task.cpp).
#include <mcp/async.hpp>
#include <mcp/tool_task.hpp>

#include <nlohmann/json.hpp>

#include <condition_variable>
#include <mutex>
#include <optional>
#include <stop_token>
#include <vector>

namespace mcp {

struct ToolTask::State {
  mutable std::mutex m;
  mutable std::condition_variable cv;
  std::string id;
  bool task = false;     // the server made a task
  bool started = false;  // the task was made, or the call ended without one
  TaskStatus status = TaskStatus::working;
  std::string message;
  std::optional<Result<CallToolResult>> outcome;
  std::vector<std::function<void(const Result<CallToolResult>&)>> waiting;
  std::stop_source stop;                         // cancel(), and the handle's destruction
  std::shared_ptr<detail::StopLink> link;        // `stop` joined with RequestOptions::stop
  std::function<void()> on_started;              // once, when `started` becomes true

  // The server made the task: `task` is its CreateTaskResult.
  void created(const nlohmann::json& task);
  // A task state from tasks/get (status, statusMessage).
  void seen(const nlohmann::json& task);
  void input_answered();
  // The outcome (once; later calls are ignored).
  void settle(Result<CallToolResult> r);
  // Why the call made no handle: it failed before the server made a task.
  std::optional<Error> start_error() const;
};

}  // namespace mcp
