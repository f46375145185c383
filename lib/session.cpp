// SPDX-License-Identifier: MIT
#include <mcp/session.hpp>

#include "rpc_engine.hpp"
#include "protocol/jsonrpc.hpp"
#include "server_error.hpp"
#include "client/http_send_facts.hpp"
#include "client/http_transport.hpp"
#include "stdio_transport.hpp"
#include "protocol/schema_validator.hpp"
#include "session_access.hpp"
#include "tool_headers.hpp"
#include "protocol/types_detail.hpp"
#include "util/backoff.hpp"
#include "util/json_get.hpp"

#include <algorithm>
#include <condition_variable>
#include <set>
#include <thread>

namespace mcp {

using nlohmann::json;
using detail::RpcEngine;
using Clock = Transport::Clock;

namespace {

constexpr const char* kMetaVersion = "io.modelcontextprotocol/protocolVersion";
constexpr const char* kMetaCaps = "io.modelcontextprotocol/clientCapabilities";
constexpr const char* kMetaInfo = "io.modelcontextprotocol/clientInfo";

// A modern request's _meta is the same for every request of a session; building a copy per
// request (three long keys, nested objects) was a measurable share of a call. Each thread
// keeps one copy and lends it to the request it is making: moved into the params, and moved
// back once the request is sent. A nested request on the same thread (from a handler) finds
// the copy out on loan and makes its own.
class MetaLoan {
 public:
  void lend(json& params, const std::shared_ptr<const json>& ours) {
    Copy& c = copy();
    if (c.source != ours || !c.tree.is_object()) {
      c.tree = *ours;
      c.source = ours;
    }
    params.get_ref<json::object_t&>().emplace("_meta", std::move(c.tree));
    source_ = ours;
  }
  // Takes our _meta back out of `params` (as sent, less the progress token the engine adds).
  void take_back(json& params) {
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
    Copy& c = copy();
    if (!c.tree.is_object()) {
      c.tree = std::move(tree);
      c.source = std::move(source);
    }
  }

 private:
  struct Copy {
    std::shared_ptr<const json> source;  // what `tree` is a copy of (kept alive: no ABA)
    json tree;  // null while out on loan
  };
  static Copy& copy() {
    thread_local Copy c;
    return c;
  }
  std::shared_ptr<const json> source_;  // set while a tree of ours is lent out
};
constexpr const char* kMetaServerInfo = "io.modelcontextprotocol/serverInfo";

bool is_transport_failure(const Error& e) {
  const auto c = e.errc();
  return c == Errc::process_exited || c == Errc::connection_closed || c == Errc::io_error;
}

// HTTP era detection (2026-07-28, Streamable HTTP backward compatibility): a 4xx without a
// recognised modern error body means a legacy server; 401/403 and 5xx are never verdicts.
bool http_status_means_legacy(const Error& e) {
  if (e.errc() != Errc::http_error || !e.http_status) return false;
  const int status = *e.http_status;
  return status >= 400 && status < 500 && status != 401 && status != 403;
}

// A "recognised modern error" (2026-07-28, stdio backward compatibility): an error whose
// code and data have the shape the modern revision defines.
std::optional<std::vector<std::string>> unsupported_version_list(const Error& e) {
  if (e.errc() != Errc::rpc_error || e.rpc_code != jsonrpc::unsupported_protocol_version) return std::nullopt;
  if (!e.data.is_object() || !e.data.contains("supported") || !e.data["supported"].is_array()) return std::nullopt;
  std::vector<std::string> out;
  for (const auto& v : e.data["supported"])
    if (v.is_string()) out.push_back(v.get<std::string>());
  return out;
}
bool is_recognised_modern_error(const Error& e) {
  if (unsupported_version_list(e)) return true;
  return e.errc() == Errc::rpc_error && e.rpc_code == jsonrpc::missing_required_client_capability && e.data.is_object() &&
         e.data.contains("requiredCapabilities");
}

std::optional<std::string> pick(const std::vector<std::string>& ours, const std::vector<std::string>& theirs) {
  for (const auto& v : ours)
    if (std::find(theirs.begin(), theirs.end(), v) != theirs.end()) return v;
  return std::nullopt;
}

}  // namespace

struct Session::Impl : std::enable_shared_from_this<Session::Impl> {
  std::string name;
  ServerConfig cfg;
  // What the session inherits from its client (its `servers` and `id` are not used here).
  ClientConfig client;

  std::mutex connect_mutex;  // one connection attempt at a time
  mutable std::mutex mutex;  // guards everything below
  std::shared_ptr<RpcEngine> engine;
  ServerInfo info;
  // An immutable copy of `info`, replaced whenever `info` changes, so that a request takes a
  // reference to it instead of copying it (capabilities and all) every time.
  std::shared_ptr<const ServerInfo> shared_info;
  // modern_meta() for the version in shared_meta_version, built once.
  std::shared_ptr<const json> shared_meta;
  std::string shared_meta_version;
  Era verdict = Era::unknown;     // cached era, survives reconnects
  std::string modern_version;     // the modern revision agreed on
  std::uint64_t generation = 0;   // bumped by disconnect()
  std::uint64_t session_epoch = 0;  // bumped by each transparent re-initialisation
  // Modern change notifications: a listener thread keeps one subscriptions/listen open while
  // ClientHandlers::on_change is set (re-listening after reconnects, with backoff).
  std::thread listener;
  std::uint64_t listener_gen = 0;  // a listener runs while this still equals the value it started with
  std::condition_variable listener_cv;
  std::optional<std::stop_source> listen_cancel;  // cancels the current listen (re-filter, stop)
  json listen_id;                                 // its JSON-RPC id = the subscription id
  std::set<std::string> resource_subscriptions;

  // Modern results cached per their ttlMs (this session's, so never shared across clients
  // and therefore across tenants). Key: method + params without _meta.
  struct CacheEntry {
    json result;
    Clock::time_point expires;
  };
  std::map<std::string, CacheEntry> cache;
  // Tool name -> its compiled outputSchema, or why it cannot be used (from the last tools/list).
  std::map<std::string, tl::expected<std::shared_ptr<const detail::SchemaValidator>, std::string>> output_schemas;
  // HTTP: tool name -> arguments mirrored into Mcp-Param-* headers (from the last tools/list)
  std::map<std::string, std::vector<detail::ParamHeader>> param_headers;

  Impl(std::string n, ServerConfig c, ClientConfig d)
      : name(std::move(n)), cfg(std::move(c)), client(std::move(d)) {
    if (cfg.protocol_version) {
      if (protocol::is_modern_version(*cfg.protocol_version)) cfg.era = Era::modern;
      else if (protocol::is_legacy_version(*cfg.protocol_version)) cfg.era = Era::legacy;
    }
    verdict = cfg.era;
    modern_version = cfg.protocol_version && protocol::is_modern_version(*cfg.protocol_version)
                         ? *cfg.protocol_version
                         : std::string(protocol::modern_version);
  }

