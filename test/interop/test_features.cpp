// The client side of MCP beyond tools, against server-everything (legacy era) over stdio,
// Streamable HTTP and HTTP+SSE: resources, prompts, completion, progress, elicitation, sampling, roots, approval.
#include "interop_helpers.hpp"

#include <doctest/doctest.h>

#include <atomic>
#include <cstdlib>
#include <filesystem>
#include <mutex>

using namespace std::chrono_literals;
using nlohmann::json;

namespace {

using testutil::everything;

mcp::Client make(mcp::ClientConfig cfg) {
  cfg.request_timeout = 20s;
  auto c = mcp::Client::create(std::move(cfg));
  REQUIRE(c);
  return std::move(*c);
}

}  // namespace

TEST_CASE("features: resources, templates and reading text and blobs (legacy, server-everything)") {
  auto client = make(testutil::one("ev", everything()));
  auto s = client.session("ev");
  REQUIRE(s);
  auto resources = (*s)->list_resources();
  REQUIRE_MESSAGE(resources, (resources ? "" : resources.error().what()));
  CHECK_FALSE(resources->empty());
  auto templates = (*s)->list_resource_templates();
  REQUIRE(templates);
  bool has_text_template = false;
  for (const auto& t : *templates) has_text_template |= t.uri_template.find("dynamic/text") != std::string::npos;
  CHECK(has_text_template);
  auto text = (*s)->read_resource("demo://resource/dynamic/text/1");
  REQUIRE_MESSAGE(text, (text ? "" : text.error().what()));
  REQUIRE(text->contents.size() == 1);
  CHECK(text->contents[0].text);
  auto blob = (*s)->read_resource("demo://resource/dynamic/blob/1");
  REQUIRE(blob);
  REQUIRE(blob->contents.size() == 1);
  REQUIRE(blob->contents[0].blob);
  CHECK(blob->contents[0].bytes());
  auto first = (*s)->read_resource(resources->front().uri);
  CHECK(first);
  auto missing = (*s)->read_resource("demo://no/such/resource");
  CHECK_FALSE(missing);
}

TEST_CASE("features: prompts with arguments, and completion") {
  auto client = make(testutil::one("ev", everything()));
  auto s = *client.session("ev");
  auto prompts = s->list_prompts();
  REQUIRE(prompts);
  bool has_args = false;
  for (const auto& p : *prompts)
    if (p.name == "args-prompt") has_args = !p.arguments.empty();
  CHECK(has_args);
  auto simple = s->get_prompt("simple-prompt");
  REQUIRE_MESSAGE(simple, (simple ? "" : simple.error().what()));
  CHECK_FALSE(simple->messages.empty());
  auto with_args = s->get_prompt("args-prompt", {{"city", "Lyon"}, {"state", "Rhône"}});
  REQUIRE(with_args);
  REQUIRE_FALSE(with_args->messages.empty());
  CHECK(with_args->messages[0].content.text.find("Lyon") != std::string::npos);
  auto completion = s->complete(json{{"type", "ref/prompt"}, {"name", "completable-prompt"}}, "department", "E");
  REQUIRE_MESSAGE(completion, (completion ? "" : completion.error().what()));
  CHECK(completion->contains("values"));
  CHECK(s->ping());
}

TEST_CASE("features: progress notifications reach the caller's callback") {
  auto client = make(testutil::one("ev", everything()));
  std::atomic<int> updates{0};
  std::atomic<double> last{0};
  mcp::RequestOptions o;
  o.on_progress = [&](const mcp::Progress& p) {
    ++updates;
    last = p.progress;
  };
  auto r = client.call_tool("ev", "trigger-long-running-operation", {{"duration", 1}, {"steps", 4}}, o);
  REQUIRE_MESSAGE(r, (r ? "" : r.error().what()));
  CHECK(updates == 4);
  CHECK(last == 4);
}

