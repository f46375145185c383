// SPDX-License-Identifier: MIT
// Coordinated refresh across replicas: several replica processes (replica_worker: each its own
// Redis token store and its own OAuth provider per tenant, used by several threads) share
// one redis-server and one test authorization server (test/server/oauth_test_as.hpp) that
// rotates refresh tokens and records every refresh. Access tokens live 31 s, so the provider
// (which refreshes 30 s before expiry) refreshes each tenant's token about every second.
// Expected: no refresh token is ever presented twice (no invalid_grant), one refresh per
// expiry per tenant, every tenant only ever gets its own tokens; with Redis stopped a request
// gets a typed error within its timeout, and works again once Redis is back.
#include "../server/oauth_test_as.hpp"
#include "jwt_subject.hpp"
#include "redis_process.hpp"

#include <mcp/oauth.hpp>
#include <mcp/redis_token_store.hpp>

#include <doctest/doctest.h>

#include <algorithm>
#include <atomic>
#include <cmath>
#include <chrono>
#include <cstdio>
#include <map>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include <fcntl.h>
#include <spawn.h>
#include <sys/wait.h>

using namespace std::chrono_literals;
using SteadyClock = std::chrono::steady_clock;
using SysClock = std::chrono::system_clock;
using nlohmann::json;

namespace {

constexpr const char* kClient = "replica-client";
constexpr const char* kSecret = "replica-client-secret-0123456789";

using redis_test::subject_of;

struct Setup {
  testas::TestAs as;
  std::string url;  // the MCP server (never contacted: tokens are refreshed before use)
  std::vector<std::string> tenants;

  explicit Setup(int n) {
    as.add_client(kClient, kSecret);
    {
      std::lock_guard lk(as.m);
      as.token_lifetime = 31;
    }
    url = "http://127.0.0.1:" + std::to_string(testutil::free_port()) + "/mcp";
    for (int i = 0; i < n; ++i) tenants.push_back("tenant-" + std::to_string(i));
  }
  static std::string subject(const std::string& tenant) { return "user-of-" + tenant; }

  // A tenant's credentials as a sign-in left them, with the access token expired.
  void seed(mcp::TokenStore& store, const std::string& tenant) {
    mcp::StoredAuth a;
    a.access_token = "expired-token-of-" + tenant;
    a.expires_at = SysClock::now() - 1s;
    a.refresh_token = as.issue_refresh_token(subject(tenant), kClient, "mcp:tools", url);
    a.scope = "mcp:tools";
    a.client_id = kClient;
    a.client_secret = kSecret;
    a.token_endpoint_auth_method = "client_secret_basic";
    a.issuer = as.issuer();
    a.token_endpoint = as.issuer() + "/token";
    a.resource = url;
    REQUIRE(store.save({tenant, as.issuer(), url}, a));
  }

