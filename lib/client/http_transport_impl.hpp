// SPDX-License-Identifier: MIT
#pragma once
// The HTTP transport's class and the pieces its files share (request and response header
// fields, the shape of one exchange). Internal to lib/client/http_*.cpp.
#include "http_flights.hpp"
#include "http_transport.hpp"
#include "lent.hpp"

#include "../http1.hpp"
#include "../protocol/json_read.hpp"
#include "../protocol/sse.hpp"
#include "../server_error.hpp"
#include "../util/ascii.hpp"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <list>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <shared_mutex>
#include <stop_token>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace mcp::detail {

using nlohmann::json;
using Clock = Transport::Clock;

// No CR, LF or NUL: a header name or value that cannot split the request.
bool header_safe(const std::string& v);
// The redirects redirect_target may follow (a 303 turns the request into a GET: not followed).
inline bool redirect_status(int status) { return status == 301 || status == 302 || status == 307 || status == 308; }
// What a user callback that threw said (called inside a catch block).
std::string thrown_text();

// The header fields of a request we send, in order, their names unique ignoring ASCII case.
// A few entries: a vector, not a multimap (whose case-insensitive compares and node
// allocations were a measurable part of every call). Names and values are views: of text that
// outlives the request (set_ref: the configuration, string literals, the SendOptions of a
// send() that runs the request itself) or of the Fields' own copy (set). A thread reuses its
// Fields from one request to the next (Lent), so a request's fields cost no allocation.
class Fields {
 public:
  struct Field {
    std::string_view first, second;
  };
  // Copies `k` and `v`. A name already there keeps its place (and its spelling): the value changes.
  void set(std::string_view k, std::string_view v) { put(k, v, false); }
  // Borrows `k` and `v`: they outlive every use of these fields (or own() is called first).
  void set_ref(std::string_view k, std::string_view v) { put(k, v, true); }
  void erase(std::string_view k) {
    std::erase_if(v_, [&](const Entry& e) { return iequals(view(e.k), k); });
  }
  [[nodiscard]] std::optional<std::string_view> find(std::string_view k) const {
    for (const auto& e : v_)
      if (iequals(view(e.k), k)) return view(e.v);
    return std::nullopt;
  }
  // Copies whatever is borrowed: these fields may now outlive it (a request queued for later).
  void own() {
    for (auto& e : v_) {
      if (e.k.ptr) e.k = keep(view(e.k));
      if (e.v.ptr) e.v = keep(view(e.v));
    }
  }
  void clear() {
    v_.clear();
    text_.clear();
    provider_failure.clear();
  }
  class Iterator {
   public:
    Iterator(const Fields* f, std::size_t i) : f_(f), i_(i) {}
    Field operator*() const { return {f_->view(f_->v_[i_].k), f_->view(f_->v_[i_].v)}; }
    Iterator& operator++() {
      ++i_;
      return *this;
    }
    bool operator!=(const Iterator& o) const { return i_ != o.i_; }

   private:
    const Fields* f_;
    std::size_t i_;
  };
  [[nodiscard]] Iterator begin() const { return {this, 0}; }
  [[nodiscard]] Iterator end() const { return {this, v_.size()}; }
  void reserve(std::size_t n) { v_.reserve(n); }
  // Frees the copied text if it grew beyond `keep` bytes (cleared first).
  void shed(std::size_t keep) {
    clear();
    if (text_.capacity() > keep) std::string().swap(text_);
  }
  // Why the header_provider gave nothing (it threw); apply_auth, which every request calls
  // after headers_for, fails the request with it.
  std::string provider_failure;

