// SPDX-License-Identifier: MIT
// mcpc: list and call the tools of MCP servers, read their resources and render their
// prompts, from the command line.
//
//   mcpc --config FILE tools [--json]
//   mcpc --config FILE call SERVER TOOL [--args JSON] [--json]
//   mcpc --stdio "CMD ARGS" call TOOL [--args JSON]
//   mcpc --url URL info
//   mcpc --config FILE resources [--templates] [--json]
//   mcpc --config FILE read SERVER URI [--out FILE] [--json]
//   mcpc --config FILE prompts [--json]
//   mcpc --config FILE prompt SERVER NAME [--args JSON] [--json]
//
// Exit status: 0 ok, 1 an error from a server or the SDK, 2 usage or configuration error,
// 3 the tool ran and reported failure (isError: true).

#include <mcp/client.hpp>
#include <mcp/config.hpp>
#include <mcp/oauth.hpp>
#include <mcp/oauth_loopback.hpp>
#include <mcp/version.hpp>

#include "../lib/protocol/jsonrpc.hpp"  // the named JSON-RPC codes (header-only use)

#include <nlohmann/json.hpp>

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <cstdint>
#include <exception>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <map>
#include <mutex>
#include <optional>
#include <spawn.h>
#include <sstream>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>
#include <string>
#include <string_view>
#include <thread>
#include <tuple>
#include <utility>
#include <vector>

using nlohmann::json;

namespace {

constexpr int kExitOk = 0;
constexpr int kExitError = 1;
constexpr int kExitUsage = 2;
constexpr int kExitToolError = 3;

constexpr const char* kUsage = R"(usage: mcpc SOURCE [OPTIONS] COMMAND [ARGS]

List and call the tools of Model Context Protocol servers, read their resources and render
their prompts.

SOURCE (exactly one):
  --config FILE          servers from a {"mcpServers": {...}} config file
  --stdio "CMD ARGS"     one server started as CMD ARGS (named "stdio"; no shell involved)
  --url URL              one remote server (named "http")

COMMAND:
  tools                  list every tool of every server: "<server>_<tool>  description"
  call SERVER TOOL       call a tool and print its result (SERVER is omitted with --stdio/--url,
                         and may be omitted when the config has a single server)
  info [SERVER...]       era, protocol version and identity of each (or the named) server
  resources              list every resource of every server: "<server>  uri  name  mimeType",
                         then its resource templates under "templates:" (with --templates:
                         only the templates, without a heading)
  read SERVER URI        read a resource: text is printed; a binary blob is summarised as
                         "[blob mimeType, N bytes]" unless --out is given (SERVER as for call)
  prompts                list every prompt of every server: "<server>  name  description",
                         each followed by its arguments, indented: "arg (required)  description"
  prompt SERVER NAME     render a prompt: each message as "role: text", content that is not
                         text summarised in brackets (SERVER as for call)

  A server that answers "Method not found" (JSON-RPC -32601) to resources/list,
  resources/templates/list or prompts/list has none: it is left out of the listing (with
  --json it appears with empty lists) and is not an error.

OPTIONS:
  --args JSON            arguments for `call` (a JSON object, default {}) or for `prompt` (a JSON
                         object of strings; numbers and booleans are passed as their JSON text)
  --out FILE             `read`: write the contents (text, or the decoded blob) to FILE instead
                         of printing them; several items are written one after the other;
                         "-" writes the raw bytes to stdout
  --templates            `resources`: list only the resource templates
  --json                 machine-readable output on stdout: for resources
                         {server: {"resources": [...], "resourceTemplates": [...]}}, for prompts
                         {server: [...]}, each with "errors": {server: message} if any failed;
                         for read and prompt the result as the server sent it
  --timeout MS           per-request timeout in milliseconds (default 60000)
  --era auto|modern|legacy   protocol era: detect (default) or pin
  --protocol-version V   pin a protocol revision (e.g. 2026-07-28, 2025-06-18)
  --env KEY=VALUE        environment variable for the --stdio server (repeatable; the server
                         otherwise sees only HOME, LOGNAME, PATH, SHELL, TERM, USER)
  --header "NAME: VALUE" HTTP header for the --url server (repeatable)

AUTHORIZATION (HTTP servers of --url or --config):
  --bearer TOKEN         send "Authorization: Bearer TOKEN" (or set MCPC_BEARER_TOKEN, which
                         keeps the token out of the process list)
  --oauth                OAuth 2.1 (MCP authorization): on a 401 the server's authorization
                         server is discovered and the authorization code grant runs; the
                         authorization URL is printed on stderr (or given to --browser) and
                         the redirect is received on a loopback listener on 127.0.0.1
  --oauth-client-id ID   a pre-registered client (default: Client ID Metadata Document with
                         --oauth-client-metadata-url, else Dynamic Client Registration)
  --oauth-client-secret S  its secret (or MCPC_OAUTH_CLIENT_SECRET)
  --oauth-client-metadata-url URL  this client's Client ID Metadata Document
  --oauth-client-credentials  machine to machine: the client credentials grant (needs
                         --oauth-client-id, and a secret or --oauth-private-key)
  --oauth-private-key FILE  EC P-256 key (PEM) for private_key_jwt client authentication
  --oauth-scope "A B"    scopes to request (default: what the server asks for)
  --oauth-port N         loopback redirect port (default: any free port)
  --oauth-dpop           DPoP-bound tokens (RFC 9449) when the authorization server
                         supports them
  --browser CMD          run CMD with the authorization URL as its last argument
                         (e.g. xdg-open); not waited for
  --token-store FILE     keep tokens and registrations in FILE (mode 0600) between runs
  --tenant NAME          the token store entry to use (default: "")
  --quiet-stderr         discard the servers' stderr (by default it is kept for error reports)
  --verbose              print SDK diagnostics, and each line of the servers' stderr as
                         "[server] line" (unless --quiet-stderr)
  -h, --help             this help
  --version              print the version

EXIT STATUS:
  0 success; 1 a server or connection error (message on stderr), or --out could not be
  written; 2 usage or configuration error; 3 the tool ran and reported an error (isError:
  true; its content is still printed).
  `tools`, `info`, `resources` and `prompts` print what worked and exit 1 if any server failed.
)";

