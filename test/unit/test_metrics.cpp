// mcp::Metrics: the Prometheus text it writes (families, escaping, cumulative histograms,
// counters that only go up), its bounds (max_series), its options, and many threads at once.
// A real ClientPool (no server: clients connect lazily) feeds the pool families.
#include <mcp/metrics.hpp>
#include <mcp/pool.hpp>

#include <doctest/doctest.h>

#include <atomic>
#include <cmath>
#include <map>
#include <sstream>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

using namespace std::chrono_literals;

namespace {

// Each sample line as "name{labels}" -> value (the text as written, labels unparsed).
std::map<std::string, double> samples_of(const std::string& text) {
  std::map<std::string, double> out;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) {
    if (line.empty() || line[0] == '#') continue;
    const auto space = line.rfind(' ');
    if (space == std::string::npos) {  // never written: shows up as an unexpected key
      out["malformed: " + line] = -1;
      continue;
    }
    const std::string value = line.substr(space + 1);
    out[line.substr(0, space)] = value == "+Inf" ? 1e308 : std::stod(value);
  }
  return out;
}

std::size_t count_of(const std::string& text, const std::string& what) {
  std::size_t n = 0;
  for (auto at = text.find(what); at != std::string::npos; at = text.find(what, at + 1)) ++n;
  return n;
}

mcp::RequestEvent start(std::string_view server, std::string_view method) {
  mcp::RequestEvent e;
  e.phase = mcp::RequestEvent::Phase::start;
  e.server = server;
  e.method = method;
  return e;
}

mcp::RequestEvent end(std::string_view server, std::string_view method, std::chrono::nanoseconds d,
                      mcp::RequestEvent::Outcome outcome = mcp::RequestEvent::Outcome::ok, mcp::Era era = mcp::Era::modern,
                      const mcp::Error* error = nullptr) {
  mcp::RequestEvent e;
  e.phase = mcp::RequestEvent::Phase::end;
  e.server = server;
  e.method = method;
  e.era = era;
  e.duration = d;
  e.outcome = outcome;
  e.error = error;
  return e;
}

void request(mcp::Metrics& m, std::string_view server, std::string_view method, std::chrono::nanoseconds d,
             mcp::RequestEvent::Outcome outcome = mcp::RequestEvent::Outcome::ok, const mcp::Error* error = nullptr) {
  m.observe(start(server, method));
  m.observe(end(server, method, d, outcome, mcp::Era::modern, error));
}

const std::string kOk = R"(server="s",method="tools/call",era="modern",outcome="ok")";

}  // namespace

TEST_CASE("metrics: every request family is declared once, with HELP and TYPE, even before anything happened") {
  mcp::Metrics m;
  const std::string t = m.text();
  for (const char* family : {"mcp_client_request_duration_seconds histogram", "mcp_client_request_errors_total counter",
                             "mcp_client_requests_in_flight gauge"}) {
    CAPTURE(family);
    CHECK(count_of(t, std::string("# TYPE ") + family + "\n") == 1);
  }
  CHECK(count_of(t, "# HELP ") == 3);
  CHECK(count_of(t, "# TYPE ") == 3);
  CHECK(samples_of(t).empty());
  CHECK(t.find("mcp_pool_") == std::string::npos);  // no pool added
  CHECK(mcp::Metrics::content_type == "text/plain; version=0.0.4; charset=utf-8");
}

TEST_CASE("metrics: histogram buckets are cumulative, le inclusive, +Inf equals _count, _sum in seconds") {
  auto m = mcp::Metrics::create({.buckets = {0.001, 0.01, 1}});
  REQUIRE(m);
  request(*m, "s", "tools/call", 500us);
  request(*m, "s", "tools/call", 1ms);  // on the bound: counted in le="0.001"
  request(*m, "s", "tools/call", 3ms);
  request(*m, "s", "tools/call", 2s);
  request(*m, "s", "tools/call", 100s);
  const std::string t = m->text();
  const auto s = samples_of(t);
  const std::string b = "mcp_client_request_duration_seconds_bucket{" + kOk;
  CHECK(s.at(b + R"(,le="0.001"})") == 2);
  CHECK(s.at(b + R"(,le="0.01"})") == 3);
  CHECK(s.at(b + R"(,le="1"})") == 3);
  CHECK(s.at(b + R"(,le="+Inf"})") == 5);
  CHECK(s.at("mcp_client_request_duration_seconds_count{" + kOk + "}") == 5);
  CHECK(s.at("mcp_client_request_duration_seconds_sum{" + kOk + "}") == doctest::Approx(102.0045));
  // Buckets before _sum and _count, in increasing le, each label set once.
  const auto first = t.find(b);
  CHECK(first < t.find(b + R"(,le="0.01"})"));
  CHECK(t.find(b + R"(,le="+Inf"})") < t.find("mcp_client_request_duration_seconds_sum{"));
  CHECK(s.at(R"(mcp_client_requests_in_flight{server="s",method="tools/call"})") == 0);
  // Cells that saw nothing are not written.
  CHECK(t.find(R"(outcome="error")") == std::string::npos);
  CHECK(t.find(R"(era="legacy")") == std::string::npos);
}

