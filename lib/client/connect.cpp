// SPDX-License-Identifier: MIT
// A session's connection: opening it, the era probe (acting on era.cpp's verdicts), the legacy
// handshake and its repetition after a lost HTTP session, and disconnecting.
#include "session_impl.hpp"

#include "../util/json_get.hpp"
#include "era.hpp"

namespace mcp {

using nlohmann::json;
using detail::ClientEngine;
using Next = detail::EraVerdict::Next;

Session::Impl::Impl(std::string n, ServerConfig c, ClientConfig d)
    : name(std::move(n)), cfg(std::move(c)), client(std::move(d)) {
  if (cfg.protocol_version) {
    if (protocol::is_modern_version(*cfg.protocol_version)) cfg.era = Era::modern;
    else if (protocol::is_legacy_version(*cfg.protocol_version)) cfg.era = Era::legacy;
  }
  transport = detail::transport_traits(cfg);
  prepare_log();
  verdict = cfg.era;
  modern_version = cfg.protocol_version && protocol::is_modern_version(*cfg.protocol_version)
                       ? *cfg.protocol_version
                       : std::string(protocol::modern_version);
}

Result<Session::Impl::Engine> Session::Impl::open_engine() {
  ClientEngine::Options o;
  o.server = name;
  o.owner = this;
  std::weak_ptr<Impl> weak = weak_from_this();
  o.on_diagnostic = [weak](std::string_view d, const detail::DiagnosticAbout& about) {
    if (auto self = weak.lock()) self->diagnostic(std::string(d), about.method, about.request_id);
  };
  if (client.on_log) {
    // Called on the reader thread as the channel ends: takes no lock (a closing thread may
    // hold `mutex` while it joins that reader).
    o.on_closed = [weak](const Error& e) {
      if (auto self = weak.lock()) self->log(LogKind::connection_lost, LogLevel::warning, e.message);
    };
  }
  auto eng = std::make_shared<ClientEngine>(detail::make_transport(name, cfg, client.handlers), std::move(o));
  std::weak_ptr<ClientEngine> weak_eng = eng;
  eng->set_notification_handler([weak, weak_eng](const std::string& method, const json& params) {
    if (auto self = weak.lock()) self->on_notification(method, params, weak_eng);
  });
  eng->set_request_handler([weak, weak_eng](const std::string& method, const json& params) -> Result<json> {
    auto self = weak.lock();
    if (!self) return fail(Errc::disconnected, "the client is gone");
    // A person may take a while to answer a form: the timeouts of the requests in flight on
    // this connection (the one the server asks for among them) do not run meanwhile.
    auto eng = method == "elicitation/create" ? weak_eng.lock() : nullptr;
    if (!eng) return self->fulfil(method, params);
    const auto held = eng->hold_all();
    auto r = self->fulfil(method, params);
    eng->release_held(held);
    return r;
  });
  auto started = eng->start();
  if (!started) {
    eng->close(started.error());
    return fail(tagged(started.error(), name));
  }
  return eng;
}

// Make `eng` the current connection unless a disconnect happened since `gen`.
bool Session::Impl::publish(const Engine& eng, std::uint64_t gen) {
  std::lock_guard lk(mutex);
  if (generation != gen) return false;
  engine = eng;
  return true;
}

Result<ServerInfo> Session::Impl::handshake_legacy(const Engine& eng, const RequestOptions& opt) {
  const std::string offered = (cfg.protocol_version && protocol::is_legacy_version(*cfg.protocol_version))
                                  ? *cfg.protocol_version
                                  : std::string(protocol::latest_legacy_version);
  json params{{"protocolVersion", offered}, {"capabilities", meta.capabilities()}, {"clientInfo", client.client_info}};
  // initialize is never cancelled (the spec forbids it); a timeout just closes.
  auto r = eng->call("initialize", std::move(params), Clock::now() + request_timeout(opt), opt.stop, {.cancel_on_abort = false});
  if (!r) return fail(tagged(r.error(), name));
  return finish_legacy(eng, *r);
}

Result<ServerInfo> Session::Impl::finish_legacy(const Engine& eng, const json& r) {
  if (!r.is_object() || !r.contains("protocolVersion") || !r["protocolVersion"].is_string())
    return fail(Errc::invalid_result, "initialize: result without a protocolVersion", name);
  const std::string v = r["protocolVersion"].get<std::string>();
  if (!protocol::is_legacy_version(v))
    return fail(Errc::unsupported_version,
                "initialize: server chose protocol version '" + v + "', which this client does not speak", name);
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
    auto lvl = eng->call("logging/setLevel", json{{"level", client.log_level}}, Clock::now() + client.request_timeout,
                         std::stop_token());
    if (!lvl) diagnostic("logging/setLevel failed: " + lvl.error().message, "logging/setLevel");
  }
  return si;
}

