// SPDX-License-Identifier: MIT
// A session's request pipeline: the result cache, `_meta`, the send, the retries the protocol
// allows (lost stream, expired legacy session, another modern revision), multi round-trip
// input, and the result's check; and a listing's first page split at the wait.
#include "session_impl.hpp"

#include "era.hpp"

namespace mcp {

using nlohmann::json;

Result<json> Session::Impl::request_lent(std::string_view method_sv, json& current, const RequestOptions& opt,
                                         const SendOptions& send_options) {
  const std::string method(method_sv);
  if (!client.on_request) return request_unobserved(method, current, opt, send_options);
  detail::RequestSpan span;
  span.start(client.on_request, name, method, era_now());
  auto r = request_unobserved(method, current, opt, send_options);
  span.end(era_now(), r ? nullptr : &r.error());
  return r;
}

Era Session::Impl::era_now() const {
  std::lock_guard lk(mutex);
  return verdict;
}

Result<std::optional<TraceContext>> Session::Impl::trace_for(std::string_view method, const RequestOptions& opt) const {
  if (opt.trace) {
    TraceContext t = *opt.trace;
    auto problems = detail::check_trace(t, false);
    if (!problems.empty())
      return fail(Errc::invalid_argument, std::string(method) + ": RequestOptions::trace: " + problems, name);
    return std::optional<TraceContext>(std::move(t));
  }
  std::optional<TraceContext> t;
  try {
    t = client.trace_context(name, method);
  } catch (const std::exception& e) {
    diagnostic(std::string(method) + ": ClientConfig::trace_context threw (" + e.what() + "); sent without trace context", method);
    return std::optional<TraceContext>();
  } catch (...) {
    diagnostic(std::string(method) + ": ClientConfig::trace_context threw; sent without trace context", method);
    return std::optional<TraceContext>();
  }
  if (t) {
    auto problems = detail::check_trace(*t, true);
    if (!problems.empty())
      diagnostic(std::string(method) + ": ClientConfig::trace_context: not W3C (not sent): " + problems, method);
    if (t->traceparent.empty() && t->baggage.empty()) t.reset();
  }
  return t;
}

Result<json> Session::Impl::request_unobserved(const std::string& method, json& current, const RequestOptions& opt,
                                               const SendOptions& send_options) {
  if (current.is_null()) current = json::object();
  // Before the cache key is made of them (json::erase throws on anything but an object).
  if (!current.is_object()) return fail(Errc::invalid_argument, method + ": params must be a JSON object", name);
  const bool cacheable = !opt.no_cache && detail::ResultCache::cacheable(method);
  std::string key;
  if (cacheable) {
    key = detail::ResultCache::key(method, current);
    if (auto hit = cache.get(key)) return std::move(*hit);
  }
  // The whole multi round-trip sequence is bounded by max_total_time when it is set.
  const auto started = Clock::now();
  const auto overall = opt.max_total_time ? std::optional(started + *opt.max_total_time) : std::nullopt;
  const std::uint64_t gen = generation_now();
  for (int round = 0;; ++round) {
    auto r = request_once(method, current, opt, send_options);
    if (r && method == "tools/call" && is_task(*r)) return follow_task(std::move(*r), opt, started);
    if (r && cacheable && round == 0) remember(key, *r);  // results after input rounds are never cached
    if (r || r.error().errc() != Errc::input_required) return r;
    auto next = next_round(method, round, overall, std::move(r.error().data), current);
    if (!next) return fail(next.error());
    // A handler that disconnected ends the call (the next round would open a new connection).
    if (auto gone = disconnected_since(gen, method)) return fail(std::move(*gone));
  }
}

Result<void> Session::Impl::next_round(const std::string& method, int round,
                                       const std::optional<Clock::time_point>& overall, json ir, json& current) const {
  const bool may_need_input = method == "tools/call" || method == "prompts/get" || method == "resources/read";
  if (overall && Clock::now() >= *overall)
    return fail(Errc::timeout, method + ": input rounds exceeded max_total_time", name);
  if (!may_need_input)
    return fail(Errc::invalid_result,
                method + ": the server answered input_required, which this method does not allow", name);
  if (round >= client.max_input_rounds)
    return fail(Errc::input_required,
                method + ": still input_required after " + std::to_string(client.max_input_rounds) + " rounds", name);
  // Multi round-trip request: fulfil the server's input requests, then re-issue the
  // request (new id) with the answers and the exact requestState.
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
  return {};
}

Session::Impl::Again Session::Impl::again(Era era, int attempt, const Error& e, std::string_view version) {
  if (attempt != 0) return {};
  // 2026-07-28: a broken response stream loses the request; re-issue it with a new id.
  if (era == Era::modern && e.errc() == Errc::stream_broken) return {Again::resend, {}};
  // Legacy Streamable HTTP: the server forgot our session (404). The request was not
  // processed, so re-initialising once and retrying is safe.
  if (era == Era::legacy && e.errc() == Errc::session_expired) return {Again::reinitialize, {}};
  if (era == Era::modern)
    if (auto v = detail::other_modern_version(e, std::string(version))) return {Again::other_version, std::move(*v)};
  return {};
}

std::shared_ptr<const ServerInfo> Session::Impl::adopt_version(const std::shared_ptr<const ServerInfo>& si,
                                                                const std::string& v) {
  auto changed = std::make_shared<ServerInfo>(*si);
  changed->protocol_version = v;
  std::lock_guard lk(mutex);
  modern_version = v;
  info.protocol_version = v;
  shared_info = std::make_shared<const ServerInfo>(info);
  return changed;
}

void Session::Impl::remember(const std::string& key, const json& r) {
  {
    std::lock_guard lk(mutex);
    if (verdict != Era::modern) return;
  }
  cache.remember(key, r, transport.per_call_credentials);
}

Result<json> Session::Impl::request_once(const std::string& method, json& params, const RequestOptions& opt,
                                         const SendOptions& send_options) {
  auto conn = ensure(opt);
  if (!conn) return fail(conn.error());
  const Engine eng = std::move(conn->first);
  std::shared_ptr<const ServerInfo> si = std::move(conn->second);
  std::uint64_t epoch;
  {
    std::lock_guard lk(mutex);
    epoch = session_epoch;
  }
  const auto deadline = Clock::now() + request_timeout(opt);
  std::optional<TraceContext> trace;
  if (opt.trace || client.trace_context) {
    auto t = trace_for(method, opt);
    if (!t) return fail(t.error());
    trace = std::move(*t);
  }
  for (int attempt = 0; attempt < 2; ++attempt) {
    if (params.is_null()) params = json::object();
    json& p = params;  // lent to the engine, and back for a second attempt
    // Our _meta for a modern request: lent from this thread's copy when the caller sent
    // none (taken back below), else merged into theirs. Lent as text, written once per
    // session, unless the engine is to add a progress token to it or there is trace context
    // to add (then a copy, made here and taken out below).
    detail::MetaLoan loan;
    const bool own_meta = trace && !p.contains(std::string_view("_meta"));
    if (si->era == Era::modern) {
      if (own_meta) {
        p["_meta"] = *meta.shared(si->protocol_version);
      } else if (!p.contains(std::string_view("_meta"))) {
        auto text = opt.on_progress ? nullptr : meta.shared_text(si->protocol_version);
        if (text && !text->empty()) loan.lend_text(p, text);
        else loan.lend(p, meta.shared(si->protocol_version));
      } else {
        const auto ours = meta.shared(si->protocol_version);
        json& m = p["_meta"];
        if (!m.is_object()) m = json::object();
        for (auto it = ours->begin(); it != ours->end(); ++it) m[it.key()] = it.value();
      }
    }
    if (trace) detail::put_trace(p["_meta"], *trace);  // both eras
    auto r = eng->call_lent(method, p, deadline, opt.stop, send_options, progress_options(opt));
    loan.take_back(p);
    if (own_meta && p.is_object()) p.erase("_meta");
    if (r) return check_result(method, std::move(*r));
    auto next = again(si->era, attempt, r.error(), si->protocol_version);
    if (next.kind == Again::resend) continue;
    if (next.kind == Again::reinitialize) {
      auto re = reinitialize(eng, epoch, opt);
      if (!re) return fail(re.error());
      si = std::make_shared<const ServerInfo>(std::move(*re));
      continue;
    }
    if (next.kind == Again::other_version) {
      si = adopt_version(si, next.version);
      continue;
    }
    return fail(tagged(r.error(), name));
  }
  return fail(Errc::unsupported_version, method + ": server rejected every protocol version we offered", name);
}

detail::ProgressOptions Session::Impl::progress_options(const RequestOptions& opt) const {
  detail::ProgressOptions progress;
  if (opt.on_progress) {
    progress.on_progress = opt.on_progress;
    progress.reset_timeout = opt.reset_timeout_on_progress;
    progress.timeout = request_timeout(opt);
    progress.hard_deadline = Clock::now() + opt.max_total_time.value_or(request_timeout(opt) * 10);
  }
  return progress;
}

Result<json> Session::Impl::check_result(const std::string& method, json r) const {
  if (!r.is_object()) return fail(Errc::invalid_result, method + ": result is not a JSON object", name);
  auto rt = r.find(std::string_view("resultType"));
  if (rt == r.end()) return r;  // absent means complete
  if (!rt->is_string()) return fail(Errc::invalid_result, method + ": resultType is not a string", name);
  const std::string_view t = rt->get_ref<const std::string&>();
  if (t == "complete") return r;
  // The tasks extension, which every modern request declares unless ClientConfig::tasks is off.
  if (t == "task" && client.tasks && (method == "tools/call" || method.starts_with("tasks/"))) return r;
  if (t == "input_required") {
    Error e = server_error(Errc::input_required,
                           method + ": the server needs input from the client (elicitation, sampling or "
                                    "roots) and no handler for it is configured",
                           name);
    e.data = r;
    return fail(std::move(e));
  }
  return fail(Errc::invalid_result, method + ": unknown resultType '" + std::string(t) + "'", name);
}

Session::Impl::Flight Session::Impl::send_first(const std::string& method, const RequestOptions& opt) {
  Flight f;
  f.method = method;
  f.span.start(client.on_request, name, method, era_now());
  json params = json::object();
  if (!opt.no_cache) {
    f.cache_key = detail::ResultCache::key(method, params);  // as request_lent keys it
    if (auto hit = cache.get(f.cache_key)) {
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
  if (f.era == Era::modern) params["_meta"] = *meta.shared(conn->second->protocol_version);
  if (opt.trace || client.trace_context) {
    auto t = trace_for(method, opt);
    if (!t) {
      f.done = fail(t.error());
      return f;
    }
    if (*t) detail::put_trace(params["_meta"], **t);
  }
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

Result<json> Session::Impl::finish_first(Flight& f, const RequestOptions& opt) {
  if (!f.span.active()) return finish_unobserved(f, opt);
  auto r = finish_unobserved(f, opt);
  f.span.end(era_now(), r ? nullptr : &r.error());
  return r;
}

Result<json> Session::Impl::finish_unobserved(Flight& f, const RequestOptions& opt) {
  if (f.done) return std::move(*f.done);
  auto r = f.eng->wait(f.pending, f.deadline, opt.stop);
  if (!r) {
    // What request_once answers with another try (a lost response stream, an expired legacy
    // session, another modern revision) is left to it, on this thread.
    const Error& e = r.error();
    const bool again =
        (f.era == Era::modern && (e.errc() == Errc::stream_broken || detail::unsupported_version_list(e))) ||
        (f.era == Era::legacy && e.errc() == Errc::session_expired);
    if (again) {
      json params = json::object();
      return request_unobserved(f.method, params, opt, {});
    }
    return fail(tagged(e, name));
  }
  auto checked = check_result(f.method, std::move(*r));
  if (checked && !f.cache_key.empty()) remember(f.cache_key, *checked);
  if (!checked && checked.error().errc() == Errc::input_required)  // as request_lent says it for a listing
    return fail(Errc::invalid_result,
                f.method + ": the server answered input_required, which this method does not allow", name);
  return checked;
}

}  // namespace mcp
