// Tasks (2025-11-25 utility, 2026-07-28 extension io.modelcontextprotocol/tasks) and
// 2025-03-26 batches, over stdio: an mcp::Server of this process served on a socketpair
// (serve_stdio(fd, fd) on a thread), driven by raw JSON-RPC lines.
#include "../integration/helpers.hpp"
#include "stdio_session.hpp"

#include <mcp/server.hpp>

#include <doctest/doctest.h>
#include <nlohmann/json.hpp>

#include <poll.h>
#include <sys/socket.h>

#include <atomic>
#include <thread>

using namespace std::chrono_literals;
using nlohmann::json;

namespace {

json object_schema(json properties) { return json{{"type", "object"}, {"properties", std::move(properties)}}; }

using testutil::kModernMeta;

// A server with tools that run as tasks, and counters of what their handlers saw.
struct TaskServer {
  std::atomic<int> started{0}, stopped{0}, finished{0}, before{0};
  mcp::Server server;

  explicit TaskServer(mcp::ServerOptions o = {}) : server(with_identity(std::move(o))) {
    auto must = [](mcp::Result<void> r) { REQUIRE_MESSAGE(r, (r ? "" : r.error().message)); };
    // Sleeps `ms` (stops early when its stop token fires), then answers "slept <ms>".
    auto sleeper = [this](const json& a, mcp::RequestContext& ctx) -> mcp::Result<mcp::CallToolResult> {
      ++started;
      const int ms = a.value("ms", 0);
      const auto until = std::chrono::steady_clock::now() + std::chrono::milliseconds(ms);
      while (std::chrono::steady_clock::now() < until) {
        if (ctx.cancelled()) {
          ++stopped;
          return mcp::fail(mcp::Error::make(mcp::Errc::cancelled, "stopped"));
        }
        std::this_thread::sleep_for(5ms);
      }
      ++finished;
      return mcp::text_result("slept " + std::to_string(ms));
    };
    const json ms_schema = object_schema({{"ms", {{"type", "integer"}}}});
    must(server.add_tool({.name = "sleep", .input_schema = ms_schema, .handler = sleeper,
                          .task_support = mcp::TaskSupport::optional}));
    must(server.add_tool({.name = "must_task", .input_schema = ms_schema, .handler = sleeper,
                          .task_support = mcp::TaskSupport::required}));
    must(server.add_tool({.name = "plain", .input_schema = ms_schema, .handler = sleeper}));
    must(server.add_tool({.name = "oops",
                          .handler = [](const json&, mcp::RequestContext&) -> mcp::Result<mcp::CallToolResult> {
                            return mcp::error_result("it went wrong");
                          },
                          .task_support = mcp::TaskSupport::optional}));
    must(server.add_tool({.name = "broken",
                          .handler = [](const json&, mcp::RequestContext&) -> mcp::Result<mcp::CallToolResult> {
                            mcp::Error e = mcp::Error::make(mcp::Errc::invalid_result, "broken down");
                            e.rpc_code = -32000;
                            return mcp::fail(std::move(e));
                          },
                          .task_support = mcp::TaskSupport::optional}));
    // Asks the user's name (2026-07-28: the task is input_required until tasks/update).
    must(server.add_tool({.name = "ask",
                          .handler = [](const json&, mcp::RequestContext& ctx) -> mcp::Result<mcp::CallToolResult> {
                            mcp::ElicitRequest q;
                            q.message = "Your name?";
                            q.requested_schema = object_schema({{"name", {{"type", "string"}}}});
                            auto r = ctx.elicit(q, "name");
                            if (!r) return mcp::fail(r.error());
                            return mcp::text_result("hello " + r->content.value("name", std::string("?")));
                          },
                          .task_support = mcp::TaskSupport::optional}));
    // 2026-07-28: asks the name by input rounds before the task; the task greets.
    auto ask_name = [](mcp::RequestContext& ctx) -> mcp::Result<std::string> {
      mcp::ElicitRequest q;
      q.message = "Your name?";
      q.requested_schema = object_schema({{"name", {{"type", "string"}}}});
      auto r = ctx.elicit(q, "who");
      if (!r) return mcp::fail(r.error());
      return r->content.value("name", std::string("?"));
    };
    must(server.add_tool({.name = "greet_task",
                          .handler = [ask_name](const json&, mcp::RequestContext& ctx) -> mcp::Result<mcp::CallToolResult> {
                            auto n = ask_name(ctx);
                            if (!n) return mcp::fail(n.error());
                            return mcp::text_result("hi " + *n);
                          },
                          .task_support = mcp::TaskSupport::optional,
                          .before_task = [ask_name, this](const json&, mcp::RequestContext& ctx) -> mcp::Result<void> {
                            ++before;
                            auto n = ask_name(ctx);
                            if (!n) return mcp::fail(n.error());
                            if (*n == "nobody") return mcp::fail(mcp::Error::make(mcp::Errc::invalid_argument, "no one to greet"));
                            return {};
                          }}));
  }
  static mcp::ServerOptions with_identity(mcp::ServerOptions o) {
    o.identity = {.name = "task-server", .version = "1.0.0"};
    return o;
  }
};

// One stdio client of a TaskServer.
struct Session : testutil::StdioSession {
  using StdioSession::StdioSession;
  // Polls tasks/get until the task's status is `want` (legacy), within 5 s.
  json wait_status(const std::string& task_id, const std::string& want, bool modern = false) {
    json r;
    for (int i = 0; i < 500; ++i) {
      r = modern ? this->modern("tasks/get", {{"taskId", task_id}}) : request("tasks/get", {{"taskId", task_id}});
      if (r.contains("result") && r["result"]["status"] == want) return r["result"];
      std::this_thread::sleep_for(10ms);
    }
    FAIL("task " << task_id << " never reached " << want << ": " << r.dump());
    return r;
  }
};

int error_code(const json& r) { return r.contains("error") ? r["error"].value("code", 0) : 0; }

}  // namespace

