// SPDX-License-Identifier: MIT
#pragma once
// The one way to build an error of a server: a new one (`server_error`, `fail` with a server),
// or one passed up from below (`tagged`), which keeps the server it already names.
#include <mcp/error.hpp>

#include <string>
#include <string_view>

namespace mcp {

/// A new error of server `server`.
inline Error server_error(Errc c, std::string message, std::string_view server) {
  Error e = Error::make(c, std::move(message));
  e.server = server;
  return e;
}

/// `e`, naming `server` unless it names one already.
inline Error tagged(Error e, std::string_view server) {
  if (e.server.empty()) e.server = server;
  return e;
}

/// Shorthand for returning a new error of server `server`.
inline tl::unexpected<Error> fail(Errc c, std::string message, std::string_view server) {
  return tl::unexpected<Error>(server_error(c, std::move(message), server));
}

}  // namespace mcp
