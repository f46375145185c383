// ClientPool: LRU, TTL, single-flight, deferred eviction, failures, dead servers, isolation.
#include "http_fixture.hpp"

#include <mcp/pool.hpp>

#include <doctest/doctest.h>

#include <array>
#include <atomic>
#include <thread>

using namespace std::chrono_literals;
using nlohmann::json;

namespace {

mcp::ClientConfig tenant_config(const std::string& tenant) {
  mcp::ClientConfig cfg;
  auto sc = testutil::fault({"--era", "modern"});
  std::get<mcp::StdioServerConfig>(sc.transport).env["TENANT_TOKEN"] = "token-" + tenant;
  cfg.servers.emplace("fs", std::move(sc));
  return cfg;
}

std::unique_ptr<mcp::ClientPool> make_pool(mcp::PoolOptions o) {
  if (!o.factory) o.factory = [](const std::string& t) -> mcp::Result<mcp::ClientConfig> { return tenant_config(t); };
  auto p = mcp::ClientPool::create(std::move(o));
  REQUIRE(p);
  return std::move(*p);
}

std::string token_of(mcp::ClientLease& lease) {
  auto r = lease->call_tool("fs", "env", {{"name", "TENANT_TOKEN"}});
  return r ? r->text() : "error: " + r.error().what();
}

}  // namespace

TEST_CASE("pool: hit, miss, and the tenant's own client") {
  auto pool = make_pool({});
  {
    auto a = pool->acquire("alice");
    REQUIRE(a);
    CHECK(token_of(*a) == "token-alice");
  }
  auto again = pool->acquire("alice");
  REQUIRE(again);
  CHECK(token_of(*again) == "token-alice");
  auto s = pool->stats();
  CHECK(s.misses == 1);
  CHECK(s.hits == 1);
  CHECK(s.creations == 1);
  CHECK(s.live == 1);
  CHECK(s.leased == 1);
}

TEST_CASE("pool: concurrent acquires of a new tenant create exactly one client") {
  std::atomic<int> calls{0};
  mcp::PoolOptions o;
  o.factory = [&](const std::string& t) -> mcp::Result<mcp::ClientConfig> {
    ++calls;
    std::this_thread::sleep_for(200ms);
    return tenant_config(t);
  };
  auto pool = make_pool(o);
  std::vector<std::thread> threads;
  std::vector<mcp::Client*> seen(8, nullptr);
  std::vector<mcp::ClientLease> leases(8);
  for (int i = 0; i < 8; ++i)
    threads.emplace_back([&, i] {
      auto l = pool->acquire("shared");
      if (l) {
        seen[i] = &l->client();
        leases[i] = std::move(*l);
      }
    });
  for (auto& t : threads) t.join();
  CHECK(calls == 1);
  for (int i = 0; i < 8; ++i) CHECK(seen[i] == seen[0]);
  CHECK(seen[0] != nullptr);
  CHECK(pool->stats().creations == 1);
}

TEST_CASE("pool: a failed creation reaches every waiter and is not cached") {
  std::atomic<int> calls{0};
  mcp::PoolOptions o;
  o.factory = [&](const std::string& t) -> mcp::Result<mcp::ClientConfig> {
    if (++calls == 1) {
      std::this_thread::sleep_for(150ms);
      return mcp::fail(mcp::Errc::invalid_config, "no credentials for " + t);
    }
    return tenant_config(t);
  };
  auto pool = make_pool(o);
  std::atomic<int> failures{0};
  std::vector<std::thread> threads;
  for (int i = 0; i < 4; ++i)
    threads.emplace_back([&] {
      auto l = pool->acquire("flaky");
      if (!l && l.error().message.find("no credentials for flaky") != std::string::npos) ++failures;
    });
  for (auto& t : threads) t.join();
  CHECK(failures == 4);
  CHECK(calls == 1);
  auto ok = pool->acquire("flaky");  // not cached: the factory runs again
  REQUIRE(ok);
  CHECK(calls == 2);
  CHECK(pool->stats().creation_failures == 1);
}

