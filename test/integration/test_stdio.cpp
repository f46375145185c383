// Core SDK against the fault-injecting fixture server: era detection, failures, resources.
#include "helpers.hpp"

#include <dlfcn.h>
#include <pthread.h>

#include <doctest/doctest.h>

#include <sys/resource.h>

#include <atomic>
#include <cstdlib>
#include <mutex>
#include <optional>
#include <set>
#include <stop_token>
#include <thread>

using namespace std::chrono_literals;
using nlohmann::json;
using testutil::fault;
using testutil::one;

namespace {
mcp::Client make(mcp::ClientConfig cfg) {
  auto c = mcp::Client::create(std::move(cfg));
  REQUIRE_MESSAGE(c.has_value(), (c ? "" : c.error().what()));
  return std::move(*c);
}
json log_lines(const std::string& path) {
  json out = json::array();
  std::istringstream in(testutil::read_file(path));
  std::string line;
  while (std::getline(in, line))
    if (!line.empty()) out.push_back(json::parse(line, nullptr, false));
  return out;
}
bool log_has_method(const json& lines, const std::string& method) {
  for (const auto& l : lines)
    if (l.is_object() && l.value("method", "") == method) return true;
  return false;
}
using Clock = std::chrono::steady_clock;
using testutil::ms_since;
}  // namespace

TEST_CASE("legacy server: era detected by probe, tools listed and called") {
  testutil::Resources before;
  auto log = testutil::temp_path("legacy.log");
  {
    auto client = make(one("fs", fault({"--era", "legacy", "--log", log})));
    CHECK(testutil::children().size() == before.kids);  // lazy: nothing spawned yet
    auto tools = client.list_tools();
    REQUIRE_MESSAGE(tools, (tools ? "" : tools.error().what()));
    CHECK(tools->count("fs_echo") == 1);
    CHECK(tools->count("fs_add") == 1);
    auto info = client.server_info("fs");
    REQUIRE(info);
    CHECK(info->era == mcp::Era::legacy);
    CHECK(info->protocol_version == "2025-11-25");
    CHECK(info->implementation.name == "fault-server");
    auto r = tools->at("fs_add").call({{"a", 2}, {"b", 3}});
    REQUIRE_MESSAGE(r, (r ? "" : r.error().what()));
    CHECK_FALSE(r->is_error);
    REQUIRE(r->structured_content);
    CHECK((*r->structured_content)["result"] == 5);
    CHECK(r->text() == "5");
    auto lines = log_lines(log);
    REQUIRE(lines.size() >= 3);
    CHECK(lines[0]["method"] == "server/discover");
    CHECK(lines[0]["params"]["_meta"]["io.modelcontextprotocol/protocolVersion"] == "2026-07-28");
    CHECK(log_has_method(lines, "initialize"));
    CHECK(log_has_method(lines, "notifications/initialized"));
    client.disconnect();
  }
  CHECK_NO_LEAKS(before);
}

TEST_CASE("modern server: no handshake, _meta on every request, resultType checked") {
  testutil::Resources before;
  auto log = testutil::temp_path("modern.log");
  {
    auto client = make(one("m", fault({"--era", "modern", "--log", log})));
    auto toolsets = client.list_toolsets();
    REQUIRE_MESSAGE(toolsets, (toolsets ? "" : toolsets.error().what()));
    REQUIRE(toolsets->count("m") == 1);
    CHECK(toolsets->at("m").count("echo") == 1);
    auto info = client.server_info("m");
    REQUIRE(info);
    CHECK(info->era == mcp::Era::modern);
    CHECK(info->protocol_version == "2026-07-28");
    auto r = client.call_tool("m", "echo", {{"message", "héllo"}});
    REQUIRE_MESSAGE(r, (r ? "" : r.error().what()));
    CHECK(r->text() == "héllo");
    auto lines = log_lines(log);
    CHECK_FALSE(log_has_method(lines, "initialize"));
    for (const auto& l : lines) {
      if (!l.contains("id")) continue;
      const auto& meta = l["params"]["_meta"];
      CHECK(meta["io.modelcontextprotocol/protocolVersion"] == "2026-07-28");
      CHECK(meta["io.modelcontextprotocol/clientCapabilities"].is_object());
      CHECK(meta["io.modelcontextprotocol/clientInfo"]["name"] == "mcp-cpp");
    }
  }
  CHECK_NO_LEAKS(before);
}

TEST_CASE("modern requests: _meta written once per session, the same bytes as written from its tree") {
  // The session writes its _meta once and splices the text into each request (blocking and
  // asynchronous calls); a request with progress gets the tree (the engine adds a token). Every
  // line must be exactly what writing the whole message from one tree gives (append_json, which
  // equals nlohmann's dump: test_json_write.cpp), with the _meta the configuration says.
  testutil::Resources before;
  auto log = testutil::temp_path("modern-meta.log");
  {
    auto cfg = one("m", fault({"--era", "modern", "--log", log}));
    cfg.log_level = "debug";
    cfg.handlers.roots = [](const std::string&) { return std::vector<mcp::Root>{}; };
    cfg.handlers.sampling = [](const std::string&, const json&) -> mcp::Result<json> { return json::object(); };
    cfg.client_info.name = "meta \"test\" \\ \t\x01 caf\u00e9 \xE2\x82\xAC \xF0\x9F\x98\x80";
    cfg.client_info.title = "Ti/tle\n";
    cfg.client_info.raw = json{{"extra", {{"k", json::array({1, -2, true, nullptr, "x"})}}}};
    auto client = make(std::move(cfg));
    for (int i = 0; i < 3; ++i) {
      auto r = client.call_tool("m", "echo", {{"message", "h\u00e9llo " + std::to_string(i)}});
      REQUIRE_MESSAGE(r, (r ? "" : r.error().what()));
      CHECK(r->text() == "h\u00e9llo " + std::to_string(i));
    }
    mcp::RequestOptions with_progress;
    with_progress.on_progress = [](const mcp::Progress&) {};
    auto p = client.call_tool("m", "echo", {{"message", "p"}}, with_progress);
    REQUIRE_MESSAGE(p, (p ? "" : p.error().what()));
    auto a = client.async_call_tool("m", "echo", {{"message", "async"}}, mcp::RequestOptions{}, mcp::use_future).get();
    REQUIRE_MESSAGE(a, (a ? "" : a.error().what()));
    CHECK(a->text() == "async");
    auto again = client.call_tool("m", "echo", {{"message", "after"}});
    REQUIRE_MESSAGE(again, (again ? "" : again.error().what()));
  }
  const json expected_meta = {
      {"io.modelcontextprotocol/protocolVersion", "2026-07-28"},
      {"io.modelcontextprotocol/clientCapabilities",
       {{"roots", json::object()},
        {"sampling", json::object()},
        {"extensions", {{"io.modelcontextprotocol/tasks", json::object()}}}}},  // ClientConfig::tasks
      {"io.modelcontextprotocol/clientInfo",
       {{"name", "meta \"test\" \\ \t\x01 caf\u00e9 \xE2\x82\xAC \xF0\x9F\x98\x80"},
        {"version", mcp::ClientConfig{}.client_info.version},
        {"title", "Ti/tle\n"},
        {"extra", {{"k", json::array({1, -2, true, nullptr, "x"})}}}}},
      {"io.modelcontextprotocol/logLevel", "debug"}};
  std::istringstream in(testutil::read_file(log));
  std::string line;
  int calls = 0, with_token = 0;
  while (std::getline(in, line)) {
    const json msg = json::parse(line, nullptr, false);
    REQUIRE_FALSE(msg.is_discarded());
    if (!msg.contains("id")) continue;
    CHECK(line == msg.dump(-1, ' ', false, json::error_handler_t::replace));
    json meta = msg["params"]["_meta"];
    if (meta.contains("progressToken")) {
      ++with_token;
      meta.erase("progressToken");
    }
    CHECK(meta == expected_meta);
    if (msg["method"] == "tools/call") ++calls;
  }
  CHECK(calls == 6);
  CHECK(with_token == 1);
  CHECK_NO_LEAKS(before);
}

