// SPDX-License-Identifier: MIT
// A server with tools, resources and prompts, served over stdio or over HTTP: one mcp::Server,
// either host. It keeps notes in memory, shared by every client.
//   build/examples/notes_server               stdio, for a client that spawns it (exits when stdin ends)
//   build/examples/notes_server --http 8080   Streamable HTTP at http://127.0.0.1:8080/mcp (and the
//                                             2024-11-05 HTTP+SSE transport at /sse) until Ctrl-C;
//                                             port 0: any free one (the URL is printed)
// Tools: add_note {title, text}, search {word}. Resources: notes://index (the titles; clients
// subscribed to it are told when it changes) and the template notes://note/{title} (one note;
// titles are completed). Prompt: summarize {title}. Both protocol eras, decided per request.
// Try it: build/examples/quickstart-style clients, or `mcpc --stdio build/examples/notes_server`.
#include <mcp/server.hpp>
#include <mcp/server_http.hpp>

#include <pthread.h>

#include <csignal>
#include <iostream>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

using nlohmann::json;

namespace {

// The notes: called from the handler threads of every client at once.
class Notes {
 public:
  void add(const std::string& title, const std::string& text) {
    std::lock_guard lock(mutex_);
    notes_[title] = text;
  }
  std::optional<std::string> find(const std::string& title) const {
    std::lock_guard lock(mutex_);
    auto it = notes_.find(title);
    return it == notes_.end() ? std::nullopt : std::optional(it->second);
  }
  // Titles starting with `prefix` whose text contains `word` ("" matches everything).
  std::vector<std::string> titles(const std::string& prefix = {}, const std::string& word = {}) const {
    std::lock_guard lock(mutex_);
    std::vector<std::string> out;
    for (const auto& [title, text] : notes_)
      if (title.rfind(prefix, 0) == 0 && text.find(word) != std::string::npos) out.push_back(title);
    return out;
  }

