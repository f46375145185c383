// The asynchronous API (Session/Client async_*, mcp/async.hpp, mcp/asio.hpp) over both
// transports: results, timeouts, cancellation, progress, where completions run, what a blocking
// call from a completion gets, listings, and the threads it takes with many calls in flight.
#include "transports.hpp"

#include <mcp/asio.hpp>

#include <boost/asio/bind_cancellation_slot.hpp>
#include <boost/asio/bind_executor.hpp>
#include <boost/asio/cancellation_signal.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <doctest/doctest.h>

#include <atomic>
#include <condition_variable>
#include <deque>
#include <functional>
#include <future>
#include <mutex>
#include <sstream>
#include <thread>
#include <variant>
#include <vector>

using namespace std::chrono_literals;
using testutil::Over;
namespace asio = boost::asio;

namespace {
using Clock = std::chrono::steady_clock;
using testutil::ms_since;

mcp::Client make(const testutil::Served& s, std::chrono::milliseconds timeout = 10s,
                 std::function<void(std::function<void()>)> executor = nullptr) {
  auto cfg = testutil::one("cc", s.server());
  cfg.request_timeout = timeout;
  cfg.executor = std::move(executor);
  auto c = mcp::Client::create(std::move(cfg));
  REQUIRE_MESSAGE(c.has_value(), (c ? "" : c.error().what()));
  return std::move(*c);
}

// Waits for `n` completions (bounded).
struct Latch {
  std::mutex m;
  std::condition_variable cv;
  int left;
  explicit Latch(int n) : left(n) {}
  void count_down() {
    std::lock_guard lk(m);
    if (--left == 0) cv.notify_all();
  }
  bool wait(std::chrono::milliseconds d = 30s) {
    std::unique_lock lk(m);
    return cv.wait_for(lk, d, [&] { return left == 0; });
  }
};

bool cancelled_logged(const std::string& log) {
  std::istringstream in(testutil::read_file(log));
  for (std::string line; std::getline(in, line);) {
    const auto l = nlohmann::json::parse(line, nullptr, false);
    if (l.is_object() && l.value("method", "") == "notifications/cancelled") return true;
  }
  return false;
}
}  // namespace

TEST_CASE("async calls complete with their own results, off the caller's thread, connecting lazily") {
  for (const Over over : testutil::kBothTransports) {
    CAPTURE(over);
    testutil::Served s(over, {"--era", "legacy", "--delay-ms", "20"}, {"--mode", "modern", "--sse"});
    auto client = make(s);
    // The first call opens the connection (on a blocking worker), the rest go out at once.
    constexpr int n = 50;
    Latch latch(n);
    std::atomic<int> ok{0}, inline_calls{0};
    const auto caller = std::this_thread::get_id();
    for (int i = 0; i < n; ++i) {
      const std::string msg = "m" + std::to_string(i);
      client.async_call_tool("cc", "echo", {{"message", msg}}, [&, msg](mcp::Result<mcp::CallToolResult> r) {
        if (std::this_thread::get_id() == caller) ++inline_calls;
        if (r && r->text() == msg) ++ok;
        latch.count_down();
      });
    }
    REQUIRE(latch.wait());
    CHECK(ok == n);
    CHECK(inline_calls == 0);
    // std::future and the session's own API.
    auto f = client.async_call_tool("cc", "echo", {{"message", "fut"}}, mcp::use_future);
    REQUIRE(f.wait_for(10s) == std::future_status::ready);
    auto r = f.get();
    REQUIRE(r);
    CHECK(r->text() == "fut");
    auto session = client.session("cc");
    REQUIRE(session);
    auto tools = (*session)->async_list_tools({}, mcp::use_future).get();
    REQUIRE(tools);
    CHECK(tools->size() > 3);
    auto flat = client.async_list_tools({}, mcp::use_future).get();
    REQUIRE(flat);
    REQUIRE(flat->count("cc_echo") == 1);
    auto by_handle = flat->at("cc_echo").async_call({{"message", "handle"}}, mcp::use_future).get();
    REQUIRE(by_handle);
    CHECK(by_handle->text() == "handle");
    CHECK((*session)->async_ping({}, mcp::use_future).get());
    // An unknown server and a moved-from client fail through the completion, never inline.
    std::atomic<bool> ran_inline{true};
    auto unknown = client.async_call_tool("nope", "echo", {}, mcp::use_future).get();
    REQUIRE_FALSE(unknown);
    CHECK(unknown.error().errc() == mcp::Errc::unknown_server);
    Latch one(1);
    client.async_call_tool("nope", "echo", {}, [&](mcp::Result<mcp::CallToolResult>) {
      ran_inline = std::this_thread::get_id() == caller;
      one.count_down();
    });
    REQUIRE(one.wait());
    CHECK_FALSE(ran_inline);
  }
}

