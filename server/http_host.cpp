// SPDX-License-Identifier: MIT
// The Streamable HTTP host of mcp::Server (docs/SERVER-SPEC.md 1.3, 1.4, 2.8, 3.3), on Boost.Beast
// (request parsing) and Asio (sockets, timers, strands). Every Beast and Asio header of the
// library is in this one translation unit.
//
// Shape. Each client (a Peer) lives on its own strand of the host's io_context and serves
// one HTTP request at a time: a TCP connection of the host's own listener (BeastConn), or one
// exchange an application's HTTP server handed to HttpHost::serve (MountedConn, "mounting").
// Both go through the same per-exchange logic (Peer); they differ only in how response bytes
// leave and how a client's leaving is seen. A JSON-RPC request becomes an Exchange, registered under
// its id in a Channel (the server_detail::Connection the protocol answers through): a fresh
// Channel per POST for modern and sessionless legacy requests, one per legacy session. Handler
// threads answer through the Channel; the Gate posts that answer to the connection's strand,
// and only while the I/O side still exists. While a request waits for its answer the
// connection keeps one read outstanding, so that a client that goes away is seen at once (and,
// when nobody else can cancel the request, cancels it). Responses are framed here (headers,
// chunks, events) into a bounded queue per connection (a mounted exchange's sink bounds its
// own): a client that reads slower than its stream fills loses the stream rather than growing
// our memory.
#include <mcp/server_http.hpp>

#include "server_impl.hpp"

#include "../lib/protocol/json_read.hpp"
#include "../lib/protocol/json_write.hpp"
#include "../lib/protocol/jsonrpc.hpp"
#include "../lib/protocol/async_service.hpp"
#include "../lib/protocol/rpc_engine.hpp"
#include "../lib/util/base64.hpp"

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/ssl/context.hpp>
#include <boost/asio/ssl/error.hpp>
#include <boost/asio/ssl/stream.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http/error.hpp>
#include <boost/beast/http/basic_parser.hpp>
#include <boost/beast/http/status.hpp>

#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include <fcntl.h>
#include <pthread.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#if defined(__GLIBC__)
#include <malloc.h>
#endif

#include <algorithm>
#include <atomic>
#include <charconv>
#include <cerrno>
#include <condition_variable>
#include <csignal>
#include <cstdio>
#include <cstring>
#include <deque>
#include <map>
#include <optional>
#include <shared_mutex>
#include <thread>
#include <type_traits>

namespace mcp {

namespace sd = server_detail;
namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;
using json = nlohmann::json;
using namespace std::chrono_literals;
using Headers = std::vector<std::pair<std::string, std::string>>;

namespace {

constexpr std::size_t kHeaderLimit = 16 * 1024;  // request line and headers
constexpr auto kHeartbeat = 15s;                 // comment lines on quiet event streams
constexpr auto kLinger = 2s;                     // reading what a refused client still sends

// ------------------------------------------------------------------ small helpers

char lower_char(char c) { return c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c; }

bool iequals(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i)
    if (lower_char(a[i]) != lower_char(b[i])) return false;
  return true;
}

// Optional whitespace around a header value (RFC 9110 5.6.3) is not part of it.
std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

// Visible ASCII, space and tab: what an Mcp-* header value may hold.
bool header_chars_ok(std::string_view v) {
  return std::all_of(v.begin(), v.end(), [](char ch) {
    const auto c = static_cast<unsigned char>(ch);
    return c == '\t' || (c >= 0x20 && c <= 0x7e);
  });
}

bool contains(const std::vector<std::string>& v, std::string_view s) { return std::find(v.begin(), v.end(), s) != v.end(); }

// One HTTP request as the per-exchange logic sees it, whichever transport brought it.
struct Req {
  std::string method;  // "POST", "GET", ...
  std::string target;  // path and query
  Headers headers;     // as received
  std::string body;
};

// An HTTP request parsed straight into a Req (Beast's parser, its limits and checks, without
// the copy into Beast's own message and field list first).
class ReqParser final : public http::basic_parser<true> {
 public:
  Req req;
  int version = 11;

 private:
  void on_request_impl(http::verb, beast::string_view method, beast::string_view target, int v,
                       beast::error_code&) override {
    req.method.assign(method.data(), method.size());
    req.target.assign(target.data(), target.size());
    version = v;
  }
  void on_response_impl(int, beast::string_view, int, beast::error_code&) override {}
  void on_field_impl(http::field, beast::string_view name, beast::string_view value, beast::error_code&) override {
    req.headers.emplace_back(std::piecewise_construct, std::forward_as_tuple(name.data(), name.size()),
                             std::forward_as_tuple(value.data(), value.size()));
  }
  void on_header_impl(beast::error_code&) override {}
  void on_body_init_impl(const boost::optional<std::uint64_t>& length, beast::error_code&) override {
    // Within body_limit (checked before); what a client only announces is not reserved beyond 1 MiB.
    if (length) req.body.reserve(static_cast<std::size_t>(std::min<std::uint64_t>(*length, 1u << 20)));
  }
  std::size_t on_body_impl(beast::string_view body, beast::error_code&) override {
    req.body.append(body.data(), body.size());
    return body.size();
  }
  void on_chunk_header_impl(std::uint64_t, beast::string_view, beast::error_code&) override {}
  std::size_t on_chunk_body_impl(std::uint64_t, beast::string_view body, beast::error_code&) override {
    req.body.append(body.data(), body.size());
    return body.size();
  }
  void on_finish_impl(beast::error_code&) override {}
};

// The first value of header `name` (case-insensitive), trimmed.
std::optional<std::string> header(const Req& req, std::string_view name) {
  for (const auto& [k, v] : req.headers)
    if (iequals(k, name)) return std::string(trim(v));
  return std::nullopt;
}

// The same, without a copy (valid while `req` is).
std::optional<std::string_view> header_view(const Req& req, std::string_view name) {
  for (const auto& [k, v] : req.headers)
    if (iequals(k, name)) return trim(v);
  return std::nullopt;
}

// Strict standard base64 (RFC 4648 4, padded): what the `=?base64?...?=` sentinel holds.
std::optional<std::string> base64_strict(std::string_view t) {
  if (t.size() % 4 != 0) return std::nullopt;
  std::size_t pad = 0;
  while (pad < 2 && pad < t.size() && t[t.size() - 1 - pad] == '=') ++pad;
  for (std::size_t i = 0; i + pad < t.size(); ++i) {
    const char c = t[i];
    if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '+' || c == '/'))
      return std::nullopt;
  }
  return detail::base64_decode_lenient(t);
}

// An Mcp-Name / Mcp-Param-* value as the client meant it: the sentinel decoded, else literal.
std::optional<std::string> header_value_decoded(std::string_view v) {
  constexpr std::string_view open = "=?base64?", close = "?=";
  if (v.size() >= open.size() + close.size() && v.substr(0, open.size()) == open &&
      v.substr(v.size() - close.size()) == close)
    return base64_strict(v.substr(open.size(), v.size() - open.size() - close.size()));
  return std::string(v);
}

// Whether an Accept header admits `type` ("application/json"): the type, its "major/*" or "*/*".
bool accepts(std::string_view accept, std::string_view type) {
  const std::string major = std::string(type.substr(0, type.find('/'))) + "/*";
  while (!accept.empty()) {
    const auto comma = accept.find(',');
    std::string_view item = accept.substr(0, comma);
    item = trim(item.substr(0, item.find(';')));
    if (iequals(item, type) || iequals(item, major) || item == "*/*") return true;
    if (comma == std::string_view::npos) break;
    accept.remove_prefix(comma + 1);
  }
  return false;
}

// What a session id may be (SERVER-SPEC 3.3.2): visible ASCII.
bool valid_session_id(std::string_view id) {
  return !id.empty() && id.size() <= 256 &&
         std::all_of(id.begin(), id.end(), [](char c) { return c >= 0x21 && c <= 0x7e; });
}

// A query value: unreserved characters as they are, the rest percent-encoded (RFC 3986).
std::string query_encode(std::string_view v) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out;
  for (char ch : v) {
    const auto c = static_cast<unsigned char>(ch);
    if ((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '.' || c == '_' || c == '~') {
      out += ch;
    } else {
      out += '%';
      out += kHex[c >> 4];
      out += kHex[c & 15];
    }
  }
  return out;
}

// The value of query parameter `name` in a request target, percent-decoded; nullopt if absent
// or badly encoded.
std::optional<std::string> query_param(std::string_view target, std::string_view name) {
  const auto q = target.find('?');
  if (q == std::string_view::npos) return std::nullopt;
  std::string_view rest = target.substr(q + 1);
  while (!rest.empty()) {
    const auto amp = rest.find('&');
    const std::string_view item = rest.substr(0, amp);
    if (item.size() > name.size() && item.substr(0, name.size()) == name && item[name.size()] == '=') {
      const std::string_view v = item.substr(name.size() + 1);
      std::string out;
      for (std::size_t i = 0; i < v.size(); ++i) {
        if (v[i] != '%') {
          out += v[i] == '+' ? ' ' : v[i];
          continue;
        }
        if (i + 2 >= v.size()) return std::nullopt;
        const auto hex = [](char c) { return c >= '0' && c <= '9' ? c - '0' : (c | 0x20) >= 'a' && (c | 0x20) <= 'f' ? (c | 0x20) - 'a' + 10 : -1; };
        const int hi = hex(v[i + 1]), lo = hex(v[i + 2]);
        if (hi < 0 || lo < 0) return std::nullopt;
        out += static_cast<char>(hi * 16 + lo);
        i += 2;
      }
      return out;
    }
    if (amp == std::string_view::npos) break;
    rest.remove_prefix(amp + 1);
  }
  return std::nullopt;
}

// One SSE event: its id (when it has one), the message.
std::string sse_event(std::string_view text, std::string_view id) {
  std::string out;
  out.reserve(text.size() + id.size() + 32);
  if (!id.empty()) {
    out += "id: ";
    out += id;
    out += '\n';
  }
  out += "event: message\ndata: ";
  out += text;
  out += "\n\n";
  return out;
}

// The event that primes a stream for resumption (2025-11-25): an id and empty data.
std::string priming_event(std::string_view id, std::chrono::milliseconds retry = {}) {
  std::string out;
  if (retry.count() > 0) out += "retry: " + std::to_string(retry.count()) + "\n";
  out += "id: ";
  out += id;
  out += "\ndata:\n\n";
  return out;
}

std::string random_session_id() {
  unsigned char bytes[16];
  if (RAND_bytes(bytes, sizeof bytes) != 1) return {};
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out;
  for (unsigned char b : bytes) {
    out += kHex[b >> 4];
    out += kHex[b & 15];
  }
  return out;
}

std::string serialize(const json& message) {
  std::string text;
  if (!detail::append_json(text, message)) {
    text.clear();
    (void)detail::append_json(text, json{{"jsonrpc", "2.0"},
                                         {"id", message.value("id", json())},
                                         {"error", {{"code", jsonrpc::internal_error}, {"message", detail::too_deep_to_send_text()}}}});
  }
  return text;
}

json error_message(const json& id, int code, std::string message, json data = nullptr) {
  json err{{"code", code}, {"message", std::move(message)}};
  if (!data.is_null()) err["data"] = std::move(data);
  return json{{"jsonrpc", "2.0"}, {"id", id}, {"error", std::move(err)}};
}

// The HTTP status of a modern JSON-RPC error (SERVER-SPEC 1.4 and 6): what the spec fixes,
// else 200 with the error in the body.
int modern_status(int code) {
  switch (code) {
    case jsonrpc::method_not_found: return 404;
    case jsonrpc::parse_error:
    case jsonrpc::invalid_request:
    case jsonrpc::header_mismatch:
    case jsonrpc::missing_required_client_capability:
    case jsonrpc::unsupported_protocol_version: return 400;
    default: return 200;
  }
}

std::string chunk(std::string_view data) {
  char size[24];
  const int n = std::snprintf(size, sizeof size, "%zx\r\n", data.size());
  std::string out(size, static_cast<std::size_t>(n));
  out.append(data);
  out += "\r\n";
  return out;
}

bool is_loopback_name(std::string_view host) {
  return iequals(host, "localhost") || host == "127.0.0.1" || host == "[::1]";
}

// "name:port", "[v6]:port", "name" -> the name part.
std::string_view host_name(std::string_view host) {
  if (!host.empty() && host.front() == '[') {
    const auto end = host.find(']');
    return end == std::string_view::npos ? host : host.substr(0, end + 1);
  }
  return host.substr(0, host.find(':'));
}

// A JSON-RPC message's shape (SERVER-SPEC 3.3.1), checked before anything acts on it.
struct Checked {
  std::string error;  // what is wrong (empty: nothing)
  json reply_id;      // the id to name in an error, when usable
  bool is_request = false, is_response = false;
  std::string method;
};

Checked check_message(const json& msg) {
  Checked c;
  if (!msg.is_object()) {
    c.error = "Invalid Request: not a JSON object";
    return c;
  }
  const auto id_it = msg.find("id");
  const bool has_id = id_it != msg.end();
  const bool id_ok = has_id && (id_it->is_string() || id_it->is_number_integer());
  c.reply_id = id_ok ? *id_it : json();
  const auto method_it = msg.find("method");
  if (const auto v = msg.find("jsonrpc"); v == msg.end() || *v != "2.0") c.error = "Invalid Request: jsonrpc must be \"2.0\"";
  else if (method_it != msg.end() && !method_it->is_string()) c.error = "Invalid Request: method must be a string";
  else if (has_id && !id_ok) c.error = "Invalid Request: id must be a string or an integer";
  if (!c.error.empty()) return c;
  c.is_response = method_it == msg.end();
  if (c.is_response && (!has_id || (!msg.contains("result") && !msg.contains("error")))) {
    c.error = "Invalid Request: neither a request, a notification nor a response";
    return c;
  }
  c.is_request = !c.is_response && has_id;
  if (!c.is_response) c.method = method_it->get<std::string>();
  return c;
}

class Peer;
class Channel;
struct Exchange;

// Posting from handler threads to a connection's strand is only safe while the io_context
// lives: stop() closes the gate first (m exclusively), and later answers are dropped. Handler
// threads share m: they do not wait for one another.
struct Gate {
  std::shared_mutex m;
  bool open = true;
  // Runs fn(peer) on the peer's strand; false when it will not (the host stopped, the peer is gone).
  template <class F>
  bool post(const std::weak_ptr<Peer>& conn, F fn);
  // A handler thread's answer to `ex`, written to the client at once where the connection
  // offered it (Peer::offer_direct), else false (post it). True also when it is dropped (the
  // host stopped, the client is gone), as post() would.
  bool answer_direct(const std::shared_ptr<Exchange>& ex, const std::string& text, int status);
};

// One JSON-RPC request waiting for its answer on an HTTP response (or a legacy GET stream).
struct Exchange {
  std::weak_ptr<Peer> conn;
  std::shared_ptr<Gate> gate;
  std::weak_ptr<Channel> channel;
  json id;                         // null for a GET stream
  bool modern = false;
  bool json_ok = true;             // Accept admits application/json
  bool sse_ok = true;              // ... text/event-stream (and the host may stream)
  bool standalone = false;         // a legacy GET stream: notifications only, no answer
  bool cancel_on_disconnect = false;
  bool prime = false;              // a 2025-11-25 session's: its event stream opens with a priming event
  Headers headers;                 // extra response headers (Mcp-Session-Id)
  std::string stream;              // a session's: the stream's name in its event ids
  // Guarded by the channel's xm_.
  bool sse = false;                // events went out on it (its answer is one too)
  bool attached = true;            // a connection carries it (else it waits to be resumed)
  std::vector<std::int64_t> asks;  // requests to the client sent on it
  // A 2025-03-26 batch: its requests' ids (all registered to this exchange), how many are not
  // answered yet, and the answers held for one JSON array (guarded by xm_).
  std::vector<json> batch;
  std::size_t batch_left = 0;
  std::vector<std::string> batch_answers;
  // The connection offered handler threads to write the answer themselves (set before dispatch).
  bool direct = false;
  // Strand only.
  bool streaming = false;
  bool done = false;
};