TEST_CASE("pool: least recently used idle client is evicted and disconnected") {
  testutil::Resources before;
  {
    mcp::PoolOptions o;
    o.max_clients = 2;
    auto pool = make_pool(o);
    for (const char* t : {"a", "b", "a"}) {
      auto l = pool->acquire(t);
      REQUIRE(l);
      CHECK(token_of(*l) == std::string("token-") + t);
    }
    CHECK(testutil::children().size() == before.kids + 2);
    {
      auto c = pool->acquire("c");  // b is the least recently used
      REQUIRE(c);
      CHECK(token_of(*c) == "token-c");
    }
    CHECK(pool->stats().evictions_lru == 1);
    CHECK(testutil::eventually([&] { return pool->stats().disposing == 0; }));
    CHECK(testutil::eventually([&] { return testutil::children().size() == before.kids + 2; }));
    auto a = pool->acquire("a");
    REQUIRE(a);
    CHECK(pool->stats().hits == 2);  // a (2nd time) and a now
    auto b = pool->acquire("b");
    REQUIRE(b);
    CHECK(pool->stats().creations == 4);  // b was rebuilt
  }
  CHECK_NO_LEAKS(before);
}

TEST_CASE("pool: idle clients expire after the TTL") {
  mcp::PoolOptions o;
  o.idle_ttl = 200ms;
  o.sweep_interval = 50ms;
  auto pool = make_pool(o);
  {
    auto l = pool->acquire("idle");
    REQUIRE(l);
    CHECK(token_of(*l) == "token-idle");
    std::this_thread::sleep_for(400ms);  // leased: never idle
    CHECK(pool->stats().live == 1);
  }
  CHECK(testutil::eventually([&] { return pool->stats().evictions_ttl == 1; }));
  CHECK(testutil::eventually([&] { return pool->stats().live == 0 && pool->stats().disposing == 0; }));
}

TEST_CASE("pool: eviction of a leased client waits for its last lease") {
  mcp::PoolOptions o;
  o.max_clients = 1;
  auto pool = make_pool(o);
  auto a = pool->acquire("a");
  REQUIRE(a);
  CHECK(token_of(*a) == "token-a");
  auto b = pool->acquire("b");  // a is leased: evicted, but not disconnected
  REQUIRE(b);
  CHECK(pool->stats().evictions_lru == 1);
  CHECK(pool->stats().disposing == 1);
  CHECK(token_of(*a) == "token-a");  // still works under its lease
  pool->evict("b");                  // explicit, also deferred while leased
  CHECK(token_of(*b) == "token-b");
  a->release();
  b->release();
  CHECK(testutil::eventually([&] { return pool->stats().disposing == 0; }));
  CHECK(pool->stats().live == 0);
}

TEST_CASE("pool: a client whose server died is rebuilt on the next acquire") {
  auto pool = make_pool({});
  {
    auto l = pool->acquire("crashy");
    REQUIRE(l);
    auto r = (*l)->call_tool("fs", "crash");
    CHECK_FALSE(r);
  }
  auto l = pool->acquire("crashy");
  REQUIRE(l);
  CHECK(token_of(*l) == "token-crashy");
  CHECK(pool->stats().evictions_dead == 1);
  CHECK(pool->stats().creations == 2);
}

TEST_CASE("pool: clear() and destruction leave no process or thread behind") {
  testutil::Resources before;
  {
    auto pool = make_pool({});
    for (int i = 0; i < 5; ++i) {
      auto l = pool->acquire("t" + std::to_string(i));
      REQUIRE(l);
      CHECK(token_of(*l) == "token-t" + std::to_string(i));
    }
    pool->clear();
    CHECK(testutil::children().size() == before.kids);
    CHECK(pool->stats().live == 0);
    CHECK(pool->stats().evictions_explicit == 5);
  }
  CHECK_NO_LEAKS(before);
}

TEST_CASE("pool: a lease may outlive its pool") {
  testutil::Resources before;
  {
    mcp::ClientLease kept;
    {
      auto pool = make_pool({});
      auto l = pool->acquire("late");
      REQUIRE(l);
      kept = std::move(*l);
    }
    CHECK(token_of(kept) == "token-late");
  }
  CHECK_NO_LEAKS(before);
}

TEST_CASE("pool: credentials never cross tenants under load while the pool evicts (stdio)") {
  testutil::Resources before;
  {
    mcp::PoolOptions o;
    o.max_clients = 6;  // 20 tenants: constant eviction
    auto pool = make_pool(o);
    std::atomic<int> ok{0}, wrong{0}, errors{0};
    std::vector<std::thread> threads;
    for (int t = 0; t < 8; ++t) {
      threads.emplace_back([&, t] {
        for (int i = 0; i < 25; ++i) {
          const std::string tenant = "tenant-" + std::to_string((t * 7 + i * 3) % 20);
          auto l = pool->acquire(tenant);
          if (!l) {
            ++errors;
            continue;
          }
          auto got = token_of(*l);
          if (got == "token-" + tenant) ++ok;
          else if (got.rfind("token-", 0) == 0) ++wrong;
          else ++errors;
        }
      });
    }
    for (auto& th : threads) th.join();
    CHECK(wrong == 0);
    CHECK(errors == 0);
    CHECK(ok == 200);
    auto s = pool->stats();
    CHECK(s.evictions_lru > 0);
    CHECK(s.live <= 6);
  }
  CHECK_NO_LEAKS(before);
}

