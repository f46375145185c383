// SPDX-License-Identifier: MIT
#pragma once
// Lenient getters for JSON a peer sent: servers (and token endpoints, and the token store's
// file) are not trusted to send the right types, so a missing or mistyped optional member
// reads as absent and never throws. `j` may be any value: a non-object has no members.
// Internal linkage (an unnamed namespace), as when each file had its own copy: the types'
// from_json calls them for every field of every result, and an inline function with external
// linkage in the shared library would be called through the PLT instead of inlined.
#include <nlohmann/json.hpp>

#include <optional>
#include <string>

namespace mcp::detail {
namespace {  // NOLINT(google-build-namespaces): see above

/// The member `key` of `j` when it is a string, else `def`.
inline std::string str_or(const nlohmann::json& j, const char* key, std::string def = {}) {
  auto it = j.find(key);
  return (it != j.end() && it->is_string()) ? it->get<std::string>() : def;
}

/// The member `key` of `j` when it is a string, else nullopt.
inline std::optional<std::string> opt_str(const nlohmann::json& j, const char* key) {
  auto it = j.find(key);
  if (it != j.end() && it->is_string()) return it->get<std::string>();
  return std::nullopt;
}

/// The member `key` of `j` when it is a boolean, else `def`.
inline bool bool_or(const nlohmann::json& j, const char* key, bool def = false) {
  auto it = j.find(key);
  return (it != j.end() && it->is_boolean()) ? it->get<bool>() : def;
}

/// The member `key` of `j` when it is of type `type`, else nullptr.
inline const nlohmann::json* member_of(const nlohmann::json& j, const char* key, nlohmann::json::value_t type) {
  auto it = j.find(key);
  return (it != j.end() && it->type() == type) ? &*it : nullptr;
}

}  // namespace
}  // namespace mcp::detail
