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
#include <future>
#include <optional>
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
    must(server.add_tool({.name = "quick",  // no task support: always answered at once
                          .handler = [](const json&, mcp::RequestContext&) -> mcp::Result<mcp::CallToolResult> {
                            return mcp::text_result("at once");
                          }}));
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

namespace {
mcp::Result<mcp::ToolTask> async_task(mcp::Client& c, const std::string& tool, json args, mcp::RequestOptions o = {}) {
  auto f = c.async_call_tool_task("srv", tool, std::move(args), std::move(o), mcp::use_future);
  REQUIRE(f.wait_for(30s) == std::future_status::ready);
  return f.get();
}

// A task handle from the blocking or the asynchronous API.
mcp::Result<mcp::ToolTask> start_task(mcp::Client& c, bool async, const std::string& tool, json args,
                                      mcp::RequestOptions o = {}) {
  if (async) return async_task(c, tool, std::move(args), std::move(o));
  return c.call_tool_task("srv", tool, std::move(args), o);
}
}  // namespace

TEST_CASE("tasks: call_tool_task returns a handle: status while working, wait, an immediate result, input, failures") {
  TaskHost http;
  Counts counts;
  auto client = mcp::Client::create(config(http_server(http.port), counts));
  REQUIRE(client);
  for (const bool async : {false, true}) {
    CAPTURE(async);
    auto start = [&](const std::string& tool, json args, mcp::RequestOptions o = {}) {
      return start_task(*client, async, tool, std::move(args), std::move(o));
    };
    {
      std::lock_guard lk(counts.m);
      counts.sent.clear();
    }
    // The handle comes back while the task works; the caller's thread is free meanwhile.
    const auto t0 = std::chrono::steady_clock::now();
    auto h = start("slow_compute", {{"ms", 600}});
    REQUIRE_MESSAGE(h, (h ? "" : h.error().what()));
    CHECK(testutil::ms_since(t0) < 400);
    CHECK(h->is_task());
    CHECK_FALSE(h->id().empty());
    CHECK_FALSE(h->done());
    CHECK(h->status() == mcp::TaskStatus::working);
    std::this_thread::sleep_for(250ms);
    CHECK(h->status() == mcp::TaskStatus::working);
    CHECK_FALSE(h->done());
    auto r = h->wait();
    REQUIRE_MESSAGE(r, (r ? "" : r.error().what()));
    CHECK(r->text() == "slept 600");
    CHECK(h->done());
    CHECK(h->status() == mcp::TaskStatus::completed);
    auto again = h->wait_for(1ms);  // the outcome stays
    REQUIRE(again);
    CHECK(again->text() == "slept 600");
    {
      std::lock_guard lk(counts.m);
      // The server's 100 ms poll interval: a few polls over ~600 ms, not a busy loop.
      CHECK(counts.sent["tasks/get"] >= 3);
      CHECK(counts.sent["tasks/get"] <= 10);
    }

    // A tool the server runs at once: the handle is complete.
    auto q = start("quick", json::object());
    REQUIRE_MESSAGE(q, (q ? "" : q.error().what()));
    CHECK_FALSE(q->is_task());
    CHECK(q->id().empty());
    CHECK(q->done());
    CHECK(q->status() == mcp::TaskStatus::completed);
    CHECK(q->wait()->text() == "at once");

    // Input the task needs, answered by the elicitation handler while nobody waits; on_done.
    auto asked = start("confirm_delete", {{"filename", "b.txt"}});
    REQUIRE_MESSAGE(asked, (asked ? "" : asked.error().what()));
    std::promise<std::string> told;
    asked->on_done([&told](const mcp::Result<mcp::CallToolResult>& r) { told.set_value(r ? r->text() : r.error().message); });
    auto said = told.get_future();
    REQUIRE(said.wait_for(10s) == std::future_status::ready);
    CHECK(said.get() == "Deleted b.txt");
    CHECK(asked->status() == mcp::TaskStatus::completed);
    {
      std::lock_guard lk(counts.m);
      CHECK(counts.sent["tasks/update"] >= 1);
    }

    // The server fails the task with a JSON-RPC error; a tool error is a completed task.
    auto broken = start("protocol_error_job", json::object());
    REQUIRE_MESSAGE(broken, (broken ? "" : broken.error().what()));
    auto b = broken->wait_for(10s);
    REQUIRE_FALSE(b);
    CHECK(b.error().rpc_code == -32603);
    CHECK(broken->status() == mcp::TaskStatus::failed);
    auto failing = start("failing_job", json::object());
    REQUIRE(failing);
    auto f = failing->wait_for(10s);
    REQUIRE(f);
    CHECK(f->is_error);

    // A call that fails before any task: no handle.
    auto unknown = start("no_such_tool", json::object());
    CHECK_FALSE(unknown);
  }
}

