// SPDX-License-Identifier: MIT
// A server built by the CMake consumer (mcp::server): one tool, "add", over stdio.
#include <mcp/server.hpp>

int main() {
  mcp::Server server({.identity = {.name = "cmake-consumer", .version = "1.0.0"}});
  server.add_tool({.name = "add",
                   .description = "Add two numbers",
                   .input_schema = {{"type", "object"},
                                    {"properties", {{"a", {{"type", "number"}}}, {"b", {{"type", "number"}}}}},
                                    {"required", {"a", "b"}}},
                   .handler = [](const nlohmann::json& args, mcp::RequestContext&) -> mcp::Result<mcp::CallToolResult> {
                     return mcp::text_result(nlohmann::json(args["a"].get<double>() + args["b"].get<double>()).dump());
                   }});
  return server.serve_stdio() ? 0 : 1;
}
