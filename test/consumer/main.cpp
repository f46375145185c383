// Uses the SDK from outside: lists the tools of the server given as argv[1] and calls echo.
#include <mcp/client.hpp>

#include <iostream>

int main(int argc, char** argv) {
  if (argc < 2) return 2;
  mcp::ClientConfig cfg;
  mcp::StdioServerConfig st;
  st.command = argv[1];
  cfg.servers["s"].transport = st;
  auto client = mcp::Client::create(cfg);
  if (!client) return 1;
  auto tools = client->list_tools();
  if (!tools) {
    std::cerr << tools.error().what() << "\n";
    return 1;
  }
  std::cout << tools->size() << " tools\n";
  return tools->count("s_echo") == 1 ? 0 : 1;
}
