// SPDX-License-Identifier: MIT
#pragma once
// The YAML of a skill's frontmatter (the text between the --- lines), as JSON.
#include <nlohmann/json.hpp>

#include <string_view>

namespace mcp::detail {

/// Reads `text` with the subset of YAML that frontmatter is written in (yaml_subset.cpp says
/// which); throws std::invalid_argument ("line N: why") for anything else.
nlohmann::json read_frontmatter_yaml(std::string_view text);

}  // namespace mcp::detail
