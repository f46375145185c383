// SPDX-License-Identifier: MIT
// A server built on libmcp-server, for the server's tests: tools that exercise every path of a
// tool call (schemas, errors, a handler that throws, slow and cancellable work, progress, logs).
//   tool_server            serves stdio until stdin ends
//   tool_server --http PORT  serves HTTP on 127.0.0.1:PORT (Streamable HTTP on /mcp, 2024-11-05
//                          HTTP+SSE on /sse) until SIGTERM or SIGINT
//   tool_server --mount PORT the same, mounted into an httplib::Server of its own on
//                          127.0.0.1:PORT (mcp/server_httplib.hpp), which also answers /health
//   tool_server --https PORT CERT KEY  as --http, over HTTPS (HttpServerOptions::tls)
#include <mcp/server.hpp>
#include <mcp/server_http.hpp>
#include <mcp/server_httplib.hpp>

#include <csignal>
#include <cstdlib>
#include <cstring>
#include <pthread.h>

#include <atomic>
#include <map>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <stdexcept>
#include <thread>

using nlohmann::json;

namespace {

mcp::CallToolResult text(std::string t, std::optional<json> structured = std::nullopt) {
  return mcp::text_result(std::move(t), std::move(structured));
}

json object_schema(json properties, std::vector<std::string> required) {
  json s{{"type", "object"}, {"properties", std::move(properties)}};
  if (!required.empty()) s["required"] = std::move(required);
  return s;
}

std::atomic<int> g_cancelled{0};

}  // namespace

