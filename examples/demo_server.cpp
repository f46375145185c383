// SPDX-License-Identifier: MIT
// demo_server: a small MCP server on libmcp-server, speaking both protocol eras over stdio.
//
//   demo_server [--name NAME] [--port PORT] [--interactive]
//
// Transport: newline-delimited JSON-RPC 2.0 on stdin/stdout; exits when stdin ends. With
// --port, Streamable HTTP at http://127.0.0.1:PORT/mcp instead (0: a free port), printing
// "PORT <n>" when it listens, until stdin ends or a signal. The era is
// the client's, request by request: 2026-07-28 (`server/discover`, `_meta` in every request)
// or the `initialize` handshake (2025-11-25 down to 2024-11-05). Try it by hand (one line):
//   printf '%s\n' '{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-11-25","capabilities":{},"clientInfo":{"name":"me","version":"1"}}}' '{"jsonrpc":"2.0","id":2,"method":"tools/list"}' | demo_server
//
// Tools: add {a, b}, echo {text}, word_count {text}, now {}. With --interactive also backup {},
// which asks the client for its roots, its model (sampling) and its user (elicitation), reports
// progress, and on success adds a tool, restore {name} (clients are told the list changed). It
// pretends: no file is read or written. examples/handlers.cpp is its client.

#include <mcp/server.hpp>
#include <mcp/server_http.hpp>
#include <mcp/version.hpp>

#include <chrono>
#include <cmath>
#include <cstdint>
#include <ctime>
#include <iostream>
#include <sstream>
#include <string>

using nlohmann::json;

namespace {

json number_schema(const char* description) { return {{"type", "number"}, {"description", description}}; }
json string_schema(const char* description) { return {{"type", "string"}, {"description", description}}; }
json object_schema(json properties, std::vector<std::string> required) {
  json schema{{"type", "object"}, {"properties", std::move(properties)}};
  if (!required.empty()) schema["required"] = std::move(required);
  return schema;
}

// 2 + 3 is "5", not "5.0": integers stay integers unless they overflow.
json add_numbers(const json& a, const json& b) {
  if (a.is_number_integer() && b.is_number_integer()) {
    std::int64_t sum = 0;
    if (!__builtin_add_overflow(a.get<std::int64_t>(), b.get<std::int64_t>(), &sum)) return sum;
  }
  const double sum = a.get<double>() + b.get<double>();
  if (std::isfinite(sum) && std::trunc(sum) == sum && std::fabs(sum) < 9.0e15) return static_cast<std::int64_t>(sum);
  return sum;
}

std::string utc_now() {
  const std::time_t t = std::chrono::system_clock::to_time_t(std::chrono::system_clock::now());
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf;
}

// backup {}: asks the client (roots, then its model for a name, then its user), then "backs up"
// each root, reporting progress. In the 2026-07-28 era each question ends the call with
// `input_required` and the client calls again with the answers so far: the handler runs again
// from the top, so it only asks until it acts.
mcp::Result<mcp::CallToolResult> backup(mcp::Server& server, mcp::RequestContext& ctx) {
  auto roots = ctx.roots();
  if (!roots) return tl::unexpected(roots.error());
  if (roots->empty()) return mcp::error_result("the client offers no roots to back up");
  std::string listing;
  for (const auto& root : *roots) listing += root.uri + "\n";
  auto named = ctx.sample({{"messages", {{{"role", "user"}, {"content", {{"type", "text"}, {"text", "Name a backup of:\n" + listing}}}}}},
                           {"maxTokens", 20}});
  if (!named) return tl::unexpected(named.error());
  const json content = named->value("content", json::object());
  const std::string name = content.is_object() ? content.value("text", "backup") : "backup";
  mcp::ElicitRequest question;
  question.message = "Back up " + std::to_string(roots->size()) + " roots as '" + name + "'?";
  question.requested_schema = object_schema({{"confirm", {{"type", "boolean"}}}}, {"confirm"});
  auto answer = ctx.elicit(question);
  if (!answer) return tl::unexpected(answer.error());
  if (answer->action != "accept" || answer->content.value("confirm", json(false)) != json(true))
    return mcp::text_result("backup cancelled");
  for (std::size_t i = 0; i < roots->size(); ++i) {
    if (ctx.cancelled()) return mcp::error_result("cancelled");
    (void)ctx.progress(static_cast<double>(i + 1), static_cast<double>(roots->size()), "backing up " + (*roots)[i].uri);
  }
  // The first backup adds `restore` (later ones find it there: add_tool refuses a taken name).
  (void)server.add_tool({.name = "restore",
                         .description = "Restore a backup (pretends).",
                         .input_schema = object_schema({{"name", string_schema("the backup's name")}}, {"name"}),
                         .handler = [](const json& args, mcp::RequestContext&) -> mcp::Result<mcp::CallToolResult> {
                           return mcp::text_result("restored '" + args["name"].get<std::string>() + "'");
                         }});
  return mcp::text_result("backed up " + std::to_string(roots->size()) + " roots as '" + name + "'");
}

int usage(std::ostream& out, int status) {
  out << "usage: demo_server [--name NAME] [--port PORT] [--interactive]\n"
         "A demo MCP server (tools: add, echo, word_count, now) speaking newline-delimited\n"
         "JSON-RPC on stdin/stdout, in the 2026-07-28 (stateless) and 2025-11-25..2024-11-05\n"
         "(initialize) protocol eras. Exits on stdin EOF. --port PORT: Streamable HTTP at\n"
         "http://127.0.0.1:PORT/mcp instead (0: any free port; prints PORT <n>).\n"
         "--interactive: also backup, a tool that asks the client for roots, sampling and\n"
         "elicitation, reports progress, and adds a restore tool.\n";
  return status;
}

}  // namespace