// The requests a legacy session's handlers send to its client (elicitation, sampling, roots):
// ids, waiting, deadlines and the client's answers, as with any JSON-RPC peer. The channel
// decides which stream carries each.
class ClientRequests final : public detail::RpcEngine {
 public:
  ClientRequests(Channel& channel, detail::DiagnosticSink diag)
      : RpcEngine(Options{"client", std::move(diag), {}, nullptr}), channel_(channel) {}
  ~ClientRequests() override { RpcEngine::close(Error::make(Errc::connection_closed, "the session ended")); }
  using RpcEngine::receive;
  using RpcEngine::request_failed;
  using RpcEngine::RequestWriter;
  using RpcEngine::send_lent;

 protected:
  // notifications/cancelled for a request given up: on the session's GET stream.
  Result<void> write(const json& message, Clock::time_point deadline) override;
  void close_channel() override {}

 private:
  Channel& channel_;
};

// A client's channel as the protocol sees it: answers and notifications find their Exchange by
// request id.
class Channel final : public sd::Connection {
 public:
  explicit Channel(std::shared_ptr<Gate> gate) : gate_(std::move(gate)) {}

  // session_id (sd::Connection): a legacy session's, else empty.
  std::atomic<long long> last_used{0};
  std::shared_ptr<ClientRequests> requests;  // a legacy session's (set before it is shared)
  std::unique_ptr<EventStore> store;         // a resumable session's (guarded by xm_)
  bool old_sse = false;  // a 2024-11-05 HTTP+SSE session: everything goes on its one stream (set before it is shared)
  std::string principal;  // with auth: who opened the session (set before it is shared)

  // Registers a batch's requests, all to `ex`; false (nothing registered) when an id repeats
  // or is in flight already.
  bool add_batch(const std::shared_ptr<Exchange>& ex) {
    std::lock_guard lk(xm_);
    std::set<std::string> keys;
    for (const auto& id : ex->batch)
      if (!keys.insert(key_of(id)).second || pending_.count(key_of(id))) return false;
    if (store) ex->stream = std::to_string(++streams_);
    ex->batch_left = ex->batch.size();
    for (const auto& key : keys) pending_.emplace(key, ex);
    return true;
  }

  bool add(const json& id, std::shared_ptr<Exchange> ex) {
    std::lock_guard lk(xm_);
    if (store) ex->stream = std::to_string(++streams_);
    return pending_.emplace(key_of(id), std::move(ex)).second;
  }
  // The exchange waiting for request `id`, no longer registered.
  std::shared_ptr<Exchange> take(const json& id) {
    std::lock_guard lk(xm_);
    auto it = pending_.find(key_of(id));
    if (it == pending_.end()) return nullptr;
    auto ex = std::move(it->second);
    pending_.erase(it);
    return ex;
  }
  // No connection carries `ex` any more (the client left, or polling closed it). A stream
  // with events kept waits to be resumed; any other is forgotten (later answers go nowhere)
  // and the requests sent on it fail.
  void detach(const Exchange* ex) {
    std::vector<std::int64_t> lost;
    {
      std::lock_guard lk(xm_);
      std::shared_ptr<Exchange>* slot = nullptr;
      auto it = pending_.end();
      if (ex->standalone) {
        if (stream_.get() == ex) slot = &stream_;
      } else if (it = pending_.find(key_of(ex->batch.empty() ? ex->id : ex->batch.front()));
                 it != pending_.end() && it->second.get() == ex) {
        slot = &it->second;
      }
      if (!slot) return;
      if (store && ex->sse) {
        (*slot)->attached = false;
        return;
      }
      lost = std::move((*slot)->asks);
      if (ex->standalone) stream_.reset();
      else std::erase_if(pending_, [&](const auto& kv) { return kv.second.get() == ex; });  // a batch has several
    }
    fail_asks(lost, "the client closed the stream that carried it");
  }
  // Registers a GET stream without Last-Event-ID (replacing one no connection carries); false
  // when one is open already. `prime_id`: its priming event's id, if it has one.
  bool open_stream(const std::shared_ptr<Exchange>& ex, std::string& prime_id) {
    std::vector<std::int64_t> lost;
    {
      std::lock_guard lk(xm_);
      if (stream_ && stream_->attached) return false;
      if (stream_) lost = std::move(stream_->asks);
      if (store) {
        ex->stream = std::to_string(++streams_);
        ex->sse = true;
        if (ex->prime) prime_id = keep(*ex, "");
      }
      stream_ = ex;
    }
    fail_asks(lost, "the client opened another stream instead of resuming the one that carried it");
    return true;
  }
  // Polling: `ex` opens its stream now, with a priming event (its id; empty: cannot poll).
  std::string prime_now(Exchange& ex) {
    std::lock_guard lk(xm_);
    if (!store || !ex.prime || ex.sse) return {};
    std::string id = keep(ex, "");
    if (!id.empty()) ex.sse = true;
    return id;
  }
  enum class Resume { unknown, live, finished };
  // GET with Last-Event-ID: `ex` takes over the stream of event `last_id` (its exchange, if
  // that stream still waits for something, in `replaced`); `events` gets what came after.
  Resume resume(const std::shared_ptr<Exchange>& ex, const std::string& last_id,
                std::vector<std::pair<std::string, std::string>>& events, std::shared_ptr<Exchange>& replaced) {
    std::lock_guard lk(xm_);
    if (!store) return Resume::unknown;
    std::optional<std::string> key;
    try {
      key = store->replay_after(last_id, [&](const std::string& id, const std::string& message) {
        if (!message.empty()) events.emplace_back(id, message);  // priming events are not replayed
      });
    } catch (...) {
      key.reset();  // an application's store failed: as if it knew nothing
    }
    if (!key) return Resume::unknown;
    ex->stream = *key;
    ex->sse = true;
    const auto take_over = [&](std::shared_ptr<Exchange>& slot) {
      replaced = slot;
      ex->id = slot->id;
      ex->standalone = slot->standalone;
      ex->asks = std::move(slot->asks);
      ex->batch = slot->batch;
      ex->batch_left = slot->batch_left;
      slot = ex;
    };
    if (stream_ && stream_->stream == *key) {
      take_over(stream_);
      return Resume::live;
    }
    for (auto& [k, p] : pending_)
      if (p->stream == *key) {
        take_over(p);
        for (auto& [k2, p2] : pending_)  // a batch's other requests
          if (p2 == replaced) p2 = ex;
        return Resume::live;
      }
    // An ended stream: its answer was sent (and replayed above), or it was a GET stream since replaced.
    return Resume::finished;
  }
  // Everything still waiting (the session ends).
  std::vector<std::shared_ptr<Exchange>> take_all() {
    std::lock_guard lk(xm_);
    std::vector<std::shared_ptr<Exchange>> out;
    for (auto& [k, ex] : pending_) out.push_back(std::move(ex));
    pending_.clear();
    if (stream_) out.push_back(std::move(stream_));
    stream_.reset();
    return out;
  }
  bool busy() {
    {
      std::lock_guard lk(xm_);
      if (!pending_.empty() || (stream_ && stream_->attached)) return true;
    }
    std::lock_guard lk(m);
    return !running.empty();
  }

  // The session ends: the requests to the client fail, the events are forgotten.
  void end() {
    if (requests) requests->close(Error::make(Errc::connection_closed, "the session ended"));
    std::lock_guard lk(xm_);
    store.reset();
  }

  void respond(const json& id, Result<json> r) override;
  bool run_on_host(std::function<void()>& task, const std::shared_ptr<sd::Slowness>& slow) override;
  bool close_stream(const json& about, std::chrono::milliseconds retry) override;
  Result<void> notify(const json& about, const std::string& method, json params) override;
  Result<json> request(const json& about, const std::string& method, json params, std::stop_token stop,
                       std::chrono::steady_clock::time_point deadline) override;
  // Sends a request to the client (ClientRequests' writer): on the stream of request `about`,
  // else on the GET stream.
  Result<void> send_request(const json& about, const std::string& method, const json& message);

 private:
  // Keeps `text` as the next event of ex's stream: its id ("" when nothing keeps events).
  std::string keep(Exchange& ex, const std::string& text) {
    if (!store || ex.stream.empty()) return {};
    try {
      return store->store(ex.stream, text);
    } catch (...) {
      return {};  // an application's store failed: the event goes without an id
    }
  }
  // Sends `text` as an event on `ex` (under xm_); a stream's first event is preceded by its
  // priming event.
  void send_event(const std::shared_ptr<Exchange>& ex, std::string text);
  void post_event(const std::shared_ptr<Exchange>& ex, std::string text, std::string prime_id);
  void fail_asks(const std::vector<std::int64_t>& ids, const char* why) {
    if (!requests) return;
    for (auto id : ids) requests->request_failed(json(id), Error::make(Errc::connection_closed, why));
  }

  // A request id as the key of pending_: its JSON text.
  static std::string key_of(const json& id) { return sd::id_key(id); }

  std::shared_ptr<Gate> gate_;
  std::mutex xm_;
  std::map<std::string, std::shared_ptr<Exchange>> pending_;
  std::shared_ptr<Exchange> stream_;
  std::uint64_t streams_ = 0;  // streams named so far
};

long long now_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

}  // namespace

// ------------------------------------------------------------------ the host

struct HttpHost::Impl {
  Impl(std::shared_ptr<Server::Impl> s, HttpServerOptions o) : server(std::move(s)), opt(std::move(o)) {}

  std::shared_ptr<Server::Impl> server;
  HttpServerOptions opt;
  std::shared_ptr<Gate> gate = std::make_shared<Gate>();
  bool any_host = false;           // no Host check (bound to a non-loopback address, no list)
  std::size_t max_values = 0;
  std::atomic<unsigned short> port{0};
  std::atomic<bool> stopping{false};
  bool started = false, stopped = false;

  std::mutex m;  // conns, sessions
  std::map<Peer*, std::weak_ptr<Peer>> conns;
  std::map<std::string, std::shared_ptr<Channel>> sessions;

  std::mutex run_m;
  std::condition_variable run_cv;
  std::size_t running_threads = 0;

  // HttpServerOptions::tls, loaded by start(): outlives the connections (declared before them).
  std::optional<asio::ssl::context> tls;

  // The I/O side, declared last: destroyed first (connections unregister from `conns`).
  asio::io_context ioc;
  std::optional<asio::executor_work_guard<asio::io_context::executor_type>> work;
  std::optional<tcp::acceptor> acceptor;
  std::optional<asio::steady_timer> sweep;
  std::optional<asio::steady_timer> accept_retry;

  // Handlers on the I/O threads (ServerOptions::handlers_on_io_threads, Channel::run_on_host):
  // a handler posted to the io_context runs on whichever I/O thread takes it, outside every
  // strand. The watchdog sees one that runs past kTakeOver (or that is about to wait for the
  // client: will_block) and starts a fresh I/O thread; the one held leaves once its handler
  // returns (Retired, thrown out of io_context::run). So the I/O threads are io_threads plus
  // `takeovers`, at most ServerOptions::handler_threads of those.
  struct IoSlot final : sd::BlockingHook {
    static thread_local IoSlot* current;  // the I/O thread's own
    Impl* host = nullptr;
    std::thread thread;
    // Set by the thread when it starts (before `ready`): its id and CPU clock, for the watchdog.
    std::atomic<bool> ready{false};
    pid_t tid = 0;
    clockid_t cpu_clock{};
    std::int64_t seen_cpu_ns = 0;       // run_m: the thread's CPU time when the watchdog saw the run
    std::atomic<std::uint64_t> seq{0};  // odd while a handler runs on this thread
    std::atomic<bool> retire{false};    // taken over: the thread leaves once its handler returns
    std::mutex m;                       // guards slow
    std::shared_ptr<sd::Slowness> slow; // the running handler's tool
    // run_m: the watchdog's (the run it saw, since when), the run already taken care of, the end.
    std::uint64_t seen = 0, acted = 0;
    std::chrono::steady_clock::time_point seen_at{};
    bool ended = false;
    // A handler this thread's last completion handed over (run_on_io): it runs once that
    // completion returns, on this thread, outside every strand, without a trip through the
    // io_context's queue (which costs a poll of the reactor per request).
    std::function<void()> next;
    std::shared_ptr<sd::Slowness> next_slow;
    bool has_next = false;
    void will_block() override { host->take_over(*this); }
  };
  struct Retired {};
  std::deque<std::unique_ptr<IoSlot>> slots;  // run_m
  std::size_t takeovers = 0;                  // run_m: threads started by a takeover, running
  void start_io_thread();                     // run_m held
  void io_loop(IoSlot& s);
  bool run_on_io(std::function<void()>& task, const std::shared_ptr<sd::Slowness>& slow);
  void run_handler(std::function<void()>& task, const std::shared_ptr<sd::Slowness>& slow);
  void run_next(IoSlot& s);   // the handler handed over, if any
  void post_next(IoSlot& s);  // ... posted instead (this thread leaves, or the host stops)
  void take_over(IoSlot& s);
  void take_over_locked(IoSlot& s, std::uint64_t seq);  // run_m held
  // The watchdog: started by the first handler run on an I/O thread; ticks every millisecond
  // while handlers run there, sleeps when none ran for a while.
  std::mutex wm;
  std::condition_variable wcv;
  std::thread watchdog;
  bool watch_stop = false;  // wm
  std::atomic<bool> watch_started{false}, watch_sleeping{false};
  std::atomic<std::uint64_t> runs_started{0};
  std::vector<std::pair<IoSlot*, std::uint64_t>> long_runs;  // the watchdog's
  void start_watchdog();
  void watch();
  static std::int64_t cpu_ns(const IoSlot& s);
  static bool blocked_or_busy(const IoSlot& s, std::chrono::milliseconds limit);
  void stop_watchdog();

  // HttpServerOptions::auth, prepared by check_options(): the metadata document, its URL (for
  // challenges) and the paths it is served at.
  std::string metadata_body, metadata_url;
  std::vector<std::string> metadata_paths;

  bool host_allowed(std::string_view host) const;
  bool origin_allowed(std::string_view origin) const;
  bool mcp_path(std::string_view path) const {
    return path == opt.path || (!opt.sse_path.empty() && (path == opt.sse_path || path == opt.sse_message_path));
  }
  void accept();
  void arm_sweep();
  void expire_sessions();
  void trim_after(std::size_t ended);  // on the sweep's thread
  std::size_t ended_since_trim = 0;    // sessions ended by sweeps since the last trim
  // A session by id: a Streamable HTTP one, or (`old_sse`) a 2024-11-05 HTTP+SSE one.
  std::shared_ptr<Channel> find_session(const std::string& id, bool old_sse = false) {
    std::lock_guard lk(m);
    auto it = sessions.find(id);
    if (it == sessions.end() || it->second->old_sse != old_sse) return nullptr;
    it->second->last_used = now_ms();
    return it->second;
  }
  // Makes `ch` a new legacy session: its id, requests to the client, event store. 0, or the
  // HTTP status refusing it (`why` says why).
  int open_session(const std::shared_ptr<Channel>& ch, std::string& why);
  std::shared_ptr<Channel> remove_session(const std::string& id) {
    std::lock_guard lk(m);
    auto it = sessions.find(id);
    if (it == sessions.end()) return nullptr;
    auto ch = std::move(it->second);
    sessions.erase(it);
    return ch;
  }
  void end_session(const std::shared_ptr<Channel>& ch);
  Result<void> check_options();
  Result<void> load_tls();
  void launch();
};

namespace {

// One TCP connection: one HTTP request at a time, on its own strand.
// One client's side of the host: what serves one HTTP exchange at a time, on its own strand.
// The protocol's handling of an exchange (checks, sessions, answers, event streams,
// resumption, cancellation when the client leaves) is here, once; how the response bytes
// reach the client is the transport's: a TCP connection of the host's own (BeastConn), or an
// exchange an application's HTTP server handed over (MountedConn, HttpHost::serve).
class Peer : public std::enable_shared_from_this<Peer> {
 public:
  Peer(HttpHost::Impl& host, asio::any_io_executor ex) : host_(host), ex_(std::move(ex)), heartbeat_(ex_) {}
  virtual ~Peer() {
    std::lock_guard lk(host_.m);
    host_.conns.erase(this);
  }
  Peer(const Peer&) = delete;
  Peer& operator=(const Peer&) = delete;

  asio::any_io_executor executor() { return ex_; }