TEST_CASE("dual-era server is spoken to in the modern era") {
  auto client = make(one("d", fault({"--era", "dual"})));
  auto info = client.server_info("d");
  REQUIRE(info);
  CHECK(info->era == mcp::Era::modern);
  auto r = client.call_tool("d", "add", {{"a", 1}, {"b", 1}});
  REQUIRE(r);
  CHECK(r->text() == "2");
}

TEST_CASE("modern server with no version in common: typed unsupported_version error") {
  auto client = make(one("m", fault({"--era", "modern", "--supported", "2099-01-01"})));
  auto r = client.list_tools();
  REQUIRE_FALSE(r);
  CHECK(r.error().errc() == mcp::Errc::unsupported_version);
  CHECK(r.error().kind() == mcp::ErrorKind::protocol);
  CHECK(r.error().message.find("2099-01-01") != std::string::npos);
}

TEST_CASE("legacy server silent before initialize: probe times out, falls back to legacy") {
  auto cfg = one("s", fault({"--era", "legacy", "--pre-init", "silent"}));
  cfg.probe_timeout = 400ms;
  auto client = make(std::move(cfg));
  auto t0 = Clock::now();
  auto info = client.server_info("s");
  REQUIRE_MESSAGE(info, (info ? "" : info.error().what()));
  CHECK(info->era == mcp::Era::legacy);
  CHECK(ms_since(t0) < 5000);
  auto r = client.call_tool("s", "echo", {{"message", "x"}});
  REQUIRE(r);
  CHECK(r->text() == "x");
}

TEST_CASE("legacy server that exits on the probe is restarted and initialized") {
  testutil::Resources before;
  {
    auto client = make(one("x", fault({"--era", "legacy", "--pre-init", "exit"})));
    auto info = client.server_info("x");
    REQUIRE_MESSAGE(info, (info ? "" : info.error().what()));
    CHECK(info->era == mcp::Era::legacy);
    auto r = client.call_tool("x", "echo", {{"message", "after restart"}});
    REQUIRE(r);
    CHECK(r->text() == "after restart");
    // The verdict is cached: a reconnect goes straight to initialize (no second exit).
    client.disconnect();
    auto again = client.call_tool("x", "echo", {{"message", "again"}});
    REQUIRE_MESSAGE(again, (again ? "" : again.error().what()));
  }
  CHECK_NO_LEAKS(before);
}

TEST_CASE("legacy server answering the probe with -32602 falls back to legacy") {
  auto client = make(one("p", fault({"--era", "legacy", "--pre-init", "invalid-params"})));
  auto info = client.server_info("p");
  REQUIRE(info);
  CHECK(info->era == mcp::Era::legacy);
}

TEST_CASE("pinned era: no probe is sent") {
  auto log = testutil::temp_path("pinned.log");
  auto sc = fault({"--era", "legacy", "--pre-init", "exit", "--log", log});
  sc.era = mcp::Era::legacy;
  auto client = make(one("p", std::move(sc)));
  auto r = client.call_tool("p", "echo", {{"message", "pinned"}});
  REQUIRE(r);
  auto lines = log_lines(log);
  CHECK_FALSE(log_has_method(lines, "server/discover"));
  CHECK(lines[0]["method"] == "initialize");

  auto sc2 = fault({"--era", "legacy"});
  sc2.protocol_version = "2024-11-05";
  auto client2 = make(one("v", std::move(sc2)));
  auto info = client2.server_info("v");
  REQUIRE(info);
  CHECK(info->protocol_version == "2024-11-05");
}

TEST_CASE("missing executable: spawn_failed, nothing left behind") {
  testutil::Resources before;
  {
    mcp::StdioServerConfig st;
    st.command = "definitely-not-an-mcp-server-xyz";
    mcp::ServerConfig sc;
    sc.transport = st;
    auto client = make(one("nope", sc));
    auto r = client.list_tools();
    REQUIRE_FALSE(r);
    CHECK(r.error().errc() == mcp::Errc::spawn_failed);
    CHECK(r.error().kind() == mcp::ErrorKind::transport);
    CHECK(r.error().server == "nope");
    CHECK(r.error().message.find("not found") != std::string::npos);

    st.command = "/nonexistent/dir/server";
    sc.transport = st;
    auto client2 = make(one("abs", sc));
    auto r2 = client2.list_tools();
    REQUIRE_FALSE(r2);
    CHECK(r2.error().errc() == mcp::Errc::spawn_failed);

    auto sc3 = fault({});
    std::get<mcp::StdioServerConfig>(sc3.transport).cwd = "/nonexistent/cwd";
    auto client3 = make(one("cwd", sc3));
    auto r3 = client3.list_tools();
    REQUIRE_FALSE(r3);
    CHECK(r3.error().errc() == mcp::Errc::spawn_failed);
  }
  CHECK_NO_LEAKS(before);
}

TEST_CASE("server exits at start: process_exited with its stderr attached") {
  testutil::Resources before;
  {
    auto client = make(one("boom", fault({"--exit-on-start"})));
    auto r = client.list_tools();
    REQUIRE_FALSE(r);
    CHECK(r.error().errc() == mcp::Errc::process_exited);
    CHECK(r.error().stderr_tail.find("fatal: boom") != std::string::npos);
    CHECK(r.error().what().find("fatal: boom") != std::string::npos);
  }
  CHECK_NO_LEAKS(before);
}

TEST_CASE("server exits before initialize: typed error, no zombie") {
  testutil::Resources before;
  {
    auto client = make(one("e", fault({"--exit-before-init"})));
    auto t0 = Clock::now();
    auto r = client.list_tools();
    REQUIRE_FALSE(r);
    CHECK(r.error().errc() == mcp::Errc::process_exited);
    CHECK(r.error().message.find("status 2") != std::string::npos);
    CHECK(ms_since(t0) < 5000);
  }
  CHECK_NO_LEAKS(before);
}

