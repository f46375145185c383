// Issue 14, hostile servers: deeply nested JSON, replies that cannot be parsed, and
// amplification within the message limit. Real fixture processes over stdio and HTTP.
#include "helpers.hpp"
#include "transports.hpp"
#include "../unit/json_same.hpp"

#include "../../lib/protocol/json_read.hpp"  // private header: the limits under test

#include <doctest/doctest.h>

#include <malloc.h>
#include <pthread.h>

#include <atomic>
#include <fstream>
#include <functional>
#include <mutex>
#include <string>
#include <vector>

using namespace std::chrono_literals;
using nlohmann::json;
using testutil::fault;
using testutil::one;
using mcp_test::depth_of;
using testutil::Over;

namespace {

using Clock = std::chrono::steady_clock;
using testutil::ms_since;

mcp::Client make_client(mcp::ClientConfig cfg) {
  auto c = mcp::Client::create(std::move(cfg));
  REQUIRE_MESSAGE(c.has_value(), (c ? "" : c.error().what()));
  return std::move(*c);
}

// A part of a raw line for the fixtures' "raw" tool.
json text(const std::string& t, long long repeat = 1) { return json{{"text", t}, {"repeat", repeat}}; }

// `before` + `levels` nested arrays + `after`, as one line.
json deep_line(const std::string& before, int levels, const std::string& after) {
  return json::array({text(before), text("[", levels), text("]", levels), text(after)});
}

// A reply to the raw call whose structuredContent nests `levels` arrays (the message: 2 more).
json deep_reply(int levels) {
  return deep_line("{\"jsonrpc\":\"2.0\",\"id\":$ID,\"result\":{\"content\":[],\"structuredContent\":", levels, "}}");
}


struct Diags {
  std::mutex m;
  std::vector<std::string> lines;
  bool any(const std::string& part) {
    std::lock_guard lk(m);
    for (const auto& l : lines)
      if (l.find(part) != std::string::npos) return true;
    return false;
  }
};

mcp::ClientConfig config_for(mcp::ServerConfig server, Diags* diags) {
  auto cfg = one("s", std::move(server));
  cfg.request_timeout = 20s;  // a reply that is waited for instead of failed shows as a slow test
  if (diags)
    cfg.on_diagnostic = [diags](std::string_view, std::string_view msg) {
      std::lock_guard lk(diags->m);
      diags->lines.emplace_back(msg);
    };
  return cfg;
}

mcp::ClientConfig stdio_config(Diags* diags, std::vector<std::string> args = {"--era", "legacy"}) {
  return config_for(fault(std::move(args)), diags);
}

constexpr int kMax = mcp::detail::kMaxJsonDepth;

}  // namespace

TEST_CASE("nest: 60,000-deep notifications, stray messages, ids and server requests are refused, not a crash") {
  const int n = 60000;
  for (const char* era : {"legacy", "modern"}) {
    CAPTURE(era);
    Diags diags;
    auto client = make_client(stdio_config(&diags, {"--era", era}));
    json lines = json::array({
        deep_line("{\"jsonrpc\":\"2.0\",\"method\":\"notifications/message\",\"params\":{\"level\":\"info\",\"data\":", n, "}}"),
        deep_line("{\"jsonrpc\":\"2.0\",\"stray\":", n, "}"),                           // neither id nor method
        deep_line("{\"jsonrpc\":\"2.0\",\"id\":", n, ",\"result\":{}}"),                // a response with a deep id
        deep_line("{\"jsonrpc\":\"2.0\",\"id\":", n, ",\"method\":\"ping\"}"),          // a request with a deep id
        deep_line("{\"jsonrpc\":\"2.0\",\"id\":$ID,\"method\":\"ping\",\"params\":", n, "}"),  // our id, but a request
    });
    auto r = client.call_tool("s", "raw", {{"lines", lines}, {"reply", true}});
    REQUIRE_MESSAGE(r, (r ? "" : r.error().what()));
    CHECK(r->text() == "raw sent");
    CHECK(diags.any("nests deeper than 128 levels"));
  }
  // A modern input_required result whose requestState nests past the limit.
  Diags diags;
  auto client = make_client(stdio_config(&diags, {"--era", "modern"}));
  auto r = client.call_tool(
      "s", "raw",
      {{"lines", {deep_line("{\"jsonrpc\":\"2.0\",\"id\":$ID,\"result\":{\"resultType\":\"input_required\",\"requestState\":", n, "}}")}}});
  REQUIRE_FALSE(r);
  CHECK(r.error().errc() == mcp::Errc::invalid_message);
}