  // A handler thread's answer to `ex` written by that thread (Gate::answer_direct): true when
  // it was written or handed to the strand, false when the connection did not offer it.
  virtual bool answer_direct(const std::shared_ptr<Exchange>& ex, const std::string& text, int status) {
    (void)ex, (void)text, (void)status;
    return false;
  }

  // The host stops: whatever runs for this client is cancelled, its transport closed.
  void shutdown() {
    if (current_) current_->cancel_on_disconnect = true;
    close();
  }

  void answer(const std::shared_ptr<Exchange>& ex, const std::string& text, int status, const std::string& id) {
    settle_direct();
    if (closed_ || ex != current_ || ex->done) return;
    ex->done = true;
    if (ex->streaming || !ex->json_ok) {
      if (!ex->streaming) start_sse(*ex);
      send_stream(sse_event(text, id));
      send_stream_end();
    } else {
      send_whole(status, "application/json", ex->headers, text);
    }
    end_exchange();
  }

  // The handler lets the client poll (RequestContext::close_stream): the response becomes an
  // event stream if it was not one, says when to come back, and ends; the exchange stays in
  // its channel, detached, its events kept for the client's GET with Last-Event-ID (strand).
  void let_go(const std::shared_ptr<Exchange>& ex, std::chrono::milliseconds retry) {
    settle_direct();
    if (closed_ || ex != current_ || ex->done || !ex->sse_ok) return;
    auto channel = ex->channel.lock();
    if (!channel) return;
    if (!ex->streaming) {
      const auto prime_id = channel->prime_now(*ex);
      if (prime_id.empty()) return;
      start_sse(*ex);
      send_stream(priming_event(prime_id, retry));
    } else {
      if (!ex->sse) return;  // its events are not kept: the answer could not be resumed
      if (retry.count() > 0) send_stream("retry: " + std::to_string(retry.count()) + "\n\n");
    }
    ex->done = true;
    send_stream_end();
    channel->detach(ex.get());
    end_exchange();
  }

  // A message about `ex` (strand): turns the response into an event stream, primed first when
  // `prime_id` is given.
  void event(const std::shared_ptr<Exchange>& ex, const std::string& text, const std::string& id,
             const std::string& prime_id) {
    settle_direct();
    if (closed_ || ex != current_ || ex->done) return;
    if (!ex->streaming) {
      if (!ex->sse_ok) return;  // JSON only: the notification has nowhere to go
      start_sse(*ex);
    }
    if (!prime_id.empty()) send_stream(priming_event(prime_id));
    send_stream(sse_event(text, id));
  }

  // `ex` gets no answer (its session ended, or it was cancelled): an event stream ends
  // cleanly, a request still waiting for JSON loses its connection.
  void drop(const std::shared_ptr<Exchange>& ex) {
    settle_direct();
    if (closed_ || ex != current_ || ex->done) return;
    if (ex->streaming) {
      ex->done = true;
      send_stream_end();
      end_exchange();
      return;
    }
    close();
  }

  // The client left (or we dropped it): the transport closes; an exchange still waiting is
  // detached from its channel and, where nobody else can, cancelled (strand).
  void close() {
    if (closed_) return;
    (void)direct_answered();  // no handler thread writes to the connection from here on
    closed_ = true;
    self_.reset();
    heartbeat_.cancel();
    close_io();
    // The client left (or we dropped it) before its answer.
    auto keep = std::move(stream_channel_);  // released when this ends
    if (auto ex = std::move(current_)) {
      current_.reset();
      if (ex->done) return;
      ex->done = true;
      if (auto ch = ex->channel.lock()) {
        ch->detach(ex.get());
        if (ex->cancel_on_disconnect && !ex->standalone)
          for (const auto& id : ex->batch.empty() ? std::vector<json>{ex->id} : ex->batch)
            host_.server->notification(ch, "notifications/cancelled",
                                       json{{"requestId", id}, {"reason", "the client closed the connection"}});
        // A 2024-11-05 session is its stream.
        if (ch->old_sse && ex->standalone)
          if (auto ended = host_.remove_session(ch->session_id)) host_.end_session(ended);
      }
    }
  }

 protected:
  // ---------------------------------------------------------------- the transport's part

  // A whole response: status, Content-Type (empty: none), extra headers, body.
  virtual void send_whole(int status, std::string_view content_type, const Headers& extra, std::string_view body) = 0;
  // An event stream's head: 200, text/event-stream, `extra`.
  virtual void send_stream_head(const Headers& extra) = 0;
  // Bytes of the stream: whole events or comments. `optional` (a heartbeat): skipped when the
  // client is behind; otherwise a client too far behind loses the stream (close()).
  virtual void send_stream(std::string bytes, bool optional = false) = 0;
  // The stream is complete.
  virtual void send_stream_end() = 0;
  // The exchange is over (its response sent): the next one, or nothing.
  virtual void exchange_ended() = 0;
  // An exchange waits for its answer: watch for the client leaving, where the transport can.
  virtual void watch() = 0;
  // close(): the transport's part (strand).
  virtual void close_io() = 0;
  // `ex` is about to be dispatched: the transport may let the handler thread that answers it
  // write the answer itself (answer_direct), sparing the hand-off back to this strand. An
  // offer lasts until settle_direct() or direct_answered() on the strand ends it.
  virtual void offer_direct(const std::shared_ptr<Exchange>& ex) { (void)ex; }

  // Ends the offer of the current exchange to handler threads (strand): true when one of them
  // answered it (it is done; the caller ends the exchange), false when none did (from now on
  // the answer is posted to the strand, as without an offer) or there was no offer.
  bool direct_answered() {
    if (!offered_) return false;
    offered_ = false;
    std::lock_guard lk(direct_m_);
    if (!direct_ex_) return false;
    const bool sent = direct_sent_ && direct_ex_ == current_ && !direct_ex_->done;
    if (sent) direct_ex_->done = true;
    direct_ex_.reset();
    direct_sent_ = false;
    return sent;
  }
  // The strand runs for this connection: an exchange a handler thread answered ends here.
  void settle_direct() {
    if (direct_answered()) end_exchange();
  }
  // The client's verified TLS certificate (mTLS), when the transport has one.
  [[nodiscard]] virtual const ClientCertificate* client_certificate() const { return nullptr; }

  // ---------------------------------------------------------------- requests

  void handle(const Req& req) {
    const std::string_view target = req.target;
    // DNS rebinding: Host and Origin first, whatever the method (SERVER-SPEC 1.3 step 1).
    const auto host = header_view(req, "Host");
    if (!host || !host_.host_allowed(*host))
      return refuse(403, jsonrpc::invalid_request, "Forbidden: Host header not allowed");
    if (const auto origin = header_view(req, "Origin"); origin && !host_.origin_allowed(*origin))
      return refuse(403, jsonrpc::invalid_request, "Forbidden: Origin not allowed");
    const auto path = target.substr(0, target.find('?'));
    auth_.reset();
    if (host_.opt.auth.enabled()) {
      if (req.method == "GET" &&
          std::find(host_.metadata_paths.begin(), host_.metadata_paths.end(), path) != host_.metadata_paths.end()) {
        send_whole(200, "application/json", {{"Cache-Control", "max-age=3600"}}, host_.metadata_body);
        return end_exchange();
      }
      if (host_.mcp_path(path)) return authorize(req);
    }
    route(req);
  }

  // The request, past the checks and the authorization: served by what its path and method say.
  void route(const Req& req) {
    const std::string_view target = req.target;
    const auto path = target.substr(0, target.find('?'));
    if (path == host_.opt.path) {
      if (req.method == "POST") return handle_post(req);
      if (req.method == "GET") return handle_get(req);
      if (req.method == "DELETE") return handle_delete(req);
      return not_allowed();
    }
    if (!host_.opt.sse_path.empty()) {  // 2024-11-05 HTTP+SSE (SERVER-SPEC 3.4)
      if (path == host_.opt.sse_path) return req.method == "GET" ? handle_sse_get(req) : not_allowed("GET");
      if (path == host_.opt.sse_message_path)
        return req.method == "POST" ? handle_sse_post(req, target) : not_allowed("POST");
    }
    return plain(404, "not found");
  }

  // ---------------------------------------------------------------- authorization

  // The bearer token, then the scopes every request needs, then the application's middleware
  // (HttpAuthOptions). A token the validator cannot judge at once is judged on a worker, the
  // exchange waiting (holding this peer) until the answer is posted back to the strand.
  void authorize(const Req& req) {
    const auto& a = host_.opt.auth;
    if (!a.validator) return authorized(req, AuthInfo{});
    const auto h = header(req, "Authorization");
    std::string_view token;
    if (h && h->size() > 7 && iequals(std::string_view(*h).substr(0, 7), "Bearer ")) token = trim(std::string_view(*h).substr(7));
    if (token.empty())
      return challenge(401, "", a.required_scopes, "this resource needs an access token (Authorization: Bearer)");
    if (a.validator->answers_at_once(token)) return judged(req, a.validator->validate(token));
    self_ = shared_from_this();
    detail::AsyncService::instance().run_blocking(
        [conn = weak_from_this(), gate = host_.gate, validator = a.validator, token = std::string(token),
         r = std::make_shared<Req>(req)]() mutable {
          auto verdict = std::make_shared<Result<AuthInfo>>(validator->validate(token));
          gate->post(conn, [r = std::move(r), verdict = std::move(verdict)](Peer& p) { p.judged(*r, std::move(*verdict)); });
        });
  }

  void judged(const Req& req, Result<AuthInfo> verdict) {
    if (closed_) return;
    if (verdict) return authorized(req, std::move(*verdict));
    if (verdict.error().errc() == Errc::unauthorized)
      return challenge(401, "invalid_token", host_.opt.auth.required_scopes, verdict.error().message);
    // No decision (the authorization server did not answer): not the client's fault.
    send_whole(503, "application/json", {{"Retry-After", "5"}},
               json{{"error", "temporarily_unavailable"},
                    {"error_description", "the access token could not be checked now; try again"}}
                   .dump());
    end_exchange();
  }

  void authorized(const Req& req, AuthInfo info) {
    const auto& a = host_.opt.auth;
    if (a.validator && !missing_scopes(info.scopes, a.required_scopes, a.scope_hierarchy).empty())
      return challenge(403, "insufficient_scope", a.required_scopes, "the access token lacks a scope this resource needs");
    if (a.middleware) {
      AuthDecision d;
      try {
        d = a.middleware(AuthRequest{req.method, req.target, &req.headers, client_certificate()}, info);
      } catch (...) {
        host_.server->diagnose("HttpServerOptions::auth.middleware threw; the request was refused with 500");
        return plain(500, "internal error");
      }
      if (d.status != 0) {
        if (d.status < 400 || d.status > 599) d.status = 403;
        send_whole(d.status, "application/json", d.headers,
                   json{{"error", d.status == 401 ? "unauthorized" : "forbidden"}, {"error_description", d.message}}.dump());
        return end_exchange();
      }
      // Without a validator the middleware's scopes are the caller's: the same checks apply.
      if (!a.validator && !missing_scopes(info.scopes, a.required_scopes, a.scope_hierarchy).empty())
        return challenge(403, "insufficient_scope", a.required_scopes, "the caller lacks a scope this resource needs");
    }
    auth_ = std::make_shared<const AuthInfo>(std::move(info));
    route(req);
  }

  // 401 or 403 with a Bearer challenge naming the metadata (RFC 6750 3, RFC 9728 5.1).
  void challenge(int status, std::string_view error, const std::vector<std::string>& scopes, std::string_view why) {
    json body{{"error", error.empty() ? "unauthorized" : std::string(error)}, {"error_description", std::string(why)}};
    send_whole(status, "application/json",
               {{"WWW-Authenticate", bearer_challenge(error, scopes, host_.metadata_url, error.empty() ? "" : why)}},
               body.dump());
    end_exchange();
  }

  // A tools/call (alone or in a batch) that the caller lacks the tool's scopes for (its token's,
  // or what the middleware put in AuthInfo::scopes): answered 403 (true). The step-up challenge
  // names every scope the call needs.
  bool tool_scopes_refused(const json& msg) {
    if (!auth_) return false;
    // The tool a message calls, when the token lacks its scopes.
    auto refused = [&](const json& m) -> std::shared_ptr<const Server::Impl::Tool> {
      if (!m.is_object()) return nullptr;
      auto method = m.find("method");
      auto params = m.find("params");
      if (method == m.end() || *method != "tools/call" || params == m.end() || !params->is_object()) return nullptr;
      auto name = params->find("name");
      if (name == params->end() || !name->is_string()) return nullptr;
      auto tool = host_.server->find_tool(name->get_ref<const std::string&>());
      if (!tool || tool->spec.required_scopes.empty()) return nullptr;
      if (missing_scopes(auth_->scopes, tool->spec.required_scopes, host_.opt.auth.scope_hierarchy).empty()) return nullptr;
      return tool;
    };
    std::shared_ptr<const Server::Impl::Tool> tool;
    if (msg.is_array()) {
      for (const auto& m : msg)
        if ((tool = refused(m))) break;
    } else {
      tool = refused(msg);
    }
    if (!tool) return false;
    const auto* needs = &tool->spec.required_scopes;
    std::vector<std::string> scopes = host_.opt.auth.required_scopes;
    for (const auto& s : *needs)
      if (std::find(scopes.begin(), scopes.end(), s) == scopes.end()) scopes.push_back(s);
    challenge(403, "insufficient_scope", scopes,
              host_.opt.auth.validator ? "the access token lacks a scope this tool needs" : "the caller lacks a scope this tool needs");
    return true;
  }

  // Who the request's token speaks for, as a session remembers it ("" without auth).
  std::string principal() const { return sd::principal_of(auth_.get()); }
  // A session by id, if this caller may use it: with auth, only the one who opened it.
  std::shared_ptr<Channel> session(const std::string& id, bool old_sse = false) {
    auto ch = host_.find_session(id, old_sse);
    if (ch && ch->principal != principal()) return nullptr;
    return ch;
  }

  // `old_sse`: a POST to a 2024-11-05 session's message endpoint.
  void handle_post(const Req& req, const std::shared_ptr<Channel>& old_sse = nullptr) {
    const auto type = header_view(req, "Content-Type").value_or("");
    if (!iequals(trim(type.substr(0, type.find(';'))), "application/json"))
      return refuse(415, jsonrpc::invalid_request, "Content-Type must be application/json");
    const auto accept = header_view(req, "Accept");
    const bool json_ok = !accept || accept->empty() || accepts(*accept, "application/json");
    const bool sse_ok = !accept || accept->empty() || accepts(*accept, "text/event-stream");
    if (!json_ok && !sse_ok && !old_sse)
      return refuse(406, jsonrpc::invalid_request, "Accept must admit application/json and text/event-stream");

    detail::JsonRefusal why = detail::JsonRefusal::none;
    json msg = detail::parse_json(req.body, &why, host_.max_values);
    if (msg.is_discarded())
      return refuse(400, jsonrpc::parse_error, "Parse error: the body " + detail::describe(why, host_.max_values));
    if (tool_scopes_refused(msg)) return;
    if (msg.is_array() && !old_sse) return post_batch(req, std::move(msg), json_ok, sse_ok);
    if (msg.is_array()) return refuse(400, jsonrpc::invalid_request, "Invalid Request: batches are not part of 2024-11-05");
    const Checked checked = check_message(msg);
    if (!checked.error.empty()) return refuse(400, jsonrpc::invalid_request, checked.error, checked.reply_id);
    const bool is_response = checked.is_response, is_request = checked.is_request;
    const std::string& method = checked.method;
    const json& reply_id = checked.reply_id;
    json params = msg.contains("params") ? std::move(msg["params"]) : json();
    if (old_sse) return post_old_sse(old_sse, checked, std::move(params), is_response ? std::move(msg) : json());

    // The era of this message (SERVER-SPEC 1.3): the modern `_meta`, or a header that is not a
    // legacy revision, is modern; everything else is legacy.
    const auto version_header = header(req, "MCP-Protocol-Version");
    const json* meta = nullptr;
    if (params.is_object())
      if (auto mt = params.find("_meta"); mt != params.end() && mt->is_object()) meta = &*mt;
    const bool body_modern = meta && meta->contains(sd::kMetaVersion);
    const bool modern = body_modern || method == "server/discover" ||
                        (version_header && !contains(sd::kLegacyVersions, *version_header));
    Exchange ex;
    ex.json_ok = json_ok;
    ex.sse_ok = sse_ok;
    if (modern)
      return post_modern(req, is_request, is_response, method, reply_id, std::move(params), meta, version_header,
                         std::move(ex));
    return post_legacy(req, is_request, is_response, method, reply_id, std::move(params), version_header, std::move(ex),
                       is_response ? std::move(msg) : json());
  }

