// Mounting: an mcp::HttpHost started without a listener (start_mounted) and served through an
// application's own httplib::Server (mcp/server_httplib.hpp) on 127.0.0.1, which has routes of
// its own; driven by our client in each era and by httplib's client for the faults. Also
// RequestContext::session_id() over HTTP, and HttpHost::serve() with a sink of the test's own.
#include "../integration/helpers.hpp"

#include <mcp/client.hpp>
#include <mcp/server.hpp>
#include <mcp/server_http.hpp>
#include <mcp/server_httplib.hpp>

#include <doctest/doctest.h>
#include <nlohmann/json.hpp>

#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <condition_variable>
#include <functional>
#include <mutex>
#include <thread>

using namespace std::chrono_literals;
using nlohmann::json;

namespace {

json object_schema(json properties, std::vector<std::string> required) {
  json s{{"type", "object"}, {"properties", std::move(properties)}, {"required", std::move(required)}};
  return s;
}

// An application: its own httplib::Server with /health, the MCP endpoint mounted at /mcp (and
// the 2024-11-05 paths), a Server with the tools these tests call.
struct App {
  std::atomic<int> cancelled{0}, running{0};
  mcp::Server server;
  mcp::HttpHost host;
  httplib::Server http;
  std::thread serving;
  int port = 0;

  explicit App(mcp::HttpServerOptions opt = {}, mcp::HttplibMountOptions mount = {.probe_interval = 200ms})
      : server({.identity = {.name = "mounted-server", .version = "1.0.0"}, .handler_threads = 4}), host(server, std::move(opt)) {
    add_tools();
    auto ok = host.start_mounted();
    REQUIRE_MESSAGE(ok, (ok ? "" : ok.error().message));
    http.Get("/health", [](const httplib::Request&, httplib::Response& res) { res.set_content("ok", "text/plain"); });
    mcp::mount_httplib(http, host, mount);
    port = http.bind_to_any_port("127.0.0.1");
    REQUIRE(port > 0);
    serving = std::thread([this] { http.listen_after_bind(); });
    REQUIRE(testutil::eventually([&] { return http.is_running(); }));
  }
  ~App() {
    host.stop();
    http.stop();
    if (serving.joinable()) serving.join();
  }
  std::string base() const { return "http://127.0.0.1:" + std::to_string(port); }
  std::string url() const { return base() + "/mcp"; }

