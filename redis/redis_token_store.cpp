// SPDX-License-Identifier: MIT
// The Redis token store of <mcp/redis_token_store.hpp> (libmcp-redis, on hiredis 0.14's
// blocking API): a bounded pool of connections, entries and their "most recent" pointer
// written by one Lua script, and the refresh lock (SET NX PX, owner-checked release).
#include <mcp/redis_token_store.hpp>

#include "../lib/auth/stored_auth_json.hpp"
#include "../lib/protocol/json_read.hpp"

#include <hiredis/hiredis.h>

#include <cctype>
#include <cerrno>
#include <condition_variable>
#include <cstring>
#include <map>
#include <mutex>
#include <random>
#include <thread>
#include <utility>
#include <vector>

namespace mcp {
namespace {

using SteadyClock = std::chrono::steady_clock;
using SysClock = std::chrono::system_clock;
using std::chrono::milliseconds;

// Entry and pointer in one step: both keys get the same TTL (ARGV[2] ms; 0: none).
constexpr const char* kSaveScript = R"lua(
local ttl = tonumber(ARGV[2])
if ttl > 0 then
  redis.call('SET', KEYS[1], ARGV[1], 'PX', ttl)
  redis.call('SET', KEYS[2], KEYS[1], 'PX', ttl)
else
  redis.call('SET', KEYS[1], ARGV[1])
  redis.call('SET', KEYS[2], KEYS[1])
end
return 1)lua";

// The entry, and the pointer when it names this entry.
constexpr const char* kEraseScript = R"lua(
redis.call('DEL', KEYS[1])
if redis.call('GET', KEYS[2]) == KEYS[1] then redis.call('DEL', KEYS[2]) end
return 1)lua";

// The entry the pointer names (nil when either is gone).
constexpr const char* kLoadLatestScript = R"lua(
local k = redis.call('GET', KEYS[1])
if not k then return false end
return redis.call('GET', k))lua";

// Takes the lock when it is free, or when it already holds this owner's token (a lock command
// whose answer was lost, or a release that failed: this store knows the token); with the lease.
constexpr const char* kLockScript = R"lua(
local v = redis.call('GET', KEYS[1])
if not v then
  redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
  return 1
end
if v == ARGV[1] then
  redis.call('PEXPIRE', KEYS[1], ARGV[2])
  return 1
end
return 0)lua";

// Deletes the lock only while it holds this owner's token.
constexpr const char* kUnlockScript = R"lua(
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0)lua";

// Percent-encodes all but [A-Za-z0-9-._~:/@] ('|' separates the parts of a key).
std::string enc(const std::string& s) {
  static const char* hex = "0123456789ABCDEF";
  std::string out;
  for (unsigned char c : s) {
    if (std::isalnum(c) || std::strchr("-._~:/@", c)) {
      out += static_cast<char>(c);
    } else {
      out += '%';
      out += hex[c >> 4];
      out += hex[c & 15];
    }
  }
  return out;
}

timeval to_timeval(milliseconds ms) {
  if (ms < milliseconds(1)) ms = milliseconds(1);
  return {static_cast<time_t>(ms.count() / 1000), static_cast<suseconds_t>((ms.count() % 1000) * 1000)};
}

struct ReplyFree {
  void operator()(redisReply* r) const { freeReplyObject(r); }
};
using Reply = std::unique_ptr<redisReply, ReplyFree>;

struct ContextFree {
  void operator()(redisContext* c) const { redisFree(c); }
};
using Context = std::unique_ptr<redisContext, ContextFree>;

// The bounded set of connections, shared by the store and its held locks.
class Connections {
 public:
  explicit Connections(RedisStoreOptions o) : o_(std::move(o)) {
    where_ = o_.unix_socket.empty() ? o_.host + ":" + std::to_string(o_.port) : "unix:" + o_.unix_socket;
  }

  // Runs one command on a pooled connection; waits for a connection until `deadline` at most.
  // A connection that failed in any way is dropped (the next command reconnects).
  Result<Reply> run(const std::vector<std::string>& args, SteadyClock::time_point deadline) {
    auto c = acquire(deadline);
    if (!c) return fail(c.error());
    auto r = command(c->get(), args, false);
    release(std::move(*c), r.has_value());
    return r;
  }