  std::shared_ptr<mcp::AuthProvider> provider(const std::string& tenant, std::shared_ptr<mcp::TokenStore> store,
                                              std::function<void(std::string_view)> diag = {}) {
    mcp::OAuthClientOptions o;
    o.tenant = tenant;
    o.store = std::move(store);
    o.redirect_uri = "http://127.0.0.1:1/callback";
    // Any fallback to a new sign-in would show up here (and fail the call).
    o.authorize = [](const std::string&, std::stop_token) -> mcp::Result<std::string> {
      return mcp::fail(mcp::Errc::unauthorized, "no user in this test");
    };
    o.http_timeout = 5s;
    o.on_diagnostic = std::move(diag);
    return mcp::oauth_provider(o);
  }
};

// Runs a replica_worker process to its end; its JSON line (null when it failed).
json run_worker(std::vector<std::string> args, const std::string& out) {
  args.insert(args.begin(), REPLICA_WORKER_PATH);
  std::vector<char*> argv;
  for (auto& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);
  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  posix_spawn_file_actions_addopen(&fa, 1, out.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
  posix_spawn_file_actions_addopen(&fa, 2, (out + ".err").c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
  pid_t pid = -1;
  const int rc = ::posix_spawn(&pid, argv[0], &fa, nullptr, argv.data(), environ);
  posix_spawn_file_actions_destroy(&fa);
  if (rc != 0) return nullptr;
  int status = 0;
  ::waitpid(pid, &status, 0);
  const std::string text = testutil::read_file(out), err = testutil::read_file(out + ".err");
  ::unlink(out.c_str());
  ::unlink((out + ".err").c_str());
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
    MESSAGE("replica_worker failed: " << err);
    return nullptr;
  }
  return json::parse(text, nullptr, false);
}

}  // namespace

TEST_CASE("redis refresh: 4 replica processes x 8 threads, 6 tenants, rotating refresh tokens: one refresh per "
          "expiry per tenant, no invalid_grant, no tenant gets another's token") {
  testredis::RedisProcess redis;
  Setup env(6);
  auto seed_store = mcp::redis_token_store(redis.options());
  REQUIRE(seed_store);
  for (const auto& t : env.tenants) env.seed(**seed_store, t);

  constexpr int kReplicas = 4;
  std::vector<json> results(kReplicas);
  std::vector<std::thread> runners;
  for (int r = 0; r < kReplicas; ++r)
    runners.emplace_back([&, r] {
      results[static_cast<std::size_t>(r)] =
          run_worker({std::to_string(redis.port()), std::to_string(env.tenants.size()), "8", "3500", env.url},
                     testutil::temp_path("replica-" + std::to_string(r) + ".json"));
    });
  for (auto& t : runners) t.join();

  int calls = 0, stale = 0;
  for (const auto& res : results) {
    REQUIRE(res.is_object());
    CHECK_MESSAGE(res["errors"] == 0, res["first_error"]);
    CHECK(res["foreign"] == 0);
    calls += res["calls"].get<int>();
    stale += res["stale"].get<int>();
    for (const auto& l : res["diagnostics"]) CHECK_MESSAGE(env.as.leaked_in(l.get<std::string>()).empty(), l);
  }
#if defined(__SANITIZE_THREAD__)
  // Under TSan the workers run several times slower (and start slower): fewer calls and
  // expiries in the same 3.5 s, the same properties.
  constexpr int kMinCalls = 50;
  constexpr std::size_t kMinRefreshes = 1;
#else
  constexpr int kMinCalls = 200;
  constexpr std::size_t kMinRefreshes = 3;
#endif
  CHECK(calls > kMinCalls);
  std::lock_guard lk(env.as.m);
  CHECK(env.as.refusals == 0);        // no refresh token was presented twice
  CHECK(env.as.authorizations == 0);  // nobody fell back to a new sign-in
  int total = 0, expiries = 0;
  for (const auto& t : env.tenants) {
    CAPTURE(t);
    const auto& times = env.as.refresh_times[Setup::subject(t)];
    total += static_cast<int>(times.size());
    // Each expiry is a second in which the tenant's token needed refreshing: the distinct
    // seconds its refreshes fell in (two refreshes of one expiry would share one).
    std::vector<double> seconds;
    for (double at : times) seconds.push_back(std::floor(at));
    std::sort(seconds.begin(), seconds.end());
    expiries += static_cast<int>(std::unique(seconds.begin(), seconds.end()) - seconds.begin());
    // A token issued at t (in whole seconds, as stored) needs refreshing from floor(t) + 1 on:
    // each refresh falls in a later second than the one before; a second refresh of one expiry
    // would fall in the same second. 3.5 s make 4 or 5 refreshes (the first: the seeded token).
    CHECK(times.size() >= kMinRefreshes);
    CHECK(times.size() <= 6);
    for (std::size_t i = 1; i < times.size(); ++i) CHECK(std::floor(times[i]) > std::floor(times[i - 1]));
  }
  CHECK(total == env.as.refresh_grants);
  CHECK(total == expiries);
  // The figure README's Redis section quotes.
  char per_expiry[32];
  std::snprintf(per_expiry, sizeof per_expiry, "%.2f", expiries ? double(total) / expiries : 0.0);
  MESSAGE("replicas " << kReplicas << " x 8 threads, tenants " << env.tenants.size() << ", calls " << calls
                      << ", refreshes " << total << ", expiries " << expiries << ", refreshes per expiry " << per_expiry
                      << ", error answers of the authorization server (invalid_grant ...) " << env.as.refusals << ", new sign-ins "
                      << env.as.authorizations << ", stale answers " << stale);
}

TEST_CASE("redis refresh: Redis stopped when a token needs refreshing: a typed error within the timeout; Redis back: "
          "the refresh happens, once") {
  testredis::RedisProcess redis;
  Setup env(1);
  auto o = redis.options();
  o.connect_timeout = 300ms;
  o.command_timeout = 300ms;
  auto store = mcp::redis_token_store(o);
  REQUIRE(store);
  const std::string tenant = env.tenants[0];
  env.seed(**store, tenant);
  auto p = env.provider(tenant, *store);
  auto h = p->authorization(env.url, SteadyClock::now() + 10s);
  REQUIRE_MESSAGE(h, (h ? "" : h.error().what()));
  CHECK(subject_of(*h) == Setup::subject(tenant));
  std::this_thread::sleep_for(1100ms);  // expired again (by the provider's 30 s margin)

  redis.pause();
  auto t0 = SteadyClock::now();
  auto down = p->authorization(env.url, SteadyClock::now() + 5s);
  const auto took = std::chrono::duration_cast<std::chrono::milliseconds>(SteadyClock::now() - t0).count();
  redis.resume();
  REQUIRE(!down);
  CHECK(down.error().errc() == mcp::Errc::timeout);
  CHECK(took < 2000);
  {
    std::lock_guard lk(env.as.m);
    CHECK(env.as.refresh_grants == 1);  // no refresh without the lock
  }

  auto back = p->authorization(env.url, SteadyClock::now() + 10s);
  REQUIRE_MESSAGE(back, (back ? "" : back.error().what()));
  CHECK(subject_of(*back) == Setup::subject(tenant));
  CHECK(*back != *h);
  std::lock_guard lk(env.as.m);
  CHECK(env.as.refresh_grants == 2);
  CHECK(env.as.refusals == 0);
}

TEST_CASE("redis refresh: the file token store coordinates two providers of one tenant the same way") {
  Setup env(1);
  {
    // One expiry only: the refreshed token stays good for the whole test (with Setup's 31 s a
    // token needs refreshing 1 s after it was issued, and under ASan beside other tests the 20
    // calls took longer than that: a second, rightful, refresh).
    std::lock_guard lk(env.as.m);
    env.as.token_lifetime = 3600;
  }
  const std::string path = testutil::temp_path("replica-tokens.json");
  auto f = mcp::file_token_store(path);
  const std::string tenant = env.tenants[0];
  env.seed(*f, tenant);
  std::vector<std::shared_ptr<mcp::AuthProvider>> providers;
  for (int i = 0; i < 4; ++i) providers.push_back(env.provider(tenant, mcp::file_token_store(path)));
  std::atomic<int> errors{0};
  std::vector<std::thread> threads;
  for (auto& p : providers)
    threads.emplace_back([&, p] {
      for (int n = 0; n < 5; ++n)
        if (auto h = p->authorization(env.url, SteadyClock::now() + 10s); !h || subject_of(*h) != Setup::subject(tenant))
          ++errors;
    });
  for (auto& t : threads) t.join();
  ::unlink(path.c_str());
  CHECK(errors == 0);
  std::lock_guard lk(env.as.m);
  CHECK(env.as.refresh_grants == 1);
  CHECK(env.as.refusals == 0);
}
