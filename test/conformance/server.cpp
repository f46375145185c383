// SPDX-License-Identifier: MIT
// The server the official MCP conformance suite's server scenarios test (test/conformance/server.sh):
// every tool, resource, resource template and prompt those scenarios call, as their
// descriptions in @modelcontextprotocol/conformance (0.1.16 and 0.2.0-alpha.12, dist/index.js)
// ask, built on libmcp-server alone.
//
//   conformance_server               newline-delimited JSON-RPC on stdin/stdout until stdin ends
//   conformance_server --port PORT   Streamable HTTP at http://127.0.0.1:PORT/mcp (0: a free
//                                    port), printing "PORT <n>" once it listens; until stdin
//                                    ends or SIGTERM/SIGINT
//   --tasks                          also the tasks extension's fixtures (the tasks-* scenarios
//                                    of 0.2.0-alpha.12): tools that run as tasks, and so the
//                                    tasks capability / extension. Not in the other runs, whose
//                                    tools/list and capabilities stay as they were
#include <mcp/server.hpp>
#include <mcp/server_http.hpp>

#include <csignal>
#include <cstdio>
#include <iostream>
#include <map>
#include <poll.h>
#include <stdexcept>
#include <string>
#include <thread>
#include <unistd.h>

using nlohmann::json;
using namespace std::chrono_literals;