 private:
  mutable std::mutex mutex_;
  std::map<std::string, std::string> notes_;
};

std::string joined(const std::vector<std::string>& items) {
  std::string out;
  for (const auto& item : items) out += (out.empty() ? "" : "\n") + item;
  return out;
}

std::vector<mcp::ResourceContents> text_contents(const std::string& uri, std::string text) {
  mcp::ResourceContents contents;
  contents.uri = uri;
  contents.mime_type = "text/plain";
  contents.text = std::move(text);
  return {contents};
}

json string_property(const char* description) { return {{"type", "string"}, {"description", description}}; }

// A request naming a note that does not exist: the client's mistake, JSON-RPC invalid params.
mcp::Error no_such_note(const std::string& title) {
  mcp::Error e = mcp::Error::make(mcp::Errc::invalid_argument, "no note titled '" + title + "'");
  e.rpc_code = -32602;
  return e;
}

mcp::Result<void> add_everything(mcp::Server& server, Notes& notes) {
  auto ok = server.add_tool(
      {.name = "add_note",
       .description = "Add a note (or replace the note of that title).",
       .input_schema = {{"type", "object"},
                        {"properties", {{"title", string_property("the note's title")}, {"text", string_property("its text")}}},
                        {"required", {"title", "text"}}},
       .handler = [&server, &notes](const json& args, mcp::RequestContext&) -> mcp::Result<mcp::CallToolResult> {
         notes.add(args["title"].get<std::string>(), args["text"].get<std::string>());
         server.notify_resource_updated("notes://index");  // to clients subscribed to it
         return mcp::text_result("saved '" + args["title"].get<std::string>() + "'");
       }});
  if (ok)
    ok = server.add_tool(
        {.name = "search",
         .description = "The titles of the notes whose text contains a word.",
         .input_schema = {{"type", "object"}, {"properties", {{"word", string_property("what to look for")}}}, {"required", {"word"}}},
         .output_schema = json{{"type", "object"}, {"properties", {{"titles", {{"type", "array"}}}}}, {"required", {"titles"}}},
         .annotations = {{"readOnlyHint", true}},
         .handler = [&notes](const json& args, mcp::RequestContext&) -> mcp::Result<mcp::CallToolResult> {
           const auto found = notes.titles({}, args["word"].get<std::string>());
           return mcp::text_result(joined(found), json{{"titles", found}});  // text for models, JSON for programs
         }});
  if (ok)
    ok = server.add_resource(
        {.uri = "notes://index",
         .name = "index",
         .description = "The titles of all notes, one a line.",
         .mime_type = "text/plain",
         .read = [&notes](const std::string& uri, const std::map<std::string, std::string>&, mcp::RequestContext&)
             -> mcp::Result<std::vector<mcp::ResourceContents>> {
           return text_contents(uri, joined(notes.titles()));
         }});
  if (ok)
    ok = server.add_resource_template(
        {.uri_template = "notes://note/{title}",
         .name = "note",
         .description = "One note's text.",
         .mime_type = "text/plain",
         .read = [&notes](const std::string& uri, const std::map<std::string, std::string>& variables, mcp::RequestContext&)
             -> mcp::Result<std::vector<mcp::ResourceContents>> {
           auto text = notes.find(variables.at("title"));  // percent-decoded
           if (!text) return mcp::fail(no_such_note(variables.at("title")));
           return text_contents(uri, *text);
         },
         .complete = [&notes](const std::string&, const std::string& typed, const std::map<std::string, std::string>&) {
           return notes.titles(typed);
         }});
  if (ok)
    ok = server.add_prompt(
        {.name = "summarize",
         .description = "Ask the model to summarize a note.",
         .arguments = {{.name = "title", .description = "the note's title", .required = true}},
         .get = [&notes](const std::map<std::string, std::string>& args, mcp::RequestContext&) -> mcp::Result<mcp::GetPromptResult> {
           auto text = notes.find(args.at("title"));  // required arguments are checked before this runs
           if (!text) return mcp::fail(no_such_note(args.at("title")));
           mcp::GetPromptResult prompt;
           prompt.description = "summary of '" + args.at("title") + "'";
           mcp::PromptMessage& message = prompt.messages.emplace_back();
           message.role = "user";
           message.content.type = "text";
           message.content.text = "Summarize this note in one line:\n\n" + *text;
           return prompt;
         },
         .complete = [&notes](const std::string&, const std::string& typed, const std::map<std::string, std::string>&) {
           return notes.titles(typed);
         }});
  return ok;
}

}  // namespace

int main(int argc, char** argv) {
  const bool http = argc == 3 && std::string(argv[1]) == "--http";
  const std::string port_arg = http ? argv[2] : "0";
  if ((argc != 1 && !http) || port_arg.empty() || port_arg.size() > 5 ||
      port_arg.find_first_not_of("0123456789") != std::string::npos || std::stoi(port_arg) > 65535) {
    std::cerr << "usage: notes_server [--http PORT]\n";
    return 2;
  }
  sigset_t stop;  // HTTP: blocked before any thread starts, so that sigwait below takes them
  sigemptyset(&stop);
  sigaddset(&stop, SIGINT);
  sigaddset(&stop, SIGTERM);
  if (http) pthread_sigmask(SIG_BLOCK, &stop, nullptr);

  Notes notes;
  notes.add("groceries", "milk, eggs, coffee");
  notes.add("ideas", "an MCP server in C++, with coffee");
  mcp::Server server({.identity = {.name = "notes", .version = "1.0.0",
                                   .instructions = "Notes: search them, read them as notes://note/{title}, add one."}});
  if (auto ok = add_everything(server, notes); !ok) { std::cerr << ok.error().what() << '\n'; return 1; }

  if (!http) return server.serve_stdio() ? 0 : 1;  // stdout carries the protocol: log to stderr only

  mcp::HttpHost host(server, {.port = static_cast<unsigned short>(std::stoi(port_arg))});  // 127.0.0.1
  auto port = host.start();
  if (!port) { std::cerr << port.error().what() << '\n'; return 1; }
  std::cout << "MCP at http://127.0.0.1:" << *port << "/mcp" << std::endl;
  int sig = 0;
  sigwait(&stop, &sig);
  host.stop();  // ends open streams and sessions, cancels what still runs
}
