// SPDX-License-Identifier: MIT
// A JSON-RPC error object, as received in a reply, read into an Error (jsonrpc.hpp).
#include "jsonrpc.hpp"

#include "types_detail.hpp"

#include <nlohmann/json.hpp>

#include <cstdint>
#include <limits>

namespace mcp::jsonrpc {

Error error_from(const nlohmann::json& err, const std::string& method) {
  Error e = Error::make(Errc::rpc_error, "");
  std::string msg = "server error";
  std::string odd_code;
  if (err.is_object()) {
    auto c = err.find("code");
    if (c != err.end() && c->is_number_integer()) {
      // JSON-RPC codes are 32-bit: anything else is reported as sent, not truncated (4294967297
      // would read as 1).
      const bool fits = c->is_number_unsigned()
                            ? c->get<std::uint64_t>() <= static_cast<std::uint64_t>(std::numeric_limits<int>::max())
                            : c->get<std::int64_t>() >= std::numeric_limits<int>::min() &&
                                  c->get<std::int64_t>() <= std::numeric_limits<int>::max();
      if (fits) e.rpc_code = c->get<int>();
      else odd_code = c->dump();
    }
    auto m = err.find("message");
    if (m != err.end() && m->is_string()) msg = m->get<std::string>();
    auto d = err.find("data");
    if (d != err.end()) e.data = detail::copy_json(*d);  // a server's value: the copy that nests cheaply
  }
  e.message = method + ": " + msg;
  if (!odd_code.empty()) e.message += " (the error code " + odd_code + " is not a 32-bit JSON-RPC code)";
  return e;
}

}  // namespace mcp::jsonrpc
