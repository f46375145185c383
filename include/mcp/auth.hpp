// SPDX-License-Identifier: MIT
#pragma once
/// @file auth.hpp
/// Authorization for remote (HTTP) servers: the provider interface the HTTP transport calls,
/// and ready-made providers (a static bearer token, a per-request callback). The OAuth 2.1
/// client (MCP "Authorization", revisions 2025-11-25 and 2026-07-28) and token stores are
/// declared in <mcp/oauth.hpp>.
///
/// Secrets (tokens, client secrets, codes, verifiers, keys) never appear in `Error::message`,
/// `Error::data` or diagnostics produced by the SDK.
///
/// Thread-safety: a provider is shared by every request of a server, and by every server
/// configured with it; it is called from SDK threads, possibly concurrently.

#include <mcp/error.hpp>

#include <chrono>
#include <functional>
#include <memory>
#include <stop_token>
#include <string>
#include <utility>
#include <vector>

namespace mcp {

/// A 401 or 403 the server answered.
struct AuthChallengeInfo {
  int status = 401;              ///< 401 (no or bad token) or 403 (e.g. insufficient_scope)
  std::string www_authenticate;  ///< the raw `WWW-Authenticate` header(s), ", "-joined; may be empty
  std::string server_url;        ///< the MCP endpoint as configured (`HttpServerConfig::url`)
  /// The `Authorization` value that was refused (empty: none was sent). Lets a provider see
  /// that another request already replaced the token, and just answer "retry".
  std::string rejected_authorization;
  int attempt = 1;               ///< 1 for the first challenge of this request, then 2, ...
  std::string dpop_nonce;        ///< the `DPoP-Nonce` response header (RFC 9449 9), if any
  /// Requested when the request is cancelled or the connection closes: a long authorization
  /// (a person signing in) should then give up promptly, since closing waits for it.
  std::stop_token stop;
};

/// One HTTP request about to be sent to a server.
struct AuthRequestInfo {
  std::string server_url;  ///< the MCP endpoint as configured (`HttpServerConfig::url`)
  std::string method;      ///< "POST", "GET" or "DELETE"
  std::string url;         ///< the URL requested (the legacy SSE message endpoint may differ)
};

/// Header name/value pairs a provider adds to a request.
using AuthHeaders = std::vector<std::pair<std::string, std::string>>;

/// Supplies credentials for the HTTP requests of a server. Its methods are called from SDK
/// threads as well as the caller's; one that throws fails that request with
/// `Errc::unauthorized` (the message says what it threw).
class AuthProvider {
 public:
  using Clock = std::chrono::steady_clock;  ///< the clock of token expiries
  virtual ~AuthProvider() = default;

  /// The value of the `Authorization` header for the next request to `server_url`
  /// (e.g. "Bearer abc"), or an empty string to send none. Called before every HTTP request
  /// (POST, GET stream, DELETE). An error fails the request with that error.
  [[nodiscard]] virtual Result<std::string> authorization(const std::string& server_url, Clock::time_point deadline) = 0;

  /// The server refused a request. Return true when new credentials are ready and the
  /// request should be sent again; false to give up (the request then fails with
  /// `Errc::unauthorized`, its `data` holding `status` and `www_authenticate`). May block
  /// (an interactive authorization): the request's timeout is suspended meanwhile, and
  /// `deadline` leaves at least 10 minutes; give up when `challenge.stop` is requested.
  [[nodiscard]] virtual Result<bool> on_challenge(const AuthChallengeInfo& challenge, Clock::time_point deadline) = 0;

  /// The headers for one request. The transport calls this (not `authorization`) before
  /// every request; the default sends `Authorization: <authorization(server_url)>` when that
  /// is not empty. Providers that bind tokens to requests (DPoP, RFC 9449: an `Authorization:
  /// DPoP ...` plus a `DPoP` proof naming the method and URL) override it.
  [[nodiscard]] virtual Result<AuthHeaders> request_headers(const AuthRequestInfo& request, Clock::time_point deadline) {
    auto value = authorization(request.server_url, deadline);
    if (!value) return tl::unexpected(value.error());
    AuthHeaders out;
    if (!value->empty()) out.emplace_back("Authorization", std::move(*value));
    return out;
  }
};

/// A fixed token: sends `Authorization: Bearer <token>` and never retries.
[[nodiscard]] std::shared_ptr<AuthProvider> bearer_token_provider(std::string token);

/// A token computed per request (e.g. from a vault); an empty string sends no header.
/// On a challenge the callback is asked again (with `refresh = true`) once per request; a
/// different token is then retried, the same one is not. The resend asks with
/// `refresh = false` again, so the callback should hand out the refreshed token from then on.
[[nodiscard]] std::shared_ptr<AuthProvider> token_callback_provider(
    std::function<Result<std::string>(bool refresh)> callback);

}  // namespace mcp
