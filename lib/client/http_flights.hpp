// SPDX-License-Identifier: MIT
#pragma once
// A flight: one HTTP exchange running on a thread of the process-wide flight pool
// (http_flights.cpp), which any thread can stop.
#include "transport.hpp"

#include "../http1.hpp"

#include <nlohmann/json.hpp>

#include <atomic>
#include <functional>
#include <memory>
#include <mutex>
#include <stop_token>

namespace mcp::detail {

struct OriginSlots;  // http_transport_impl.hpp

// Runs `task` on a thread of the process-wide flight pool (http_flights.cpp): on this thread,
// after its current task, if it is one of the pool's delivering the reply that ends its flight
// (FinishingFlight) and keeps no task for later yet.
void run_on_flight_pool(std::function<void()> task);

// While one lives, this thread delivers the reply that ends its flight: the exchange is over
// (its connection given back), nothing but returning is left. A flight that a completion starts
// meanwhile (the next call of a chain) is kept for this thread: it starts when the completion
// and the flight return, as a flight handed to another worker would start about then.
class FinishingFlight {
 public:
  FinishingFlight();
  ~FinishingFlight();
  FinishingFlight(const FinishingFlight&) = delete;
  FinishingFlight& operator=(const FinishingFlight&) = delete;

 private:
  bool outer_;
};

// A flight this thread keeps for later (FinishingFlight) goes to another worker now.
void release_next_flight();

// What a request's slot (one of max_connections, http_slots.cpp) comes with: a kept-alive
// connection to the server that was idle, now the holder's, or the right to open one (one of
// the max_connecting connection attempts at once). An exchange uses it or gives it back with
// the slot.
struct SlotGrant {
  std::unique_ptr<http1::Connection> conn;
  bool may_connect = false;
  OriginSlots* slots = nullptr;  // whose slot it is: the transport's own, or a share's
};

// One HTTP exchange in flight on its own thread: a request's POST (and its resumption),
// the GET stream of a stateful session, or the 2024-11-05 SSE stream. `stop()` aborts it from any thread.
struct Flight {
  nlohmann::json id;  // the JSON-RPC id of the request (null for streams)
  std::mutex m;
  http1::Connection* conn = nullptr;
  std::atomic<bool> aborted{false};
  std::atomic<bool> done{false};
  std::stop_source cancel;  // tells an auth provider working for this flight to give up
  // On the caller's thread (SendOptions::on_caller_thread) nobody aborts the flight at the
  // request's deadline: it gives up by itself then, reporting nothing (the caller's wait does).
  bool here = false;
  Transport::Clock::time_point deadline = Transport::Clock::time_point::max();
  [[nodiscard]] bool expired() const { return here && Transport::Clock::now() >= deadline; }
  std::function<void(int)> on_status;  // told each response's status as it arrives
  [[nodiscard]] bool over() const { return aborted || expired(); }
  // A request's flight started with a connection slot already its own (it queued for it
  // without a thread): its first POST uses it, and a flight that ends without one gives it back.
  // Touched only by the thread running the flight. `grant`: what came with that slot.
  bool has_slot = false;
  SlotGrant grant;
  // A stateless request of a transport given a connection share: its exchanges take the
  // share's slots (and connections), not the transport's own. Set before anyone else sees it.
  bool shareable = false;
  // Told that the flight stopped: drops it from the transport's queue for a connection if it
  // waits there (it never runs), else wakes the threads waiting for one.
  // Never called with the transport's mutex_ held (it may take it).
  std::function<void()> wake;
  // Ready to run another exchange, as a new Flight would be (the thread that ran it reuses it:
  // no allocation per call). Only when nothing else holds it.
  void reuse() {
    id = nullptr;
    conn = nullptr;
    aborted = false;
    done = false;
    if (cancel.stop_requested()) cancel = std::stop_source();
    here = false;
    deadline = Transport::Clock::time_point::max();
    on_status = nullptr;
    has_slot = false;
    grant = SlotGrant();
    shareable = false;
    wake = nullptr;
  }
  void stop() {
    aborted = true;
    cancel.request_stop();
    {
      std::lock_guard lk(m);
      if (conn) conn->stop();
    }
    if (wake) wake();
  }
};

}  // namespace mcp::detail