TEST_CASE("async listings follow pagination to the end and refuse a loop, as the blocking ones") {
  testutil::Served s(Over::stdio, {"--era", "modern", "--page-size", "2", "--tools-count", "7"}, {});
  auto client = make(s);
  auto session = client.session("cc");
  REQUIRE(session);
  auto blocking = (*session)->list_tools();
  REQUIRE(blocking);
  auto async = (*session)->async_list_tools({}, mcp::use_future).get();
  REQUIRE(async);
  CHECK(async->size() == blocking->size());
  CHECK(async->size() > 7);
  // The same outcome as the blocking listing, whatever the fixture offers.
  auto resources = client.async_list_resources({}, mcp::use_future).get();
  REQUIRE(resources);
  const auto blocking_resources = client.list_resources();
  CHECK(resources->value.size() == blocking_resources.value.size());
  CHECK(resources->errors.size() == blocking_resources.errors.size());
  for (const auto& [server, e] : blocking_resources.errors) {
    REQUIRE(resources->errors.count(server) == 1);
    CHECK(resources->errors.at(server).errc() == e.errc());
  }
  auto prompts = (*session)->async_list_prompts({}, mcp::use_future).get();
  auto blocking_prompts = (*session)->list_prompts();
  CHECK(prompts.has_value() == blocking_prompts.has_value());
  if (prompts && blocking_prompts) CHECK(prompts->size() == blocking_prompts->size());
}

TEST_CASE("async timeout and cancellation: typed errors in time, the server is told, the connection goes on") {
  for (const Over over : testutil::kBothTransports) {
    CAPTURE(over);
    const auto log = testutil::temp_path("async-cancel.log");
    testutil::Served s(over, {"--era", "legacy", "--log", log}, {"--mode", "modern", "--sse"});
    auto client = make(s);
    REQUIRE(client.server_info("cc"));
    mcp::RequestOptions o;
    o.timeout = 300ms;
    auto t0 = Clock::now();
    auto r = client.async_call_tool("cc", "sleep", {{"ms", 5000}}, o, mcp::use_future).get();
    REQUIRE_FALSE(r);
    CHECK(r.error().errc() == mcp::Errc::timeout);
    CHECK(ms_since(t0) < 2000);
    if (!s.http()) CHECK(testutil::eventually([&] { return cancelled_logged(log); }));

    std::stop_source src;
    mcp::RequestOptions c;
    c.stop = src.get_token();
    t0 = Clock::now();
    auto f = client.async_call_tool("cc", "sleep", {{"ms", 5000}}, c, mcp::use_future);
    std::this_thread::sleep_for(100ms);
    src.request_stop();
    REQUIRE(f.wait_for(3s) == std::future_status::ready);
    auto rc = f.get();
    REQUIRE_FALSE(rc);
    CHECK(rc.error().errc() == mcp::Errc::cancelled);
    CHECK(ms_since(t0) < 2000);
    // A token stopped already: cancelled without a request.
    auto again = client.async_call_tool("cc", "echo", {{"message", "x"}}, c, mcp::use_future).get();
    REQUIRE_FALSE(again);
    CHECK(again.error().errc() == mcp::Errc::cancelled);
    auto after = client.async_call_tool("cc", "echo", {{"message", "after"}}, mcp::use_future).get();
    REQUIRE(after);
    CHECK(after->text() == "after");
  }
}

TEST_CASE("async progress arrives in order before the completion; a blocking call inside a completion is refused") {
  for (const Over over : testutil::kBothTransports) {
    CAPTURE(over);
    testutil::Served s(over, {"--era", "legacy"}, {"--mode", "modern", "--sse"});
    auto client = make(s);
    REQUIRE(client.server_info("cc"));
    if (!s.http()) {  // the HTTP fixture has no progress tool
      std::mutex m;
      std::vector<double> seen;
      bool completed = false, progress_after_completion = false;
      mcp::RequestOptions o;
      o.on_progress = [&](const mcp::Progress& p) {
        std::lock_guard lk(m);
        if (completed) progress_after_completion = true;
        seen.push_back(p.progress);
      };
      Latch latch(1);
      mcp::Result<mcp::CallToolResult> got = mcp::fail(mcp::Errc::timeout, "not yet");
      client.async_call_tool("cc", "progress", {{"steps", 5}, {"ms", 50}}, o, [&](mcp::Result<mcp::CallToolResult> r) {
        {
          std::lock_guard lk(m);
          completed = true;
          got = std::move(r);
        }
        latch.count_down();
      });
      REQUIRE(latch.wait());
      REQUIRE_MESSAGE(got, (got ? "" : got.error().what()));
      CHECK(got->text() == "done");
      std::lock_guard lk(m);
      CHECK_FALSE(progress_after_completion);
      CHECK(seen == std::vector<double>{1, 2, 3, 4, 5});

    }

    // A blocking call from a completion on the library's thread would wait for that very thread.
    Latch nested(1);
    std::optional<mcp::Result<mcp::CallToolResult>> blocked;
    client.async_call_tool("cc", "echo", {{"message", "outer"}}, [&](mcp::Result<mcp::CallToolResult>) {
      blocked = client.call_tool("cc", "echo", {{"message", "inner"}});
      nested.count_down();
    });
    REQUIRE(nested.wait());
    REQUIRE(blocked);
    REQUIRE_FALSE(*blocked);
    CHECK(blocked->error().errc() == mcp::Errc::invalid_argument);
  }
}

