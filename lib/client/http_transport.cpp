// SPDX-License-Identifier: MIT
#include "http_transport.hpp"

#include "../http1.hpp"
#include "../protocol/json_read.hpp"
#include "../protocol/json_write.hpp"
#include "../protocol/sse.hpp"
#include "../server_error.hpp"
#include "../util/ascii.hpp"
#include "../util/backoff.hpp"

#include <algorithm>
#include <atomic>
#include <charconv>
#include <condition_variable>
#include <deque>
#include <list>
#include <mutex>
#include <stop_token>
#include <string_view>
#include <thread>
#include <vector>

namespace mcp::detail {

using nlohmann::json;
using Clock = Transport::Clock;
using namespace std::chrono_literals;

// ---------------------------------------------------------------- URLs and header values

namespace {

bool header_safe(const std::string& v) {
  for (char c : v)
    if (c == '\r' || c == '\n' || c == '\0') return false;
  return true;
}

// The redirects redirect_target may follow (a 303 turns the request into a GET: not followed).
bool redirect_status(int status) { return status == 301 || status == 302 || status == 307 || status == 308; }


// ---------------------------------------------------------------- the transport

bool is_jsonrpc_error_body(const json& j) { return j.is_object() && j.contains("error") && j["error"].is_object(); }


// The header fields of a request we send, in order, their names unique ignoring ASCII case.
// A few entries: a vector, not a multimap (whose case-insensitive compares and node
// allocations were a measurable part of every call).
class Fields {
 public:
  using Field = std::pair<std::string, std::string>;
  void set(std::string_view k, std::string v) {
    for (auto& f : v_)
      if (same(f.first, k)) {
        f.second = std::move(v);
        return;
      }
    v_.emplace_back(std::string(k), std::move(v));
  }
  void erase(std::string_view k) {
    std::erase_if(v_, [&](const Field& f) { return same(f.first, k); });
  }
  [[nodiscard]] const std::string* find(std::string_view k) const {
    for (const auto& f : v_)
      if (same(f.first, k)) return &f.second;
    return nullptr;
  }
  [[nodiscard]] auto begin() const { return v_.begin(); }
  [[nodiscard]] auto end() const { return v_.end(); }
  void reserve(std::size_t n) { v_.reserve(n); }
  // Why the header_provider gave nothing (it threw); apply_auth, which every request calls
  // after headers_for, fails the request with it.
  std::string provider_failure;

 private:
  static bool same(std::string_view a, std::string_view b) { return iequals(a, b); }
  std::vector<Field> v_;
};

// A response's header fields as received, duplicates kept (only copied for a 401/403).
struct ResponseFields {
  std::vector<std::pair<std::string, std::string>> v;
  // The first value of the field `name` (ASCII case-insensitive), or null.
  [[nodiscard]] const std::string* first(std::string_view name) const {
    for (const auto& [k, value] : v)
      if (iequals(k, name)) return &value;
    return nullptr;
  }
};

// What a user callback that threw said (called inside a catch block).
std::string thrown_text() {
  try {
    throw;
  } catch (const std::exception& e) {
    return e.what();
  } catch (...) {
    return "an exception that is not a std::exception";
  }
}

ResponseFields all_fields(const http1::Head& h) {
  ResponseFields all;
  all.v.reserve(h.fields.size());
  for (const auto& [k, v] : h.fields) all.v.emplace_back(std::string(k), std::string(v));
  return all;
}

// One HTTP exchange in flight on its own thread: a request's POST (and its resumption),
// the GET stream of a stateful session, or the 2024-11-05 SSE stream. `stop()` aborts it from any thread.
struct Flight {
  json id;  // the JSON-RPC id of the request (null for streams)
  std::mutex m;
  http1::Connection* conn = nullptr;
  std::atomic<bool> aborted{false};
  std::atomic<bool> done{false};
  std::stop_source cancel;  // tells an auth provider working for this flight to give up
  // On the caller's thread (SendOptions::on_caller_thread) nobody aborts the flight at the
  // request's deadline: it gives up by itself then, reporting nothing (the caller's wait does).
  bool here = false;
  Transport::Clock::time_point deadline = Transport::Clock::time_point::max();
  bool expired() const { return here && Transport::Clock::now() >= deadline; }
  std::function<void(int)> on_status;  // told each response's status as it arrives
  bool over() const { return aborted || expired(); }
  std::function<void()> wake;  // wakes the transport's waits for a connection
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

enum class Mode { streamable, sse };

// A stream (GET) must have its response head within the connect timeout and this.
constexpr auto kStreamHeadWait = std::chrono::seconds(10);
// The DELETE that ends a session takes at most this (or the connect timeout if shorter).
constexpr auto kDeleteWait = std::chrono::seconds(2);

// A request head for the lean client; `body` null: none (no Content-Length).
std::string request_head(std::string_view method, const Url& url, const Fields& headers,
                         const std::string& host_header, const std::string* body) {
  std::string head;
  head.reserve(512);
  head += method;
  head += ' ';
  head += url.target;
  head += " HTTP/1.1\r\n";
  if (!headers.find("Host")) {
    head += "Host: ";
    head += host_header;
    head += "\r\n";
  }
  if (!headers.find("User-Agent")) head += "User-Agent: mcp-cpp\r\n";
  for (const auto& [k, v] : headers) {
    head += k;
    head += ": ";
    head += v;
    head += "\r\n";
  }
  if (body) {
    head += "Content-Type: application/json\r\nContent-Length: ";
    char length[24];
    head.append(length, std::to_chars(length, length + sizeof length, body->size()).ptr);
    head += "\r\n";
  }
  head += "\r\n";
  return head;
}

// The transport whose flight the current thread is running (close() from a callback must
// not wait for its own flight).
thread_local const void* tl_flight_owner = nullptr;

// Threads for flights, shared by every HTTP transport in the process. A thread per request,
// created and torn down each time, cost more client CPU than the whole exchange; this keeps
// up to kMaxIdle finished threads waiting for the next flight, each for kIdleFor at most.
// Busy threads are not capped: a flight may be a stream that lasts as long as its
// connection, so a task never waits for another to finish; it gets an idle thread or a new one.
class FlightPool {
 public:
  static FlightPool& instance() {
    static auto* pool = new FlightPool;  // never destroyed: idle workers may outlive main()
    return *pool;
  }
  void run(std::function<void()> task) {
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
    std::unique_lock lk(m_);
    for (;;) {
      if (tasks_.empty()) {
        if (idle_ >= kMaxIdle) return;
        ++idle_;
        const bool got = cv_.wait_for(lk, kIdleFor, [&] { return !tasks_.empty(); });
        --idle_;
        if (!got) return;
      }
      auto task = std::move(tasks_.front());
      tasks_.pop_front();
      lk.unlock();
      task();
      task = nullptr;  // its captures go now, not when the next task replaces it
      lk.lock();
    }
  }
  std::mutex m_;
  std::condition_variable cv_;
  std::deque<std::function<void()>> tasks_;
  std::size_t idle_ = 0;  // workers blocked in cv_.wait_for
};

}  // namespace

std::size_t idle_flight_threads() { return FlightPool::instance().idle(); }

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

namespace {

class HttpTransport final : public Transport {
 public:
  HttpTransport(std::string name, HttpServerConfig cfg, bool server_stream)
      : name_(std::move(name)), cfg_(std::move(cfg)), server_stream_(server_stream) {}
  ~HttpTransport() override { close(); }

