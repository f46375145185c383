// SPDX-License-Identifier: MIT
#pragma once
// `x-mcp-header` (2026-07-28, Streamable HTTP "Custom Headers from Tool Parameters"): which
// tool arguments are mirrored into `Mcp-Param-{Name}` headers, and the validation that makes
// a tool definition invalid.
#include <nlohmann/json.hpp>
#include <tl/expected.hpp>

#include <string>
#include <utility>
#include <vector>

namespace mcp::detail {

/// One annotated parameter: header name (without the "Mcp-Param-" prefix) and the chain of
/// `properties` keys from the schema root.
struct ParamHeader {
  std::string name;
  std::vector<std::string> path;
};

/// The annotated parameters of an inputSchema, or why the annotations make the tool invalid.
tl::expected<std::vector<ParamHeader>, std::string> param_headers(const nlohmann::json& input_schema);

/// The `Mcp-Param-*` headers for one call's arguments (missing and null values are omitted),
/// or why they cannot be sent (an integer outside the JavaScript-safe range).
tl::expected<std::vector<std::pair<std::string, std::string>>, std::string> param_header_values(
    const std::vector<ParamHeader>& params, const nlohmann::json& arguments);

}  // namespace mcp::detail
