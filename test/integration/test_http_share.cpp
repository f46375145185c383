// HttpConnectionShare (issue 20, "shared connections to stateless servers"): many tenants'
// clients of one modern server share a bounded set of keep-alive connections, each request with
// its own tenant's credentials; legacy sessions, different TLS settings and a client's
// disconnect stay apart. A raw server on 127.0.0.1 (a thread per connection, counting them)
// that speaks just enough MCP by hand and checks every request's Authorization.
#include "helpers.hpp"
#include "raw_server.hpp"

#include <mcp/client.hpp>
#include <mcp/http_connections.hpp>
#include <mcp/pool.hpp>

#include <doctest/doctest.h>

#include <algorithm>
#include <atomic>
#include <cctype>
#include <map>
#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <vector>

using namespace std::chrono_literals;
using nlohmann::json;

namespace {

using testutil::Conn;
using testutil::RawServer;

std::string token_for(const std::string& tenant) { return "tok-" + tenant; }

// The value of header `name` (lower case) in a request head, or "".
std::string header(const std::string& head, const std::string& name) {
  std::string lower = head;
  std::transform(lower.begin(), lower.end(), lower.begin(), [](unsigned char c) { return std::tolower(c); });
  const auto at = lower.find("\r\n" + name + ":");
  if (at == std::string::npos) return "";
  auto from = at + name.size() + 3;
  while (from < head.size() && head[from] == ' ') ++from;
  return head.substr(from, head.find("\r\n", from) - from);
}

// A modern (stateless, 2026-07-28) or legacy (sessions) server. tools/call of the tool
// "whoami" with {"tenant": T} answers T, and counts the calls whose Authorization is not
// "Bearer tok-T" (foreign). Legacy: every initialize opens a session; a request of a session
// whose Authorization is not the one that opened it is counted foreign too. A call for the
// tenant "drop" is read and its connection closed without an answer.
class TenantServer {
 public:
  explicit TenantServer(bool modern, bool tls = false) : modern_(modern), raw_([this](Conn& c) { serve(c); }, tls) {}
  std::string url(bool tls = false) const { return raw_.url(tls); }
  int most_open() const { return raw_.most_open(); }
  int accepted() const { return raw_.accepted(); }
  std::atomic<int> calls{0}, foreign{0};
  std::size_t sessions() {
    std::lock_guard lk(m_);
    return sessions_.size();
  }