namespace {
struct ThreadCall {
  mcp::Client* client;
  int levels;
  bool ok = false;
  int depth = -1;
  mcp::Errc errc{};
};
void* call_on_small_stack(void* arg) {
  auto* t = static_cast<ThreadCall*>(arg);
  auto r = t->client->call_tool("s", "raw", {{"lines", {deep_reply(t->levels)}}});
  t->ok = r.has_value();
  if (r && r->structured_content) t->depth = depth_of(*r->structured_content);
  if (!r) t->errc = r.error().errc();
  return nullptr;
}
}  // namespace

TEST_CASE("nest: a call from a thread with a 256 KiB stack gets structuredContent at the limit; deeper fails") {
  // Before the limit, 2,000 levels (4 KB) crashed such a thread in an optimised build.
  for (const char* era : {"legacy", "modern"}) {
    CAPTURE(era);
    auto client = make_client(stdio_config(nullptr, {"--era", era}));
    REQUIRE(client.call_tool("s", "echo", {{"message", "connect first"}}));
    for (const int levels : {kMax - 2, 2000, 60000}) {
      CAPTURE(levels);
      ThreadCall call{&client, levels};
      pthread_attr_t attr;
      pthread_attr_init(&attr);
      pthread_attr_setstacksize(&attr, 256 * 1024);
      pthread_t th;
      REQUIRE(pthread_create(&th, &attr, call_on_small_stack, &call) == 0);
      pthread_join(th, nullptr);
      pthread_attr_destroy(&attr);
      if (levels <= kMax) {
        CHECK(call.ok);
        CHECK(call.depth == levels);
      } else {
        CHECK_FALSE(call.ok);
        CHECK(call.errc == mcp::Errc::invalid_message);
      }
    }
  }
}

TEST_CASE("nest: replies nested past the limit fail their call at once, over stdio and over HTTP as a JSON body "
          "and as an SSE event; at the limit they arrive") {
  for (const Over over : testutil::kBothTransports) {
    CAPTURE(over);
    testutil::Served s(over, {"--era", "legacy"}, {"--mode", "modern"});
    Diags diags;
    auto client = make_client(config_for(s.server(), &diags));
    for (const bool sse : {false, true}) {
      if (sse && !s.http()) continue;
      CAPTURE(sse);
      {
        auto r = client.call_tool("s", "raw", {{"lines", {deep_reply(kMax - 2)}}, {"sse", sse}});
        REQUIRE_MESSAGE(r, (r ? "" : r.error().what()));
        REQUIRE(r->structured_content);
        CHECK(depth_of(*r->structured_content) == kMax - 2);
      }
      for (const int levels : {kMax - 1, 60000}) {
        CAPTURE(levels);
        const auto t0 = Clock::now();
        auto r = client.call_tool("s", "raw", {{"lines", {deep_reply(levels)}}, {"sse", sse}});
        REQUIRE_FALSE(r);
        CHECK(r.error().errc() == mcp::Errc::invalid_message);
        CHECK(r.error().message.find("nests deeper than 128 levels") != std::string::npos);
        CHECK(ms_since(t0) < 5000);  // not the 20 s timeout
      }
    }
    if (s.http()) {
      // Before the reply on the SSE stream: a deep notification and a stray message, refused.
      const int n = 60000;
      json lines = json::array({
          deep_line("{\"jsonrpc\":\"2.0\",\"method\":\"notifications/message\",\"params\":{\"level\":\"info\",\"data\":", n, "}}"),
          deep_line("{\"jsonrpc\":\"2.0\",\"stray\":", n, "}"),
          deep_line("{\"jsonrpc\":\"2.0\",\"id\":", n, ",\"result\":{}}"),
          json::array({text("{\"jsonrpc\":\"2.0\",\"id\":$ID,\"result\":{\"resultType\":\"complete\",\"content\":[{\"type\":\"text\",\"text\":\"after\"}]}}")}),
      });
      auto r = client.call_tool("s", "raw", {{"lines", lines}, {"sse", true}});
      REQUIRE_MESSAGE(r, (r ? "" : r.error().what()));
      CHECK(r->text() == "after");
      CHECK(diags.any("an SSE event nests deeper than 128 levels"));
    }
    CHECK(diags.any("nests deeper than 128 levels"));
    auto ok = client.call_tool("s", "echo", {{"message", "still here"}});
    REQUIRE(ok);
    CHECK(ok->text() == "still here");
  }
}

