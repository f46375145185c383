// SPDX-License-Identifier: MIT
// logging_spdlog: the library's logging hook (ClientConfig::on_log, <mcp/log.hpp>) written to
// spdlog, a logging library many C++ services already use. libmcp does not depend on spdlog:
// the whole bridge is `spdlog_hook` below, a dozen lines to copy into your program.
//
//   logging_spdlog DEMO_SERVER
//
// What it shows:
//   - the level map (mcp::LogLevel -> spdlog::level) and the structured fields rendered as
//     key=value after the message (server, kind, era, transport, protocol, method, target);
//   - the connection events of one stdio server (examples/demo_server): era_detected and
//     connected when the first call opens the connection, disconnected at the end; the same
//     hook also receives diagnostics, a stdio server's stderr lines (at debug), fallbacks to
//     HTTP+SSE, reconnections and re-initialised sessions;
//   - that the hook never sees a credential: the server's environment holds an API key, and
//     connection events name the command only (URLs lose their userinfo and query).
// Output (one line per event, on stdout):
//   [info] era detected: modern (protocol 2026-07-28) server=demo kind=era_detected era=modern ...
#include <mcp/client.hpp>

#include <spdlog/sinks/stdout_sinks.h>
#include <spdlog/spdlog.h>

#include <cstdio>
#include <memory>
#include <string>

namespace {

spdlog::level::level_enum to_spdlog(mcp::LogLevel l) {
  switch (l) {
    case mcp::LogLevel::trace: return spdlog::level::trace;
    case mcp::LogLevel::debug: return spdlog::level::debug;
    case mcp::LogLevel::info: return spdlog::level::info;
    case mcp::LogLevel::warning: return spdlog::level::warn;
    case mcp::LogLevel::error: return spdlog::level::err;
  }
  return spdlog::level::info;
}

// The adapter: every LogEvent as one spdlog record, its fields as key=value (empty ones left
// out). Called from the library's threads: spdlog's *_mt loggers are thread-safe.
mcp::LogHook spdlog_hook(std::shared_ptr<spdlog::logger> logger) {
  return [logger = std::move(logger)](const mcp::LogEvent& e) {
    const auto level = to_spdlog(e.level);
    if (!logger->should_log(level)) return;  // build nothing for a record nobody wants
    std::string fields = " server=" + std::string(e.server) + " kind=" + mcp::to_string(e.kind);
    auto add = [&fields](const char* key, std::string_view value) {
      if (!value.empty()) fields.append(" ").append(key).append("=").append(value);
    };
    if (e.era != mcp::Era::unknown) add("era", mcp::to_string(e.era));
    add("transport", e.transport);
    add("protocol", e.protocol_version);
    add("method", e.method);
    if (e.request_id != 0) add("request_id", std::to_string(e.request_id));
    add("target", e.target);
    logger->log(level, "{}{}", e.message, fields);
  };
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: logging_spdlog DEMO_SERVER\n");
    return 2;
  }
  auto logger = spdlog::stdout_logger_mt("mcp");
  logger->set_pattern("[%l] %v");
  logger->set_level(spdlog::level::debug);
  logger->flush_on(spdlog::level::trace);

  mcp::StdioServerConfig demo;
  demo.command = argv[1];
  demo.args = {"--name", "demo"};
  demo.env = {{"DEMO_API_KEY", "sk-live-do-not-log-me"}};  // never appears in the log
  mcp::ClientConfig cfg;
  cfg.servers.emplace("demo", mcp::ServerConfig{.transport = std::move(demo)});
  cfg.on_log = spdlog_hook(logger);

  auto client = mcp::Client::create(std::move(cfg));
  if (!client) {
    logger->error("{}", client.error().what());
    return 1;
  }
  auto sum = client->call_tool("demo", "add", {{"a", 2}, {"b", 3}});
  if (!sum) {
    logger->error("{}", sum.error().what());
    return 1;
  }
  logger->info("demo_add returned {}", sum->text());
  client->disconnect();
  return 0;
}
