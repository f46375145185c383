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
