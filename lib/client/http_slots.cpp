// SPDX-License-Identifier: MIT
// The cap on connections to the server: at most max_connections requests' exchanges at once
// (slots), the others in one line, first come first served. A slot comes with a connection:
// an idle kept-alive one if there is one, else the right to open one, at most max_connecting
// being opened at once (a burst opening a connection per request overflowed servers' listen
// queues: "connect timed out"). A request that needs a new connection while that many are
// being opened waits in the line too, until an attempt ends or a connection is released.
// A thread sending on the caller's behalf waits in line on its own thread; a request's flight
// waits with no thread at all and is started on the flight pool when a slot comes its way,
// so a thousand requests in flight hold max_connections threads, not a thousand.
#include "http_transport_impl.hpp"

namespace mcp::detail {

namespace {

std::size_t slot_cap(const HttpServerConfig& cfg) { return std::max<std::size_t>(1, cfg.max_connections); }
std::size_t connect_cap(const HttpServerConfig& cfg) { return std::max<std::size_t>(1, cfg.max_connecting); }

}  // namespace

bool HttpTransport::grant_slot(SlotGrant& g) {
  if (busy_ >= slot_cap(cfg_) || closing_) return false;
  if (!idle_own_.empty()) {
    g.conn = std::move(idle_own_.back());
    idle_own_.pop_back();
  } else if (connecting_ < connect_cap(cfg_)) {
    ++connecting_;
    g.may_connect = true;
  } else {
    return false;
  }
  ++busy_;
  return true;
}

bool HttpTransport::wait_turn(std::unique_lock<std::mutex>& lk, SlotWaiter& me, const Flight* f, Clock::time_point deadline) {
  auto gave_up = [&] { return closing_ || (f && f->over()) || Clock::now() >= deadline; };
  while (!me.granted && !gave_up()) {
    if (deadline == Clock::time_point::max())
      me.cv.wait(lk);
    else
      me.cv.wait_until(lk, deadline);
  }
  return gave_up();
}

bool HttpTransport::take_slot(const Flight* f, Clock::time_point deadline, SlotGrant& grant) {
  std::unique_lock lk(slot_mutex_);
  if (slot_queue_.empty() && grant_slot(grant)) return true;
  SlotWaiter me;
  const auto it = slot_queue_.insert(slot_queue_.end(), Turn{&me, nullptr, nullptr});
  const bool gave_up = wait_turn(lk, me, f, deadline);
  if (!me.granted) {
    // Whoever is behind could not be served either (the first in line is served first).
    slot_queue_.erase(it);
    return false;
  }
  if (!gave_up) {
    grant = std::move(me.grant);
    return true;
  }
  lk.unlock();
  give_slot(std::move(me.grant));  // handed over, but no longer wanted
  return false;
}

void HttpTransport::give_slot(SlotGrant grant) {
  bool waiting;
  {
    std::lock_guard lk(slot_mutex_);
    --busy_;
    if (grant.may_connect) --connecting_;
    // An idle connection handed over and not used: idle again (closing: closed below).
    if (grant.conn && !closing_) idle_own_.push_back(std::move(grant.conn));
    waiting = !slot_queue_.empty() || !connect_queue_.empty();
  }
  if (waiting) pump();
}

bool HttpTransport::take_connect(const Flight* f, Clock::time_point deadline) {
  std::unique_lock lk(slot_mutex_);
  if (connect_queue_.empty() && connecting_ < connect_cap(cfg_)) {
    ++connecting_;
    return true;
  }
  SlotWaiter me;
  const auto it = connect_queue_.insert(connect_queue_.end(), &me);
  const bool gave_up = wait_turn(lk, me, f, deadline);
  if (!me.granted) {
    connect_queue_.erase(it);
    return false;
  }
  if (!gave_up) return true;
  lk.unlock();
  end_connect();
  return false;
}

void HttpTransport::end_connect() {
  bool waiting;
  {
    std::lock_guard lk(slot_mutex_);
    --connecting_;
    waiting = !slot_queue_.empty() || !connect_queue_.empty();
  }
  if (waiting) pump();
}

void HttpTransport::pump() {
  // One queued flight started per round, outside the lock (no list of them built).
  for (;;) {
    std::shared_ptr<Flight> next;
    std::function<void(Flight&)> body;
    {
      std::lock_guard lk(slot_mutex_);
      // Closing: the queued flights are being dropped (close stops every flight), none starts.
      if (closing_) return;
      // Holders of a slot first: they wait for an attempt alone, and would hold their slot
      // (maybe the last free one) the while.
      while (!connect_queue_.empty() && connecting_ < connect_cap(cfg_)) {
        SlotWaiter* w = connect_queue_.front();
        connect_queue_.pop_front();
        ++connecting_;
        w->granted = true;
        w->cv.notify_one();
      }
      while (!slot_queue_.empty()) {
        Turn& t = slot_queue_.front();
        SlotGrant g;
        if (!grant_slot(g)) return;
        if (t.waiter) {
          t.waiter->grant = std::move(g);
          t.waiter->granted = true;
          t.waiter->cv.notify_one();
          slot_queue_.pop_front();
          continue;
        }
        next = std::move(t.flight);
        body = std::move(t.body);
        slot_queue_.pop_front();
        // Before the pool's thread can see it (the pool's lock orders them).
        next->grant = std::move(g);
        next->has_slot = true;
        break;
      }
    }
    if (!next) return;
    run_on_flight_pool([this, f = std::move(next), body = std::move(body)] { run_flight(f, body); });
  }
}

void HttpTransport::queue_flight(json id, std::function<void(Flight&)> body) {
  auto f = new_flight(std::move(id));  // registered first: close() waits for it or drops it
  {
    std::lock_guard lk(slot_mutex_);
    if (closing_ || f->aborted) {
      // close() (or a cancellation) already went through the flights: it is ours to drop.
    } else if (slot_queue_.empty() && grant_slot(f->grant)) {
      f->has_slot = true;
    } else {
      slot_queue_.push_back(Turn{nullptr, f, std::move(body)});
      return;
    }
  }
  if (!f->has_slot) {
    forget_flight(f);
    return;
  }
  run_on_flight_pool([this, f = std::move(f), body = std::move(body)] { run_flight(f, body); });
}

void HttpTransport::unqueue(Flight* f) {
  std::shared_ptr<Flight> dropped;
  {
    std::lock_guard lk(slot_mutex_);
    for (auto it = slot_queue_.begin(); it != slot_queue_.end(); ++it)
      if (it->flight.get() == f) {
        dropped = std::move(it->flight);
        slot_queue_.erase(it);
        break;
      }
    // Not queued: running, maybe waiting in take_slot (or take_connect) for its next exchange.
    if (!dropped) {
      for (auto& t : slot_queue_)
        if (t.waiter) t.waiter->cv.notify_one();
      for (auto* w : connect_queue_) w->cv.notify_one();
    }
  }
  // Nothing is reported: the caller's wait (its deadline, its cancellation) or close() does.
  if (dropped) forget_flight(dropped);
}

void HttpTransport::wake_slot_waiters() {
  std::lock_guard lk(slot_mutex_);
  for (auto& t : slot_queue_)
    if (t.waiter) t.waiter->cv.notify_one();
  for (auto* w : connect_queue_) w->cv.notify_one();
}

}  // namespace mcp::detail
