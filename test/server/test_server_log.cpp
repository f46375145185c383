// mcp::Server's logging hook (ServerOptions::on_log): its diagnostics reach it as LogEvents
// naming the server, on_diagnostic still gets them, and a hook that throws changes nothing; a
// diagnostic about one request (a handler that threw, a refusal, a reply to no request) carries
// its JSON-RPC id and method, over stdio in both eras (raw JSON-RPC lines with chosen ids).
#include "stdio_session.hpp"
#include "../integration/helpers.hpp"

#include <mcp/server.hpp>

#include <doctest/doctest.h>

#include <atomic>
#include <mutex>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

namespace {
mcp::Icon icon(std::string src) { return {.src = std::move(src), .mime_type = "image/png", .sizes = {}, .theme = {}}; }
}  // namespace

TEST_CASE("server log: diagnostics reach on_log and on_diagnostic alike; a throwing hook is contained") {
  std::vector<std::string> diagnostics, logged, servers;
  std::vector<mcp::LogLevel> levels;
  mcp::Server server({.identity = {.name = "logged", .version = "1.0.0",
                                   .icons = {icon("javascript:alert(1)"), icon("https://example.com/a.png")}},
                      .on_diagnostic = [&](std::string_view d) { diagnostics.emplace_back(d); },
                      .on_log = [&](const mcp::LogEvent& e) {
                        CHECK(e.kind == mcp::LogKind::diagnostic);
                        logged.emplace_back(e.message);
                        servers.emplace_back(e.server);
                        levels.push_back(e.level);
                      }});
  CHECK(server.info().icons.size() == 1);
  REQUIRE(diagnostics.size() == 1);
  CHECK(diagnostics[0].find("icon") != std::string::npos);
  CHECK(logged == diagnostics);
  CHECK(servers == std::vector<std::string>{"logged"});
  CHECK(levels == std::vector<mcp::LogLevel>{mcp::LogLevel::warning});

  // Only on_log, and it throws: the server is built all the same.
  int calls = 0;
  mcp::Server other({.identity = {.name = "throws", .version = "1.0.0", .icons = {icon("ftp://example.com/i.png")}},
                     .on_log = [&](const mcp::LogEvent&) {
                       ++calls;
                       throw std::runtime_error("a logging hook that throws");
                     }});
  CHECK(calls == 1);
  CHECK(other.info().icons.empty());
  CHECK(std::string(mcp::to_string(mcp::LogLevel::warning)) == "warning");
  CHECK(std::string(mcp::to_string(mcp::LogKind::fell_back_to_sse)) == "fell_back_to_sse");
}

namespace {

// What on_log got, made owning.
struct Logged {
  struct Event {
    mcp::LogKind kind;
    std::string message, method;
    std::uint64_t request_id;
  };
  std::mutex m;
  std::vector<Event> events;

  mcp::LogHook hook() {
    return [this](const mcp::LogEvent& e) {
      std::lock_guard lk(m);
      events.push_back({e.kind, std::string(e.message), std::string(e.method), e.request_id});
    };
  }
  // The event whose message holds `text`, once it came (within 3 s).
  Event with(const std::string& text) {
    std::optional<Event> found;
    testutil::eventually([&] {
      std::lock_guard lk(m);
      for (const auto& e : events)
        if (e.message.find(text) != std::string::npos) {
          found = e;
          return true;
        }
      return false;
    });
    REQUIRE_MESSAGE(found, "no event says: " << text);
    CHECK(found->kind == mcp::LogKind::diagnostic);
    return *found;
  }
};

using nlohmann::json;
using namespace std::chrono_literals;

// Request `id` (a number or a string), answered; `modern`: with 2026-07-28 metadata.
json ask(testutil::StdioSession& s, const json& id, const std::string& method, json params, bool modern) {
  if (modern) params["_meta"] = testutil::kModernMeta;
  s.send({{"jsonrpc", "2.0"}, {"id", id}, {"method", method}, {"params", std::move(params)}});
  return s.answer(id);
}

json call(const std::string& tool) { return {{"name", tool}, {"arguments", json::object()}}; }

}  // namespace