TEST_CASE("server crashes mid-call: process_exited; the next call restarts it") {
  testutil::Resources before;
  {
    auto client = make(one("c", fault({"--era", "modern"})));
    auto r = client.call_tool("c", "crash");
    REQUIRE_FALSE(r);
    CHECK(r.error().errc() == mcp::Errc::process_exited);
    CHECK(r.error().message.find("status 7") != std::string::npos);
    // The dead child is reaped without waiting for another call.
    CHECK(testutil::eventually([&] { return testutil::children().size() == before.kids; }));
    auto ok = client.call_tool("c", "echo", {{"message", "back"}});
    REQUIRE_MESSAGE(ok, (ok ? "" : ok.error().what()));
    CHECK(ok->text() == "back");
  }
  CHECK_NO_LEAKS(before);
}

TEST_CASE("garbage on stdout is reported, not fatal") {
  std::mutex m;
  std::vector<std::string> diags;
  auto cfg = one("g", fault({"--era", "legacy", "--garbage"}));
  cfg.on_diagnostic = [&](std::string_view server, std::string_view msg) {
    std::lock_guard lk(m);
    diags.emplace_back(std::string(server) + ": " + std::string(msg));
  };
  auto client = make(std::move(cfg));
  auto r = client.call_tool("g", "echo", {{"message", "fine"}});
  REQUIRE(r);
  CHECK(r->text() == "fine");
  std::lock_guard lk(m);
  bool seen = false;
  for (const auto& d : diags) seen |= d.find("g: non-JSON line on stdout ignored: this is not json") == 0;
  CHECK(seen);
}

TEST_CASE("16 MiB messages in both directions") {
  auto client = make(one("big", fault({"--era", "modern"})));
  const std::size_t n = 16u << 20;
  auto r = client.call_tool("big", "big", {{"bytes", n}});
  REQUIRE_MESSAGE(r, (r ? "" : r.error().what()));
  REQUIRE(r->content.size() == 1);
  CHECK(r->content[0].text.size() == n);
  CHECK(r->content[0].text.find_first_not_of('x') == std::string::npos);
  std::string payload(n, 'y');
  auto e = client.call_tool("big", "echo", {{"message", payload}});
  REQUIRE(e);
  CHECK(e->text().size() == n);
}

TEST_CASE("server that never answers: timeout within the configured time") {
  testutil::Resources before;
  {
    auto cfg = one("n", fault({"--never-answer"}));
    cfg.probe_timeout = 300ms;
    cfg.request_timeout = 700ms;
    auto client = make(std::move(cfg));
    auto t0 = Clock::now();
    auto r = client.list_tools();
    REQUIRE_FALSE(r);
    CHECK(r.error().errc() == mcp::Errc::timeout);
    CHECK(r.error().kind() == mcp::ErrorKind::timeout);
    CHECK(ms_since(t0) < 3000);
  }
  CHECK_NO_LEAKS(before);
}

TEST_CASE("per-call timeout overrides the default, and the connection survives it") {
  auto log = testutil::temp_path("timeout.log");
  auto client = make(one("t", fault({"--era", "modern", "--log", log})));
  mcp::RequestOptions o;
  o.timeout = 200ms;
  auto t0 = Clock::now();
  auto r = client.call_tool("t", "sleep", {{"ms", 3000}}, o);
  REQUIRE_FALSE(r);
  CHECK(r.error().errc() == mcp::Errc::timeout);
  CHECK(ms_since(t0) < 1500);
  auto ok = client.call_tool("t", "echo", {{"message", "still here"}});
  REQUIRE(ok);
  CHECK(testutil::eventually([&] { return log_has_method(log_lines(log), "notifications/cancelled"); }));
}

TEST_CASE("stdio: a caller whose line waits behind a write the server does not take returns by its own deadline") {
  testutil::Resources before;
  {
    auto log = testutil::temp_path("stall.log");
    auto client = make(one("s", fault({"--stall-input-ms", "2000", "--log", log})));
    REQUIRE(client.call_tool("s", "echo", {{"message", "warm"}}));
    // After this line the server reads nothing for 2 s.
    REQUIRE(client.call_tool("s", "echo", {{"message", "stall-input"}}));
    const std::string big(1u << 20, 'x');  // more than the socket buffer holds
    std::optional<mcp::Result<mcp::CallToolResult>> a;
    std::atomic<bool> a_started{false};
    std::thread writer([&] {
      mcp::RequestOptions o;
      o.timeout = 8000ms;
      a_started = true;
      a = client.call_tool("s", "echo", {{"message", big}}, o);
    });
    // A is then blocked in its write (the wait counts from A's start: under a sanitizer on a
    // loaded machine a thread can take longer than that to start).
    REQUIRE(testutil::eventually([&] { return a_started.load(); }));
    std::this_thread::sleep_for(400ms);
    mcp::RequestOptions o;
    o.timeout = 300ms;
    const auto t0 = Clock::now();
    auto b = client.call_tool("s", "echo", {{"message", "queued"}}, o);
    const auto b_ms = ms_since(t0);
    REQUIRE_FALSE(b);
    CHECK(b.error().errc() == mcp::Errc::timeout);
    CHECK(b_ms < 1200);  // by its own deadline, not when A's write ends (~1.7 s from then)
    writer.join();
    REQUIRE(a);
    REQUIRE(*a);
    CHECK((*a)->text() == big);
    auto c = client.call_tool("s", "echo", {{"message", "after"}});
    REQUIRE(c);
    CHECK(c->text() == "after");
    // Written in the order sent: A, B, B's cancellation, then C; nothing lost or interleaved.
    std::vector<std::string> order;
    for (const auto& l : log_lines(log)) {
      REQUIRE(l.is_object());  // no line was cut or spliced into another
      const std::string m = l.value("method", "");
      if (m == "notifications/cancelled") order.push_back("cancelled");
      else if (m == "tools/call") {
        const std::string text = l["params"]["arguments"].value("message", "");
        order.push_back(text.size() > 100 ? "big" : text);
      }
    }
    CHECK(order == std::vector<std::string>{"warm", "stall-input", "big", "queued", "cancelled", "after"});
  }
  CHECK_NO_LEAKS(before);
}

TEST_CASE("stdio: a server flooding ping requests and reading no answers does not hold up the reply") {
  // 20,000 pings, then the reply, from a server that reads nothing meanwhile: the answers
  // fill its input, and the worker answering them blocks. Before, the thread reading stdout
  // answered the overflow itself (up to 10 s per write), and the reply waited behind every
  // queued ping's answer: the call ran into its timeout.
  testutil::Resources before;
  {
    std::atomic<int> dropped_notes{0};
    auto cfg = one("f", fault({"--stall-input-ms", "3000"}));
    cfg.on_diagnostic = [&](std::string_view, std::string_view text) {
      if (text.find("dropped a server request") != std::string_view::npos) ++dropped_notes;
    };
    auto client = make(std::move(cfg));
    REQUIRE(client.call_tool("f", "echo", {{"message", "warm"}}));
    mcp::RequestOptions o;
    o.timeout = 2500ms;  // less than the stall: the server reads no answer before the reply
    const auto t0 = Clock::now();
    auto r = client.call_tool("f", "flood_ping", {{"count", 20000}, {"note", "stall-input"}}, o);
    const auto took = ms_since(t0);
    if (!r) FAIL_CHECK(r.error().what());
    REQUIRE(r);
    CHECK(r->text() == "flooded");
    MESSAGE("flood_ping took " << took << " ms");  // 55 ms in a release build
    CHECK(dropped_notes.load() >= 1);  // the excess was dropped, and said so
  }
  CHECK_NO_LEAKS(before);  // disconnect ends the worker blocked in its write
}