TEST_CASE("tasks: a task handle is cancelled by cancel(), by its destruction and past max_total_time; wait_for times out alone") {
  TaskHost http;
  Counts counts;
  auto client = mcp::Client::create(config(http_server(http.port), counts));
  REQUIRE(client);
  for (const bool async : {false, true}) {
    CAPTURE(async);
    auto start = [&](const std::string& tool, json args, mcp::RequestOptions o = {}) {
      return start_task(*client, async, tool, std::move(args), std::move(o));
    };
    // cancel()
    http.stopped = 0;
    auto h = start("must_task", {{"ms", 10000}});
    REQUIRE_MESSAGE(h, (h ? "" : h.error().what()));
    std::this_thread::sleep_for(200ms);
    const auto t0 = std::chrono::steady_clock::now();
    h->cancel();
    auto r = h->wait_for(5s);
    REQUIRE_FALSE(r);
    CHECK(r.error().errc() == mcp::Errc::cancelled);
    CHECK(testutil::ms_since(t0) < 2000);
    CHECK(h->status() == mcp::TaskStatus::cancelled);
    CHECK(testutil::eventually([&] { return http.stopped.load() == 1; }, 5000));
    h->cancel();  // idempotent

    // wait_for times out, the task goes on and completes.
    auto w = start("slow_compute", {{"ms", 500}});
    REQUIRE(w);
    auto early = w->wait_for(50ms);
    REQUIRE_FALSE(early);
    CHECK(early.error().errc() == mcp::Errc::timeout);
    CHECK_FALSE(w->done());
    auto late = w->wait_for(10s);
    REQUIRE_MESSAGE(late, (late ? "" : late.error().what()));
    CHECK(late->text() == "slept 500");

    // Destroying the handle early cancels the task on the server.
    http.stopped = 0;
    http.started = 0;
    {
      auto d = start("slow_compute", {{"ms", 10000}});
      REQUIRE(d);
      CHECK(testutil::eventually([&] { return http.started.load() == 1; }, 5000));
    }
    CHECK(testutil::eventually([&] { return http.stopped.load() == 1; }, 5000));

    // max_total_time bounds the whole task: past it the task is cancelled (Errc::timeout).
    http.stopped = 0;
    mcp::RequestOptions o;
    o.max_total_time = 400ms;
    auto m = start("slow_compute", {{"ms", 10000}}, o);
    REQUIRE(m);
    auto t = m->wait_for(5s);
    REQUIRE_FALSE(t);
    CHECK(t.error().errc() == mcp::Errc::timeout);
    CHECK(testutil::eventually([&] { return http.stopped.load() == 1; }, 5000));

    // The caller's stop token cancels the handle's task too.
    http.stopped = 0;
    http.started = 0;
    std::stop_source stop;
    mcp::RequestOptions so;
    so.stop = stop.get_token();
    auto s = start("slow_compute", {{"ms", 10000}}, so);
    REQUIRE(s);
    // Once the server's handler runs (a task cancelled before it starts never sees the stop).
    CHECK(testutil::eventually([&] { return http.started.load() == 1; }, 5000));
    stop.request_stop();
    auto sr = s->wait_for(5s);
    REQUIRE_FALSE(sr);
    CHECK(sr.error().errc() == mcp::Errc::cancelled);
    CHECK(testutil::eventually([&] { return http.stopped.load() == 1; }, 5000));
  }
}

