// SPDX-License-Identifier: MIT
#pragma once
// mcp::HttpHost: serves an mcp::Server over Streamable HTTP, both eras on one endpoint.
//
//   mcp::Server server({.identity = {.name = "demo", .version = "1.0.0"}});
//   ... server.add_tool(...) ...
//   mcp::HttpHost host(server, {.port = 8080});
//   auto port = host.start();            // the bound port (useful with port 0)
//   if (!port) { ... port.error().message ... }
//   ...                                  // serves on its own I/O threads
//   host.stop();                         // or let the destructor do it
//
// Each POST is decided on its own (docs/SERVER-SPEC.md 1.3): a request with the modern
// per-request `_meta` (or a 2026-07-28 MCP-Protocol-Version header) is served statelessly;
// `initialize` opens a legacy session (Mcp-Session-Id), which later requests name. A request's
// answer is `application/json`, unless the handler sends notifications about it first
// (progress, logs): then the response turns into a `text/event-stream` carrying them and the
// answer.
//
// Legacy sessions (SERVER-SPEC 3.3): a handler's elicit(), sample() and roots() send their
// request on the event stream of the POST that asked (or on the session's GET stream when that
// POST cannot stream); the client POSTs its answer. Every event of a session's streams carries
// an id (`<stream>-<n>`) and is kept in the session's EventStore, so a client that lost a
// stream resumes it with GET + Last-Event-ID; 2025-11-25 streams open with a priming event, and
// `sse_poll_retry` closes them early for clients that poll.
//
// Threads: `io_threads` threads read and write every connection (open streams do not hold a
// thread). Tool handlers run on the I/O thread that read the call, outside its connection's
// strand, with a watchdog that starts a fresh I/O thread when one runs long or waits (see
// ServerOptions::handlers_on_io_threads); other handlers run on the Server's handler threads.
// 2025-03-26 sessions take JSON-RPC batches. The 2024-11-05 HTTP+SSE transport is served on
// its own two paths (`sse_path`, `sse_message_path`).
// Mounting: an application with its own HTTP server starts the host without a listener
// (start_mounted()) and hands it each exchange on the MCP paths (serve(), with a response sink
// of its own); mcp/server_httplib.hpp does that for cpp-httplib. The same code serves both: a
// mounted exchange gets everything above. It is the host's own entry, not a sibling class's,
// because what an exchange needs is the host's (sessions, event stores, limits, the I/O
// threads and timers): one host may serve its own listener and mounted exchanges at once, a
// session opened through one found through the other. HttpServerOptions::auth makes it an OAuth-protected resource (server_auth.hpp).
// HTTPS: HttpServerOptions::tls makes the host's own listener speak TLS only (OpenSSL; TLS 1.2
// or later, the certificate chain and key from PEM files, optionally client certificates
// verified against a CA: mTLS, the verified certificate shown to the auth middleware as
// AuthRequest::client_certificate). Mounted exchanges are the application server's to encrypt.
//
// Thread-safety: start(), start_mounted() and stop() may be called from any thread, not
// concurrently with each other or with the destructor; serve(), port() and session_count()
// from any thread at any time before the destructor. The Server must outlive the host.
#include <mcp/error.hpp>
#include <mcp/server_auth.hpp>

#include <chrono>
#include <cstddef>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace mcp {

class Server;

/// Where one legacy session keeps the events of its SSE streams, so that a client that lost a
/// stream can resume it (GET with `Last-Event-ID`). The host makes one store per session
/// (HttpServerOptions::event_store), calls it one call at a time (under the session's lock:
/// it must not block for long, nor call the host) and destroys it when the session ends.
class EventStore {
 public:
  virtual ~EventStore() = default;
  /// Keeps `message` (a JSON-RPC message as sent; empty for a stream's priming event) as the
  /// next event of stream `stream`, and returns the event's id: unique within the session,
  /// visible ASCII. An empty id: not kept (the event is sent without one).
  virtual std::string store(const std::string& stream, const std::string& message) = 0;
  /// The stream that event `last_id` belongs to, after calling `sink(id, message)` for each
  /// later event of that stream (and of no other), in order. nullopt when `last_id` is not an
  /// id this store issued or it was forgotten (the stream cannot be resumed).
  virtual std::optional<std::string> replay_after(
      const std::string& last_id, const std::function<void(const std::string& id, const std::string& message)>& sink) = 0;
};