TEST_CASE("server log: a diagnostic about a request carries its JSON-RPC id and method, in both eras") {
  Logged log;
  mcp::Server server({.identity = {.name = "thrower", .version = "1.0.0"}, .max_tasks = 0, .on_log = log.hook()});
  auto must = [](mcp::Result<void> r) { REQUIRE_MESSAGE(r, (r ? "" : r.error().message)); };
  auto boom = [](auto&&...) -> mcp::Result<mcp::CallToolResult> { throw std::runtime_error("kaboom"); };
  must(server.add_tool({.name = "boom", .handler = boom}));
  must(server.add_tool({.name = "boom_first", .handler = boom, .task_support = mcp::TaskSupport::optional,
                        .before_task = [](const json&, mcp::RequestContext&) -> mcp::Result<void> {
                          throw std::runtime_error("kaboom first");
                        }}));
  must(server.add_tool({.name = "task", .handler = boom, .task_support = mcp::TaskSupport::optional}));
  must(server.add_resource({.uri = "res://boom", .name = "boom",
                            .read = [](const std::string&, const std::map<std::string, std::string>&, mcp::RequestContext&)
                                -> mcp::Result<std::vector<mcp::ResourceContents>> { throw std::runtime_error("kaboom"); }}));
  must(server.add_prompt({.name = "boom", .arguments = {{.name = "a", .description = std::nullopt, .required = false}},
                          .get = [](const std::map<std::string, std::string>&, mcp::RequestContext&) -> mcp::Result<mcp::GetPromptResult> {
                            throw std::runtime_error("kaboom");
                          },
                          .complete = [](const std::string&, const std::string&, const std::map<std::string, std::string>&)
                              -> std::vector<std::string> { throw std::runtime_error("kaboom"); }}));

  for (const bool modern : {false, true}) {
    CAPTURE(modern);
    {
      std::lock_guard lk(log.m);
      log.events.clear();
    }
    testutil::StdioSession s(server);
    if (!modern) s.initialize("2025-11-25");
    const int base = modern ? 500 : 400;  // the ids this session's requests carry

    CHECK(ask(s, base + 1, "tools/call", call("boom"), modern).contains("error"));
    auto e = log.with("tool boom threw: kaboom");
    CHECK(e.request_id == static_cast<std::uint64_t>(base + 1));
    CHECK(e.method == "tools/call");

    CHECK(ask(s, base + 2, "resources/read", {{"uri", "res://boom"}}, modern).contains("error"));
    e = log.with("reading res://boom threw");
    CHECK(e.request_id == static_cast<std::uint64_t>(base + 2));
    CHECK(e.method == "resources/read");

    CHECK(ask(s, base + 3, "prompts/get", {{"name", "boom"}, {"arguments", {{"a", "x"}}}}, modern).contains("error"));
    e = log.with("prompt boom threw");
    CHECK(e.request_id == static_cast<std::uint64_t>(base + 3));
    CHECK(e.method == "prompts/get");

    CHECK(ask(s, base + 4, "completion/complete",
              {{"ref", {{"type", "ref/prompt"}, {"name", "boom"}}}, {"argument", {{"name", "a"}, {"value", "x"}}}}, modern)
              .contains("error"));
    e = log.with("a completer threw");
    CHECK(e.request_id == static_cast<std::uint64_t>(base + 4));
    CHECK(e.method == "completion/complete");

    // max_tasks 0: a task is refused (2025-11-25: the call asks for one; 2026-07-28: the client
    // declared the tasks extension).
    json task_call = call("task");
    if (!modern) task_call["task"] = json{{"ttl", 60000}};
    CHECK(ask(s, base + 5, "tools/call", task_call, modern).contains("error"));
    e = log.with("a task was refused");
    CHECK(e.request_id == static_cast<std::uint64_t>(base + 5));
    CHECK(e.method == "tools/call");

    if (modern) {  // before_task runs for 2026-07-28 tasks only
      CHECK(ask(s, base + 6, "tools/call", call("boom_first"), modern).contains("error"));
      e = log.with("before_task threw: kaboom first");
      CHECK(e.request_id == static_cast<std::uint64_t>(base + 6));
      CHECK(e.method == "tools/call");
    }

    // A string id is the client's to choose: no request_id then, the method all the same.
    {
      std::lock_guard lk(log.m);
      log.events.clear();
    }
    CHECK(ask(s, "call-7", "tools/call", call("boom"), modern).contains("error"));
    e = log.with("tool boom threw: kaboom");
    CHECK(e.request_id == 0);
    CHECK(e.method == "tools/call");

    // A reply to a request the server never sent.
    s.send({{"jsonrpc", "2.0"}, {"id", base + 8}, {"result", json::object()}});
    e = log.with("unknown or abandoned request id " + std::to_string(base + 8));
    CHECK(e.request_id == static_cast<std::uint64_t>(base + 8));
    CHECK(e.method.empty());
  }
}

TEST_CASE("server log: a request refused because the handler queue is full carries its id, in both eras") {
  Logged log;
  std::atomic<bool> release{false};
  std::atomic<int> running{0};
  mcp::Server server({.identity = {.name = "busy", .version = "1.0.0"},
                      .handler_threads = 1,
                      .max_queued_requests = 1,
                      .on_log = log.hook()});
  REQUIRE(server.add_tool({.name = "block", .handler = [&](const json&, mcp::RequestContext&) -> mcp::Result<mcp::CallToolResult> {
                             ++running;
                             while (!release) std::this_thread::sleep_for(1ms);
                             --running;
                             return mcp::text_result("released");
                           }}));
  for (const bool modern : {false, true}) {
    CAPTURE(modern);
    release = false;
    testutil::StdioSession s(server);
    if (!modern) s.initialize("2025-11-25");
    const int base = modern ? 700 : 600;
    json first = call("block"), second = call("block");
    if (modern) first["_meta"] = second["_meta"] = testutil::kModernMeta;
    // The one handler thread runs the first call, the second waits in the queue, the third is refused.
    s.send({{"jsonrpc", "2.0"}, {"id", base + 1}, {"method", "tools/call"}, {"params", first}});
    REQUIRE(testutil::eventually([&] { return running == 1; }));
    s.send({{"jsonrpc", "2.0"}, {"id", base + 2}, {"method", "tools/call"}, {"params", second}});
    auto refused = ask(s, base + 3, "tools/call", call("block"), modern);
    CHECK(refused["error"]["message"].get<std::string>().find("busy") != std::string::npos);
    auto e = log.with("every handler thread is busy");
    CHECK(e.request_id == static_cast<std::uint64_t>(base + 3));
    release = true;
    CHECK(s.answer(base + 1)["result"]["content"][0]["text"] == "released");
    CHECK(s.answer(base + 2)["result"]["content"][0]["text"] == "released");
    std::lock_guard lk(log.m);
    log.events.clear();
  }
}
