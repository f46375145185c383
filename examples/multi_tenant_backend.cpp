// SPDX-License-Identifier: MIT
// multi_tenant_backend: a small HTTP service (cpp-httplib) that calls MCP tools for its
// customers (tenants) through one mcp::ClientPool. What it shows:
// - Each request names its tenant (header X-Tenant) and carries that tenant's API key
//   (X-Api-Key). A wrong or missing key gets 401 before any MCP traffic.
// - Each tenant's mcp::Client has its own bearer token for the upstream MCP server, which the
//   pool's factory looks up (here a table; in production your vault). The tenant's API key is
//   never passed on, and one tenant's token never serves another.
// - The per-request pattern: acquire a lease on the tenant's client, take the tools from its
//   list_toolsets() (cached by the session, so cheap once warm), call one, let the lease go.
//   Evicted clients (least recently used, idle too long, or POST /logout here) are
//   disconnected by the pool.
// - GET /metrics: mcp::Metrics (mcp/metrics.hpp) serves the pool's counters and every MCP
//   request's timing in the Prometheus text format.
// So that it runs alone, the upstream is an mcp::Server in this process (Streamable HTTP on
// 127.0.0.1, one static token per tenant, a `whoami` tool that answers who the token is);
// point `upstream_url` at your own server instead.
//
//   multi_tenant_backend [PORT]    serves http://127.0.0.1:PORT (none or 0: a free port), prints
//                                  "PORT <n>", and stops when its standard input ends
//   curl -H 'X-Tenant: acme' -H 'X-Api-Key: acme-key' http://127.0.0.1:PORT/tools
//   curl -H 'X-Tenant: acme' -H 'X-Api-Key: acme-key' -d '{"text":"hi"}' http://127.0.0.1:PORT/call/echo
//   curl http://127.0.0.1:PORT/metrics
#include <mcp/metrics.hpp>
#include <mcp/pool.hpp>
#include <mcp/server.hpp>
#include <mcp/server_http.hpp>

#include <httplib.h>

#include <chrono>
#include <cstdlib>
#include <iostream>
#include <map>
#include <string>
#include <thread>
#include <vector>

using nlohmann::json;

namespace {

// What we know of each tenant: the key it presents to us, and the token we present upstream
// on its behalf.
struct Tenant {
  std::string api_key;
  std::string upstream_token;
};
const std::map<std::string, Tenant> kTenants{
    {"acme", {"acme-key", "upstream-token-of-acme"}},
    {"globex", {"globex-key", "upstream-token-of-globex"}},
};

// The tenant a request is from, or nullptr when its key is wrong (compared in constant time).
const std::string* authenticate(const httplib::Request& req) {
  const auto it = kTenants.find(req.get_header_value("X-Tenant"));
  const std::string key = req.get_header_value("X-Api-Key");
  if (it == kTenants.end() || key.size() != it->second.api_key.size()) return nullptr;
  unsigned char diff = 0;
  for (std::size_t i = 0; i < key.size(); ++i) diff |= key[i] ^ it->second.api_key[i];
  return diff == 0 ? &it->first : nullptr;
}

void reply(httplib::Response& res, int status, const json& body) {
  res.status = status;
  res.set_content(body.dump(), "application/json");
}

// The stand-in upstream MCP server: tools `whoami` and `echo`, for bearers of the tenants'
// upstream tokens only.
void add_upstream_tools(mcp::Server& server) {
  (void)server.add_tool({.name = "whoami",
                         .description = "Who the request's token speaks for.",
                         .handler = [](const json&, mcp::RequestContext& ctx) -> mcp::Result<mcp::CallToolResult> {
                           return mcp::text_result(ctx.auth() ? ctx.auth()->subject : "nobody");
                         }});
  (void)server.add_tool({.name = "echo",
                         .description = "Returns its text.",
                         .input_schema = {{"type", "object"},
                                          {"properties", {{"text", {{"type", "string"}}}}},
                                          {"required", {"text"}}},
                         .handler = [](const json& args, mcp::RequestContext&) -> mcp::Result<mcp::CallToolResult> {
                           return mcp::text_result(args["text"].get<std::string>());
                         }});
}
mcp::HttpServerOptions upstream_options() {
  std::vector<mcp::StaticToken> tokens;
  for (const auto& [name, tenant] : kTenants) tokens.push_back({tenant.upstream_token, {.subject = name}});
  mcp::HttpServerOptions options;
  options.auth.metadata = {.resource = "https://upstream.example/mcp", .authorization_servers = {"https://auth.example"}};
  options.auth.validator = *mcp::make_static_token_validator(std::move(tokens));
  return options;
}

}  // namespace

