// SPDX-License-Identifier: MIT
// The protocol on the server's side: one request at a time as a host reads it, the era decided
// from what the request says (a protocol version in `_meta`, or `server/discover`: modern;
// otherwise legacy, after `initialize`).
#include "server_impl.hpp"

#include "../lib/protocol/json_write.hpp"
#include "../lib/protocol/jsonrpc.hpp"

#include <algorithm>
#include <charconv>
#include <optional>
#include <utility>

namespace mcp {

namespace sd = server_detail;
using json = nlohmann::json;

namespace {

// A tools/call's arguments: 2026-07-28, where open_input_state moved them (the request's
// params; {} when absent or null); legacy, `legacy` (moved out of the params).
const json& arguments_of(const RequestContext::Impl& ctx, const json& legacy) {
  static const json kNone = json::object();
  if (ctx.era != Era::modern) return legacy;
  const auto a = ctx.input_params.find("arguments");
  return a != ctx.input_params.end() && !a->is_null() ? *a : kNone;
}

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

// Cursors are opaque to clients: "o" and an offset into the list.
std::string encode_cursor(std::size_t offset) {
  std::string c(1, 'o');  // (not "o" + to_string: GCC 12 warns falsely of an overlapping copy there)
  return c += std::to_string(offset);
}
std::optional<std::size_t> decode_cursor(const std::string& c) {
  if (c.empty()) return 0;  // "" is a valid cursor: the start (26/server/utilities/pagination)
  if (c.size() < 2 || c.size() > 12 || c[0] != 'o') return std::nullopt;
  std::size_t v = 0;
  for (std::size_t i = 1; i < c.size(); ++i) {
    if (c[i] < '0' || c[i] > '9') return std::nullopt;
    v = v * 10 + static_cast<std::size_t>(c[i] - '0');
  }
  return v;
}

}  // namespace

namespace server_detail {

std::string id_key(const json& id) {
  if (id.is_number_integer()) {
    char num[24];
    const auto end = id.is_number_unsigned() ? std::to_chars(num, num + sizeof num, id.get<std::uint64_t>()).ptr
                                             : std::to_chars(num, num + sizeof num, id.get<std::int64_t>()).ptr;
    return std::string(num, end);
  }
  return id.dump();
}

}  // namespace server_detail

const json& RequestContext::Impl::client_capabilities() const {
  static const json kNone = json::object();
  if (era == Era::modern) {
    const auto k = meta.find(sd::kMetaClientCaps);
    return k != meta.end() && k->is_object() ? *k : kNone;
  }
  return session_client ? session_client->capabilities : kNone;
}

void Server::Impl::deliver(const std::shared_ptr<sd::Connection>& c, const json& id, const RequestContext::Impl& ctx,
                           Result<json> r, bool cacheable) {
  const bool modern = ctx.era == Era::modern;
  // A handler that asked the client (2026-07-28) is answered input_required, whatever it
  // returned: the client calls again with the answers.
  if (modern && !ctx.asked.empty()) r = input_required_result(ctx);
  if (r && r->is_discarded()) return;  // the work answered itself (a task it created)
  if (!r) return c->respond(id, fail(std::move(r.error())));
  if (detail::is_raw_json(*r)) return c->respond(id, std::move(*r));  // finished already (tool_answer)
  c->respond(id, finish(modern, std::move(*r), cacheable));
}

void Server::Impl::submit_or_refuse(const std::shared_ptr<sd::Connection>& c, const json& id, const std::string& key,
                                    std::function<void()> task) {
  if (pool.submit(std::move(task))) return;
  {
    std::lock_guard lk(c->m);
    c->running.erase(key);
    c->idle.notify_all();
  }
  diagnose("a request was refused: every handler thread is busy and the queue is full", {detail::log_request_id(id), {}});
  c->respond(id, fail(rpc_error(jsonrpc::internal_error, "server busy: too many requests waiting")));
}

namespace {

// A registered request's run (Server::Impl::run_on_pool), with its work: one allocation when
// it becomes a std::function. `on_host` set: it was handed to a host's thread, and goes to the
// handler threads after all should the tool have run long meanwhile (a call queued before that
// was seen).
template <class Work>
struct PoolRun {
  std::shared_ptr<Server::Impl> self;
  std::shared_ptr<sd::Connection> c;
  json id;
  std::string key;
  std::shared_ptr<RequestContext::Impl> ctx;
  Work work;
  std::shared_ptr<sd::Slowness> on_host;
  bool cacheable = false;

