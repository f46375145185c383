// SPDX-License-Identifier: MIT
// mcp::Server: the registry, the handler threads, the handler's context, and running a tool.
#include "server_impl.hpp"
#include "../lib/log_emit.hpp"
#include "../lib/protocol/json_string.hpp"
#include "../lib/protocol/json_write.hpp"

#include <algorithm>
#include <openssl/rand.h>
#include <openssl/sha.h>
#include <array>
#include <cctype>
#include <chrono>
#include <cstdio>
#include <exception>
#include <utility>

namespace mcp {

namespace sd = server_detail;

// ------------------------------------------------------------------ handler threads

namespace server_detail {

thread_local BlockingHook* blocking_hook = nullptr;

int log_level_index(std::string_view level) {
  static constexpr std::array<std::string_view, 8> kLevels{"debug",    "info",  "notice", "warning",
                                                           "error",    "critical", "alert", "emergency"};
  for (std::size_t i = 0; i < kLevels.size(); ++i)
    if (kLevels[i] == level) return static_cast<int>(i);
  return -1;
}

bool append_result_message(std::string& out, const json& id, const json& result) {
  out += "{\"id\":";
  bool ok = detail::append_json(out, id);
  out += ",\"jsonrpc\":\"2.0\",\"result\":";
  if (result.is_null()) out += "{}";
  else ok = ok && detail::append_json(out, result);
  out += '}';
  return ok;
}

HandlerPool::HandlerPool(std::size_t threads, std::size_t max_queued)
    : max_threads_(std::max<std::size_t>(threads, 1)), max_queued_(std::max<std::size_t>(max_queued, 1)) {}

HandlerPool::~HandlerPool() { stop(); }

bool HandlerPool::submit(std::function<void()> task) {
  {
    std::lock_guard lk(m_);
    if (stopped_ || queue_.size() >= max_queued_) return false;
    queue_.push_back(std::move(task));
    // Idle threads that were woken but have not taken their task yet still count as idle:
    // compare with what waits, or two tasks submitted together may share one thread.
    if (queue_.size() > idle_ && threads_.size() < max_threads_) {
      threads_.emplace_back([this] { loop(); });
      return true;  // the new thread takes it
    }
  }
  cv_.notify_one();
  return true;
}

void HandlerPool::loop() {
  std::unique_lock lk(m_);
  for (;;) {
    ++idle_;
    cv_.wait(lk, [&] { return stopped_ || !queue_.empty(); });
    --idle_;
    if (stopped_) return;
    auto task = std::move(queue_.front());
    queue_.pop_front();
    lk.unlock();
    try {
      task();
    } catch (...) {
      // Tasks guard their user code themselves; nothing may leave a pool thread.
    }
    lk.lock();
  }
}

void HandlerPool::stop() {
  std::vector<std::thread> threads;
  {
    std::lock_guard lk(m_);
    stopped_ = true;
    queue_.clear();
    threads.swap(threads_);
  }
  cv_.notify_all();
  for (auto& t : threads)
    if (t.joinable()) t.join();
}

}  // namespace server_detail

// ------------------------------------------------------------------ context

Era RequestContext::era() const { return impl_.era; }
const std::string& RequestContext::protocol_version() const { return impl_.protocol_version; }
const Implementation& RequestContext::client_info() const { return impl_.client_info(); }
const nlohmann::json& RequestContext::client_capabilities() const { return impl_.client_capabilities(); }
const nlohmann::json& RequestContext::meta() const {
  static const nlohmann::json kNone = nlohmann::json::object();
  return impl_.meta.is_null() ? kNone : impl_.meta;
}
const std::string& RequestContext::session_id() const {
  static const std::string none;
  return impl_.connection ? impl_.connection->session_id : none;
}
const AuthInfo* RequestContext::auth() const { return impl_.auth.get(); }
std::stop_token RequestContext::stop_token() const { return impl_.stop; }

namespace {

// A handler's notification. A task's: 2025-11-25, with the related-task _meta, not on the
// call's response (answered long ago) but as a notification of the session's; 2026-07-28, not
// sent (the tasks extension has no progress or log messages for tasks).
Result<void> notify_for(RequestContext::Impl& impl, const std::string& method, nlohmann::json params) {
  if (impl.task_id.empty()) return impl.connection->notify(impl.id, method, std::move(params));
  if (impl.era == Era::modern) return {};
  params["_meta"][server_detail::kMetaRelatedTask] = {{"taskId", impl.task_id}};
  return impl.connection->notify(nullptr, method, std::move(params));
}

}  // namespace

Result<void> RequestContext::progress(double progress, std::optional<double> total, std::string message) {
  const auto token = impl_.meta.find("progressToken");
  if (token == impl_.meta.end() || !impl_.connection) return {};
  nlohmann::json params{{"progressToken", *token}, {"progress", progress}};
  if (total) params["total"] = *total;
  if (!message.empty()) params["message"] = std::move(message);
  return notify_for(impl_, "notifications/progress", std::move(params));
}

bool RequestContext::close_stream(std::chrono::milliseconds retry) {
  return impl_.connection && impl_.connection->close_stream(impl_.id, retry);
}

Result<void> RequestContext::log(std::string_view level, nlohmann::json data, std::string logger) {
  const int index = sd::log_level_index(level);
  if (index < 0) return fail(Errc::invalid_argument, "unknown log level '" + std::string(level) + "'");
  if (!impl_.connection || index < impl_.log_level) return {};
  nlohmann::json params{{"level", std::string(level)}, {"data", std::move(data)}};
  if (!logger.empty()) params["logger"] = std::move(logger);
  return notify_for(impl_, "notifications/message", std::move(params));
}

// ------------------------------------------------------------------ results

CallToolResult text_result(std::string text, std::optional<nlohmann::json> structured_content) {
  CallToolResult r;
  ContentBlock b;
  b.type = "text";
  b.text = std::move(text);
  r.content.push_back(std::move(b));
  r.structured_content = std::move(structured_content);
  return r;
}

CallToolResult error_result(std::string text) {
  CallToolResult r = text_result(std::move(text));
  r.is_error = true;
  return r;
}

// ------------------------------------------------------------------ server

Server::Impl::Impl(ServerOptions o)
    : options(std::move(o)),
      diagnostics(detail::diagnostic_sink(options.on_diagnostic, options.on_log, options.identity.name)),
      pool(options.handler_threads, options.max_queued_requests) {
  // The key that seals input-round states: the configured secret hashed to 32 bytes, or random.
  unsigned char key[SHA256_DIGEST_LENGTH];
  if (!options.input_state_key.empty()) {
    SHA256(reinterpret_cast<const unsigned char*>(options.input_state_key.data()), options.input_state_key.size(), key);
  } else if (RAND_bytes(key, sizeof key) != 1) {
    throw std::runtime_error("mcp::Server: no randomness for the input state key");
  }
  state_key.assign(reinterpret_cast<const char*>(key), sizeof key);
  identity_cached = identity_json();
  std::string meta_text = std::string("{\"") + server_detail::kMetaServerInfo + "\":";
  if (detail::append_json(meta_text, identity_cached)) {
    meta_text += '}';
    server_info_meta = detail::raw_json(meta_text);
    server_info_meta_text = std::move(meta_text);
  }
}

std::shared_ptr<const Server::Impl::Tool> Server::Impl::find_tool(std::string_view name) const {
  std::lock_guard lk(m);
  for (const auto& t : tools)
    if (t->spec.name == name) return t;
  return nullptr;
}

std::shared_ptr<const Server::Impl::PromptEntry> Server::Impl::find_prompt(std::string_view name) const {
  std::lock_guard lk(m);
  for (const auto& p : prompts)
    if (p->spec.name == name) return p;
  return nullptr;
}

std::pair<std::shared_ptr<const Server::Impl::ResourceEntry>, std::shared_ptr<const Server::Impl::TemplateEntry>>
Server::Impl::find_resource(const std::string& uri, std::map<std::string, std::string>& variables) const {
  std::lock_guard lk(m);
  for (const auto& r : resources)
    if (r->spec.uri == uri) return {r, nullptr};
  for (const auto& t : templates)
    if (auto vars = t->uri.match(uri)) {
      variables = std::move(*vars);
      return {nullptr, t};
    }
  return {nullptr, nullptr};
}

void Server::Impl::add_connection(const std::shared_ptr<server_detail::Connection>& c) {
  std::lock_guard lk(connections_m);
  connections.push_back(c);
  if (connections.size() >= prune_connections_at) prune_connections_locked();
}

void Server::Impl::prune_connections() {
  std::lock_guard lk(connections_m);
  prune_connections_locked();
}

// A weak_ptr keeps the block of a make_shared connection allocated: ended connections are
// dropped here, not only when the next one comes (10,000 expired sessions held 6.8 MB).
void Server::Impl::prune_connections_locked() {
  std::erase_if(connections, [](const auto& w) { return w.expired(); });
  if (connections.capacity() > 2 * connections.size() + 64) connections.shrink_to_fit();
  prune_connections_at = std::max<std::size_t>(64, 2 * connections.size());  // amortized O(1) per add
}

void Server::Impl::broadcast(const std::string& method, const nlohmann::json& params, const std::string* uri) {
  std::vector<std::shared_ptr<server_detail::Connection>> live;
  {
    std::lock_guard lk(connections_m);
    std::erase_if(connections, [](const auto& w) { return w.expired(); });
    for (const auto& w : connections)
      if (auto c = w.lock()) live.push_back(std::move(c));
  }
  for (const auto& c : live) {
    {
      std::lock_guard lk(c->m);
      if (!c->initialized || c->closing) continue;  // legacy sessions (modern: listeners below)
      if (uri && !c->subscriptions.count(*uri)) continue;
    }
    (void)c->notify(nullptr, method, params);
  }
  // 2026-07-28: the listen streams that asked for this kind (a resource: its URI, or one under it).
  std::vector<std::shared_ptr<Listener>> streams, ended;  // `ended` is destroyed outside the lock
  {
    std::lock_guard lk(listeners_m);
    for (auto& l : listeners) (l->stop->stop_requested() || l->connection.expired() ? ended : streams).push_back(l);
    listeners = streams;
  }
  for (const auto& l : streams) {
    if (l->stop->stop_requested()) continue;
    bool wanted = false;
    if (uri) {
      for (const auto& u : l->uris) wanted = wanted || *uri == u || uri->rfind(u + "/", 0) == 0;
    } else {
      wanted = (method == "notifications/tools/list_changed" && l->tools) ||
               (method == "notifications/prompts/list_changed" && l->prompts) ||
               (method == "notifications/resources/list_changed" && l->resources);
    }
    auto c = l->connection.lock();
    if (!wanted || !c) continue;
    nlohmann::json p = params;
    p["_meta"][server_detail::kMetaSubscriptionId] = l->id;
    (void)c->notify(l->id, method, std::move(p));
  }
}

void Server::Impl::diagnose(std::string_view what, detail::DiagnosticAbout about) const {
  if (diagnostics) diagnostics(what, about);  // what the user's callbacks throw is dropped there
}

nlohmann::json Server::Impl::identity_json() const {
  const auto& id = options.identity;
  nlohmann::json j{{"name", id.name}, {"version", id.version}};
  if (id.title) j["title"] = *id.title;
  if (id.description) j["description"] = *id.description;
  if (id.website_url) j["websiteUrl"] = *id.website_url;
  if (!id.icons.empty()) j["icons"] = id.icons;
  return j;
}

std::shared_ptr<const nlohmann::json> Server::Impl::capabilities(bool modern) const {
  std::lock_guard lk(m);
  auto& cached = caps_cache[modern ? 1 : 0];
  if (!cached) cached = std::make_shared<const nlohmann::json>(capabilities_now(modern));
  return cached;
}

nlohmann::json Server::Impl::capabilities_now(bool modern) const {
  // What the server has (a capability it declares must have handlers behind it); list changes
  // reach legacy clients (modern ones would need subscriptions/listen, not served yet).
  nlohmann::json caps{{"logging", nlohmann::json::object()}};
  if (!tools.empty()) caps["tools"] = {{"listChanged", true}};
  if (!resources.empty() || !templates.empty()) caps["resources"] = {{"listChanged", true}, {"subscribe", true}};
  if (!prompts.empty()) caps["prompts"] = {{"listChanged", true}};
  bool completes = false;
  for (const auto& p : prompts) completes = completes || static_cast<bool>(p->spec.complete);
  for (const auto& t : templates) completes = completes || static_cast<bool>(t->spec.complete);
  if (completes) caps["completions"] = nlohmann::json::object();
  // 2026-07-28: the tasks extension (SEP-2663), when a tool may run as a task. (2025-11-25's
  // `tasks` capability is added by initialize, for that revision.)
  bool tasks = false;
  for (const auto& t : tools) tasks = tasks || t->spec.task_support != TaskSupport::forbidden;
  if (modern && tasks) caps["extensions"][server_detail::kTasksExtension] = nlohmann::json::object();
  return caps;
}

nlohmann::json Server::Impl::finish(bool modern, nlohmann::json result, bool cacheable) const {
  if (!modern) return result;
  if (const auto rt = result.find("resultType"); rt != result.end() && *rt == "input_required") {
    if (options.server_info_in_results) result["_meta"][server_detail::kMetaServerInfo] = identity_cached;
    return result;  // not cacheable: the retry's answer is another one
  }
  result["resultType"] = "complete";
  // 2026-07-28: cacheable results say for how long and for whom. What a handler computes may
  // change at any time: not cached (ttlMs 0), and the same for every caller.
  if (cacheable) {
    if (!result.contains("ttlMs")) result["ttlMs"] = 0;
    if (!result.contains("cacheScope")) result["cacheScope"] = "public";
  }
  if (options.server_info_in_results) {
    // A result without _meta gets the one written once (a raw_json value: a finished result
    // only goes out, through append_json).
    if (const auto m = result.find("_meta"); m == result.end() && !server_info_meta.is_null())
      result["_meta"] = server_info_meta;
    else
      result["_meta"][server_detail::kMetaServerInfo] = identity_cached;
  }
  return result;
}

nlohmann::json Server::Impl::tool_answer(bool modern, CallToolResult&& r) const {
  const bool meta = modern && options.server_info_in_results;
  // (An identity that could not be written once goes the tree's way too.)
  bool plain = r.raw.is_null() && !r.structured_content && r.meta.is_null() && !(meta && server_info_meta_text.empty());
  for (const auto& b : r.content) plain = plain && b.raw.is_null();
  if (!plain) {
    nlohmann::json out;
    to_json(out, r);
    return out;
  }
  // What to_json and finish() would build, written at once: the members in the order the tree
  // keeps them (std::map: _meta, content, isError, resultType; data, mimeType, text, type, uri).
  std::size_t room = 64 + (meta ? server_info_meta_text.size() : 0);
  for (const auto& b : r.content) room += 48 + b.text.size() + b.data.size() + b.mime_type.size() + b.uri.size() + b.type.size();
  std::string text;
  text.reserve(room);
  text += '{';
  if (meta) {
    text += "\"_meta\":";
    text += server_info_meta_text;
    text += ',';
  }
  text += "\"content\":[";
  for (std::size_t i = 0; i < r.content.size(); ++i) {
    const ContentBlock& b = r.content[i];
    text += i ? ",{" : "{";
    bool first = true;
    const auto member = [&](const char* key, std::string_view value) {
      if (!first) text += ',';
      first = false;
      text += '"';
      text += key;
      text += "\":";
      detail::append_json_string(text, value);
    };
    if (!b.data.empty()) member("data", b.data);
    if (!b.mime_type.empty()) member("mimeType", b.mime_type);
    if (b.type == "text") member("text", b.text);
    member("type", b.type);
    if (!b.uri.empty()) member("uri", b.uri);
    text += '}';
  }
  text += r.is_error ? "],\"isError\":true" : "],\"isError\":false";
  if (modern) text += ",\"resultType\":\"complete\"";
  text += '}';
  return detail::raw_json(text);
}

namespace {

// What a handler's unexpected exception is answered with: no text of the exception's (it may
// hold what the client must not see).
Error internal_error(const std::string& what) {
  Error e = Error::make(Errc::invalid_result, "Internal error in " + what);
  e.rpc_code = -32603;
  return e;
}

}  // namespace

Result<CallToolResult> Server::Impl::run_tool(const Tool& tool, const nlohmann::json& arguments,
                                              RequestContext::Impl& ctx, bool legacy_invalid_params) {
  if (tool.input) {
    if (auto why = tool.input->validate(arguments); !why.empty()) {
      std::string text = "Invalid arguments for tool " + tool.spec.name + ": " + why;
      if (legacy_invalid_params) {
        Error e = Error::make(Errc::invalid_argument, std::move(text));
        e.rpc_code = -32602;
        return fail(std::move(e));
      }
      return error_result(std::move(text));
    }
  }
  RequestContext context(ctx);
  Result<CallToolResult> r = fail(Errc::invalid_argument, "no result");
  try {
    r = tool.spec.handler(arguments, context);
  } catch (const ToolError& e) {
    return error_result(e.what());  // for the model to read
  } catch (const std::exception& e) {
    diagnose("tool " + tool.spec.name + " threw: " + e.what(), {detail::log_request_id(ctx.id), "tools/call"});
    return fail(internal_error("tool " + tool.spec.name));
  } catch (...) {
    diagnose("tool " + tool.spec.name + " threw", {detail::log_request_id(ctx.id), "tools/call"});
    return fail(internal_error("tool " + tool.spec.name));
  }
  if (!r) return r;
  // A successful result with structured content must match the output schema; a tool that
  // breaks its own contract is a server error, not something the model can correct.
  if (tool.output && !r->is_error) {
    if (!r->structured_content) {
      Error e = Error::make(Errc::invalid_result, "tool " + tool.spec.name +
                                                      " has an output schema but returned no structured content");
      e.rpc_code = -32603;
      return fail(std::move(e));
    }
    if (auto why = tool.output->validate(*r->structured_content); !why.empty()) {
      Error e = Error::make(Errc::invalid_result,
                            "tool " + tool.spec.name + " returned structured content its output schema refuses: " + why);
      e.rpc_code = -32603;
      return fail(std::move(e));
    }
  }
  return r;
}

Result<nlohmann::json> Server::Impl::run_reader(const ResourceReader& reader, const std::string& uri,
                                                const std::map<std::string, std::string>& variables,
                                                RequestContext::Impl& ctx) {
  RequestContext context(ctx);
  Result<std::vector<ResourceContents>> r = fail(Errc::invalid_result, "no contents");
  try {
    r = reader(uri, variables, context);
  } catch (const std::exception& e) {
    diagnose("reading " + uri + " threw: " + e.what(), {detail::log_request_id(ctx.id), "resources/read"});
    return fail(internal_error("reading a resource"));
  } catch (...) {
    diagnose("reading " + uri + " threw", {detail::log_request_id(ctx.id), "resources/read"});
    return fail(internal_error("reading a resource"));
  }
  if (!r) return fail(std::move(r.error()));
  // A resource that exists has contents: an empty list would read as "not found" to no one.
  if (r->empty()) return fail(internal_error("reading a resource (no contents returned)"));
  nlohmann::json contents = nlohmann::json::array();
  for (auto& item : *r) {
    if (item.uri.empty()) item.uri = uri;
    nlohmann::json j;
    to_json(j, item);
    contents.push_back(std::move(j));
  }
  return nlohmann::json{{"contents", std::move(contents)}};
}

Result<nlohmann::json> Server::Impl::run_prompt(const PromptEntry& prompt, const std::map<std::string, std::string>& args,
                                                RequestContext::Impl& ctx) {
  RequestContext context(ctx);
  Result<GetPromptResult> r = fail(Errc::invalid_result, "no prompt");
  try {
    r = prompt.spec.get(args, context);
  } catch (const std::exception& e) {
    diagnose("prompt " + prompt.spec.name + " threw: " + e.what(), {detail::log_request_id(ctx.id), "prompts/get"});
    return fail(internal_error("prompt " + prompt.spec.name));
  } catch (...) {
    diagnose("prompt " + prompt.spec.name + " threw", {detail::log_request_id(ctx.id), "prompts/get"});
    return fail(internal_error("prompt " + prompt.spec.name));
  }
  if (!r) return fail(std::move(r.error()));
  nlohmann::json j;
  to_json(j, *r);
  return j;
}

namespace {

bool ascii_iprefix(std::string_view s, std::string_view prefix) {
  if (s.size() < prefix.size()) return false;
  for (std::size_t i = 0; i < prefix.size(); ++i)
    if (std::tolower(static_cast<unsigned char>(s[i])) != prefix[i]) return false;
  return true;
}

// Why an icon may not be offered (empty: it may): its src must be an http(s) URL or a data: URI
// (2025-11-25 Icon; a javascript: or file: URI is what a client must never be handed).
std::string icon_problem(const Icon& icon) {
  const std::string_view src = icon.src;
  if (!(ascii_iprefix(src, "https://") || ascii_iprefix(src, "http://") || ascii_iprefix(src, "data:")))
    return "an icon's src must be an http(s) URL or a data: URI";
  if (icon.theme && *icon.theme != "light" && *icon.theme != "dark") return "an icon's theme must be \"light\" or \"dark\"";
  return {};
}

Result<void> check_icons(const std::vector<Icon>& icons, const std::string& what) {
  for (const auto& icon : icons)
    if (auto why = icon_problem(icon); !why.empty()) return fail(Errc::invalid_argument, what + ": " + why);
  return {};
}

// What tools/list (resources/list, ...) sends for an entry: the typed fields as types.cpp
// writes them (the same the client reads back), and the annotations the entry has.
template <class Info>
void set_raw(Info& info, const nlohmann::json& annotations) {
  info.raw = nlohmann::json();
  nlohmann::json raw;
  to_json(raw, info);
  if (!annotations.is_null()) raw["annotations"] = annotations;
  info.raw = std::move(raw);
}

std::string utc_now_iso8601() {
  using namespace std::chrono;
  const auto now = floor<seconds>(system_clock::now());
  const auto day = floor<days>(now);
  const year_month_day date{day};
  const hh_mm_ss time{now - day};
  char buf[32];
  std::snprintf(buf, sizeof buf, "%04d-%02u-%02uT%02d:%02d:%02dZ", static_cast<int>(date.year()),
                static_cast<unsigned>(date.month()), static_cast<unsigned>(date.day()), static_cast<int>(time.hours().count()),
                static_cast<int>(time.minutes().count()), static_cast<int>(time.seconds().count()));
  return buf;
}

ServerOptions with_defaults(ServerOptions o) {
  auto& id = o.identity;
  // (Server::Impl::diagnostics does the same for every later diagnostic.)
  const auto diagnose = detail::diagnostic_sink(o.on_diagnostic, o.on_log, id.name);
  std::erase_if(id.icons, [&](const Icon& icon) {
    auto why = icon_problem(icon);
    if (why.empty()) return false;
    if (diagnose) diagnose("server identity: " + why + "; that icon is not sent", {});
    return true;
  });
  if (id.registry.id.empty()) id.registry.id = id.name;
  if (id.registry.release_date.empty()) id.registry.release_date = utc_now_iso8601();
  return o;
}

}  // namespace

Server::Server(ServerOptions options) : impl_(std::make_shared<Impl>(with_defaults(std::move(options)))) {}

Server::~Server() {
  impl_->cancel_all_tasks();  // their handlers see their stop tokens, then the pool waits for them
  impl_->pool.stop();
}

Result<void> Server::add_tool(ServerTool tool) {
  if (tool.name.empty()) return fail(Errc::invalid_argument, "a tool needs a name");
  if (!tool.handler) return fail(Errc::invalid_argument, "tool " + tool.name + " has no handler");
  if (!tool.input_schema.is_object())
    return fail(Errc::invalid_argument, "tool " + tool.name + ": the input schema must be a JSON object");
  if (auto ok = check_icons(tool.icons, "tool " + tool.name); !ok) return ok;
  auto t = std::make_shared<Impl::Tool>();
  // x-mcp-header annotations a client would refuse the tool for (26/server/tools) are refused here.
  auto headers = detail::param_headers(tool.input_schema);
  if (!headers) return fail(Errc::invalid_argument, "tool " + tool.name + ": " + headers.error());
  t->param_headers = std::move(*headers);
  auto in = detail::SchemaValidator::compile(tool.input_schema);
  if (!in) return fail(Errc::invalid_argument, "tool " + tool.name + ": input schema: " + in.error());
  t->input = *in;
  if (tool.output_schema) {
    if (!tool.output_schema->is_object())
      return fail(Errc::invalid_argument, "tool " + tool.name + ": the output schema must be a JSON object");
    auto out = detail::SchemaValidator::compile(*tool.output_schema);
    if (!out) return fail(Errc::invalid_argument, "tool " + tool.name + ": output schema: " + out.error());
    t->output = *out;
  }
  ToolDefinition& d = t->info;
  d.name = tool.name;
  d.title = tool.title;
  d.description = tool.description;
  d.input_schema = tool.input_schema;
  d.output_schema = tool.output_schema;
  d.annotations = tool.annotations;
  d.icons = tool.icons;
  set_raw(d, nlohmann::json());  // annotations are a typed field of ToolDefinition
  t->spec = std::move(tool);
  {
    std::lock_guard lk(impl_->m);
    for (const auto& x : impl_->tools)
      if (x->spec.name == t->spec.name) return fail(Errc::invalid_argument, "a tool named " + t->spec.name + " exists already");
    impl_->tools.push_back(std::move(t));
    impl_->caps_cache = {};
  }
  notify_tools_changed();
  return {};
}

namespace {

Result<void> invalid(std::string message) { return fail(Errc::invalid_argument, std::move(message)); }

template <class T, class Key>
bool erase_entry(std::vector<std::shared_ptr<const T>>& v, Key key) {
  auto it = std::find_if(v.begin(), v.end(), key);
  if (it == v.end()) return false;
  v.erase(it);
  return true;
}

}  // namespace

Result<void> Server::add_resource(ServerResource r) {
  if (r.uri.empty() || r.name.empty()) return invalid("a resource needs a uri and a name");
  if (!r.read) return invalid("resource " + r.uri + " has no read handler");
  if (auto ok = check_icons(r.icons, "resource " + r.uri); !ok) return ok;
  auto e = std::make_shared<Impl::ResourceEntry>();
  Resource& info = e->info;
  info.uri = r.uri;
  info.name = r.name;
  info.title = r.title;
  info.description = r.description;
  info.mime_type = r.mime_type;
  info.size = r.size;
  info.icons = r.icons;
  set_raw(info, r.annotations);
  e->spec = std::move(r);
  {
    std::lock_guard lk(impl_->m);
    for (const auto& x : impl_->resources)
      if (x->spec.uri == e->spec.uri) return invalid("a resource at " + e->spec.uri + " exists already");
    impl_->resources.push_back(std::move(e));
    impl_->caps_cache = {};
  }
  notify_resources_changed();
  return {};
}

Result<void> Server::add_resource_template(ServerResourceTemplate t) {
  if (t.uri_template.empty() || t.name.empty()) return invalid("a resource template needs a uri_template and a name");
  if (!t.read) return invalid("resource template " + t.uri_template + " has no read handler");
  auto parsed = server_detail::UriTemplate::parse(t.uri_template);
  if (!parsed) return invalid("resource template " + t.uri_template + " is not a URI template we can match ({name} or {+name})");
  if (auto ok = check_icons(t.icons, "resource template " + t.uri_template); !ok) return ok;
  auto e = std::make_shared<Impl::TemplateEntry>();
  e->uri = std::move(*parsed);
  ResourceTemplate& info = e->info;
  info.uri_template = t.uri_template;
  info.name = t.name;
  info.title = t.title;
  info.description = t.description;
  info.mime_type = t.mime_type;
  info.icons = t.icons;
  set_raw(info, t.annotations);
  e->spec = std::move(t);
  {
    std::lock_guard lk(impl_->m);
    for (const auto& x : impl_->templates)
      if (x->spec.uri_template == e->spec.uri_template) return invalid("the template " + e->spec.uri_template + " exists already");
    impl_->templates.push_back(std::move(e));
    impl_->caps_cache = {};
  }
  notify_resources_changed();
  return {};
}

Result<void> Server::add_prompt(ServerPrompt p) {
  if (p.name.empty()) return invalid("a prompt needs a name");
  if (!p.get) return invalid("prompt " + p.name + " has no handler");
  if (auto ok = check_icons(p.icons, "prompt " + p.name); !ok) return ok;
  auto e = std::make_shared<Impl::PromptEntry>();
  Prompt& info = e->info;
  info.name = p.name;
  info.title = p.title;
  info.description = p.description;
  info.arguments = p.arguments;
  info.icons = p.icons;
  set_raw(info, nlohmann::json());
  e->spec = std::move(p);
  {
    std::lock_guard lk(impl_->m);
    for (const auto& x : impl_->prompts)
      if (x->spec.name == e->spec.name) return invalid("a prompt named " + e->spec.name + " exists already");
    impl_->prompts.push_back(std::move(e));
    impl_->caps_cache = {};
  }
  notify_prompts_changed();
  return {};
}

bool Server::remove_tool(std::string_view name) {
  bool gone;
  {
    std::lock_guard lk(impl_->m);
    gone = erase_entry(impl_->tools, [&](const auto& t) { return t->spec.name == name; });
    impl_->caps_cache = {};
  }
  if (gone) notify_tools_changed();
  return gone;
}

bool Server::remove_resource(std::string_view uri) {
  bool gone;
  {
    std::lock_guard lk(impl_->m);
    gone = erase_entry(impl_->resources, [&](const auto& r) { return r->spec.uri == uri; }) ||
           erase_entry(impl_->templates, [&](const auto& t) { return t->spec.uri_template == uri; });
    impl_->caps_cache = {};
  }
  if (gone) notify_resources_changed();
  return gone;
}

bool Server::remove_prompt(std::string_view name) {
  bool gone;
  {
    std::lock_guard lk(impl_->m);
    gone = erase_entry(impl_->prompts, [&](const auto& p) { return p->spec.name == name; });
    impl_->caps_cache = {};
  }
  if (gone) notify_prompts_changed();
  return gone;
}

void Server::notify_tools_changed() { impl_->broadcast("notifications/tools/list_changed", nlohmann::json::object()); }
void Server::notify_resources_changed() { impl_->broadcast("notifications/resources/list_changed", nlohmann::json::object()); }
void Server::notify_prompts_changed() { impl_->broadcast("notifications/prompts/list_changed", nlohmann::json::object()); }
void Server::notify_resource_updated(std::string_view uri) {
  const std::string u(uri);
  impl_->broadcast("notifications/resources/updated", {{"uri", u}}, &u);
}

std::vector<Resource> Server::resource_infos() const {
  std::vector<Resource> out;
  for (const auto& r : impl_->snapshot(impl_->resources)) out.push_back(r->info);
  return out;
}
std::vector<ResourceTemplate> Server::resource_template_infos() const {
  std::vector<ResourceTemplate> out;
  for (const auto& t : impl_->snapshot(impl_->templates)) out.push_back(t->info);
  return out;
}
std::vector<Prompt> Server::prompt_infos() const {
  std::vector<Prompt> out;
  for (const auto& p : impl_->snapshot(impl_->prompts)) out.push_back(p->info);
  return out;
}

const ServerIdentity& Server::info() const { return impl_->options.identity; }

nlohmann::json Server::detail() const {
  const auto& id = impl_->options.identity;
  const auto& reg = id.registry;
  nlohmann::json j{{"id", reg.id}, {"name", id.name}};
  if (id.description) j["description"] = *id.description;
  if (reg.repository)
    j["repository"] = {{"url", reg.repository->url}, {"source", reg.repository->source}, {"id", reg.repository->id}};
  j["version_detail"] = {{"version", id.version}, {"release_date", reg.release_date}, {"is_latest", reg.is_latest}};
  if (reg.package_canonical) j["package_canonical"] = *reg.package_canonical;
  if (reg.packages.is_array() && !reg.packages.empty()) j["packages"] = reg.packages;
  if (!reg.remotes.empty()) {
    auto& remotes = j["remotes"] = nlohmann::json::array();
    for (const auto& r : reg.remotes) remotes.push_back({{"transport_type", r.transport_type}, {"url", r.url}});
  }
  return j;
}

std::vector<ToolDefinition> Server::tool_infos() const {
  std::lock_guard lk(impl_->m);
  std::vector<ToolDefinition> out;
  out.reserve(impl_->tools.size());
  for (const auto& t : impl_->tools) out.push_back(t->info);
  return out;
}

std::optional<ToolDefinition> Server::tool_info(std::string_view name) const {
  auto t = impl_->find_tool(name);
  if (!t) return std::nullopt;
  return t->info;
}

Result<CallToolResult> Server::execute_tool(std::string_view name, const nlohmann::json& arguments) {
  auto t = impl_->find_tool(name);
  if (!t) return fail(Errc::tool_not_found, "no tool named " + std::string(name));
  if (!arguments.is_object()) return fail(Errc::invalid_argument, "tool arguments must be a JSON object");
  RequestContext::Impl ctx;
  auto r = impl_->run_tool(*t, arguments, ctx, true);
  if (!r && r.error().rpc_code == -32602) r.error().code = make_error_code(Errc::invalid_argument);
  return r;
}

}  // namespace mcp