  // SERVER-SPEC 1.4, the checks only HTTP has (the protocol does the rest).
  void post_modern(const Req& req, bool is_request, bool is_response, const std::string& method, const json& id,
                   json params, const json* meta, const std::optional<std::string>& version_header, Exchange ex) {
    if (is_response)
      return refuse(400, jsonrpc::invalid_request, "Invalid Request: clients send no responses in 2026-07-28", id);
    if (!is_request) return plain(202, "");  // no client notification means anything here (closing a stream cancels)
    const auto version = meta ? meta->find(sd::kMetaVersion) : json::const_iterator();
    if (!meta || version == meta->end() || !version->is_string())
      return refuse(400, jsonrpc::invalid_params, std::string("_meta.") + sd::kMetaVersion + " (a string) is required", id);
    const auto caps = meta->find(sd::kMetaClientCaps);
    if (caps == meta->end() || !caps->is_object())
      return refuse(400, jsonrpc::invalid_params, std::string("_meta.") + sd::kMetaClientCaps + " (an object) is required", id);
    const auto& body_version = version->get_ref<const std::string&>();
    if (!version_header)
      return refuse(400, jsonrpc::header_mismatch, "Header mismatch: the MCP-Protocol-Version header is required", id);
    if (*version_header != body_version)
      return refuse(400, jsonrpc::header_mismatch,
                    "Header mismatch: MCP-Protocol-Version header value '" + *version_header +
                        "' does not match body value '" + body_version + "'",
                    id);
    const auto method_header = header_view(req, "Mcp-Method");
    if (!method_header) return refuse(400, jsonrpc::header_mismatch, "Header mismatch: the Mcp-Method header is required", id);
    if (!header_chars_ok(*method_header))
      return refuse(400, jsonrpc::header_mismatch, "Header mismatch: the Mcp-Method header has invalid characters", id);
    if (*method_header != method)
      return refuse(400, jsonrpc::header_mismatch,
                    "Header mismatch: Mcp-Method header value '" + std::string(*method_header) +
                        "' does not match body value '" + method + "'",
                    id);
    // SEP-2663: the tasks extension's tasks/get, tasks/update and tasks/cancel name their task.
    const char* name_key = (method == "tools/call" || method == "prompts/get") ? "name"
                           : method == "resources/read"                        ? "uri"
                           : (method == "tasks/get" || method == "tasks/update" || method == "tasks/cancel") ? "taskId"
                                                                               : nullptr;
    if (name_key && params.is_object()) {
      const auto body_name = params.find(name_key);
      if (body_name != params.end() && body_name->is_string()) {
        const auto name_header = header_view(req, "Mcp-Name");
        if (!name_header) return refuse(400, jsonrpc::header_mismatch, "Header mismatch: the Mcp-Name header is required", id);
        if (!header_chars_ok(*name_header))
          return refuse(400, jsonrpc::header_mismatch, "Header mismatch: the Mcp-Name header has invalid characters", id);
        // Most names come as they are: compared without a copy; a sentinel is decoded.
        const auto& body_text = body_name->get_ref<const std::string&>();
        if (*name_header != body_text || name_header->substr(0, 9) == "=?base64?") {
          const auto decoded = header_value_decoded(*name_header);
          if (!decoded)
            return refuse(400, jsonrpc::header_mismatch, "Header mismatch: the Mcp-Name header is not valid base64", id);
          if (*decoded != body_text)
            return refuse(400, jsonrpc::header_mismatch,
                          "Header mismatch: Mcp-Name header value '" + std::string(*name_header) +
                              "' does not match body value '" + body_text + "'",
                          id);
        }
      }
    }
    if (method == "tools/call" && params.is_object())
      if (auto why = param_headers_mismatch(req, params); !why.empty()) return refuse(400, jsonrpc::header_mismatch, why, id);
    auto channel = std::make_shared<Channel>(host_.gate);
    ex.modern = true;
    ex.cancel_on_disconnect = true;  // closing the stream is the cancellation (26/basic/patterns/cancellation)
    // Nothing else holds a modern request's channel: it lives as long as its response stream
    // (a subscriptions/listen stream gets its notifications through it).
    stream_channel_ = channel;
    run(channel, id, method, std::move(params), std::move(ex));
  }

  // 2026-07-28 §Custom Headers from Tool Parameters, server side: every argument the tool's
  // schema mirrors (x-mcp-header) must come in its Mcp-Param-{Name} header with the same value,
  // and strictly valid Base64 when encoded; a null or absent argument expects no header. The
  // mismatch (empty: none).
  std::string param_headers_mismatch(const Req& req, const json& params) {
    const auto name = params.find("name");
    if (name == params.end() || !name->is_string()) return {};
    const auto tool = host_.server->find_tool(name->get_ref<const std::string&>());
    if (!tool || tool->param_headers.empty()) return {};
    static const json kNoArguments = json::object();
    const auto args_it = params.find("arguments");
    const json& args = args_it != params.end() && args_it->is_object() ? *args_it : kNoArguments;
    auto expected = detail::param_header_values(tool->param_headers, args);
    if (!expected) return "Header mismatch: " + expected.error();
    for (const auto& p : tool->param_headers) {
      const std::string header_name = "Mcp-Param-" + p.name;
      const auto got = header(req, header_name);
      std::optional<std::string> want;
      for (const auto& [n, v] : *expected)
        if (iequals(n, header_name)) want = header_value_decoded(v);
      if (!want) continue;  // a null or absent argument: no header expected (one sent is ignored)
      if (!got) return "Header mismatch: the " + header_name + " header is required";
      if (!header_chars_ok(*got)) return "Header mismatch: the " + header_name + " header has invalid characters";
      const auto decoded = header_value_decoded(trim(*got));
      if (!decoded) return "Header mismatch: the " + header_name + " header is not valid base64";
      if (*decoded == *want) continue;
      // Integers compare as numbers ("42.0" is 42).
      char* end = nullptr;
      const double a = std::strtod(decoded->c_str(), &end);
      const bool a_num = !decoded->empty() && end && *end == '\0';
      const double b = std::strtod(want->c_str(), &end);
      if (a_num && !want->empty() && end && *end == '\0' && a == b) continue;
      return "Header mismatch: " + header_name + " header value '" + *got + "' does not match body value '" + *want + "'";
    }
    return {};
  }

  void post_legacy(const Req& req, bool is_request, bool is_response, const std::string& method, const json& id,
                   json params, const std::optional<std::string>& version_header, Exchange ex, json response) {
    std::shared_ptr<Channel> channel;
    const auto session_header = header(req, "Mcp-Session-Id");
    if (is_request && method == "initialize") {
      channel = std::make_shared<Channel>(host_.gate);
      if (host_.opt.legacy_sessions) {
        std::string why;
        channel->principal = principal();
        if (const int status = host_.open_session(channel, why)) return refuse(status, jsonrpc::internal_error, why, id);
        ex.headers.emplace_back("Mcp-Session-Id", channel->session_id);
      }
    } else if (host_.opt.legacy_sessions) {
      if (!session_header || session_header->empty())
        return refuse(400, jsonrpc::invalid_request, "Bad Request: the Mcp-Session-Id header is required (send initialize first)", id);
      channel = session(*session_header);
      if (!channel)
        return refuse(404, jsonrpc::invalid_request, "Session not found: it ended or expired; send initialize again", id);
      // An unsupported revision is refused (25/basic/transports §Protocol Version Header); a
      // supported one other than the session's is served at the session's revision (clients
      // and the conformance suite send a fixed older one on some requests).
      if (version_header && !protocol::is_legacy_version(*version_header))
        return refuse(400, jsonrpc::invalid_request,
                      "Bad Request: MCP-Protocol-Version " + *version_header + " is not a revision this server supports", id);
    } else {
      // Sessionless legacy: each message stands alone, at its header's revision.
      channel = std::make_shared<Channel>(host_.gate);
      std::lock_guard lk(channel->m);
      channel->initialized = true;
      channel->legacy_version = version_header.value_or("2025-03-26");
    }
    if (!is_request) {
      // Notifications (initialized, cancelled) go to the protocol; answers to our requests to
      // the client, to the request waiting for them (one nobody waits for any more is dropped).
      if (!is_response) host_.server->notification(channel, method, params);
      else if (channel->requests) channel->requests->receive(std::move(response));
      // A cancelled request gets no answer (25/basic/utilities/cancellation): its POST ends
      // without one rather than waiting for ever.
      if (method == "notifications/cancelled" && params.is_object() && params.contains("requestId"))
        if (auto ex = channel->take(params["requestId"])) host_.gate->post(ex->conn, [ex](Peer& c) { c.drop(ex); });
      return plain(202, "");
    }
    if (host_.opt.json_response) ex.sse_ok = false;
    // Legacy clients cancel with notifications/cancelled and may leave a stream without
    // meaning it (25/basic/transports); without a session nobody else can cancel.
    ex.cancel_on_disconnect = channel->session_id.empty();
    ex.prime = primes(*channel);
    run(channel, id, method, std::move(params), std::move(ex));
  }

  // A 2025-03-26 batch (SERVER-SPEC 3.3.7): in a session (or a sessionless request) at that
  // revision only. Its answers come as one JSON array, or as events once a notification comes.
  void post_batch(const Req& req, json batch, bool json_ok, bool sse_ok) {
    const auto version_header = header(req, "MCP-Protocol-Version");
    std::shared_ptr<Channel> channel;
    std::string version;
    if (host_.opt.legacy_sessions) {
      const auto sid = header(req, "Mcp-Session-Id");
      if (sid && !sid->empty()) {
        channel = session(*sid);
        if (!channel)
          return refuse(404, jsonrpc::invalid_request, "Session not found: it ended or expired; send initialize again");
        std::lock_guard lk(channel->m);
        version = channel->legacy_version;
      }
    } else {
      version = version_header.value_or("2025-03-26");
      channel = std::make_shared<Channel>(host_.gate);
      std::lock_guard lk(channel->m);
      channel->initialized = true;
      channel->legacy_version = version;
    }
    if (!channel || version != "2025-03-26")
      return refuse(400, jsonrpc::invalid_request,
                    "Invalid Request: batches are part of protocol revision 2025-03-26 only" +
                        (version.empty() ? std::string(" (and need a session at it)") : "; this one is at " + version));
    if (batch.empty()) return refuse(400, jsonrpc::invalid_request, "Invalid Request: an empty batch");
    std::vector<Checked> checked;
    for (const auto& m : batch) {
      auto c = check_message(m);
      if (!c.error.empty()) return refuse(400, jsonrpc::invalid_request, c.error + " (in the batch)", c.reply_id);
      if (c.method == "initialize")
        return refuse(400, jsonrpc::invalid_request, "Invalid Request: initialize must not be part of a batch", c.reply_id);
      checked.push_back(std::move(c));
    }
    auto ex = std::make_shared<Exchange>();
    ex->conn = weak_from_this();
    ex->gate = host_.gate;
    ex->channel = channel;
    ex->json_ok = json_ok;
    ex->sse_ok = sse_ok && !host_.opt.json_response;
    ex->cancel_on_disconnect = channel->session_id.empty();
    for (const auto& c : checked)
      if (c.is_request) ex->batch.push_back(c.reply_id);
    if (!ex->batch.empty() && !channel->add_batch(ex))
      return refuse(400, jsonrpc::invalid_request, "Invalid Request: a request id repeats in the batch or is in flight already");
    for (std::size_t i = 0; i < batch.size(); ++i) {
      if (checked[i].is_response) {
        if (channel->requests) channel->requests->receive(std::move(batch[i]));
      } else if (!checked[i].is_request) {
        host_.server->notification(channel, checked[i].method, batch[i].value("params", json()));
      }
    }
    if (ex->batch.empty()) return plain(202, "");
    ex->id = ex->batch.front();
    current_ = ex;
    self_ = shared_from_this();
    watch();
    for (std::size_t i = 0; i < batch.size(); ++i)
      if (checked[i].is_request)
        host_.server->dispatch(channel, checked[i].reply_id, checked[i].method, batch[i].value("params", json()), auth_);
  }

  // 2024-11-05 HTTP+SSE (SERVER-SPEC 3.4): the GET opens a session whose one stream carries
  // everything, starting with the endpoint to POST to; the session ends with the stream.
  void handle_sse_get(const Req& req) {
    if (const auto accept = header(req, "Accept"); accept && !accept->empty() && !accepts(*accept, "text/event-stream"))
      return refuse(406, jsonrpc::invalid_request, "Accept must admit text/event-stream");
    auto channel = std::make_shared<Channel>(host_.gate);
    channel->old_sse = true;
    channel->principal = principal();
    std::string why;
    if (const int status = host_.open_session(channel, why)) return refuse(status, jsonrpc::internal_error, why);
    auto ex = std::make_shared<Exchange>();
    ex->conn = weak_from_this();
    ex->gate = host_.gate;
    ex->channel = channel;
    ex->standalone = true;
    std::string no_prime;
    (void)channel->open_stream(ex, no_prime);  // the session's first and only stream
    current_ = ex;
    self_ = shared_from_this();
    start_sse(*ex);
    send_stream("event: endpoint\ndata: " + host_.opt.sse_message_path + "?sessionId=" + query_encode(channel->session_id) +
                "\n\n");
    watch();
  }

  void handle_sse_post(const Req& req, std::string_view target) {
    const auto sid = query_param(target, "sessionId");
    if (!sid || sid->empty()) return refuse(400, jsonrpc::invalid_request, "Bad Request: the sessionId query parameter is required");
    auto channel = session(*sid, true);
    if (!channel) return refuse(404, jsonrpc::invalid_request, "Session not found: its event stream closed; connect again");
    handle_post(req, channel);
  }

  // A message POSTed to a 2024-11-05 session: accepted (202); what answers it goes on the stream.
  void post_old_sse(const std::shared_ptr<Channel>& channel, const Checked& c, json params, json response) {
    if (c.is_response) {
      if (channel->requests) channel->requests->receive(std::move(response));
      return plain(202, "");
    }
    if (!c.is_request) {
      host_.server->notification(channel, c.method, params);
      if (c.method == "notifications/cancelled" && params.is_object() && params.contains("requestId"))
        (void)channel->take(params["requestId"]);  // a cancelled request gets no answer
      return plain(202, "");
    }
    auto ex = std::make_shared<Exchange>();  // stands for the request; its answer goes on the stream
    ex->conn = weak_from_this();
    ex->gate = host_.gate;
    ex->channel = channel;
    ex->id = c.reply_id;
    if (!channel->add(c.reply_id, ex))
      return refuse(400, jsonrpc::invalid_request, "Invalid Request: a request with this id is in flight already", c.reply_id);
    plain(202, "");
    host_.server->dispatch(channel, c.reply_id, c.method, std::move(params), auth_);
  }

  // Whether the session's streams open with a priming event: 2025-11-25 (older clients may
  // take its empty data for a message).
  bool primes(Channel& channel) {
    if (channel.session_id.empty() || !host_.opt.resumable_streams) return false;
    std::lock_guard lk(channel.m);
    return channel.initialized && channel.legacy_version >= "2025-11-25";
  }

