// mcp::Server over stdio (test/servers/tool_server.cpp, built on libmcp-server), driven by our
// client in both eras and by raw JSON-RPC lines for what a client library never sends.
#include "stdio_session.hpp"
#include "tool_server_path.hpp"
#include "../integration/helpers.hpp"

#include <mcp/client.hpp>
#include <mcp/server.hpp>

#include "../../server/server_impl.hpp"  // UriTemplate, tool_answer: a private header
#include "../../lib/protocol/json_write.hpp"

#include <doctest/doctest.h>
#include <nlohmann/json.hpp>

#include <poll.h>

#include <fstream>
#include <future>
#include <thread>

using namespace std::chrono_literals;
using nlohmann::json;

namespace {

mcp::ServerConfig stdio_server(mcp::Era era, std::optional<std::string> version = std::nullopt) {
  mcp::StdioServerConfig st;
  st.command = tool_server();
  st.shutdown_grace = 2000ms;
  mcp::ServerConfig sc;
  sc.transport = std::move(st);
  sc.era = era;
  sc.protocol_version = std::move(version);
  return sc;
}

struct Case {
  const char* name;
  mcp::Era era;
  std::optional<std::string> version;
  const char* expect_version;
};
const Case kCases[] = {{"modern", mcp::Era::modern, std::nullopt, "2026-07-28"},
                       {"legacy 2025-11-25", mcp::Era::legacy, std::nullopt, "2025-11-25"},
                       {"legacy 2025-06-18", mcp::Era::legacy, std::string("2025-06-18"), "2025-06-18"}};

// The server as a child with two pipes, for raw lines.
struct Raw {
  pid_t pid = -1;
  int to = -1, from = -1;
  std::string buffered;
  Raw() {
    int in[2], out[2];
    REQUIRE(::pipe2(in, O_CLOEXEC) == 0);
    REQUIRE(::pipe2(out, O_CLOEXEC) == 0);
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_adddup2(&fa, in[0], 0);
    posix_spawn_file_actions_adddup2(&fa, out[1], 1);
    const std::string path = tool_server();
    char* argv[] = {const_cast<char*>(path.c_str()), nullptr};
    REQUIRE(::posix_spawn(&pid, path.c_str(), &fa, nullptr, argv, environ) == 0);
    posix_spawn_file_actions_destroy(&fa);
    ::close(in[0]);
    ::close(out[1]);
    to = in[1];
    from = out[0];
  }
  ~Raw() {
    if (to >= 0) ::close(to);
    if (from >= 0) ::close(from);
    if (pid > 0) {
      ::kill(pid, SIGKILL);
      ::waitpid(pid, nullptr, 0);
    }
  }
  void send(const std::string& text) {
    std::size_t off = 0;
    while (off < text.size()) {
      const ssize_t n = ::write(to, text.data() + off, text.size() - off);
      REQUIRE(n > 0);
      off += static_cast<std::size_t>(n);
    }
  }
  // The next line within 5 s ("" on EOF or timeout).
  std::string line() {
    const auto until = std::chrono::steady_clock::now() + 5s;
    for (;;) {
      if (auto nl = buffered.find('\n'); nl != std::string::npos) {
        std::string l = buffered.substr(0, nl);
        buffered.erase(0, nl + 1);
        return l;
      }
      const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(until - std::chrono::steady_clock::now()).count();
      pollfd p{from, POLLIN, 0};
      if (left <= 0 || ::poll(&p, 1, static_cast<int>(left)) <= 0) return "";
      char buf[65536];
      const ssize_t n = ::read(from, buf, sizeof buf);
      if (n <= 0) return "";
      buffered.append(buf, static_cast<std::size_t>(n));
    }
  }
  json reply(const std::string& request) {
    send(request + "\n");
    const auto l = line();
    INFO("request: " << request);
    REQUIRE_MESSAGE(!l.empty(), "no reply");
    return json::parse(l);
  }
  // Exit status after closing stdin, waiting at most `ms` (-1 if still running).
  int close_and_wait(int ms) {
    if (to >= 0) ::close(to);
    to = -1;
    for (int i = 0; i < ms / 10; ++i) {
      int status = 0;
      if (::waitpid(pid, &status, WNOHANG) == pid) {
        pid = -1;
        return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
      }
      std::this_thread::sleep_for(10ms);
    }
    return -1;
  }
};

}  // namespace

TEST_CASE("server over stdio: tools, their schemas and errors, with our client in each era") {
  for (const auto& c : kCases) {
    CAPTURE(c.name);
    auto cfg = testutil::one("s", stdio_server(c.era, c.version));
    cfg.client_info.name = "server-test";
    auto client = mcp::Client::create(std::move(cfg));
    REQUIRE(client);
    auto info = client->server_info("s");
    REQUIRE(info);
    CHECK(info->era == c.era);
    CHECK(info->protocol_version == c.expect_version);
    CHECK(info->implementation.name == "tool-server");
    CHECK(info->implementation.version == "1.2.3");
    CHECK(info->instructions.value_or("") == "Tools for the server's tests.");

    auto tools = client->list_tools();
    REQUIRE(tools);
    CHECK(tools->count("s_echo"));
    CHECK(tools->count("s_add"));
    REQUIRE(tools->count("s_echo"));
    const auto& echo_def = tools->at("s_echo").definition();
    CHECK(echo_def.name == "echo");
    CHECK(echo_def.input_schema["required"] == json::array({"text"}));
    CHECK(echo_def.annotations["readOnlyHint"] == true);
    CHECK(tools->at("s_add").definition().output_schema.has_value());

    auto echo = client->call_tool("s", "echo", {{"text", "hi there"}});
    REQUIRE(echo);
    CHECK_FALSE(echo->is_error);
    CHECK(echo->text() == "hi there");

    auto add = client->call_tool("s", "add", {{"a", 2}, {"b", 3.5}});
    REQUIRE(add);
    REQUIRE(add->structured_content);
    CHECK((*add->structured_content)["sum"] == 5.5);

    // Arguments the input schema refuses: a tool error the model can read (2025-11-25 and
    // later), a -32602 protocol error before.
    auto bad = client->call_tool("s", "echo", {{"text", 42}});
    if (std::string(c.expect_version) < "2025-11-25") {
      REQUIRE_FALSE(bad);
      CHECK(bad.error().rpc_code == -32602);
      CHECK(bad.error().message.find("/text") != std::string::npos);
    } else {
      REQUIRE(bad);
      CHECK(bad->is_error);
      CHECK(bad->text().find("/text") != std::string::npos);
    }

    auto unknown = client->call_tool("s", "nope", json::object());
    REQUIRE_FALSE(unknown);
    CHECK(unknown.error().rpc_code == -32602);

    // ToolError: a result the model reads. Any other exception: an internal error that does
    // not carry the exception's text.
    auto tool_error = client->call_tool("s", "tool_error", json::object());
    REQUIRE(tool_error);
    CHECK(tool_error->is_error);
    CHECK(tool_error->text() == "the date must be in the future");
    auto thrown = client->call_tool("s", "throws", json::object());
    REQUIRE_FALSE(thrown);
    CHECK(thrown.error().rpc_code == -32603);
    CHECK(thrown.error().message.find("disk") == std::string::npos);

    auto refused = client->call_tool("s", "refuses", json::object());
    REQUIRE_FALSE(refused);
    CHECK(refused.error().rpc_code == -32001);
    CHECK(refused.error().data["why"] == "test");

    auto broken = client->call_tool("s", "bad_output", json::object());
    REQUIRE_FALSE(broken);
    CHECK(broken.error().rpc_code == -32603);

    auto who = client->call_tool("s", "whoami", json::object());
    REQUIRE(who);
    CHECK(who->text() == std::string(mcp::to_string(c.era)) + " " + c.expect_version + " server-test");
    client->disconnect();
  }
}

