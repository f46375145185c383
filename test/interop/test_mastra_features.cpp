// The client side of MCP beyond tools against our Mastra-based modern-era server
// (test/interop/mastra_server.mjs, @mastra/mcp 2.0.0, protocol 2026-07-28), over stdio and
// over Streamable HTTP: resources and templates, text and blob reads, prompts with
// arguments, elicitation through multi round-trip requests (input_required), and the
// per-request logging and progress of the modern era.
#include "interop_helpers.hpp"

#include <doctest/doctest.h>

#include <atomic>
#include <cstdlib>
#include <filesystem>
#include <memory>
#include <mutex>

using namespace std::chrono_literals;
using nlohmann::json;

namespace {

std::string node() { return testutil::interop_node(); }
std::string script() { return testutil::mastra_js(); }

/// The Mastra server over one transport. Over HTTP it owns the server process (started on a
/// free port, its output in a log file), stopped when this goes away.
struct Mastra {
  std::string transport;
  mcp::ServerConfig config;
  std::unique_ptr<testutil::ServerProcess> process;
  std::string log;

  explicit Mastra(const std::string& kind) : transport(kind) {
    if (kind == "stdio") {
      mcp::StdioServerConfig st;
      st.command = node();
      st.args = {script(), "stdio"};
      st.shutdown_grace = 2000ms;
      config.transport = std::move(st);
      return;
    }
    const int port = testutil::free_port();
    log = testutil::temp_path("mastra-features-http.log");
    process = std::make_unique<testutil::ServerProcess>(
        std::vector<std::string>{node(), script(), "http", std::to_string(port)}, std::vector<std::string>{}, log);
    REQUIRE(process->pid() > 0);
    REQUIRE_MESSAGE(testutil::eventually([&] { return testutil::port_open(port); }, 15000),
                    "the Mastra HTTP server did not start: " << testutil::read_file(log));
    mcp::HttpServerConfig h;
    h.url = "http://127.0.0.1:" + std::to_string(port) + "/mcp";
    config.transport = std::move(h);
  }
};

mcp::Client make(mcp::ClientConfig cfg) {
  cfg.request_timeout = 20s;
  cfg.probe_timeout = 10s;  // node takes a moment to load @mastra/*
  auto c = mcp::Client::create(std::move(cfg));
  REQUIRE(c);
  return std::move(*c);
}

std::string what(const mcp::Error& e) { return e.what() + std::string(" (rpc_code ") + std::to_string(e.rpc_code.value_or(0)) + ")"; }

// Runs `body` once per transport, each in its own doctest subcase.
template <class F>
void over_both(F body) {
  for (const char* kind : {"stdio", "http"}) {
    SUBCASE(kind) {
      Mastra server(kind);
      CAPTURE(server.transport);
      body(server);
    }
  }
}

}  // namespace

TEST_CASE("mastra features: modern era, resources, templates, text and blob reads") {
  over_both([](Mastra& server) {
    auto client = make(testutil::one("ma", server.config));
    auto info = client.server_info("ma");
    REQUIRE_MESSAGE(info, (info ? "" : what(info.error())));
    CHECK(info->era == mcp::Era::modern);
    CHECK(info->protocol_version == "2026-07-28");
    CHECK(info->capabilities.contains("resources"));
    CHECK(info->capabilities.contains("prompts"));

    auto listed = client.list_resources();
    CHECK(listed.errors.empty());
    REQUIRE(listed.value.count("ma") == 1);
    const auto& resources = listed.value.at("ma");
    REQUIRE(resources.size() == 2);
    CHECK(resources[0].uri == "mastra://docs/readme");
    CHECK(resources[0].name == "readme");
    CHECK(resources[0].title == "Read me");
    CHECK(resources[0].mime_type == "text/plain");
    CHECK(resources[1].uri == "mastra://images/pixel.png");
    CHECK(resources[1].mime_type == "image/png");

    auto templates = client.list_resource_templates();
    CHECK(templates.errors.empty());
    REQUIRE(templates.value.count("ma") == 1);
    REQUIRE(templates.value.at("ma").size() == 1);
    CHECK(templates.value.at("ma")[0].uri_template == "mastra://greetings/{name}");
    CHECK(templates.value.at("ma")[0].name == "greeting");
    CHECK(templates.value.at("ma")[0].mime_type == "text/plain");

    auto text = client.read_resource("ma", "mastra://docs/readme");
    REQUIRE_MESSAGE(text, (text ? "" : what(text.error())));
    REQUIRE(text->contents.size() == 1);
    CHECK(text->contents[0].uri == "mastra://docs/readme");
    CHECK(text->contents[0].mime_type == "text/plain");
    REQUIRE(text->contents[0].text);
    CHECK_FALSE(text->contents[0].blob);
    CHECK(text->contents[0].bytes() == "Mastra interop server.\nIt serves two resources and a template.\n");

    auto blob = client.read_resource("ma", "mastra://images/pixel.png");
    REQUIRE_MESSAGE(blob, (blob ? "" : what(blob.error())));
    REQUIRE(blob->contents.size() == 1);
    CHECK(blob->contents[0].mime_type == "image/png");
    CHECK_FALSE(blob->contents[0].text);
    REQUIRE(blob->contents[0].blob);
    CHECK(*blob->contents[0].blob == "iVBORw0KGgoA//4B");
    const std::string pixel("\x89PNG\r\n\x1a\n\0\xff\xfe\x01", 12);
    CHECK(blob->contents[0].bytes() == pixel);

    // MCPServer 2.0.0 reads only URIs that listResources returns; a URI that merely matches
    // a listed template is answered with InvalidParams ("Resource not found").
    auto templated = client.read_resource("ma", "mastra://greetings/ada");
    REQUIRE_FALSE(templated);
    CHECK(templated.error().errc() == mcp::Errc::rpc_error);
    CHECK(templated.error().rpc_code == -32602);
  });
}