namespace {

// A 1x1 red PNG and a 16-bit mono WAV holding one silent sample.
constexpr const char* kPng = "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAIAAACQd1PeAAAADElEQVR4nGP4z8AAAAMBAQDJ/pLvAAAAAElFTkSuQmCC";
constexpr const char* kWav = "UklGRiYAAABXQVZFZm10IBAAAAABAAEAQB8AAIA+AAACABAAZGF0YQIAAAAAAA==";

using Args = std::map<std::string, std::string>;
using ToolResult = mcp::Result<mcp::CallToolResult>;

mcp::ContentBlock block(json j) { return j.get<mcp::ContentBlock>(); }

mcp::CallToolResult content(std::vector<json> blocks) {
  mcp::CallToolResult r;
  for (auto& b : blocks) r.content.push_back(block(std::move(b)));
  return r;
}

json object_schema(json properties, std::vector<std::string> required = {}) {
  json s{{"type", "object"}, {"properties", std::move(properties)}};
  if (!required.empty()) s["required"] = std::move(required);
  return s;
}

json string_form(const char* field) { return object_schema({{field, {{"type", "string"}}}}, {field}); }

mcp::ElicitRequest form(std::string message, json schema) {
  mcp::ElicitRequest q;
  q.message = std::move(message);
  q.requested_schema = std::move(schema);
  return q;
}

json ask_model(const std::string& text, int max_tokens) {
  return {{"messages", {{{"role", "user"}, {"content", {{"type", "text"}, {"text", text}}}}}}, {"maxTokens", max_tokens}};
}

std::string sampled_text(const json& r) {
  const auto c = r.find("content");
  if (c == r.end()) return "";
  if (c->is_object()) return c->value("text", std::string());
  if (c->is_array() && !c->empty() && (*c)[0].is_object()) return (*c)[0].value("text", std::string());
  return "";
}

std::string roots_text(const std::vector<mcp::Root>& roots) {
  std::string out;
  for (const auto& r : roots) out += (out.empty() ? "" : ", ") + r.uri;
  return out.empty() ? "(none)" : out;
}

mcp::PromptMessage message(json content_block) { return {"user", block(std::move(content_block))}; }

mcp::ResourceContents text_contents(std::string uri, std::string mime, std::string text) {
  mcp::ResourceContents c;
  c.uri = std::move(uri);
  c.mime_type = std::move(mime);
  c.text = std::move(text);
  return c;
}

// Keeps the first prefix matches of `values`.
std::vector<std::string> starting_with(std::initializer_list<const char*> values, const std::string& prefix) {
  std::vector<std::string> out;
  for (const char* v : values)
    if (std::string_view(v).starts_with(prefix)) out.emplace_back(v);
  return out;
}

void add_tools(mcp::Server& server) {
  const auto must = [](mcp::Result<void> r) {
    if (!r) throw std::runtime_error(r.error().message);
  };
  const auto tool = [&](std::string name, std::string description, json schema, mcp::ToolHandler handler) {
    must(server.add_tool({.name = std::move(name), .description = std::move(description),
                          .input_schema = std::move(schema), .handler = std::move(handler)}));
  };
  const json no_args = json{{"type", "object"}, {"properties", json::object()}};

  // Content of each kind (tools-call-*).
  tool("test_simple_text", "Returns a simple text block", no_args, [](const json&, mcp::RequestContext&) -> ToolResult {
    return mcp::text_result("This is a simple text response for testing.");
  });
  tool("test_image_content", "Returns an image block (1x1 PNG)", no_args, [](const json&, mcp::RequestContext&) -> ToolResult {
    return content({{{"type", "image"}, {"data", kPng}, {"mimeType", "image/png"}}});
  });
  tool("test_audio_content", "Returns an audio block (WAV)", no_args, [](const json&, mcp::RequestContext&) -> ToolResult {
    return content({{{"type", "audio"}, {"data", kWav}, {"mimeType", "audio/wav"}}});
  });
  tool("test_embedded_resource", "Returns an embedded text resource", no_args, [](const json&, mcp::RequestContext&) -> ToolResult {
    return content({{{"type", "resource"},
                     {"resource", {{"uri", "test://embedded-resource"}, {"mimeType", "text/plain"},
                                   {"text", "This is an embedded resource content."}}}}});
  });
  tool("test_multiple_content_types", "Returns text, image and resource blocks", no_args,
       [](const json&, mcp::RequestContext&) -> ToolResult {
         return content({{{"type", "text"}, {"text", "Multiple content types test:"}},
                         {{"type", "image"}, {"data", kPng}, {"mimeType", "image/png"}},
                         {{"type", "resource"},
                          {"resource", {{"uri", "test://mixed-content-resource"}, {"mimeType", "application/json"},
                                        {"text", json{{"test", "data"}, {"value", 123}}.dump()}}}}});
       });
  tool("test_error_handling", "Always fails (isError)", no_args, [](const json&, mcp::RequestContext&) -> ToolResult {
    throw mcp::ToolError("This tool intentionally returns an error for testing");
  });

  // Notifications while running.
  tool("test_tool_with_progress", "Reports progress 0, 50, 100 of 100", no_args,
       [](const json&, mcp::RequestContext& ctx) -> ToolResult {
         for (int p : {0, 50, 100}) {
           if (p > 0) std::this_thread::sleep_for(50ms);
           if (auto r = ctx.progress(p, 100); !r) return mcp::fail(r.error());
         }
         return mcp::text_result("Progress test completed");
       });
  tool("test_tool_with_logging", "Logs three info messages 50 ms apart", no_args,
       [](const json&, mcp::RequestContext& ctx) -> ToolResult {
         const char* lines[] = {"Tool execution started", "Tool processing data", "Tool execution completed"};
         for (int i = 0; i < 3; ++i) {
           if (i > 0) std::this_thread::sleep_for(50ms);
           if (auto r = ctx.log("info", lines[i], "conformance"); !r) return mcp::fail(r.error());
         }
         return mcp::text_result("Logging test completed");
       });
  tool("test_logging_tool", "Logs one info message (sent only at the level the client asked for)", no_args,
       [](const json&, mcp::RequestContext& ctx) -> ToolResult {
         if (auto r = ctx.log("info", "test_logging_tool ran", "conformance"); !r) return mcp::fail(r.error());
         return mcp::text_result("Logged one info message");
       });

  // Asking the client (legacy: a request; 2026-07-28: input_required rounds).
  tool("test_sampling", "Asks the client's model the prompt", object_schema({{"prompt", {{"type", "string"}}}}, {"prompt"}),
       [](const json& a, mcp::RequestContext& ctx) -> ToolResult {
         auto r = ctx.sample(ask_model(a["prompt"].get<std::string>(), 100));
         if (!r) return mcp::fail(r.error());
         return mcp::text_result("LLM response: " + sampled_text(*r));
       });
  tool("test_missing_capability", "Needs the client's sampling capability", no_args,
       [](const json&, mcp::RequestContext& ctx) -> ToolResult {
         auto r = ctx.sample(ask_model("Say hello", 20));
         if (!r) return mcp::fail(r.error());
         return mcp::text_result("LLM response: " + sampled_text(*r));
       });
  tool("test_elicitation", "Asks the user for a username and an email",
       object_schema({{"message", {{"type", "string"}}}}, {"message"}),
       [](const json& a, mcp::RequestContext& ctx) -> ToolResult {
         auto r = ctx.elicit(form(a["message"].get<std::string>(),
                                  object_schema({{"username", {{"type", "string"}, {"description", "User's response"}}},
                                                 {"email", {{"type", "string"}, {"description", "User's email address"}}}},
                                                {"username", "email"})));
         if (!r) return mcp::fail(r.error());
         return mcp::text_result("User response: action=" + r->action + ", content=" + r->content.dump());
       });
  tool("test_elicitation_sep1034_defaults", "Asks with a default for every primitive type", no_args,
       [](const json&, mcp::RequestContext& ctx) -> ToolResult {
         auto r = ctx.elicit(form("Please review and update the form fields with defaults",
                                  object_schema({{"name", {{"type", "string"}, {"default", "John Doe"}}},
                                                 {"age", {{"type", "integer"}, {"default", 30}}},
                                                 {"score", {{"type", "number"}, {"default", 95.5}}},
                                                 {"status", {{"type", "string"},
                                                             {"enum", {"active", "inactive", "pending"}},
                                                             {"default", "active"}}},
                                                 {"verified", {{"type", "boolean"}, {"default", true}}}})));
         if (!r) return mcp::fail(r.error());
         return mcp::text_result("Elicitation completed: action=" + r->action + ", content=" + r->content.dump());
       });
  tool("test_elicitation_sep1330_enums", "Asks with the five enum schema variants", no_args,
       [](const json&, mcp::RequestContext& ctx) -> ToolResult {
         const auto titled = [](const char* prefix, const char* a, const char* b, const char* c) {
           return json::array({{{"const", std::string(prefix) + "1"}, {"title", a}},
                               {{"const", std::string(prefix) + "2"}, {"title", b}},
                               {{"const", std::string(prefix) + "3"}, {"title", c}}});
         };
         const json options = {"option1", "option2", "option3"};
         auto r = ctx.elicit(form(
             "Please select options from the enum fields",
             object_schema(
                 {{"untitledSingle", {{"type", "string"}, {"enum", options}}},
                  {"titledSingle", {{"type", "string"}, {"oneOf", titled("value", "First Option", "Second Option", "Third Option")}}},
                  {"legacyEnum",
                   {{"type", "string"}, {"enum", {"opt1", "opt2", "opt3"}}, {"enumNames", {"Option One", "Option Two", "Option Three"}}}},
                  {"untitledMulti", {{"type", "array"}, {"items", {{"type", "string"}, {"enum", options}}}}},
                  {"titledMulti",
                   {{"type", "array"}, {"items", {{"anyOf", titled("value", "First Choice", "Second Choice", "Third Choice")}}}}}})));
         if (!r) return mcp::fail(r.error());
         return mcp::text_result("Elicitation completed: action=" + r->action + ", content=" + r->content.dump());
       });
  // Sends a log line on the request's own stream, then asks: a 2026-07-28 response stream
  // carries notifications and the input_required result, never a request of the server's.
  tool("test_streaming_elicitation", "Logs, reports progress, then asks the user a question", no_args,
       [](const json&, mcp::RequestContext& ctx) -> ToolResult {
         (void)ctx.log("info", "about to ask", "conformance");
         (void)ctx.progress(1, 2);
         auto r = ctx.elicit(form("What is your name?", string_form("name")), "user_name");
         if (!r) return mcp::fail(r.error());
         return mcp::text_result("Hello, " + r->content.value("name", std::string("?")) + "!");
       });

  // 2026-07-28 input rounds (input-required-result-*), with the keys the scenarios look for.
  tool("test_input_required_result_elicitation", "Asks the user's name (key user_name)", no_args,
       [](const json&, mcp::RequestContext& ctx) -> ToolResult {
         auto r = ctx.elicit(form("What is your name?", string_form("name")), "user_name");
         if (!r) return mcp::fail(r.error());
         if (r->action != "accept") return mcp::text_result("No name given (" + r->action + ")");
         return mcp::text_result("Hello, " + r->content.value("name", std::string("?")) + "!");
       });
  tool("test_input_required_result_sampling", "Asks the model a question (key capital_question)", no_args,
       [](const json&, mcp::RequestContext& ctx) -> ToolResult {
         auto r = ctx.sample(ask_model("What is the capital of France?", 100), "capital_question");
         if (!r) return mcp::fail(r.error());
         return mcp::text_result("The model answered: " + sampled_text(*r));
       });
  tool("test_input_required_result_list_roots", "Asks for the client's roots (key client_roots)", no_args,
       [](const json&, mcp::RequestContext& ctx) -> ToolResult {
         auto r = ctx.roots("client_roots");
         if (!r) return mcp::fail(r.error());
         return mcp::text_result("Client roots: " + roots_text(*r));
       });
  tool("test_input_required_result_request_state", "Asks for a confirmation (key confirm)", no_args,
       [](const json&, mcp::RequestContext& ctx) -> ToolResult {
         auto r = ctx.elicit(form("Please confirm", object_schema({{"ok", {{"type", "boolean"}}}}, {"ok"})), "confirm");
         if (!r) return mcp::fail(r.error());
         // The library opened and checked the sealed requestState before this run.
         return mcp::text_result("state-ok: action=" + r->action + ", content=" + r->content.dump());
       });
  tool("test_input_required_result_tampered_state", "Asks for a confirmation (key confirm)", no_args,
       [](const json&, mcp::RequestContext& ctx) -> ToolResult {
         auto r = ctx.elicit(form("Please confirm", object_schema({{"ok", {{"type", "boolean"}}}}, {"ok"})), "confirm");
         if (!r) return mcp::fail(r.error());
         return mcp::text_result("confirmed: " + r->content.dump());
       });
  tool("test_input_required_result_multiple_inputs", "Asks a name, a greeting and the roots at once", no_args,
       [](const json&, mcp::RequestContext& ctx) -> ToolResult {
         // All three before returning: one input_required result carries the three questions.
         auto name = ctx.elicit(form("What is your name?", string_form("name")), "user_name");
         auto greeting = ctx.sample(ask_model("Generate a greeting", 50), "greeting");
         auto roots = ctx.roots("client_roots");
         if (!name) return mcp::fail(name.error());
         if (!greeting) return mcp::fail(greeting.error());
         if (!roots) return mcp::fail(roots.error());
         return mcp::text_result("name=" + name->content.value("name", std::string("?")) +
                                 ", greeting=" + sampled_text(*greeting) + ", roots=" + roots_text(*roots));
       });
  tool("test_input_required_result_multi_round", "Asks a name, then a colour (keys step1, step2)", no_args,
       [](const json&, mcp::RequestContext& ctx) -> ToolResult {
         auto name = ctx.elicit(form("Step 1: What is your name?", string_form("name")), "step1");
         if (!name) return mcp::fail(name.error());
         auto color = ctx.elicit(form("Step 2: What is your favorite color?", string_form("color")), "step2");
         if (!color) return mcp::fail(color.error());
         return mcp::text_result(name->content.value("name", std::string("?")) + " likes " +
                                 color->content.value("color", std::string("?")));
       });
  tool("test_input_required_result_capabilities", "Asks only through the capabilities the client declared", no_args,
       [](const json&, mcp::RequestContext& ctx) -> ToolResult {
         const auto& caps = ctx.client_capabilities();
         const auto declared = [&](const char* k) { return caps.contains(k) && caps[k].is_object(); };
         std::string out;
         std::optional<mcp::Error> waiting;
         if (declared("elicitation")) {
           auto r = ctx.elicit(form("What is your name?", string_form("name")), "user_name");
           if (r) out += "name=" + r->content.value("name", std::string("?")) + " ";
           else waiting = r.error();
         }
         if (declared("sampling")) {
           auto r = ctx.sample(ask_model("What is the capital of France?", 100), "capital_question");
           if (r) out += "model=" + sampled_text(*r) + " ";
           else waiting = r.error();
         }
         if (declared("roots")) {
           auto r = ctx.roots("client_roots");
           if (r) out += "roots=" + roots_text(*r) + " ";
           else waiting = r.error();
         }
         if (waiting) return mcp::fail(std::move(*waiting));
         return mcp::text_result(out.empty() ? "the client declared nothing to ask" : out);
       });

  // Lists that change (listChanged notifications, subscriptions/listen).
  tool("test_trigger_tool_change", "Adds or removes the tool test_dynamic_tool", no_args,
       [&server](const json&, mcp::RequestContext&) -> ToolResult {
         if (server.remove_tool("test_dynamic_tool")) return mcp::text_result("removed test_dynamic_tool");
         auto r = server.add_tool({.name = "test_dynamic_tool", .description = "Added by test_trigger_tool_change",
                                   .handler = [](const json&, mcp::RequestContext&) -> ToolResult {
                                     return mcp::text_result("dynamic");
                                   }});
         if (!r) return mcp::fail(r.error());
         return mcp::text_result("added test_dynamic_tool");
       });
  tool("test_trigger_prompt_change", "Adds or removes the prompt test_dynamic_prompt", no_args,
       [&server](const json&, mcp::RequestContext&) -> ToolResult {
         if (server.remove_prompt("test_dynamic_prompt")) return mcp::text_result("removed test_dynamic_prompt");
         auto r = server.add_prompt({.name = "test_dynamic_prompt", .description = "Added by test_trigger_prompt_change",
                                     .get = [](const Args&, mcp::RequestContext&) -> mcp::Result<mcp::GetPromptResult> {
                                       mcp::GetPromptResult p;
                                       p.messages.push_back(message({{"type", "text"}, {"text", "dynamic"}}));
                                       return p;
                                     }});
         if (!r) return mcp::fail(r.error());
         return mcp::text_result("added test_dynamic_prompt");
       });
  tool("test_trigger_resource_update", "Tells subscribers that test://watched-resource changed", no_args,
       [&server](const json&, mcp::RequestContext&) -> ToolResult {
         server.notify_resource_updated("test://watched-resource");
         return mcp::text_result("updated test://watched-resource");
       });

  // server-sse-polling calls it on a 2025-11-25 session: the TypeScript reference closes the
  // response stream mid-call (SEP-1699 polling) and answers on the resumed stream. Closing the
  // stream is the HTTP host's (not offered yet); the tool itself takes its time so there is a
  // call in flight to resume.
  // SEP-1699: the tool closes its response stream mid-call (a priming event with `retry`
  // first) and answers after; the client gets the answer by resuming with Last-Event-ID.
  tool("test_reconnection", "Closes its response stream mid-call, then answers: the client resumes with Last-Event-ID",
       no_args, [](const json&, mcp::RequestContext& ctx) -> ToolResult {
         std::this_thread::sleep_for(50ms);
         ctx.close_stream(std::chrono::milliseconds(500));
         for (int i = 0; i < 30 && !ctx.cancelled(); ++i) std::this_thread::sleep_for(10ms);
         return mcp::text_result("Reconnection test completed");
       });

  // json-schema-2020-12: the scenario's schema, verbatim.
  tool("json_schema_2020_12_tool", "Tool with JSON Schema 2020-12 features",
       json{{"$schema", "https://json-schema.org/draft/2020-12/schema"},
            {"type", "object"},
            {"$defs",
             {{"address",
               {{"$anchor", "addressDef"},
                {"type", "object"},
                {"properties", {{"street", {{"type", "string"}}}, {"city", {{"type", "string"}}}}}}}}},
            {"properties",
             {{"name", {{"type", "string"}}},
              {"address", {{"$ref", "#/$defs/address"}}},
              {"contactMethod", {{"type", "string"}, {"enum", {"phone", "email"}}}},
              {"phone", {{"type", "string"}}},
              {"email", {{"type", "string"}}}}},
            {"allOf", {{{"anyOf", {{{"required", {"phone"}}}, {{"required", {"email"}}}}}}}},
            {"if", {{"properties", {{"contactMethod", {{"const", "phone"}}}}}, {"required", {"contactMethod"}}}},
            {"then", {{"required", {"phone"}}}},
            {"else", {{"required", {"email"}}}},
            {"additionalProperties", false}},
       [](const json& a, mcp::RequestContext&) -> ToolResult { return mcp::text_result("Received: " + a.dump()); });

  // http-custom-header-server-validation: a string parameter mirrored in Mcp-Param-Region.
  tool("test_custom_header", "Echoes its region, which clients also send as the Mcp-Param-Region header",
       object_schema({{"region", {{"type", "string"}, {"x-mcp-header", "Region"}}}}, {"region"}),
       [](const json& a, mcp::RequestContext&) -> ToolResult {
         return mcp::text_result("region=" + a["region"].get<std::string>());
       });
}

void add_resources_and_prompts(mcp::Server& server) {
  const auto must = [](mcp::Result<void> r) {
    if (!r) throw std::runtime_error(r.error().message);
  };
  using Contents = mcp::Result<std::vector<mcp::ResourceContents>>;
  must(server.add_resource({.uri = "test://static-text", .name = "static-text",
                            .description = "A static text resource", .mime_type = "text/plain",
                            .read = [](const std::string& uri, const Args&, mcp::RequestContext&) -> Contents {
                              return std::vector{text_contents(uri, "text/plain", "This is the content of the static text resource.")};
                            }}));
  must(server.add_resource({.uri = "test://static-binary", .name = "static-binary",
                            .description = "A static binary resource (a PNG image)", .mime_type = "image/png",
                            .read = [](const std::string& uri, const Args&, mcp::RequestContext&) -> Contents {
                              mcp::ResourceContents c;
                              c.uri = uri;
                              c.mime_type = "image/png";
                              c.blob = kPng;
                              return std::vector{c};
                            }}));
  must(server.add_resource({.uri = "test://watched-resource", .name = "watched-resource",
                            .description = "A resource to subscribe to (test_trigger_resource_update changes it)",
                            .mime_type = "text/plain",
                            .read = [](const std::string& uri, const Args&, mcp::RequestContext&) -> Contents {
                              return std::vector{text_contents(uri, "text/plain", "Watched resource content.")};
                            }}));
  must(server.add_resource_template(
      {.uri_template = "test://template/{id}/data", .name = "template-data",
       .description = "Data for an id", .mime_type = "application/json",
       .read = [](const std::string& uri, const Args& vars, mcp::RequestContext&) -> Contents {
         const std::string& id = vars.at("id");
         return std::vector{text_contents(uri, "application/json",
                                          json{{"id", id}, {"templateTest", true}, {"data", "Data for ID: " + id}}.dump())};
       },
       .complete = [](const std::string&, const std::string& value, const Args&) {
         return starting_with({"123", "124", "200"}, value);
       }}));

  using Prompt = mcp::Result<mcp::GetPromptResult>;
  const auto prompt = [](std::vector<json> blocks) {
    mcp::GetPromptResult r;
    for (auto& b : blocks) r.messages.push_back(message(std::move(b)));
    return r;
  };
  must(server.add_prompt({.name = "test_simple_prompt", .description = "A prompt without arguments",
                          .get = [prompt](const Args&, mcp::RequestContext&) -> Prompt {
                            return prompt({{{"type", "text"}, {"text", "This is a simple prompt for testing."}}});
                          }}));
  must(server.add_prompt({.name = "test_prompt_with_arguments", .description = "A prompt with two arguments",
                          .arguments = {{"arg1", "First test argument", true}, {"arg2", "Second test argument", true}},
                          .get = [prompt](const Args& a, mcp::RequestContext&) -> Prompt {
                            return prompt({{{"type", "text"},
                                            {"text", "Prompt with arguments: arg1='" + a.at("arg1") + "', arg2='" + a.at("arg2") + "'"}}});
                          },
                          .complete = [](const std::string& name, const std::string& value, const Args&) {
                            if (name == "arg1") return starting_with({"paris", "park", "party"}, value);
                            return starting_with({"world", "wide", "wonder"}, value);
                          }}));
  must(server.add_prompt({.name = "test_prompt_with_embedded_resource", .description = "A prompt embedding a resource",
                          .arguments = {{"resourceUri", "URI of the resource to embed", true}},
                          .get = [prompt](const Args& a, mcp::RequestContext&) -> Prompt {
                            return prompt({{{"type", "resource"},
                                            {"resource", {{"uri", a.at("resourceUri")}, {"mimeType", "text/plain"},
                                                          {"text", "Embedded resource content for testing."}}}},
                                           {{"type", "text"}, {"text", "Please process the embedded resource above."}}});
                          }}));
  must(server.add_prompt({.name = "test_prompt_with_image", .description = "A prompt with an image",
                          .get = [prompt](const Args&, mcp::RequestContext&) -> Prompt {
                            return prompt({{{"type", "image"}, {"data", kPng}, {"mimeType", "image/png"}},
                                           {{"type", "text"}, {"text", "Please analyze the image above."}}});
                          }}));
  must(server.add_prompt({.name = "test_input_required_result_prompt", .description = "Asks the user for context first",
                          .get = [prompt](const Args&, mcp::RequestContext& ctx) -> Prompt {
                            auto r = ctx.elicit(form("What context should the prompt use?", string_form("context")), "user_context");
                            if (!r) return mcp::fail(r.error());
                            return prompt({{{"type", "text"},
                                            {"text", "Use this context: " + r->content.value("context", std::string("(none)"))}}});
                          }}));
}

volatile std::sig_atomic_t g_stop = 0;
void on_signal(int) { g_stop = 1; }

}  // namespace

