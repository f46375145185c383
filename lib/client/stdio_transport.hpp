// SPDX-License-Identifier: MIT
#pragma once
// Factory for the stdio transport: a server spawned as a child process, one JSON message per
// line (stdio_process.cpp, stdio_reader.cpp, stdio_writer.cpp; Boost.Process stays inside).
#include <mcp/config.hpp>
#include "transport.hpp"

#include <memory>
#include <string>

namespace mcp::detail {

std::shared_ptr<Transport> make_stdio_transport(std::string server_name, StdioServerConfig config);

}  // namespace mcp::detail
