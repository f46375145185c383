// SPDX-License-Identifier: MIT
// Legacy HTTP+SSE (2024-11-05): the GET stream that names the message endpoint (same origin
// only) and carries every reply.
#include "http_transport_impl.hpp"


namespace mcp::detail {

using namespace std::chrono_literals;

Result<void> HttpTransport::open_sse(Clock::time_point deadline) {
  {
    std::lock_guard lk(mutex_);
    if (mode_ == Mode::sse && endpoint_) return {};
    mode_ = Mode::sse;
    sse_stream_ended_ = false;
    sse_error_.reset();
  }
  start_flight(json(), [this](Flight& f) { run_sse_stream(f); });
  std::unique_lock lk(mutex_);
  endpoint_cv_.wait_until(lk, deadline, [&] { return endpoint_.has_value() || sse_stream_ended_ || closing_; });
  if (endpoint_) return {};
  if (sse_error_) return fail(*sse_error_);
  return fail(err(Errc::connection_failed, "HTTP+SSE: no 'endpoint' event from " + url_.shown()));
}

void HttpTransport::run_sse_stream(Flight& f) {
  SseParser parser(cfg_.max_message_bytes);
  int status = 0;
  ResponseFields response_headers;
  Url at = url_;  // where the stream is, after same-origin redirects
  std::string location;
  Fields fields = headers_for(true);
  auto on_head = [&](const http1::Head& h) {
    status = h.status;
    response_headers = all_fields(h);
    if (redirect_status(status)) {
      location = h.get("Location");
      if (!location.empty()) return !f.aborted;  // its body is dropped
    }
    return !f.aborted && status >= 200 && status < 300;
  };
  bool refused = false;  // the endpoint event named a URL we do not post to
  auto on_content = [&](const char* data, std::size_t n) {
    if (f.aborted || refused) return false;
    if (!location.empty()) return true;
    const bool fed = parser.feed(std::string_view(data, n), [&](SseEvent&& ev) {
      if (ev.event == "endpoint") {
        std::lock_guard lk(mutex_);
        if (!endpoint_ && !refused) {
          // Every message, with our credentials and headers, goes where this says: only to
          // the stream's own origin (as the TypeScript SDK checks), and only a target that
          // cannot split the request line.
          auto resolved = resolve_url(at, ev.data);
          if (!resolved) {
            sse_error_ = err(Errc::invalid_message, "HTTP+SSE: the server's endpoint event is unusable: " +
                                                        resolved.error().message);
            refused = true;
          } else if (resolved->origin() != url_.origin()) {
            Error e = err(Errc::invalid_message, "HTTP+SSE: the server's endpoint event names another origin, " +
                                                     resolved->origin() + "; messages are only sent to " +
                                                     url_.origin());
            e.data = json{{"endpoint_origin", resolved->origin()}};
            sse_error_ = std::move(e);
            refused = true;
          } else {
            endpoint_ = std::move(*resolved);
          }
        }
        endpoint_cv_.notify_all();
      } else if ((ev.event == "message" || ev.event.empty()) && !refused) {
        bool ignored = false;
        deliver_text(ev.data, json(), ignored);
      }
    });
    return fed && !refused;  // a refused endpoint ends the stream now
  };
  std::string failure;  // why the last exchange failed
  const auto auth_deadline = Clock::now() + cfg_.connect_timeout + 30s;
  int hops = 0;
  int attempts = 0;
  if (!f.aborted && !closing_) {
    auto round = with_auth(fields, "GET", url_, auth_deadline, &f, json(), attempts, [&]() -> Result<AuthRound> {
      for (;;) {
        status = 0;
        location.clear();
        // The lean client, for its bounds on the response head (see stream_events); the head
        // must come in time, the stream then lasts as long as the server keeps it.
        auto out = post_lean(&f, nullptr, at, std::string(), fields, 24h, on_head, on_content, "GET",
                             std::chrono::microseconds(cfg_.connect_timeout + kStreamHeadWait));
        failure = out.ok() ? std::string() : http1::describe(out);
        if (location.empty() || f.aborted) return AuthRound{status, &response_headers};
        auto next = redirect_target(at, status, location, hops++);
        if (!next) return fail(next.error());
        at = std::move(*next);  // same origin; not an authentication attempt
        if (f.aborted || closing_) return AuthRound{status, &response_headers, true};
      }
    });
    std::lock_guard lk(mutex_);
    if (!round) sse_error_ = round.error();
    else if (!round->settled && (status == 401 || status == 403))
      sse_error_ = status_error(status, "", response_headers);
    else if (!endpoint_ && status == 0 && !failure.empty() && !f.aborted)
      sse_error_ = err(Errc::connection_failed, "GET " + url_.shown() + ": " + failure);  // refused, unreachable ...
    else if (!endpoint_ && status != 0 && (status < 200 || status >= 300))
      sse_error_ = status_error(status, "", response_headers);
  }
  bool had_endpoint;
  {
    std::lock_guard lk(mutex_);
    sse_stream_ended_ = true;
    had_endpoint = endpoint_.has_value();
    endpoint_cv_.notify_all();
  }
  if (f.aborted || closing_) return;
  if (!had_endpoint) return;  // open_sse reports it
  open_ = false;
  Error e = status == 0 ? err(Errc::connection_closed, "the HTTP+SSE stream closed: " + failure)
                        : err(Errc::connection_closed, "the HTTP+SSE stream from " + url_.shown() + " ended");
  std::lock_guard lk(deliver_mutex_);
  if (!closing_ && cb_.on_closed) cb_.on_closed(e);
}

}  // namespace mcp::detail