Result<Session::Impl::Opened> Session::Impl::opened_legacy(const Engine& eng, const RequestOptions& opt) {
  auto li = handshake_legacy(eng, opt);
  if (!li) return fail(li.error());
  return std::make_pair(eng, std::move(*li));
}

// Era detection (2026-07-28, backward compatibility): probe with server/discover and act on
// what detail::judge_probe makes of the outcome.
Result<Session::Impl::Opened> Session::Impl::detect(Engine eng, std::uint64_t gen, const RequestOptions& opt) {
  detail::Probe probe;
  probe.transport = transport.kind;
  probe.offered = modern_version;
  for (;;) {
    std::shared_ptr<ClientEngine::Pending> pending;
    auto sent = eng->send_request("server/discover", json{{"_meta", meta.build(probe.offered)}},
                                  Clock::now() + probe_timeout());
    probe.sent = static_cast<bool>(sent);
    if (sent) {
      pending = *sent;
      probe.reply = eng->wait(pending, Clock::now() + probe_timeout(), opt.stop, {.cancel_on_abort = false, .keep_on_timeout = true});
      if (!probe.reply && probe.reply.error().errc() != Errc::timeout) eng->abandon(pending);
    } else {
      probe.reply = fail(sent.error());
    }
    auto v = detail::judge_probe(probe);
    switch (v.next) {
      case Next::modern:
        modern_version = v.version;
        return std::make_pair(eng, std::move(v.info));
      case Next::retry:
        probe.offered = v.version;
        probe.may_retry = false;
        continue;
      case Next::legacy: return opened_legacy(eng, opt);
      case Next::legacy_after_silence: return legacy_after_silent_probe(eng, pending, opt);
      case Next::legacy_restart: return legacy_on_fresh_process(eng, gen, opt);
      case Next::fail: break;
    }
    return fail(tagged(std::move(v.error), name));
  }
}

// The server died on the probe: start it again and speak legacy.
Result<Session::Impl::Opened> Session::Impl::legacy_on_fresh_process(const Engine& eng, std::uint64_t gen,
                                                                     const RequestOptions& opt) {
  eng->close(Error::make(Errc::process_exited, "restarting after the era probe"));
  auto fresh = open_engine();
  if (!fresh) return fail(fresh.error());
  if (!publish(*fresh, gen)) {
    (*fresh)->close(Error::make(Errc::disconnected, "disconnected while connecting"));
    return fail(Errc::disconnected, "disconnected while connecting", name);
  }
  return opened_legacy(*fresh, opt);
}

Result<Session::Impl::Opened> Session::Impl::legacy_after_silent_probe(const Engine& eng,
                                                                       const std::shared_ptr<ClientEngine::Pending>& probe,
                                                                       const RequestOptions& opt) {
  auto li = handshake_legacy(eng, opt);
  if (li) {
    eng->abandon(probe);
    return std::make_pair(eng, *li);
  }
  // initialize failed: did the probe get a late DiscoverResult? Then it is a slow modern server.
  auto late = eng->wait(probe, Clock::now(), std::stop_token(), {.cancel_on_abort = false});
  if (late) {
    auto si = detail::parse_discover(*late, modern_version);
    if (si) return std::make_pair(eng, *si);
  }
  return fail(li.error());
}

// Known modern: discover once for the server's identity and capabilities.
Result<Session::Impl::Opened> Session::Impl::known_modern(const Engine& eng, const RequestOptions& opt) {
  auto r = eng->call("server/discover", json{{"_meta", meta.build(modern_version)}},
                     Clock::now() + request_timeout(opt), opt.stop);
  auto v = detail::judge_known_modern(r, modern_version);
  if (v.next != Next::modern) return fail(tagged(std::move(v.error), name));
  modern_version = v.version;
  return std::make_pair(eng, std::move(v.info));
}

