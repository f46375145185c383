// SPDX-License-Identifier: MIT
// bench_server: the server benchmark's C++ server (bench/server_run.sh), on libmcp-server: the
// same 20 small tools as bench/peers/server.mjs (`echo {text}` plus 19 more), one resource,
// and with --notify-tool a 21st tool, `notify {}`, that calls notify_resources_changed() (the
// open-streams case times its fan-out).
//
//   bench_server [--port PORT] [--io-threads N] [--handler-threads N] [--stateless]
//                [--session-idle-ms MS] [--max-sessions N] [--json-response] [--notify-tool]
//                [--inline-tools] [--pooled-tools] [--takeover-ms MS]
//
// stdio (newline-delimited JSON-RPC, both eras) by default, until stdin ends. With --port,
// Streamable HTTP at http://127.0.0.1:PORT/mcp (0: a free port), printing "PORT <n>" when it
// listens, until stdin ends. --stateless: legacy requests without sessions. --inline-tools: the
// 20 tools run on the thread that read the call (ServerTool::run_inline), not a handler thread.
// --pooled-tools: over HTTP too, every tool runs on a handler thread (handlers_on_io_threads
// off; by default they run on the I/O threads with a watchdog). --takeover-ms: the watchdog's
// ServerOptions::io_handler_takeover (default 2; larger under valgrind or strace).
#include <mcp/server.hpp>
#include <mcp/server_http.hpp>
#include <mcp/version.hpp>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <ctime>
#include <iostream>
#include <random>
#include <sstream>
#include <string>

using nlohmann::json;