 private:
  // Borrowed text (ptr), or the Fields' own at text_[off] (ptr null): an offset, which the
  // growth of text_ leaves valid.
  struct Text {
    const char* ptr = nullptr;
    std::size_t off = 0, len = 0;
  };
  struct Entry {
    Text k, v;
  };
  [[nodiscard]] std::string_view view(const Text& t) const {
    return t.ptr ? std::string_view(t.ptr, t.len) : std::string_view(text_).substr(t.off, t.len);
  }
  Text keep(std::string_view s) {
    Text t{nullptr, text_.size(), s.size()};
    text_.append(s);
    return t;
  }
  void put(std::string_view k, std::string_view v, bool borrowed) {
    for (auto& e : v_)
      if (iequals(view(e.k), k)) {
        e.v = borrowed ? Text{v.data(), 0, v.size()} : keep(v);
        return;
      }
    if (borrowed) v_.push_back({Text{k.data(), 0, k.size()}, Text{v.data(), 0, v.size()}});
    else {
      const Text kt = keep(k);
      v_.push_back({kt, keep(v)});
    }
  }
  std::vector<Entry> v_;
  std::string text_;  // what set copied
};

// Lent tags: which of the thread's buffers.
struct BodyText : LentText {};   // a request's JSON text
struct HeadText : LentText {};   // a request head
struct ReplyText : LentText {};  // a JSON reply's text
struct RequestFields {           // a request's header fields
  static void shed(Fields& f) { f.shed(kLentKeep); }
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

ResponseFields all_fields(const http1::Head& h);

// What one exchange of a stream (stream_events) saw.
struct Exchange {
  int status = 0;            // the response's status; 0: none came
  std::string error_body;    // the body of a response that is not a success (cut at http1::kMaxBody)
  bool event_stream = false;  // its Content-Type is text/event-stream
  ResponseFields fields;     // a 401/403's header fields (challenge, status_error)
};

enum class Mode { streamable, sse };

// A stream (GET) must have its response head within the connect timeout and this.
constexpr auto kStreamHeadWait = std::chrono::seconds(10);
// The DELETE that ends a session takes at most this (or the connect timeout if shorter).
constexpr auto kDeleteWait = std::chrono::seconds(2);

// A request head for the lean client, in `head`; `body` null: none (no Content-Length).
void request_head(std::string& head, std::string_view method, const Url& url, const Fields& headers,
                  const std::string& host_header, const std::string* body);

class HttpTransport;

// One waiting in line for a slot on its own thread (take_slot), or for a connection attempt
// alone (take_connect).
struct SlotWaiter {
  std::condition_variable cv;
  bool granted = false;
  SlotGrant grant;  // take_slot's (take_connect's waiter gets the attempt alone)
};
// One in line for a slot: a thread waiting in take_slot (`waiter`), or a request's flight
// that has no thread until its turn comes (`flight` and its `body`, run by `owner`).
struct Turn {
  SlotWaiter* waiter = nullptr;
  HttpTransport* owner = nullptr;
  std::shared_ptr<Flight> flight;
  std::function<void(Flight&)> body;
};
// A kept-alive connection waiting for its next exchange, since when.
struct IdleConn {
  std::unique_ptr<http1::Connection> conn;
  Clock::time_point since;
};

// The connections to one origin and the line for them (http_slots.cpp): a transport's own
// (the server's origin), or one of an HttpConnectionShare's (http_share.cpp), used by the
// stateless requests of every transport given that share. At most `cap` exchanges at once
// (slots), each with its connection; at most `connect_cap` connections being opened.
struct OriginSlots {
  OriginSlots(std::size_t max_connections, std::size_t max_connecting, bool is_shared,
              Clock::duration idle_for = Clock::duration::max())
      : cap(std::max<std::size_t>(1, max_connections)),
        connect_cap(std::max<std::size_t>(1, max_connecting)),
        shared(is_shared),
        idle_timeout(idle_for) {}
  const std::size_t cap, connect_cap;
  const bool shared;
  const Clock::duration idle_timeout;  // shared: an idle connection is closed after this
  std::mutex m;  // after HttpTransport::mutex_ when both are held; guards what follows
  std::size_t busy = 0;        // slots taken
  std::size_t connecting = 0;  // connection attempts under way (counted requests')
  std::list<Turn> queue;
  std::list<SlotWaiter*> connect_queue;  // take_connect's, served before `queue`
  // Idle kept-alive connections: a slot hands one over when there is one (the last released
  // first: the others age, and a share closes them). No origin string is built, and no map
  // searched, per exchange.
  std::vector<IdleConn> idle;
  std::atomic<std::uint64_t> opened{0};  // shared: connections opened (stats)
};

// The slots of `share` for the origin `url` with the connection settings of `cfg`: the same
// object for every transport whose connections would be alike (http_share.cpp).
struct ShareAccess {
  static std::shared_ptr<OriginSlots> slots(HttpConnectionShare& share, const Url& url, const HttpServerConfig& cfg);
};

// The HTTP transport: its members are defined by job in http_transport.cpp (sending, delivering,
// open and close), http_connections.cpp, http_flights.cpp, http_auth.cpp, http_streamable.cpp and
// http_sse.cpp.
class HttpTransport final : public Transport {
 public:
  HttpTransport(std::string name, HttpServerConfig cfg, bool server_stream)
      : name_(std::move(name)),
        cfg_(std::move(cfg)),
        server_stream_(server_stream),
        own_(cfg_.max_connections, cfg_.max_connecting, false) {}
  ~HttpTransport() override { close(); }

