// SPDX-License-Identifier: MIT
#pragma once
/// @file oauth_loopback.hpp
/// The user-agent step of the OAuth authorization code grant for command-line and desktop
/// applications (RFC 8252 "loopback interface redirection"): a one-shot HTTP listener on
/// 127.0.0.1 that receives the authorization server's redirect. Plug its `redirect_uri` and
/// `authorize` into `OAuthClientOptions` (<mcp/oauth.hpp>).
///
/// Thread-safety: `authorize` may be called from any thread; calls are serialised (one
/// authorization at a time per listener).

#include <mcp/error.hpp>

#include <chrono>
#include <functional>
#include <memory>
#include <stop_token>
#include <string>

namespace mcp {

/// Options of `loopback_redirect`.
struct LoopbackOptions {
  int port = 0;                       ///< 0: an ephemeral port, chosen now
  std::string path = "/callback";     ///< the redirect path
  /// Shows the authorization URL to the user (e.g. runs a browser). Default: prints it on
  /// stderr with a line of instructions. An error aborts the authorization.
  std::function<Result<void>(const std::string& authorization_url)> open_url;
  /// How long to wait for the browser to come back.
  std::chrono::milliseconds timeout{std::chrono::minutes(5)};
};

/// A bound loopback listener.
struct LoopbackRedirect {
  std::string redirect_uri;  ///< "http://127.0.0.1:<port><path>": register and send this
  /// Shows the URL, waits for one request to `path` on the listener, answers it with a short
  /// page, and returns the full redirect URL (with `code`, `state`, ...). Fails with
  /// Errc::timeout after `timeout`, and with Errc::cancelled as soon as `stop` is requested.
  std::function<Result<std::string>(const std::string& authorization_url, std::stop_token stop)> authorize;
};

/// Binds the listener (fails with Errc::connection_failed when the port is taken). The
/// listener lives as long as any copy of `authorize`.
[[nodiscard]] Result<LoopbackRedirect> loopback_redirect(LoopbackOptions options = {});

}  // namespace mcp