/// The default EventStore: in memory, at most `max_bytes` of messages and `max_events` events;
/// the oldest are forgotten first (a stream resumed from a forgotten id cannot be resumed).
[[nodiscard]] std::unique_ptr<EventStore> make_memory_event_store(std::size_t max_bytes, std::size_t max_events);

/// The lowest TLS version a host accepts.
enum class TlsVersion { tls1_2, tls1_3 };

/// HTTPS on the host's own listener (HttpServerOptions::tls). The files are read by start(); a
/// file that is missing or unreadable, not PEM, a key that does not match the certificate or
/// needs another password, makes start() fail with Errc::invalid_config naming the file (never
/// the password or key material). They are read once: a renewed certificate takes a new host.
/// Handshakes run on the I/O threads (HttpServerOptions::io_threads: more of them for many
/// clients connecting at once); a failed one is told to ServerOptions::on_diagnostic with
/// OpenSSL's reason (a client certificate refused, no common protocol version ...).
struct HttpTlsOptions {
  /// The server's certificate chain, PEM: its own certificate first, then the intermediates.
  std::string cert_file{};
  /// Its private key, PEM (PKCS#8 or traditional; encrypted when key_password is set).
  std::string key_file{};
  /// The password of an encrypted key_file (empty, default: the key is not encrypted).
  std::string key_password{};
  /// The lowest protocol version accepted (default TLS 1.2; 1.0 and 1.1 are never accepted).
  TlsVersion min_version = TlsVersion::tls1_2;
  /// OpenSSL cipher list for TLS 1.2 (empty, default: OpenSSL's defaults; TLS 1.3 suites are
  /// OpenSSL's defaults always), e.g. "ECDHE+AESGCM:ECDHE+CHACHA20".
  std::string ciphers{};
  /// mTLS: CA certificates (PEM) that clients' certificates must chain to. Empty (default): no
  /// client certificate is asked for.
  std::string client_ca_file{};
  /// With client_ca_file: a client without a valid certificate fails the handshake (default).
  /// false: a client may send none (its requests then have no AuthRequest::client_certificate)
  /// but one it sends must verify.
  bool require_client_certificate = true;
  /// A client must finish its TLS handshake within this long after connecting, else the
  /// connection is closed.
  std::chrono::milliseconds handshake_timeout{std::chrono::seconds(10)};
  /// Closing a connection gracefully (close_notify) waits this long at most for the client's.
  std::chrono::milliseconds shutdown_timeout{std::chrono::seconds(2)};
};

/// How an HttpHost listens and what it accepts.
struct HttpServerOptions {
  /// Address to bind: "127.0.0.1" (default: local clients only), "::1", "0.0.0.0", ...
  std::string address = "127.0.0.1";
  /// TCP port; 0 (default) picks a free one (start() returns it).
  unsigned short port = 0;
  /// The MCP endpoint (default "/mcp"); other paths answer 404.
  std::string path = "/mcp";
  /// Host header values accepted (DNS-rebinding protection), compared case-insensitively:
  /// "name" accepts any port, "name:port" only that one. Empty (default): "localhost",
  /// "127.0.0.1" and "[::1]" with any port when bound to a loopback address; any Host otherwise.
  std::vector<std::string> allowed_hosts{};
  /// Origin header values accepted, e.g. "https://app.example.com" ("*": any). Empty
  /// (default): requests without Origin, and loopback origins (http(s)://localhost,
  /// 127.0.0.1, [::1], any port). Anything else is refused with 403.
  std::vector<std::string> allowed_origins{};
  /// Threads that do all network I/O (at least 1).
  std::size_t io_threads = 1;
  /// A POST body may be this large (default 4 MiB); larger ones are refused with 413.
  std::size_t max_body_bytes = 4u << 20;
  /// Legacy clients (`initialize`) get a session (Mcp-Session-Id) that later requests must
  /// name. false: legacy requests are served without sessions, each at the revision of its
  /// MCP-Protocol-Version header (2025-03-26 without one).
  bool legacy_sessions = true;
  /// Legacy requests are always answered with `application/json` (their progress and log
  /// notifications are dropped) instead of turning into an event stream.
  bool json_response = false;
  /// A legacy session with nothing in flight and no open stream ends after this long.
  std::chrono::milliseconds session_idle_timeout{std::chrono::minutes(30)};
  /// Bytes waiting to be sent on one response stream; a client reading slower than its
  /// notifications come loses the stream (and, in the modern era, the request is cancelled).
  std::size_t max_stream_queue_bytes = 1u << 20;
  /// An idle keep-alive connection (or one sending its request this slowly) is closed after this.
  std::chrono::milliseconds connection_idle_timeout{std::chrono::seconds(60)};