TEST_CASE("async completions run on ClientConfig::executor when one is given") {
  for (const Over over : testutil::kBothTransports) {
    CAPTURE(over);
    testutil::Served s(over, {"--era", "legacy"}, {"--mode", "legacy"});
    // A one-thread executor: blocking calls are allowed there.
    std::mutex m;
    std::condition_variable cv;
    std::deque<std::function<void()>> tasks;
    bool stop = false;
    std::thread::id exec_id;
    std::thread exec([&] {
      exec_id = std::this_thread::get_id();
      std::unique_lock lk(m);
      for (;;) {
        cv.wait(lk, [&] { return stop || !tasks.empty(); });
        if (tasks.empty()) return;
        auto t = std::move(tasks.front());
        tasks.pop_front();
        lk.unlock();
        t();
        // Destroyed before the lock is taken again: a task may own the last reference to a
        // session, whose close waits for the reader thread, which may be posting here
        // (ClientConfig::executor says so).
        t = nullptr;
        lk.lock();
      }
    });
    std::atomic<int> posted{0};
    {
      auto client = make(s, 10s, [&](std::function<void()> t) {
        ++posted;
        std::lock_guard lk(m);
        tasks.push_back(std::move(t));
        cv.notify_one();
      });
      Latch latch(1);
      bool on_exec = false;
      std::optional<mcp::Result<mcp::CallToolResult>> inner;
      client.async_call_tool("cc", "echo", {{"message", "x"}}, [&](mcp::Result<mcp::CallToolResult> r) {
        on_exec = std::this_thread::get_id() == exec_id && r.has_value();
        inner = client.call_tool("cc", "echo", {{"message", "inner"}});  // allowed on an executor
        latch.count_down();
      });
      REQUIRE(latch.wait());
      CHECK(on_exec);
      REQUIRE(inner);
      CHECK(*inner);
      CHECK(posted >= 1);
    }
    {
      std::lock_guard lk(m);
      stop = true;
    }
    cv.notify_all();
    exec.join();
  }
}

TEST_CASE("disconnect with async calls in flight: each completes with disconnected, nothing leaks") {
  for (const Over over : testutil::kBothTransports) {
    CAPTURE(over);
    testutil::Resources before;
    {
      testutil::Served s(over, {"--era", "legacy"}, {"--mode", "modern", "--sse"});
      auto client = make(s);
      REQUIRE(client.server_info("cc"));
      constexpr int n = 20;
      std::vector<std::future<mcp::Result<mcp::CallToolResult>>> fs;
      for (int i = 0; i < n; ++i) fs.push_back(client.async_call_tool("cc", "sleep", {{"ms", 10000}}, mcp::use_future));
      std::this_thread::sleep_for(200ms);
      const auto t0 = Clock::now();
      client.disconnect();
      int disconnected = 0;
      for (auto& f : fs) {
        REQUIRE(f.wait_for(5s) == std::future_status::ready);
        auto r = f.get();
        if (!r && r.error().errc() == mcp::Errc::disconnected) ++disconnected;
      }
      CHECK(disconnected == n);
      CHECK(ms_since(t0) < 5000);
    }
    CHECK_NO_LEAKS(before);
  }
}

