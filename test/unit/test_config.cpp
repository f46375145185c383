#include <mcp/client.hpp>
#include <mcp/pool.hpp>

#include <doctest/doctest.h>

using nlohmann::json;

TEST_CASE("parse_stdio_command splits like a shell without running one") {
  auto c = mcp::parse_stdio_command(R"(node "my server.js" --name 'a b' x\ y)");
  REQUIRE(c);
  CHECK(c->command == "node");
  REQUIRE(c->args.size() == 4);
  CHECK(c->args[0] == "my server.js");
  CHECK(c->args[1] == "--name");
  CHECK(c->args[2] == "a b");
  CHECK(c->args[3] == "x y");
  CHECK_FALSE(mcp::parse_stdio_command("   "));
  auto bad = mcp::parse_stdio_command("node 'unterminated");
  REQUIRE_FALSE(bad);
  CHECK(bad.error().errc() == mcp::Errc::invalid_config);
}

TEST_CASE("parse_client_config reads the common mcpServers format") {
  auto doc = json::parse(R"({"mcpServers": {
    "fs": {"command": "npx", "args": ["-y", "server"], "env": {"K": "V"}, "cwd": "/tmp"},
    "remote": {"url": "https://example.invalid/mcp", "headers": {"Authorization": "Bearer x"}}
  }})");
  auto cfg = mcp::parse_client_config(doc);
  REQUIRE(cfg);
  REQUIRE(cfg->servers.size() == 2);
  const auto& fs = std::get<mcp::StdioServerConfig>(cfg->servers.at("fs").transport);
  CHECK(fs.command == "npx");
  CHECK(fs.args.size() == 2);
  CHECK(fs.env.at("K") == "V");
  CHECK(*fs.cwd == "/tmp");
  const auto& remote = std::get<mcp::HttpServerConfig>(cfg->servers.at("remote").transport);
  CHECK(remote.headers.at("Authorization") == "Bearer x");
}

TEST_CASE("parse_client_config rejects bad documents with a message naming the field") {
  auto check_bad = [](const char* text, const char* needle) {
    auto cfg = mcp::parse_client_config(json::parse(text));
    REQUIRE_FALSE(cfg);
    CHECK(cfg.error().errc() == mcp::Errc::invalid_config);
    CHECK_MESSAGE(cfg.error().message.find(needle) != std::string::npos, cfg.error().message);
  };
  check_bad(R"([])", "mcpServers");
  check_bad(R"({"mcpServers": {"a": {}}})", "mcpServers.a");
  check_bad(R"({"mcpServers": {"a": {"command": 5}}})", "mcpServers.a.command");
  check_bad(R"({"mcpServers": {"a": {"command": "x", "args": "y"}}})", "mcpServers.a.args");
  check_bad(R"({"mcpServers": {"a": {"command": "x", "env": {"K": 1}}}})", "mcpServers.a.env.K");
  check_bad(R"({"mcpServers": {"a": {"command": "x", "url": "y"}}})", "exactly one");
  check_bad(R"({"mcpServers": {"a": {"command": "x", "era": "future"}}})", "era");
}

TEST_CASE("Client::create validates the configuration") {
  mcp::ClientConfig empty;
  auto c = mcp::Client::create(empty);
  REQUIRE_FALSE(c);
  CHECK(c.error().errc() == mcp::Errc::invalid_config);

  mcp::ClientConfig cfg;
  mcp::ServerConfig sc;
  sc.transport = mcp::StdioServerConfig{};
  cfg.servers.emplace("x", sc);
  auto c2 = mcp::Client::create(cfg);
  REQUIRE_FALSE(c2);
  CHECK(c2.error().message.find("empty command") != std::string::npos);

  mcp::StdioServerConfig st;
  st.command = "true";
  sc.transport = st;
  sc.protocol_version = "1999-01-01";
  cfg.servers["x"] = sc;
  auto c3 = mcp::Client::create(cfg);
  REQUIRE_FALSE(c3);
  CHECK(c3.error().message.find("1999-01-01") != std::string::npos);
}