 private:
  static bool reply(Conn& c, const json& id, const json& result, const std::string& extra = "") {
    const std::string body = json{{"jsonrpc", "2.0"}, {"id", id}, {"result", result}}.dump();
    return c.send("HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n" + extra +
                  "Content-Length: " + std::to_string(body.size()) + "\r\n\r\n" + body);
  }
  void serve(Conn& c) {
    std::string head, body;
    while (c.read_request(&head, &body)) {
      const std::string auth = header(head, "authorization");
      if (head.rfind("DELETE ", 0) == 0) {
        if (!c.send("HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n")) return;
        continue;
      }
      if (head.rfind("GET ", 0) == 0) {
        if (!c.send("HTTP/1.1 405 Method Not Allowed\r\nContent-Length: 0\r\n\r\n")) return;
        continue;
      }
      const auto j = json::parse(body, nullptr, false);
      if (!j.is_object() || !j.contains("id")) {
        if (!c.send("HTTP/1.1 202 Accepted\r\nContent-Length: 0\r\n\r\n")) return;
        continue;
      }
      const json id = j["id"];
      const std::string method = j.value("method", "");
      const json params = j.value("params", json::object());
      if (!modern_) {
        const std::string sid = header(head, "mcp-session-id");
        if (!sid.empty()) {
          std::lock_guard lk(m_);
          auto s = sessions_.find(sid);
          if (s == sessions_.end() || s->second != auth) ++foreign;
        }
      }
      if (method == "server/discover") {
        if (!modern_) {
          if (!c.send("HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n")) return;
          continue;
        }
        if (!reply(c, id,
                   {{"resultType", "complete"},
                    {"supportedVersions", {"2026-07-28"}},
                    {"capabilities", {{"tools", json::object()}}},
                    {"_meta", {{"io.modelcontextprotocol/serverInfo", {{"name", "tenants"}, {"version", "1"}}}}}}))
          return;
        continue;
      }
      if (method == "initialize" && !modern_) {
        std::string sid;
        {
          std::lock_guard lk(m_);
          sid = "session-" + std::to_string(sessions_.size() + 1);
          sessions_[sid] = auth;
        }
        if (!reply(c, id,
                   {{"protocolVersion", "2025-06-18"},
                    {"capabilities", {{"tools", json::object()}}},
                    {"serverInfo", {{"name", "tenants"}, {"version", "1"}}}},
                   "Mcp-Session-Id: " + sid + "\r\n"))
          return;
        continue;
      }
      json result;
      if (method == "tools/list") {
        result = {{"tools", {{{"name", "whoami"}, {"inputSchema", {{"type", "object"}}}}}}};
      } else if (method == "tools/call") {
        const std::string tenant = params.value("arguments", json::object()).value("tenant", "");
        if (tenant == "drop") return;  // read, never answered: the connection closes
        ++calls;
        if (auth != "Bearer " + token_for(tenant)) ++foreign;
        result = {{"content", {{{"type", "text"}, {"text", tenant}}}}};
      } else {
        const std::string err = json{{"jsonrpc", "2.0"}, {"id", id}, {"error", {{"code", -32601}, {"message", "no"}}}}.dump();
        if (!c.send("HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: " + std::to_string(err.size()) +
                    "\r\n\r\n" + err))
          return;
        continue;
      }
      if (modern_) result["resultType"] = "complete";
      if (!reply(c, id, result)) return;
    }
  }
  bool modern_;
  std::mutex m_;
  std::map<std::string, std::string> sessions_;  // session id -> the Authorization that opened it
  RawServer raw_;  // last: its threads start once the rest is made
};

// Tenant `t`'s configuration of server "s" at `url`: its token as a static bearer provider for
// even-numbered tenants, as a configured header for the others (both paths of a request's
// Authorization).
mcp::ClientConfig tenant_config(const std::string& url, const std::string& t, std::size_t n,
                                std::shared_ptr<mcp::HttpConnectionShare> share = nullptr) {
  mcp::HttpServerConfig h;
  h.url = url;
  h.transport = mcp::HttpTransportKind::streamable_http;
  if (n % 2 == 0) h.auth = mcp::bearer_token_provider(token_for(t));
  else h.headers["Authorization"] = "Bearer " + token_for(t);
  h.connection_share = std::move(share);
  mcp::ServerConfig sc;
  sc.transport = std::move(h);
  mcp::ClientConfig cfg;
  cfg.servers.emplace("s", std::move(sc));
  cfg.request_timeout = 30s;
  return cfg;
}

std::string whoami(mcp::Client& c, const std::string& tenant) {
  auto r = c.call_tool("s", "whoami", {{"tenant", tenant}});
  return r ? r->text() : "error: " + r.error().what();
}

}  // namespace

