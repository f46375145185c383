// SPDX-License-Identifier: MIT
// The flight pool (threads shared by every HTTP transport of the process) and the transport's
// flights: started on the pool or on the caller's thread, stopped and awaited at close.
#include "http_transport_impl.hpp"

#include <algorithm>
#include <condition_variable>
#include <deque>
#include <thread>

namespace mcp::detail {

namespace {

// Threads for flights, shared by every HTTP transport in the process. A thread per request,
// created and torn down each time, cost more client CPU than the whole exchange; this keeps
// up to kMaxIdle finished threads waiting for the next flight, each for kIdleFor at most.
// Busy threads are not capped: a flight may be a stream that lasts as long as its
// connection, so a task never waits for another to finish; it gets an idle thread or a new one.
// A worker's next task: the first flight that a completion started while this thread delivered
// the reply that ended its own flight (FinishingFlight). It runs here once the current task
// returns: no hand-off to another worker (a futex wake-up, a thread woken, this one asleep:
// three context switches a call for a chain of asynchronous calls, each started by the last
// one's completion). Null off the pool's threads.
thread_local std::function<void()>* tl_next = nullptr;
thread_local bool tl_finishing = false;

class FlightPool {
 public:
  static FlightPool& instance() {
    static auto* pool = new FlightPool;  // never destroyed: idle workers may outlive main()
    return *pool;
  }
  void run(std::function<void()> task) {
    if (tl_finishing && tl_next && !*tl_next) {
      *tl_next = std::move(task);
      return;
    }
    hand_off(std::move(task));
  }
  // To a waiting worker, or a new one.
  void hand_off(std::function<void()> task) {
    std::lock_guard lk(m_);
    tasks_.push_back(std::move(task));
    // Every queued task needs a thread of its own that is waiting (and not yet woken for
    // an earlier task) or new.
    if (tasks_.size() <= idle_) {
      cv_.notify_one();
      return;
    }
    std::thread([this] { work(); }).detach();
  }
  std::size_t idle() {
    std::lock_guard lk(m_);
    return idle_;
  }

 private:
  static constexpr std::size_t kMaxIdle = 8;
  static constexpr auto kIdleFor = std::chrono::seconds(10);
  void work() {
    std::function<void()> next;
    tl_next = &next;
    std::unique_lock lk(m_);
    for (;;) {
      if (tasks_.empty()) {
        if (idle_ >= kMaxIdle) break;
        ++idle_;
        const bool got = cv_.wait_for(lk, kIdleFor, [&] { return !tasks_.empty(); });
        --idle_;
        if (!got) break;
      }
      auto task = std::move(tasks_.front());
      tasks_.pop_front();
      lk.unlock();
      task();
      task = nullptr;  // its captures go now, not when the next task replaces it
      while (next) {   // (each may leave another)
        task = std::move(next);
        next = nullptr;
        task();
        task = nullptr;
      }
      lk.lock();
    }
    tl_next = nullptr;
  }
  std::mutex m_;
  std::condition_variable cv_;
  std::deque<std::function<void()>> tasks_;
  std::size_t idle_ = 0;  // workers blocked in cv_.wait_for
};

// The transport whose flight the current thread is running (close() from a callback must
// not wait for its own flight).
thread_local const void* tl_flight_owner = nullptr;

// The flight of the thread's last run_here, kept for its next one.
thread_local std::shared_ptr<Flight> tl_spare_flight;

}  // namespace

std::size_t idle_flight_threads() { return FlightPool::instance().idle(); }

FinishingFlight::FinishingFlight() : outer_(tl_finishing) { tl_finishing = true; }
FinishingFlight::~FinishingFlight() { tl_finishing = outer_; }

void release_next_flight() {
  if (tl_next && *tl_next) {
    auto task = std::move(*tl_next);
    *tl_next = nullptr;
    FlightPool::instance().hand_off(std::move(task));
  }
}

void run_on_flight_pool(std::function<void()> task) { FlightPool::instance().run(std::move(task)); }

std::shared_ptr<Flight> HttpTransport::new_flight(json id, std::shared_ptr<Flight> spare) {
  auto f = spare ? std::move(spare) : std::make_shared<Flight>();
  f->id = std::move(id);
  f->wake = [this, raw = f.get()] { unqueue(raw); };
  std::lock_guard lk(mutex_);
  flights_.push_back(f);  // close() stops every flight, and waits for it through active_flights_
  ++active_flights_;
  return f;
}

void HttpTransport::run_flight(const std::shared_ptr<Flight>& f, const std::function<void(Flight&)>& body) {
  const void* outer = tl_flight_owner;
  tl_flight_owner = this;
  body(*f);
  if (f->has_slot) {  // started with a slot it never used (stopped, or no credentials)
    f->has_slot = false;
    give_slot(std::move(f->grant));
  }
  forget_flight(f);  // the last thing a flight touches of the transport: close() may destroy it right after
  tl_flight_owner = outer;
}

void HttpTransport::forget_flight(const std::shared_ptr<Flight>& f) {
  f->done = true;
  std::lock_guard lk(mutex_);
  if (auto it = std::find(flights_.begin(), flights_.end(), f); it != flights_.end()) {
    *it = std::move(flights_.back());  // the order of flights_ means nothing
    flights_.pop_back();
  }
  --active_flights_;
  flights_cv_.notify_all();
}

void HttpTransport::start_flight(json id, std::function<void(Flight&)> body) {
  FlightPool::instance().run([keep = shared_from_this(), this, f = new_flight(std::move(id)), body = std::move(body)] {
    run_flight(f, body);
  });
}

bool HttpTransport::on_own_flight() const { return tl_flight_owner == this; }

void HttpTransport::run_here(const json& id, const std::stop_token& stop, Clock::time_point deadline,
                             const std::function<void(Flight&)>& body, bool shareable) {
  // The thread's flight of its last call, if nothing holds it any more: a call on the
  // caller's thread allocates no flight. (A call nested in a callback of another finds none.)
  auto f = new_flight(id, std::move(tl_spare_flight));
  f->here = true;
  f->deadline = deadline;
  f->shareable = shareable;
  {
    std::stop_callback on_stop(stop, [&f] { f->stop(); });
    run_flight(f, body);
  }
  // Unregistered now: no one can take a new reference to it. Another thread still holding one
  // (close() or a cancellation stopping it) lets go of it without touching it again.
  if (f.use_count() == 1) {
    std::atomic_thread_fence(std::memory_order_acquire);  // after the others' last use
    f->reuse();  // parked holding nothing (of this transport, which may be gone by its next use)
    tl_spare_flight = std::move(f);
  }
}

void HttpTransport::stop_flights() {
  std::vector<std::shared_ptr<Flight>> flights;
  {
    std::lock_guard lk(mutex_);
    flights.assign(flights_.begin(), flights_.end());
  }
  // Not under mutex_: stopping a queued flight unregisters it.
  for (auto& f : flights) f->stop();
}

void HttpTransport::wait_flights() {
  // Closed from a completion on a flight thread (of another transport) that holds a flight for
  // later: it must run (and end, stopped) elsewhere, or this thread would wait for it forever.
  release_next_flight();
  std::unique_lock lk(mutex_);
  flights_cv_.wait(lk, [&] { return active_flights_ == 0; });
}

}  // namespace mcp::detail
