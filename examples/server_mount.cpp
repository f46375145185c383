// SPDX-License-Identifier: MIT
// Mounting MCP into an application's own HTTP server (cpp-httplib): the application owns the
// server and its routes (/health here); mcp::mount_httplib routes /mcp (and the 2024-11-05
// /sse, /messages) to an mcp::HttpHost that binds no port of its own.
//   build/examples/server_mount 8080        serves http://127.0.0.1:8080/mcp until Ctrl-C
//   build/examples/server_mount --check     serves on a free port, calls itself, exits
#include <mcp/client.hpp>
#include <mcp/server.hpp>
#include <mcp/server_httplib.hpp>

#include <pthread.h>

#include <chrono>
#include <csignal>
#include <cstdlib>
#include <iostream>
#include <string>
#include <thread>

namespace {
// Calls the mounted endpoint with our client, in one era; what the tool answered.
std::string call_add(const std::string& url, mcp::Era era) {
  mcp::HttpServerConfig http;
  http.url = url;
  mcp::ClientConfig config;
  config.servers["app"].transport = http;
  config.servers["app"].era = era;
  auto client = mcp::Client::create(std::move(config));
  if (!client) return client.error().what();
  auto r = client->call_tool("app", "add", {{"a", 2}, {"b", 3}});
  return r ? r->text() : r.error().what();
}
}  // namespace

int main(int argc, char** argv) {
  const bool check = argc > 1 && std::string(argv[1]) == "--check";
  sigset_t stop;  // blocked before any thread starts: sigwait below takes them
  sigemptyset(&stop);
  sigaddset(&stop, SIGINT);
  sigaddset(&stop, SIGTERM);
  if (!check) pthread_sigmask(SIG_BLOCK, &stop, nullptr);
  mcp::Server server({.identity = {.name = "mounted-adder", .version = "1.0.0"}});
  server.add_tool({.name = "add",
                   .input_schema = {{"type", "object"},
                                    {"properties", {{"a", {{"type", "number"}}}, {"b", {{"type", "number"}}}}},
                                    {"required", {"a", "b"}}},
                   .handler = [](const nlohmann::json& a, mcp::RequestContext&) -> mcp::Result<mcp::CallToolResult> {
                     return mcp::text_result(nlohmann::json(a["a"].get<double>() + a["b"].get<double>()).dump());
                   }});

  mcp::HttpHost host(server, {.path = "/mcp"});  // no listener: start_mounted()
  if (auto ok = host.start_mounted(); !ok) { std::cerr << ok.error().what() << '\n'; return 1; }
  httplib::Server app;                           // the application's server and routes
  app.Get("/health", [](const httplib::Request&, httplib::Response& res) { res.set_content("ok", "text/plain"); });
  mcp::mount_httplib(app, host);                 // POST/GET/DELETE /mcp, GET /sse, POST /messages

  int port = check ? 0 : argc > 1 ? std::atoi(argv[1]) : 8080;
  port = port == 0 ? app.bind_to_any_port("127.0.0.1") : app.bind_to_port("127.0.0.1", port) ? port : -1;
  if (port <= 0) { std::cerr << "cannot listen\n"; return 1; }
  std::thread serving([&] { app.listen_after_bind(); });
  const std::string url = "http://127.0.0.1:" + std::to_string(port) + "/mcp";
  int status = 0;
  if (check) {
    while (!app.is_running()) std::this_thread::sleep_for(std::chrono::milliseconds(5));
    const auto modern = call_add(url, mcp::Era::modern), legacy = call_add(url, mcp::Era::legacy);
    auto health = httplib::Client("127.0.0.1", port).Get("/health");
    std::cout << "modern: " << modern << ", legacy: " << legacy << ", /health: " << (health ? health->body : "?") << '\n';
    status = modern == "5.0" && legacy == "5.0" && health && health->body == "ok" ? 0 : 1;
  } else {
    std::cout << "MCP at " << url << " (Ctrl-C stops)\n";
    int sig = 0;
    sigwait(&stop, &sig);
  }
  host.stop();  // ends every MCP exchange (open streams included), then the app's server
  app.stop();
  serving.join();
  return status;
}
