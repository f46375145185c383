// One test body over both transports: the stdio fault fixture and the HTTP fault fixture.
//   for (auto over : testutil::kBothTransports) {
//     CAPTURE(over);
//     testutil::Served s(over, {"--era", "legacy"}, {"--mode", "legacy"});
//     ... s.server() ... if (s.http()) CHECK(s.fixture().count("DELETE") == 1);
//   }
#pragma once
#include "http_fixture.hpp"

#include <doctest/doctest.h>

#include <optional>
#include <ostream>
#include <string>
#include <vector>

namespace testutil {

enum class Over { stdio, http };
inline constexpr Over kBothTransports[] = {Over::stdio, Over::http};

inline std::ostream& operator<<(std::ostream& o, Over t) { return o << (t == Over::http ? "http" : "stdio"); }

/// The fixture of one transport: fault_server with `stdio_flags`, or http_fault_server (started
/// now, stopped with this object) with `http_flags`.
class Served {
 public:
  Served(Over over, std::vector<std::string> stdio_flags, std::vector<std::string> http_flags) : over_(over) {
    if (over == Over::http) {
      fx_.emplace(std::move(http_flags));
      server_ = http_server(fx_->url());
    } else {
      server_ = fault(std::move(stdio_flags));
    }
  }
  bool http() const { return over_ == Over::http; }
  const mcp::ServerConfig& server() const { return server_; }
  /// The HTTP fixture (its request log); only when http().
  const Fixture& fixture() const {
    REQUIRE(fx_);
    return *fx_;
  }

 private:
  Over over_;
  std::optional<Fixture> fx_;
  mcp::ServerConfig server_;
};

}  // namespace testutil
