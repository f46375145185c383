// Pure pieces of the HTTP transport: URL handling, header value encoding, x-mcp-header, and
// what each MCP message tells the transport (http_send_options), request heads.
#include "../../lib/client/http_send_facts.hpp"
#include "../../lib/client/http_transport.hpp"
#include "../../lib/client/http_transport_impl.hpp"
#include "../../lib/client/request_meta.hpp"
#include "../../lib/protocol/json_write.hpp"
#include "../../lib/client/tool_headers.hpp"

#include <doctest/doctest.h>

#include <map>

using nlohmann::json;
using namespace mcp::detail;
using mcp::SendOptions;

TEST_CASE("header values are encoded as the 2026-07-28 spec's examples show") {
  CHECK(encode_header_value("us-west1") == "us-west1");
  CHECK(encode_header_value("Hello, 世界") == "=?base64?SGVsbG8sIOS4lueVjA==?=");
  CHECK(encode_header_value(" padded ") == "=?base64?IHBhZGRlZCA=?=");
  CHECK(encode_header_value("line1\nline2") == "=?base64?bGluZTEKbGluZTI=?=");
  CHECK(encode_header_value("=?base64?literal?=") == "=?base64?PT9iYXNlNjQ/bGl0ZXJhbD89?=");
  CHECK(encode_header_value("") == "=?base64?\?=");
}

