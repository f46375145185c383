// SPDX-License-Identifier: MIT
#pragma once
// The era of a server, decided from what the probe returned: pure functions, no I/O (2026-07-28,
// "Backward compatibility" of the stdio and Streamable HTTP transports).
#include <mcp/error.hpp>
#include <mcp/types.hpp>

#include <nlohmann/json.hpp>

#include <optional>
#include <string>
#include <vector>

namespace mcp::detail {

enum class TransportKind { stdio, http };

/// The connection is gone (the child exited, the stream closed, an I/O error).
bool is_transport_failure(const Error& e);
/// An HTTP status that says "legacy server": a 4xx without a recognised modern error body;
/// 401/403 and 5xx are never verdicts.
bool http_status_means_legacy(const Error& e);
/// The `supported` list of an UnsupportedProtocolVersionError, if `e` is one.
std::optional<std::vector<std::string>> unsupported_version_list(const Error& e);
/// An error whose code and data have the shape the modern revision defines.
bool is_recognised_modern_error(const Error& e);
/// The first of `ours` that `theirs` lists.
std::optional<std::string> pick(const std::vector<std::string>& ours, const std::vector<std::string>& theirs);
/// A DiscoverResult: a result with a non-empty `supportedVersions` array.
bool is_discover_result(const nlohmann::json& r);
/// What a DiscoverResult says of its server, speaking `version`. Errors name no server.
Result<ServerInfo> parse_discover(const nlohmann::json& r, const std::string& version);

/// One probe (`server/discover`) of a server whose era is unknown, and what came of it.
struct Probe {
  TransportKind transport = TransportKind::stdio;
  std::string offered;    ///< the modern version the probe offered
  bool may_retry = true;  ///< another modern version may still be offered (once)
  bool sent = true;       ///< false: `reply` is the failure to send the probe
  Result<nlohmann::json> reply;
};

/// What to do next.
struct EraVerdict {
  enum class Next {
    modern,                ///< a modern server speaking `version`; `info` describes it
    retry,                 ///< modern, another revision: probe again offering `version`
    legacy,                ///< initialize on the same connection
    legacy_restart,        ///< the server died on the probe: initialize on a fresh process
    legacy_after_silence,  ///< no answer in time: initialize, still listening for the probe's reply
    fail,                  ///< `error` (naming no server yet)
  };
  Next next = Next::fail;
  std::string version;
  ServerInfo info;
  Error error;
};

/// The era from a probe's outcome.
EraVerdict judge_probe(const Probe& p);
/// A server known to be modern (pinned or detected before) answered `server/discover`,
/// offered `version`, with `discover`: `modern` or `fail`.
EraVerdict judge_known_modern(const Result<nlohmann::json>& discover, const std::string& version);
/// Another modern version to retry a request with, when `e` rejects `current`.
std::optional<std::string> other_modern_version(const Error& e, const std::string& current);

}  // namespace mcp::detail
