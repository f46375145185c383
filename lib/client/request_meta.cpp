// SPDX-License-Identifier: MIT
// A modern request's `_meta`: built once per session and version, lent per thread (MetaLoan).
#include "request_meta.hpp"

namespace mcp::detail {

using nlohmann::json;

namespace {

constexpr const char* kMetaVersion = "io.modelcontextprotocol/protocolVersion";
constexpr const char* kMetaCaps = "io.modelcontextprotocol/clientCapabilities";
constexpr const char* kMetaInfo = "io.modelcontextprotocol/clientInfo";

struct Copy {
  std::shared_ptr<const json> source;  // what `tree` is a copy of (kept alive: no ABA)
  json tree;                           // null while out on loan
};

Copy& thread_copy() {
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
  json meta{{kMetaVersion, version}, {kMetaCaps, capabilities()}, {kMetaInfo, client_.client_info}};
  if (!client_.log_level.empty()) meta["io.modelcontextprotocol/logLevel"] = client_.log_level;
  return meta;
}

std::shared_ptr<const json> RequestMeta::shared(const std::string& version) {
  std::lock_guard lk(mutex_);
  if (!shared_ || version_ != version) {
    shared_ = std::make_shared<const json>(build(version));
    version_ = version;
  }
  return shared_;
}

void MetaLoan::lend(json& params, const std::shared_ptr<const json>& ours) {
  Copy& c = thread_copy();
  if (c.source != ours || !c.tree.is_object()) {
    c.tree = *ours;
    c.source = ours;
  }
  params.get_ref<json::object_t&>().emplace("_meta", std::move(c.tree));
  source_ = ours;
}

void MetaLoan::take_back(json& params) {
  if (!source_ || !params.is_object()) return;
  auto& members = params.get_ref<json::object_t&>();
  auto it = members.find("_meta");
  if (it == members.end()) return;
  json tree = std::move(it->second);
  members.erase(it);
  auto source = std::move(source_);  // leaves source_ empty
  if (!tree.is_object()) return;
  tree.erase("progressToken");
  // Kept only with the tag of the session it is a copy of: a nested request from another
  // session on this thread may have retagged the slot and left it empty (its send threw
  // before it could take its own tree back).
  Copy& c = thread_copy();
  if (!c.tree.is_object()) {
    c.tree = std::move(tree);
    c.source = std::move(source);
  }
}

}  // namespace mcp::detail