TEST_CASE("metrics: outcomes, eras and error kinds each get their series; in-flight follows start and end") {
  mcp::Metrics m;
  const auto timeout = mcp::Error::make(mcp::Errc::timeout, "slow");
  const auto denied = mcp::Error::make(mcp::Errc::unauthorized, "no");
  const auto refused = mcp::Error::make(mcp::Errc::rpc_error, "no such tool");
  request(m, "s", "tools/call", 1ms, mcp::RequestEvent::Outcome::timeout, &timeout);
  request(m, "s", "tools/call", 1ms, mcp::RequestEvent::Outcome::error, &denied);
  request(m, "s", "tools/call", 1ms, mcp::RequestEvent::Outcome::error, &refused);
  request(m, "s", "tools/call", 1ms, mcp::RequestEvent::Outcome::cancelled);  // no Error: kind from the outcome
  m.observe(start("s", "tools/list"));
  m.observe(end("s", "tools/list", 1ms, mcp::RequestEvent::Outcome::ok, mcp::Era::legacy));
  m.observe(start("s", "tools/list"));
  m.observe(start("s", "tools/list"));
  const auto s = samples_of(m.text());
  const std::string c = R"(mcp_client_request_duration_seconds_count{server="s",method="tools/call",era="modern",outcome=)";
  CHECK(s.at(c + R"("timeout"})") == 1);
  CHECK(s.at(c + R"("error"})") == 2);
  CHECK(s.at(c + R"("cancelled"})") == 1);
  CHECK(s.count(c + R"("ok"})") == 0);
  CHECK(s.at(R"(mcp_client_request_duration_seconds_count{server="s",method="tools/list",era="legacy",outcome="ok"})") == 1);
  const std::string e = R"(mcp_client_request_errors_total{server="s",method="tools/call",kind=)";
  CHECK(s.at(e + R"("timeout"})") == 1);
  CHECK(s.at(e + R"("auth"})") == 1);
  CHECK(s.at(e + R"("protocol"})") == 1);
  CHECK(s.at(e + R"("cancelled"})") == 1);
  CHECK(s.at(R"(mcp_client_requests_in_flight{server="s",method="tools/list"})") == 2);
}

TEST_CASE("metrics: label values escaped (backslash, quote, newline), invalid UTF-8 replaced, valid UTF-8 kept") {
  mcp::Metrics m;
  request(m, "a\\b\"c\nd", "x/é", 1ms);
  request(m, std::string("bad\xff\xc0\x80\xed\xa0\x80" "end"), "m", 1ms);  // 0xff, an overlong, a surrogate
  request(m, std::string("cut\xe2\x82"), "m", 1ms);                      // truncated sequence
  const std::string t = m.text();
  CHECK(t.find(R"(mcp_client_requests_in_flight{server="a\\b\"c\nd",method="x/é"} 0)") != std::string::npos);
  // Each byte that starts no valid sequence becomes one U+FFFD.
  CHECK(t.find("server=\"bad\xEF\xBF\xBD\xEF\xBF\xBD\xEF\xBF\xBD\xEF\xBF\xBD\xEF\xBF\xBD\xEF\xBF\xBD" "end\"") !=
        std::string::npos);
  CHECK(t.find("server=\"cut\xEF\xBF\xBD\xEF\xBF\xBD\"") != std::string::npos);
  CHECK(t.find('\r') == std::string::npos);
  CHECK(t.back() == '\n');
}

TEST_CASE("metrics: counters and buckets only go up from one scrape to the next") {
  mcp::Metrics m;
  std::map<std::string, double> last;
  for (int round = 0; round < 5; ++round) {
    for (int i = 0; i <= round; ++i) request(m, "s" + std::to_string(i), "tools/call", std::chrono::milliseconds(i * 7));
    const auto now = samples_of(m.text());
    for (const auto& [key, v] : last) {
      if (key.find("_in_flight") != std::string::npos) continue;
      CAPTURE(key);
      REQUIRE(now.count(key) == 1);
      CHECK(now.at(key) >= v);
    }
    CHECK(now.size() > last.size());
    last = now;
  }
}

