// SPDX-License-Identifier: MIT
// A client built by the CMake consumer on mcp::asio (mcp/asio.hpp: Boost.Asio completion
// tokens): a coroutine co_spawned on an io_context awaits add(2, 3) on the server given as
// argv[1] with asio::use_awaitable, and checks the answer is 5; io.run() returns after it.
#include <mcp/asio.hpp>
#include <mcp/client.hpp>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <cstdlib>
#include <iostream>
#include <string>

namespace asio = boost::asio;

asio::awaitable<int> add(mcp::Client& client) {
  nlohmann::json args = {{"a", 2}, {"b", 3}};
  auto r = co_await client.async_call_tool("calc", "add", std::move(args), asio::use_awaitable);
  if (!r) {
    std::cerr << r.error().what() << "\n";
    co_return 1;
  }
  std::cout << "asio: add(2, 3) = " << r->text() << "\n";
  co_return r->text() == "5.0" ? 0 : 1;
}

int main(int argc, char** argv) {
  if (argc < 2) return 2;
  mcp::StdioServerConfig st;
  st.command = argv[1];
  // As client.cpp: the staged prefix's libraries, for the server too.
  if (const char* path = std::getenv("LD_LIBRARY_PATH")) st.env["LD_LIBRARY_PATH"] = path;
  mcp::ClientConfig cfg;
  cfg.servers["calc"].transport = st;
  auto client = mcp::Client::create(std::move(cfg));
  if (!client) {
    std::cerr << client.error().what() << "\n";
    return 1;
  }
  asio::io_context io;
  int status = 3;  // the coroutine never finished
  asio::co_spawn(io, add(*client), [&status](std::exception_ptr e, int s) { status = e ? 4 : s; });
  io.run();
  return status;
}
