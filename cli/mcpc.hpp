// SPDX-License-Identifier: MIT
// mcpc's private declarations, shared by its files:
//   options.cpp   the command line: help text, parsing, cross-option checks
//   config.cpp    the ClientConfig from the options: config file, --stdio/--url, authorization
//   output.cpp    printing server text safely: printable(), errors on stderr, columns
//   commands.cpp  tools, call, info, resources, read, prompts, prompt, complete, skills, skill, skill-file
//   interact.cpp  what servers ask (elicitation, roots, sampling) and report (progress, logs)
//   process.cpp   the processes our servers leave behind
//   main.cpp      main: the command run from start to exit status
// Light on purpose: no nlohmann/json.hpp, no mcp/client.hpp (each file includes what it uses).
#pragma once

#include <nlohmann/json_fwd.hpp>
#include <tl/expected.hpp>

#include <cstddef>
#include <cstdint>
#include <functional>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace mcp {
class Client;
struct ClientConfig;
struct Progress;
struct Root;
enum class Era;
}  // namespace mcp

namespace mcpc {

using nlohmann::json;

// Exit status: 0 ok, 1 an error from a server or the SDK, 2 usage or configuration error,
// 3 the tool ran and reported failure (isError: true).
constexpr int kExitOk = 0;
constexpr int kExitError = 1;
constexpr int kExitUsage = 2;
constexpr int kExitToolError = 3;

template <class T>
using Parsed = tl::expected<T, std::string>;  // error: a usage message

// ------------------------------------------------------------------ options.cpp

extern const char* const kUsage;  // the --help text

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
  bool task = false;                     // call --task: through a task handle, its progress on stderr
  bool no_input = false, input = false;  // elicitation: decline / answer from stdin even if not a terminal
  std::vector<std::string> roots;        // --root DIR
  std::vector<std::string> positional;  // COMMAND and its arguments
};

Parsed<Options> parse_command_line(int argc, char** argv);

// Cross-option checks that do not need the server list.
Parsed<void> check_options(const Options& o);

// ------------------------------------------------------------------ config.cpp

// The user's JSON (--args, the config file): what it says is wrong, never an exception.
Parsed<json> parse_user_json(const std::string& text, bool comments, const std::string& what);

Parsed<mcp::ClientConfig> build_config(const Options& o);

// ------------------------------------------------------------------ interact.cpp

// Progress and server logs go to stderr on a terminal, or anywhere with --verbose.
bool show_notifications(const Options& o);

// --root DIR...: each an existing directory, as a file:// URI named after it.
Parsed<std::vector<mcp::Root>> roots_from(const std::vector<std::string>& dirs);

// What servers ask of the client: elicitation at the terminal (declined with --no-input, or
// when stdin is not a terminal unless --input), roots, sampling declined; server logs.
void install_handlers(mcp::ClientConfig& cfg, const Options& o, std::vector<mcp::Root> roots);

// A request's progress callback printing on stderr (empty when notifications are not shown).
std::function<void(const mcp::Progress&)> progress_printer(const Options& o, const std::string& server);

// ------------------------------------------------------------------ output.cpp

// SDK callbacks run on SDK threads; keep their lines whole.
extern std::mutex g_stderr_mutex;

// Text a server chose, made safe to print (see output.cpp).
std::string printable(std::string_view s, bool keep_newlines = false);

void print_error(std::string_view message);

// The first line of a server's text, printable.
std::string first_line(std::string_view s);

// Columns are padded to the widest cell, but never wider than this: one long name must not
// pad every other line (a 1 MiB tool name made 106 MB of output).
constexpr std::size_t kMaxColumn = 40;

// Pads `s` with spaces to `width` (for columns).
std::string pad(std::string s, std::size_t width);

// Prints rows of columns aligned on the widest cell of each column (at most kMaxColumn),
// dropping empty trailing cells. Cells are made printable.
void print_table(std::vector<std::vector<std::string>> rows);

// ------------------------------------------------------------------ commands.cpp

int run_tools(mcp::Client& client, const Options& o);
int run_call(mcp::Client& client, const Options& o, const std::string& server, const std::string& tool,
             const json& args);
int run_info(mcp::Client& client, const Options& o, std::vector<std::string> servers);
int run_resources(mcp::Client& client, const Options& o);
int run_read(mcp::Client& client, const Options& o, const std::string& server, const std::string& uri);
int run_prompts(mcp::Client& client, const Options& o);
int run_prompt(mcp::Client& client, const Options& o, const std::string& server, const std::string& name,
               const std::map<std::string, std::string>& args);

// `skills [SERVER...]`, `skill SERVER NAME`, `skill-file SERVER NAME PATH` (the Skills
// extension): NAME is a skill's name or its SKILL.md URI, PATH relative to the skill's root or
// a URI.
int run_skills(mcp::Client& client, const Options& o, const std::vector<std::string>& servers);
int run_skill(mcp::Client& client, const Options& o, const std::string& server, const std::string& name);
int run_skill_file(mcp::Client& client, const Options& o, const std::string& server, const std::string& name,
                   const std::string& path);

// `complete`: a prompt's argument or a resource template's variable, and the text so far.
struct CompleteTarget {
  std::string server, kind, ref, argument, value;  // kind: "prompt" (ref: its name) or "resource" (ref: URI template)
};
int run_complete(mcp::Client& client, const Options& o, const CompleteTarget& t,
                 const std::map<std::string, std::string>& context);

// `call NAME`: the server and tool that NAME stands for, "<server>_<tool>" as `tools` prints
// it, or a tool of the one server. `status` is the exit status when it cannot be resolved.
struct ResolvedName {
  std::pair<std::string, std::string> target;  // server, tool
};
struct NameError {
  std::string message;
  int status = kExitUsage;
};
tl::expected<ResolvedName, NameError> resolve_tool_name(mcp::Client& client, const std::string& name);

// `prompt --args`: prompt arguments are strings; numbers and booleans are accepted as their JSON text.
Parsed<std::map<std::string, std::string>> prompt_arguments(const json& args);

// ------------------------------------------------------------------ process.cpp

// Makes descendants of our servers that outlive them our children (see main.cpp).
void become_subreaper();

// Ends and reaps what the servers left behind (see process.cpp).
void end_orphans();

}  // namespace mcpc