TEST_CASE("http share: 2,000 pooled tenants of one modern server hold at most the share's cap of connections, each request with its own token") {
  testutil::Resources before;
  constexpr std::size_t kTenants = 2000, kThreads = 8, kCap = 16;
  {
    TenantServer server(true);
    auto share = mcp::HttpConnectionShare::create({kCap, 4, std::chrono::milliseconds(30000)});
    {
      mcp::PoolOptions o;
      o.max_clients = kTenants;
      o.http_connections = share;
      o.factory = [&](const std::string& t) -> mcp::Result<mcp::ClientConfig> {
        return tenant_config(server.url(), t, std::stoul(t.substr(1)));
      };
      auto pool = mcp::ClientPool::create(std::move(o));
      REQUIRE(pool);
      std::atomic<int> wrong{0};
      std::vector<std::thread> threads;
      for (std::size_t w = 0; w < kThreads; ++w)
        threads.emplace_back([&, w] {
          for (int round = 0; round < 2; ++round)
            for (std::size_t i = w; i < kTenants; i += kThreads) {
              const std::string t = "t" + std::to_string(i);
              auto lease = (*pool)->acquire(t);
              if (!lease || whoami(lease->client(), t) != t) ++wrong;
            }
        });
      for (auto& t : threads) t.join();
      CHECK(wrong == 0);
      CHECK(server.calls == static_cast<int>(2 * kTenants));
      CHECK(server.foreign == 0);
      CHECK(server.most_open() <= static_cast<int>(kCap));
      CHECK(server.accepted() <= static_cast<int>(kCap));
      const auto st = share->stats();
      CHECK(st.origins == 1);
      CHECK(st.opened <= kCap);
      CHECK(st.in_use == 0);
      CHECK(st.waiting == 0);
      CHECK((*pool)->stats().live == kTenants);
    }
    // The pool is gone; the share (held here) keeps its idle connections for the next client.
    CHECK(share->stats().idle >= 1);
    CHECK(share->stats().idle <= kCap);
  }
  CHECK_NO_LEAKS(before);  // no descriptor of the share's connections, no sweeper thread left
}

TEST_CASE("http share: without a share, each tenant's client opens its own connection (the comparison)") {
  TenantServer server(true);
  {
    std::vector<mcp::Client> clients;
    for (std::size_t i = 0; i < 20; ++i) {
      auto cfg = tenant_config(server.url(), "t" + std::to_string(i), i);
      cfg.refuse_duplicate = false;
      auto c = mcp::Client::create(std::move(cfg));
      REQUIRE(c);
      clients.push_back(std::move(*c));
      CHECK(whoami(clients.back(), "t" + std::to_string(i)) == "t" + std::to_string(i));
    }
    CHECK(server.accepted() >= 20);
  }
  CHECK(server.foreign == 0);
}

TEST_CASE("http share: a legacy server's sessions stay per tenant (own connections, own session, own token)") {
  TenantServer server(false);
  constexpr std::size_t kTenants = 40;
  auto share = mcp::HttpConnectionShare::create({4, 4, std::chrono::milliseconds(30000)});
  {
    mcp::PoolOptions o;
    o.max_clients = kTenants;
    o.http_connections = share;
    o.factory = [&](const std::string& t) -> mcp::Result<mcp::ClientConfig> {
      return tenant_config(server.url(), t, std::stoul(t.substr(1)));
    };
    auto pool = mcp::ClientPool::create(std::move(o));
    REQUIRE(pool);
    std::vector<std::thread> threads;
    std::atomic<int> wrong{0};
    for (std::size_t w = 0; w < 4; ++w)
      threads.emplace_back([&, w] {
        for (int round = 0; round < 3; ++round)
          for (std::size_t i = w; i < kTenants; i += 4) {
            const std::string t = "t" + std::to_string(i);
            auto lease = (*pool)->acquire(t);
            if (!lease || whoami(lease->client(), t) != t) ++wrong;
          }
      });
    for (auto& t : threads) t.join();
    CHECK(wrong == 0);
    for (std::size_t i = 0; i < kTenants; ++i) {
      auto lease = (*pool)->acquire("t" + std::to_string(i));
      REQUIRE(lease);
      CHECK(lease->client().server_info("s")->era == mcp::Era::legacy);
    }
  }
  CHECK(server.sessions() == kTenants);   // one session per tenant, never one for two
  CHECK(server.foreign == 0);             // every request of a session with its own token
  CHECK(server.accepted() >= static_cast<int>(kTenants));  // sessions on the tenants' own connections
  CHECK(server.calls == static_cast<int>(3 * kTenants));
}

