// SPDX-License-Identifier: MIT
// lib/client/era: the era verdict as a pure function of what the probe returned, row by row of
// the 2026-07-28 backward-compatibility rules (stdio and Streamable HTTP), as the code applies them.
#include "../../lib/client/era.hpp"  // private header: lib/ is not on the public include path
#include "../../lib/protocol/jsonrpc.hpp"

#include <doctest/doctest.h>

#include <string>
#include <vector>

using namespace mcp;
using namespace mcp::detail;
using nlohmann::json;
using Next = EraVerdict::Next;

namespace {

constexpr const char* kModern = "2026-07-28";
constexpr const char* kFuture = "2099-01-01";  // a modern revision this client does not speak

json discover(std::vector<std::string> versions) {
  return json{{"supportedVersions", versions},
              {"capabilities", {{"tools", json::object()}}},
              {"_meta", {{"io.modelcontextprotocol/serverInfo", {{"name", "srv"}, {"version", "1"}}}}}};
}

Error rpc(int code, json data = nullptr) {
  Error e = jsonrpc::error(Errc::rpc_error, code, "rpc");
  e.data = std::move(data);
  return e;
}

Error unsupported(std::vector<std::string> supported) {
  return rpc(jsonrpc::unsupported_protocol_version, json{{"supported", supported}, {"requested", kModern}});
}

Error http(int status) {
  Error e = Error::make(status == 401 || status == 403 ? Errc::unauthorized : Errc::http_error,
                        "HTTP " + std::to_string(status));
  e.data = json{{"status", status}, {"body", ""}};
  e.http_status = status;
  return e;
}

Error plain(Errc c) { return Error::make(c, "x"); }

struct Row {
  const char* what;
  TransportKind transport;
  Result<json> reply;
  Next next;
  std::string version = {};  // modern / retry
  Errc error = Errc{};       // fail
  std::string offered = kModern;
  bool may_retry = true;
  bool sent = true;
};

}  // namespace

