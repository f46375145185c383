// SPDX-License-Identifier: MIT
// The Redis token store (libmcp-redis) against a real redis-server started per test on a
// loopback port: round trips, key isolation, TTLs, atomic writes, the refresh lock (exclusive,
// lease, owner-only release), Redis killed / stopped / restarted, AUTH; and the file and
// in-process refresh locks of libmcp's own stores.
#include "redis_process.hpp"

#include <mcp/oauth.hpp>
#include <mcp/redis_token_store.hpp>

#include <doctest/doctest.h>

#include <atomic>
#include <chrono>
#include <set>
#include <string>
#include <thread>
#include <vector>

using namespace std::chrono_literals;
using SteadyClock = std::chrono::steady_clock;
using SysClock = std::chrono::system_clock;

namespace {

// Whole seconds (what the store keeps), the same for every entry of a run.
const SysClock::time_point kExpiry = std::chrono::time_point_cast<std::chrono::seconds>(SysClock::now() + 1h);

std::shared_ptr<mcp::TokenStore> make(const mcp::RedisStoreOptions& o) {
  auto s = mcp::redis_token_store(o);
  REQUIRE_MESSAGE(s, (s ? "" : s.error().what()));
  return *s;
}

mcp::StoredAuth auth(const std::string& tag) {
  mcp::StoredAuth a;
  a.access_token = "at-" + tag;
  a.refresh_token = "rt-" + tag;
  a.client_id = "client-" + tag;
  a.client_secret = "secret-" + tag;
  a.token_endpoint_auth_method = "client_secret_basic";
  a.issuer = "https://as.example/" + tag;
  a.token_endpoint = "https://as.example/token";
  a.resource = "https://mcp.example/mcp";
  a.scope = "mcp:tools";
  a.expires_at = kExpiry;
  return a;
}

std::optional<mcp::StoredAuth> load(mcp::TokenStore& s, const mcp::TokenKey& k) {
  auto r = s.load(k);
  REQUIRE_MESSAGE(r, (r ? "" : r.error().what()));
  return *r;
}

void save(mcp::TokenStore& s, const mcp::TokenKey& k, const mcp::StoredAuth& a) {
  auto r = s.save(k, a);
  REQUIRE_MESSAGE(r, (r ? "" : r.error().what()));
}

long long ms(SteadyClock::duration d) { return std::chrono::duration_cast<std::chrono::milliseconds>(d).count(); }

}  // namespace

TEST_CASE("redis store: options are checked; nothing connects before the first operation") {
  mcp::RedisStoreOptions o;
  o.key_prefix = "";
  CHECK(mcp::redis_token_store(o).error().errc() == mcp::Errc::invalid_config);
  o = {};
  o.port = 0;
  CHECK(mcp::redis_token_store(o).error().errc() == mcp::Errc::invalid_config);
  o = {};
  o.max_connections = 0;
  CHECK(mcp::redis_token_store(o).error().errc() == mcp::Errc::invalid_config);
  o = {};
  o.command_timeout = 0ms;
  CHECK(mcp::redis_token_store(o).error().errc() == mcp::Errc::invalid_config);
  o = {};
  o.username = "alice";
  CHECK(mcp::redis_token_store(o).error().errc() == mcp::Errc::invalid_config);
  // Nobody listens on this port: created fine, the operation fails with a typed error, fast.
  o = {};
  o.port = testutil::free_port();
  o.connect_timeout = 300ms;
  auto s = mcp::redis_token_store(o);
  REQUIRE(s);
  const auto t0 = SteadyClock::now();
  auto r = (*s)->load({"t", "i", "r"});
  REQUIRE(!r);
  CHECK(r.error().errc() == mcp::Errc::connection_failed);
  CHECK(ms(SteadyClock::now() - t0) < 1000);
}

