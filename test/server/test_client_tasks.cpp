// The client's side of the tasks extension (io.modelcontextprotocol/tasks, SEP-2663, 2026-07-28):
// a tool call the server answers with a task is followed to its result (tasks/get at the
// server's poll interval, input answered with tasks/update through the client's handlers,
// tasks/cancel on cancellation and timeout). Against our own server: conformance_server --tasks
// over stdio, and an mcp::Server of this process on an HttpHost.
#include "../integration/helpers.hpp"

#include <mcp/client.hpp>
#include <mcp/server.hpp>
#include <mcp/server_http.hpp>

#include <doctest/doctest.h>
#include <nlohmann/json.hpp>

#include <atomic>
#include <mutex>
#include <thread>

using namespace std::chrono_literals;
using nlohmann::json;

namespace {

std::string conformance_server() {
  const char* e = std::getenv("MCP_CONFORMANCE_SERVER");
  return e && *e ? e : CONFORMANCE_SERVER_PATH;
}

json object_schema(json properties) { return json{{"type", "object"}, {"properties", std::move(properties)}}; }

// An HTTP server of this process whose tools run as tasks; its handlers count what they saw.
struct TaskHost {
  std::atomic<int> started{0}, stopped{0};
  mcp::Server server;
  mcp::HttpHost host;
  int port = 0;

  TaskHost() : server(options()), host(server, {.port = 0}) {
    auto must = [](mcp::Result<void> r) { REQUIRE_MESSAGE(r, (r ? "" : r.error().message)); };
    auto sleeper = [this](const json& a, mcp::RequestContext& ctx) -> mcp::Result<mcp::CallToolResult> {
      ++started;
      const auto until = std::chrono::steady_clock::now() + std::chrono::milliseconds(a.value("ms", 0));
      while (std::chrono::steady_clock::now() < until) {
        if (ctx.cancelled()) {
          ++stopped;
          return mcp::fail(mcp::Error::make(mcp::Errc::cancelled, "stopped"));
        }
        std::this_thread::sleep_for(5ms);
      }
      return mcp::text_result("slept " + std::to_string(a.value("ms", 0)));
    };
    const json ms = object_schema({{"ms", {{"type", "integer"}}}});
    must(server.add_tool({.name = "slow_compute", .input_schema = ms, .handler = sleeper,
                          .task_support = mcp::TaskSupport::optional}));
    must(server.add_tool({.name = "must_task", .input_schema = ms, .handler = sleeper,
                          .task_support = mcp::TaskSupport::required}));
    must(server.add_tool({.name = "confirm_delete", .input_schema = object_schema({{"filename", {{"type", "string"}}}}),
                          .handler = [](const json& a, mcp::RequestContext& ctx) -> mcp::Result<mcp::CallToolResult> {
                            mcp::ElicitRequest q;
                            q.message = "Delete?";
                            q.requested_schema = object_schema({{"confirm", {{"type", "boolean"}}}});
                            auto r = ctx.elicit(q, "confirm");
                            if (!r) return mcp::fail(r.error());
                            const std::string f = a.value("filename", std::string("?"));
                            return mcp::text_result(r->action == "accept" ? "Deleted " + f : "Kept " + f);
                          },
                          .task_support = mcp::TaskSupport::optional}));
    must(server.add_tool({.name = "protocol_error_job",
                          .handler = [](const json&, mcp::RequestContext&) -> mcp::Result<mcp::CallToolResult> {
                            mcp::Error e = mcp::Error::make(mcp::Errc::invalid_result, "the job broke down");
                            e.rpc_code = -32603;
                            return mcp::fail(std::move(e));
                          },
                          .task_support = mcp::TaskSupport::optional}));
    must(server.add_tool({.name = "failing_job",
                          .handler = [](const json&, mcp::RequestContext&) -> mcp::Result<mcp::CallToolResult> {
                            return mcp::error_result("The job failed");
                          },
                          .task_support = mcp::TaskSupport::required}));
    auto p = host.start();
    REQUIRE_MESSAGE(p, (p ? "" : p.error().message));
    port = *p;
  }
  static mcp::ServerOptions options() {
    mcp::ServerOptions o;
    o.identity = {.name = "task-host", .version = "1.0.0"};
    o.task_poll_interval = 100ms;
    return o;
  }
};

struct Counts {
  std::mutex m;
  std::map<std::string, int> sent;  // method -> requests sent (the trace hook is asked per request)
  std::vector<mcp::RequestEvent::Phase> phases;
};

mcp::ClientConfig config(mcp::ServerConfig sc, Counts& counts) {
  auto cfg = testutil::one("srv", std::move(sc));
  cfg.request_timeout = 20s;
  cfg.handlers.elicitation = [](const std::string&, const mcp::ElicitRequest&) -> mcp::Result<mcp::ElicitResult> {
    mcp::ElicitResult r;
    r.action = "accept";
    r.content = json{{"confirm", true}, {"name", "Ada"}};
    return r;
  };
  cfg.trace_context = [&counts](std::string_view, std::string_view method) -> std::optional<mcp::TraceContext> {
    std::lock_guard lk(counts.m);
    ++counts.sent[std::string(method)];
    return std::nullopt;
  };
  cfg.on_request = [&counts](const mcp::RequestEvent& e) {
    std::lock_guard lk(counts.m);
    counts.phases.push_back(e.phase);
  };
  return cfg;
}

mcp::ServerConfig stdio_server() {
  mcp::StdioServerConfig st;
  st.command = conformance_server();
  st.args = {"--tasks"};
  st.shutdown_grace = 500ms;
  mcp::ServerConfig sc;
  sc.transport = std::move(st);
  return sc;
}

mcp::ServerConfig http_server(int port) {
  mcp::HttpServerConfig h;
  h.url = "http://127.0.0.1:" + std::to_string(port) + "/mcp";
  mcp::ServerConfig sc;
  sc.transport = std::move(h);
  return sc;
}

mcp::Result<mcp::CallToolResult> async_call(mcp::Client& c, const std::string& tool, json args, mcp::RequestOptions o = {}) {
  auto f = c.async_call_tool("srv", tool, std::move(args), std::move(o), mcp::use_future);
  REQUIRE(f.wait_for(30s) == std::future_status::ready);
  return f.get();
}

}  // namespace