// The tasks-* scenarios' fixtures (SEP-2663, their descriptions in dist/index.js).
void add_task_tools(mcp::Server& server) {
  const auto must = [](mcp::Result<void> r) {
    if (!r) throw std::runtime_error(r.error().message);
  };
  const auto tool = [&](std::string name, std::string description, json schema, mcp::TaskSupport support,
                        mcp::ToolHandler handler) {
    must(server.add_tool({.name = std::move(name), .description = std::move(description),
                          .input_schema = std::move(schema), .handler = std::move(handler), .task_support = support}));
  };
  const json no_args = json{{"type", "object"}, {"properties", json::object()}};
  // Sleeps in steps, so that a cancellation ends it soon.
  const auto sleep_for = [](std::chrono::milliseconds d, const mcp::RequestContext& ctx) {
    const auto end = std::chrono::steady_clock::now() + d;
    while (std::chrono::steady_clock::now() < end && !ctx.cancelled()) std::this_thread::sleep_for(20ms);
  };
  tool("greet", "Says hello (never a task)", object_schema({{"name", {{"type", "string"}}}}), mcp::TaskSupport::forbidden,
       [](const json& a, mcp::RequestContext&) -> ToolResult {
         return mcp::text_result("Hello, " + a.value("name", std::string("World")) + "!");
       });
  tool("slow_compute", "Sleeps `seconds`, then answers (a task)",
       object_schema({{"seconds", {{"type", "number"}}}, {"label", {{"type", "string"}}}}), mcp::TaskSupport::optional,
       [sleep_for](const json& a, mcp::RequestContext& ctx) -> ToolResult {
         const double secs = a.value("seconds", 0.0);
         sleep_for(std::chrono::milliseconds(static_cast<long long>(secs * 1000)), ctx);
         if (ctx.cancelled()) return mcp::fail(mcp::Error::make(mcp::Errc::cancelled, "cancelled"));
         return mcp::text_result("Computed " + a.value("label", std::string()) + " after " + std::to_string(secs) + " s");
       });
  tool("failing_job", "Fails after about a second (a tool error; task required)", no_args, mcp::TaskSupport::required,
       [sleep_for](const json&, mcp::RequestContext& ctx) -> ToolResult {
         sleep_for(1000ms, ctx);
         return mcp::error_result("The job failed, as it always does");
       });
  tool("protocol_error_job", "Fails with a JSON-RPC error (a task)", no_args, mcp::TaskSupport::optional,
       [](const json&, mcp::RequestContext&) -> ToolResult {
         mcp::Error e = mcp::Error::make(mcp::Errc::invalid_result, "the job broke down");
         e.rpc_code = -32603;
         return mcp::fail(std::move(e));
       });
  tool("confirm_delete", "Asks for confirmation, then deletes (a task)", object_schema({{"filename", {{"type", "string"}}}}),
       mcp::TaskSupport::optional, [](const json& a, mcp::RequestContext& ctx) -> ToolResult {
         const std::string file = a.value("filename", std::string("?"));
         auto r = ctx.elicit(form("Delete " + file + "?", object_schema({{"confirm", {{"type", "boolean"}}}})));
         if (!r) return mcp::fail(r.error());
         return mcp::text_result(r->action == "accept" ? "Deleted " + file : "Kept " + file);
       });
  // tasks-mrtr-composition: the name first (input rounds), then the task, which greets.
  const auto ask_name = [](mcp::RequestContext& ctx) -> mcp::Result<std::string> {
    auto r = ctx.elicit(form("What is your name?", string_form("name")), "user_name");
    if (!r) return mcp::fail(r.error());
    return r->content.value("name", std::string("?"));
  };
  must(server.add_tool({.name = "test_tool_with_task", .description = "Asks a name (input rounds), then greets in a task",
                        .input_schema = no_args,
                        .handler = [ask_name](const json&, mcp::RequestContext& ctx) -> ToolResult {
                          auto name = ask_name(ctx);
                          if (!name) return mcp::fail(name.error());
                          return mcp::text_result("Hello, " + *name + "!");
                        },
                        .task_support = mcp::TaskSupport::required,
                        .before_task = [ask_name](const json&, mcp::RequestContext& ctx) -> mcp::Result<void> {
                          auto name = ask_name(ctx);
                          if (!name) return mcp::fail(name.error());
                          return {};
                        }}));
  tool("multi_input", "Asks two questions at once (a task)", no_args, mcp::TaskSupport::optional,
       [](const json&, mcp::RequestContext& ctx) -> ToolResult {
         auto first = ctx.elicit(form("Your name?", string_form("name")));
         auto second = ctx.elicit(form("Confirm?", object_schema({{"confirm", {{"type", "boolean"}}}})));
         if (!first) return mcp::fail(first.error());
         if (!second) return mcp::fail(second.error());
         return mcp::text_result("Got " + first->content.value("name", std::string("?")) + " and " + second->action);
       });
}