TEST_CASE("a session's _meta lent as text: the same request bytes as the tree, and the same version header") {
  // What the session sends (pipeline.cpp): params {name, arguments} with our _meta lent, in the
  // engine's envelope. Written with the text spliced in, and with the tree, for configurations
  // that exercise the writer (escapes, controls, UTF-8, nested raw members, a log level).
  for (int variant = 0; variant < 3; ++variant) {
    mcp::ClientConfig client;
    if (variant >= 1) {
      client.log_level = "warning";
      client.handlers.roots = [](const std::string&) { return std::vector<mcp::Root>{}; };
      client.client_info.name = "na\"me\\ \t\x01 caf\u00e9 \xF0\x9F\x98\x80";
      client.client_info.raw = json{{"deep", {{"a", json::array({1, -2, 3000000000ULL, true, nullptr, "\u00e9"})}}}};
    }
    if (variant == 2) client.handlers.elicitation = [](const std::string&, const mcp::ElicitRequest&) {
      return mcp::Result<mcp::ElicitResult>(mcp::ElicitResult{});
    };
    mcp::detail::RequestMeta meta(client);
    const std::string version = variant == 1 ? "2025-11-25" : "2026-07-28";
    auto tree = meta.shared(version);
    auto text = meta.shared_text(version);
    REQUIRE(text);
    CHECK(*text == tree->dump(-1, ' ', false, json::error_handler_t::replace));
    CHECK(meta.shared_text(version).get() == text.get());  // made once per version
    auto message = [](json params) {
      return json{{"jsonrpc", "2.0"}, {"id", 42}, {"method", "tools/call"}, {"params", std::move(params)}};
    };
    const json bare = {{"name", "echo"}, {"arguments", {{"text", "hi \"there\" \u00e9"}}}};
    json with_tree = bare;
    with_tree["_meta"] = *tree;
    std::string expected;
    REQUIRE(append_json(expected, message(with_tree)));
    for (int round = 0; round < 2; ++round) {  // the second lend reuses the thread's copy
      json params = bare;
      MetaLoan loan;
      loan.lend_text(params, text);
      CHECK(is_raw_json(params["_meta"]));
      CHECK(meta_protocol_version(params["_meta"]) == version);
      json m = message(std::move(params));
      std::string written;
      REQUIRE(append_json(written, m));
      CHECK(written == expected);
      CHECK(http_send_options(m, SendOptions{}).headers ==
            std::vector<std::pair<std::string, std::string>>{
                {"Mcp-Method", "tools/call"}, {"Mcp-Name", "echo"}, {"MCP-Protocol-Version", version}});
      params = std::move(m["params"]);
      loan.take_back(params);
      CHECK(params == bare);
    }
    CHECK(meta_protocol_version(*tree) == version);
  }
  // A binary value of the caller's own is written as nlohmann writes it, not spliced.
  json own = json::binary({1, 2, 3}, 7);
  CHECK_FALSE(is_raw_json(own));
  std::string out;
  REQUIRE(append_json(out, own));
  CHECK(out == own.dump());
  CHECK(raw_json_text(own).empty());
  CHECK(meta_protocol_version(own).empty());
  CHECK(meta_protocol_version(raw_json(R"({"a":",\"io.modelcontextprotocol/protocolVersion\":\"x\""})")).empty());
}

TEST_CASE("http_send_options: each message's headers and facts come from the session's side") {
  using Headers = std::vector<std::pair<std::string, std::string>>;
  SendOptions none;
  // A modern tools/call: method, name and the request's own protocol version, in that order.
  auto o = http_send_options(
      json{{"jsonrpc", "2.0"}, {"id", 7}, {"method", "tools/call"},
           {"params", {{"name", "get weather"}, {"_meta", {{"io.modelcontextprotocol/protocolVersion", "2026-07-28"}}}}}},
      none);
  CHECK(o.headers == Headers{{"Mcp-Method", "tools/call"}, {"Mcp-Name", "get weather"}, {"MCP-Protocol-Version", "2026-07-28"}});
  CHECK_FALSE(o.opens_session);
  CHECK_FALSE(o.session_ready);
  CHECK(o.cancels.is_null());
  CHECK_FALSE(o.uncounted);
  // prompts/get names its prompt, resources/read its URI (encoded when not plain); other
  // methods have no Mcp-Name. A _meta without a version adds none.
  o = http_send_options(json{{"id", 1}, {"method", "prompts/get"}, {"params", {{"name", "résumé"}}}}, none);
  CHECK(o.headers == Headers{{"Mcp-Method", "prompts/get"}, {"Mcp-Name", encode_header_value("résumé")}});
  o = http_send_options(json{{"id", 1}, {"method", "resources/read"}, {"params", {{"uri", "file:///a"}, {"_meta", json::object()}}}}, none);
  CHECK(o.headers == Headers{{"Mcp-Method", "resources/read"}, {"Mcp-Name", "file:///a"}});
  o = http_send_options(json{{"id", 1}, {"method", "tools/list"}, {"params", {{"name", "x"}}}}, none);
  CHECK(o.headers == Headers{{"Mcp-Method", "tools/list"}});
  // Name and version only from string values; params that are not an object give neither.
  o = http_send_options(json{{"id", 1}, {"method", "tools/call"}, {"params", {{"name", 3}, {"_meta", {{"io.modelcontextprotocol/protocolVersion", 1}}}}}}, none);
  CHECK(o.headers == Headers{{"Mcp-Method", "tools/call"}});
  o = http_send_options(json{{"id", 1}, {"method", "tools/call"}, {"params", json::array()}}, none);
  CHECK(o.headers == Headers{{"Mcp-Method", "tools/call"}});
  // A response (no method) and a non-object message carry nothing.
  CHECK(http_send_options(json{{"jsonrpc", "2.0"}, {"id", 4}, {"result", json::object()}}, none).headers.empty());
  CHECK(http_send_options(json::array(), none).headers.empty());
  // The caller's options are kept: its headers (Mcp-Param-*) after ours, its thread and stop.
  std::stop_source stop;
  SendOptions given;
  given.headers = {{"Mcp-Param-Region", "eu"}};
  given.on_caller_thread = true;
  given.stop = stop.get_token();
  o = http_send_options(json{{"id", 2}, {"method", "tools/call"}, {"params", {{"name", "t"}}}}, given);
  CHECK(o.headers == Headers{{"Mcp-Method", "tools/call"}, {"Mcp-Name", "t"}, {"Mcp-Param-Region", "eu"}});
  CHECK(o.on_caller_thread);
  stop.request_stop();
  CHECK(o.stop.stop_requested());
  // Session facts.
  CHECK(http_send_options(json{{"id", 0}, {"method", "initialize"}, {"params", json::object()}}, none).opens_session);
  CHECK(http_send_options(json{{"method", "notifications/initialized"}}, none).session_ready);
  o = http_send_options(json{{"method", "notifications/cancelled"}, {"params", {{"requestId", 9}, {"reason", "timed out"}}}}, none);
  CHECK(o.cancels == json(9));
  CHECK(o.uncounted);
  CHECK(o.headers == Headers{{"Mcp-Method", "notifications/cancelled"}});
  o = http_send_options(json{{"method", "notifications/cancelled"}, {"params", {{"requestId", "abc"}}}}, none);
  CHECK(o.cancels == json("abc"));
  for (const char* method : {"notifications/progress", "ping", "tools/call"}) {
    o = http_send_options(json{{"id", 1}, {"method", method}, {"params", {{"requestId", 9}}}}, none);
    CHECK_FALSE(o.opens_session);
    CHECK_FALSE(o.session_ready);
    CHECK(o.cancels.is_null());
    CHECK_FALSE(o.uncounted);
  }
}

TEST_CASE("URLs parse and resolve like a browser would for the SSE endpoint event") {
  auto u = parse_url("http://127.0.0.1:8080/a/sse?x=1");
  REQUIRE(u);
  CHECK(u->host == "127.0.0.1");
  CHECK(u->port == 8080);
  CHECK(u->target == "/a/sse?x=1");
  CHECK(parse_url("https://example.com")->port == 443);
  CHECK(parse_url("https://example.com")->target == "/");
  CHECK(parse_url("http://[::1]:9/x")->host == "::1");
  CHECK(parse_url("http://[::1]:9/x")->origin() == "http://[::1]:9");
  CHECK_FALSE(parse_url("ftp://x/"));
  CHECK_FALSE(parse_url("http://user:pw@host/"));
  CHECK_FALSE(parse_url("http://host:99999/"));
  CHECK_FALSE(parse_url("not a url"));
  CHECK(resolve_url(*u, "/messages?sessionId=1")->str() == "http://127.0.0.1:8080/messages?sessionId=1");
  CHECK(resolve_url(*u, "messages?s=2")->str() == "http://127.0.0.1:8080/a/messages?s=2");
  CHECK(resolve_url(*u, "http://other:1/m")->str() == "http://other:1/m");
  CHECK(resolve_url(*u, "?s=3")->str() == "http://127.0.0.1:8080/a/sse?s=3");
}

TEST_CASE("x-mcp-header: valid annotations are found with their property paths") {
  auto schema = json::parse(R"({"type":"object","properties":{
    "region":{"type":"string","x-mcp-header":"Region"},
    "query":{"type":"string"},
    "opts":{"type":"object","properties":{"tenant":{"type":"integer","x-mcp-header":"Tenant-Id"}}},
    "x-mcp-header":{"type":"boolean"}}})");
  auto h = param_headers(schema);
  REQUIRE(h);
  REQUIRE(h->size() == 2);
  auto values = param_header_values(*h, json{{"region", "us-west1"}, {"opts", {{"tenant", 42}}}, {"query", "q"}});
  REQUIRE(values);
  REQUIRE(values->size() == 2);
  std::map<std::string, std::string> got(values->begin(), values->end());
  CHECK(got["Mcp-Param-Region"] == "us-west1");
  CHECK(got["Mcp-Param-Tenant-Id"] == "42");
  // Missing and null values: header omitted. Non-ASCII: base64 sentinel.
  auto partial = param_header_values(*h, json{{"region", nullptr}});
  REQUIRE(partial);
  CHECK(partial->empty());
  auto encoded = param_header_values(*h, json{{"region", "Zürich"}});
  REQUIRE(encoded);
  CHECK((*encoded)[0].second.rfind("=?base64?", 0) == 0);
  auto too_big = param_header_values(*h, json{{"opts", {{"tenant", 9007199254740993LL}}}});
  CHECK_FALSE(too_big);
  auto b = param_headers(json::parse(R"({"properties":{"f":{"type":"boolean","x-mcp-header":"F"}}})"));
  REQUIRE(b);
  CHECK((*param_header_values(*b, json{{"f", false}}))[0].second == "false");
}