  void run(const std::shared_ptr<Channel>& channel, const json& id, const std::string& method, json params, Exchange ex_value) {
    auto ex = std::make_shared<Exchange>(std::move(ex_value));
    ex->conn = weak_from_this();
    ex->gate = host_.gate;
    ex->channel = channel;
    ex->id = id;
    if (!channel->add(id, ex))
      return refuse(400, jsonrpc::invalid_request, "Invalid Request: a request with this id is in flight already", id);
    current_ = ex;
    self_ = shared_from_this();
    if (host_.opt.sse_poll_retry.count() > 0 && ex->sse_ok)
      if (auto prime_id = channel->prime_now(*ex); !prime_id.empty()) {
        // Polling (2025-11-25): the stream opens, says when to come back, and this connection
        // lets go of it; what follows waits in the event store for the client's GET.
        start_sse(*ex);
        send_stream(priming_event(prime_id, host_.opt.sse_poll_retry));
        ex->done = true;
        send_stream_end();
        channel->detach(ex.get());
        end_exchange();
        host_.server->dispatch(channel, id, method, std::move(params), auth_);
        return;
      }
    watch();
    offer_direct(ex);
    // Answers (even immediate ones) come back through the gate, posted to this strand, or are
    // written by the handler thread where the connection offered it.
    host_.server->dispatch(channel, id, method, std::move(params), auth_);
  }

  void handle_get(const Req& req) {
    const auto version_header = header(req, "MCP-Protocol-Version");
    const auto session_header = header(req, "Mcp-Session-Id");
    if ((version_header && !contains(sd::kLegacyVersions, *version_header)) || !session_header ||
        !host_.opt.legacy_sessions)
      return not_allowed();
    auto channel = session(*session_header);
    if (!channel) return refuse(404, jsonrpc::invalid_request, "Session not found: it ended or expired; send initialize again");
    if (const auto accept = header(req, "Accept"); accept && !accept->empty() && !accepts(*accept, "text/event-stream"))
      return refuse(406, jsonrpc::invalid_request, "Accept must admit text/event-stream");
    auto ex = std::make_shared<Exchange>();
    ex->conn = weak_from_this();
    ex->gate = host_.gate;
    ex->channel = channel;
    ex->standalone = true;
    ex->prime = primes(*channel);
    if (const auto last = header(req, "Last-Event-ID"); last && !last->empty() && host_.opt.resumable_streams)
      return resume(channel, ex, *last);
    std::string prime_id;
    if (!channel->open_stream(ex, prime_id))
      return refuse(409, jsonrpc::invalid_request, "a stream is open for this session already");
    current_ = ex;
    self_ = shared_from_this();
    start_sse(*ex);
    if (!prime_id.empty()) send_stream(priming_event(prime_id));
    watch();
  }

  // GET with Last-Event-ID (SERVER-SPEC 3.3.5): what the stream of that event missed, then the
  // rest of it, or its end.
  void resume(const std::shared_ptr<Channel>& channel, const std::shared_ptr<Exchange>& ex, const std::string& last_id) {
    std::vector<std::pair<std::string, std::string>> events;
    std::shared_ptr<Exchange> replaced;
    const auto r = channel->resume(ex, last_id, events, replaced);
    if (r == Channel::Resume::unknown)
      return refuse(400, jsonrpc::invalid_request,
                    "Bad Request: Last-Event-ID " + last_id +
                        " is not an event of this session that is still kept; open a new stream without it");
    current_ = ex;
    self_ = shared_from_this();
    start_sse(*ex);
    for (const auto& [id, message] : events) send_stream(sse_event(message, id));
    if (r == Channel::Resume::finished) {
      ex->done = true;
      send_stream_end();
      return end_exchange();
    }
    // A connection still carrying the stream (the client gave up on it) lets go.
    if (replaced) host_.gate->post(replaced->conn, [replaced](Peer& c) { c.drop(replaced); });
    watch();
  }

  void handle_delete(const Req& req) {
    const auto session_header = header(req, "Mcp-Session-Id");
    if (!session_header || !host_.opt.legacy_sessions) return not_allowed();
    auto channel = host_.remove_session(*session_header);
    if (!channel) return refuse(404, jsonrpc::invalid_request, "Session not found: it ended or expired");
    host_.end_session(channel);
    plain(200, "");
  }

  // ---------------------------------------------------------------- writing

  void start_sse(Exchange& ex) {
    Headers h = ex.headers;
    h.emplace_back("Cache-Control", "no-cache");
    h.emplace_back("X-Accel-Buffering", "no");
    send_stream_head(h);
    ex.streaming = true;
    arm_heartbeat();
  }

  // A reply that ends the exchange at once (no JSON-RPC request behind it, or a refused one).
  void refuse(int status, int code, std::string message, const json& id = nullptr) {
    send_whole(status, "application/json", {}, serialize(error_message(id, code, std::move(message))));
    end_exchange();
  }
  void plain(int status, std::string_view text) {
    if (status == 202 || status == 200) send_whole(status, {}, {}, {});
    else send_whole(status, "text/plain", {}, text);
    end_exchange();
  }
  void not_allowed(std::string_view allow = {}) {
    if (allow.empty()) allow = host_.opt.legacy_sessions ? "GET, POST, DELETE" : "POST";
    send_whole(405, "text/plain", {{"Allow", std::string(allow)}}, "method not allowed");
    end_exchange();
  }

  void end_exchange() {
    current_.reset();
    stream_channel_.reset();
    self_.reset();  // every caller runs in a handler that holds the connection
    exchange_ended();
  }

  // Comment lines on a quiet event stream (proxies drop idle ones).
  void arm_heartbeat() {
    heartbeat_.expires_after(kHeartbeat);
    heartbeat_.async_wait([self = shared_from_this(), gen = ++heartbeat_gen_](beast::error_code ec) {
      if (ec || gen != self->heartbeat_gen_ || self->closed_) return;
      if (self->current_ && self->current_->streaming && !self->current_->done) {
        self->send_stream(": keep-alive\n\n", true);
        self->arm_heartbeat();
      }
    });
  }

  HttpHost::Impl& host_;
  asio::any_io_executor ex_;
  asio::steady_timer heartbeat_;
  std::uint64_t heartbeat_gen_ = 0;
  std::shared_ptr<Exchange> current_;
  std::shared_ptr<Channel> stream_channel_;  // a modern exchange's channel, while its stream is open
  std::shared_ptr<const AuthInfo> auth_;     // who the current exchange comes from (HttpServerOptions::auth)
  // Held while an exchange waits for its answer: the answer finds the client through a weak
  // pointer. close() lets go; stop() closes every client before the io_context goes.
  std::shared_ptr<Peer> self_;
  bool closed_ = false;
  // The exchange offered to handler threads (offer_direct), and whether one answered it; the
  // descriptor they write to. A handler thread writes only under direct_m_ and while the
  // offer stands, so the strand's close (which ends the offer first) never races a write.
  std::mutex direct_m_;
  std::shared_ptr<Exchange> direct_ex_;
  bool direct_sent_ = false;
  int direct_fd_ = -1;
  bool offered_ = false;  // strand only: an offer may stand
};

// ------------------------------------------------------------------ TLS (HttpServerOptions::tls)

using TlsStream = asio::ssl::stream<tcp::socket>;

// OpenSSL's reason for the last error on this thread (its queue then emptied), or `otherwise`.
std::string ssl_reason(const char* otherwise) {
  const unsigned long e = ERR_peek_last_error();
  const char* r = e ? ERR_reason_error_string(e) : nullptr;
  ERR_clear_error();
  return r ? r : otherwise;
}

std::string x509_name(const X509_NAME* name) {
  std::string out;
  BIO* bio = BIO_new(BIO_s_mem());
  if (!bio) return out;
  if (X509_NAME_print_ex(bio, name, 0, XN_FLAG_RFC2253) >= 0) {
    char* data = nullptr;
    const long n = BIO_get_mem_data(bio, &data);
    if (n > 0 && data) out.assign(data, static_cast<std::size_t>(n));
  }
  BIO_free(bio);
  return out;
}

// What an application may authorize a client by (AuthRequest::client_certificate).
ClientCertificate describe_certificate(X509* cert) {
  ClientCertificate c;
  c.subject = x509_name(X509_get_subject_name(cert));
  c.issuer = x509_name(X509_get_issuer_name(cert));
  if (BIGNUM* bn = ASN1_INTEGER_to_BN(X509_get0_serialNumber(cert), nullptr)) {
    if (char* hex = BN_bn2hex(bn)) {
      c.serial = hex;
      OPENSSL_free(hex);
    }
    BN_free(bn);
  }
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int md_len = 0;
  if (X509_digest(cert, EVP_sha256(), md, &md_len) == 1) {
    static constexpr char kHex[] = "0123456789abcdef";
    for (unsigned int i = 0; i < md_len; ++i) {
      c.sha256_fingerprint += kHex[md[i] >> 4];
      c.sha256_fingerprint += kHex[md[i] & 15];
    }
  }
  if (auto* names = static_cast<GENERAL_NAMES*>(X509_get_ext_d2i(cert, NID_subject_alt_name, nullptr, nullptr))) {
    for (int i = 0; i < sk_GENERAL_NAME_num(names); ++i) {
      const GENERAL_NAME* n = sk_GENERAL_NAME_value(names, i);
      if (n->type != GEN_DNS && n->type != GEN_URI) continue;
      const ASN1_IA5STRING* v = n->type == GEN_DNS ? n->d.dNSName : n->d.uniformResourceIdentifier;
      std::string text(reinterpret_cast<const char*>(ASN1_STRING_get0_data(v)), static_cast<std::size_t>(ASN1_STRING_length(v)));
      (n->type == GEN_DNS ? c.dns_names : c.uris).push_back(std::move(text));
    }
    GENERAL_NAMES_free(names);
  }
  return c;
}

// What a client that sent plain HTTP to the TLS port reads (before the connection closes).
constexpr std::string_view kPlainHttpRefusal =
    "HTTP/1.1 400 Bad Request\r\nContent-Type: text/plain\r\nContent-Length: 52\r\nConnection: close\r\n\r\n"
    "This server speaks HTTPS only: use an https:// URL.\n";

// One TCP connection of the host's own listener (plain, or TLS: Stream is tcp::socket or
// TlsStream): one HTTP request at a time, on its own strand.
template <class Stream>
class BeastConn final : public Peer {
  static constexpr bool kTls = std::is_same_v<Stream, TlsStream>;

 public:
  BeastConn(HttpHost::Impl& host, tcp::socket sock)
    requires(!kTls)
      : Peer(host, sock.get_executor()), stream_(std::move(sock)), timer_(stream_.get_executor()) {}
  BeastConn(HttpHost::Impl& host, tcp::socket sock, asio::ssl::context& ctx)
    requires(kTls)
      : Peer(host, sock.get_executor()), stream_(std::move(sock), ctx), timer_(stream_.get_executor()) {}

  void start() {
    if (host_.stopping) return close();
    if constexpr (kTls) {
      // A client that connects and never finishes its handshake is closed (the idle timer).
      arm(host_.opt.tls->handshake_timeout, Timer::idle);
      stream_.async_handshake(asio::ssl::stream_base::server,
                              [self = self()](beast::error_code ec) { self->on_handshake(ec); });
    } else {
      read_request();
    }
  }

 private:
  std::shared_ptr<BeastConn> self() { return std::static_pointer_cast<BeastConn>(shared_from_this()); }

  tcp::socket& socket() {
    if constexpr (kTls) return stream_.next_layer();
    else return stream_;
  }

  // ---------------------------------------------------------------- TLS

  void on_handshake(beast::error_code ec) {
    if (closed_) return;
    if (ec) {
      if (ec.category() == asio::error::get_ssl_category()) {
        // Plain HTTP on the TLS port: say so in plain HTTP, then close.
        if (ERR_GET_REASON(static_cast<unsigned long>(ec.value())) == SSL_R_HTTP_REQUEST) return refuse_plain_http();
        // Why a client could not connect (its certificate refused, no common version ...):
        // OpenSSL's reason only, never key material.
        host_.server->diagnose("HTTP: a TLS handshake failed: " + ec.message());
      }
      return close();
    }
    if constexpr (kTls) {
      SSL* ssl = stream_.native_handle();
      if (X509* cert = SSL_get_peer_certificate(ssl)) {
        if (SSL_get_verify_result(ssl) == X509_V_OK) cert_ = describe_certificate(cert);
        X509_free(cert);
      }
    }
    read_request();
  }

  void refuse_plain_http() {
    plain_refusal_ = true;
    writing_ = true;
    asio::async_write(socket(), asio::buffer(kPlainHttpRefusal.data(), kPlainHttpRefusal.size()),
                      [self = self()](beast::error_code ec, std::size_t) {
                        self->writing_ = false;
                        if (ec) return self->close();
                        self->finish_close();
                      });
  }

  const ClientCertificate* client_certificate() const override { return cert_ ? &*cert_ : nullptr; }

  // ---------------------------------------------------------------- reading requests

  void read_request() {
    if (closed_) return;
    arm(host_.opt.connection_idle_timeout, Timer::idle);
    if (reading_) {  // the read watching the last request is still out: it continues here
      read_next_ = true;
      return;
    }
    parser_.emplace();
    parser_->header_limit(kHeaderLimit);
    parser_->body_limit(host_.opt.max_body_bytes);
    parser_->eager(true);
    parse_buffered();
  }

  // Parses what the buffer holds; reads more while the request is not complete. A request
  // complete in the buffer (the watching read brought it) is handled at once when the caller
  // runs at the top of a completion on the strand (sync_ok_), else posted, as a read's
  // completion would be: never handled inside the handling of another.
  void parse_buffered() {
    beast::error_code ec;
    while (buf_.size() > 0) {
      const auto used = parser_->put(buf_.data(), ec);
      buf_.consume(used);
      if (ec == http::error::need_more) {
        ec = {};
        break;
      }
      if (ec || parser_->is_done()) return request_read(ec);
      if (used == 0) break;
    }
    // Like Beast's reads: up to 64 KiB at a time, at least 512 bytes.
    const std::size_t room = buf_.capacity() - buf_.size();
    const std::size_t size = std::min<std::size_t>(std::max<std::size_t>(room, 512), 65536);
    reading_ = true;
    stream_.async_read_some(buf_.prepare(size), [self = self()](beast::error_code ec, std::size_t n) {
      self->reading_ = false;
      self->buf_.commit(n);
      if (self->closed_) return;
      if (self->lingering_) return self->linger();
      if (ec == asio::error::eof) {
        if (!self->parser_->got_some()) return self->on_read(http::error::end_of_stream);
        ec = {};
        self->parser_->put_eof(ec);  // a request cut short: partial_message
        return self->on_read(ec);
      }
      if (ec) return self->on_read(ec);
      self->sync_ok_ = true;
      self->parse_buffered();
      self->sync_ok_ = false;
    });
  }
  void request_read(beast::error_code ec) {
    if (sync_ok_) {
      sync_ok_ = false;
      return on_read(ec);
    }
    reading_ = true;
    asio::post(executor(), [self = self(), ec] {
      self->reading_ = false;
      if (self->closed_) return;
      if (self->lingering_) return self->linger();
      self->on_read(ec);
    });
  }

  void on_read(beast::error_code ec) {
    sync_ok_ = false;
    if (ec) {
      keep_alive_ = false;
      if (ec == http::error::body_limit)
        return refuse(413, jsonrpc::invalid_request,
                      "the body is larger than " + std::to_string(host_.opt.max_body_bytes) + " bytes");
      if (ec == http::error::header_limit) return plain(431, "request headers too large");
      if (ec.category() == http::make_error_code(http::error::bad_target).category() && ec != http::error::end_of_stream &&
          ec != http::error::partial_message)
        return plain(400, "malformed HTTP request");
      return close();
    }
    arm({}, Timer::none);
    keep_alive_ = parser_->keep_alive();
    chunked_ = parser_->version >= 11;
    if (!chunked_) keep_alive_ = false;  // HTTP/1.0: streams end with the connection
    Req req = std::move(parser_->req);
    parser_.reset();
    // A long-lived connection (an open stream) keeps no memory of one large request.
    if (buf_.size() == 0 && buf_.capacity() > 64 * 1024) buf_.shrink_to_fit();
    handle(req);
  }

  // While a request waits for its answer, one read stays out: it sees the client leave.
  void watch() override {
    // Bytes of a pipelined next request already here: the client is there, nothing to watch.
    if (reading_ || closed_ || buf_.size() > 0) return;
    reading_ = true;
    stream_.async_read_some(buf_.prepare(4096), [self = self()](beast::error_code ec, std::size_t n) {
      self->on_watch(ec, n);
    });
  }