TEST_CASE("mastra features: prompts, with and without arguments") {
  over_both([](Mastra& server) {
    auto client = make(testutil::one("ma", server.config));
    auto listed = client.list_prompts();
    CHECK(listed.errors.empty());
    REQUIRE(listed.value.count("ma") == 1);
    const auto& prompts = listed.value.at("ma");
    REQUIRE(prompts.size() == 2);
    CHECK(prompts[0].name == "hello");
    CHECK(prompts[0].title == "Hello");
    CHECK(prompts[0].arguments.empty());
    CHECK(prompts[1].name == "summarize");
    REQUIRE(prompts[1].arguments.size() == 2);
    CHECK(prompts[1].arguments[0].name == "text");
    CHECK(prompts[1].arguments[0].required);
    CHECK(prompts[1].arguments[0].description == "The text to summarize");
    CHECK(prompts[1].arguments[1].name == "style");
    CHECK_FALSE(prompts[1].arguments[1].required);

    auto hello = client.get_prompt("ma", "hello");
    REQUIRE_MESSAGE(hello, (hello ? "" : what(hello.error())));
    CHECK(hello->description == "A prompt without arguments");
    REQUIRE(hello->messages.size() == 1);
    CHECK(hello->messages[0].role == "user");
    CHECK(hello->messages[0].content.type == "text");
    CHECK(hello->messages[0].content.text == "Say hello.");

    auto summary = client.get_prompt("ma", "summarize", {{"text", "MCP in one line"}, {"style", "terse"}});
    REQUIRE_MESSAGE(summary, (summary ? "" : what(summary.error())));
    CHECK(summary->description == "Summarize a text");
    REQUIRE(summary->messages.size() == 2);
    CHECK(summary->messages[0].role == "user");
    CHECK(summary->messages[0].content.text == "Summarize in a terse style: MCP in one line");
    CHECK(summary->messages[1].role == "assistant");
    CHECK(summary->messages[1].content.text == "Sure.");

    auto defaulted = client.get_prompt("ma", "summarize", {{"text", "x"}});
    REQUIRE(defaulted);
    REQUIRE_FALSE(defaulted->messages.empty());
    CHECK(defaulted->messages[0].content.text == "Summarize in a brief style: x");

    // A required argument left out: Mastra answers InvalidParams.
    auto missing = client.get_prompt("ma", "summarize");
    REQUIRE_FALSE(missing);
    CHECK(missing.error().errc() == mcp::Errc::rpc_error);
    CHECK(missing.error().rpc_code == -32602);
    CHECK(std::string(missing.error().what()).find("text") != std::string::npos);
  });
}

