// SPDX-License-Identifier: MIT
// Token stores of <mcp/oauth.hpp>: in memory, and a JSON file shared safely between processes
// (mode 0600, flock on a side lock file that lives only while held, temp file + rename); the
// default refresh lock (in-process, per store object and key).
#include <mcp/oauth.hpp>

#include "stored_auth_json.hpp"
#include "../protocol/json_read.hpp"
#include "../util/json_get.hpp"

#include <nlohmann/json.hpp>

#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <condition_variable>
#include <cstring>
#include <mutex>
#include <set>
#include <thread>
#include <tuple>
#include <utility>
#include <vector>

namespace mcp {
namespace {

using detail::str_or;
using nlohmann::json;
using SysClock = std::chrono::system_clock;

// Entries in saving order (the last is the most recent).
struct Entry {
  TokenKey key;
  StoredAuth auth;
};

std::optional<StoredAuth> find(const std::vector<Entry>& entries, const TokenKey& key) {
  for (auto it = entries.rbegin(); it != entries.rend(); ++it)
    if (it->key.tenant == key.tenant && it->key.resource == key.resource &&
        (key.issuer.empty() || it->key.issuer == key.issuer))
      return it->auth;
  return std::nullopt;
}

void upsert(std::vector<Entry>& entries, const TokenKey& key, const StoredAuth& value) {
  std::erase_if(entries, [&](const Entry& e) { return e.key == key; });
  entries.push_back({key, value});
}

class MemoryStore final : public TokenStore {
 public:
  Result<std::optional<StoredAuth>> load(const TokenKey& key) override {
    std::lock_guard lk(m_);
    return find(entries_, key);
  }
  Result<void> save(const TokenKey& key, const StoredAuth& value) override {
    std::lock_guard lk(m_);
    upsert(entries_, key, value);
    return {};
  }
  Result<void> erase(const TokenKey& key) override {
    std::lock_guard lk(m_);
    std::erase_if(entries_, [&](const Entry& e) { return e.key == key; });
    return {};
  }

 private:
  std::mutex m_;
  std::vector<Entry> entries_;
};

// ---------------------------------------------------------------------------------------------
// JSON file

json to_json(const Entry& e) {
  json j = {{"tenant", e.key.tenant}, {"issuer", e.key.issuer}, {"resource", e.key.resource}};
  detail::stored_auth_to_json(e.auth, j);
  return j;
}

std::optional<Entry> from_json(const json& j) {
  auto a = detail::stored_auth_from_json(j);
  if (!a) return std::nullopt;
  return Entry{{str_or(j, "tenant"), str_or(j, "issuer"), str_or(j, "resource")}, std::move(*a)};
}

// Holds an exclusive flock on the lock file for its lifetime, and leaves no lock file behind:
// the holder unlinks it before releasing the lock. A process that opened the file before it
// was unlinked gets the lock on a file no longer at `path`; it sees that (the inode at `path`
// is not the one it holds, or there is none) and tries again, on the file now at `path`. So
// the lock is always the one file at `path`, as with a lock file that is never removed.
// (Loads lock exclusively too: with shared locks, no holder could know it is the last.)
class FileLock {
 public:
  FileLock() = default;
  FileLock(const FileLock&) = delete;
  FileLock& operator=(const FileLock&) = delete;
  ~FileLock() {
    if (fd_ < 0) return;
    ::unlink(path_.c_str());  // still ours: whoever else has it open will try again
    ::close(fd_);             // releases the lock
  }
  // Without a deadline: waits as long as it takes; with one: polls until then (Errc::timeout).
  Result<void> acquire(const std::string& path,
                       std::optional<std::chrono::steady_clock::time_point> deadline = std::nullopt) {
    path_ = path;
    for (;;) {
      fd_ = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
      if (fd_ < 0) return fail(Errc::io_error, "token store: cannot open lock file " + path + ": " + std::strerror(errno));
      int rc;
      for (;;) {
        rc = ::flock(fd_, deadline ? LOCK_EX | LOCK_NB : LOCK_EX);
        if (rc == 0 || errno == EINTR) {
          if (rc == 0) break;
          continue;
        }
        if (!deadline || errno != EWOULDBLOCK) break;
        if (std::chrono::steady_clock::now() >= *deadline) {
          ::close(fd_);
          fd_ = -1;
          return fail(Errc::timeout, "token store: timed out waiting for the lock " + path);
        }
        std::this_thread::sleep_for(std::chrono::milliseconds(10));
      }
      if (rc != 0) {
        const std::string why = std::strerror(errno);
        ::close(fd_);
        fd_ = -1;
        return fail(Errc::io_error, "token store: cannot lock " + path + ": " + why);
      }
      struct stat held {}, at {};
      if (::fstat(fd_, &held) == 0 && ::stat(path.c_str(), &at) == 0 && held.st_dev == at.st_dev &&
          held.st_ino == at.st_ino)
        return {};
      ::close(fd_);  // the holder before us removed it: lock the one at `path` now
      fd_ = -1;
    }
  }

