// SPDX-License-Identifier: MIT
#pragma once
// Incremental parser for the `text/event-stream` format (WHATWG HTML, "Server-sent events",
// section "Interpreting an event stream"). Used by the Streamable HTTP transport for SSE
// response bodies and the GET stream, and by the legacy HTTP+SSE transport.
//
// The parser works on bytes: it does not decode or validate UTF-8 (the JSON parser that
// consumes `data` does), so invalid sequences pass through unchanged instead of becoming
// U+FFFD. Everything else follows the spec, including a CR at the end of one chunk and an LF
// at the start of the next counting as one line ending.
#include <chrono>
#include <cstddef>
#include <functional>
#include <optional>
#include <string>
#include <string_view>

namespace mcp::detail {

/// One dispatched event.
struct SseEvent {
  std::string event;    ///< the event type; "message" when the stream gave no (or an empty) `event` field
  std::string data;     ///< the `data` lines joined by '\n' (the final trailing '\n' removed)
  std::string id;       ///< the last event ID at dispatch time; persists across events until changed
  bool has_id = false;  ///< this event itself carried an accepted `id` field

  /// Field-wise equality (tests, fuzzing).
  bool operator==(const SseEvent&) const = default;
};

/// Parses one event stream at a time, fed in chunks of any size.
///
/// Memory and time are linear in the input: each byte is scanned for line endings once, and a
/// single event or line larger than `max_event_bytes` fails the stream instead of growing
/// without bound.
///
/// Thread-safety: none; one parser belongs to one stream read by one thread.
class SseParser {
 public:
  /// `max_event_bytes` bounds both the accumulated `data` of one event (including the '\n'
  /// separators) and any single line (without its line ending), terminated or not.
  explicit SseParser(std::size_t max_event_bytes = 64u << 20);

  /// Feed the next bytes of the stream (any split, down to 1 byte); calls `on_event` for each
  /// complete event, in order. Returns false once an event or a single line exceeds
  /// `max_event_bytes`; from then on the parser stays failed and ignores input until reset().
  /// If `on_event` throws, the exception propagates and the rest of `bytes` is dropped;
  /// `on_event` must not call back into this parser.
  bool feed(std::string_view bytes, const std::function<void(SseEvent&&)>& on_event);

  /// Call at end of stream: an unterminated final event (or line) is discarded, as the spec
  /// requires, and never dispatched. Keeps last_event_id(), retry() and failed().
  void finish();

  /// The last event ID committed by a blank line (dispatched or not): what a client sends as
  /// `Last-Event-ID` when it resumes. An `id` in an unterminated final event does not count.
  const std::string& last_event_id() const noexcept;

  /// The last valid `retry` field (all ASCII digits, fits in milliseconds), if any.
  std::optional<std::chrono::milliseconds> retry() const noexcept;

  /// True once the stream exceeded `max_event_bytes`.
  bool failed() const noexcept;

  /// Prepare for a new stream (a reconnection): clears buffers, the failed state and the BOM
  /// check, but keeps last_event_id() and retry(), which resumption needs.
  void reset();

 private:
  bool consume(std::string_view bytes, const std::function<void(SseEvent&&)>& on_event);
  bool process_line(std::string_view line, const std::function<void(SseEvent&&)>& on_event);
  void dispatch(const std::function<void(SseEvent&&)>& on_event);
  void set_retry(std::string_view value);
  void clear_buffers();
  void fail();

  std::size_t max_event_bytes_;
  std::string line_;           ///< the unterminated line carried over from earlier chunks
  std::string data_;           ///< data buffer: each `data` value followed by '\n'
  std::string event_type_;     ///< event type buffer
  std::string id_buffer_;      ///< last event ID buffer (set by `id`, committed by a blank line)
  std::string last_event_id_;  ///< the committed last event ID
  std::optional<std::chrono::milliseconds> retry_;
  std::size_t bom_matched_ = 0;  ///< bytes of a leading BOM seen so far (it may span chunks)
  bool bom_done_ = false;        ///< the start of the stream has been checked for a BOM
  bool pending_cr_ = false;      ///< the last chunk ended in CR: an LF next is part of that line ending
  bool has_id_ = false;          ///< an `id` field was accepted since the last blank line
  bool failed_ = false;
};

}  // namespace mcp::detail
