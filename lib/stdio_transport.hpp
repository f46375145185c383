// SPDX-License-Identifier: MIT
#pragma once
// Factory for the stdio transport (Boost.Process stays inside stdio_transport.cpp).
#include <mcp/config.hpp>
#include "client/transport.hpp"

#include <memory>
#include <string>

namespace mcp::detail {

std::unique_ptr<Transport> make_stdio_transport(std::string server_name, StdioServerConfig config);

}  // namespace mcp::detail