namespace {

json schema(json properties, std::vector<std::string> required) {
  json s{{"type", "object"}, {"properties", std::move(properties)}};
  if (!required.empty()) s["required"] = std::move(required);
  return s;
}
const json kNum{{"type", "number"}};
const json kStr{{"type", "string"}};
const json kInt{{"type", "integer"}};

// Numbers as JavaScript prints them: integers without ".0".
std::string num(double v) {
  if (std::isfinite(v) && std::trunc(v) == v && std::fabs(v) < 9.0e15)
    return std::to_string(static_cast<std::int64_t>(v));
  return json(v).dump();
}

std::string utc_now() {
  const auto now = std::chrono::system_clock::now();
  const std::time_t t = std::chrono::system_clock::to_time_t(now);
  const auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(now.time_since_epoch()).count() % 1000;
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buf[40];
  const std::size_t n = std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%S", &tm);
  std::snprintf(buf + n, sizeof buf - n, ".%03dZ", static_cast<int>(ms));
  return buf;
}

thread_local std::mt19937_64 rng{std::random_device{}()};

std::string uuid4() {
  std::uniform_int_distribution<std::uint64_t> d;
  std::uint64_t a = d(rng), b = d(rng);
  a = (a & 0xffffffffffff0fffULL) | 0x4000ULL;
  b = (b & 0x3fffffffffffffffULL) | 0x8000000000000000ULL;
  char buf[40];
  std::snprintf(buf, sizeof buf, "%08x-%04x-%04x-%04x-%012llx", static_cast<unsigned>(a >> 32),
                static_cast<unsigned>((a >> 16) & 0xffff), static_cast<unsigned>(a & 0xffff),
                static_cast<unsigned>(b >> 48), static_cast<unsigned long long>(b & 0xffffffffffffULL));
  return buf;
}

using Fn = std::function<std::string(const json&)>;

bool inline_tools = false;  // --inline-tools

mcp::Result<void> add(mcp::Server& server, const char* name, const char* description, json input_schema, Fn fn) {
  return server.add_tool(
      {.name = name,
       .description = description,
       .input_schema = std::move(input_schema),
       .handler = [fn = std::move(fn)](const json& args, mcp::RequestContext&) -> mcp::Result<mcp::CallToolResult> {
         return mcp::text_result(fn(args));
       },
       .run_inline = inline_tools});
}

mcp::Result<void> add_tools(mcp::Server& s, bool notify_tool) {
  const json ab = schema({{"a", kNum}, {"b", kNum}}, {"a", "b"});
  const json text = schema({{"text", kStr}}, {"text"});
  const json none = schema(json::object(), {});
  auto d = [](const json& a, const char* k) { return a[k].get<double>(); };
  auto t = [](const json& a) { return a["text"].get<std::string>(); };
  mcp::Result<void> r = add(s, "echo", "Return the given text unchanged", text, t);
  if (r) r = add(s, "add", "a + b", ab, [d](const json& a) { return num(d(a, "a") + d(a, "b")); });
  if (r) r = add(s, "sub", "a - b", ab, [d](const json& a) { return num(d(a, "a") - d(a, "b")); });
  if (r) r = add(s, "mul", "a * b", ab, [d](const json& a) { return num(d(a, "a") * d(a, "b")); });
  if (r) r = add(s, "div", "a / b", ab, [d](const json& a) { return num(d(a, "a") / d(a, "b")); });
  if (r) r = add(s, "max", "max(a, b)", ab, [d](const json& a) { return num(std::max(d(a, "a"), d(a, "b"))); });
  if (r) r = add(s, "min", "min(a, b)", ab, [d](const json& a) { return num(std::min(d(a, "a"), d(a, "b"))); });
  if (r)
    r = add(s, "upper", "Upper-case text", text, [t](const json& a) {
      std::string v = t(a);
      std::transform(v.begin(), v.end(), v.begin(), [](unsigned char c) { return static_cast<char>(std::toupper(c)); });
      return v;
    });
  if (r)
    r = add(s, "lower", "Lower-case text", text, [t](const json& a) {
      std::string v = t(a);
      std::transform(v.begin(), v.end(), v.begin(), [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
      return v;
    });
  if (r)
    r = add(s, "reverse", "Reverse text", text, [t](const json& a) {
      std::string v = t(a);
      std::reverse(v.begin(), v.end());
      return v;
    });
  if (r) r = add(s, "length", "Length of text", text, [t](const json& a) { return std::to_string(t(a).size()); });
  if (r)
    r = add(s, "word_count", "Words in text", text, [t](const json& a) {
      std::istringstream in(t(a));
      std::size_t n = 0;
      for (std::string w; in >> w;) ++n;
      return std::to_string(n);
    });
  if (r)
    r = add(s, "concat", "a + b as strings", schema({{"a", kStr}, {"b", kStr}}, {"a", "b"}),
            [](const json& a) { return a["a"].get<std::string>() + a["b"].get<std::string>(); });
  if (r)
    r = add(s, "repeat", "Repeat text n times",
            schema({{"text", kStr}, {"n", {{"type", "integer"}, {"minimum", 0}, {"maximum", 100}}}}, {"text", "n"}),
            [t](const json& a) {
              std::string v;
              for (int i = a["n"].get<int>(); i > 0; --i) v += t(a);
              return v;
            });
  if (r) r = add(s, "now", "Current time (ISO 8601)", none, [](const json&) { return utc_now(); });
  if (r) r = add(s, "uuid", "A random UUID", none, [](const json&) { return uuid4(); });
  if (r)
    r = add(s, "random", "A random number in [0, 1)", none,
            [](const json&) { return json(std::uniform_real_distribution<double>(0, 1)(rng)).dump(); });
  if (r)
    r = add(s, "is_even", "Whether n is even", schema({{"n", kInt}}, {"n"}),
            [](const json& a) { return a["n"].get<std::int64_t>() % 2 == 0 ? "true" : "false"; });
  if (r)
    r = add(s, "sum_list", "Sum of a list of numbers",
            schema({{"values", {{"type", "array"}, {"items", kNum}}}}, {"values"}), [](const json& a) {
              double sum = 0;
              for (const auto& v : a["values"]) sum += v.get<double>();
              return num(sum);
            });
  if (r) r = add(s, "ping", "Returns pong", none, [](const json&) { return std::string("pong"); });
  if (r && notify_tool)
    r = s.add_tool({.name = "notify",
                    .description = "Tell every listener that the resource list changed",
                    .input_schema = none,
                    .handler = [&s](const json&, mcp::RequestContext&) -> mcp::Result<mcp::CallToolResult> {
                      s.notify_resources_changed();
                      return mcp::text_result("notified");
                    }});
  if (r)
    r = s.add_resource(
        {.uri = "mem://bench/readme",
         .name = "readme",
         .mime_type = "text/plain",
         .read = [](const std::string& uri, auto&, auto&) -> mcp::Result<std::vector<mcp::ResourceContents>> {
           return std::vector<mcp::ResourceContents>{
               {.uri = uri, .mime_type = "text/plain", .text = "bench", .raw = {}}};
         }});
  return r;
}

bool parse_size(const char* s, std::size_t& out) {
  const std::string v = s;
  if (v.empty() || v.size() > 12 || v.find_first_not_of("0123456789") != std::string::npos) return false;
  out = std::stoull(v);
  return true;
}

int usage(std::ostream& out, int status) {
  out << "usage: bench_server [--port PORT] [--io-threads N] [--handler-threads N] [--stateless]\n"
         "                    [--session-idle-ms MS] [--max-sessions N] [--json-response] [--notify-tool]\n"
         "                    [--inline-tools] [--pooled-tools] [--takeover-ms MS]\n";
  return status;
}

}  // namespace

int main(int argc, char** argv) {
  long port = -1;
  std::size_t io_threads = 1, handler_threads = 4, idle_ms = 30 * 60 * 1000, max_sessions = 10000, takeover_ms = 2;
  bool pooled_tools = false;
  bool stateless = false, json_response = false, notify_tool = false;
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    std::size_t v = 0;
    const bool has_value = i + 1 < argc;
    if (arg == "-h" || arg == "--help") return usage(std::cout, 0);
    if (arg == "--stateless") {
      stateless = true;
    } else if (arg == "--json-response") {
      json_response = true;
    } else if (arg == "--notify-tool") {
      notify_tool = true;
    } else if (arg == "--inline-tools") {
      inline_tools = true;
    } else if (arg == "--pooled-tools") {
      pooled_tools = true;
    } else if (has_value && parse_size(argv[i + 1], v) &&
               (arg == "--port" || arg == "--io-threads" || arg == "--handler-threads" || arg == "--session-idle-ms" ||
                arg == "--max-sessions" || arg == "--takeover-ms")) {
      ++i;
      if (arg == "--port") port = v <= 65535 ? static_cast<long>(v) : -2;
      if (arg == "--io-threads") io_threads = v;
      if (arg == "--handler-threads") handler_threads = v;
      if (arg == "--session-idle-ms") idle_ms = v;
      if (arg == "--max-sessions") max_sessions = v;
      if (arg == "--takeover-ms") takeover_ms = v;
      if (port == -2 || io_threads == 0 || handler_threads == 0) return usage(std::cerr, 2);
    } else {
      std::cerr << "bench_server: unexpected argument '" << arg << "'\n";
      return usage(std::cerr, 2);
    }
  }
  mcp::Server server({.identity = {.name = "bench-cpp-server", .version = mcp::version_string},
                      .handler_threads = handler_threads,
                      .handlers_on_io_threads = !pooled_tools,
                      .io_handler_takeover = std::chrono::milliseconds(takeover_ms),
                      .server_info_in_results = false});
  if (auto added = add_tools(server, notify_tool); !added) {
    std::cerr << "bench_server: " << added.error().message << "\n";
    return 1;
  }
  if (port >= 0) {
    mcp::HttpHost host(server, {.port = static_cast<unsigned short>(port),
                                .io_threads = io_threads,
                                .legacy_sessions = !stateless,
                                .json_response = json_response,
                                .session_idle_timeout = std::chrono::milliseconds(idle_ms),
                                .max_sessions = max_sessions});
    auto bound = host.start();
    if (!bound) {
      std::cerr << "bench_server: " << bound.error().message << "\n";
      return 1;
    }
    std::cout << "PORT " << *bound << std::endl;
    for (std::string line; std::getline(std::cin, line);) {}  // until stdin ends
    host.stop();
    return 0;
  }
  auto served = server.serve_stdio();
  if (!served) {
    std::cerr << "bench_server: " << served.error().message << "\n";
    return 1;
  }
  return 0;
}
