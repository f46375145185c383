// The HTTP fault fixture (test/fixtures/http_fault_server) as a test object.
#pragma once
#include "helpers.hpp"

#include <doctest/doctest.h>

namespace testutil {

using nlohmann::json;

/// An HTTP server at `url`, with the defaults.
inline mcp::ServerConfig http_server(const std::string& url) {
  mcp::HttpServerConfig h;
  h.url = url;
  mcp::ServerConfig sc;
  sc.transport = std::move(h);
  return sc;
}

// The fixture on an ephemeral port. It exits when its stdin closes, so a test that dies
// never leaves it running; the destructor also stops and reaps it.
class Fixture {
 public:
  explicit Fixture(std::vector<std::string> flags) : log_(testutil::temp_path("http.log")) {
    int in[2], out[2];
    REQUIRE(::pipe2(in, O_CLOEXEC) == 0);
    REQUIRE(::pipe2(out, O_CLOEXEC) == 0);
    std::vector<std::string> args{http_fault_server(), "--port", "0", "--log", log_};
    for (auto& f : flags) args.push_back(f);
    std::vector<char*> argv;
    for (auto& a : args) argv.push_back(a.data());
    argv.push_back(nullptr);
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_adddup2(&fa, in[0], 0);
    posix_spawn_file_actions_adddup2(&fa, out[1], 1);
    REQUIRE(::posix_spawn(&pid_, argv[0], &fa, nullptr, argv.data(), environ) == 0);
    posix_spawn_file_actions_destroy(&fa);
    ::close(in[0]);
    ::close(out[1]);
    stdin_ = in[1];
    std::string line;
    char c;
    while (::read(out[0], &c, 1) == 1 && c != '\n') line += c;
    ::close(out[0]);
    const std::string why = "fixture did not start: " + line;
    REQUIRE_MESSAGE(line.rfind("PORT ", 0) == 0, why);
    port_ = std::stoi(line.substr(5));
  }
  ~Fixture() {
    ::close(stdin_);
    ::kill(pid_, SIGTERM);
    ::waitpid(pid_, nullptr, 0);
  }
  std::string url(const std::string& path = "/mcp") const { return "http://127.0.0.1:" + std::to_string(port_) + path; }
  json requests() const {
    json out = json::array();
    std::istringstream in(testutil::read_file(log_));
    std::string line;
    while (std::getline(in, line))
      if (!line.empty()) out.push_back(json::parse(line, nullptr, false));
    return out;
  }
  int count(const std::string& http_method, const std::string& rpc_method = "") const {
    int n = 0;
    for (const auto& r : requests())
      if (r.value("method", "") == http_method &&
          (rpc_method.empty() || (r["body"].is_object() && r["body"].value("method", "") == rpc_method)))
        ++n;
    return n;
  }

 private:
  pid_t pid_ = -1;
  int stdin_ = -1;
  int port_ = 0;
  std::string log_;
};

}  // namespace testutil

using testutil::Fixture;