int main(int argc, char** argv) {
  bool tasks = false;
  int port = -1;
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    if (arg == "--tasks") {
      tasks = true;
    } else if (arg == "--port" && i + 1 < argc) {
      try {
        port = std::stoi(argv[++i]);
      } catch (const std::exception&) {
        port = 70000;
      }
      if (port < 0 || port > 65535) {
        std::cerr << "conformance_server: --port needs a port number (0: any free port)\n";
        return 2;
      }
    } else {
      std::cerr << "usage: conformance_server [--port PORT] [--tasks]\n";
      return arg == "-h" || arg == "--help" ? 0 : 2;
    }
  }
  mcp::Server server({.identity = {.name = "mcp-cpp-conformance-server", .version = "1.0.0",
                                   .title = "mcp-cpp conformance server",
                                   .instructions = "The fixtures of the MCP conformance suite's server scenarios."},
                      .on_diagnostic = [](std::string_view m) {
                        std::fprintf(stderr, "conformance_server: %.*s\n", int(m.size()), m.data());
                      }});
  try {
    add_tools(server);
    add_resources_and_prompts(server);
    if (tasks) add_task_tools(server);
  } catch (const std::exception& e) {
    std::cerr << "conformance_server: " << e.what() << "\n";
    return 1;
  }
  if (port < 0) {
    auto served = server.serve_stdio();
    if (!served) std::cerr << "conformance_server: " << served.error().message << "\n";
    return served ? 0 : 1;
  }
  std::signal(SIGTERM, on_signal);
  std::signal(SIGINT, on_signal);
  mcp::HttpHost host(server, {.port = static_cast<unsigned short>(port)});
  auto bound = host.start();
  if (!bound) {
    std::cerr << "conformance_server: " << bound.error().message << "\n";
    return 1;
  }
  std::cout << "PORT " << *bound << std::endl;
  // Until stdin ends (the runner holds it open) or a signal.
  char buf[256];
  while (!g_stop) {
    pollfd p{0, POLLIN, 0};
    if (::poll(&p, 1, 200) > 0 && ::read(0, buf, sizeof buf) <= 0) break;
  }
  host.stop();
  return 0;
}
