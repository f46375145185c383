// SPDX-License-Identifier: MIT
// The logging hook's names and its one caller (lib/log_emit.hpp).
#include "log_emit.hpp"

namespace mcp {

const char* to_string(LogLevel level) noexcept {
  switch (level) {
    case LogLevel::trace: return "trace";
    case LogLevel::debug: return "debug";
    case LogLevel::info: return "info";
    case LogLevel::warning: return "warning";
    case LogLevel::error: return "error";
  }
  return "info";
}

const char* to_string(LogKind kind) noexcept {
  switch (kind) {
    case LogKind::diagnostic: return "diagnostic";
    case LogKind::server_stderr: return "server_stderr";
    case LogKind::connected: return "connected";
    case LogKind::reconnected: return "reconnected";
    case LogKind::era_detected: return "era_detected";
    case LogKind::fell_back_to_sse: return "fell_back_to_sse";
    case LogKind::session_reinitialized: return "session_reinitialized";
    case LogKind::connection_lost: return "connection_lost";
    case LogKind::disconnected: return "disconnected";
  }
  return "diagnostic";
}

namespace detail {

void emit_log(const LogHook& hook, const LogEvent& event) noexcept {
  if (!hook) return;
  try {
    hook(event);
  } catch (...) {
    // A logging hook must never end a reader thread, nor the process.
  }
}

std::string mask_secrets(std::string_view text, const std::vector<std::string>& secrets) {
  std::string out(text);
  for (const auto& s : secrets) {
    if (s.empty()) continue;
    for (auto at = out.find(s); at != std::string::npos; at = out.find(s, at + 3)) out.replace(at, s.size(), "***");
  }
  return out;
}

std::uint64_t log_request_id(const nlohmann::json& id) noexcept {
  if (id.is_number_unsigned()) return id.get<std::uint64_t>();
  if (id.is_number_integer()) return log_request_id(id.get<std::int64_t>());
  return 0;
}

DiagnosticSink diagnostic_sink(std::function<void(std::string_view)> diagnostic, LogHook log, std::string server) {
  if (!diagnostic && !log) return {};
  return [diagnostic = std::move(diagnostic), log = std::move(log), server = std::move(server)](
             std::string_view what, const DiagnosticAbout& about) {
    if (diagnostic) {
      try {
        diagnostic(what);
      } catch (...) {
      }
    }
    if (!log) return;
    LogEvent ev;
    ev.level = LogLevel::warning;
    ev.kind = LogKind::diagnostic;
    ev.server = server;
    ev.message = what;
    ev.method = about.method;
    ev.request_id = about.request_id;
    emit_log(log, ev);
  };
}

std::function<void(std::string_view)> diagnostics_also_to(std::function<void(std::string_view)> diagnostic, LogHook log,
                                                          std::string server) {
  if (!log) return diagnostic;
  return [sink = diagnostic_sink(std::move(diagnostic), std::move(log), std::move(server))](std::string_view what) {
    sink(what, {});
  };
}

}  // namespace detail
}  // namespace mcp