TEST_CASE("features: progress can keep a slow call alive, but not beyond the total cap") {
  auto client = make(testutil::one("ev", everything()));
  mcp::RequestOptions o;
  o.timeout = 700ms;  // each step takes 500 ms: survives only because progress resets the clock
  o.reset_timeout_on_progress = true;
  o.on_progress = [](const mcp::Progress&) {};
  auto r = client.call_tool("ev", "trigger-long-running-operation", {{"duration", 2}, {"steps", 4}}, o);
  REQUIRE_MESSAGE(r, (r ? "" : r.error().what()));
  o.max_total_time = 1200ms;
  auto capped = client.call_tool("ev", "trigger-long-running-operation", {{"duration", 3}, {"steps", 6}}, o);
  REQUIRE_FALSE(capped);
  CHECK(capped.error().errc() == mcp::Errc::timeout);
}

TEST_CASE("features: elicitation, sampling and roots handlers answer the legacy server's requests") {
  mcp::ClientConfig cfg = testutil::one("ev", everything());
  std::atomic<int> elicited{0}, sampled{0}, rooted{0};
  cfg.handlers.elicitation = [&](const std::string& server, const mcp::ElicitRequest& req) -> mcp::Result<mcp::ElicitResult> {
    ++elicited;
    CHECK(server == "ev");
    CHECK(req.requested_schema.contains("properties"));
    mcp::ElicitResult r;
    r.content = json{{"name", "Ada"}, {"check", true}, {"email", "ada@example.com"}};
    return r;
  };
  cfg.handlers.sampling = [&](const std::string&, const json& params) -> mcp::Result<json> {
    ++sampled;
    CHECK(params.contains("messages"));
    return json{{"role", "assistant"}, {"content", {{"type", "text"}, {"text", "sampled reply"}}}, {"model", "test-model"},
                {"stopReason", "endTurn"}};
  };
  cfg.handlers.roots = [&](const std::string&) {
    ++rooted;
    return std::vector<mcp::Root>{{"file:///tmp/project", std::string("project")}};
  };
  auto client = make(std::move(cfg));
  // server-everything registers these tools only for clients that declare the capabilities.
  mcp::Result<mcp::ToolMap> tools = mcp::fail(mcp::Errc::tool_not_found, "");
  CHECK(testutil::eventually([&] {
    tools = client.list_tools();
    return tools && tools->count("ev_trigger-elicitation-request") && tools->count("ev_get-roots-list");
  }, 5000));
  REQUIRE(tools);
  auto e = tools->at("ev_trigger-elicitation-request").call();
  REQUIRE_MESSAGE(e, (e ? "" : e.error().what()));
  CHECK(elicited == 1);
  CHECK(e->text().find("Ada") != std::string::npos);
  // The schema's default was filled in for the field the handler left out.
  CHECK(e->text().find("It was a dark and stormy night.") != std::string::npos);
  auto smp = client.call_tool("ev", "trigger-sampling-request", {{"prompt", "hello"}});
  REQUIRE_MESSAGE(smp, (smp ? "" : smp.error().what()));
  CHECK(sampled == 1);
  CHECK(smp->text().find("sampled reply") != std::string::npos);
  auto roots = client.call_tool("ev", "get-roots-list");
  REQUIRE_MESSAGE(roots, (roots ? "" : roots.error().what()));
  CHECK(rooted >= 1);
  CHECK(roots->text().find("file:///tmp/project") != std::string::npos);
}

TEST_CASE("features: no handler, no capability: the server's tools that need one are absent") {
  auto client = make(testutil::one("ev", everything()));
  auto tools = client.list_tools();
  REQUIRE(tools);
  CHECK(tools->count("ev_trigger-elicitation-request") == 0);
  CHECK(tools->count("ev_trigger-sampling-request") == 0);
}