TEST_CASE("tasks: a task handle over stdio outlives its caller's wait; the client's end stops it (disconnected)") {
  Counts counts;
  auto created = mcp::Client::create(config(stdio_server(), counts));
  REQUIRE(created);
  std::optional<mcp::Client> client(std::move(*created));
  auto h = client->call_tool_task("srv", "slow_compute", {{"seconds", 0.3}, {"label", "y"}});
  REQUIRE_MESSAGE(h, (h ? "" : h.error().what()));
  CHECK(h->is_task());
  auto r = h->wait_for(10s);
  REQUIRE_MESSAGE(r, (r ? "" : r.error().what()));
  CHECK(r->text().find("Computed y") == 0);

  auto long_one = client->call_tool_task("srv", "slow_compute", {{"seconds", 30}, {"label", "z"}});
  REQUIRE(long_one);
  client.reset();  // the client (and its session) goes: the handle stops following
  auto gone = long_one->wait_for(10s);
  REQUIRE_FALSE(gone);
  CHECK((gone.error().errc() == mcp::Errc::disconnected || gone.error().errc() == mcp::Errc::cancelled));
}

TEST_CASE("elicitation: the request timeout does not run while a person answers (legacy, modern rounds, tasks)") {
  TaskHost http;
  struct Case {
    std::string name;
    mcp::ServerConfig sc;
    mcp::Era era;
    bool tasks;
    bool blocking;  // the blocking API too (see "http legacy")
    std::string tool;
    json args;
    std::string want;
  };
  auto pinned = [](mcp::ServerConfig sc, mcp::Era era) {
    sc.era = era;
    return sc;
  };
  auto plain_stdio = [] {
    mcp::StdioServerConfig st;
    st.command = conformance_server();
    st.shutdown_grace = 500ms;
    mcp::ServerConfig sc;
    sc.transport = std::move(st);
    return sc;
  };
  const json message{{"message", "Who?"}};
  std::vector<Case> cases = {
      {"stdio legacy", pinned(plain_stdio(), mcp::Era::legacy), mcp::Era::legacy, true, true, "test_elicitation", message, "User response: action=accept"},
      {"stdio modern", pinned(plain_stdio(), mcp::Era::modern), mcp::Era::modern, true, true, "test_elicitation", message, "User response: action=accept"},
      // Not yet for a blocking call over legacy HTTP: the POST's stream is read on the caller's
      // thread, and that read is still bounded by the request timeout (the hold does not move it).
      {"http legacy", pinned(http_server(http.port), mcp::Era::legacy), mcp::Era::legacy, true, false, "confirm_delete", {{"filename", "c.txt"}}, "Deleted c.txt"},
      {"http modern", http_server(http.port), mcp::Era::modern, false, true, "confirm_delete", {{"filename", "c.txt"}}, "Deleted c.txt"},
      {"http modern task", http_server(http.port), mcp::Era::modern, true, true, "confirm_delete", {{"filename", "c.txt"}}, "Deleted c.txt"},
  };
  for (auto& c : cases) {
    CAPTURE(c.name);
    Counts counts;
    auto cfg = config(std::move(c.sc), counts);
    cfg.request_timeout = 1000ms;
    cfg.tasks = c.tasks;
    std::atomic<int> asked{0};
    cfg.handlers.elicitation = [&asked](const std::string&, const mcp::ElicitRequest&) -> mcp::Result<mcp::ElicitResult> {
      ++asked;
      std::this_thread::sleep_for(2500ms);  // a person, slower than the request timeout
      mcp::ElicitResult r;
      r.action = "accept";
      r.content = json{{"confirm", true}, {"username", "ada"}, {"email", "ada@example.com"}};
      return r;
    };
    auto client = mcp::Client::create(std::move(cfg));
    REQUIRE(client);
    for (const bool async : {false, true}) {
      if (!async && !c.blocking) continue;
      CAPTURE(async);
      auto r = async ? async_call(*client, c.tool, c.args) : client->call_tool("srv", c.tool, c.args);
      REQUIRE_MESSAGE(r, (r ? "" : r.error().what()));
      CHECK(r->text().find(c.want) == 0);
    }
    CHECK(asked.load() == (c.blocking ? 2 : 1));
    auto si = client->server_info("srv");
    REQUIRE(si);
    CHECK(si->era == c.era);
  }
}