TEST_CASE("metrics: at most max_series (server, method) pairs; later ones share server=_other") {
  auto m = mcp::Metrics::create({.max_series = 3});
  REQUIRE(m);
  for (int i = 0; i < 100; ++i) request(*m, "hostile", "method-" + std::to_string(i), 1ms);
  request(*m, "hostile", "method-1", 1ms);  // an early pair keeps its own series
  const auto s = samples_of(m->text());
  for (int i = 0; i < 3; ++i)
    CHECK(s.count(R"(mcp_client_requests_in_flight{server="hostile",method="method-)" + std::to_string(i) + R"("})") == 1);
  CHECK(s.count(R"(mcp_client_requests_in_flight{server="hostile",method="method-3"})") == 0);
  CHECK(s.at(R"(mcp_client_request_duration_seconds_count{server="hostile",method="method-1",era="modern",outcome="ok"})") == 2);
  CHECK(s.at(R"(mcp_client_request_duration_seconds_count{server="_other",method="_other",era="modern",outcome="ok"})") == 97);
  // 3 pairs: 16 buckets, _sum, _count and in-flight each; _other the same but its in-flight (0)
  CHECK(s.size() == 3 * (15 + 1 + 2 + 1) + (15 + 1 + 2));
}

TEST_CASE("metrics: options that cannot work are refused; a moved-from object records nothing") {
  using mcp::Errc;
  CHECK(mcp::Metrics::create({.max_series = 0}).error().errc() == Errc::invalid_config);
  CHECK(mcp::Metrics::create({.buckets = {0.1, 0.1}}).error().errc() == Errc::invalid_config);
  CHECK(mcp::Metrics::create({.buckets = {0.2, 0.1}}).error().errc() == Errc::invalid_config);
  CHECK(mcp::Metrics::create({.buckets = {-1}}).error().errc() == Errc::invalid_config);
  CHECK(mcp::Metrics::create({.buckets = {0}}).error().errc() == Errc::invalid_config);
  CHECK(mcp::Metrics::create({.buckets = {std::nan("")}}).error().errc() == Errc::invalid_config);
  CHECK(mcp::Metrics::create({.buckets = {1, HUGE_VAL}}).error().errc() == Errc::invalid_config);
  CHECK(mcp::Metrics::create({.buckets = {1e-10, 2e-10}}).error().errc() == Errc::invalid_config);
  CHECK(mcp::Metrics::create({.buckets = std::vector<double>(65, 1)}).error().errc() == Errc::invalid_config);
  auto none = mcp::Metrics::create({.buckets = {}});  // only +Inf
  REQUIRE(none);
  request(*none, "s", "m", 1s);
  CHECK(samples_of(none->text()).at(R"(mcp_client_request_duration_seconds_bucket{server="s",method="m",era="modern",outcome="ok",le="+Inf"})") == 1);

  mcp::Metrics a;
  auto hook = a.hook();
  mcp::Metrics b = std::move(a);
  hook(start("s", "m"));  // the hook shares the counters b now has
  CHECK(samples_of(b.text()).at(R"(mcp_client_requests_in_flight{server="s",method="m"})") == 1);
  a.observe(start("s", "m"));  // NOLINT(bugprone-use-after-move): documented to do nothing
  CHECK(a.text().empty());
  CHECK(!a.hook());
  int called = 0;
  auto passed_on = a.hook([&](const mcp::RequestEvent&) { ++called; });  // next alone
  REQUIRE(static_cast<bool>(passed_on));
  passed_on(start("s", "m"));
  CHECK(called == 1);
}

TEST_CASE("metrics: hook(next) records, then hands the same event to the application's hook") {
  mcp::Metrics m;
  std::vector<std::string> seen;
  auto hook = m.hook([&](const mcp::RequestEvent& e) {
    seen.push_back(std::string(e.server) + " " + std::string(e.method));
    // Recorded before next runs.
    CHECK(samples_of(m.text()).count(R"(mcp_client_requests_in_flight{server="s",method="ping"})") == 1);
  });
  hook(start("s", "ping"));
  hook(end("s", "ping", 1ms));
  CHECK(seen == std::vector<std::string>{"s ping", "s ping"});
}