TEST_CASE("x-mcp-header: invalid annotations make the tool invalid") {
  auto bad = [](const char* text) {
    auto r = param_headers(json::parse(text));
    CHECK_FALSE_MESSAGE(r, text);
  };
  bad(R"({"properties":{"a":{"type":"number","x-mcp-header":"A"}}})");              // number not allowed
  bad(R"({"properties":{"a":{"type":"object","x-mcp-header":"A"}}})");
  bad(R"({"properties":{"a":{"type":"string","x-mcp-header":""}}})");               // empty
  bad(R"({"properties":{"a":{"type":"string","x-mcp-header":"Bad Name"}}})");       // not a token
  bad(R"({"properties":{"a":{"type":"string","x-mcp-header":"X\r\nY"}}})");
  bad(R"({"properties":{"a":{"type":"string","x-mcp-header":"Dup"},"b":{"type":"string","x-mcp-header":"dup"}}})");
  bad(R"({"properties":{"a":{"type":"array","items":{"type":"string","x-mcp-header":"A"}}}})");  // through items
  bad(R"({"anyOf":[{"properties":{"a":{"type":"string","x-mcp-header":"A"}}}]})");  // through anyOf
  bad(R"({"$defs":{"d":{"type":"string","x-mcp-header":"D"}}})");
  bad(R"({"type":"string","x-mcp-header":"Root"})");                                 // on the root itself
  // Data keywords are not schemas.
  CHECK(param_headers(json::parse(R"({"properties":{"a":{"type":"string","default":{"x-mcp-header":"no"}}}})")));
}