  Result<Reply> run(const std::vector<std::string>& args) { return run(args, SteadyClock::now() + o_.connect_timeout); }

  const RedisStoreOptions& options() const { return o_; }

  // Lock keys this store may hold without knowing it (the lock command or the release failed
  // midway), with the owner token it used: the next lock of that key reuses the token.
  std::string owner_for(const std::string& lock_key) {
    std::lock_guard lk(m_);
    auto it = maybe_held_.find(lock_key);
    return it != maybe_held_.end() ? it->second : std::string();
  }
  void maybe_held(const std::string& lock_key, const std::string& owner, bool yes) {
    std::lock_guard lk(m_);
    if (yes) maybe_held_[lock_key] = owner;
    else maybe_held_.erase(lock_key);
  }
  const std::string& where() const { return where_; }

 private:
  Result<Context> acquire(SteadyClock::time_point deadline) {
    std::unique_lock lk(m_);
    if (!cv_.wait_until(lk, deadline, [&] { return !idle_.empty() || open_ < o_.max_connections; }))
      return fail(Errc::timeout, "token store: every Redis connection (" + std::to_string(o_.max_connections) +
                                     ") stayed busy; " + where_ + " may be slow");
    if (!idle_.empty()) {
      Context c = std::move(idle_.back());
      idle_.pop_back();
      return c;
    }
    ++open_;
    lk.unlock();
    auto c = connect();
    if (!c) {
      lk.lock();
      --open_;
      cv_.notify_one();
    }
    return c;
  }

  void release(Context c, bool ok) {
    std::lock_guard lk(m_);
    if (ok && c && c->err == 0) idle_.push_back(std::move(c));
    else --open_;  // dropped (closed by ~Context)
    cv_.notify_one();
  }

  Result<Context> connect() {
    const timeval tv = to_timeval(o_.connect_timeout);
    Context c(o_.unix_socket.empty() ? redisConnectWithTimeout(o_.host.c_str(), o_.port, tv)
                                     : redisConnectUnixWithTimeout(o_.unix_socket.c_str(), tv));
    if (!c) return fail(Errc::connection_failed, "token store: cannot connect to Redis at " + where_ + ": out of memory");
    if (c->err) {
      const std::string why = c->errstr;
      const bool slow = why.find("timed out") != std::string::npos || why.find(std::strerror(EINPROGRESS)) != std::string::npos;
      return fail(slow ? Errc::timeout : Errc::connection_failed,
                  "token store: cannot connect to Redis at " + where_ + ": " + why);
    }
    if (redisSetTimeout(c.get(), to_timeval(o_.command_timeout)) != REDIS_OK)
      return fail(Errc::io_error, "token store: cannot set the Redis command timeout");
    if (!o_.password.empty()) {
      std::vector<std::string> auth{"AUTH"};
      if (!o_.username.empty()) auth.push_back(o_.username);
      auth.push_back(o_.password);
      if (auto r = command(c.get(), auth, true); !r) return fail(r.error());
    }
    if (o_.database != 0)
      if (auto r = command(c.get(), {"SELECT", std::to_string(o_.database)}, false); !r) return fail(r.error());
    return c;
  }

