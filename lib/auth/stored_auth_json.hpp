// SPDX-License-Identifier: MIT
#pragma once
// StoredAuth as JSON, the one format of the token stores that keep it as text (the JSON file
// store, libmcp-redis): field names as in the token file ("auth_issuer", "token_resource",
// "expires_at" in seconds since the epoch). Internal to the project's libraries.
#include <mcp/oauth.hpp>

#include <nlohmann/json.hpp>

namespace mcp::detail {

// Adds the fields of `a` to the object `j`.
void stored_auth_to_json(const StoredAuth& a, nlohmann::json& j);
// The fields of an object (missing ones empty); nullopt for a non-object.
std::optional<StoredAuth> stored_auth_from_json(const nlohmann::json& j);

}  // namespace mcp::detail
