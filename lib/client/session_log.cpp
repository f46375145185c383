// SPDX-License-Identifier: MIT
// A session's part of ClientConfig::on_log: its diagnostics, its stdio server's stderr lines and
// its connection events as LogEvents, with the credentials it was configured with masked.
// Nothing here runs, and nothing is built, while on_log is unset (on_diagnostic aside).
#include "session_impl.hpp"

#include "../log_emit.hpp"
#include "../util/url.hpp"

namespace mcp {

namespace {

// Values shorter than this are not masked: "1" or "true" would blot out every message, and a
// credential is never that short.
constexpr std::size_t min_secret = 6;

void add_secret(std::vector<std::string>& out, std::string_view v) {
  if (v.size() >= min_secret) out.emplace_back(v);
  // "Bearer <token>", "Basic <credentials>": the credential alone, too.
  auto sp = v.find(' ');
  if (sp != std::string_view::npos && v.size() - sp - 1 >= min_secret) out.emplace_back(v.substr(sp + 1));
}

}  // namespace

void Session::Impl::prepare_log() {
  if (!client.on_log) return;
  if (auto* http = std::get_if<HttpServerConfig>(&cfg.transport)) {
    for (const auto& [k, v] : http->headers) add_secret(log_secrets, v);
    auto u = detail::split_url(http->url);
    if (u) {
      log_target = u->scheme + "://" + u->host + (u->port.empty() ? "" : ":" + u->port) + u->path;
      add_secret(log_secrets, u->userinfo);
      add_secret(log_secrets, u->query);
      for (std::size_t b = 0; b <= u->query.size();) {  // each parameter's value
        auto e = u->query.find('&', b);
        if (e == std::string::npos) e = u->query.size();
        auto eq = u->query.find('=', b);
        if (eq != std::string::npos && eq < e) add_secret(log_secrets, std::string_view(u->query).substr(eq + 1, e - eq - 1));
        b = e + 1;
      }
    } else {
      log_target = "(an invalid URL)";
    }
    return;
  }
  auto& stdio = std::get<StdioServerConfig>(cfg.transport);
  log_target = stdio.command;
  for (const auto& [k, v] : stdio.env) add_secret(log_secrets, v);
  if (stdio.stderr_mode != StderrMode::capture) return;
  // The transport calls the config's on_stderr: wrap it. Copies only (no `this`): the reader
  // thread that calls it may outlive nothing of the session's but what it holds itself.
  stdio.on_stderr = [then = std::move(stdio.on_stderr), hook = client.on_log, secrets = log_secrets](
                        std::string_view server, std::string_view line) {
    if (then) {
      try {
        then(server, line);
      } catch (...) {
      }
    }
    const std::string masked = detail::mask_secrets(line, secrets);
    LogEvent ev;
    ev.level = LogLevel::debug;
    ev.kind = LogKind::server_stderr;
    ev.server = server;
    ev.message = masked;
    ev.transport = "stdio";
    detail::emit_log(hook, ev);
  };
}

void Session::Impl::diagnostic(const std::string& msg, std::string_view method, std::uint64_t request_id) const noexcept {
  if (client.on_diagnostic) {
    try {
      client.on_diagnostic(name, msg);
    } catch (...) {
    }
  }
  if (client.on_log) log(LogKind::diagnostic, LogLevel::warning, msg, nullptr, method, request_id);
}

void Session::Impl::log(LogKind kind, LogLevel level, std::string_view message, const ServerInfo* si,
                        std::string_view method, std::uint64_t request_id) const noexcept {
  if (!client.on_log) return;
  try {
    const std::string masked = detail::mask_secrets(message, log_secrets);
    LogEvent ev;
    ev.level = level;
    ev.kind = kind;
    ev.server = name;
    ev.message = masked;
    ev.method = method;
    ev.request_id = request_id;
    if (kind != LogKind::diagnostic && kind != LogKind::server_stderr) ev.target = log_target;
    if (si) {
      ev.era = si->era;
      ev.transport = si->transport;
      ev.protocol_version = si->protocol_version;
    } else if (transport.kind == detail::TransportKind::stdio) {
      ev.transport = "stdio";
    }
    detail::emit_log(client.on_log, ev);
  } catch (...) {
    // bad_alloc building the masked text: the event is lost, never the caller's thread.
  }
}

}  // namespace mcp
