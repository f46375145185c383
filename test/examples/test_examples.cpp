// SPDX-License-Identifier: MIT
// The examples run as a user runs them, as processes, and what they print is checked (suite
// 'examples'):
//   oauth_backend  against a protected mcp::Server (JWTs checked against the test authorization
//                  server's keys) and that authorization server (test/server/oauth_test_as.hpp,
//                  client credentials), both on 127.0.0.1 in this process: the first run gets a
//                  token, the second reuses the stored one, an expired one is replaced
//   handlers       against examples/demo_server --interactive, in both eras
//   notes_server   served over stdio and over HTTP, called by our client in both eras
#include "../integration/helpers.hpp"
#include "../server/oauth_test_as.hpp"

#include <mcp/client.hpp>
#include <mcp/server.hpp>
#include <mcp/server_auth.hpp>
#include <mcp/server_http.hpp>

#include <doctest/doctest.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include <chrono>
#include <cstdio>
#include <memory>
#include <regex>
#include <string>
#include <thread>

using nlohmann::json;
using namespace std::chrono_literals;

namespace {

struct Run {
  int status = -1;     // the exit status (-1: killed by a signal)
  std::string output;  // stdout and stderr
};

// `command` through sh, within 60 s.
Run run(const std::string& command) {
  FILE* p = ::popen(("timeout -k 5 60 " + command + " 2>&1").c_str(), "r");
  REQUIRE(p);
  Run r;
  char buf[4096];
  for (std::size_t n; (n = std::fread(buf, 1, sizeof buf, p)) > 0;) r.output.append(buf, n);
  const int status = ::pclose(p);
  r.status = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  return r;
}

bool has(const std::string& text, const std::string& part) { return text.find(part) != std::string::npos; }

std::size_t count(const std::string& text, const std::string& part) {
  std::size_t n = 0;
  for (auto at = text.find(part); at != std::string::npos; at = text.find(part, at + 1)) ++n;
  return n;
}

// ---- oauth_backend

// The protected server: `whoami` says which client's token the call carried.
struct ProtectedServer {
  mcp::Server server{{.identity = {.name = "reports", .version = "1.0.0"}}};
  std::unique_ptr<mcp::HttpHost> host;
  std::string url;  // the MCP endpoint: also the resource (RFC 8707), the tokens' audience

