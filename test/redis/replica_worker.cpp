// SPDX-License-Identifier: MIT
// One backend replica for test_redis_refresh.cpp: its own Redis token store (own connections)
// and one OAuth provider per tenant, used by several threads that ask for each tenant's
// Authorization value in turn until the time is up. Prints one JSON line: calls, errors (and
// the first one), foreign (a value that is not the tenant's own token: its JWT `sub` is not
// "user-of-<tenant>"), stale (the seeded expired token).
//   replica_worker <redis-port> <tenants> <threads> <duration-ms> <server-url>
#include <mcp/oauth.hpp>
#include <mcp/redis_token_store.hpp>

#include "jwt_subject.hpp"

#include <nlohmann/json.hpp>

#include <atomic>
#include <chrono>
#include <iostream>
#include <map>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

using namespace std::chrono_literals;
using nlohmann::json;

using redis_test::subject_of;

int main(int argc, char** argv) {
  if (argc != 6) {
    std::cerr << "usage: replica_worker <redis-port> <tenants> <threads> <duration-ms> <server-url>\n";
    return 2;
  }
  mcp::RedisStoreOptions ro;
  ro.port = std::stoi(argv[1]);
  ro.key_prefix = "test:";
  const int tenants = std::stoi(argv[2]), nthreads = std::stoi(argv[3]);
  const auto until = std::chrono::steady_clock::now() + std::chrono::milliseconds(std::stoi(argv[4]));
  const std::string url = argv[5];
  auto store = mcp::redis_token_store(ro);
  if (!store) {
    std::cerr << store.error().what() << "\n";
    return 1;
  }
  std::mutex m;
  std::vector<std::string> diagnostics;
  std::map<std::string, std::shared_ptr<mcp::AuthProvider>> providers;
  for (int i = 0; i < tenants; ++i) {
    mcp::OAuthClientOptions o;
    o.tenant = "tenant-" + std::to_string(i);
    o.store = *store;
    o.redirect_uri = "http://127.0.0.1:1/callback";
    o.authorize = [](const std::string&, std::stop_token) -> mcp::Result<std::string> {
      return mcp::fail(mcp::Errc::unauthorized, "no user in this test");
    };
    o.http_timeout = 5s;
    o.on_diagnostic = [&](std::string_view s) {
      std::lock_guard lk(m);
      diagnostics.emplace_back(s);
    };
    providers[o.tenant] = mcp::oauth_provider(o);
  }
  std::atomic<int> calls{0}, errors{0}, foreign{0}, stale{0};
  std::string first_error;
  std::vector<std::thread> threads;
  for (int th = 0; th < nthreads; ++th)
    threads.emplace_back([&, th] {
      for (int n = th; std::chrono::steady_clock::now() < until; ++n) {
        const std::string tenant = "tenant-" + std::to_string(n % tenants);
        auto h = providers[tenant]->authorization(url, std::chrono::steady_clock::now() + 10s);
        ++calls;
        if (!h) {
          ++errors;
          std::lock_guard lk(m);
          if (first_error.empty()) first_error = h.error().what();
          continue;
        }
        // A stale value (another thread of this provider is refreshing) is still this tenant's.
        if (*h == "Bearer expired-token-of-" + tenant) ++stale;
        else if (subject_of(*h) != "user-of-" + tenant) ++foreign;
        std::this_thread::sleep_for(3ms);
      }
    });
  for (auto& t : threads) t.join();
  std::cout << json{{"calls", calls.load()}, {"errors", errors.load()}, {"first_error", first_error},
                    {"foreign", foreign.load()}, {"stale", stale.load()}, {"diagnostics", diagnostics}}
                   .dump()
            << "\n";
  return 0;
}
