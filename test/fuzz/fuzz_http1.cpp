// SPDX-License-Identifier: MIT
// libFuzzer target for the HTTP/1.1 response parser of the lean client (lib/http1_parser.cpp). The
// property checked is the one the transport relies on: how the network splits a response
// never changes what is parsed. The same bytes are fed one-shot, in two pieces and byte by
// byte; success, completion, status, body, keep-alive and the number of heads must agree, and
// a body never holds more bytes than the input.
//
// Input layout: byte 0 chooses the split point, byte 1 bit 0 a HEAD request and bit 1 whether
// the connection closes after the bytes; the rest is the response.
#include "http1.hpp"

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>
#include <vector>

namespace {

using mcp::detail::http1::Head;
using mcp::detail::http1::ResponseParser;

struct Outcome {
  bool ok = true;
  bool done = false;
  bool keep_alive = false;
  int status = 0;
  int heads = 0;
  std::string body;
  bool operator==(const Outcome&) const = default;
};

[[noreturn]] void fail_check(const char* what) {
  std::fprintf(stderr, "fuzz_http1: %s\n", what);
  std::abort();
}

Outcome run(const std::vector<std::string_view>& chunks, bool head_request, bool close) {
  ResponseParser p;
  p.reset(head_request);
  Outcome out;
  auto on_head = [&](const Head& h) {
    if (h.status < 200 || h.status > 999) fail_check("a final head with a status outside 200..999");
    for (const auto& [k, v] : h.fields)
      if (k.empty() || k.find(':') != std::string_view::npos) fail_check("an empty or colon-bearing field name");
    ++out.heads;
    out.status = h.status;
    return true;
  };
  auto on_data = [&](const char* d, std::size_t n) {
    out.body.append(d, n);
    return true;
  };
  for (auto c : chunks) {
    out.ok = p.feed(c.data(), c.size(), on_head, on_data);
    if (!out.ok) break;
  }
  if (out.ok && close) out.ok = p.finish();
  if (!out.ok && p.error().empty() && !p.stopped()) fail_check("a failure without an error text");
  out.done = p.done();
  out.keep_alive = p.keep_alive();
  if (!out.ok) out.body.clear();  // what arrived before a failure is not compared
  return out;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size < 2) return 0;
  const bool head_request = (data[1] & 1) != 0;
  const bool close = (data[1] & 2) != 0;
  const std::string_view text(reinterpret_cast<const char*>(data) + 2, size - 2);
  const std::size_t split = text.empty() ? 0 : data[0] % (text.size() + 1);

  const Outcome whole = run({text}, head_request, close);
  const Outcome halves = run({text.substr(0, split), text.substr(split)}, head_request, close);
  std::vector<std::string_view> bytes;
  for (std::size_t i = 0; i < text.size(); ++i) bytes.push_back(text.substr(i, 1));
  const Outcome single = run(bytes, head_request, close);

  if (whole.body.size() > text.size()) fail_check("a body larger than the input");
  if (!(whole == halves)) fail_check("a split in two changed the outcome");
  if (!(whole == single)) fail_check("feeding byte by byte changed the outcome");
  return 0;
}
