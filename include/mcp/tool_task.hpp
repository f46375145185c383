// SPDX-License-Identifier: MIT
#pragma once
/// @file tool_task.hpp
/// A handle on a tool call that the server may run as a task (the tasks extension,
/// `io.modelcontextprotocol/tasks`, SEP-2663): what Session::call_tool_task and
/// Client::call_tool_task return instead of waiting for the result.
///
/// While the handle lives, the library follows the task without a thread of its own: it asks
/// `tasks/get` at the server's poll interval (timers), answers the task's input requests
/// (elicitation, sampling, roots) through the client's handlers (ClientConfig::handlers, on one
/// of the library's blocking workers), and keeps the last state it saw. A server that answers
/// the call at once (no task) gives a handle that is already complete (`is_task()` false).
///
/// Thread-safety: all member functions may be called from several threads at once, except
/// that a handle must not be moved or destroyed while another thread uses it.

#include <mcp/config.hpp>
#include <mcp/error.hpp>
#include <mcp/types.hpp>

#include <functional>
#include <memory>
#include <string>

namespace mcp {

/// A task's status (SEP-2663's `Task.status`).
enum class TaskStatus {
  working,         ///< running (also: the call sent, no answer yet)
  input_required,  ///< waiting for input the client's handlers are giving
  completed,       ///< a result came (a tool error, `isError`, is a completed task too)
  failed,          ///< the task ended with a JSON-RPC error
  cancelled,       ///< cancelled (by cancel(), RequestOptions::stop, a limit, or the server)
};

/// The status's name as the protocol spells it ("working", "input_required", ...).
[[nodiscard]] const char* to_string(TaskStatus s) noexcept;

/// A tool call in progress, or done. Move-only.
///
/// **Destroying a handle whose task has not ended cancels the task** (as cancel() does: the
/// server is sent `tasks/cancel`, best effort, from a library thread; the destructor does not
/// wait for it). Keep the handle for as long as the result matters.
///
/// Limits: each `tasks/get` / `tasks/update` is one request under the request timeout
/// (RequestOptions::timeout, else the server's, else the client's). The task as a whole has no
/// time limit unless RequestOptions::max_total_time is set: past it the task is cancelled and
/// the outcome is Errc::timeout. wait_for() only limits one wait. The Session (or Client) that
/// made the handle must outlive its use: once it is destroyed the handle stops following the
/// task and its outcome is Errc::disconnected (the task is not cancelled: the connection is
/// gone).
class ToolTask {
 public:
  struct State;  ///< the library's side (opaque)

  ToolTask() = default;  ///< an empty handle: valid() is false, wait() fails (invalid_argument)
  explicit ToolTask(std::shared_ptr<State> state) noexcept;  ///< used by the library
  ToolTask(ToolTask&&) noexcept;  ///< takes over the other handle's task; the other becomes empty
  ToolTask& operator=(ToolTask&&) noexcept;  ///< cancels the task this handle held, if unfinished
  ToolTask(const ToolTask&) = delete;
  ToolTask& operator=(const ToolTask&) = delete;
  ~ToolTask();  ///< cancels an unfinished task (see the class comment)

  /// False for a default-constructed or moved-from handle.
  [[nodiscard]] bool valid() const noexcept { return state_ != nullptr; }
  /// The server's task id; empty when the server answered at once (no task).
  [[nodiscard]] std::string id() const;
  /// True when the server made a task of the call.
  [[nodiscard]] bool is_task() const;
  /// The last status seen (from the task's creation and each `tasks/get`), or the end's.
  [[nodiscard]] TaskStatus status() const;
  /// The task's last `statusMessage` (empty if none).
  [[nodiscard]] std::string status_message() const;
  /// True once the outcome is known (wait() will not block).
  [[nodiscard]] bool done() const;
  /// Blocks until the outcome: the tool's result, or why there is none (a failed task: its
  /// JSON-RPC error; cancelled: Errc::cancelled; past max_total_time: Errc::timeout). May be
  /// called several times (the outcome is copied).
  [[nodiscard]] Result<CallToolResult> wait() const;
  /// wait() for at most `timeout`: Errc::timeout if the task has not ended by then. The task
  /// goes on (cancel() or destroy the handle to stop it).
  [[nodiscard]] Result<CallToolResult> wait_for(Milliseconds timeout) const;
  /// Asks for the task's end: `tasks/cancel` is sent (best effort, from a library thread) and
  /// the outcome becomes Errc::cancelled unless the task already ended. Never blocks; idempotent.
  void cancel();
  /// `f` is called once with the outcome: on a library thread (or ClientConfig::executor) when
  /// it comes, or at once on this thread if it is already known. It must not block for long;
  /// what it throws is dropped.
  void on_done(std::function<void(const Result<CallToolResult>&)> f);

 private:
  std::shared_ptr<State> state_;
};

}  // namespace mcp