  Milliseconds request_timeout(const RequestOptions& o) const {
    if (o.timeout) return *o.timeout;
    if (cfg.request_timeout) return *cfg.request_timeout;
    return client.request_timeout;
  }
  // An authorization the probe meets (a 401) does not count against it: the transport holds
  // the request meanwhile.
  Milliseconds probe_timeout() const { return cfg.probe_timeout.value_or(client.probe_timeout); }

  // Declared only for the handlers that are set.
  json capabilities() const {
    json caps = json::object();
    if (client.handlers.elicitation) caps["elicitation"] = json{{"form", json::object()}, {"url", json::object()}};
    if (client.handlers.sampling) caps["sampling"] = json::object();
    if (client.handlers.roots) caps["roots"] = json::object();
    return caps;
  }

  json modern_meta(const std::string& version) const {
    json meta{{kMetaVersion, version}, {kMetaCaps, capabilities()}, {kMetaInfo, client.client_info}};
    if (!client.log_level.empty()) meta["io.modelcontextprotocol/logLevel"] = client.log_level;
    return meta;
  }

  // What a server asks of the client, in either era: a legacy server request, or one entry
  // of a modern InputRequiredResult, answered by the user's handler. What a handler throws is
  // contained: on the worker thread it would end the process, on the caller's it would cross
  // the API. The server gets a JSON-RPC internal error without the exception's text (it may
  // hold the user's secrets); on_diagnostic gets the text.
  Result<json> fulfil(const std::string& method, const json& params) const {
    try {
      return fulfil_unguarded(method, params);
    } catch (const std::exception& e) {
      diagnostic("the " + method + " handler threw: " + e.what());
    } catch (...) {
      diagnostic("the " + method + " handler threw");
    }
    return fail(tagged(jsonrpc::error(Errc::input_required, jsonrpc::internal_error,
                                      "the client's " + method + " handler failed"),
                       name));
  }

