// SPDX-License-Identifier: MIT
// A modern request's `_meta`: built and serialised once per session and version, lent per
// thread (MetaLoan).
#include "request_meta.hpp"

#include "../protocol/json_write.hpp"

namespace mcp::detail {

using nlohmann::json;

namespace {

constexpr const char* kMetaVersion = "io.modelcontextprotocol/protocolVersion";
constexpr const char* kMetaCaps = "io.modelcontextprotocol/clientCapabilities";
constexpr const char* kMetaInfo = "io.modelcontextprotocol/clientInfo";

// A thread's copy of a session's _meta: the tree, or its text as a raw_json value, in the map
// node that carries it into a request's params ("_meta" and the value): lent and taken back
// with the node, no node allocated nor freed per request.
struct Copy {
  std::shared_ptr<const void> source;  // what the value is a copy of (kept alive: no ABA)
  json::object_t::node_type node;      // empty while out on loan

  void reset(json value, std::shared_ptr<const void> from) {
    json::object_t one;
    one.emplace("_meta", std::move(value));
    node = one.extract(one.begin());
    source = std::move(from);
  }
  // Into `params` (an object without "_meta"); false, the node kept, if it has one.
  bool lend_to(json& params) {
    auto r = params.get_ref<json::object_t&>().insert(std::move(node));
    if (r.inserted) return true;
    node = std::move(r.node);
    return false;
  }
};

Copy& thread_tree() {
  thread_local Copy c;
  return c;
}
Copy& thread_text() {
  thread_local Copy c;
  return c;
}

}  // namespace

json RequestMeta::capabilities() const {
  json caps = json::object();
  if (client_.handlers.elicitation) caps["elicitation"] = json{{"form", json::object()}, {"url", json::object()}};
  if (client_.handlers.sampling) caps["sampling"] = json::object();
  if (client_.handlers.roots) caps["roots"] = json::object();
  return caps;
}

json RequestMeta::build(const std::string& version) const {
  json caps = capabilities();
  // 2026-07-28 extensions are declared per request; the tasks extension (SEP-2663) is followed
  // by the session (tasks.cpp).
  if (client_.tasks) caps["extensions"]["io.modelcontextprotocol/tasks"] = json::object();
  json meta{{kMetaVersion, version}, {kMetaCaps, std::move(caps)}, {kMetaInfo, client_.client_info}};
  if (!client_.log_level.empty()) meta["io.modelcontextprotocol/logLevel"] = client_.log_level;
  return meta;
}

std::shared_ptr<const RequestMeta::Built> RequestMeta::current(const std::string& version) {
  std::lock_guard lk(mutex_);
  if (!built_ || version_ != version) {
    auto b = std::make_shared<Built>();
    b->tree = build(version);
    if (!append_json(b->text, b->tree)) b->text.clear();  // never that deep; lend_text falls back to the tree
    built_ = std::move(b);
    version_ = version;
  }
  return built_;
}

std::shared_ptr<const json> RequestMeta::shared(const std::string& version) {
  auto b = current(version);
  return {b, &b->tree};
}

std::shared_ptr<const std::string> RequestMeta::shared_text(const std::string& version) {
  auto b = current(version);
  return {b, &b->text};
}

std::string_view meta_protocol_version(const json& meta) {
  if (meta.is_object()) {
    const auto it = meta.find(kMetaVersion);
    return it != meta.end() && it->is_string() ? std::string_view(it->get_ref<const std::string&>()) : "";
  }
  // Our own text (RequestMeta::shared_text): keys in order, so the version's member is the last
  // one, `,"io.modelcontextprotocol/protocolVersion":"<version>"}`, and the last match of its
  // key. (Where the key appears inside a string, its quotes are escaped: `\"`, never `,"`.)
  const std::string_view text = raw_json_text(meta);
  constexpr std::string_view key = ",\"io.modelcontextprotocol/protocolVersion\":\"";  // kMetaVersion's member
  const auto at = text.rfind(key);
  if (at == std::string_view::npos) return "";
  const auto from = at + key.size();
  const auto to = text.find('"', from);
  if (to == std::string_view::npos) return "";
  const std::string_view v = text.substr(from, to - from);
  return v.find('\\') == std::string_view::npos ? v : "";  // an escape: not a version of ours
}

void MetaLoan::lend(json& params, const std::shared_ptr<const json>& ours) {
  Copy& c = thread_tree();
  if (c.node.empty() || c.source != ours || !c.node.mapped().is_object()) c.reset(*ours, ours);
  if (c.lend_to(params)) source_ = ours;
}

void MetaLoan::lend_text(json& params, const std::shared_ptr<const std::string>& ours) {
  Copy& c = thread_text();
  if (c.node.empty() || c.source != ours || !is_raw_json(c.node.mapped())) c.reset(raw_json(*ours), ours);
  if (c.lend_to(params)) source_ = ours;
}

void MetaLoan::take_back(json& params) {
  if (!source_ || !params.is_object()) return;
  auto& members = params.get_ref<json::object_t&>();
  auto it = members.find(std::string_view("_meta"));
  if (it == members.end()) return;
  auto node = members.extract(it);
  auto source = std::move(source_);  // leaves source_ empty
  json& value = node.mapped();
  const bool text = is_raw_json(value);
  if (!text) {
    if (!value.is_object()) return;
    value.erase("progressToken");
  }
  // Kept only with the tag of the session it is a copy of: a nested request from another
  // session on this thread may have retagged the slot and left it empty (its send threw
  // before it could take its own copy back).
  Copy& c = text ? thread_text() : thread_tree();
  if (c.node.empty()) {
    c.node = std::move(node);
    c.source = std::move(source);
  }
}

}  // namespace mcp::detail