TEST_CASE("server tasks, 2025-11-25 over stdio: create, poll, result, list, cancel, and the errors the spec names") {
  TaskServer ts({.page_size = 2});
  Session s(ts.server);
  s.initialize("2025-11-25");
  {
    // The capability and each tool's execution.taskSupport.
    Session probe(ts.server);
    auto init = probe.request("initialize", {{"protocolVersion", "2025-11-25"}, {"capabilities", json::object()},
                                             {"clientInfo", {{"name", "p"}, {"version", "0"}}}});
    const json caps = init["result"]["capabilities"]["tasks"];
    CHECK(caps["list"].is_object());
    CHECK(caps["cancel"].is_object());
    CHECK(caps["requests"]["tools"]["call"].is_object());
  }
  auto tools = s.request("tools/list")["result"]["tools"];
  std::map<std::string, json> execution;
  for (const auto& t : tools) execution[t["name"]] = t.value("execution", json());
  CHECK(execution["sleep"]["taskSupport"] == "optional");
  CHECK(execution["must_task"]["taskSupport"] == "required");
  CHECK(execution["plain"].is_null());

  // A task at once; the handler runs after.
  auto created = s.call("sleep", {{"ms", 300}}, {{"ttl", 60000}});
  REQUIRE(created.contains("result"));
  const json task = created["result"]["task"];
  const std::string id = task["taskId"];
  CHECK(id.size() == 32);
  CHECK(task["status"] == "working");
  CHECK(task["ttl"] == 60000);
  CHECK(task["pollInterval"] == 1000);
  CHECK(task["createdAt"].get<std::string>().ends_with("Z"));
  CHECK(task.contains("lastUpdatedAt"));
  CHECK(s.request("tasks/get", {{"taskId", id}})["result"]["status"] == "working");
  // tasks/result waits for the end: exactly the tool's result, with the related-task _meta.
  auto result = s.request("tasks/result", {{"taskId", id}});
  CHECK(result["result"]["content"][0]["text"] == "slept 300");
  CHECK(result["result"]["_meta"]["io.modelcontextprotocol/related-task"]["taskId"] == id);
  CHECK(s.request("tasks/get", {{"taskId", id}})["result"]["status"] == "completed");
  // notifications/tasks/status told the end (no related-task _meta in it).
  bool told = false;
  for (const auto& n : s.notes)
    if (n.value("method", "") == "notifications/tasks/status" && n["params"]["taskId"] == id && n["params"]["status"] == "completed")
      told = !n["params"].contains("_meta");
  CHECK(told);
  // The TTL a client asks for is cut to max_task_ttl; without one: task_ttl.
  CHECK(s.call("sleep", {{"ms", 0}}, {{"ttl", 1e12}})["result"]["task"]["ttl"] == 86400000);
  CHECK(s.call("sleep", {{"ms", 0}}, json::object())["result"]["task"]["ttl"] == 3600000);

  // Faults.
  CHECK(error_code(s.request("tasks/get", {{"taskId", "no-such-task"}})) == -32602);
  CHECK(error_code(s.request("tasks/result", {{"taskId", "no-such-task"}})) == -32602);
  CHECK(error_code(s.request("tasks/cancel", {{"taskId", "no-such-task"}})) == -32602);
  CHECK(error_code(s.request("tasks/get", json::object())) == -32602);
  auto cancel_done = s.request("tasks/cancel", {{"taskId", id}});
  CHECK(error_code(cancel_done) == -32602);
  CHECK(cancel_done["error"]["message"].get<std::string>().find("completed") != std::string::npos);
  CHECK(error_code(s.call("plain", {{"ms", 0}}, json::object())) == -32601);  // forbidden: no task
  CHECK(error_code(s.call("must_task", {{"ms", 0}})) == -32601);              // required: a task only
  CHECK(error_code(s.call("sleep", {{"ms", 0}}, "soon")) == -32602);
  CHECK(s.call("sleep", {{"ms", 0}})["result"]["content"][0]["text"] == "slept 0");  // optional: sync without task
  CHECK(error_code(s.request("tasks/update", {{"taskId", id}, {"inputResponses", json::object()}})) == -32601);

  // Cancel a running task: cancelled before the answer, its stop token fires, and its
  // tasks/result (waiting, or asked after) is an error.
  const int stopped_before = ts.stopped;
  const std::string running = s.call("sleep", {{"ms", 10000}}, json::object())["result"]["task"]["taskId"];
  CHECK(testutil::eventually([&] { return ts.started >= 5; }));
  s.send({{"jsonrpc", "2.0"}, {"id", "waiting"}, {"method", "tasks/result"}, {"params", {{"taskId", running}}}});
  auto cancelled = s.request("tasks/cancel", {{"taskId", running}});
  CHECK(cancelled["result"]["status"] == "cancelled");
  CHECK(cancelled["result"]["taskId"] == running);
  auto waited = s.answer("waiting");
  CHECK(error_code(waited) == -32602);
  CHECK(testutil::eventually([&] { return ts.stopped == stopped_before + 1; }));
  CHECK(error_code(s.request("tasks/result", {{"taskId", running}})) == -32602);
  CHECK(s.request("tasks/get", {{"taskId", running}})["result"]["status"] == "cancelled");  // stays cancelled
  CHECK(error_code(s.request("tasks/cancel", {{"taskId", running}})) == -32602);

  // A tool's isError result: the task failed, tasks/result returns the result as is; a JSON-RPC
  // error: failed, and tasks/result returns that error.
  const std::string oops = s.call("oops", json::object(), json::object())["result"]["task"]["taskId"];
  CHECK(s.wait_status(oops, "failed")["statusMessage"].is_string());
  CHECK(s.request("tasks/result", {{"taskId", oops}})["result"]["isError"] == true);
  const std::string broken = s.call("broken", json::object(), json::object())["result"]["task"]["taskId"];
  s.wait_status(broken, "failed");
  auto broken_result = s.request("tasks/result", {{"taskId", broken}});
  CHECK(error_code(broken_result) == -32000);
  CHECK(broken_result["error"]["message"] == "broken down");

  // tasks/list: this session's tasks, two a page, in creation order.
  std::vector<std::string> listed;
  json cursor = nullptr;
  for (int page = 0; page < 10; ++page) {
    json p = json::object();
    if (!cursor.is_null()) p["cursor"] = cursor;
    auto r = s.request("tasks/list", p)["result"];
    CHECK(r["tasks"].size() <= 2);
    for (const auto& t : r["tasks"]) listed.push_back(t["taskId"]);
    if (!r.contains("nextCursor")) break;
    cursor = r["nextCursor"];
  }
  CHECK(listed.size() == 6);
  CHECK(listed.front() == id);
  CHECK(listed.back() == broken);
  CHECK(error_code(s.request("tasks/list", {{"cursor", "bogus"}})) == -32602);
}

