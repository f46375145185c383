// mcp::Server's identity: icons on the server and on what it offers (sent in both eras, read
// back by our client), icons a client must never be handed (refused), and detail() (the MCP
// Registry's server detail, Mastra's getServerDetail()).
#include "../integration/helpers.hpp"

#include <mcp/client.hpp>
#include <mcp/server.hpp>
#include <mcp/server_http.hpp>

#include <doctest/doctest.h>
#include <nlohmann/json.hpp>

#include <regex>

using nlohmann::json;

namespace {

mcp::Result<mcp::CallToolResult> ok_tool(const json&, mcp::RequestContext&) { return mcp::text_result("ok"); }

mcp::Icon icon(std::string src, std::optional<std::string> theme = std::nullopt) {
  return {.src = std::move(src), .mime_type = "image/png", .sizes = {"48x48"}, .theme = std::move(theme)};
}

const char* kPng = "data:image/png;base64,iVBORw0KGgo=";

}  // namespace

TEST_CASE("server: icons that are not http(s) or data: URIs are refused, and never sent") {
  std::vector<std::string> diagnostics;
  mcp::Server server({.identity = {.name = "icons", .version = "1.0.0",
                                   .icons = {icon("https://example.com/a.png"), icon("javascript:alert(1)")}},
                      .on_diagnostic = [&](std::string_view d) { diagnostics.emplace_back(d); }});
  // The identity's bad icon was dropped, and said so.
  REQUIRE(server.info().icons.size() == 1);
  CHECK(server.info().icons[0].src == "https://example.com/a.png");
  REQUIRE(diagnostics.size() == 1);
  CHECK(diagnostics[0].find("icon") != std::string::npos);

  for (const char* bad : {"javascript:alert(1)", "file:///etc/passwd", "", "ftp://example.com/i.png", "/relative.png"}) {
    CAPTURE(bad);
    auto r = server.add_tool({.name = "t", .icons = {icon(bad)}, .handler = ok_tool});
    REQUIRE_FALSE(r);
    CHECK(r.error().code == mcp::Errc::invalid_argument);
    CHECK(r.error().message.find("icon") != std::string::npos);
  }
  auto themed = server.add_tool({.name = "t", .icons = {icon(kPng, "blue")}, .handler = ok_tool});
  REQUIRE_FALSE(themed);
  CHECK(themed.error().message.find("theme") != std::string::npos);
  auto r1 = server.add_resource({.uri = "mem://a", .name = "a", .icons = {icon("file:///x")},
                                 .read = [](auto&, auto&, auto&) -> mcp::Result<std::vector<mcp::ResourceContents>> { return {}; }});
  CHECK_FALSE(r1);
  auto r2 = server.add_prompt({.name = "p", .icons = {icon("javascript:x")},
                               .get = [](auto&, auto&) -> mcp::Result<mcp::GetPromptResult> { return mcp::GetPromptResult{}; }});
  CHECK_FALSE(r2);
  CHECK(server.tool_infos().empty());
  CHECK(server.resource_infos().empty());
  CHECK(server.prompt_infos().empty());
  // Scheme case does not matter; data: URIs are fine.
  CHECK(server.add_tool({.name = "t", .icons = {icon("HTTPS://EXAMPLE.COM/I.PNG", "dark"), icon(kPng)}, .handler = ok_tool}));
}

