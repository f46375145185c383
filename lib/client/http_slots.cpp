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
// The slots are an OriginSlots: the transport's own, or (for a stateless request of a
// transport given an HttpConnectionShare) the share's for the origin, whose line holds the
// requests of every transport given that share, each queued flight run by its own transport.
#include "http_transport_impl.hpp"

namespace mcp::detail {

namespace {

// A slot of `s` and its grant for the caller (s.m held), if one is free now.
bool grant_slot(OriginSlots& s, SlotGrant& g) {
  if (s.busy >= s.cap) return false;
  if (!s.idle.empty()) {
    g.conn = std::move(s.idle.back().conn);
    s.idle.pop_back();
  } else if (s.connecting < s.connect_cap) {
    ++s.connecting;
    g.may_connect = true;
  } else {
    return false;
  }
  ++s.busy;
  g.slots = &s;
  return true;
}

bool someone_waits(const OriginSlots& s) { return !s.queue.empty() || !s.connect_queue.empty(); }

void wake_waiters(OriginSlots& s) {
  std::lock_guard lk(s.m);
  for (auto& t : s.queue)
    if (t.waiter) t.waiter->cv.notify_one();
  for (auto* w : s.connect_queue) w->cv.notify_one();
}

}  // namespace

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
  OriginSlots& s = slots_for(f);
  std::unique_lock lk(s.m);
  if (closing_) return false;
  if (s.queue.empty() && grant_slot(s, grant)) return true;
  SlotWaiter me;
  const auto it = s.queue.insert(s.queue.end(), Turn{&me, this, nullptr, nullptr});
  const bool gave_up = wait_turn(lk, me, f, deadline);
  if (!me.granted) {
    // Whoever is behind could not be served either (the first in line is served first).
    s.queue.erase(it);
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
  if (!grant.slots) return;
  OriginSlots& s = *grant.slots;
  bool waiting;
  {
    std::lock_guard lk(s.m);
    --s.busy;
    if (grant.may_connect) --s.connecting;
    // An idle connection handed over and not used: idle again (our own while closing: closed
    // below; a share's stays the share's).
    if (grant.conn && (s.shared || !closing_)) s.idle.push_back({std::move(grant.conn), Clock::now()});
    waiting = someone_waits(s);
  }
  if (waiting) pump(s);
}

bool HttpTransport::take_connect(OriginSlots& s, const Flight* f, Clock::time_point deadline) {
  std::unique_lock lk(s.m);
  if (s.connect_queue.empty() && s.connecting < s.connect_cap) {
    ++s.connecting;
    return true;
  }
  SlotWaiter me;
  const auto it = s.connect_queue.insert(s.connect_queue.end(), &me);
  const bool gave_up = wait_turn(lk, me, f, deadline);
  if (!me.granted) {
    s.connect_queue.erase(it);
    return false;
  }
  if (!gave_up) return true;
  lk.unlock();
  end_connect(s);
  return false;
}

void HttpTransport::end_connect(OriginSlots& s) {
  bool waiting;
  {
    std::lock_guard lk(s.m);
    --s.connecting;
    waiting = someone_waits(s);
  }
  if (waiting) pump(s);
}

void HttpTransport::pump(OriginSlots& s) {
  // One queued flight started per round, outside the lock (no list of them built).
  for (;;) {
    std::shared_ptr<Flight> next;
    std::function<void(Flight&)> body;
    HttpTransport* owner = nullptr;
    {
      std::lock_guard lk(s.m);
      // Closing: our queued flights are being dropped (close stops every flight), none starts.
      // A share's line holds other transports' turns: served whatever we do (a turn of a
      // transport that is closing runs nothing: its flight is stopped, and gives its slot back).
      if (!s.shared && closing_) return;
      // Holders of a slot first: they wait for an attempt alone, and would hold their slot
      // (maybe the last free one) the while.
      while (!s.connect_queue.empty() && s.connecting < s.connect_cap) {
        SlotWaiter* w = s.connect_queue.front();
        s.connect_queue.pop_front();
        ++s.connecting;
        w->granted = true;
        w->cv.notify_one();
      }
      while (!s.queue.empty()) {
        Turn& t = s.queue.front();
        SlotGrant g;
        if (!grant_slot(s, g)) return;
        if (t.waiter) {
          t.waiter->grant = std::move(g);
          t.waiter->granted = true;
          t.waiter->cv.notify_one();
          s.queue.pop_front();
          continue;
        }
        next = std::move(t.flight);
        body = std::move(t.body);
        owner = t.owner;
        s.queue.pop_front();
        // Before the pool's thread can see it (the pool's lock orders them).
        next->grant = std::move(g);
        next->has_slot = true;
        break;
      }
    }
    if (!next) return;
    // The owner lives: its close() waits for this flight, registered until run_flight ends; the
    // flight holds it while it runs (as queue_flight's), unless it is being destroyed already.
    run_on_flight_pool([keep = owner->weak_from_this().lock(), owner, f = std::move(next), body = std::move(body)] {
      owner->run_flight(f, body);
    });
  }
}

void HttpTransport::queue_flight(json id, std::function<void(Flight&)> body, bool shareable) {
  auto f = new_flight(std::move(id));  // registered first: close() waits for it or drops it
  f->shareable = shareable;
  OriginSlots& s = slots_for(f.get());
  {
    std::lock_guard lk(s.m);
    if (closing_ || f->aborted) {
      // close() (or a cancellation) already went through the flights: it is ours to drop.
    } else if (s.queue.empty() && grant_slot(s, f->grant)) {
      f->has_slot = true;
    } else {
      s.queue.push_back(Turn{nullptr, this, f, std::move(body)});
      return;
    }
  }
  if (!f->has_slot) {
    forget_flight(f);
    return;
  }
  // The flight holds the transport while it runs: a callback on it may drop its last owner.
  run_on_flight_pool([keep = shared_from_this(), this, f = std::move(f), body = std::move(body)] { run_flight(f, body); });
}

void HttpTransport::unqueue(Flight* f) {
  OriginSlots& s = slots_for(f);
  std::shared_ptr<Flight> dropped;
  {
    std::lock_guard lk(s.m);
    for (auto it = s.queue.begin(); it != s.queue.end(); ++it)
      if (it->flight.get() == f) {
        dropped = std::move(it->flight);
        s.queue.erase(it);
        break;
      }
    // Not queued: running, maybe waiting in take_slot (or take_connect) for its next exchange.
    if (!dropped) {
      for (auto& t : s.queue)
        if (t.waiter && t.owner == this) t.waiter->cv.notify_one();
      for (auto* w : s.connect_queue) w->cv.notify_one();
    }
  }
  // Nothing is reported: the caller's wait (its deadline, its cancellation) or close() does.
  if (dropped) forget_flight(dropped);
}

void HttpTransport::wake_slot_waiters() {
  wake_waiters(own_);
  if (shared_) wake_waiters(*shared_);
}

}  // namespace mcp::detail