TEST_CASE("server tasks: a task belongs to its session; 2026-07-28 requests and older revisions do not see it") {
  TaskServer ts;
  Session a(ts.server), b(ts.server), old(ts.server);
  a.initialize("2025-11-25");
  b.initialize("2025-11-25");
  old.initialize("2025-06-18");
  const std::string id = a.call("sleep", {{"ms", 0}}, json::object())["result"]["task"]["taskId"];
  a.wait_status(id, "completed");
  // Another session: not found, not listed, not cancellable, no result.
  CHECK(error_code(b.request("tasks/get", {{"taskId", id}})) == -32602);
  CHECK(error_code(b.request("tasks/result", {{"taskId", id}})) == -32602);
  CHECK(error_code(b.request("tasks/cancel", {{"taskId", id}})) == -32602);
  CHECK(b.request("tasks/list")["result"]["tasks"].empty());
  CHECK(a.request("tasks/list")["result"]["tasks"].size() == 1);
  // A 2026-07-28 request (no sessions) does not find a legacy task either.
  CHECK(error_code(b.modern("tasks/get", {{"taskId", id}})) == -32602);
  // 2025-06-18 has no tasks: no capability, no execution, `task` ignored, tasks/* not found.
  Session probe(ts.server);
  auto init = probe.request("initialize", {{"protocolVersion", "2025-06-18"}, {"capabilities", json::object()},
                                           {"clientInfo", {{"name", "p"}, {"version", "0"}}}});
  CHECK_FALSE(init["result"]["capabilities"].contains("tasks"));
  const json old_tools = old.request("tools/list")["result"]["tools"];
  REQUIRE_FALSE(old_tools.empty());
  for (const auto& t : old_tools) CHECK_FALSE(t.contains("execution"));
  CHECK(old.call("must_task", {{"ms", 0}}, json::object())["result"]["content"][0]["text"] == "slept 0");
  CHECK(error_code(old.request("tasks/get", {{"taskId", id}})) == -32601);
  // A session that ends cancels its running tasks (and its handler returns before serving ends).
  const int stopped_before = ts.stopped;
  {
    Session c(ts.server);
    c.initialize("2025-11-25");
    c.call("sleep", {{"ms", 20000}}, json::object());
    CHECK(testutil::eventually([&] { return ts.started >= 3; }));
  }
  CHECK(ts.stopped == stopped_before + 1);
}

