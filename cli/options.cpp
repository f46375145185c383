// SPDX-License-Identifier: MIT
// mcpc's command line: the help text, the options read into Options, and the checks between
// them that need no server list.

#include "mcpc.hpp"

#include <mcp/types.hpp>

#include <charconv>
#include <string>
#include <system_error>
#include <utility>

namespace mcpc {

const char* const kUsage = R"USAGE(usage: mcpc SOURCE [OPTIONS] COMMAND [ARGS]

List and call the tools of Model Context Protocol servers, read their resources and render
their prompts, from scripts or at a terminal.

SOURCE (exactly one):
  --config FILE          servers from a config file: {"mcpServers": {NAME: {...}}} (Claude,
                         Cursor ...), VS Code's {"servers": {NAME: {"type": ...}}} (.vscode/
                         mcp.json) or {"mcp": {"servers": ...}} (settings.json); each server
                         {"command", "args", "env", "cwd"} or {"url", "headers"}, with "type"
                         stdio, http (Streamable HTTP) or sse (legacy HTTP+SSE) if given
  --stdio "CMD ARGS"     one server started as CMD ARGS (named "stdio"; no shell involved)
  --url URL              one remote server (named "http")

COMMAND:
  tools                  list every tool of every server: "<server>_<tool>  description"
  call SERVER TOOL       call a tool and print its result (SERVER is omitted with --stdio/--url,
                         and may be omitted when the config has a single server)
  call SERVER_TOOL       the same, with the name as `tools` prints it (e.g. call math_add);
                         if it reads as more than one server's tool, the servers' tool lists
                         decide, and a name that is still ambiguous is a usage error
  info [SERVER...]       era, protocol version, identity and transport of each (or the named)
                         server; "transport: sse (fallback ...)" when Streamable HTTP was
                         refused and the legacy HTTP+SSE transport used instead
  resources              list every resource of every server: "<server>  uri  name  mimeType",
                         then its resource templates under "templates:" (with --templates:
                         only the templates, without a heading)
  read SERVER URI        read a resource: text is printed; a binary blob is summarised as
                         "[blob mimeType, N bytes]" unless --out is given (SERVER as for call)
  prompts                list every prompt of every server: "<server>  name  description",
                         each followed by its arguments, indented: "arg (required)  description"
  prompt SERVER NAME     render a prompt: each message as "role: text", content that is not
                         text summarised in brackets (SERVER as for call)
  skills [SERVER...]     list the skills (Skills extension) of every server that offers them, or
                         of the named servers (a named server without the extension is an
                         error): "<server>  name  uri  description"; no file is read
  skill SERVER NAME      print a skill's SKILL.md, verified against its entry (size, SHA-256
                         digest, frontmatter); NAME is the skill's name or its SKILL.md URI
                         (SERVER as for call); --json adds the entry; --out writes the file
  skill-file SERVER NAME PATH
                         print one file of a skill, verified; PATH is relative to the skill's
                         root (e.g. references/FORMS.md) or a URI; a binary file is summarised
                         unless --out is given
  complete SERVER prompt NAME ARGUMENT [VALUE]
  complete SERVER resource URI ARGUMENT [VALUE]
                         argument completion (completion/complete): the values the server
                         suggests for a prompt's argument or a resource template's variable,
                         starting with VALUE, one per line; --args gives the arguments already
                         chosen (SERVER as for call)

  Content that is not text is summarised as "[image/png, N bytes]": N counts decoded bytes,
  for images, audio and embedded blobs alike.

  A server that answers "Method not found" (JSON-RPC -32601) to resources/list,
  resources/templates/list or prompts/list has none: it is left out of the listing (with
  --json it appears with empty lists) and is not an error.