TEST_CASE("redis store: save, load, erase; the most recent issuer for an empty one; keys isolated by tenant, "
          "issuer, resource and prefix") {
  testredis::RedisProcess redis;
  auto s = make(redis.options());
  const mcp::TokenKey k{"alice", "https://as.example/a", "https://mcp.example/mcp"};
  CHECK(!load(*s, k));
  save(*s, k, auth("a"));
  auto got = load(*s, k);
  REQUIRE(got);
  CHECK(*got == auth("a"));
  // An empty issuer: the entry saved last for this tenant and resource.
  CHECK(load(*s, {"alice", "", k.resource}) == auth("a"));
  const mcp::TokenKey k2{"alice", "https://as.example/b", k.resource};
  save(*s, k2, auth("b"));
  CHECK(load(*s, {"alice", "", k.resource}) == auth("b"));
  CHECK(load(*s, k) == auth("a"));

  // Keys that a naive "tenant:issuer:resource" join would confuse stay apart.
  const mcp::TokenKey odd1{"a|b", "c", "d"}, odd2{"a", "b|c", "d"}, odd3{"a:b", "c", "d"}, odd4{"a", "b:c", "d"};
  save(*s, odd1, auth("odd1"));
  save(*s, odd2, auth("odd2"));
  save(*s, odd3, auth("odd3"));
  save(*s, odd4, auth("odd4"));
  CHECK(load(*s, odd1) == auth("odd1"));
  CHECK(load(*s, odd2) == auth("odd2"));
  CHECK(load(*s, odd3) == auth("odd3"));
  CHECK(load(*s, odd4) == auth("odd4"));
  CHECK(!load(*s, {"bob", "", k.resource}));
  CHECK(!load(*s, {"bob", k.issuer, k.resource}));
  CHECK(!load(*s, {"alice", k.issuer, "https://mcp.example/other"}));
  CHECK(!load(*s, {"", "", k.resource}));  // "" is a tenant of its own

  // Another prefix is another store.
  auto other = make(redis.options("other:"));
  CHECK(!load(*other, k));
  save(*other, k, auth("other"));
  CHECK(load(*s, k) == auth("a"));

  // Erasing the most recent entry takes the pointer with it; erasing another leaves it.
  REQUIRE(s->erase(k));
  CHECK(!load(*s, k));
  CHECK(load(*s, {"alice", "", k.resource}) == auth("b"));
  REQUIRE(s->erase(k2));
  CHECK(!load(*s, {"alice", "", k.resource}));
  REQUIRE(s->erase(k2));  // none: no error
  CHECK(load(*other, k) == auth("other"));
  // Every key the stores wrote starts with its prefix.
  CHECK(redis.raw({"EVAL", "return #redis.call('KEYS', 'test:*') + #redis.call('KEYS', 'other:*')", "0"}) ==
        redis.raw({"DBSIZE"}));
}

TEST_CASE("redis store: the Redis TTL follows the token's expiry; a refresh token is never expired early") {
  testredis::RedisProcess redis;
  auto o = redis.options();
  auto s = make(o);
  const std::string entry = "test:tok|t|i|r", pointer = "test:new|t|r";
  auto pttl = [&](const std::string& key) { return std::stoll(redis.raw({"PTTL", key})); };

  mcp::StoredAuth a = auth("x");
  a.refresh_token.clear();
  a.expires_at = SysClock::now() + 100s;
  save(*s, {"t", "i", "r"}, a);
  // No refresh token: access token expiry + the grace (60 s).
  CHECK(pttl(entry) > 155000);
  CHECK(pttl(entry) <= 160000);
  CHECK(std::llabs(pttl(pointer) - pttl(entry)) < 1000);

  a.refresh_token = "rt";
  save(*s, {"t", "i", "r"}, a);
  CHECK(pttl(entry) == -1);  // a refresh token of unknown lifetime: kept
  CHECK(pttl(pointer) == -1);

  o.refresh_token_lifetime = std::chrono::hours(24);
  auto s2 = make(o);
  save(*s2, {"t", "i", "r"}, a);
  CHECK(pttl(entry) > (24 * 3600 + 95) * 1000LL);
  CHECK(pttl(entry) <= (24 * 3600 + 100) * 1000LL);

  a.expires_at.reset();
  save(*s2, {"t", "i", "r"}, a);
  CHECK(pttl(entry) == -1);  // no expiry known

  // An entry whose time is over is gone, both keys.
  a.refresh_token.clear();
  a.expires_at = SysClock::now() - 120s;
  save(*s, {"t", "i", "r"}, a);
  CHECK(testutil::eventually([&] { return !*s->load({"t", "i", "r"}); }, 2000));
  CHECK(redis.raw({"EXISTS", entry, pointer}) == "0");
}