TEST_CASE("features: the approval callback gates every tool call, whatever the route") {
  mcp::ClientConfig cfg = testutil::one("ev", everything());
  std::mutex m;
  std::vector<std::string> asked;
  cfg.handlers.approve_tool_call = [&](const std::string& server, const std::string& tool, const json& args) {
    std::lock_guard lk(m);
    asked.push_back(server + "/" + tool + "/" + args.dump());
    return tool != "echo";
  };
  auto client = make(std::move(cfg));
  auto flat = client.list_tools();
  REQUIRE(flat);
  auto sets = client.list_toolsets();
  REQUIRE(sets);
  for (auto r : {flat->at("ev_echo").call({{"message", "x"}}), sets->at("ev").at("echo").call({{"message", "x"}}),
                 client.call_tool("ev", "echo", {{"message", "x"}})}) {
    REQUIRE_FALSE(r);
    CHECK(r.error().errc() == mcp::Errc::call_denied);
  }
  auto allowed = sets->at("ev").at("get-sum").call({{"a", 1}, {"b", 2}});
  REQUIRE(allowed);
  std::lock_guard lk(m);
  CHECK(asked.size() == 4);
  CHECK(asked[0] == "ev/echo/{\"message\":\"x\"}");
}

TEST_CASE("features over Streamable HTTP and HTTP+SSE: the same calls, server requests on SSE streams") {
  const std::string node = testutil::interop_node();
  const std::string js = testutil::everything_js();
  const int p_http = testutil::free_port(), p_sse = testutil::free_port();
  testutil::ServerProcess s1({node, js, "streamableHttp"}, {"PORT=" + std::to_string(p_http)}, testutil::temp_path("ev-http.log"));
  testutil::ServerProcess s2({node, js, "sse"}, {"PORT=" + std::to_string(p_sse)}, testutil::temp_path("ev-sse.log"));
  REQUIRE(testutil::eventually([&] { return testutil::port_open(p_http) && testutil::port_open(p_sse); }, 15000));
  for (const std::string url : {"http://127.0.0.1:" + std::to_string(p_http) + "/mcp",
                                "http://127.0.0.1:" + std::to_string(p_sse) + "/sse"}) {
    CAPTURE(url);
    mcp::HttpServerConfig h;
    h.url = url;
    mcp::ServerConfig sc;
    sc.transport = h;
    mcp::ClientConfig cfg = testutil::one("ev", sc);
    std::atomic<int> elicited{0};
    cfg.handlers.elicitation = [&](const std::string&, const mcp::ElicitRequest&) -> mcp::Result<mcp::ElicitResult> {
      ++elicited;
      mcp::ElicitResult r;
      r.content = json{{"name", "Linus"}, {"check", false}, {"email", "l@example.com"}};
      return r;
    };
    auto client = make(std::move(cfg));
    mcp::Result<mcp::ToolMap> tools = mcp::fail(mcp::Errc::tool_not_found, "");
    CHECK(testutil::eventually([&] {
      tools = client.list_tools();
      return tools && tools->count("ev_trigger-elicitation-request");
    }, 5000));
    REQUIRE(tools);
    auto e = tools->at("ev_trigger-elicitation-request").call();
    REQUIRE_MESSAGE(e, (e ? "" : e.error().what()));
    CHECK(elicited == 1);
    CHECK(e->text().find("Linus") != std::string::npos);
    auto text = client.read_resource("ev", "demo://resource/dynamic/text/2");
    REQUIRE_MESSAGE(text, (text ? "" : text.error().what()));
    CHECK(text->contents.at(0).text);
    auto prompt = client.get_prompt("ev", "args-prompt", {{"city", "Oslo"}});
    REQUIRE(prompt);
    CHECK(prompt->messages.at(0).content.text.find("Oslo") != std::string::npos);
    std::atomic<int> updates{0};
    mcp::RequestOptions o;
    o.on_progress = [&](const mcp::Progress&) { ++updates; };
    auto r = client.call_tool("ev", "trigger-long-running-operation", {{"duration", 1}, {"steps", 3}}, o);
    REQUIRE_MESSAGE(r, (r ? "" : r.error().what()));
    CHECK(updates == 3);
    client.disconnect();
  }
}