TEST_CASE("metrics: a real pool's counters, one family per counter, evictions by reason; pools added and removed") {
  mcp::PoolOptions o;
  o.factory = [](const std::string& tenant) -> mcp::Result<mcp::ClientConfig> {
    if (tenant == "broken") return mcp::fail(mcp::Errc::invalid_config, "no such tenant");
    mcp::ClientConfig c;
    mcp::StdioServerConfig st;
    st.command = "/bin/cat";  // never started: clients connect on their first call
    c.servers["s"].transport = st;
    return c;
  };
  auto pool = mcp::ClientPool::create(std::move(o));
  REQUIRE(pool);
  mcp::Metrics m;
  m.add_pool("tenants \"A\"", **pool);
  {
    auto a = (*pool)->acquire("alice");
    REQUIRE(a);
    auto again = (*pool)->acquire("alice");
    REQUIRE(again);
    CHECK(!(*pool)->acquire("broken"));
    const auto s = samples_of(m.text());
    const std::string p = R"({pool="tenants \"A\""})";
    CHECK(s.at("mcp_pool_hits_total" + p) == 1);
    CHECK(s.at("mcp_pool_misses_total" + p) == 2);
    CHECK(s.at("mcp_pool_creations_total" + p) == 1);
    CHECK(s.at("mcp_pool_creation_failures_total" + p) == 1);
    CHECK(s.at("mcp_pool_clients" + p) == 1);
    CHECK(s.at("mcp_pool_clients_leased" + p) == 1);
  }
  (*pool)->evict("alice");
  m.add_pool("fixed", [] {
    mcp::PoolStats s;
    s.evictions_ttl = 7;
    return s;
  });
  m.add_pool("throws", []() -> mcp::PoolStats { throw std::runtime_error("gone"); });
  const std::string t = m.text();
  const auto s = samples_of(t);
  CHECK(s.at(R"(mcp_pool_evictions_total{pool="tenants \"A\"",reason="explicit"})") == 1);
  CHECK(s.at(R"(mcp_pool_evictions_total{pool="tenants \"A\"",reason="lru"})") == 0);
  CHECK(s.at(R"(mcp_pool_evictions_total{pool="fixed",reason="ttl"})") == 7);
  CHECK(t.find(R"(pool="throws")") == std::string::npos);
  CHECK(count_of(t, "# TYPE mcp_pool_evictions_total counter\n") == 1);
  CHECK(count_of(t, "# TYPE ") == 3 + 8);
  m.add_pool("fixed", [] { return mcp::PoolStats{}; });  // replaces
  CHECK(samples_of(m.text()).at(R"(mcp_pool_evictions_total{pool="fixed",reason="ttl"})") == 0);
  m.remove_pool("tenants \"A\"");
  m.remove_pool("fixed");
  m.remove_pool("nothing");
  CHECK(m.text().find("pool=") == std::string::npos);
}

TEST_CASE("metrics: many threads recording, scraping, adding pools at once; nothing lost") {
  mcp::Metrics m;
  constexpr int kThreads = 8, kPerThread = 5000, kPairs = 40;
  std::atomic<bool> done{false};
  std::atomic<int> scrapes{0};
  std::atomic<bool> went_down{false};
  std::thread scraper([&] {
    std::map<std::string, double> last;
    while (!done.load()) {
      const auto now = samples_of(m.text());
      for (const auto& [key, v] : last) {
        if (key.find("_in_flight") != std::string::npos || key.find("pool=") != std::string::npos) continue;
        if (!now.count(key) || now.at(key) < v) went_down = true;
      }
      last = now;
      ++scrapes;
    }
  });
  std::thread pools([&] {
    for (int i = 0; !done.load(); ++i) {
      m.add_pool("p" + std::to_string(i % 3), [] { return mcp::PoolStats{}; });
      m.remove_pool("p" + std::to_string((i + 1) % 3));
    }
  });
  std::vector<std::thread> workers;
  for (int t = 0; t < kThreads; ++t)
    workers.emplace_back([&, t] {
      auto hook = m.hook();
      while (scrapes.load() == 0) std::this_thread::yield();  // the scraper runs alongside
      for (int i = 0; i < kPerThread; ++i) {
        const std::string server = "s" + std::to_string((i + t) % kPairs);
        hook(start(server, "tools/call"));
        hook(end(server, "tools/call", std::chrono::microseconds(i), mcp::RequestEvent::Outcome::ok));
      }
    });
  for (auto& w : workers) w.join();
  done = true;
  scraper.join();
  pools.join();
  CHECK(scrapes.load() > 0);
  CHECK(!went_down.load());
  const auto s = samples_of(m.text());
  double total = 0;
  for (int p = 0; p < kPairs; ++p) {
    const std::string labels = R"({server="s)" + std::to_string(p) + R"(",method="tools/call")";
    total += s.at("mcp_client_request_duration_seconds_count" + labels + R"(,era="modern",outcome="ok"})");
    CHECK(s.at("mcp_client_requests_in_flight" + labels + "}") == 0);
  }
  CHECK(total == kThreads * kPerThread);
}
