// SPDX-License-Identifier: MIT
// Deadlines for whole exchanges whose own timeouts are per read (cpp-httplib's: a server
// trickling a byte per read never trips them). Private to the library.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>

namespace mcp::detail {

// Arms a process-wide watchdog for the scope: at `at` it runs `fire` on the watchdog's thread
// (e.g. a client's stop()), unless the scope ended or cancel() ran first. Nothing is armed when
// `at` is max. After cancel() or the destructor, `fire` is not running and never will.
class Deadline {
 public:
  using Clock = std::chrono::steady_clock;
  Deadline(Clock::time_point at, std::function<void()> fire);
  ~Deadline() { cancel(); }
  Deadline(const Deadline&) = delete;
  Deadline& operator=(const Deadline&) = delete;
  void cancel();

 private:
  std::uint64_t id_ = 0;
};

// 1 if the watchdog's thread exists and has nothing to watch (it exits after 10 s so), else 0:
// counted with the idle flight threads by the tests' thread-leak checks.
std::size_t watchdog_idle();

}  // namespace mcp::detail