TEST_CASE("a caller reading its own reply hands notifications to the reader thread, in order") {
  // A waiting caller reads the server's stdout itself (no hand-off from the reader thread).
  // What is not a reply runs handlers, which stay on the reader thread, and arrives before
  // the reply that followed it, mixed freely with other callers' replies.
  mcp::ClientConfig cfg = one("ld", fault({"--era", "legacy"}));
  std::mutex m;
  std::vector<std::thread::id> log_threads;
  int changes = 0;
  cfg.handlers.on_log = [&](const std::string&, const mcp::LogMessage&) {
    std::lock_guard lk(m);
    log_threads.push_back(std::this_thread::get_id());
  };
  cfg.handlers.on_change = [&](const std::string&, const mcp::ChangeEvent&) {
    std::lock_guard lk(m);
    ++changes;
  };
  auto client = make(std::move(cfg));
  REQUIRE(client.list_tools());
  std::atomic<int> ok{0}, bad{0}, early{0};
  std::set<std::thread::id> callers;
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      {
        std::lock_guard lk(m);
        callers.insert(std::this_thread::get_id());
      }
      for (int i = 0; i < 60; ++i) {
        if ((i + t) % 3 == 0) {
          std::size_t before;
          {
            std::lock_guard lk(m);
            before = log_threads.size();
          }
          auto r = client.call_tool("ld", "notify");
          std::lock_guard lk(m);
          if (!r) ++bad;
          else if (log_threads.size() <= before) ++early;  // the reply overtook its notification
          else ++ok;
        } else {
          const std::string msg = "t" + std::to_string(t) + "-" + std::to_string(i);
          auto r = client.call_tool("ld", "echo", {{"message", msg}});
          if (r && r->text() == msg) ++ok;
          else ++bad;
        }
      }
    });
  }
  for (auto& th : threads) th.join();
  CHECK(bad == 0);
  CHECK(early == 0);
  CHECK(ok == 240);
  std::lock_guard lk(m);
  CHECK(log_threads.size() == 80);
  CHECK(changes == 80);
  for (const auto& id : log_threads) CHECK(callers.count(id) == 0);
  // And sequentially, on one thread, where the caller leads every time.
  for (int i = 0; i < 50; ++i) {
    auto r = client.call_tool("ld", "echo", {{"message", std::to_string(i)}});
    REQUIRE(r);
    CHECK(r->text() == std::to_string(i));
  }
}

TEST_CASE("stdio: leads that end early (timed out, cancelled) leave no reply unread") {
  // A waiting caller reads stdout itself, and while it waits there the server's output wakes
  // it alone, not the reader thread. So a lead that ends (its call timed out or was cancelled)
  // must read, or hand on, what woke it: here other callers' replies arrive all the while,
  // and each must come back long before its own timeout.
  auto client = make(one("le", fault({"--era", "legacy"})));
  REQUIRE(client.list_tools());
  std::atomic<bool> done{false};
  std::atomic<int> ended_early{0};
  std::vector<std::thread> enders;
  for (int t = 0; t < 2; ++t) {
    enders.emplace_back([&, t] {
      for (int i = 0; i < 40 && !done; ++i) {
        mcp::RequestOptions o;
        std::stop_source stop;
        std::thread canceller;
        if (t == 0) {
          o.timeout = std::chrono::milliseconds(1 + i % 4);
        } else {
          o.stop = stop.get_token();
          canceller = std::thread([&stop, i] {
            std::this_thread::sleep_for(std::chrono::microseconds(500 + 250 * (i % 8)));
            stop.request_stop();
          });
        }
        auto r = client.call_tool("le", "sleep", {{"ms", 30}}, o);
        if (canceller.joinable()) canceller.join();
        if (!r) ++ended_early;
      }
    });
  }
  int bad = 0, slow = 0;
  mcp::RequestOptions o;
  o.timeout = 5000ms;
  for (int i = 0; i < 400; ++i) {
    const std::string msg = "m" + std::to_string(i);
    const auto t0 = Clock::now();
    auto r = client.call_tool("le", "echo", {{"message", msg}}, o);
    if (!r || r->text() != msg) ++bad;
    else if (ms_since(t0) > 2000) ++slow;
  }
  done = true;
  for (auto& th : enders) th.join();
  CHECK(bad == 0);
  CHECK(slow == 0);
  CHECK(ended_early > 0);
}

TEST_CASE("handlers run off the thread reading stdout: one may call the server, before the call that caused it returns") {
  // "notify" sends a log line and a list change before its reply. Here the change handler
  // re-lists the tools, as a client keeping a tool list would. Run where the reply is read,
  // that call could never get its own reply (the reading thread is the one waiting).
  mcp::ClientConfig cfg = one("hc", fault({"--era", "legacy"}));
  cfg.request_timeout = 5s;
  mcp::Client* self = nullptr;
  std::atomic<int> relisted{0}, failed{0};
  std::atomic<int> logs{0};
  cfg.handlers.on_change = [&](const std::string&, const mcp::ChangeEvent&) {
    auto tools = self->list_tools();
    if (tools && !tools->empty()) ++relisted;
    else ++failed;
  };
  cfg.handlers.on_log = [&](const std::string&, const mcp::LogMessage&) { ++logs; };
  auto client = make(std::move(cfg));
  self = &client;
  for (int i = 0; i < 5; ++i) {
    const auto start = std::chrono::steady_clock::now();
    auto r = client.call_tool("hc", "notify");
    REQUIRE_MESSAGE(r, (r ? "" : r.error().what()));
    CHECK(std::chrono::steady_clock::now() - start < 2s);  // no stall until a timeout
    // The handlers for what came before the reply have run when the call returns.
    CHECK(relisted == i + 1);
    CHECK(logs == i + 1);
  }
  CHECK(failed == 0);
}

TEST_CASE("unknown tool: rpc_error with the server's code") {
  auto client = make(one("u", fault({"--era", "legacy"})));
  auto r = client.call_tool("u", "no_such_tool");
  REQUIRE_FALSE(r);
  CHECK(r.error().errc() == mcp::Errc::rpc_error);
  REQUIRE(r.error().rpc_code);
  CHECK(*r.error().rpc_code == -32602);
  CHECK(r.error().message.find("no_such_tool") != std::string::npos);
  auto bad_server = client.call_tool("nope", "echo");
  REQUIRE_FALSE(bad_server);
  CHECK(bad_server.error().errc() == mcp::Errc::unknown_server);
}

TEST_CASE("a tool that fails is a result with is_error, not an Error") {
  auto client = make(one("f", fault({"--era", "modern"})));
  auto r = client.call_tool("f", "fail");
  REQUIRE(r);
  CHECK(r->is_error);
  CHECK(r->text() == "tool failed");
}