TEST_CASE("http origin: request targets hold only what RFC 3986 allows") {
  using mcp::detail::parse_url;
  using mcp::detail::resolve_url;
  auto base = parse_url("http://127.0.0.1:8080/a/sse");
  REQUIRE(base);
  CHECK(resolve_url(*base, "/m?s=1%20x&k=a:b@c")->target == "/m?s=1%20x&k=a:b@c");
  CHECK(resolve_url(*base, "/m#frag")->target == "/m");
  for (std::string bad : std::vector<std::string>{"/m\n/x", "/m\r\nX: 1", "/m x", "/m\t", std::string("/m\0x", 4), "/m%zz", "/m%4", "/m<x>",
                          "/m\"", "/m{}", "/m|", "/m\\x", "/m^", "/m`", "/\xc3\xa9", "/m\x7f"}) {
    CAPTURE(bad);
    CHECK_FALSE(resolve_url(*base, bad));
    CHECK_FALSE(parse_url("http://127.0.0.1:8080" + bad));
  }
  CHECK(parse_url("HTTP://LocalHost:8080/x")->origin() == "http://localhost:8080");
}

TEST_CASE("http request heads: fields borrowed or copied, replaced in place, and written in order") {
  Url url;
  url.scheme = "http";
  url.host = "127.0.0.1";
  url.port = 8080;
  url.target = "/mcp?x=1";
  std::string name = "X-Borrowed", value = "b1";
  Fields h;
  h.set_ref(name, value);
  h.set("Accept", "application/json");
  h.set("mcp-method", "tools/call");
  h.set_ref("MCP-Method", "ping");  // the first spelling keeps its place; the value changes
  h.set("X-Last", "z");
  REQUIRE(h.find("ACCEPT").has_value());
  CHECK(*h.find("accept") == "application/json");
  CHECK(*h.find("Mcp-Method") == "ping");
  CHECK_FALSE(h.find("Host").has_value());
  h.own();  // copies what it borrowed: the fields outlive it
  name.assign("X-Gone-Gone-Gone-Gone");
  value.assign("gone gone gone gone gone");
  const std::string body = R"({"jsonrpc":"2.0"})";
  std::string head = "left over from the last request, longer than the next one needs ...........................";
  request_head(head, "POST", url, h, "127.0.0.1:8080", &body);
  CHECK(head ==
        "POST /mcp?x=1 HTTP/1.1\r\nHost: 127.0.0.1:8080\r\nUser-Agent: mcp-cpp\r\nX-Borrowed: b1\r\n"
        "Accept: application/json\r\nmcp-method: ping\r\nX-Last: z\r\n"
        "Content-Type: application/json\r\nContent-Length: 17\r\n\r\n");
  // A configured Host or User-Agent replaces ours; no body, no Content-Length.
  h.erase("x-borrowed");
  h.set("user-agent", "theirs");
  h.set("HOST", "example.test");
  request_head(head, "GET", url, h, "127.0.0.1:8080", nullptr);
  CHECK(head ==
        "GET /mcp?x=1 HTTP/1.1\r\nAccept: application/json\r\nmcp-method: ping\r\nX-Last: z\r\n"
        "user-agent: theirs\r\nHOST: example.test\r\n\r\n");
  h.clear();
  request_head(head, "DELETE", url, h, "127.0.0.1:8080", nullptr);
  CHECK(head == "DELETE /mcp?x=1 HTTP/1.1\r\nHost: 127.0.0.1:8080\r\nUser-Agent: mcp-cpp\r\n\r\n");
}

TEST_CASE("http_send_options into a reused SendOptions: nothing of the last message stays") {
  SendOptions given;
  given.headers = {{"Mcp-Param-Region", "eu"}};
  const json call{{"jsonrpc", "2.0"}, {"id", 1}, {"method", "tools/call"},
                  {"params", {{"name", "a tool with a long name"}, {"_meta", {{"io.modelcontextprotocol/protocolVersion", "2026-07-28"}}}}}};
  const json cancel{{"jsonrpc", "2.0"}, {"method", "notifications/cancelled"}, {"params", {{"requestId", 1}}}};
  const json ping{{"jsonrpc", "2.0"}, {"id", 2}, {"method", "ping"}};
  SendOptions out;
  for (const json* m : {&call, &cancel, &ping, &call}) {
    const SendOptions& g = m == &call ? given : SendOptions{};
    http_send_options(*m, g, out);
    const SendOptions fresh = http_send_options(*m, g);
    CHECK(out.headers == fresh.headers);
    CHECK(out.cancels == fresh.cancels);
    CHECK(out.uncounted == fresh.uncounted);
    CHECK(out.opens_session == fresh.opens_session);
    CHECK(out.session_ready == fresh.session_ready);
  }
  CHECK(out.headers.size() == 4);
}
