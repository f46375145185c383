// SPDX-License-Identifier: MIT
// The asynchronous API on Boost.Asio (the README shows it): a coroutine awaits one call, a hundred
// more go out at once on no thread of their own, and a deadline cancels a slow one.
//   build/examples/async_quickstart build/examples/demo_server
#include <mcp/asio.hpp>
#include <mcp/client.hpp>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <iostream>
#include <memory>

namespace asio = boost::asio;

asio::awaitable<void> run(mcp::Client& client, int& status) {
  nlohmann::json args = {{"a", 2}, {"b", 3}};
  auto sum = co_await client.async_call_tool("demo", "add", std::move(args), asio::use_awaitable);
  if (!sum) {
    std::cerr << sum.error().what() << '\n';
    status = 1;
    co_return;
  }
  std::cout << "2 + 3 = " << sum->text() << '\n';
  // A hundred calls in flight at once, on no thread of their own: each completion runs on the
  // io_context's thread (bound to its executor), and io.run() returns after the last.
  auto ex = co_await asio::this_coro::executor;
  auto left = std::make_shared<int>(100), failed = std::make_shared<int>(0);
  for (int i = 0; i < 100; ++i) {
    nlohmann::json a = {{"a", i}, {"b", 1}};
    client.async_call_tool("demo", "add", std::move(a),
                           asio::bind_executor(ex, [left, failed, &status](mcp::Result<mcp::CallToolResult> r) {
                             if (!r) ++*failed;
                             if (--*left > 0) return;
                             std::cout << "100 calls, " << *failed << " failed\n";
                             if (*failed) status = 1;
                           }));
  }
}

int main(int argc, char** argv) {
  if (argc < 2) {
    std::cerr << "usage: async_quickstart SERVER_EXECUTABLE\n";
    return 2;
  }
  mcp::StdioServerConfig server;
  server.command = argv[1];
  mcp::ClientConfig config;
  config.servers["demo"].transport = server;
  auto client = mcp::Client::create(std::move(config));
  if (!client) {
    std::cerr << client.error().what() << '\n';
    return 1;
  }
  asio::io_context io;
  int status = 0;
  asio::co_spawn(io, run(*client, status), asio::detached);
  io.run();  // returns when the coroutine is done
  return status;
}