TEST_CASE("errors map to kinds and print their context") {
  auto e = mcp::Error::make(mcp::Errc::timeout, "tools/call: no reply");
  e.server = "fs";
  CHECK(e.code == mcp::ErrorKind::timeout);
  CHECK(e.kind() == mcp::ErrorKind::timeout);
  CHECK(mcp::Error::make(mcp::Errc::spawn_failed, "").kind() == mcp::ErrorKind::transport);
  CHECK(mcp::Error::make(mcp::Errc::rpc_error, "").kind() == mcp::ErrorKind::protocol);
  CHECK(mcp::Error::make(mcp::Errc::duplicate_client, "").kind() == mcp::ErrorKind::config);
  CHECK(mcp::Error::make(mcp::Errc::disconnected, "").kind() == mcp::ErrorKind::cancelled);
  CHECK(e.what() == "[fs] tools/call: no reply");
  e.rpc_code = -32601;
  CHECK(e.what().find("JSON-RPC error -32601") != std::string::npos);
  // A message that already gives its code (the TypeScript SDK's "MCP error -32602: ...") does
  // not get it again.
  e.message = "MCP error -32602: Tool nope not found";
  e.rpc_code = -32602;
  CHECK(e.what() == "[fs] MCP error -32602: Tool nope not found");
  e.message = "bad arguments (-32602)";
  CHECK(e.what() == "[fs] bad arguments (-32602)");
  // A number that merely contains the code's digits is not the code.
  e.message = "limit is -326020";
  CHECK(e.what() == "[fs] limit is -326020 (JSON-RPC error -32602)");
}

TEST_CASE("pool: options are validated") {
  mcp::PoolOptions o;
  auto p = mcp::ClientPool::create(o);
  REQUIRE_FALSE(p);
  CHECK(p.error().errc() == mcp::Errc::invalid_config);
  o.factory = [](const std::string&) -> mcp::Result<mcp::ClientConfig> { return mcp::ClientConfig{}; };
  o.max_clients = 0;
  CHECK_FALSE(mcp::ClientPool::create(o));
}

// ---------------------------------------------------------------- the client's surface

namespace {

mcp::ClientConfig never_spawned(std::string id) {
  mcp::ClientConfig cfg;
  cfg.id = std::move(id);
  mcp::StdioServerConfig st;
  st.command = "/nonexistent/never-spawned-by-these-tests";
  cfg.servers["s"].transport = st;
  return cfg;
}

}  // namespace

TEST_CASE("client: a moved-from Client fails every call with invalid_argument instead of crashing") {
  auto made = mcp::Client::create(never_spawned("moved-from"));
  REQUIRE(made);
  mcp::Client client = std::move(*made);
  mcp::Client& gone = *made;  // moved from
  auto call = gone.call_tool("s", "echo");
  REQUIRE_FALSE(call);
  CHECK(call.error().errc() == mcp::Errc::invalid_argument);
  CHECK(call.error().message.find("moved") != std::string::npos);
  auto tools = gone.list_tools();
  REQUIRE_FALSE(tools);
  CHECK(tools.error().errc() == mcp::Errc::invalid_argument);
  CHECK(gone.list_toolsets().error().errc() == mcp::Errc::invalid_argument);
  CHECK(gone.session("s").error().errc() == mcp::Errc::invalid_argument);
  CHECK(gone.server_info("s").error().errc() == mcp::Errc::invalid_argument);
  CHECK(gone.read_resource("s", "x://y").error().errc() == mcp::Errc::invalid_argument);
  CHECK(gone.get_prompt("s", "p").error().errc() == mcp::Errc::invalid_argument);
  auto partial = gone.list_tools_partial();
  CHECK(partial.value.empty());
  REQUIRE(partial.errors.size() == 1);
  CHECK(partial.errors.begin()->second.errc() == mcp::Errc::invalid_argument);
  CHECK(gone.list_resources().errors.size() == 1);
  CHECK(gone.list_resource_templates().errors.size() == 1);
  CHECK(gone.list_prompts().errors.size() == 1);
  CHECK(gone.server_names().empty());
  CHECK_FALSE(gone.healthy());
  gone.disconnect();  // a no-op
  CHECK(client.server_names() == std::vector<std::string>{"s"});
}