  /// Legacy sessions' SSE events carry ids and are kept (event_store) for resumption with GET
  /// + `Last-Event-ID`; a client that loses a stream carrying a request to it (elicitation ...)
  /// may resume it until ServerOptions::client_request_timeout. false: no ids, nothing kept;
  /// losing such a stream fails the request at once (Errc::connection_closed).
  bool resumable_streams = true;
  /// Makes the EventStore of a new session (given its id). Empty (default):
  /// make_memory_event_store(event_store_max_bytes, event_store_max_events).
  std::function<std::unique_ptr<EventStore>(const std::string& session_id)> event_store{};
  /// Bounds of the default store, per session.
  std::size_t event_store_max_bytes = 1u << 20;
  std::size_t event_store_max_events = 1024;  ///< see `event_store_max_bytes`
  /// SSE polling (2025-11-25 sessions, resumable_streams): non-zero: a request's response opens
  /// its event stream at once with a priming event carrying `retry: <this>` and then closes the
  /// connection; the client reconnects with GET + `Last-Event-ID` for the rest (its answer).
  /// 0 (default): a stream stays open until its answer.
  std::chrono::milliseconds sse_poll_retry{0};

  /// 2024-11-05 HTTP+SSE (SERVER-SPEC 3.4): a GET on `sse_path` opens a session's event stream,
  /// whose first event (`endpoint`) names where to POST: `sse_message_path?sessionId=<id>`.
  /// Those POSTs are answered 202 and every reply goes on the stream; the session ends with
  /// the stream. Empty sse_path: not served (404).
  std::string sse_path = "/sse";
  std::string sse_message_path = "/messages";  ///< see `sse_path`

  /// Legacy sessions alive at once at most (HTTP+SSE ones included); an `initialize` over it is refused with HTTP 503
  /// and a JSON-RPC error (-32603) saying so.
  std::size_t max_sessions = 10000;
  /// Makes a session id (instead of 128 random bits in hex). It must be 1 to 256 visible ASCII
  /// characters (0x21-0x7E) and unused: else that `initialize` is refused with 500. Called on
  /// an I/O thread.
  std::function<std::string()> session_id_generator{};
  /// Told of each new legacy session (its id) when its `initialize` arrives, on an I/O thread
  /// (must not block).
  std::function<void(const std::string& session_id)> on_session_start{};

  /// OAuth 2.1 protected resource (MCP authorization): bearer tokens checked, metadata served,
  /// scopes enforced, an application's own middleware; see HttpAuthOptions. Off by default.
  HttpAuthOptions auth{};

  /// HTTPS (see HttpTlsOptions): set, the listener speaks TLS only (a plain HTTP request on it
  /// is answered 400 and closed). Unset (default): plain HTTP. Not used by start_mounted().
  std::optional<HttpTlsOptions> tls{};
};

/// One HTTP header, as sent or received: name (any case) and value.
using HttpHeader = std::pair<std::string, std::string>;

/// One HTTP request that an application's own HTTP server hands to HttpHost::serve()
/// (mounting the MCP endpoint): what the client sent, the body read whole.
struct MountedRequest {
  std::string method{};               ///< "POST", "GET", "DELETE", ...
  std::string target{};               ///< path and query as sent: "/mcp", "/messages?sessionId=..."
  std::vector<HttpHeader> headers{};  ///< as received; Host is checked as on the host's own listener
  std::string body{};                 ///< larger than HttpServerOptions::max_body_bytes: 413
};

