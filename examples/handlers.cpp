// SPDX-License-Identifier: MIT
// Handlers: the application answers what a server asks while a tool runs (the roots it may
// see, a completion from the application's model, its user's confirmation) and hears what the
// server tells (the call's progress, a changed tool list). One set of handlers serves both
// protocol eras: legacy servers send requests, 2026-07-28 servers answer `input_required` and
// the client calls again with the answers; the handlers cannot tell the difference.
//   build/examples/handlers build/examples/demo_server --interactive
//   build/examples/handlers --legacy build/examples/demo_server --interactive   (2025-11-25 era)
// It calls the demo server's `backup` tool, which asks for all three, reports progress and
// then adds a `restore` tool; see docs/guide/handlers.md.
#include <mcp/client.hpp>

#include <chrono>
#include <condition_variable>
#include <iostream>
#include <mutex>
#include <string>

int main(int argc, char** argv) {
  const bool legacy = argc > 1 && std::string(argv[1]) == "--legacy";
  const int first = legacy ? 2 : 1;
  if (argc <= first) { std::cerr << "usage: handlers [--legacy] SERVER_EXECUTABLE [ARGS...]\n"; return 2; }
  mcp::StdioServerConfig server;
  server.command = argv[first];
  server.args.assign(argv + first + 1, argv + argc);
  mcp::ClientConfig config;
  config.servers["demo"].transport = server;
  if (legacy) config.servers["demo"].era = mcp::Era::legacy;  // default: detected (2026-07-28 here)

  // What servers ask. Each handler runs on a worker thread of the connection while the call
  // that caused it waits; it may block (a person answering). A handler left unset is not
  // declared to servers as a capability.
  config.handlers.roots = [](const std::string& name) {
    std::cout << name << " asks for roots\n";
    return std::vector<mcp::Root>{{.uri = "file:///srv/photos", .name = "photos"},
                                  {.uri = "file:///srv/notes", .name = "notes"}};
  };
  config.handlers.sampling = [](const std::string& name, const nlohmann::json& params) -> mcp::Result<nlohmann::json> {
    // params: "messages", "maxTokens", "systemPrompt" ...: hand them to your model.
    std::cout << name << " asks the model (messages: " << params.value("messages", nlohmann::json::array()).size()
              << ", maxTokens: " << params.value("maxTokens", 0) << ")\n";
    return nlohmann::json{{"role", "assistant"},
                          {"content", {{"type", "text"}, {"text", "nightly"}}},
                          {"model", "canned-model"}};
  };
  config.handlers.elicitation = [](const std::string& name, const mcp::ElicitRequest& request)
      -> mcp::Result<mcp::ElicitResult> {
    std::cout << name << " asks the user: " << request.message << " (answering yes)\n";
    if (request.mode != "form") return mcp::ElicitResult{.action = "decline"};  // "url": open a browser
    return mcp::ElicitResult{.action = "accept", .content = {{"confirm", true}}};
  };

  // What servers tell: list changes arrive on a worker thread, so hand them to the main one.
  std::mutex mutex;
  std::condition_variable changed;
  bool tools_changed = false;
  config.handlers.on_change = [&](const std::string&, const mcp::ChangeEvent& event) {
    if (event.kind != mcp::ChangeEvent::Kind::tools) return;
    std::lock_guard lock(mutex);
    tools_changed = true;
    changed.notify_all();
  };

  auto client = mcp::Client::create(std::move(config));
  if (!client) { std::cerr << client.error().what() << '\n'; return 1; }

  // Progress belongs to one call: called on this thread while it waits, in order.
  mcp::RequestOptions options;
  options.on_progress = [](const mcp::Progress& p) {
    std::cout << "progress " << p.progress << '/' << p.total.value_or(0) << ": " << p.message.value_or("") << '\n';
  };
  auto result = client->call_tool("demo", "backup", nlohmann::json::object(), options);
  if (!result) { std::cerr << result.error().what() << '\n'; return 1; }
  std::cout << "result: " << result->text() << '\n';

  {
    std::unique_lock lock(mutex);
    if (!changed.wait_for(lock, std::chrono::seconds(5), [&] { return tools_changed; })) {
      std::cerr << "no tool list change was notified\n";
      return 1;
    }
  }
  auto tools = client->list_tools();  // asks again: the change dropped the cached listing
  if (!tools) { std::cerr << tools.error().what() << '\n'; return 1; }
  std::cout << "tools changed, now:";
  for (const auto& [key, tool] : *tools) std::cout << ' ' << key;
  std::cout << '\n';
}
