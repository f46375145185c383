// SPDX-License-Identifier: MIT
// A client built by the CMake consumer (mcp::mcp, mcp::pool): through a ClientPool, tenant
// "t1" calls add(2, 3) on the server given as argv[1] and checks the answer is 5.
#include <mcp/client.hpp>
#include <mcp/pool.hpp>
#include <mcp/version.hpp>

#include <cstdlib>
#include <iostream>

int main(int argc, char** argv) {
  if (argc < 2) return 2;
  const std::string server = argv[1];
  auto pool = mcp::ClientPool::create({.factory = [&](const std::string&) -> mcp::Result<mcp::ClientConfig> {
    mcp::ClientConfig cfg;
    mcp::StdioServerConfig st;
    st.command = server;
    // run.sh finds the staged prefix's libraries through LD_LIBRARY_PATH (an installed prefix
    // in the loader's path needs none); a stdio server sees only what env passes on.
    if (const char* path = std::getenv("LD_LIBRARY_PATH")) st.env["LD_LIBRARY_PATH"] = path;
    cfg.servers["calc"].transport = st;
    return cfg;
  }});
  if (!pool) { std::cerr << pool.error().what() << "\n"; return 1; }
  auto lease = (*pool)->acquire("t1");
  if (!lease) { std::cerr << lease.error().what() << "\n"; return 1; }
  auto r = lease->client().call_tool("calc", "add", {{"a", 2}, {"b", 3}});
  if (!r) { std::cerr << r.error().what() << "\n"; return 1; }
  const auto text = r->text();
  std::cout << "mcp " << mcp::version_string << ": add(2, 3) = " << text << "\n";
  return text == "5.0" ? 0 : 1;
}