  explicit ProtectedServer(const testas::TestAs& as) {
    REQUIRE(server.add_tool({.name = "whoami",
                             .handler = [](const json&, mcp::RequestContext& ctx) -> mcp::Result<mcp::CallToolResult> {
                               return mcp::text_result("client " + (ctx.auth() ? ctx.auth()->client_id : "?"));
                             }}));
    for (int attempt = 0; attempt < 5 && !host; ++attempt) {  // the resource names the port: chosen first
      const int port = testutil::free_port();
      url = "http://127.0.0.1:" + std::to_string(port) + "/mcp";
      auto jwt = mcp::make_jwt_validator({.issuer = as.issuer(), .audience = url, .leeway = 0s});
      REQUIRE(jwt);
      mcp::HttpServerOptions o;
      o.port = static_cast<unsigned short>(port);
      o.auth.metadata = {.resource = url, .authorization_servers = {as.issuer()}, .scopes_supported = {"mcp:tools"}};
      o.auth.validator = *jwt;
      o.auth.required_scopes = {"mcp:tools"};
      host = std::make_unique<mcp::HttpHost>(server, o);
      if (!host->start()) host.reset();
    }
    REQUIRE(host);
  }
};

const char* const kId = "reporting";
const char* const kSecret = "reporting-secret-0123456789";

Run oauth_backend(const std::string& url, const std::string& store, const char* secret = kSecret) {
  return run(std::string("env MCP_CLIENT_ID=") + kId + " MCP_CLIENT_SECRET=" + secret + " '" OAUTH_BACKEND_PATH "' '" + url +
             "' '" + store + "' whoami");
}

int cc_grants(testas::TestAs& as) {
  std::lock_guard lock(as.m);
  return as.cc_grants;
}

// ---- notes_server

void exercise_notes(mcp::ServerConfig server, mcp::Era era) {
  server.era = era;
  mcp::ClientConfig config;
  config.servers["notes"] = std::move(server);
  auto client = mcp::Client::create(std::move(config));
  REQUIRE(client);
  auto tools = client->list_tools();
  REQUIRE_MESSAGE(tools, (tools ? "" : tools.error().what()));
  CHECK(tools->count("notes_add_note") == 1);
  CHECK(tools->count("notes_search") == 1);
  auto info = client->server_info("notes");
  REQUIRE(info);
  CHECK(info->era == era);

  auto found = client->call_tool("notes", "search", {{"word", "coffee"}});
  REQUIRE_MESSAGE(found, (found ? "" : found.error().what()));
  CHECK(found->text() == "groceries\nideas");
  CHECK(found->structured_content == json{{"titles", {"groceries", "ideas"}}});
  auto saved = client->call_tool("notes", "add_note", {{"title", "todo list"}, {"text", "write the tests"}});
  REQUIRE(saved);
  CHECK(saved->text() == "saved 'todo list'");

  auto index = client->read_resource("notes", "notes://index");
  REQUIRE_MESSAGE(index, (index ? "" : index.error().what()));
  REQUIRE(index->contents.size() == 1);
  CHECK(index->contents[0].text == "groceries\nideas\ntodo list");
  auto templates = client->list_resource_templates();
  REQUIRE(templates.value["notes"].size() == 1);
  CHECK(templates.value["notes"][0].uri_template == "notes://note/{title}");
  auto note = client->read_resource("notes", "notes://note/todo%20list");  // percent-decoded for the reader
  REQUIRE_MESSAGE(note, (note ? "" : note.error().what()));
  CHECK(note->contents.at(0).text == "write the tests");
  auto missing = client->read_resource("notes", "notes://note/nothing");
  REQUIRE(!missing);
  CHECK(missing.error().rpc_code == -32602);
  CHECK(has(missing.error().message, "no note titled 'nothing'"));

  auto prompts = client->list_prompts();
  REQUIRE(prompts.value["notes"].size() == 1);
  CHECK(prompts.value["notes"][0].name == "summarize");
  auto prompt = client->get_prompt("notes", "summarize", {{"title", "ideas"}});
  REQUIRE_MESSAGE(prompt, (prompt ? "" : prompt.error().what()));
  REQUIRE(prompt->messages.size() == 1);
  CHECK(prompt->messages[0].content.text == "Summarize this note in one line:\n\nan MCP server in C++, with coffee");
  CHECK(!client->get_prompt("notes", "summarize", {}));  // a required argument missing
  client->disconnect();
}

}  // namespace

TEST_CASE("oauth_backend: the first run gets a token, the next reuses the stored one") {
  testas::TestAs as;
  as.add_client(kId, kSecret);
  ProtectedServer server(as);
  const std::string store = testutil::temp_path("tokens.json");

  auto first = oauth_backend(server.url, store);
  INFO("first run: " << first.output);
  CHECK(first.status == 0);
  CHECK(has(first.output, "tools: reports_whoami\n"));
  CHECK(has(first.output, "whoami: client reporting\n"));
  CHECK(has(first.output, "token: obtained a new one and stored it\n"));
  CHECK(has(first.output, "oauth: obtained an access token"));  // the diagnostics hook
  CHECK(cc_grants(as) == 1);
  struct stat st {};
  REQUIRE(::stat(store.c_str(), &st) == 0);
  CHECK((st.st_mode & 0777) == 0600);

  auto second = oauth_backend(server.url, store);
  INFO("second run: " << second.output);
  CHECK(second.status == 0);
  CHECK(has(second.output, "whoami: client reporting\n"));
  CHECK(has(second.output, "token: reused the stored one\n"));
  CHECK(!has(second.output, "oauth: obtained"));
  CHECK(cc_grants(as) == 1);  // the authorization server was not asked again

  CHECK(as.leaked_in(first.output + second.output).empty());
  ::unlink(store.c_str());
}