  void add_tools() {
    auto must = [](mcp::Result<void> r) { REQUIRE_MESSAGE(r, (r ? "" : r.error().message)); };
    must(server.add_tool({.name = "echo",
                          .input_schema = object_schema({{"text", {{"type", "string"}}}}, {"text"}),
                          .handler = [](const json& a, mcp::RequestContext&) -> mcp::Result<mcp::CallToolResult> {
                            return mcp::text_result(a["text"].get<std::string>());
                          }}));
    // Sleeps `ms`, reporting progress every 50 ms; stops early when cancelled.
    must(server.add_tool({.name = "sleep",
                          .input_schema = object_schema({{"ms", {{"type", "integer"}}}}, {"ms"}),
                          .handler = [this](const json& a, mcp::RequestContext& ctx) -> mcp::Result<mcp::CallToolResult> {
                            ++running;
                            const int ms = a["ms"].get<int>();
                            const auto until = std::chrono::steady_clock::now() + std::chrono::milliseconds(ms);
                            for (int step = 1; std::chrono::steady_clock::now() < until; ++step) {
                              if (ctx.cancelled()) {
                                ++cancelled;
                                --running;
                                return mcp::text_result("cancelled");
                              }
                              std::this_thread::sleep_for(10ms);
                              if (step % 5 == 0) (void)ctx.progress(step * 10, ms);
                            }
                            --running;
                            return mcp::text_result(std::to_string(ms));
                          }}));
    // Large progress notifications as fast as it can, until cancelled (or 20 s).
    must(server.add_tool({.name = "flood",
                          .handler = [this](const json&, mcp::RequestContext& ctx) -> mcp::Result<mcp::CallToolResult> {
                            const std::string pad(16 * 1024, 'p');
                            const auto until = std::chrono::steady_clock::now() + 20s;
                            for (int i = 1; std::chrono::steady_clock::now() < until; ++i) {
                              if (ctx.cancelled()) {
                                ++cancelled;
                                return mcp::text_result("cancelled");
                              }
                              (void)ctx.progress(i, std::nullopt, pad);
                              if (i % 64 == 0) std::this_thread::sleep_for(1ms);
                            }
                            return mcp::text_result("flooded");
                          }}));
    must(server.add_tool({.name = "elicit",
                          .handler = [](const json&, mcp::RequestContext& ctx) -> mcp::Result<mcp::CallToolResult> {
                            mcp::ElicitRequest q;
                            q.message = "Your name?";
                            q.requested_schema = object_schema({{"name", {{"type", "string"}}}}, {"name"});
                            auto r = ctx.elicit(q);
                            if (!r) return mcp::fail(r.error());
                            return mcp::text_result(r->action + " " + r->content.value("name", ""));
                          }}));
    // The era, revision and session of the request.
    must(server.add_tool({.name = "whoami",
                          .handler = [](const json&, mcp::RequestContext& ctx) -> mcp::Result<mcp::CallToolResult> {
                            return mcp::text_result(std::string(mcp::to_string(ctx.era())) + " " + ctx.protocol_version() +
                                                    " [" + ctx.session_id() + "]");
                          }}));
  }
};

mcp::ServerConfig http_server(const std::string& url, mcp::Era era,
                              mcp::HttpTransportKind kind = mcp::HttpTransportKind::streamable_http) {
  mcp::HttpServerConfig h;
  h.url = url;
  h.transport = kind;
  mcp::ServerConfig sc;
  sc.transport = std::move(h);
  sc.era = era;
  return sc;
}

std::string call_text(mcp::Client& client, const std::string& tool, const json& args = json::object(),
                      const mcp::RequestOptions& ro = {}) {
  auto r = client.call_tool("s", tool, args, ro);
  REQUIRE_MESSAGE(r, (r ? "" : r.error().message));
  return r->text();
}

const json kMeta{{"io.modelcontextprotocol/protocolVersion", "2026-07-28"},
                 {"io.modelcontextprotocol/clientCapabilities", json::object()}};

// A modern tools/call as httplib's client sends it: body and headers.
std::pair<std::string, httplib::Headers> modern_call(const std::string& tool, json args, bool progress = false) {
  json params{{"name", tool}, {"arguments", std::move(args)}, {"_meta", kMeta}};
  if (progress) params["_meta"]["progressToken"] = "p";
  const json body{{"jsonrpc", "2.0"}, {"id", 1}, {"method", "tools/call"}, {"params", params}};
  return {body.dump(),
          {{"Accept", "application/json, text/event-stream"},
           {"MCP-Protocol-Version", "2026-07-28"},
           {"Mcp-Method", "tools/call"},
           {"Mcp-Name", tool}}};
}

}  // namespace

