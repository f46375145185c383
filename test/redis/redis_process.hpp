// SPDX-License-Identifier: MIT
#pragma once
// A redis-server for one test: started on a free loopback port with nothing persisted
// (--save '' --appendonly no) in a temporary directory, killed and reaped when destroyed;
// plus a raw hiredis connection to look at what the store wrote.
#include "../integration/helpers.hpp"

#include <mcp/redis_token_store.hpp>

#include <doctest/doctest.h>
#include <hiredis/hiredis.h>

#include <signal.h>
#include <stdlib.h>

#include <memory>
#include <string>
#include <vector>

namespace testredis {

class RedisProcess {
 public:
  explicit RedisProcess(std::vector<std::string> extra = {}) : extra_(std::move(extra)) {
    char tmpl[] = "/tmp/mcp-redis-XXXXXX";
    REQUIRE(::mkdtemp(tmpl) != nullptr);
    dir_ = tmpl;
    port_ = testutil::free_port();
    start();
  }
  ~RedisProcess() {
    proc_.reset();
    for (const auto& f : testutil::list_dir(dir_)) ::unlink((dir_ + "/" + f).c_str());
    ::rmdir(dir_.c_str());
  }
  RedisProcess(const RedisProcess&) = delete;
  RedisProcess& operator=(const RedisProcess&) = delete;

  void start() {
    std::vector<std::string> argv{REDIS_SERVER_PATH, "--port", std::to_string(port_), "--bind", "127.0.0.1",
                                  "--save", "", "--appendonly", "no", "--dir", dir_, "--daemonize", "no"};
    argv.insert(argv.end(), extra_.begin(), extra_.end());
    proc_ = std::make_unique<testutil::ServerProcess>(argv, std::vector<std::string>{}, dir_ + "/redis.log");
    REQUIRE(proc_->pid() > 0);
    REQUIRE_MESSAGE(testutil::eventually([&] { return testutil::port_open(port_); }, 10000),
                    testutil::read_file(dir_ + "/redis.log"));
  }
  // SIGKILL (a crash), reaped.
  void kill() {
    ::kill(proc_->pid(), SIGKILL);
    proc_->stop();
  }
  void pause() { ::kill(proc_->pid(), SIGSTOP); }
  void resume() { ::kill(proc_->pid(), SIGCONT); }
  int pid() const { return proc_->pid(); }
  int port() const { return port_; }

  mcp::RedisStoreOptions options(const std::string& prefix = "test:") const {
    mcp::RedisStoreOptions o;
    o.port = port_;
    o.key_prefix = prefix;
    o.connect_timeout = std::chrono::milliseconds(500);
    o.command_timeout = std::chrono::milliseconds(500);
    return o;
  }

  // One command on a fresh connection (no AUTH): its reply as text ("(nil)", integers in decimal,
  // "(error) ..." for errors, arrays as their element count).
  std::string raw(std::vector<std::string> args, const std::string& password = {}) const {
    redisContext* c = redisConnect("127.0.0.1", port_);
    if (!c || c->err) {
      if (c) redisFree(c);
      return "(no connection)";
    }
    if (!password.empty()) freeReplyObject(redisCommand(c, "AUTH %s", password.c_str()));
    std::vector<const char*> argv;
    std::vector<std::size_t> lens;
    for (auto& a : args) {
      argv.push_back(a.data());
      lens.push_back(a.size());
    }
    auto* r = static_cast<redisReply*>(redisCommandArgv(c, static_cast<int>(argv.size()), argv.data(), lens.data()));
    std::string out = "(no reply)";
    if (r) {
      switch (r->type) {
        case REDIS_REPLY_NIL: out = "(nil)"; break;
        case REDIS_REPLY_INTEGER: out = std::to_string(r->integer); break;
        case REDIS_REPLY_ERROR: out = "(error) " + std::string(r->str, r->len); break;
        case REDIS_REPLY_ARRAY: out = std::to_string(r->elements); break;
        default: out = std::string(r->str, r->len);
      }
      freeReplyObject(r);
    }
    redisFree(c);
    return out;
  }

 private:
  std::vector<std::string> extra_;
  std::string dir_;
  int port_ = 0;
  std::unique_ptr<testutil::ServerProcess> proc_;
};

}  // namespace testredis