  void on_watch(beast::error_code ec, std::size_t n) {
    reading_ = false;
    if (closed_) return;
    if (lingering_) return linger();
    if (ec) {
      // The client closed or reset the connection.
      return close();
    }
    buf_.commit(n);
    // A handler thread answered (answer_direct): the next request is here, or being read.
    // It is handled at once (this is the top of a completion), not posted first.
    if (direct_answered()) {
      sync_ok_ = true;
      end_exchange();
      sync_ok_ = false;
      return;
    }
    // The client pipelined its next request: it is still there. Stop watching, so that the
    // next request is parsed from the buffer as soon as this exchange ends.
    if (read_next_) {
      read_next_ = false;
      sync_ok_ = true;
      read_request();
      sync_ok_ = false;
    }
  }


  // ---------------------------------------------------------------- writing

  // The status line and headers of a response, appended to `s`.
  void append_head(std::string& s, int status, std::string_view content_type, std::optional<std::size_t> length,
                   const Headers& extra = {}) {
    char num[24];
    s += "HTTP/1.1 ";
    s.append(num, std::to_chars(num, num + sizeof num, status).ptr);
    s += ' ';
    const auto reason = http::obsolete_reason(http::int_to_status(static_cast<unsigned>(status)));
    s.append(reason.data(), reason.size());
    s += "\r\n";
    if (!content_type.empty()) {
      s += "Content-Type: ";
      s += content_type;
      s += "\r\n";
    }
    if (length) {
      s += "Content-Length: ";
      s.append(num, std::to_chars(num, num + sizeof num, *length).ptr);
      s += "\r\n";
    }
    for (const auto& [k, v] : extra) {
      s += k;
      s += ": ";
      s += v;
      s += "\r\n";
    }
    if (!keep_alive_) s += "Connection: close\r\n";
    s += "\r\n";
  }
  // Room for a head with `extra` headers and a body of `body` bytes.
  static std::size_t head_room(const Headers& extra, std::size_t body) {
    std::size_t n = 128 + body;
    for (const auto& [k, v] : extra) n += k.size() + v.size() + 4;
    return n;
  }
  std::string head(int status, std::string_view content_type, std::optional<std::size_t> length, const Headers& extra = {}) {
    std::string s;
    s.reserve(head_room(extra, 0));
    append_head(s, status, content_type, length, extra);
    return s;
  }

  void send_whole(int status, std::string_view content_type, const Headers& extra, std::string_view body) override {
    std::string bytes;
    bytes.reserve(head_room(extra, body.size()));
    append_head(bytes, status, content_type, body.size(), extra);
    bytes.append(body.data(), body.size());
    enqueue(std::move(bytes));
  }
  void send_stream_head(const Headers& extra) override {
    Headers h = extra;
    if (chunked_) h.emplace_back("Transfer-Encoding", "chunked");
    enqueue(head(200, "text/event-stream", std::nullopt, h));
  }
  void send_stream(std::string bytes, bool optional) override {
    if (closed_) return;
    std::string framed = chunked_ ? chunk(bytes) : std::move(bytes);
    if (out_bytes_ + framed.size() > host_.opt.max_stream_queue_bytes) {
      if (optional) return;
      host_.server->diagnose("HTTP: a client reads its event stream too slowly; the stream was dropped");
      return close();
    }
    enqueue(std::move(framed));
  }
  void send_stream_end() override {
    if (chunked_) enqueue("0\r\n\r\n");
  }
  void exchange_ended() override {
    if (!keep_alive_) {
      close_after_ = true;
      if (!writing_) finish_close();
      return;
    }
    read_request();
  }

  void enqueue(std::string bytes) {
    if (closed_) return;
    out_bytes_ += bytes.size();
    out_.push_back(std::move(bytes));
    if (!writing_) write_next();
  }

  void write_next() {
    if (closed_) return;
    if (out_.empty()) {
      writing_ = false;
      if (close_after_) finish_close();
      return;
    }
    writing_ = true;
    asio::async_write(stream_, asio::buffer(out_.front()), [self = self()](beast::error_code ec, std::size_t) {
      if (ec) {
        self->writing_ = false;
        return self->close();
      }
      self->out_bytes_ -= self->out_.front().size();
      self->out_.pop_front();
      self->write_next();
    });
  }

  // Everything is written and the connection ends: half-close, then read what the client may
  // still send for a while, so that our last response is not lost to a reset. Over TLS: our
  // close_notify, then the client's awaited for HttpTlsOptions::shutdown_timeout at most.
  void finish_close() {
    if (closed_ || lingering_) return;
    lingering_ = true;
    if constexpr (kTls) {
      if (!plain_refusal_) {
        arm(host_.opt.tls->shutdown_timeout, Timer::linger);
        stream_.async_shutdown([self = self()](beast::error_code) { self->close(); });
        return;
      }
    }
    beast::error_code ignored;
    socket().shutdown(tcp::socket::shutdown_send, ignored);
    arm(kLinger, Timer::linger);
    if (!reading_) linger();
  }
  void linger() {
    buf_.consume(buf_.size());
    if constexpr (kTls) {
      // A read that was out when the TLS shutdown began: the shutdown (or its timer) ends it.
      if (!plain_refusal_) return;
    }
    reading_ = true;
    socket().async_read_some(buf_.prepare(16384), [self = self()](beast::error_code ec, std::size_t) {
      self->reading_ = false;
      if (ec || self->closed_) return self->close();
      self->linger();
    });
  }

  // Offered when nothing else can go out on the connection until the answer: a plain TCP
  // keep-alive connection answering with JSON, nothing being written, and the watching read
  // out (whose completion, the client's next request or its leaving, settles the exchange on
  // the strand). The idle deadline runs meanwhile, so that a connection whose answer went
  // out this way still times out; while the answer is not there it only waits again.
  void offer_direct(const std::shared_ptr<Exchange>& ex) override {
    if constexpr (!kTls) {
      if (closed_ || !reading_ || read_next_ || !keep_alive_ || !chunked_ || writing_ || !out_.empty() ||
          !ex->json_ok || ex->streaming)
        return;
      {
        std::lock_guard lk(direct_m_);
        direct_ex_ = ex;
        direct_sent_ = false;
        direct_fd_ = socket().native_handle();
      }
      offered_ = true;
      ex->direct = true;
      arm(host_.opt.connection_idle_timeout, Timer::idle);
    } else {
      (void)ex;
    }
  }

  // A handler thread (any thread): the answer goes out with a non-blocking send; what does
  // not fit in the socket's buffer now is handed to the strand, which writes it in order.
  bool answer_direct(const std::shared_ptr<Exchange>& ex, const std::string& text, int status) override {
    if constexpr (!kTls) {
      std::unique_lock lk(direct_m_);
      if (direct_ex_ != ex || direct_sent_) return false;
      std::string bytes;
      bytes.reserve(head_room(ex->headers, text.size()));
      append_head(bytes, status, "application/json", text.size(), ex->headers);
      bytes += text;
      std::size_t off = 0;
      while (off < bytes.size()) {
        const ssize_t n = ::send(direct_fd_, bytes.data() + off, bytes.size() - off, MSG_DONTWAIT | MSG_NOSIGNAL);
        if (n > 0) off += static_cast<std::size_t>(n);
        else if (n < 0 && errno == EINTR) continue;
        else break;
      }
      if (off == bytes.size()) {
        direct_sent_ = true;
        return true;
      }
      direct_ex_.reset();  // the strand takes it from here
      lk.unlock();
      bytes.erase(0, off);
      asio::post(executor(), [self = self(), ex, rest = std::move(bytes)]() mutable {
        if (self->closed_ || ex != self->current_ || ex->done) return;
        ex->done = true;
        self->enqueue(std::move(rest));
        self->end_exchange();
      });
      return true;
    } else {
      (void)ex, (void)text, (void)status;
      return false;
    }
  }

  void close_io() override {
    timer_.cancel();
    beast::error_code ignored;
    socket().shutdown(tcp::socket::shutdown_both, ignored);
    socket().close(ignored);
  }

  // ---------------------------------------------------------------- one timer per connection

  // The deadline is a member; the timer's wait is not moved with it on every request (a
  // keep-alive connection re-arms its idle deadline twice per request): a wait that ends
  // before the deadline waits again for the rest, one that ends with no deadline just ends.
  // Only a deadline earlier than the wait out (lingering) restarts the wait.
  enum class Timer { none, idle, linger };
  void arm(std::chrono::steady_clock::duration d, Timer mode) {
    using Clock = std::chrono::steady_clock;
    if (mode == Timer::none) {
      deadline_ = Clock::time_point::max();
      return;
    }
    const auto now = Clock::now();
    deadline_ = d < Clock::time_point::max() - now ? now + d : Clock::time_point::max() - Clock::duration(1);
    if (!timer_waiting_ || timer_.expiry() > deadline_) wait_timer();
  }
  void wait_timer() {
    timer_waiting_ = true;
    timer_.expires_at(deadline_);
    timer_.async_wait([self = self(), gen = ++timer_gen_](beast::error_code ec) {
      if (gen != self->timer_gen_) return;  // replaced by a wait for an earlier deadline
      self->timer_waiting_ = false;
      if (ec || self->closed_ || self->deadline_ == std::chrono::steady_clock::time_point::max()) return;
      if (std::chrono::steady_clock::now() < self->deadline_) return self->wait_timer();
      if (self->offered_) {  // an exchange offered to handler threads (offer_direct)
        self->settle_direct();  // answered: the next request is awaited, its idle deadline armed anew
        if (self->closed_ || self->timer_waiting_) return;
        // Still waiting for its answer (posted to the strand from now on): no idle deadline meanwhile.
        if (self->current_ && !self->current_->done) return self->arm({}, Timer::none);
      }
      self->close();  // idle, or lingered long enough
    });
  }

  Stream stream_;
  asio::steady_timer timer_;
  std::optional<ClientCertificate> cert_;  // the client's verified certificate (mTLS)
  bool plain_refusal_ = false;             // a TLS port's answer to plain HTTP: no TLS to shut down
  std::uint64_t timer_gen_ = 0;
  std::chrono::steady_clock::time_point deadline_ = std::chrono::steady_clock::time_point::max();
  bool timer_waiting_ = false;
  beast::flat_buffer buf_;
  std::optional<ReqParser> parser_;
  bool sync_ok_ = false;  // at the top of a completion on the strand: a buffered request is handled at once
  bool keep_alive_ = true;
  bool chunked_ = true;
  bool reading_ = false;
  bool read_next_ = false;
  std::deque<std::string> out_;
  std::size_t out_bytes_ = 0;
  bool writing_ = false;
  bool close_after_ = false;
  bool lingering_ = false;
};

// One exchange an application's HTTP server handed over (HttpHost::serve): the response goes
// to the application's sink, called on this strand only; the application says when its client
// leaves (the function serve() returns). start() once, write() any number of times, end() once:
// always, also when the client left or the host stops.
class MountedConn final : public Peer {
 public:
  MountedConn(HttpHost::Impl& host, std::shared_ptr<HttpResponseSink> sink)
      : Peer(host, asio::make_strand(host.ioc)), sink_(std::move(sink)) {}
  ~MountedConn() override {
    // Never run (the host's threads were stopped with it queued): the sink still gets its end.
    if (!ended_) {
      if (!started_) sink_start(503, {{"Content-Type", "text/plain"}}, false), sink_write("the server is stopping");
      sink_end();
    }
  }

  void begin(Req req) {
    if (closed_) return;
    if (host_.stopping) return close();
    if (req.body.size() > host_.opt.max_body_bytes)
      return refuse(413, jsonrpc::invalid_request,
                    "the body is larger than " + std::to_string(host_.opt.max_body_bytes) + " bytes");
    handle(req);
  }

 private:
  void send_whole(int status, std::string_view content_type, const Headers& extra, std::string_view body) override {
    if (closed_ || started_) return;
    Headers h;
    if (!content_type.empty()) h.emplace_back("Content-Type", std::string(content_type));
    h.insert(h.end(), extra.begin(), extra.end());
    sink_start(status, h, false);
    if (!body.empty()) sink_write(body);
    sink_end();
  }
  void send_stream_head(const Headers& extra) override {
    if (closed_ || started_) return;
    Headers h{{"Content-Type", "text/event-stream"}};
    h.insert(h.end(), extra.begin(), extra.end());
    sink_start(200, h, true);
  }
  void send_stream(std::string bytes, bool) override {
    if (closed_ || !started_ || ended_) return;
    if (!sink_write(bytes)) close();  // the client left, or reads too slowly for the sink
  }
  void send_stream_end() override {
    if (!closed_ && started_) sink_end();
  }
  void exchange_ended() override {}  // one exchange per MountedConn
  void watch() override {}           // the application tells (serve()'s function)
  void close_io() override {
    if (ended_) return;
    // No answer for it (cancelled, its session ended, the host stops): a response still.
    if (!started_) {
      sink_start(503, {{"Content-Type", "text/plain"}}, false);
      sink_write("no answer: the request was cancelled, its session ended, or the server is stopping");
    }
    sink_end();
  }

  // The application's sink; what it throws counts as a client gone.
  void sink_start(int status, const Headers& h, bool stream) {
    started_ = true;
    try {
      sink_->start(status, h, stream);
    } catch (...) {
      failed_ = true;
    }
  }
  bool sink_write(std::string_view bytes) {
    if (failed_) return false;
    try {
      return sink_->write(bytes) || (failed_ = true, false);
    } catch (...) {
      return failed_ = true, false;
    }
  }
  void sink_end() {
    if (ended_) return;
    ended_ = true;
    try {
      sink_->end();
    } catch (...) {
    }
  }

