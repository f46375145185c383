// SPDX-License-Identifier: MIT
#pragma once
// The OAuth client's exchanges with the authorization server's endpoints (metadata,
// registration, token), and the helpers for building requests and reading replies. Private to
// lib/auth; the provider (oauth_provider.hpp) uses it.
#include "oauth_util.hpp"

#include <mcp/auth.hpp>

#include <chrono>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace mcp::detail::http1 {
class TlsContext;
}  // namespace mcp::detail::http1

namespace mcp::detail::oauth_client {

namespace oauth = detail::oauth;
using nlohmann::json;
using Clock = AuthProvider::Clock;
using Params = std::vector<std::pair<std::string, std::string>>;
using Headers = std::vector<std::pair<std::string, std::string>>;  // of a request we send

// scheme://host[:port]/path of a URL, for messages (no userinfo, query or fragment).
std::string safe_url(std::string_view url);
// The string entries of the array `j[k]` (none when `j` is not an object or `k` not an array).
std::vector<std::string> strings(const json& j, const char* k);
bool contains(const std::vector<std::string>& v, std::string_view s);
// `a=1&b=2`; in a URL query (`query` = true) spaces become %20, which every server decodes
// (form encoding's '+' is not understood by all).
std::string form_encode(const Params& params, bool query = false);

struct Reply {
  int status = 0;
  std::string body;
  std::string dpop_nonce;  // the DPoP-Nonce response header (RFC 9449 8)
};

// Exchanges with the authorization server's endpoints, through the library's own HTTP/1.1
// client: a bounded response head (64 KiB, 100 fields), a body of at most kMaxBody, and the
// whole exchange (connect, TLS handshake, request, response) within one deadline.
class Http {
 public:
  Http(std::chrono::milliseconds timeout, bool verify_tls, std::string ca_file)
      : timeout_(timeout), verify_tls_(verify_tls), ca_file_(std::move(ca_file)) {}

  // One request, no redirects followed, all of it within the timeout and by `deadline`
  // (Errc::timeout after). Network failures are Errc::connection_failed.
  // `reach`: the address classes an endpoint a server named may resolve to besides public ones
  // (see oauth::refuse_address); null for endpoints the user configured.
  Result<Reply> send(const std::string& method, const std::string& url, const Headers& headers,
                     const std::string& body, const std::string& content_type, Clock::time_point deadline,
                     const std::vector<oauth::HostClass>* reach) const;

  Result<Reply> get(const std::string& url, Clock::time_point deadline, const std::vector<oauth::HostClass>* reach) const {
    return send("GET", url, {}, {}, {}, deadline, reach);
  }

 private:
  // What https endpoints are trusted with, made at the first https exchange.
  std::shared_ptr<const detail::http1::TlsContext> tls_context() const;

  std::chrono::milliseconds timeout_;
  bool verify_tls_;
  std::string ca_file_;
  mutable std::mutex tls_mutex_;
  mutable std::shared_ptr<const detail::http1::TlsContext> tls_;
};

// The body as a JSON object, or null (parsed with the library's limits: the body is a peer's).
json parse_object(const std::string& body);

// "invalid_grant (The code has expired)" from an OAuth error response, sanitized.
std::string oauth_error_text(const Reply& r);

}  // namespace mcp::detail::oauth_client
