// The pinned npm servers of test/interop (server-everything, the Mastra server), for the
// interop tests. They are installed by `npm ci --prefix test/interop` (the README's test
// command does it). Missing packages are a failure, not a skip: a green run must mean these
// servers were really spoken to.
#pragma once
#include "../integration/helpers.hpp"

#include <doctest/doctest.h>

#include <filesystem>

namespace testutil {

inline std::string interop_dir() {
  const char* d = std::getenv("MCP_INTEROP_DIR");
  return d ? d : "test/interop";
}

/// The pinned Node binary (fails the test when the packages are missing).
inline std::string interop_node() {
  const std::string n = interop_dir() + "/node_modules/.bin/node";
  REQUIRE_MESSAGE(std::filesystem::exists(n), "interop packages missing: run `npm ci --prefix test/interop`");
  return n;
}

inline std::string everything_js() {
  return interop_dir() + "/node_modules/@modelcontextprotocol/server-everything/dist/index.js";
}
inline std::string mastra_js() { return interop_dir() + "/mastra_server.mjs"; }

/// A stdio server run by the pinned Node.
inline mcp::ServerConfig node_server(const std::vector<std::string>& script_and_args) {
  mcp::StdioServerConfig st;
  st.command = interop_node();
  st.args = script_and_args;
  st.shutdown_grace = std::chrono::milliseconds(2000);
  mcp::ServerConfig sc;
  sc.transport = std::move(st);
  return sc;
}

/// server-everything (legacy era) over stdio.
inline mcp::ServerConfig everything() { return node_server({everything_js(), "stdio"}); }

}  // namespace testutil
