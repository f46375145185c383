// SPDX-License-Identifier: MIT
// Session: the public methods, over the request pipeline (pipeline.cpp) and the connection
// (connect.cpp).
#include "session_impl.hpp"

#include "../protocol/jsonrpc.hpp"
#include "../protocol/schema_validator.hpp"
#include "../protocol/types_detail.hpp"
#include "../util/json_release.hpp"

namespace mcp {

using nlohmann::json;
using Clock = Transport::Clock;

Session::Session(std::string name, ServerConfig config, ClientConfig client)
    : impl_(std::make_shared<Impl>(std::move(name), std::move(config), std::move(client))) {}

Session::~Session() {
  if (!impl_) return;
  impl_->closed.store(true);
  impl_->disconnect();
}

const std::string& Session::name() const noexcept { return impl_->name; }

Result<ServerInfo> Session::connect(const RequestOptions& options) {
  auto c = impl_->ensure(options);
  if (!c) return fail(c.error());
  return *c->second;
}

Era Session::era() const {
  std::lock_guard lk(impl_->mutex);
  return impl_->verdict;
}

bool Session::failed() const {
  std::lock_guard lk(impl_->mutex);
  return impl_->engine && !impl_->engine->is_open();
}

bool Session::connected() const {
  std::lock_guard lk(impl_->mutex);
  return impl_->engine && impl_->engine->is_open();
}

Result<json> Session::request(std::string_view method, json params, const RequestOptions& options) {
  return impl_->request(method, std::move(params), options);
}

Result<void> Session::notify(std::string_view method, json params) {
  auto c = impl_->ensure({});
  if (!c) return fail(c.error());
  auto r = c->first->notify(std::string(method), std::move(params), Clock::now() + impl_->client.request_timeout);
  if (!r) return fail(tagged(r.error(), impl_->name));
  return {};
}

namespace {

// The tools/call params of a thread's last call, {"arguments": null, "name": ""}: the next call
// on the thread refills them, allocating neither the object, its members nor the name's string.
json& spare_tool_params() {
  thread_local json p;
  return p;
}

// After a call: its params (as tool_call_params made them, less what the call added) become the
// thread's spare, unless it has one (a call nested in a handler's).
void keep_tool_params(json& params) {
  json& spare = spare_tool_params();
  if (!spare.is_null() || !params.is_object()) return;
  auto& members = params.get_ref<json::object_t&>();
  if (members.size() != 2) return;  // input rounds added members: not worth the trimming
  const auto n = members.find(std::string_view("name")), a = members.find(std::string_view("arguments"));
  if (n == members.end() || a == members.end() || !n->second.is_string()) return;
  detail::release(a->second);
  a->second = nullptr;
  n->second.get_ref<std::string&>().clear();
  spare = std::move(params);
}

}  // namespace

Result<json> Session::Impl::tool_call_params(std::string_view tool, json arguments) const {
  if (arguments.is_null()) arguments = json::object();
  if (const auto& approve = client.handlers.approve_tool_call; approve && !approve(name, std::string(tool), arguments))
    return fail(Errc::call_denied, "tools/call " + std::string(tool) + ": denied by the approval callback", name);
  if (!arguments.is_object())
    return fail(Errc::invalid_argument, "tools/call " + std::string(tool) + ": arguments must be a JSON object", name);
  json params = std::move(spare_tool_params());  // leaves the spare null
  if (params.is_object()) {
    auto& members = params.get_ref<json::object_t&>();
    members.find(std::string_view("name"))->second.get_ref<std::string&>().assign(tool);
    members.find(std::string_view("arguments"))->second = std::move(arguments);
    return params;
  }
  params = json(json::value_t::object);  // not an initializer list: that copies `arguments`
  params.get_ref<json::object_t&>().emplace("name", tool);
  params.get_ref<json::object_t&>().emplace("arguments", std::move(arguments));
  return params;
}

Result<SendOptions> Session::Impl::tool_send_options(std::string_view tool, const json& params) {
  SendOptions so;
  if (!transport.param_headers) return so;
  std::lock_guard lk(mutex);
  if (param_headers.empty()) return so;
  auto it = param_headers.find(std::string(tool));
  if (it == param_headers.end()) return so;
  auto values = detail::param_header_values(it->second, params["arguments"]);
  if (!values) return fail(Errc::invalid_argument, "tools/call " + std::string(tool) + ": " + values.error(), name);
  so.headers = std::move(*values);
  return so;
}

bool Session::Impl::relist_on(const Error& e) const {
  return transport.param_headers && e.rpc_code == jsonrpc::header_mismatch;
}

void Session::Impl::strip_for_retry(json& params) {
  // What the first try added goes: back to {name, arguments}.
  if (params.is_object())
    for (const char* added : {"_meta", "inputResponses", "requestState"}) params.erase(added);
}

Result<CallToolResult> Session::Impl::tool_result(const std::string& tool, json r) {
  CallToolResult result;
  try {
    detail::call_tool_result_from(std::move(r), result);  // payloads moved, not copied
  } catch (const std::exception& e) {
    return fail(Errc::invalid_result, "tools/call " + tool + ": " + e.what(), name);
  }
  // A tool with an outputSchema must return matching structuredContent (unless it failed).
  std::optional<tl::expected<std::shared_ptr<const detail::SchemaValidator>, std::string>> schema;
  {
    std::lock_guard lk(mutex);
    if (!output_schemas.empty()) {
      auto it = output_schemas.find(tool);
      if (it != output_schemas.end()) schema = it->second;
    }
  }
  if (schema && !result.is_error) {
    if (!*schema)
      return fail(Errc::invalid_result,
                  "tools/call " + tool + ": the tool's outputSchema cannot be used: " + schema->error(), name);
    if (!result.structured_content)
      return fail(Errc::invalid_result,
                  "tools/call " + tool + ": the tool declares an outputSchema but returned no structuredContent", name);
    if (auto why = (**schema)->validate(*result.structured_content); !why.empty()) {
      Error e = server_error(Errc::invalid_result,
                             "tools/call " + tool + ": structuredContent does not match the outputSchema: " + why, name);
      e.data = json(result);  // the result as sent
      return fail(std::move(e));
    }
  }
  return result;
}

Result<ReadResourceResult> Session::Impl::read_result(const std::string& uri, json r) const {
  ReadResourceResult out;
  try {
    detail::read_resource_result_from(std::move(r), out);  // payloads moved, not copied
  } catch (const std::exception& e) {
    return fail(Errc::invalid_result, "resources/read " + uri + ": " + e.what(), name);
  }
  return out;
}

Result<void> Session::Impl::skills_declared(const ServerInfo& si, bool directory_read) const {
  const std::string ext(skills_extension);
  const json* e = nullptr;
  if (auto x = si.capabilities.find("extensions"); x != si.capabilities.end() && x->is_object())
    if (auto it = x->find(ext); it != x->end() && it->is_object()) e = &*it;
  if (!e)
    return fail(Errc::extension_not_supported, "the server does not declare the " + ext + " extension", name);
  if (directory_read) {
    auto d = e->find("directoryRead");
    if (d == e->end() || !d->is_boolean() || !d->get<bool>())
      return fail(Errc::extension_not_supported,
                  "the server does not declare directoryRead for " + ext + ": resources/directory/read is not sent",
                  name);
  }
  return {};
}

Result<Skill> Session::Impl::skill_result(const std::string& uri, json r) const {
  auto it = r.find("skill");
  if (it == r.end()) return fail(Errc::invalid_result, "skills/get " + uri + ": result has no 'skill'", name);
  Skill out;
  try {
    out = it->get<Skill>();
  } catch (const std::exception& e) {
    return fail(Errc::invalid_result, "skills/get " + uri + ": " + e.what(), name);
  }
  if (out.uri != uri)
    return fail(Errc::invalid_result, "skills/get " + uri + ": the server answered for " + out.uri, name);
  return out;
}

Result<void> Session::Impl::skill_file_precheck(const Skill& skill, const std::string& uri) const {
  // Nothing is read that could not be used: a file the entry does not list, or any file of a
  // skill beyond the limits.
  if (skill.files && !skill.file(uri))
    return fail(Errc::file_not_listed,
                uri + " is not among the files of " + skill.uri + "; fetch the skill's entry again (skills/get) to read files added since",
                name);
  if (auto l = check_skill_limits(skill); !l) return fail(tagged(std::move(l.error()), name));
  return {};
}

Result<SkillFileContent> Session::Impl::skill_file_result(const Skill& skill, const std::string& uri, json r) const {
  auto read = read_result(uri, std::move(r));
  if (!read) return fail(read.error());
  // The item for this URI; a single item whatever its uri (servers echo it inconsistently).
  const ResourceContents* item = nullptr;
  for (const auto& c : read->contents)
    if (c.uri == uri) item = &c;
  if (!item && read->contents.size() == 1) item = &read->contents.front();
  if (!item) return fail(Errc::invalid_result, "resources/read " + uri + ": no contents for that URI", name);
  auto bytes = item->bytes();
  if (!bytes) return fail(Errc::invalid_result, "resources/read " + uri + ": contents with neither text nor a valid blob", name);
  if (skill.dynamic() && bytes->size() > SkillLimits::max_total_size)
    return fail(Errc::limit_exceeded, uri + ": more than 16 MiB for one file of a dynamic skill; not used", name);
  if (auto v = verify_skill_file(skill, uri, *bytes); !v) return fail(tagged(std::move(v.error()), name));
  SkillFileContent out;
  out.uri = uri;
  out.mime_type = item->mime_type;
  out.text = item->text.has_value();
  out.bytes = std::move(*bytes);
  out.verified = !skill.dynamic();
  return out;
}

json Session::Impl::prompt_params(const std::string& prompt, const std::map<std::string, std::string>& arguments) {
  json params{{"name", prompt}};
  if (!arguments.empty()) params["arguments"] = arguments;
  return params;
}

Result<GetPromptResult> Session::Impl::prompt_result(const std::string& prompt, json r) const {
  GetPromptResult out;
  try {
    detail::get_prompt_result_from(std::move(r), out);  // contents moved, not copied
  } catch (const std::exception& e) {
    return fail(Errc::invalid_result, "prompts/get " + prompt + ": " + e.what(), name);
  }
  return out;
}

json Session::Impl::complete_params(const json& ref, const std::string& argument, const std::string& value,
                                    const json& context) {
  json params{{"ref", ref}, {"argument", {{"name", argument}, {"value", value}}}};
  if (context.is_object()) params["context"] = context;
  return params;
}

Result<json> Session::Impl::completion_result(json r) const {
  if (!r.contains("completion") || !r["completion"].is_object())
    return fail(Errc::invalid_result, "completion/complete: result has no 'completion' object", name);
  return std::move(r["completion"]);
}

Result<CallToolResult> Session::call_tool(std::string_view name, json arguments, const RequestOptions& options) {
  auto params = impl_->tool_call_params(name, std::move(arguments));
  if (!params) return fail(params.error());
  auto so = impl_->tool_send_options(name, *params);
  if (!so) return fail(so.error());
  // Lent, not copied: they come back for the retry below.
  auto r = impl_->request_lent("tools/call", *params, options, *so);
  if (!r && impl_->relist_on(r.error())) {
    // HeaderMismatch: the tool's inputSchema may have changed; re-list and retry once.
    auto relisted = list_tools(options);
    if (!relisted) return fail(relisted.error());
    so = impl_->tool_send_options(name, *params);
    if (!so) return fail(so.error());
    Impl::strip_for_retry(*params);
    r = impl_->request_lent("tools/call", *params, options, *so);
  }
  keep_tool_params(*params);
  if (!r) return fail(r.error());
  return impl_->tool_result(std::string(name), std::move(*r));
}

Result<ReadResourceResult> Session::read_resource(const std::string& uri, const RequestOptions& options) {
  auto r = request("resources/read", json{{"uri", uri}}, options);
  if (!r) return fail(r.error());
  return impl_->read_result(uri, std::move(*r));
}

Result<Skill> Session::get_skill(const std::string& uri, const RequestOptions& options) {
  auto c = impl_->ensure(options);
  if (!c) return fail(c.error());
  if (auto d = impl_->skills_declared(*c->second, false); !d) return fail(d.error());
  auto r = request("skills/get", json{{"uri", uri}}, options);
  if (!r) return fail(r.error());
  return impl_->skill_result(uri, std::move(*r));
}

Result<SkillFileContent> Session::load_skill(const Skill& skill, const RequestOptions& options) {
  return read_skill_file(skill, skill.uri, options);
}

Result<SkillFileContent> Session::read_skill_file(const Skill& skill, const std::string& uri,
                                                  const RequestOptions& options) {
  if (auto p = impl_->skill_file_precheck(skill, uri); !p) return fail(p.error());
  auto r = request("resources/read", json{{"uri", uri}}, options);
  if (!r) return fail(r.error());
  return impl_->skill_file_result(skill, uri, std::move(*r));
}

Result<GetPromptResult> Session::get_prompt(const std::string& name, const std::map<std::string, std::string>& arguments,
                                            const RequestOptions& options) {
  auto r = request("prompts/get", Impl::prompt_params(name, arguments), options);
  if (!r) return fail(r.error());
  return impl_->prompt_result(name, std::move(*r));
}

Result<json> Session::complete(const json& ref, const std::string& argument, const std::string& value,
                               const json& context, const RequestOptions& options) {
  auto r = request("completion/complete", Impl::complete_params(ref, argument, value, context), options);
  if (!r) return fail(r.error());
  return impl_->completion_result(std::move(*r));
}

Result<void> Session::ping(const RequestOptions& options) {
  auto c = impl_->ensure(options);
  if (!c) return fail(c.error());
  auto r = request(c->second->era == Era::modern ? "server/discover" : "ping", json::object(), options);
  if (!r) return fail(r.error());
  return {};
}

Result<void> Session::subscribe_resource(const std::string& uri, const RequestOptions& options) {
  auto c = impl_->ensure(options);
  if (!c) return fail(c.error());
  if (c->second->era == Era::modern) return impl_->subscribe_modern(uri);
  auto r = request("resources/subscribe", json{{"uri", uri}}, options);
  if (!r) return fail(r.error());
  return {};
}

Result<void> Session::unsubscribe_resource(const std::string& uri, const RequestOptions& options) {
  if (era() == Era::modern) {
    impl_->unsubscribe_modern(uri);
    return {};
  }
  auto r = request("resources/unsubscribe", json{{"uri", uri}}, options);
  if (!r) return fail(r.error());
  return {};
}

void Session::disconnect() { impl_->disconnect(); }

}  // namespace mcp