 private:
  int fd_ = -1;
  std::string path_;
};

class FileStore final : public TokenStore {
 public:
  explicit FileStore(std::string path) : path_(std::move(path)), lock_path_(path_ + ".lock") {}

  Result<std::optional<StoredAuth>> load(const TokenKey& key) override {
    std::lock_guard lk(m_);
    FileLock fl;
    if (auto r = fl.acquire(lock_path_); !r) return fail(r.error());
    auto entries = read();
    if (!entries) return fail(entries.error());
    return find(*entries, key);
  }

  Result<void> save(const TokenKey& key, const StoredAuth& value) override {
    return update([&](std::vector<Entry>& entries) { upsert(entries, key, value); });
  }

  Result<void> erase(const TokenKey& key) override {
    return update([&](std::vector<Entry>& entries) {
      std::erase_if(entries, [&](const Entry& e) { return e.key == key; });
    });
  }

  // One flock for the whole file (held while a refresh runs; flock conflicts between open
  // files of one process too, so it orders this process's threads as well).
  Result<std::unique_ptr<TokenLock>> lock_refresh(const TokenKey&, std::chrono::steady_clock::time_point deadline) override {
    struct Held final : TokenLock {
      FileLock lock;
    };
    auto h = std::make_unique<Held>();
    if (auto r = h->lock.acquire(path_ + ".refresh.lock", deadline); !r) return fail(r.error());
    return std::unique_ptr<TokenLock>(std::move(h));
  }

 private:
  template <class F>
  Result<void> update(F&& change) {
    std::lock_guard lk(m_);
    FileLock fl;
    if (auto r = fl.acquire(lock_path_); !r) return r;
    auto entries = read();
    if (!entries) return fail(entries.error());
    change(*entries);
    return write(*entries);
  }

  // The entries of the file (none when it does not exist yet); refuses a file others can read.
  Result<std::vector<Entry>> read() const {
    int fd = ::open(path_.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
    if (fd < 0) {
      if (errno == ENOENT) return std::vector<Entry>{};
      return fail(Errc::io_error, "token store: cannot open " + path_ + ": " + std::strerror(errno));
    }
    struct stat st {};
    if (::fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
      ::close(fd);
      return fail(Errc::io_error, "token store: " + path_ + " is not a regular file");
    }
    if ((st.st_mode & 077) != 0 || st.st_uid != ::geteuid()) {
      ::close(fd);
      return fail(Errc::invalid_config, "token store: " + path_ +
                                            " is accessible by other users (or owned by another user); "
                                            "refusing to use it (chmod 600 it)");
    }
    std::string text;
    char buf[8192];
    for (;;) {
      ssize_t n = ::read(fd, buf, sizeof buf);
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) break;
      text.append(buf, static_cast<std::size_t>(n));
    }
    ::close(fd);
    std::vector<Entry> out;
    if (text.empty()) return out;
    json doc = detail::parse_json(text);
    if (doc.is_discarded() || !doc.is_object())
      return fail(Errc::io_error, "token store: " + path_ + " is not a token store file (not JSON)");
    if (auto it = doc.find("entries"); it != doc.end() && it->is_array())
      for (const auto& j : *it)
        if (auto e = from_json(j)) out.push_back(std::move(*e));
    return out;
  }

