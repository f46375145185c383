// SPDX-License-Identifier: MIT
// libFuzzer target for the fast JSON parser (lib/protocol/json_read.cpp). The property checked is the
// one the library relies on: parse_json gives exactly what nlohmann::json::parse gives for the
// same bytes (the same values and number types, `discarded` for the same inputs), but for its
// three documented differences: text that fails only for invalid UTF-8 or unpaired surrogates is
// read repaired, values nested deeper than kMaxJsonDepth are refused, and so is text with a NUL
// byte (nlohmann reads a NUL where a token may start as the end of the input, so it takes
// `1\0garbage` as 1; JSON has no place for a raw NUL). And parse_response, the
// transports' first try at a reply, agrees with parse_json on what it takes.
#include "protocol/json_read.hpp"

#include <nlohmann/json.hpp>

#include "../unit/json_same.hpp"

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string_view>
#include <utility>
#include <vector>

using nlohmann::json;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  json want = json::parse(text.begin(), text.end(), nullptr, false);
  if (want.is_discarded())
    if (auto fixed = mcp::detail::repaired_json_text(text)) want = json::parse(*fixed, nullptr, false);
  if (!want.is_discarded()) {
    // Deeper than the limit: parse_json refuses it (depth walked without recursion).
    if (mcp_test::depth_of(want) > mcp::detail::kMaxJsonDepth) want = json(json::value_t::discarded);
    // nlohmann stopped at a NUL byte: the text is not JSON.
    if (text.find('\0') != std::string_view::npos) want = json(json::value_t::discarded);
  }
  const json got = mcp::detail::parse_json(text);
  if (!mcp_test::same_json(got, want)) {
    std::fprintf(stderr, "parse_json differs from nlohmann::json::parse\n");
    std::abort();
  }
  // parse_response (a reply read without its envelope, what the transports try first) takes
  // only a success response {"id": integer, "result": ..., "jsonrpc": string} and gives its
  // result exactly as parse_json reads it.
  std::int64_t id = 0;
  json result;
  if (mcp::detail::parse_response(text, id, result)) {
    const bool shape = got.is_object() && got.contains("id") && got["id"].is_number_integer() && got.contains("result") &&
                       !got.contains("error") && !got.contains("method") &&
                       got.size() == (got.contains("jsonrpc") ? 3u : 2u) &&
                       (!got.contains("jsonrpc") || got["jsonrpc"].is_string());
    if (!shape || got["id"].get<std::int64_t>() != id || !mcp_test::same_json(result, got["result"])) {
      std::fprintf(stderr, "parse_response differs from parse_json\n");
      std::abort();
    }
  } else if (!result.is_null()) {
    std::fprintf(stderr, "parse_response left a value behind\n");
    std::abort();
  }
  return 0;
}