  std::shared_ptr<HttpResponseSink> sink_;
  bool started_ = false, ended_ = false, failed_ = false;
};


template <class F>
bool Gate::post(const std::weak_ptr<Peer>& conn, F fn) {
  std::shared_lock lk(m);
  if (!open) return false;
  auto c = conn.lock();
  if (!c) return false;
  auto ex = c->executor();
  asio::post(ex, [c = std::move(c), fn = std::move(fn)]() mutable { fn(*c); });
  return true;
}

bool Gate::answer_direct(const std::shared_ptr<Exchange>& ex, const std::string& text, int status) {
  std::shared_lock lk(m);
  if (!open) return true;
  auto c = ex->conn.lock();
  if (!c) return true;
  // `c` is let go under the gate: if it is the last owner, the connection ends while the
  // io_context still lives.
  return c->answer_direct(ex, text, status);
}

bool Channel::close_stream(const json& about, std::chrono::milliseconds retry) {
  std::shared_ptr<Exchange> ex;
  {
    std::lock_guard lk(xm_);
    if (session_id.empty() || !store) return false;  // nothing could be resumed
    auto it = pending_.find(key_of(about));
    if (it == pending_.end() || !it->second->attached || !it->second->prime) return false;
    ex = it->second;
    ex->direct = false;  // its answer follows the stream's end (let_go), on the strand
  }
  gate_->post(ex->conn, [ex, retry](Peer& c) { c.let_go(ex, retry); });
  return true;
}

void Channel::respond(const json& id, Result<json> r) {
  std::unique_lock lk(xm_);  // the answer is kept and sent in the order of the stream's events
  auto it = pending_.find(key_of(id));
  if (it == pending_.end()) return;  // the client left, or the session ended
  auto ex = std::move(it->second);
  pending_.erase(it);
  int status = 200;
  std::string text;
  // Room for the message around the result (a result written already: its size is known).
  if (r) text.reserve(64 + (detail::is_raw_json(*r) ? detail::raw_json_text(*r).size() : 448));
  if (!r || !sd::append_result_message(text, id, *r)) {  // an error, or a result too deep to write (serialize() says so)
    json msg{{"jsonrpc", "2.0"}, {"id", id}};
    if (r) {
      msg["result"] = r->is_null() ? json::object() : std::move(*r);
    } else {
      const int code = r.error().rpc_code.value_or(jsonrpc::internal_error);
      json err{{"code", code}, {"message", r.error().message}};
      if (!r.error().data.is_null()) err["data"] = r.error().data;
      msg["error"] = std::move(err);
      if (ex->modern) status = modern_status(code);
    }
    text = serialize(msg);
  }
  if (old_sse) {  // 2024-11-05: every answer on the session's one stream
    if (stream_) send_event(stream_, std::move(text));
    return;
  }
  if (!ex->batch.empty()) {
    // A batch answers with one JSON array when all are in, or with an event per answer.
    const bool last = --ex->batch_left == 0;
    if (ex->sse || !ex->json_ok) {
      if (!last) return send_event(ex, std::move(text));
      ex->sse = true;
      std::string event_id = keep(*ex, text);  // the last answer ends the stream
      gate_->post(ex->conn, [ex, text = std::move(text), event_id = std::move(event_id)](Peer& c) {
        c.answer(ex, text, 200, event_id);
      });
      return;
    }
    ex->batch_answers.push_back(std::move(text));
    if (!last) return;
    std::string all = "[";
    for (const auto& a : ex->batch_answers) all += (all.size() > 1 ? "," : "") + a;
    all += "]";
    gate_->post(ex->conn, [ex, all = std::move(all)](Peer& c) { c.answer(ex, all, 200, {}); });
    return;
  }
  if (ex->direct && !ex->sse) {
    // No event went out on it, and no longer registered, nothing else reaches it: the
    // handler thread writes the answer itself where the connection still offers it.
    lk.unlock();
    if (gate_->answer_direct(ex, text, status)) return;
    gate_->post(ex->conn, [ex, text = std::move(text), status](Peer& c) { c.answer(ex, text, status, {}); });
    return;
  }
  std::string event_id = ex->sse || !ex->json_ok ? keep(*ex, text) : std::string();
  gate_->post(ex->conn, [ex, text = std::move(text), status, event_id = std::move(event_id)](Peer& c) {
    c.answer(ex, text, status, event_id);
  });
}

void Channel::send_event(const std::shared_ptr<Exchange>& ex, std::string text) {
  if (ex->sse) return post_event(ex, std::move(text), {});
  ex->sse = true;
  std::string prime_id = ex->prime ? keep(*ex, "") : std::string();
  // A batch turning into a stream: the answers held for its array go first, as events.
  auto held = std::move(ex->batch_answers);
  ex->batch_answers.clear();
  held.push_back(std::move(text));
  for (auto& t : held) {
    post_event(ex, std::move(t), std::move(prime_id));
    prime_id.clear();
  }
}

void Channel::post_event(const std::shared_ptr<Exchange>& ex, std::string text, std::string prime_id) {
  std::string id = keep(*ex, text);
  gate_->post(ex->conn, [ex, text = std::move(text), id = std::move(id), prime_id = std::move(prime_id)](Peer& c) {
    c.event(ex, text, id, prime_id);
  });
}

Result<void> Channel::notify(const json& about, const std::string& method, json params) {
  std::lock_guard lk(xm_);
  std::shared_ptr<Exchange> ex;
  if (about.is_null()) {
    ex = stream_;
  } else if (auto it = pending_.find(key_of(about)); it != pending_.end()) {
    ex = it->second;
  }
  if (old_sse && ex) ex = stream_;  // 2024-11-05: one stream for everything
  // No stream to carry it: the request is gone, or its client takes JSON only.
  if (!ex || (!ex->standalone && !ex->sse_ok)) return {};
  send_event(ex, serialize(json{{"jsonrpc", "2.0"}, {"method", method}, {"params", std::move(params)}}));
  return {};
}

Result<json> Channel::request(const json& about, const std::string& method, json params, std::stop_token stop,
                              std::chrono::steady_clock::time_point deadline) {
  if (!requests)
    return fail(Errc::invalid_argument, method +
                                            ": this client has no session (HttpServerOptions::legacy_sessions is "
                                            "off), so its answer could not find this request");
  struct Writer final : ClientRequests::RequestWriter {
    Channel& channel;
    const json& about;
    const std::string& method;
    Writer(Channel& c, const json& a, const std::string& m) : channel(c), about(a), method(m) {}
    Result<void> write(const json& message) override { return channel.send_request(about, method, message); }
  } writer(*this, about, method);
  auto engine = requests;
  auto pending = engine->send_lent(method, params, deadline, {}, writer);
  if (!pending) return fail(std::move(pending.error()));
  return engine->wait(*pending, deadline, stop);
}

Result<void> Channel::send_request(const json& about, const std::string& method, const json& message) {
  std::lock_guard lk(xm_);
  std::shared_ptr<Exchange> ex;
  if (auto it = pending_.find(key_of(about)); it != pending_.end() && it->second->sse_ok && !old_sse) ex = it->second;
  else ex = stream_;
  if (!ex)
    return fail(Errc::invalid_argument,
                method +
                    ": no stream to send it on: the request's POST takes JSON only (or the host answers JSON "
                    "only) and the client has no GET stream open");
  if (auto id = message.find("id"); id != message.end() && id->is_number_integer()) ex->asks.push_back(id->get<std::int64_t>());
  send_event(ex, serialize(message));
  return {};
}

Result<void> ClientRequests::write(const json& message, Clock::time_point) {
  return channel_.notify(nullptr, message.value("method", std::string()), message.value("params", json()));
}

}  // namespace

// ------------------------------------------------------------------ host

bool HttpHost::Impl::host_allowed(std::string_view host) const {
  if (opt.allowed_hosts.empty()) return any_host || is_loopback_name(host_name(host));
  for (const auto& allowed : opt.allowed_hosts) {
    if (iequals(allowed, host)) return true;
    if (host_name(allowed) == allowed && iequals(allowed, host_name(host))) return true;  // a name: any port
  }
  return false;
}

bool HttpHost::Impl::origin_allowed(std::string_view origin) const {
  if (!opt.allowed_origins.empty()) {
    for (const auto& allowed : opt.allowed_origins)
      if (allowed == "*" || iequals(allowed, origin)) return true;
    return false;
  }
  std::string_view rest;
  if (origin.substr(0, 7) == "http://") rest = origin.substr(7);
  else if (origin.substr(0, 8) == "https://") rest = origin.substr(8);
  else return false;
  if (rest.find('/') != std::string_view::npos) return false;
  return is_loopback_name(host_name(rest));
}

void HttpHost::Impl::accept() {
  acceptor->async_accept(asio::make_strand(ioc), [this](beast::error_code ec, tcp::socket sock) {
    if (ec == asio::error::operation_aborted || stopping) return;
    if (!ec) {
      beast::error_code ignored;
      sock.set_option(tcp::no_delay(true), ignored);
      const auto run = [this](auto c) {
        {
          std::lock_guard lk(m);
          conns.emplace(c.get(), c);
        }
        asio::post(c->executor(), [c] { c->start(); });
      };
      if (tls) run(std::make_shared<BeastConn<TlsStream>>(*this, std::move(sock), *tls));
      else run(std::make_shared<BeastConn<tcp::socket>>(*this, std::move(sock)));
    } else {
      server->diagnose("HTTP: accepting a connection failed: " + ec.message());
      // Out of descriptors (or worse): wait a little instead of spinning on the same failure.
      accept_retry->expires_after(100ms);
      accept_retry->async_wait([this](beast::error_code e) {
        if (!e && !stopping) accept();
      });
      return;
    }
    accept();
  });
}

void HttpHost::Impl::arm_sweep() {
  const auto period = std::clamp<std::chrono::milliseconds>(opt.session_idle_timeout / 4, 10ms, 60s);
  sweep->expires_after(period);
  sweep->async_wait([this](beast::error_code ec) {
    if (ec || stopping) return;
    expire_sessions();
    arm_sweep();
  });
}

void HttpHost::Impl::expire_sessions() {
  std::vector<std::shared_ptr<Channel>> expired;
  const long long now = now_ms();
  {
    std::lock_guard lk(m);
    for (auto it = sessions.begin(); it != sessions.end();) {
      auto& ch = it->second;
      if (ch->busy()) {
        ch->last_used = now;  // idle time counts from the end of its last work
      } else if (now - ch->last_used >= opt.session_idle_timeout.count()) {
        expired.push_back(std::move(ch));
        it = sessions.erase(it);
        continue;
      }
      ++it;
    }
  }
  for (auto& ch : expired) end_session(ch);
  const auto ended = expired.size();
  expired.clear();  // what only the table held is freed here, before the trim
  if (ended) server->prune_connections();
  trim_after(ended);
}

// glibc keeps what freed sessions took in its arenas, where what is freed is scattered among
// what lives on: after sweeps that ended many sessions, hand it back to the system (10,000
// expired sessions: RSS 27.6 MB at the peak, 12.1 MB after, 10.9 MB before). On a blocking
// worker: a trim walks the heap (milliseconds for a large one).
void HttpHost::Impl::trim_after(std::size_t ended) {
#if defined(__GLIBC__)
  static constexpr std::size_t kTrimAfterSessions = 64;
  ended_since_trim += ended;
  if (ended_since_trim < kTrimAfterSessions) return;
  ended_since_trim = 0;
  detail::AsyncService::instance().run_blocking([] { malloc_trim(0); });
#else
  (void)ended;
#endif
}

int HttpHost::Impl::open_session(const std::shared_ptr<Channel>& ch, std::string& why) {
  const auto refused = [&]() -> int {  // under m
    if (stopping) {
      why = "cannot open a session: the server is stopping";
      return 503;
    }
    if (sessions.size() >= opt.max_sessions) {
      why = "cannot open a session: " + std::to_string(opt.max_sessions) + " are open already (the server's limit); try again later";
      return 503;
    }
    return 0;
  };
  {
    std::lock_guard lk(m);
    if (const int status = refused()) return status;
  }
  std::string id;
  if (opt.session_id_generator) {
    try {
      id = opt.session_id_generator();
    } catch (...) {
      id.clear();
    }
    if (!valid_session_id(id)) {
      why = "cannot open a session: the session id generator made an invalid id (1 to 256 visible ASCII characters)";
      return 500;
    }
  } else if ((id = random_session_id()).empty()) {
    why = "cannot open a session now: no randomness for its id";
    return 503;
  }
  ch->session_id = id;
  ch->requests = std::make_shared<ClientRequests>(*ch, server->diagnostics);
  if (opt.resumable_streams && !ch->old_sse) {
    try {
      ch->store = opt.event_store ? opt.event_store(id)
                                  : make_memory_event_store(opt.event_store_max_bytes, opt.event_store_max_events);
    } catch (...) {
      ch->store.reset();  // the application's factory failed: this session's streams are not resumable
    }
  }
  {
    std::lock_guard lk(m);
    if (const int status = refused()) return status;
    ch->last_used = now_ms();
    if (!sessions.emplace(id, ch).second) {
      why = "cannot open a session: the session id generator made an id in use";
      return 500;
    }
  }
  server->add_connection(ch);
  if (opt.on_session_start) {
    try {
      opt.on_session_start(id);
    } catch (...) {
      server->diagnose("HTTP: on_session_start threw; the session goes on");
    }
  }
  return 0;
}

void HttpHost::Impl::end_session(const std::shared_ptr<Channel>& ch) {
  Server::Impl::close(*ch);
  ch->end();
  for (auto& ex : ch->take_all()) gate->post(ex->conn, [ex](Peer& c) { c.drop(ex); });
}

HttpHost::HttpHost(Server& server, HttpServerOptions options)
    : impl_(std::make_shared<Impl>(server.impl_, std::move(options))) {}

HttpHost::~HttpHost() { stop(); }

unsigned short HttpHost::port() const { return impl_->port; }

std::size_t HttpHost::session_count() const {
  std::lock_guard lk(impl_->m);
  return impl_->sessions.size();
}

// The options' checks, shared by start() and start_mounted().
Result<void> HttpHost::Impl::check_options() {
  if (started) return fail(Errc::invalid_config, "this HTTP host was started already");
  if (opt.path.empty() || opt.path.front() != '/') return fail(Errc::invalid_config, "the endpoint path must start with '/'");
  if (!opt.sse_path.empty() &&
      (opt.sse_path.front() != '/' || opt.sse_message_path.empty() || opt.sse_message_path.front() != '/' ||
       opt.sse_path == opt.path || opt.sse_message_path == opt.path || opt.sse_path == opt.sse_message_path))
    return fail(Errc::invalid_config, "sse_path and sse_message_path must start with '/' and differ from each other and from path");
  if (opt.io_threads == 0) opt.io_threads = 1;
  max_values = detail::max_json_values(opt.max_body_bytes);
  if (opt.auth.enabled() && !opt.auth.metadata.resource.empty()) {
    const auto& md = opt.auth.metadata;
    auto path = protected_resource_metadata_path(md.resource);
    auto url = protected_resource_metadata_url(md.resource);
    if (!path || !url) return fail(Errc::invalid_config, "auth.metadata.resource: " + path.error().message);
    if (md.authorization_servers.empty())
      return fail(Errc::invalid_config, "auth.metadata.authorization_servers: name at least one authorization server");
    metadata_body = to_json(md).dump();
    metadata_url = *url;
    metadata_paths = {*path};
    if (*path != "/.well-known/oauth-protected-resource") metadata_paths.emplace_back("/.well-known/oauth-protected-resource");
  } else if (opt.auth.validator) {
    return fail(Errc::invalid_config, "auth.metadata.resource: a host that checks tokens must say what it is (the endpoint's public URL)");
  }
  // A client that resets its connection must not kill the process with SIGPIPE on our next
  // write (Asio sends with MSG_NOSIGNAL on Linux; this is for the other paths, and for an
  // application server that writes a mounted exchange's stream without it).
  struct sigaction old {};
  if (::sigaction(SIGPIPE, nullptr, &old) == 0 && old.sa_handler == SIG_DFL) ::signal(SIGPIPE, SIG_IGN);
  return {};
}

// HttpServerOptions::tls: the server's TLS context, from its files. Every failure names the
// file (or option) and OpenSSL's reason; never the password nor anything of the key.
Result<void> HttpHost::Impl::load_tls() {
  auto& t = *opt.tls;
  const auto bad = [](const std::string& what, const std::string& why) -> Result<void> {
    return fail(Errc::invalid_config, "tls." + what + ": " + why);
  };
  const auto readable = [](const std::string& file) -> std::string {  // empty: it can be read
    if (file.empty()) return "no file given";
    std::FILE* f = std::fopen(file.c_str(), "rb");
    if (!f) return "cannot open " + file + ": " + std::strerror(errno);
    std::fclose(f);
    return {};
  };
  if (auto why = readable(t.cert_file); !why.empty()) return bad("cert_file", why);
  if (auto why = readable(t.key_file); !why.empty()) return bad("key_file", why);
  if (!t.client_ca_file.empty())
    if (auto why = readable(t.client_ca_file); !why.empty()) return bad("client_ca_file", why);
  if (t.handshake_timeout.count() <= 0 || t.shutdown_timeout.count() <= 0)
    return fail(Errc::invalid_config, "tls.handshake_timeout and tls.shutdown_timeout must be positive");

  ERR_clear_error();
  tls.emplace(asio::ssl::context::tls_server);
  SSL_CTX* ctx = tls->native_handle();
  SSL_CTX_set_options(ctx, SSL_OP_NO_COMPRESSION | SSL_OP_NO_RENEGOTIATION | SSL_OP_CIPHER_SERVER_PREFERENCE);
  // Idle keep-alive connections and quiet event streams hold no TLS buffers.
  SSL_CTX_set_mode(ctx, SSL_MODE_RELEASE_BUFFERS);
  if (SSL_CTX_set_min_proto_version(ctx, t.min_version == TlsVersion::tls1_3 ? TLS1_3_VERSION : TLS1_2_VERSION) != 1)
    return tls.reset(), bad("min_version", ssl_reason("not supported by this OpenSSL"));
  if (!t.ciphers.empty() && SSL_CTX_set_cipher_list(ctx, t.ciphers.c_str()) != 1)
    return tls.reset(), bad("ciphers", "no usable cipher in "" + t.ciphers + "": " + ssl_reason("unknown"));
  if (SSL_CTX_use_certificate_chain_file(ctx, t.cert_file.c_str()) != 1)
    return tls.reset(), bad("cert_file", t.cert_file + " holds no usable PEM certificate chain: " + ssl_reason("unreadable"));
  // The key's password comes from this callback only: never a prompt on the terminal.
  SSL_CTX_set_default_passwd_cb_userdata(ctx, &t.key_password);
  SSL_CTX_set_default_passwd_cb(ctx, [](char* buf, int size, int, void* user) -> int {
    const auto& pw = *static_cast<const std::string*>(user);
    if (pw.empty() || pw.size() > static_cast<std::size_t>(size)) return 0;
    std::memcpy(buf, pw.data(), pw.size());
    return static_cast<int>(pw.size());
  });
  const bool key_ok = SSL_CTX_use_PrivateKey_file(ctx, t.key_file.c_str(), SSL_FILETYPE_PEM) == 1;
  const std::string key_why = key_ok ? "" : ssl_reason("unreadable");
  SSL_CTX_set_default_passwd_cb(ctx, nullptr);
  SSL_CTX_set_default_passwd_cb_userdata(ctx, nullptr);
  if (!t.key_password.empty()) {  // not kept once the key is read
    OPENSSL_cleanse(t.key_password.data(), t.key_password.size());
    t.key_password.clear();
  }
  if (!key_ok)
    return tls.reset(), bad("key_file", t.key_file + " holds no usable PEM private key (or key_password is wrong): " + key_why);
  if (SSL_CTX_check_private_key(ctx) != 1)
    return tls.reset(), bad("key_file", t.key_file + " does not match the certificate of " + t.cert_file + ": " +
                                           ssl_reason("key values mismatch"));
  if (X509* leaf = SSL_CTX_get0_certificate(ctx); leaf && X509_cmp_current_time(X509_get0_notAfter(leaf)) < 0)
    server->diagnose("HTTP: the TLS certificate in " + t.cert_file + " has expired: clients will refuse it");
  if (!t.client_ca_file.empty()) {
    if (SSL_CTX_load_verify_locations(ctx, t.client_ca_file.c_str(), nullptr) != 1)
      return tls.reset(), bad("client_ca_file", t.client_ca_file + " holds no usable PEM CA certificate: " + ssl_reason("unreadable"));
    // The CAs a client is told to present a certificate from.
    STACK_OF(X509_NAME)* names = SSL_load_client_CA_file(t.client_ca_file.c_str());
    if (!names)
      return tls.reset(), bad("client_ca_file", t.client_ca_file + " holds no usable PEM CA certificate: " + ssl_reason("unreadable"));
    SSL_CTX_set_client_CA_list(ctx, names);
    SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER | (t.require_client_certificate ? SSL_VERIFY_FAIL_IF_NO_PEER_CERT : 0), nullptr);
    // Resumed sessions keep their verified peer (OpenSSL refuses resumption without this).
    static constexpr unsigned char kContext[] = "mcp-http-host";
    SSL_CTX_set_session_id_context(ctx, kContext, sizeof kContext - 1);
  }
  ERR_clear_error();
  return {};
}

