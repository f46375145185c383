// SPDX-License-Identifier: MIT
// Server quick start (the README shows this file): one tool, served over stdio in both eras.
//   build/examples/quickstart build/examples/server_quickstart    (prints 5.0)
#include <mcp/server.hpp>

int main() {
  mcp::Server server({.identity = {.name = "adder", .version = "1.0.0"}});
  server.add_tool({.name = "add",
                   .description = "Add two numbers",
                   .input_schema = {{"type", "object"},  // checked before the handler runs
                                    {"properties", {{"a", {{"type", "number"}}}, {"b", {{"type", "number"}}}}},
                                    {"required", {"a", "b"}}},
                   .handler = [](const nlohmann::json& args, mcp::RequestContext&) -> mcp::Result<mcp::CallToolResult> {
                     const double sum = args["a"].get<double>() + args["b"].get<double>();
                     return mcp::text_result(nlohmann::json(sum).dump());  // throw mcp::ToolError: isError
                   }});
  return server.serve_stdio() ? 0 : 1;  // until stdin ends; handlers run on their own threads
}