namespace {
json hex(const std::string& h) { return json{{"hex", h}}; }

// A reply to the raw call with one text block: `before`, the bytes in hex, `after`.
json text_reply(const std::string& before, const std::string& bytes, const std::string& after) {
  return json::array({text("{\"jsonrpc\":\"2.0\",\"id\":$ID,\"result\":{\"resultType\":\"complete\",\"content\":[{\"type\":\"text\",\"text\":\"" + before),
                      hex(bytes), text(after + "\"}]}}")});
}

// Each of `lines`, as the raw reply to `call`, fails that call as invalid_message at once (not
// at its timeout), and the connection stays usable.
void check_unreadable(mcp::Client& client, const std::function<mcp::Result<mcp::CallToolResult>(const json&)>& call,
                      const std::vector<json>& lines) {
  for (const json& line : lines) {
    CAPTURE(line.dump());
    const auto t0 = Clock::now();
    auto r = call(line);
    REQUIRE_FALSE(r);
    CHECK(r.error().errc() == mcp::Errc::invalid_message);
    CHECK(ms_since(t0) < 3000);
  }
  auto ok = client.call_tool("s", "echo", {{"message", "fine"}});
  REQUIRE_MESSAGE(ok, (ok ? "" : ok.error().what()));
}
}  // namespace

TEST_CASE("nest: replies with invalid UTF-8 or a lone surrogate are repaired; other unparsable replies fail at once") {
  const std::string fffd = "\xEF\xBF\xBD";
  for (const Over over : testutil::kBothTransports) {
    for (const bool sse : {false, true}) {
      if (sse && over != Over::http) continue;
      CAPTURE(over);
      CAPTURE(sse);
      testutil::Served s(over, {"--era", "legacy"}, {"--mode", "modern"});
      auto cfg = config_for(s.server(), nullptr);
      cfg.request_timeout = 6s;
      auto client = make_client(std::move(cfg));
      auto call = [&](const json& line) {
        return client.call_tool("s", "raw", {{"lines", json::array({line})}, {"sse", sse}});
      };
      // A Latin-1 tool output, and an unpaired surrogate escape: read as U+FFFD, as Node does.
      auto latin1 = call(text_reply("caf", "e9", " ok"));
      REQUIRE_MESSAGE(latin1, (latin1 ? "" : latin1.error().what()));
      CHECK(latin1->text() == "caf" + fffd + " ok");
      auto surrogate = call(text_reply("a\\ud800b", "", ""));
      REQUIRE_MESSAGE(surrogate, (surrogate ? "" : surrogate.error().what()));
      CHECK(surrogate->text() == "a" + fffd + "b");
      // A raw NUL, a number out of range, a cut-off reply: the call fails now, not at its timeout.
      check_unreadable(client, call,
                       {text_reply("a", "00", "b"),
                        json::array({text("{\"jsonrpc\":\"2.0\",\"id\":$ID,\"result\":{\"content\":[],\"n\":1e999999}}")}),
                        json::array({text("{\"jsonrpc\":\"2.0\",\"id\":$ID,\"result\":{\"content\":[")})});
    }
  }
}

namespace {
// VmHWM or VmRSS of this process, in bytes.
std::size_t status_kib(const char* field) {
  std::ifstream in("/proc/self/status");
  std::string line;
  const std::string key = std::string(field) + ":";
  while (std::getline(in, line))
    if (line.rfind(key, 0) == 0) return std::stoul(line.substr(key.size())) * 1024;
  return 0;
}
}  // namespace

namespace {
// Bytes in use by glibc's malloc (under a sanitizer, which has its own allocator: about 0).
std::size_t malloc_in_use() {
  const auto m = ::mallinfo2();
  return m.uordblks + m.hblkhd;
}
}  // namespace

TEST_CASE("nest: a 16 MiB reply of [[],[],...] is refused for its value count, at a bounded memory cost") {
  // Before the cap, each 3 bytes became a 16-byte value and a heap vector: 5.6 million of them
  // cost over 300 MB for one 16 MiB message (11 GiB at the old 256 MiB default).
  const std::size_t limit = 16u << 20;
  auto cfg = stdio_config(nullptr);
  std::get<mcp::StdioServerConfig>(cfg.servers.begin()->second.transport).max_message_bytes = limit;
  auto client = make_client(std::move(cfg));
  REQUIRE(client.call_tool("s", "echo", {{"message", "connect first"}}));
  const long long items = (limit - 200) / 3;
  const json line = json::array({text("{\"jsonrpc\":\"2.0\",\"id\":$ID,\"result\":{\"content\":[],\"structuredContent\":["),
                                 text("[],", items - 1), text("[]]}}")});
  std::ofstream clear("/proc/self/clear_refs");
  const bool reset = static_cast<bool>(clear << "5" << std::flush);  // VmHWM := VmRSS
  const std::size_t before = reset ? status_kib("VmRSS") : status_kib("VmHWM");
  const auto t0 = Clock::now();
  auto r = client.call_tool("s", "raw", {{"lines", json::array({line})}});
  const std::size_t grew = status_kib("VmHWM") - before;
  MESSAGE("peak RSS grew by " << grew / 1024 << " KiB for a " << limit / 1024 << " KiB message");
  REQUIRE_FALSE(r);
  CHECK(r.error().errc() == mcp::Errc::message_too_large);
  CHECK(r.error().message.find("holds more than 1048576 JSON values") != std::string::npos);
  CHECK(ms_since(t0) < 10000);
  CHECK(grew < 6 * limit);  // the line, as read (16.3 MiB in an optimised build)
  // At the default limit, the cap is 2 Mi values.
  CHECK(mcp::StdioServerConfig{}.max_message_bytes == (32u << 20));
  CHECK(mcp::HttpServerConfig{}.max_message_bytes == (32u << 20));
}

