// SPDX-License-Identifier: MIT
#pragma once
/// @file transport.hpp
/// The channel under a session: moves JSON-RPC messages, knows nothing of MCP methods.
///
/// Internal: not installed, and not part of the API (no public function takes a Transport).
///
/// Thread-safety: `send` may be called from many threads at once; `close` from any thread,
/// any number of times. Messages are delivered one at a time, on the transport's own reader
/// thread, or on a caller's thread while it is inside `lead()` or a `send` with
/// `SendOptions::on_caller_thread` (it then reads its own reply).
///
/// Lifetime: a transport is owned through a std::shared_ptr (the factories make one), and each
/// of its own threads (the stdio reader, an HTTP flight) holds a reference while it runs the
/// transport's code. So the last owner may let go of it from inside a callback (an engine
/// destroyed by a completion that disconnected): the transport then ends when that thread is
/// done with it, never under its feet.

#include <mcp/error.hpp>

#include "../protocol/diagnostic.hpp"

#include <nlohmann/json.hpp>

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <stop_token>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace mcp {

/// Per-message extras a transport may use, given by the session (a transport reads no MCP: what
/// a message means for it is said here). HTTP sends `headers` with the message's POST.
struct SendOptions {
  std::vector<std::pair<std::string, std::string>> headers;  ///< the message's own headers
  /// For a request whose caller is about to wait for the reply: the transport may carry out
  /// the whole exchange on the calling thread inside `send` (HTTP does), delivering the reply
  /// before it returns. It then gives up by itself when `stop` is requested or the deadline
  /// passes, reporting neither (the waiting caller does).
  bool on_caller_thread = false;
  std::stop_token stop;  ///< with on_caller_thread
  /// This request opens a stateful session: from now on HTTP keeps the server's session id,
  /// sends the protocol version, may open the server stream and ends the session with DELETE;
  /// it keeps the message, which a fallback to legacy HTTP+SSE sends again.
  bool opens_session = false;
  /// The session is established: the transport may open its optional server stream now.
  bool session_ready = false;
  /// The JSON-RPC id of the request this message cancels (null: none). HTTP stops that
  /// request's exchange; closing its stream is the cancellation, so outside a stateful
  /// session the message itself is not sent.
  nlohmann::json cancels;
  /// Takes no connection slot: it must not queue behind the requests it may free.
  bool uncounted = false;
  /// A request whose response lasts as long as the client wants it (`subscriptions/listen`):
  /// it never takes a connection shared with other clients (HttpConnectionShare).
  bool long_lived = false;
};

/// A bidirectional JSON-RPC message channel.
class Transport : public std::enable_shared_from_this<Transport> {
 public:
  using Clock = std::chrono::steady_clock;

  /// What the transport reports upwards.
  struct Callbacks {
    std::function<void(nlohmann::json&&)> on_message;       ///< one parsed message
    /// A success response read without its envelope (parse_response): the `result` of the
    /// response with JSON-RPC id `id`. Optional: without it, on_message gets every message.
    /// Delivered in order with on_message's, as the whole message would have been.
    std::function<void(std::int64_t id, nlohmann::json&& result)> on_result;
    std::function<void(const Error&)> on_closed;            ///< the channel ended by itself (once)
    /// Non-fatal oddities (garbage lines); for an unreadable reply, the request it answers.
    detail::DiagnosticSink on_diagnostic;
    /// One request failed below JSON-RPC (HTTP status, broken stream, ...); the channel
    /// itself stays usable. `id` is the request's JSON-RPC id.
    std::function<void(const nlohmann::json& id, const Error&)> on_request_failed;
    /// The transport is waiting, for request `id`, on something other than the server (an
    /// authorization, possibly a person signing in): `held = true` suspends the request's
    /// timeout, `held = false` resumes it; time spent held does not count.
    std::function<void(const nlohmann::json& id, bool held)> on_request_held;
  };

  virtual ~Transport() = default;
  /// Open the channel (spawn the process, ...). Callbacks start after this returns ok.
  [[nodiscard]] virtual Result<void> start(Callbacks callbacks) = 0;
  /// Send one message; gives up at `deadline` (a peer that stops reading cannot block us).
  /// `message` is only lent for the call: the caller reuses it once `send` returns, so a
  /// transport that keeps anything of it (a queue, a retry) keeps a copy or its serialised text.
  [[nodiscard]] virtual Result<void> send(const nlohmann::json& message, Clock::time_point deadline,
                                          const SendOptions& options) = 0;
  /// Close gracefully, then forcibly. Idempotent. No callback runs after it returns, and the
  /// transport's threads are done with it, except when it is called on one of those threads
  /// (from a callback: a completion, a progress callback, a handler that disconnects): that
  /// thread cannot wait for itself, nor for the others, which may be waiting for it. It then
  /// stops everything without waiting (close_deferred() turns true); the thread finishes when
  /// its callback returns, and a later close() from another thread waits for it.
  virtual void close() = 0;
  /// True after a close() that ran on one of the transport's own threads left them to finish
  /// by themselves, until a close() from another thread has waited for them.
  [[nodiscard]] virtual bool close_deferred() const { return false; }
  /// False once the channel has ended (by itself or by `close`).
  [[nodiscard]] virtual bool is_open() const = 0;
  /// The session agreed on a legacy protocol revision (HTTP sends it as a header from now on).
  virtual void set_protocol_version(const std::string& /*version*/) {}
  /// Optional fast path for a thread that waits for a reply: it reads the channel itself
  /// (delivering through `on_message` as the reader thread would) until `changed()` is true,
  /// `until` passes, or `interrupt_lead()` is called, saving the hand-off from a reader thread.
  /// Returns false at once, having read nothing, when it cannot (not supported, another
  /// thread is reading, or called from a callback); the caller then waits as usual.
  virtual bool lead(const std::function<bool()>& /*changed*/, Clock::time_point /*until*/) { return false; }
  /// Makes a thread inside `lead()` return soon (it re-checks `changed()` first). Any thread.
  virtual void interrupt_lead() {}
  /// What carries the messages now (ServerInfo::transport and transport_fallback).
  struct InUse {
    const char* name = "";
    bool fallback = false;
  };
  [[nodiscard]] virtual InUse in_use() const = 0;
};

}  // namespace mcp