TEST_CASE("disconnect while calls are in flight: they fail with disconnected, nothing leaks") {
  testutil::Resources before;
  {
    auto client = make(one("dc", fault({"--era", "modern"})));
    REQUIRE(client.server_info("dc"));
    std::vector<std::thread> threads;
    std::atomic<int> disconnected{0}, other{0};
    for (int i = 0; i < 4; ++i) {
      threads.emplace_back([&] {
        auto r = client.call_tool("dc", "sleep", {{"ms", 5000}});
        if (!r && r.error().errc() == mcp::Errc::disconnected) ++disconnected;
        else ++other;
      });
    }
    std::this_thread::sleep_for(200ms);
    auto t0 = Clock::now();
    client.disconnect();
    client.disconnect();  // idempotent
    for (auto& t : threads) t.join();
    CHECK(ms_since(t0) < 3000);
    CHECK(disconnected == 4);
    CHECK(other == 0);
    // Still usable afterwards: reconnects lazily.
    auto again = client.call_tool("dc", "echo", {{"message", "reconnected"}});
    REQUIRE(again);
  }
  CHECK_NO_LEAKS(before);
}

TEST_CASE("shutdown escalates to SIGTERM and SIGKILL of the whole process group") {
  testutil::Resources before;
  int grandchild = 0;
  {
    auto client = make(one("stubborn", fault({"--era", "legacy", "--ignore-stdin-eof", "--ignore-sigterm"})));
    auto r = client.call_tool("stubborn", "spawn_grandchild");
    REQUIRE(r);
    grandchild = std::stoi(r->text());
    CHECK(testutil::alive(grandchild));
    auto t0 = Clock::now();
    client.disconnect();
    CHECK(ms_since(t0) < 4000);  // 2 x 500 ms grace + slack
  }
  CHECK(testutil::eventually([&] { return !testutil::alive(grandchild); }));
  CHECK_NO_LEAKS(before);
}

TEST_CASE("the child gets a safe default environment unless told otherwise") {
  ::setenv("MCP_TEST_SECRET", "s3cret", 1);
  {
    auto client = make(one("env", fault({"--era", "legacy"})));
    auto r = client.call_tool("env", "env", {{"name", "MCP_TEST_SECRET"}});
    REQUIRE(r);
    CHECK(r->text() == "<unset>");
    auto p = client.call_tool("env", "env", {{"name", "PATH"}});
    REQUIRE(p);
    CHECK(p->text() != "<unset>");
  }
  {
    auto sc = fault({"--era", "legacy"});
    std::get<mcp::StdioServerConfig>(sc.transport).env["TENANT_TOKEN"] = "t-1";
    auto client = make(one("env2", std::move(sc)));
    auto r = client.call_tool("env2", "env", {{"name", "TENANT_TOKEN"}});
    REQUIRE(r);
    CHECK(r->text() == "t-1");
  }
  {
    auto sc = fault({"--era", "legacy"});
    std::get<mcp::StdioServerConfig>(sc.transport).inherit_env = true;
    auto client = make(one("env3", std::move(sc)));
    auto r = client.call_tool("env3", "env", {{"name", "MCP_TEST_SECRET"}});
    REQUIRE(r);
    CHECK(r->text() == "s3cret");
  }
  ::unsetenv("MCP_TEST_SECRET");
}

TEST_CASE("cwd and stderr callback") {
  std::mutex m;
  std::vector<std::string> lines;
  auto sc = fault({"--era", "modern"});
  auto& st = std::get<mcp::StdioServerConfig>(sc.transport);
  st.cwd = "/tmp";
  st.on_stderr = [&](std::string_view server, std::string_view line) {
    std::lock_guard lk(m);
    lines.emplace_back(std::string(server) + "|" + std::string(line));
  };
  auto client = make(one("cw", std::move(sc)));
  auto r = client.call_tool("cw", "cwd");
  REQUIRE(r);
  CHECK(r->text() == "/tmp");
  auto s = client.call_tool("cw", "stderr", {{"lines", 3}});
  REQUIRE(s);
  CHECK(testutil::eventually([&] {
    std::lock_guard lk(m);
    return lines.size() >= 3;
  }));
  std::lock_guard lk(m);
  CHECK(lines[0] == "cw|stderr line 1");
}

TEST_CASE("tools/list pagination is followed to the end") {
  auto client = make(one("pg", fault({"--era", "modern", "--page-size", "3", "--tools-count", "25"})));
  auto set = client.list_toolsets();
  REQUIRE(set);
  CHECK(set->at("pg").count("tool_0") == 1);
  CHECK(set->at("pg").count("tool_24") == 1);
  CHECK(set->at("pg").count("echo") == 1);
}

TEST_CASE("server requests we have no handler for are answered -32601") {
  auto client = make(one("sr", fault({"--era", "legacy", "--send-unknown-request"})));
  auto r = client.call_tool("sr", "echo", {{"message", "m"}});
  REQUIRE(r);
  REQUIRE(!r->content.empty());
  CHECK(r->content[0].text == "-32601");
}

TEST_CASE("a second live client with an identical config and no id is refused") {
  mcp::ClientConfig cfg;
  cfg.servers.emplace("a", fault({"--era", "legacy"}));
  auto first = mcp::Client::create(cfg);
  REQUIRE(first);
  auto second = mcp::Client::create(cfg);
  REQUIRE_FALSE(second);
  CHECK(second.error().errc() == mcp::Errc::duplicate_client);
  CHECK(second.error().kind() == mcp::ErrorKind::config);
  CHECK(second.error().message.find("id") != std::string::npos);
  CHECK(second.error().message.find("disconnect") != std::string::npos);
  // Distinct ids both work.
  auto with_id = cfg;
  with_id.id = "tenant-1";
  auto third = mcp::Client::create(with_id);
  CHECK(third);
  // Disconnecting the first frees its slot.
  first->disconnect();
  auto fourth = mcp::Client::create(cfg);
  CHECK(fourth);
  // ...and the disconnected first one reconnects on its next call: the rule is checked when a
  // client is made, never on a call.
  auto r = first->list_tools();
  REQUIRE_MESSAGE(r, (r ? "" : r.error().what()));
  CHECK(r->count("a_echo") == 1);
  auto again = first->call_tool("a", "echo", {{"message", "back"}});
  REQUIRE(again);
  CHECK(again->text() == "back");
}

TEST_CASE("one failing server does not hide the others") {
  mcp::ClientConfig cfg;
  cfg.id = "partial";
  cfg.servers.emplace("good", fault({"--era", "modern"}));
  mcp::StdioServerConfig bad;
  bad.command = "no-such-binary-for-mcp-tests";
  mcp::ServerConfig sc;
  sc.transport = bad;
  cfg.servers.emplace("bad", sc);
  auto client = make(std::move(cfg));
  auto partial = client.list_tools_partial();
  CHECK(partial.value.count("good_echo") == 1);
  REQUIRE(partial.errors.count("bad") == 1);
  CHECK(partial.errors.at("bad").errc() == mcp::Errc::spawn_failed);
  auto strict = client.list_tools();
  CHECK_FALSE(strict);
  auto sets = client.list_toolsets_partial();
  CHECK(sets.value.count("good") == 1);
  CHECK(sets.errors.count("bad") == 1);
}