int main(int argc, char** argv) {
  mcp::Server upstream({.identity = {.name = "upstream", .version = "1.0.0"}});
  add_upstream_tools(upstream);
  mcp::HttpHost upstream_host(upstream, upstream_options());
  const auto upstream_port = upstream_host.start();
  if (!upstream_port) {
    std::cerr << upstream_port.error().what() << '\n';
    return 1;
  }
  const std::string upstream_url = "http://127.0.0.1:" + std::to_string(*upstream_port) + "/mcp";

  // One Metrics for the whole process: every client reports its requests to it.
  mcp::Metrics metrics;
  mcp::PoolOptions options;
  options.factory = [&](const std::string& tenant) -> mcp::Result<mcp::ClientConfig> {
    mcp::HttpServerConfig http;
    http.url = upstream_url;
    http.headers["Authorization"] = "Bearer " + kTenants.at(tenant).upstream_token;
    mcp::ClientConfig config;
    config.servers["upstream"].transport = std::move(http);
    config.request_timeout = std::chrono::seconds(10);
    config.on_request = metrics.hook();
    return config;
  };
  options.max_clients = 1000;
  options.idle_ttl = std::chrono::minutes(5);
  auto pool = mcp::ClientPool::create(std::move(options));
  if (!pool) {
    std::cerr << pool.error().what() << '\n';
    return 1;
  }
  metrics.add_pool("tenants", **pool);

  httplib::Server app;
  // GET /tools: the tenant's tools.
  app.Get("/tools", [&](const httplib::Request& req, httplib::Response& res) {
    const std::string* tenant = authenticate(req);
    if (!tenant) return reply(res, 401, {{"error", "unknown tenant or wrong API key"}});
    auto lease = (*pool)->acquire(*tenant);
    if (!lease) return reply(res, 503, {{"error", lease.error().what()}});
    auto toolsets = (*lease)->list_toolsets();
    if (!toolsets) return reply(res, 502, {{"error", toolsets.error().what()}});
    json names = json::array();
    for (const auto& [name, tool] : (*toolsets)["upstream"]) names.push_back(name);
    reply(res, 200, {{"tools", names}});
  });
  // POST /call/<tool> with the arguments as a JSON object: the tool's answer.
  app.Post(R"(/call/([A-Za-z0-9_.-]+))", [&](const httplib::Request& req, httplib::Response& res) {
    const std::string* tenant = authenticate(req);
    if (!tenant) return reply(res, 401, {{"error", "unknown tenant or wrong API key"}});
    json args = req.body.empty() ? json::object() : json::parse(req.body, nullptr, false);
    if (!args.is_object()) return reply(res, 400, {{"error", "the body must be a JSON object"}});
    auto lease = (*pool)->acquire(*tenant);
    if (!lease) return reply(res, 503, {{"error", lease.error().what()}});
    auto toolsets = (*lease)->list_toolsets();  // this tenant's tools, with its credentials
    if (!toolsets) return reply(res, 502, {{"error", toolsets.error().what()}});
    const auto& tools = (*toolsets)["upstream"];
    const auto tool = tools.find(req.matches[1].str());
    if (tool == tools.end()) return reply(res, 404, {{"error", "no such tool"}});
    auto result = tool->second.call(std::move(args));
    if (!result) return reply(res, 502, {{"error", result.error().what()}});
    reply(res, 200, {{"text", result->text()}, {"isError", result->is_error}});
  });  // the lease ends here: the client stays pooled for the tenant's next request
  // POST /logout: the tenant's client is evicted and disconnected (the next request builds a
  // new one; do the same when a tenant's upstream credentials change).
  app.Post("/logout", [&](const httplib::Request& req, httplib::Response& res) {
    const std::string* tenant = authenticate(req);
    if (!tenant) return reply(res, 401, {{"error", "unknown tenant or wrong API key"}});
    (*pool)->evict(*tenant);
    res.status = 204;
  });
  app.Get("/metrics", [&](const httplib::Request&, httplib::Response& res) {
    res.set_content(metrics.text(), std::string(mcp::Metrics::content_type));
  });

  const int wanted = argc > 1 ? std::atoi(argv[1]) : 0;
  const int port = wanted == 0 ? app.bind_to_any_port("127.0.0.1") : app.bind_to_port("127.0.0.1", wanted) ? wanted : -1;
  if (port <= 0) {
    std::cerr << "multi_tenant_backend: cannot listen on 127.0.0.1:" << wanted << '\n';
    return 1;
  }
  std::thread serving([&] { app.listen_after_bind(); });
  std::cout << "PORT " << port << std::endl;
  for (std::string line; std::getline(std::cin, line);) {
  }  // until standard input ends
  app.stop();
  serving.join();
  metrics.remove_pool("tenants");  // before the pool goes
  (*pool)->clear();                // disconnects every tenant's client
  upstream_host.stop();
  return 0;
}