  Result<void> start(Callbacks cb) override;
  Result<void> send(const json& message, Clock::time_point deadline, const SendOptions& options) override;
  void close() override;
  bool is_open() const override { return open_.load(); }
  void set_protocol_version(const std::string& v) override {
    std::lock_guard lk(mutex_);
    protocol_version_ = v;
    stateful_ = true;
  }

 private:
  Error too_deep_to_send() const {
    return err(Errc::invalid_message, too_deep_to_send_text());
  }
  Error err(Errc c, std::string msg) const { return server_error(c, std::move(msg), name_); }
  Error session_expired() const {
    Error e = err(Errc::session_expired, "the server no longer knows our session (HTTP 404)");
    e.http_status = 404;
    return e;
  }
  // A new connection to u's origin (TLS for https).
  std::unique_ptr<http1::Connection> connect_to(const Url& u) const {
    return std::make_unique<http1::Connection>(u.host, u.port, cfg_.connect_timeout,
                                               u.scheme == "https" ? tls_ : nullptr);
  }
  std::unique_ptr<http1::Connection> acquire_lean(const Url& u, bool* reused);
  // u.origin(), without building the string for the server's own URL (every call's case).
  std::string origin_of(const Url& u) const {
    if (u.port == url_.port && u.host == url_.host && u.scheme == url_.scheme) return origin_;
    return u.origin();
  }
  // An exchange through the lean HTTP/1.1 client (http or https): the stale kept-alive retry, the
  // connection back to the pool, `f` (if any) able to stop it. A redirect is handed on as any
  // response is (see redirect_target).
  http1::Outcome post_lean(Flight* f, const Url& url, const std::string& body,
                                          const Fields& headers, std::chrono::microseconds read_timeout,
                                          const std::function<bool(const http1::Head&)>& on_head,
                                          const http1::ResponseParser::OnData& on_data,
                                          std::string_view method = "POST",
                                          std::chrono::microseconds head_timeout = std::chrono::microseconds::max());
  void release_lean(const Url& u, std::unique_ptr<http1::Connection> c);
  // The headers of a request: configured, provided, session facts, then the message's own.
  Fields headers_for(bool stream, const SendOptions* options = nullptr);
  void deliver(json&& msg);
  // Parses and delivers one message (or batch); false if it is not JSON (reported as a
  // diagnostic when `diagnose`).
  bool deliver_text(const std::string& data, const json& our_id, bool& got_response, bool diagnose = true,
                    JsonRefusal* refused = nullptr);
  void start_flight(json id, std::function<void(Flight&)> body);
  // A flight registered with the transport (close() stops it and waits for it), and running
  // one's body on the current thread until it is unregistered.
  std::shared_ptr<Flight> new_flight(json id);
  void run_flight(const std::shared_ptr<Flight>& f, const std::function<void(Flight&)>& body);
  // The same, on the calling thread, giving up at `deadline` or when `stop` is requested.
  void run_here(const json& id, const std::stop_token& stop, Clock::time_point deadline,
                const std::function<void(Flight&)>& body);
  void reap_flights(bool all);
  Error status_error(int status, const std::string& body, const ResponseFields& headers) const;
  // Puts the auth provider's `Authorization` into `h` (none without a provider).
  Result<void> apply_auth(Fields& h, const char* method, const Url& url, Clock::time_point deadline);
  // After a 401/403: asks the provider; true = resend with fresh credentials. `id` (a request's
  // JSON-RPC id, or null for streams) is held meanwhile, so a sign-in does not time it out.
  Result<bool> challenge(int status, const ResponseFields& response, const Fields& sent, int attempt,
                         Clock::time_point deadline, Flight* f, const json& id = json());