TEST_CASE("redis store: concurrent saves and loads of one key see whole entries only") {
  testredis::RedisProcess redis;
  auto o = redis.options();
  o.max_connections = 3;
  auto s = make(o);
  const mcp::TokenKey k{"t", "i", "r"};
  std::set<std::string> written;
  for (int i = 0; i < 6; ++i) written.insert(auth(std::to_string(i)).access_token);
  std::atomic<int> torn{0}, errors{0}, loads{0};
  std::vector<std::thread> threads;
  for (int w = 0; w < 6; ++w)
    threads.emplace_back([&, w] {
      const auto a = auth(std::to_string(w));
      for (int n = 0; n < 200; ++n) {
        if (!s->save(k, a)) ++errors;
        auto r = s->load(k);
        auto latest = s->load({"t", "", "r"});
        if (!r || !latest) {
          ++errors;
          continue;
        }
        ++loads;
        for (const auto* got : {&*r, &*latest}) {
          if (!*got) {
            ++torn;
            continue;
          }
          // Every field of one save, never a mix of two.
          const std::string tag = (*got)->access_token.substr(3);
          if (!written.count((*got)->access_token) || **got != auth(tag)) ++torn;
        }
      }
    });
  for (auto& t : threads) t.join();
  CHECK(errors == 0);
  CHECK(torn == 0);
  CHECK(loads == 1200);
  // The pool stayed bounded: 3 connections of the store (+ this one) at most.
  const std::string clients = redis.raw({"CLIENT", "LIST"});
  std::size_t n = 0;
  for (auto p = clients.find("id="); p != std::string::npos; p = clients.find("id=", p + 1)) ++n;
  CHECK(n >= 1);
  CHECK(n <= 4);
}

TEST_CASE("redis store: the refresh lock is exclusive, lasts at most its lease, and only its owner releases it") {
  testredis::RedisProcess redis;
  auto o = redis.options();
  o.refresh_lease = 400ms;
  auto a = make(o), b = make(o);  // two replicas
  const mcp::TokenKey k{"t", "i", "r"};

  auto held = a->lock_refresh(k, SteadyClock::now() + 1s);
  REQUIRE_MESSAGE(held, (held ? "" : held.error().what()));
  // Another key is not blocked.
  CHECK(b->lock_refresh({"t2", "i", "r"}, SteadyClock::now() + 1s));
  auto t0 = SteadyClock::now();
  auto second = b->lock_refresh(k, SteadyClock::now() + 150ms);
  REQUIRE(!second);
  CHECK(second.error().errc() == mcp::Errc::timeout);
  CHECK(ms(SteadyClock::now() - t0) < 400);
  held->reset();  // released: the other gets it at once
  t0 = SteadyClock::now();
  auto third = b->lock_refresh(k, SteadyClock::now() + 1s);
  REQUIRE(third);
  CHECK(ms(SteadyClock::now() - t0) < 200);
  third->reset();

  // A holder that never releases (a crash): the lease ends its lock.
  auto crashed = a->lock_refresh(k, SteadyClock::now() + 1s);
  REQUIRE(crashed);
  t0 = SteadyClock::now();
  auto after_lease = b->lock_refresh(k, SteadyClock::now() + 3s);
  REQUIRE(after_lease);
  CHECK(ms(SteadyClock::now() - t0) >= 250);
  CHECK(ms(SteadyClock::now() - t0) < 1500);
  // The late holder lets go: its release must not delete the new owner's lock.
  crashed->reset();
  CHECK(redis.raw({"EXISTS", "test:lock|t|i|r"}) == "1");
  CHECK(!a->lock_refresh(k, SteadyClock::now() + 100ms));
  after_lease->reset();
  CHECK(redis.raw({"EXISTS", "test:lock|t|i|r"}) == "0");

  // Many contenders: never two inside at once.
  o.refresh_lease = 10s;
  std::atomic<int> inside{0}, overlap{0}, entered{0};
  std::vector<std::thread> threads;
  for (int i = 0; i < 6; ++i)
    threads.emplace_back([&] {
      auto s = make(o);
      for (int n = 0; n < 10; ++n) {
        auto l = s->lock_refresh(k, SteadyClock::now() + 20s);
        if (!l) continue;
        if (inside.fetch_add(1) != 0) ++overlap;
        ++entered;
        std::this_thread::sleep_for(2ms);
        inside.fetch_sub(1);
      }
    });
  for (auto& t : threads) t.join();
  CHECK(overlap == 0);
  CHECK(entered == 60);
}

