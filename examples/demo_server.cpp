// SPDX-License-Identifier: MIT
// demo_server: a small MCP server over stdio, speaking both protocol eras.
//
//   demo_server [--name NAME]
//
// Transport: newline-delimited JSON-RPC 2.0 on stdin/stdout; exits on stdin EOF.
//
// Eras, told apart per request:
//   modern (2026-07-28)  `server/discover`, and any request whose params carry
//                        `_meta["io.modelcontextprotocol/protocolVersion"]`. Results carry
//                        `"resultType": "complete"`; an unknown version gets -32022.
//   legacy (<= 2025-11-25) the `initialize` handshake, then plain requests. The demo is
//                        lenient: it also answers plain requests sent without a handshake,
//                        which makes it easy to try by hand:
//     echo '{"jsonrpc":"2.0","id":1,"method":"tools/list"}' | demo_server
//
// Tools: add {a, b}, echo {text}, word_count {text}, now {}.
//
// The protocol types (ToolDefinition, ContentBlock, CallToolResult, Implementation) come from
// the SDK's <mcp/types.hpp>; everything else is nlohmann_json and the standard library.

#include <mcp/types.hpp>
#include <mcp/version.hpp>

#include <nlohmann/json.hpp>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <ctime>
#include <iostream>
#include <optional>
#include <sstream>
#include <string>
#include <vector>

using nlohmann::json;

namespace {

constexpr const char* kMetaVersion = "io.modelcontextprotocol/protocolVersion";
constexpr const char* kMetaServerInfo = "io.modelcontextprotocol/serverInfo";

// Versions usable per request (stateless), and versions reachable through `initialize`.
const std::vector<std::string> kModernVersions{"2026-07-28"};
const std::vector<std::string> kLegacyVersions{"2025-11-25", "2025-06-18", "2025-03-26", "2024-11-05"};
// What server/discover advertises (and what a -32022 error lists).
const std::vector<std::string> kSupportedVersions{"2026-07-28", "2025-11-25"};

// JSON-RPC and MCP error codes.
constexpr int kParseError = -32700;
constexpr int kInvalidRequest = -32600;
constexpr int kMethodNotFound = -32601;
constexpr int kInvalidParams = -32602;
constexpr int kUnsupportedVersion = -32022;

bool contains(const std::vector<std::string>& v, const std::string& s) {
  return std::find(v.begin(), v.end(), s) != v.end();
}

// A JSON-RPC error reply, thrown from a handler and turned into a response by the loop.
struct RpcError {
  int code;
  std::string message;
  json data = nullptr;
};

// ------------------------------------------------------------------ tools

json number_schema(const char* description) { return {{"type", "number"}, {"description", description}}; }
json string_schema(const char* description) { return {{"type", "string"}, {"description", description}}; }
json object_schema(json properties, std::vector<std::string> required) {
  json schema{{"type", "object"}, {"properties", std::move(properties)}};
  if (!required.empty()) schema["required"] = std::move(required);
  return schema;
}

mcp::ToolDefinition make_tool(std::string name, std::string title, std::string description, json input,
                              std::optional<json> output = std::nullopt) {
  mcp::ToolDefinition t;
  t.name = std::move(name);
  t.title = std::move(title);
  t.description = std::move(description);
  t.input_schema = std::move(input);
  t.output_schema = std::move(output);
  t.annotations = {{"readOnlyHint", true}, {"openWorldHint", false}};
  return t;
}

const std::vector<mcp::ToolDefinition>& tools() {
  static const std::vector<mcp::ToolDefinition> list{
      make_tool("add", "Add", "Add two numbers.\nReturns the sum as text and as structuredContent {result}.",
                object_schema({{"a", number_schema("first addend")}, {"b", number_schema("second addend")}}, {"a", "b"}),
                object_schema({{"result", number_schema("a + b")}}, {"result"})),
      make_tool("echo", "Echo", "Return the given text unchanged.",
                object_schema({{"text", string_schema("text to echo")}}, {"text"})),
      make_tool("word_count", "Word count", "Count the whitespace-separated words in a text.",
                object_schema({{"text", string_schema("text to count")}}, {"text"}),
                object_schema({{"words", {{"type", "integer"}}}}, {"words"})),
      make_tool("now", "Current time", "The current time in UTC, ISO 8601 (e.g. 2025-01-31T12:00:00Z).",
                object_schema(json::object(), {})),
  };
  return list;
}

mcp::CallToolResult text_result(std::string text, std::optional<json> structured = std::nullopt) {
  mcp::CallToolResult r;
  mcp::ContentBlock b;
  b.type = "text";
  b.text = std::move(text);
  r.content.push_back(std::move(b));
  r.structured_content = std::move(structured);
  return r;
}

// Bad arguments are a tool error (isError: true) that the model can read and correct,
// not a protocol error.
mcp::CallToolResult tool_error(std::string text) {
  auto r = text_result(std::move(text));
  r.is_error = true;
  return r;
}

// 2 + 3 is "5", not "5.0": integers stay integers unless they overflow.
json add_numbers(const json& a, const json& b) {
  if (a.is_number_integer() && b.is_number_integer()) {
    std::int64_t sum = 0;
    if (!__builtin_add_overflow(a.get<std::int64_t>(), b.get<std::int64_t>(), &sum)) return sum;
  }
  const double sum = a.get<double>() + b.get<double>();
  if (std::isfinite(sum) && std::trunc(sum) == sum && std::fabs(sum) < 9.0e15) return static_cast<std::int64_t>(sum);
  return sum;
}

std::string utc_now() {
  const std::time_t t = std::chrono::system_clock::to_time_t(std::chrono::system_clock::now());
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf;
}

mcp::CallToolResult call_tool(const std::string& name, const json& args) {
  auto string_arg = [&](const char* key) -> std::optional<std::string> {
    auto it = args.find(key);
    if (it == args.end() || !it->is_string()) return std::nullopt;
    return it->get<std::string>();
  };
  if (name == "add") {
    const json a = args.value("a", json()), b = args.value("b", json());
    if (!a.is_number() || !b.is_number()) return tool_error("add: 'a' and 'b' must both be numbers");
    json sum = add_numbers(a, b);
    return text_result(sum.dump(), json{{"result", sum}});
  }
  if (name == "echo") {
    auto text = string_arg("text");
    if (!text) return tool_error("echo: 'text' must be a string");
    return text_result(*text);
  }
  if (name == "word_count") {
    auto text = string_arg("text");
    if (!text) return tool_error("word_count: 'text' must be a string");
    std::istringstream in(*text);
    std::int64_t words = 0;
    for (std::string w; in >> w;) ++words;
    return text_result(std::to_string(words), json{{"words", words}});
  }
  if (name == "now") return text_result(utc_now());
  throw RpcError{kInvalidParams, "Unknown tool: " + name, json{{"tool", name}}};
}

// ------------------------------------------------------------------ server

class Server {
 public:
  explicit Server(std::string name) : info_{std::move(name), mcp::version_string, "MCP C++ SDK demo server", nullptr} {}

