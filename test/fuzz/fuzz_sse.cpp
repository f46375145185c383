// SPDX-License-Identifier: MIT
// libFuzzer target for the SSE parser. The property checked is the one transports rely on:
// how the network splits a stream never changes what is parsed. The same bytes are fed
// one-shot, in two pieces and byte by byte; the event sequences, last event ID, retry and
// failure state must all agree. A small max_event_bytes keeps the failure path reachable.
//
// Input layout: byte 0 chooses the split point, byte 1 the limit (16..4096), the rest is the
// stream.
#include "protocol/sse.hpp"

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace {

using mcp::detail::SseEvent;
using mcp::detail::SseParser;

struct Outcome {
  std::vector<SseEvent> events;
  std::string last_event_id;
  std::optional<std::chrono::milliseconds> retry;
  bool failed = false;
  bool operator==(const Outcome&) const = default;
};

[[noreturn]] void fail_check(const char* what) {
  std::fprintf(stderr, "fuzz_sse: %s\n", what);
  std::abort();
}

Outcome run(const std::vector<std::string_view>& chunks, std::size_t max) {
  SseParser p(max);
  Outcome out;
  bool ok = true;
  for (auto c : chunks) {
    ok = p.feed(c, [&](SseEvent&& e) {
      if (e.event.empty()) fail_check("empty event type");
      if (e.data.size() >= max) fail_check("event larger than max_event_bytes");
      if (e.id.find('\0') != std::string::npos) fail_check("id with NUL");
      out.events.push_back(std::move(e));
    });
    if (ok == p.failed()) fail_check("feed() result disagrees with failed()");
  }
  p.finish();
  if (ok == p.failed()) fail_check("finish() changed failed()");
  out.last_event_id = p.last_event_id();
  out.retry = p.retry();
  out.failed = p.failed();
  return out;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size < 2) return 0;
  const std::size_t max = 16u + 16u * data[1];
  const std::string_view stream(reinterpret_cast<const char*>(data) + 2, size - 2);
  const std::size_t split = data[0] % (stream.size() + 1);

  const Outcome whole = run({stream}, max);
  if (!(run({stream.substr(0, split), stream.substr(split)}, max) == whole)) {
    fail_check("two-piece parse differs from one-shot");
  }
  std::vector<std::string_view> bytes;
  bytes.reserve(stream.size());
  for (std::size_t i = 0; i < stream.size(); ++i) bytes.push_back(stream.substr(i, 1));
  if (!(run(bytes, max) == whole)) fail_check("byte-by-byte parse differs from one-shot");
  return 0;
}