TEST_CASE("server over stdio: a slow tool does not delay another call; cancellation reaches the handler") {
  for (const auto& c : kCases) {
    CAPTURE(c.name);
    auto client = mcp::Client::create(testutil::one("s", stdio_server(c.era, c.version)));
    REQUIRE(client);
    REQUIRE(client->call_tool("s", "echo", {{"text", "warm"}}));
    auto slow = std::async(std::launch::async, [&] { return client->call_tool("s", "sleep", {{"ms", 1500}}); });
    std::this_thread::sleep_for(100ms);
    const auto t0 = std::chrono::steady_clock::now();
    auto quick = client->call_tool("s", "echo", {{"text", "quick"}});
    REQUIRE(quick);
    CHECK(testutil::ms_since(t0) < 1000);
    auto s = slow.get();
    REQUIRE(s);
    CHECK(s->text() == "1500");

    // A call given up (timeout) is cancelled at the server: its handler sees the stop token.
    mcp::RequestOptions ro;
    ro.timeout = 300ms;
    auto cancelled = client->call_tool("s", "sleep", {{"ms", 5000}}, ro);
    REQUIRE_FALSE(cancelled);
    CHECK(cancelled.error().errc() == mcp::Errc::timeout);
    CHECK(testutil::eventually([&] {
      auto n = client->call_tool("s", "cancelled_count", json::object());
      return n && n->text() == "1";
    }));
    client->disconnect();
  }
}

TEST_CASE("server over stdio: progress and log notifications reach the client") {
  for (const auto& c : kCases) {
    CAPTURE(c.name);
    std::mutex m;
    std::vector<mcp::LogMessage> logs;
    auto cfg = testutil::one("s", stdio_server(c.era, c.version));
    cfg.log_level = "info";
    cfg.handlers.on_log = [&](const std::string&, const mcp::LogMessage& msg) {
      std::lock_guard lk(m);
      logs.push_back(msg);
    };
    auto client = mcp::Client::create(std::move(cfg));
    REQUIRE(client);
    std::vector<double> progress;
    mcp::RequestOptions ro;
    ro.on_progress = [&](const mcp::Progress& p) { progress.push_back(p.progress); };
    auto r = client->call_tool("s", "sleep", {{"ms", 350}}, ro);
    REQUIRE(r);
    CHECK(progress.size() >= 2);
    CHECK(std::is_sorted(progress.begin(), progress.end()));

    REQUIRE(client->call_tool("s", "whoami", {{"level", "debug"}}));  // below "info": not sent
    REQUIRE(client->call_tool("s", "whoami", {{"level", "warning"}}));
    CHECK(testutil::eventually([&] {
      std::lock_guard lk(m);
      return !logs.empty();
    }));
    std::lock_guard lk(m);
    REQUIRE(logs.size() == 1);
    CHECK(logs[0].level == "warning");
    CHECK(logs[0].data == "hello from whoami");
    client->disconnect();
  }
}