TEST_CASE("chains of async calls, each started by its predecessor's completion, all complete") {
  // The next call of a chain leaves when the completion that started it returns: over stdio in
  // the reader thread's next write, over HTTP on the thread of the flight that just ended. A
  // completion that starts two calls, and one that disconnects after starting one, too.
  for (const Over over : testutil::kBothTransports) {
    CAPTURE(over);
    testutil::Served s(over, {"--era", "legacy"}, {"--mode", "modern", "--sse"});
    auto client = make(s);
    REQUIRE(client.server_info("cc"));
    constexpr int chains = 8, per_chain = 40;
    Latch latch(chains + 1);  // and the fork's second branch
    std::atomic<int> ok{0}, bad{0};
    std::function<void(int, int)> step = [&](int c, int i) {
      if (i == per_chain) return latch.count_down();
      const std::string msg = std::to_string(c) + "." + std::to_string(i);
      client.async_call_tool("cc", "echo", {{"message", msg}}, [&, c, i, msg](mcp::Result<mcp::CallToolResult> r) {
        if (r && r->text() == msg) ++ok;
        else ++bad;
        if (c == 0 && i == 10) step(chains, 0);  // a second chain from the same completion
        step(c, i + 1);
      });
    };
    const auto t0 = Clock::now();
    for (int c = 0; c < chains; ++c) step(c, 0);
    REQUIRE(latch.wait());
    CHECK(ok == (chains + 1) * per_chain);
    CHECK(bad == 0);
    CHECK(ms_since(t0) < 20000);

    // disconnect() from a completion (test_disconnect_reentry.cpp has the rest of that).
    std::promise<mcp::Result<mcp::CallToolResult>> after;
    auto after_f = after.get_future();
    Latch closed(1);
    client.async_call_tool("cc", "echo", {{"message", "last"}}, [&](mcp::Result<mcp::CallToolResult> r) {
      CHECK(r);
      client.async_call_tool("cc", "echo", {{"message", "after"}},
                             [&](mcp::Result<mcp::CallToolResult> r2) { after.set_value(std::move(r2)); });
      client.disconnect();
      closed.count_down();
    });
    REQUIRE(closed.wait(10s));
    REQUIRE(after_f.wait_for(10s) == std::future_status::ready);
    auto r = after_f.get();
    // Sent before the disconnect and answered, or ended by it: never left waiting.
    if (!r) CHECK(r.error().errc() == mcp::Errc::disconnected);
    else CHECK(r->text() == "after");
  }
}

TEST_CASE("many async calls in flight over stdio take a bounded number of library threads") {
  // 2,000 calls of a 300 ms sleep at once on one connection: the process's threads stay a few
  // above what they were (reader, timer, a worker), independent of the number of calls.
  testutil::Served s(Over::stdio, {"--era", "legacy"}, {});
  auto client = make(s, 30s);
  REQUIRE(client.server_info("cc"));
  const auto base = testutil::list_dir("/proc/self/task").size();
  constexpr int n = 2000;
  Latch latch(n);
  std::atomic<int> ok{0};
  std::size_t peak = 0;
  for (int i = 0; i < n; ++i)
    client.async_call_tool("cc", "sleep", {{"ms", 300}}, [&](mcp::Result<mcp::CallToolResult> r) {
      if (r) ++ok;
      latch.count_down();
    });
  for (int i = 0; i < 20; ++i) {
    peak = std::max(peak, testutil::list_dir("/proc/self/task").size());
    std::this_thread::sleep_for(10ms);
  }
  REQUIRE(latch.wait(60s));
  CHECK(ok == n);
  CHECK(peak <= base + 3);
}

TEST_CASE("asio: co_await a call, and a cancellation slot cancels it") {
  for (const Over over : testutil::kBothTransports) {
    CAPTURE(over);
    testutil::Served s(over, {"--era", "legacy"}, {"--mode", "modern", "--sse"});
    auto client = make(s);
    asio::io_context io;
    std::optional<mcp::Result<mcp::CallToolResult>> echoed, cancelled;
    asio::co_spawn(
        io,
        [&]() -> asio::awaitable<void> {
          nlohmann::json args = nlohmann::json::object();  // GCC 12: no braced lists inside co_await
          args["message"] = "co";
          echoed = co_await client.async_call_tool("cc", "echo", std::move(args), asio::use_awaitable);
        },
        asio::detached);
    asio::cancellation_signal signal;
    // Bound to the io_context: the call in flight is work, run_for() waits for it.
    client.async_call_tool("cc", "sleep", {{"ms", 5000}},
                           asio::bind_cancellation_slot(
                               signal.slot(), asio::bind_executor(io, [&](mcp::Result<mcp::CallToolResult> r) {
                                 cancelled = std::move(r);
                               })));
    asio::steady_timer timer(io, 200ms);
    timer.async_wait([&](auto) { signal.emit(asio::cancellation_type::terminal); });
    const auto t0 = Clock::now();
    io.run_for(10s);  // returns once both are done: the calls in flight count as work
    CHECK(ms_since(t0) < 5000);
    REQUIRE(echoed);
    REQUIRE(*echoed);
    CHECK((*echoed)->text() == "co");
    REQUIRE(cancelled);
    REQUIRE_FALSE(*cancelled);
    CHECK(cancelled->error().errc() == mcp::Errc::cancelled);
  }
}
