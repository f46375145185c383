// SPDX-License-Identifier: MIT
// The timer thread and the blocking workers of asynchronous calls (async_service.hpp).
#include "async_service.hpp"

#include <condition_variable>
#include <cstddef>
#include <deque>
#include <map>
#include <mutex>
#include <thread>
#include <utility>

namespace mcp::detail {

struct AsyncService::State {
  mutable std::mutex m;
  // Timers by (when, id): the earliest first; a task posted "now" is a timer at time_point::min().
  std::map<std::pair<Clock::time_point, std::uint64_t>, std::function<void()>> timers;
  std::condition_variable timer_cv;
  bool timer_running = false;
  std::uint64_t next_id = 1;

  std::deque<std::function<void()>> blocking;
  std::condition_variable blocking_cv;
  unsigned workers = 0, idle = 0;

  void timer_loop() {
    std::unique_lock lk(m);
    for (;;) {
      if (timers.empty()) {
        timer_cv.wait(lk);
        continue;
      }
      auto first = timers.begin();
      const auto when = first->first.first;
      if (when > Clock::now()) {
        timer_cv.wait_until(lk, when);
        continue;
      }
      auto task = std::move(first->second);
      timers.erase(first);
      lk.unlock();
      try {
        task();
      } catch (...) {  // tasks report their own failures; nothing leaves this thread
      }
      task = nullptr;  // its captures go before the lock is taken again
      lk.lock();
    }
  }

  void blocking_loop() {
    std::unique_lock lk(m);
    for (;;) {
      if (blocking.empty()) {
        ++idle;
        const bool got = blocking_cv.wait_for(lk, std::chrono::seconds(1), [&] { return !blocking.empty(); });
        --idle;
        if (!got) {
          --workers;
          return;
        }
      }
      auto task = std::move(blocking.front());
      blocking.pop_front();
      lk.unlock();
      try {
        task();
      } catch (...) {
      }
      task = nullptr;
      lk.lock();
    }
  }
};

AsyncService& AsyncService::instance() {
  static auto* service = new AsyncService;  // never destroyed: its threads may outlive main()
  return *service;
}

AsyncService::State& AsyncService::state() const {
  static auto* s = new State;
  return *s;
}

AsyncService::Timer AsyncService::at(Clock::time_point when, std::function<void()> task) {
  State& s = state();
  Timer t;
  bool first;
  {
    std::lock_guard lk(s.m);
    t.when = when;
    t.id = s.next_id++;
    first = s.timers.empty() || when < s.timers.begin()->first.first;
    s.timers.emplace(std::pair(when, t.id), std::move(task));
    if (!s.timer_running) {
      s.timer_running = true;
      std::thread([&s] { s.timer_loop(); }).detach();
    }
  }
  if (first) s.timer_cv.notify_one();
  return t;
}

bool AsyncService::cancel(const Timer& t) {
  if (t.id == 0) return false;
  State& s = state();
  std::function<void()> task;  // destroyed outside the lock: its captures may be the last references
  {
    std::lock_guard lk(s.m);
    auto it = s.timers.find(std::pair(t.when, t.id));
    if (it == s.timers.end()) return false;
    task = std::move(it->second);
    s.timers.erase(it);
  }
  return true;
}

void AsyncService::post(std::function<void()> task) { (void)at(Clock::time_point::min(), std::move(task)); }

void AsyncService::run_blocking(std::function<void()> task) {
  State& s = state();
  {
    std::lock_guard lk(s.m);
    s.blocking.push_back(std::move(task));
    if (s.blocking.size() <= s.idle) {
      s.blocking_cv.notify_one();
      return;
    }
    if (s.workers >= kMaxBlocking) return;  // in line until a worker is free
    ++s.workers;
  }
  std::thread([&s] { s.blocking_loop(); }).detach();
}

unsigned AsyncService::threads() const {
  State& s = state();
  std::lock_guard lk(s.m);
  return (s.timer_running ? 1u : 0u) + s.workers;
}

unsigned AsyncService::blocking_threads() const {
  State& s = state();
  std::lock_guard lk(s.m);
  return s.workers;
}

}  // namespace mcp::detail

namespace mcp::detail {
// For tests (declared there): the timer thread lives as long as the process once started, as
// the flight pool's idle threads do; it is not a leak.
std::size_t async_timer_threads() {
  auto& s = AsyncService::instance();
  return s.threads() - s.blocking_threads();
}
}  // namespace mcp::detail