  Result<json> fulfil_unguarded(const std::string& method, const json& params) const {
    const auto& h = client.handlers;
    auto missing = [&](const char* what) {
      return fail(tagged(jsonrpc::error(Errc::input_required, jsonrpc::method_not_found,
                                        "the server asked for " + method + " but no ClientHandlers::" + what +
                                            " is set"),
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

  void invalidate(const std::string& prefix) {
    std::lock_guard lk(mutex);
    for (auto it = cache.lower_bound(prefix); it != cache.end() && it->first.compare(0, prefix.size(), prefix) == 0;)
      it = cache.erase(it);
  }

  // Runs where the message was read (a reader thread, or a caller reading its reply). The
  // bookkeeping is done here; the user's handlers run on the engine's worker thread, in
  // order, where they may block and may call the server (from here that would deadlock:
  // this thread is the one that reads the reply).
  void on_notification(const std::string& method, const json& params, const std::weak_ptr<RpcEngine>& weak_eng) {
    const auto& h = client.handlers;
    auto later = [&](std::function<void()> task) {
      if (auto eng = weak_eng.lock()) eng->post(std::move(task));
    };
    if (method == "notifications/subscriptions/acknowledged") return;  // the listen stream is open
    if (params.is_object() && params.contains("_meta") && params["_meta"].is_object() &&
        params["_meta"].contains("io.modelcontextprotocol/subscriptionId")) {
      // Only our current subscription's notifications count (stdio shares one channel).
      std::lock_guard lk(mutex);
      if (params["_meta"]["io.modelcontextprotocol/subscriptionId"] != listen_id) return;
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
      invalidate("tools/list\n");
    } else if (method == "notifications/prompts/list_changed") {
      ev.kind = ChangeEvent::Kind::prompts;
      invalidate("prompts/list\n");
    } else if (method == "notifications/resources/list_changed") {
      ev.kind = ChangeEvent::Kind::resources;
      invalidate("resources/list\n");
      invalidate("resources/templates/list\n");
    } else if (method == "notifications/resources/updated") {
      ev.kind = ChangeEvent::Kind::resource_updated;
      if (auto v = detail::opt_str(params, "uri")) ev.uri = std::move(*v);
      invalidate("resources/read\n" + json{{"uri", ev.uri}}.dump());
    } else {
      return;
    }
    if (h.on_change) later([on_change = h.on_change, server = name, ev = std::move(ev)] { on_change(server, ev); });
  }

  Result<std::shared_ptr<RpcEngine>> open_engine() {
    std::unique_ptr<Transport> t;
    if (auto* st = std::get_if<StdioServerConfig>(&cfg.transport)) {
      t = detail::make_stdio_transport(name, *st);
    } else {
      // The GET stream carries only what these handlers receive: without them it would be an
      // idle thread and connection per client (the spec lets a client not open it).
      const auto& h = client.handlers;
      const bool listens = h.elicitation || h.sampling || h.roots || h.on_log || h.on_change;
      t = detail::with_http_send_options(
          detail::make_http_transport(name, std::get<HttpServerConfig>(cfg.transport), listens));
    }
    RpcEngine::Options o;
    o.server = name;
    o.owner = this;
    std::weak_ptr<Impl> weak = weak_from_this();
    o.on_diagnostic = [weak](std::string_view d) {
      if (auto self = weak.lock()) self->diagnostic(std::string(d));
    };
    auto eng = std::make_shared<RpcEngine>(std::move(t), std::move(o));
    std::weak_ptr<RpcEngine> weak_eng = eng;
    eng->set_notification_handler([weak, weak_eng](const std::string& method, const json& params) {
      if (auto self = weak.lock()) self->on_notification(method, params, weak_eng);
    });
    eng->set_request_handler([weak](const std::string& method, const json& params) -> Result<json> {
      auto self = weak.lock();
      if (!self) return fail(Errc::disconnected, "the client is gone");
      return self->fulfil(method, params);
    });
    auto started = eng->start();
    if (!started) {
      eng->close(started.error());
      return fail(tagged(started.error(), name));
    }
    return eng;
  }

  // Make `eng` the current connection unless a disconnect happened since `gen`.
  bool publish(const std::shared_ptr<RpcEngine>& eng, std::uint64_t gen) {
    std::lock_guard lk(mutex);
    if (generation != gen) return false;
    engine = eng;
    return true;
  }

  Result<ServerInfo> handshake_legacy(const std::shared_ptr<RpcEngine>& eng, const RequestOptions& opt) {
    const std::string offered = (cfg.protocol_version && protocol::is_legacy_version(*cfg.protocol_version))
                                    ? *cfg.protocol_version
                                    : std::string(protocol::latest_legacy_version);
    json params{{"protocolVersion", offered},
                {"capabilities", capabilities()},
                {"clientInfo", client.client_info}};
    // initialize is never cancelled (the spec forbids it); a timeout just closes.
    auto r = eng->call("initialize", std::move(params), Clock::now() + request_timeout(opt), opt.stop, false);
    if (!r) return fail(tagged(r.error(), name));
    return finish_legacy(eng, *r);
  }

  Result<ServerInfo> finish_legacy(const std::shared_ptr<RpcEngine>& eng, const json& r) {
    if (!r.is_object() || !r.contains("protocolVersion") || !r["protocolVersion"].is_string())
      return fail(Errc::invalid_result, "initialize: result without a protocolVersion", name);
    const std::string v = r["protocolVersion"].get<std::string>();
    if (!protocol::is_legacy_version(v))
      return fail(Errc::unsupported_version, "initialize: server chose protocol version '" + v +
                                                    "', which this client does not speak", name);
    eng->set_protocol_version(v);
    ServerInfo si;
    si.era = Era::legacy;
    si.protocol_version = v;
    if (r.contains("serverInfo")) si.implementation = r["serverInfo"].get<Implementation>();
    if (r.contains("capabilities") && r["capabilities"].is_object()) si.capabilities = r["capabilities"];
    if (auto v = detail::opt_str(r, "instructions")) si.instructions = std::move(*v);
    auto n = eng->notify("notifications/initialized", json::object(), Clock::now() + std::chrono::seconds(10));
    if (!n) return fail(tagged(n.error(), name));
    if (!client.log_level.empty() && si.capabilities.contains("logging")) {
      auto lvl = eng->call("logging/setLevel", json{{"level", client.log_level}},
                           Clock::now() + client.request_timeout, std::stop_token());
      if (!lvl) diagnostic("logging/setLevel failed: " + lvl.error().message);
    }
    return si;
  }

  Result<ServerInfo> modern_info_from_discover(const json& r, const std::string& version) {
    if (!r.is_object()) return fail(Errc::invalid_result, "server/discover: result is not an object", name);
    ServerInfo si;
    si.era = Era::modern;
    si.protocol_version = version;
    if (r.contains("supportedVersions") && r["supportedVersions"].is_array())
      for (const auto& v : r["supportedVersions"])
        if (v.is_string()) si.supported_versions.push_back(v.get<std::string>());
    if (si.supported_versions.empty())
      return fail(Errc::invalid_result, "server/discover: result without supportedVersions", name);
    if (r.contains("capabilities") && r["capabilities"].is_object()) si.capabilities = r["capabilities"];
    if (auto v = detail::opt_str(r, "instructions")) si.instructions = std::move(*v);
    if (r.contains("_meta") && r["_meta"].is_object() && r["_meta"].contains(kMetaServerInfo))
      si.implementation = r["_meta"][kMetaServerInfo].get<Implementation>();
    else if (r.contains("serverInfo") && r["serverInfo"].is_object())  // earlier drafts put it in the body
      si.implementation = r["serverInfo"].get<Implementation>();
    return si;
  }

  // Era detection as 2026-07-28 describes it for stdio: probe with server/discover; a
  // DiscoverResult or a recognised modern error means modern; anything else, silence, or
  // a server that exits on the probe means legacy.
  Result<std::pair<std::shared_ptr<RpcEngine>, ServerInfo>> detect(std::shared_ptr<RpcEngine> eng,
                                                                     std::uint64_t gen, const RequestOptions& opt) {
    std::string version = modern_version;
    for (int attempt = 0; attempt < 2; ++attempt) {
      auto sent = eng->send_request("server/discover", json{{"_meta", modern_meta(version)}},
                                    Clock::now() + probe_timeout());
      if (!sent) {
        if (!is_transport_failure(sent.error())) return fail(tagged(sent.error(), name));
        break;  // died on the probe: legacy, on a fresh process
      }
      auto probe = *sent;
      auto r = eng->wait(probe, Clock::now() + probe_timeout(), opt.stop, false, /*keep_on_timeout=*/true);
      if (!r && r.error().errc() != Errc::timeout) eng->abandon(probe);
      if (r && !(r->is_object() && r->contains("supportedVersions") && (*r)["supportedVersions"].is_array() &&
                 !(*r)["supportedVersions"].empty())) {
        // Not a DiscoverResult (some legacy servers answer unknown methods with `{}`): legacy.
        auto li = handshake_legacy(eng, opt);
        if (!li) return fail(li.error());
        return std::make_pair(eng, *li);
      }
      if (r) {
        auto si = modern_info_from_discover(*r, version);
        if (!si) return fail(si.error());
        if (std::find(si->supported_versions.begin(), si->supported_versions.end(), version) !=
            si->supported_versions.end()) {
          modern_version = version;
          return std::make_pair(eng, *si);
        }
        if (auto v = pick(protocol::modern_versions(), si->supported_versions); v && attempt == 0) {
          version = *v;
          continue;
        }
        if (pick(protocol::legacy_versions(), si->supported_versions)) {
          auto li = handshake_legacy(eng, opt);  // dual-era server, legacy revisions only in common
          if (!li) return fail(li.error());
          return std::make_pair(eng, *li);
        }
        return fail(Errc::unsupported_version, "server supports none of our protocol versions", name);
      }
      const Error& e = r.error();
      if (e.errc() == Errc::cancelled || e.errc() == Errc::disconnected) return fail(tagged(e, name));
      if (auto supported = unsupported_version_list(e)) {
        if (auto v = pick(protocol::modern_versions(), *supported); v && attempt == 0) {
          version = *v;
          continue;  // modern, but another revision: retry once
        }
        if (pick(protocol::legacy_versions(), *supported)) {
          auto li = handshake_legacy(eng, opt);
          if (!li) return fail(li.error());
          return std::make_pair(eng, *li);
        }
        Error err = tagged(e, name);
        err.code = make_error_code(Errc::unsupported_version);
        err.message = "server supports protocol versions " + e.data["supported"].dump() +
                      ", none of which this client speaks";
        return fail(std::move(err));
      }
      if (is_recognised_modern_error(e)) return fail(tagged(e, name));
      if (e.errc() == Errc::timeout) {
        // Silence: legacy. A slow modern server may still answer the probe before it
        // answers initialize (stdio is ordered), so keep listening for it.
        return legacy_after_silent_probe(eng, probe, opt);
      }
      const bool stdio = std::holds_alternative<StdioServerConfig>(cfg.transport);
      if (stdio && is_transport_failure(e)) break;
      if (e.errc() != Errc::rpc_error && !http_status_means_legacy(e)) return fail(tagged(e, name));
      // Any other JSON-RPC error, or a 4xx without a modern body: legacy, same connection.
      auto li = handshake_legacy(eng, opt);
      if (!li) return fail(li.error());
      return std::make_pair(eng, *li);
    }
    // The server died on the probe: start it again and speak legacy.
    eng->close(Error::make(Errc::process_exited, "restarting after the era probe"));
    auto fresh = open_engine();
    if (!fresh) return fail(fresh.error());
    if (!publish(*fresh, gen)) {
      (*fresh)->close(Error::make(Errc::disconnected, "disconnected while connecting"));
      return fail(Errc::disconnected, "disconnected while connecting", name);
    }
    auto li = handshake_legacy(*fresh, opt);
    if (!li) return fail(li.error());
    return std::make_pair(*fresh, *li);
  }

  Result<std::pair<std::shared_ptr<RpcEngine>, ServerInfo>> legacy_after_silent_probe(
      const std::shared_ptr<RpcEngine>& eng, const std::shared_ptr<RpcEngine::Pending>& probe,
      const RequestOptions& opt) {
    auto li = handshake_legacy(eng, opt);
    if (li) {
      eng->abandon(probe);
      return std::make_pair(eng, *li);
    }
    // initialize failed: did the probe get a late DiscoverResult? Then it is a slow modern server.
    auto late = eng->wait(probe, Clock::now(), std::stop_token(), false);
    if (late) {
      auto si = modern_info_from_discover(*late, modern_version);
      if (si) return std::make_pair(eng, *si);
    }
    return fail(li.error());
  }

  Result<std::pair<std::shared_ptr<RpcEngine>, ServerInfo>> connect_locked(const RequestOptions& opt) {
    std::uint64_t gen;
    {
      std::lock_guard lk(mutex);
      if (engine && engine->is_open()) return std::make_pair(engine, info);
      gen = generation;
    }
    std::shared_ptr<RpcEngine> old;
    {
      std::lock_guard lk(mutex);
      old.swap(engine);
    }
    if (old) old->close(Error::make(Errc::connection_closed, "replaced by a new connection"));

    auto eng = open_engine();
    if (!eng) return fail(eng.error());
    if (!publish(*eng, gen)) {
      (*eng)->close(Error::make(Errc::disconnected, "disconnected while connecting"));
      return fail(Errc::disconnected, "disconnected while connecting", name);
    }
    Era era;
    {
      std::lock_guard lk(mutex);
      era = verdict;
    }
    Result<std::pair<std::shared_ptr<RpcEngine>, ServerInfo>> out = fail(Error());
    if (era == Era::legacy) {
      auto li = handshake_legacy(*eng, opt);
      if (li) out = std::make_pair(*eng, *li);
      else out = fail(li.error());
    } else if (era == Era::modern) {
      // Known modern: discover once for the server's identity and capabilities.
      auto r = (*eng)->call("server/discover", json{{"_meta", modern_meta(modern_version)}},
                            Clock::now() + request_timeout(opt), opt.stop);
      if (r) {
        auto si = modern_info_from_discover(*r, modern_version);
        if (si) out = std::make_pair(*eng, *si);
        else out = fail(si.error());
      } else if (auto supported = unsupported_version_list(r.error())) {
        if (auto v = pick(protocol::modern_versions(), *supported)) {
          modern_version = *v;
          ServerInfo si;
          si.era = Era::modern;
          si.protocol_version = *v;
          si.supported_versions = *supported;
          out = std::make_pair(*eng, si);
        } else {
          out = fail(Errc::unsupported_version, "server supports none of our modern protocol versions", name);
        }
      } else {
        out = fail(tagged(r.error(), name));
      }
    } else {
      out = detect(*eng, gen, opt);
    }
    if (!out) {
      std::shared_ptr<RpcEngine> cur;
      {
        std::lock_guard lk(mutex);
        if (generation == gen) cur.swap(engine);
      }
      if (cur) cur->close(out.error());
      (*eng)->close(out.error());
      return out;
    }
    std::lock_guard lk(mutex);
    if (generation != gen) {
      out->first->close(Error::make(Errc::disconnected, "disconnected while connecting"));
      return fail(Errc::disconnected, "disconnected while connecting", name);
    }
    engine = out->first;
    info = out->second;
    shared_info = std::make_shared<const ServerInfo>(info);
    verdict = info.era;
    if (info.era == Era::modern) {
      modern_version = info.protocol_version;
      start_listener_locked();
    }
    return out;
  }

  using Connection = std::pair<std::shared_ptr<RpcEngine>, std::shared_ptr<const ServerInfo>>;
  Result<Connection> ensure(const RequestOptions& opt) {
    {
      std::lock_guard lk(mutex);
      if (engine && engine->is_open() && info.era != Era::unknown && shared_info)
        return std::make_pair(engine, shared_info);
    }
    std::lock_guard ck(connect_mutex);
    // The handshake's calls do not wait for handlers: a handler that calls the server needs
    // connect_mutex, held here (see UnorderedHandlersScope).
    detail::UnorderedHandlersScope unordered(this);
    auto out = connect_locked(opt);
    if (!out) return fail(out.error());
    return std::make_pair(std::move(out->first), std::make_shared<const ServerInfo>(std::move(out->second)));
  }

  // modern_meta(version), shared: the same for every request of a session.
  std::shared_ptr<const json> modern_meta_shared(const std::string& version) {
    std::lock_guard lk(mutex);
    if (!shared_meta || shared_meta_version != version) {
      shared_meta = std::make_shared<const json>(modern_meta(version));
      shared_meta_version = version;
    }
    return shared_meta;
  }

  bool is_http() const { return std::holds_alternative<HttpServerConfig>(cfg.transport); }

  // Called from reader, worker and flight threads as well as the caller's: what the user's
  // callback throws is dropped, so a diagnostic can never end the process.
  void diagnostic(const std::string& msg) const noexcept {
    if (!client.on_diagnostic) return;
    try {
      client.on_diagnostic(name, msg);
    } catch (...) {
    }
  }

  Result<json> request(std::string_view method, json params, const RequestOptions& opt,
                       const SendOptions& send_options = {}) {
    return request_lent(method, params, opt, send_options);
  }

  // `params` are lent (RpcEngine::call_lent): the caller gets them back, as last sent, for a
  // retry of its own without copying them.
  Result<json> request_lent(std::string_view method_sv, json& current, const RequestOptions& opt,
                            const SendOptions& send_options = {}) {
    const std::string method(method_sv);
    const bool may_need_input = method == "tools/call" || method == "prompts/get" || method == "resources/read";
    if (current.is_null()) current = json::object();
    // Before the cache key is made of them (json::erase throws on anything but an object).
    if (!current.is_object()) return fail(Errc::invalid_argument, method + ": params must be a JSON object", name);
    const bool cacheable = !opt.no_cache && (method == "tools/list" || method == "prompts/list" ||
                                             method == "resources/list" || method == "resources/templates/list" ||
                                             method == "resources/read");
    std::string key;
    if (cacheable) {
      json bare = current;
      bare.erase("_meta");
      key = method + "\n" + bare.dump();
      if (auto hit = cached(key)) return std::move(*hit);
    }
    // The whole multi round-trip sequence is bounded by max_total_time when it is set.
    const auto overall = opt.max_total_time ? std::optional(Clock::now() + *opt.max_total_time) : std::nullopt;
    for (int round = 0;; ++round) {
      auto r = request_once(method, current, opt, send_options);
      if (r && cacheable && round == 0) remember(key, *r);  // results after input rounds are never cached
      if (r || r.error().errc() != Errc::input_required) return r;
      if (overall && Clock::now() >= *overall)
        return fail(Errc::timeout, method + ": input rounds exceeded max_total_time", name);
      if (!may_need_input)
        return fail(Errc::invalid_result, method + ": the server answered input_required, which this method does not allow", name);
      if (round >= client.max_input_rounds)
        return fail(Errc::input_required, method + ": still input_required after " +
                                                 std::to_string(client.max_input_rounds) + " rounds", name);
      // Multi round-trip request: fulfil the server's input requests, then re-issue the
      // request (new id) with the answers and the exact requestState.
      json ir = std::move(r.error().data);  // moved, not copied: a server's value may nest deep
      const bool has_requests = ir.contains("inputRequests"), has_state = ir.contains("requestState");
      if (!has_requests && !has_state)
        return fail(Errc::invalid_result, method + ": input_required without inputRequests or requestState", name);
      json responses = json::object();
      if (has_requests) {
        if (!ir["inputRequests"].is_object())
          return fail(Errc::invalid_result, method + ": inputRequests is not an object", name);
        for (auto it = ir["inputRequests"].begin(); it != ir["inputRequests"].end(); ++it) {
          const json& q = it.value();
          if (!q.is_object() || !q.contains("method") || !q["method"].is_string())
            return fail(Errc::invalid_result, method + ": input request '" + it.key() + "' has no method", name);
          auto answer = fulfil(q["method"].get<std::string>(), q.contains("params") ? q["params"] : json::object());
          if (!answer) {
            Error e = tagged(answer.error(), name);
            e.code = make_error_code(Errc::input_required);
            e.message = method + ": " + e.message;
            return fail(std::move(e));
          }
          responses[it.key()] = std::move(*answer);
        }
      }
      current.erase("inputResponses");
      current.erase("requestState");
      if (!responses.empty()) current["inputResponses"] = std::move(responses);
      if (has_state) current["requestState"] = std::move(ir["requestState"]);
    }
  }

  // The cached result under `key`, if one is still fresh.
  std::optional<json> cached(const std::string& key) {
    std::lock_guard lk(mutex);
    auto it = cache.find(key);
    if (it == cache.end()) return std::nullopt;
    if (Clock::now() < it->second.expires) return it->second.result;
    cache.erase(it);
    return std::nullopt;
  }

  // Cache a modern result per its ttlMs / cacheScope.
  void remember(const std::string& key, const json& r) {
    if (!r.is_object() || !r.contains("ttlMs") || !r["ttlMs"].is_number() || r["ttlMs"].get<double>() <= 0) return;
    const std::string scope = detail::str_or(r, "cacheScope", "private");
    // Credentials that can change per call (header_provider) must not see each other's
    // private results.
    if (scope != "public" && is_http() && std::get<HttpServerConfig>(cfg.transport).header_provider) return;
    const auto ttl = std::chrono::milliseconds(static_cast<long long>(std::min(r["ttlMs"].get<double>(), 86400000.0)));
    std::lock_guard lk(mutex);
    if (verdict != Era::modern) return;
    if (cache.size() >= 1024) cache.erase(cache.begin());
    cache[key] = CacheEntry{r, Clock::now() + ttl};
  }

  Result<json> request_once(const std::string& method, json& params, const RequestOptions& opt,
                            const SendOptions& send_options) {
    auto conn = ensure(opt);
    if (!conn) return fail(conn.error());
    const std::shared_ptr<RpcEngine> eng = std::move(conn->first);
    std::shared_ptr<const ServerInfo> si = std::move(conn->second);
    std::uint64_t epoch;
    {
      std::lock_guard lk(mutex);
      epoch = session_epoch;
    }
    const auto deadline = Clock::now() + request_timeout(opt);
    for (int attempt = 0; attempt < 2; ++attempt) {
      if (params.is_null()) params = json::object();
      json& p = params;  // lent to the engine, and back for a second attempt
      // Our _meta for a modern request: lent from this thread's copy when the caller sent
      // none (taken back below), else merged into theirs.
      MetaLoan loan;
      if (si->era == Era::modern) {
        const auto ours = modern_meta_shared(si->protocol_version);
        if (!p.contains("_meta")) {
          loan.lend(p, ours);
        } else {
          json& meta = p["_meta"];
          if (!meta.is_object()) meta = json::object();
          for (auto it = ours->begin(); it != ours->end(); ++it) meta[it.key()] = it.value();
        }
      }
      auto r = eng->call_lent(method, p, deadline, opt.stop, true, send_options, progress_options(opt));
      loan.take_back(p);
      if (!r && attempt == 0) {
        // 2026-07-28: a broken response stream loses the request; re-issue it with a new id.
        if (si->era == Era::modern && r.error().errc() == Errc::stream_broken) continue;
        // Legacy Streamable HTTP: the server forgot our session (404). The request was not
        // processed, so re-initialising once and retrying is safe.
        if (si->era == Era::legacy && r.error().errc() == Errc::session_expired) {
          auto re = reinitialize(eng, epoch, opt);
          if (!re) return fail(re.error());
          si = std::make_shared<const ServerInfo>(std::move(*re));
          continue;
        }
      }
      if (!r) {
        if (si->era == Era::modern && attempt == 0) {
          if (auto supported = unsupported_version_list(r.error())) {
            if (auto v = pick(protocol::modern_versions(), *supported); v && *v != si->protocol_version) {
              auto changed = std::make_shared<ServerInfo>(*si);
              changed->protocol_version = *v;
              si = changed;
              std::lock_guard lk(mutex);
              modern_version = *v;
              info.protocol_version = *v;
              shared_info = std::make_shared<const ServerInfo>(info);
              continue;
            }
          }
        }
        return fail(tagged(r.error(), name));
      }
      return check_result(method, std::move(*r));
    }
    return fail(Errc::unsupported_version, method + ": server rejected every protocol version we offered", name);
  }

  detail::ProgressOptions progress_options(const RequestOptions& opt) const {
    detail::ProgressOptions progress;
    if (opt.on_progress) {
      progress.on_progress = opt.on_progress;
      progress.reset_timeout = opt.reset_timeout_on_progress;
      progress.timeout = request_timeout(opt);
      progress.hard_deadline = Clock::now() + opt.max_total_time.value_or(request_timeout(opt) * 10);
    }
    return progress;
  }

  // A listing's first page sent and not yet awaited (SessionAccess::first_pages): what
  // request() does for it, split at the wait.
  struct Flight {
    std::string method;
    std::shared_ptr<RpcEngine> eng;
    std::shared_ptr<RpcEngine::Pending> pending;
    Era era = Era::unknown;
    Clock::time_point deadline;
    std::string cache_key;             // empty: not cached (RequestOptions::no_cache)
    std::optional<Result<json>> done;  // settled without a reply (the cache, or a failure to send)
  };

  Flight send_first(const std::string& method, const RequestOptions& opt) {
    Flight f;
    f.method = method;
    json params = json::object();
    if (!opt.no_cache) {
      f.cache_key = method + "\n" + params.dump();  // as request_lent keys it
      if (auto hit = cached(f.cache_key)) {
        f.done = std::move(*hit);
        return f;
      }
    }
    auto conn = ensure(opt);
    if (!conn) {
      f.done = fail(conn.error());
      return f;
    }
    f.eng = std::move(conn->first);
    f.era = conn->second->era;
    if (f.era == Era::modern) params["_meta"] = *modern_meta_shared(conn->second->protocol_version);
    f.deadline = Clock::now() + request_timeout(opt);
    if (opt.stop.stop_requested()) {
      f.done = fail(Errc::cancelled, method + ": cancelled", name);
      return f;
    }
    auto p = f.eng->send_request(method, std::move(params), f.deadline, SendOptions{}, progress_options(opt));
    if (p) f.pending = std::move(*p);
    else f.done = fail(tagged(p.error(), name));
    return f;
  }

  Result<json> finish_first(Flight& f, const RequestOptions& opt) {
    if (f.done) return std::move(*f.done);
    auto r = f.eng->wait(f.pending, f.deadline, opt.stop, true);
    if (!r) {
      // What request_once answers with another try (a lost response stream, an expired legacy
      // session, another modern revision) is left to it, on this thread.
      const Error& e = r.error();
      const bool again = (f.era == Era::modern && (e.errc() == Errc::stream_broken || unsupported_version_list(e))) ||
                         (f.era == Era::legacy && e.errc() == Errc::session_expired);
      if (again) return request(f.method, json::object(), opt);
      return fail(tagged(e, name));
    }
    auto checked = check_result(f.method, std::move(*r));
    if (checked && !f.cache_key.empty()) remember(f.cache_key, *checked);
    if (!checked && checked.error().errc() == Errc::input_required)  // as request_lent says it for a listing
      return fail(Errc::invalid_result, f.method + ": the server answered input_required, which this method does not allow",
                  name);
    return checked;
  }

  json listen_filter(const ServerInfo& si) {
    json f = json::object();
    const json& caps = si.capabilities;
    auto flag = [&](const char* cap) {
      return caps.contains(cap) && caps[cap].is_object() && caps[cap].value("listChanged", false) == true;
    };
    if (flag("tools")) f["toolsListChanged"] = true;
    if (flag("prompts")) f["promptsListChanged"] = true;
    if (flag("resources")) f["resourcesListChanged"] = true;
    std::lock_guard lk(mutex);
    if (!resource_subscriptions.empty()) f["resourceSubscriptions"] = resource_subscriptions;
    return f;
  }

  void start_listener_locked() {  // under `mutex`
    if (!client.handlers.on_change || listener.joinable()) return;
    const std::uint64_t mine = ++listener_gen;
    listener = std::thread([this, mine] { listen_loop(mine); });
  }

  void listen_loop(std::uint64_t mine) {
    detail::Backoff backoff(std::chrono::milliseconds(500), std::chrono::milliseconds(30000));
    auto stopped = [&] { return listener_gen != mine; };  // under `mutex`
    for (;;) {
      {
        std::lock_guard lk(mutex);
        if (stopped()) return;
      }
      auto conn = ensure({});
      bool ok = false;
      if (conn && conn->second->era == Era::modern) {
        const auto eng = conn->first;
        const ServerInfo& si = *conn->second;
        json filter = listen_filter(si);
        std::stop_source cancel;
        if (!filter.empty()) {
          json params{{"_meta", modern_meta(si.protocol_version)}, {"notifications", filter}};
          auto p = eng->send_request("subscriptions/listen", std::move(params), Clock::now() + std::chrono::hours(24));
          if (p) {
            {
              std::lock_guard lk(mutex);
              if (stopped()) {
                eng->abandon(*p);
                return;
              }
              listen_cancel = cancel;
              listen_id = (*p)->id;
            }
            auto r = eng->wait(*p, Clock::now() + std::chrono::hours(24), cancel.get_token(), true);
            {
              std::lock_guard lk(mutex);
              listen_cancel.reset();
              listen_id = json();
            }
            // A result is a graceful end; cancelled means we asked (stop, or a new filter).
            ok = r || r.error().errc() == Errc::cancelled;
            if (!r && r.error().errc() != Errc::cancelled && r.error().errc() != Errc::disconnected)
              diagnostic("subscriptions/listen ended: " + r.error().message);
          }
        } else {
          ok = true;  // nothing to listen for yet: wait for a subscription or stop
          std::unique_lock lk(mutex);
          listener_cv.wait(lk, [&] { return stopped() || !resource_subscriptions.empty(); });
          continue;
        }
      } else if (conn) {
        return;  // legacy servers send their notifications unsolicited
      }
      std::unique_lock lk(mutex);
      if (stopped()) return;
      if (ok) {
        backoff.reset();
        continue;
      }
      listener_cv.wait_for(lk, backoff.delay(), [&] { return stopped(); });
      backoff.grow();
    }
  }

  static void join_listener(std::thread& t) {
    if (!t.joinable()) return;
    if (t.get_id() == std::this_thread::get_id()) t.detach();  // disconnect() from on_change
    else t.join();
  }

  // Re-run the legacy handshake on the same connection, once per expiry however many
  // requests noticed it.
  Result<ServerInfo> reinitialize(const std::shared_ptr<RpcEngine>& eng, std::uint64_t seen_epoch,
                                  const RequestOptions& opt) {
    std::lock_guard ck(connect_mutex);
    {
      std::lock_guard lk(mutex);
      if (session_epoch != seen_epoch || engine != eng) return info;
    }
    detail::UnorderedHandlersScope unordered(this);  // as in ensure()
    auto li = handshake_legacy(eng, opt);
    if (!li) return li;
    std::lock_guard lk(mutex);
    ++session_epoch;
    info = *li;
    shared_info = std::make_shared<const ServerInfo>(info);
    return info;
  }

  Result<json> check_result(const std::string& method, json r) const {
    if (!r.is_object()) return fail(Errc::invalid_result, method + ": result is not a JSON object", name);
    auto rt = r.find("resultType");
    if (rt == r.end()) return r;  // absent means complete
    if (!rt->is_string()) return fail(Errc::invalid_result, method + ": resultType is not a string", name);
    const auto& t = rt->get_ref<const std::string&>();
    if (t == "complete") return r;
    if (t == "input_required") {
      Error e = server_error(Errc::input_required,
                             method + ": the server needs input from the client (elicitation, sampling or "
                                      "roots) and no handler for it is configured",
                             name);
      e.data = r;
      return fail(std::move(e));
    }
    return fail(Errc::invalid_result, method + ": unknown resultType '" + t + "'", name);
  }

  void disconnect() {
    std::shared_ptr<RpcEngine> eng;
    std::thread listening;
    {
      // Stop the listener, forbid reconnects and take the connection in one step, so the
      // listener cannot reconnect behind our back.
      std::lock_guard lk(mutex);
      ++listener_gen;
      if (listen_cancel) listen_cancel->request_stop();
      listening.swap(listener);
      ++generation;
      eng.swap(engine);
      cache.clear();
      param_headers.clear();
    }
    listener_cv.notify_all();
    const Error e = server_error(Errc::disconnected, "the client disconnected", name);
    if (eng) eng->close(e);
    join_listener(listening);
  }
};

Session::Session(std::string name, ServerConfig config, ClientConfig client)
    : impl_(std::make_shared<Impl>(std::move(name), std::move(config), std::move(client))) {}

Session::~Session() {
  if (impl_) impl_->disconnect();
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

using FirstPage = std::optional<Result<json>>;

// Follows `nextCursor` to the end, handing each entry of the result's `key` array to
// `on_item`; refuses loops and runaway page counts. `first` is the first page when the
// caller has it already.
Result<void> paginate_items(Session& s, const std::string& method, const char* key, const RequestOptions& opt,
                            const std::function<void(const json&)>& on_item, FirstPage first = std::nullopt) {
  auto failure = [&](std::string message) { return fail(Errc::invalid_result, method + ": " + message, s.name()); };
  std::set<std::string> seen;
  std::optional<std::string> cursor;
  for (int page = 0; page < 10000; ++page) {
    Result<json> r = json();
    if (page == 0 && first) {
      r = std::move(*first);
    } else {
      json params = json::object();
      if (cursor) params["cursor"] = *cursor;
      r = s.request(method, std::move(params), opt);
    }
    if (!r) return fail(r.error());
    auto it = r->find(key);
    if (it == r->end() || !it->is_array()) return failure(std::string("result has no '") + key + "' array");
    for (const auto& item : *it) on_item(item);
    auto nc = r->find("nextCursor");
    if (nc == r->end() || nc->is_null()) return {};
    if (!nc->is_string() || !seen.insert(nc->get<std::string>()).second)
      return failure("invalid or repeated nextCursor (pagination loop)");
    cursor = nc->get<std::string>();
  }
  return failure("more than 10000 pages");
}

// Every entry as a T; entries that do not parse are skipped with a diagnostic.
template <class T>
Result<std::vector<T>> paginate(Session& s, const std::string& method, const char* key, const RequestOptions& opt,
                                const std::function<void(std::string)>& diag, FirstPage first) {
  std::vector<T> out;
  auto listed = paginate_items(
      s, method, key, opt,
      [&](const json& item) {
        try {
          out.push_back(item.get<T>());
        } catch (const std::exception& e) {
          diag(method + ": skipped an invalid entry: " + e.what());
        }
      },
      std::move(first));
  if (!listed) return fail(listed.error());
  return out;
}

}  // namespace

namespace detail {

std::vector<Result<json>> SessionAccess::first_pages(const std::vector<Session*>& sessions, const std::string& method,
                                                     const RequestOptions& opt) {
  // Connections still to open are opened side by side (spawning, probing): a thread each
  // but one, once per connection. Open connections cost no thread.
  std::vector<Session*> closed;
  for (Session* s : sessions)
    if (!s->connected()) closed.push_back(s);
  if (closed.size() > 1) {
    std::vector<std::thread> threads;
    for (std::size_t i = 1; i < closed.size(); ++i)
      threads.emplace_back([s = closed[i], &opt] { (void)s->impl_->ensure(opt); });
    (void)closed[0]->impl_->ensure(opt);
    for (auto& t : threads) t.join();
  }
  // All but the last are sent and left in flight; the last is asked as any request is (over
  // HTTP on this very thread), then the others' replies are collected.
  std::vector<Result<json>> out;
  if (sessions.empty()) return out;
  std::vector<Session::Impl::Flight> flights;
  flights.reserve(sessions.size() - 1);
  for (std::size_t i = 0; i + 1 < sessions.size(); ++i) flights.push_back(sessions[i]->impl_->send_first(method, opt));
  Result<json> last = sessions.back()->impl_->request(method, json::object(), opt);
  out.reserve(sessions.size());
  for (std::size_t i = 0; i + 1 < sessions.size(); ++i) out.push_back(sessions[i]->impl_->finish_first(flights[i], opt));
  out.push_back(std::move(last));
  return out;
}

Result<std::vector<ToolDefinition>> SessionAccess::list_tools(Session& s, const RequestOptions& options, FirstPage first) {
  auto& impl_ = s.impl_;
  std::vector<ToolDefinition> tools;
  std::map<std::string, std::vector<detail::ParamHeader>> param_headers;
  std::map<std::string, tl::expected<std::shared_ptr<const detail::SchemaValidator>, std::string>> output_schemas;
  auto listed = paginate_items(s, "tools/list", "tools", options, [&](const json& t) {
    ToolDefinition def;
    try {
      def = t.get<ToolDefinition>();
    } catch (const std::exception& e) {
      impl_->diagnostic(std::string("tools/list: skipped an invalid tool: ") + e.what());
      return;
    }
    if (impl_->is_http()) {
      // Streamable HTTP clients MUST drop a tool whose x-mcp-header annotations are invalid.
      auto headers = detail::param_headers(def.input_schema);
      if (!headers) {
        impl_->diagnostic("tools/list: tool '" + def.name + "' dropped: " + headers.error());
        return;
      }
      if (!headers->empty()) param_headers[def.name] = std::move(*headers);
    }
    if (def.output_schema) output_schemas.emplace(def.name, detail::SchemaValidator::compile(*def.output_schema));
    tools.push_back(std::move(def));
  }, std::move(first));
  if (!listed) return fail(listed.error());
  // Published only for a complete listing: a failed one leaves the previous state.
  std::lock_guard lk(impl_->mutex);
  if (impl_->is_http()) impl_->param_headers = std::move(param_headers);
  impl_->output_schemas = std::move(output_schemas);
  return tools;
}

Result<std::vector<Resource>> SessionAccess::list_resources(Session& s, const RequestOptions& options, FirstPage first) {
  return paginate<Resource>(s, "resources/list", "resources", options,
                            [&s](std::string m) { s.impl_->diagnostic(m); }, std::move(first));
}

Result<std::vector<ResourceTemplate>> SessionAccess::list_resource_templates(Session& s, const RequestOptions& options,
                                                                           FirstPage first) {
  return paginate<ResourceTemplate>(s, "resources/templates/list", "resourceTemplates", options,
                                    [&s](std::string m) { s.impl_->diagnostic(m); }, std::move(first));
}

Result<std::vector<Prompt>> SessionAccess::list_prompts(Session& s, const RequestOptions& options, FirstPage first) {
  return paginate<Prompt>(s, "prompts/list", "prompts", options, [&s](std::string m) { s.impl_->diagnostic(m); },
                          std::move(first));
}

}  // namespace detail

Result<std::vector<ToolDefinition>> Session::list_tools(const RequestOptions& options) {
  return detail::SessionAccess::list_tools(*this, options, std::nullopt);
}

Result<std::vector<Resource>> Session::list_resources(const RequestOptions& options) {
  return detail::SessionAccess::list_resources(*this, options, std::nullopt);
}

Result<std::vector<ResourceTemplate>> Session::list_resource_templates(const RequestOptions& options) {
  return detail::SessionAccess::list_resource_templates(*this, options, std::nullopt);
}

Result<std::vector<Prompt>> Session::list_prompts(const RequestOptions& options) {
  return detail::SessionAccess::list_prompts(*this, options, std::nullopt);
}

Result<CallToolResult> Session::call_tool(std::string_view name, json arguments, const RequestOptions& options) {
  if (arguments.is_null()) arguments = json::object();
  if (const auto& approve = impl_->client.handlers.approve_tool_call;
      approve && !approve(impl_->name, std::string(name), arguments))
    return fail(Errc::call_denied, "tools/call " + std::string(name) + ": denied by the approval callback", impl_->name);
  if (!arguments.is_object())
    return fail(Errc::invalid_argument, "tools/call " + std::string(name) + ": arguments must be a JSON object", impl_->name);
  json params(json::value_t::object);  // not an initializer list: that copies `arguments`
  params.get_ref<json::object_t&>().emplace("name", name);
  params.get_ref<json::object_t&>().emplace("arguments", std::move(arguments));
  auto send_options = [&]() -> Result<SendOptions> {
    SendOptions so;
    if (!impl_->is_http()) return so;
    std::lock_guard lk(impl_->mutex);
    if (impl_->param_headers.empty()) return so;
    auto it = impl_->param_headers.find(std::string(name));
    if (it == impl_->param_headers.end()) return so;
    auto values = detail::param_header_values(it->second, params["arguments"]);
    if (!values) return fail(Errc::invalid_argument, "tools/call " + std::string(name) + ": " + values.error(), impl_->name);
    so.headers = std::move(*values);
    return so;
  };
  auto so = send_options();
  if (!so) return fail(so.error());
  // Lent, not copied: they come back for the retry below.
  auto r = impl_->request_lent("tools/call", params, options, *so);
  if (!r && impl_->is_http() && r.error().rpc_code == jsonrpc::header_mismatch) {
    // HeaderMismatch: the tool's inputSchema may have changed; re-list and retry once.
    auto relisted = list_tools(options);
    if (!relisted) return fail(relisted.error());
    so = send_options();
    if (!so) return fail(so.error());
    // What the first try added goes: back to {name, arguments}.
    if (params.is_object())
      for (const char* added : {"_meta", "inputResponses", "requestState"}) params.erase(added);
    r = impl_->request_lent("tools/call", params, options, *so);
  }
  if (!r) return fail(r.error());
  CallToolResult result;
  try {
    detail::call_tool_result_from(std::move(*r), result);  // payloads moved, not copied
  } catch (const std::exception& e) {
    return fail(Errc::invalid_result, "tools/call " + std::string(name) + ": " + e.what(), impl_->name);
  }
  // A tool with an outputSchema must return matching structuredContent (unless it failed).
  std::optional<tl::expected<std::shared_ptr<const detail::SchemaValidator>, std::string>> schema;
  {
    std::lock_guard lk(impl_->mutex);
    if (!impl_->output_schemas.empty()) {
      auto it = impl_->output_schemas.find(std::string(name));
      if (it != impl_->output_schemas.end()) schema = it->second;
    }
  }
  if (schema && !result.is_error) {
    const std::string tool(name);
    if (!*schema)
      return fail(Errc::invalid_result, "tools/call " + tool + ": the tool's outputSchema cannot be used: " +
                                                      schema->error(), impl_->name);
    if (!result.structured_content)
      return fail(Errc::invalid_result,
                            "tools/call " + tool + ": the tool declares an outputSchema but returned no structuredContent", impl_->name);
    if (auto why = (**schema)->validate(*result.structured_content); !why.empty()) {
      Error e = server_error(Errc::invalid_result,
                             "tools/call " + tool + ": structuredContent does not match the outputSchema: " + why,
                             impl_->name);
      e.data = json(result);  // the result as sent
      return fail(std::move(e));
    }
  }
  return result;
}





Result<ReadResourceResult> Session::read_resource(const std::string& uri, const RequestOptions& options) {
  auto r = request("resources/read", json{{"uri", uri}}, options);
  if (!r) return fail(r.error());
  ReadResourceResult out;
  try {
    detail::read_resource_result_from(std::move(*r), out);  // payloads moved, not copied
  } catch (const std::exception& e) {
    return fail(Errc::invalid_result, "resources/read " + uri + ": " + e.what(), impl_->name);
  }
  return out;
}

Result<GetPromptResult> Session::get_prompt(const std::string& name, const std::map<std::string, std::string>& arguments,
                                            const RequestOptions& options) {
  json params{{"name", name}};
  if (!arguments.empty()) params["arguments"] = arguments;
  auto r = request("prompts/get", std::move(params), options);
  if (!r) return fail(r.error());
  GetPromptResult out;
  try {
    detail::get_prompt_result_from(std::move(*r), out);  // contents moved, not copied
  } catch (const std::exception& e) {
    return fail(Errc::invalid_result, "prompts/get " + name + ": " + e.what(), impl_->name);
  }
  return out;
}

Result<json> Session::complete(const json& ref, const std::string& argument, const std::string& value,
                               const json& context, const RequestOptions& options) {
  json params{{"ref", ref}, {"argument", {{"name", argument}, {"value", value}}}};
  if (context.is_object()) params["context"] = context;
  auto r = request("completion/complete", std::move(params), options);
  if (!r) return fail(r.error());
  if (!r->contains("completion") || !(*r)["completion"].is_object())
    return fail(Errc::invalid_result, "completion/complete: result has no 'completion' object", impl_->name);
  return (*r)["completion"];
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
  if (c->second->era == Era::modern) {
    // Modern: a subscriptions/listen filter entry; the listener re-listens with it.
    if (!impl_->client.handlers.on_change)
      return fail(Errc::invalid_config, "resource updates need ClientHandlers::on_change", impl_->name);
    std::lock_guard lk(impl_->mutex);
    impl_->resource_subscriptions.insert(uri);
    if (impl_->listen_cancel) impl_->listen_cancel->request_stop();
    impl_->listener_cv.notify_all();
    return {};
  }
  auto r = request("resources/subscribe", json{{"uri", uri}}, options);
  if (!r) return fail(r.error());
  return {};
}

Result<void> Session::unsubscribe_resource(const std::string& uri, const RequestOptions& options) {
  if (era() == Era::modern) {
    std::lock_guard lk(impl_->mutex);
    if (impl_->resource_subscriptions.erase(uri) && impl_->listen_cancel) impl_->listen_cancel->request_stop();
    return {};
  }
  auto r = request("resources/unsubscribe", json{{"uri", uri}}, options);
  if (!r) return fail(r.error());
  return {};
}

void Session::disconnect() { impl_->disconnect(); }

}  // namespace mcp
