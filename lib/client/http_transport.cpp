// SPDX-License-Identifier: MIT
// The HTTP transport's entry points: configuration checks, start, send (what each message's
// SendOptions ask for), the headers of a request, delivering what the server sent, close.
#include "http_transport_impl.hpp"

#include "../protocol/json_write.hpp"

namespace mcp::detail {

using namespace std::chrono_literals;

Error HttpTransport::too_deep_to_send() const { return err(Errc::invalid_message, too_deep_to_send_text()); }

bool header_safe(const std::string& v) {
  for (char c : v)
    if (c == '\r' || c == '\n' || c == '\0') return false;
  return true;
}

Result<Url> check_http_config(const HttpServerConfig& cfg) {
  auto u = parse_url(cfg.url);
  if (!u) return fail(Errc::invalid_config, "invalid server URL: " + u.error().message);
  for (const auto& [k, v] : cfg.headers) {
    if (k.empty()) return fail(Errc::invalid_config, "a configured header has an empty name");
    // The name is not echoed: it is the configuration's own text, CR and LF included.
    if (!header_safe(k) || !header_safe(v)) return fail(Errc::invalid_config, "a configured header contains CR, LF or NUL");
  }
  return u;
}

void HttpTransport::headers_for(Fields& h, bool stream, const SendOptions* options) {
  h.clear();
  // ours: at most Accept, session, version, and the message's own
  h.reserve(cfg_.headers.size() + 3 + (options ? options->headers.size() : 0));
  for (const auto& [k, v] : cfg_.headers) h.set_ref(k, v);  // the configuration outlives every request
  if (cfg_.header_provider) {
    // Called on whatever thread makes the request, stream threads included: what it throws
    // becomes this request's error (see apply_auth), never an exception of ours.
    std::map<std::string, std::string> provided;
    try {
      provided = cfg_.header_provider();
    } catch (...) {
      h.provider_failure = "header_provider threw: " + thrown_text();
    }
    for (const auto& [k, v] : provided) {
      if (header_safe(k) && header_safe(v)) h.set(k, v);
      else if (cb_.on_diagnostic) cb_.on_diagnostic("header_provider returned a header with CR/LF; dropped: " + k, {});
    }
  }
  h.set_ref("Accept", stream ? "text/event-stream" : "application/json, text/event-stream");
  {
    std::lock_guard lk(mutex_);
    if (!session_id_.empty()) h.set("Mcp-Session-Id", session_id_);
    if (!protocol_version_.empty()) h.set("MCP-Protocol-Version", protocol_version_);
  }
  // The message's own, from the session: they win over the session's (a version of its own).
  if (options)
    for (const auto& [k, v] : options->headers) h.set_ref(k, v);
}

void HttpTransport::deliver(json&& msg) {
  std::lock_guard lk(deliver_mutex_);
  if (closing_) return;
  if (msg.is_array()) {  // 2025-03-26 batches
    for (auto& m : msg)
      if (cb_.on_message) cb_.on_message(std::move(m));
    return;
  }
  if (cb_.on_message) cb_.on_message(std::move(msg));
}

bool HttpTransport::deliver_text(const std::string& data, const json& our_id, bool& got_response, bool diagnose,
                                 JsonRefusal* refused) {
  if (data.find_first_not_of(" \t\r\n") == std::string::npos) return diagnose;  // priming event
  JsonRefusal why{};
  const std::size_t max_values = max_json_values(cfg_.max_message_bytes);
  if (cb_.on_result) {
    // A success response, read without its envelope.
    std::int64_t id = 0;
    json result;
    if (parse_response(data, id, result, max_values)) {
      if (!our_id.is_null() && our_id == id) got_response = true;
      std::shared_lock lk(deliver_mutex_);
      if (!closing_) cb_.on_result(id, std::move(result));
      return true;
    }
  }
  auto j = parse_json(data, &why, max_values);
  if (j.is_discarded()) {
    if (refused) *refused = why;
    if (!diagnose) return false;
    const auto id = response_id(data);  // the request an unreadable reply answers, when certain
    if (cb_.on_diagnostic) {
      const DiagnosticAbout about{id ? log_request_id(*id) : 0, {}};
      if (why == JsonRefusal::malformed) cb_.on_diagnostic("non-JSON SSE event ignored: " + data.substr(0, 200), about);
      else cb_.on_diagnostic("an SSE event " + describe(why, max_values) + ", ignored: " + data.substr(0, 200), about);
    }
    // An event that is certainly a reply, unreadable: its request fails now, not when the
    // stream ends or at its timeout. On a POST's stream, only that POST's reply; on a stream
    // for everything (legacy HTTP+SSE), the reply to any request.
    if (!got_response && cb_.on_request_failed && (our_id.is_null() || our_id.is_number_integer())) {
      if (id && (our_id.is_null() || *id == our_id.get<std::int64_t>())) {
        cb_.on_request_failed(json(*id), err(why == JsonRefusal::too_many_values ? Errc::message_too_large : Errc::invalid_message,
                                             "the server's reply " + describe(why, max_values)));
        if (!our_id.is_null()) got_response = true;
      }
    }
    return false;
  }
  auto is_ours = [&](const json& m) {
    if (!m.is_object()) return false;
    auto id = m.find("id");
    return id != m.end() && *id == our_id && (m.contains("result") || m.contains("error"));
  };
  if (!our_id.is_null()) {
    if (is_ours(j)) got_response = true;
    if (j.is_array())
      for (const auto& m : j) got_response = got_response || is_ours(m);
  }
  deliver(std::move(j));
  return true;
}

Result<void> HttpTransport::start(Callbacks cb) {
  cb_ = std::move(cb);
  auto u = check_http_config(cfg_);
  if (!u) return fail(err(Errc::invalid_config, u.error().message));
  url_ = *u;
  // Redirects and the HTTP+SSE endpoint stay on this origin: one scheme for every exchange.
  if (url_.scheme == "https") tls_ = std::make_shared<http1::TlsContext>(cfg_.verify_tls, cfg_.ca_file, cfg_.ca_dir);
  if (cfg_.connection_share) shared_ = ShareAccess::slots(*cfg_.connection_share, url_, cfg_);
  const std::string path = url_.target.substr(0, url_.target.find('?'));
  const bool sse_path = path.size() >= 4 && path.compare(path.size() - 4, 4, "/sse") == 0;
  if (cfg_.transport == HttpTransportKind::sse ||
      (cfg_.transport == HttpTransportKind::automatic && sse_path)) {
    mode_ = Mode::sse;
    open_ = true;
    auto r = open_sse(Clock::now() + cfg_.connect_timeout + 10s);
    if (!r) {
      open_ = false;
      stop_flights();
      wait_flights();
      return r;
    }
    return {};
  }
  open_ = true;
  return {};
}

Result<void> HttpTransport::send(const json& message, Clock::time_point deadline, const SendOptions& options) {
  if (closing_ || !open_) return fail(err(Errc::connection_closed, "connection to " + url_.origin() + " is closed"));
  const auto id = message.is_object() ? message.find("id") : message.end();
  const bool is_request = id != message.end() && message.contains(std::string_view("method"));
  Mode mode;
  bool stateful;
  {
    std::lock_guard lk(mutex_);
    mode = mode_;
    stateful = stateful_;
  }
  if (!options.cancels.is_null()) {
    // Closing a request's stream is its cancellation; within a stateful session the server
    // also gets the message.
    std::vector<std::shared_ptr<Flight>> cancelled;
    {
      std::lock_guard lk(mutex_);
      for (auto& f : flights_)
        if (f->id == options.cancels) cancelled.push_back(f);
    }
    for (auto& f : cancelled) f->stop();  // not under mutex_: a queued flight unregisters itself
    if (!stateful) return {};
  }
  if (options.opens_session) {
    std::lock_guard lk(mutex_);
    stateful_ = true;  // from now on: session id, protocol version header, GET stream, DELETE
  }
  if (mode == Mode::sse) {
    Url target;
    {
      std::lock_guard lk(mutex_);
      if (!endpoint_) return fail(err(Errc::connection_closed, "the SSE stream has no message endpoint"));
      target = *endpoint_;
    }
    return post_sync(target, message, options, deadline, false);
  }
  if (is_request) {
    // A stateless (modern) request may take a shared connection: it carries its own
    // credentials and leaves no state on it. Not a session's requests, nor a stream that lasts
    // as long as the client listens (it would hold a shared connection for good).
    const bool shareable = shared_ && mode == Mode::streamable && !stateful && !options.opens_session && !options.long_lived;
    // Serialised and given its headers here, so that the flight needs no copy of the tree.
    if (options.on_caller_thread && !options.opens_session) {
      // No hand-off to a flight thread and back: two wake-ups and context switches per call.
      // The thread's own body text and fields, reused from one call to the next; the fields
      // borrow from `options`, which outlive the exchange.
      Lent<std::string, BodyText> body;
      body->clear();
      if (!append_json(*body, message)) return fail(too_deep_to_send());
      Lent<Fields, RequestFields> headers;
      headers_for(*headers, false, &options);
      auto work = [&](Flight& f) { run_request(f, f.id, *body, *headers, nullptr, deadline); };
      // (the std::function holds a reference to `work`: small enough to need no allocation)
      run_here(*id, options.stop, deadline, [&work](Flight& f) { work(f); }, shareable);
      return {};
    }
    auto headers = headers_for(false, &options);
    headers.own();  // the flight outlives `options`
    std::optional<Opening> opening;
    if (options.opens_session) opening = Opening{message, options};
    std::string body;
    body.reserve(512);  // one allocation for a typical request, not one per doubling
    if (!append_json(body, message)) return fail(too_deep_to_send());
    queue_flight(*id, [this, body = std::move(body), headers = std::move(headers),
                                 opening = std::move(opening), deadline](Flight& f) mutable {
      run_request(f, f.id, body, headers, opening ? &*opening : nullptr, deadline);
    }, shareable);
    return {};
  }
  auto r = post_sync(url_, message, options, deadline, true);
  if (r && server_stream_ && options.session_ready) {
    bool start_get = false;
    {
      std::lock_guard lk(mutex_);
      start_get = stateful_ && !get_stream_started_;
      get_stream_started_ = true;
    }
    if (start_get) {
      auto settle = [this] {
        std::lock_guard lk(mutex_);
        get_stream_settled_ = true;
        get_stream_cv_.notify_all();
      };
      start_flight(json(), [this, settle](Flight& f) {
        f.on_status = [settle](int) { settle(); };
        run_get_stream(f);
        settle();
      });
      // Servers drop server-to-client messages that have no stream to go on (the TypeScript
      // SDK's does, for a request's elicitation sent outside its response): the first request
      // waits until the GET stream is answered, or refused, or a second has passed.
      std::unique_lock lk(mutex_);
      get_stream_cv_.wait_until(lk, std::min(deadline, Clock::now() + std::min<Clock::duration>(cfg_.connect_timeout, 1s)),
                                [&] { return get_stream_settled_ || closing_; });
    }
  }
  return r;
}

void HttpTransport::close() {
  // On one of our flights: a callback that disconnects (a completion, a progress callback). It
  // cannot wait for the flights: for its own, nor for the others, which may wait for the
  // delivery lock it holds; nor for a close under way elsewhere, which waits for this flight.
  // Each flight holds the transport while it runs: it may end after close() returns.
  const bool own = on_own_flight();
  std::unique_lock close_lk(close_mutex_, std::defer_lock);
  if (!own) {
    close_lk.lock();
  } else if (!close_lk.try_lock()) {
    closing_ = true;  // the thread closing does the rest, waiting for this flight to end
    open_ = false;
    return;
  }
  if (closed_) {
    if (!own) {
      wait_flights();  // what a close on a flight left: its flights end now
      close_deferred_ = false;
    }
    return;
  }
  closed_ = true;
  std::string sid;
  bool stateful;
  {
    std::lock_guard lk(mutex_);
    sid = session_id_;
    stateful = stateful_;
  }
  // Stop every stream first, then tell the server the session is over. Once closing_ is set
  // under the delivery lock, no callback starts; the running ones end before wait_flights
  // returns (on a flight, which may hold that lock, closing_ alone stops the next ones).
  if (own) {
    closing_ = true;
  } else {
    std::lock_guard lk(deliver_mutex_);
    closing_ = true;
  }
  closing_stop_.request_stop();
  open_ = false;
  wake_slot_waiters();
  stop_flights();
  if (own) close_deferred_ = true;
  else wait_flights();
  if (stateful && !sid.empty()) end_session();
  // Our own idle connections close; a share's are the share's (other clients use them).
  std::vector<IdleConn> idle;
  {
    std::lock_guard slk(own_.m);
    idle.swap(own_.idle);
  }
  idle.clear();
  std::lock_guard lk(mutex_);
  idle_lean_.clear();
  endpoint_cv_.notify_all();
  get_stream_cv_.notify_all();
}

std::shared_ptr<Transport> make_http_transport(std::string server_name, HttpServerConfig config,
                                               bool server_stream) {
  return std::make_shared<HttpTransport>(std::move(server_name), std::move(config), server_stream);
}

}  // namespace mcp::detail