// ------------------------------------------------------------------ output

// SDK callbacks run on SDK threads; keep their lines whole.
std::mutex g_stderr_mutex;

// Text a server chose (names, descriptions, error messages), made safe to print: control
// characters (C0, DEL, C1) and bytes that are not UTF-8 become visible escapes ("\x1b"), so a
// name can neither forge lines nor send escape sequences to the terminal. `keep_newlines`
// keeps line feeds (multi-line messages), still escaping a carriage return.
std::string printable(std::string_view s, bool keep_newlines = false) {
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out;
  out.reserve(s.size());
  auto escape = [&](unsigned char c) {
    out += "\\x";
    out += kHex[c >> 4];
    out += kHex[c & 15];
  };
  for (std::size_t i = 0; i < s.size();) {
    const auto c = static_cast<unsigned char>(s[i]);
    if (c < 0x80) {
      if ((c < 0x20 && !(keep_newlines && c == '\n')) || c == 0x7f) escape(c);
      else out += static_cast<char>(c);
      ++i;
      continue;
    }
    // The length of a well-formed UTF-8 sequence starting here (0: not one).
    std::size_t n = c >= 0xc2 && c <= 0xdf ? 2 : c >= 0xe0 && c <= 0xef ? 3 : c >= 0xf0 && c <= 0xf4 ? 4 : 0;
    if (n == 0 || i + n > s.size()) n = 0;
    for (std::size_t k = 1; k < n; ++k)
      if ((static_cast<unsigned char>(s[i + k]) & 0xc0) != 0x80) n = 0;
    if (n >= 3) {
      const auto c1 = static_cast<unsigned char>(s[i + 1]);
      if ((c == 0xe0 && c1 < 0xa0) || (c == 0xed && c1 >= 0xa0) || (c == 0xf0 && c1 < 0x90) || (c == 0xf4 && c1 >= 0x90))
        n = 0;  // overlong, a surrogate, or past U+10FFFF
    }
    if (n == 2 && c == 0xc2 && static_cast<unsigned char>(s[i + 1]) < 0xa0) {
      escape(static_cast<unsigned char>(s[i + 1]));  // a C1 control (U+0080..U+009F)
      i += 2;
    } else if (n == 0) {
      escape(c);
      ++i;
    } else {
      out.append(s.substr(i, n));
      i += n;
    }
  }
  return out;
}

void print_error(std::string_view message) {
  const std::string safe = printable(message, /*keep_newlines=*/true);
  std::lock_guard lk(g_stderr_mutex);
  std::cerr << "mcpc: " << safe << '\n';
}

// Columns are padded to the widest cell, but never wider than this: one long name must not
// pad every other line (a 1 MiB tool name made 106 MB of output).
constexpr std::size_t kMaxColumn = 40;

// Servers may send strings that are not valid UTF-8: print them with replacement characters
// instead of throwing.
std::string dump(const json& j) { return j.dump(2, ' ', false, json::error_handler_t::replace); }

