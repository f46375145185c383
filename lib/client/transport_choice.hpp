// SPDX-License-Identifier: MIT
#pragma once
// The transport a server's configuration asks for (stdio or HTTP), and what that transport
// supports, named where the session asks.
#include "era.hpp"

#include <mcp/config.hpp>
#include "transport.hpp"

#include <memory>
#include <string>

namespace mcp::detail {

/// What the session's behaviour depends on in its transport.
struct TransportTraits {
  TransportKind kind = TransportKind::stdio;
  /// Tool arguments mirrored into Mcp-Param-* headers (Streamable HTTP, x-mcp-header).
  bool param_headers = false;
  /// Credentials that can change per call (HttpServerConfig::header_provider).
  bool per_call_credentials = false;
};

TransportTraits transport_traits(const ServerConfig& cfg);

/// A new, not yet started transport for server `name`.
std::shared_ptr<Transport> make_transport(const std::string& name, const ServerConfig& cfg,
                                          const ClientHandlers& handlers);

}  // namespace mcp::detail