TEST_CASE("http share: clients whose TLS settings differ never share a connection; alike ones do") {
  TenantServer server(true, true);
  auto share = mcp::HttpConnectionShare::create();
  const std::string ca = std::string(TLS_FIXTURE_DIR) + "/cert.pem";
  auto make = [&](const std::string& t, std::size_t n, bool verify) {
    auto cfg = tenant_config(server.url(true), t, n, share);
    auto& h = std::get<mcp::HttpServerConfig>(cfg.servers.at("s").transport);
    if (verify) h.ca_file = ca;
    else h.verify_tls = false;
    cfg.refuse_duplicate = false;
    auto c = mcp::Client::create(std::move(cfg));
    REQUIRE(c);
    return std::move(*c);
  };
  auto a = make("a", 0, true);
  auto b = make("b", 1, false);
  auto c = make("c", 2, true);  // A's settings
  for (int round = 0; round < 3; ++round) {
    CHECK(whoami(a, "a") == "a");
    CHECK(whoami(b, "b") == "b");
    CHECK(whoami(c, "c") == "c");
  }
  CHECK(server.accepted() == 2);  // one for a and c, one for b
  CHECK(share->stats().origins == 2);
  CHECK(server.foreign == 0);
}

TEST_CASE("http share: a client's disconnect and destruction close nothing of the others'; idle connections close after the idle time") {
  testutil::Resources before;
  {
    TenantServer server(true);
    auto share = mcp::HttpConnectionShare::create({4, 4, std::chrono::milliseconds(1500)});
    auto make = [&](const std::string& t, std::size_t n) {
      auto cfg = tenant_config(server.url(), t, n, share);
      cfg.refuse_duplicate = false;
      auto c = mcp::Client::create(std::move(cfg));
      REQUIRE(c);
      return std::move(*c);
    };
    {
      auto a = make("a", 0);
      auto b = make("b", 1);
      CHECK(whoami(a, "a") == "a");
      a.disconnect();
      CHECK(whoami(b, "b") == "b");  // on the connection a opened
      CHECK(server.accepted() == 1);
    }
    CHECK(share->stats().idle == 1);  // both clients gone: the share keeps it
    {
      auto c = make("c", 2);
      CHECK(whoami(c, "c") == "c");
      CHECK(server.accepted() == 1);
    }
    CHECK(testutil::eventually([&] { return share->stats().idle == 0; }, 6000));
    CHECK(share->stats().closed_idle == 1);
    {
      auto d = make("d", 3);
      CHECK(whoami(d, "d") == "d");  // a new connection
      CHECK(server.accepted() == 2);
    }
    CHECK(server.foreign == 0);
  }
  CHECK_NO_LEAKS(before);
}

TEST_CASE("http share: a connection the server closes mid-request fails that request (typed), the others go on") {
  TenantServer server(true);
  auto share = mcp::HttpConnectionShare::create({2, 2, std::chrono::milliseconds(30000)});
  auto make = [&](const std::string& t, std::size_t n) {
    auto cfg = tenant_config(server.url(), t, n, share);
    cfg.refuse_duplicate = false;
    auto c = mcp::Client::create(std::move(cfg));
    REQUIRE(c);
    return std::move(*c);
  };
  auto a = make("a", 0);
  auto d = make("drop", 1);
  CHECK(whoami(a, "a") == "a");
  for (int i = 0; i < 3; ++i) {
    auto r = d.call_tool("s", "whoami", {{"tenant", "drop"}});
    REQUIRE_FALSE(r);
    CHECK(r.error().errc() == mcp::Errc::connection_failed);
    CHECK(whoami(a, "a") == "a");
  }
  CHECK(server.most_open() <= 2);
  CHECK(server.foreign == 0);
  CHECK(share->stats().in_use == 0);
}