// The first line of a server's text, printable.
std::string first_line(std::string_view s) {
  s = s.substr(0, s.find('\n'));
  while (!s.empty() && (s.back() == '\r' || s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return printable(s);
}

// The message of an error without its "[server] " prefix (for JSON keyed by server).
std::string error_message(const mcp::Error& e) {
  std::string m = e.message.empty() ? e.code.message() : e.message;
  if (e.rpc_code) m += " (JSON-RPC error " + std::to_string(*e.rpc_code) + ")";
  return m;
}

// `"errors": {server: message}` in a JSON listing, when any server failed.
void add_errors(json& out, const std::map<std::string, mcp::Error>& errors) {
  if (errors.empty()) return;
  json e = json::object();
  for (const auto& [server, err] : errors) e[server] = error_message(err);
  out["errors"] = std::move(e);
}

// ------------------------------------------------------------------ command line

struct Options {
  std::optional<std::string> config_file, stdio_command, url;
  std::vector<std::string> env, headers;
  std::optional<std::string> args, out_file;
  std::optional<std::int64_t> timeout_ms;
  std::optional<mcp::Era> era;  // Era::unknown = --era auto
  std::optional<std::string> protocol_version;
  std::optional<std::string> bearer, oauth_client_id, oauth_client_secret, oauth_metadata_url, oauth_private_key,
      oauth_scope, oauth_port, browser, token_store, tenant;
  bool oauth = false, oauth_client_credentials = false, oauth_dpop = false;
  bool json = false, quiet_stderr = false, verbose = false, help = false, version = false, templates = false;
  std::vector<std::string> positional;  // COMMAND and its arguments
};

template <class T>
using Parsed = tl::expected<T, std::string>;  // error: a usage message

Parsed<std::int64_t> parse_timeout(const std::string& s) {
  std::int64_t v = 0;
  auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc() || end != s.data() + s.size() || v <= 0 || v > 86'400'000)
    return tl::unexpected("--timeout must be a number of milliseconds between 1 and 86400000, got '" + s + "'");
  return v;
}

Parsed<mcp::Era> parse_era(const std::string& s) {
  if (s == "auto") return mcp::Era::unknown;
  if (s == "modern") return mcp::Era::modern;
  if (s == "legacy") return mcp::Era::legacy;
  return tl::unexpected("--era must be auto, modern or legacy, got '" + s + "'");
}

std::string known_versions() {
  std::string out;
  for (const auto* list : {&mcp::protocol::modern_versions(), &mcp::protocol::legacy_versions()})
    for (const auto& v : *list) out += (out.empty() ? "" : ", ") + v;
  return out;
}

Parsed<Options> parse_command_line(int argc, char** argv) {
  Options o;
  std::optional<std::string> timeout_text, era_text;  // converted once all options are read
  bool options_done = false;
  for (int i = 1; i < argc; ++i) {
    std::string arg = argv[i];
    if (options_done || arg.size() < 2 || arg[0] != '-') {
      o.positional.push_back(std::move(arg));
      continue;
    }
    if (arg == "--") { options_done = true; continue; }
    // --name=value and --name value are both accepted.
    std::optional<std::string> inline_value;
    if (auto eq = arg.find('='); arg.rfind("--", 0) == 0 && eq != std::string::npos) {
      inline_value = arg.substr(eq + 1);
      arg.resize(eq);
    }
    auto flag = [&](bool& target) -> Parsed<void> {
      if (inline_value) return tl::unexpected(arg + " takes no value");
      target = true;
      return {};
    };
    auto value = [&]() -> Parsed<std::string> {
      if (inline_value) return *inline_value;
      if (i + 1 >= argc) return tl::unexpected(arg + " needs a value");
      return std::string(argv[++i]);
    };
    auto once = [&](std::optional<std::string>& target) -> Parsed<void> {
      if (target) return tl::unexpected(arg + " given more than once");
      auto v = value();
      if (!v) return tl::unexpected(v.error());
      target = std::move(*v);
      return {};
    };
    auto append = [&](std::vector<std::string>& target) -> Parsed<void> {
      auto v = value();
      if (!v) return tl::unexpected(v.error());
      target.push_back(std::move(*v));
      return {};
    };

    Parsed<void> ok;
    if (arg == "--config") ok = once(o.config_file);
    else if (arg == "--stdio") ok = once(o.stdio_command);
    else if (arg == "--url") ok = once(o.url);
    else if (arg == "--args") ok = once(o.args);
    else if (arg == "--out") ok = once(o.out_file);
    else if (arg == "--templates") ok = flag(o.templates);
    else if (arg == "--protocol-version") ok = once(o.protocol_version);
    else if (arg == "--env") ok = append(o.env);
    else if (arg == "--header") ok = append(o.headers);
    else if (arg == "--json") ok = flag(o.json);
    else if (arg == "--quiet-stderr") ok = flag(o.quiet_stderr);
    else if (arg == "--verbose" || arg == "-v") ok = flag(o.verbose);
    else if (arg == "--help" || arg == "-h") ok = flag(o.help);
    else if (arg == "--version") ok = flag(o.version);
    else if (arg == "--timeout") ok = once(timeout_text);
    else if (arg == "--era") ok = once(era_text);
    else if (arg == "--bearer") ok = once(o.bearer);
    else if (arg == "--oauth") ok = flag(o.oauth);
    else if (arg == "--oauth-client-id") ok = once(o.oauth_client_id);
    else if (arg == "--oauth-client-secret") ok = once(o.oauth_client_secret);
    else if (arg == "--oauth-client-metadata-url") ok = once(o.oauth_metadata_url);
    else if (arg == "--oauth-client-credentials") ok = flag(o.oauth_client_credentials);
    else if (arg == "--oauth-private-key") ok = once(o.oauth_private_key);
    else if (arg == "--oauth-scope") ok = once(o.oauth_scope);
    else if (arg == "--oauth-port") ok = once(o.oauth_port);
    else if (arg == "--oauth-dpop") ok = flag(o.oauth_dpop);
    else if (arg == "--browser") ok = once(o.browser);
    else if (arg == "--token-store") ok = once(o.token_store);
    else if (arg == "--tenant") ok = once(o.tenant);
    else return tl::unexpected("unknown option '" + arg + "'");
    if (!ok) return tl::unexpected(ok.error());
  }
  if (timeout_text) {
    auto t = parse_timeout(*timeout_text);
    if (!t) return tl::unexpected(t.error());
    o.timeout_ms = *t;
  }
  if (era_text) {
    auto e = parse_era(*era_text);
    if (!e) return tl::unexpected(e.error());
    o.era = *e;
  }
  return o;
}

// Cross-option checks that do not need the server list.
Parsed<void> check_options(const Options& o) {
  const int sources = !!o.config_file + !!o.stdio_command + !!o.url;
  if (sources == 0) return tl::unexpected(std::string("give one of --config FILE, --stdio \"CMD ARGS\" or --url URL"));
  if (sources > 1) return tl::unexpected(std::string("--config, --stdio and --url are mutually exclusive"));
  static constexpr const char* kCommands = "tools, call, info, resources, read, prompts or prompt";
  if (o.positional.empty()) return tl::unexpected(std::string("no command given (") + kCommands + ")");
  const std::string& cmd = o.positional.front();
  if (cmd != "tools" && cmd != "call" && cmd != "info" && cmd != "resources" && cmd != "read" &&
      cmd != "prompts" && cmd != "prompt")
    return tl::unexpected("unknown command '" + cmd + "' (expected " + kCommands + ")");
  if ((cmd == "tools" || cmd == "resources" || cmd == "prompts") && o.positional.size() > 1)
    return tl::unexpected(cmd + " takes no arguments, got '" + o.positional[1] + "'");
  if (o.args && cmd != "call" && cmd != "prompt")
    return tl::unexpected(std::string("--args only applies to call and prompt"));
  if (o.out_file && cmd != "read") return tl::unexpected(std::string("--out only applies to read"));
  if (o.out_file && o.out_file->empty()) return tl::unexpected(std::string("--out needs a file name"));
  if (o.templates && cmd != "resources") return tl::unexpected(std::string("--templates only applies to resources"));
  if (!o.env.empty() && !o.stdio_command) return tl::unexpected(std::string("--env only applies to --stdio"));
  if (!o.headers.empty() && !o.url) return tl::unexpected(std::string("--header only applies to --url"));
  const bool oauth_detail = o.oauth_client_id || o.oauth_client_secret || o.oauth_metadata_url ||
                            o.oauth_client_credentials || o.oauth_private_key || o.oauth_scope || o.oauth_port ||
                            o.oauth_dpop ||
                            o.browser || o.token_store || o.tenant;
  if ((o.bearer || o.oauth || oauth_detail) && o.stdio_command)
    return tl::unexpected(std::string("--bearer and --oauth options apply to HTTP servers (--url or --config)"));
  if (o.bearer && (o.oauth || oauth_detail))
    return tl::unexpected(std::string("--bearer and --oauth are mutually exclusive"));
  if (oauth_detail && !o.oauth) return tl::unexpected(std::string("--oauth-*, --browser, --token-store and --tenant need --oauth"));
  if (o.oauth_client_credentials && !o.oauth_client_id)
    return tl::unexpected(std::string("--oauth-client-credentials needs --oauth-client-id"));
  if (o.protocol_version) {
    const auto& v = *o.protocol_version;
    const bool modern = mcp::protocol::is_modern_version(v), legacy = mcp::protocol::is_legacy_version(v);
    if (!modern && !legacy)
      return tl::unexpected("unknown protocol version '" + v + "' (known: " + known_versions() + ")");
    if (o.era && *o.era != mcp::Era::unknown && (*o.era == mcp::Era::modern) != modern)
      return tl::unexpected("--protocol-version " + v + " is not a " + mcp::to_string(*o.era) + "-era revision");
  }
  return {};
}

// ------------------------------------------------------------------ configuration

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
  auto cfg = mcp::parse_client_config(*doc);
  if (!cfg) return tl::unexpected("config file '" + path + "': " + cfg.error().message);
  if (cfg->servers.empty()) return tl::unexpected("config file '" + path + "' has no servers in \"mcpServers\"");
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

  auto auth = make_auth(o);
  if (!auth) return tl::unexpected(auth.error());
  if (*auth)
    for (auto& [name, server] : cfg.servers)
      if (auto* http = std::get_if<mcp::HttpServerConfig>(&server.transport)) http->auth = (*auth)(name);

  cfg.client_info = mcp::Implementation{"mcpc", mcp::version_string, std::nullopt, nullptr};
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

// ------------------------------------------------------------------ commands

int run_tools(mcp::Client& client, const Options& o) {
  auto sets = client.list_toolsets_partial();
  if (o.json) {
    json out = json::object();
    for (const auto& [server, tools] : sets.value) {
      json list = json::array();
      for (const auto& [name, tool] : tools) list.push_back(tool.definition());
      out[server] = std::move(list);
    }
    add_errors(out, sets.errors);
    std::cout << dump(out) << '\n';
  } else {
    std::size_t width = 0;
    for (const auto& [server, tools] : sets.value)
      for (const auto& [name, tool] : tools) width = std::max(width, printable(server + "_" + name).size());
    width = std::min(width, kMaxColumn);
    for (const auto& [server, tools] : sets.value) {
      for (const auto& [name, tool] : tools) {
        const auto& def = tool.definition();
        std::string key = printable(server + "_" + name);
        std::string desc = first_line(def.description.value_or(def.title.value_or("")));
        if (desc.empty()) {
          std::cout << key << '\n';
        } else {
          if (key.size() < width) key.resize(width, ' ');
          std::cout << key << "  " << desc << '\n';
        }
      }
    }
  }
  std::cout.flush();
  for (const auto& [server, e] : sets.errors) print_error(e.what());
  return sets.errors.empty() ? kExitOk : kExitError;
}

// One line standing in for a content block that is not plain text.
std::string summarise(const mcp::ContentBlock& b) {
  const std::string kind = b.mime_type.empty() ? b.type : b.mime_type;
  if (b.type == "image" || b.type == "audio")
    return "[" + kind + ", " + std::to_string(b.data.size()) + " bytes base64]";
  if (b.type == "resource_link") {
    std::string name = b.raw.is_object() && b.raw.contains("name") && b.raw["name"].is_string()
                           ? b.raw["name"].get<std::string>() + " "
                           : "";
    return "[resource_link " + name + "<" + b.uri + ">" + (b.mime_type.empty() ? "" : ", " + b.mime_type) + "]";
  }
  if (b.type == "resource") {
    std::string head = "[resource <" + b.uri + ">" + (b.mime_type.empty() ? "" : ", " + b.mime_type);
    if (!b.data.empty()) return head + ", " + std::to_string(b.data.size()) + " bytes base64]";
    return head + "]\n" + b.text;  // an embedded text resource: show its text
  }
  return "[" + (b.type.empty() ? std::string("untyped") : b.type) + " content]";
}

void print_result(const mcp::CallToolResult& r) {
  // Text blocks print exactly as CallToolResult::text() joins them; other blocks are
  // summarised in place so the order stays visible.
  std::string out;
  for (const auto& b : r.content) {
    if (!out.empty()) out += '\n';
    out += b.type == "text" ? b.text : summarise(b);
  }
  if (r.content.empty() && r.structured_content) out = dump(*r.structured_content);
  if (out.empty()) return;
  std::cout << out;
  if (out.back() != '\n') std::cout << '\n';
}

int run_call(mcp::Client& client, const Options& o, const std::string& server, const std::string& tool,
             const json& args) {
  auto r = client.call_tool(server, tool, args);
  if (!r) {
    print_error(r.error().what());
    return kExitError;
  }
  if (o.json) {
    std::cout << dump(json(*r)) << '\n';
  } else {
    print_result(*r);
  }
  std::cout.flush();
  if (r->is_error) {
    if (!o.json) print_error("tool '" + tool + "' reported an error (isError: true)");
    return kExitToolError;
  }
  return kExitOk;
}

json info_json(const mcp::ServerInfo& si) {
  json j{{"era", mcp::to_string(si.era)},
         {"protocolVersion", si.protocol_version},
         {"serverInfo", si.implementation},
         {"capabilities", si.capabilities}};
  if (!si.supported_versions.empty()) j["supportedVersions"] = si.supported_versions;
  if (si.instructions) j["instructions"] = *si.instructions;
  return j;
}

int run_info(mcp::Client& client, const Options& o, std::vector<std::string> servers) {
  if (servers.empty()) servers = client.server_names();
  // Connect to all of them at once: each may need to spawn and probe.
  std::vector<std::optional<mcp::Result<mcp::ServerInfo>>> results(servers.size());
  {
    std::vector<std::jthread> threads;
    for (std::size_t i = 0; i < servers.size(); ++i)
      threads.emplace_back([&, i] { results[i] = client.server_info(servers[i]); });
  }
  json out = json::object(), errors = json::object();
  int status = kExitOk;
  for (std::size_t i = 0; i < servers.size(); ++i) {
    const auto& r = *results[i];
    if (!r) {
      print_error(r.error().what());
      errors[servers[i]] = error_message(r.error());
      status = kExitError;
      continue;
    }
    if (o.json) {
      out[servers[i]] = info_json(*r);
      continue;
    }
    const auto& impl = r->implementation;
    std::cout << servers[i] << ":\n"
              << "  era:      " << mcp::to_string(r->era) << '\n'
              << "  protocol: " << printable(r->protocol_version);
    if (!r->supported_versions.empty()) {
      std::string list;
      for (const auto& v : r->supported_versions) list += (list.empty() ? "" : ", ") + v;
      std::cout << " (server supports " << printable(list) << ")";
    }
    std::cout << "\n  server:   " << (impl.name.empty() ? "(unnamed)" : printable(impl.name)) << ' ' << printable(impl.version);
    if (impl.title) std::cout << " \"" << printable(*impl.title) << '"';
    std::cout << '\n';
    if (r->capabilities.is_object() && !r->capabilities.empty()) {
      std::string caps;
      for (const auto& [k, v] : r->capabilities.items()) caps += (caps.empty() ? "" : ", ") + k;
      std::cout << "  capabilities: " << printable(caps) << '\n';
    }
    if (r->instructions) std::cout << "  instructions: " << first_line(*r->instructions) << '\n';
  }
  if (o.json) {
    if (!errors.empty()) out["errors"] = std::move(errors);
    std::cout << dump(out) << '\n';
  }
  std::cout.flush();
  return status;
}

// ------------------------------------------------------------------ resources and prompts

// A server that does not implement a listing method has nothing to list.
bool method_not_found(const mcp::Error& e) { return e.rpc_code == mcp::jsonrpc::method_not_found; }

// Pads `s` with spaces to `width` (for columns).
std::string pad(std::string s, std::size_t width) {
  if (s.size() < width) s.resize(width, ' ');
  return s;
}

// Prints rows of columns aligned on the widest cell of each column (at most kMaxColumn),
// dropping empty trailing cells. Cells are made printable.
void print_table(std::vector<std::vector<std::string>> rows) {
  std::vector<std::size_t> width;
  for (auto& row : rows)
    for (std::size_t i = 0; i < row.size(); ++i) {
      row[i] = printable(row[i]);
      if (width.size() <= i) width.resize(i + 1, 0);
      width[i] = std::min(std::max(width[i], row[i].size()), kMaxColumn);
    }
  for (const auto& row : rows) {
    std::size_t last = row.size();
    while (last > 0 && row[last - 1].empty()) --last;
    std::string line;
    for (std::size_t i = 0; i < last; ++i) line += i + 1 < last ? pad(row[i], width[i]) + "  " : row[i];
    std::cout << line << '\n';
  }
}

int run_resources(mcp::Client& client, const Options& o) {
  // Both listings at once: a server that cannot be reached costs one wait, not two.
  mcp::Partial<std::map<std::string, std::vector<mcp::Resource>>> resources;
  mcp::Partial<std::map<std::string, std::vector<mcp::ResourceTemplate>>> templates;
  {
    std::jthread t;
    if (!o.templates) t = std::jthread([&] { resources = client.list_resources(); });
    templates = client.list_resource_templates();
  }
  // One error per server: a listing it does not implement is not one.
  std::map<std::string, mcp::Error> errors;
  for (const auto* errs : {&resources.errors, &templates.errors})
    for (const auto& [server, e] : *errs)
      if (!method_not_found(e)) errors.emplace(server, e);

  if (o.json) {
    json out = json::object();
    for (const auto& server : client.server_names()) {
      if (errors.count(server)) continue;
      json entry = json::object();
      if (!o.templates) {
        entry["resources"] = json::array();
        if (auto it = resources.value.find(server); it != resources.value.end())
          for (const auto& r : it->second) entry["resources"].push_back(r);
      }
      entry["resourceTemplates"] = json::array();
      if (auto it = templates.value.find(server); it != templates.value.end())
        for (const auto& t : it->second) entry["resourceTemplates"].push_back(t);
      out[server] = std::move(entry);
    }
    add_errors(out, errors);
    std::cout << dump(out) << '\n';
  } else {
    std::vector<std::vector<std::string>> rows;
    for (const auto& [server, list] : resources.value)
      if (!errors.count(server))
        for (const auto& r : list) rows.push_back({server, r.uri, r.name, r.mime_type.value_or("")});
    print_table(rows);
    rows.clear();
    for (const auto& [server, list] : templates.value)
      if (!errors.count(server))
        for (const auto& t : list) rows.push_back({server, t.uri_template, t.name, t.mime_type.value_or("")});
    if (!rows.empty() && !o.templates) std::cout << "templates:\n";
    print_table(rows);
  }
  std::cout.flush();
  for (const auto& [server, e] : errors) print_error(e.what());
  return errors.empty() ? kExitOk : kExitError;
}

int run_read(mcp::Client& client, const Options& o, const std::string& server, const std::string& uri) {
  auto r = client.read_resource(server, uri);
  if (!r) {
    print_error(r.error().what());
    return kExitError;
  }
  int status = kExitOk;
  if (o.out_file) {
    // Everything is decoded first: a bad blob must not leave half a file behind.
    std::string bytes;
    for (const auto& c : r->contents) {
      auto b = c.bytes();
      if (!b) {
        print_error("[" + server + "] resources/read " + uri + ": " +
                    (c.blob ? "the blob of <" + c.uri + "> is not valid base64" : "<" + c.uri + "> has neither text nor blob"));
        return kExitError;
      }
      bytes += *b;
    }
    if (*o.out_file == "-") {
      std::cout.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
    } else {
      std::ofstream f(*o.out_file, std::ios::binary | std::ios::trunc);
      if (f) f.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
      if (f) f.close();
      if (!f) {
        print_error("cannot write '" + *o.out_file + "': " + std::generic_category().message(errno));
        status = kExitError;
      }
    }
  }
  if (o.json) {
    std::cout << dump(json(*r)) << '\n';
  } else if (!o.out_file) {
    const bool several = r->contents.size() > 1;
    for (std::size_t i = 0; i < r->contents.size(); ++i) {
      const auto& c = r->contents[i];
      if (several) std::cout << (i ? "\n" : "") << "==> " << printable(c.uri) << " <==\n";
      const std::string mime = c.mime_type.value_or("");
      if (c.text) {
        std::cout << *c.text;
        if (!c.text->empty() && c.text->back() != '\n') std::cout << '\n';
      } else if (c.blob) {
        // Never binary on stdout unasked: a line that says what it is (use --out to get it).
        auto b = c.bytes();
        std::cout << "[blob" << (mime.empty() ? "" : " " + mime) << ", "
                  << (b ? std::to_string(b->size()) + " bytes" : std::string("invalid base64")) << "]\n";
      } else {
        std::cout << "[no contents" << (mime.empty() ? "" : ", " + mime) << "]\n";
      }
    }
  }
  std::cout.flush();
  return status;
}

// `prompt --args`: prompt arguments are strings; numbers and booleans are accepted as their JSON text.
Parsed<std::map<std::string, std::string>> prompt_arguments(const json& args) {
  std::map<std::string, std::string> out;
  for (const auto& [name, value] : args.items()) {
    if (value.is_string()) out[name] = value.get<std::string>();
    else if (value.is_number() || value.is_boolean()) out[name] = value.dump();
    else
      return tl::unexpected("--args for prompt must map names to strings, numbers or booleans; '" + name +
                            "' is " + (value.is_null() ? std::string("null") : std::string("an ") + value.type_name()));
  }
  return out;
}

int run_prompts(mcp::Client& client, const Options& o) {
  auto prompts = client.list_prompts();
  std::map<std::string, mcp::Error> errors;
  for (const auto& [server, e] : prompts.errors)
    if (!method_not_found(e)) errors.emplace(server, e);
  if (o.json) {
    json out = json::object();
    for (const auto& server : client.server_names()) {
      if (errors.count(server)) continue;
      json list = json::array();
      if (auto it = prompts.value.find(server); it != prompts.value.end())
        for (const auto& p : it->second) list.push_back(p);
      out[server] = std::move(list);
    }
    add_errors(out, errors);
    std::cout << dump(out) << '\n';
  } else {
    std::size_t server_width = 0, name_width = 0;
    for (const auto& [server, list] : prompts.value)
      for (const auto& p : list) {
        server_width = std::max(server_width, server.size());
        name_width = std::max(name_width, printable(p.name).size());
        for (const auto& a : p.arguments) name_width = std::max(name_width, printable(a.name).size() + (a.required ? 11 : 0));
      }
    server_width = std::min(server_width, kMaxColumn);
    name_width = std::min(name_width, kMaxColumn);
    const std::string indent(server_width + 4, ' ');  // arguments sit under the prompt names, indented
    for (const auto& [server, list] : prompts.value) {
      for (const auto& p : list) {
        const std::string desc = first_line(p.description.value_or(p.title.value_or("")));
        const std::string pname = printable(p.name);
        std::cout << pad(server, server_width) << "  " << (desc.empty() ? pname : pad(pname, name_width + 2) + "  " + desc)
                  << '\n';
        for (const auto& a : p.arguments) {
          const std::string name = printable(a.name) + (a.required ? " (required)" : "");
          const std::string adesc = first_line(a.description.value_or(""));
          std::cout << indent << (adesc.empty() ? name : pad(name, name_width) + "  " + adesc) << '\n';
        }
      }
    }
  }
  std::cout.flush();
  for (const auto& [server, e] : errors) print_error(e.what());
  return errors.empty() ? kExitOk : kExitError;
}

int run_prompt(mcp::Client& client, const Options& o, const std::string& server, const std::string& name,
               const std::map<std::string, std::string>& args) {
  auto r = client.get_prompt(server, name, args);
  if (!r) {
    print_error(r.error().what());
    return kExitError;
  }
  if (o.json) {
    std::cout << dump(json(*r)) << '\n';
  } else {
    for (const auto& m : r->messages) {
      const auto& b = m.content;
      std::string text = b.type == "text" ? b.text : summarise(b);
      std::cout << (m.role.empty() ? "(no role)" : m.role) << ": " << text;
      if (text.empty() || text.back() != '\n') std::cout << '\n';
    }
  }
  std::cout.flush();
  return kExitOk;
}

// ------------------------------------------------------------------ main

// A server named on the command line must be in the configuration (a usage error otherwise).
Parsed<bool> known_server(const mcp::ClientConfig& cfg, const std::string& server) {
  if (cfg.servers.count(server)) return true;
  std::string names;
  for (const auto& [name, s] : cfg.servers) names += (names.empty() ? "" : ", ") + name;
  return tl::unexpected("unknown server '" + printable(server) + "' (servers: " + names + ")");
}

// `call SERVER TOOL`, `read SERVER URI`, `prompt SERVER NAME`: SERVER may be left out when there
// is only one, the ad hoc server or that of a one-server config.
Parsed<std::pair<std::string, std::string>> server_and_target(const std::string& command, const mcp::ClientConfig& cfg,
                                                              const std::vector<std::string>& rest) {
  const std::string what = command == "call" ? "TOOL" : command == "read" ? "URI" : "NAME";
  const bool single = cfg.servers.size() == 1;
  if (rest.size() == 2) {
    if (auto known = known_server(cfg, rest[0]); !known) return tl::unexpected(known.error());
    return std::make_pair(rest[0], rest[1]);
  }
  if (rest.size() == 1 && single) return std::make_pair(cfg.servers.begin()->first, rest[0]);
  if (rest.size() == 1) {
    std::string names;
    for (const auto& [name, server] : cfg.servers) names += (names.empty() ? "" : ", ") + name;
    return tl::unexpected(command + " needs SERVER " + what + " (servers: " + names + ")");
  }
  if (rest.empty()) return tl::unexpected(command + " needs " + (single ? what : "SERVER " + what));
  return tl::unexpected(command + " takes SERVER " + what + ", got " + std::to_string(rest.size()) +
                        " arguments (extra: '" + rest[2] + "')");
}

int usage_error(const std::string& message) {
  print_error(message);
  print_error("try 'mcpc --help'");
  return kExitUsage;
}

int run(int argc, char** argv) {
  auto parsed = parse_command_line(argc, argv);
  if (!parsed) return usage_error(parsed.error());
  const Options& o = *parsed;
  if (o.help) {
    std::cout << kUsage;
    return kExitOk;
  }
  if (o.version) {
    std::cout << "mcpc " << mcp::version_string << '\n';
    return kExitOk;
  }
  if (auto ok = check_options(o); !ok) return usage_error(ok.error());

  const std::string& command = o.positional.front();

  // --args is checked before any server is started.
  json args = json::object();
  std::map<std::string, std::string> prompt_args;
  if (o.args) {
    auto parsed = parse_user_json(*o.args, /*comments=*/false, "--args");
    if (!parsed) {
      const std::string shown = o.args->size() > 200 ? o.args->substr(0, 200) + "..." : *o.args;
      return usage_error(parsed.error() + ": " + shown);
    }
    args = std::move(*parsed);
    if (!args.is_object()) return usage_error(std::string("--args must be a JSON object, got ") + args.type_name());
    if (command == "prompt") {
      auto converted = prompt_arguments(args);
      if (!converted) return usage_error(converted.error());
      prompt_args = std::move(*converted);
    }
  }

  auto cfg = build_config(o);
  if (!cfg) {
    print_error(cfg.error());
    return kExitUsage;
  }

  std::vector<std::string> rest(o.positional.begin() + 1, o.positional.end());
  std::string target_server, target;  // call: TOOL, read: URI, prompt: NAME
  if (command == "call" || command == "read" || command == "prompt") {
    auto t = server_and_target(command, *cfg, rest);
    if (!t) return usage_error(t.error());
    std::tie(target_server, target) = std::move(*t);
  } else if (command == "info") {
    for (const auto& server : rest)
      if (auto known = known_server(*cfg, server); !known) return usage_error(known.error());
  }

  auto client = mcp::Client::create(std::move(*cfg));
  if (!client) {
    print_error(client.error().what());
    return client.error().kind() == mcp::ErrorKind::config ? kExitUsage : kExitError;
  }
  int status = kExitOk;
  if (command == "tools") status = run_tools(*client, o);
  else if (command == "call") status = run_call(*client, o, target_server, target, args);
  else if (command == "resources") status = run_resources(*client, o);
  else if (command == "read") status = run_read(*client, o, target_server, target);
  else if (command == "prompts") status = run_prompts(*client, o);
  else if (command == "prompt") status = run_prompt(*client, o, target_server, target, prompt_args);
  else status = run_info(*client, o, rest);
  client->disconnect();  // stops the servers before we exit
  return status;
}

// The processes whose parent is this one and whose process group is not ours, from /proc.
// Our servers run in process groups of their own, and what leaves them by setsid() does too;
// a --browser command and what it starts stay in ours, and are left alone.
std::vector<pid_t> children() {
  std::vector<pid_t> out;
  const pid_t self = ::getpid(), group = ::getpgrp();
  std::error_code ec;
  for (const auto& entry : std::filesystem::directory_iterator("/proc", ec)) {
    const std::string name = entry.path().filename().string();
    if (name.empty() || name.find_first_not_of("0123456789") != std::string::npos) continue;
    std::ifstream stat(entry.path() / "stat");
    std::string line;
    if (!std::getline(stat, line)) continue;
    // "pid (comm) state ppid ...": comm may hold spaces and parentheses, so read after the last ')'.
    const auto close = line.rfind(')');
    if (close == std::string::npos) continue;
    std::istringstream rest(line.substr(close + 1));
    char state = 0;
    long ppid = 0, pgrp = 0;
    if (rest >> state >> ppid >> pgrp && ppid == self && pgrp != group) out.push_back(static_cast<pid_t>(std::stol(name)));
  }
  return out;
}

// mcpc is a child subreaper (see main): what the servers left behind when they exited (a
// daemon that called setsid(), out of reach of the group kill) is reparented to us. Ended
// here: SIGTERM, up to 500 ms, then SIGKILL, and every one reaped. The library cannot do this
// for its host process, whose other children are not its own.
void end_orphans() {
  auto left = children();
  if (left.empty()) return;
  for (pid_t pid : left) ::kill(pid, SIGTERM);
  const auto until = std::chrono::steady_clock::now() + std::chrono::milliseconds(500);
  while (!left.empty() && std::chrono::steady_clock::now() < until) {
    std::erase_if(left, [](pid_t pid) { return ::waitpid(pid, nullptr, WNOHANG) != 0; });
    if (!left.empty()) std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  for (pid_t pid : left) {
    ::kill(pid, SIGKILL);
    ::waitpid(pid, nullptr, 0);
  }
  // A daemon's own children are ours now too: one more pass (bounded: what is left is killed).
  for (pid_t pid : children()) {
    ::kill(pid, SIGKILL);
    ::waitpid(pid, nullptr, 0);
  }
}

}  // namespace

int main(int argc, char** argv) {
  // Descendants of our servers that outlive them become our children, so that they can be
  // ended when we exit (end_orphans). A process setting; only a program may choose it.
  ::prctl(PR_SET_CHILD_SUBREAPER, 1);
  int status = kExitError;
  try {
    status = run(argc, argv);
  } catch (const std::exception& e) {
    print_error(std::string("internal error: ") + e.what());
  } catch (...) {
    print_error("internal error");
  }
  end_orphans();
  return status;
}