  void operator()() {
    if (on_host && std::exchange(on_host, nullptr)->pool_now()) {
      auto s = self;
      auto conn = c;
      const json rid = id;
      const std::string k = key;
      return s->submit_or_refuse(conn, rid, k, std::move(*this));
    }
    Result<json> r = ctx->stop.stop_requested() ? Result<json>(fail(Errc::cancelled, "cancelled")) : work();
    bool answer = true;
    {
      std::lock_guard lk(c->m);
      c->running.erase(key);
      c->idle.notify_all();
      // A cancelled request is not answered (the client forgot it), nor one of a client gone.
      answer = !ctx->stop.stop_requested() && !c->closing;
    }
    if (answer) self->deliver(c, id, *ctx, std::move(r), cacheable);
  }
};

}  // namespace

template <class Work>
void Server::Impl::run_on_pool(const std::shared_ptr<sd::Connection>& c, const json& id,
                               const std::shared_ptr<RequestContext::Impl>& ctx, Work work, bool cacheable,
                               bool inline_run, const std::shared_ptr<sd::Slowness>& on_host) {
  if (inline_run) {
    // At once, on the reading thread: nothing can cancel it while it runs (a cancellation, or
    // the client leaving, is read by this same thread afterwards), so it is not registered.
    const auto gone = [&] {
      std::lock_guard lk(c->m);
      return c->closing;
    };
    if (gone()) return;
    ctx->inline_run = true;
    Result<json> r = work();
    if (!gone()) deliver(c, id, *ctx, std::move(r), cacheable);
    return;
  }
  // Registered before it runs, so that a cancellation that comes at once finds it.
  std::stop_source stop;
  ctx->stop = stop.get_token();
  std::string key = sd::id_key(id);
  {
    std::lock_guard lk(c->m);
    if (c->closing) return;  // the client is gone: nobody to answer
    c->running.insert_or_assign(key, std::move(stop));
  }
  PoolRun<Work> run{shared_from_this(), c, id, key, ctx, std::move(work), nullptr, cacheable};
  if (on_host && !on_host->pool_now()) {
    // On the host's thread (the run goes to the handler threads after all, should the tool have
    // run long meanwhile).
    run.on_host = on_host;
    std::function<void()> task = std::move(run);
    if (c->run_on_host(task, on_host)) return;
    return submit_or_refuse(c, id, key, std::move(task));
  }
  submit_or_refuse(c, id, key, std::move(run));
}

void Server::Impl::dispatch(const std::shared_ptr<sd::Connection>& c, json id, std::string method, json params,
                            std::shared_ptr<const AuthInfo> auth) {
  if (params.is_null()) params = json::object();
  if (!params.is_object()) return c->respond(id, fail(rpc_error(jsonrpc::invalid_params, "params must be an object")));

  // The era of this request. (`_meta` is the context's: nothing reads it from params later.)
  json meta;  // null: none
  if (auto m = params.find("_meta"); m != params.end() && m->is_object()) meta = std::move(*m);
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
  ctx->client_request_timeout = options.client_request_timeout;
  ctx->connection = c;
  ctx->id = id;
  ctx->meta = std::move(meta);
  ctx->auth = std::move(auth);
  if (modern) {
    const json& mt = ctx->meta;
    ctx->era = Era::modern;
    ctx->protocol_version = modern_version.value_or(sd::kModernVersions.front());
    if (auto i = mt.find(sd::kMetaClientInfo); i != mt.end() && i->is_object()) from_json(*i, ctx->modern_info);
    // Its capabilities are read in `meta` (RequestContext::Impl::client_capabilities).
    // No logLevel: no log messages for this request (26/server/utilities/logging).
    ctx->log_level = sd::kNoLogs;
    if (auto l = mt.find(sd::kMetaLogLevel); l != mt.end()) {
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
    ctx->session_client = c->client;
    ctx->log_level = c->log_level;
  }

  const auto respond_error = [&](int code, std::string message, json data = nullptr) {
    c->respond(id, fail(rpc_error(code, std::move(message), std::move(data))));
  };
  const auto not_found = [&] { respond_error(jsonrpc::method_not_found, "Method not found: " + method); };
  const auto caps_ptr = capabilities(modern);
  const json& caps = *caps_ptr;

  // What 2026-07-28 removed is not found there (26/changelog; 26/basic/versioning).
  if (modern && (method == "initialize" || method == "ping" || method == "logging/setLevel" ||
                 method == "resources/subscribe" || method == "resources/unsubscribe"))
    return respond_error(jsonrpc::method_not_found,
                         "Method not found: " + method + " is not part of protocol revision " + ctx->protocol_version);
  if (task_method(c, id, method, params, *ctx)) return;
  if (method == "initialize") {
    const auto requested = params.find("protocolVersion");
    const std::string asked = requested != params.end() && requested->is_string() ? requested->get<std::string>() : "";
    const std::string chosen = contains(sd::kLegacyVersions, asked) ? asked : sd::kLegacyVersions.front();
    {
      std::lock_guard lk(c->m);
      c->initialized = true;
      c->legacy_version = chosen;
      auto declared = std::make_shared<sd::ClientDeclared>();
      if (auto i = params.find("clientInfo"); i != params.end() && i->is_object()) from_json(*i, declared->info);
      if (auto k = params.find("capabilities"); k != params.end() && k->is_object()) declared->capabilities = std::move(*k);
      c->client = std::move(declared);
    }
    json result{{"protocolVersion", chosen}, {"capabilities", caps}, {"serverInfo", identity_json()}};
    // 2025-11-25 tasks: tools/call may be a task, and the session's tasks listed and cancelled.
    if (chosen >= "2025-11-25" && tasks_enabled())
      result["capabilities"]["tasks"] = {{"list", json::object()}, {"cancel", json::object()},
                                         {"requests", {{"tools", {{"call", json::object()}}}}}};
    if (options.identity.instructions) result["instructions"] = *options.identity.instructions;
    return c->respond(id, result);
  }
  if (method == "server/discover") {
    json result{{"supportedVersions", supported_versions()}, {"capabilities", caps}};
    if (options.identity.instructions) result["instructions"] = *options.identity.instructions;
    result["_meta"][sd::kMetaServerInfo] = identity_json();  // always here, whatever the option
    return c->respond(id, finish(modern, std::move(result), true));
  }
  if (method == "ping") return c->respond(id, json::object());
  if (method == "logging/setLevel") {
    const auto level = params.find("level");
    const int index = level != params.end() && level->is_string() ? sd::log_level_index(level->get_ref<const std::string&>()) : -1;
    if (index < 0) return respond_error(jsonrpc::invalid_params, "logging/setLevel: unknown level");
    std::lock_guard lk(c->m);
    c->log_level = index;
    return c->respond(id, json::object());
  }

  // The lists: one page each, in the order things were added.
  const auto raw = [](const auto& entry) -> const json& { return entry.info.raw; };
  const auto list = [&](const char* capability, const char* key, auto entries, auto item) {
    if (!caps.contains(capability)) return not_found();
    std::size_t offset = 0;
    if (auto cur = params.find("cursor"); cur != params.end() && !cur->is_null()) {
      auto o = cur->is_string() ? decode_cursor(cur->get_ref<const std::string&>()) : std::nullopt;
      if (!o) return respond_error(jsonrpc::invalid_params, std::string(method) + ": invalid cursor");
      offset = *o;
    }
    json items = json::array();
    const std::size_t page = std::max<std::size_t>(options.page_size, 1);
    for (std::size_t i = offset; i < entries.size() && items.size() < page; ++i) items.push_back(item(*entries[i]));
    json result{{key, std::move(items)}};
    if (offset + page < entries.size()) result["nextCursor"] = encode_cursor(offset + page);
    c->respond(id, finish(modern, std::move(result), true));
  };
  if (method == "tools/list") {
    // 2025-11-25: each tool says whether it runs as a task (execution.taskSupport).
    if (modern || ctx->protocol_version < "2025-11-25") return list("tools", "tools", snapshot(tools), raw);
    return list("tools", "tools", snapshot(tools), [](const Tool& t) {
      json j = t.info.raw;
      if (t.spec.task_support != TaskSupport::forbidden)
        j["execution"] = {{"taskSupport", t.spec.task_support == TaskSupport::required ? "required" : "optional"}};
      return j;
    });
  }
  if (method == "resources/list") return list("resources", "resources", snapshot(resources), raw);
  if (method == "resources/templates/list") return list("resources", "resourceTemplates", snapshot(templates), raw);
  if (method == "prompts/list") return list("prompts", "prompts", snapshot(prompts), raw);

  if (method == "tools/call") {
    if (!caps.contains("tools")) return not_found();
    const auto name = params.find("name");
    if (name == params.end() || !name->is_string()) return respond_error(jsonrpc::invalid_params, "tools/call: name must be a string");
    auto tool = find_tool(name->get_ref<const std::string&>());
    if (!tool) return respond_error(jsonrpc::invalid_params, "Unknown tool: " + name->get<std::string>());
    // A requestState is bound to the arguments as sent. 2026-07-28: open_input_state moves the
    // params into ctx->input_params (what a state is bound to), where the handler reads the
    // arguments (no copy); legacy: moved out of the params.
    if (modern && !open_input_state(c, id, method, params, *ctx)) return;
    json args;  // legacy
    if (!modern) {
      const auto a = params.find("arguments");
      args = a != params.end() && !a->is_null() ? std::move(*a) : json::object();
    }
    if (!arguments_of(*ctx, args).is_object())
      return respond_error(jsonrpc::invalid_params, "tools/call: arguments must be an object");
    // The arguments as a value of their own, for the paths that keep them (tasks).
    const auto take_args = [&]() -> json { return modern ? json(arguments_of(*ctx, args)) : std::move(args); };
    // Revisions before 2025-11-25 call arguments the schema refuses a protocol error.
    const bool legacy_invalid = !modern && ctx->protocol_version < "2025-11-25";
    // Tasks: 2026-07-28, the server decides (a task for a client that declared the extension;
    // the `task` param is not part of it and ignored); 2025-11-25, the client asks with `task`.
    const TaskSupport support = tool->spec.task_support;
    if (modern && support != TaskSupport::forbidden) {
      if (sd::declares_tasks_extension(ctx->client_capabilities())) {
        if (!tool->spec.before_task) return start_task(c, id, ctx, tool, take_args(), legacy_invalid, std::nullopt);
        // Input rounds first, then the task (which answers this request itself).
        return run_on_pool(c, id, ctx, [self = shared_from_this(), c, id, ctx, tool, args = take_args(), legacy_invalid]() -> Result<json> {
          RequestContext context(*ctx);
          Result<void> r = fail(Errc::invalid_argument, "no result");
          try {
            r = tool->spec.before_task(args, context);
          } catch (const std::exception& e) {
            self->diagnose("tool " + tool->spec.name + ": before_task threw: " + e.what(),
                           {detail::log_request_id(id), "tools/call"});
            r = fail(rpc_error(jsonrpc::internal_error, "Internal error in tool " + tool->spec.name));
          } catch (...) {
            self->diagnose("tool " + tool->spec.name + ": before_task threw", {detail::log_request_id(id), "tools/call"});
            r = fail(rpc_error(jsonrpc::internal_error, "Internal error in tool " + tool->spec.name));
          }
          if (!ctx->asked.empty()) return json::object();  // answered input_required by run_on_pool
          if (!r) return fail(std::move(r.error()));
          // The task's own context (this one is still read by run_on_pool), with the answers so far.
          self->start_task(c, id, std::make_shared<RequestContext::Impl>(*ctx), tool, args, legacy_invalid, std::nullopt);
          return json(json::value_t::discarded);  // answered already
        });
      }
      if (support == TaskSupport::required)
        return c->respond(id, fail(sd::missing_tasks_extension("tool " + tool->spec.name + " runs only as a task")));
    } else if (!modern && ctx->protocol_version >= "2025-11-25" && tasks_enabled()) {
      const auto task = params.find("task");
      if (task != params.end() && !task->is_null()) {
        if (!task->is_object()) return respond_error(jsonrpc::invalid_params, "tools/call: task must be an object");
        if (support == TaskSupport::forbidden)
          return respond_error(jsonrpc::method_not_found, "Tool " + tool->spec.name + " does not support task-augmented calls");
        std::optional<std::int64_t> ttl;
        if (auto t = task->find("ttl"); t != task->end() && t->is_number()) ttl = static_cast<std::int64_t>(t->get<double>());
        return start_task(c, id, ctx, tool, take_args(), legacy_invalid, ttl);
      }
      if (support == TaskSupport::required)
        return respond_error(jsonrpc::method_not_found,
                             "Tool " + tool->spec.name + " must be called as a task (task in the params of tools/call)");
    }
    const bool inline_run = tool->spec.run_inline;
    static const std::shared_ptr<sd::Slowness> kNoHost;
    return run_on_pool(
        c, id, ctx,
        [self = shared_from_this(), tool, args = std::move(args), ctx, legacy_invalid]() -> Result<json> {
          auto r = self->run_tool(*tool, arguments_of(*ctx, args), *ctx, legacy_invalid);
          if (!r) return fail(std::move(r.error()));
          return self->tool_answer(ctx->era == Era::modern, std::move(*r));
        },
        false, inline_run, options.handlers_on_io_threads ? tool->slow : kNoHost);
  }
  if (method == "resources/read") {
    if (!caps.contains("resources")) return not_found();
    const auto uri = params.find("uri");
    if (uri == params.end() || !uri->is_string()) return respond_error(jsonrpc::invalid_params, "resources/read: uri must be a string");
    const std::string u = uri->get<std::string>();
    std::map<std::string, std::string> variables;
    auto [resource, tmpl] = find_resource(u, variables);
    if (!resource && !tmpl) {
      // Not found: -32602 in 2026-07-28 (which forbids -32002), -32002 before.
      return respond_error(modern ? jsonrpc::invalid_params : -32002, "Resource not found: " + u, json{{"uri", u}});
    }
    if (modern && !open_input_state(c, id, method, params, *ctx)) return;
    const ResourceReader& reader = resource ? resource->spec.read : tmpl->spec.read;
    return run_on_pool(c, id, ctx,
                       [self = shared_from_this(), resource, tmpl, reader, u, variables = std::move(variables), ctx]() -> Result<json> {
                         return self->run_reader(reader, u, variables, *ctx);
                       }, /*cacheable=*/true);
  }
  if (method == "resources/subscribe" || method == "resources/unsubscribe") {
    if (!caps.contains("resources")) return not_found();
    const auto uri = params.find("uri");
    if (uri == params.end() || !uri->is_string()) return respond_error(jsonrpc::invalid_params, method + ": uri must be a string");
    {
      std::lock_guard lk(c->m);
      if (method == "resources/subscribe") c->subscriptions.insert(uri->get<std::string>());
      else c->subscriptions.erase(uri->get<std::string>());
    }
    return c->respond(id, json::object());
  }
  if (method == "prompts/get") {
    if (!caps.contains("prompts")) return not_found();
    const auto name = params.find("name");
    if (name == params.end() || !name->is_string()) return respond_error(jsonrpc::invalid_params, "prompts/get: name must be a string");
    auto prompt = find_prompt(name->get_ref<const std::string&>());
    if (!prompt) return respond_error(jsonrpc::invalid_params, "Unknown prompt: " + name->get<std::string>());
    std::map<std::string, std::string> args;
    if (auto a = params.find("arguments"); a != params.end() && !a->is_null()) {
      if (!a->is_object()) return respond_error(jsonrpc::invalid_params, "prompts/get: arguments must be an object");
      for (const auto& [k, v] : a->items()) {
        if (!v.is_string()) return respond_error(jsonrpc::invalid_params, "prompts/get: argument " + k + " must be a string");
        args.emplace(k, v.get<std::string>());
      }
    }
    for (const auto& arg : prompt->spec.arguments)
      if (arg.required && !args.count(arg.name))
        return respond_error(jsonrpc::invalid_params, "prompts/get: missing required argument " + arg.name);
    if (modern && !open_input_state(c, id, method, params, *ctx)) return;
    return run_on_pool(c, id, ctx, [self = shared_from_this(), prompt, args = std::move(args), ctx]() -> Result<json> {
      return self->run_prompt(*prompt, args, *ctx);
    });
  }
  if (method == "subscriptions/listen") {
    if (!modern) return not_found();
    return listen(c, id, params, ctx->client_capabilities(), ctx->auth.get());
  }
  if (method == "completion/complete") {
    if (!caps.contains("completions")) return not_found();
    return complete(c, id, params, ctx);
  }
  return not_found();
}

void Server::Impl::complete(const std::shared_ptr<sd::Connection>& c, const json& id, const json& params,
                            const std::shared_ptr<RequestContext::Impl>& ctx) {
  const auto bad = [&](std::string message) { c->respond(id, fail(rpc_error(jsonrpc::invalid_params, std::move(message)))); };
  const auto ref = params.find("ref");
  const auto arg = params.find("argument");
  if (ref == params.end() || !ref->is_object() || !ref->contains("type") || !(*ref)["type"].is_string())
    return bad("completion/complete: ref must be an object with a type");
  if (arg == params.end() || !arg->is_object() || !arg->contains("name") || !(*arg)["name"].is_string() ||
      !arg->contains("value") || !(*arg)["value"].is_string())
    return bad("completion/complete: argument must be {name, value} strings");
  const std::string name = (*arg)["name"].get<std::string>();
  const std::string value = (*arg)["value"].get<std::string>();
  std::map<std::string, std::string> context;
  if (auto cx = params.find("context"); cx != params.end() && cx->is_object()) {
    if (auto a = cx->find("arguments"); a != cx->end() && a->is_object())
      for (const auto& [k, v] : a->items())
        if (v.is_string()) context.emplace(k, v.get<std::string>());
  }
  Completer completer;
  const std::string type = (*ref)["type"].get<std::string>();
  if (type == "ref/prompt") {
    const auto pn = ref->find("name");
    auto prompt = pn != ref->end() && pn->is_string() ? find_prompt(pn->get_ref<const std::string&>()) : nullptr;
    if (!prompt) return bad("completion/complete: unknown prompt");
    bool known = false;
    for (const auto& a : prompt->spec.arguments) known = known || a.name == name;
    if (!known) return bad("completion/complete: prompt " + prompt->spec.name + " has no argument " + name);
    completer = prompt->spec.complete;
  } else if (type == "ref/resource") {
    const auto uri = ref->find("uri");
    if (uri == ref->end() || !uri->is_string()) return bad("completion/complete: ref/resource needs a uri");
    std::shared_ptr<const TemplateEntry> tmpl;
    for (const auto& t : snapshot(templates))
      if (t->spec.uri_template == uri->get_ref<const std::string&>()) tmpl = t;
    if (!tmpl) return bad("completion/complete: unknown resource template " + uri->get<std::string>());
    if (!tmpl->uri.has_variable(name)) return bad("completion/complete: the template has no variable " + name);
    completer = tmpl->spec.complete;
  } else {
    return bad("completion/complete: unknown ref type " + type);
  }
  run_on_pool(c, id, ctx, [self = shared_from_this(), completer, name, value, context, rid = detail::log_request_id(id)]() -> Result<json> {
    std::vector<std::string> values;
    if (completer) {
      try {
        values = completer(name, value, context);
      } catch (const std::exception& e) {
        self->diagnose(std::string("a completer threw: ") + e.what(), {rid, "completion/complete"});
        return fail(rpc_error(jsonrpc::internal_error, "Internal error in completion"));
      } catch (...) {
        self->diagnose("a completer threw", {rid, "completion/complete"});
        return fail(rpc_error(jsonrpc::internal_error, "Internal error in completion"));
      }
    }
    const std::size_t total = values.size();
    if (values.size() > 100) values.resize(100);  // at most 100 per the specification
    return json{{"completion", {{"values", std::move(values)}, {"total", total}, {"hasMore", total > 100}}}};
  });
}

void Server::Impl::listen(const std::shared_ptr<sd::Connection>& c, const json& id, const json& params,
                          const json& client_caps, const AuthInfo* auth) {
  const auto filter = params.find("notifications");
  if (filter != params.end() && !filter->is_object())
    return c->respond(id, fail(rpc_error(jsonrpc::invalid_params, "subscriptions/listen: notifications must be an object")));
  const json f = filter != params.end() ? *filter : json::object();
  const auto caps_ptr = capabilities(true);
  const json& caps = *caps_ptr;
  auto l = std::make_shared<Listener>();
  l->connection = c;
  l->id = id;
  // What is granted: what was asked for and what the server can send (its capabilities).
  const auto asked = [&](const char* key) { return f.value(key, false) == true; };
  l->tools = asked("toolsListChanged") && caps.contains("tools");
  l->prompts = asked("promptsListChanged") && caps.contains("prompts");
  l->resources = asked("resourcesListChanged") && caps.contains("resources");
  if (auto rs = f.find("resourceSubscriptions"); rs != f.end() && caps.contains("resources")) {
    if (!rs->is_array()) return c->respond(id, fail(rpc_error(jsonrpc::invalid_params, "subscriptions/listen: resourceSubscriptions must be an array")));
    for (const auto& u : *rs)
      if (u.is_string() && l->uris.size() < 1024) l->uris.insert(u.get<std::string>());
  }
  // Tasks extension: status notifications of the tasks named (those that exist).
  if (auto ti = f.find("taskIds"); ti != f.end() && !ti->is_null()) {
    if (!ti->is_array()) return c->respond(id, fail(rpc_error(jsonrpc::invalid_params, "subscriptions/listen: taskIds must be an array")));
    if (!sd::declares_tasks_extension(client_caps))
      return c->respond(id, fail(sd::missing_tasks_extension("task status notifications")));
    std::lock_guard lk(tasks_m);
    for (const auto& t : *ti)
      if (t.is_string() && l->task_ids.size() < 1024)
        if (auto it = tasks.find(t.get<std::string>());
            it != tasks.end() && it->second->modern && it->second->principal == sd::principal_of(auth))
          l->task_ids.insert(it->first);
  }
  json granted = json::object();
  if (l->tools) granted["toolsListChanged"] = true;
  if (l->prompts) granted["promptsListChanged"] = true;
  if (l->resources) granted["resourcesListChanged"] = true;
  if (!l->uris.empty()) granted["resourceSubscriptions"] = std::vector<std::string>(l->uris.begin(), l->uris.end());
  if (!l->task_ids.empty()) granted["taskIds"] = std::vector<std::string>(l->task_ids.begin(), l->task_ids.end());
  // Open until the client cancels it (stdio: notifications/cancelled; HTTP: closing the stream)
  // or goes away: then it is forgotten, unanswered.
  l->stop = std::make_shared<std::stop_source>();
  const std::string key = sd::id_key(id);
  {
    std::lock_guard lk(c->m);
    if (c->closing) return;
    c->running.insert_or_assign(key, *l->stop);
  }
  std::vector<std::shared_ptr<Listener>> ended;  // destroyed outside the lock
  {
    std::lock_guard lk(listeners_m);
    for (auto it = listeners.begin(); it != listeners.end();) {
      if ((*it)->stop->stop_requested() || (*it)->connection.expired()) {
        ended.push_back(std::move(*it));
        it = listeners.erase(it);
      } else {
        ++it;
      }
    }
    listeners.push_back(l);
  }
  // When it stops, it leaves the connection's running requests at once (so that a closing
  // connection does not wait for it); the listener itself is dropped by the next broadcast
  // (not here: this callback belongs to it).
  std::weak_ptr<sd::Connection> weak_c = c;
  l->on_stop = std::make_unique<std::stop_callback<std::function<void()>>>(
      l->stop->get_token(), std::function<void()>([weak_c, key] {
        if (auto conn = weak_c.lock()) {
          std::lock_guard lk(conn->m);
          conn->running.erase(key);
          conn->idle.notify_all();
        }
      }));
  // The acknowledgement comes first, before any notification of this subscription.
  (void)c->notify(id, "notifications/subscriptions/acknowledged",
                  json{{"_meta", {{sd::kMetaSubscriptionId, id}}}, {"notifications", std::move(granted)}});
}

void Server::Impl::notification(const std::shared_ptr<sd::Connection>& c, const std::string& method, const json& params) {
  if (method == "notifications/cancelled") {
    if (!params.is_object() || !params.contains("requestId")) return;
    std::stop_source stop(std::nostopstate);  // requesting a stop of no state does nothing
    {
      std::lock_guard lk(c->m);
      auto it = c->running.find(sd::id_key(params["requestId"]));
      if (it != c->running.end()) stop = it->second;
    }
    stop.request_stop();
    return;
  }
  // notifications/initialized, roots/list_changed, ...: nothing to do yet.
}

void Server::Impl::close(sd::Connection& c) {
  std::vector<std::stop_source> running;
  {
    std::lock_guard lk(c.m);
    c.closing = true;
    running.reserve(c.running.size());
    for (const auto& [key, stop] : c.running) running.push_back(stop);
  }
  for (auto& stop : running) stop.request_stop();
}

}  // namespace mcp