TEST_CASE("pool: credentials never cross tenants under load while the pool evicts (HTTP)") {
  Fixture fx({"--mode", "modern"});
  mcp::PoolOptions o;
  o.max_clients = 10;  // 50 tenants: constant eviction
  o.factory = [&](const std::string& tenant) -> mcp::Result<mcp::ClientConfig> {
    mcp::ClientConfig cfg;
    mcp::HttpServerConfig h;
    h.url = fx.url();
    h.headers["Authorization"] = "Bearer token-" + tenant;
    cfg.servers["api"].transport = h;
    return cfg;
  };
  auto pool = make_pool(o);
  std::atomic<int> ok{0}, errors{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 8; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < 50; ++i) {
        const std::string tenant = "tenant-" + std::to_string((t * 13 + i * 7) % 50);
        auto l = pool->acquire(tenant);
        if (!l) {
          ++errors;
          continue;
        }
        auto r = (*l)->call_tool("api", "echo", {{"message", tenant}});
        if (r && r->text() == tenant) ++ok;
        else ++errors;
      }
    });
  }
  for (auto& th : threads) th.join();
  CHECK(errors == 0);
  CHECK(ok == 400);
  CHECK(pool->stats().evictions_lru > 0);
  pool->clear();
  // Every request the server saw carried a tenant's token, and every tool call carried the
  // token of the tenant it was made for.
  int calls = 0, wrong = 0, missing = 0;
  for (const auto& req : fx.requests()) {
    const std::string auth = req["headers"].value("authorization", "");
    if (auth.rfind("Bearer token-tenant-", 0) != 0) ++missing;
    if (req["body"].is_object() && req["body"].value("method", "") == "tools/call") {
      ++calls;
      if (auth != "Bearer token-" + req["body"]["params"]["arguments"].value("message", "")) ++wrong;
    }
  }
  CHECK(calls == 400);
  CHECK(wrong == 0);
  CHECK(missing == 0);
}

TEST_CASE("pool: tenants with identical configurations, and a tenant rebuilt while leased, never trip the duplicate rule") {
  mcp::ClientConfig same;
  same.servers.emplace("fs", testutil::fault({"--era", "modern"}));  // no id
  mcp::PoolOptions o;
  o.factory = [same](const std::string&) -> mcp::Result<mcp::ClientConfig> { return same; };
  auto pool = make_pool(std::move(o));
  auto a = pool->acquire("a");
  REQUIRE_MESSAGE(a, (a ? "" : a.error().what()));
  auto b = pool->acquire("b");
  REQUIRE_MESSAGE(b, (b ? "" : b.error().what()));
  pool->evict("a");  // leased: disconnected when released; its replacement overlaps it
  auto a2 = pool->acquire("a");
  REQUIRE_MESSAGE(a2, (a2 ? "" : a2.error().what()));
  CHECK(&a2->client() != &a->client());
  auto echo = (*a2)->call_tool("fs", "echo", {{"message", "m"}});
  REQUIRE(echo);
  // The pool's clients do not count against the user's own.
  auto mine = mcp::Client::create(same);
  CHECK(mine);
  CHECK(pool->stats().creation_failures == 0);
}

TEST_CASE("pool: a factory's configuration is validated by Client::create: an ftp:// URL fails the acquire") {
  mcp::PoolOptions o;
  o.factory = [](const std::string&) -> mcp::Result<mcp::ClientConfig> {
    mcp::ClientConfig cfg;
    mcp::HttpServerConfig h;
    h.url = "ftp://127.0.0.1:1/mcp";
    cfg.servers["r"].transport = h;
    return cfg;
  };
  auto pool = make_pool(std::move(o));
  auto lease = pool->acquire("t");
  REQUIRE_FALSE(lease);
  CHECK(lease.error().errc() == mcp::Errc::invalid_config);
  CHECK(pool->stats().creation_failures == 1);
  CHECK(pool->stats().live == 0);
}