OPTIONS:
  --args JSON            arguments for `call` (a JSON object, default {}) or for `prompt` and
                         `complete` (a JSON object of strings; numbers and booleans are passed
                         as their JSON text)
  --out FILE             `read`, `skill`, `skill-file`: write the contents (text, or the decoded blob) to FILE instead
                         of printing them; several items are written one after the other;
                         "-" writes the raw bytes to stdout
  --templates            `resources`: list only the resource templates
  --task                 `call`: follow the call as a task (tasks extension) when the server
                         makes one: its id and each status it passes through on stderr
                         ("mcpc: [server] task ID: working"); the result as without --task
  --json                 machine-readable output on stdout: for resources
                         {server: {"resources": [...], "resourceTemplates": [...]}}, for prompts
                         {server: [...]}, each with "errors": {server: message} if any failed;
                         for read, prompt and complete the result as the server sent it;
                         for info also "transport" and "transportFallback"
  --timeout MS           per-request timeout in milliseconds (default 60000)
  --era auto|modern|legacy   protocol era: detect (default) or pin
  --protocol-version V   pin a protocol revision (e.g. 2026-07-28, 2025-06-18)
  --env KEY=VALUE        environment variable for the --stdio server (repeatable; the server
                         otherwise sees only HOME, LOGNAME, PATH, SHELL, TERM, USER)
  --header "NAME: VALUE" HTTP header for the --url server (repeatable)
  --root DIR             offer DIR to the servers as a root (repeatable; sent as a file://
                         URI). Without --root, a server that asks for roots is told none.

WHAT SERVERS ASK AND TELL:
  Elicitation (a server asks the user for input) is answered at the terminal: mcpc shows the
  server's message, asks whether to answer, then asks each field of the requested form
  (required ones first, then by name) with its type, choices and default (an empty answer
  takes the default; a choice is given by number or value; end of input cancels).
  When stdin is not a terminal mcpc declines, saying so on stderr, unless --input is given.
  --no-input             decline every elicitation (with a line on stderr)
  --input                answer elicitations from stdin even when it is not a terminal
  Sampling (a server asks for an LLM completion) is declined with a line on stderr: mcpc has
  no model. Progress notifications and server log messages are printed on stderr as
  "mcpc: [server] progress 3/10: message" and "mcpc: [server] info (logger): text" when
  stderr is a terminal, or with --verbose (which also asks for debug-level logs).

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
  --token-store FILE     keep tokens and registrations in FILE (mode 0600) between runs; no
                         other file is left behind (FILE.lock exists only while in use)
  --tenant NAME          the token store entry to use (default: "")
  --quiet-stderr         discard the servers' stderr (by default it is kept for error reports)
  --verbose              print SDK diagnostics, progress and server logs, and each line of
                         the servers' stderr as "[server] line" (unless --quiet-stderr)
  -h, --help             this help
  --version              print the version

EXIT STATUS:
  0 success; 1 a server or connection error (message on stderr), or --out could not be
  written; 2 usage or configuration error; 3 the tool ran and reported an error (isError:
  true; its content is still printed). A server that answers 401 needs --oauth or --bearer.
  `tools`, `info`, `resources` and `prompts` print what worked and exit 1 if any server failed.
)USAGE";

namespace {

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

}  // namespace

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
    else if (arg == "--task") ok = flag(o.task);
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
    else if (arg == "--no-input") ok = flag(o.no_input);
    else if (arg == "--input") ok = flag(o.input);
    else if (arg == "--root") ok = append(o.roots);
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
  static constexpr const char* kCommands =
      "tools, call, info, resources, read, prompts, prompt, complete, skills, skill or skill-file";
  if (o.positional.empty()) return tl::unexpected(std::string("no command given (") + kCommands + ")");
  const std::string& cmd = o.positional.front();
  if (cmd != "tools" && cmd != "call" && cmd != "info" && cmd != "resources" && cmd != "read" &&
      cmd != "prompts" && cmd != "prompt" && cmd != "complete" && cmd != "skills" && cmd != "skill" &&
      cmd != "skill-file")
    return tl::unexpected("unknown command '" + cmd + "' (expected " + kCommands + ")");
  if ((cmd == "tools" || cmd == "resources" || cmd == "prompts") && o.positional.size() > 1)
    return tl::unexpected(cmd + " takes no arguments, got '" + o.positional[1] + "'");
  if (o.args && cmd != "call" && cmd != "prompt" && cmd != "complete")
    return tl::unexpected(std::string("--args only applies to call, prompt and complete"));
  if (o.no_input && o.input) return tl::unexpected(std::string("--input and --no-input are mutually exclusive"));
  if (o.out_file && cmd != "read" && cmd != "skill" && cmd != "skill-file")
    return tl::unexpected(std::string("--out only applies to read, skill and skill-file"));
  if (o.out_file && o.out_file->empty()) return tl::unexpected(std::string("--out needs a file name"));
  if (o.task && cmd != "call") return tl::unexpected(std::string("--task only applies to call"));
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

}  // namespace mcpc
