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
//   mcpc --config FILE complete SERVER prompt NAME ARGUMENT [VALUE] [--args JSON] [--json]
//   mcpc --config FILE skills [SERVER...] [--json]
//   mcpc --config FILE skill SERVER NAME [--json] [--out FILE]
//   mcpc --config FILE skill-file SERVER NAME PATH [--json] [--out FILE]
//
// Exit status: see kExitOk... in mcpc.hpp and EXIT STATUS in the help text (options.cpp).

#include "mcpc.hpp"

#include <mcp/client.hpp>
#include <mcp/version.hpp>

#include <nlohmann/json.hpp>

#include <exception>
#include <iostream>
#include <map>
#include <string>
#include <tuple>
#include <utility>
#include <vector>

namespace mcpc {
namespace {

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
  const std::string what = command == "call"         ? "TOOL"
                           : command == "read"       ? "URI"
                           : command == "skill-file" ? "NAME PATH"
                                                     : "NAME";
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

// `complete [SERVER] prompt NAME ARGUMENT [VALUE]` and `complete [SERVER] resource URI ARGUMENT [VALUE]`.
Parsed<CompleteTarget> complete_target(const mcp::ClientConfig& cfg, const std::vector<std::string>& rest) {
  static const std::string kForm = "complete takes [SERVER] prompt NAME ARGUMENT [VALUE] or [SERVER] resource URI ARGUMENT [VALUE]";
  auto is_kind = [](const std::string& s) { return s == "prompt" || s == "resource"; };
  CompleteTarget t;
  std::size_t at = 0;  // where the kind is
  if (rest.size() >= 2 && is_kind(rest[1]) && !(is_kind(rest[0]) && cfg.servers.size() == 1 && !cfg.servers.count(rest[0]))) {
    if (auto known = known_server(cfg, rest[0]); !known) return tl::unexpected(known.error());
    t.server = rest[0];
    at = 1;
  } else if (!rest.empty() && is_kind(rest[0])) {
    if (cfg.servers.size() != 1) {
      std::string names;
      for (const auto& [name, server] : cfg.servers) names += (names.empty() ? "" : ", ") + name;
      return tl::unexpected("complete needs SERVER first (servers: " + names + ")");
    }
    t.server = cfg.servers.begin()->first;
  } else {
    return tl::unexpected(kForm);
  }
  const std::size_t n = rest.size() - at;
  if (n < 3 || n > 4) return tl::unexpected(kForm);
  t.kind = rest[at];
  t.ref = rest[at + 1];
  t.argument = rest[at + 2];
  if (n == 4) t.value = rest[at + 3];
  return t;
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
    if (command == "prompt" || command == "complete") {
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
  bool flat_name = false;             // call NAME: "<server>_<tool>" as `tools` prints it, or a tool of the one server
  CompleteTarget completion;
  std::string skill_path;  // skill-file
  if (command == "call" && rest.size() == 1) {
    flat_name = true;
    target = rest[0];
  } else if (command == "call" || command == "read" || command == "prompt" || command == "skill") {
    auto t = server_and_target(command, *cfg, rest);
    if (!t) return usage_error(t.error());
    std::tie(target_server, target) = std::move(*t);
  } else if (command == "skill-file") {
    // [SERVER] NAME PATH: the last argument is the path, the rest reads as `skill`'s.
    if (rest.empty() || rest.size() > 3) {
      const bool single = cfg->servers.size() == 1;
      return usage_error(std::string("skill-file takes ") + (single ? "[SERVER] " : "SERVER ") + "NAME PATH");
    }
    skill_path = rest.back();
    rest.pop_back();
    auto t = server_and_target(command, *cfg, rest);
    if (!t) return usage_error(t.error());
    std::tie(target_server, target) = std::move(*t);
  } else if (command == "complete") {
    auto t = complete_target(*cfg, rest);
    if (!t) return usage_error(t.error());
    completion = std::move(*t);
  } else if (command == "info" || command == "skills") {
    for (const auto& server : rest)
      if (auto known = known_server(*cfg, server); !known) return usage_error(known.error());
  }

  auto client = mcp::Client::create(std::move(*cfg));
  if (!client) {
    print_error(client.error().what());
    return client.error().kind() == mcp::ErrorKind::config ? kExitUsage : kExitError;
  }
  int status = kExitOk;
  if (flat_name) {
    auto resolved = resolve_tool_name(*client, target);
    if (!resolved) {
      print_error(resolved.error().message);
      client->disconnect();
      return resolved.error().status;
    }
    std::tie(target_server, target) = std::move(resolved->target);
  }
  if (command == "tools") status = run_tools(*client, o);
  else if (command == "call") status = run_call(*client, o, target_server, target, args);
  else if (command == "complete") status = run_complete(*client, o, completion, prompt_args);
  else if (command == "resources") status = run_resources(*client, o);
  else if (command == "read") status = run_read(*client, o, target_server, target);
  else if (command == "prompts") status = run_prompts(*client, o);
  else if (command == "prompt") status = run_prompt(*client, o, target_server, target, prompt_args);
  else if (command == "skills") status = run_skills(*client, o, rest);
  else if (command == "skill") status = run_skill(*client, o, target_server, target);
  else if (command == "skill-file") status = run_skill_file(*client, o, target_server, target, skill_path);
  else status = run_info(*client, o, rest);
  client->disconnect();  // stops the servers before we exit
  return status;
}

}  // namespace
}  // namespace mcpc

int main(int argc, char** argv) {
  // Descendants of our servers that outlive them become our children, so that they can be
  // ended when we exit (end_orphans). A process setting; only a program may choose it.
  mcpc::become_subreaper();
  int status = mcpc::kExitError;
  try {
    status = mcpc::run(argc, argv);
  } catch (const std::exception& e) {
    mcpc::print_error(std::string("internal error: ") + e.what());
  } catch (...) {
    mcpc::print_error("internal error");
  }
  mcpc::end_orphans();
  return status;
}
