// SPDX-License-Identifier: MIT
#pragma once
// Conversions the library uses internally, beside the public from_json/to_json.
#include <mcp/types.hpp>

namespace mcp::detail {

/// from_json for a reply the caller no longer needs: it becomes `v.raw` without a copy.
/// Throws as from_json does.
void call_tool_result_from(nlohmann::json&& j, CallToolResult& v);

}  // namespace mcp::detail