int main(int argc, char** argv) {
  const bool mount = argc == 3 && std::strcmp(argv[1], "--mount") == 0;
  const bool https = argc == 5 && std::strcmp(argv[1], "--https") == 0;
  const bool http = mount || https || (argc == 3 && std::strcmp(argv[1], "--http") == 0);
  sigset_t stop_signals;
  if (http) {
    // Blocked before any thread starts, so that every thread leaves them to sigwait below.
    sigemptyset(&stop_signals);
    sigaddset(&stop_signals, SIGTERM);
    sigaddset(&stop_signals, SIGINT);
    pthread_sigmask(SIG_BLOCK, &stop_signals, nullptr);
  }
  mcp::Server server({.identity = {.name = "tool-server", .version = "1.2.3", .title = "Tool server",
                                   .instructions = "Tools for the server's tests."},
                      // MCP_TOOL_SERVER_WRITE_TIMEOUT_MS: the stall tests' shorter write timeout.
                      .write_timeout = std::chrono::milliseconds(std::getenv("MCP_TOOL_SERVER_WRITE_TIMEOUT_MS")
                                                                     ? std::atoll(std::getenv("MCP_TOOL_SERVER_WRITE_TIMEOUT_MS"))
                                                                     : 10000),
                      .on_diagnostic = [](std::string_view m) { std::fprintf(stderr, "tool_server: %.*s\n", int(m.size()), m.data()); }});
  auto must = [](mcp::Result<void> r) {
    if (!r) throw std::runtime_error(r.error().message);
  };
  must(server.add_tool({.name = "echo",
                        .description = "Returns its text.",
                        .input_schema = object_schema({{"text", {{"type", "string"}}}}, {"text"}),
                        .annotations = {{"readOnlyHint", true}},
                        .handler = [](const json& a, mcp::RequestContext&) -> mcp::Result<mcp::CallToolResult> {
                          return text(a["text"].get<std::string>());
                        }}));
  must(server.add_tool({.name = "add",
                        .input_schema = object_schema({{"a", {{"type", "number"}}}, {"b", {{"type", "number"}}}}, {"a", "b"}),
                        .output_schema = object_schema({{"sum", {{"type", "number"}}}}, {"sum"}),
                        .handler = [](const json& a, mcp::RequestContext&) -> mcp::Result<mcp::CallToolResult> {
                          const double sum = a["a"].get<double>() + a["b"].get<double>();
                          return text(json(sum).dump(), json{{"sum", sum}});
                        }}));
  must(server.add_tool({.name = "bad_output",
                        .output_schema = object_schema({{"sum", {{"type", "number"}}}}, {"sum"}),
                        .handler = [](const json&, mcp::RequestContext&) -> mcp::Result<mcp::CallToolResult> {
                          return text("oops", json{{"sum", "not a number"}});
                        }}));
  must(server.add_tool({.name = "throws",
                        .handler = [](const json&, mcp::RequestContext&) -> mcp::Result<mcp::CallToolResult> {
                          throw std::runtime_error("the disk is on fire");
                        }}));
  must(server.add_tool({.name = "tool_error",
                        .handler = [](const json&, mcp::RequestContext&) -> mcp::Result<mcp::CallToolResult> {
                          throw mcp::ToolError("the date must be in the future");
                        }}));
  must(server.add_tool({.name = "refuses",
                        .handler = [](const json&, mcp::RequestContext&) -> mcp::Result<mcp::CallToolResult> {
                          mcp::Error e = mcp::Error::make(mcp::Errc::invalid_argument, "not today");
                          e.rpc_code = -32001;
                          e.data = {{"why", "test"}};
                          return mcp::fail(std::move(e));
                        }}));
  // Sleeps `ms` in small steps, reporting progress; stops early when cancelled.
  must(server.add_tool({.name = "sleep",
                        .input_schema = object_schema({{"ms", {{"type", "integer"}, {"minimum", 0}}}}, {"ms"}),
                        .handler = [](const json& a, mcp::RequestContext& ctx) -> mcp::Result<mcp::CallToolResult> {
                          const int ms = a["ms"].get<int>();
                          const auto until = std::chrono::steady_clock::now() + std::chrono::milliseconds(ms);
                          int step = 0;
                          while (std::chrono::steady_clock::now() < until) {
                            if (ctx.cancelled()) {
                              ++g_cancelled;
                              return text("cancelled");
                            }
                            std::this_thread::sleep_for(std::chrono::milliseconds(10));
                            if (++step % 10 == 0) (void)ctx.progress(step * 10, ms);
                          }
                          return text(std::to_string(ms));
                        }}));
  must(server.add_tool({.name = "cancelled_count",
                        .handler = [](const json&, mcp::RequestContext&) -> mcp::Result<mcp::CallToolResult> {
                          return text(std::to_string(g_cancelled.load()));
                        }}));
  // Logs at `level`, then says which era, revision and client it saw.
  must(server.add_tool({.name = "whoami",
                        .input_schema = object_schema({{"level", {{"type", "string"}}}}, {}),
                        .handler = [](const json& a, mcp::RequestContext& ctx) -> mcp::Result<mcp::CallToolResult> {
                          if (a.contains("level")) {
                            if (auto r = ctx.log(a["level"].get<std::string>(), "hello from whoami", "tests"); !r)
                              return mcp::fail(r.error());
                          }
                          return text(std::string(mcp::to_string(ctx.era())) + " " + ctx.protocol_version() + " " +
                                      ctx.client_info().name);
                        }}));
  // Answers with the request's `_meta` as its structured content (trace context, ...).
  must(server.add_tool({.name = "meta",
                        .handler = [](const json&, mcp::RequestContext& ctx) -> mcp::Result<mcp::CallToolResult> {
                          return text("meta", ctx.meta());
                        }}));
  // Resources: two fixed ones and a template; prompts with arguments and completion.
  must(server.add_resource({.uri = "test://static-text", .name = "static-text", .mime_type = "text/plain",
                            .read = [](const std::string& uri, const std::map<std::string, std::string>&,
                                       mcp::RequestContext&) -> mcp::Result<std::vector<mcp::ResourceContents>> {
                              mcp::ResourceContents c;
                              c.uri = uri;
                              c.mime_type = "text/plain";
                              c.text = "static text";
                              return std::vector<mcp::ResourceContents>{c};
                            }}));
  must(server.add_resource({.uri = "test://static-binary", .name = "static-binary", .mime_type = "application/octet-stream",
                            .read = [](const std::string&, const std::map<std::string, std::string>&,
                                       mcp::RequestContext&) -> mcp::Result<std::vector<mcp::ResourceContents>> {
                              mcp::ResourceContents c;  // the uri is filled in by the server
                              c.blob = "AAECAw==";
                              return std::vector<mcp::ResourceContents>{c};
                            }}));
  must(server.add_resource_template(
      {.uri_template = "test://template/{id}/data", .name = "template-data",
       .read = [](const std::string& uri, const std::map<std::string, std::string>& vars,
                  mcp::RequestContext&) -> mcp::Result<std::vector<mcp::ResourceContents>> {
         mcp::ResourceContents c;
         c.uri = uri;
         c.text = "data for " + vars.at("id");
         return std::vector<mcp::ResourceContents>{c};
       },
       .complete = [](const std::string&, const std::string& value, const std::map<std::string, std::string>&) {
         std::vector<std::string> out;
         for (const char* id : {"100", "123", "200"})
           if (std::string(id).rfind(value, 0) == 0) out.push_back(id);
         return out;
       }}));
  must(server.add_prompt({.name = "greet",
                          .description = "A greeting",
                          .arguments = {{"name", "who to greet", true}, {"tone", std::nullopt, false}},
                          .get = [](const std::map<std::string, std::string>& args,
                                    mcp::RequestContext&) -> mcp::Result<mcp::GetPromptResult> {
                            mcp::GetPromptResult r;
                            r.description = "greeting";
                            mcp::PromptMessage m;
                            m.role = "user";
                            m.content.type = "text";
                            m.content.text = "Say hello to " + args.at("name") +
                                             (args.count("tone") ? " in a " + args.at("tone") + " tone" : "");
                            r.messages.push_back(std::move(m));
                            return r;
                          },
                          .complete = [](const std::string& name, const std::string& value,
                                         const std::map<std::string, std::string>&) {
                            std::vector<std::string> out;
                            if (name == "tone")
                              for (const char* t : {"warm", "formal", "wry"})
                                if (std::string(t).rfind(value, 0) == 0) out.push_back(t);
                            return out;
                          }}));
  // Adds and removes a tool at run time (clients are told the list changed).
  must(server.add_tool({.name = "toggle_tool",
                        .handler = [&server](const json&, mcp::RequestContext&) -> mcp::Result<mcp::CallToolResult> {
                          if (server.remove_tool("extra")) return text("removed");
                          (void)server.add_tool({.name = "extra",
                                                 .handler = [](const json&, mcp::RequestContext&)
                                                     -> mcp::Result<mcp::CallToolResult> { return text("extra"); }});
                          return text("added");
                        }}));
  must(server.add_tool({.name = "touch",
                        .input_schema = object_schema({{"uri", {{"type", "string"}}}}, {"uri"}),
                        .handler = [&server](const json& a, mcp::RequestContext&) -> mcp::Result<mcp::CallToolResult> {
                          server.notify_resource_updated(a["uri"].get<std::string>());
                          return text("touched");
                        }}));
  // Asking the client: elicitation (once, or twice in a row), sampling, roots.
  const auto ask_name = [](mcp::RequestContext& ctx, const std::string& message) -> mcp::Result<std::string> {
    mcp::ElicitRequest q;
    q.message = message;
    q.requested_schema = {{"type", "object"}, {"properties", {{"name", {{"type", "string"}}}}}, {"required", {"name"}}};
    auto a = ctx.elicit(q);
    if (!a) return mcp::fail(a.error());
    if (a->action != "accept") return a->action;
    return a->content.value("name", std::string("?"));
  };
  must(server.add_tool({.name = "ask_name",
                        .handler = [ask_name](const json&, mcp::RequestContext& ctx) -> mcp::Result<mcp::CallToolResult> {
                          auto n = ask_name(ctx, "Your name?");
                          if (!n) return mcp::fail(n.error());
                          return text("Hello, " + *n);
                        }}));
  must(server.add_tool({.name = "ask_twice",
                        .handler = [ask_name](const json&, mcp::RequestContext& ctx) -> mcp::Result<mcp::CallToolResult> {
                          auto first = ask_name(ctx, "First name?");
                          if (!first) return mcp::fail(first.error());
                          auto second = ask_name(ctx, "Second name?");
                          if (!second) return mcp::fail(second.error());
                          return text(*first + "+" + *second);
                        }}));
  // Three questions at once, under the handler's own keys (2026-07-28: one input_required).
  must(server.add_tool({.name = "ask_all",
                        .handler = [](const json&, mcp::RequestContext& ctx) -> mcp::Result<mcp::CallToolResult> {
                          mcp::ElicitRequest q;
                          q.message = "Your name?";
                          q.requested_schema = {{"type", "object"}, {"properties", {{"name", {{"type", "string"}}}}}};
                          auto name = ctx.elicit(q, "user_name");
                          auto greeting = ctx.sample({{"messages", {{{"role", "user"}, {"content", {{"type", "text"}, {"text", "Greet"}}}}}},
                                                      {"maxTokens", 10}},
                                                     "greeting");
                          auto roots = ctx.roots("client_roots");
                          if (!name) return mcp::fail(name.error());
                          if (!greeting) return mcp::fail(greeting.error());
                          if (!roots) return mcp::fail(roots.error());
                          std::string out = name->content.value("name", std::string("?")) + "|" +
                                            (*greeting)["content"].value("text", std::string()) + "|";
                          for (const auto& root : *roots) out += root.uri + ";";
                          return text(out);
                        }}));
  must(server.add_tool({.name = "ask_model",
                        .handler = [](const json&, mcp::RequestContext& ctx) -> mcp::Result<mcp::CallToolResult> {
                          auto r = ctx.sample({{"messages", {{{"role", "user"}, {"content", {{"type", "text"}, {"text", "2+2?"}}}}}},
                                               {"maxTokens", 10}});
                          if (!r) return mcp::fail(r.error());
                          return text((*r)["content"].value("text", std::string()));
                        }}));
  must(server.add_tool({.name = "list_roots",
                        .handler = [](const json&, mcp::RequestContext& ctx) -> mcp::Result<mcp::CallToolResult> {
                          auto r = ctx.roots();
                          if (!r) return mcp::fail(r.error());
                          std::string out;
                          for (const auto& root : *r) out += (out.empty() ? "" : ",") + root.uri;
                          return text(out);
                        }}));
  if (mount) {
    mcp::HttpHost host(server);
    if (auto ok = host.start_mounted(); !ok) {
      std::fprintf(stderr, "tool_server: %s\n", ok.error().message.c_str());
      return 1;
    }
    httplib::Server app;
    app.Get("/health", [](const httplib::Request&, httplib::Response& res) { res.set_content("ok", "text/plain"); });
    mcp::mount_httplib(app, host);
    if (!app.bind_to_port("127.0.0.1", std::atoi(argv[2]))) {
      std::fprintf(stderr, "tool_server: cannot listen on port %s\n", argv[2]);
      return 1;
    }
    std::thread serving([&] { app.listen_after_bind(); });
    std::printf("listening on %s\n", argv[2]);
    std::fflush(stdout);
    int sig = 0;
    sigwait(&stop_signals, &sig);
    host.stop();
    app.stop();
    serving.join();
    return 0;
  }
  if (http) {
    mcp::HttpServerOptions opt{.port = static_cast<unsigned short>(std::atoi(argv[2]))};
    if (https) opt.tls = mcp::HttpTlsOptions{.cert_file = argv[3], .key_file = argv[4]};
    mcp::HttpHost host(server, std::move(opt));
    auto port = host.start();
    if (!port) {
      std::fprintf(stderr, "tool_server: %s\n", port.error().message.c_str());
      return 1;
    }
    std::printf("listening on %u\n", static_cast<unsigned>(*port));
    std::fflush(stdout);
    int sig = 0;
    sigwait(&stop_signals, &sig);
    host.stop();
    return 0;
  }
  auto served = server.serve_stdio();
  if (!served) {
    std::fprintf(stderr, "tool_server: %s\n", served.error().message.c_str());
    return 1;
  }
  return 0;
}
