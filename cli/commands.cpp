// SPDX-License-Identifier: MIT
// mcpc's commands, each on a connected Client: tools, call, info, resources, read, prompts,
// prompt, complete, skills, skill, skill-file. Text goes to stdout, errors to stderr; each returns the exit status.

#include "mcpc.hpp"

#include <mcp/client.hpp>

#include "../lib/util/base64.hpp"  // the one encoder (exported by libmcp): blobs in --json

#include <nlohmann/json.hpp>

#include <algorithm>
#include <chrono>
#include <cerrno>
#include <cstdlib>
#include <fstream>
#include <iostream>
#include <map>
#include <optional>
#include <string>
#include <system_error>
#include <thread>
#include <utility>
#include <vector>

namespace mcpc {

namespace {

// Servers may send strings that are not valid UTF-8: print them with replacement characters
// instead of throwing.
std::string dump(const json& j) { return j.dump(2, ' ', false, json::error_handler_t::replace); }

// The message of an error without its "[server] " prefix or stderr tail (for JSON keyed by
// server), worded as Error::what() words it.
std::string error_message(const mcp::Error& e) {
  mcp::Error bare = e;
  bare.server.clear();
  bare.stderr_tail.clear();
  return bare.what();
}

// An error on stderr, with what to do on the command line where the library cannot know it.
void report(const Options& o, const mcp::Error& e) {
  print_error(e.what());
  if (e.errc() != mcp::Errc::unauthorized || e.http_status != 401) return;
  const char* env_token = std::getenv("MCPC_BEARER_TOKEN");
  if (o.bearer || (env_token && *env_token && !o.oauth))
    print_error("the server refused the bearer token (--bearer or MCPC_BEARER_TOKEN)");
  else if (!o.oauth)
    print_error("the server needs authorization: use --oauth (MCP authorization), or --bearer TOKEN");
}

// The decoded size of base64 `data`, as "N bytes" (or "invalid base64").
std::string decoded_size(const std::string& data) {
  mcp::ResourceContents c;
  c.blob = data;
  auto b = c.bytes();
  return b ? std::to_string(b->size()) + " bytes" : std::string("invalid base64");
}

// `"errors": {server: message}` in a JSON listing, when any server failed.
void add_errors(json& out, const std::map<std::string, mcp::Error>& errors) {
  if (errors.empty()) return;
  json e = json::object();
  for (const auto& [server, err] : errors) e[server] = error_message(err);
  out["errors"] = std::move(e);
}

// One line standing in for a content block that is not plain text.
std::string summarise(const mcp::ContentBlock& b) {
  const std::string kind = b.mime_type.empty() ? b.type : b.mime_type;
  // Sizes are of the decoded bytes, as `read` counts a blob.
  if (b.type == "image" || b.type == "audio") return "[" + kind + ", " + decoded_size(b.data) + "]";
  if (b.type == "resource_link") {
    std::string name = b.raw.is_object() && b.raw.contains("name") && b.raw["name"].is_string()
                           ? b.raw["name"].get<std::string>() + " "
                           : "";
    return "[resource_link " + name + "<" + b.uri + ">" + (b.mime_type.empty() ? "" : ", " + b.mime_type) + "]";
  }
  if (b.type == "resource") {
    std::string head = "[resource <" + b.uri + ">" + (b.mime_type.empty() ? "" : ", " + b.mime_type);
    if (!b.data.empty()) return head + ", " + decoded_size(b.data) + "]";
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

json info_json(const mcp::ServerInfo& si) {
  json j{{"era", mcp::to_string(si.era)},
         {"protocolVersion", si.protocol_version},
         {"serverInfo", si.implementation},
         {"capabilities", si.capabilities}};
  if (!si.supported_versions.empty()) j["supportedVersions"] = si.supported_versions;
  if (si.instructions) j["instructions"] = *si.instructions;
  j["transport"] = si.transport;
  j["transportFallback"] = si.transport_fallback;
  return j;
}

// The request options of a command: progress on stderr when notifications are shown.
mcp::RequestOptions request_options(const Options& o, const std::string& server) {
  mcp::RequestOptions r;
  r.on_progress = progress_printer(o, server);
  return r;
}

// --out FILE ("-": stdout): the bytes, as they are. The exit status.
int write_out(const std::string& file, const std::string& bytes) {
  if (file == "-") {
    std::cout.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
    return kExitOk;
  }
  std::ofstream f(file, std::ios::binary | std::ios::trunc);
  if (f) f.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
  if (f) f.close();
  if (!f) {
    print_error("cannot write '" + file + "': " + std::generic_category().message(errno));
    return kExitError;
  }
  return kExitOk;
}

// An error naming the command line's terms: a server without the Skills extension.
void report_skills(const Options& o, const std::string& server, const mcp::Error& e) {
  if (e.errc() == mcp::Errc::extension_not_supported)
    print_error("[" + server + "] offers no skills (it does not declare the io.modelcontextprotocol/skills extension)");
  else
    report(o, e);
}

// The skill `name` of `server`: a skill:// (or any) URI is asked with skills/get, a name is
// looked up in skills/list. Errors are printed; the exit status is in the error.
tl::expected<mcp::Skill, int> find_skill(mcp::Client& client, const Options& o, const std::string& server,
                                         const std::string& name) {
  if (name.find("://") != std::string::npos) {
    auto s = client.get_skill(server, name, request_options(o, server));
    if (!s) {
      report_skills(o, server, s.error());
      return tl::unexpected(kExitError);
    }
    return std::move(*s);
  }
  auto session = client.session(server);
  if (!session) {
    report(o, session.error());
    return tl::unexpected(kExitError);
  }
  auto all = (*session)->list_skills(request_options(o, server));
  if (!all) {
    report_skills(o, server, all.error());
    return tl::unexpected(kExitError);
  }
  std::vector<mcp::Skill> found;
  std::string names;
  for (auto& s : *all) {
    names += (names.empty() ? "" : ", ") + printable(s.name);
    if (s.name == name) found.push_back(std::move(s));
  }
  if (found.size() == 1) return std::move(found.front());
  if (found.empty()) {
    print_error("[" + server + "] no skill named '" + printable(name) + "' (skills: " + (names.empty() ? "none" : names) +
                ")");
    return tl::unexpected(kExitError);
  }
  std::string uris;
  for (const auto& s : found) uris += (uris.empty() ? "" : ", ") + printable(s.uri);
  print_error("[" + server + "] " + std::to_string(found.size()) + " skills are named '" + printable(name) +
              "': give one's URI instead (" + uris + ")");
  return tl::unexpected(kExitUsage);
}

// A verified file of a skill as --json prints it.
json skill_file_json(const mcp::SkillFileContent& c) {
  json j{{"uri", c.uri}, {"verified", c.verified}, {"size", c.bytes.size()}};
  if (c.mime_type) j["mimeType"] = *c.mime_type;
  if (c.text) j["text"] = c.bytes;
  else j["blob"] = mcp::detail::base64_encode(c.bytes);
  return j;
}

// A verified file on stdout: text as it is, a blob summarised (its bytes with --out).
int print_skill_file(const Options& o, const mcp::SkillFileContent& c, const json& extra = json::object()) {
  int status = kExitOk;
  if (o.out_file) status = write_out(*o.out_file, c.bytes);
  if (o.json) {
    json j = skill_file_json(c);
    for (const auto& [k, v] : extra.items()) j[k] = v;
    std::cout << dump(j) << '\n';
  } else if (!o.out_file) {
    if (c.text) {
      std::cout << c.bytes;
      if (!c.bytes.empty() && c.bytes.back() != '\n') std::cout << '\n';
    } else {
      std::cout << "[blob" << (c.mime_type ? " " + printable(*c.mime_type) : "") << ", " << c.bytes.size() << " bytes]\n";
    }
    if (!c.verified) print_error("note: " + printable(c.uri) + " belongs to a dynamic skill: no digest to check it against");
  }
  std::cout.flush();
  return status;
}

// A server that does not implement a listing method has nothing to list.

}  // namespace

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
  for (const auto& [server, e] : sets.errors) report(o, e);
  return sets.errors.empty() ? kExitOk : kExitError;
}

// Prints a command's reply: its error, or the result as JSON (--json) or as `human` prints it
// for people. False if it was an error.
template <class T, class Human>
bool print_reply(const mcp::Result<T>& r, const Options& o, Human&& human) {
  if (!r) {
    report(o, r.error());
    return false;
  }
  if (o.json) std::cout << dump(json(*r)) << '\n';
  else human(*r);
  std::cout.flush();
  return true;
}

// `call --task`: the call through a task handle; the task's id and each status it passes
// through are told on stderr ("mcpc: [server] task ID: working").
static mcp::Result<mcp::CallToolResult> call_as_task(mcp::Client& client, const Options& o, const std::string& server,
                                                     const std::string& tool, const json& args) {
  auto h = client.call_tool_task(server, tool, args, request_options(o, server));
  if (!h) return mcp::fail(h.error());
  if (!h->is_task()) {
    print_error("[" + server + "] the server answered at once (no task)");
    return h->wait();
  }
  const std::string id = printable(h->id());
  std::string last;
  for (;;) {
    auto r = h->wait_for(std::chrono::milliseconds(100));
    std::string now = mcp::to_string(h->status());
    if (const auto m = h->status_message(); !m.empty()) now += " (" + first_line(m) + ")";
    if (now != last) print_error("[" + server + "] task " + id + ": " + now);
    last = now;
    if (r || r.error().errc() != mcp::Errc::timeout || h->done()) return r;
  }
}

int run_call(mcp::Client& client, const Options& o, const std::string& server, const std::string& tool,
             const json& args) {
  auto r = o.task ? call_as_task(client, o, server, tool, args) : client.call_tool(server, tool, args, request_options(o, server));
  if (!print_reply(r, o, print_result)) return kExitError;
  if (r->is_error) {
    if (!o.json) print_error("tool '" + tool + "' reported an error (isError: true)");
    return kExitToolError;
  }
  return kExitOk;
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
      report(o, r.error());
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
    if (!r->transport.empty()) {
      std::cout << "  transport: " << r->transport;
      if (r->transport_fallback) std::cout << " (fallback: Streamable HTTP was refused)";
      std::cout << '\n';
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

int run_resources(mcp::Client& client, const Options& o) {
  // Both listings at once: a server that cannot be reached costs one wait, not two.
  mcp::Partial<std::map<std::string, std::vector<mcp::Resource>>> resources;
  mcp::Partial<std::map<std::string, std::vector<mcp::ResourceTemplate>>> templates;
  {
    std::jthread t;
    if (!o.templates) t = std::jthread([&] { resources = client.list_resources(); });
    templates = client.list_resource_templates();
  }
  // One error per server (a listing it does not implement is none: the library lists nothing).
  std::map<std::string, mcp::Error> errors;
  for (const auto* errs : {&resources.errors, &templates.errors})
    for (const auto& [server, e] : *errs) errors.emplace(server, e);

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
  for (const auto& [server, e] : errors) report(o, e);
  return errors.empty() ? kExitOk : kExitError;
}

int run_read(mcp::Client& client, const Options& o, const std::string& server, const std::string& uri) {
  auto r = client.read_resource(server, uri, request_options(o, server));
  if (!r) {
    report(o, r.error());
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
    status = write_out(*o.out_file, bytes);
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
  const auto& errors = prompts.errors;
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
  for (const auto& [server, e] : errors) report(o, e);
  return errors.empty() ? kExitOk : kExitError;
}

int run_prompt(mcp::Client& client, const Options& o, const std::string& server, const std::string& name,
               const std::map<std::string, std::string>& args) {
  auto r = client.get_prompt(server, name, args, request_options(o, server));
  const bool ok = print_reply(r, o, [](const mcp::GetPromptResult& prompt) {
    for (const auto& m : prompt.messages) {
      const auto& b = m.content;
      std::string text = b.type == "text" ? b.text : summarise(b);
      std::cout << (m.role.empty() ? "(no role)" : m.role) << ": " << text;
      if (text.empty() || text.back() != '\n') std::cout << '\n';
    }
  });
  return ok ? kExitOk : kExitError;
}

int run_complete(mcp::Client& client, const Options& o, const CompleteTarget& t,
                 const std::map<std::string, std::string>& context) {
  auto session = client.session(t.server);
  if (!session) {
    report(o, session.error());
    return kExitError;
  }
  const json ref = t.kind == "prompt" ? json{{"type", "ref/prompt"}, {"name", t.ref}}
                                      : json{{"type", "ref/resource"}, {"uri", t.ref}};
  json ctx;
  if (!context.empty()) ctx = json{{"arguments", context}};
  auto r = (*session)->complete(ref, t.argument, t.value, ctx, request_options(o, t.server));
  if (!r) {
    report(o, r.error());
    return kExitError;
  }
  if (o.json) {
    std::cout << dump(*r) << '\n';
  } else {
    const json values = r->is_object() ? r->value("values", json::array()) : json::array();
    for (const auto& v : values)
      if (v.is_string()) std::cout << printable(v.get<std::string>()) << '\n';
    if (r->is_object() && r->value("hasMore", false) == true) {
      const json total = r->value("total", json());
      print_error("more values than shown" + (total.is_number() ? " (" + total.dump() + " in all)" : std::string()));
    }
  }
  std::cout.flush();
  return kExitOk;
}

// `call NAME`. A name that `tools` printed is "<server>_<tool>"; server names may hold '_'
// themselves, and with a single server NAME may also be the tool's own name. Every reading
// that names a configured server is a candidate; one candidate is called as it is, several
// are settled by the servers' tool lists: the one reading whose tool exists is called, and
// more than one is an ambiguity the user settles with `call SERVER TOOL`.
tl::expected<ResolvedName, NameError> resolve_tool_name(mcp::Client& client, const std::string& name) {
  const auto servers = client.server_names();
  std::vector<std::pair<std::string, std::string>> candidates;
  if (servers.size() == 1) candidates.emplace_back(servers.front(), name);
  for (const auto& s : servers)
    if (name.size() > s.size() + 1 && name.compare(0, s.size(), s) == 0 && name[s.size()] == '_')
      candidates.emplace_back(s, name.substr(s.size() + 1));
  if (candidates.empty()) {
    std::string names;
    for (const auto& s : servers) names += (names.empty() ? "" : ", ") + s;
    return tl::unexpected(NameError{"no server matches '" + printable(name) +
                                        "': give SERVER TOOL, or a name as `tools` prints it, SERVER_TOOL (servers: " +
                                        names + ")",
                                    kExitUsage});
  }
  if (candidates.size() == 1) return ResolvedName{candidates.front()};
  std::vector<std::pair<std::string, std::string>> found;
  for (const auto& [server, tool] : candidates) {
    auto session = client.session(server);
    if (!session) return tl::unexpected(NameError{session.error().what(), kExitError});
    auto tools = (*session)->list_tools();
    if (!tools) {
      if (tools.error().rpc_code == -32601) continue;  // no tools at all
      return tl::unexpected(NameError{tools.error().what(), kExitError});
    }
    for (const auto& def : *tools)
      if (def.name == tool) found.emplace_back(server, tool);
  }
  if (found.size() == 1) return ResolvedName{found.front()};
  std::string readings;
  for (const auto& [server, tool] : found.empty() ? candidates : found)
    readings += (readings.empty() ? "" : ", ") + ("tool '" + printable(tool) + "' of " + printable(server));
  if (found.empty())
    return tl::unexpected(NameError{"no tool '" + printable(name) + "' (looked for " + readings + ")", kExitError});
  return tl::unexpected(
      NameError{"'" + printable(name) + "' is ambiguous: " + readings + "; give SERVER TOOL", kExitUsage});
}

}  // namespace mcpc

namespace mcpc {

int run_skills(mcp::Client& client, const Options& o, const std::vector<std::string>& servers) {
  mcp::Partial<std::map<std::string, std::vector<mcp::Skill>>> skills;
  if (servers.empty()) {
    skills = client.list_skills();  // servers without the extension list nothing
  } else {
    for (const auto& server : servers) {  // a named server without the extension is an error
      auto session = client.session(server);
      auto r = session ? (*session)->list_skills(request_options(o, server)) : mcp::Result<std::vector<mcp::Skill>>(mcp::fail(session.error()));
      if (r) skills.value.emplace(server, std::move(*r));
      else skills.errors.emplace(server, std::move(r.error()));
    }
  }
  if (o.json) {
    json out = json::object();
    for (const auto& [server, list] : skills.value) out[server] = json(list);
    add_errors(out, skills.errors);
    std::cout << dump(out) << '\n';
  } else {
    std::vector<std::vector<std::string>> rows;
    for (const auto& [server, list] : skills.value)
      for (const auto& s : list)
        rows.push_back({server, s.name, s.uri, (s.dynamic() ? "(dynamic) " : "") + first_line(s.description)});
    print_table(std::move(rows));
  }
  std::cout.flush();
  for (const auto& [server, e] : skills.errors) report_skills(o, server, e);
  return skills.errors.empty() ? kExitOk : kExitError;
}

int run_skill(mcp::Client& client, const Options& o, const std::string& server, const std::string& name) {
  auto skill = find_skill(client, o, server, name);
  if (!skill) return skill.error();
  auto c = client.load_skill(server, *skill, request_options(o, server));
  if (!c) {
    report_skills(o, server, c.error());
    return kExitError;
  }
  return print_skill_file(o, *c, json{{"skill", *skill}});
}

int run_skill_file(mcp::Client& client, const Options& o, const std::string& server, const std::string& name,
                   const std::string& path) {
  auto skill = find_skill(client, o, server, name);
  if (!skill) return skill.error();
  const std::string uri = path.find("://") != std::string::npos ? path : skill->resolve(path);
  auto c = client.read_skill_file(server, *skill, uri, request_options(o, server));
  if (!c) {
    if (c.error().errc() == mcp::Errc::file_not_listed) {
      std::string files;
      if (skill->files)
        for (const auto& f : *skill->files) {
          std::string rel = f.uri.rfind(skill->root() + "/", 0) == 0 ? f.uri.substr(skill->root().size() + 1) : f.uri;
          files += (files.empty() ? "" : ", ") + printable(rel);
        }
      print_error("[" + server + "] skill '" + printable(skill->name) + "' lists no file " + printable(uri) +
                  (files.empty() ? std::string() : " (files: " + files + ")"));
      return kExitError;
    }
    report_skills(o, server, c.error());
    return kExitError;
  }
  return print_skill_file(o, *c);
}

}  // namespace mcpc
