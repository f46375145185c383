// SPDX-License-Identifier: MIT
#pragma once
// Runs a node script of test/interop (the pinned npm clients) and returns the one JSON object
// it printed last.
#include <doctest/doctest.h>
#include <nlohmann/json.hpp>

#include <array>
#include <cstdio>
#include <cstdlib>
#include <string>

namespace testnode {

inline std::string interop_dir() {
  const char* e = std::getenv("MCP_INTEROP_DIR");
  return e && *e ? e : "test/interop";
}

// `node <interop>/<script> <args>` (args as given: quote them), within `timeout_s`; `env`
// ("NAME=value ") before it.
inline nlohmann::json run(const std::string& script, const std::string& args, int timeout_s = 120,
                          const std::string& env = {}) {
  const std::string dir = interop_dir();
  const std::string cmd = env + "timeout " + std::to_string(timeout_s) + " '" + dir + "/node_modules/.bin/node' '" + dir + "/" +
                          script + "' " + args + " 2>&1";
  std::string output;
  FILE* p = ::popen(cmd.c_str(), "r");
  REQUIRE(p);
  std::array<char, 4096> buf{};
  while (std::fgets(buf.data(), static_cast<int>(buf.size()), p)) output += buf.data();
  const int status = ::pclose(p);
  INFO("output: " << output);
  REQUIRE(status == 0);
  const auto last = output.find_last_of('{') == std::string::npos ? std::string::npos : output.rfind("\n{");
  nlohmann::json j = nlohmann::json::parse(last == std::string::npos ? output : output.substr(last + 1), nullptr, false);
  REQUIRE(j.is_object());
  return j;
}

}  // namespace testnode