TEST_CASE("server over stdio: malformed and hostile input gets the JSON-RPC error, and the server goes on") {
  Raw raw;
  auto parse = raw.reply("{not json");
  CHECK(parse["error"]["code"] == -32700);
  CHECK(parse["id"].is_null());
  CHECK(raw.reply(R"([{"jsonrpc":"2.0","id":1,"method":"ping"}])")["error"]["code"] == -32600);
  CHECK(raw.reply(R"("just a string")")["error"]["code"] == -32600);
  CHECK(raw.reply(R"({"jsonrpc":"2.0","id":2,"method":7})")["error"]["code"] == -32600);
  CHECK(raw.reply(R"({"jsonrpc":"1.0","id":3,"method":"ping"})")["error"]["code"] == -32600);
  CHECK(raw.reply(R"({"jsonrpc":"2.0","id":{"x":1},"method":"ping"})")["error"]["code"] == -32600);
  // Neither handshake nor modern _meta: refused (-32602), saying what to send.
  auto neither = raw.reply(R"({"jsonrpc":"2.0","id":4,"method":"tools/list"})");
  CHECK(neither["error"]["code"] == -32602);
  CHECK(neither["id"] == 4);
  CHECK(raw.reply(R"({"jsonrpc":"2.0","id":5,"method":"tools/list","params":[1]})")["error"]["code"] == -32602);
  // A modern request at a revision we do not speak: -32022 with what we do.
  auto version = raw.reply(
      R"({"jsonrpc":"2.0","id":"v","method":"tools/list","params":{"_meta":{"io.modelcontextprotocol/protocolVersion":"2099-01-01","io.modelcontextprotocol/clientCapabilities":{}}}})");
  CHECK(version["id"] == "v");
  CHECK(version["error"]["code"] == -32022);
  CHECK(version["error"]["data"]["requested"] == "2099-01-01");
  CHECK(version["error"]["data"]["supported"].size() >= 2);
  // Modern requests: the required _meta, what 2026-07-28 removed, a bad log level, discover.
  const std::string meta = R"("_meta":{"io.modelcontextprotocol/protocolVersion":"2026-07-28","io.modelcontextprotocol/clientCapabilities":{}})";
  CHECK(raw.reply(R"({"jsonrpc":"2.0","id":10,"method":"tools/list","params":{"_meta":{"io.modelcontextprotocol/protocolVersion":"2026-07-28"}}})")["error"]["code"] == -32602);
  CHECK(raw.reply(R"({"jsonrpc":"2.0","id":11,"method":"server/discover"})")["error"]["code"] == -32602);
  for (const char* gone : {"initialize", "ping", "logging/setLevel", "resources/subscribe", "no/such"}) {
    CAPTURE(gone);
    CHECK(raw.reply(std::string(R"({"jsonrpc":"2.0","id":12,"method":")") + gone + R"(","params":{)" + meta + "}}")["error"]["code"] == -32601);
  }
  CHECK(raw.reply(R"({"jsonrpc":"2.0","id":13,"method":"tools/list","params":{"_meta":{"io.modelcontextprotocol/protocolVersion":"2026-07-28","io.modelcontextprotocol/clientCapabilities":{},"io.modelcontextprotocol/logLevel":"loud"}}})")["error"]["code"] == -32602);
  auto discover = raw.reply(R"({"jsonrpc":"2.0","id":14,"method":"server/discover","params":{)" + meta + "}}");
  CHECK(discover["result"]["resultType"] == "complete");
  CHECK(discover["result"]["ttlMs"] == 0);
  CHECK(discover["result"]["cacheScope"] == "public");
  CHECK(discover["result"]["supportedVersions"][0] == "2026-07-28");
  CHECK(discover["result"]["_meta"]["io.modelcontextprotocol/serverInfo"]["name"] == "tool-server");
  auto list = raw.reply(R"({"jsonrpc":"2.0","id":15,"method":"tools/list","params":{)" + meta + "}}");
  CHECK(list["result"]["tools"].size() >= 8);
  CHECK(list["result"].contains("ttlMs"));
  // 200-deep nesting is refused as unparseable, not recursed into.
  CHECK(raw.reply(std::string(200, '[') + std::string(200, ']'))["error"]["code"] == -32700);
  // A line over the 32 MiB limit: refused, skipped to its end, and the next line is served.
  raw.send(std::string("{\"jsonrpc\":\"2.0\",\"id\":6,\"method\":\"ping\",\"params\":{\"pad\":\"") +
           std::string((32u << 20) + 10, 'x') + "\"}}\n");
  auto big = json::parse(raw.line());
  CHECK(big["error"]["code"] == -32600);
  auto after = raw.reply(R"({"jsonrpc":"2.0","id":7,"method":"ping"})");
  CHECK(after["id"] == 7);
  CHECK(after.contains("result"));
  // Notifications and stray responses get no answer; the next request does.
  raw.send(R"({"jsonrpc":"2.0","method":"notifications/initialized"})" "\n");
  raw.send(R"({"jsonrpc":"2.0","id":99,"result":{}})" "\n");
  CHECK(raw.reply(R"({"jsonrpc":"2.0","id":8,"method":"ping"})")["id"] == 8);
  CHECK(raw.close_and_wait(5000) == 0);
}

TEST_CASE("server over stdio: the legacy handshake negotiates, and stdin's end stops running handlers") {
  Raw raw;
  auto init = raw.reply(
      R"({"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2099-01-01","capabilities":{},"clientInfo":{"name":"raw","version":"0"}}})");
  CHECK(init["result"]["protocolVersion"] == "2025-11-25");  // ours, for a version we do not know
  CHECK(init["result"]["serverInfo"]["name"] == "tool-server");
  CHECK(init["result"]["capabilities"].contains("tools"));
  auto old = Raw();
  CHECK(old.reply(R"({"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2024-11-05","capabilities":{},"clientInfo":{"name":"raw","version":"0"}}})")["result"]["protocolVersion"] == "2024-11-05");
  // After the handshake, plain requests are served at the negotiated revision.
  CHECK(raw.reply(R"({"jsonrpc":"2.0","id":2,"method":"tools/list"})")["result"]["tools"].size() >= 8);
  CHECK(raw.reply(R"({"jsonrpc":"2.0","id":4,"method":"no/such"})")["error"]["code"] == -32601);
  // Requests sent just before stdin ends are still answered (within the 1 s grace); a 10 s
  // handler in flight is stopped after it, and the server exits.
  raw.send(R"({"jsonrpc":"2.0","id":3,"method":"tools/call","params":{"name":"sleep","arguments":{"ms":10000}}})" "\n");
  raw.send(R"({"jsonrpc":"2.0","id":5,"method":"tools/call","params":{"name":"echo","arguments":{"text":"last"}}})" "\n");
  std::this_thread::sleep_for(200ms);
  const auto t0 = std::chrono::steady_clock::now();
  ::close(raw.to);
  raw.to = -1;
  auto last = json::parse(raw.line());
  CHECK(last["id"] == 5);
  CHECK(last["result"]["content"][0]["text"] == "last");
  CHECK(raw.close_and_wait(5000) == 0);
  CHECK(testutil::ms_since(t0) < 3000);
  CHECK(testutil::ms_since(t0) >= 900);
}

// The stalled server's RSS bound: about 21 MB is seen in a plain build; a sanitizer build's
// tool_server holds more (ASan's quarantine keeps up to 256 MB of freed memory: 208 MB seen).
#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
constexpr long kRssBoundKb = 600 * 1024;
#else
constexpr long kRssBoundKb = 200 * 1024;
#endif

TEST_CASE("server over stdio: a client that stops reading is given up after the write timeout; nothing hangs or grows") {
  ::setenv("MCP_TOOL_SERVER_WRITE_TIMEOUT_MS", "1000", 1);
  Raw raw;
  ::unsetenv("MCP_TOOL_SERVER_WRITE_TIMEOUT_MS");
  CHECK(raw.reply(R"({"jsonrpc":"2.0","id":0,"method":"initialize","params":{"protocolVersion":"2025-11-25","capabilities":{},"clientInfo":{"name":"raw","version":"0"}}})")
            .contains("result"));
  raw.send(R"({"jsonrpc":"2.0","method":"notifications/initialized"})" "\n");
  // 300 answers of 20 kB: far more than the pipe holds, and nobody reads them.
  const std::string big(20000, 'x');
  for (int i = 1; i <= 300; ++i)
    raw.send(json{{"jsonrpc", "2.0"}, {"id", i}, {"method", "tools/call"}, {"params", {{"name", "echo"}, {"arguments", {{"text", big}}}}}}.dump() +
             "\n");
  std::this_thread::sleep_for(1500ms);  // the first answer that does not fit waits 1 s, then the client is given up
  {
    std::ifstream status("/proc/" + std::to_string(raw.pid) + "/status");
    std::string l;
    while (std::getline(status, l))
      if (l.rfind("VmRSS:", 0) == 0) CHECK(std::stol(l.substr(6)) < kRssBoundKb);  // the 6 MB sent are not held
  }
  // It still reads (and drops) what the client sends, and exits at once when stdin ends: with
  // an error, since the client's requests were not all answered.
  raw.send(json{{"jsonrpc", "2.0"}, {"id", 999}, {"method", "tools/call"}, {"params", {{"name", "echo"}, {"arguments", {{"text", "late"}}}}}}.dump() + "\n");
  const auto t0 = std::chrono::steady_clock::now();
  CHECK(raw.close_and_wait(10000) == 1);
  CHECK(testutil::ms_since(t0) < 3000);
  // What came out is what fitted in the pipe before the stall (no answer to the late request).
  std::string out;
  char buf[65536];
  for (ssize_t n; (n = ::read(raw.from, buf, sizeof buf)) > 0;) out.append(buf, static_cast<std::size_t>(n));
  CHECK(out.size() < (1u << 20));
  CHECK(out.find("late") == std::string::npos);
}

TEST_CASE("server: add_tool refuses what cannot work; execute_tool runs a tool with no transport") {
  mcp::Server server({.identity = {.name = "x", .version = "1"}});
  auto ok = [](const json&, mcp::RequestContext& ctx) -> mcp::Result<mcp::CallToolResult> {
    mcp::CallToolResult r;
    mcp::ContentBlock b;
    b.type = "text";
    b.text = mcp::to_string(ctx.era());
    r.content.push_back(std::move(b));
    return r;
  };
  CHECK(server.add_tool({.name = "", .handler = ok}).error().errc() == mcp::Errc::invalid_argument);
  CHECK(server.add_tool({.name = "t"}).error().errc() == mcp::Errc::invalid_argument);
  auto bad_schema = server.add_tool({.name = "t", .input_schema = {{"type", 7}}, .handler = ok});
  REQUIRE_FALSE(bad_schema);
  CHECK(bad_schema.error().message.find("input schema") != std::string::npos);
  REQUIRE(server.add_tool({.name = "t",
                           .input_schema = {{"type", "object"}, {"properties", {{"n", {{"type", "integer"}}}}}},
                           .handler = ok}));
  CHECK(server.add_tool({.name = "t", .handler = ok}).error().errc() == mcp::Errc::invalid_argument);
  CHECK(server.tool_infos().size() == 1);
  REQUIRE(server.tool_info("t"));
  CHECK(server.tool_info("t")->input_schema["properties"]["n"]["type"] == "integer");
  CHECK_FALSE(server.tool_info("u"));
  auto r = server.execute_tool("t", {{"n", 1}});
  REQUIRE(r);
  CHECK(r->text() == "unknown");
  CHECK(server.execute_tool("t", {{"n", "one"}}).error().errc() == mcp::Errc::invalid_argument);
  CHECK(server.execute_tool("u", json::object()).error().errc() == mcp::Errc::tool_not_found);
  CHECK(server.info().name == "x");
}

TEST_CASE("server over stdio: resources, templates, prompts and completion, in each era") {
  for (const auto& c : kCases) {
    CAPTURE(c.name);
    auto client = mcp::Client::create(testutil::one("s", stdio_server(c.era, c.version)));
    REQUIRE(client);
    auto session = client->session("s");
    REQUIRE(session);
    auto& s = **session;
    auto resources = s.list_resources();
    REQUIRE(resources);
    REQUIRE(resources->size() == 2);
    CHECK((*resources)[0].uri == "test://static-text");
    CHECK((*resources)[0].mime_type.value_or("") == "text/plain");
    auto templates = s.list_resource_templates();
    REQUIRE(templates);
    REQUIRE(templates->size() == 1);
    CHECK((*templates)[0].uri_template == "test://template/{id}/data");

    auto text = s.read_resource("test://static-text");
    REQUIRE(text);
    REQUIRE(text->contents.size() == 1);
    CHECK(text->contents[0].text.value_or("") == "static text");
    auto blob = s.read_resource("test://static-binary");
    REQUIRE(blob);
    CHECK(blob->contents[0].uri == "test://static-binary");
    CHECK(blob->contents[0].bytes() == std::string("\x00\x01\x02\x03", 4));
    auto templated = s.read_resource("test://template/123/data");
    REQUIRE(templated);
    CHECK(templated->contents[0].text.value_or("") == "data for 123");
    CHECK(templated->contents[0].uri == "test://template/123/data");
    // Not found: -32602 in 2026-07-28, -32002 before; data.uri either way.
    auto missing = s.read_resource("test://nowhere");
    REQUIRE_FALSE(missing);
    CHECK(missing.error().rpc_code == (c.era == mcp::Era::modern ? -32602 : -32002));
    CHECK(missing.error().data["uri"] == "test://nowhere");
    CHECK_FALSE(s.read_resource("test://template/1/2/data"));  // {id} is one segment

    auto prompts = s.list_prompts();
    REQUIRE(prompts);
    REQUIRE(prompts->size() == 1);
    CHECK((*prompts)[0].arguments.size() == 2);
    CHECK((*prompts)[0].arguments[0].required);
    auto greeting = s.get_prompt("greet", {{"name", "Ada"}, {"tone", "warm"}});
    REQUIRE(greeting);
    REQUIRE(greeting->messages.size() == 1);
    CHECK(greeting->messages[0].content.text == "Say hello to Ada in a warm tone");
    auto no_name = s.get_prompt("greet", {});
    REQUIRE_FALSE(no_name);
    CHECK(no_name.error().rpc_code == -32602);
    CHECK(s.get_prompt("nope").error().rpc_code == -32602);

    auto tones = s.complete({{"type", "ref/prompt"}, {"name", "greet"}}, "tone", "w");
    REQUIRE(tones);
    CHECK((*tones)["values"] == json::array({"warm", "wry"}));
    auto ids = s.complete({{"type", "ref/resource"}, {"uri", "test://template/{id}/data"}}, "id", "1");
    REQUIRE(ids);
    CHECK((*ids)["values"] == json::array({"100", "123"}));
    CHECK(s.complete({{"type", "ref/prompt"}, {"name", "greet"}}, "colour", "").error().rpc_code == -32602);
    client->disconnect();
  }
}

TEST_CASE("server over stdio: list changes and resource updates reach a legacy client") {
  std::mutex m;
  std::vector<mcp::ChangeEvent> events;
  auto cfg = testutil::one("s", stdio_server(mcp::Era::legacy));
  cfg.handlers.on_change = [&](const std::string&, const mcp::ChangeEvent& e) {
    std::lock_guard lk(m);
    events.push_back(e);
  };
  auto client = mcp::Client::create(std::move(cfg));
  REQUIRE(client);
  auto session = client->session("s");
  REQUIRE(session);
  auto info = client->server_info("s");
  REQUIRE(info);
  CHECK(info->capabilities["tools"]["listChanged"] == true);
  CHECK(info->capabilities["resources"]["subscribe"] == true);
  CHECK(info->capabilities.contains("completions"));
  auto toggled = client->call_tool("s", "toggle_tool", json::object());
  REQUIRE(toggled);
  CHECK(toggled->text() == "added");
  const auto count = [&](mcp::ChangeEvent::Kind k) {
    std::lock_guard lk(m);
    return std::count_if(events.begin(), events.end(), [&](const auto& e) { return e.kind == k; });
  };
  CHECK(testutil::eventually([&] { return count(mcp::ChangeEvent::Kind::tools) >= 1; }));
  auto tools = client->list_tools();
  REQUIRE(tools);
  CHECK(tools->count("s_extra"));
  REQUIRE((*session)->subscribe_resource("test://static-text"));
  REQUIRE(client->call_tool("s", "touch", {{"uri", "test://static-text"}}));
  REQUIRE(client->call_tool("s", "touch", {{"uri", "test://static-binary"}}));  // not subscribed
  CHECK(testutil::eventually([&] { return count(mcp::ChangeEvent::Kind::resource_updated) >= 1; }));
  std::this_thread::sleep_for(200ms);
  {
    std::lock_guard lk(m);
    for (const auto& e : events)
      if (e.kind == mcp::ChangeEvent::Kind::resource_updated) CHECK(e.uri == "test://static-text");
  }
  CHECK(count(mcp::ChangeEvent::Kind::resource_updated) == 1);
  REQUIRE((*session)->unsubscribe_resource("test://static-text"));
  REQUIRE(client->call_tool("s", "touch", {{"uri", "test://static-text"}}));
  std::this_thread::sleep_for(200ms);
  CHECK(count(mcp::ChangeEvent::Kind::resource_updated) == 1);
  client->disconnect();
}

TEST_CASE("server: URI templates match segments, reserved expansions and decode values, within bounds") {
  mcp::Server server({.identity = {.name = "x", .version = "1"}});
  std::string seen;
  auto reader = [&](const std::string&, const std::map<std::string, std::string>& vars,
                    mcp::RequestContext&) -> mcp::Result<std::vector<mcp::ResourceContents>> {
    seen.clear();
    for (const auto& [k, v] : vars) seen += k + "=" + v + ";";
    mcp::ResourceContents c;
    c.text = "x";
    return std::vector<mcp::ResourceContents>{c};
  };
  CHECK_FALSE(server.add_resource_template({.uri_template = "a/{", .name = "bad", .read = reader}));
  CHECK_FALSE(server.add_resource_template({.uri_template = "a/{x}{y}", .name = "bad", .read = reader}));
  CHECK_FALSE(server.add_resource_template({.uri_template = "a/{?q}", .name = "bad", .read = reader}));
  REQUIRE(server.add_resource_template({.uri_template = "file:///{+path}", .name = "files", .read = reader}));
  REQUIRE(server.add_resource_template({.uri_template = "db://{table}/{id}", .name = "rows", .read = reader}));
  CHECK(server.resource_template_infos().size() == 2);

  using mcp::server_detail::UriTemplate;
  auto files = UriTemplate::parse("file:///{+path}");
  REQUIRE(files);
  auto m1 = files->match("file:///a/b%20c.txt");
  REQUIRE(m1);
  CHECK(m1->at("path") == "a/b c.txt");
  CHECK_FALSE(files->match("file:///"));  // a variable is never empty
  auto rows = UriTemplate::parse("db://{table}/{id}");
  REQUIRE(rows);
  auto m2 = rows->match("db://users/42");
  REQUIRE(m2);
  CHECK(m2->at("table") == "users");
  CHECK(m2->at("id") == "42");
  CHECK_FALSE(rows->match("db://users/42/x"));
  CHECK_FALSE(rows->match("db://users"));
  CHECK_FALSE(rows->match("db://" + std::string(5000, 'a') + "/1"));  // over the length cap
  // Many ways to split: no backtracking blow-up (a hang guard, not a timing test), and the
  // shortest values win.
  auto nasty = UriTemplate::parse("x{+a}y{+b}y{+c}z");
  REQUIRE(nasty);
  const auto t0 = std::chrono::steady_clock::now();
  CHECK_FALSE(nasty->match("x" + std::string(4000, 'y')));
  CHECK(testutil::ms_since(t0) < 10000);
  auto split = nasty->match("x1y2y3y4z");
  REQUIRE(split);
  CHECK(split->at("a") == "1");
  CHECK(split->at("b") == "2");
  CHECK(split->at("c") == "3y4");
  auto tail = UriTemplate::parse("files/{name}");
  REQUIRE(tail);
  CHECK(tail->match("files/a.txt")->at("name") == "a.txt");
  CHECK_FALSE(tail->match("files/a/b"));
  CHECK_FALSE(tail->match("files/"));
}

TEST_CASE("server: a plain tool result written at once is what the tree gives, byte for byte") {
  // Server::Impl::tool_answer writes a plain result's answer without a tree (raw_json); it must
  // be the text to_json + finish + append_json give, in each era, with and without serverInfo.
  using mcp::CallToolResult;
  using mcp::ContentBlock;
  const auto block = [](std::string type, std::string text, std::string data = {}, std::string mime = {},
                        std::string uri = {}) {
    ContentBlock b;
    b.type = std::move(type);
    b.text = std::move(text);
    b.data = std::move(data);
    b.mime_type = std::move(mime);
    b.uri = std::move(uri);
    return b;
  };
  std::vector<CallToolResult> results;
  results.push_back(mcp::text_result("hello"));
  results.push_back(mcp::error_result("bad \"quote\" \\ back\nline\t\x01 \xc3\xa9 \xe2\x82\xac"));
  results.push_back(mcp::text_result(std::string(300, 'x') + "\x7f"));
  results.push_back(mcp::text_result("invalid \xff utf-8 \xc3"));  // replaced by U+FFFD, as the tree's writer does
  CallToolResult many;
  many.content = {block("image", "", "aGVsbG8=", "image/png"), block("resource_link", "", "", "text/plain", "file:///a b"),
                  block("text", ""), block("audio", "ignored", "AAAA", "audio/wav")};
  results.push_back(many);
  results.push_back(CallToolResult{});  // no content at all
  for (const bool info : {true, false}) {
    mcp::ServerOptions o;
    o.identity = {.name = "n\"ame", .version = "1.0", .title = "T\xc3\xa9"};
    o.server_info_in_results = info;
    auto impl = std::make_shared<mcp::Server::Impl>(o);
    for (const bool modern : {true, false})
      for (std::size_t i = 0; i < results.size(); ++i) {
        CAPTURE(info);
        CAPTURE(modern);
        CAPTURE(i);
        const json fast = impl->tool_answer(modern, CallToolResult(results[i]));
        REQUIRE(mcp::detail::is_raw_json(fast));
        json tree;
        to_json(tree, results[i]);
        tree = impl->finish(modern, std::move(tree), false);
        std::string a, b;
        REQUIRE(mcp::detail::append_json(a, fast));
        REQUIRE(mcp::detail::append_json(b, tree));
        CHECK(a == b);
        // And what it means, against a tree built here (strings here are valid UTF-8 but one).
        if (i == 3) continue;
        json expected;
        to_json(expected, results[i]);
        if (modern) expected["resultType"] = "complete";
        if (modern && info) expected["_meta"]["io.modelcontextprotocol/serverInfo"] = impl->identity_json();
        CHECK(json::parse(a) == expected);
      }
  }
  // Anything but a plain result stays a tree (deliver finishes it).
  auto impl = std::make_shared<mcp::Server::Impl>(mcp::ServerOptions{.identity = {.name = "x", .version = "1"}});
  CallToolResult structured = mcp::text_result("{}", json::object());
  CHECK(impl->tool_answer(true, std::move(structured)).is_object());
  CallToolResult with_meta = mcp::text_result("x");
  with_meta.meta = {{"k", 1}};
  CHECK(impl->tool_answer(true, std::move(with_meta)).is_object());
  CallToolResult raw_block;
  raw_block.content.push_back(block("text", "x"));
  raw_block.content.back().raw = {{"type", "text"}, {"annotations", {{"priority", 1}}}};
  CHECK(impl->tool_answer(false, std::move(raw_block)).is_object());
}

TEST_CASE("server over stdio: a handler asks the client (elicitation, sampling, roots) in each era") {
  for (const auto& c : kCases) {
    CAPTURE(c.name);
    std::atomic<int> asked{0};
    auto cfg = testutil::one("s", stdio_server(c.era, c.version));
    cfg.handlers.elicitation = [&](const std::string&, const mcp::ElicitRequest& q) -> mcp::Result<mcp::ElicitResult> {
      ++asked;
      mcp::ElicitResult r;
      r.content = {{"name", q.message == "Second name?" ? "Grace" : "Ada"}};
      return r;
    };
    cfg.handlers.sampling = [](const std::string&, const json& params) -> mcp::Result<json> {
      CHECK(params["maxTokens"] == 10);
      return json{{"role", "assistant"}, {"content", {{"type", "text"}, {"text", "4"}}}, {"model", "test"}};
    };
    cfg.handlers.roots = [](const std::string&) {
      return std::vector<mcp::Root>{{"file:///work", "work"}, {"file:///tmp", std::nullopt}};
    };
    auto client = mcp::Client::create(std::move(cfg));
    REQUIRE(client);
    auto hello = client->call_tool("s", "ask_name", json::object());
    REQUIRE(hello);
    CHECK(hello->text() == "Hello, Ada");
    auto twice = client->call_tool("s", "ask_twice", json::object());
    REQUIRE(twice);
    CHECK(twice->text() == "Ada+Grace");
    CHECK(asked == 3);
    auto model = client->call_tool("s", "ask_model", json::object());
    REQUIRE(model);
    CHECK(model->text() == "4");
    auto roots = client->call_tool("s", "list_roots", json::object());
    REQUIRE(roots);
    CHECK(roots->text() == "file:///work,file:///tmp");
    client->disconnect();

    // A client without the capability: the handler's question fails with -32021, which the
    // tool returns as is.
    auto bare = mcp::Client::create(testutil::one("s", stdio_server(c.era, c.version)));
    REQUIRE(bare);
    auto refused = bare->call_tool("s", "ask_name", json::object());
    REQUIRE_FALSE(refused);
    CHECK(refused.error().rpc_code == -32021);
    CHECK(refused.error().data["requiredCapabilities"].contains("elicitation"));
    CHECK(bare->call_tool("s", "list_roots", json::object()).error().rpc_code == -32021);
    bare->disconnect();
  }
}

TEST_CASE("server over stdio: 2026-07-28 input rounds: the sealed requestState cannot be forged or moved") {
  Raw raw;
  const std::string meta =
      R"("_meta":{"io.modelcontextprotocol/protocolVersion":"2026-07-28","io.modelcontextprotocol/clientCapabilities":{"elicitation":{}}})";
  auto first = raw.reply(R"({"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"ask_twice","arguments":{},)" + meta + "}}");
  REQUIRE(first.contains("result"));
  CHECK(first["result"]["resultType"] == "input_required");
  REQUIRE(first["result"]["inputRequests"].contains("elicit-0"));
  CHECK(first["result"]["inputRequests"]["elicit-0"]["method"] == "elicitation/create");
  CHECK_FALSE(first["result"].contains("ttlMs"));
  const std::string state = first["result"]["requestState"];
  // Round two: the first answer; the server asks the second question.
  auto second = raw.reply(R"({"jsonrpc":"2.0","id":2,"method":"tools/call","params":{"name":"ask_twice","arguments":{},)" + meta +
                          R"(,"inputResponses":{"elicit-0":{"action":"accept","content":{"name":"Ada"}}},"requestState":")" + state + "\"}}");
  CHECK(second["result"]["resultType"] == "input_required");
  REQUIRE(second["result"]["inputRequests"].contains("elicit-1"));
  const std::string state2 = second["result"]["requestState"];
  // Round three: only the latest answer; the first comes back inside the state.
  auto third = raw.reply(R"({"jsonrpc":"2.0","id":3,"method":"tools/call","params":{"name":"ask_twice","arguments":{},)" + meta +
                         R"(,"inputResponses":{"elicit-1":{"action":"accept","content":{"name":"Grace"}}},"requestState":")" + state2 + "\"}}");
  CHECK(third["result"]["resultType"] == "complete");
  CHECK(third["result"]["content"][0]["text"] == "Ada+Grace");
  // A state altered by one character, or replayed for another tool: -32602.
  std::string forged = state2;
  forged[forged.size() / 2] = forged[forged.size() / 2] == 'A' ? 'B' : 'A';
  CHECK(raw.reply(R"({"jsonrpc":"2.0","id":4,"method":"tools/call","params":{"name":"ask_twice","arguments":{},)" + meta +
                  R"(,"requestState":")" + forged + "\"}}")["error"]["code"] == -32602);
  CHECK(raw.reply(R"({"jsonrpc":"2.0","id":5,"method":"tools/call","params":{"name":"ask_name","arguments":{},)" + meta +
                  R"(,"requestState":")" + state2 + "\"}}")["error"]["code"] == -32602);
  // ... or replayed for the same tool with other arguments (the state is bound to them).
  auto other = raw.reply(R"({"jsonrpc":"2.0","id":7,"method":"tools/call","params":{"name":"ask_twice","arguments":{"extra":1},)" + meta +
                         R"(,"inputResponses":{"elicit-1":{"action":"accept","content":{"name":"Grace"}}},"requestState":")" + state2 + "\"}}");
  REQUIRE(other.contains("error"));
  CHECK(other["error"]["code"] == -32602);
  CHECK(other["error"]["message"].get<std::string>().find("another request") != std::string::npos);
  // A missing answer is asked again, not an error.
  auto again = raw.reply(R"({"jsonrpc":"2.0","id":6,"method":"tools/call","params":{"name":"ask_name","arguments":{},)" + meta +
                         R"(,"inputResponses":{"unrelated":{"x":1}}}})");
  CHECK(again["result"]["resultType"] == "input_required");
  CHECK(raw.close_and_wait(5000) == 0);
}