TEST_CASE("era: judge_probe, every backward-compatibility row") {
  const auto stdio = TransportKind::stdio, web = TransportKind::http;
  const Row rows[] = {
      // A DiscoverResult: modern; select a mutually supported version.
      {"stdio: DiscoverResult listing ours", stdio, discover({kModern}), Next::modern, kModern},
      {"http: DiscoverResult listing ours", web, discover({"2025-11-25", kModern}), Next::modern, kModern},
      {"DiscoverResult without the offered version, another modern one: retry once", stdio, discover({kModern}),
       Next::retry, kModern, Errc{}, kFuture},
      {"DiscoverResult, second offer still not listed, legacy in common: dual-era, initialize", stdio,
       discover({kModern, "2025-06-18"}), Next::legacy, "", Errc{}, kFuture, false},
      {"DiscoverResult, second offer still not listed, nothing in common", stdio, discover({kModern}), Next::fail, "",
       Errc::unsupported_version, kFuture, false},
      {"DiscoverResult with only legacy versions in common: initialize", stdio, discover({"2025-11-25"}), Next::legacy},
      {"DiscoverResult with no version in common", web, discover({"1999-01-01"}), Next::fail, "",
       Errc::unsupported_version},
      {"supportedVersions without one string: not usable", stdio, json{{"supportedVersions", {1, 2}}}, Next::fail, "",
       Errc::invalid_result},
      // A result that is not a DiscoverResult: legacy.
      {"stdio: `{}` (a legacy server answering unknown methods)", stdio, json::object(), Next::legacy},
      {"stdio: empty supportedVersions", stdio, json{{"supportedVersions", json::array()}}, Next::legacy},
      {"stdio: a non-object result", stdio, json(42), Next::legacy},
      // A recognised modern error: modern, never initialize.
      {"UnsupportedProtocolVersionError listing a modern version: retry with it", stdio,
       tl::unexpected(unsupported({kModern})), Next::retry, kModern},
      {"http: UnsupportedProtocolVersionError (400 body) listing a modern version", web,
       tl::unexpected(unsupported({kModern})), Next::retry, kModern},
      {"UnsupportedProtocolVersionError after the retry, legacy listed: initialize", stdio,
       tl::unexpected(unsupported({kModern, "2025-11-25"})), Next::legacy, "", Errc{}, kModern, false},
      {"UnsupportedProtocolVersionError, legacy versions only: initialize", stdio,
       tl::unexpected(unsupported({"2025-03-26"})), Next::legacy},
      {"UnsupportedProtocolVersionError, nothing in common", web, tl::unexpected(unsupported({"1999-01-01"})),
       Next::fail, "", Errc::unsupported_version},
      {"MissingRequiredClientCapabilityError: surfaced", stdio,
       tl::unexpected(rpc(jsonrpc::missing_required_client_capability,
                          json{{"requiredCapabilities", {{"sampling", json::object()}}}})),
       Next::fail, "", Errc::rpc_error},
      {"-32022 without a supported list is not recognised: legacy", stdio,
       tl::unexpected(rpc(jsonrpc::unsupported_protocol_version)), Next::legacy},
      {"-32021 without requiredCapabilities is not recognised: legacy", stdio,
       tl::unexpected(rpc(jsonrpc::missing_required_client_capability)), Next::legacy},
      // Any other JSON-RPC error: legacy (not keyed to one code).
      {"stdio: -32601 method not found", stdio, tl::unexpected(rpc(jsonrpc::method_not_found)), Next::legacy},
      {"stdio: -32602 invalid params", stdio, tl::unexpected(rpc(jsonrpc::invalid_params)), Next::legacy},
      {"stdio: -32600 invalid request", stdio, tl::unexpected(rpc(jsonrpc::invalid_request)), Next::legacy},
      {"http: a JSON-RPC error in the body", web, tl::unexpected(rpc(jsonrpc::method_not_found)), Next::legacy},
      // Silence: legacy, still listening for a late DiscoverResult.
      {"stdio: no answer within the probe timeout", stdio, tl::unexpected(plain(Errc::timeout)),
       Next::legacy_after_silence},
      {"http: no answer within the probe timeout", web, tl::unexpected(plain(Errc::timeout)),
       Next::legacy_after_silence},
      // stdio: a server that dies on the probe is legacy, restarted.
      {"stdio: exits on the probe", stdio, tl::unexpected(plain(Errc::process_exited)), Next::legacy_restart},
      {"stdio: closes its output on the probe", stdio, tl::unexpected(plain(Errc::connection_closed)),
       Next::legacy_restart},
      {"stdio: I/O error on the probe", stdio, tl::unexpected(plain(Errc::io_error)), Next::legacy_restart},
      {"stdio: the probe could not be sent (the child is gone)", stdio, tl::unexpected(plain(Errc::process_exited)),
       Next::legacy_restart, "", Errc{}, kModern, true, false},
      {"stdio: the probe could not be sent, another failure", stdio, tl::unexpected(plain(Errc::invalid_argument)),
       Next::fail, "", Errc::invalid_argument, kModern, true, false},
      // HTTP: a 4xx without a recognised modern body means legacy; 401/403 and 5xx are not verdicts.
      {"http: 400 without a modern body", web, tl::unexpected(http(400)), Next::legacy},
      {"http: 404", web, tl::unexpected(http(404)), Next::legacy},
      {"http: 405", web, tl::unexpected(http(405)), Next::legacy},
      {"http: 415 (any other 4xx)", web, tl::unexpected(http(415)), Next::legacy},
      {"http: 401", web, tl::unexpected(http(401)), Next::fail, "", Errc::unauthorized},
      {"http: 403", web, tl::unexpected(http(403)), Next::fail, "", Errc::unauthorized},
      {"http: 500", web, tl::unexpected(http(500)), Next::fail, "", Errc::http_error},
      {"http: 503", web, tl::unexpected(http(503)), Next::fail, "", Errc::http_error},
      {"http: connection closed is an error, not a verdict", web, tl::unexpected(plain(Errc::connection_closed)),
       Next::fail, "", Errc::connection_closed},
      {"http: I/O error", web, tl::unexpected(plain(Errc::io_error)), Next::fail, "", Errc::io_error},
      // The caller's own ends are never verdicts.
      {"cancelled", stdio, tl::unexpected(plain(Errc::cancelled)), Next::fail, "", Errc::cancelled},
      {"disconnected", web, tl::unexpected(plain(Errc::disconnected)), Next::fail, "", Errc::disconnected},
      {"stdio: another failure (not JSON-RPC, not the transport)", stdio, tl::unexpected(plain(Errc::invalid_result)),
       Next::fail, "", Errc::invalid_result},
  };
  for (const Row& row : rows) {
    CAPTURE(row.what);
    Probe p;
    p.transport = row.transport;
    p.offered = row.offered;
    p.may_retry = row.may_retry;
    p.sent = row.sent;
    p.reply = row.reply;
    const EraVerdict v = judge_probe(p);
    CHECK(v.next == row.next);
    if (row.next == Next::modern || row.next == Next::retry) CHECK(v.version == row.version);
    if (row.next == Next::fail) {
      CHECK(v.error.errc() == row.error);
      CHECK(v.error.server.empty());  // the session names it
    }
  }
}

