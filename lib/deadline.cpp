// SPDX-License-Identifier: MIT
#include "deadline.hpp"

#include <condition_variable>
#include <map>
#include <mutex>
#include <thread>
#include <utility>

namespace mcp::detail {

namespace {

using Clock = Deadline::Clock;

// Deadlines for cpp-httplib exchanges, whose timeouts are per read (a server trickling a
// byte per read never trips them): at its deadline an armed exchange's callback runs (it
// shuts the client's socket down). One thread for the process, started on demand, gone after
// kIdleFor with nothing armed.
class Watchdog {
 public:
  static Watchdog& instance() {
    static auto* dog = new Watchdog;  // never destroyed, as FlightPool
    return *dog;
  }
  // Runs `fire` (on the watchdog's thread) at `at`, unless disarmed first.
  std::uint64_t arm(Clock::time_point at, std::function<void()> fire) {
    std::lock_guard lk(m_);
    const std::uint64_t id = ++next_;
    const bool earliest = armed_.empty() || at < armed_.begin()->first.first;
    armed_.emplace(Key{at, id}, std::move(fire));
    when_.emplace(id, at);
    if (!running_) {
      running_ = true;
      std::thread([this] { work(); }).detach();
    } else if (earliest) {
      cv_.notify_one();
    }
    return id;
  }
  // After this, `fire` of `id` is not running and never will.
  void disarm(std::uint64_t id) {
    std::unique_lock lk(m_);
    if (auto it = when_.find(id); it != when_.end()) {
      armed_.erase(Key{it->second, id});
      when_.erase(it);
    }
    done_cv_.wait(lk, [&] { return firing_ != id; });
  }
  // 1 if the thread exists and has nothing to watch (counted with the idle flight threads).
  std::size_t idle() {
    std::lock_guard lk(m_);
    return running_ && armed_.empty() ? 1 : 0;
  }

 private:
  using Key = std::pair<Clock::time_point, std::uint64_t>;
  static constexpr auto kIdleFor = std::chrono::seconds(10);
  void work() {
    std::unique_lock lk(m_);
    for (;;) {
      if (armed_.empty()) {
        if (!cv_.wait_for(lk, kIdleFor, [&] { return !armed_.empty(); })) {
          running_ = false;
          return;
        }
      }
      const auto first = armed_.begin();
      if (const Clock::time_point at = first->first.first; Clock::now() < at) {
        // A copy: the wait reads its deadline again after waking, and a disarm meanwhile
        // frees the entry (ASan saw the read of freed memory).
        cv_.wait_until(lk, at);
        continue;  // armed or disarmed meanwhile: look again
      }
      auto fire = std::move(first->second);
      firing_ = first->first.second;
      when_.erase(firing_);
      armed_.erase(first);
      lk.unlock();
      fire();
      fire = nullptr;
      lk.lock();
      firing_ = 0;
      done_cv_.notify_all();
    }
  }
  std::mutex m_;
  std::condition_variable cv_, done_cv_;
  std::map<Key, std::function<void()>> armed_;  // by deadline
  std::map<std::uint64_t, Clock::time_point> when_;
  std::uint64_t next_ = 0;
  std::uint64_t firing_ = 0;
  bool running_ = false;
};

}  // namespace

Deadline::Deadline(Clock::time_point at, std::function<void()> fire) {
  if (at != Clock::time_point::max()) id_ = Watchdog::instance().arm(at, std::move(fire));
}

void Deadline::cancel() {
  if (id_) Watchdog::instance().disarm(id_);
  id_ = 0;
}

std::size_t watchdog_idle() { return Watchdog::instance().idle(); }

}  // namespace mcp::detail