TEST_CASE("redis store: Redis killed, stopped (slow) and restarted: typed errors within the timeouts, then recovery") {
  testredis::RedisProcess redis;
  auto o = redis.options();
  o.connect_timeout = 300ms;
  o.command_timeout = 300ms;
  auto s = make(o);
  const mcp::TokenKey k{"t", "i", "r"};
  save(*s, k, auth("1"));

  // Stopped (SIGSTOP): the kernel still accepts connections, nobody answers: timeouts.
  redis.pause();
  auto t0 = SteadyClock::now();
  auto r = s->load(k);
  REQUIRE(!r);
  CHECK(r.error().errc() == mcp::Errc::timeout);
  CHECK(ms(SteadyClock::now() - t0) < 1500);
  t0 = SteadyClock::now();
  auto w = s->save(k, auth("2"));
  REQUIRE(!w);
  CHECK((w.error().errc() == mcp::Errc::timeout));
  CHECK(ms(SteadyClock::now() - t0) < 1500);
  t0 = SteadyClock::now();
  auto l = s->lock_refresh(k, SteadyClock::now() + 2s);
  REQUIRE(!l);
  CHECK(l.error().errc() == mcp::Errc::timeout);
  CHECK(ms(SteadyClock::now() - t0) < 2500);
  redis.resume();
  // The lock command that timed out may have taken the lock after all: this store takes it over
  // (it knows the owner token) instead of waiting out the lease; another store must wait.
  auto other = make(o);
  const bool taken = redis.raw({"EXISTS", "test:lock|t|i|r"}) == "1";
  CHECK(!other->lock_refresh(k, SteadyClock::now() + 100ms) == taken);
  t0 = SteadyClock::now();
  auto again = s->lock_refresh(k, SteadyClock::now() + 2s);
  REQUIRE_MESSAGE(again, (again ? "" : again.error().what()));
  CHECK(ms(SteadyClock::now() - t0) < 500);
  again->reset();
  // The save that timed out may or may not have reached Redis; either way the entry is whole.
  auto after = load(*s, k);
  REQUIRE(after);
  CHECK((*after == auth("1") || *after == auth("2")));

  // Killed: connection errors, fast.
  redis.kill();
  t0 = SteadyClock::now();
  r = s->load(k);
  REQUIRE(!r);
  const auto e = r.error().errc();
  CHECK((e == mcp::Errc::connection_failed || e == mcp::Errc::connection_closed || e == mcp::Errc::io_error));
  CHECK(ms(SteadyClock::now() - t0) < 1000);
  r = s->load(k);
  REQUIRE(!r);
  CHECK(r.error().errc() == mcp::Errc::connection_failed);
  CHECK(s->save(k, auth("3")).error().errc() == mcp::Errc::connection_failed);

  // Restarted (empty: nothing was persisted): the same store object works again.
  redis.start();
  CHECK(!load(*s, k));
  save(*s, k, auth("4"));
  CHECK(load(*s, k) == auth("4"));
  CHECK(s->lock_refresh(k, SteadyClock::now() + 1s));
}

