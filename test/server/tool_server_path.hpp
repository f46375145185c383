#pragma once
// The tool_server the server tests start: $MCP_TOOL_SERVER when set (a sanitizer build's own),
// else the one this build made (TOOL_SERVER_PATH, from test/meson.build).
#include <cstdlib>
#include <string>

inline std::string tool_server() {
  const char* e = std::getenv("MCP_TOOL_SERVER");
  return e && *e ? e : TOOL_SERVER_PATH;
}