  // One incoming line -> the reply line, or nothing for notifications and responses.
  std::optional<json> handle_line(const std::string& line) {
    json msg;
    try {
      msg = json::parse(line);
    } catch (const json::parse_error& e) {
      return error_reply(nullptr, {kParseError, std::string("Parse error: ") + e.what()});
    }
    if (!msg.is_object()) return error_reply(nullptr, {kInvalidRequest, "Invalid Request: not a JSON object"});
    const bool has_id = msg.contains("id");
    const json id = has_id ? msg["id"] : json();
    if (!msg.contains("method")) return std::nullopt;  // a response: we never send requests
    if (has_id && !id.is_string() && !id.is_number_integer())
      return error_reply(nullptr, {kInvalidRequest, "Invalid Request: id must be a string or an integer"});
    if (!msg["method"].is_string()) {
      if (!has_id) return std::nullopt;
      return error_reply(id, {kInvalidRequest, "Invalid Request: method must be a string"});
    }
    const std::string method = msg["method"].get<std::string>();
    if (!has_id) return std::nullopt;  // notifications (initialized, cancelled, ...) need no action
    json params = msg.value("params", json::object());
    if (params.is_null()) params = json::object();
    try {
      if (!params.is_object()) throw RpcError{kInvalidParams, "params must be an object"};
      return json{{"jsonrpc", "2.0"}, {"id", id}, {"result", dispatch(method, params)}};
    } catch (const RpcError& e) {
      return error_reply(id, e);
    } catch (const std::exception& e) {  // e.g. a mistyped field read with get<>()
      return error_reply(id, {kInvalidParams, std::string("Invalid params: ") + e.what()});
    }
  }