TEST_CASE("nest: a JSON-RPC error code outside 32 bits is reported as sent, not truncated") {
  auto client = make_client(stdio_config(nullptr));
  auto error_with = [&](const std::string& code) {
    const json line = json::array({text("{\"jsonrpc\":\"2.0\",\"id\":$ID,\"error\":{\"code\":" + code + ",\"message\":\"boom\"}}")});
    auto r = client.call_tool("s", "raw", {{"lines", json::array({line})}});
    REQUIRE_FALSE(r);
    CHECK(r.error().errc() == mcp::Errc::rpc_error);
    return r.error();
  };
  for (const std::string code : {"4294967297", "-4294967296", "2147483648", "-2147483649", "18446744073709551615"}) {
    CAPTURE(code);
    const auto e = error_with(code);
    CHECK_FALSE(e.rpc_code.has_value());
    CHECK(e.message.find("boom (the error code " + code + " is not a 32-bit JSON-RPC code)") != std::string::npos);
  }
  CHECK(error_with("-32602").rpc_code == -32602);
  CHECK(error_with("2147483647").rpc_code == 2147483647);
  CHECK(error_with("-2147483648").rpc_code == -2147483648LL);
}

TEST_CASE("nest: after a 16 MiB reply over stdio, no 16 MiB buffer stays with the connection") {
  auto client = make_client(stdio_config(nullptr));
  REQUIRE(client.call_tool("s", "echo", {{"message", "connect first"}}));
  const std::size_t before = malloc_in_use();
  {
    auto r = client.call_tool("s", "big", {{"bytes", 16u << 20}});
    REQUIRE(r);
    CHECK(r->text().size() == (16u << 20));
  }
  const std::size_t after = malloc_in_use();
  MESSAGE("in use after the reply: " << (after > before ? (after - before) / 1024 : 0) << " KiB more");
  CHECK(after < before + (4u << 20));
}

TEST_CASE("nest: a 16 MiB text result is held once while the caller has it") {
  // Before, the text was held three times: in the reply kept as CallToolResult::raw, in the
  // block's raw, and in ContentBlock::text (+48 MiB for 16 MiB of text).
  auto client = make_client(stdio_config(nullptr));
  REQUIRE(client.call_tool("s", "echo", {{"message", "connect first"}}));
  const std::size_t before = malloc_in_use();
  auto r = client.call_tool("s", "big", {{"bytes", 16u << 20}});
  const std::size_t held = malloc_in_use() - std::min(before, malloc_in_use());
  REQUIRE(r);
  REQUIRE(r->content.size() == 1);
  CHECK(r->content[0].text.size() == (16u << 20));
  CHECK(r->content[0].raw["text"] == "");
  MESSAGE("in use while the result is held: " << held / 1024 << " KiB more, for 16384 KiB of text");
  CHECK(held < (16u << 20) + (4u << 20));  // (under a sanitizer's allocator mallinfo reads about 0)
}

TEST_CASE("nest: legacy HTTP+SSE: an unreadable reply on the session stream fails its call at once") {
  testutil::Fixture fx({"--mode", "sse"});
  auto cfg = config_for(testutil::http_server(fx.url("/sse")), nullptr);
  cfg.request_timeout = 6s;
  auto client = make_client(std::move(cfg));
  auto call = [&](const json& line) { return client.call_tool("s", "raw", {{"lines", json::array({line})}}); };
  auto latin1 = call(text_reply("caf", "e9", ""));
  REQUIRE_MESSAGE(latin1, (latin1 ? "" : latin1.error().what()));
  CHECK(latin1->text() == "caf\xEF\xBF\xBD");
  check_unreadable(client, call, {text_reply("a", "00", "b"), deep_reply(60000)});
}
