// SPDX-License-Identifier: MIT
// Making the stdio or HTTP transport a server's configuration asks for, and naming what it supports.
#include "transport_choice.hpp"

#include "http_send_facts.hpp"
#include "http_transport.hpp"
#include "stdio_transport.hpp"

namespace mcp::detail {

TransportTraits transport_traits(const ServerConfig& cfg) {
  TransportTraits t;
  if (const auto* http = std::get_if<HttpServerConfig>(&cfg.transport)) {
    t.kind = TransportKind::http;
    t.param_headers = true;
    t.per_call_credentials = static_cast<bool>(http->header_provider);
  }
  return t;
}

std::shared_ptr<Transport> make_transport(const std::string& name, const ServerConfig& cfg,
                                          const ClientHandlers& handlers) {
  if (const auto* st = std::get_if<StdioServerConfig>(&cfg.transport)) return make_stdio_transport(name, *st);
  // The GET stream carries only what these handlers receive: without them it would be an
  // idle thread and connection per client (the spec lets a client not open it).
  const auto& h = handlers;
  const bool listens = h.elicitation || h.sampling || h.roots || h.on_log || h.on_change;
  // The session's facts about each message (Mcp-Method, Mcp-Name, opens a session, ...) are
  // given to the transport by this wrapper: the transport itself reads no MCP.
  return with_http_send_options(make_http_transport(name, std::get<HttpServerConfig>(cfg.transport), listens));
}

}  // namespace mcp::detail