/// Where a mounted exchange's response goes: implemented by the application (for
/// cpp-httplib, mcp/server_httplib.hpp has one). The host calls start() once, then write() any
/// number of times, then end() once, always: also after the client left (the function serve()
/// returned was called) or when the host stops, so the sink may release what it holds in end().
///
/// Threads: start(), write() and end() are called one at a time for one exchange, never
/// concurrently: on the host's I/O threads; on the thread calling serve() when it refuses at
/// once (the host not started, or stopping); on the thread that stops or destroys the host for
/// an exchange its I/O threads never reached. They must not block for long (queue the bytes,
/// signal the thread that writes them) nor call into the host (serve(), stop()).
class HttpResponseSink {
 public:
  virtual ~HttpResponseSink() = default;
  /// The status and headers (Content-Type among them; no Content-Length, no Transfer-Encoding:
  /// framing is the application server's). `stream`: the body is a `text/event-stream` of
  /// unknown length, written as it comes (send each write() on at once, chunked or until the
  /// connection closes); false: the whole body follows in at most one write(), then end().
  virtual void start(int status, const std::vector<HttpHeader>& headers, bool stream) = 0;
  /// Bytes of the body (on a stream: whole SSE events or comment lines). false: the client is
  /// gone or reads too slowly for the sink to keep more; the host ends the stream (and, where
  /// the protocol says so, cancels the request) as for a client that disconnected.
  virtual bool write(std::string_view bytes) = 0;
  /// The response is complete (on a stream: end the chunked body, or close the connection).
  virtual void end() = 0;
};

/// Serves one Server over Streamable HTTP (see the file comment).
class HttpHost {
 public:
  HttpHost(Server& server, HttpServerOptions options = {});  ///< a host for `server` (which must outlive it); nothing is served before start() or start_mounted()
  /// Stops the host (stop()).
  ~HttpHost();
  HttpHost(const HttpHost&) = delete;
  HttpHost& operator=(const HttpHost&) = delete;

  /// Binds and starts serving; returns the bound port. Errc::invalid_config for a bad address
  /// or option (TLS files that cannot be used among them), Errc::io_error when the port cannot
  /// be bound. Once per host.
  [[nodiscard]] Result<unsigned short> start();
  /// Starts the host without a listener, for mounting only (serve()): the I/O threads run the
  /// exchanges' timers and streams, no port is bound (HttpServerOptions::address and port are
  /// not used; allowed_hosts applies as for a loopback address when empty, so list the Host
  /// names the application server is reached by). Errc::invalid_config for a bad option. Once
  /// per host, instead of start(); a started host serves mounted exchanges too.
  [[nodiscard]] Result<void> start_mounted();
  /// Serves one HTTP exchange that the application's own HTTP server received on the MCP
  /// endpoint (HttpServerOptions::path: POST, GET, DELETE; and sse_path, sse_message_path for
  /// 2024-11-05 clients; another path: 404). Everything the host does on its own connections
  /// is done: checks (Host, Origin, 413, 415, 406, -32020), eras, sessions, JSON answers, event
  /// streams (POST replies, GET streams, resumption, HTTP+SSE), batches. The response goes to
  /// `sink` (see HttpResponseSink for its threads); an event stream holds no host thread while
  /// it is open. Returns immediately, with the function to call when the application sees the
  /// client leave (any thread, any number of times, also after end(); it may outlive the host):
  /// the exchange ends as when a client of the host's own listener disconnects (a modern
  /// request, or one without a session, is cancelled; a session's stream waits to be resumed).
  /// Before start()/start_mounted() or after stop(): 503 through the sink, on this thread.
  /// Thread-safe: any thread, concurrently.
  std::function<void()> serve(MountedRequest request, std::shared_ptr<HttpResponseSink> sink);
  /// The options the host was made with (paths, limits), e.g. for an adapter that routes
  /// HttpServerOptions::path, sse_path and sse_message_path to serve().
  [[nodiscard]] const HttpServerOptions& options() const;
  /// Stops accepting, closes every connection and stream, cancels the requests in flight (their
  /// handlers see their stop token; answers that come later are dropped) and ends the legacy
  /// sessions; returns once the I/O threads have ended. Idempotent.
  void stop();
  /// The bound port (0 before start()).
  [[nodiscard]] unsigned short port() const;
  /// Legacy sessions alive now.
  [[nodiscard]] std::size_t session_count() const;

  struct Impl;

 private:
  std::shared_ptr<Impl> impl_;
};

}  // namespace mcp