Result<Session::Impl::Opened> Session::Impl::connect_locked(const RequestOptions& opt) {
  std::uint64_t gen;
  {
    std::lock_guard lk(mutex);
    if (engine && engine->is_open()) return std::make_pair(engine, info);
    gen = generation;
  }
  Engine old;
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
  Result<Opened> out = era == Era::legacy   ? opened_legacy(*eng, opt)
                       : era == Era::modern ? known_modern(*eng, opt)
                                            : detect(*eng, gen, opt);
  if (!out) {
    Engine cur;
    {
      std::lock_guard lk(mutex);
      if (generation == gen) cur.swap(engine);
    }
    if (cur) cur->close(out.error());
    (*eng)->close(out.error());
    return out;
  }
  bool again = false;
  {
    std::lock_guard lk(mutex);
    if (generation != gen) {
      out->first->close(Error::make(Errc::disconnected, "disconnected while connecting"));
      return fail(Errc::disconnected, "disconnected while connecting", name);
    }
    const auto in_use = out->first->transport_in_use();
    out->second.transport = in_use.name;
    out->second.transport_fallback = in_use.fallback;
    engine = out->first;
    info = out->second;
    shared_info = std::make_shared<const ServerInfo>(info);
    verdict = info.era;
    again = std::exchange(had_connection, true);
    if (info.era == Era::modern) {
      modern_version = info.protocol_version;
      start_listener_locked();
    }
  }
  if (client.on_log) log_connected(out->second, era == Era::unknown, again);
  return out;
}

void Session::Impl::log_connected(const ServerInfo& si, bool detected, bool again) const {
  if (detected)
    log(LogKind::era_detected, LogLevel::info,
        std::string("era detected: ") + to_string(si.era) + " (protocol " + si.protocol_version + ")", &si);
  if (si.transport_fallback)
    log(LogKind::fell_back_to_sse, LogLevel::warning,
        "Streamable HTTP refused by the server: fell back to the legacy HTTP+SSE transport", &si);
  log(again ? LogKind::reconnected : LogKind::connected, LogLevel::info,
      std::string(again ? "reconnected to " : "connected to ") + log_target + " over " + si.transport, &si);
}

Result<Session::Impl::Connection> Session::Impl::ensure(const RequestOptions& opt) {
  // Every blocking request starts here: refused inside an asynchronous completion before it
  // sends anything (an HTTP exchange on this thread could wait for this very thread).
  if (detail::RpcEngine::in_completion())
    return fail(tagged(detail::RpcEngine::blocking_in_completion("a blocking call"), name));
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

// Re-run the legacy handshake on the same connection, once per expiry however many requests
// noticed it.
Result<ServerInfo> Session::Impl::reinitialize(const Engine& eng, std::uint64_t seen_epoch, const RequestOptions& opt) {
  std::lock_guard ck(connect_mutex);
  {
    std::lock_guard lk(mutex);
    if (session_epoch != seen_epoch || engine != eng) return info;
  }
  detail::UnorderedHandlersScope unordered(this);  // as in ensure()
  auto li = handshake_legacy(eng, opt);
  if (!li) return li;
  {
    std::lock_guard lk(mutex);
    ++session_epoch;
    li->transport = info.transport;
    li->transport_fallback = info.transport_fallback;
    info = *li;
    shared_info = std::make_shared<const ServerInfo>(info);
  }
  log(LogKind::session_reinitialized, LogLevel::info,
      "the server no longer knew the session (HTTP 404): initialized a new one", &*li, "initialize");
  return li;
}

void Session::Impl::disconnect() {
  Engine eng;
  std::vector<Engine> unfinished;
  std::thread listening;
  std::optional<ServerInfo> last;  // for on_log
  {
    // Stop the listener, forbid reconnects and take the connection in one step, so the
    // listener cannot reconnect behind our back.
    std::lock_guard lk(mutex);
    listening = stop_listener_locked();
    ++generation;
    eng.swap(engine);
    unfinished.swap(retired);
    had_connection = false;
    if (eng && client.on_log) last = info;
    cache.clear();
    param_headers.clear();
  }
  listener.cv.notify_all();
  const Error e = server_error(Errc::disconnected, "the client disconnected", name);
  // The connection, then those an earlier close left unfinished: closed from here, this waits
  // for their threads (unless it is one of them), and releases them.
  if (eng) unfinished.insert(unfinished.begin(), std::move(eng));
  std::erase_if(unfinished, [&](const Engine& u) {
    u->close(e);
    return !u->close_deferred();
  });
  if (!unfinished.empty()) {
    std::lock_guard lk(mutex);
    for (auto& u : unfinished) retired.push_back(std::move(u));
  }
  join_listener(listening);
  if (last) log(LogKind::disconnected, LogLevel::info, "disconnected from " + log_target, &*last);
}

std::uint64_t Session::Impl::generation_now() const { return generation.load(); }

std::optional<Error> Session::Impl::disconnected_since(std::uint64_t gen, const std::string& method) const {
  if (generation_now() == gen) return std::nullopt;
  return server_error(Errc::disconnected, method + ": the client disconnected", name);
}

}  // namespace mcp