TEST_CASE("a server without a listing (-32601) lists nothing, in every listing over all servers, both eras") {
  for (const char* era : {"legacy", "modern"}) {
    CAPTURE(era);
    mcp::ClientConfig cfg;
    cfg.id = std::string("no-tools-") + era;
    cfg.servers.emplace("tools", fault({"--era", era}));
    cfg.servers.emplace("bare", fault({"--era", era, "--no-tools"}));
    auto client = make(std::move(cfg));
    // The strict listing does not fail for the server without tools.
    auto tools = client.list_tools();
    REQUIRE_MESSAGE(tools, (tools ? "" : tools.error().what()));
    CHECK(tools->count("tools_echo") == 1);
    for (const auto& [key, tool] : *tools) CHECK(tool.server() == "tools");
    auto sets = client.list_toolsets_partial();
    CHECK(sets.errors.empty());
    REQUIRE(sets.value.count("bare") == 1);
    CHECK(sets.value.at("bare").empty());
    // Neither fixture has resources or prompts (-32601): none, and no errors.
    auto resources = client.list_resources();
    auto templates = client.list_resource_templates();
    auto prompts = client.list_prompts();
    CHECK(resources.errors.empty());
    CHECK(templates.errors.empty());
    CHECK(prompts.errors.empty());
    CHECK(resources.value.size() == 2);
    CHECK(prompts.value.size() == 2);
    // The asynchronous listings agree.
    auto async_sets = client.async_list_toolsets({}, mcp::use_future).get();
    REQUIRE_MESSAGE(async_sets, (async_sets ? "" : async_sets.error().what()));
    CHECK(async_sets->at("bare").empty());
    auto async_prompts = client.async_list_prompts({}, mcp::use_future).get();
    REQUIRE(async_prompts);
    CHECK(async_prompts->errors.empty());
    // A session's own listing still says what the server answered.
    auto bare = client.session("bare");
    REQUIRE(bare);
    auto own = (*bare)->list_tools();
    REQUIRE_FALSE(own);
    CHECK(own.error().rpc_code == -32601);
  }
}

TEST_CASE("a Tool outliving its client fails cleanly") {
  std::optional<mcp::Tool> tool;
  {
    auto client = make(one("gone", fault({"--era", "legacy"})));
    auto tools = client.list_tools();
    REQUIRE(tools);
    tool = tools->at("gone_echo");
  }
  auto r = tool->call({{"message", "x"}});
  REQUIRE_FALSE(r);
  CHECK(r.error().errc() == mcp::Errc::disconnected);
}

TEST_CASE("modern multi round-trip requests: input fulfilled, requestState echoed byte for byte") {
  auto log = testutil::temp_path("mrtr.log");
  mcp::ClientConfig cfg = testutil::one("m", testutil::fault({"--era", "modern", "--log", log}));
  std::atomic<int> asked{0};
  cfg.handlers.elicitation = [&](const std::string&, const mcp::ElicitRequest& req) -> mcp::Result<mcp::ElicitResult> {
    ++asked;
    CHECK(req.message == "Your name?");
    mcp::ElicitResult r;
    r.content = {{"name", "Grace"}};
    return r;
  };
  cfg.handlers.roots = [](const std::string&) { return std::vector<mcp::Root>{{"file:///srv/data", std::nullopt}}; };
  auto client = mcp::Client::create(std::move(cfg));
  REQUIRE(client);
  auto r = client->call_tool("m", "ask");
  REQUIRE_MESSAGE(r, (r ? "" : r.error().what()));
  CHECK(asked == 1);
  REQUIRE(r->structured_content);
  CHECK((*r->structured_content)["state_ok"] == true);
  CHECK((*r->structured_content)["answer"]["action"] == "accept");
  CHECK((*r->structured_content)["answer"]["content"]["name"] == "Grace");
  CHECK((*r->structured_content)["answer"]["content"]["color"] == "blue");  // schema default applied
  auto roots = client->call_tool("m", "ask_roots");
  REQUIRE(roots);
  CHECK((*roots->structured_content)["answer"]["roots"][0]["uri"] == "file:///srv/data");
  // Capabilities were declared per request, and the retries used new ids.
  std::set<json> ids;
  for (const auto& l : log_lines(log)) {
    if (l.value("method", "") != "tools/call") continue;
    ids.insert(l["id"]);
    const auto& caps = l["params"]["_meta"]["io.modelcontextprotocol/clientCapabilities"];
    CHECK(caps.contains("elicitation"));
    CHECK(caps.contains("roots"));
    CHECK_FALSE(caps.contains("sampling"));
  }
  CHECK(ids.size() == 4);
  // A server that never stops asking hits the round cap; a request without a handler fails typed.
  auto forever = client->call_tool("m", "ask_forever");
  REQUIRE_FALSE(forever);
  CHECK(forever.error().errc() == mcp::Errc::input_required);
}

TEST_CASE("modern multi round-trip: no handler for what the server asks is a typed error") {
  auto client = mcp::Client::create(testutil::one("m", testutil::fault({"--era", "modern"})));
  REQUIRE(client);
  auto r = client->call_tool("m", "ask");
  REQUIRE_FALSE(r);
  CHECK(r.error().errc() == mcp::Errc::input_required);
  CHECK(r.error().message.find("elicitation") != std::string::npos);
}

TEST_CASE("modern results are cached per ttlMs, per session, and can be bypassed") {
  auto log = testutil::temp_path("cache.log");
  auto client = mcp::Client::create(testutil::one("c", testutil::fault({"--era", "modern", "--ttl-ms", "400", "--log", log})));
  REQUIRE(client);
  auto count = [&] {
    int n = 0;
    for (const auto& l : log_lines(log)) n += l.value("method", "") == "tools/list";
    return n;
  };
  REQUIRE(client->list_tools());
  REQUIRE(client->list_tools());
  CHECK(count() == 1);
  mcp::RequestOptions fresh;
  fresh.no_cache = true;
  REQUIRE(client->list_tools(fresh));
  CHECK(count() == 2);
  std::this_thread::sleep_for(500ms);  // expired
  REQUIRE(client->list_tools());
  CHECK(count() == 3);
  client->disconnect();  // releases the cache too
  REQUIRE(client->list_tools());
  CHECK(count() == 4);

  auto log2 = testutil::temp_path("nocache.log");
  auto other = mcp::Client::create(testutil::one("n", testutil::fault({"--era", "modern", "--ttl-ms", "0", "--log", log2})));
  REQUIRE(other);
  REQUIRE(other->list_tools());
  REQUIRE(other->list_tools());
  int n = 0;
  for (const auto& l : log_lines(log2)) n += l.value("method", "") == "tools/list";
  CHECK(n == 2);
}

