// SPDX-License-Identifier: MIT
// libFuzzer target for the fast JSON parser (lib/json_read.cpp). The property checked is the
// one the library relies on: parse_json gives exactly what nlohmann::json::parse gives for the
// same bytes (the same values and number types, `discarded` for the same inputs).
#include "json_read.hpp"

#include <nlohmann/json.hpp>

#include "../unit/json_same.hpp"

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string_view>

using nlohmann::json;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  const json want = json::parse(text.begin(), text.end(), nullptr, false);
  const json got = mcp::detail::parse_json(text);
  if (!mcp_test::same_json(got, want)) {
    std::fprintf(stderr, "parse_json differs from nlohmann::json::parse\n");
    std::abort();
  }
  return 0;
}
