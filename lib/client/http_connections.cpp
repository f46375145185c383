// SPDX-License-Identifier: MIT
// The transport's connections: request heads, the kept-alive connections per origin, one
// exchange through the lean client with its stale-connection retry, and which redirects are
// followed. The cap on connections to the server: http_slots.cpp.
#include "http_transport_impl.hpp"

#include <charconv>
#include <cstring>

namespace mcp::detail {

// A request head for the lean client, in `head`; `body` null: none (no Content-Length).
// Sized first, then written through a cursor: no capacity check per piece.
void request_head(std::string& head, std::string_view method, const Url& url, const Fields& headers,
                  const std::string& host_header, const std::string* body) {
  using namespace std::string_view_literals;
  bool host = false, agent = false;  // given by the configuration or the header_provider
  std::size_t fields = 0;
  for (const auto [k, v] : headers) {
    host = host || iequals(k, "Host");
    agent = agent || iequals(k, "User-Agent");
    fields += k.size() + v.size() + 4;
  }
  char length[24];
  const std::string_view content_length(
      length, body ? static_cast<std::size_t>(std::to_chars(length, length + sizeof length, body->size()).ptr - length) : 0);
  constexpr auto kLine = " HTTP/1.1\r\n"sv, kHost = "Host: "sv, kAgent = "User-Agent: mcp-cpp\r\n"sv,
                 kType = "Content-Type: application/json\r\nContent-Length: "sv;
  const std::size_t size = method.size() + 1 + url.target.size() + kLine.size() +
                           (host ? 0 : kHost.size() + host_header.size() + 2) + (agent ? 0 : kAgent.size()) + fields +
                           (body ? kType.size() + content_length.size() + 2 : 0) + 2;
  head.resize(size);
  char* p = head.data();
  auto put = [&p](std::string_view s) {
    std::memcpy(p, s.data(), s.size());
    p += s.size();
  };
  put(method);
  put(" "sv);
  put(url.target);
  put(kLine);
  if (!host) {
    put(kHost);
    put(host_header);
    put("\r\n"sv);
  }
  if (!agent) put(kAgent);
  for (const auto [k, v] : headers) {
    put(k);
    put(": "sv);
    put(v);
    put("\r\n"sv);
  }
  if (body) {
    put(kType);
    put(content_length);
    put("\r\n"sv);
  }
  put("\r\n"sv);
}

ResponseFields all_fields(const http1::Head& h) {
  ResponseFields all;
  all.v.reserve(h.fields.size());
  for (const auto& [k, v] : h.fields) all.v.emplace_back(std::string(k), std::string(v));
  return all;
}

std::unique_ptr<http1::Connection> HttpTransport::take_idle(const Url& u, OriginSlots& s) {
  std::unique_ptr<http1::Connection> c;
  if (own_origin(u)) {
    std::lock_guard lk(s.m);
    if (!s.idle.empty()) {
      c = std::move(s.idle.back().conn);
      s.idle.pop_back();
    }
    return c;
  }
  std::lock_guard lk(mutex_);
  auto& idle = idle_lean_[u.origin()];
  if (!idle.empty()) {
    c = std::move(idle.back());
    idle.pop_back();
  }
  return c;
}

void HttpTransport::release_lean(const Url& u, std::unique_ptr<http1::Connection> c, OriginSlots& s) {
  // Keep-alive reuse, bounded (beyond, a connection is closed). A small pool made a burst of
  // parallel calls open (and close) a connection each, overflowing servers' listen queues.
  constexpr std::size_t kKeepIdle = 64;
  if (own_origin(u)) {
    bool waiting = false;
    {
      std::lock_guard lk(s.m);
      // A share's connection stays the share's when we close; it keeps at most its cap.
      if (s.shared ? s.idle.size() >= s.cap : (closing_ || s.idle.size() >= std::max(kKeepIdle, s.cap))) return;
      s.idle.push_back({std::move(c), s.shared ? Clock::now() : Clock::time_point()});
      waiting = !s.queue.empty() || !s.connect_queue.empty();
    }
    // A request in line for a new connection (the attempts all under way) can have this one.
    if (waiting) pump(s);
    return;
  }
  std::lock_guard lk(mutex_);
  if (closing_) return;
  auto& v = idle_lean_[u.origin()];
  if (v.size() < kKeepIdle) v.push_back(std::move(c));
}

http1::Outcome HttpTransport::open_counted(Flight* f, SlotGrant& g, http1::Connection& c,
                                           std::chrono::microseconds timeout) {
  OriginSlots& s = *g.slots;
  if (!g.may_connect && !take_connect(s, f, Clock::now() + timeout)) {
    http1::Outcome out;
    out.failure = (f && f->over()) || closing_ ? http1::Failure::stopped : http1::Failure::connect_timeout;
    return out;
  }
  g.may_connect = false;
  if (f) {
    std::lock_guard lk(f->m);
    f->conn = &c;  // stop() interrupts the connect too
  }
  auto out = c.connect(timeout);
  if (f) {
    std::lock_guard lk(f->m);
    f->conn = nullptr;
  }
  if (s.shared && out.ok()) ++s.opened;
  end_connect(s);
  return out;
}

http1::Outcome HttpTransport::post_lean(Flight* f, SlotGrant* grant, const Url& url, const std::string& body,
                                                       const Fields& headers,
                                                       std::chrono::microseconds read_timeout,
                                                       const std::function<bool(const http1::Head&)>& on_head,
                                                       const http1::ResponseParser::OnData& on_data,
                                                       std::string_view method,
                                                       std::chrono::microseconds head_timeout) {
  // parse_url (at start, for url_) and resolve_url made sure; nothing may split the request line
  if (&url != &url_ && !target_ok(url.target)) {
    http1::Outcome bad;
    bad.failure = http1::Failure::protocol;
    bad.detail = "request target with characters RFC 3986 does not allow";
    return bad;
  }
  const bool post = method == "POST";  // else a GET stream: no body, no coalescing
  const auto connect_within = std::min(read_timeout, head_timeout);
  // The slot's connection, else an idle one; a new one only when there is none.
  bool reused = true;
  // Whose connections: the slot's (ours or a share's); not counted, always ours.
  OriginSlots& slots = grant && grant->slots ? *grant->slots : own_;
  std::unique_ptr<http1::Connection> conn;
  if (grant && grant->conn && own_origin(url)) conn = std::move(grant->conn);
  else conn = take_idle(url, slots);
  if (grant && grant->may_connect && conn) {
    grant->may_connect = false;  // not needed: another request may open one
    end_connect(slots);
  }
  if (!conn) {
    conn = connect_to(url);
    reused = false;
    if (grant)
      if (auto opened = open_counted(f, *grant, *conn, connect_within); !opened.ok()) return opened;
  }
  Lent<std::string, HeadText> head;  // the thread's, reused: no allocation per request
  request_head(*head, method, url, headers, conn->host_header(), post ? &body : nullptr);
  auto over = [f] { return f && f->over(); };
  http1::Outcome out;
  for (int attempt = 0; attempt < 2; ++attempt) {
    if (f) {
      std::lock_guard lk(f->m);
      f->conn = conn.get();
    }
    if (!over())
      out = conn->exchange(*head, post ? std::string_view(body) : std::string_view(), false, read_timeout, on_head,
                           on_data, f != nullptr && post, head_timeout);
    else out.failure = http1::Failure::stopped;
    if (f) {
      std::lock_guard lk(f->m);
      f->conn = nullptr;
    }
    if (!out.ok() && reused && !out.response_started && !over() &&
        (out.failure == http1::Failure::read || out.failure == http1::Failure::write)) {
      // A kept-alive connection the server had already closed: no response came back, so
      // the request is sent once more on a fresh connection (as browsers and curl do).
      conn = connect_to(url);
      reused = false;
      if (grant)
        if (out = open_counted(f, *grant, *conn, connect_within); !out.ok()) break;
      continue;
    }
    break;
  }
  if (out.ok() && conn->reusable()) release_lean(url, std::move(conn), slots);
  return out;
}

Result<Url> HttpTransport::redirect_target(const Url& from, int status, const std::string& location,
                                           int hops) const {
  constexpr int kMaxRedirects = 10;
  const std::string what = "HTTP " + std::to_string(status) + " redirect from " + from.origin();
  auto refuse = [&](std::string why, const std::string& to_origin) {
    Error e = err(Errc::http_error, what + " " + why);
    e.data = json{{"status", status}};
    e.http_status = status;
    if (!to_origin.empty()) e.data["location_origin"] = to_origin;
    return fail(std::move(e));
  };
  auto to = resolve_url(from, location);
  if (!to) return refuse("not followed: its Location is not a usable http(s) URL", "");
  if (to->origin() != from.origin())
    return refuse("to another origin, " + to->origin() +
                      ", refused: the configured headers, credentials and session id go to " + from.origin() + " only",
                  to->origin());
  if (cfg_.auth) return refuse("not followed: with an auth provider, redirects are not followed", "");
  if (hops >= kMaxRedirects) return refuse("not followed: more than " + std::to_string(kMaxRedirects) + " redirects", "");
  return *to;
}

}  // namespace mcp::detail