TEST_CASE("server over stdio: 2026-07-28 input rounds under the handler's keys; a malformed answer is -32602") {
  Raw raw;
  const std::string meta =
      R"("_meta":{"io.modelcontextprotocol/protocolVersion":"2026-07-28","io.modelcontextprotocol/clientCapabilities":{"elicitation":{},"sampling":{},"roots":{}}})";
  const auto call = [&](int id, const std::string& extra) {
    return raw.reply(R"({"jsonrpc":"2.0","id":)" + std::to_string(id) +
                     R"(,"method":"tools/call","params":{"name":"ask_all","arguments":{},)" + meta + extra + "}}");
  };
  // The three questions in one result, each under the key the handler gave it.
  auto first = call(1, "");
  REQUIRE(first.contains("result"));
  CHECK(first["result"]["resultType"] == "input_required");
  const json& asked = first["result"]["inputRequests"];
  CHECK(asked.size() == 3);
  CHECK(asked["user_name"]["method"] == "elicitation/create");
  CHECK(asked["greeting"]["method"] == "sampling/createMessage");
  CHECK(asked["client_roots"]["method"] == "roots/list");
  // One answer (plus a key nobody asked): the other two are asked again, the answer kept.
  auto second = call(2, R"(,"inputResponses":{"user_name":{"action":"accept","content":{"name":"Ada"}},"bogus":{"x":1}},"requestState":")" +
                            first["result"]["requestState"].get<std::string>() + "\"");
  REQUIRE(second.contains("result"));
  CHECK(second["result"]["resultType"] == "input_required");
  CHECK(second["result"]["inputRequests"].size() == 2);
  CHECK_FALSE(second["result"]["inputRequests"].contains("user_name"));
  auto third = call(3, R"(,"inputResponses":{"greeting":{"role":"assistant","content":{"type":"text","text":"hi"},"model":"m"},)"
                       R"("client_roots":{"roots":[{"uri":"file:///w"}]}},"requestState":")" +
                           second["result"]["requestState"].get<std::string>() + "\"");
  REQUIRE(third.contains("result"));
  CHECK(third["result"]["resultType"] == "complete");
  CHECK(third["result"]["content"][0]["text"] == "Ada|hi|file:///w;");
  // An answer that is not an answer (a number for an elicitation): invalid params, not an
  // internal error of the server's.
  auto bad = raw.reply(R"({"jsonrpc":"2.0","id":4,"method":"tools/call","params":{"name":"ask_name","arguments":{},)" + meta +
                       R"(,"inputResponses":{"elicit-0":12345}}})");
  REQUIRE(bad.contains("error"));
  CHECK(bad["error"]["code"] == -32602);
  CHECK(raw.close_and_wait(5000) == 0);
}