TEST_CASE("mounted in an httplib server: our client in each era; session_id; progress on a legacy SSE reply; elicitation") {
  App app;
  // The application's own route.
  httplib::Client web("127.0.0.1", app.port);
  auto health = web.Get("/health");
  REQUIRE(health);
  CHECK(health->status == 200);
  CHECK(health->body == "ok");

  {  // 2026-07-28: stateless, no session.
    auto client = mcp::Client::create(testutil::one("s", http_server(app.url(), mcp::Era::modern)));
    REQUIRE_MESSAGE(client, (client ? "" : client.error().message));
    auto tools = client->list_tools();
    REQUIRE(tools);
    CHECK(tools->count("s_echo"));
    CHECK(call_text(*client, "echo", {{"text", "hi"}}) == "hi");
    CHECK(call_text(*client, "whoami") == "modern 2026-07-28 []");
    std::vector<double> progress;
    mcp::RequestOptions ro;
    ro.on_progress = [&](const mcp::Progress& p) { progress.push_back(p.progress); };
    CHECK(call_text(*client, "sleep", {{"ms", 300}}, ro) == "300");
    CHECK(progress.size() >= 2);
    CHECK(app.host.session_count() == 0);
    client->disconnect();
  }
  {  // 2025-11-25: a session (Mcp-Session-Id), its id in the handler's context.
    auto cfg = testutil::one("s", http_server(app.url(), mcp::Era::legacy));
    cfg.handlers.elicitation = [](const std::string&, const mcp::ElicitRequest& r) -> mcp::Result<mcp::ElicitResult> {
      if (r.message != "Your name?") return mcp::fail(mcp::Errc::invalid_argument, "unexpected question");
      return mcp::ElicitResult{.action = "accept", .content = {{"name", "Ada"}}};
    };
    auto client = mcp::Client::create(std::move(cfg));
    REQUIRE_MESSAGE(client, (client ? "" : client.error().message));
    const auto who = call_text(*client, "whoami");
    CHECK(who.rfind("legacy 2025-11-25 [", 0) == 0);
    CHECK(who.size() > std::string("legacy 2025-11-25 []").size());  // a session id
    CHECK(call_text(*client, "whoami") == who);                        // the same session
    CHECK(app.host.session_count() == 1);
    std::vector<double> progress;
    mcp::RequestOptions ro;
    ro.on_progress = [&](const mcp::Progress& p) { progress.push_back(p.progress); };
    CHECK(call_text(*client, "sleep", {{"ms", 300}}, ro) == "300");  // its answer on an event stream
    CHECK(progress.size() >= 2);
    CHECK(std::is_sorted(progress.begin(), progress.end()));
    // The handler's request to the client goes on the POST's stream; the answer comes by POST.
    CHECK(call_text(*client, "elicit") == "accept Ada");
    client->disconnect();  // DELETE
    CHECK(testutil::eventually([&] { return app.host.session_count() == 0; }));
  }
  {  // 2024-11-05 HTTP+SSE: GET /sse, POST /messages?sessionId=...
    auto client = mcp::Client::create(testutil::one("s", http_server(app.base() + "/sse", mcp::Era::legacy, mcp::HttpTransportKind::sse)));
    REQUIRE_MESSAGE(client, (client ? "" : client.error().message));
    const auto who = call_text(*client, "whoami");
    CHECK(who.rfind("legacy ", 0) == 0);
    CHECK(who.find(" [") != std::string::npos);
    CHECK(who.find("[]") == std::string::npos);  // the HTTP+SSE session's id
    CHECK(call_text(*client, "echo", {{"text", "old"}}) == "old");
    CHECK(app.host.session_count() == 1);
    client->disconnect();
    CHECK(testutil::eventually([&] { return app.host.session_count() == 0; }));
  }
  // Still the application's.
  health = web.Get("/health");
  REQUIRE(health);
  CHECK(health->body == "ok");
}