int main(int argc, char** argv) {
  std::string name = "demo";
  int port = -1;  // stdio
  bool interactive = false;
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    if (arg == "-h" || arg == "--help") return usage(std::cout, 0);
    if (arg == "--name" && i + 1 < argc) {
      name = argv[++i];
    } else if (arg.rfind("--name=", 0) == 0) {
      name = arg.substr(7);
    } else if (arg == "--interactive") {
      interactive = true;
    } else if (arg == "--port" && i + 1 < argc) {
      const std::string p = argv[++i];
      if (p.empty() || p.size() > 5 || p.find_first_not_of("0123456789") != std::string::npos || std::stoi(p) > 65535) {
        std::cerr << "demo_server: --port needs a port number\n";
        return usage(std::cerr, 2);
      }
      port = std::stoi(p);
    } else {
      std::cerr << "demo_server: unexpected argument '" << arg << "'\n";
      return usage(std::cerr, 2);
    }
  }

  // Results without the server's info in `_meta` (a SHOULD of 2026-07-28; discover has it):
  // the benchmark's "C++ demo server" replies stay the size they were when its figures began.
  mcp::Server server({.identity = {.name = name, .version = mcp::version_string, .title = "MCP C++ SDK demo server"},
                      .server_info_in_results = false});
  const json hints{{"readOnlyHint", true}, {"openWorldHint", false}};
  auto added = server.add_tool(
      {.name = "add",
       .title = "Add",
       .description = "Add two numbers.\nReturns the sum as text and as structuredContent {result}.",
       .input_schema = object_schema({{"a", number_schema("first addend")}, {"b", number_schema("second addend")}}, {"a", "b"}),
       .output_schema = object_schema({{"result", number_schema("a + b")}}, {"result"}),
       .annotations = hints,
       .handler = [](const json& args, mcp::RequestContext&) -> mcp::Result<mcp::CallToolResult> {
         json sum = add_numbers(args["a"], args["b"]);
         return mcp::text_result(sum.dump(), json{{"result", sum}});
       }});
  if (added)
    added = server.add_tool({.name = "echo",
                             .title = "Echo",
                             .description = "Return the given text unchanged.",
                             .input_schema = object_schema({{"text", string_schema("text to echo")}}, {"text"}),
                             .annotations = hints,
                             .handler = [](const json& args, mcp::RequestContext&) -> mcp::Result<mcp::CallToolResult> {
                               return mcp::text_result(args["text"].get<std::string>());
                             }});
  if (added)
    added = server.add_tool({.name = "word_count",
                             .title = "Word count",
                             .description = "Count the whitespace-separated words in a text.",
                             .input_schema = object_schema({{"text", string_schema("text to count")}}, {"text"}),
                             .output_schema = object_schema({{"words", {{"type", "integer"}}}}, {"words"}),
                             .annotations = hints,
                             .handler = [](const json& args, mcp::RequestContext&) -> mcp::Result<mcp::CallToolResult> {
                               std::istringstream in(args["text"].get<std::string>());
                               std::int64_t words = 0;
                               for (std::string w; in >> w;) ++words;
                               return mcp::text_result(std::to_string(words), json{{"words", words}});
                             }});
  if (added)
    added = server.add_tool({.name = "now",
                             .title = "Current time",
                             .description = "The current time in UTC, ISO 8601 (e.g. 2025-01-31T12:00:00Z).",
                             .input_schema = object_schema(json::object(), {}),
                             .annotations = hints,
                             .handler = [](const json&, mcp::RequestContext&) -> mcp::Result<mcp::CallToolResult> {
                               return mcp::text_result(utc_now());
                             }});
  if (added && interactive)
    added = server.add_tool({.name = "backup",
                             .title = "Backup",
                             .description = "Back up the client's roots (pretends), after asking its model for a name "
                                            "and its user for a confirmation.",
                             .input_schema = object_schema(json::object(), {}),
                             .handler = [&server](const json&, mcp::RequestContext& ctx) { return backup(server, ctx); }});
  if (!added) {
    std::cerr << "demo_server: " << added.error().message << "\n";
    return 1;
  }
  if (port >= 0) {
    mcp::HttpHost host(server, {.port = static_cast<unsigned short>(port)});
    auto bound = host.start();
    if (!bound) {
      std::cerr << "demo_server: " << bound.error().message << "\n";
      return 1;
    }
    std::cout << "PORT " << *bound << std::endl;
    for (std::string line; std::getline(std::cin, line);) {
    }  // until stdin ends
    host.stop();
    return 0;
  }
  auto served = server.serve_stdio();
  if (!served) {
    std::cerr << "demo_server: " << served.error().message << "\n";
    return 1;
  }
  return 0;
}