TEST_CASE("server over stdio: 2026-07-28 subscriptions/listen carries list changes and resource updates") {
  std::mutex m;
  std::vector<mcp::ChangeEvent> events;
  auto cfg = testutil::one("s", stdio_server(mcp::Era::modern));
  cfg.handlers.on_change = [&](const std::string&, const mcp::ChangeEvent& e) {
    std::lock_guard lk(m);
    events.push_back(e);
  };
  auto client = mcp::Client::create(std::move(cfg));
  REQUIRE(client);
  auto info = client->server_info("s");
  REQUIRE(info);
  CHECK(info->era == mcp::Era::modern);
  CHECK(info->capabilities["tools"]["listChanged"] == true);
  const auto count = [&](mcp::ChangeEvent::Kind k) {
    std::lock_guard lk(m);
    return std::count_if(events.begin(), events.end(), [&](const auto& e) { return e.kind == k; });
  };
  // The client's listener opens the stream in the background: a change made after it is
  // acknowledged reaches it. Toggle until one arrives (each toggle is a change).
  CHECK(testutil::eventually([&] {
    (void)client->call_tool("s", "toggle_tool", json::object());
    return count(mcp::ChangeEvent::Kind::tools) >= 1;
  }, 5000));
  auto session = client->session("s");
  REQUIRE(session);
  REQUIRE((*session)->subscribe_resource("test://static-text"));
  CHECK(testutil::eventually([&] {
    (void)client->call_tool("s", "touch", {{"uri", "test://static-text"}});
    return count(mcp::ChangeEvent::Kind::resource_updated) >= 1;
  }, 5000));
  {
    std::lock_guard lk(m);
    for (const auto& e : events)
      if (e.kind == mcp::ChangeEvent::Kind::resource_updated) CHECK(e.uri == "test://static-text");
  }
  client->disconnect();
}