TEST_CASE("mounted in an httplib server: faults (disconnect cancels, 413, unknown session 404, refusals, stop)") {
  mcp::HttpServerOptions opt;
  opt.max_body_bytes = 4096;
  App app(opt);

  SUBCASE("a client that leaves mid-stream cancels the handler; the app's routes go on") {
    auto [body, headers] = modern_call("sleep", {{"ms", 10000}}, true);
    httplib::Request req;
    req.method = "POST";
    req.path = "/mcp";
    req.headers = headers;
    req.body = body;
    req.set_header("Content-Type", "application/json");
    std::string got;
    req.content_receiver = [&](const char* data, size_t n, uint64_t, uint64_t) {
      got.append(data, n);
      return got.find("notifications/progress") == std::string::npos;  // leave at the first event
    };
    httplib::Client c("127.0.0.1", app.port);
    httplib::Response res;
    httplib::Error err = httplib::Error::Success;
    const auto t0 = std::chrono::steady_clock::now();
    CHECK_FALSE(c.send(req, res, err));
    CHECK(err == httplib::Error::Canceled);
    CHECK(got.find("notifications/progress") != std::string::npos);
    CHECK(testutil::eventually([&] { return app.cancelled == 1; }, 5000));
    CHECK(testutil::ms_since(t0) < 5000);
    httplib::Client web("127.0.0.1", app.port);
    auto health = web.Get("/health");
    REQUIRE(health);
    CHECK(health->status == 200);
  }
  SUBCASE("a client that does not read its stream loses it (the adapter's bounded queue): the handler is cancelled") {
    auto [body, headers] = modern_call("flood", json::object(), true);
    std::string text = "POST /mcp HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n";
    for (const auto& [k, v] : headers) text += k + ": " + v + "\r\n";
    text += "Content-Length: " + std::to_string(body.size()) + "\r\n\r\n" + body;
    const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    REQUIRE(fd >= 0);
    int size = 4096;  // a small receive buffer: the kernel holds little for us
    ::setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &size, sizeof size);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_port = htons(static_cast<unsigned short>(app.port));
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    REQUIRE(::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0);
    REQUIRE(::send(fd, text.data(), text.size(), MSG_NOSIGNAL) == static_cast<ssize_t>(text.size()));
    CHECK(testutil::eventually([&] { return app.cancelled == 1; }, 10000));  // never read
    ::close(fd);
    httplib::Client web("127.0.0.1", app.port);
    auto health = web.Get("/health");
    REQUIRE(health);
    CHECK(health->status == 200);
  }
  SUBCASE("413, 415, 406, a header mismatch, an unknown session, a foreign Host") {
    httplib::Client c("127.0.0.1", app.port);
    const httplib::Headers accept{{"Accept", "application/json, text/event-stream"}};
    auto big = c.Post("/mcp", accept, std::string(5000, ' ') + "{}", "application/json");
    REQUIRE(big);
    CHECK(big->status == 413);
    auto type = c.Post("/mcp", accept, "{}", "text/plain");
    REQUIRE(type);
    CHECK(type->status == 415);
    auto [body, headers] = modern_call("echo", {{"text", "x"}});
    headers.erase("Mcp-Name");
    headers.emplace("Mcp-Name", "other");
    auto mismatch = c.Post("/mcp", headers, body, "application/json");
    REQUIRE(mismatch);
    CHECK(mismatch->status == 400);
    CHECK(json::parse(mismatch->body)["error"]["code"] == -32020);
    headers.erase("Mcp-Name");
    headers.emplace("Mcp-Name", "echo");
    auto ok = c.Post("/mcp", headers, body, "application/json");
    REQUIRE(ok);
    CHECK(ok->status == 200);
    CHECK(ok->get_header_value("Content-Type") == "application/json");
    CHECK(json::parse(ok->body)["result"]["content"][0]["text"] == "x");
    const json list{{"jsonrpc", "2.0"}, {"id", 2}, {"method", "tools/list"}};
    auto unknown = c.Post("/mcp", {{"Accept", "application/json, text/event-stream"}, {"Mcp-Session-Id", "nope"}},
                          list.dump(), "application/json");
    REQUIRE(unknown);
    CHECK(unknown->status == 404);
    auto get_unknown = c.Get("/mcp", {{"Accept", "text/event-stream"}, {"Mcp-Session-Id", "nope"}});
    REQUIRE(get_unknown);
    CHECK(get_unknown->status == 404);
    auto del_unknown = c.Delete("/mcp", {{"Mcp-Session-Id", "nope"}});
    REQUIRE(del_unknown);
    CHECK(del_unknown->status == 404);
    auto rebinding = c.Post("/mcp", {{"Host", "evil.example"}, {"Accept", "application/json, text/event-stream"}}, list.dump(),
                            "application/json");
    REQUIRE(rebinding);
    CHECK(rebinding->status == 403);
    auto messages = c.Post("/messages?sessionId=nope", list.dump(), "application/json");
    REQUIRE(messages);
    CHECK(messages->status == 404);
  }
  SUBCASE("stop() ends an open stream and the requests after it get 503") {
    auto [body, headers] = modern_call("sleep", {{"ms", 10000}}, true);
    std::atomic<bool> streaming{false};
    std::thread caller([&, body = body, headers = headers] {
      httplib::Request req;
      req.method = "POST";
      req.path = "/mcp";
      req.headers = headers;
      req.body = body;
      req.set_header("Content-Type", "application/json");
      req.content_receiver = [&](const char*, size_t, uint64_t, uint64_t) {
        streaming = true;
        return true;
      };
      httplib::Client c("127.0.0.1", app.port);
      c.set_read_timeout(20, 0);
      httplib::Response res;
      httplib::Error err = httplib::Error::Success;
      (void)c.send(req, res, err);
    });
    REQUIRE(testutil::eventually([&] { return streaming.load(); }, 5000));
    const auto t0 = std::chrono::steady_clock::now();
    app.host.stop();
    CHECK(testutil::eventually([&] { return app.cancelled == 1; }));  // stop() cancels what is in flight ...
    caller.join();              // ... and the stream ends
    CHECK(testutil::ms_since(t0) < 5000);
    httplib::Client c("127.0.0.1", app.port);
    auto after = c.Post("/mcp", headers, body, "application/json");
    REQUIRE(after);
    CHECK(after->status == 503);
  }
}