 private:
  json dispatch(const std::string& method, const json& params) {
    // Modern requests say which revision they speak in every request's _meta.
    std::optional<std::string> version;
    if (auto m = params.find("_meta"); m != params.end() && m->is_object()) {
      if (auto v = m->find(kMetaVersion); v != m->end() && v->is_string()) version = v->get<std::string>();
    }
    if (version && !contains(kModernVersions, *version)) {
      throw RpcError{kUnsupportedVersion, "Unsupported protocol version: " + *version,
                     json{{"supported", kSupportedVersions}, {"requested", *version}}};
    }
    const bool modern = version.has_value() || method == "server/discover";

    json result;
    if (method == "server/discover") {
      result = {{"supportedVersions", kSupportedVersions},
                {"capabilities", capabilities()},
                {"_meta", {{kMetaServerInfo, info_}}}};
    } else if (method == "initialize") {
      if (modern) throw RpcError{kInvalidRequest, "initialize is not part of the stateless protocol"};
      result = initialize(params);
    } else if (method == "ping") {
      result = json::object();
    } else if (method == "tools/list") {
      result = {{"tools", tools()}};
    } else if (method == "tools/call") {
      if (!params.contains("name") || !params["name"].is_string())
        throw RpcError{kInvalidParams, "tools/call: 'name' must be a string"};
      json args = params.value("arguments", json::object());
      if (args.is_null()) args = json::object();
      if (!args.is_object()) throw RpcError{kInvalidParams, "tools/call: 'arguments' must be an object"};
      result = call_tool(params["name"].get<std::string>(), args);
    } else {
      throw RpcError{kMethodNotFound, "Method not found: " + method};
    }
    if (modern) {
      result["resultType"] = "complete";
      // 2026-07-28: list results are cacheable and must say for how long, and for whom.
      if (method == "tools/list") result.update({{"ttlMs", 0}, {"cacheScope", "public"}});
    }
    return result;
  }

  json initialize(const json& params) {
    // Echo the client's revision when we speak it, otherwise offer our newest legacy one.
    const std::string requested = params.value("protocolVersion", std::string());
    const std::string chosen = contains(kLegacyVersions, requested) ? requested : kLegacyVersions.front();
    return {{"protocolVersion", chosen}, {"capabilities", capabilities()}, {"serverInfo", info_}};
  }

  static json capabilities() { return {{"tools", json::object()}}; }

  static json error_reply(const json& id, const RpcError& e) {
    json err{{"code", e.code}, {"message", e.message}};
    if (!e.data.is_null()) err["data"] = e.data;
    return {{"jsonrpc", "2.0"}, {"id", id}, {"error", std::move(err)}};
  }

  mcp::Implementation info_;
};

int usage(std::ostream& out, int status) {
  out << "usage: demo_server [--name NAME]\n"
         "A demo MCP server (tools: add, echo, word_count, now) speaking newline-delimited\n"
         "JSON-RPC on stdin/stdout, in the 2026-07-28 (stateless) and 2025-11-25..2024-11-05\n"
         "(initialize) protocol eras. Exits on stdin EOF.\n";
  return status;
}

}  // namespace

int main(int argc, char** argv) {
  std::string name = "demo";
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    if (arg == "-h" || arg == "--help") return usage(std::cout, 0);
    if (arg == "--name" && i + 1 < argc) {
      name = argv[++i];
    } else if (arg.rfind("--name=", 0) == 0) {
      name = arg.substr(7);
    } else {
      std::cerr << "demo_server: unexpected argument '" << arg << "'\n";
      return usage(std::cerr, 2);
    }
  }

  std::ios::sync_with_stdio(false);
  Server server(std::move(name));
  for (std::string line; std::getline(std::cin, line);) {
    if (!line.empty() && line.back() == '\r') line.pop_back();
    if (line.find_first_not_of(" \t") == std::string::npos) continue;
    if (auto reply = server.handle_line(line)) {
      // Text from a client is valid UTF-8 (the parser checks), but be safe about what we echo.
      std::cout << reply->dump(-1, ' ', false, json::error_handler_t::replace) << '\n' << std::flush;
    }
  }
  return 0;
}