TEST_CASE("server tasks: TTL expiry frees a task (and stops one still running); max_tasks refuses more") {
  TaskServer ts({.max_tasks = 3, .max_task_ttl = 400ms});
  Session s(ts.server);
  s.initialize("2025-11-25");
  const std::string done = s.call("sleep", {{"ms", 0}}, {{"ttl", 1000}})["result"]["task"]["taskId"];
  const std::string running = s.call("sleep", {{"ms", 20000}}, {{"ttl", 100000}})["result"]["task"]["taskId"];
  auto third = s.call("sleep", {{"ms", 0}}, json::object());
  CHECK(third["result"]["task"]["ttl"] == 400);  // cut to max_task_ttl
  // The cap: a fourth is refused, with the reason.
  auto refused = s.call("sleep", {{"ms", 0}}, json::object());
  CHECK(error_code(refused) == -32603);
  CHECK(refused["error"]["data"]["maxTasks"] == 3);
  CHECK(refused["error"]["data"]["reason"] == "too many tasks");
  CHECK(s.call("sleep", {{"ms", 0}})["result"]["content"][0]["text"] == "slept 0");  // a plain call still works
  // A tasks/result waiting for the running one.
  s.send({{"jsonrpc", "2.0"}, {"id", "waiting"}, {"method", "tasks/result"}, {"params", {{"taskId", running}}}});
  CHECK(testutil::eventually([&] { return ts.started >= 2; }));
  std::this_thread::sleep_for(600ms);
  // Expired (deleted at the next task operation): not found, not listed; the running one was
  // stopped and its waiting tasks/result answered with the error; room for new tasks again.
  CHECK(error_code(s.request("tasks/get", {{"taskId", done}})) == -32602);
  auto waited = s.answer("waiting");
  CHECK(error_code(waited) == -32602);
  CHECK(waited["error"]["message"].get<std::string>().find("expired") != std::string::npos);
  CHECK(error_code(s.request("tasks/result", {{"taskId", running}})) == -32602);
  CHECK(testutil::eventually([&] { return ts.stopped == 1; }));
  CHECK(s.request("tasks/list")["result"]["tasks"].empty());
  CHECK(s.call("sleep", {{"ms", 0}}, json::object())["result"]["task"]["status"] == "working");
}

