// SPDX-License-Identifier: MIT
// mcpc's ClientConfig, built from its options: the config file or the one --stdio/--url server,
// authorization (a bearer token or OAuth), timeouts, era, and what becomes of the servers' stderr.

#include "mcpc.hpp"

#include <mcp/config.hpp>
#include <mcp/oauth.hpp>
#include <mcp/oauth_loopback.hpp>
#include <mcp/version.hpp>

#include <nlohmann/json.hpp>

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <functional>
#include <iostream>
#include <memory>
#include <spawn.h>
#include <sstream>
#include <sys/wait.h>
#include <thread>
#include <unistd.h>
#include <utility>
#include <variant>

namespace mcpc {

// The user's JSON (--args, the config file): what it says is wrong, never an exception. Nesting
// is capped as the library caps a server's messages (lib/protocol/json_read.hpp kMaxJsonDepth): deeper
// arguments could not be sent, and 60,000 levels crashed the copies and dumps that follow.
// Every nlohmann error counts, `1e400` (out_of_range: number overflow) included.
Parsed<json> parse_user_json(const std::string& text, bool comments, const std::string& what) {
  constexpr int kMaxDepth = 128;
  struct TooDeep {};
  const json::parser_callback_t limit = [](int depth, json::parse_event_t event, json&) {
    // `depth` is the number of enclosing arrays and objects.
    if ((event == json::parse_event_t::object_start || event == json::parse_event_t::array_start) &&
        depth >= kMaxDepth)
      throw TooDeep{};
    return true;
  };
  try {
    return json::parse(text, limit, /*allow_exceptions=*/true, comments);
  } catch (const TooDeep&) {
    return tl::unexpected(what + " nests deeper than " + std::to_string(kMaxDepth) + " levels");
  } catch (const json::exception& e) {
    return tl::unexpected(what + " is not valid JSON (" + e.what() + ")");
  }
}

namespace {

// The servers of a config file in any of the common forms, as {"mcpServers": ...} entries,
// with where they were ("mcpServers", "servers", "mcp.servers"):
//   {"mcpServers": {...}}      Claude Desktop, Claude Code (.mcp.json), Cursor, Windsurf ...
//   {"servers": {...}}         VS Code (.vscode/mcp.json)
//   {"mcp": {"servers": ...}}  VS Code's settings.json
// An entry's "type" (VS Code, Claude Code) is "stdio", "http" (Streamable HTTP) or "sse"
// (legacy HTTP+SSE); without one, a "command" means stdio and a "url" means HTTP (detected).
Parsed<std::pair<std::string, json>> common_form(const json& doc) {
  static const std::string kForms =
      "expected {\"mcpServers\": {NAME: {\"command\": ...} or {\"url\": ...}}}, or VS Code's "
      "{\"servers\": {NAME: {\"type\": \"stdio\", \"command\": ...} or {\"type\": \"http\" or \"sse\", \"url\": ...}}}";
  if (!doc.is_object()) return tl::unexpected("is " + std::string(doc.type_name()) + ", not an object; " + kForms);
  std::string where;
  const json* servers = nullptr;
  if (auto it = doc.find("mcpServers"); it != doc.end()) {
    where = "mcpServers";
    servers = &*it;
  } else if (auto it = doc.find("servers"); it != doc.end()) {
    where = "servers";
    servers = &*it;
  } else if (auto it = doc.find("mcp"); it != doc.end() && it->is_object() && it->contains("servers")) {
    where = "mcp.servers";
    servers = &(*it)["servers"];
  }
  if (!servers) {
    std::string keys;
    for (const auto& [k, v] : doc.items()) keys += (keys.empty() ? "" : ", ") + ("\"" + k + "\"");
    return tl::unexpected("has no \"mcpServers\" or \"servers\" (it has " + (keys.empty() ? "no keys" : keys) + "); " +
                          kForms);
  }
  if (!servers->is_object()) return tl::unexpected("\"" + where + "\" must be an object of servers by name");
  json out = json::object();
  for (const auto& [name, entry] : servers->items()) {
    json e = entry;
    if (e.is_object() && e.contains("type")) {
      const json type = e["type"];
      e.erase("type");
      const std::string t = type.is_string() ? type.get<std::string>() : "";
      if (t == "stdio") {
        if (!e.contains("command")) return tl::unexpected(where + "." + name + " is of type stdio but has no \"command\"");
      } else if (t == "http" || t == "streamable-http" || t == "streamableHttp" || t == "sse") {
        if (!e.contains("url")) return tl::unexpected(where + "." + name + " is of type " + t + " but has no \"url\"");
        if (!e.contains("transport")) e["transport"] = t == "sse" ? "sse" : "http";
      } else {
        return tl::unexpected(where + "." + name + ".type must be \"stdio\", \"http\" or \"sse\", got " + type.dump());
      }
    }
    out[name] = std::move(e);
  }
  return std::make_pair(where, std::move(out));
}

Parsed<mcp::ClientConfig> load_config_file(const std::string& path) {
  std::error_code ec;
  if (std::filesystem::is_directory(path, ec)) return tl::unexpected("config file '" + path + "' is a directory");
  std::ifstream in(path, std::ios::binary);
  if (!in) return tl::unexpected("cannot read config file '" + path + "': " + std::generic_category().message(errno));
  std::ostringstream text;
  text << in.rdbuf();
  if (in.bad()) return tl::unexpected("cannot read config file '" + path + "'");
  // Comments are allowed: editors keep MCP configs as JSON-with-comments.
  auto doc = parse_user_json(text.str(), /*comments=*/true, "config file '" + path + "'");
  if (!doc) return tl::unexpected(doc.error());
  auto servers = common_form(*doc);
  if (!servers) return tl::unexpected("config file '" + path + "': " + servers.error());
  auto cfg = mcp::parse_client_config(json{{"mcpServers", std::move(servers->second)}});
  if (!cfg) {
    // The library names the entries "mcpServers.NAME"; say where they are in this file.
    std::string message = cfg.error().message;
    if (message.rfind("mcpServers.", 0) == 0) message.replace(0, 10, servers->first);
    return tl::unexpected("config file '" + path + "': " + message);
  }
  if (cfg->servers.empty()) return tl::unexpected("config file '" + path + "' has no servers in \"" + servers->first + "\"");
  return std::move(*cfg);
}

Parsed<std::pair<std::string, std::string>> split_pair(const std::string& s, char sep, const char* option) {
  const auto at = s.find(sep);
  if (at == std::string::npos || at == 0)
    return tl::unexpected(std::string(option) + " expects NAME" + sep + "VALUE, got '" + s + "'");
  std::string value = s.substr(at + 1);
  if (sep == ':') value.erase(0, value.find_first_not_of(" \t"));
  return std::make_pair(s.substr(0, at), std::move(value));
}

// Runs `command URL` without a shell and without waiting (a browser may stay open).
mcp::Result<void> run_browser(const std::string& command, const std::string& url) {
  auto cmd = mcp::parse_stdio_command(command);
  if (!cmd) return tl::unexpected(cmd.error());
  std::vector<std::string> words{cmd->command};
  words.insert(words.end(), cmd->args.begin(), cmd->args.end());
  words.push_back(url);
  std::vector<char*> argv;
  for (auto& w : words) argv.push_back(w.data());
  argv.push_back(nullptr);
  pid_t pid = 0;
  if (int rc = ::posix_spawnp(&pid, argv[0], nullptr, nullptr, argv.data(), environ); rc != 0)
    return mcp::fail(mcp::Errc::invalid_config,
                     "--browser: cannot run '" + cmd->command + "': " + std::generic_category().message(rc));
  std::thread([pid] {
    int status = 0;
    while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
    }
  }).detach();
  return {};
}

std::string env_or(const std::optional<std::string>& given, const char* name) {
  if (given) return *given;
  const char* v = std::getenv(name);
  return v ? v : "";
}

// A provider per HTTP server (by name), or null when no authorization was asked for.
using AuthFactory = std::function<std::shared_ptr<mcp::AuthProvider>(const std::string& server)>;
Parsed<AuthFactory> make_auth(const Options& o) {
  if (!o.oauth) {
    const std::string bearer = env_or(o.bearer, "MCPC_BEARER_TOKEN");
    if (bearer.empty()) return AuthFactory();
    auto p = mcp::bearer_token_provider(bearer);
    return AuthFactory([p](const std::string&) { return p; });
  }
  mcp::OAuthClientOptions base;
  base.tenant = o.tenant.value_or("");
  base.client_id = o.oauth_client_id.value_or("");
  base.client_secret = env_or(o.oauth_client_secret, "MCPC_OAUTH_CLIENT_SECRET");
  base.client_metadata_url = o.oauth_metadata_url.value_or("");
  base.scope = o.oauth_scope.value_or("");
  base.client_name = "mcpc";
  if (o.oauth_dpop) base.dpop = mcp::DpopMode::if_supported;
  if (o.oauth_private_key) {
    std::ifstream in(*o.oauth_private_key, std::ios::binary);
    if (!in) return tl::unexpected("--oauth-private-key: cannot read '" + *o.oauth_private_key + "'");
    std::ostringstream key;
    key << in.rdbuf();
    base.private_key_pem = key.str();
    base.token_endpoint_auth_method = "private_key_jwt";
  }
  if (o.token_store) base.store = mcp::file_token_store(*o.token_store);
  else base.store = mcp::memory_token_store();
  if (o.oauth_client_credentials) {
    base.grant = mcp::OAuthGrant::client_credentials;
  } else {
    mcp::LoopbackOptions lo;
    if (o.oauth_port) {
      int port = -1;
      auto [end, ec] = std::from_chars(o.oauth_port->data(), o.oauth_port->data() + o.oauth_port->size(), port);
      if (ec != std::errc() || end != o.oauth_port->data() + o.oauth_port->size() || port < 1 || port > 65535)
        return tl::unexpected("--oauth-port must be a port number, got '" + *o.oauth_port + "'");
      lo.port = port;
    }
    if (o.browser) {
      lo.open_url = [cmd = *o.browser](const std::string& url) {
        {
          std::lock_guard lk(g_stderr_mutex);
          std::cerr << "mcpc: opening the authorization URL with " << cmd << '\n';
        }
        return run_browser(cmd, url);
      };
    }
    auto loop = mcp::loopback_redirect(std::move(lo));
    if (!loop) return tl::unexpected("--oauth: " + loop.error().message);
    base.redirect_uri = loop->redirect_uri;
    base.authorize = loop->authorize;
  }
  if (o.verbose) {
    base.on_diagnostic = [](std::string_view message) {
      std::lock_guard lk(g_stderr_mutex);
      std::cerr << "mcpc: [oauth] " << message << '\n';
    };
  }
  return AuthFactory([base](const std::string&) { return mcp::oauth_provider(base); });
}

}  // namespace