TEST_CASE("client: an unknown server is unknown_server, not tool_not_found; nothing is spawned") {
  auto client = mcp::Client::create(never_spawned("unknown-server"));
  REQUIRE(client);
  for (auto r : {client->call_tool("nope", "echo").error(), client->session("nope").error(),
                 client->server_info("nope").error(), client->read_resource("nope", "x://y").error(),
                 client->get_prompt("nope", "p").error()}) {
    CHECK(r.errc() == mcp::Errc::unknown_server);
    CHECK(r.kind() == mcp::ErrorKind::config);
    CHECK(r.message.find("'nope'") != std::string::npos);
    CHECK(r.message.find("configured: s") != std::string::npos);
  }
}

TEST_CASE("client: tool arguments that are not an object are invalid_argument, before anything is spawned") {
  auto client = mcp::Client::create(never_spawned("bad-arguments"));
  REQUIRE(client);
  for (const json& args : {json::array({1, 2}), json("text"), json(7)}) {
    CAPTURE(args.dump());
    auto r = client->call_tool("s", "echo", args);
    REQUIRE_FALSE(r);
    CHECK(r.error().errc() == mcp::Errc::invalid_argument);
    CHECK(r.error().server == "s");
  }
  auto s = client->session("s");
  REQUIRE(s);
  auto raw = (*s)->request("tools/list", json::array());
  REQUIRE_FALSE(raw);
  CHECK(raw.error().errc() == mcp::Errc::invalid_argument);
  CHECK_FALSE((*s)->connected());
}

TEST_CASE("client: a URL that is not http(s) fails at create, not at the first call; so does a pool's") {
  for (const char* url : {"ftp://127.0.0.1:1/mcp", "ws://127.0.0.1:1/mcp", "file:///tmp/x", "127.0.0.1:1/mcp"}) {
    CAPTURE(url);
    mcp::ClientConfig cfg;
    mcp::HttpServerConfig h;
    h.url = url;
    cfg.servers["r"].transport = h;
    auto r = mcp::Client::create(cfg);
    REQUIRE_FALSE(r);
    CHECK(r.error().errc() == mcp::Errc::invalid_config);
    CHECK(r.error().message.find("'r'") != std::string::npos);
  }
}

TEST_CASE("client: the duplicate rule is checked at create only; calls after disconnect() never trip it") {
  mcp::ClientConfig cfg = never_spawned("");
  cfg.id.reset();
  auto a = mcp::Client::create(cfg);
  REQUIRE(a);
  a->disconnect();
  auto b = mcp::Client::create(cfg);  // disconnect() freed a's place...
  REQUIRE(b);
  // ...and `a` may go on: its call reconnects (and fails to spawn), never duplicate_client.
  auto r = a->call_tool("s", "echo");
  REQUIRE_FALSE(r);
  CHECK(r.error().errc() == mcp::Errc::spawn_failed);
  auto listed = a->list_tools();
  REQUIRE_FALSE(listed);
  CHECK(listed.error().errc() == mcp::Errc::spawn_failed);
  // b is live: a third identical client is refused, unless it opts out.
  auto c = mcp::Client::create(cfg);
  REQUIRE_FALSE(c);
  CHECK(c.error().errc() == mcp::Errc::duplicate_client);
  cfg.refuse_duplicate = false;
  CHECK(mcp::Client::create(cfg));
}

TEST_CASE("version: version_string matches its parts, and the default client_info carries it") {
  CHECK(std::string(mcp::version_string) ==
        std::to_string(mcp::version_major) + "." + std::to_string(mcp::version_minor) + "." +
            std::to_string(mcp::version_patch));
  CHECK(mcp::ClientConfig{}.client_info.version == mcp::version_string);
}