  Result<void> write(const std::vector<Entry>& entries) const {
    json doc = {{"version", 1}, {"entries", json::array()}};
    for (const auto& e : entries) doc["entries"].push_back(to_json(e));
    const std::string text = doc.dump(2) + "\n";
    std::string tmp = path_ + ".tmp." + std::to_string(::getpid());
    ::unlink(tmp.c_str());
    int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);
    if (fd < 0) return fail(Errc::io_error, "token store: cannot create " + tmp + ": " + std::strerror(errno));
    ::fchmod(fd, 0600);  // whatever the umask
    std::size_t off = 0;
    bool ok = true;
    while (off < text.size()) {
      ssize_t n = ::write(fd, text.data() + off, text.size() - off);
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) {
        ok = false;
        break;
      }
      off += static_cast<std::size_t>(n);
    }
    ok = ok && ::fsync(fd) == 0;
    ok = (::close(fd) == 0) && ok;
    if (!ok || ::rename(tmp.c_str(), path_.c_str()) != 0) {
      const std::string why = std::strerror(errno);
      ::unlink(tmp.c_str());
      return fail(Errc::io_error, "token store: cannot write " + path_ + ": " + why);
    }
    return {};
  }

  const std::string path_;
  const std::string lock_path_;
  std::mutex m_;  // flock is per open file description; this orders our own threads
};

// The default refresh lock: (store object, key) pairs held in this process.
struct LocalLocks {
  using Id = std::tuple<const void*, std::string, std::string, std::string>;
  std::mutex m;
  std::condition_variable cv;
  std::set<Id> held;
};

LocalLocks& local_locks() {
  static auto* l = new LocalLocks;  // never destroyed: a lock may be released during exit
  return *l;
}

class LocalLock final : public TokenLock {
 public:
  explicit LocalLock(LocalLocks::Id id) : id_(std::move(id)) {}
  ~LocalLock() override {
    auto& l = local_locks();
    std::lock_guard lk(l.m);
    l.held.erase(id_);
    l.cv.notify_all();
  }

 private:
  LocalLocks::Id id_;
};

}  // namespace

void detail::stored_auth_to_json(const StoredAuth& a, json& j) {
  j["access_token"] = a.access_token;
  j["token_type"] = a.token_type;
  j["dpop_jkt"] = a.dpop_jkt;
  j["refresh_token"] = a.refresh_token;
  j["scope"] = a.scope;
  j["client_id"] = a.client_id;
  j["client_secret"] = a.client_secret;
  j["token_endpoint_auth_method"] = a.token_endpoint_auth_method;
  j["auth_issuer"] = a.issuer;
  j["token_endpoint"] = a.token_endpoint;
  j["token_resource"] = a.resource;
  if (a.expires_at)
    j["expires_at"] = std::chrono::duration_cast<std::chrono::seconds>(a.expires_at->time_since_epoch()).count();
}

std::optional<StoredAuth> detail::stored_auth_from_json(const json& j) {
  if (!j.is_object()) return std::nullopt;
  StoredAuth a;
  a.access_token = str_or(j, "access_token");
  a.token_type = str_or(j, "token_type");
  a.dpop_jkt = str_or(j, "dpop_jkt");
  a.refresh_token = str_or(j, "refresh_token");
  a.scope = str_or(j, "scope");
  a.client_id = str_or(j, "client_id");
  a.client_secret = str_or(j, "client_secret");
  a.token_endpoint_auth_method = str_or(j, "token_endpoint_auth_method");
  a.issuer = str_or(j, "auth_issuer");
  a.token_endpoint = str_or(j, "token_endpoint");
  a.resource = str_or(j, "token_resource");
  if (auto it = j.find("expires_at"); it != j.end() && it->is_number_integer())
    a.expires_at = SysClock::time_point(std::chrono::seconds(it->get<std::int64_t>()));
  return a;
}

Result<std::unique_ptr<TokenLock>> TokenStore::lock_refresh(const TokenKey& key,
                                                            std::chrono::steady_clock::time_point deadline) {
  auto& l = local_locks();
  LocalLocks::Id id{this, key.tenant, key.issuer, key.resource};
  std::unique_lock lk(l.m);
  if (!l.cv.wait_until(lk, deadline, [&] { return !l.held.contains(id); }))
    return fail(Errc::timeout, "token store: timed out waiting for another refresh of these tokens");
  l.held.insert(id);
  return std::unique_ptr<TokenLock>(std::make_unique<LocalLock>(std::move(id)));
}

std::shared_ptr<TokenStore> memory_token_store() { return std::make_shared<MemoryStore>(); }

std::shared_ptr<TokenStore> file_token_store(std::string path) {
  return std::make_shared<FileStore>(std::move(path));
}

}  // namespace mcp
