// SPDX-License-Identifier: MIT
#pragma once
// One JSON string written as append_json (json_write.hpp) writes a string value, for text built
// without a tree around it (the server's plain tool results).
#include <string>
#include <string_view>

namespace mcp::detail {

/// Appends `s` as a quoted JSON string, escaped byte for byte as append_json escapes one.
void append_json_string(std::string& out, std::string_view s);

}  // namespace mcp::detail
