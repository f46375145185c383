// SPDX-License-Identifier: MIT
#include <mcp/pool.hpp>

#include <condition_variable>
#include <deque>
#include <list>
#include <map>
#include <optional>
#include <mutex>
#include <thread>
#include <vector>

namespace mcp {

using Clock = std::chrono::steady_clock;

struct ClientLease::Entry {
  std::string tenant;
  std::shared_ptr<Client> client;
  std::string version;  // PoolOptions::credentials_version when the client was built
  std::size_t leases = 0;
  Clock::time_point last_used = Clock::now();
  bool evicted = false;  // out of the pool; disconnected when its last lease ends
  std::list<std::string>::iterator lru;
};

struct ClientLease::State {
  struct Creation {
    bool done = false;
    std::shared_ptr<Entry> entry;
    std::optional<Error> error;
  };
  PoolOptions options;
  mutable std::mutex m;
  std::condition_variable created;   // a creation finished
  std::condition_variable janitor_cv;
  std::condition_variable disposed;  // a disposal batch finished
  std::map<std::string, std::shared_ptr<Entry>> entries;
  std::list<std::string> lru;  // front: most recently used
  std::map<std::string, std::shared_ptr<Creation>> creating;
  std::deque<std::shared_ptr<Client>> to_dispose;
  std::size_t disposing = 0;  // evicted, not yet disconnected
  std::size_t in_progress = 0;
  PoolStats stats;
  bool stopping = false;
  std::thread janitor;

  // Under `m`: take `e` out of the pool. Its client is queued for disconnection, or, while
  // leased, marked for disconnection at its last release.
  void remove(std::shared_ptr<Entry> e) {  // by value: `e` may be the map's own element
    entries.erase(e->tenant);
    lru.erase(e->lru);
    ++disposing;
    if (e->leases == 0) to_dispose.push_back(e->client);
    else e->evicted = true;
  }

  // Under `m`: keep at most max_clients, evicting idle clients first, least recently used first.
  void enforce_capacity() {
    while (entries.size() > options.max_clients) {
      std::shared_ptr<Entry> victim;
      for (auto it = lru.rbegin(); it != lru.rend(); ++it) {
        auto& e = entries.at(*it);
        if (e->leases == 0) {
          victim = e;
          break;
        }
      }
      if (!victim) victim = entries.at(lru.back());  // all leased: the oldest goes when released
      ++stats.evictions_lru;
      remove(victim);
    }
  }

  // Outside `m`: disconnect, then account for it.
  void dispose(std::vector<std::shared_ptr<Client>> clients) {
    for (auto& c : clients) c->disconnect();
    std::lock_guard lk(m);
    disposing -= clients.size();
    in_progress -= clients.size();
    disposed.notify_all();
  }

  std::vector<std::shared_ptr<Client>> take_queue() {
    std::vector<std::shared_ptr<Client>> out(to_dispose.begin(), to_dispose.end());
    to_dispose.clear();
    in_progress += out.size();
    return out;
  }

  void janitor_loop() {
    std::unique_lock lk(m);
    while (!stopping) {
      janitor_cv.wait_for(lk, options.sweep_interval, [&] { return stopping || !to_dispose.empty(); });
      if (stopping) break;
      const auto now = Clock::now();
      std::vector<std::shared_ptr<Entry>> idle;
      for (auto& [t, e] : entries)
        if (e->leases == 0 && now - e->last_used >= options.idle_ttl) idle.push_back(e);
      for (auto& e : idle) {
        ++stats.evictions_ttl;
        remove(e);
      }
      auto batch = take_queue();
      if (batch.empty()) continue;
      lk.unlock();
      dispose(std::move(batch));  // a slow server delays only this thread
      lk.lock();
    }
  }

