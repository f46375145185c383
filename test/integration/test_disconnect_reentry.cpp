// disconnect() and the Client's destruction on the library's own threads (include/mcp/client.hpp,
// docs/ARCHITECTURE.md "Closing from a callback"): from a completion (on the thread that read the
// reply, and on the timer thread for a timeout), from a progress callback, from the on_log
// handler and from an elicitation handler; over stdio and Streamable HTTP, in both eras (the
// legacy elicitation runs on the engine's worker, the modern one on a blocking worker). The
// server is tool_server (test/servers, on libmcp-server): the one fixture with progress, logs
// and elicitation in both eras over both transports.
//
// Each round: a slow call in flight, the call that triggers the callback, disconnect() there
// (bounded: no deadlock), then the Client destroyed (from the test's thread, or inside the
// callback on odd rounds); the slow call ends with Errc::disconnected, the triggering call with
// its own outcome; a new client works; no descriptor is left. Then no thread, descriptor or
// child is left. MCP_REENTRY_LOOPS sets the rounds per case (default 4; a few dozen to hunt
// races, under the sanitizers too).
#include "transports.hpp"

#include "../server/tool_server_path.hpp"

#include <doctest/doctest.h>

#include <atomic>
#include <condition_variable>
#include <cstdio>
#include <cstdlib>
#include <future>
#include <mutex>
#include <optional>
#include <string>
#include <thread>

using namespace std::chrono_literals;
using nlohmann::json;

namespace {

using Clock = std::chrono::steady_clock;
using testutil::ms_since;

int loops() {
  const char* e = std::getenv("MCP_REENTRY_LOOPS");
  const int n = e && *e ? std::atoi(e) : 4;
  return n > 0 ? n : 4;
}

enum class Trigger { completion, timeout_completion, progress, log, elicitation };
constexpr Trigger kTriggers[] = {Trigger::completion, Trigger::timeout_completion, Trigger::progress, Trigger::log,
                                 Trigger::elicitation};

const char* name(Trigger t) {
  switch (t) {
    case Trigger::completion: return "completion";
    case Trigger::timeout_completion: return "completion of a timeout (timer thread)";
    case Trigger::progress: return "progress callback";
    case Trigger::log: return "on_log handler";
    case Trigger::elicitation: return "elicitation handler";
  }
  return "?";
}

// A flag that one thread raises and another waits for, bounded.
struct Gate {
  std::mutex m;
  std::condition_variable cv;
  bool open = false;
  void raise() {
    std::lock_guard lk(m);
    open = true;
    cv.notify_all();
  }
  bool wait(std::chrono::milliseconds d) {
    std::unique_lock lk(m);
    return cv.wait_for(lk, d, [&] { return open; });
  }
};

// Aborts the test program if a step hangs (a deadlock would otherwise end as the suite's timeout,
// saying nothing about where).
class Watchdog {
 public:
  Watchdog(std::chrono::seconds limit, std::string what) : what_(std::move(what)) {
    thread_ = std::thread([this, limit] {
      if (!done_.wait(limit)) {
        std::fprintf(stderr, "watchdog: %s did not end within %llds: deadlock?\n", what_.c_str(),
                     static_cast<long long>(limit.count()));
        std::abort();
      }
    });
  }
  ~Watchdog() {
    done_.raise();
    thread_.join();
  }

 private:
  std::string what_;
  Gate done_;
  std::thread thread_;
};

// What the callbacks of one round share with the test's thread.
struct Round {
  Trigger trigger = Trigger::completion;
  bool destroy_inside = false;  // the callback destroys the Client right after disconnect()
  std::atomic<bool> fired{false};
  Gate armed;  // the test's thread has started every call: the callback may act
  Gate done;   // the callback has disconnected (and destroyed the client, if asked)
  std::atomic<long long> disconnect_ms{-1};
  std::atomic<bool> armed_in_time{true};
  std::optional<mcp::Client> client;  // last: destroyed first (its callbacks use the rest)