Parsed<mcp::ClientConfig> build_config(const Options& o) {
  mcp::ClientConfig cfg;
  if (o.config_file) {
    auto file = load_config_file(*o.config_file);
    if (!file) return file;
    cfg = std::move(*file);
  } else if (o.stdio_command) {
    auto st = mcp::parse_stdio_command(*o.stdio_command);
    if (!st) return tl::unexpected("--stdio: " + st.error().message);
    for (const auto& kv : o.env) {
      auto p = split_pair(kv, '=', "--env");
      if (!p) return tl::unexpected(p.error());
      st->env[p->first] = p->second;
    }
    cfg.servers["stdio"].transport = std::move(*st);
  } else {
    mcp::HttpServerConfig http;
    http.url = *o.url;
    for (const auto& h : o.headers) {
      auto p = split_pair(h, ':', "--header");
      if (!p) return tl::unexpected(p.error());
      http.headers[p->first] = p->second;
    }
    cfg.servers["http"].transport = std::move(http);
  }

  auto roots = roots_from(o.roots);
  if (!roots) return tl::unexpected(roots.error());
  install_handlers(cfg, o, std::move(*roots));

  auto auth = make_auth(o);
  if (!auth) return tl::unexpected(auth.error());
  if (*auth)
    for (auto& [name, server] : cfg.servers)
      if (auto* http = std::get_if<mcp::HttpServerConfig>(&server.transport)) http->auth = (*auth)(name);

  cfg.client_info = mcp::Implementation{"mcpc", mcp::version_string, std::nullopt, nullptr, {}};
  if (o.timeout_ms) {
    cfg.request_timeout = mcp::Milliseconds(*o.timeout_ms);
    cfg.probe_timeout = std::min(cfg.probe_timeout, cfg.request_timeout);
  }
  if (o.verbose) {
    cfg.on_diagnostic = [](std::string_view server, std::string_view message) {
      std::lock_guard lk(g_stderr_mutex);
      std::cerr << "mcpc: [" << server << "] " << message << '\n';
    };
  }
  for (auto& [name, server] : cfg.servers) {
    if (o.timeout_ms) server.request_timeout = mcp::Milliseconds(*o.timeout_ms);  // beats the file's timeoutMs
    if (o.era) {
      // --era overrides the file; drop a pinned revision of the other era (auto drops any pin).
      server.era = *o.era;
      if (server.protocol_version &&
          (*o.era == mcp::Era::unknown ||
           (*o.era == mcp::Era::modern) != mcp::protocol::is_modern_version(*server.protocol_version)))
        server.protocol_version.reset();
    }
    if (o.protocol_version) server.protocol_version = *o.protocol_version;
    if (auto* st = std::get_if<mcp::StdioServerConfig>(&server.transport)) {
      if (o.quiet_stderr) {
        st->stderr_mode = mcp::StderrMode::ignore;
      } else {
        // Captured either way: the last lines go into error reports.
        st->stderr_mode = mcp::StderrMode::capture;
        if (o.verbose) {
          st->on_stderr = [](std::string_view srv, std::string_view line) {
            std::lock_guard lk(g_stderr_mutex);
            std::cerr << '[' << srv << "] " << line << '\n';
          };
        }
      }
    }
  }
  return cfg;
}

}  // namespace mcpc
