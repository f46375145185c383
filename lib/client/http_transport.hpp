// SPDX-License-Identifier: MIT
#pragma once
// Factory for the HTTP transports (the HTTP/1.1 client, http1, stays inside http_transport.cpp):
// Streamable HTTP for both eras, and the legacy 2024-11-05 HTTP+SSE transport, with the
// automatic fallback between them.
#include <mcp/config.hpp>
#include "transport.hpp"

#include "../util/url.hpp"

#include <memory>
#include <optional>
#include <string>

namespace mcp::detail {

/// `server_stream`: whether Streamable HTTP opens the optional GET stream once a stateful
/// session is ready (SendOptions::session_ready). It only carries messages unrelated to our requests (logs,
/// list changes, server requests), so a client without handlers for them goes without it
/// and saves a parked thread and a connection.
std::shared_ptr<Transport> make_http_transport(std::string server_name, HttpServerConfig config,
                                               bool server_stream = true);

/// The checks `start` makes of a configuration before anything is sent (invalid_config): the
/// URL as parse_url takes it, and header names and values without CR, LF or NUL. Client::create
/// makes them too, so a bad configuration is refused when the client is made.
Result<Url> check_http_config(const HttpServerConfig& cfg);

/// Threads of the process-wide HTTP flight pool now idle, waiting for work (at most 8, each
/// for 10 s): not a leak, so the tests' thread accounting leaves them out.
std::size_t idle_flight_threads();

}  // namespace mcp::detail
