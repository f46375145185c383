// SPDX-License-Identifier: MIT
#pragma once
// Conversions the library uses internally, beside the public from_json/to_json.
#include <mcp/types.hpp>

namespace mcp::detail {

/// from_json for a reply the caller no longer needs: its payloads move into the typed members
/// and the rest becomes `v.raw`, nothing copied. Throws as from_json does (and, for the last two,
/// when `contents` / `messages` is not an array).
void call_tool_result_from(nlohmann::json&& j, CallToolResult& v);
void read_resource_result_from(nlohmann::json&& j, ReadResourceResult& v);
void get_prompt_result_from(nlohmann::json&& j, GetPromptResult& v);

/// A deep copy of `j` (equal to `json(j)`) whose recursion costs one small frame per level:
/// nlohmann's copy goes through five or six frames per level, 1.7 KB of stack under ASan, so a
/// server's value at the depth limit would not copy within a 256 KiB thread stack.
nlohmann::json copy_json(const nlohmann::json& j);

}  // namespace mcp::detail