  Result<void> start(Callbacks cb) override;
  Result<void> send(const json& message, Clock::time_point deadline, const SendOptions& options) override;
  void close() override;
  bool close_deferred() const override { return close_deferred_.load(); }
  bool is_open() const override { return open_.load(); }
  InUse in_use() const override {
    std::lock_guard lk(mutex_);
    return {mode_ == Mode::sse ? "sse" : "streamable-http", fell_back_};
  }
  void set_protocol_version(const std::string& v) override {
    std::lock_guard lk(mutex_);
    protocol_version_ = v;
    stateful_ = true;
  }

 private:
  Error too_deep_to_send() const;
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
  // An idle kept-alive connection to u's origin (of `s` if it is the server's), now the
  // caller's, or null.
  std::unique_ptr<http1::Connection> take_idle(const Url& u, OriginSlots& s);
  // Opens `c`, a new connection of a counted request, as one of the connection attempts at
  // once: the one `g` came with, else one waited for (on this thread) until `f` stops, the
  // transport closes or `timeout` passes. The attempt is given back once `c` is open (or not).
  http1::Outcome open_counted(Flight* f, SlotGrant& g, http1::Connection& c, std::chrono::microseconds timeout);
  // u is on the server's own origin (every call's case).
  bool own_origin(const Url& u) const {
    return u.port == url_.port && u.host == url_.host && u.scheme == url_.scheme;
  }
  // An exchange through the lean HTTP/1.1 client (http or https): the stale kept-alive retry, the
  // connection back to the pool, `f` (if any) able to stop it. A redirect is handed on as any
  // response is (see redirect_target). `grant`: the slot's of a counted request (its
  // connection used, a new connection opened as one of the attempts at once), else null (not
  // counted: an idle connection or a new one, at once).
  http1::Outcome post_lean(Flight* f, SlotGrant* grant, const Url& url, const std::string& body,
                                          const Fields& headers, std::chrono::microseconds read_timeout,
                                          const std::function<bool(const http1::Head&)>& on_head,
                                          const http1::ResponseParser::OnData& on_data,
                                          std::string_view method = "POST",
                                          std::chrono::microseconds head_timeout = std::chrono::microseconds::max());
  void release_lean(const Url& u, std::unique_ptr<http1::Connection> c, OriginSlots& s);
  // The slots a request's exchanges take: the share's for a shareable flight, else our own.
  OriginSlots& slots_for(const Flight* f) { return f && f->shareable && shared_ ? *shared_ : own_; }
  // The headers of a request: configured, provided, session facts, then the message's own
  // (borrowed from `options`: h.own() if they must outlive it). `h` is cleared first.
  void headers_for(Fields& h, bool stream, const SendOptions* options = nullptr);
  Fields headers_for(bool stream, const SendOptions* options = nullptr) {
    Fields h;
    headers_for(h, stream, options);
    return h;
  }
  void deliver(json&& msg);
  // Parses and delivers one message (or batch); false if it is not JSON (reported as a
  // diagnostic when `diagnose`).
  bool deliver_text(const std::string& data, const json& our_id, bool& got_response, bool diagnose = true,
                    JsonRefusal* refused = nullptr);
  // A stream's flight: started on the pool at once (it takes no connection slot).
  void start_flight(json id, std::function<void(Flight&)> body);
  // A request's flight: started on the pool with a connection slot, or queued for one without
  // a thread (first come first served with the threads waiting in take_slot); give_slot starts
  // it. Stopping it (cancellation, close) drops it from the queue: it never runs.
  void queue_flight(json id, std::function<void(Flight&)> body, bool shareable);
  // Drops `f` from the queue for a slot if it is there (then unregisters it), else wakes the
  // threads waiting for one. Flight::wake.
  void unqueue(Flight* f);
  // Unregisters a flight that never ran (close() no longer waits for it).
  void forget_flight(const std::shared_ptr<Flight>& f);
  // A flight registered with the transport (close() stops it and waits for it): `spare` if
  // given (a flight made ready by Flight::reuse), else a new one. And running one's body on
  // the current thread until it is unregistered.
  std::shared_ptr<Flight> new_flight(json id, std::shared_ptr<Flight> spare = nullptr);
  void run_flight(const std::shared_ptr<Flight>& f, const std::function<void(Flight&)>& body);
  // The same, on the calling thread, giving up at `deadline` or when `stop` is requested.
  void run_here(const json& id, const std::stop_token& stop, Clock::time_point deadline,
                const std::function<void(Flight&)>& body, bool shareable);
  // Stops every flight (a queued one is dropped), and waits until none is left (close()).
  void stop_flights();
  void wait_flights();
  // This thread runs one of this transport's flights (its callbacks run there).
  bool on_own_flight() const;
  Error status_error(int status, const std::string& body, const ResponseFields& headers) const;
  // Puts the auth provider's `Authorization` into `h` (none without a provider).
  Result<void> apply_auth(Fields& h, const char* method, const Url& url, Clock::time_point deadline);
  // What one sending of a request saw, for with_auth.
  struct AuthRound {
    int status = 0;                          // 0: no response came
    const ResponseFields* fields = nullptr;  // the response's fields (read for a 401/403)
    bool settled = false;                    // done, whatever came: the provider is not asked
  };
  // The one auth retry of requests: `send` with the auth provider's credentials in `headers`,
  // and again while the provider answers a 401/403 with fresh ones (challenge; `id` is held
  // meanwhile). Returns the last round, or why there were no credentials (or `send`'s error).
  // `attempts` counts the challenges. A template: `send` is called with no std::function (and
  // its allocation) per request.
  template <class Send>
  Result<AuthRound> with_auth(Fields& headers, const char* method, const Url& url, Clock::time_point deadline,
                              Flight* f, const json& id, int& attempts, Send&& send) {
    for (;;) {
      if (auto a = apply_auth(headers, method, url, deadline); !a) return tl::unexpected(std::move(a.error()));
      Result<AuthRound> round = send();
      if (!round || round->settled) return round;
      auto again = challenge(round->status, *round->fields, headers, ++attempts, deadline, f, id);
      if (!again) return tl::unexpected(std::move(again.error()));
      if (!*again) return round;
      if (f && f->over()) {  // stopped while the provider worked
        round->settled = true;
        return round;
      }
    }
  }
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
  // One exchange (a POST, or a GET stream), its same-origin redirects followed; its events and
  // JSON go to `deliver`; `got_response` turns true once the reply to `our_id` came (or its
  // failure was reported). What the response was goes to `x`.
  bool stream_events(Flight& f, const Url& url, std::string_view method, const std::string& body,
                     const Fields& headers, SseParser& parser, const json& our_id, bool& got_response, Exchange& x);
  // One exchange of stream_events; a redirect's Location goes to `location` (body dropped).
  bool stream_once(Flight& f, const Url& url, std::string_view method, const std::string& body,
                   const Fields& headers, SseParser& parser, const json& our_id, bool& got_response, Exchange& x,
                   std::string& location);
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
  // A connection to the server (slots_for(f)), one of at most cfg_.max_connections at once (or
  // the share's cap), with an idle
  // kept-alive connection or the right to open one (one of cfg_.max_connecting attempts at
  // once) in `grant`; requests beyond wait their turn, first come first served: false if `f`
  // stopped, `deadline` passed or the transport closed first. give_slot() gives it back with
  // what of its grant was not used, and serves the line (pump).
  bool take_slot(const Flight* f, Clock::time_point deadline, SlotGrant& grant);
  void give_slot(SlotGrant grant);
  // A connection attempt of `s` for a slot's holder that has none (its kept-alive connection
  // had gone stale): waits on this thread, before the line; false as take_slot. end_connect()
  // gives one back.
  bool take_connect(OriginSlots& s, const Flight* f, Clock::time_point deadline);
  void end_connect(OriginSlots& s);
  // Serves the line of `s`: the attempts waited for, then slots to the first in line while
  // they are free (a waiting thread is woken, a queued flight started on the pool by its owner).
  void pump(OriginSlots& s);
  void wake_slot_waiters();

