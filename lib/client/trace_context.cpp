// SPDX-License-Identifier: MIT
// W3C Trace Context (traceparent, tracestate) and W3C Baggage, checked as their specifications
// write them (www.w3.org/TR/trace-context/ §3.2-3.3, www.w3.org/TR/baggage/ §3.2), and the
// request lifecycle events.
#include "trace_context.hpp"

#include <atomic>
#include <vector>

namespace mcp::detail {

namespace {

bool lower_hex(char c) { return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'); }
bool lcalpha(char c) { return c >= 'a' && c <= 'z'; }
bool digit(char c) { return c >= '0' && c <= '9'; }
bool ows(char c) { return c == ' ' || c == '\t'; }

bool hex_field(std::string_view v, std::size_t from, std::size_t n, bool nonzero) {
  bool any = false;
  for (std::size_t i = from; i < from + n; ++i) {
    if (!lower_hex(v[i])) return false;
    any = any || v[i] != '0';
  }
  return !nonzero || any;
}

std::string_view trim(std::string_view s) {
  while (!s.empty() && ows(s.front())) s.remove_prefix(1);
  while (!s.empty() && ows(s.back())) s.remove_suffix(1);
  return s;
}

std::vector<std::string_view> split(std::string_view s, char sep) {
  std::vector<std::string_view> out;
  for (;;) {
    const auto at = s.find(sep);
    out.push_back(trim(s.substr(0, at)));
    if (at == std::string_view::npos) return out;
    s.remove_prefix(at + 1);
  }
}

// tracestate key chars after the first: lcalpha / DIGIT / "_" / "-" / "*" / "/"
bool key_char(char c) { return lcalpha(c) || digit(c) || c == '_' || c == '-' || c == '*' || c == '/'; }

bool tracestate_key(std::string_view k) {
  const auto at = k.find('@');
  if (at == std::string_view::npos) {  // simple-key = lcalpha 0*255(key_char)
    if (k.empty() || k.size() > 256 || !lcalpha(k[0])) return false;
    for (char c : k.substr(1))
      if (!key_char(c)) return false;
    return true;
  }
  // multi-tenant-key = tenant-id "@" system-id
  const std::string_view tenant = k.substr(0, at), system = k.substr(at + 1);
  if (tenant.empty() || tenant.size() > 241 || !(lcalpha(tenant[0]) || digit(tenant[0]))) return false;
  if (system.empty() || system.size() > 14 || !lcalpha(system[0])) return false;
  for (char c : tenant.substr(1))
    if (!key_char(c)) return false;
  for (char c : system.substr(1))
    if (!key_char(c)) return false;
  return true;
}

// value = 0*255(chr) nblk-chr; chr = %x20 / nblk-chr; nblk-chr = %x21-2B / %x2D-3C / %x3E-7E
bool tracestate_value(std::string_view v) {
  if (v.empty() || v.size() > 256 || v.back() == ' ') return false;
  for (char c : v)
    if (c < 0x20 || c > 0x7e || c == ',' || c == '=') return false;
  return true;
}

// RFC 7230 token
bool token(std::string_view k) {
  if (k.empty()) return false;
  for (char c : k) {
    const bool ok = digit(c) || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
                    std::string_view("!#$%&'*+-.^_`|~").find(c) != std::string_view::npos;
    if (!ok) return false;
  }
  return true;
}

// baggage-octet = %x21 / %x23-2B / %x2D-3A / %x3C-5B / %x5D-7E
bool baggage_value(std::string_view v) {
  for (char c : v)
    if (c < 0x21 || c > 0x7e || c == '"' || c == ',' || c == ';' || c == '\\') return false;
  return true;
}

std::atomic<std::uint64_t> next_request_id{1};

}  // namespace

std::string traceparent_problem(std::string_view v) {
  // version "-" trace-id "-" parent-id "-" trace-flags: 2, 32, 16, 2 lower-case hex digits
  if (v.size() < 55) return "shorter than a traceparent (55 characters)";
  if (v[2] != '-' || v[35] != '-' || v[52] != '-') return "not version-traceid-parentid-flags";
  if (!hex_field(v, 0, 2, false) || v.substr(0, 2) == "ff") return "invalid version";
  if (!hex_field(v, 3, 32, false)) return "trace-id is not 32 lower-case hex digits";
  if (!hex_field(v, 3, 32, true)) return "trace-id is all zeros";
  if (!hex_field(v, 36, 16, false)) return "parent-id is not 16 lower-case hex digits";
  if (!hex_field(v, 36, 16, true)) return "parent-id is all zeros";
  if (!hex_field(v, 53, 2, false)) return "trace-flags are not 2 lower-case hex digits";
  // Version 00 is exactly this; a later version may add fields after a '-'.
  if (v.size() > 55 && (v.substr(0, 2) == "00" || v[55] != '-')) return "unexpected characters after trace-flags";
  return {};
}

std::string tracestate_problem(std::string_view v) {
  if (v.size() > 8192) return "longer than 8192 characters";
  int members = 0;
  for (std::string_view m : split(v, ',')) {
    if (m.empty()) continue;  // empty list members are allowed
    if (++members > 32) return "more than 32 list members";
    const auto eq = m.find('=');
    if (eq == std::string_view::npos) return "list member '" + std::string(m) + "' has no '='";
    if (!tracestate_key(m.substr(0, eq))) return "invalid key '" + std::string(m.substr(0, eq)) + "'";
    if (!tracestate_value(m.substr(eq + 1))) return "invalid value for key '" + std::string(m.substr(0, eq)) + "'";
  }
  return {};
}

std::string baggage_problem(std::string_view v) {
  if (v.size() > 8192) return "longer than 8192 bytes";
  int members = 0;
  for (std::string_view m : split(v, ',')) {
    if (++members > 180) return "more than 180 list members";
    const auto parts = split(m, ';');
    const std::string_view kv = parts[0];
    const auto eq = kv.find('=');
    if (eq == std::string_view::npos) return "list member '" + std::string(m) + "' has no '='";
    const std::string_view key = trim(kv.substr(0, eq)), value = trim(kv.substr(eq + 1));
    if (!token(key)) return "invalid key '" + std::string(key) + "'";
    if (!baggage_value(value)) return "invalid value for key '" + std::string(key) + "' (percent-encode it)";
    for (std::size_t i = 1; i < parts.size(); ++i) {
      const auto peq = parts[i].find('=');
      const std::string_view pk = trim(parts[i].substr(0, peq));
      if (!token(pk)) return "invalid property '" + std::string(parts[i]) + "'";
      if (peq != std::string_view::npos && !baggage_value(trim(parts[i].substr(peq + 1))))
        return "invalid property value '" + std::string(parts[i]) + "'";
    }
  }
  return {};
}

std::string check_trace(TraceContext& t, bool drop) {
  std::string problems;
  auto one = [&](const char* what, std::string& value, std::string why) {
    if (why.empty()) return;
    if (!problems.empty()) problems += "; ";
    problems += std::string(what) + " '" + value.substr(0, 64) + (value.size() > 64 ? "...'" : "'") + ": " + why;
    if (drop) value.clear();
  };
  if (!t.traceparent.empty()) {
    one("traceparent", t.traceparent, traceparent_problem(t.traceparent));
    if (drop && t.traceparent.empty()) t.tracestate.clear();
  }
  if (!t.tracestate.empty()) {
    if (t.traceparent.empty()) one("tracestate", t.tracestate, "sent without a traceparent");
    else one("tracestate", t.tracestate, tracestate_problem(t.tracestate));
  }
  if (!t.baggage.empty()) one("baggage", t.baggage, baggage_problem(t.baggage));
  return problems;
}

void put_trace(nlohmann::json& meta, const TraceContext& t) {
  if (meta.is_null()) meta = nlohmann::json::object();
  if (!meta.is_object()) return;
  auto put = [&](const char* key, const std::string& v) {
    if (!v.empty() && !meta.contains(key)) meta[key] = v;
  };
  put("traceparent", t.traceparent);
  put("tracestate", t.tracestate);
  put("baggage", t.baggage);
}

void RequestSpan::start(const std::function<void(const RequestEvent&)>& hook, std::string_view server,
                        std::string_view method, Era era) {
  if (!hook) return;
  hook_ = &hook;
  server_ = server;
  method_ = method;
  id_ = next_request_id.fetch_add(1, std::memory_order_relaxed);
  t0_ = std::chrono::steady_clock::now();
  RequestEvent e;
  e.phase = RequestEvent::Phase::start;
  e.id = id_;
  e.server = server_;
  e.method = method_;
  e.era = era;
  try {
    (*hook_)(e);
  } catch (...) {  // what the hook throws is ignored (ClientConfig::on_request)
  }
}

void RequestSpan::end(Era era, const Error* error) {
  if (!hook_) return;
  const auto* hook = hook_;
  hook_ = nullptr;
  RequestEvent e;
  e.phase = RequestEvent::Phase::end;
  e.id = id_;
  e.server = server_;
  e.method = method_;
  e.era = era;
  e.duration = std::chrono::steady_clock::now() - t0_;
  e.error = error;
  if (!error) e.outcome = RequestEvent::Outcome::ok;
  else if (error->errc() == Errc::timeout) e.outcome = RequestEvent::Outcome::timeout;
  else if (error->errc() == Errc::cancelled) e.outcome = RequestEvent::Outcome::cancelled;
  else e.outcome = RequestEvent::Outcome::error;
  try {
    (*hook)(e);
  } catch (...) {
  }
}

}  // namespace mcp::detail
