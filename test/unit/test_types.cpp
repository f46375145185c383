// SPDX-License-Identifier: MIT
// The MCP result types hold each payload once (issue 14, item 12) and give back what was sent.
#include <mcp/types.hpp>

#include "../../lib/protocol/types_detail.hpp"

#include <doctest/doctest.h>

using nlohmann::json;

namespace {
const json kToolResult = json::parse(R"({
  "content": [
    {"type": "text", "text": "hello", "annotations": {"audience": ["user"]}},
    {"type": "text", "text": ""},
    {"type": "image", "data": "aGk=", "mimeType": "image/png"},
    {"type": "resource_link", "uri": "file:///a", "name": "a", "mimeType": "text/plain"},
    {"type": "resource", "resource": {"uri": "file:///b", "mimeType": "text/plain", "text": "bee"}},
    {"type": "resource", "resource": {"uri": "file:///c", "blob": "Yw=="}, "_meta": {"k": 1}},
    "not a block"
  ],
  "structuredContent": {"n": [1, 2, {"deep": true}]},
  "isError": false,
  "_meta": {"progressToken": 7},
  "extra": {"kept": "as sent"}
})");
}  // namespace

TEST_CASE("types: a tool result's payloads are held once, and json(result) is what was sent") {
  mcp::CallToolResult r;
  mcp::detail::call_tool_result_from(json(kToolResult), r);
  REQUIRE(r.content.size() == 7);
  CHECK(r.content[0].text == "hello");
  CHECK(r.content[2].data == "aGk=");
  CHECK(r.content[2].mime_type == "image/png");
  CHECK(r.content[3].uri == "file:///a");
  CHECK(r.content[4].text == "bee");
  CHECK(r.content[4].uri == "file:///b");
  CHECK(r.content[5].data == "Yw==");
  CHECK(r.content[6].type.empty());
  CHECK(r.structured_content == kToolResult["structuredContent"]);
  CHECK(r.meta == kToolResult["_meta"]);
  CHECK(r.text() == "hello\n");
  // Held once: the payload strings are empty in every raw, and what the typed members hold
  // whole is not in the result's raw.
  CHECK(r.content[0].raw == json{{"type", "text"}, {"text", ""}, {"annotations", {{"audience", {"user"}}}}});
  CHECK(r.content[2].raw["data"] == "");
  CHECK(r.content[4].raw["resource"]["text"] == "");
  CHECK(r.content[5].raw["resource"]["blob"] == "");
  CHECK(r.content[3].raw["name"] == "a");  // what has no typed member stays
  CHECK(r.raw == json{{"isError", false}, {"extra", {{"kept", "as sent"}}}});
  CHECK(json(r) == kToolResult);
  // The const from_json (a user's value, copied) gives the same.
  CHECK(json(kToolResult.get<mcp::CallToolResult>()) == kToolResult);
  // Typed members win where they were changed.
  r.content[0].text = "changed";
  r.content[4].text = "new";
  r.is_error = true;
  r.structured_content.reset();
  const json back = r;
  CHECK(back["content"][0]["text"] == "changed");
  CHECK(back["content"][0]["annotations"] == kToolResult["content"][0]["annotations"]);
  CHECK(back["content"][4]["resource"]["text"] == "new");
  CHECK(back["isError"] == true);
  CHECK_FALSE(back.contains("structuredContent"));
  // A result built by hand (no raw) serialises from its typed members.
  mcp::CallToolResult made;
  made.content.push_back(mcp::ContentBlock{"text", "hi", "", "", "", json()});
  CHECK(json(made) == json::parse(R"({"content":[{"type":"text","text":"hi"}],"isError":false})"));
  CHECK_THROWS(json::array().get<mcp::CallToolResult>());
}

TEST_CASE("types: a resources/read result holds text and blob once, and json(result) is what was sent") {
  const json sent = json::parse(R"({"contents": [
      {"uri": "file:///t", "mimeType": "text/plain", "text": "tee", "_meta": {"x": 1}},
      {"uri": "file:///b", "blob": "aGk="}],
    "_meta": {"m": true}})");
  mcp::ReadResourceResult r;
  mcp::detail::read_resource_result_from(json(sent), r);
  REQUIRE(r.contents.size() == 2);
  CHECK(r.contents[0].text == "tee");
  CHECK_FALSE(r.contents[0].blob);
  CHECK(r.contents[1].bytes() == "hi");
  CHECK(r.contents[0].raw["text"] == "");
  CHECK(r.contents[1].raw["blob"] == "");
  CHECK(r.raw == json{{"_meta", {{"m", true}}}});
  CHECK(json(r) == sent);
  CHECK(json(sent.get<mcp::ReadResourceResult>()) == sent);
  CHECK_THROWS(json{{"contents", 1}}.get<mcp::ReadResourceResult>());
  CHECK_THROWS(json::parse(R"({"contents": [1]})").get<mcp::ReadResourceResult>());
}

TEST_CASE("types: a prompts/get result moves each content into its message, and json(result) is what was sent") {
  const json sent = json::parse(R"({"description": "d", "messages": [
      {"role": "user", "content": {"type": "text", "text": "question"}, "extra": 1},
      7,
      {"role": "assistant", "content": {"type": "resource", "resource": {"uri": "file:///r", "text": "body"}}},
      {"role": "user"}]})");
  mcp::GetPromptResult r;
  mcp::detail::get_prompt_result_from(json(sent), r);
  CHECK(r.description == "d");
  REQUIRE(r.messages.size() == 3);  // the non-object entry is not a message, but stays in raw
  CHECK(r.messages[0].content.text == "question");
  CHECK(r.messages[1].role == "assistant");
  CHECK(r.messages[1].content.text == "body");
  CHECK(r.raw["messages"][0]["content"] == json::object());
  CHECK(r.raw["messages"][1] == 7);
  CHECK(json(r) == sent);
  CHECK(json(sent.get<mcp::GetPromptResult>()) == sent);
  // Messages that no longer line up with raw's: the list is built from the typed members.
  r.messages.pop_back();
  const json back = r;
  REQUIRE(back["messages"].size() == 2);
  CHECK(back["messages"][1]["content"]["resource"]["text"] == "body");
}