  std::string name_;
  HttpServerConfig cfg_;
  bool server_stream_;  // open the GET stream once a session is ready (someone listens to what it carries)
  Callbacks cb_;
  Url url_;
  std::shared_ptr<const http1::TlsContext> tls_;  // https: what its connections trust
  std::atomic<bool> open_{false};
  std::atomic<bool> closing_{false};
  std::stop_source closing_stop_;  // requested by close(): auth providers give up

  mutable std::mutex mutex_;  // guards the state below
  Mode mode_ = Mode::streamable;
  bool fell_back_ = false;  // Streamable HTTP was refused: HTTP+SSE (2025-03-26 backwards compatibility)
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
  std::vector<std::shared_ptr<Flight>> flights_;
  std::size_t active_flights_ = 0;
  std::condition_variable flights_cv_;
  std::map<std::string, std::vector<std::unique_ptr<http1::Connection>>> idle_lean_;  // other origins

  // take_slot's and take_connect's wait in their line (lk holds its slots' mutex): until `me`
  // is granted, or the transport closes, `f` stops or `deadline` passes. True if it gave up (it
  // may have been granted as well: then the grant is to be given back).
  bool wait_turn(std::unique_lock<std::mutex>& lk, SlotWaiter& me, const Flight* f, Clock::time_point deadline);
  // The connections to the server's origin and their line (the idle ones to other origins:
  // idle_lean_), and those of the connection share for it (null: no share).
  OriginSlots own_;
  std::shared_ptr<OriginSlots> shared_;

  // Held by callbacks (exclusive), and by close() to set closing_: once it is set, none runs.
  // Success replies (on_result: a waiting caller woken, or a completion, which may start the
  // next call) hold it shared: 32 flights finishing at once do not queue behind each other.
  std::shared_mutex deliver_mutex_;
  std::mutex close_mutex_;
  bool closed_ = false;
  // A close() on one of our flights could not wait for the flights: a later close() from
  // another thread does (Transport::close_deferred).
  std::atomic<bool> close_deferred_{false};
};

}  // namespace mcp::detail