namespace {

// A sink of the test's own: what the host sent, and on which threads.
struct Recorder final : mcp::HttpResponseSink {
  std::mutex m;
  std::condition_variable cv;
  int status = 0, starts = 0, ends = 0;
  bool stream = false;
  std::vector<mcp::HttpHeader> headers;
  std::string body;
  bool accept_writes = true;
  void start(int s, const std::vector<mcp::HttpHeader>& h, bool st) override {
    std::lock_guard lk(m);
    ++starts;
    status = s;
    headers = h;
    stream = st;
    cv.notify_all();
  }
  bool write(std::string_view bytes) override {
    std::lock_guard lk(m);
    body.append(bytes);
    cv.notify_all();
    return accept_writes;
  }
  void end() override {
    std::lock_guard lk(m);
    ++ends;
    cv.notify_all();
  }
  template <class P>
  bool wait(P pred, std::chrono::milliseconds d = 5000ms) {
    std::unique_lock lk(m);
    return cv.wait_for(lk, d, pred);
  }
  std::string header(const std::string& name) {
    std::lock_guard lk(m);
    for (const auto& [k, v] : headers)
      if (k == name) return v;
    return {};
  }
};

mcp::MountedRequest mounted_post(const std::string& body, std::vector<mcp::HttpHeader> extra = {}) {
  mcp::MountedRequest r{.method = "POST", .target = "/mcp", .headers = {{"Host", "localhost:1"}, {"Content-Type", "application/json"}}, .body = body};
  r.headers.insert(r.headers.end(), extra.begin(), extra.end());
  return r;
}

}  // namespace

TEST_CASE("HttpHost::serve with an application's sink: start, writes, end exactly once; 503 when not running; gone cancels") {
  mcp::Server server({.identity = {.name = "sinks", .version = "1"}});
  REQUIRE(server.add_tool({.name = "wait",
                           .handler = [](const json&, mcp::RequestContext& ctx) -> mcp::Result<mcp::CallToolResult> {
                             for (int i = 0; i < 1000 && !ctx.cancelled(); ++i) {
                               (void)ctx.progress(i);
                               std::this_thread::sleep_for(10ms);
                             }
                             return mcp::text_result(ctx.cancelled() ? "cancelled" : "done");
                           }}));
  mcp::HttpHost host(server);
  const auto [call_body, call_headers] = modern_call("wait", json::object(), true);
  std::vector<mcp::HttpHeader> headers(call_headers.begin(), call_headers.end());

  // Not started: refused on the calling thread.
  auto early = std::make_shared<Recorder>();
  auto gone = host.serve(mounted_post(call_body, headers), early);
  CHECK(early->starts == 1);
  CHECK(early->status == 503);
  CHECK(early->ends == 1);
  gone();  // harmless

  REQUIRE(host.start_mounted());
  CHECK(host.port() == 0);  // nothing bound
  CHECK_FALSE(host.start_mounted());

  // A whole answer: one start (not a stream), the body, one end.
  const json list{{"jsonrpc", "2.0"}, {"id", 1}, {"method", "tools/list"}, {"params", {{"_meta", kMeta}}}};
  auto whole = std::make_shared<Recorder>();
  (void)host.serve(mounted_post(list.dump(), {{"MCP-Protocol-Version", "2026-07-28"}, {"Mcp-Method", "tools/list"}}), whole);
  REQUIRE(whole->wait([&] { return whole->ends == 1; }));
  CHECK(whole->starts == 1);
  CHECK(whole->status == 200);
  CHECK_FALSE(whole->stream);
  CHECK(whole->header("Content-Type") == "application/json");
  CHECK(json::parse(whole->body)["result"]["tools"][0]["name"] == "wait");

  // A stream; the application says its client left: the handler is cancelled, the sink ended.
  auto streamed = std::make_shared<Recorder>();
  auto leave = host.serve(mounted_post(call_body, headers), streamed);
  REQUIRE(streamed->wait([&] { return streamed->body.find("notifications/progress") != std::string::npos; }));
  CHECK(streamed->stream);
  CHECK(streamed->header("Content-Type") == "text/event-stream");
  leave();
  REQUIRE(streamed->wait([&] { return streamed->ends == 1; }));
  CHECK(streamed->starts == 1);

  // A sink that refuses a write is a client gone too.
  auto refusing = std::make_shared<Recorder>();
  refusing->accept_writes = false;
  (void)host.serve(mounted_post(call_body, headers), refusing);
  REQUIRE(refusing->wait([&] { return refusing->ends == 1; }));

  // Another path: 404; stop(): later exchanges get 503.
  auto elsewhere = std::make_shared<Recorder>();
  auto req = mounted_post(list.dump());
  req.target = "/other";
  (void)host.serve(std::move(req), elsewhere);
  REQUIRE(elsewhere->wait([&] { return elsewhere->ends == 1; }));
  CHECK(elsewhere->status == 404);
  host.stop();
  auto late = std::make_shared<Recorder>();
  (void)host.serve(mounted_post(list.dump()), late);
  CHECK(late->status == 503);
  CHECK(late->ends == 1);
  leave();  // after stop(): harmless
}