  void release(const std::shared_ptr<Entry>& e) {
    std::unique_lock lk(m);
    --e->leases;
    e->last_used = Clock::now();
    if (e->evicted && e->leases == 0) {
      to_dispose.push_back(e->client);
      if (stopping) {  // no janitor any more: disconnect here
        auto batch = take_queue();
        lk.unlock();
        dispose(std::move(batch));
        return;
      }
      janitor_cv.notify_one();
    }
  }
};

// ---------------------------------------------------------------- ClientLease

ClientLease::ClientLease(ClientLease&& o) noexcept
    : state_(std::move(o.state_)), entry_(std::move(o.entry_)), client_(std::move(o.client_)),
      tenant_(std::move(o.tenant_)) {}

ClientLease& ClientLease::operator=(ClientLease&& o) noexcept {
  if (this != &o) {
    release();
    state_ = std::move(o.state_);
    entry_ = std::move(o.entry_);
    client_ = std::move(o.client_);
    tenant_ = std::move(o.tenant_);
  }
  return *this;
}

ClientLease::~ClientLease() { release(); }

void ClientLease::release() {
  if (state_ && entry_) state_->release(entry_);
  state_.reset();
  entry_.reset();
  client_.reset();
}

// ---------------------------------------------------------------- ClientPool

Result<std::unique_ptr<ClientPool>> ClientPool::create(PoolOptions options) {
  if (!options.factory) return fail(Errc::invalid_config, "PoolOptions::factory is required");
  if (options.max_clients == 0) return fail(Errc::invalid_config, "PoolOptions::max_clients must be at least 1");
  if (options.sweep_interval.count() <= 0) options.sweep_interval = Milliseconds(1000);
  auto st = std::make_shared<ClientLease::State>();
  st->options = std::move(options);
  st->janitor = std::thread([raw = st.get()] { raw->janitor_loop(); });
  return std::unique_ptr<ClientPool>(new ClientPool(std::move(st)));
}

ClientPool::ClientPool(std::shared_ptr<ClientLease::State> state) : state_(std::move(state)) {}

ClientPool::~ClientPool() {
  clear();
  {
    std::lock_guard lk(state_->m);
    state_->stopping = true;
  }
  state_->janitor_cv.notify_all();
  state_->created.notify_all();
  if (state_->janitor.joinable()) state_->janitor.join();
  // Whatever the janitor had not reached yet.
  std::vector<std::shared_ptr<Client>> rest;
  {
    std::lock_guard lk(state_->m);
    rest = state_->take_queue();
  }
  state_->dispose(std::move(rest));
}

Result<ClientLease> ClientPool::acquire(const std::string& tenant) {
  auto& st = *state_;
  auto lease_for = [&](const std::shared_ptr<ClientLease::Entry>& e) {
    ++e->leases;
    st.lru.splice(st.lru.begin(), st.lru, e->lru);
    ClientLease lease;
    lease.state_ = state_;
    lease.entry_ = e;
    lease.client_ = e->client;
    lease.tenant_ = tenant;
    return lease;
  };
  // The credentials this acquire must get (read before anything else: a client built
  // from a later reading is newer, never older).
  std::optional<std::string> version;
  if (st.options.credentials_version) {
    try {
      version = st.options.credentials_version(tenant);
    } catch (const std::exception& ex) {
      return fail(Errc::pool_factory_failed,
                  "pool credentials_version for tenant '" + tenant + "' threw: " + ex.what());
    }
  }
  std::unique_lock lk(st.m);
  bool counted = false;
  for (;;) {
    if (st.stopping) return fail(Errc::pool_closed, "the pool is shutting down");
    if (auto it = st.entries.find(tenant); it != st.entries.end()) {
      auto e = it->second;
      if (version && e->version != *version) {
        // Rotated credentials: a new client; the old one goes when its leases end.
        ++st.stats.evictions_rotated;
        st.remove(e);
        st.janitor_cv.notify_one();
      } else if (e->leases == 0 && !e->client->healthy()) {
        // A server of this client died: rebuild rather than hand out a client that must
        // first recover.
        ++st.stats.evictions_dead;
        st.remove(e);
        st.janitor_cv.notify_one();
      } else {
        if (!counted) ++st.stats.hits;
        return lease_for(e);
      }
    }
    if (!counted) {
      ++st.stats.misses;
      counted = true;
    }
    if (auto c = st.creating.find(tenant); c != st.creating.end()) {
      auto creation = c->second;
      st.created.wait(lk, [&] { return creation->done || st.stopping; });
      if (creation->error) return fail(*creation->error);
      if (creation->entry && !creation->entry->evicted && st.entries.count(tenant) &&
          (!version || creation->entry->version == *version))
        return lease_for(creation->entry);
      continue;  // created and already evicted, or with other credentials: try again
    }
    break;
  }
  auto creation = std::make_shared<ClientLease::State::Creation>();
  st.creating[tenant] = creation;
  lk.unlock();

  Result<Client> client = fail(Errc::pool_factory_failed, "");
  try {
    auto cfg = st.options.factory(tenant);
    if (!cfg) {
      Error e = cfg.error();
      e.message = "pool factory for tenant '" + tenant + "': " + e.message;
      client = fail(std::move(e));
    } else {
      // The duplicate-client rule looks for leaks; the pool owns its clients' lifetimes, and
      // a rebuilt tenant's client rightly overlaps the one it replaces while that is still
      // leased or being disconnected. Client::create() validates the configuration.
      cfg->refuse_duplicate = false;
      if (st.options.http_connections)
        for (auto& [name, server] : cfg->servers)
          if (auto* http = std::get_if<HttpServerConfig>(&server.transport); http && !http->connection_share)
            http->connection_share = st.options.http_connections;
      client = Client::create(std::move(*cfg));
    }
  } catch (const std::exception& ex) {
    client = fail(Errc::pool_factory_failed, "pool factory for tenant '" + tenant + "' threw: " + ex.what());
  }

  lk.lock();
  st.creating.erase(tenant);
  creation->done = true;
  if (!client) {
    ++st.stats.creation_failures;
    creation->error = client.error();
    st.created.notify_all();
    return fail(client.error());
  }
  auto e = std::make_shared<ClientLease::Entry>();
  e->tenant = tenant;
  e->client = std::make_shared<Client>(std::move(*client));
  e->version = version.value_or("");
  st.lru.push_front(tenant);
  e->lru = st.lru.begin();
  st.entries[tenant] = e;
  ++st.stats.creations;
  auto lease = lease_for(e);
  st.enforce_capacity();
  creation->entry = e;
  st.created.notify_all();
  if (!st.to_dispose.empty()) st.janitor_cv.notify_one();
  return lease;
}

void ClientPool::evict(const std::string& tenant) {
  auto& st = *state_;
  std::vector<std::shared_ptr<Client>> now;
  {
    std::lock_guard lk(st.m);
    auto it = st.entries.find(tenant);
    if (it == st.entries.end()) return;
    ++st.stats.evictions_explicit;
    st.remove(it->second);
    now = st.take_queue();
  }
  st.dispose(std::move(now));
}

void ClientPool::clear() {
  auto& st = *state_;
  std::vector<std::shared_ptr<Client>> now;
  {
    std::unique_lock lk(st.m);
    std::vector<std::shared_ptr<ClientLease::Entry>> all;
    for (auto& [t, e] : st.entries) all.push_back(e);
    for (auto& e : all) {
      ++st.stats.evictions_explicit;
      st.remove(e);
    }
    now = st.take_queue();
  }
  st.dispose(std::move(now));
  // Wait for a batch the janitor is disconnecting right now, so that "clear() returned"
  // means no unleased client is still connected.
  std::unique_lock lk(st.m);
  st.disposed.wait(lk, [&] { return st.in_progress == 0; });
}

PoolStats ClientPool::stats() const {
  std::lock_guard lk(state_->m);
  PoolStats s = state_->stats;
  s.live = state_->entries.size();
  s.leased = 0;
  for (const auto& [t, e] : state_->entries)
    if (e->leases > 0) ++s.leased;
  s.disposing = state_->disposing;
  return s;
}

}  // namespace mcp