  // A request that opens a session, kept: the HTTP+SSE fallback sends it again.
  struct Opening {
    json message;
    SendOptions options;
  };
  // One request's POST. `body` and `headers` were made on the caller's thread; `opening` only
  // for a request that opens a session.
  void run_request(Flight& f, const json& id, const std::string& body, Fields& headers,
                   const Opening* opening, Clock::time_point deadline);
  bool stream_events(Flight& f, const Url& url, const std::string& method, const std::string& body,
                     const Fields& headers, SseParser& parser, const json& our_id, bool& got_response,
                     int& status, std::string& error_body, std::string& content_type,
                     ResponseFields* response_headers = nullptr);
  // One exchange of stream_events; a redirect's Location goes to `location` (body dropped).
  bool stream_once(Flight& f, const Url& url, const std::string& method, const std::string& body,
                   const Fields& headers, SseParser& parser, const json& our_id, bool& got_response,
                   int& status, std::string& error_body, std::string& content_type,
                   ResponseFields* response_headers, std::string& location);
  // Where a redirect (status 301, 302, 307, 308 with `location`, the `hops`-th) from `from`
  // leads, if we follow it: only to the same origin (scheme, host, port), at most
  // kMaxRedirects times, and never with an auth provider. Headers we were configured with,
  // the session id and credentials are never sent to another origin: that is an error.
  Result<Url> redirect_target(const Url& from, int status, const std::string& location, int hops) const;
  bool resume(Flight& f, const json& our_id, SseParser& parser, bool& got_response);
  void run_get_stream(Flight& f);
  Result<void> open_sse(Clock::time_point deadline);
  void run_sse_stream(Flight& f);
  Result<void> post_sync(const Url& url, const json& msg, const SendOptions& options, Clock::time_point deadline,
                         bool expect_session_ok);
  void end_session();  // the DELETE that ends a stateful session
  // A connection to the server, one of at most cfg_.max_connections at once (requests beyond
  // wait their turn, first come first served): false if `f` stopped, `deadline` passed or the
  // transport closed first. give_slot() hands it to the next in line.
  bool take_slot(const Flight* f, Clock::time_point deadline);
  void give_slot();
  void wake_slot_waiters();

  std::string name_;
  HttpServerConfig cfg_;
  bool server_stream_;  // open the GET stream once a session is ready (someone listens to what it carries)
  Callbacks cb_;
  Url url_;
  std::string origin_;  // url_.origin()
  std::shared_ptr<const http1::TlsContext> tls_;  // https: what its connections trust
  std::atomic<bool> open_{false};
  std::atomic<bool> closing_{false};
  std::stop_source closing_stop_;  // requested by close(): auth providers give up

  std::mutex mutex_;  // guards the state below
  Mode mode_ = Mode::streamable;
  bool stateful_ = false;          // a session was opened: session id, GET stream, DELETE
  std::string session_id_;
  std::string protocol_version_;   // the session's: sent as MCP-Protocol-Version once agreed
  std::optional<Url> endpoint_;    // 2024-11-05: where messages are POSTed
  std::condition_variable endpoint_cv_;
  bool sse_stream_ended_ = false;
  std::optional<Error> sse_error_;  // why the SSE stream could not open (401/403, auth failure)
  bool get_stream_started_ = false;
  bool get_stream_settled_ = false;  // the GET stream was answered (or gave up)
  std::condition_variable get_stream_cv_;
  std::list<std::shared_ptr<Flight>> flights_;
  std::size_t active_flights_ = 0;
  std::condition_variable flights_cv_;
  std::map<std::string, std::vector<std::unique_ptr<http1::Connection>>> idle_lean_;

  struct SlotWaiter {
    std::condition_variable cv;
    bool granted = false;
  };
  std::mutex slot_mutex_;  // after mutex_ when both are held
  std::size_t busy_ = 0;   // slots taken
  std::list<SlotWaiter*> slot_queue_;

