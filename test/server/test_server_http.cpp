// mcp::HttpHost: an mcp::Server served over Streamable HTTP in this process, on 127.0.0.1,
// driven by our client in each era and by raw HTTP for what a client library never sends.
#include "../integration/helpers.hpp"

#include <mcp/client.hpp>
#include <mcp/server.hpp>
#include <mcp/server_http.hpp>

#include <doctest/doctest.h>
#include <nlohmann/json.hpp>

#include <netinet/tcp.h>
#include <poll.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <atomic>
#include <condition_variable>
#include <set>
#include <future>
#include <map>
#include <thread>

using namespace std::chrono_literals;
using nlohmann::json;

namespace {

mcp::CallToolResult text(std::string t, std::optional<json> structured = std::nullopt) {
  return mcp::text_result(std::move(t), std::move(structured));
}

json object_schema(json properties, std::vector<std::string> required) {
  json s{{"type", "object"}, {"properties", std::move(properties)}};
  if (!required.empty()) s["required"] = std::move(required);
  return s;
}

// A server with the tools of test/servers/tool_server.cpp that these tests need, and its host.
struct Hosted {
  std::atomic<int> cancelled{0};
  std::atomic<int> running{0};
  std::atomic<int> asking{0};      // "ask" handlers waiting for the client
  std::atomic<int> ask_error{0};   // the Errc of the last "ask" that failed
  mcp::Server server;
  mcp::HttpHost host;
  unsigned short port = 0;

  explicit Hosted(mcp::HttpServerOptions opt = {}, std::size_t handler_threads = 4,
                  std::chrono::milliseconds client_request_timeout = 60s)
      : server({.identity = {.name = "http-tool-server", .version = "2.0.0", .instructions = "HTTP tests."},
                .handler_threads = handler_threads,
                .client_request_timeout = client_request_timeout}),
        host(server, std::move(opt)) {
    add_tools();
    auto p = host.start();
    REQUIRE_MESSAGE(p, (p ? "" : p.error().message));
    port = *p;
  }
  std::string url() const { return "http://127.0.0.1:" + std::to_string(port) + "/mcp"; }