TEST_CASE("server over HTTP: icons of the server, tools, resources, templates and prompts reach our client, in each era") {
  mcp::Server server({.identity = {.name = "icons", .version = "1.0.0", .title = "Icons",
                                   .website_url = "https://example.com", .icons = {icon("https://example.com/s.png", "light")}}});
  REQUIRE(server.add_tool({.name = "t", .icons = {icon(kPng, "dark")}, .handler = ok_tool}));
  auto read = [](const std::string& uri, const auto&, mcp::RequestContext&) -> mcp::Result<std::vector<mcp::ResourceContents>> {
    mcp::ResourceContents c;
    c.uri = uri;
    c.text = "x";
    return std::vector<mcp::ResourceContents>{c};
  };
  REQUIRE(server.add_resource({.uri = "mem://r", .name = "r", .annotations = {{"priority", 0.5}},
                               .icons = {icon("https://example.com/r.png")}, .read = read}));
  REQUIRE(server.add_resource_template({.uri_template = "mem://t/{id}", .name = "t",
                                        .icons = {icon("https://example.com/t.png")}, .read = read}));
  REQUIRE(server.add_prompt({.name = "p", .arguments = {{.name = "who", .required = true}},
                             .icons = {icon("https://example.com/p.png")},
                             .get = [](const auto&, auto&) -> mcp::Result<mcp::GetPromptResult> { return mcp::GetPromptResult{}; }}));
  mcp::HttpHost host(server);
  auto port = host.start();
  REQUIRE(port);

  for (auto era : {mcp::Era::modern, mcp::Era::legacy}) {
    CAPTURE(mcp::to_string(era));
    mcp::HttpServerConfig h;
    h.url = "http://127.0.0.1:" + std::to_string(*port) + "/mcp";
    h.transport = mcp::HttpTransportKind::streamable_http;
    mcp::ServerConfig sc;
    sc.transport = std::move(h);
    sc.era = era;
    auto client = mcp::Client::create(testutil::one("s", std::move(sc)));
    REQUIRE(client);
    auto info = client->server_info("s");
    REQUIRE(info);
    REQUIRE(info->implementation.icons.size() == 1);
    CHECK(info->implementation.icons[0].src == "https://example.com/s.png");
    CHECK(info->implementation.icons[0].theme == "light");
    CHECK(info->implementation.icons[0].sizes == std::vector<std::string>{"48x48"});
    CHECK(info->implementation.raw.value("websiteUrl", "") == "https://example.com");

    auto session = client->session("s");
    REQUIRE(session);
    auto tools = (*session)->list_tools();
    REQUIRE(tools);
    REQUIRE(tools->size() == 1);
    REQUIRE((*tools)[0].icons.size() == 1);
    CHECK((*tools)[0].icons[0].src == kPng);
    CHECK((*tools)[0].icons[0].mime_type == "image/png");
    auto resources = (*session)->list_resources();
    REQUIRE(resources);
    REQUIRE(resources->size() == 1);
    CHECK((*resources)[0].icons.at(0).src == "https://example.com/r.png");
    CHECK((*resources)[0].raw["annotations"]["priority"] == 0.5);
    auto templates = (*session)->list_resource_templates();
    REQUIRE(templates);
    REQUIRE(templates->size() == 1);
    CHECK((*templates)[0].icons.at(0).src == "https://example.com/t.png");
    auto prompts = (*session)->list_prompts();
    REQUIRE(prompts);
    REQUIRE(prompts->size() == 1);
    CHECK((*prompts)[0].icons.at(0).src == "https://example.com/p.png");
    REQUIRE((*prompts)[0].arguments.size() == 1);
    CHECK((*prompts)[0].arguments[0].name == "who");
    CHECK((*prompts)[0].arguments[0].required);
    client->disconnect();
  }
}

TEST_CASE("client: a server's malformed icons are skipped, the rest of the entry kept") {
  mcp::ToolDefinition d = json{{"name", "t"},
                               {"icons", json::array({json{{"src", 42}}, "x", json{{"src", "https://a/b.png"}, {"sizes", {1, "any"}}},
                                                      json{{"mimeType", "image/png"}}})}};
  CHECK(d.name == "t");
  REQUIRE(d.icons.size() == 1);
  CHECK(d.icons[0].src == "https://a/b.png");
  CHECK(d.icons[0].sizes == std::vector<std::string>{"any"});
  mcp::Implementation impl = json{{"name", "s"}, {"version", "1"}, {"icons", "not an array"}};
  CHECK(impl.icons.empty());
  // And written back as they were read.
  json back = d;
  CHECK(back["icons"].size() == 1);
}

TEST_CASE("server: detail() reports the registry's server detail, with defaults for id and release date") {
  mcp::Server plain({.identity = {.name = "plain", .version = "0.1.0"}});
  auto d = plain.detail();
  CHECK(d["id"] == "plain");
  CHECK(d["name"] == "plain");
  CHECK(d["version_detail"]["version"] == "0.1.0");
  CHECK(d["version_detail"]["is_latest"] == true);
  CHECK(std::regex_match(d["version_detail"]["release_date"].get<std::string>(),
                         std::regex(R"(\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z)")));
  CHECK_FALSE(d.contains("repository"));
  CHECK_FALSE(d.contains("packages"));
  CHECK_FALSE(d.contains("remotes"));

  mcp::ServerIdentity id{.name = "weather", .version = "2.1.0", .description = "Forecasts"};
  id.registry = {.id = "io.example/weather",
                 .repository = mcp::ServerRepository{.url = "https://github.com/example/weather", .source = "github", .id = "123"},
                 .release_date = "2026-11-30T12:00:00Z",
                 .is_latest = false,
                 .package_canonical = "npm",
                 .packages = json::array({{{"registry_name", "npm"}, {"name", "@example/weather"}, {"version", "2.1.0"}}}),
                 .remotes = {{.transport_type = "streamable", .url = "https://weather.example.com/mcp"}}};
  mcp::Server full({.identity = id});
  auto f = full.detail();
  CHECK(f == json{{"id", "io.example/weather"},
                  {"name", "weather"},
                  {"description", "Forecasts"},
                  {"repository", {{"url", "https://github.com/example/weather"}, {"source", "github"}, {"id", "123"}}},
                  {"version_detail", {{"version", "2.1.0"}, {"release_date", "2026-11-30T12:00:00Z"}, {"is_latest", false}}},
                  {"package_canonical", "npm"},
                  {"packages", json::array({{{"registry_name", "npm"}, {"name", "@example/weather"}, {"version", "2.1.0"}}})},
                  {"remotes", json::array({{{"transport_type", "streamable"}, {"url", "https://weather.example.com/mcp"}}})}});
  // Nothing of the registry goes on the wire: serverInfo is the identity only.
  CHECK(full.info().registry.id == "io.example/weather");
}