TEST_CASE("oauth_backend: an expired stored token is replaced") {
  testas::TestAs as;
  as.add_client(kId, kSecret);
  {
    std::lock_guard lock(as.m);
    as.token_lifetime = 1;  // the server refuses it one second later (no leeway)
  }
  ProtectedServer server(as);
  const std::string store = testutil::temp_path("tokens.json");
  auto first = oauth_backend(server.url, store);
  INFO("first run: " << first.output);
  CHECK(first.status == 0);
  CHECK(cc_grants(as) == 1);
  {
    std::lock_guard lock(as.m);
    as.token_lifetime = 3600;
  }
  std::this_thread::sleep_for(1500ms);
  auto second = oauth_backend(server.url, store);
  INFO("second run: " << second.output);
  CHECK(second.status == 0);
  CHECK(has(second.output, "whoami: client reporting\n"));
  CHECK(has(second.output, "token: obtained a new one and stored it\n"));
  CHECK(cc_grants(as) == 2);
  ::unlink(store.c_str());
}

TEST_CASE("oauth_backend: a refused client fails with a typed error and no secret shown") {
  testas::TestAs as;
  as.add_client(kId, kSecret);
  ProtectedServer server(as);
  const std::string store = testutil::temp_path("tokens.json");
  auto refused = oauth_backend(server.url, store, "wrong-secret-0123456789");
  INFO(refused.output);
  CHECK(refused.status == 1);
  CHECK(has(refused.output, "invalid_client"));
  CHECK(!has(refused.output, "wrong-secret-0123456789"));
  CHECK(as.leaked_in(refused.output).empty());
  CHECK(cc_grants(as) == 0);
  auto usage = run("'" OAUTH_BACKEND_PATH "' " + server.url);  // no credentials in the environment
  CHECK(usage.status == 2);
  CHECK(has(usage.output, "usage:"));
  ::unlink(store.c_str());
}

TEST_CASE("handlers: elicitation, sampling and roots answered, progress and a list change received") {
  for (const char* era : {"", "--legacy "}) {
    CAPTURE(era);
    auto r = run("'" HANDLERS_PATH "' " + std::string(era) + "'" DEMO_SERVER_PATH "' --interactive");
    INFO(r.output);
    CHECK(r.status == 0);
    // Each question is put to the application once, whatever the era's number of round trips.
    CHECK(count(r.output, "demo asks for roots\n") == 1);
    CHECK(count(r.output, "demo asks the model (messages: 1, maxTokens: 20)\n") == 1);
    CHECK(count(r.output, "demo asks the user: Back up 2 roots as 'nightly'? (answering yes)\n") == 1);
    CHECK(has(r.output, "progress 1/2: backing up file:///srv/photos\nprogress 2/2: backing up file:///srv/notes\n"));
    CHECK(has(r.output, "result: backed up 2 roots as 'nightly'\n"));
    CHECK(has(r.output, "tools changed, now: demo_add demo_backup demo_echo demo_now demo_restore demo_word_count\n"));
  }
  auto usage = run("'" HANDLERS_PATH "'");
  CHECK(usage.status == 2);
}

TEST_CASE("notes_server: tools, resources and prompts over stdio") {
  for (auto era : {mcp::Era::modern, mcp::Era::legacy}) {
    INFO("era: " << mcp::to_string(era));
    mcp::StdioServerConfig stdio;
    stdio.command = NOTES_SERVER_PATH;
    mcp::ServerConfig server;
    server.transport = stdio;
    exercise_notes(server, era);
  }
}

TEST_CASE("notes_server: tools, resources and prompts over HTTP") {
  const std::string log = testutil::temp_path("notes.log");
  testutil::ServerProcess process({NOTES_SERVER_PATH, "--http", "0"}, {}, log);
  REQUIRE(process.pid() > 0);
  std::smatch m;
  std::string printed;
  const std::regex listening("MCP at (http://127\\.0\\.0\\.1:[0-9]+/mcp)\n");
  REQUIRE(testutil::eventually([&] { return std::regex_search(printed = testutil::read_file(log), m, listening); }, 10000));
  const std::string url = m[1];
  for (auto era : {mcp::Era::modern, mcp::Era::legacy}) {
    INFO("era: " << mcp::to_string(era));
    mcp::HttpServerConfig http;
    http.url = url;
    mcp::ServerConfig server;
    server.transport = http;
    exercise_notes(server, era);
  }
  process.stop();
  ::unlink(log.c_str());
  CHECK(run("'" NOTES_SERVER_PATH "' --http 70000").status == 2);
  CHECK(run("'" NOTES_SERVER_PATH "' --port 1").status == 2);
}
