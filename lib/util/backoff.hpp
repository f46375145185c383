// SPDX-License-Identifier: MIT
#pragma once
// Exponential backoff between reconnection attempts: the delay doubles after each failure up
// to a cap, a server's SSE `retry:` replaces it, and a success starts it over.
#include <algorithm>
#include <chrono>
#include <thread>

namespace mcp::detail {

class Backoff {
 public:
  using ms = std::chrono::milliseconds;
  /// Starts at `first`; delay() never exceeds `cap`.
  Backoff(ms first, ms cap) noexcept : first_(first), cap_(cap), delay_(first) {}

  /// How long to wait before the next attempt.
  [[nodiscard]] ms delay() const noexcept { return std::min(delay_, cap_); }
  /// After a failure: twice the delay, at most the cap.
  void grow() noexcept { delay_ = std::min(delay_ * 2, cap_); }
  /// The delay a server asked for (SSE `retry:`), used as it is (delay() still caps it).
  void set(ms d) noexcept { delay_ = d; }
  /// After a success: back to the first delay.
  void reset() noexcept { delay_ = first_; }

  /// Sleeps for delay(), waking every `poll` to return early (false) once `stop()` is true.
  template <class Stop>
  bool sleep(Stop stop, ms poll) const {
    const auto until = std::chrono::steady_clock::now() + delay();
    while (std::chrono::steady_clock::now() < until && !stop()) std::this_thread::sleep_for(poll);
    return !stop();
  }

 private:
  ms first_, cap_, delay_;
};

}  // namespace mcp::detail
