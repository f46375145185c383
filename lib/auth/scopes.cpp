// SPDX-License-Identifier: MIT
// Scopes: the MCP scope selection strategy, step-up unions and offline_access.
#include "oauth_util.hpp"

#include <algorithm>

namespace mcp::detail::oauth {

std::vector<std::string_view> split_scopes(std::string_view s) {
  std::vector<std::string_view> out;
  std::size_t i = 0;
  while (i < s.size()) {
    while (i < s.size() && (s[i] == ' ' || s[i] == '\t')) ++i;
    std::size_t b = i;
    while (i < s.size() && s[i] != ' ' && s[i] != '\t') ++i;
    if (i > b) out.push_back(s.substr(b, i - b));
  }
  return out;
}

namespace {
std::string join_scopes(const std::vector<std::string_view>& v) {
  std::string out;
  for (auto s : v) {
    if (!out.empty()) out.push_back(' ');
    out.append(s);
  }
  return out;
}
}  // namespace

std::optional<std::string> select_scope(const std::optional<std::string>& challenge_scope,
                                        const nlohmann::json& resource_metadata) {
  if (challenge_scope) {
    auto parts = split_scopes(*challenge_scope);
    if (!parts.empty()) return join_scopes(parts);
  }
  if (resource_metadata.is_object()) {
    auto it = resource_metadata.find("scopes_supported");
    if (it != resource_metadata.end() && it->is_array()) {
      std::vector<std::string_view> parts;
      for (const auto& s : *it)
        if (s.is_string() && !s.get_ref<const std::string&>().empty()) {
          const auto& str = s.get_ref<const std::string&>();
          if (std::find(parts.begin(), parts.end(), str) == parts.end()) parts.push_back(str);
        }
      if (!parts.empty()) return join_scopes(parts);
    }
  }
  return std::nullopt;
}

std::string union_scopes(std::string_view previous, std::string_view challenge) {
  std::vector<std::string_view> out;
  for (auto src : {previous, challenge})
    for (auto s : split_scopes(src))
      if (std::find(out.begin(), out.end(), s) == out.end()) out.push_back(s);
  return join_scopes(out);
}

std::string add_offline_access_if_supported(std::string_view scope, const nlohmann::json& as_metadata) {
  auto parts = split_scopes(scope);
  if (std::find(parts.begin(), parts.end(), "offline_access") != parts.end()) return join_scopes(parts);
  if (as_metadata.is_object()) {
    auto it = as_metadata.find("scopes_supported");
    if (it != as_metadata.end() && it->is_array())
      for (const auto& s : *it)
        if (s.is_string() && s.get_ref<const std::string&>() == "offline_access") {
          parts.push_back("offline_access");
          break;
        }
  }
  return join_scopes(parts);
}

}  // namespace mcp::detail::oauth