TEST_CASE("mastra features: elicitation through input_required, schema defaults filled in by the client") {
  over_both([](Mastra& server) {
    testutil::Resources before;
    {
      mcp::ClientConfig cfg = testutil::one("ma", server.config);
      std::mutex m;
      std::vector<mcp::ElicitRequest> asked;
      std::string answer_color;  // empty: leave `color` out of the answer
      std::string action = "accept";
      cfg.handlers.elicitation = [&](const std::string& name, const mcp::ElicitRequest& req) -> mcp::Result<mcp::ElicitResult> {
        std::lock_guard lk(m);
        CHECK(name == "ma");
        asked.push_back(req);
        mcp::ElicitResult r;
        r.action = action;
        r.content = json{{"name", "Ada"}};
        if (!answer_color.empty()) r.content["color"] = answer_color;
        return r;
      };
      auto client = make(std::move(cfg));

      auto hello = client.call_tool("ma", "ask-name");
      REQUIRE_MESSAGE(hello, (hello ? "" : what(hello.error())));
      CHECK_FALSE(hello->is_error);
      // The tool sees the client's raw answer: "blue" is there only because our client filled
      // in the requested schema's default (the tool would say "no colour given").
      CHECK(hello->text() == "Hello Ada (blue)");
      {
        std::lock_guard lk(m);
        REQUIRE(asked.size() == 1);
        const auto& req = asked[0];
        CHECK(req.mode == "form");
        CHECK(req.message == "What is your name?");
        const json& schema = req.requested_schema;
        REQUIRE(schema.is_object());
        CHECK(schema["type"] == "object");
        CHECK(schema["properties"]["name"]["type"] == "string");
        CHECK(schema["properties"]["color"]["type"] == "string");
        CHECK(schema["properties"]["color"]["default"] == "blue");
        CHECK(schema["required"] == json::array({"name"}));
        CHECK(req.raw["mode"] == "form");
      }

      // An answer that sets the field keeps it.
      {
        std::lock_guard lk(m);
        answer_color = "red";
      }
      auto red = client.call_tool("ma", "ask-name");
      REQUIRE_MESSAGE(red, (red ? "" : what(red.error())));
      CHECK(red->text() == "Hello Ada (red)");

      // A declined form: Mastra ends the call with an isError result (the tool is not rerun).
      {
        std::lock_guard lk(m);
        action = "decline";
      }
      auto declined = client.call_tool("ma", "ask-name");
      REQUIRE_MESSAGE(declined, (declined ? "" : what(declined.error())));
      CHECK(declined->is_error);
      CHECK(declined->text() == "Tool 'ask-name' was declined");
      std::lock_guard lk(m);
      CHECK(asked.size() == 3);
    }
    CHECK_NO_LEAKS(before);  // the stdio child is reaped, no thread or fd is left behind
  });
}

TEST_CASE("mastra features: without an elicitation handler the server refuses to ask (-32021)") {
  over_both([](Mastra& server) {
    auto client = make(testutil::one("ma", server.config));
    // No handler, so the client declares no elicitation capability in the request's _meta.
    // The server SDK (@modelcontextprotocol/server 2.0.0) must not send an input request the
    // client did not declare: instead of an input_required result it answers the JSON-RPC
    // error -32021 MissingRequiredClientCapability with data.requiredCapabilities (over HTTP
    // with status 400). So the call fails with that rpc_error, not Errc::input_required.
    auto r = client.call_tool("ma", "ask-name");
    REQUIRE_FALSE(r);
    CHECK(r.error().errc() == mcp::Errc::rpc_error);
    CHECK(r.error().rpc_code == -32021);
    CHECK(r.error().data["requiredCapabilities"]["elicitation"].contains("form"));
    // The connection is still fine.
    auto sum = client.call_tool("ma", "get-sum", {{"a", 1}, {"b", 2}});
    REQUIRE_MESSAGE(sum, (sum ? "" : what(sum.error())));
    CHECK(sum->text() == "The sum of 1 and 2 is 3.");
  });
}

TEST_CASE("mastra features: per-request logging and progress notifications") {
  over_both([](Mastra& server) {
    mcp::ClientConfig cfg = testutil::one("ma", server.config);
    cfg.log_level = "info";  // sent as io.modelcontextprotocol/logLevel with every request
    std::mutex m;
    std::vector<std::string> logs;
    cfg.handlers.on_log = [&](const std::string& name, const mcp::LogMessage& msg) {
      std::lock_guard lk(m);
      logs.push_back(name + ":" + msg.level + ":" + msg.logger.value_or("") + ":" + msg.data.dump());
    };
    auto client = make(std::move(cfg));
    std::vector<mcp::Progress> progress;
    mcp::RequestOptions o;
    o.on_progress = [&](const mcp::Progress& p) {
      std::lock_guard lk(m);
      progress.push_back(p);
    };
    auto r = client.call_tool("ma", "report", {{"steps", 3}}, o);
    REQUIRE_MESSAGE(r, (r ? "" : what(r.error())));
    CHECK(r->text() == "reported 3 steps");
    std::lock_guard lk(m);
    REQUIRE(progress.size() == 3);
    for (int i = 0; i < 3; ++i) {
      CHECK(progress[i].progress == i + 1);
      CHECK(progress[i].total == 3);
      CHECK(progress[i].message == "step " + std::to_string(i + 1));
    }
    // The debug message is below the requested level: only the info one arrives.
    REQUIRE(logs.size() == 1);
    CHECK(logs[0] == "ma:info:mastra-interop:{\"message\":\"report started\",\"steps\":3}");
  });
}
