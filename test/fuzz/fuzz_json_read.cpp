// SPDX-License-Identifier: MIT
// libFuzzer target for the fast JSON parser (lib/protocol/json_read.cpp). The property checked is the
// one the library relies on: parse_json gives exactly what nlohmann::json::parse gives for the
// same bytes (the same values and number types, `discarded` for the same inputs), but for its
// two documented differences: text that fails only for invalid UTF-8 or unpaired surrogates is
// read repaired, and values nested deeper than kMaxJsonDepth are refused.
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
  }
  const json got = mcp::detail::parse_json(text);
  if (!mcp_test::same_json(got, want)) {
    std::fprintf(stderr, "parse_json differs from nlohmann::json::parse\n");
    std::abort();
  }
  return 0;
}