  // One command; Redis error replies become errors too (for AUTH only the error's code, e.g.
  // WRONGPASS, is quoted).
  Result<Reply> command(redisContext* c, const std::vector<std::string>& args, bool is_auth) {
    std::vector<const char*> argv;
    std::vector<std::size_t> lens;
    for (const auto& a : args) {
      argv.push_back(a.data());
      lens.push_back(a.size());
    }
    errno = 0;
    Reply r(static_cast<redisReply*>(redisCommandArgv(c, static_cast<int>(argv.size()), argv.data(), lens.data())));
    const std::string& name = args.front();
    if (!r) {
      const int e = errno;
      const std::string why = c->errstr;
      if (c->err == REDIS_ERR_IO && (e == EAGAIN || e == EWOULDBLOCK || why == std::strerror(EAGAIN)))
        return fail(Errc::timeout, "token store: Redis at " + where_ + " did not answer " + name + " within " +
                                       std::to_string(o_.command_timeout.count()) + " ms");
      if (c->err == REDIS_ERR_EOF)
        return fail(Errc::connection_closed, "token store: Redis at " + where_ + " closed the connection");
      return fail(Errc::io_error, "token store: Redis at " + where_ + ": " + why);
    }
    if (r->type == REDIS_REPLY_ERROR) {
      std::string text(r->str, r->len);
      if (is_auth) {
        const auto sp = text.find(' ');
        return fail(Errc::unauthorized, "token store: Redis at " + where_ + " refused the credentials (" +
                                            text.substr(0, std::min<std::size_t>(sp, 32)) + ")");
      }
      if (text.size() > 120) text = text.substr(0, 120) + "...";
      const bool auth = text.rfind("NOAUTH", 0) == 0 || text.rfind("NOPERM", 0) == 0 || text.rfind("WRONGPASS", 0) == 0;
      // A failed command leaves the connection usable, but drop it anyway (cheap, and simple).
      c->err = REDIS_ERR_OTHER;
      return fail(auth ? Errc::unauthorized : Errc::io_error,
                  "token store: Redis at " + where_ + " refused " + name + ": " + text);
    }
    return r;
  }

  const RedisStoreOptions o_;
  std::string where_;
  std::mutex m_;
  std::condition_variable cv_;
  std::vector<Context> idle_;
  std::size_t open_ = 0;  // idle + in use (+ being opened)
  std::map<std::string, std::string> maybe_held_;
};

std::string random_token() {
  static thread_local std::mt19937_64 gen{[] {
    std::random_device rd;
    return (std::uint64_t{rd()} << 32) ^ rd();
  }()};
  static const char* hex = "0123456789abcdef";
  std::string out;
  for (int i = 0; i < 2; ++i) {
    auto v = gen();
    for (int j = 0; j < 16; ++j, v >>= 4) out += hex[v & 15];
  }
  return out;
}

class RedisLock final : public TokenLock {
 public:
  RedisLock(std::shared_ptr<Connections> conns, std::string key, std::string owner)
      : conns_(std::move(conns)), key_(std::move(key)), owner_(std::move(owner)) {}
  // Best effort: when Redis cannot be told, the lease ends the lock (or this store's next lock
  // of the key takes it over).
  ~RedisLock() override {
    auto r = conns_->run({"EVAL", kUnlockScript, "1", key_, owner_});
    conns_->maybe_held(key_, owner_, !r);
  }

 private:
  std::shared_ptr<Connections> conns_;
  std::string key_, owner_;
};

class RedisStore final : public TokenStore {
 public:
  explicit RedisStore(RedisStoreOptions o) : conns_(std::make_shared<Connections>(std::move(o))) {}

  Result<std::optional<StoredAuth>> load(const TokenKey& key) override {
    auto r = key.issuer.empty() ? conns_->run({"EVAL", kLoadLatestScript, "1", latest_key(key)})
                                : conns_->run({"GET", entry_key(key)});
    if (!r) return fail(r.error());
    if ((*r)->type == REDIS_REPLY_NIL) return std::optional<StoredAuth>();
    if ((*r)->type != REDIS_REPLY_STRING)
      return fail(Errc::io_error, "token store: unexpected Redis reply type for an entry at " + conns_->where());
    auto doc = detail::parse_json(std::string_view((*r)->str, (*r)->len));
    auto a = detail::stored_auth_from_json(doc);
    if (!a) return fail(Errc::io_error, "token store: an entry at " + conns_->where() + " is not a stored credential");
    return std::optional<StoredAuth>(std::move(*a));
  }

  Result<void> save(const TokenKey& key, const StoredAuth& value) override {
    nlohmann::json j = nlohmann::json::object();
    detail::stored_auth_to_json(value, j);
    auto r = conns_->run({"EVAL", kSaveScript, "2", entry_key(key), latest_key(key), j.dump(),
                          std::to_string(ttl_ms(value))});
    if (!r) return fail(r.error());
    return {};
  }

