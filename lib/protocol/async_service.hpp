// SPDX-License-Identifier: MIT
#pragma once
// The library's threads for asynchronous calls, shared by every engine of the process and
// bounded whatever the number of calls in flight:
// - one timer thread: deadlines of asynchronous requests, and short tasks posted to it (a
//   completion that must not run on the caller's thread). Its tasks must not block.
// - a few blocking workers (at most kMaxBlocking, started on demand, gone after a second idle):
//   the slow steps of an asynchronous call that are written as blocking code: opening a
//   connection (spawn, era probe, handshake), re-initialising an expired session, fulfilling a
//   server's input requests with the user's handlers, re-listing tools. Tasks beyond the bound
//   wait in line.
#include <chrono>
#include <cstdint>
#include <functional>

namespace mcp::detail {

class AsyncService {
 public:
  using Clock = std::chrono::steady_clock;
  static constexpr unsigned kMaxBlocking = 2;

  static AsyncService& instance();

  /// A timer: runs `task` on the timer thread at `when` (or soon after) unless cancelled first.
  struct Timer {
    Clock::time_point when{};
    std::uint64_t id = 0;  // 0: none
  };
  Timer at(Clock::time_point when, std::function<void()> task);
  /// Cancels `t` if it has not started; false if it ran, runs, or was never armed.
  bool cancel(const Timer& t);
  /// Runs `task` soon on the timer thread. It must not block.
  void post(std::function<void()> task);
  /// Runs `task` on a blocking worker (in line behind others when all are busy).
  void run_blocking(std::function<void()> task);
  /// Library threads alive now (timer + blocking workers): for tests and benchmarks.
  [[nodiscard]] unsigned threads() const;
  [[nodiscard]] unsigned blocking_threads() const;

 private:
  AsyncService() = default;
  struct State;
  State& state() const;
};

}  // namespace mcp::detail