namespace {

// A GET on the mounted endpoint, read until the body holds `until` (then the client leaves) or
// the stream ends; `opened` runs once the stream has its first bytes. Status and body.
std::pair<int, std::string> get_stream(int port, const httplib::Headers& headers, const std::string& until,
                                       const std::function<void()>& opened = {}) {
  httplib::Client c("127.0.0.1", port);
  c.set_read_timeout(10, 0);
  std::string got;
  bool told = false;
  auto res = c.Get("/mcp", headers, [&](const char* data, size_t n) {
    got.append(data, n);
    if (!told && opened) {
      told = true;
      opened();
    }
    return got.find(until) == std::string::npos;
  });
  return {res ? res->status : (got.find(until) != std::string::npos ? 200 : 0), got};
}

// The id of the event that carries `what`.
std::string event_id_of(const std::string& body, const std::string& what) {
  const auto at = body.find(what);
  if (at == std::string::npos) return {};
  const auto id = body.rfind("id: ", at);
  if (id == std::string::npos) return {};
  return body.substr(id + 4, body.find('\n', id) - id - 4);
}

}  // namespace

TEST_CASE("mounted in an httplib server: a session's GET stream, left by its client and resumed with Last-Event-ID") {
  App app;
  httplib::Client c("127.0.0.1", app.port);
  const json init{{"jsonrpc", "2.0"},
                  {"id", 1},
                  {"method", "initialize"},
                  {"params", {{"protocolVersion", "2025-11-25"}, {"capabilities", json::object()}, {"clientInfo", {{"name", "raw"}, {"version", "0"}}}}}};
  auto r = c.Post("/mcp", {{"Accept", "application/json, text/event-stream"}}, init.dump(), "application/json");
  REQUIRE(r);
  REQUIRE(r->status == 200);
  const auto sid = r->get_header_value("Mcp-Session-Id");
  REQUIRE_FALSE(sid.empty());
  auto tool = [](const char* name) {
    return mcp::ServerTool{.name = name, .handler = [](const json&, mcp::RequestContext&) -> mcp::Result<mcp::CallToolResult> {
                             return mcp::text_result("late");
                           }};
  };
  const httplib::Headers get{{"Accept", "text/event-stream"}, {"Mcp-Session-Id", sid}};
  // Primed at once; the list change comes on it with an id; then the client leaves.
  auto [status, first] = get_stream(app.port, get, "list_changed", [&] { REQUIRE(app.server.add_tool(tool("late1"))); });
  CHECK(status == 200);
  const auto first_id = event_id_of(first, "list_changed");
  REQUIRE_FALSE(first_id.empty());
  REQUIRE(app.server.add_tool(tool("late2")));  // kept for the stream while nobody reads it
  // Resumed (once the host saw the first client go: 409 until then): the later change replayed.
  httplib::Headers resume = get;
  resume.emplace("Last-Event-ID", first_id);
  std::pair<int, std::string> again;
  CHECK(testutil::eventually([&] {
    again = get_stream(app.port, resume, "list_changed");
    return again.first != 409;
  }, 5000));
  CHECK(again.first == 200);
  const auto replayed = event_id_of(again.second, "list_changed");
  CHECK_FALSE(replayed.empty());
  CHECK(replayed != first_id);
  CHECK(get_stream(app.port, {{"Accept", "text/event-stream"}, {"Mcp-Session-Id", sid}, {"Last-Event-ID", "nope"}}, "\n").first == 400);
}