TEST_CASE("modern change notifications through subscriptions/listen, re-listened after restarts") {
  testutil::Resources before;
  {
    auto log = testutil::temp_path("listen.log");
    mcp::ClientConfig cfg = testutil::one("m", testutil::fault({"--era", "modern", "--ttl-ms", "60000", "--log", log}));
    std::mutex m;
    std::vector<std::string> events;
    cfg.handlers.on_change = [&](const std::string& server, const mcp::ChangeEvent& ev) {
      std::lock_guard lk(m);
      events.push_back(server + ":" + std::to_string(static_cast<int>(ev.kind)) + ":" + ev.uri);
    };
    auto seen = [&](const std::string& e) {
      std::lock_guard lk(m);
      return std::find(events.begin(), events.end(), e) != events.end();
    };
    auto count_method = [&](const std::string& method) {
      int n = 0;
      for (const auto& l : log_lines(log)) n += l.value("method", "") == method;
      return n;
    };
    auto client = mcp::Client::create(std::move(cfg));
    REQUIRE(client);
    REQUIRE(client->list_tools());  // connects; the listener opens subscriptions/listen
    CHECK(testutil::eventually([&] { return count_method("subscriptions/listen") == 1; }));
    for (const auto& l : log_lines(log))
      if (l.value("method", "") == "subscriptions/listen") CHECK(l["params"]["notifications"]["toolsListChanged"] == true);
    // The fixture handles each request on its own thread: wait until it has registered the
    // listen (not just received it) before touching, or the touch can come first.
    CHECK(testutil::eventually([&] {
      auto r = client->call_tool("m", "listens");
      return r && r->text() == "1";
    }));
    REQUIRE(client->call_tool("m", "touch"));
    CHECK(testutil::eventually([&] { return seen("m:0:"); }));
    // The tool list was cached (ttlMs); the change invalidated it.
    REQUIRE(client->list_tools());
    CHECK(count_method("tools/list") == 2);

    auto session = *client->session("m");
    REQUIRE(session->subscribe_resource("file:///data/a.txt"));
    CHECK(testutil::eventually([&] { return count_method("subscriptions/listen") == 2; }));
    CHECK(testutil::eventually([&] {
      auto r = client->call_tool("m", "listens");
      return r && r->text() == "1";  // the first listen was cancelled
    }));
    REQUIRE(client->call_tool("m", "touch", {{"uri", "file:///data/a.txt"}}));
    CHECK(testutil::eventually([&] { return seen("m:3:file:///data/a.txt"); }));

    // A graceful end is followed by a new listen; so is a crash (after the restart).
    REQUIRE(client->call_tool("m", "end_listen"));
    CHECK(testutil::eventually([&] { return count_method("subscriptions/listen") == 3; }));
    auto crash = client->call_tool("m", "crash");
    CHECK_FALSE(crash);
    CHECK(testutil::eventually([&] { return count_method("subscriptions/listen") == 4; }, 8000));
    client->disconnect();
  }
  CHECK_NO_LEAKS(before);
}

TEST_CASE("structuredContent is validated against the tool's outputSchema") {
  auto client = mcp::Client::create(testutil::one("o", testutil::fault({"--era", "modern"})));
  REQUIRE(client);
  auto tools = client->list_tools();
  REQUIRE(tools);
  auto good = tools->at("o_add").call({{"a", 1}, {"b", 2}});
  REQUIRE(good);
  CHECK((*good->structured_content)["result"] == 3);
  auto bad = tools->at("o_bad_output").call();
  REQUIRE_FALSE(bad);
  CHECK(bad.error().errc() == mcp::Errc::invalid_result);
  CHECK(bad.error().message.find("/result") != std::string::npos);
  auto none = tools->at("o_no_structured").call();
  REQUIRE_FALSE(none);
  CHECK(none.error().errc() == mcp::Errc::invalid_result);
  CHECK(none.error().message.find("no structuredContent") != std::string::npos);
  auto failed = tools->at("o_fail").call();  // isError results are not validated
  REQUIRE(failed);
  CHECK(failed->is_error);
}

TEST_CASE("modern multi round-trip: the whole sequence is bounded by max_total_time") {
  mcp::ClientConfig cfg = testutil::one("m", testutil::fault({"--era", "modern", "--delay-ms", "50"}));
  cfg.max_input_rounds = 1000;
  auto client = mcp::Client::create(std::move(cfg));
  REQUIRE(client);
  mcp::RequestOptions o;
  o.max_total_time = 400ms;
  auto t0 = Clock::now();
  auto r = client->call_tool("m", "ask_forever", json::object(), o);
  REQUIRE_FALSE(r);
  CHECK(r.error().errc() == mcp::Errc::timeout);
  CHECK(ms_since(t0) < 3000);
}

TEST_CASE("stdio: a server whose stdout ends while its stderr stays open costs no busy loop") {
  // The server closes stdout at once but lives on (stderr still open, captured).
  mcp::StdioServerConfig st;
  st.command = "/bin/sh";
  st.args = {"-c", "exec 1>&-; sleep 3"};
  st.shutdown_grace = std::chrono::milliseconds(200);
  mcp::ServerConfig sc;
  sc.transport = std::move(st);
  auto cfg = one("gone", std::move(sc));
  cfg.probe_timeout = std::chrono::milliseconds(1500);
  auto client = make(std::move(cfg));
  auto cpu = [] {
    rusage u{};
    ::getrusage(RUSAGE_SELF, &u);
    return (u.ru_utime.tv_sec + u.ru_stime.tv_sec) * 1000000LL + u.ru_utime.tv_usec + u.ru_stime.tv_usec;
  };
  const auto t0 = Clock::now();
  const auto c0 = cpu();
  auto s = client.session("gone");
  REQUIRE(s);
  auto r = (*s)->connect();
  CHECK_FALSE(r);
  const auto used_us = cpu() - c0;
  MESSAGE("connect took " << ms_since(t0) << " ms wall, " << used_us / 1000 << " ms CPU");
  // The reader thread drains stderr for 200 ms after stdout ends. Spinning on EPOLLHUP, it
  // burnt all of that (240 to 330 ms of CPU in all); waiting, the whole connect takes about
  // 15 ms here (93 ms under TSan). The bound leaves room for sanitizer builds, whose spin
  // would still cost the full 200 ms on top: it is bounded by the clock, not by the work. Under
  // TSan beside other tests the connect alone was seen at 187 ms: its bound is base + less
  // than the spin's 200 ms.
#if defined(__SANITIZE_THREAD__)
  CHECK(used_us < 280000);
#else
  CHECK(used_us < 180000);
#endif
  client.disconnect();
}

TEST_CASE("stdio: a progress callback that throws ends the call with its exception and cancels the request") {
  auto log = testutil::temp_path("progress-throws.log");
  auto client = make(one("p", fault({"--era", "legacy", "--log", log})));
  REQUIRE(client.server_info("p"));
  mcp::RequestOptions o;
  std::atomic<int> seen{0};
  o.on_progress = [&](const mcp::Progress&) {
    ++seen;
    throw std::runtime_error("stop right there");
  };
  const auto t0 = Clock::now();
  CHECK_THROWS_WITH_AS(client.call_tool("p", "progress", {{"steps", 3}, {"ms", 5000}}, o), "stop right there",
                       std::runtime_error);
  CHECK(seen == 1);
  CHECK(ms_since(t0) < 2000);
  CHECK(testutil::eventually([&] { return log_has_method(log_lines(log), "notifications/cancelled"); }));
  // The connection serves the next call.
  auto r = client.call_tool("p", "echo", {{"message", "after"}});
  REQUIRE(r);
  CHECK(r->text() == "after");
}

