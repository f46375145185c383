// SPDX-License-Identifier: MIT
#include <mcp/config.hpp>

#include "util/json_get.hpp"

namespace mcp {

using nlohmann::json;

Result<StdioServerConfig> parse_stdio_command(std::string_view line) {
  std::vector<std::string> words;
  std::string cur;
  bool in_word = false;
  char quote = 0;
  for (std::size_t i = 0; i < line.size(); ++i) {
    const char c = line[i];
    if (quote) {
      if (c == quote) { quote = 0; continue; }
      if (c == '\\' && quote == '"' && i + 1 < line.size()) { cur += line[++i]; continue; }
      cur += c;
      continue;
    }
    if (c == '\'' || c == '"') { quote = c; in_word = true; continue; }
    if (c == '\\' && i + 1 < line.size()) { cur += line[++i]; in_word = true; continue; }
    if (c == ' ' || c == '\t' || c == '\n') {
      if (in_word) words.push_back(std::move(cur)), cur.clear(), in_word = false;
      continue;
    }
    cur += c;
    in_word = true;
  }
  if (quote) return fail(Errc::invalid_config, "unterminated quote in command line");
  if (in_word) words.push_back(std::move(cur));
  if (words.empty()) return fail(Errc::invalid_config, "empty command line");
  StdioServerConfig cfg;
  cfg.command = words.front();
  cfg.args.assign(words.begin() + 1, words.end());
  return cfg;
}

namespace {
Result<std::map<std::string, std::string>> string_map(const json& j, const std::string& what) {
  std::map<std::string, std::string> out;
  if (j.is_null()) return out;
  if (!j.is_object()) return fail(Errc::invalid_config, what + " must be an object of strings");
  for (auto it = j.begin(); it != j.end(); ++it) {
    if (!it.value().is_string())
      return fail(Errc::invalid_config, what + "." + it.key() + " must be a string");
    out[it.key()] = it.value().get<std::string>();
  }
  return out;
}
}  // namespace

Result<ClientConfig> parse_client_config(const json& doc) {
  if (!doc.is_object() || !doc.contains("mcpServers") || !doc["mcpServers"].is_object())
    return fail(Errc::invalid_config, "config must be an object with an \"mcpServers\" object");
  ClientConfig cfg;
  for (auto it = doc["mcpServers"].begin(); it != doc["mcpServers"].end(); ++it) {
    const std::string& name = it.key();
    const json& s = it.value();
    const std::string where = "mcpServers." + name;
    if (!s.is_object()) return fail(Errc::invalid_config, where + " must be an object");
    ServerConfig sc;
    const bool has_cmd = s.contains("command"), has_url = s.contains("url");
    if (has_cmd == has_url)
      return fail(Errc::invalid_config, where + " needs exactly one of \"command\" or \"url\"");
    if (has_cmd) {
      StdioServerConfig st;
      if (!s["command"].is_string() || s["command"].get<std::string>().empty())
        return fail(Errc::invalid_config, where + ".command must be a non-empty string");
      st.command = s["command"].get<std::string>();
      if (s.contains("args")) {
        if (!s["args"].is_array()) return fail(Errc::invalid_config, where + ".args must be an array");
        for (const auto& a : s["args"]) {
          if (!a.is_string()) return fail(Errc::invalid_config, where + ".args must hold strings");
          st.args.push_back(a.get<std::string>());
        }
      }
      auto env = string_map(s.value("env", json()), where + ".env");
      if (!env) return fail(env.error());
      st.env = std::move(*env);
      if (s.contains("cwd")) {
        if (!s["cwd"].is_string()) return fail(Errc::invalid_config, where + ".cwd must be a string");
        st.cwd = s["cwd"].get<std::string>();
      }
      if (s.contains("inheritEnv")) st.inherit_env = detail::bool_or(s, "inheritEnv");
      sc.transport = std::move(st);
    } else {
      HttpServerConfig h;
      if (!s["url"].is_string() || s["url"].get<std::string>().empty())
        return fail(Errc::invalid_config, where + ".url must be a non-empty string");
      h.url = s["url"].get<std::string>();
      auto headers = string_map(s.value("headers", json()), where + ".headers");
      if (!headers) return fail(headers.error());
      h.headers = std::move(*headers);
      if (s.contains("transport")) {
        const auto t = detail::str_or(s, "transport");
        if (t == "sse") h.transport = HttpTransportKind::sse;
        else if (t == "streamable-http" || t == "streamableHttp" || t == "http") h.transport = HttpTransportKind::streamable_http;
        else if (t != "auto") return fail(Errc::invalid_config, where + ".transport must be auto, http or sse");
      }
      sc.transport = std::move(h);
    }
    if (s.contains("protocolVersion")) {
      if (!s["protocolVersion"].is_string())
        return fail(Errc::invalid_config, where + ".protocolVersion must be a string");
      sc.protocol_version = s["protocolVersion"].get<std::string>();
    }
    if (s.contains("era")) {
      const auto e = detail::str_or(s, "era");
      if (e == "modern") sc.era = Era::modern;
      else if (e == "legacy") sc.era = Era::legacy;
      else if (e != "auto") return fail(Errc::invalid_config, where + ".era must be auto, modern or legacy");
    }
    if (s.contains("timeoutMs")) {
      if (!s["timeoutMs"].is_number_unsigned())
        return fail(Errc::invalid_config, where + ".timeoutMs must be a positive integer");
      sc.request_timeout = Milliseconds(s["timeoutMs"].get<std::uint64_t>());
    }
    cfg.servers.emplace(name, std::move(sc));
  }
  return cfg;
}

}  // namespace mcp