  Result<void> erase(const TokenKey& key) override {
    auto r = conns_->run({"EVAL", kEraseScript, "2", entry_key(key), latest_key(key)});
    if (!r) return fail(r.error());
    return {};
  }

  Result<std::unique_ptr<TokenLock>> lock_refresh(const TokenKey& key, SteadyClock::time_point deadline) override {
    const auto& o = conns_->options();
    const std::string lock_key = o.key_prefix + "lock|" + parts(key);
    std::string owner = conns_->owner_for(lock_key);
    if (owner.empty()) owner = random_token();
    for (;;) {
      auto r = conns_->run({"EVAL", kLockScript, "1", lock_key, owner, std::to_string(o.refresh_lease.count())}, deadline);
      if (!r) {
        // Did Redis take the command before the connection failed? Unknown: reuse the token.
        conns_->maybe_held(lock_key, owner, true);
        return fail(r.error());
      }
      if ((*r)->type == REDIS_REPLY_INTEGER && (*r)->integer == 1) {
        conns_->maybe_held(lock_key, owner, false);
        return std::unique_ptr<TokenLock>(std::make_unique<RedisLock>(conns_, lock_key, owner));
      }
      if (SteadyClock::now() + milliseconds(20) >= deadline)
        return fail(Errc::timeout, "token store: timed out waiting for another replica's refresh of these tokens");
      std::this_thread::sleep_for(milliseconds(20));
    }
  }

 private:
  static std::string parts(const TokenKey& k) { return enc(k.tenant) + "|" + enc(k.issuer) + "|" + enc(k.resource); }
  std::string entry_key(const TokenKey& k) const { return conns_->options().key_prefix + "tok|" + parts(k); }
  std::string latest_key(const TokenKey& k) const {
    return conns_->options().key_prefix + "new|" + enc(k.tenant) + "|" + enc(k.resource);
  }

  // The entry's TTL in ms (0: none); see the header.
  std::int64_t ttl_ms(const StoredAuth& a) const {
    const auto& o = conns_->options();
    if (!a.expires_at) return 0;
    SysClock::time_point until;
    if (a.refresh_token.empty()) until = *a.expires_at + o.expiry_grace;
    else if (o.refresh_token_lifetime) until = *a.expires_at + *o.refresh_token_lifetime;
    else return 0;
    const auto left = std::chrono::duration_cast<milliseconds>(until - SysClock::now()).count();
    return left > 0 ? left : 1;  // already past: gone at once (but written, as asked)
  }

  std::shared_ptr<Connections> conns_;
};

}  // namespace

Result<std::shared_ptr<TokenStore>> redis_token_store(RedisStoreOptions o) {
  if (o.key_prefix.empty()) return fail(Errc::invalid_config, "Redis token store: key_prefix must not be empty");
  if (o.unix_socket.empty() && o.host.empty()) return fail(Errc::invalid_config, "Redis token store: no host");
  if (o.unix_socket.empty() && (o.port < 1 || o.port > 65535))
    return fail(Errc::invalid_config, "Redis token store: port must be 1..65535");
  if (o.database < 0) return fail(Errc::invalid_config, "Redis token store: database must not be negative");
  if (o.connect_timeout <= milliseconds(0) || o.command_timeout <= milliseconds(0))
    return fail(Errc::invalid_config, "Redis token store: timeouts must be positive");
  if (o.refresh_lease <= milliseconds(0)) return fail(Errc::invalid_config, "Redis token store: refresh_lease must be positive");
  if (o.max_connections == 0) return fail(Errc::invalid_config, "Redis token store: max_connections must be at least 1");
  if (!o.username.empty() && o.password.empty())
    return fail(Errc::invalid_config, "Redis token store: an ACL username needs a password");
  return std::shared_ptr<TokenStore>(std::make_shared<RedisStore>(std::move(o)));
}

}  // namespace mcp