TEST_CASE("server over stdio: a listen stream is acknowledged first, filtered, and ends unanswered when cancelled") {
  Raw raw;
  const std::string meta =
      R"("_meta":{"io.modelcontextprotocol/protocolVersion":"2026-07-28","io.modelcontextprotocol/clientCapabilities":{}})";
  raw.send(R"({"jsonrpc":"2.0","id":"L1","method":"subscriptions/listen","params":{)" + meta +
           R"(,"notifications":{"toolsListChanged":true,"bogusListChanged":true}}})" "\n");
  auto ack = json::parse(raw.line());
  CHECK(ack["method"] == "notifications/subscriptions/acknowledged");
  CHECK(ack["params"]["_meta"]["io.modelcontextprotocol/subscriptionId"] == "L1");
  CHECK(ack["params"]["notifications"] == json{{"toolsListChanged", true}});
  // A tool list change arrives on the stream, with its subscription id; the tool's answer too.
  raw.send(R"({"jsonrpc":"2.0","id":2,"method":"tools/call","params":{"name":"toggle_tool","arguments":{},)" + meta + "}}\n");
  bool changed = false, answered = false;
  for (int i = 0; i < 2; ++i) {
    auto msg = json::parse(raw.line());
    if (msg.value("method", "") == "notifications/tools/list_changed") {
      changed = true;
      CHECK(msg["params"]["_meta"]["io.modelcontextprotocol/subscriptionId"] == "L1");
    } else if (msg.value("id", json()) == 2) {
      answered = true;
    }
  }
  CHECK(changed);
  CHECK(answered);
  // Not asked for: no prompt or resource notifications. Cancelled: nothing more, no answer.
  raw.send(R"({"jsonrpc":"2.0","method":"notifications/cancelled","params":{"requestId":"L1"}})" "\n");
  raw.send(R"({"jsonrpc":"2.0","id":3,"method":"tools/call","params":{"name":"toggle_tool","arguments":{},)" + meta + "}}\n");
  auto next = json::parse(raw.line());
  CHECK(next["id"] == 3);  // the answer, with no list_changed before it
  // A legacy client has no such method.
  CHECK(raw.reply(R"({"jsonrpc":"2.0","id":4,"method":"subscriptions/listen","params":{}})")["error"]["code"] != 0);
  CHECK(raw.close_and_wait(5000) == 0);
}