TEST_CASE("server tasks, 2026-07-28 extension over stdio: server-directed tasks, inline results, input, cancel, gating") {
  TaskServer ts;
  Session s(ts.server);
  // server/discover declares the extension (not the 2025-11-25 capability).
  auto caps = s.modern("server/discover")["result"]["capabilities"];
  CHECK(caps["extensions"]["io.modelcontextprotocol/tasks"].is_object());
  CHECK_FALSE(caps.contains("tasks"));
  const json modern_tools = s.modern("tools/list")["result"]["tools"];
  REQUIRE_FALSE(modern_tools.empty());
  for (const auto& t : modern_tools) CHECK_FALSE(t.contains("execution"));
  // A task-supporting tool, for a client with the extension: a flat CreateTaskResult.
  auto created = s.modern("tools/call", {{"name", "sleep"}, {"arguments", {{"ms", 200}}}})["result"];
  CHECK(created["resultType"] == "task");
  CHECK(created["status"] == "working");
  CHECK(created["ttlMs"] == 3600000);
  CHECK(created["pollIntervalMs"] == 1000);
  CHECK_FALSE(created.contains("task"));
  CHECK_FALSE(created.contains("ttl"));
  const std::string id = created["taskId"];
  auto got = s.modern("tasks/get", {{"taskId", id}})["result"];
  CHECK(got["resultType"] == "complete");
  CHECK(got["taskId"] == id);
  auto done = s.wait_status(id, "completed", true);
  CHECK(done["result"]["content"][0]["text"] == "slept 200");
  CHECK_FALSE(done["result"].contains("_meta"));
  // A tool error: completed with isError; a JSON-RPC error: failed with the error inline.
  const std::string oops = s.modern("tools/call", {{"name", "oops"}})["result"]["taskId"];
  CHECK(s.wait_status(oops, "completed", true)["result"]["isError"] == true);
  const std::string broken = s.modern("tools/call", {{"name", "broken"}})["result"]["taskId"];
  auto failed = s.wait_status(broken, "failed", true);
  CHECK(failed["error"]["code"] == -32000);
  CHECK_FALSE(failed.contains("result"));
  // Input: input_required with inputRequests; tasks/update (unknown keys ignored) resumes it.
  const std::string asking = s.modern("tools/call", {{"name", "ask"}})["result"]["taskId"];
  auto waiting = s.wait_status(asking, "input_required", true);
  REQUIRE(waiting["inputRequests"].contains("name"));
  CHECK(waiting["inputRequests"]["name"]["method"] == "elicitation/create");
  auto ack = s.modern("tasks/update", {{"taskId", asking}, {"inputResponses", {{"unknown", {{"action", "cancel"}}}}}})["result"];
  CHECK(ack["resultType"] == "complete");
  CHECK_FALSE(ack.contains("taskId"));
  CHECK(s.modern("tasks/get", {{"taskId", asking}})["result"]["status"] == "input_required");
  s.modern("tasks/update", {{"taskId", asking}, {"inputResponses", {{"name", {{"action", "accept"}, {"content", {{"name", "Ada"}}}}}}}});
  CHECK(s.wait_status(asking, "completed", true)["result"]["content"][0]["text"] == "hello Ada");
  CHECK(error_code(s.modern("tasks/update", {{"taskId", asking}, {"inputResponses", 3}})) == -32602);
  // Cancel: an ack, then cancelled; a terminal task's cancel is acknowledged too; its handler stopped.
  const std::string slow = s.modern("tools/call", {{"name", "sleep"}, {"arguments", {{"ms", 20000}}}})["result"]["taskId"];
  CHECK(testutil::eventually([&] { return ts.started >= 2; }));
  CHECK(s.modern("tasks/cancel", {{"taskId", slow}})["result"]["resultType"] == "complete");
  CHECK(s.modern("tasks/get", {{"taskId", slow}})["result"]["status"] == "cancelled");
  CHECK(testutil::eventually([&] { return ts.stopped == 1; }));
  CHECK(s.modern("tasks/cancel", {{"taskId", id}})["result"]["resultType"] == "complete");
  CHECK(error_code(s.modern("tasks/cancel", {{"taskId", "nope"}})) == -32602);
  CHECK(error_code(s.modern("tasks/get", {{"taskId", "nope"}})) == -32602);
  // Input rounds before the task (before_task): round 1 input_required, no task yet; round 2
  // with the answer: the task, whose handler finds the answer.
  auto round1 = s.modern("tools/call", {{"name", "greet_task"}})["result"];
  CHECK(round1["resultType"] == "input_required");
  CHECK_FALSE(round1.contains("taskId"));
  REQUIRE(round1["inputRequests"].contains("who"));
  auto round2 = s.modern("tools/call", {{"name", "greet_task"}, {"requestState", round1["requestState"]},
                                        {"inputResponses", {{"who", {{"action", "accept"}, {"content", {{"name", "Bo"}}}}}}}})["result"];
  CHECK(round2["resultType"] == "task");
  CHECK_FALSE(round2.contains("requestState"));
  CHECK_FALSE(round2.contains("inputRequests"));
  CHECK(s.wait_status(round2["taskId"], "completed", true)["result"]["content"][0]["text"] == "hi Bo");
  CHECK(ts.before == 2);
  // before_task's error ends the call, with no task.
  auto refused_early = s.modern("tools/call", {{"name", "greet_task"}, {"requestState", round1["requestState"]},
                                               {"inputResponses", {{"who", {{"action", "accept"}, {"content", {{"name", "nobody"}}}}}}}});
  CHECK(refused_early.contains("error"));
  CHECK_FALSE(refused_early.contains("result"));
  // Not in the extension: tasks/result, tasks/list (-32601).
  CHECK(error_code(s.modern("tasks/result", {{"taskId", id}})) == -32601);
  CHECK(error_code(s.modern("tasks/list")) == -32601);
  // A client without the extension: sync for optional tools, -32021 for required ones and tasks/*.
  json plain_meta = kModernMeta;
  plain_meta["io.modelcontextprotocol/clientCapabilities"] = json::object();
  auto sync = s.modern("tools/call", {{"name", "sleep"}, {"arguments", {{"ms", 0}}}, {"task", {{"ttl", 5}}}}, plain_meta)["result"];
  CHECK(sync["resultType"] == "complete");
  CHECK(sync["content"][0]["text"] == "slept 0");
  auto required = s.modern("tools/call", {{"name", "must_task"}, {"arguments", {{"ms", 0}}}}, plain_meta);
  CHECK(error_code(required) == -32021);
  CHECK(required["error"]["data"]["requiredCapabilities"]["extensions"].contains("io.modelcontextprotocol/tasks"));
  CHECK(error_code(s.modern("tasks/get", {{"taskId", id}}, plain_meta)) == -32021);
  // A sync-only tool stays sync with the extension, and a legacy `task` param changes nothing.
  CHECK(s.modern("tools/call", {{"name", "plain"}, {"arguments", {{"ms", 0}}}, {"task", {{"ttl", 5}}}})["result"]["resultType"] == "complete");
  // subscriptions/listen: notifications/tasks for the tasks named.
  const std::string watched = s.modern("tools/call", {{"name", "sleep"}, {"arguments", {{"ms", 200}}}})["result"]["taskId"];
  const json filter{{"taskIds", json::array({watched, "unknown"})}};
  json listen{{"jsonrpc", "2.0"}, {"id", "listen"}, {"method", "subscriptions/listen"},
              {"params", {{"notifications", filter}, {"_meta", kModernMeta}}}};
  s.send(listen);
  bool acknowledged = false, completed = false;
  for (int i = 0; i < 10 && !completed; ++i) {
    json m = s.next(3000);
    REQUIRE(!m.is_null());
    if (m.value("method", "") == "notifications/subscriptions/acknowledged") {
      acknowledged = true;
      CHECK(m["params"]["notifications"]["taskIds"] == json::array({watched}));
    }
    if (m.value("method", "") == "notifications/tasks" && m["params"]["status"] == "completed") {
      completed = true;
      CHECK(m["params"]["result"]["content"][0]["text"] == "slept 200");
      CHECK(m["params"]["_meta"]["io.modelcontextprotocol/subscriptionId"] == "listen");
    }
  }
  CHECK(acknowledged);
  CHECK(completed);
  s.send({{"jsonrpc", "2.0"}, {"method", "notifications/cancelled"}, {"params", {{"requestId", "listen"}}}});
}

