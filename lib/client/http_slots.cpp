// SPDX-License-Identifier: MIT
// The cap on connections to the server: at most max_connections requests' exchanges at once
// (slots), the others in one line, first come first served. A thread sending on the caller's
// behalf waits in line on its own thread; a request's flight waits with no thread at all and is
// started on the flight pool when a slot comes its way, so a thousand requests in flight hold
// max_connections threads, not a thousand.
#include "http_transport_impl.hpp"

namespace mcp::detail {

namespace {

std::size_t slot_cap(const HttpServerConfig& cfg) { return std::max<std::size_t>(1, cfg.max_connections); }

}  // namespace

bool HttpTransport::take_slot(const Flight* f, Clock::time_point deadline) {
  std::unique_lock lk(slot_mutex_);
  if (busy_ < slot_cap(cfg_) && slot_queue_.empty()) {
    ++busy_;
    return true;
  }
  SlotWaiter me;
  const auto it = slot_queue_.insert(slot_queue_.end(), Turn{&me, nullptr, nullptr});
  auto gave_up = [&] { return closing_ || (f && f->over()) || Clock::now() >= deadline; };
  while (!me.granted && !gave_up()) {
    if (deadline == Clock::time_point::max())
      me.cv.wait(lk);
    else
      me.cv.wait_until(lk, deadline);
  }
  if (!me.granted) {
    slot_queue_.erase(it);
    return false;
  }
  if (!gave_up()) return true;
  lk.unlock();
  give_slot();  // handed over, but no longer wanted
  return false;
}

void HttpTransport::give_slot() {
  std::shared_ptr<Flight> next;
  std::function<void(Flight&)> body;
  {
    std::lock_guard lk(slot_mutex_);
    // Closing: the queued flights are being dropped (close stops every flight), none starts.
    if (slot_queue_.empty() || closing_) {
      --busy_;
      return;
    }
    Turn& t = slot_queue_.front();
    if (t.waiter) {
      t.waiter->granted = true;  // busy_ unchanged: the slot changes hands
      t.waiter->cv.notify_one();
      slot_queue_.pop_front();
      return;
    }
    next = std::move(t.flight);
    body = std::move(t.body);
    slot_queue_.pop_front();
  }
  next->has_slot = true;  // before the pool's thread can see it (the pool's lock orders them)
  run_on_flight_pool([this, f = std::move(next), body = std::move(body)] { run_flight(f, body); });
}

void HttpTransport::queue_flight(json id, std::function<void(Flight&)> body) {
  auto f = new_flight(std::move(id));  // registered first: close() waits for it or drops it
  {
    std::lock_guard lk(slot_mutex_);
    if (closing_ || f->aborted) {
      // close() (or a cancellation) already went through the flights: it is ours to drop.
    } else if (busy_ < slot_cap(cfg_) && slot_queue_.empty()) {
      ++busy_;
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
    // Not queued: running, maybe waiting in take_slot for its next exchange.
    if (!dropped)
      for (auto& t : slot_queue_)
        if (t.waiter) t.waiter->cv.notify_one();
  }
  // Nothing is reported: the caller's wait (its deadline, its cancellation) or close() does.
  if (dropped) forget_flight(dropped);
}

void HttpTransport::wake_slot_waiters() {
  std::lock_guard lk(slot_mutex_);
  for (auto& t : slot_queue_)
    if (t.waiter) t.waiter->cv.notify_one();
}

}  // namespace mcp::detail