TEST_CASE("stdio: a handler that throws is contained: the server gets an internal error, the caller a typed one") {
  std::vector<std::string> diagnostics;
  std::mutex mu;
  auto watch = [&](mcp::ClientConfig& cfg) {
    cfg.handlers.roots = [](const std::string&) -> std::vector<mcp::Root> { throw std::runtime_error("secret path"); };
    cfg.on_diagnostic = [&](std::string_view, std::string_view msg) {
      std::lock_guard lk(mu);
      diagnostics.emplace_back(msg);
    };
  };
  auto saw = [&](std::string_view what) {
    std::lock_guard lk(mu);
    for (const auto& d : diagnostics)
      if (d.find(what) != std::string::npos) return true;
    return false;
  };
  {
    // Legacy: roots/list reaches the handler on the connection's worker thread; before, what
    // it threw ended the process. The fixture echoes the answer it got as a text block.
    auto cfg = one("l", fault({"--era", "legacy", "--request-roots"}));
    watch(cfg);
    auto client = mcp::Client::create(std::move(cfg));
    REQUIRE(client);
    auto r = client->call_tool("l", "echo", {{"message", "x"}});
    REQUIRE_MESSAGE(r, (r ? "" : r.error().what()));
    const std::string text = r->text();
    CHECK(text.find("-32603") != std::string::npos);
    CHECK(text.find("secret path") == std::string::npos);  // the exception's text stays here
    CHECK(saw("roots/list handler threw: secret path"));
    CHECK(client->call_tool("l", "echo", {{"message", "y"}}));  // the connection carries on
  }
  {
    // Modern: the input request is answered on the caller's thread; before, the exception
    // crossed call_tool.
    auto cfg = one("m", fault({"--era", "modern"}));
    watch(cfg);
    auto client = mcp::Client::create(std::move(cfg));
    REQUIRE(client);
    auto r = client->call_tool("m", "ask_roots");
    REQUIRE_FALSE(r);
    CHECK(r.error().errc() == mcp::Errc::input_required);
    auto ok = client->call_tool("m", "echo", {{"message", "z"}});
    REQUIRE(ok);
    CHECK(ok->text() == "z");
  }
}

TEST_CASE("stdio: on_stderr and on_diagnostic that throw are ignored, on the reader thread too") {
  auto cfg = one("d", fault({"--era", "legacy", "--garbage"}));
  std::atomic<int> stderr_lines{0}, diagnostics{0};
  std::get<mcp::StdioServerConfig>(cfg.servers["d"].transport).on_stderr = [&](std::string_view, std::string_view) {
    ++stderr_lines;
    throw std::runtime_error("stderr sink full");
  };
  cfg.on_diagnostic = [&](std::string_view, std::string_view) {
    ++diagnostics;
    throw std::runtime_error("log sink full");
  };
  auto client = mcp::Client::create(std::move(cfg));
  REQUIRE(client);
  auto r = client->call_tool("d", "stderr", {{"lines", 3}});
  REQUIRE_MESSAGE(r, (r ? "" : r.error().what()));
  CHECK(testutil::eventually([&] { return stderr_lines >= 3; }));
  CHECK(diagnostics >= 1);  // the non-JSON line before the first reply
  CHECK(client->call_tool("d", "echo", {{"message", "still here"}}));
}

TEST_CASE("features: server logs and list changes reach the callbacks, tagged with the server") {
  mcp::ClientConfig cfg = testutil::one("fx", testutil::fault({"--era", "legacy"}));
  std::mutex m;
  std::vector<std::string> logs, changes;
  cfg.handlers.on_log = [&](const std::string& server, const mcp::LogMessage& msg) {
    std::lock_guard lk(m);
    logs.push_back(server + ":" + msg.level + ":" + msg.data.dump());
  };
  cfg.handlers.on_change = [&](const std::string& server, const mcp::ChangeEvent& ev) {
    std::lock_guard lk(m);
    changes.push_back(server + ":" + std::to_string(static_cast<int>(ev.kind)));
  };
  auto client = make(std::move(cfg));
  auto r = client.call_tool("fx", "notify");
  REQUIRE(r);
  std::lock_guard lk(m);
  REQUIRE(logs.size() == 1);
  CHECK(logs[0] == "fx:info:\"notify tool\"");
  REQUIRE(changes.size() == 1);
  CHECK(changes[0] == "fx:0");
}

// Every thread the process starts goes through pthread_create (std::thread does): counted here,
// then created by the real one.
namespace {
std::atomic<long> threads_created{0};
}  // namespace
extern "C" int pthread_create(pthread_t* thread, const pthread_attr_t* attr, void* (*fn)(void*), void* arg) {
  using Real = int (*)(pthread_t*, const pthread_attr_t*, void* (*)(void*), void*);
  static const Real real = reinterpret_cast<Real>(::dlsym(RTLD_NEXT, "pthread_create"));
  threads_created.fetch_add(1);
  return real(thread, attr, fn, arg);
}

TEST_CASE("listing over several servers asks them all at once and starts no thread per call") {
  mcp::ClientConfig cfg;
  cfg.id = "list-no-threads";
  for (const char* name : {"a", "b", "c", "d"}) cfg.servers.emplace(name, fault({"--era", "modern", "--delay-ms", "300"}));
  cfg.servers.emplace("l", fault({"--era", "legacy", "--delay-ms", "300"}));
  auto client = make(std::move(cfg));
  // The first listing connects the five (side by side) and starts their readers and workers:
  // the count sees those threads (so it would see a thread per server per call).
  const long at_start = threads_created.load();
  auto first = client.list_tools();
  REQUIRE_MESSAGE(first, (first ? "" : first.error().what()));
  CHECK(threads_created.load() - at_start >= 4);
  CHECK(first->count("l_echo") == 1);
  {
    const long before = threads_created.load();
    const auto t0 = Clock::now();
    auto tools = client.list_tools();
    const auto took = ms_since(t0);
    REQUIRE_MESSAGE(tools, (tools ? "" : tools.error().what()));
    for (const char* key : {"a_echo", "b_echo", "c_echo", "d_echo", "l_echo"}) CHECK(tools->count(key) == 1);
    CHECK(threads_created.load() - before == 0);
    // Five replies each 300 ms late, in parallel: well under the 1500 ms one after another.
    CHECK_MESSAGE(took < 1200, took);
  }
  const long before = threads_created.load();
  auto resources = client.list_resources();
  auto prompts = client.list_prompts();
  auto templates = client.list_resource_templates();
  auto sets = client.list_toolsets_partial();
  CHECK(threads_created.load() - before == 0);
  CHECK(resources.value.size() + resources.errors.size() == 5);
  CHECK(prompts.value.size() + prompts.errors.size() == 5);
  CHECK(templates.value.size() + templates.errors.size() == 5);
  CHECK(sets.value.size() == 5);
  CHECK(sets.errors.empty());
}