  void add_tools() {
    auto must = [](mcp::Result<void> r) { REQUIRE_MESSAGE(r, (r ? "" : r.error().message)); };
    must(server.add_tool({.name = "echo",
                          .input_schema = object_schema({{"text", {{"type", "string"}}}}, {"text"}),
                          .handler = [](const json& a, mcp::RequestContext&) -> mcp::Result<mcp::CallToolResult> {
                            return text(a["text"].get<std::string>());
                          }}));
    must(server.add_tool({.name = "add",
                          .input_schema = object_schema({{"a", {{"type", "number"}}}, {"b", {{"type", "number"}}}}, {"a", "b"}),
                          .output_schema = object_schema({{"sum", {{"type", "number"}}}}, {"sum"}),
                          .handler = [](const json& a, mcp::RequestContext&) -> mcp::Result<mcp::CallToolResult> {
                            const double sum = a["a"].get<double>() + a["b"].get<double>();
                            return text(json(sum).dump(), json{{"sum", sum}});
                          }}));
    // Sleeps `ms` in small steps, reporting progress every 100 ms; stops early when cancelled.
    must(server.add_tool({.name = "sleep",
                          .input_schema = object_schema({{"ms", {{"type", "integer"}, {"minimum", 0}}}}, {"ms"}),
                          .handler = [this](const json& a, mcp::RequestContext& ctx) -> mcp::Result<mcp::CallToolResult> {
                            ++running;
                            const int ms = a["ms"].get<int>();
                            const auto until = std::chrono::steady_clock::now() + std::chrono::milliseconds(ms);
                            int step = 0;
                            while (std::chrono::steady_clock::now() < until) {
                              if (ctx.cancelled()) {
                                ++cancelled;
                                --running;
                                return text("cancelled");
                              }
                              std::this_thread::sleep_for(10ms);
                              if (++step % 10 == 0) (void)ctx.progress(step * 10, ms);
                            }
                            --running;
                            return text(std::to_string(ms));
                          }}));
    // Sends large progress notifications as fast as it can until cancelled (or 20 s).
    must(server.add_tool({.name = "flood",
                          .handler = [this](const json&, mcp::RequestContext& ctx) -> mcp::Result<mcp::CallToolResult> {
                            const std::string pad(16 * 1024, 'p');
                            const auto until = std::chrono::steady_clock::now() + 20s;
                            for (int i = 1; std::chrono::steady_clock::now() < until; ++i) {
                              if (ctx.cancelled()) {
                                ++cancelled;
                                return text("cancelled");
                              }
                              (void)ctx.progress(i, std::nullopt, pad);
                              if (i % 64 == 0) std::this_thread::sleep_for(1ms);
                            }
                            return text("flooded");
                          }}));
    // Asks the client (elicitation, sampling or roots) and says what it answered, or the error.
    must(server.add_tool({.name = "ask",
                          .input_schema = object_schema({{"kind", {{"type", "string"}}}}, {"kind"}),
                          .handler = [this](const json& a, mcp::RequestContext& ctx) -> mcp::Result<mcp::CallToolResult> {
                            const auto kind = a["kind"].get<std::string>();
                            ++asking;
                            std::string out;
                            std::optional<mcp::Error> err;
                            if (kind == "elicit") {
                              mcp::ElicitRequest q;
                              q.message = "Your name?";
                              q.requested_schema = object_schema({{"name", {{"type", "string"}}}}, {"name"});
                              auto r = ctx.elicit(q);
                              if (r) out = r->action + " " + r->content.value("name", "");
                              else err = r.error();
                            } else if (kind == "sample") {
                              auto r = ctx.sample({{"messages", json::array({{{"role", "user"}, {"content", {{"type", "text"}, {"text", "hi"}}}}})},
                                                   {"maxTokens", 10}});
                              if (r) out = (*r)["content"].value("text", "");
                              else err = r.error();
                            } else {
                              auto r = ctx.roots();
                              if (r) {
                                for (const auto& root : *r) out += root.uri + " ";
                              } else {
                                err = r.error();
                              }
                            }
                            --asking;
                            if (err) {
                              ask_error = err->code.value();
                              return mcp::error_result("error " + std::to_string(err->code.value()) + ": " + err->message);
                            }
                            return text(out);
                          }}));
    must(server.add_tool({.name = "whoami",
                          .input_schema = object_schema({{"level", {{"type", "string"}}}}, {}),
                          .handler = [](const json& a, mcp::RequestContext& ctx) -> mcp::Result<mcp::CallToolResult> {
                            if (a.contains("level")) {
                              if (auto r = ctx.log(a["level"].get<std::string>(), "hello from whoami", "tests"); !r)
                                return mcp::fail(r.error());
                            }
                            return text(std::string(mcp::to_string(ctx.era())) + " " + ctx.protocol_version() + " " +
                                        ctx.client_info().name);
                          }}));
  }
};

mcp::ServerConfig http_server(const std::string& url, mcp::Era era, std::optional<std::string> version = std::nullopt) {
  mcp::HttpServerConfig h;
  h.url = url;
  h.transport = mcp::HttpTransportKind::streamable_http;
  mcp::ServerConfig sc;
  sc.transport = std::move(h);
  sc.era = era;
  sc.protocol_version = std::move(version);
  return sc;
}

struct Case {
  const char* name;
  mcp::Era era;
  std::optional<std::string> version;
  mcp::Era expect_era;
  const char* expect_version;
};
const Case kCases[] = {{"modern", mcp::Era::modern, std::nullopt, mcp::Era::modern, "2026-07-28"},
                       {"legacy 2025-11-25", mcp::Era::legacy, std::nullopt, mcp::Era::legacy, "2025-11-25"},
                       {"auto-detected", mcp::Era::unknown, std::nullopt, mcp::Era::modern, "2026-07-28"}};

// ------------------------------------------------------------------ raw HTTP

struct RawResponse {
  int status = 0;
  std::map<std::string, std::string> headers;  // names lowercased
  std::string body;                            // de-chunked
  bool complete = false;
  std::string header(const std::string& name) const {
    auto it = headers.find(name);
    return it == headers.end() ? "" : it->second;
  }
  json body_json() const {
    return json::parse(body, nullptr, false);
  }
  // The `data` of each SSE event.
  std::vector<json> events() const {
    std::vector<json> out;
    std::size_t pos = 0;
    while ((pos = body.find("data: ", pos)) != std::string::npos) {
      const auto end = body.find('\n', pos);
      out.push_back(json::parse(body.substr(pos + 6, end - pos - 6), nullptr, false));
      pos = end;
    }
    return out;
  }
};

std::string lower(std::string s) {
  for (auto& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

// One client TCP connection, blocking with poll timeouts.
struct RawConn {
  int fd = -1;
  std::string in;
  explicit RawConn(unsigned short port) {
    fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    REQUIRE(fd >= 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_port = htons(port);
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    REQUIRE(::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0);
  }
  ~RawConn() { close(); }
  void close() {
    if (fd >= 0) ::close(fd);
    fd = -1;
  }
  bool send(const std::string& data) {
    std::size_t off = 0;
    while (off < data.size()) {
      const ssize_t n = ::send(fd, data.data() + off, data.size() - off, MSG_NOSIGNAL);
      if (n <= 0) return false;
      off += static_cast<std::size_t>(n);
    }
    return true;
  }
  // More bytes into `in`; false on EOF, error or timeout.
  bool fill(std::chrono::steady_clock::time_point until) {
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(until - std::chrono::steady_clock::now()).count();
    pollfd p{fd, POLLIN, 0};
    if (left <= 0 || ::poll(&p, 1, static_cast<int>(left)) <= 0) return false;
    char buf[65536];
    const ssize_t n = ::recv(fd, buf, sizeof buf, 0);
    if (n <= 0) return false;
    in.append(buf, static_cast<std::size_t>(n));
    return true;
  }
  // The next response (status 0 if none within `ms`).
  RawResponse read(int ms = 5000) {
    const auto until = std::chrono::steady_clock::now() + std::chrono::milliseconds(ms);
    RawResponse r;
    std::size_t end;
    while ((end = in.find("\r\n\r\n")) == std::string::npos)
      if (!fill(until)) return r;
    const std::string head = in.substr(0, end);
    in.erase(0, end + 4);
    std::size_t line_end = head.find("\r\n");
    r.status = std::stoi(head.substr(9, 3));
    while (line_end != std::string::npos) {
      const auto next = head.find("\r\n", line_end + 2);
      const std::string line = head.substr(line_end + 2, next == std::string::npos ? std::string::npos : next - line_end - 2);
      const auto colon = line.find(':');
      if (colon != std::string::npos) {
        std::string v = line.substr(colon + 1);
        while (!v.empty() && v.front() == ' ') v.erase(0, 1);
        r.headers[lower(line.substr(0, colon))] = v;
      }
      line_end = next;
    }
    if (r.headers.count("content-length")) {
      const std::size_t n = std::stoul(r.headers["content-length"]);
      while (in.size() < n)
        if (!fill(until)) return r;
      r.body = in.substr(0, n);
      in.erase(0, n);
      r.complete = true;
    } else if (lower(r.header("transfer-encoding")) == "chunked") {
      for (;;) {
        std::size_t crlf;
        while ((crlf = in.find("\r\n")) == std::string::npos)
          if (!fill(until)) return r;
        const std::size_t size = std::stoul(in.substr(0, crlf), nullptr, 16);
        while (in.size() < crlf + 2 + size + 2)
          if (!fill(until)) return r;
        r.body += in.substr(crlf + 2, size);
        in.erase(0, crlf + 2 + size + 2);
        if (size == 0) break;
      }
      r.complete = true;
    } else {
      while (fill(until)) {
      }
      r.body = std::move(in);
      in.clear();
    }
    return r;
  }
  RawResponse request(const std::string& method, const std::string& body, const std::map<std::string, std::string>& headers,
                      const std::string& target = "/mcp", int ms = 5000) {
    if (!send_request(method, body, headers, target)) return {};
    return read(ms);
  }
  // Sends a request without reading its response.
  bool send_request(const std::string& method, const std::string& body, const std::map<std::string, std::string>& headers,
                    const std::string& target = "/mcp") {
    std::string req = method + " " + target + " HTTP/1.1\r\n";
    std::map<std::string, std::string> h{{"Host", "127.0.0.1"}};
    if (method == "POST") {
      h["Content-Type"] = "application/json";
      h["Accept"] = "application/json, text/event-stream";
    }
    for (const auto& [k, v] : headers) h[k] = v;
    for (const auto& [k, v] : h)
      if (!v.empty() || k.rfind("X-", 0) == 0) req += k + ": " + v + "\r\n";
    req += "Content-Length: " + std::to_string(body.size()) + "\r\n\r\n" + body;
    return send(req);
  }
  // Reads until the input holds `what` (false if it does not within `ms`).
  bool read_until(const std::string& what, int ms = 5000) {
    const auto until = std::chrono::steady_clock::now() + std::chrono::milliseconds(ms);
    while (in.find(what) == std::string::npos)
      if (!fill(until)) return in.find(what) != std::string::npos;
    return true;
  }
  // Reads until the server closes the connection (false if it does not within `ms`).
  bool read_to_eof(int ms = 5000) {
    const auto until = std::chrono::steady_clock::now() + std::chrono::milliseconds(ms);
    pollfd p{fd, POLLIN, 0};
    for (;;) {
      const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(until - std::chrono::steady_clock::now()).count();
      if (left <= 0 || ::poll(&p, 1, static_cast<int>(left)) <= 0) return false;
      char buf[65536];
      const ssize_t n = ::recv(fd, buf, sizeof buf, 0);
      if (n <= 0) return true;
      in.append(buf, static_cast<std::size_t>(n));
    }
  }
};

// An SSE event read raw: its id ("" without one) and its data as JSON.
struct RawEvent {
  std::string id;
  json data;
};
// The events in a raw (chunked) stream, in order; priming events (no data) included.
std::vector<RawEvent> raw_events(const std::string& in) {
  std::vector<RawEvent> out;
  std::size_t pos = 0;
  while (true) {
    const auto end = in.find("\n\n", pos);
    if (end == std::string::npos) break;
    std::string block = in.substr(pos, end - pos);
    pos = end + 2;
    RawEvent ev;
    bool any = false;
    std::size_t line_start = 0;
    while (line_start < block.size()) {
      auto nl = block.find('\n', line_start);
      if (nl == std::string::npos) nl = block.size();
      std::string line = block.substr(line_start, nl - line_start);
      line_start = nl + 1;
      if (const auto crlf = line.rfind("\r\n"); crlf != std::string::npos) line = line.substr(crlf + 2);  // after a chunk size
      if (line.rfind("id: ", 0) == 0) {
        ev.id = line.substr(4);
        any = true;
      } else if (line.rfind("data:", 0) == 0) {
        any = true;
        if (line.size() > 6) ev.data = json::parse(line.substr(6), nullptr, false);
      }
    }
    if (any) out.push_back(std::move(ev));
  }
  return out;
}
// The first event whose data has `method` (a request or notification), or is the answer to `id`.
std::optional<RawEvent> event_with(const std::string& in, const std::string& method, const json& id = nullptr) {
  for (auto& ev : raw_events(in))
    if (ev.data.is_object() && ((!method.empty() && ev.data.value("method", "") == method) ||
                                (method.empty() && ev.data.contains("id") && ev.data["id"] == id && !ev.data.contains("method"))))
      return ev;
  return std::nullopt;
}

const json kMeta{{"io.modelcontextprotocol/protocolVersion", "2026-07-28"},
                 {"io.modelcontextprotocol/clientCapabilities", json::object()}};

json modern_request(int id, const std::string& method, json params = json::object()) {
  params["_meta"].update(kMeta);
  return {{"jsonrpc", "2.0"}, {"id", id}, {"method", method}, {"params", std::move(params)}};
}

std::map<std::string, std::string> modern_headers(const json& request) {
  std::map<std::string, std::string> h{{"MCP-Protocol-Version", "2026-07-28"}, {"Mcp-Method", request["method"]}};
  if (request["params"].contains("name")) h["Mcp-Name"] = request["params"]["name"];
  return h;
}

RawResponse post(unsigned short port, const json& body, std::map<std::string, std::string> headers = {}) {
  RawConn c(port);
  return c.request("POST", body.dump(), headers);
}

RawResponse post_modern(unsigned short port, const json& body, std::map<std::string, std::string> overrides = {}) {
  auto h = modern_headers(body);
  for (auto& [k, v] : overrides) h[k] = v;
  RawConn c(port);
  return c.request("POST", body.dump(), h);
}

// A whole modern POST as raw bytes, for tests that send it on a connection and read later.
std::string modern_post_text(const json& req) {
  std::string text = "POST /mcp HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nAccept: application/json, text/event-stream\r\n";
  for (auto& [k, v] : modern_headers(req)) text += k + ": " + v + "\r\n";
  const auto body = req.dump();
  return text + "Content-Length: " + std::to_string(body.size()) + "\r\n\r\n" + body;
}

std::size_t thread_count() { return testutil::list_dir("/proc/self/task").size(); }

// A legacy session opened by raw initialize: its id.
std::string open_session(unsigned short port, const std::string& version = "2025-11-25", json caps = json::object()) {
  auto r = post(port, {{"jsonrpc", "2.0"},
                       {"id", 1},
                       {"method", "initialize"},
                       {"params", {{"protocolVersion", version}, {"capabilities", std::move(caps)}, {"clientInfo", {{"name", "raw"}, {"version", "0"}}}}}});
  REQUIRE(r.status == 200);
  REQUIRE(r.body_json()["result"]["protocolVersion"] == version);
  return r.header("mcp-session-id");
}

}  // namespace

TEST_CASE("server over HTTP: our client in each era lists and calls tools") {
  Hosted h;
  for (const auto& c : kCases) {
    CAPTURE(c.name);
    auto cfg = testutil::one("s", http_server(h.url(), c.era, c.version));
    cfg.client_info.name = "http-test";
    auto client = mcp::Client::create(std::move(cfg));
    REQUIRE(client);
    auto info = client->server_info("s");
    REQUIRE_MESSAGE(info, (info ? "" : info.error().message));
    CHECK(info->era == c.expect_era);
    CHECK(info->protocol_version == c.expect_version);
    CHECK(info->implementation.name == "http-tool-server");
    CHECK(info->instructions.value_or("") == "HTTP tests.");

    auto tools = client->list_tools();
    REQUIRE(tools);
    CHECK(tools->count("s_echo"));
    CHECK(tools->count("s_sleep"));

    auto echo = client->call_tool("s", "echo", {{"text", "hi there"}});
    REQUIRE(echo);
    CHECK(echo->text() == "hi there");
    auto add = client->call_tool("s", "add", {{"a", 2}, {"b", 3.5}});
    REQUIRE(add);
    REQUIRE(add->structured_content);
    CHECK((*add->structured_content)["sum"] == 5.5);
    auto unknown = client->call_tool("s", "nope", json::object());
    REQUIRE_FALSE(unknown);
    CHECK(unknown.error().rpc_code == -32602);
    auto who = client->call_tool("s", "whoami", json::object());
    REQUIRE(who);
    CHECK(who->text() == std::string(mcp::to_string(c.expect_era)) + " " + c.expect_version + " http-test");
    client->disconnect();
  }
  // The legacy client ended its session with DELETE.
  CHECK(testutil::eventually([&] { return h.host.session_count() == 0; }));
}

TEST_CASE("server over HTTP: progress and logs stream on the request's response; timeouts cancel the handler") {
  Hosted h;
  for (const auto& c : kCases) {
    CAPTURE(c.name);
    std::mutex m;
    std::vector<mcp::LogMessage> logs;
    auto cfg = testutil::one("s", http_server(h.url(), c.era, c.version));
    cfg.log_level = "info";
    cfg.handlers.on_log = [&](const std::string&, const mcp::LogMessage& msg) {
      std::lock_guard lk(m);
      logs.push_back(msg);
    };
    auto client = mcp::Client::create(std::move(cfg));
    REQUIRE(client);
    std::vector<double> progress;
    mcp::RequestOptions ro;
    ro.on_progress = [&](const mcp::Progress& p) { progress.push_back(p.progress); };
    auto r = client->call_tool("s", "sleep", {{"ms", 350}}, ro);
    REQUIRE(r);
    CHECK(r->text() == "350");
    CHECK(progress.size() >= 2);
    CHECK(std::is_sorted(progress.begin(), progress.end()));

    REQUIRE(client->call_tool("s", "whoami", {{"level", "debug"}}));  // below "info": not sent
    REQUIRE(client->call_tool("s", "whoami", {{"level", "warning"}}));
    CHECK(testutil::eventually([&] {
      std::lock_guard lk(m);
      return !logs.empty();
    }));
    {
      std::lock_guard lk(m);
      REQUIRE(logs.size() == 1);
      CHECK(logs[0].level == "warning");
      CHECK(logs[0].data == "hello from whoami");
    }

    // A call given up (timeout) is cancelled at the server: modern by closing the stream,
    // legacy by notifications/cancelled in the session.
    const int before = h.cancelled;
    mcp::RequestOptions quick;
    quick.timeout = 300ms;
    auto cancelled = client->call_tool("s", "sleep", {{"ms", 5000}}, quick);
    REQUIRE_FALSE(cancelled);
    CHECK(cancelled.error().errc() == mcp::Errc::timeout);
    CHECK(testutil::eventually([&] { return h.cancelled == before + 1; }));
    client->disconnect();
  }
}

TEST_CASE("server over HTTP: a slow tool does not delay another POST") {
  Hosted h;
  for (const auto& c : kCases) {
    CAPTURE(c.name);
    auto client = mcp::Client::create(testutil::one("s", http_server(h.url(), c.era, c.version)));
    REQUIRE(client);
    REQUIRE(client->call_tool("s", "echo", {{"text", "warm"}}));
    auto slow = std::async(std::launch::async, [&] { return client->call_tool("s", "sleep", {{"ms", 1500}}); });
    std::this_thread::sleep_for(100ms);
    const auto t0 = std::chrono::steady_clock::now();
    auto quick = client->call_tool("s", "echo", {{"text", "quick"}});
    REQUIRE(quick);
    CHECK(testutil::ms_since(t0) < 1000);
    auto s = slow.get();
    REQUIRE(s);
    CHECK(s->text() == "1500");
    client->disconnect();
  }
}

TEST_CASE("server over HTTP: JSON answers, or an event stream when notifications come first") {
  Hosted h;
  auto plain = post_modern(h.port, modern_request(1, "tools/call", {{"name", "echo"}, {"arguments", {{"text", "x"}}}}));
  CHECK(plain.status == 200);
  CHECK(plain.header("content-type") == "application/json");
  CHECK(plain.body_json()["result"]["content"][0]["text"] == "x");
  CHECK(plain.body_json()["result"]["resultType"] == "complete");

  // With a progress token the sleep tool reports progress: the response becomes SSE, the
  // notifications first, the answer last.
  auto req = modern_request(2, "tools/call", {{"name", "sleep"}, {"arguments", {{"ms", 250}}}});
  req["params"]["_meta"]["progressToken"] = "p1";
  auto streamed = post_modern(h.port, req);
  CHECK(streamed.status == 200);
  CHECK(streamed.header("content-type") == "text/event-stream");
  CHECK(streamed.complete);
  auto events = streamed.events();
  REQUIRE(events.size() >= 2);
  CHECK(events.front()["method"] == "notifications/progress");
  CHECK(events.front()["params"]["progressToken"] == "p1");
  CHECK(events.back()["id"] == 2);
  CHECK(events.back()["result"]["content"][0]["text"] == "250");

  // A client that accepts only JSON gets JSON, its notifications dropped.
  auto json_only = post_modern(h.port, req, {{"Accept", "application/json"}});
  CHECK(json_only.status == 200);
  CHECK(json_only.header("content-type") == "application/json");
  CHECK(json_only.body_json()["result"]["content"][0]["text"] == "250");

  // Keep-alive: several exchanges on one connection.
  RawConn conn(h.port);
  for (int i = 10; i < 13; ++i) {
    auto body = modern_request(i, "tools/list");
    auto r = conn.request("POST", body.dump(), modern_headers(body));
    CHECK(r.status == 200);
    CHECK(r.body_json()["id"] == i);
  }
}

TEST_CASE("server over HTTP: refusals before the protocol (Host, Origin, path, method, type, size, JSON)") {
  Hosted h({.max_body_bytes = 64 * 1024});
  const auto list = modern_request(1, "tools/list");
  const auto lh = modern_headers(list);
  auto with = [&](std::map<std::string, std::string> extra) {
    auto hh = lh;
    for (auto& [k, v] : extra) hh[k] = v;
    return hh;
  };
  RawConn ok_conn(h.port);
  CHECK(ok_conn.request("POST", list.dump(), with({{"Host", "localhost:1234"}})).status == 200);
  CHECK(ok_conn.request("POST", list.dump(), with({{"Host", "[::1]"}})).status == 200);
  CHECK(ok_conn.request("POST", list.dump(), with({{"Origin", "http://localhost:3000"}})).status == 200);

  auto bad_host = RawConn(h.port).request("POST", list.dump(), with({{"Host", "evil.example.com"}, {"Origin", "http://evil.example.com"}}));
  CHECK(bad_host.status == 403);
  CHECK(bad_host.body_json()["error"]["code"] == -32600);
  CHECK(RawConn(h.port).request("POST", list.dump(), with({{"Origin", "http://evil.example.com"}})).status == 403);
  CHECK(RawConn(h.port).request("POST", list.dump(), with({{"Origin", "null"}})).status == 403);
  CHECK(RawConn(h.port).request("GET", "", {{"Host", "evil.example.com"}}).status == 403);
  CHECK(RawConn(h.port).request("POST", list.dump(), lh, "/other").status == 404);
  auto put = RawConn(h.port).request("PUT", list.dump(), lh);
  CHECK(put.status == 405);
  CHECK(put.header("allow").find("POST") != std::string::npos);
  CHECK(RawConn(h.port).request("POST", list.dump(), with({{"Content-Type", "text/plain"}})).status == 415);
  CHECK(RawConn(h.port).request("POST", list.dump(), with({{"Accept", "text/html"}})).status == 406);

  auto garbage = RawConn(h.port).request("POST", "{not json", lh);
  CHECK(garbage.status == 400);
  CHECK(garbage.body_json()["error"]["code"] == -32700);
  CHECK(garbage.body_json()["id"].is_null());
  auto batch = RawConn(h.port).request("POST", "[" + list.dump() + "]", lh);
  CHECK(batch.status == 400);
  CHECK(batch.body_json()["error"]["code"] == -32600);
  CHECK(RawConn(h.port).request("POST", R"({"jsonrpc":"1.0","id":1,"method":"tools/list"})", lh).status == 400);
  CHECK(RawConn(h.port).request("POST", std::string(300, '[') + std::string(300, ']'), lh).body_json()["error"]["code"] == -32700);

  // Over the body limit: 413 as soon as the headers say so, and the connection ends.
  RawConn big(h.port);
  REQUIRE(big.send("POST /mcp HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: 1000000\r\n\r\n{\"jsonrpc\""));
  auto too_big = big.read();
  CHECK(too_big.status == 413);
  CHECK(too_big.header("connection") == "close");
  // ... and when the body is chunked (no length up front).
  RawConn big2(h.port);
  REQUIRE(big2.send("POST /mcp HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n"));
  const std::string piece(16 * 1024, ' ');
  for (int i = 0; i < 6; ++i) (void)big2.send("4000\r\n" + piece + "\r\n");
  CHECK(big2.read().status == 413);
  // The host still serves.
  CHECK(post_modern(h.port, list).status == 200);
}

TEST_CASE("server over HTTP: configured Host and Origin lists replace the loopback defaults") {
  Hosted h({.allowed_hosts = {"mcp.example.com", "api.example.com:8443"}, .allowed_origins = {"https://app.example.com"}});
  const auto list = modern_request(1, "tools/list");
  auto status = [&](std::map<std::string, std::string> extra) {
    auto hh = modern_headers(list);
    for (auto& [k, v] : extra) hh[k] = v;
    return RawConn(h.port).request("POST", list.dump(), hh).status;
  };
  CHECK(status({{"Host", "MCP.example.com"}}) == 200);  // case-insensitive, any port
  CHECK(status({{"Host", "mcp.example.com:9"}}) == 200);
  CHECK(status({{"Host", "api.example.com:8443"}}) == 200);
  CHECK(status({{"Host", "api.example.com:8444"}}) == 403);
  CHECK(status({{"Host", "127.0.0.1"}}) == 403);  // the list replaces the defaults
  CHECK(status({{"Host", "mcp.example.com"}, {"Origin", "https://app.example.com"}}) == 200);
  CHECK(status({{"Host", "mcp.example.com"}, {"Origin", "http://localhost:3000"}}) == 403);
}

TEST_CASE("server over HTTP: the modern pipeline's header checks (SERVER-SPEC 1.4)") {
  Hosted h;
  const auto call = modern_request(7, "tools/call", {{"name", "echo"}, {"arguments", {{"text", "hi"}}}});
  auto expect = [](const RawResponse& r, int status, int code) {
    CHECK(r.status == status);
    CHECK(r.body_json()["error"]["code"] == code);
    CHECK(r.body_json()["id"] == 7);
  };
  CHECK(post_modern(h.port, call).status == 200);
  // MCP-Protocol-Version: required, equal to the body's.
  expect(post_modern(h.port, call, {{"MCP-Protocol-Version", ""}}), 400, -32020);
  {
    auto req = call;
    req["params"]["_meta"]["io.modelcontextprotocol/protocolVersion"] = "v999.0.0";
    expect(post_modern(h.port, req), 400, -32020);  // header 2026-07-28, body v999
    expect(post_modern(h.port, req, {{"MCP-Protocol-Version", "v999.0.0"}}), 400, -32022);
    auto r = post_modern(h.port, req, {{"MCP-Protocol-Version", "v999.0.0"}});
    CHECK(r.body_json()["error"]["data"]["requested"] == "v999.0.0");
  }
  // Mcp-Method: required, case-sensitive; Mcp-Name: required, trimmed, base64 sentinel decoded.
  expect(post_modern(h.port, call, {{"Mcp-Method", ""}}), 400, -32020);
  expect(post_modern(h.port, call, {{"Mcp-Method", "TOOLS/CALL"}}), 400, -32020);
  expect(post_modern(h.port, call, {{"Mcp-Name", ""}}), 400, -32020);
  expect(post_modern(h.port, call, {{"Mcp-Name", "add"}}), 400, -32020);
  CHECK(post_modern(h.port, call, {{"Mcp-Name", "  echo  "}}).status == 200);
  CHECK(post_modern(h.port, call, {{"Mcp-Name", "=?base64?ZWNobw==?="}}).status == 200);  // "echo"
  expect(post_modern(h.port, call, {{"Mcp-Name", "=?base64?ZWNobw?="}}), 400, -32020);   // bad padding
  expect(post_modern(h.port, call, {{"Mcp-Name", "=?base64?ZW*obw==?="}}), 400, -32020);
  // The required _meta: -32602 with 400.
  {
    auto req = call;
    req["params"]["_meta"].erase("io.modelcontextprotocol/clientCapabilities");
    expect(post_modern(h.port, req), 400, -32602);
  }
  // What 2026-07-28 does not have: 404 with -32601.
  for (const char* gone : {"initialize", "ping", "logging/setLevel", "no/such"}) {
    CAPTURE(gone);
    auto req = modern_request(7, gone);
    expect(post_modern(h.port, req), 404, -32601);
  }
  // Other JSON-RPC errors keep 200.
  auto unknown_tool = modern_request(7, "tools/call", {{"name", "nope"}});
  expect(post_modern(h.port, unknown_tool), 200, -32602);
  // Notifications: 202, no body; responses: not from modern clients.
  auto note = post_modern(h.port, {{"jsonrpc", "2.0"}, {"method", "notifications/cancelled"}, {"params", {{"requestId", 1}}}},
                          {{"MCP-Protocol-Version", "2026-07-28"}});
  CHECK(note.status == 202);
  CHECK(note.body.empty());
  CHECK(post(h.port, {{"jsonrpc", "2.0"}, {"id", 3}, {"result", json::object()}}, {{"MCP-Protocol-Version", "2026-07-28"}}).status == 400);
  // GET and DELETE have nothing to offer a modern client; a session id on a modern request is
  // ignored, never echoed.
  CHECK(RawConn(h.port).request("GET", "", {{"Accept", "text/event-stream"}, {"MCP-Protocol-Version", "2026-07-28"}}).status == 405);
  CHECK(RawConn(h.port).request("GET", "", {{"Accept", "text/event-stream"}}).status == 405);
  CHECK(RawConn(h.port).request("DELETE", "", {}).status == 405);
  auto with_sid = post_modern(h.port, call, {{"Mcp-Session-Id", "whatever"}});
  CHECK(with_sid.status == 200);
  CHECK(with_sid.header("mcp-session-id").empty());
}

TEST_CASE("server over HTTP: legacy sessions (initialize, Mcp-Session-Id, version header, GET stream, DELETE, expiry)") {
  Hosted h({.session_idle_timeout = 400ms});
  const std::string sid = open_session(h.port);
  CHECK(sid.size() >= 32);
  CHECK(std::all_of(sid.begin(), sid.end(), [](char c) { return c >= 0x21 && c <= 0x7e; }));
  CHECK(h.host.session_count() == 1);
  const std::map<std::string, std::string> in_session{{"Mcp-Session-Id", sid}, {"MCP-Protocol-Version", "2025-11-25"}};
  CHECK(post(h.port, {{"jsonrpc", "2.0"}, {"method", "notifications/initialized"}}, in_session).status == 202);
  auto list = post(h.port, {{"jsonrpc", "2.0"}, {"id", 2}, {"method", "tools/list"}}, in_session);
  CHECK(list.status == 200);
  CHECK(list.body_json()["result"]["tools"].size() >= 5);
  CHECK_FALSE(list.body_json()["result"].contains("resultType"));

  // Without the session: 400; an unknown one: 404; a revision we do not support: 400; another
  // supported revision than negotiated: served (at the session's).
  CHECK(post(h.port, {{"jsonrpc", "2.0"}, {"id", 3}, {"method", "tools/list"}}).status == 400);
  CHECK(post(h.port, {{"jsonrpc", "2.0"}, {"id", 3}, {"method", "tools/list"}}, {{"MCP-Protocol-Version", "2025-11-25"}}).status == 400);
  CHECK(post(h.port, {{"jsonrpc", "2.0"}, {"id", 4}, {"method", "tools/list"}}, {{"Mcp-Session-Id", "nope"}}).status == 404);
  CHECK(post(h.port, {{"jsonrpc", "2.0"}, {"id", 5}, {"method", "tools/list"}},
             {{"Mcp-Session-Id", sid}, {"MCP-Protocol-Version", "1999-01-01"}}).status == 400);
  CHECK(post(h.port, {{"jsonrpc", "2.0"}, {"id", 6}, {"method", "tools/list"}},
             {{"Mcp-Session-Id", sid}, {"MCP-Protocol-Version", "2025-03-26"}}).status == 200);
  // notifications/cancelled stops the handler; the cancelled request's POST ends unanswered.
  {
    RawConn slow(h.port);
    const std::string body = json{{"jsonrpc", "2.0"}, {"id", "s1"}, {"method", "tools/call"},
                                  {"params", {{"name", "sleep"}, {"arguments", {{"ms", 10000}}}}}}.dump();
    REQUIRE(slow.send("POST /mcp HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nMcp-Session-Id: " + sid +
                      "\r\nContent-Length: " + std::to_string(body.size()) + "\r\n\r\n" + body));
    CHECK(testutil::eventually([&] { return h.running == 1; }));
    CHECK(post(h.port, {{"jsonrpc", "2.0"}, {"method", "notifications/cancelled"}, {"params", {{"requestId", "s1"}}}}, in_session).status == 202);
    CHECK(testutil::eventually([&] { return h.cancelled == 1; }));
    CHECK(slow.read(2000).status == 0);
  }
  // Pipelined requests on one connection are answered in order.
  {
    RawConn pipe(h.port);
    std::string both;
    for (int id : {20, 21}) {
      const std::string body = json{{"jsonrpc", "2.0"}, {"id", id}, {"method", "tools/call"},
                                    {"params", {{"name", "sleep"}, {"arguments", {{"ms", 50}}}}}}.dump();
      both += "POST /mcp HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nMcp-Session-Id: " + sid +
              "\r\nContent-Length: " + std::to_string(body.size()) + "\r\n\r\n" + body;
    }
    REQUIRE(pipe.send(both));
    auto first = pipe.read();
    INFO(first.status << " " << first.body);
    CHECK(first.body_json()["id"] == 20);
    CHECK(pipe.read().body_json()["id"] == 21);
  }
  // A POSTed response (to a server request) is accepted.
  CHECK(post(h.port, {{"jsonrpc", "2.0"}, {"id", 99}, {"result", json::object()}}, in_session).status == 202);

  // The standalone GET stream: SSE, kept open; a second one is refused.
  RawConn get(h.port);
  REQUIRE(get.send("GET /mcp HTTP/1.1\r\nHost: 127.0.0.1\r\nAccept: text/event-stream\r\nMcp-Session-Id: " + sid + "\r\n\r\n"));
  std::string head;
  CHECK(testutil::eventually([&] {
    get.fill(std::chrono::steady_clock::now() + 50ms);
    return get.in.find("\r\n\r\n") != std::string::npos;
  }));
  CHECK(get.in.rfind("HTTP/1.1 200", 0) == 0);
  CHECK(lower(get.in).find("content-type: text/event-stream") != std::string::npos);
  CHECK(RawConn(h.port).request("GET", "", {{"Accept", "text/event-stream"}, {"Mcp-Session-Id", sid}}).status == 409);
  CHECK(RawConn(h.port).request("GET", "", {{"Accept", "text/event-stream"}, {"Mcp-Session-Id", "nope"}}).status == 404);

  // An open stream keeps the session alive past its idle timeout.
  std::this_thread::sleep_for(900ms);
  CHECK(h.host.session_count() == 1);

  // DELETE ends it (and its stream): then 404.
  CHECK(RawConn(h.port).request("DELETE", "", {{"Mcp-Session-Id", sid}}).status == 200);
  CHECK(h.host.session_count() == 0);
  CHECK(post(h.port, {{"jsonrpc", "2.0"}, {"id", 6}, {"method", "tools/list"}}, in_session).status == 404);
  CHECK(RawConn(h.port).request("DELETE", "", {{"Mcp-Session-Id", sid}}).status == 404);
  CHECK(testutil::eventually([&] {
    get.fill(std::chrono::steady_clock::now() + 50ms);
    return get.in.find("0\r\n\r\n") != std::string::npos;
  }));

  // An idle session expires.
  const std::string sid2 = open_session(h.port, "2025-06-18");
  CHECK(h.host.session_count() == 1);
  CHECK(testutil::eventually([&] { return h.host.session_count() == 0; }, 3000));
  CHECK(post(h.port, {{"jsonrpc", "2.0"}, {"id", 7}, {"method", "tools/list"}}, {{"Mcp-Session-Id", sid2}}).status == 404);
}

TEST_CASE("server over HTTP: legacy without sessions, and in JSON-response mode") {
  {
    Hosted h({.legacy_sessions = false});
    auto init = post(h.port, {{"jsonrpc", "2.0"},
                              {"id", 1},
                              {"method", "initialize"},
                              {"params", {{"protocolVersion", "2025-06-18"}, {"capabilities", json::object()}, {"clientInfo", {{"name", "raw"}, {"version", "0"}}}}}});
    CHECK(init.status == 200);
    CHECK(init.header("mcp-session-id").empty());
    CHECK(init.body_json()["result"]["protocolVersion"] == "2025-06-18");
    auto who = post(h.port, {{"jsonrpc", "2.0"}, {"id", 2}, {"method", "tools/call"}, {"params", {{"name", "whoami"}}}},
                    {{"MCP-Protocol-Version", "2025-06-18"}});
    CHECK(who.body_json()["result"]["content"][0]["text"] == "legacy 2025-06-18 ");
    auto plain = post(h.port, {{"jsonrpc", "2.0"}, {"id", 3}, {"method", "tools/call"}, {"params", {{"name", "whoami"}}}});
    CHECK(plain.body_json()["result"]["content"][0]["text"] == "legacy 2025-03-26 ");
    CHECK(RawConn(h.port).request("GET", "", {{"Accept", "text/event-stream"}, {"Mcp-Session-Id", "x"}}).status == 405);
    CHECK(RawConn(h.port).request("DELETE", "", {{"Mcp-Session-Id", "x"}}).status == 405);
    // Our client works against it too.
    auto client = mcp::Client::create(testutil::one("s", http_server(h.url(), mcp::Era::legacy)));
    REQUIRE(client);
    auto echo = client->call_tool("s", "echo", {{"text", "stateless"}});
    REQUIRE(echo);
    CHECK(echo->text() == "stateless");
    client->disconnect();
  }
  {
    Hosted h({.json_response = true});
    const std::string sid = open_session(h.port);
    auto req = json{{"jsonrpc", "2.0"}, {"id", 2}, {"method", "tools/call"},
                    {"params", {{"name", "sleep"}, {"arguments", {{"ms", 250}}}, {"_meta", {{"progressToken", 1}}}}}};
    auto r = post(h.port, req, {{"Mcp-Session-Id", sid}});
    CHECK(r.status == 200);
    CHECK(r.header("content-type") == "application/json");
    CHECK(r.body_json()["result"]["content"][0]["text"] == "250");
  }
}

TEST_CASE("server over HTTP: a client that leaves mid-request cancels it; a slow reader loses its stream") {
  Hosted h;
  {
    RawConn c(h.port);
    auto req = modern_request(1, "tools/call", {{"name", "sleep"}, {"arguments", {{"ms", 10000}}}});
    auto hh = modern_headers(req);
    std::string text = "POST /mcp HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nAccept: application/json, text/event-stream\r\n";
    for (auto& [k, v] : hh) text += k + ": " + v + "\r\n";
    const auto body = req.dump();
    text += "Content-Length: " + std::to_string(body.size()) + "\r\n\r\n" + body;
    REQUIRE(c.send(text));
    CHECK(testutil::eventually([&] { return h.running == 1; }));
  }  // closed
  CHECK(testutil::eventually([&] { return h.cancelled == 1; }));

  // A client that never reads a stream of notifications: the host queues a bounded amount, then
  // drops the stream and the request is cancelled (no unbounded buffer, no stuck handler).
  {
    RawConn c(h.port);
    int size = 4096;  // a small receive buffer, so that the kernel holds little for us
    ::setsockopt(c.fd, SOL_SOCKET, SO_RCVBUF, &size, sizeof size);
    auto req = modern_request(2, "tools/call", {{"name", "flood"}});
    req["params"]["_meta"]["progressToken"] = "f";
    auto hh = modern_headers(req);
    std::string text = "POST /mcp HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nAccept: application/json, text/event-stream\r\n";
    for (auto& [k, v] : hh) text += k + ": " + v + "\r\n";
    const auto body = req.dump();
    text += "Content-Length: " + std::to_string(body.size()) + "\r\n\r\n" + body;
    REQUIRE(c.send(text));
    CHECK(testutil::eventually([&] { return h.cancelled == 2; }, 10000));
  }
  // Still serving.
  CHECK(post_modern(h.port, modern_request(3, "tools/list")).status == 200);
}

TEST_CASE("server over HTTP: 200 slow calls in flight at once on a bounded number of threads") {
  const std::size_t before = thread_count();
  Hosted h({.io_threads = 2}, 8);
  std::vector<std::unique_ptr<RawConn>> conns;
  for (int i = 0; i < 200; ++i) {
    auto req = modern_request(i, "tools/call", {{"name", "sleep"}, {"arguments", {{"ms", 50}}}});
    conns.push_back(std::make_unique<RawConn>(h.port));
    REQUIRE(conns.back()->send(modern_post_text(req)));
  }
  std::size_t peak = 0;
  for (int i = 0; i < 20; ++i) {
    peak = std::max(peak, thread_count());
    std::this_thread::sleep_for(10ms);
  }
  // 2 I/O threads, 8 handler threads, the watchdog and at most 8 I/O threads taken over (held by
  // a handler that ran long), whatever the number of requests.
  CHECK(peak <= before + 2 + 8 + 1 + 8);
  int answered = 0;
  for (int i = 0; i < 200; ++i) {
    auto r = conns[static_cast<std::size_t>(i)]->read(15000);
    if (r.status == 200 && r.body_json()["id"] == i && r.body_json()["result"]["content"][0]["text"] == "50") ++answered;
  }
  CHECK(answered == 200);
  CHECK(testutil::eventually([&] { return thread_count() <= before + 2 + 8 + 1; }));
}

TEST_CASE("server over HTTP: stop() with requests in flight ends cleanly (no leaked fds or threads)") {
  const std::size_t fds = testutil::open_fds();
  const std::size_t threads = thread_count();
  {
    Hosted h({.io_threads = 2});
    const std::string sid = open_session(h.port);
    RawConn get(h.port);
    REQUIRE(get.send("GET /mcp HTTP/1.1\r\nHost: 127.0.0.1\r\nAccept: text/event-stream\r\nMcp-Session-Id: " + sid + "\r\n\r\n"));
    std::vector<std::unique_ptr<RawConn>> conns;
    for (int i = 0; i < 6; ++i) {
      auto req = modern_request(i, "tools/call", {{"name", "sleep"}, {"arguments", {{"ms", 20000}}}});
      conns.push_back(std::make_unique<RawConn>(h.port));
      REQUIRE(conns.back()->send(modern_post_text(req)));
    }
    // The first calls start on the 2 I/O threads (then taken over), the rest on the 4 handler threads.
    CHECK(testutil::eventually([&] { return h.running >= 5; }));
    const auto t0 = std::chrono::steady_clock::now();
    h.host.stop();
    CHECK(testutil::ms_since(t0) < 3000);
    h.host.stop();  // idempotent
    // Every connection was closed by the host.
    for (auto& c : conns) CHECK(c->read(2000).status == 0);
    CHECK(testutil::eventually([&] { return h.running == 0; }));
    CHECK(h.cancelled >= 4);
    // New connections are refused.
    int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_port = htons(h.port);
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    CHECK(::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0);
    ::close(fd);
  }
  CHECK(testutil::eventually([&] { return testutil::open_fds() == fds && thread_count() == threads; }));
  CHECK(testutil::open_fds() == fds);
  CHECK(thread_count() == threads);
}

// ------------------------------------------------------------------ legacy: requests to the client, resumable streams

namespace {

mcp::ClientHandlers asking_handlers() {
  mcp::ClientHandlers hs;
  hs.elicitation = [](const std::string&, const mcp::ElicitRequest& r) -> mcp::Result<mcp::ElicitResult> {
    if (r.message != "Your name?") return mcp::fail(mcp::Errc::invalid_argument, "unexpected question");
    return mcp::ElicitResult{.action = "accept", .content = {{"name", "Ada"}}};
  };
  hs.sampling = [](const std::string&, const json& params) -> mcp::Result<json> {
    return json{{"role", "assistant"},
                {"content", {{"type", "text"}, {"text", "sampled " + params["messages"][0]["content"]["text"].get<std::string>()}}},
                {"model", "test"}};
  };
  hs.roots = [](const std::string&) {
    return std::vector<mcp::Root>{{.uri = "file:///a", .name = std::nullopt}, {.uri = "file:///b", .name = std::nullopt}};
  };
  return hs;
}

// A client of server "s" with those handlers.
std::optional<mcp::Client> asking_client(mcp::ServerConfig sc) {
  auto cfg = testutil::one("s", std::move(sc));
  cfg.handlers = asking_handlers();
  auto client = mcp::Client::create(std::move(cfg));
  REQUIRE_MESSAGE(client, (client ? "" : client.error().message));
  return std::move(*client);
}

// Calls `tool` on server "s" and checks the text it answers.
void check_call(mcp::Client& client, const std::string& tool, const json& args, const std::string& expected) {
  auto r = client.call_tool("s", tool, args);
  REQUIRE_MESSAGE(r, (r ? "" : r.error().message));
  CHECK(r->text() == expected);
}


json ask_call(const json& id, const std::string& kind) {
  return {{"jsonrpc", "2.0"}, {"id", id}, {"method", "tools/call"}, {"params", {{"name", "ask"}, {"arguments", {{"kind", kind}}}}}};
}

}  // namespace

TEST_CASE("server over HTTP: legacy handlers ask our client (elicitation, sampling, roots) on the POST's stream") {
  for (const bool polling : {false, true}) {
    CAPTURE(polling);
    mcp::HttpServerOptions opt;
    if (polling) opt.sse_poll_retry = 20ms;
    Hosted h(opt);
    for (const char* version : {"2025-11-25", "2025-06-18", "2025-03-26"}) {
      CAPTURE(version);
      auto client = asking_client(http_server(h.url(), mcp::Era::legacy, std::string(version)));
      if (std::string(version) != "2025-03-26")  // form elicitation came in 2025-06-18
        check_call(*client, "ask", {{"kind", "elicit"}}, "accept Ada");
      check_call(*client, "ask", {{"kind", "sample"}}, "sampled hi");
      check_call(*client, "ask", {{"kind", "roots"}}, "file:///a file:///b ");
      // Several at once, each on its own stream.
      std::vector<std::future<mcp::Result<mcp::CallToolResult>>> calls;
      for (int i = 0; i < 4; ++i)
        calls.push_back(std::async(std::launch::async, [&] { return client->call_tool("s", "ask", {{"kind", "sample"}}); }));
      for (auto& f : calls) {
        auto one = f.get();
        REQUIRE(one);
        CHECK(one->text() == "sampled hi");
      }
      client->disconnect();
    }
    CHECK(h.asking == 0);
  }
}

TEST_CASE("server over HTTP: a request to a legacy client ends with a typed error (timeout, session end, disconnect, no stream, stop)") {
  const json caps{{"elicitation", json::object()}, {"sampling", json::object()}, {"roots", json::object()}};
  SUBCASE("the client's answer by POST completes it; a late or unknown answer is accepted and ignored") {
    Hosted h;
    const std::string sid = open_session(h.port, "2025-11-25", caps);
    const std::map<std::string, std::string> in_session{{"Mcp-Session-Id", sid}, {"MCP-Protocol-Version", "2025-11-25"}};
    RawConn a(h.port);
    REQUIRE(a.send_request("POST", ask_call(7, "elicit").dump(), in_session));
    REQUIRE(a.read_until("elicitation/create"));
    auto events = raw_events(a.in);
    REQUIRE(events.size() >= 2);
    CHECK(events[0].data.is_null());  // the priming event: an id, no data
    CHECK_FALSE(events[0].id.empty());
    auto ask = event_with(a.in, "elicitation/create");
    REQUIRE(ask);
    CHECK_FALSE(ask->id.empty());
    CHECK(ask->id != events[0].id);
    CHECK(ask->data["params"]["message"] == "Your name?");
    const json answer{{"jsonrpc", "2.0"}, {"id", ask->data["id"]}, {"result", {{"action", "accept"}, {"content", {{"name", "Raw"}}}}}};
    CHECK(post(h.port, answer, in_session).status == 202);
    REQUIRE(a.read_until("accept Raw"));
    auto result = event_with(a.in, "", 7);
    REQUIRE(result);
    CHECK(result->data["result"]["content"][0]["text"] == "accept Raw");
    CHECK_FALSE(result->id.empty());
    CHECK(post(h.port, answer, in_session).status == 202);  // again: nobody waits for it
    CHECK(post(h.port, {{"jsonrpc", "2.0"}, {"id", 4242}, {"error", {{"code", -1}, {"message", "x"}}}}, in_session).status == 202);
  }
  SUBCASE("no answer within client_request_timeout") {
    Hosted h({}, 4, 300ms);
    const std::string sid = open_session(h.port, "2025-06-18", caps);
    const auto t0 = std::chrono::steady_clock::now();
    auto r = post(h.port, ask_call(1, "sample"), {{"Mcp-Session-Id", sid}});
    CHECK(testutil::ms_since(t0) < 3000);
    CHECK(r.status == 200);
    auto done = event_with(r.body, "", 1);
    REQUIRE(done);
    CHECK(done->data["result"]["isError"] == true);
    CHECK(h.ask_error == static_cast<int>(mcp::Errc::timeout));
  }
  SUBCASE("the session ends (DELETE) while it waits") {
    Hosted h;
    const std::string sid = open_session(h.port, "2025-11-25", caps);
    RawConn a(h.port);
    REQUIRE(a.send_request("POST", ask_call(1, "roots").dump(), {{"Mcp-Session-Id", sid}}));
    REQUIRE(a.read_until("roots/list"));
    const auto t0 = std::chrono::steady_clock::now();
    CHECK(RawConn(h.port).request("DELETE", "", {{"Mcp-Session-Id", sid}}).status == 200);
    CHECK(testutil::eventually([&] { return h.asking == 0; }));
    CHECK(testutil::ms_since(t0) < 2000);
    CHECK((h.ask_error == static_cast<int>(mcp::Errc::connection_closed) || h.ask_error == static_cast<int>(mcp::Errc::cancelled)));
  }
  SUBCASE("the client leaves the stream: at once without resumable streams") {
    Hosted h({.resumable_streams = false});
    const std::string sid = open_session(h.port, "2025-11-25", caps);
    {
      RawConn a(h.port);
      REQUIRE(a.send_request("POST", ask_call(1, "elicit").dump(), {{"Mcp-Session-Id", sid}}));
      REQUIRE(a.read_until("elicitation/create"));
      auto events = raw_events(a.in);
      REQUIRE(events.size() == 1);  // no priming event, no ids
      CHECK(events[0].id.empty());
    }
    CHECK(testutil::eventually([&] { return h.asking == 0; }));
    CHECK(h.ask_error == static_cast<int>(mcp::Errc::connection_closed));
  }
  SUBCASE("the client leaves the stream and resumes it with GET + Last-Event-ID") {
    Hosted h;
    const std::string sid = open_session(h.port, "2025-11-25", caps);
    std::optional<RawEvent> ask;
    {
      RawConn a(h.port);
      REQUIRE(a.send_request("POST", ask_call(1, "elicit").dump(), {{"Mcp-Session-Id", sid}}));
      REQUIRE(a.read_until("elicitation/create"));
      ask = event_with(a.in, "elicitation/create");
      REQUIRE(ask);
    }
    std::this_thread::sleep_for(100ms);
    CHECK(h.asking == 1);  // still waiting: the stream can be resumed
    // Resuming from the priming event replays the request.
    RawConn g(h.port);
    const std::string prime_id = ask->id.substr(0, ask->id.find('-')) + "-" +
                                 std::to_string(std::stoull(ask->id.substr(ask->id.find('-') + 1)) - 1);
    REQUIRE(g.send_request("GET", "", {{"Mcp-Session-Id", sid}, {"Accept", "text/event-stream"}, {"Last-Event-ID", prime_id}}));
    REQUIRE(g.read_until("elicitation/create"));
    CHECK(event_with(g.in, "elicitation/create")->id == ask->id);
    CHECK(post(h.port, {{"jsonrpc", "2.0"}, {"id", ask->data["id"]}, {"result", {{"action", "decline"}}}}, {{"Mcp-Session-Id", sid}}).status == 202);
    REQUIRE(g.read_until("0\r\n\r\n"));  // the answer, then the stream ends
    auto done = event_with(g.in, "", 1);
    REQUIRE(done);
    CHECK(done->data["result"]["content"][0]["text"] == "decline ");
    // The ended stream resumed again: its answer replayed, then its end.
    RawConn again(h.port);
    auto r = again.request("GET", "", {{"Mcp-Session-Id", sid}, {"Accept", "text/event-stream"}, {"Last-Event-ID", ask->id}});
    CHECK(r.status == 200);
    CHECK(r.complete);
    auto replayed = event_with(r.body, "", 1);
    REQUIRE(replayed);
    CHECK(replayed->id == done->id);
  }
  SUBCASE("a POST that takes JSON only: the GET stream carries it, else it fails at once") {
    Hosted h;
    const std::string sid = open_session(h.port, "2025-11-25", caps);
    const std::map<std::string, std::string> json_only{{"Mcp-Session-Id", sid}, {"Accept", "application/json"}};
    auto r = post(h.port, ask_call(1, "sample"), json_only);
    CHECK(r.header("content-type") == "application/json");
    CHECK(r.body_json()["result"]["isError"] == true);
    CHECK(h.ask_error == static_cast<int>(mcp::Errc::invalid_argument));
    RawConn g(h.port);
    REQUIRE(g.send_request("GET", "", {{"Mcp-Session-Id", sid}, {"Accept", "text/event-stream"}}));
    REQUIRE(g.read_until("\r\n\r\n"));
    RawConn a(h.port);
    REQUIRE(a.send_request("POST", ask_call(2, "sample").dump(), json_only));
    REQUIRE(g.read_until("sampling/createMessage"));
    auto ask = event_with(g.in, "sampling/createMessage");
    REQUIRE(ask);
    CHECK(post(h.port, {{"jsonrpc", "2.0"}, {"id", ask->data["id"]}, {"result", {{"role", "assistant"}, {"content", {{"type", "text"}, {"text", "ok"}}}, {"model", "m"}}}},
               {{"Mcp-Session-Id", sid}}).status == 202);
    auto answer = a.read();
    CHECK(answer.header("content-type") == "application/json");
    CHECK(answer.body_json()["result"]["content"][0]["text"] == "ok");
  }
  SUBCASE("without sessions (legacy_sessions off) no capability is known, so nothing is asked") {
    Hosted h({.legacy_sessions = false});
    auto r = post(h.port, ask_call(1, "roots"), {{"MCP-Protocol-Version", "2025-06-18"}});
    // Sessionless: the capabilities of an initialize are not remembered, so the check refuses first.
    CHECK(r.body_json()["result"]["isError"] == true);
    CHECK(h.asking == 0);
  }
  SUBCASE("the host stops while it waits") {
    Hosted h;
    const std::string sid = open_session(h.port, "2025-11-25", caps);
    RawConn a(h.port);
    REQUIRE(a.send_request("POST", ask_call(1, "elicit").dump(), {{"Mcp-Session-Id", sid}}));
    REQUIRE(a.read_until("elicitation/create"));
    const auto t0 = std::chrono::steady_clock::now();
    h.host.stop();
    CHECK(testutil::ms_since(t0) < 3000);
    CHECK(testutil::eventually([&] { return h.asking == 0; }));
    CHECK(h.ask_error != 0);
  }
}

TEST_CASE("server over HTTP: SSE event ids, resumption with Last-Event-ID, bounded event store, polling") {
  SUBCASE("ids unique per session and naming their stream; a lost POST stream resumes with the rest and its answer") {
    Hosted h;
    const std::string sid = open_session(h.port);
    const std::map<std::string, std::string> in_session{{"Mcp-Session-Id", sid}};
    auto slow = json{{"jsonrpc", "2.0"}, {"id", 5}, {"method", "tools/call"},
                     {"params", {{"name", "sleep"}, {"arguments", {{"ms", 600}}}, {"_meta", {{"progressToken", "p"}}}}}};
    std::string last;
    {
      RawConn a(h.port);
      REQUIRE(a.send_request("POST", slow.dump(), in_session));
      REQUIRE(a.read_until("notifications/progress"));
      auto ev = event_with(a.in, "notifications/progress");
      REQUIRE(ev);
      last = ev->id;
      // Another stream at the same time: other ids, another stream name.
      auto other = post(h.port, {{"jsonrpc", "2.0"}, {"id", 6}, {"method", "tools/call"},
                                 {"params", {{"name", "sleep"}, {"arguments", {{"ms", 400}}}, {"_meta", {{"progressToken", "q"}}}}}},
                        in_session);
      auto other_events = raw_events(other.body);
      REQUIRE(other_events.size() >= 2);
      for (const auto& oe : other_events) {
        CHECK(oe.id != last);
        CHECK(oe.id.substr(0, oe.id.find('-')) != last.substr(0, last.find('-')));
      }
    }  // the client loses the stream
    RawConn g(h.port);
    auto r = g.request("GET", "", {{"Mcp-Session-Id", sid}, {"Accept", "text/event-stream"}, {"Last-Event-ID", last}});
    CHECK(r.status == 200);
    CHECK(r.complete);  // it ended after the answer
    auto done = event_with(r.body, "", 5);
    REQUIRE(done);
    CHECK(done->data["result"]["content"][0]["text"] == "600");
    for (const auto& ev : raw_events(r.body)) {
      CHECK(ev.id.substr(0, ev.id.find('-')) == last.substr(0, last.find('-')));  // that stream's only
      CHECK(ev.id != last);
    }
    // An id the session never issued, or one of another session: 400.
    CHECK(RawConn(h.port).request("GET", "", {{"Mcp-Session-Id", sid}, {"Accept", "text/event-stream"}, {"Last-Event-ID", "99-99"}}).status == 400);
    CHECK(RawConn(h.port).request("GET", "", {{"Mcp-Session-Id", sid}, {"Accept", "text/event-stream"}, {"Last-Event-ID", "garbage"}}).status == 400);
    const std::string sid2 = open_session(h.port);
    CHECK(RawConn(h.port).request("GET", "", {{"Mcp-Session-Id", sid2}, {"Accept", "text/event-stream"}, {"Last-Event-ID", last}}).status == 400);
  }
  SUBCASE("the GET stream: primed, list changes with ids, kept while it is away, replayed on resume") {
    Hosted h;
    const std::string sid = open_session(h.port);
    std::string first_id;
    {
      RawConn g(h.port);
      REQUIRE(g.send_request("GET", "", {{"Mcp-Session-Id", sid}, {"Accept", "text/event-stream"}}));
      REQUIRE(g.read_until("data:\n\n"));  // primed at once
      REQUIRE(h.server.add_tool({.name = "late1", .handler = [](const json&, mcp::RequestContext&) -> mcp::Result<mcp::CallToolResult> { return text("1"); }}));
      REQUIRE(g.read_until("list_changed"));
      auto ev = event_with(g.in, "notifications/tools/list_changed");
      REQUIRE(ev);
      first_id = ev->id;
    }
    CHECK(testutil::eventually([&] {  // the host saw it go
      return RawConn(h.port).request("GET", "", {{"Mcp-Session-Id", sid}, {"Accept", "text/event-stream"}, {"Last-Event-ID", "x-1"}}).status == 400;
    }));
    std::this_thread::sleep_for(100ms);
    REQUIRE(h.server.add_tool({.name = "late2", .handler = [](const json&, mcp::RequestContext&) -> mcp::Result<mcp::CallToolResult> { return text("2"); }}));
    RawConn g(h.port);
    REQUIRE(g.send_request("GET", "", {{"Mcp-Session-Id", sid}, {"Accept", "text/event-stream"}, {"Last-Event-ID", first_id}}));
    REQUIRE(g.read_until("list_changed"));
    auto replayed = event_with(g.in, "notifications/tools/list_changed");
    REQUIRE(replayed);
    CHECK(replayed->id != first_id);
    // While it is open, another GET stream is refused.
    CHECK(RawConn(h.port).request("GET", "", {{"Mcp-Session-Id", sid}, {"Accept", "text/event-stream"}}).status == 409);
  }
  SUBCASE("the store is bounded: a resume from a forgotten event is refused") {
    Hosted h({.event_store_max_events = 4});
    const std::string sid = open_session(h.port);
    auto r = post(h.port, {{"jsonrpc", "2.0"}, {"id", 2}, {"method", "tools/call"},
                           {"params", {{"name", "sleep"}, {"arguments", {{"ms", 1000}}}, {"_meta", {{"progressToken", "p"}}}}}},
                  {{"Mcp-Session-Id", sid}});
    auto events = raw_events(r.body);
    REQUIRE(events.size() >= 6);  // priming, a progress notification every 100 ms or so, the answer: 4 are kept
    auto gone = RawConn(h.port).request("GET", "", {{"Mcp-Session-Id", sid}, {"Accept", "text/event-stream"}, {"Last-Event-ID", events[1].id}});
    CHECK(gone.status == 400);
    auto kept = RawConn(h.port).request("GET", "", {{"Mcp-Session-Id", sid}, {"Accept", "text/event-stream"},
                                                    {"Last-Event-ID", events[events.size() - 2].id}});
    CHECK(kept.status == 200);
    REQUIRE(raw_events(kept.body).size() == 1);
    CHECK(raw_events(kept.body)[0].data["id"] == 2);
  }
  SUBCASE("a 2025-06-18 session: ids, but no priming event") {
    Hosted h;
    const std::string sid = open_session(h.port, "2025-06-18");
    auto r = post(h.port, {{"jsonrpc", "2.0"}, {"id", 2}, {"method", "tools/call"},
                           {"params", {{"name", "sleep"}, {"arguments", {{"ms", 400}}}, {"_meta", {{"progressToken", "p"}}}}}},
                  {{"Mcp-Session-Id", sid}});
    auto events = raw_events(r.body);
    REQUIRE(events.size() >= 2);
    for (const auto& ev : events) {
      CHECK_FALSE(ev.id.empty());
      CHECK(ev.data.is_object());
    }
  }
  SUBCASE("polling: the POST's stream closes after its priming event and retry; the answer waits for the GET") {
    Hosted h({.sse_poll_retry = 250ms});
    const std::string sid = open_session(h.port);
    auto r = post(h.port, {{"jsonrpc", "2.0"}, {"id", 3}, {"method", "tools/call"}, {"params", {{"name", "sleep"}, {"arguments", {{"ms", 200}}}}}},
                  {{"Mcp-Session-Id", sid}});
    CHECK(r.status == 200);
    CHECK(r.complete);
    CHECK(r.header("content-type") == "text/event-stream");
    CHECK(r.body.find("retry: 250\n") != std::string::npos);
    auto events = raw_events(r.body);
    REQUIRE(events.size() == 1);
    CHECK(events[0].data.is_null());
    auto g = RawConn(h.port).request("GET", "", {{"Mcp-Session-Id", sid}, {"Accept", "text/event-stream"}, {"Last-Event-ID", events[0].id}});
    CHECK(g.status == 200);
    auto done = event_with(g.body, "", 3);
    REQUIRE(done);
    CHECK(done->data["result"]["content"][0]["text"] == "200");
    // Our client polls through it.
    auto client = mcp::Client::create(testutil::one("s", http_server(h.url(), mcp::Era::legacy)));
    REQUIRE(client);
    auto slept = client->call_tool("s", "sleep", {{"ms", 100}});
    REQUIRE_MESSAGE(slept, (slept ? "" : slept.error().message));
    CHECK(slept->text() == "100");
    client->disconnect();
  }
  SUBCASE("an application's event store") {
    struct Counting final : mcp::EventStore {
      std::shared_ptr<std::atomic<int>> stored;
      std::unique_ptr<mcp::EventStore> inner = mcp::make_memory_event_store(1 << 20, 100);
      explicit Counting(std::shared_ptr<std::atomic<int>> s) : stored(std::move(s)) {}
      std::string store(const std::string& stream, const std::string& message) override {
        ++*stored;
        return "app." + inner->store(stream, message);
      }
      std::optional<std::string> replay_after(const std::string& last,
                                              const std::function<void(const std::string&, const std::string&)>& sink) override {
        if (last.rfind("app.", 0) != 0) return std::nullopt;
        return inner->replay_after(last.substr(4), [&](const std::string& id, const std::string& m) { sink("app." + id, m); });
      }
    };
    auto stored = std::make_shared<std::atomic<int>>(0);
    auto made = std::make_shared<std::vector<std::string>>();
    mcp::HttpServerOptions opt;
    opt.event_store = [stored, made](const std::string& session) {
      made->push_back(session);
      return std::make_unique<Counting>(stored);
    };
    Hosted h(opt);
    const std::string sid = open_session(h.port);
    REQUIRE(made->size() == 1);
    CHECK(made->front() == sid);
    auto r = post(h.port, {{"jsonrpc", "2.0"}, {"id", 2}, {"method", "tools/call"},
                           {"params", {{"name", "sleep"}, {"arguments", {{"ms", 400}}}, {"_meta", {{"progressToken", "p"}}}}}},
                  {{"Mcp-Session-Id", sid}});
    auto events = raw_events(r.body);
    REQUIRE(events.size() >= 2);
    CHECK(*stored == static_cast<int>(events.size()));
    CHECK(events[0].id.rfind("app.", 0) == 0);
    auto again = RawConn(h.port).request("GET", "", {{"Mcp-Session-Id", sid}, {"Accept", "text/event-stream"}, {"Last-Event-ID", events[0].id}});
    CHECK(again.status == 200);
    CHECK(raw_events(again.body).size() == events.size() - 1);
  }
}

TEST_CASE("server over HTTP: session cap, id generator and start hook") {
  std::vector<std::string> started;
  std::mutex m;
  int n = 0;
  mcp::HttpServerOptions opt;
  opt.max_sessions = 2;
  opt.session_id_generator = [&] { return n++ == 2 ? std::string("bad id") : "sess-" + std::to_string(n); };
  opt.on_session_start = [&](const std::string& id) {
    std::lock_guard lk(m);
    started.push_back(id);
  };
  Hosted h(opt);
  CHECK(open_session(h.port) == "sess-1");
  CHECK(open_session(h.port) == "sess-2");
  const json init{{"jsonrpc", "2.0"}, {"id", 1}, {"method", "initialize"},
                  {"params", {{"protocolVersion", "2025-11-25"}, {"capabilities", json::object()}, {"clientInfo", {{"name", "raw"}, {"version", "0"}}}}}};
  auto over = post(h.port, init);
  CHECK(over.status == 503);
  CHECK(over.body_json()["error"]["code"] == -32603);
  CHECK(over.body_json()["id"] == 1);
  CHECK(over.header("mcp-session-id").empty());
  CHECK(h.host.session_count() == 2);
  CHECK(RawConn(h.port).request("DELETE", "", {{"Mcp-Session-Id", "sess-1"}}).status == 200);
  auto bad = post(h.port, init);  // the generator's third id has a space
  CHECK(bad.status == 500);
  CHECK(bad.body_json()["error"]["message"].get<std::string>().find("invalid id") != std::string::npos);
  CHECK(open_session(h.port) == "sess-4");
  CHECK(RawConn(h.port).request("DELETE", "", {{"Mcp-Session-Id", "sess-4"}}).status == 200);
  auto reused = [&] {
    n = 1;  // makes "sess-2" again, which is in use
    return post(h.port, init);
  }();
  CHECK(reused.status == 500);
  std::lock_guard lk(m);
  CHECK(started == std::vector<std::string>{"sess-1", "sess-2", "sess-4"});
}

TEST_CASE("server over HTTP: 2025-03-26 batches (one JSON array, or events once notifications come; refused elsewhere)") {
  Hosted h;
  const std::string sid = open_session(h.port, "2025-03-26");
  const std::map<std::string, std::string> in_session{{"Mcp-Session-Id", sid}};
  const auto call = [](const json& id, const std::string& tool, json args, bool progress = false) {
    json m{{"jsonrpc", "2.0"}, {"id", id}, {"method", "tools/call"}, {"params", {{"name", tool}, {"arguments", std::move(args)}}}};
    if (progress) m["params"]["_meta"]["progressToken"] = "p";
    return m;
  };
  const json note{{"jsonrpc", "2.0"}, {"method", "notifications/initialized"}};
  auto r = post(h.port, json::array({call(1, "echo", {{"text", "a"}}), note, call("two", "sleep", {{"ms", 50}})}), in_session);
  CHECK(r.status == 200);
  CHECK(r.header("content-type") == "application/json");
  auto answers = r.body_json();
  REQUIRE(answers.is_array());
  REQUIRE(answers.size() == 2);
  std::map<std::string, std::string> by_id;
  for (const auto& a : answers) by_id[a["id"].dump()] = a["result"]["content"][0]["text"];
  CHECK(by_id["1"] == "a");
  CHECK(by_id["\"two\""] == "50");
  // A notification among them: the answers become events (those already in go first).
  auto s = post(h.port, json::array({call(3, "echo", {{"text", "b"}}), call(4, "sleep", {{"ms", 500}}, true)}), in_session);
  CHECK(s.status == 200);
  CHECK(s.header("content-type") == "text/event-stream");
  CHECK(s.complete);
  REQUIRE(event_with(s.body, "", 3));
  REQUIRE(event_with(s.body, "", 4));
  CHECK(event_with(s.body, "", 4)->data["result"]["content"][0]["text"] == "500");
  CHECK(event_with(s.body, "notifications/progress"));
  // Notifications only: 202.
  CHECK(post(h.port, json::array({note}), in_session).status == 202);
  // Refused: empty, initialize inside, an id twice, a bad element, no session, another revision.
  CHECK(post(h.port, json::array(), in_session).status == 400);
  auto init_inside = post(h.port, json::array({{{"jsonrpc", "2.0"}, {"id", 9}, {"method", "initialize"}, {"params", json::object()}}}), in_session);
  CHECK(init_inside.status == 400);
  CHECK(init_inside.body_json()["error"]["code"] == -32600);
  CHECK(post(h.port, json::array({call(5, "echo", {{"text", "x"}}), call(5, "echo", {{"text", "y"}})}), in_session).status == 400);
  CHECK(post(h.port, json::array({call(6, "echo", {{"text", "x"}}), json{{"jsonrpc", "1.0"}, {"id", 7}, {"method", "ping"}}}), in_session).status == 400);
  CHECK(post(h.port, json::array({call(8, "echo", {{"text", "x"}})})).status == 400);
  const std::string newer = open_session(h.port, "2025-06-18");
  auto refused = post(h.port, json::array({call(8, "echo", {{"text", "x"}})}), {{"Mcp-Session-Id", newer}});
  CHECK(refused.status == 400);
  CHECK(refused.body_json()["error"]["code"] == -32600);
  CHECK(refused.body_json()["error"]["message"].get<std::string>().find("2025-03-26") != std::string::npos);
  // Without sessions: at the header's revision (2025-03-26 when there is none).
  Hosted stateless({.legacy_sessions = false});
  auto plain = post(stateless.port, json::array({call(1, "echo", {{"text", "c"}})}));
  CHECK(plain.status == 200);
  CHECK(plain.body_json()[0]["result"]["content"][0]["text"] == "c");
  CHECK(post(stateless.port, json::array({call(1, "echo", {{"text", "c"}})}), {{"MCP-Protocol-Version", "2025-11-25"}}).status == 400);
  // The client leaves mid-batch: without a session both requests are cancelled.
  {
    RawConn c(stateless.port);
    REQUIRE(c.send_request("POST", json::array({call(1, "sleep", {{"ms", 10000}}), call(2, "sleep", {{"ms", 10000}})}).dump(), {}));
    CHECK(testutil::eventually([&] { return stateless.running == 2; }));  // side by side
  }
  CHECK(testutil::eventually([&] { return stateless.cancelled == 2; }));
}

TEST_CASE("server over HTTP: 2024-11-05 HTTP+SSE (endpoint event, POSTs answered 202, replies on the stream)") {
  Hosted h;
  {
    RawConn s(h.port);
    REQUIRE(s.send_request("GET", "", {{"Accept", "text/event-stream"}}, "/sse"));
    REQUIRE(s.read_until("event: endpoint\ndata: "));
    REQUIRE(s.read_until("\n\n", 2000));
    const auto at = s.in.find("event: endpoint\ndata: ") + 22;
    const std::string endpoint = s.in.substr(at, s.in.find('\n', at) - at);
    CHECK(endpoint.rfind("/messages?sessionId=", 0) == 0);
    CHECK(h.host.session_count() == 1);
    const std::string sid = endpoint.substr(endpoint.find('=') + 1);
    const auto to_endpoint = [&](const json& m) { return RawConn(h.port).request("POST", m.dump(), {}, endpoint); };
    CHECK(to_endpoint({{"jsonrpc", "2.0"}, {"id", 1}, {"method", "initialize"},
                       {"params", {{"protocolVersion", "2024-11-05"}, {"capabilities", {{"roots", json::object()}}}, {"clientInfo", {{"name", "raw"}, {"version", "0"}}}}}}).status == 202);
    REQUIRE(s.read_until("protocolVersion"));
    CHECK(event_with(s.in, "", 1)->data["result"]["protocolVersion"] == "2024-11-05");
    CHECK(to_endpoint({{"jsonrpc", "2.0"}, {"method", "notifications/initialized"}}).status == 202);
    CHECK(to_endpoint(ask_call(2, "roots")).status == 202);
    REQUIRE(s.read_until("roots/list"));
    auto ask = event_with(s.in, "roots/list");
    REQUIRE(ask);
    CHECK(ask->id.empty());  // no ids in 2024-11-05
    CHECK(to_endpoint({{"jsonrpc", "2.0"}, {"id", ask->data["id"]}, {"result", {{"roots", {{{"uri", "file:///x"}}}}}}}).status == 202);
    REQUIRE(s.read_until("file:///x "));
    // Refusals: no or unknown session, wrong methods, the id on the Streamable endpoint, a batch.
    CHECK(RawConn(h.port).request("POST", ask_call(3, "roots").dump(), {}, "/messages").status == 400);
    CHECK(RawConn(h.port).request("POST", ask_call(3, "roots").dump(), {}, "/messages?sessionId=nope").status == 404);
    CHECK(RawConn(h.port).request("POST", ask_call(3, "roots").dump(), {}, "/sse").status == 405);
    CHECK(RawConn(h.port).request("GET", "", {}, endpoint).status == 405);
    CHECK(post(h.port, {{"jsonrpc", "2.0"}, {"id", 4}, {"method", "tools/list"}}, {{"Mcp-Session-Id", sid}}).status == 404);
    CHECK(to_endpoint(json::array({ask_call(5, "roots")})).status == 400);
    // Bad JSON.
    CHECK(RawConn(h.port).request("POST", "{", {}, endpoint).status == 400);
  }  // the stream closes: the session ends
  CHECK(testutil::eventually([&] { return h.host.session_count() == 0; }));

  // Our client: pinned to HTTP+SSE, and falling back to it from Streamable HTTP.
  for (const auto kind : {mcp::HttpTransportKind::sse, mcp::HttpTransportKind::automatic}) {
    mcp::HttpServerConfig hc;
    hc.url = "http://127.0.0.1:" + std::to_string(h.port) + "/sse";
    hc.transport = kind;
    mcp::ServerConfig sc;
    sc.transport = hc;
    sc.era = mcp::Era::legacy;
    auto client = asking_client(sc);
    check_call(*client, "echo", {{"text", "old"}}, "old");
    check_call(*client, "ask", {{"kind", "sample"}}, "sampled hi");
    CHECK(h.host.session_count() == 1);
    client->disconnect();
    CHECK(testutil::eventually([&] { return h.host.session_count() == 0; }));
  }

  // An application's session id goes percent-encoded into the endpoint, and is decoded back.
  {
    mcp::HttpServerOptions odd_opt;
    odd_opt.session_id_generator = [] { return std::string("a&b/c%d+"); };
    Hosted odd(odd_opt);
    RawConn s(odd.port);
    REQUIRE(s.send_request("GET", "", {{"Accept", "text/event-stream"}}, "/sse"));
    REQUIRE(s.read_until("/messages?sessionId=a%26b%2Fc%25d%2B\n"));
    CHECK(RawConn(odd.port).request("POST", json{{"jsonrpc", "2.0"}, {"id", 1}, {"method", "ping"}}.dump(), {},
                                    "/messages?sessionId=a%26b%2Fc%25d%2B").status == 202);
    REQUIRE(s.read_until("\"id\":1"));
    CHECK(RawConn(odd.port).request("POST", "{}", {}, "/messages?sessionId=a%2").status == 400);
  }

  Hosted off({.sse_path = ""});
  CHECK(RawConn(off.port).request("GET", "", {{"Accept", "text/event-stream"}}, "/sse").status == 404);
  mcp::Server bad_server({});
  mcp::HttpHost bad(bad_server, {.sse_path = "/mcp"});
  auto refused = bad.start();
  REQUIRE_FALSE(refused);
  CHECK(refused.error().code == mcp::Errc::invalid_config);
}

TEST_CASE("server: the in-memory EventStore keeps a bounded number of bytes and events and replays one stream") {
  auto st = mcp::make_memory_event_store(100, 1000);
  std::vector<std::string> seen;
  const auto sink = [&](const std::string& id, const std::string& m) { seen.push_back(id + "=" + m.substr(0, 1)); };
  const auto a1 = st->store("1", std::string(30, 'a'));
  const auto b1 = st->store("2", "b");
  const auto a2 = st->store("1", std::string(30, 'c'));
  CHECK(a1 != a2);
  CHECK(st->replay_after(a1, sink) == "1");
  CHECK(seen == std::vector<std::string>{a2 + "=c"});  // not stream 2's event
  seen.clear();
  CHECK(st->replay_after(b1, sink) == "2");
  CHECK(seen.empty());
  // Over the byte bound the oldest events go: a stream cannot resume from one of them.
  const auto a3 = st->store("1", std::string(60, 'd'));
  CHECK_FALSE(st->replay_after(a1, sink));
  CHECK(st->replay_after(a2, sink) == "1");
  CHECK(seen == std::vector<std::string>{a3 + "=d"});
  // One message larger than the bound is not kept at all.
  CHECK(st->store("1", std::string(200, 'x')).empty());
  // Ids it never issued, or of another stream.
  for (const std::string& bad : std::vector<std::string>{"", "1", "1-", "x-1", "1-999", "1-1a", "-1", "2-" + a2.substr(2)}) {
    CAPTURE(bad);
    CHECK_FALSE(st->replay_after(bad, sink));
  }
  // The event bound.
  auto few = mcp::make_memory_event_store(1 << 20, 2);
  const auto f1 = few->store("1", "a");
  (void)few->store("1", "b");
  (void)few->store("1", "c");
  CHECK_FALSE(few->replay_after(f1, sink));
}

TEST_CASE("server over HTTP: Mcp-Param-* headers must mirror the x-mcp-header arguments (2026-07-28, -32020)") {
  Hosted h;
  // Annotations a client would drop the tool for are refused when the tool is added.
  auto bad = h.server.add_tool({.name = "bad_header",
                                .input_schema = object_schema({{"n", {{"type", "number"}, {"x-mcp-header", "N"}}}}, {}),
                                .handler = [](const json&, mcp::RequestContext&) -> mcp::Result<mcp::CallToolResult> { return text("x"); }});
  REQUIRE_FALSE(bad);
  CHECK(bad.error().code == mcp::Errc::invalid_argument);
  REQUIRE(h.server.add_tool({.name = "region",
                             .input_schema = object_schema({{"region", {{"type", "string"}, {"x-mcp-header", "Region"}}},
                                                            {"count", {{"type", "integer"}, {"x-mcp-header", "Count"}}}},
                                                           {"count"}),
                             .handler = [](const json& a, mcp::RequestContext&) -> mcp::Result<mcp::CallToolResult> {
                               return text(a.value("region", json()).dump() + " " + a["count"].dump());
                             }}));
  const auto call = modern_request(9, "tools/call", {{"name", "region"}, {"arguments", {{"region", "Hello"}, {"count", 42}}}});
  auto status = [&](std::map<std::string, std::string> headers) { return post_modern(h.port, call, std::move(headers)); };
  auto refused = [](const RawResponse& r) {
    CHECK(r.status == 400);
    CHECK(r.body_json()["error"]["code"] == -32020);
    CHECK(r.body_json()["id"] == 9);
  };
  CHECK(status({{"Mcp-Param-Region", "Hello"}, {"Mcp-Param-Count", "42"}}).status == 200);
  CHECK(status({{"mcp-param-region", "=?base64?SGVsbG8=?="}, {"Mcp-Param-Count", "42.0"}}).status == 200);  // names: any case
  refused(status({{"Mcp-Param-Count", "42"}}));                                             // Region missing
  refused(status({{"Mcp-Param-Region", "World"}, {"Mcp-Param-Count", "42"}}));               // another value
  refused(status({{"Mcp-Param-Region", "=?base64?SGVsbG8?="}, {"Mcp-Param-Count", "42"}}));  // bad padding
  refused(status({{"Mcp-Param-Region", "=?base64?SGVs!!!bG8=?="}, {"Mcp-Param-Count", "42"}}));
  refused(status({{"Mcp-Param-Region", "Hello"}, {"Mcp-Param-Count", "43"}}));
  // An absent argument expects no header.
  const auto null_region = modern_request(9, "tools/call", {{"name", "region"}, {"arguments", {{"count", 1}}}});
  auto r = post_modern(h.port, null_region, {{"Mcp-Param-Count", "1"}});
  CHECK(r.status == 200);
  CHECK(r.body_json()["result"]["content"][0]["text"] == "null 1");
}

TEST_CASE("server over HTTP: a handler lets a 2025-11-25 client poll for its answer (close_stream); elsewhere it cannot") {
  Hosted h;
  REQUIRE(h.server.add_tool({.name = "poll",
                             .handler = [](const json&, mcp::RequestContext& ctx) -> mcp::Result<mcp::CallToolResult> {
                               const bool closed = ctx.close_stream(30ms);
                               std::this_thread::sleep_for(200ms);  // the client is away meanwhile
                               (void)ctx.progress(1, 2);            // kept for the client's return
                               return text(std::string("polled ") + (closed ? "true" : "false"));
                             }}));
  struct Case {
    mcp::Era era;
    std::optional<std::string> version;
    const char* expect;
  };
  for (const auto& c : {Case{mcp::Era::legacy, std::nullopt, "polled true"}, Case{mcp::Era::legacy, std::string("2025-06-18"), "polled false"},
                        Case{mcp::Era::modern, std::nullopt, "polled false"}}) {
    CAPTURE(c.expect);
    auto client = mcp::Client::create(testutil::one("s", http_server(h.url(), c.era, c.version)));
    REQUIRE(client);
    std::atomic<int> progress{0};
    mcp::RequestOptions ro;
    ro.on_progress = [&](const mcp::Progress&) { ++progress; };
    auto res = client->call_tool("s", "poll", json::object(), ro);
    REQUIRE_MESSAGE(res, (res ? "" : res.error().message));
    CHECK(res->text() == c.expect);
    CHECK(progress == 1);
    client->disconnect();
  }
}

TEST_CASE("server over HTTP: a tool task in a 2025-11-25 session, and with the 2026-07-28 tasks extension") {
  Hosted h;
  REQUIRE(h.server.add_tool({.name = "slow_task",
                             .input_schema = object_schema({{"ms", {{"type", "integer"}}}}, {"ms"}),
                             .handler = [](const json& a, mcp::RequestContext& ctx) -> mcp::Result<mcp::CallToolResult> {
                               const auto until = std::chrono::steady_clock::now() + std::chrono::milliseconds(a["ms"].get<int>());
                               while (std::chrono::steady_clock::now() < until && !ctx.cancelled()) std::this_thread::sleep_for(5ms);
                               return text("done " + std::to_string(a["ms"].get<int>()));
                             },
                             .task_support = mcp::TaskSupport::optional}));
  // Legacy: the task at once, tasks/result on another POST waits for the end.
  const std::string sid = open_session(h.port, "2025-11-25");
  const std::map<std::string, std::string> in_session{{"Mcp-Session-Id", sid}, {"MCP-Protocol-Version", "2025-11-25"}};
  auto created = post(h.port, {{"jsonrpc", "2.0"}, {"id", 2}, {"method", "tools/call"},
                               {"params", {{"name", "slow_task"}, {"arguments", {{"ms", 300}}}, {"task", {{"ttl", 60000}}}}}},
                      in_session);
  REQUIRE(created.status == 200);
  const json task = created.body_json()["result"]["task"];
  REQUIRE(task["status"] == "working");
  const std::string id = task["taskId"];
  const auto started = std::chrono::steady_clock::now();
  auto result = post(h.port, {{"jsonrpc", "2.0"}, {"id", 3}, {"method", "tasks/result"}, {"params", {{"taskId", id}}}}, in_session);
  CHECK(testutil::ms_since(started) >= 100);
  json answer = result.body_json();
  if (answer.is_discarded()) answer = event_with(result.body, "", 3).value_or(RawEvent{}).data;
  CHECK(answer["result"]["content"][0]["text"] == "done 300");
  CHECK(answer["result"]["_meta"]["io.modelcontextprotocol/related-task"]["taskId"] == id);
  // Another session does not find it.
  const std::string other = open_session(h.port, "2025-11-25");
  auto foreign = post(h.port, {{"jsonrpc", "2.0"}, {"id", 4}, {"method", "tasks/get"}, {"params", {{"taskId", id}}}},
                      {{"Mcp-Session-Id", other}, {"MCP-Protocol-Version", "2025-11-25"}});
  CHECK(foreign.body_json()["error"]["code"] == -32602);
  // 2026-07-28 with the extension: CreateTaskResult, then tasks/get (Mcp-Name: the task id).
  json call = modern_request(5, "tools/call", {{"name", "slow_task"}, {"arguments", {{"ms", 50}}}});
  call["params"]["_meta"]["io.modelcontextprotocol/clientCapabilities"]["extensions"]["io.modelcontextprotocol/tasks"] = json::object();
  auto mc = post_modern(h.port, call).body_json()["result"];
  REQUIRE(mc["resultType"] == "task");
  const std::string mid = mc["taskId"];
  json get = modern_request(6, "tasks/get", {{"taskId", mid}});
  get["params"]["_meta"]["io.modelcontextprotocol/clientCapabilities"] = call["params"]["_meta"]["io.modelcontextprotocol/clientCapabilities"];
  json status;
  for (int i = 0; i < 300; ++i) {
    status = post_modern(h.port, get, {{"Mcp-Name", mid}}).body_json();
    if (status["result"]["status"] == "completed") break;
    std::this_thread::sleep_for(10ms);
  }
  CHECK(status["result"]["result"]["content"][0]["text"] == "done 50");
  // The routing header must name the task.
  auto mismatch = post_modern(h.port, get, {{"Mcp-Name", "another-task"}});
  CHECK(mismatch.status == 400);
  CHECK(mismatch.body_json()["error"]["code"] == -32020);
}

TEST_CASE("server over HTTP: an idle keep-alive connection is closed after connection_idle_timeout, a busy one is not") {
  mcp::HttpServerOptions opt;
  opt.connection_idle_timeout = 400ms;
  Hosted h(opt);
  RawConn c(h.port);
  // A call every 100 ms for 1.2 s (three times the timeout), all on this connection.
  const json req = modern_request(1, "tools/call", {{"name", "echo"}, {"arguments", {{"text", "hi"}}}});
  for (int i = 0; i < 12; ++i) {
    CAPTURE(i);
    REQUIRE(c.send(modern_post_text(req)));
    REQUIRE(c.read().status == 200);
    std::this_thread::sleep_for(100ms);
  }
  // Then idle: the server closes it, after the timeout (counted from the last answer) and well
  // before our limit.
  const auto t0 = std::chrono::steady_clock::now();
  const auto limit = t0 + 5s;
  while (c.fill(limit)) {}
  const auto waited = std::chrono::steady_clock::now() - t0;
  CHECK(waited >= 200ms);
  CHECK(waited < 3s);
}

TEST_CASE("server over HTTP: answers written by handler threads: a large one, pipelined requests, then more on one connection") {
  // A JSON answer goes out from the handler thread while the connection waits for it; what
  // does not fit in the socket's buffer, and a next request already sent, are the I/O
  // thread's again. Every answer arrives whole and in order.
  mcp::HttpServerOptions opt;
  opt.max_body_bytes = 16u << 20;
  Hosted h(opt);
  RawConn c(h.port);
  const std::string big(6u << 20, 'x');  // larger than a loopback socket's buffer
  const auto call = [](int id, const std::string& text) {
    return modern_request(id, "tools/call", {{"name", "echo"}, {"arguments", {{"text", text}}}});
  };
  const auto text_of = [](const RawResponse& r) -> std::string {
    const json j = r.body_json();
    return j.is_object() && j.contains("result") ? j["result"]["content"][0].value("text", "") : std::string("?");
  };
  REQUIRE(c.send(modern_post_text(call(1, big))));
  auto r = c.read(20000);
  REQUIRE(r.complete);
  CHECK(r.status == 200);
  CHECK(r.body_json()["id"] == 1);
  CHECK(text_of(r) == big);
  // Two requests in one write: the second is read while the first is handled.
  REQUIRE(c.send(modern_post_text(call(2, "two")) + modern_post_text(call(3, "three"))));
  for (const auto& [id, want] : {std::pair{2, "two"}, std::pair{3, "three"}}) {
    CAPTURE(id);
    r = c.read();
    REQUIRE(r.complete);
    CHECK(r.body_json()["id"] == id);
    CHECK(text_of(r) == want);
  }
  // Error answers (an unknown method: 404 in 2026-07-28; an unknown tool) go the same way,
  // and the connection goes on.
  REQUIRE(c.send(modern_post_text(modern_request(4, "no/such"))));
  r = c.read();
  REQUIRE(r.complete);
  CHECK(r.status == 404);
  CHECK(r.body_json()["id"] == 4);
  REQUIRE(c.send(modern_post_text(modern_request(5, "tools/call", {{"name", "no_such_tool"}}))));
  r = c.read();
  REQUIRE(r.complete);
  CHECK(r.body_json()["error"]["code"] == -32602);
  for (int i = 6; i < 106; ++i) {
    REQUIRE(c.send(modern_post_text(call(i, std::to_string(i)))));
    r = c.read();
    REQUIRE(r.complete);
    CHECK(text_of(r) == std::to_string(i));
  }
}

TEST_CASE("server over HTTP: how requests arrive: in pieces, hundreds in one write, chunked, HTTP/1.0, too large, malformed, cut short") {
  // The host parses what each read brings; a request already in its buffer (pipelined) is
  // served without another read, one after another and in order, however many there are.
  Hosted h;
  const auto call = [](int id, const std::string& text) {
    return modern_request(id, "tools/call", {{"name", "echo"}, {"arguments", {{"text", text}}}});
  };
  const auto echoed = [](const RawResponse& r) -> std::string {
    const json j = r.body_json();
    return j.is_object() && j.contains("result") ? j["result"]["content"][0].value("text", "") : std::string("?");
  };
  {
    // One byte at a time: the request line, the headers and the body split everywhere.
    RawConn c(h.port);
    const auto text = modern_post_text(call(1, "slow"));
    for (char ch : text) REQUIRE(c.send(std::string(1, ch)));
    auto r = c.read();
    REQUIRE(r.complete);
    CHECK(echoed(r) == "slow");
    // ... and the next one on the same connection in two halves, split inside the body.
    const auto next = modern_post_text(call(2, "halves"));
    REQUIRE(c.send(next.substr(0, next.size() - 5)));
    std::this_thread::sleep_for(20ms);
    REQUIRE(c.send(next.substr(next.size() - 5)));
    r = c.read();
    REQUIRE(r.complete);
    CHECK(r.body_json()["id"] == 2);
    CHECK(echoed(r) == "halves");
  }
  {
    // 300 requests in one write: 300 answers, in order, and the connection goes on.
    RawConn c(h.port);
    std::string all;
    for (int i = 0; i < 300; ++i) all += modern_post_text(call(i, "p" + std::to_string(i)));
    REQUIRE(c.send(all));
    for (int i = 0; i < 300; ++i) {
      CAPTURE(i);
      auto r = c.read();
      REQUIRE(r.complete);
      CHECK(r.body_json()["id"] == i);
      CHECK(echoed(r) == "p" + std::to_string(i));
    }
    // Refusals pipelined the same way (a bad body, a wrong header) answer in order too.
    const auto good = modern_post_text(call(1000, "after"));
    std::string bad = "POST /mcp HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: 9\r\n\r\n{not json";
    REQUIRE(c.send(bad + bad + good));
    CHECK(c.read().status == 400);
    CHECK(c.read().status == 400);
    auto r = c.read();
    REQUIRE(r.complete);
    CHECK(echoed(r) == "after");
  }
  {
    // A chunked body, its chunks in separate writes.
    RawConn c(h.port);
    const std::string body = call(3, "chunky").dump();
    std::string head = "POST /mcp HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nAccept: application/json, text/event-stream\r\n";
    for (auto& [k, v] : modern_headers(call(3, "chunky"))) head += k + ": " + v + "\r\n";
    head += "Transfer-Encoding: chunked\r\n\r\n";
    REQUIRE(c.send(head));
    const std::size_t half = body.size() / 2;
    const auto hex = [](std::size_t n) {
      char b[32];
      std::snprintf(b, sizeof b, "%zx", n);
      return std::string(b);
    };
    REQUIRE(c.send(hex(half) + "\r\n" + body.substr(0, half) + "\r\n"));
    std::this_thread::sleep_for(10ms);
    REQUIRE(c.send(hex(body.size() - half) + "\r\n" + body.substr(half) + "\r\n0\r\n\r\n"));
    auto r = c.read();
    REQUIRE(r.complete);
    CHECK(echoed(r) == "chunky");
  }
  {
    // HTTP/1.0: answered, then the connection ends.
    RawConn c(h.port);
    auto text = modern_post_text(call(4, "old"));
    text.replace(text.find("HTTP/1.1"), 8, "HTTP/1.0");
    REQUIRE(c.send(text));
    auto r = c.read();
    CHECK(r.status == 200);
    CHECK(echoed(r) == "old");
    CHECK(r.header("connection") == "close");
    CHECK(c.read(2000).status == 0);  // closed
  }
  {
    // Connection: close on HTTP/1.1: the same.
    RawConn c(h.port);
    auto text = modern_post_text(call(5, "bye"));
    text.insert(text.find("\r\n") + 2, "Connection: close\r\n");
    REQUIRE(c.send(text + modern_post_text(call(6, "never"))));
    auto r = c.read();
    CHECK(echoed(r) == "bye");
    CHECK(r.header("connection") == "close");
    CHECK(c.read(2000).status == 0);
  }
  {
    // Headers over 16 KiB: 431, and the connection ends.
    RawConn c(h.port);
    REQUIRE(c.send("POST /mcp HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Big: " + std::string(20000, 'a') + "\r\n\r\n"));
    auto r = c.read();
    CHECK(r.status == 431);
    CHECK(r.header("connection") == "close");
  }
  {
    // Not HTTP: 400, and the connection ends.
    RawConn c(h.port);
    REQUIRE(c.send("HELLO THERE\r\n\r\n"));
    CHECK(c.read().status == 400);
    RawConn c2(h.port);
    REQUIRE(c2.send("POST /mcp HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: x\r\n\r\n"));
    CHECK(c2.read().status == 400);
  }
  {
    // Cut short (the client half-closes inside the body): no answer, the connection ends.
    RawConn c(h.port);
    const auto text = modern_post_text(call(7, "cut"));
    REQUIRE(c.send(text.substr(0, text.size() - 3)));
    ::shutdown(c.fd, SHUT_WR);
    CHECK(c.read(3000).status == 0);
  }
  // The host still serves.
  CHECK(post_modern(h.port, call(8, "still")).status == 200);
}

// ------------------------------------------------------------------ handlers on the I/O threads

namespace {

std::set<std::string> thread_ids() {
  const auto v = testutil::list_dir("/proc/self/task");
  return {v.begin(), v.end()};
}
std::string this_thread_id() { return std::to_string(static_cast<long>(::syscall(SYS_gettid))); }

std::string text_of(const RawResponse& r) {
  if (r.status != 200) return "(status " + std::to_string(r.status) + ")";
  json m = r.body_json();
  if (m.is_null())  // an event stream: its answer
    for (auto& e : r.events())
      if (e.contains("id") && !e.contains("method")) m = e;
  if (!m.contains("result")) return "(no result: " + m.dump() + ")";
  return m["result"]["content"][0].value("text", "");
}

// A legacy tools/call as raw bytes, in session `sid`.
std::string legacy_post_text(const std::string& sid, const json& id, const std::string& tool, json args) {
  const std::string body = json{{"jsonrpc", "2.0"}, {"id", id}, {"method", "tools/call"},
                                {"params", {{"name", tool}, {"arguments", std::move(args)}}}}.dump();
  return "POST /mcp HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nAccept: application/json, text/event-stream\r\n"
         "MCP-Protocol-Version: 2025-11-25\r\nMcp-Session-Id: " + sid + "\r\nContent-Length: " + std::to_string(body.size()) +
         "\r\n\r\n" + body;
}

// A tool that sleeps `ms` in one go (it sees nothing meanwhile, not even a cancellation).
mcp::ServerTool nap_tool(std::string name, std::atomic<int>& napping) {
  return {.name = std::move(name),
          .input_schema = object_schema({{"ms", {{"type", "integer"}}}}, {"ms"}),
          .handler = [&napping](const json& a, mcp::RequestContext&) -> mcp::Result<mcp::CallToolResult> {
            ++napping;
            std::this_thread::sleep_for(std::chrono::milliseconds(a["ms"].get<int>()));
            --napping;
            return text("napped");
          }};
}

}  // namespace

TEST_CASE("server over HTTP: tools run on the I/O thread; one that blocks 5 s is taken over and delays no other connection (both eras)") {
  Hosted h;  // one I/O thread
  const auto before = thread_ids();  // the I/O thread is among them; no handler ran yet
  std::atomic<int> napping{0};
  REQUIRE(h.server.add_tool({.name = "tid", .handler = [](const json&, mcp::RequestContext&) -> mcp::Result<mcp::CallToolResult> {
                               return text(this_thread_id());
                             }}));
  REQUIRE(h.server.add_tool(nap_tool("nap_modern", napping)));
  REQUIRE(h.server.add_tool(nap_tool("nap_legacy", napping)));
  // A quick tool runs on a thread that was there before any handler ran: the I/O thread.
  CHECK(before.count(text_of(post_modern(h.port, modern_request(1, "tools/call", {{"name", "tid"}, {"arguments", json::object()}})))) == 1);
  const std::string sid = open_session(h.port);
  const std::map<std::string, std::string> in_session{{"Mcp-Session-Id", sid}, {"MCP-Protocol-Version", "2025-11-25"}};
  CHECK(post(h.port, {{"jsonrpc", "2.0"}, {"method", "notifications/initialized"}}, in_session).status == 202);
  const json legacy_tid{{"jsonrpc", "2.0"}, {"id", 2}, {"method", "tools/call"}, {"params", {{"name", "tid"}, {"arguments", json::object()}}}};
  CHECK(before.count(text_of(post(h.port, legacy_tid, in_session))) == 1);

  // Two handlers that block 5 s, one per era, each on its own connection; both start on an
  // I/O thread, and each is taken over.
  RawConn m(h.port), l(h.port);
  REQUIRE(m.send(modern_post_text(modern_request(3, "tools/call", {{"name", "nap_modern"}, {"arguments", {{"ms", 5000}}}}))));
  REQUIRE(l.send(legacy_post_text(sid, 4, "nap_legacy", {{"ms", 5000}})));
  CHECK(testutil::eventually([&] { return napping == 2; }));
  const auto naps_started = std::chrono::steady_clock::now();
  for (int i = 0; i < 5; ++i) {
    auto t0 = std::chrono::steady_clock::now();
    CHECK(text_of(post_modern(h.port, modern_request(10 + i, "tools/call", {{"name", "echo"}, {"arguments", {{"text", "quick"}}}}))) == "quick");
    CHECK(testutil::ms_since(t0) < 1000);
    t0 = std::chrono::steady_clock::now();
    const json quick{{"jsonrpc", "2.0"}, {"id", 20 + i}, {"method", "tools/call"},
                     {"params", {{"name", "echo"}, {"arguments", {{"text", "quick"}}}}}};
    CHECK(text_of(post(h.port, quick, in_session)) == "quick");
    CHECK(testutil::ms_since(t0) < 1000);
  }
  CHECK(testutil::ms_since(naps_started) < 4000);  // all of that while both still slept
  CHECK(napping == 2);
  CHECK(text_of(m.read(10000)) == "napped");
  CHECK(text_of(l.read(10000)) == "napped");
}

TEST_CASE("server over HTTP: a handler running on the I/O thread sees its cancellation (both eras)") {
  Hosted h;
  const auto before = thread_ids();
  std::mutex mx;
  std::vector<std::string> ran_on;
  std::atomic<int> waiting{0}, stopped{0};
  const auto waiter = [&](std::string name) -> mcp::ServerTool {
    return {.name = std::move(name), .handler = [&](const json&, mcp::RequestContext& ctx) -> mcp::Result<mcp::CallToolResult> {
              {
                std::lock_guard lk(mx);
                ran_on.push_back(this_thread_id());
              }
              ++waiting;
              std::condition_variable_any cv;
              std::unique_lock lk(mx);
              cv.wait_for(lk, ctx.stop_token(), 10s, [] { return false; });
              --waiting;
              if (ctx.cancelled()) ++stopped;
              return text("done");
            }};
  };
  REQUIRE(h.server.add_tool(waiter("wait_modern")));
  REQUIRE(h.server.add_tool(waiter("wait_legacy")));
  // 2026-07-28: the client leaves.
  {
    RawConn c(h.port);
    REQUIRE(c.send(modern_post_text(modern_request(1, "tools/call", {{"name", "wait_modern"}, {"arguments", json::object()}}))));
    CHECK(testutil::eventually([&] { return waiting == 1; }));
  }
  CHECK(testutil::eventually([&] { return stopped == 1; }));
  // Legacy: notifications/cancelled, on another connection.
  const std::string sid = open_session(h.port);
  const std::map<std::string, std::string> in_session{{"Mcp-Session-Id", sid}, {"MCP-Protocol-Version", "2025-11-25"}};
  CHECK(post(h.port, {{"jsonrpc", "2.0"}, {"method", "notifications/initialized"}}, in_session).status == 202);
  RawConn l(h.port);
  REQUIRE(l.send(legacy_post_text(sid, "w1", "wait_legacy", json::object())));
  CHECK(testutil::eventually([&] { return waiting == 1; }));
  CHECK(post(h.port, {{"jsonrpc", "2.0"}, {"method", "notifications/cancelled"}, {"params", {{"requestId", "w1"}}}}, in_session).status == 202);
  CHECK(testutil::eventually([&] { return stopped == 2; }));
  std::lock_guard lk(mx);
  REQUIRE(ran_on.size() == 2);
  CHECK(before.count(ran_on[0]) == 1);  // both started on an I/O thread (the second on the one that took over)
  CHECK(ran_on[0] != ran_on[1]);
}

TEST_CASE("server over HTTP: a legacy handler elicits from a thread of the host (it is taken over at once)") {
  Hosted h;
  const auto before = thread_ids();
  std::mutex mx;
  std::string asked_on;
  const auto asked_where = [&] {
    std::lock_guard lk(mx);
    return asked_on;
  };
  REQUIRE(h.server.add_tool({.name = "ask_name", .handler = [&](const json&, mcp::RequestContext& ctx) -> mcp::Result<mcp::CallToolResult> {
                               {
                                 std::lock_guard lk(mx);
                                 asked_on = this_thread_id();
                               }
                               mcp::ElicitRequest q;
                               q.message = "Your name?";
                               q.requested_schema = object_schema({{"name", {{"type", "string"}}}}, {"name"});
                               const auto t0 = std::chrono::steady_clock::now();
                               auto r = ctx.elicit(q);
                               if (!r) return mcp::error_result(r.error().message);
                               return text(r->action + " " + r->content.value("name", "") + " " +
                                           (testutil::ms_since(t0) < 2000 ? "soon" : "late"));
                             }}));
  auto client = asking_client(http_server(h.url(), mcp::Era::legacy, std::string("2025-11-25")));
  check_call(*client, "ask_name", json::object(), "accept Ada soon");
  CHECK(before.count(asked_where()) == 1);
  check_call(*client, "ask_name", json::object(), "accept Ada soon");  // now on a handler thread
  CHECK(before.count(asked_where()) == 0);
  client->disconnect();
}

TEST_CASE("server over HTTP: many slow handlers at once stay within the documented threads") {
  const std::size_t base = thread_count();
  Hosted h({}, 4);  // 1 I/O thread, 4 handler threads
  std::atomic<int> napping{0};
  for (int i = 0; i < 8; ++i) REQUIRE(h.server.add_tool(nap_tool("nap" + std::to_string(i), napping)));
  // Eight different tools that block (each one's first call starts on an I/O thread), and 24
  // more calls of them, each on its own connection.
  std::vector<std::unique_ptr<RawConn>> conns;
  for (int i = 0; i < 32; ++i) {
    conns.push_back(std::make_unique<RawConn>(h.port));
    REQUIRE(conns.back()->send(modern_post_text(modern_request(i, "tools/call", {{"name", "nap" + std::to_string(i % 8)}, {"arguments", {{"ms", 300}}}}))));
  }
  // io_threads + handler_threads taken over at most + handler_threads + the watchdog.
  const std::size_t bound = base + 1 + 4 + 4 + 1;
  std::size_t peak = 0;
  for (int i = 0; i < 100; ++i) {
    peak = std::max(peak, thread_count());
    std::this_thread::sleep_for(5ms);
  }
  CHECK(peak <= bound);
  int answered = 0;
  for (auto& c : conns)
    if (text_of(c->read(15000)) == "napped") ++answered;
  CHECK(answered == 32);
  CHECK(thread_count() <= bound);
  // The threads that were taken over leave once their handlers return.
  CHECK(testutil::eventually([&] { return thread_count() <= base + 1 + 4 + 1; }));
  CHECK(text_of(post_modern(h.port, modern_request(99, "tools/call", {{"name", "echo"}, {"arguments", {{"text", "still"}}}}))) == "still");
}