TEST_CASE("redis store: AUTH with a password or an ACL user; refusals are typed and never quote the password") {
  testredis::RedisProcess redis({"--requirepass", "s3cret-redis-pass", "--user", "alice", "on", ">alice-pass-123", "~*",
                                 "+@all"});
  auto o = redis.options();
  auto none = make(o);
  auto r = none->load({"t", "i", "r"});
  REQUIRE(!r);
  CHECK(r.error().errc() == mcp::Errc::unauthorized);

  o.password = "wrong-password-xyz";
  r = make(o)->load({"t", "i", "r"});
  REQUIRE(!r);
  CHECK(r.error().errc() == mcp::Errc::unauthorized);
  CHECK(std::string(r.error().what()).find("wrong-password-xyz") == std::string::npos);

  o.password = "s3cret-redis-pass";
  auto good = make(o);
  save(*good, {"t", "i", "r"}, auth("p"));
  CHECK(load(*good, {"t", "i", "r"}) == auth("p"));

  o.username = "alice";
  o.password = "alice-pass-123";
  o.database = 3;
  auto acl = make(o);
  CHECK(!load(*acl, {"t", "i", "r"}));  // another database
  save(*acl, {"t", "i", "r"}, auth("acl"));
  CHECK(load(*acl, {"t", "i", "r"}) == auth("acl"));
  CHECK(load(*good, {"t", "i", "r"}) == auth("p"));
  o.password = "alice-wrong-pass";
  r = make(o)->load({"t", "i", "r"});
  REQUIRE(!r);
  CHECK(r.error().errc() == mcp::Errc::unauthorized);
  CHECK(std::string(r.error().what()).find("alice-wrong-pass") == std::string::npos);
}

TEST_CASE("token stores of libmcp: the file store's refresh lock holds across store objects; the default one within "
          "a store") {
  const std::string path = testutil::temp_path("tokens.json");
  auto f1 = mcp::file_token_store(path), f2 = mcp::file_token_store(path);
  const mcp::TokenKey k{"t", "i", "r"};
  auto held = f1->lock_refresh(k, SteadyClock::now() + 1s);
  REQUIRE(held);
  auto t0 = SteadyClock::now();
  auto other = f2->lock_refresh(k, SteadyClock::now() + 150ms);
  REQUIRE(!other);
  CHECK(other.error().errc() == mcp::Errc::timeout);
  CHECK(ms(SteadyClock::now() - t0) < 1000);
  // Loads and saves are not blocked by a refresh in progress.
  REQUIRE(f2->save(k, auth("f")));
  CHECK(*f2->load(k) == auth("f"));
  held->reset();
  CHECK(f2->lock_refresh(k, SteadyClock::now() + 1s));
  ::unlink(path.c_str());

  auto m = mcp::memory_token_store();
  auto h = m->lock_refresh(k, SteadyClock::now() + 1s);
  REQUIRE(h);
  CHECK(m->lock_refresh({"t2", "i", "r"}, SteadyClock::now() + 1s));
  auto blocked = m->lock_refresh(k, SteadyClock::now() + 100ms);
  REQUIRE(!blocked);
  CHECK(blocked.error().errc() == mcp::Errc::timeout);
  CHECK(mcp::memory_token_store()->lock_refresh(k, SteadyClock::now() + 100ms));  // another store
  h->reset();
  CHECK(m->lock_refresh(k, SteadyClock::now() + 100ms));
}