  // The callback of `from`, on whichever thread the library runs it: acts once, for its trigger.
  void fire(Trigger from) {
    if (from != trigger || fired.exchange(true)) return;
    if (!armed.wait(20s)) armed_in_time = false;
    const auto t0 = Clock::now();
    client->disconnect();
    disconnect_ms = ms_since(t0);
    if (destroy_inside) client.reset();
    done.raise();  // nothing of `client` is touched from here on
  }
};

template <class T>
std::string what(const mcp::Result<T>& r) {
  return r ? std::string() : r.error().what();
}

// One outcome of an asynchronous call, waited for with a bound.
struct Outcome {
  std::promise<mcp::Result<mcp::CallToolResult>> p;
  std::future<mcp::Result<mcp::CallToolResult>> f = p.get_future();
  std::atomic<bool> set{false};
  void operator()(mcp::Result<mcp::CallToolResult> r) {
    if (!set.exchange(true)) p.set_value(std::move(r));
  }
  std::optional<mcp::Result<mcp::CallToolResult>> get(std::chrono::milliseconds d) {
    if (f.wait_for(d) != std::future_status::ready) return std::nullopt;
    return f.get();
  }
};

struct Target {
  bool http = false;
  mcp::Era era = mcp::Era::modern;
};

std::string describe(const Target& t) {
  return std::string(t.http ? "http" : "stdio") + " " + std::string(mcp::to_string(t.era));
}

mcp::ClientConfig config(const Target& t, int port, Round* round) {
  mcp::ServerConfig sc;
  if (t.http) {
    mcp::HttpServerConfig h;
    h.url = "http://127.0.0.1:" + std::to_string(port) + "/mcp";
    sc.transport = std::move(h);
  } else {
    mcp::StdioServerConfig st;
    st.command = tool_server();
    st.shutdown_grace = 300ms;
    sc.transport = std::move(st);
  }
  sc.era = t.era;
  auto cfg = testutil::one("srv", std::move(sc));
  cfg.request_timeout = 20s;
  cfg.log_level = "debug";
  if (round) {
    cfg.handlers.elicitation = [round](const std::string&, const mcp::ElicitRequest&) -> mcp::Result<mcp::ElicitResult> {
      round->fire(Trigger::elicitation);
      return mcp::ElicitResult{"accept", {{"name", "Ada"}}};
    };
    cfg.handlers.on_log = [round](const std::string&, const mcp::LogMessage&) { round->fire(Trigger::log); };
  }
  return cfg;
}

mcp::Client make(mcp::ClientConfig cfg) {
  auto c = mcp::Client::create(std::move(cfg));
  REQUIRE_MESSAGE(c.has_value(), (c ? "" : c.error().what()));
  return std::move(*c);
}

// The call that makes the library run the callback of `trigger`, its outcome going to `out`.
void start_trigger(Round& r, Outcome& out) {
  mcp::Client& c = *r.client;
  auto done = [&out](mcp::Result<mcp::CallToolResult> res) { out(std::move(res)); };
  switch (r.trigger) {
    case Trigger::completion:
      c.async_call_tool("srv", "echo", {{"text", "x"}}, [&r, &out](mcp::Result<mcp::CallToolResult> res) {
        out(std::move(res));  // before: the client may be gone after fire()
        r.fire(Trigger::completion);
      });
      return;
    case Trigger::timeout_completion: {
      mcp::RequestOptions o;
      o.timeout = 150ms;
      c.async_call_tool("srv", "sleep", {{"ms", 3000}}, o, [&r, &out](mcp::Result<mcp::CallToolResult> res) {
        out(std::move(res));
        r.fire(Trigger::timeout_completion);
      });
      return;
    }
    case Trigger::progress: {
      mcp::RequestOptions o;
      o.on_progress = [&r](const mcp::Progress&) { r.fire(Trigger::progress); };
      c.async_call_tool("srv", "sleep", {{"ms", 2000}}, o, done);
      return;
    }
    case Trigger::log:
      c.async_call_tool("srv", "whoami", {{"level", "info"}}, done);
      return;
    case Trigger::elicitation:
      c.async_call_tool("srv", "ask_name", json::object(), done);
      return;
  }
}

// What the triggering call may end with.
void check_trigger_outcome(Trigger t, const mcp::Result<mcp::CallToolResult>& r) {
  const auto errc = r ? mcp::Errc{} : r.error().errc();
  switch (t) {
    case Trigger::completion:
      REQUIRE_MESSAGE(r, what(r));
      CHECK(r->text() == "x");
      return;
    case Trigger::timeout_completion:
      REQUIRE_FALSE(r);
      CHECK(errc == mcp::Errc::timeout);
      return;
    case Trigger::progress:
    case Trigger::elicitation:
      // Disconnected while it ran (the modern elicitation's next round is not sent).
      REQUIRE_FALSE(r);
      CHECK_MESSAGE(errc == mcp::Errc::disconnected, what(r));
      return;
    case Trigger::log:
      // Its reply may have come with the log line (its completion waits behind the handler).
      if (!r) CHECK_MESSAGE(errc == mcp::Errc::disconnected, what(r));
      return;
  }
}

void one_round(const Target& t, int port, Trigger trigger, bool destroy_inside, std::size_t fds_before) {
  Watchdog wd(90s, describe(t) + ", disconnect from the " + name(trigger));
  Outcome out;  // before the round: a late completion may still reach it while the client goes
  Round r;
  r.trigger = trigger;
  r.destroy_inside = destroy_inside;
  r.client.emplace(make(config(t, port, &r)));
  // A call in flight across the disconnect.
  auto slow = r.client->async_call_tool("srv", "sleep", {{"ms", 3000}}, mcp::use_future);
  start_trigger(r, out);
  r.armed.raise();
  REQUIRE_MESSAGE(r.done.wait(30s), "the callback never ran, or its disconnect() never returned");
  CHECK(r.armed_in_time.load());
  CHECK(r.disconnect_ms.load() >= 0);
  CHECK(r.disconnect_ms.load() < 10000);
  // The other call ends at once, typed.
  REQUIRE(slow.wait_for(10s) == std::future_status::ready);
  auto s = slow.get();
  REQUIRE_FALSE(s);
  CHECK_MESSAGE(s.error().errc() == mcp::Errc::disconnected, what(s));
  auto o = out.get(10s);
  REQUIRE_MESSAGE(o, "the triggering call never completed");
  check_trigger_outcome(trigger, *o);
  // Destroyed right after (unless the callback did): returns once the callback has returned.
  const auto t0 = Clock::now();
  r.client.reset();
  CHECK(ms_since(t0) < 10000);
  // A new client works.
  {
    auto again = make(config(t, port, nullptr));
    auto e = again.call_tool("srv", "echo", {{"text", "again"}});
    REQUIRE_MESSAGE(e, what(e));
    CHECK(e->text() == "again");
  }
  CHECK(testutil::eventually([&] { return testutil::open_fds() <= fds_before; }, 5000));
}

void run_target(const Target& t, int port) {
  testutil::Resources before;
  const int n = loops();
  const auto t0 = Clock::now();
  for (const Trigger trigger : kTriggers) {
    for (int i = 0; i < n; ++i) {
      CAPTURE(describe(t));
      const std::string trigger_name = name(trigger);
      CAPTURE(trigger_name);
      CAPTURE(i);
      one_round(t, port, trigger, i % 2 == 1, before.fds);
    }
  }
  MESSAGE(describe(t) << ": " << n * static_cast<int>(std::size(kTriggers)) << " rounds in " << ms_since(t0) << " ms");
  CHECK_NO_LEAKS(before);
}

}  // namespace

TEST_CASE("disconnect() from a completion, a progress callback, on_log or an elicitation handler, then destroy: stdio") {
  for (const mcp::Era era : {mcp::Era::modern, mcp::Era::legacy}) run_target({false, era}, 0);
}

TEST_CASE("disconnect() from a completion, a progress callback, on_log or an elicitation handler, then destroy: HTTP") {
  const int port = testutil::free_port();
  testutil::ServerProcess server({tool_server(), "--http", std::to_string(port)}, {},
                                 testutil::temp_path("reentry-tool-server.log"));
  REQUIRE(testutil::eventually([&] { return testutil::port_open(port); }, 10000));
  for (const mcp::Era era : {mcp::Era::modern, mcp::Era::legacy}) run_target({true, era}, port);
}
