// SPDX-License-Identifier: MIT
// The default EventStore of the HTTP host's legacy sessions: one bounded queue of events per
// session, oldest forgotten first. Event ids are `<stream>-<n>`, n counting the session's events,
// so an id names its stream and its place, and a replay is a binary search and a scan.
#include <mcp/server_http.hpp>

#include <algorithm>
#include <charconv>
#include <cstdint>
#include <deque>

namespace mcp {

namespace {

class MemoryEventStore final : public EventStore {
 public:
  MemoryEventStore(std::size_t max_bytes, std::size_t max_events) : max_bytes_(max_bytes), max_events_(max_events) {}

  std::string store(const std::string& stream, const std::string& message) override {
    const std::size_t size = stream.size() + message.size();
    if (max_events_ == 0 || size > max_bytes_) return {};  // could never be kept
    events_.push_back(Event{next_, stream, message});
    bytes_ += size;
    while (events_.size() > max_events_ || bytes_ > max_bytes_) {
      bytes_ -= events_.front().stream.size() + events_.front().message.size();
      events_.pop_front();
    }
    return stream + "-" + std::to_string(next_++);
  }

  std::optional<std::string> replay_after(
      const std::string& last_id, const std::function<void(const std::string&, const std::string&)>& sink) override {
    const auto dash = last_id.rfind('-');
    if (dash == std::string::npos) return std::nullopt;
    std::uint64_t seq = 0;
    const char* end = last_id.data() + last_id.size();
    if (auto [p, ec] = std::from_chars(last_id.data() + dash + 1, end, seq); ec != std::errc() || p != end)
      return std::nullopt;
    const std::string stream = last_id.substr(0, dash);
    auto it = std::lower_bound(events_.begin(), events_.end(), seq, [](const Event& e, std::uint64_t s) { return e.seq < s; });
    // The event itself must still be here: else what followed it may be gone too.
    if (it == events_.end() || it->seq != seq || it->stream != stream) return std::nullopt;
    for (++it; it != events_.end(); ++it)
      if (it->stream == stream) sink(stream + "-" + std::to_string(it->seq), it->message);
    return stream;
  }

 private:
  struct Event {
    std::uint64_t seq;
    std::string stream, message;
  };
  std::size_t max_bytes_, max_events_;
  std::deque<Event> events_;
  std::size_t bytes_ = 0;
  std::uint64_t next_ = 1;
};

}  // namespace

std::unique_ptr<EventStore> make_memory_event_store(std::size_t max_bytes, std::size_t max_events) {
  return std::make_unique<MemoryEventStore>(max_bytes, max_events);
}

}  // namespace mcp
