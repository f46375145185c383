// SPDX-License-Identifier: MIT
#pragma once
// The `sub` of a JWT access token in an "Authorization: Bearer <jwt>" value, for the redis
// tests' check that no tenant ever sends another's token (the test and its replica workers).
#include "../../lib/util/base64.hpp"  // libmcp's one decoder (exported)

#include <nlohmann/json.hpp>

#include <string>

namespace redis_test {

/// "" when the value is not a bearer JWT or its claims carry no string `sub`.
inline std::string subject_of(const std::string& header) {
  const std::string prefix = "Bearer ";
  if (header.rfind(prefix, 0) != 0) return {};
  const std::string jwt = header.substr(prefix.size());
  const auto a = jwt.find('.'), b = jwt.find('.', a + 1);
  if (a == std::string::npos || b == std::string::npos) return {};
  auto payload = mcp::detail::base64url_decode(std::string_view(jwt).substr(a + 1, b - a - 1));
  if (!payload) return {};
  auto claims = nlohmann::json::parse(*payload, nullptr, false);
  return claims.is_object() && claims.contains("sub") && claims["sub"].is_string() ? claims["sub"].get<std::string>() : "";
}

}  // namespace redis_test
