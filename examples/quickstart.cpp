// SPDX-License-Identifier: MIT
// Quick start (the README shows this file): one stdio server, list its tools, call one.
//   build/examples/quickstart build/examples/demo_server
#include <mcp/client.hpp>
#include <iostream>

int main(int argc, char** argv) {
  if (argc < 2) { std::cerr << "usage: quickstart SERVER_EXECUTABLE\n"; return 2; }
  mcp::StdioServerConfig server;                 // spawned child, JSON-RPC over stdin/stdout
  server.command = argv[1];
  mcp::ClientConfig config;
  config.servers["demo"].transport = server;
  auto client = mcp::Client::create(std::move(config));  // validates; starts nothing yet
  if (!client) { std::cerr << client.error().what() << '\n'; return 1; }
  auto tools = client->list_tools();             // spawns, detects the era; keys "<server>_<tool>"
  if (!tools) { std::cerr << tools.error().what() << '\n'; return 1; }
  auto result = tools->at("demo_add").call({{"a", 2}, {"b", 3}});
  if (!result) { std::cerr << result.error().what() << '\n'; return 1; }
  std::cout << result->text() << '\n';           // "5"; a failing tool sets result->is_error
}
