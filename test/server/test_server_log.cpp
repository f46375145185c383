// mcp::Server's logging hook (ServerOptions::on_log): its diagnostics reach it as LogEvents
// naming the server, on_diagnostic still gets them, and a hook that throws changes nothing.
#include <mcp/server.hpp>

#include <doctest/doctest.h>

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