TEST_CASE("server over stdio: a run_inline tool runs on the reading thread, and cannot wait for the client") {
  mcp::Server server({.identity = {.name = "inline", .version = "1"}});
  std::atomic<std::thread::id> reader{};
  const auto where = [&](const json&, mcp::RequestContext&) -> mcp::Result<mcp::CallToolResult> {
    return mcp::text_result(std::this_thread::get_id() == reader.load() ? "reader" : "other");
  };
  REQUIRE(server.add_tool({.name = "where_inline", .handler = where, .run_inline = true}));
  REQUIRE(server.add_tool({.name = "where_pooled", .handler = where}));
  REQUIRE(server.add_tool({.name = "ask",
                           .handler = [](const json&, mcp::RequestContext& ctx) -> mcp::Result<mcp::CallToolResult> {
                             mcp::ElicitRequest q;
                             q.message = "Name?";
                             q.requested_schema = json{{"type", "object"}, {"properties", json::object()}};
                             auto a = ctx.elicit(q);
                             return mcp::text_result(a ? std::string("answered") : a.error().message);
                           },
                           .run_inline = true}));
  testutil::StdioSession raw(server);
  reader = raw.serving.get_id();
  const auto send = [&](const json& m) { raw.send(m); };
  // The answer to `id` within 5 s (a request from the server instead fails the test: nothing
  // may wait for us).
  const auto answer = [&](int id) -> json {
    for (;;) {
      json m = raw.next(5000);
      if (m.is_null() || (m.value("id", json()) == id && !m.contains("method"))) return m;
      FAIL_CHECK("unexpected message: " << m.dump());
    }
  };
  const auto text_of = [](const json& m) -> std::string {
    if (!m.is_object() || !m.contains("result")) return "(no result: " + m.dump() + ")";
    return m["result"]["content"][0].value("text", "");
  };
  const json modern_meta{{"io.modelcontextprotocol/protocolVersion", "2026-07-28"},
                         {"io.modelcontextprotocol/clientCapabilities", json::object()}};
  send({{"jsonrpc", "2.0"}, {"id", 1}, {"method", "tools/call"},
        {"params", {{"name", "where_inline"}, {"arguments", json::object()}, {"_meta", modern_meta}}}});
  CHECK(text_of(answer(1)) == "reader");
  send({{"jsonrpc", "2.0"}, {"id", 2}, {"method", "tools/call"},
        {"params", {{"name", "where_pooled"}, {"arguments", json::object()}, {"_meta", modern_meta}}}});
  CHECK(text_of(answer(2)) == "other");
  // Legacy, a client that can answer elicitations: the inline handler's question fails at once.
  send({{"jsonrpc", "2.0"}, {"id", 3}, {"method", "initialize"},
        {"params", {{"protocolVersion", "2025-11-25"}, {"capabilities", {{"elicitation", json::object()}}},
                    {"clientInfo", {{"name", "t"}, {"version", "1"}}}}}});
  CHECK(answer(3).contains("result"));
  send({{"jsonrpc", "2.0"}, {"method", "notifications/initialized"}});
  send({{"jsonrpc", "2.0"}, {"id", 4}, {"method", "tools/call"}, {"params", {{"name", "ask"}, {"arguments", json::object()}}}});
  CHECK(text_of(answer(4)).find("cannot wait for the client") != std::string::npos);
}
