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
// Threads: `io_threads` threads read and write every connection (open streams do not hold a
// thread); tool handlers run on the Server's handler threads, never on an I/O thread.
// Not yet: the 2024-11-05 HTTP+SSE endpoints, resumable streams (Last-Event-ID), TLS, OAuth.
//
// Thread-safety: start() and stop() may be called from any thread, not concurrently with each
// other or with the destructor. The Server must outlive the host.
#include <mcp/error.hpp>

#include <chrono>
#include <cstddef>
#include <memory>
#include <string>
#include <vector>

namespace mcp {

class Server;

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
};

/// Serves one Server over Streamable HTTP (see the file comment).
class HttpHost {
 public:
  HttpHost(Server& server, HttpServerOptions options = {});
  /// Stops the host (stop()).
  ~HttpHost();
  HttpHost(const HttpHost&) = delete;
  HttpHost& operator=(const HttpHost&) = delete;

  /// Binds and starts serving; returns the bound port. Errc::invalid_config for a bad address
  /// or option, Errc::io_error when the port cannot be bound. Once per host.
  [[nodiscard]] Result<unsigned short> start();
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
