// SPDX-License-Identifier: MIT
// What a server asks of the client (elicitation, sampling, roots), in either era, answered by
// the user's handlers; and what it tells it (logging, list changes, resource updates).
#include "session_impl.hpp"

#include "../protocol/jsonrpc.hpp"
#include "../util/json_get.hpp"

namespace mcp {

using nlohmann::json;

// A legacy server request, or one entry of a modern InputRequiredResult. What a handler throws
// is contained: on the worker thread it would end the process, on the caller's it would cross
// the API. The server gets a JSON-RPC internal error without the exception's text (it may hold
// the user's secrets); on_diagnostic gets the text.
Result<json> Session::Impl::fulfil(const std::string& method, const json& params) const {
  try {
    return fulfil_unguarded(method, params);
  } catch (const std::exception& e) {
    diagnostic("the " + method + " handler threw: " + e.what(), method);
  } catch (...) {
    diagnostic("the " + method + " handler threw", method);
  }
  return fail(tagged(
      jsonrpc::error(Errc::input_required, jsonrpc::internal_error, "the client's " + method + " handler failed"),
      name));
}

Result<json> Session::Impl::fulfil_unguarded(const std::string& method, const json& params) const {
  const auto& h = client.handlers;
  auto missing = [&](const char* what) {
    return fail(tagged(jsonrpc::error(Errc::input_required, jsonrpc::method_not_found,
                                      "the server asked for " + method + " but no ClientHandlers::" + what + " is set"),
                       name));
  };
  if (method == "roots/list") {
    if (!h.roots) return missing("roots");
    json roots = json::array();
    for (const auto& r : h.roots(name)) {
      json j{{"uri", r.uri}};
      if (r.name) j["name"] = *r.name;
      roots.push_back(std::move(j));
    }
    return json{{"roots", std::move(roots)}};
  }
  if (method == "sampling/createMessage") {
    if (!h.sampling) return missing("sampling");
    return h.sampling(name, params);
  }
  if (method == "elicitation/create") {
    if (!h.elicitation) return missing("elicitation");
    ElicitRequest req;
    req.raw = params;
    if (params.is_object()) {
      req.mode = detail::str_or(params, "mode", "form");
      req.message = detail::str_or(params, "message");
      if (params.contains("requestedSchema")) req.requested_schema = params["requestedSchema"];
      req.url = detail::str_or(params, "url");
    }
    auto answer = h.elicitation(name, req);
    if (!answer) return fail(answer.error());
    json out{{"action", answer->action}};
    if (answer->action == "accept" && req.mode == "form") {
      json content = answer->content.is_object() ? answer->content : json::object();
      // SEP-1034: defaults from the requested schema for fields the user left out.
      const auto& schema = req.requested_schema;
      if (schema.is_object() && schema.contains("properties") && schema["properties"].is_object())
        for (auto it = schema["properties"].begin(); it != schema["properties"].end(); ++it)
          if (!content.contains(it.key()) && it.value().is_object() && it.value().contains("default"))
            content[it.key()] = it.value()["default"];
      out["content"] = std::move(content);
    }
    return out;
  }
  return fail(jsonrpc::error(Errc::rpc_error, jsonrpc::method_not_found, "Method not found: " + method));
}

// Runs where the message was read (a reader thread, or a caller reading its reply). The
// bookkeeping is done here; the user's handlers run on the engine's worker thread, in order,
// where they may block and may call the server (from here that would deadlock: this thread is
// the one that reads the reply).
void Session::Impl::on_notification(const std::string& method, const json& params,
                                    const std::weak_ptr<detail::ClientEngine>& weak_eng) {
  const auto& h = client.handlers;
  auto later = [&](std::function<void()> task) {
    if (auto eng = weak_eng.lock()) eng->post(std::move(task));
  };
  if (method == "notifications/subscriptions/acknowledged") return;  // the listen stream is open
  if (params.is_object() && params.contains("_meta") && params["_meta"].is_object() &&
      params["_meta"].contains("io.modelcontextprotocol/subscriptionId")) {
    // Only our current subscription's notifications count (stdio shares one channel).
    if (!is_current_subscription(params["_meta"]["io.modelcontextprotocol/subscriptionId"])) return;
  }
  if (method == "notifications/message") {
    if (!h.on_log) return;
    LogMessage m;
    if (params.is_object()) {
      if (auto v = detail::opt_str(params, "level")) m.level = std::move(*v);
      if (auto v = detail::opt_str(params, "logger")) m.logger = std::move(*v);
      if (params.contains("data")) m.data = params["data"];
    }
    later([on_log = h.on_log, server = name, m = std::move(m)] { on_log(server, m); });
    return;
  }
  ChangeEvent ev;
  if (method == "notifications/tools/list_changed") {
    ev.kind = ChangeEvent::Kind::tools;
    cache.invalidate("tools/list\n");
  } else if (method == "notifications/prompts/list_changed") {
    ev.kind = ChangeEvent::Kind::prompts;
    cache.invalidate("prompts/list\n");
  } else if (method == "notifications/resources/list_changed") {
    ev.kind = ChangeEvent::Kind::resources;
    cache.invalidate("resources/list\n");
    cache.invalidate("resources/templates/list\n");
  } else if (method == "notifications/resources/updated") {
    ev.kind = ChangeEvent::Kind::resource_updated;
    if (auto v = detail::opt_str(params, "uri")) ev.uri = std::move(*v);
    cache.invalidate(detail::ResultCache::key("resources/read", json{{"uri", ev.uri}}));
  } else {
    return;
  }
  if (h.on_change) later([on_change = h.on_change, server = name, ev = std::move(ev)] { on_change(server, ev); });
}

}  // namespace mcp
