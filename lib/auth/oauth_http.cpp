// SPDX-License-Identifier: MIT
// The OAuth client's HTTP exchanges with authorization server endpoints, through the library's
// own HTTP/1.1 client, and the helpers for requests and replies (oauth_http.hpp).
#include "oauth_http.hpp"

#include "../http1.hpp"
#include "../protocol/json_read.hpp"
#include "../util/json_get.hpp"

#include <algorithm>

namespace mcp::detail::oauth_client {

using detail::str_or;

constexpr std::size_t kMaxBody = detail::http1::kMaxBody;  // metadata and token responses

// scheme://host[:port]/path of a URL, for messages (no userinfo, query or fragment).
std::string safe_url(std::string_view url) {
  auto u = oauth::split_url(url);
  if (!u) return "(invalid URL)";
  return oauth::origin_of(*u) + u->path;
}

std::vector<std::string> strings(const json& j, const char* k) {
  std::vector<std::string> out;
  if (!j.is_object()) return out;
  auto it = j.find(k);
  if (it == j.end() || !it->is_array()) return out;
  for (const auto& v : *it)
    if (v.is_string()) out.push_back(v.get<std::string>());
  return out;
}

bool contains(const std::vector<std::string>& v, std::string_view s) {
  return std::find(v.begin(), v.end(), s) != v.end();
}

// `a=1&b=2`; in a URL query (`query` = true) spaces become %20, which every server decodes
// (form encoding's '+' is not understood by all).
std::string form_encode(const Params& params, bool query) {
  std::string out;
  for (const auto& [k, v] : params) {
    if (!out.empty()) out.push_back('&');
    out += oauth::form_urlencode(k) + "=" + oauth::form_urlencode(v);
  }
  if (query) {
    std::string q;
    for (char c : out) q += c == '+' ? std::string("%20") : std::string(1, c);  // a literal '+' is %2B
    out = std::move(q);
  }
  return out;
}

Result<Reply> Http::send(const std::string& method, const std::string& url, const Headers& headers,
                         const std::string& body, const std::string& content_type, Clock::time_point deadline,
                         const std::vector<oauth::HostClass>* reach) const {
  namespace http1 = detail::http1;
  if (timeout_ > std::chrono::milliseconds(0) && deadline - Clock::now() > timeout_) deadline = Clock::now() + timeout_;
  auto u = oauth::split_url(url);  // no whitespace or control characters: nothing splits the request
  if (!u) return fail(Errc::unauthorized, "invalid authorization endpoint URL");
  if (!u->userinfo.empty()) return fail(Errc::unauthorized, "authorization endpoint URL with userinfo refused");
  const auto left = std::chrono::duration_cast<std::chrono::microseconds>(deadline - Clock::now());
  if (left.count() <= 0) return fail(Errc::timeout, "timed out before contacting " + safe_url(url));
  std::string host = u->host;
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']') host = host.substr(1, host.size() - 2);
  const bool tls = u->scheme == "https";
  const int port = u->port.empty() ? (tls ? 443 : 80) : std::stoi(u->port);  // at most 5 digits
  if (port <= 0 || port > 65535) return fail(Errc::unauthorized, "authorization endpoint URL with a bad port");
  for (const auto& [k, v] : headers)
    for (char c : k + v)
      if (c == '\r' || c == '\n' || c == '\0')
        return fail(Errc::unauthorized, "a request header for " + safe_url(url) + " contains CR, LF or NUL");
  http1::Connection conn(host, port, left, tls ? tls_context() : nullptr);
  if (reach) conn.set_address_check([reach](const sockaddr& a) { return oauth::refuse_address(a, *reach); });
  std::string head = method + " " + (u->path.empty() ? "/" : u->path) + (u->has_query ? "?" + u->query : "") +
                     " HTTP/1.1\r\nHost: " + conn.host_header() +
                     "\r\nUser-Agent: mcp-cpp\r\nAccept: application/json\r\nAccept-Encoding: identity\r\n"
                     "Connection: close\r\n";
  for (const auto& [k, v] : headers) head += k + ": " + v + "\r\n";
  if (!content_type.empty())
    head += "Content-Type: " + content_type + "\r\nContent-Length: " + std::to_string(body.size()) + "\r\n";
  head += "\r\n";
  Reply reply;
  bool too_large = false;
  const auto out = conn.exchange(
      head, content_type.empty() ? std::string_view() : std::string_view(body), method == "HEAD", left,
      [&](const http1::Head& h) {
        reply.status = h.status;
        reply.dpop_nonce = h.get("DPoP-Nonce");
        return true;
      },
      [&](const char* data, std::size_t n) {
        if (reply.body.size() + n > kMaxBody) {
          too_large = true;
          return false;
        }
        reply.body.append(data, n);
        return true;
      });
  if (too_large)  // a cut body would read as a reply without what we asked for
    return fail(Errc::message_too_large, "the reply from " + safe_url(url) + " exceeded " +
                                             std::to_string(kMaxBody >> 20) + " MiB; refused");
  if (out.ok()) return reply;
  if (out.failure == http1::Failure::refused)
    return fail(Errc::unauthorized, "not contacting " + safe_url(url) + ": " + out.detail);
  if (out.failure == http1::Failure::timeout || Clock::now() >= deadline)
    return fail(Errc::timeout, "timed out waiting for " + safe_url(url));
  if (reply.status == 0 || out.failure == http1::Failure::protocol)
    return fail(Errc::connection_failed, "could not reach " + safe_url(url) + " (" + http1::describe(out) + ")");
  return reply;  // the connection broke in the body: what came is judged as it is
}

std::shared_ptr<const detail::http1::TlsContext> Http::tls_context() const {
  std::lock_guard lk(tls_mutex_);
  if (!tls_) tls_ = std::make_shared<detail::http1::TlsContext>(verify_tls_, ca_file_, std::string());
  return tls_;
}

json parse_object(const std::string& body) {
  json j = detail::parse_json(body);  // limits on depth and size: the body is a peer's
  return j.is_object() ? j : json();
}

// "invalid_grant (The code has expired)" from an OAuth error response, sanitized.
std::string oauth_error_text(const Reply& r) {
  json j = parse_object(r.body);
  std::string e = oauth::sanitize(str_or(j, "error"), 64);
  std::string d = oauth::sanitize(str_or(j, "error_description"), 200);
  std::string out = "HTTP " + std::to_string(r.status);
  if (!e.empty()) out += ", " + e;
  if (!d.empty()) out += " (" + d + ")";
  return out;
}

}  // namespace mcp::detail::oauth_client
