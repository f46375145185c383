// SPDX-License-Identifier: MIT
// Streamable HTTP: a request's POST and its response (JSON, or an SSE stream, resumed when it
// breaks), notifications and answers POSTed, the optional GET stream of a stateful session,
// and the DELETE that ends the session.
#include "http_transport_impl.hpp"

#include "../protocol/json_write.hpp"
#include "../util/backoff.hpp"

namespace mcp::detail {

using namespace std::chrono_literals;

namespace {

bool is_jsonrpc_error_body(const json& j) { return j.is_object() && j.contains("error") && j["error"].is_object(); }

}  // namespace

Result<void> HttpTransport::post_sync(const Url& url, const json& msg, const SendOptions& options,
                                      Clock::time_point deadline, bool expect_session_ok) {
  auto headers = headers_for(false, &options);
  std::string body;
  if (!append_json(body, msg)) return fail(too_deep_to_send());
  struct Response {
    int status = 0;
    std::string content_type, body;
    ResponseFields fields;  // only for a 401/403
  };
  // One POST, and the same-origin
  // redirects it meets (redirect_target).
  auto post_once = [&](SlotGrant* grant) -> Result<Response> {
    Url at = url;
    for (int hops = 0;; ++hops) {
      Response r;
      std::string location;
      // The whole exchange (a wait for a free connection came out of it).
      const auto read_timeout = std::max<std::chrono::microseconds>(
          100ms, std::chrono::duration_cast<std::chrono::microseconds>(deadline - Clock::now()));
      auto out = post_lean(
          nullptr, grant, at, body, headers, read_timeout,
          [&](const http1::Head& h) {
            r.status = h.status;
            r.content_type = h.get("Content-Type");
            if (redirect_status(r.status)) location = h.get("Location");
            if (r.status == 401 || r.status == 403) r.fields = all_fields(h);
            return true;
          },
          [&](const char* d, std::size_t n) {
            if (r.body.size() + n <= http1::kMaxBody) r.body.append(d, n);  // longer bodies are cut
            return true;
          });
      if (!out.ok()) return fail(err(Errc::connection_failed, "POST " + at.shown() + ": " + http1::describe(out)));
      if (location.empty()) return r;
      auto next = redirect_target(at, r.status, location, hops);
      if (!next) return fail(next.error());
      at = std::move(*next);
    }
  };
  Response res;
  const json id = msg.contains("method") && msg.contains("id") ? msg["id"] : json();  // a request's
  int attempts = 0;
  auto round = with_auth(headers, "POST", url, deadline, nullptr, id, attempts, [&]() -> Result<AuthRound> {
    const bool counted = !options.uncounted;
    SlotGrant grant;
    if (counted && !take_slot(nullptr, deadline, grant))
      return fail(closing_ ? err(Errc::connection_closed, "connection to " + url_.origin() + " is closed")
                           : err(Errc::timeout, "POST " + url.str() + ": no connection free within the timeout"));
    auto sent = post_once(counted ? &grant : nullptr);
    if (counted) give_slot(std::move(grant));
    if (!sent) return fail(sent.error());
    res = std::move(*sent);
    return AuthRound{res.status, &res.fields};
  });
  if (!round) return fail(round.error());
  const int status = res.status;
  if (status >= 200 && status < 300) {
    // Some servers answer a notification with a body; anything JSON-RPC in it is delivered.
    if (!res.body.empty() && res.content_type.find("application/json") != std::string::npos) {
      auto j = parse_json(res.body);
      if (!j.is_discarded() && (j.is_array() || j.contains("jsonrpc"))) deliver(std::move(j));
    }
    return {};
  }
  if (status == 404 && expect_session_ok) {
    std::lock_guard lk(mutex_);
    if (!session_id_.empty()) {
      session_id_.clear();
      return fail(session_expired());
    }
  }
  return fail(status_error(status, res.body, res.fields));
}

bool HttpTransport::stream_events(Flight& f, const Url& url, std::string_view method, const std::string& body,
                                  const Fields& headers, SseParser& parser, const json& our_id,
                                  bool& got_response, Exchange& x) {
  std::optional<Url> redirected;  // where a redirect led (else `url`: not copied)
  for (int hops = 0;; ++hops) {
    const Url& at = redirected ? *redirected : url;
    std::string location;
    const bool ok = stream_once(f, at, method, body, headers, parser, our_id, got_response, x, location);
    if (location.empty() || f.over()) return ok;
    auto next = redirect_target(at, x.status, location, hops);
    if (!next) {
      if (!our_id.is_null() && cb_.on_request_failed) {
        cb_.on_request_failed(our_id, next.error());
        got_response = true;
      } else if (cb_.on_diagnostic) {
        cb_.on_diagnostic(next.error().message, {});
      }
      return false;  // `x.status` says it was a redirect
    }
    redirected = std::move(*next);
    parser.reset();
    x.error_body.clear();
    x.event_stream = false;
  }
}

bool HttpTransport::stream_once(Flight& f, const Url& url, std::string_view method, const std::string& body,
                                const Fields& headers, SseParser& parser, const json& our_id,
                                bool& got_response, Exchange& x, std::string& location) {
  int& status = x.status;
  std::string& error_body = x.error_body;
  if (f.over()) return false;
  // Requests (POST) share the connections to the server; a stream (GET) has its own.
  const bool counted = method == "POST";
  SlotGrant grant;
  if (counted) {
    // A queued flight starts with its slot; a later exchange of it (a redirect, a resent
    // request after an auth challenge) waits for one here, on its thread.
    if (f.has_slot) {
      f.has_slot = false;
      grant = std::move(f.grant);
    } else if (!take_slot(&f, f.here ? f.deadline : Clock::time_point::max(), grant)) {
      return false;
    }
  }
  struct Give {
    HttpTransport* t;
    SlotGrant* grant;
    ~Give() {
      if (grant) t->give_slot(std::move(*grant));
    }
  } give{this, counted ? &grant : nullptr};
  bool is_sse = false;
  bool too_large = false;
  // A JSON reply's text: the thread's buffer, reused (no allocation per reply).
  Lent<std::string, ReplyText> reply;
  std::string& json_body = *reply;
  json_body.clear();
  // The response's status and fields.
  auto on_head = [&](const http1::Head& h) {
    status = h.status;
    if (redirect_status(status)) {
      location = h.get("Location");
      if (!location.empty()) return !f.over();  // its body is dropped; stream_events decides
    }
    if (f.on_status) f.on_status(status);
    // The two fields every reply is read for, in one pass (the first of each name counts).
    std::string_view type, sid;
    bool has_type = false, has_sid = false;
    for (const auto& [k, v] : h.fields) {
      if (!has_type && iequals(k, "Content-Type")) {
        type = v;
        has_type = true;
      } else if (!has_sid && iequals(k, "Mcp-Session-Id")) {
        sid = v;
        has_sid = true;
      }
    }
    x.event_stream = type.find("text/event-stream") != std::string_view::npos;
    // Only a 401/403 looks at them (challenge, status_error): not copied for every reply.
    if (status == 401 || status == 403) x.fields = all_fields(h);
    is_sse = status >= 200 && status < 300 && x.event_stream;
    if (status >= 200 && status < 300) {
      bool visible = !sid.empty();
      for (unsigned char c : sid) visible = visible && c >= 0x21 && c <= 0x7e;
      if (visible) {
        std::lock_guard lk(mutex_);
        if (stateful_) session_id_ = sid;
      }
    }
    return !f.over();
  };
  auto on_content = [&](const char* data, size_t n) {
    if (f.over()) return false;
    if (!location.empty()) return true;
    if (is_sse) {
      bool ok = parser.feed(std::string_view(data, n), [&](SseEvent&& ev) {
        if (ev.event == "message" || ev.event.empty()) deliver_text(ev.data, our_id, got_response);
        else if (cb_.on_diagnostic) cb_.on_diagnostic("SSE event of type '" + ev.event + "' ignored", {});
      });
      if (!ok) too_large = true;
      // A resumed stream (GET) carrying our request is done with its response: a server may
      // keep it open (the TS SDK's does), and waiting on it would hold the caller to its
      // deadline. A POST's stream is read to its end (the server ends it after the response),
      // so that its connection stays reusable.
      return ok && !(got_response && !our_id.is_null() && method == "GET");
    }
    auto& target = (status >= 200 && status < 300) ? json_body : error_body;
    const std::size_t limit = (status >= 200 && status < 300) ? cfg_.max_message_bytes : http1::kMaxBody;
    if (target.size() + n > limit) {
      too_large = status >= 200 && status < 300;
      return !too_large;  // error bodies are just truncated
    }
    target.append(data, n);
    return true;
  };
  // The whole exchange. On the caller's thread it may not outlast the request's deadline;
  // elsewhere the waiting caller aborts the flight.
  auto read_timeout = [&f]() -> std::chrono::microseconds {
    if (!f.here) return 24h;
    return std::max<std::chrono::microseconds>(
        1us, std::chrono::duration_cast<std::chrono::microseconds>(f.deadline - Clock::now()));
  };
  bool ok = false;
  std::string failure;  // why !ok, when no status came
  {
    // Every exchange goes through the lean client (http and https): its bounds on a response
    // head (64 KiB, 100 fields), one deadline for the exchange, and for a GET stream a head
    // that must come in time.
    // (the callbacks by reference: a std::function of a lambda itself would allocate per call)
    auto out = post_lean(&f, counted ? &grant : nullptr, url, body, headers, read_timeout(),
                         [&on_head](const http1::Head& h) { return on_head(h); },
                         [&on_content](const char* d, std::size_t n) { return on_content(d, n); }, method,
                         method == "GET" ? std::chrono::microseconds(cfg_.connect_timeout + kStreamHeadWait)
                                         : std::chrono::microseconds::max());
    ok = out.ok();
    if (!ok) failure = http1::describe(out);
  }
  if (too_large) {
    if (!our_id.is_null() && cb_.on_request_failed)
      cb_.on_request_failed(our_id, err(Errc::message_too_large, "a message from the server exceeded " +
                                                                       std::to_string(cfg_.max_message_bytes) + " bytes"));
    got_response = true;  // reported; nothing more to do for this request
    return false;
  }
  if (!ok) {
    if (status == 0 && !f.over() && !our_id.is_null() && cb_.on_request_failed) {
      cb_.on_request_failed(our_id, err(Errc::connection_failed, std::string(method) + " " + url.shown() + ": " + failure));
      got_response = true;
    }
    return false;  // aborted, or the stream broke mid-way (status != 0)
  }
  if (is_sse) parser.finish();
  JsonRefusal refused = JsonRefusal::malformed;
  // A POST's whole JSON answer, its exchange over: this flight (on the pool: not the caller's
  // own thread) ends after the delivery.
  std::optional<FinishingFlight> finishing;
  if (!f.here && method == "POST" && !our_id.is_null()) finishing.emplace();
  if (status >= 200 && status < 300 && !is_sse && !json_body.empty() &&
      !deliver_text(json_body, our_id, got_response, false, &refused)) {
    if (!our_id.is_null() && cb_.on_request_failed) {
      const std::string why = refused == JsonRefusal::malformed ? "is not JSON" : describe(refused, max_json_values(cfg_.max_message_bytes));
      cb_.on_request_failed(our_id, err(refused == JsonRefusal::too_many_values ? Errc::message_too_large : Errc::invalid_message,
                                        "the server's reply " + why));
      got_response = true;
    }
  }
  return true;
}

void HttpTransport::run_request(Flight& f, const json& id, const std::string& body, Fields& headers,
                                const Opening* opening, Clock::time_point deadline) {
  SseParser parser(cfg_.max_message_bytes);
  bool got_response = false;
  Exchange x;
  const bool had_session = headers.find("Mcp-Session-Id").has_value();  // as sent
  auto failed = [&](const Error& e) {
    // Once stopped or past its deadline the waiting caller reports why, not us.
    if (!f.over() && cb_.on_request_failed) cb_.on_request_failed(id, e);
  };
  int attempts = 0;
  auto round = with_auth(headers, "POST", url_, deadline, &f, id, attempts, [&]() -> Result<AuthRound> {
    if (attempts > 0) parser.reset();
    x.status = 0;
    x.error_body.clear();
    stream_events(f, url_, "POST", body, headers, parser, id, got_response, x);
    return AuthRound{x.status, &x.fields, f.over() || closing_ || got_response};
  });
  if (!round) return failed(round.error());
  if (round->settled) return;
  const int status = x.status;
  if (status >= 200 && status < 300) {
    bool stateful;
    {
      std::lock_guard lk(mutex_);
      stateful = stateful_;
    }
    // The stream ended (or broke) before our response. Stateful servers may let us resume it.
    if (stateful && !parser.last_event_id().empty() && resume(f, id, parser, got_response)) return;
    if (f.over() || closing_ || got_response) return;
    if (status == 202) return failed(err(Errc::invalid_message, "the server accepted the request but sent no reply"));
    return failed(err(Errc::stream_broken, "the response stream ended before the response"));
  }
  if (status == 0) return;  // connection failure already reported
  // Legacy: a 404 for a session we hold means the server forgot it, whatever the body says
  // (servers commonly add a JSON-RPC error). The request was not processed.
  if (status == 404 && had_session) {
    {
      std::lock_guard lk(mutex_);
      session_id_.clear();
    }
    return failed(session_expired());
  }
  // A JSON-RPC error body is an answer, whatever the status (400 for modern errors, 404 for -32601).
  if (status != 401 && status != 403) {
    auto j = parse_json(x.error_body);
    if (!j.is_discarded() && is_jsonrpc_error_body(j)) {
      if (!j.contains("id") || j["id"].is_null()) j["id"] = id;
      if (j["id"] == id) {
        deliver(std::move(j));
        return;
      }
    }
  }
  // 2025-03-26 backwards compatibility: a request opening a session that Streamable HTTP
  // refuses with 400, 404 or 405 means a 2024-11-05 HTTP+SSE server. Never on 401/403.
  if (opening && cfg_.transport == HttpTransportKind::automatic &&
      (status == 400 || status == 404 || status == 405)) {
    auto opened = open_sse(Clock::now() + cfg_.connect_timeout + 10s);
    if (!opened) {
      Error e = opened.error();
      e.message = "Streamable HTTP answered HTTP " + std::to_string(status) + " and the HTTP+SSE fallback failed: " + e.message;
      return failed(e);
    }
    Url target;
    {
      std::lock_guard lk(mutex_);
      target = *endpoint_;
      fell_back_ = true;
    }
    auto posted = post_sync(target, opening->message, opening->options, Clock::now() + 30s, false);
    if (!posted) failed(posted.error());
    return;
  }
  failed(status_error(status, x.error_body, x.fields));
}

bool HttpTransport::resume(Flight& f, const json& our_id, SseParser& parser, bool& got_response) {
  Backoff backoff(parser.retry().value_or(1000ms), cfg_.max_reconnect_delay);
  for (int attempt = 0; attempt < cfg_.max_reconnect_attempts && !f.over() && !closing_ && !got_response; ++attempt) {
    if (!backoff.sleep([&] { return f.over() || closing_; }, 10ms)) return true;
    auto headers = headers_for(true);
    headers.set("Last-Event-ID", parser.last_event_id());
    if (!apply_auth(headers, "GET", url_, Clock::now() + cfg_.connect_timeout + 30s)) return false;
    parser.reset();
    Exchange x;
    stream_events(f, url_, "GET", "", headers, parser, our_id, got_response, x);
    const int status = x.status;
    if (got_response) return true;
    if (status == 405 || status == 404 || status == 401 || status == 403 || (status >= 300 && status < 400))
      return false;  // not resumable
    if (parser.retry()) backoff.set(*parser.retry());
    else backoff.grow();
  }
  return got_response;
}

void HttpTransport::run_get_stream(Flight& f) {
  // Legacy Streamable HTTP: the optional server->client stream. 405 means the server has none.
  SseParser parser(cfg_.max_message_bytes);
  Backoff backoff(1000ms, cfg_.max_reconnect_delay);
  int failures = 0;
  // Not with_auth: every reconnection, one after a challenge too, builds its headers afresh
  // (session, Last-Event-ID, header_provider) and gives the provider a deadline of its own.
  int auth_attempts = 0;
  while (!f.aborted && !closing_ && failures < cfg_.max_reconnect_attempts) {
    auto headers = headers_for(true);
    if (!parser.last_event_id().empty()) headers.set("Last-Event-ID", parser.last_event_id());
    const auto auth_deadline = Clock::now() + cfg_.connect_timeout + 30s;
    if (!apply_auth(headers, "GET", url_, auth_deadline)) return;
    parser.reset();
    bool ignored = false;
    Exchange x;
    const auto began = Clock::now();
    stream_events(f, url_, "GET", "", headers, parser, json(), ignored, x);
    const int status = x.status;
    if (f.aborted || closing_) return;
    if (status == 401 || status == 403) {
      auto again = challenge(status, x.fields, headers, ++auth_attempts, auth_deadline, &f);
      if (again && *again) continue;
      return;
    }
    if (status == 405 || status == 404 || status == 401 || status == 403 || (status >= 300 && status < 400) ||
        (status >= 200 && status < 300 && !x.event_stream)) {
      return;
    }
    failures = (Clock::now() - began > 5s) ? 0 : failures + 1;  // a long-lived stream resets the count
    if (parser.retry()) backoff.set(*parser.retry());
    (void)backoff.sleep([&] { return f.aborted || closing_; }, 20ms);
    backoff.grow();
  }
}

void HttpTransport::end_session() {
  // A courtesy to the server: bounded as a whole (a server trickling its reply must not hold
  // up disconnect(), a destructor or a pool eviction), and only its status line is awaited,
  // never its body. Any answer will do (405: the server keeps no sessions).
  const auto by = Clock::now() + std::min<Clock::duration>(kDeleteWait, cfg_.connect_timeout);
  auto headers = headers_for(false);
  if (!apply_auth(headers, "DELETE", url_, by)) return;
  const auto left = std::chrono::duration_cast<std::chrono::microseconds>(by - Clock::now());
  if (left.count() <= 0) return;
  auto conn = connect_to(url_);
  std::string head;
  request_head(head, "DELETE", url_, headers, conn->host_header(), nullptr);
  (void)conn->exchange(head, {}, false, left, [](const http1::Head&) { return false; }, nullptr);
}

}  // namespace mcp::detail