TEST_CASE("era: a modern verdict carries what the DiscoverResult says") {
  Probe p;
  p.offered = kModern;
  p.reply = discover({"2025-11-25", kModern});
  p.reply->operator[]("instructions") = "be nice";
  const auto v = judge_probe(p);
  REQUIRE(v.next == Next::modern);
  CHECK(v.info.era == Era::modern);
  CHECK(v.info.protocol_version == kModern);
  CHECK(v.info.supported_versions == std::vector<std::string>{"2025-11-25", kModern});
  CHECK(v.info.implementation.name == "srv");
  CHECK(v.info.capabilities.contains("tools"));
  CHECK(v.info.instructions == "be nice");
  // Earlier drafts put serverInfo in the body.
  json body{{"supportedVersions", {kModern}}, {"serverInfo", {{"name", "old"}, {"version", "0"}}}};
  auto si = parse_discover(body, kModern);
  REQUIRE(si);
  CHECK(si->implementation.name == "old");
  CHECK_FALSE(parse_discover(json::array(), kModern));
}

TEST_CASE("era: the unsupported-version failure names what the server supports") {
  Probe p;
  p.offered = kModern;
  p.reply = tl::unexpected(unsupported({"1999-01-01"}));
  const auto v = judge_probe(p);
  REQUIRE(v.next == Next::fail);
  CHECK(v.error.message == "server supports protocol versions [\"1999-01-01\"], none of which this client speaks");
  CHECK(v.error.rpc_code == jsonrpc::unsupported_protocol_version);
}

TEST_CASE("era: judge_known_modern, a server known to be modern") {
  struct KnownRow {
    const char* what;
    Result<json> reply;
    Next next;
    std::string version = {};
    Errc error = Errc{};
  };
  const KnownRow rows[] = {
      {"DiscoverResult", discover({kModern}), Next::modern, kModern},
      {"not an object", json(1), Next::fail, "", Errc::invalid_result},
      {"UnsupportedProtocolVersionError listing a modern version", tl::unexpected(unsupported({kModern})), Next::modern,
       kModern},
      {"UnsupportedProtocolVersionError, no modern version", tl::unexpected(unsupported({"2025-11-25"})), Next::fail,
       "", Errc::unsupported_version},
      {"another error is passed up", tl::unexpected(http(500)), Next::fail, "", Errc::http_error},
      {"timeout is passed up", tl::unexpected(plain(Errc::timeout)), Next::fail, "", Errc::timeout},
  };
  for (const auto& row : rows) {
    CAPTURE(row.what);
    const auto v = judge_known_modern(row.reply, kModern);
    CHECK(v.next == row.next);
    if (row.next == Next::modern) {
      CHECK(v.version == row.version);
      CHECK(v.info.era == Era::modern);
      CHECK(v.info.protocol_version == row.version);
    } else {
      CHECK(v.error.errc() == row.error);
    }
  }
  const auto v = judge_known_modern(tl::unexpected(unsupported({kModern, "2025-11-25"})), kFuture);
  CHECK(v.info.supported_versions == std::vector<std::string>{kModern, "2025-11-25"});
}

TEST_CASE("era: other_modern_version, a request's retry with another revision") {
  CHECK(other_modern_version(unsupported({kModern}), kFuture) == kModern);
  CHECK_FALSE(other_modern_version(unsupported({kModern}), kModern));  // the one rejected: no retry
  CHECK_FALSE(other_modern_version(unsupported({"2025-11-25"}), kModern));
  CHECK_FALSE(other_modern_version(rpc(jsonrpc::method_not_found), kModern));
}

TEST_CASE("era: the predicates the verdicts are made of") {
  CHECK(http_status_means_legacy(http(400)));
  CHECK(http_status_means_legacy(http(499)));
  CHECK_FALSE(http_status_means_legacy(http(401)));
  CHECK_FALSE(http_status_means_legacy(http(500)));
  CHECK_FALSE(http_status_means_legacy(plain(Errc::http_error)));  // no status
  CHECK(is_recognised_modern_error(unsupported({})));
  CHECK_FALSE(is_recognised_modern_error(rpc(jsonrpc::method_not_found)));
  CHECK(pick({"a", "b"}, {"c", "b"}) == "b");
  CHECK_FALSE(pick({"a"}, {"c"}));
  CHECK(is_discover_result(discover({kModern})));
  CHECK_FALSE(is_discover_result(json{{"supportedVersions", "2026-07-28"}}));
  CHECK(is_transport_failure(plain(Errc::process_exited)));
  CHECK_FALSE(is_transport_failure(plain(Errc::timeout)));
}