TEST_CASE("server over stdio: 2025-03-26 batches get one array of answers; other revisions refuse arrays") {
  TaskServer ts;
  Session s(ts.server);
  // Before initialize: refused.
  s.send(json::array({{{"jsonrpc", "2.0"}, {"id", 1}, {"method", "ping"}}}));
  auto early = s.next();
  CHECK(error_code(early) == -32600);
  s.initialize("2025-03-26");
  const auto call = [](const json& id, int ms) {
    return json{{"jsonrpc", "2.0"}, {"id", id}, {"method", "tools/call"}, {"params", {{"name", "plain"}, {"arguments", {{"ms", ms}}}}}};
  };
  const json note{{"jsonrpc", "2.0"}, {"method", "notifications/initialized"}};
  // Two calls (the slower first) and a notification: one array of two answers.
  s.send(json::array({call(1, 200), note, call("two", 0)}));
  auto answers = s.next();
  REQUIRE(answers.is_array());
  REQUIRE(answers.size() == 2);
  std::map<std::string, std::string> by_id;
  for (const auto& a : answers) by_id[a["id"].dump()] = a["result"]["content"][0]["text"];
  CHECK(by_id["1"] == "slept 200");
  CHECK(by_id["\"two\""] == "slept 0");
  // Notifications only: no answer at all (the next line is the ping's).
  s.send(json::array({note, note}));
  CHECK(s.request("ping")["result"].is_object());
  // Empty: one Invalid Request error (not an array).
  s.send(json::array());
  auto empty = s.next();
  CHECK(empty.is_object());
  CHECK(error_code(empty) == -32600);
  // Bad elements and initialize get their errors inside the array; the rest is served.
  s.send(json::array({call(3, 0), json{{"jsonrpc", "1.0"}, {"id", 4}, {"method", "ping"}}, 5,
                      json{{"jsonrpc", "2.0"}, {"id", 6}, {"method", "initialize"}, {"params", json::object()}}}));
  auto mixed = s.next();
  REQUIRE(mixed.is_array());
  REQUIRE(mixed.size() == 4);
  std::map<std::string, json> m;
  for (const auto& a : mixed) m[a["id"].dump()] = a;
  CHECK(m["3"]["result"]["content"][0]["text"] == "slept 0");
  CHECK(error_code(m["4"]) == -32600);
  CHECK(error_code(m["null"]) == -32600);
  CHECK(error_code(m["6"]) == -32600);
  // A batched request the client cancels: the array goes without it.
  s.send(json::array({call(7, 20000), call(8, 0)}));
  CHECK(testutil::eventually([&] { return ts.started >= 5; }));
  s.send({{"jsonrpc", "2.0"}, {"method", "notifications/cancelled"}, {"params", {{"requestId", 7}}}});
  auto partial = s.next();
  REQUIRE(partial.is_array());
  REQUIRE(partial.size() == 1);
  CHECK(partial[0]["id"] == 8);
  // Another revision: an array is refused whole.
  Session newer(ts.server);
  newer.initialize("2025-06-18");
  newer.send(json::array({call(1, 0)}));
  auto refused = newer.next();
  CHECK(refused.is_object());
  CHECK(error_code(refused) == -32600);
  CHECK(refused["error"]["message"].get<std::string>().find("2025-03-26") != std::string::npos);
}
