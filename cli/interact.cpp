// SPDX-License-Identifier: MIT
// What servers ask of mcpc and tell it while a command runs: elicitation answered at the
// terminal, roots from --root, sampling declined; progress and log notifications on stderr.

#include "mcpc.hpp"

#include <mcp/config.hpp>

#include <nlohmann/json.hpp>

#include <algorithm>
#include <cctype>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <functional>
#include <iostream>
#include <mutex>
#include <optional>
#include <string>
#include <unistd.h>
#include <utility>
#include <vector>

namespace mcpc {

namespace {

// One question at a time at the terminal, whichever server asks.
std::mutex g_input_mutex;

void say(const std::string& line, bool newline = true) {
  std::lock_guard lk(g_stderr_mutex);
  std::cerr << line;
  if (newline) std::cerr << '\n';
  std::cerr.flush();
}

// One line of the user's answer; nullopt at the end of input.
std::optional<std::string> ask(const std::string& prompt) {
  say(prompt, false);
  std::string line;
  if (!std::getline(std::cin, line)) {
    say("");
    return std::nullopt;
  }
  if (!line.empty() && line.back() == '\r') line.pop_back();
  return line;
}

std::string trim(std::string s) {
  s.erase(0, s.find_first_not_of(" \t"));
  s.erase(s.find_last_not_of(" \t") + 1);
  return s;
}

std::string str(const json& j, const char* key) {
  return j.is_object() && j.contains(key) && j[key].is_string() ? j[key].get<std::string>() : std::string();
}

// The choices of an enum field: values and what to show for each (titled enums: oneOf/anyOf
// of {const, title}; legacy: enum with enumNames).
struct Choice {
  json value;
  std::string label;
};
std::vector<Choice> choices_of(const json& schema) {
  std::vector<Choice> out;
  if (!schema.is_object()) return out;
  for (const char* key : {"oneOf", "anyOf"})
    if (schema.contains(key) && schema[key].is_array())
      for (const auto& c : schema[key])
        if (c.is_object() && c.contains("const")) {
          std::string title = str(c, "title");
          out.push_back({c["const"], title.empty() ? c["const"].dump() : title});
        }
  if (out.empty() && schema.contains("enum") && schema["enum"].is_array()) {
    const json names = schema.value("enumNames", json::array());
    for (std::size_t i = 0; i < schema["enum"].size(); ++i) {
      const json& v = schema["enum"][i];
      std::string label = names.is_array() && i < names.size() && names[i].is_string()
                              ? names[i].get<std::string>()
                              : (v.is_string() ? v.get<std::string>() : v.dump());
      out.push_back({v, label});
    }
  }
  return out;
}

// What the user typed for one choice: its number, its value or its label.
std::optional<json> pick(const std::vector<Choice>& choices, const std::string& typed) {
  for (std::size_t i = 0; i < choices.size(); ++i)
    if (typed == std::to_string(i + 1)) return choices[i].value;
  for (const auto& c : choices)
    if ((c.value.is_string() && c.value.get<std::string>() == typed) || c.label == typed) return c.value;
  return std::nullopt;
}

std::string shown(const json& v) { return v.is_string() ? v.get<std::string>() : v.dump(); }

// The user's text for a field of `schema`, as the value to send, or why it is not one.
Parsed<json> convert(const json& schema, const std::string& text) {
  const std::string type = str(schema, "type");
  if (type == "array") {
    const json items = schema.value("items", json::object());
    const auto choices = choices_of(items);
    json out = json::array();
    std::string rest = text;
    while (!rest.empty()) {
      const auto comma = rest.find(',');
      const std::string one = trim(rest.substr(0, comma));
      rest = comma == std::string::npos ? "" : rest.substr(comma + 1);
      if (one.empty()) continue;
      if (choices.empty()) {
        out.push_back(one);
        continue;
      }
      auto v = pick(choices, one);
      if (!v) return tl::unexpected("'" + one + "' is not one of the choices");
      out.push_back(*v);
    }
    if (schema.contains("minItems") && schema["minItems"].is_number_unsigned() &&
        out.size() < schema["minItems"].get<std::size_t>())
      return tl::unexpected("choose at least " + schema["minItems"].dump());
    if (schema.contains("maxItems") && schema["maxItems"].is_number_unsigned() &&
        out.size() > schema["maxItems"].get<std::size_t>())
      return tl::unexpected("choose at most " + schema["maxItems"].dump());
    return out;
  }
  if (const auto choices = choices_of(schema); !choices.empty()) {
    auto v = pick(choices, text);
    if (!v) return tl::unexpected("'" + text + "' is not one of the choices");
    return *v;
  }
  if (type == "boolean") {
    if (text == "y" || text == "yes" || text == "true" || text == "1") return json(true);
    if (text == "n" || text == "no" || text == "false" || text == "0") return json(false);
    return tl::unexpected(std::string("answer yes or no"));
  }
  if (type == "number" || type == "integer") {
    json n = json::parse(text, nullptr, false);
    if (n.is_discarded() || !n.is_number()) return tl::unexpected(std::string("not a number"));
    if (type == "integer" && !n.is_number_integer()) {
      const double d = n.get<double>();
      if (std::floor(d) != d) return tl::unexpected(std::string("not a whole number"));
      n = static_cast<std::int64_t>(d);
    }
    const double d = n.get<double>();
    if (schema.contains("minimum") && schema["minimum"].is_number() && d < schema["minimum"].get<double>())
      return tl::unexpected("at least " + schema["minimum"].dump());
    if (schema.contains("maximum") && schema["maximum"].is_number() && d > schema["maximum"].get<double>())
      return tl::unexpected("at most " + schema["maximum"].dump());
    return n;
  }
  if (schema.contains("minLength") && schema["minLength"].is_number_unsigned() &&
      text.size() < schema["minLength"].get<std::size_t>())
    return tl::unexpected("at least " + schema["minLength"].dump() + " characters");
  if (schema.contains("maxLength") && schema["maxLength"].is_number_unsigned() &&
      text.size() > schema["maxLength"].get<std::size_t>())
    return tl::unexpected("at most " + schema["maxLength"].dump() + " characters");
  return json(text);
}

// The fields of a form-mode request, asked one by one. nullopt: the input ended (cancel).
std::optional<json> ask_form(const json& requested) {
  json content = json::object();
  if (!requested.is_object() || !requested.contains("properties") || !requested["properties"].is_object())
    return content;
  std::vector<std::string> required;
  if (requested.contains("required") && requested["required"].is_array())
    for (const auto& r : requested["required"])
      if (r.is_string()) required.push_back(r.get<std::string>());
  // The order the server wrote its fields in is not kept (JSON objects are unordered, and the
  // library's are sorted): required fields first, in the order of "required", then the rest
  // by name.
  std::vector<std::string> keys;
  for (const auto& key : required)
    if (requested["properties"].contains(key) && std::find(keys.begin(), keys.end(), key) == keys.end())
      keys.push_back(key);
  for (const auto& [key, field] : requested["properties"].items())
    if (std::find(keys.begin(), keys.end(), key) == keys.end()) keys.push_back(key);
  for (const auto& key : keys) {
    const json& field = requested["properties"][key];
    const bool needed = std::find(required.begin(), required.end(), key) != required.end();
    const std::string title = str(field, "title"), description = str(field, "description");
    std::string type = str(field, "type");
    const auto choices = choices_of(type == "array" ? field.value("items", json::object()) : field);
    std::string head = "  " + printable(key);
    if (!title.empty() && title != key) head += " (" + printable(title) + ")";
    if (!description.empty()) head += ": " + first_line(description);
    say(head);
    if (!choices.empty()) {
      std::string list;
      for (std::size_t i = 0; i < choices.size(); ++i)
        list += (i ? "  " : "    ") + std::to_string(i + 1) + ") " + printable(choices[i].label);
      say(list);
    }
    std::string hint = type.empty() ? "string" : type;
    if (type == "array") hint = choices.empty() ? "comma-separated" : "numbers or values, comma-separated";
    else if (type == "boolean") hint = "y/n";
    else if (!choices.empty()) hint = "number or value";
    if (auto fmt = str(field, "format"); !fmt.empty()) hint += ", " + fmt;
    if (needed) hint += ", required";
    const bool has_default = field.is_object() && field.contains("default");
    std::string prompt = "    [" + printable(hint) + "]";
    if (has_default) {
      const json& d = field["default"];
      std::string ds;
      if (d.is_array()) {
        for (const auto& x : d) ds += (ds.empty() ? "" : ",") + shown(x);
      } else if (d.is_boolean()) {
        ds = d.get<bool>() ? "y" : "n";
      } else {
        ds = shown(d);
      }
      prompt += " (default " + printable(ds) + ")";
    }
    prompt += ": ";
    for (;;) {
      auto line = ask(prompt);
      if (!line) return std::nullopt;
      const std::string text = trim(*line);
      if (text.empty()) {
        if (has_default) {
          content[key] = field["default"];
          break;
        }
        if (!needed) break;
        say("    (required)");
        continue;
      }
      auto v = convert(field, text);
      if (!v) {
        say("    " + printable(v.error()) + "; try again");
        continue;
      }
      content[key] = std::move(*v);
      break;
    }
  }
  return content;
}

mcp::Result<mcp::ElicitResult> declined(const std::string& server, const mcp::ElicitRequest& req,
                                        const std::string& why) {
  say("mcpc: [" + printable(server) + "] asked for input (\"" + first_line(req.message) + "\"): declined, " + why);
  mcp::ElicitResult r;
  r.action = "decline";
  return r;
}

// Percent-encodes a path for a file:// URI (RFC 8089): unreserved characters and '/' stay.
std::string file_uri(const std::string& path) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out = "file://";
  for (unsigned char c : path) {
    if (std::isalnum(c) || c == '/' || c == '-' || c == '.' || c == '_' || c == '~') {
      out += static_cast<char>(c);
    } else {
      out += '%';
      out += kHex[c >> 4];
      out += kHex[c & 15];
    }
  }
  return out;
}

}  // namespace

