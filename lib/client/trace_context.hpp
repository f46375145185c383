// SPDX-License-Identifier: MIT
#pragma once
// What ClientConfig::trace_context and ::on_request add to a request: the W3C trace context in
// its `_meta` (checked first), and the start and end events.
#include <mcp/config.hpp>

#include <nlohmann/json.hpp>

#include <chrono>
#include <string>
#include <string_view>

namespace mcp::detail {

/// Why `v` is not a W3C Trace Context traceparent (empty: it is one).
std::string traceparent_problem(std::string_view v);
/// Why `v` is not a W3C Trace Context tracestate (empty: it is one).
std::string tracestate_problem(std::string_view v);
/// Why `v` is not a W3C Baggage header value (empty: it is one).
std::string baggage_problem(std::string_view v);
/// What is wrong with `t`, member by member (empty: nothing). With `drop`, the malformed members
/// are cleared (a malformed traceparent clears the tracestate too: it means nothing alone).
std::string check_trace(TraceContext& t, bool drop);
/// Adds the non-empty members of `t` to `meta` (made an object if it is null), leaving the keys
/// it already has. A `meta` of another type is left alone.
void put_trace(nlohmann::json& meta, const TraceContext& t);

/// One request's ClientConfig::on_request events. Inert (no clock read) when the hook is empty.
class RequestSpan {
 public:
  /// Calls the hook's start event if it is set. `hook` and `server` must outlive end().
  void start(const std::function<void(const RequestEvent&)>& hook, std::string_view server, std::string_view method,
             Era era);
  /// The end event (once; nothing if start() found no hook). `error`: null for a result.
  void end(Era era, const Error* error);
  [[nodiscard]] bool active() const noexcept { return hook_ != nullptr; }

 private:
  const std::function<void(const RequestEvent&)>* hook_ = nullptr;
  std::string_view server_;
  std::string method_;  // a Flight that holds this is moved
  std::uint64_t id_ = 0;
  std::chrono::steady_clock::time_point t0_{};
};

}  // namespace mcp::detail
