// SPDX-License-Identifier: MIT
#include <mcp/types.hpp>

#include "types_detail.hpp"
#include "../util/base64.hpp"
#include "../util/json_get.hpp"

#include <algorithm>

namespace mcp {

using nlohmann::json;

namespace protocol {
const std::vector<std::string>& legacy_versions() {
  static const std::vector<std::string> v{"2025-11-25", "2025-06-18", "2025-03-26", "2024-11-05"};
  return v;
}
const std::vector<std::string>& modern_versions() {
  static const std::vector<std::string> v{"2026-07-28"};
  return v;
}
bool is_legacy_version(const std::string& v) {
  const auto& l = legacy_versions();
  return std::find(l.begin(), l.end(), v) != l.end();
}
bool is_modern_version(const std::string& v) {
  const auto& m = modern_versions();
  return std::find(m.begin(), m.end(), v) != m.end();
}
}  // namespace protocol

const char* to_string(Era e) noexcept {
  switch (e) {
    case Era::modern: return "modern";
    case Era::legacy: return "legacy";
    case Era::unknown: break;
  }
  return "unknown";
}

namespace detail {
json copy_json(const json& j) {
  switch (j.type()) {
    case json::value_t::array: {
      json out(json::value_t::array);
      auto& items = out.get_ref<json::array_t&>();
      const auto& from = j.get_ref<const json::array_t&>();
      items.reserve(from.size());
      for (const auto& e : from) items.push_back(copy_json(e));
      return out;
    }
    case json::value_t::object: {
      json out(json::value_t::object);
      auto& members = out.get_ref<json::object_t&>();
      for (const auto& [k, v] : j.get_ref<const json::object_t&>()) members.emplace_hint(members.end(), k, copy_json(v));
      return out;
    }
    default: return j;  // a scalar: no recursion
  }
}
}  // namespace detail

namespace {
using detail::copy_json;
using detail::opt_str;
using detail::str_or;
}  // namespace

void to_json(json& j, const Icon& v) {
  j = json{{"src", v.src}};
  if (v.mime_type) j["mimeType"] = *v.mime_type;
  if (!v.sizes.empty()) j["sizes"] = v.sizes;
  if (v.theme) j["theme"] = *v.theme;
}
void from_json(const json& j, Icon& v) {
  v = Icon{};
  if (!j.is_object()) return;
  v.src = str_or(j, "src");
  v.mime_type = opt_str(j, "mimeType");
  v.theme = opt_str(j, "theme");
  auto sz = j.find("sizes");
  if (sz != j.end() && sz->is_array())
    for (const auto& s : *sz)
      if (s.is_string()) v.sizes.push_back(s.get<std::string>());
}

namespace {
// `icons` of an entry: the items with a string `src`, others skipped.
std::vector<Icon> icons_of(const json& j) {
  std::vector<Icon> out;
  auto it = j.find("icons");
  if (it == j.end() || !it->is_array()) return out;
  for (const auto& item : *it) {
    if (!item.is_object() || !item.contains("src") || !item["src"].is_string()) continue;
    from_json(item, out.emplace_back());
  }
  return out;
}
void put_icons(json& j, const std::vector<Icon>& icons) {
  if (!icons.empty()) j["icons"] = icons;
}
}  // namespace

void to_json(json& j, const Implementation& v) {
  j = v.raw.is_object() ? v.raw : json::object();
  j["name"] = v.name;
  j["version"] = v.version;
  if (v.title) j["title"] = *v.title;
  put_icons(j, v.icons);
}
void from_json(const json& j, Implementation& v) {
  v.raw = copy_json(j);
  if (!j.is_object()) return;
  v.name = str_or(j, "name");
  v.version = str_or(j, "version");
  v.title = opt_str(j, "title");
  v.icons = icons_of(j);
}

void from_json(const json& j, ToolDefinition& v) {
  if (!j.is_object() || !j.contains("name") || !j["name"].is_string())
    throw json::type_error::create(302, "tool definition without a string 'name'", &j);
  v.raw = copy_json(j);
  v.name = j["name"].get<std::string>();
  v.title = opt_str(j, "title");
  v.description = opt_str(j, "description");
  auto is = j.find("inputSchema");
  v.input_schema = (is != j.end() && is->is_object()) ? copy_json(*is) : json{{"type", "object"}};
  auto os = j.find("outputSchema");
  if (os != j.end() && os->is_object()) v.output_schema = copy_json(*os); else v.output_schema.reset();
  auto an = j.find("annotations");
  v.annotations = (an != j.end() && an->is_object()) ? copy_json(*an) : json();
  v.icons = icons_of(j);
}
void to_json(json& j, const ToolDefinition& v) {
  j = v.raw.is_object() ? v.raw : json::object();
  j["name"] = v.name;
  if (v.title) j["title"] = *v.title;
  if (v.description) j["description"] = *v.description;
  j["inputSchema"] = v.input_schema;
  if (v.output_schema) j["outputSchema"] = *v.output_schema;
  if (!v.annotations.is_null()) j["annotations"] = v.annotations;
  put_icons(j, v.icons);
}

namespace {
// A payload string (text, base64 data) moved out of obj[key] into `to`; the member stays in obj,
// empty, so `raw` keeps the shape of what was sent while the bytes are held once.
bool take_payload(json& obj, const char* key, std::string& to) {
  auto it = obj.find(key);
  if (it == obj.end() || !it->is_string()) return false;
  auto& s = it->get_ref<std::string&>();
  to = std::move(s);
  s.clear();
  return true;
}
// Where to_json puts a typed member back: over a string member of the raw value, or as a new
// member when the typed value says something.
void put_back(json& obj, const char* key, const std::string& value, bool always = false) {
  auto it = obj.find(key);
  if (it != obj.end() ? it->is_string() : (always || !value.empty())) obj[key] = value;
}

void content_block_from(json&& j, ContentBlock& v) {
  v.type.clear();
  v.text.clear();
  v.data.clear();
  v.mime_type.clear();
  v.uri.clear();
  if (j.is_object()) {
    // One pass over the members (a block has few) rather than a lookup per field.
    for (auto& [key, m] : j.get_ref<json::object_t&>()) {
      if (!m.is_string()) continue;
      const std::string_view k = key;  // compared without a strlen per test
      if (k == "text" || k == "data") {
        auto& s = m.get_ref<std::string&>();
        (k == "text" ? v.text : v.data) = std::move(s);
        s.clear();
        continue;
      }
      std::string* field = k == "type" ? &v.type : k == "mimeType" ? &v.mime_type : k == "uri" ? &v.uri : nullptr;
      if (field) *field = m.get_ref<const std::string&>();
    }
    if (v.type == "resource") {
      auto r = j.find("resource");
      if (r != j.end() && r->is_object()) {
        v.uri = str_or(*r, "uri");
        v.mime_type = str_or(*r, "mimeType");
        take_payload(*r, "text", v.text);
        take_payload(*r, "blob", v.data);
      }
    }
  }
  v.raw = std::move(j);
}
}  // namespace

void from_json(const json& j, ContentBlock& v) { content_block_from(copy_json(j), v); }
void to_json(json& j, const ContentBlock& v) {
  if (!v.raw.is_object()) {
    if (!v.raw.is_null()) {  // not a block at all, as sent
      j = v.raw;
      return;
    }
    j = json{{"type", v.type}};
    if (v.type == "text") j["text"] = v.text;
    if (!v.data.empty()) j["data"] = v.data;
    if (!v.mime_type.empty()) j["mimeType"] = v.mime_type;
    if (!v.uri.empty()) j["uri"] = v.uri;
    return;
  }
  j = v.raw;
  put_back(j, "type", v.type);
  auto r = j.find("resource");
  if (v.type == "resource" && r != j.end() && r->is_object()) {
    put_back(*r, "uri", v.uri);
    put_back(*r, "mimeType", v.mime_type);
    put_back(*r, "text", v.text);
    put_back(*r, "blob", v.data);
    return;
  }
  put_back(j, "text", v.text, v.type == "text");
  put_back(j, "data", v.data);
  put_back(j, "mimeType", v.mime_type);
  put_back(j, "uri", v.uri);
}

namespace detail {
void call_tool_result_from(json&& j, CallToolResult& v) {
  if (!j.is_object()) throw json::type_error::create(302, "tool result is not an object", &j);
  v.content.clear();
  v.structured_content.reset();
  v.is_error = false;
  v.meta = json();
  // One pass over the members (a result has few) rather than a lookup per field: about 500
  // instructions fewer per tool result (callgrind). What is held elsewhere leaves `raw`.
  auto& members = j.get_ref<json::object_t&>();
  for (auto it = members.begin(); it != members.end();) {
    const std::string_view k = it->first;  // compared without a strlen per test
    json& m = it->second;
    if (k == "content" && m.is_array()) {
      auto& blocks = m.get_ref<json::array_t&>();
      v.content.reserve(blocks.size());
      for (auto& b : blocks) content_block_from(std::move(b), v.content.emplace_back());
      blocks.clear();  // moved from: an erase with items left would allocate nlohmann's destroy stack
    } else if (k == "structuredContent") {
      v.structured_content = std::move(m);
    } else if (k == "_meta") {
      v.meta = std::move(m);
    } else {
      if (k == "isError") v.is_error = m.is_boolean() && m.get<bool>();
      ++it;
      continue;
    }
    it = members.erase(it);
  }
  v.raw = std::move(j);
}
}  // namespace detail

void from_json(const json& j, CallToolResult& v) { detail::call_tool_result_from(copy_json(j), v); }
void to_json(json& j, const CallToolResult& v) {
  j = v.raw.is_object() ? v.raw : json::object();
  if (!v.content.empty() || !j.contains("content")) j["content"] = v.content;
  auto ie = j.find("isError");
  if (v.is_error || !v.raw.is_object() || (ie != j.end() && ie->is_boolean())) j["isError"] = v.is_error;
  if (v.structured_content) j["structuredContent"] = *v.structured_content;
  if (!v.meta.is_null()) j["_meta"] = v.meta;
}

void from_json(const json& j, Resource& v) {
  if (!j.is_object() || !j.contains("uri") || !j["uri"].is_string())
    throw json::type_error::create(302, "resource without a string 'uri'", &j);
  v.raw = copy_json(j);
  v.uri = j["uri"].get<std::string>();
  v.name = str_or(j, "name");
  v.title = opt_str(j, "title");
  v.description = opt_str(j, "description");
  v.mime_type = opt_str(j, "mimeType");
  auto sz = j.find("size");
  if (sz != j.end() && sz->is_number_integer()) v.size = sz->get<std::int64_t>(); else v.size.reset();
  v.icons = icons_of(j);
}
void to_json(json& j, const Resource& v) {
  j = v.raw.is_object() ? v.raw : json::object();
  j["uri"] = v.uri;
  j["name"] = v.name;
  if (v.title) j["title"] = *v.title;
  if (v.description) j["description"] = *v.description;
  if (v.mime_type) j["mimeType"] = *v.mime_type;
  if (v.size) j["size"] = *v.size;
  put_icons(j, v.icons);
}

void from_json(const json& j, ResourceTemplate& v) {
  if (!j.is_object() || !j.contains("uriTemplate") || !j["uriTemplate"].is_string())
    throw json::type_error::create(302, "resource template without a string 'uriTemplate'", &j);
  v.raw = copy_json(j);
  v.uri_template = j["uriTemplate"].get<std::string>();
  v.name = str_or(j, "name");
  v.title = opt_str(j, "title");
  v.description = opt_str(j, "description");
  v.mime_type = opt_str(j, "mimeType");
  v.icons = icons_of(j);
}
void to_json(json& j, const ResourceTemplate& v) {
  j = v.raw.is_object() ? v.raw : json::object();
  j["uriTemplate"] = v.uri_template;
  j["name"] = v.name;
  if (v.title) j["title"] = *v.title;
  if (v.description) j["description"] = *v.description;
  if (v.mime_type) j["mimeType"] = *v.mime_type;
  put_icons(j, v.icons);
}

namespace {
void resource_contents_from(json&& j, ResourceContents& v) {
  if (!j.is_object()) throw json::type_error::create(302, "resource contents item is not an object", &j);
  v.uri = str_or(j, "uri");
  v.mime_type = opt_str(j, "mimeType");
  std::string payload;
  if (take_payload(j, "text", payload)) v.text = std::move(payload); else v.text.reset();
  if (take_payload(j, "blob", payload)) v.blob = std::move(payload); else v.blob.reset();
  v.raw = std::move(j);
}
}  // namespace

void from_json(const json& j, ResourceContents& v) { resource_contents_from(copy_json(j), v); }
void to_json(json& j, const ResourceContents& v) {
  j = v.raw.is_object() ? v.raw : json::object();
  j["uri"] = v.uri;
  if (v.mime_type) j["mimeType"] = *v.mime_type;
  if (v.text) j["text"] = *v.text;
  if (v.blob) j["blob"] = *v.blob;
}

std::optional<std::string> ResourceContents::bytes() const {
  if (text) return *text;
  if (!blob) return std::nullopt;
  return detail::base64_decode_lenient(*blob);
}

void from_json(const json& j, Prompt& v) {
  if (!j.is_object() || !j.contains("name") || !j["name"].is_string())
    throw json::type_error::create(302, "prompt without a string 'name'", &j);
  v.raw = copy_json(j);
  v.name = j["name"].get<std::string>();
  v.title = opt_str(j, "title");
  v.description = opt_str(j, "description");
  v.arguments.clear();
  auto a = j.find("arguments");
  if (a != j.end() && a->is_array()) {
    for (const auto& arg : *a) {
      if (!arg.is_object() || !arg.contains("name") || !arg["name"].is_string()) continue;
      PromptArgument pa;
      pa.name = arg["name"].get<std::string>();
      pa.description = opt_str(arg, "description");
      pa.required = detail::bool_or(arg, "required");
      v.arguments.push_back(std::move(pa));
    }
  }
  v.icons = icons_of(j);
}
void to_json(json& j, const Prompt& v) {
  j = v.raw.is_object() ? v.raw : json::object();
  j["name"] = v.name;
  if (v.title) j["title"] = *v.title;
  if (v.description) j["description"] = *v.description;
  if (!v.arguments.empty() && !j.contains("arguments")) {
    json args = json::array();
    for (const auto& a : v.arguments) {
      json x{{"name", a.name}};
      if (a.description) x["description"] = *a.description;
      if (a.required) x["required"] = true;
      args.push_back(std::move(x));
    }
    j["arguments"] = std::move(args);
  }
  put_icons(j, v.icons);
}

namespace detail {
void read_resource_result_from(json&& j, ReadResourceResult& v) {
  if (!j.is_object()) throw json::type_error::create(302, "result is not an object", &j);
  auto c = j.find("contents");
  if (c == j.end() || !c->is_array()) throw json::type_error::create(302, "result has no 'contents' array", &j);
  v.contents.clear();
  auto& items = c->get_ref<json::array_t&>();
  v.contents.reserve(items.size());
  for (auto& item : items) resource_contents_from(std::move(item), v.contents.emplace_back());
  j.erase(c);
  v.raw = std::move(j);
}

void get_prompt_result_from(json&& j, GetPromptResult& v) {
  if (!j.is_object()) throw json::type_error::create(302, "result is not an object", &j);
  auto m = j.find("messages");
  if (m == j.end() || !m->is_array()) throw json::type_error::create(302, "result has no 'messages' array", &j);
  v.description = opt_str(j, "description");
  v.messages.clear();
  // The messages stay in `raw` (their other members with them); each content block moves into
  // its message, leaving an empty object behind.
  for (auto& msg : m->get_ref<json::array_t&>()) {
    if (!msg.is_object()) continue;
    PromptMessage& pm = v.messages.emplace_back();
    pm.role = str_or(msg, "role");
    auto c = msg.find("content");
    if (c != msg.end()) {
      content_block_from(std::move(*c), pm.content);
      *c = json::object();
    }
  }
  v.raw = std::move(j);
}
}  // namespace detail

void from_json(const json& j, ReadResourceResult& v) { detail::read_resource_result_from(copy_json(j), v); }
void to_json(json& j, const ReadResourceResult& v) {
  j = v.raw.is_object() ? v.raw : json::object();
  j["contents"] = v.contents;
}

void from_json(const json& j, GetPromptResult& v) { detail::get_prompt_result_from(copy_json(j), v); }
void to_json(json& j, const GetPromptResult& v) {
  j = v.raw.is_object() ? v.raw : json::object();
  if (v.description) j["description"] = *v.description;
  auto m = j.find("messages");
  // Put each content back into the message it came from (the objects of `raw`'s messages, in
  // order); when the typed messages no longer line up with raw's, build the list from them.
  std::size_t objects = 0;
  if (m != j.end() && m->is_array())
    for (const auto& msg : *m) objects += msg.is_object() ? 1 : 0;
  if (m == j.end() || !m->is_array() || objects != v.messages.size()) {
    json list = json::array();
    for (const auto& pm : v.messages) list.push_back(json{{"role", pm.role}, {"content", pm.content}});
    j["messages"] = std::move(list);
    return;
  }
  std::size_t i = 0;
  for (auto& msg : *m) {
    if (!msg.is_object()) continue;
    const PromptMessage& pm = v.messages[i++];
    put_back(msg, "role", pm.role);
    if (msg.contains("content") || !pm.content.type.empty()) msg["content"] = pm.content;
  }
}

std::string CallToolResult::text() const {
  std::string out;
  for (const auto& b : content) {
    if (b.type != "text") continue;
    if (!out.empty()) out += '\n';
    out += b.text;
  }
  return out;
}

}  // namespace mcp
