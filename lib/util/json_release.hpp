// SPDX-License-Identifier: MIT
#pragma once
#include <nlohmann/json.hpp>

namespace mcp::detail {

/// Destroys `j`'s members leaf first, leaving `j` an empty object or array: nlohmann's destructor
/// allocates a stack for every object or array that still has members (a malloc and a free per
/// container destroyed). Nesting past a few levels is left to that destructor.
inline void release(nlohmann::json& j, int depth = 0) {
  if (depth > 16) return;
  if (j.is_object()) {
    auto& members = j.get_ref<nlohmann::json::object_t&>();
    for (auto& [k, v] : members) release(v, depth + 1);
    members.clear();
  } else if (j.is_array()) {
    auto& items = j.get_ref<nlohmann::json::array_t&>();
    for (auto& v : items) release(v, depth + 1);
    items.clear();
  }
}

}  // namespace mcp::detail
