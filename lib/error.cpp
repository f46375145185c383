// SPDX-License-Identifier: MIT
#include <mcp/error.hpp>

#include <cctype>
#include <string>

namespace mcp {
namespace {

class ErrcCategory final : public std::error_category {
 public:
  const char* name() const noexcept override { return "mcp"; }
  std::string message(int v) const override {
    switch (static_cast<Errc>(v)) {
      case Errc::spawn_failed: return "server process could not be started";
      case Errc::process_exited: return "server process exited";
      case Errc::connection_failed: return "connection failed";
      case Errc::connection_closed: return "connection closed";
      case Errc::io_error: return "I/O error";
      case Errc::message_too_large: return "message too large";
      case Errc::http_error: return "HTTP error";
      case Errc::session_expired: return "session expired";
      case Errc::stream_broken: return "response stream broken";
      case Errc::invalid_message: return "invalid message from server";
      case Errc::rpc_error: return "server returned an error";
      case Errc::unsupported_version: return "no common protocol version";
      case Errc::invalid_result: return "invalid result from server";
      case Errc::input_required: return "server requires input the client cannot provide";
      case Errc::tool_not_found: return "tool not found";
      case Errc::extension_not_supported: return "extension not supported by the server";
      case Errc::digest_mismatch: return "skill file digest mismatch";
      case Errc::size_mismatch: return "skill file size mismatch";
      case Errc::invalid_frontmatter: return "invalid skill frontmatter";
      case Errc::frontmatter_mismatch: return "skill frontmatter differs from its entry";
      case Errc::file_not_listed: return "file not listed in the skill's entry";
      case Errc::limit_exceeded: return "skill exceeds the per-skill limits";
      case Errc::timeout: return "request timed out";
      case Errc::cancelled: return "request cancelled";
      case Errc::disconnected: return "client disconnected";
      case Errc::call_denied: return "tool call denied";
      case Errc::unauthorized: return "unauthorized";
      case Errc::invalid_config: return "invalid configuration";
      case Errc::duplicate_client: return "duplicate client";
      case Errc::invalid_argument: return "invalid argument";
      case Errc::unknown_server: return "unknown server";
      case Errc::pool_closed: return "pool closed";
      case Errc::pool_factory_failed: return "pool factory failed";
    }
    return "unknown mcp error";
  }
  std::error_condition default_error_condition(int v) const noexcept override {
    return make_error_condition(kind_of(static_cast<Errc>(v)));
  }
};

class KindCategory final : public std::error_category {
 public:
  const char* name() const noexcept override { return "mcp-kind"; }
  std::string message(int v) const override {
    switch (static_cast<ErrorKind>(v)) {
      case ErrorKind::transport: return "transport error";
      case ErrorKind::protocol: return "protocol error";
      case ErrorKind::timeout: return "timeout";
      case ErrorKind::cancelled: return "cancelled";
      case ErrorKind::auth: return "authorization error";
      case ErrorKind::config: return "configuration error";
      case ErrorKind::pool: return "pool error";
    }
    return "unknown kind";
  }
};

}  // namespace

const std::error_category& error_category() noexcept {
  static const ErrcCategory c;
  return c;
}
const std::error_category& error_kind_category() noexcept {
  static const KindCategory c;
  return c;
}
std::error_code make_error_code(Errc e) noexcept { return {static_cast<int>(e), error_category()}; }
std::error_condition make_error_condition(ErrorKind k) noexcept {
  return {static_cast<int>(k), error_kind_category()};
}

ErrorKind kind_of(Errc e) noexcept {
  switch (e) {
    case Errc::timeout: return ErrorKind::timeout;
    case Errc::cancelled:
    case Errc::call_denied:
    case Errc::disconnected: return ErrorKind::cancelled;
    default: break;
  }
  const int v = static_cast<int>(e);
  if (v < 100) return ErrorKind::transport;
  if (v < 200) return ErrorKind::protocol;
  if (v < 300) return ErrorKind::timeout;
  if (v < 400) return ErrorKind::auth;
  if (v < 500) return ErrorKind::config;
  return ErrorKind::pool;
}

Error Error::make(Errc e, std::string message) {
  Error err;
  err.code = make_error_code(e);
  err.message = std::move(message);
  return err;
}

Errc Error::errc() const noexcept {
  return code.category() == error_category() ? static_cast<Errc>(code.value()) : Errc{};
}

ErrorKind Error::kind() const noexcept { return kind_of(errc()); }

namespace {
// True if `message` already states `code` as a number of its own ("MCP error -32602: ...",
// as the TypeScript SDK words its errors): then it is not repeated.
bool gives_code(const std::string& message, int code) {
  const std::string digits = std::to_string(code);
  for (auto at = message.find(digits); at != std::string::npos; at = message.find(digits, at + 1)) {
    const auto end = at + digits.size();
    const bool starts = at == 0 || (!std::isdigit(static_cast<unsigned char>(message[at - 1])) && message[at - 1] != '-');
    const bool ends = end == message.size() || !std::isdigit(static_cast<unsigned char>(message[end]));
    if (starts && ends) return true;
  }
  return false;
}
}  // namespace

std::string Error::what() const {
  std::string out;
  if (!server.empty()) out += "[" + server + "] ";
  out += message.empty() ? code.message() : message;
  if (rpc_code && !gives_code(message, *rpc_code)) out += " (JSON-RPC error " + std::to_string(*rpc_code) + ")";
  if (!stderr_tail.empty()) out += "\nserver stderr (last lines):\n" + stderr_tail;
  return out;
}

}  // namespace mcp
