// SPDX-License-Identifier: MIT
// The protocol on the server's side: one request at a time as a host reads it, the era decided
// from what the request says (a protocol version in `_meta`, or `server/discover`: modern;
// otherwise legacy, after `initialize`).
#include "server_impl.hpp"

#include "../lib/protocol/jsonrpc.hpp"

#include <algorithm>

namespace mcp {

namespace sd = server_detail;
using json = nlohmann::json;

namespace {

bool contains(const std::vector<std::string>& v, const std::string& s) { return std::find(v.begin(), v.end(), s) != v.end(); }

Error rpc_error(int code, std::string message, json data = nullptr) {
  Error e = jsonrpc::error(Errc::rpc_error, code, std::move(message));
  e.data = std::move(data);
  return e;
}

std::vector<std::string> supported_versions() {
  std::vector<std::string> v = sd::kModernVersions;
  v.insert(v.end(), sd::kLegacyVersions.begin(), sd::kLegacyVersions.end());
  return v;
}

// A request id as a map key ("7" and "\"7\"" differ, as they must).
std::string id_key(const json& id) { return id.dump(); }

}  // namespace

void Server::Impl::dispatch(const std::shared_ptr<sd::Connection>& c, json id, std::string method, json params) {
  if (params.is_null()) params = json::object();
  if (!params.is_object()) return c->respond(id, fail(rpc_error(jsonrpc::invalid_params, "params must be an object")));

  // The era of this request.
  json meta = json::object();
  if (auto m = params.find("_meta"); m != params.end() && m->is_object()) meta = *m;
  std::optional<std::string> modern_version;
  if (auto v = meta.find(sd::kMetaVersion); v != meta.end()) {
    if (!v->is_string())
      return c->respond(id, fail(rpc_error(jsonrpc::invalid_params, std::string(sd::kMetaVersion) + " must be a string")));
    modern_version = v->get<std::string>();
  }
  const bool modern = modern_version.has_value() || method == "server/discover";
  if (modern) {
    // A modern request says its revision and the client's capabilities in every request
    // (26/basic/index, _meta): a request missing either is malformed.
    if (!modern_version)
      return c->respond(id, fail(rpc_error(jsonrpc::invalid_params, std::string("_meta.") + sd::kMetaVersion + " is required")));
    const auto caps = meta.find(sd::kMetaClientCaps);
    if (caps == meta.end() || !caps->is_object())
      return c->respond(id, fail(rpc_error(jsonrpc::invalid_params, std::string("_meta.") + sd::kMetaClientCaps + " (an object) is required")));
  }
  if (modern_version && !contains(sd::kModernVersions, *modern_version)) {
    return c->respond(id, fail(rpc_error(jsonrpc::unsupported_protocol_version,
                                         "Unsupported protocol version: " + *modern_version,
                                         json{{"supported", supported_versions()}, {"requested", *modern_version}})));
  }

  auto ctx = std::make_shared<RequestContext::Impl>();
  ctx->connection = c;
  ctx->id = id;
  ctx->meta = meta;
  if (modern) {
    ctx->era = Era::modern;
    ctx->protocol_version = modern_version.value_or(sd::kModernVersions.front());
    if (auto i = meta.find(sd::kMetaClientInfo); i != meta.end() && i->is_object()) from_json(*i, ctx->client_info);
    if (auto k = meta.find(sd::kMetaClientCaps); k != meta.end() && k->is_object()) ctx->client_capabilities = *k;
    // No logLevel: no log messages for this request (26/server/utilities/logging).
    ctx->log_level = sd::kNoLogs;
    if (auto l = meta.find(sd::kMetaLogLevel); l != meta.end()) {
      const int level = l->is_string() ? sd::log_level_index(l->get_ref<const std::string&>()) : -1;
      if (level < 0) return c->respond(id, fail(rpc_error(jsonrpc::invalid_params, std::string("_meta.") + sd::kMetaLogLevel + " is not a log level")));
      ctx->log_level = level;
    }
  } else {
    std::lock_guard lk(c->m);
    ctx->era = Era::legacy;
    // Without `initialize` and without a modern version, a request is neither era's: refused,
    // but for ping (a legacy client may ping first) and the handshake itself.
    if (!c->initialized && method != "initialize" && method != "ping")
      return c->respond(id, fail(rpc_error(jsonrpc::invalid_params,
                                           std::string("send initialize first (legacy), or give _meta.") +
                                               sd::kMetaVersion + " with every request (2026-07-28)")));
    ctx->protocol_version = c->initialized ? c->legacy_version : sd::kLegacyVersions.front();
    ctx->client_info = c->client_info;
    ctx->client_capabilities = c->client_capabilities;
    ctx->log_level = c->log_level;
  }

  // Modern results say they are complete, and who answered.
  auto finish = [this, modern](json result) -> json {
    if (modern) {
      result["resultType"] = "complete";
      result["_meta"][sd::kMetaServerInfo] = identity_json();
    }
    return result;
  };

  // What 2026-07-28 removed is not found there (26/changelog; 26/basic/versioning).
  if (modern && (method == "initialize" || method == "ping" || method == "logging/setLevel" ||
                 method == "resources/subscribe" || method == "resources/unsubscribe"))
    return c->respond(id, fail(rpc_error(jsonrpc::method_not_found,
                                         "Method not found: " + method + " is not part of protocol revision " +
                                             ctx->protocol_version)));
  if (method == "initialize") {
    const auto requested = params.find("protocolVersion");
    const std::string asked = requested != params.end() && requested->is_string() ? requested->get<std::string>() : "";
    const std::string chosen = contains(sd::kLegacyVersions, asked) ? asked : sd::kLegacyVersions.front();
    {
      std::lock_guard lk(c->m);
      c->initialized = true;
      c->legacy_version = chosen;
      if (auto i = params.find("clientInfo"); i != params.end() && i->is_object()) from_json(*i, c->client_info);
      if (auto k = params.find("capabilities"); k != params.end() && k->is_object()) c->client_capabilities = *k;
    }
    json result{{"protocolVersion", chosen}, {"capabilities", capabilities()}, {"serverInfo", identity_json()}};
    if (options.identity.instructions) result["instructions"] = *options.identity.instructions;
    return c->respond(id, result);
  }
  if (method == "server/discover") {
    json result{{"supportedVersions", supported_versions()}, {"capabilities", capabilities()}, {"ttlMs", 0},
                {"cacheScope", "public"}};
    if (options.identity.instructions) result["instructions"] = *options.identity.instructions;
    return c->respond(id, finish(std::move(result)));
  }
  if (method == "ping") return c->respond(id, finish(json::object()));
  if (method == "logging/setLevel") {
    const auto level = params.find("level");
    const int index = level != params.end() && level->is_string() ? sd::log_level_index(level->get_ref<const std::string&>()) : -1;
    if (index < 0) return c->respond(id, fail(rpc_error(jsonrpc::invalid_params, "logging/setLevel: unknown level")));
    std::lock_guard lk(c->m);
    c->log_level = index;
    return c->respond(id, json::object());
  }
  if (method == "tools/list") {
    json tools = json::array();
    {
      std::lock_guard lk(m);
      for (const auto& t : this->tools) tools.push_back(t->definition.raw);
    }
    json result{{"tools", std::move(tools)}};
    // 2026-07-28: list results are cacheable and say for how long and for whom; a list that
    // may change is not cached.
    if (modern) result.update({{"ttlMs", 0}, {"cacheScope", "public"}});
    return c->respond(id, finish(std::move(result)));
  }
  if (method == "tools/call") {
    const auto name = params.find("name");
    if (name == params.end() || !name->is_string())
      return c->respond(id, fail(rpc_error(jsonrpc::invalid_params, "tools/call: name must be a string")));
    auto tool = find_tool(name->get_ref<const std::string&>());
    if (!tool) return c->respond(id, fail(rpc_error(jsonrpc::invalid_params, "Unknown tool: " + name->get<std::string>())));
    json args = params.contains("arguments") ? std::move(params["arguments"]) : json::object();
    if (args.is_null()) args = json::object();
    if (!args.is_object()) return c->respond(id, fail(rpc_error(jsonrpc::invalid_params, "tools/call: arguments must be an object")));
    // Registered before it runs, so that a cancellation that comes at once finds it.
    auto stop = std::make_shared<std::stop_source>();
    const std::string key = id_key(id);
    {
      std::lock_guard lk(c->m);
      if (c->closing) return;  // the client is gone: nobody to answer
      c->running[key] = stop;
    }
    ctx->stop = stop->get_token();
    // Revisions before 2025-11-25 call arguments the schema refuses a protocol error.
    const bool legacy_invalid = !modern && ctx->protocol_version < "2025-11-25";
    auto self = shared_from_this();
    auto task = [self, c, tool, id, key, args = std::move(args), ctx, legacy_invalid, finish]() mutable {
      auto r = ctx->stop.stop_requested() ? fail(Error::make(Errc::cancelled, "cancelled"))
                                          : self->run_tool(*tool, args, *ctx, legacy_invalid);
      bool answer = true;
      {
        std::lock_guard lk(c->m);
        c->running.erase(key);
        c->idle.notify_all();
        // A cancelled request is not answered (the client forgot it), nor one of a client gone.
        answer = !ctx->stop.stop_requested() && !c->closing;
      }
      if (!answer) return;
      if (!r) return c->respond(id, fail(std::move(r.error())));
      json out;
      to_json(out, *r);
      c->respond(id, finish(std::move(out)));
    };
    if (!pool.submit(std::move(task))) {
      {
        std::lock_guard lk(c->m);
        c->running.erase(key);
        c->idle.notify_all();
      }
      diagnose("a request was refused: every handler thread is busy and the queue is full");
      return c->respond(id, fail(rpc_error(jsonrpc::internal_error, "server busy: too many requests waiting")));
    }
    return;
  }
  return c->respond(id, fail(rpc_error(jsonrpc::method_not_found, "Method not found: " + method)));
}

void Server::Impl::notification(const std::shared_ptr<sd::Connection>& c, const std::string& method, const json& params) {
  if (method == "notifications/cancelled") {
    if (!params.is_object() || !params.contains("requestId")) return;
    std::shared_ptr<std::stop_source> stop;
    {
      std::lock_guard lk(c->m);
      auto it = c->running.find(id_key(params["requestId"]));
      if (it != c->running.end()) stop = it->second;
    }
    if (stop) stop->request_stop();
    return;
  }
  // notifications/initialized, roots/list_changed, ...: nothing to do yet.
}

void Server::Impl::close(sd::Connection& c) {
  std::map<std::string, std::shared_ptr<std::stop_source>> running;
  {
    std::lock_guard lk(c.m);
    c.closing = true;
    running = c.running;
  }
  for (auto& [key, stop] : running) stop->request_stop();
}

}  // namespace mcp
