// One raw stdio client of an mcp::Server of this process: a socketpair whose other end the
// server serves (serve_stdio(fd, fd)) on a thread, driven by JSON-RPC lines.
#pragma once
#include <mcp/server.hpp>

#include <doctest/doctest.h>
#include <nlohmann/json.hpp>

#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <string>
#include <thread>
#include <vector>

namespace testutil {

using json = nlohmann::json;

// 2026-07-28 request metadata of a raw client that declares elicitation and the tasks extension.
inline const json kModernMeta{
    {"io.modelcontextprotocol/protocolVersion", "2026-07-28"},
    {"io.modelcontextprotocol/clientInfo", {{"name", "raw"}, {"version", "0"}}},
    {"io.modelcontextprotocol/clientCapabilities",
     {{"elicitation", json::object()},
      {"extensions", {{"io.modelcontextprotocol/tasks", json::object()}}}}}};

struct StdioSession {
  int fd = -1;
  std::thread serving;
  std::string buffered;
  std::vector<json> notes;  // notifications seen while waiting for answers
  int next_id = 100;

  explicit StdioSession(mcp::Server& server) {
    int sv[2];
    REQUIRE(::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) == 0);
    fd = sv[0];
    serving = std::thread([&server, s = sv[1]] {
      (void)server.serve_stdio(s, s);
      ::close(s);
    });
  }
  ~StdioSession() {
    ::shutdown(fd, SHUT_WR);  // stdin ends: serving ends once the handlers have
    serving.join();
    ::close(fd);
  }
  void send(const json& m) {
    const std::string text = m.dump() + "\n";
    std::size_t off = 0;
    while (off < text.size()) {
      const ssize_t n = ::send(fd, text.data() + off, text.size() - off, MSG_NOSIGNAL);
      REQUIRE(n > 0);
      off += static_cast<std::size_t>(n);
    }
  }
  // The next message within `ms` (null on timeout).
  json next(int ms = 5000) {
    const auto until = std::chrono::steady_clock::now() + std::chrono::milliseconds(ms);
    for (;;) {
      if (auto nl = buffered.find('\n'); nl != std::string::npos) {
        std::string l = buffered.substr(0, nl);
        buffered.erase(0, nl + 1);
        return json::parse(l);
      }
      const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(until - std::chrono::steady_clock::now()).count();
      pollfd p{fd, POLLIN, 0};
      if (left <= 0 || ::poll(&p, 1, static_cast<int>(left)) <= 0) return nullptr;
      char buf[65536];
      const ssize_t n = ::recv(fd, buf, sizeof buf, 0);
      if (n <= 0) return nullptr;
      buffered.append(buf, static_cast<std::size_t>(n));
    }
  }
  // The answer to request `id` (what comes before it is kept in `notes`, where it is looked
  // for first).
  json answer(const json& id, int ms = 5000) {
    for (auto it = notes.begin(); it != notes.end(); ++it)
      if (it->is_object() && it->contains("id") && (*it)["id"] == id && !it->contains("method")) {
        json m = std::move(*it);
        notes.erase(it);
        return m;
      }
    for (;;) {
      json m = next(ms);
      REQUIRE_MESSAGE(!m.is_null(), "no answer to " << id.dump());
      if (m.is_object() && m.contains("id") && m["id"] == id && !m.contains("method")) return m;
      notes.push_back(std::move(m));
    }
  }
  json request(const std::string& method, json params = json::object()) {
    const int id = next_id++;
    send({{"jsonrpc", "2.0"}, {"id", id}, {"method", method}, {"params", std::move(params)}});
    return answer(id);
  }
  json modern(const std::string& method, json params = json::object(), json meta = kModernMeta) {
    params["_meta"] = std::move(meta);
    return request(method, std::move(params));
  }
  void initialize(const std::string& version, json caps = json::object()) {
    auto r = request("initialize", {{"protocolVersion", version}, {"capabilities", std::move(caps)},
                                    {"clientInfo", {{"name", "raw"}, {"version", "0"}}}});
    REQUIRE(r["result"]["protocolVersion"] == version);
    send({{"jsonrpc", "2.0"}, {"method", "notifications/initialized"}});
  }
  json call(const std::string& tool, json args, json task = nullptr) {
    json p{{"name", tool}, {"arguments", std::move(args)}};
    if (!task.is_null()) p["task"] = std::move(task);
    return request("tools/call", std::move(p));
  }
};

}  // namespace testutil