TEST_CASE("pool: rotated credentials (credentials_version) get a new client at once; calls in flight on the old one "
          "finish, and it is disconnected when its last lease ends") {
  Fixture fx({"--mode", "modern"});
  constexpr int kTenants = 4;
  std::array<std::atomic<int>, kTenants> version{};
  auto index = [](const std::string& tenant) { return std::stoi(tenant.substr(tenant.find('-') + 1)); };
  mcp::PoolOptions o;
  o.factory = [&](const std::string& tenant) -> mcp::Result<mcp::ClientConfig> {
    mcp::ClientConfig cfg;
    mcp::HttpServerConfig h;
    h.url = fx.url();
    h.headers["Authorization"] = "Bearer key-" + tenant + "-v" + std::to_string(version[index(tenant)].load());
    cfg.servers["api"].transport = h;
    return cfg;
  };
  o.credentials_version = [&](const std::string& tenant) { return std::to_string(version[index(tenant)].load()); };
  auto pool = make_pool(o);

  // A call in flight on the old client while the key is rotated.
  auto old_lease = pool->acquire("tenant-0");
  REQUIRE(old_lease);
  std::thread in_flight([&] {
    auto r = (*old_lease)->call_tool("api", "sleep", {{"ms", 800}});
    CHECK_MESSAGE(r, (r ? "" : r.error().what()));
  });
  std::this_thread::sleep_for(200ms);
  version[0] = 1;
  {
    auto fresh = pool->acquire("tenant-0");
    REQUIRE(fresh);
    CHECK(&fresh->client() != &old_lease->client());
    auto r = (*fresh)->call_tool("api", "echo", {{"message", "after rotation"}});
    REQUIRE_MESSAGE(r, (r ? "" : r.error().what()));
    auto s = pool->stats();
    CHECK(s.evictions_rotated == 1);
    CHECK(s.disposing == 1);  // the old client: leased, so still connected
    CHECK(s.live == 1);
  }
  in_flight.join();
  old_lease->release();
  CHECK(testutil::eventually([&] { return pool->stats().disposing == 0; }));
  auto same = pool->acquire("tenant-0");  // unchanged version: the same client
  REQUIRE(same);
  CHECK(pool->stats().evictions_rotated == 1);
  same->release();

  // Rotations of random tenants while 6 threads call: every call made after a rotation was
  // seen carries the new key (or a later one), never an older one, and every call succeeds.
  std::atomic<bool> done{false};
  std::atomic<int> ok{0}, errors{0};
  std::thread rotator([&] {
    for (int n = 0; !done; ++n) {
      ++version[n % kTenants];
      std::this_thread::sleep_for(15ms);
    }
  });
  std::vector<std::thread> threads;
  for (int t = 0; t < 6; ++t)
    threads.emplace_back([&, t] {
      for (int i = 0; i < 30; ++i) {
        const std::string tenant = "tenant-" + std::to_string((t + i) % kTenants);
        const int seen = version[index(tenant)].load();
        auto l = pool->acquire(tenant);
        if (!l) {
          ++errors;
          continue;
        }
        auto r = (*l)->call_tool("api", i % 5 == 0 ? "sleep" : "echo",
                                 i % 5 == 0 ? json{{"ms", 30}, {"message", tenant + "|" + std::to_string(seen)}}
                                            : json{{"message", tenant + "|" + std::to_string(seen)}});
        if (r) ++ok;
        else ++errors;
      }
    });
  for (auto& th : threads) th.join();
  done = true;
  rotator.join();
  CHECK(errors == 0);
  CHECK(ok == 180);
  CHECK(pool->stats().evictions_rotated > 1);
  pool->clear();
  CHECK(pool->stats().disposing == 0);
  int checked = 0, older = 0, foreign = 0;
  for (const auto& req : fx.requests()) {
    if (!req["body"].is_object() || req["body"].value("method", "") != "tools/call") continue;
    const std::string msg = req["body"]["params"]["arguments"].value("message", "");
    const auto bar = msg.find('|');
    if (bar == std::string::npos) continue;
    ++checked;
    const std::string tenant = msg.substr(0, bar), auth = req["headers"].value("authorization", "");
    const std::string prefix = "Bearer key-" + tenant + "-v";
    if (auth.rfind(prefix, 0) != 0) {
      ++foreign;
      continue;
    }
    if (std::stoi(auth.substr(prefix.size())) < std::stoi(msg.substr(bar + 1))) ++older;
  }
  CHECK(checked == 180);
  CHECK(foreign == 0);
  CHECK(older == 0);
}
