// SPDX-License-Identifier: MIT
#pragma once
/// @file tool.hpp
/// A tool bound to the server that offers it.
///
/// Thread-safety: `call` may be used from many threads at once. A Tool does not keep its
/// client alive: after the client is destroyed, `call` fails with Errc::disconnected.

#include <mcp/error.hpp>
#include <mcp/session.hpp>
#include <mcp/types.hpp>

#include <memory>
#include <string>

namespace mcp {

/// A callable tool.
class Tool {
 public:
  Tool(std::string server, ToolDefinition definition, std::weak_ptr<Session> session);

  /// The server's name in the client config.
  [[nodiscard]] const std::string& server() const noexcept { return server_; }
  /// The tool's name on its server.
  [[nodiscard]] const std::string& name() const noexcept { return definition_.name; }
  /// The full definition (schemas, annotations, ...).
  [[nodiscard]] const ToolDefinition& definition() const noexcept { return definition_; }
  /// Call the tool with `arguments` (a JSON object).
  [[nodiscard]] Result<CallToolResult> call(nlohmann::json arguments = nlohmann::json::object(),
                                            const RequestOptions& options = {}) const;

 private:
  std::string server_;
  ToolDefinition definition_;
  std::weak_ptr<Session> session_;
};

}  // namespace mcp