bool show_notifications(const Options& o) { return o.verbose || ::isatty(2) == 1; }

Parsed<std::vector<mcp::Root>> roots_from(const std::vector<std::string>& dirs) {
  std::vector<mcp::Root> out;
  for (const auto& dir : dirs) {
    std::error_code ec;
    if (dir.empty() || !std::filesystem::is_directory(dir, ec))
      return tl::unexpected("--root: '" + dir + "' is not a directory");
    auto path = std::filesystem::canonical(dir, ec);
    if (ec) return tl::unexpected("--root: '" + dir + "': " + ec.message());
    mcp::Root r;
    r.uri = file_uri(path.string());
    const std::string name = path.filename().string();
    r.name = name.empty() ? path.string() : name;
    out.push_back(std::move(r));
  }
  return out;
}

void install_handlers(mcp::ClientConfig& cfg, const Options& o, std::vector<mcp::Root> roots) {
  auto& h = cfg.handlers;
  // Always answered (an empty list without --root): a server that asks learns there are none,
  // instead of a "not supported" error reaching the user.
  h.roots = [roots = std::move(roots)](const std::string&) { return roots; };

  h.sampling = [](const std::string& server, const json&) -> mcp::Result<json> {
    say("mcpc: [" + printable(server) + "] asked for an LLM completion (sampling): declined, mcpc has no model");
    mcp::Error e = mcp::Error::make(mcp::Errc::input_required, "mcpc declined the sampling request: it has no model");
    e.rpc_code = -1;  // the TypeScript SDK's "User rejected sampling request"
    return tl::unexpected(std::move(e));
  };

  const bool terminal = ::isatty(0) == 1;
  h.elicitation = [no_input = o.no_input, interactive = o.input || terminal](
                      const std::string& server, const mcp::ElicitRequest& req) -> mcp::Result<mcp::ElicitResult> {
    if (no_input) return declined(server, req, "--no-input");
    if (!interactive)
      return declined(server, req, "stdin is not a terminal (--input answers from stdin anyway)");
    std::lock_guard lk(g_input_mutex);
    mcp::ElicitResult r;
    const std::string who = "mcpc: [" + printable(server) + "] ";
    say(who + "asks: " + printable(req.message, /*keep_newlines=*/true));
    if (req.mode == "url") {
      say("  open this URL: " + printable(req.url));
      auto a = ask("  done? [y]es / [n]o (decline) / [c]ancel: ");
      const std::string t = a ? trim(*a) : "c";
      r.action = t == "y" || t == "yes" ? "accept" : t == "n" || t == "no" ? "decline" : "cancel";
      return r;
    }
    for (;;) {
      auto a = ask("  answer? [Y]es / [n]o (decline) / [c]ancel: ");
      const std::string t = a ? trim(*a) : "c";
      if (t == "n" || t == "no") {
        r.action = "decline";
        return r;
      }
      if (t == "c" || t == "cancel") {
        r.action = "cancel";
        return r;
      }
      if (t.empty() || t == "y" || t == "yes") break;
    }
    say("  (an empty answer takes the default; end of input cancels)");
    auto content = ask_form(req.requested_schema);
    if (!content) {
      r.action = "cancel";
      return r;
    }
    r.action = "accept";
    r.content = std::move(*content);
    return r;
  };

  if (show_notifications(o)) {
    cfg.log_level = o.verbose ? "debug" : "info";
    h.on_log = [](const std::string& server, const mcp::LogMessage& m) {
      std::string text = m.data.is_string() ? m.data.get<std::string>()
                                            : m.data.dump(-1, ' ', false, json::error_handler_t::replace);
      say("mcpc: [" + printable(server) + "] " + printable(m.level.empty() ? "log" : m.level) +
          (m.logger ? " (" + printable(*m.logger) + ")" : "") + ": " + printable(text, /*keep_newlines=*/true));
    };
  }
}

std::function<void(const mcp::Progress&)> progress_printer(const Options& o, const std::string& server) {
  if (!show_notifications(o)) return {};
  return [server](const mcp::Progress& p) {
    auto number = [](double d) {
      char buf[32];
      std::snprintf(buf, sizeof buf, "%g", d);
      return std::string(buf);
    };
    std::string line = "mcpc: [" + printable(server) + "] progress " + number(p.progress);
    if (p.total) line += "/" + number(*p.total);
    if (p.message) line += ": " + first_line(*p.message);
    say(line);
  };
}

}  // namespace mcpc