  std::mutex deliver_mutex_;  // callbacks run one at a time
  std::mutex close_mutex_;
  bool closed_ = false;
};

std::unique_ptr<http1::Connection> HttpTransport::acquire_lean(const Url& u, bool* reused) {
  {
    std::lock_guard lk(mutex_);
    auto it = idle_lean_.find(origin_of(u));
    if (it != idle_lean_.end() && !it->second.empty()) {
      auto c = std::move(it->second.back());
      it->second.pop_back();
      *reused = true;
      return c;
    }
  }
  *reused = false;
  return connect_to(u);
}

void HttpTransport::release_lean(const Url& u, std::unique_ptr<http1::Connection> c) {
  std::lock_guard lk(mutex_);
  if (closing_) return;
  auto& v = idle_lean_[origin_of(u)];
  // Keep-alive reuse, bounded. Enough for typical concurrency: a small pool made a burst of
  // parallel calls open (and close) a connection each, overflowing servers' listen queues.
  if (v.size() < 64) v.push_back(std::move(c));
}

Fields HttpTransport::headers_for(bool stream, const SendOptions* options) {
  Fields h;
  // ours: at most Accept, session, version, and the message's own
  h.reserve(cfg_.headers.size() + 3 + (options ? options->headers.size() : 0));
  auto put = [&](std::string_view k, std::string v) { h.set(k, std::move(v)); };
  for (const auto& [k, v] : cfg_.headers) put(k, v);
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
      if (header_safe(k) && header_safe(v)) put(k, v);
      else if (cb_.on_diagnostic) cb_.on_diagnostic("header_provider returned a header with CR/LF; dropped: " + k);
    }
  }
  put("Accept", stream ? "text/event-stream" : "application/json, text/event-stream");
  {
    std::lock_guard lk(mutex_);
    if (!session_id_.empty()) put("Mcp-Session-Id", session_id_);
    if (!protocol_version_.empty()) put("MCP-Protocol-Version", protocol_version_);
  }
  // The message's own, from the session: they win over the session's (a version of its own).
  if (options)
    for (const auto& [k, v] : options->headers) put(k, v);
  return h;
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
  auto j = parse_json(data, &why, max_values);
  if (j.is_discarded()) {
    if (refused) *refused = why;
    if (diagnose && cb_.on_diagnostic) {
      if (why == JsonRefusal::malformed) cb_.on_diagnostic("non-JSON SSE event ignored: " + data.substr(0, 200));
      else cb_.on_diagnostic("an SSE event " + describe(why, max_values) + ", ignored: " + data.substr(0, 200));
    }
    // An event that is certainly a reply, unreadable: its request fails now, not when the
    // stream ends or at its timeout. On a POST's stream, only that POST's reply; on a stream
    // for everything (legacy HTTP+SSE), the reply to any request.
    if (diagnose && !got_response && cb_.on_request_failed && (our_id.is_null() || our_id.is_number_integer())) {
      const auto id = response_id(data);
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

bool HttpTransport::take_slot(const Flight* f, Clock::time_point deadline) {
  const std::size_t cap = std::max<std::size_t>(1, cfg_.max_connections);
  std::unique_lock lk(slot_mutex_);
  if (busy_ < cap && slot_queue_.empty()) {
    ++busy_;
    return true;
  }
  SlotWaiter me;
  const auto it = slot_queue_.insert(slot_queue_.end(), &me);
  auto gave_up = [&] { return closing_ || (f && f->over()) || Clock::now() >= deadline; };
  while (!me.granted && !gave_up()) {
    if (deadline == Clock::time_point::max()) me.cv.wait(lk);
    else me.cv.wait_until(lk, deadline);
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
  std::lock_guard lk(slot_mutex_);
  if (slot_queue_.empty()) {
    --busy_;
    return;
  }
  SlotWaiter* next = slot_queue_.front();
  slot_queue_.pop_front();
  next->granted = true;  // busy_ unchanged: the slot changes hands
  next->cv.notify_one();
}

void HttpTransport::wake_slot_waiters() {
  std::lock_guard lk(slot_mutex_);
  for (SlotWaiter* w : slot_queue_) w->cv.notify_one();
}

std::shared_ptr<Flight> HttpTransport::new_flight(json id) {
  auto f = std::make_shared<Flight>();
  f->id = std::move(id);
  f->wake = [this] { wake_slot_waiters(); };
  std::lock_guard lk(mutex_);
  flights_.push_back(f);  // close() stops every flight, and waits for it through active_flights_
  ++active_flights_;
  return f;
}

void HttpTransport::run_flight(const std::shared_ptr<Flight>& f, const std::function<void(Flight&)>& body) {
  const void* outer = tl_flight_owner;
  tl_flight_owner = this;
  body(*f);
  f->done = true;
  {
    // The last thing a flight touches of the transport: close() may destroy it right after.
    std::lock_guard lk(mutex_);
    flights_.remove(f);
    --active_flights_;
    flights_cv_.notify_all();
  }
  tl_flight_owner = outer;
}

void HttpTransport::start_flight(json id, std::function<void(Flight&)> body) {
  FlightPool::instance().run(
      [this, f = new_flight(std::move(id)), body = std::move(body)] { run_flight(f, body); });
}

void HttpTransport::run_here(const json& id, const std::stop_token& stop, Clock::time_point deadline,
                             const std::function<void(Flight&)>& body) {
  auto f = new_flight(id);
  f->here = true;
  f->deadline = deadline;
  std::stop_callback on_stop(stop, [&f] { f->stop(); });
  run_flight(f, body);
}

void HttpTransport::reap_flights(bool all) {
  if (!all) return;
  std::unique_lock lk(mutex_);
  for (auto& f : flights_) f->stop();
  const std::size_t self = tl_flight_owner == this ? 1 : 0;
  flights_cv_.wait(lk, [&] { return active_flights_ <= self; });
}

Error HttpTransport::status_error(int status, const std::string& body, const ResponseFields& headers) const {
  if (status == 401 || status == 403) {
    Error e = err(Errc::unauthorized, "HTTP " + std::to_string(status) + " from " + url_.origin() +
                                          (status == 401 ? ": authentication required" : ": forbidden"));
    json data{{"status", status}};
    if (const auto* v = headers.first("WWW-Authenticate")) data["www_authenticate"] = *v;
    e.data = std::move(data);
    e.http_status = status;
    return e;
  }
  Error e = err(Errc::http_error, "HTTP " + std::to_string(status) + " from " + url_.shown());
  e.data = json{{"status", status}, {"body", body.substr(0, 512)}};
  e.http_status = status;
  return e;
}

Result<void> HttpTransport::apply_auth(Fields& h, const char* method, const Url& url,
                                       Clock::time_point deadline) {
  if (!h.provider_failure.empty()) return fail(err(Errc::unauthorized, h.provider_failure));
  if (!cfg_.auth) return {};
  AuthRequestInfo request;
  request.server_url = cfg_.url;
  request.method = method;
  // The configured URL as written (a DPoP proof names it), or where the request really goes.
  request.url = url.origin() == url_.origin() && url.target == url_.target ? cfg_.url.substr(0, cfg_.url.find('#'))
                                                                           : url.str();
  Result<AuthHeaders> headers = AuthHeaders{};
  try {
    headers = cfg_.auth->request_headers(request, deadline);
  } catch (...) {
    return fail(err(Errc::unauthorized, "the auth provider threw: " + thrown_text()));
  }
  if (!headers) return fail(tagged(headers.error(), name_));
  h.erase("Authorization");  // a resend carries fresh credentials only
  h.erase("DPoP");
  for (const auto& [k, v] : *headers)
    if (k.empty() || !header_safe(k) || !header_safe(v))
      return fail(err(Errc::unauthorized, "the auth provider returned a header with CR, LF or NUL"));
  for (auto& [k, v] : *headers) h.set(k, std::move(v));
  return {};
}

Result<bool> HttpTransport::challenge(int status, const ResponseFields& response, const Fields& sent,
                                      int attempt, Clock::time_point deadline, Flight* f,
                                      const json& id) {
  constexpr int kMaxAuthAttempts = 6;
  if (!cfg_.auth || (status != 401 && status != 403) || attempt > kMaxAuthAttempts || closing_) return false;
  AuthChallengeInfo info;
  info.status = status;
  info.server_url = cfg_.url;
  info.attempt = attempt;
  info.stop = f ? f->cancel.get_token() : closing_stop_.get_token();
  for (const auto& [k, v] : response.v)
    if (iequals(k, "WWW-Authenticate")) info.www_authenticate += (info.www_authenticate.empty() ? "" : ", ") + v;
  if (const auto* a = sent.find("Authorization")) info.rejected_authorization = *a;
  if (const auto* n = response.first("DPoP-Nonce")) info.dpop_nonce = *n;
  // An authorization may need a person: the request's own timeout is suspended meanwhile
  // (held), and the provider gets at least kAuthWindow; its own timeouts bound the rest.
  constexpr auto kAuthWindow = std::chrono::minutes(10);
  if (!id.is_null() && cb_.on_request_held) cb_.on_request_held(id, true);
  const auto held_since = Clock::now();
  Result<bool> r = false;
  try {
    r = cfg_.auth->on_challenge(info, std::max(deadline, held_since + kAuthWindow));
  } catch (...) {
    r = fail(err(Errc::unauthorized, "the auth provider threw: " + thrown_text()));
  }
  if (f && f->here) f->deadline += Clock::now() - held_since;  // as the caller's wait counts it
  if (!id.is_null() && cb_.on_request_held) cb_.on_request_held(id, false);
  if (!r) {
    return fail(tagged(r.error(), name_));
  }
  return *r && !closing_;
}

Result<void> HttpTransport::start(Callbacks cb) {
  cb_ = std::move(cb);
  auto u = check_http_config(cfg_);
  if (!u) return fail(err(Errc::invalid_config, u.error().message));
  url_ = *u;
  origin_ = url_.origin();
  // Redirects and the HTTP+SSE endpoint stay on this origin: one scheme for every exchange.
  if (url_.scheme == "https") tls_ = std::make_shared<http1::TlsContext>(cfg_.verify_tls, cfg_.ca_file, cfg_.ca_dir);
  const std::string path = url_.target.substr(0, url_.target.find('?'));
  const bool sse_path = path.size() >= 4 && path.compare(path.size() - 4, 4, "/sse") == 0;
  if (cfg_.transport == HttpTransportKind::sse ||
      (cfg_.transport == HttpTransportKind::automatic && sse_path)) {
    mode_ = Mode::sse;
    open_ = true;
    auto r = open_sse(Clock::now() + cfg_.connect_timeout + 10s);
    if (!r) {
      open_ = false;
      reap_flights(true);
      return r;
    }
    return {};
  }
  open_ = true;
  return {};
}

Result<void> HttpTransport::send(const json& message, Clock::time_point deadline, const SendOptions& options) {
  if (closing_ || !open_) return fail(err(Errc::connection_closed, "connection to " + url_.origin() + " is closed"));
  reap_flights(false);
  const bool is_request = message.contains("id") && message.contains("method");
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
    {
      std::lock_guard lk(mutex_);
      for (auto& f : flights_)
        if (f->id == options.cancels) f->stop();
    }
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
    // Serialised and given its headers here, so that the flight needs no copy of the tree.
    auto headers = headers_for(false, &options);
    std::optional<Opening> opening;
    if (options.opens_session) opening = Opening{message, options};
    std::string body;
    body.reserve(512);  // one allocation for a typical request, not one per doubling
    if (!append_json(body, message)) return fail(too_deep_to_send());
    if (options.on_caller_thread && !opening) {
      // No hand-off to a flight thread and back: two wake-ups and context switches per call.
      run_here(message["id"], options.stop, deadline,
               [&](Flight& f) { run_request(f, f.id, body, headers, nullptr, deadline); });
      return {};
    }
    start_flight(message["id"], [this, body = std::move(body), headers = std::move(headers),
                                 opening = std::move(opening), deadline](Flight& f) mutable {
      run_request(f, f.id, body, headers, opening ? &*opening : nullptr, deadline);
    });
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
  auto post_once = [&]() -> Result<Response> {
    Url at = url;
    for (int hops = 0;; ++hops) {
      Response r;
      std::string location;
      // The whole exchange (a wait for a free connection came out of it).
      const auto read_timeout = std::max<std::chrono::microseconds>(
          100ms, std::chrono::duration_cast<std::chrono::microseconds>(deadline - Clock::now()));
      auto out = post_lean(
          nullptr, at, body, headers, read_timeout,
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
  for (int attempt = 1;; ++attempt) {
    if (auto a = apply_auth(headers, "POST", url, deadline); !a) return a;
    const bool counted = !options.uncounted;
    if (counted && !take_slot(nullptr, deadline))
      return fail(closing_ ? err(Errc::connection_closed, "connection to " + url_.origin() + " is closed")
                           : err(Errc::timeout, "POST " + url.str() + ": no connection free within the timeout"));
    auto sent = post_once();
    if (counted) give_slot();
    if (!sent) return fail(sent.error());
    res = std::move(*sent);
    auto again = challenge(res.status, res.fields, headers, attempt, deadline, nullptr,
                           msg.contains("method") && msg.contains("id") ? msg["id"] : json());
    if (!again) return fail(again.error());
    if (!*again) break;
  }
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

http1::Outcome HttpTransport::post_lean(Flight* f, const Url& url, const std::string& body,
                                                       const Fields& headers,
                                                       std::chrono::microseconds read_timeout,
                                                       const std::function<bool(const http1::Head&)>& on_head,
                                                       const http1::ResponseParser::OnData& on_data,
                                                       std::string_view method,
                                                       std::chrono::microseconds head_timeout) {
  if (!target_ok(url.target)) {  // parse_url and resolve_url made sure; nothing may split the request line
    http1::Outcome bad;
    bad.failure = http1::Failure::protocol;
    bad.detail = "request target with characters RFC 3986 does not allow";
    return bad;
  }
  const bool post = method == "POST";  // else a GET stream: no body, no coalescing
  bool reused = false;
  auto conn = acquire_lean(url, &reused);
  const std::string head = request_head(method, url, headers, conn->host_header(), post ? &body : nullptr);
  auto over = [f] { return f && f->over(); };
  http1::Outcome out;
  for (int attempt = 0; attempt < 2; ++attempt) {
    if (f) {
      std::lock_guard lk(f->m);
      f->conn = conn.get();
    }
    if (!over())
      out = conn->exchange(head, post ? std::string_view(body) : std::string_view(), false, read_timeout, on_head,
                           on_data, f != nullptr && post, head_timeout);
    else out.failure = http1::Failure::stopped;
    if (f) {
      std::lock_guard lk(f->m);
      f->conn = nullptr;
    }
    if (!out.ok() && reused && !out.response_started && !over() &&
        (out.failure == http1::Failure::read || out.failure == http1::Failure::write)) {
      // A kept-alive connection the server had already closed: no response came back, so
      // the request is sent once more on a fresh connection (as browsers and curl do).
      conn = connect_to(url);
      reused = false;
      continue;
    }
    break;
  }
  if (out.ok() && conn->reusable()) release_lean(url, std::move(conn));
  return out;
}

Result<Url> HttpTransport::redirect_target(const Url& from, int status, const std::string& location,
                                           int hops) const {
  constexpr int kMaxRedirects = 10;
  const std::string what = "HTTP " + std::to_string(status) + " redirect from " + from.origin();
  auto refuse = [&](std::string why, const std::string& to_origin) {
    Error e = err(Errc::http_error, what + " " + why);
    e.data = json{{"status", status}};
    e.http_status = status;
    if (!to_origin.empty()) e.data["location_origin"] = to_origin;
    return fail(std::move(e));
  };
  auto to = resolve_url(from, location);
  if (!to) return refuse("not followed: its Location is not a usable http(s) URL", "");
  if (to->origin() != from.origin())
    return refuse("to another origin, " + to->origin() +
                      ", refused: the configured headers, credentials and session id go to " + from.origin() + " only",
                  to->origin());
  if (cfg_.auth) return refuse("not followed: with an auth provider, redirects are not followed", "");
  if (hops >= kMaxRedirects) return refuse("not followed: more than " + std::to_string(kMaxRedirects) + " redirects", "");
  return *to;
}

bool HttpTransport::stream_events(Flight& f, const Url& url, const std::string& method, const std::string& body,
                                  const Fields& headers, SseParser& parser, const json& our_id,
                                  bool& got_response, int& status, std::string& error_body,
                                  std::string& content_type, ResponseFields* response_headers) {
  Url at = url;
  for (int hops = 0;; ++hops) {
    std::string location;
    const bool ok = stream_once(f, at, method, body, headers, parser, our_id, got_response, status, error_body,
                                content_type, response_headers, location);
    if (location.empty() || f.over()) return ok;
    auto next = redirect_target(at, status, location, hops);
    if (!next) {
      if (!our_id.is_null() && cb_.on_request_failed) {
        cb_.on_request_failed(our_id, next.error());
        got_response = true;
      } else if (cb_.on_diagnostic) {
        cb_.on_diagnostic(next.error().message);
      }
      return false;  // `status` says it was a redirect
    }
    at = std::move(*next);
    parser.reset();
    error_body.clear();
    content_type.clear();
  }
}

bool HttpTransport::stream_once(Flight& f, const Url& url, const std::string& method, const std::string& body,
                                const Fields& headers, SseParser& parser, const json& our_id,
                                bool& got_response, int& status, std::string& error_body,
                                std::string& content_type, ResponseFields* response_headers,
                                std::string& location) {
  if (f.over()) return false;
  // Requests (POST) share the connections to the server; a stream (GET) has its own.
  const bool counted = method == "POST";
  if (counted && !take_slot(&f, f.here ? f.deadline : Clock::time_point::max())) return false;
  struct Give {
    HttpTransport* t;
    bool on;
    ~Give() {
      if (on) t->give_slot();
    }
  } give{this, counted};
  bool is_sse = false;
  bool too_large = false;
  std::string json_body;
  // The response's status and fields.
  auto on_head = [&](const http1::Head& h) {
    status = h.status;
    if (redirect_status(status)) {
      location = h.get("Location");
      if (!location.empty()) return !f.over();  // its body is dropped; stream_events decides
    }
    if (f.on_status) f.on_status(status);
    content_type = h.get("Content-Type");
    // Only a 401/403 looks at them (challenge, status_error): not copied for every reply.
    if (response_headers && (status == 401 || status == 403)) *response_headers = all_fields(h);
    is_sse = status >= 200 && status < 300 && content_type.find("text/event-stream") != std::string::npos;
    if (status >= 200 && status < 300) {
      const std::string_view sid = h.get("Mcp-Session-Id");
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
        else if (cb_.on_diagnostic) cb_.on_diagnostic("SSE event of type '" + ev.event + "' ignored");
      });
      if (!ok) too_large = true;
      return ok;
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
    // (on_head by reference: a std::function of the lambda itself would allocate per call)
    auto out = post_lean(&f, url, body, headers, read_timeout(),
                         [&on_head](const http1::Head& h) { return on_head(h); }, on_content, method,
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
      cb_.on_request_failed(our_id, err(Errc::connection_failed, method + " " + url.shown() + ": " + failure));
      got_response = true;
    }
    return false;  // aborted, or the stream broke mid-way (status != 0)
  }
  if (is_sse) parser.finish();
  JsonRefusal refused = JsonRefusal::malformed;
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
  int status = 0;
  std::string error_body, content_type;
  const bool had_session = headers.find("Mcp-Session-Id") != nullptr;  // as sent
  ResponseFields response_headers;
  auto failed = [&](const Error& e) {
    // Once stopped or past its deadline the waiting caller reports why, not us.
    if (!f.over() && cb_.on_request_failed) cb_.on_request_failed(id, e);
  };
  for (int attempt = 1;; ++attempt) {
    if (auto a = apply_auth(headers, "POST", url_, deadline); !a) return failed(a.error());
    status = 0;
    error_body.clear();
    stream_events(f, url_, "POST", body, headers, parser, id, got_response, status, error_body, content_type,
                  &response_headers);
    if (f.over() || closing_ || got_response) return;
    auto again = challenge(status, response_headers, headers, attempt, deadline, &f, id);
    if (!again) return failed(again.error());
    if (!*again) break;
    parser.reset();
  }
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
    auto j = parse_json(error_body);
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
    }
    auto posted = post_sync(target, opening->message, opening->options, Clock::now() + 30s, false);
    if (!posted) failed(posted.error());
    return;
  }
  failed(status_error(status, error_body, response_headers));
}

bool HttpTransport::resume(Flight& f, const json& our_id, SseParser& parser, bool& got_response) {
  Backoff backoff(parser.retry().value_or(1000ms), cfg_.max_reconnect_delay);
  for (int attempt = 0; attempt < cfg_.max_reconnect_attempts && !f.over() && !closing_ && !got_response; ++attempt) {
    if (!backoff.sleep([&] { return f.over() || closing_; }, 10ms)) return true;
    auto headers = headers_for(true);
    headers.set("Last-Event-ID", parser.last_event_id());
    if (!apply_auth(headers, "GET", url_, Clock::now() + cfg_.connect_timeout + 30s)) return false;
    parser.reset();
    int status = 0;
    std::string error_body, content_type;
    stream_events(f, url_, "GET", "", headers, parser, our_id, got_response, status, error_body, content_type);
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
  int auth_attempts = 0;
  while (!f.aborted && !closing_ && failures < cfg_.max_reconnect_attempts) {
    auto headers = headers_for(true);
    if (!parser.last_event_id().empty()) headers.set("Last-Event-ID", parser.last_event_id());
    const auto auth_deadline = Clock::now() + cfg_.connect_timeout + 30s;
    if (!apply_auth(headers, "GET", url_, auth_deadline)) return;
    parser.reset();
    int status = 0;
    bool ignored = false;
    std::string error_body, content_type;
    ResponseFields response_headers;
    const auto began = Clock::now();
    stream_events(f, url_, "GET", "", headers, parser, json(), ignored, status, error_body, content_type,
                  &response_headers);
    if (f.aborted || closing_) return;
    if (status == 401 || status == 403) {
      auto again = challenge(status, response_headers, headers, ++auth_attempts, auth_deadline, &f);
      if (again && *again) continue;
      return;
    }
    if (status == 405 || status == 404 || status == 401 || status == 403 || (status >= 300 && status < 400) ||
        (status >= 200 && status < 300 && content_type.find("text/event-stream") == std::string::npos)) {
      return;
    }
    failures = (Clock::now() - began > 5s) ? 0 : failures + 1;  // a long-lived stream resets the count
    if (parser.retry()) backoff.set(*parser.retry());
    (void)backoff.sleep([&] { return f.aborted || closing_; }, 20ms);
    backoff.grow();
  }
}

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
  for (int attempt = 1; !f.aborted && !closing_; ++attempt) {
    auto a = apply_auth(fields, "GET", url_, auth_deadline);
    if (!a) {
      std::lock_guard lk(mutex_);
      sse_error_ = a.error();
      break;
    }
    status = 0;
    location.clear();
    // The lean client, for its bounds on the response head (see stream_events); the head
    // must come in time, the stream then lasts as long as the server keeps it.
    auto out = post_lean(&f, at, std::string(), fields, 24h, on_head, on_content, "GET",
                         std::chrono::microseconds(cfg_.connect_timeout + kStreamHeadWait));
    failure = out.ok() ? std::string() : http1::describe(out);
    if (!location.empty() && !f.aborted) {
      auto next = redirect_target(at, status, location, hops++);
      if (!next) {
        std::lock_guard lk(mutex_);
        sse_error_ = next.error();
        break;
      }
      at = std::move(*next);  // same origin
      --attempt;  // not an authentication attempt
      continue;
    }
    auto again = challenge(status, response_headers, fields, attempt, auth_deadline, &f);
    if (again && *again) continue;
    std::lock_guard lk(mutex_);
    if (!again) sse_error_ = again.error();
    else if (status == 401 || status == 403) sse_error_ = status_error(status, "", response_headers);
    break;
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
  const auto head = request_head("DELETE", url_, headers, conn->host_header(), nullptr);
  (void)conn->exchange(head, {}, false, left, [](const http1::Head&) { return false; }, nullptr);
}

void HttpTransport::close() {
  std::lock_guard close_lk(close_mutex_);
  if (closed_) return;
  closed_ = true;
  std::string sid;
  bool stateful;
  {
    std::lock_guard lk(mutex_);
    sid = session_id_;
    stateful = stateful_;
  }
  // Stop every stream first, then tell the server the session is over.
  {
    std::lock_guard lk(deliver_mutex_);
    closing_ = true;
  }
  closing_stop_.request_stop();
  open_ = false;
  wake_slot_waiters();
  reap_flights(true);
  if (stateful && !sid.empty()) end_session();
  std::lock_guard lk(mutex_);
  idle_lean_.clear();
  endpoint_cv_.notify_all();
  get_stream_cv_.notify_all();
}

}  // namespace

std::unique_ptr<Transport> make_http_transport(std::string server_name, HttpServerConfig config,
                                               bool server_stream) {
  return std::make_unique<HttpTransport>(std::move(server_name), std::move(config), server_stream);
}

}  // namespace mcp::detail