TEST_CASE("tasks: a tool call answered with a task waits for its result, blocking and asynchronous, over stdio and HTTP") {
  TaskHost http;
  for (const std::string transport : {"stdio", "http"}) {
    CAPTURE(transport);
    const bool stdio = transport == "stdio";
    Counts counts;
    auto client = mcp::Client::create(config(stdio ? stdio_server() : http_server(http.port), counts));
    REQUIRE(client);
    const json slow = stdio ? json{{"seconds", 0.5}, {"label", "x"}} : json{{"ms", 500}};
    for (const bool async : {false, true}) {
      CAPTURE(async);
      auto call = [&](const std::string& tool, json args, mcp::RequestOptions o = {}) {
        return async ? async_call(*client, tool, std::move(args), std::move(o))
                     : client->call_tool("srv", tool, std::move(args), o);
      };
      {
        std::lock_guard lk(counts.m);
        counts.sent.clear();
        counts.phases.clear();
      }
      // A task that works for a while, then completes.
      auto r = call("slow_compute", slow);
      REQUIRE_MESSAGE(r, (r ? "" : r.error().what()));
      CHECK_FALSE(r->is_error);
      CHECK(r->text().find(stdio ? "Computed x" : "slept 500") == 0);
      {
        std::lock_guard lk(counts.m);
        CHECK(counts.sent["tools/call"] == 1);
        CHECK(counts.sent["tasks/get"] >= 1);
        if (!stdio) {
          // The server's 100 ms poll interval over a 500 ms task: a few polls, not a busy loop.
          CHECK(counts.sent["tasks/get"] >= 3);
          CHECK(counts.sent["tasks/get"] <= 8);
        }
        // One request for the lifecycle hook, however many polls.
        CHECK(counts.phases.size() == 2);
      }
      // A tool whose task support is "required".
      auto failing = call("failing_job", json::object());
      REQUIRE_MESSAGE(failing, (failing ? "" : failing.error().what()));
      CHECK(failing->is_error);
      // A task that fails with a JSON-RPC error: the error, with its code.
      auto broken = call("protocol_error_job", json::object());
      REQUIRE_FALSE(broken);
      CHECK(broken.error().rpc_code == -32603);
      // Input the task needs, answered through tasks/update by the elicitation handler.
      auto asked = call("confirm_delete", {{"filename", "a.txt"}});
      REQUIRE_MESSAGE(asked, (asked ? "" : asked.error().what()));
      CHECK(asked->text() == "Deleted a.txt");
      std::lock_guard lk(counts.m);
      CHECK(counts.sent["tasks/update"] >= 1);
    }
  }
}

TEST_CASE("tasks: cancellation and timeout cancel the task on the server (tasks/cancel)") {
  TaskHost http;
  Counts counts;
  auto client = mcp::Client::create(config(http_server(http.port), counts));
  REQUIRE(client);
  for (const bool async : {false, true}) {
    CAPTURE(async);
    http.started = 0;
    http.stopped = 0;
    std::stop_source stop;
    mcp::RequestOptions o;
    o.stop = stop.get_token();
    std::thread canceller([&] {
      std::this_thread::sleep_for(300ms);
      stop.request_stop();
    });
    const auto t0 = std::chrono::steady_clock::now();
    auto r = async ? async_call(*client, "must_task", {{"ms", 10000}}, o)
                   : client->call_tool("srv", "must_task", {{"ms", 10000}}, o);
    canceller.join();
    REQUIRE_FALSE(r);
    CHECK(r.error().errc() == mcp::Errc::cancelled);
    CHECK(testutil::ms_since(t0) < 3000);
    CHECK(testutil::eventually([&] { return http.stopped.load() == 1; }, 5000));

    http.stopped = 0;
    mcp::RequestOptions ot;
    ot.timeout = 400ms;
    const auto t1 = std::chrono::steady_clock::now();
    auto t = async ? async_call(*client, "slow_compute", {{"ms", 10000}}, ot)
                   : client->call_tool("srv", "slow_compute", {{"ms", 10000}}, ot);
    REQUIRE_FALSE(t);
    CHECK(t.error().errc() == mcp::Errc::timeout);
    CHECK(testutil::ms_since(t1) < 3000);
    CHECK(testutil::eventually([&] { return http.stopped.load() == 1; }, 5000));
  }
}

TEST_CASE("tasks: with ClientConfig::tasks off the extension is not declared: a task-required tool is refused, others run inline") {
  TaskHost http;
  Counts counts;
  auto cfg = config(http_server(http.port), counts);
  cfg.tasks = false;
  auto client = mcp::Client::create(std::move(cfg));
  REQUIRE(client);
  auto r = client->call_tool("srv", "slow_compute", {{"ms", 50}});
  REQUIRE_MESSAGE(r, (r ? "" : r.error().what()));
  CHECK(r->text() == "slept 50");
  {
    std::lock_guard lk(counts.m);
    CHECK(counts.sent["tasks/get"] == 0);
  }
  // The server asks for the extension (-32021, data.requiredCapabilities).
  auto required = client->call_tool("srv", "must_task", {{"ms", 50}});
  REQUIRE_FALSE(required);
  CHECK(required.error().rpc_code == -32021);
}
