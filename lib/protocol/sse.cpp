// SPDX-License-Identifier: MIT
#include "sse.hpp"

#include <cstring>
#include <utility>

namespace mcp::detail {

namespace {

constexpr std::string_view utf8_bom = "\xEF\xBB\xBF";

// A line buffer that grew past this is released after use rather than kept: one huge event
// should not pin its size for the rest of a long-lived stream.
constexpr std::size_t keep_line_capacity = 64u << 10;

}  // namespace

SseParser::SseParser(std::size_t max_event_bytes) : max_event_bytes_(max_event_bytes) {}

bool SseParser::feed(std::string_view bytes, const std::function<void(SseEvent&&)>& on_event) {
  if (failed_) return false;
  if (!bom_done_) {
    // The BOM may arrive split over several chunks, so progress is kept in bom_matched_.
    while (!bytes.empty() && bom_matched_ < utf8_bom.size() && bytes.front() == utf8_bom[bom_matched_]) {
      ++bom_matched_;
      bytes.remove_prefix(1);
    }
    if (bom_matched_ == utf8_bom.size()) {
      bom_done_ = true;
      bom_matched_ = 0;
    } else if (bytes.empty()) {
      return true;  // still undecided: everything so far could be the start of a BOM
    } else {
      // Only a prefix of the BOM matched: those bytes were ordinary data after all.
      bom_done_ = true;
      auto prefix = utf8_bom.substr(0, bom_matched_);
      bom_matched_ = 0;
      if (!consume(prefix, on_event)) return false;
    }
  }
  return consume(bytes, on_event);
}

bool SseParser::consume(std::string_view bytes, const std::function<void(SseEvent&&)>& on_event) {
  const std::size_t n = bytes.size();
  std::size_t i = 0;
  if (pending_cr_ && n > 0) {
    pending_cr_ = false;
    if (bytes[0] == '\n') i = 1;
  }
  while (i < n) {
    // Only bytes never seen before are scanned, which keeps a huge line fed in small chunks
    // linear (rescanning line_ on every chunk would be quadratic).
    // The line ends at the first CR or LF: memchr for each, the CR only up to the LF.
    const char* lf = static_cast<const char*>(std::memchr(bytes.data() + i, '\n', n - i));
    const std::size_t lf_at = lf ? static_cast<std::size_t>(lf - bytes.data()) : n;
    const char* cr = static_cast<const char*>(std::memchr(bytes.data() + i, '\r', lf_at - i));
    const std::size_t end = cr ? static_cast<std::size_t>(cr - bytes.data()) : lf_at;
    if (end == n) {
      auto rest = bytes.substr(i);
      // Checked before appending, so an oversized line never grows the buffer past the limit.
      if (line_.size() + rest.size() > max_event_bytes_) {
        fail();
        return false;
      }
      line_.append(rest);
      return true;
    }
    auto segment = bytes.substr(i, end - i);
    std::size_t next = end + 1;
    if (bytes[end] == '\r') {
      if (next < n) {
        if (bytes[next] == '\n') ++next;
      } else {
        pending_cr_ = true;
      }
    }
    // Position state is final before process_line may call on_event, so a throwing callback
    // leaves the parser consistent.
    i = next;
    if (line_.size() + segment.size() > max_event_bytes_) {
      fail();
      return false;
    }
    if (line_.empty()) {
      // The common case: the whole line is inside this chunk and is parsed in place.
      if (!process_line(segment, on_event)) return false;
    } else {
      std::string line;
      line.swap(line_);
      line.append(segment);
      bool ok = process_line(line, on_event);
      if (line.capacity() <= keep_line_capacity) {
        line.clear();
        line_.swap(line);
      }
      if (!ok) return false;
    }
  }
  return true;
}

bool SseParser::process_line(std::string_view line, const std::function<void(SseEvent&&)>& on_event) {
  if (line.empty()) {
    dispatch(on_event);
    return true;
  }
  if (line.front() == ':') return true;  // comment (servers use them as keep-alives)
  std::string_view field = line;
  std::string_view value;
  if (auto colon = line.find(':'); colon != std::string_view::npos) {
    field = line.substr(0, colon);
    value = line.substr(colon + 1);
    if (!value.empty() && value.front() == ' ') value.remove_prefix(1);
  }
  if (field == "data") {
    if (data_.size() + value.size() + 1 > max_event_bytes_) {
      fail();
      return false;
    }
    data_.append(value);
    data_.push_back('\n');
  } else if (field == "event") {
    event_type_.assign(value);
  } else if (field == "id") {
    // An ID with NUL is ignored whole: it could not be sent back in a Last-Event-ID header.
    if (value.find('\0') == std::string_view::npos) {
      id_buffer_.assign(value);
      has_id_ = true;
    }
  } else if (field == "retry") {
    set_retry(value);
  }
  return true;
}

void SseParser::set_retry(std::string_view value) {
  // Empty or non-digit values are ignored, and so are values that do not fit: clamping
  // an absurd reconnection time would still be absurd.
  if (value.empty()) return;
  constexpr auto max = std::chrono::milliseconds::max().count();
  std::chrono::milliseconds::rep v = 0;
  for (char c : value) {
    if (c < '0' || c > '9') return;
    int digit = c - '0';
    if (v > (max - digit) / 10) return;
    v = v * 10 + digit;
  }
  retry_ = std::chrono::milliseconds(v);
}

void SseParser::dispatch(const std::function<void(SseEvent&&)>& on_event) {
  // The spec commits the ID before the empty-data check, so an id-only "priming" event still
  // sets the ID a resumption must send.
  if (has_id_) last_event_id_ = id_buffer_;
  bool had_id = std::exchange(has_id_, false);
  if (data_.empty()) {
    event_type_.clear();
    return;
  }
  data_.pop_back();
  SseEvent ev;
  ev.event = event_type_.empty() ? std::string("message") : std::move(event_type_);
  ev.data = std::move(data_);
  ev.id = last_event_id_;
  ev.has_id = had_id;
  // Moved-from strings are valid but unspecified; make them definitely empty.
  data_.clear();
  event_type_.clear();
  if (on_event) on_event(std::move(ev));
}

void SseParser::finish() {
  clear_buffers();
}

const std::string& SseParser::last_event_id() const noexcept {
  return last_event_id_;
}

std::optional<std::chrono::milliseconds> SseParser::retry() const noexcept {
  return retry_;
}

bool SseParser::failed() const noexcept {
  return failed_;
}

void SseParser::reset() {
  clear_buffers();
  failed_ = false;
}

void SseParser::clear_buffers() {
  // Fresh strings rather than clear(): after a huge event the memory goes back.
  line_ = std::string();
  data_ = std::string();
  event_type_.clear();
  // An ID seen in an event that never completed is never committed (id_buffer_ is only
  // read while has_id_ is set).
  has_id_ = false;
  pending_cr_ = false;
  bom_done_ = false;
  bom_matched_ = 0;
}

void SseParser::fail() {
  failed_ = true;
  line_ = std::string();
  data_ = std::string();
  event_type_.clear();
}

}  // namespace mcp::detail