// The sweep of idle sessions and the I/O threads, shared by start() and start_mounted().
void HttpHost::Impl::launch() {
  started = true;
  sweep.emplace(ioc);
  accept_retry.emplace(ioc);
  work.emplace(ioc.get_executor());
  if (acceptor) accept();
  arm_sweep();
  std::lock_guard lk(run_m);
  for (std::size_t i = 0; i < opt.io_threads; ++i) start_io_thread();
}

// ------------------------------------------------------------------ handlers on the I/O threads

thread_local HttpHost::Impl::IoSlot* HttpHost::Impl::IoSlot::current = nullptr;

void HttpHost::Impl::start_io_thread() {
  // Threads that left (taken over) are joined here.
  for (auto it = slots.begin(); it != slots.end();) {
    if ((*it)->ended) {
      if ((*it)->thread.joinable()) (*it)->thread.join();
      it = slots.erase(it);
    } else {
      ++it;
    }
  }
  auto& s = *slots.emplace_back(std::make_unique<IoSlot>());
  s.host = this;
  ++running_threads;
  s.thread = std::thread([this, &s] { io_loop(s); });
}

void HttpHost::Impl::io_loop(IoSlot& s) {
  IoSlot::current = &s;
  s.tid = static_cast<pid_t>(::syscall(SYS_gettid));
  if (::pthread_getcpuclockid(::pthread_self(), &s.cpu_clock) == 0) s.ready = true;
  bool retired = false;
  for (;;) {
    try {
      // One completion at a time, each followed by the handler it handed over (run_on_io).
      for (;;) {
        run_next(s);
        if (ioc.run_one() == 0) break;
      }
      break;
    } catch (const Retired&) {
      retired = true;  // taken over: another thread does the I/O now
      post_next(s);
      break;
    } catch (...) {
      // Handlers catch their own failures; an escaped exception must not end the I/O.
    }
  }
  post_next(s);
  std::lock_guard lk(run_m);
  --running_threads;
  if (retired) --takeovers;
  s.ended = true;
  run_cv.notify_all();
}

bool HttpHost::Impl::run_on_io(std::function<void()>& task, const std::shared_ptr<sd::Slowness>& slow) {
  if (stopping.load(std::memory_order_relaxed)) return false;
  if (!watch_started.load(std::memory_order_acquire)) start_watchdog();
  // Not run here: the strand that dispatched it goes on (its connection's reads, a client
  // leaving, are seen while the handler runs, on another thread once one takes over). On an
  // I/O thread of this host it runs as soon as the completion that dispatched it returns
  // (io_loop); elsewhere (or a second one meanwhile) it is posted.
  if (IoSlot* s = IoSlot::current; s && s->host == this && !s->has_next && !s->retire.load()) {
    s->next = std::move(task);
    s->next_slow = slow;
    s->has_next = true;
    return true;
  }
  asio::post(ioc, [this, task = std::move(task), slow]() mutable { run_handler(task, slow); });
  return true;
}

void HttpHost::Impl::run_next(IoSlot& s) {
  if (!s.has_next) return;
  if (stopping.load(std::memory_order_relaxed)) return post_next(s);
  s.has_next = false;
  std::function<void()> task = std::move(s.next);
  std::shared_ptr<sd::Slowness> slow = std::move(s.next_slow);
  s.next = nullptr;
  run_handler(task, slow);
}

void HttpHost::Impl::post_next(IoSlot& s) {
  if (!s.has_next) return;
  s.has_next = false;
  asio::post(ioc, [this, task = std::move(s.next), slow = std::move(s.next_slow)]() mutable { run_handler(task, slow); });
  s.next = nullptr;
}

void HttpHost::Impl::run_handler(std::function<void()>& task, const std::shared_ptr<sd::Slowness>& slow) {
  IoSlot* s = IoSlot::current;
  if (!s) return task();
  {
    std::lock_guard lk(s->m);
    s->slow = slow;
  }
  s->seq.fetch_add(1);  // odd: running
  runs_started.fetch_add(1);
  if (watch_sleeping.load()) {
    std::lock_guard lk(wm);
    wcv.notify_one();
  }
  sd::blocking_hook = s;
  try {
    task();
  } catch (...) {
    // The run guards its user code itself.
  }
  sd::blocking_hook = nullptr;
  s->seq.fetch_add(1);
  {
    std::lock_guard lk(s->m);  // after it, a takeover of this run is seen (retire)
    s->slow.reset();
  }
  if (s->retire.load()) throw Retired{};
}

void HttpHost::Impl::take_over(IoSlot& s) {
  std::lock_guard lk(run_m);
  take_over_locked(s, s.seq.load());
}

void HttpHost::Impl::take_over_locked(IoSlot& s, std::uint64_t seq) {
  if (!(seq & 1) || s.acted == seq) return;
  std::lock_guard lk(s.m);
  if (s.seq.load() != seq) return;  // that run ended meanwhile
  s.acted = seq;
  if (s.slow) s.slow->mark();  // its tool goes to the handler threads for a while
  if (stopping.load() || takeovers >= std::max<std::size_t>(server->options.handler_threads, 1)) return;  // it keeps its thread
  ++takeovers;
  s.retire = true;
  start_io_thread();
}

void HttpHost::Impl::start_watchdog() {
  std::lock_guard lk(wm);
  if (watch_started.load() || watch_stop) return;
  watchdog = std::thread([this] { watch(); });
  watch_started.store(true, std::memory_order_release);
}

std::int64_t HttpHost::Impl::cpu_ns(const IoSlot& s) {
  timespec ts{};
  if (!s.ready.load() || ::clock_gettime(s.cpu_clock, &ts) != 0) return 0;
  return std::int64_t{ts.tv_sec} * 1000000000 + ts.tv_nsec;
}

// A run past the limit is taken over when its thread is blocked (sleeping or waiting: state S
// or D in /proc) or used that much CPU in it; not when it only waits for a CPU (state R: the
// machine is busy) or is stopped by a tracer.
bool HttpHost::Impl::blocked_or_busy(const IoSlot& s, std::chrono::milliseconds limit) {
  if (!s.ready.load()) return true;
  if (cpu_ns(s) - s.seen_cpu_ns >= std::chrono::duration_cast<std::chrono::nanoseconds>(limit).count()) return true;
  char path[64];
  std::snprintf(path, sizeof path, "/proc/self/task/%ld/stat", static_cast<long>(s.tid));
  const int fd = ::open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) return true;
  char buf[256];
  const ssize_t n = ::read(fd, buf, sizeof buf - 1);
  ::close(fd);
  if (n <= 0) return true;
  buf[n] = '\0';
  const char* paren = std::strrchr(buf, ')');  // "tid (comm) S ..."
  if (!paren || paren[1] != ' ') return true;
  return paren[2] == 'S' || paren[2] == 'D';
}

void HttpHost::Impl::watch() {
  using Clock = std::chrono::steady_clock;
  const std::chrono::milliseconds takeover_after = std::max(server->options.io_handler_takeover, std::chrono::milliseconds(1));
  // Half the limit between looks (1 ms by default): a long run is seen within 1.5 times it.
  const std::chrono::milliseconds tick = std::max(takeover_after / 2, std::chrono::milliseconds(1));
  std::unique_lock lk(wm);
  std::uint64_t last = runs_started.load();
  int idle_ticks = 0;
  while (!watch_stop) {
    if (idle_ticks >= 20) {  // nothing ran on the I/O threads for 20 ticks: sleep until something does
      watch_sleeping.store(true);
      wcv.wait(lk, [&] { return watch_stop || runs_started.load() != last; });
      watch_sleeping.store(false);
      idle_ticks = 0;
      continue;
    }
    wcv.wait_for(lk, tick, [&] { return watch_stop; });
    if (watch_stop) break;
    lk.unlock();
    const auto started = runs_started.load();
    bool busy = started != last;
    last = started;
    const auto now = Clock::now();
    {
      std::lock_guard rl(run_m);
      long_runs.clear();
      for (auto& sp : slots) {
        IoSlot& s = *sp;
        const auto seq = s.seq.load();
        if (!(seq & 1)) continue;
        busy = true;
        if (seq != s.seen) {
          s.seen = seq;
          s.seen_at = now;
          s.seen_cpu_ns = cpu_ns(s);
        } else if (now - s.seen_at >= takeover_after && s.acted != seq && blocked_or_busy(s, takeover_after)) {
          long_runs.emplace_back(&s, seq);
        }
      }
      // After the scan: a takeover adds a slot (and drops those whose threads ended).
      for (auto [slot, seq] : long_runs) take_over_locked(*slot, seq);
    }
    idle_ticks = busy ? 0 : idle_ticks + 1;
    lk.lock();
  }
}

void HttpHost::Impl::stop_watchdog() {
  {
    std::lock_guard lk(wm);
    watch_stop = true;
  }
  wcv.notify_all();
  if (watchdog.joinable()) watchdog.join();
}

bool Channel::run_on_host(std::function<void()>& task, const std::shared_ptr<sd::Slowness>& slow) {
  auto* s = HttpHost::Impl::IoSlot::current;
  return s && s->host->run_on_io(task, slow);
}

Result<unsigned short> HttpHost::start() {
  auto& d = *impl_;
  if (auto ok = d.check_options(); !ok) return fail(std::move(ok.error()));
  beast::error_code ec;
  const auto address = asio::ip::make_address(d.opt.address, ec);
  if (ec) return fail(Errc::invalid_config, "not an IP address: " + d.opt.address);
  d.any_host = !address.is_loopback();
  if (d.opt.tls)
    if (auto ok = d.load_tls(); !ok) return fail(std::move(ok.error()));

  d.acceptor.emplace(d.ioc);
  const tcp::endpoint ep(address, d.opt.port);
  d.acceptor->open(ep.protocol(), ec);
  if (!ec) d.acceptor->set_option(tcp::acceptor::reuse_address(true), ec);
  if (!ec) d.acceptor->bind(ep, ec);
  if (!ec) d.acceptor->listen(asio::socket_base::max_listen_connections, ec);
  if (ec) {
    d.acceptor.reset();
    return fail(Errc::io_error, "cannot listen on " + d.opt.address + ":" + std::to_string(d.opt.port) + ": " + ec.message());
  }
  d.port = d.acceptor->local_endpoint().port();
  {
    std::lock_guard lk(d.m);  // serve() reads `started` under it
    d.launch();
  }
  return d.port.load();
}

Result<void> HttpHost::start_mounted() {
  auto& d = *impl_;
  if (auto ok = d.check_options(); !ok) return ok;
  std::lock_guard lk(d.m);
  d.launch();
  return {};
}

const HttpServerOptions& HttpHost::options() const { return impl_->opt; }

std::function<void()> HttpHost::serve(MountedRequest request, std::shared_ptr<HttpResponseSink> sink) {
  auto& d = *impl_;
  const auto refuse_now = [&sink] {
    try {
      sink->start(503, {{"Content-Type", "text/plain"}}, false);
      (void)sink->write("the MCP server is not running");
      sink->end();
    } catch (...) {
    }
  };
  if (!sink) return [] {};
  std::shared_ptr<MountedConn> c;
  {
    std::lock_guard lk(d.m);
    if (!d.started || d.stopping) {
      c.reset();
    } else {
      c = std::make_shared<MountedConn>(d, sink);
      d.conns.emplace(c.get(), c);
    }
  }
  if (!c) {
    refuse_now();
    return [] {};
  }
  Req req;
  req.method = std::move(request.method);
  req.target = std::move(request.target);
  req.headers = std::move(request.headers);
  req.body = std::move(request.body);
  std::weak_ptr<Peer> weak = c;
  // When the gate closed meanwhile (stop()), nothing else holds `c`: its destructor gives the
  // sink a 503 and its end().
  (void)d.gate->post(weak, [req = std::move(req)](Peer& p) mutable { static_cast<MountedConn&>(p).begin(std::move(req)); });
  return [gate = d.gate, weak] {
    (void)gate->post(weak, [](Peer& p) { p.close(); });
  };
}

void HttpHost::stop() {
  auto& d = *impl_;
  {
    std::lock_guard lk(d.m);
    if (!d.started || d.stopped) return;
    d.stopped = true;
  }
  {
    std::unique_lock lk(d.gate->m);
    d.gate->open = false;  // handlers' late answers are dropped from now on
  }
  {
    std::lock_guard lk(d.m);
    d.stopping = true;
  }
  asio::post(d.ioc, [&d] {
    beast::error_code ignored;
    if (d.acceptor) d.acceptor->close(ignored);
    d.sweep->cancel();
    d.accept_retry->cancel();
    std::vector<std::shared_ptr<Peer>> conns;
    {
      std::lock_guard lk(d.m);
      for (auto& [p, w] : d.conns)
        if (auto c = w.lock()) conns.push_back(std::move(c));
    }
    for (auto& c : conns) asio::post(c->executor(), [c] { c->shutdown(); });
  });
  std::map<std::string, std::shared_ptr<Channel>> sessions;
  {
    std::lock_guard lk(d.m);
    sessions.swap(d.sessions);
  }
  for (auto& [id, ch] : sessions) {
    Server::Impl::close(*ch);
    ch->end();
    (void)ch->take_all();
  }
  d.stop_watchdog();
  d.work.reset();
  {
    // Every socket closes, so the threads run out of work; a stuck one is stopped after a while.
    std::unique_lock lk(d.run_m);
    if (!d.run_cv.wait_for(lk, 5s, [&] { return d.running_threads == 0; })) d.ioc.stop();
  }
  std::deque<std::unique_ptr<Impl::IoSlot>> slots;
  {
    std::lock_guard lk(d.run_m);  // no takeover starts a thread once `stopping` is set
    slots.swap(d.slots);
  }
  for (auto& s : slots)
    if (s->thread.joinable()) s->thread.join();
}

}  // namespace mcp
