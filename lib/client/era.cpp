// SPDX-License-Identifier: MIT
// Era detection as a pure function of what the probe returned (2026-07-28, "Backward
// compatibility" for stdio and Streamable HTTP); the session acts on the verdict.
#include "era.hpp"

#include "../protocol/jsonrpc.hpp"
#include "../util/json_get.hpp"

#include <algorithm>

namespace mcp::detail {

using nlohmann::json;

namespace {

constexpr const char* kMetaServerInfo = "io.modelcontextprotocol/serverInfo";

EraVerdict verdict(EraVerdict::Next next, std::string version = {}) {
  EraVerdict v;
  v.next = next;
  v.version = std::move(version);
  return v;
}

EraVerdict failure(Error e) {
  EraVerdict v;
  v.error = std::move(e);
  return v;
}

// What a DiscoverResult (or an UnsupportedProtocolVersionError's list) offers when `offered`
// is not in it: another modern version once, else legacy revisions in common, else nothing.
EraVerdict other_than_offered(const Probe& p, const std::vector<std::string>& supported) {
  if (auto v = pick(protocol::modern_versions(), supported); v && p.may_retry)
    return verdict(EraVerdict::Next::retry, *v);
  if (pick(protocol::legacy_versions(), supported)) return verdict(EraVerdict::Next::legacy);  // dual-era server
  return verdict(EraVerdict::Next::fail);
}

}  // namespace

bool is_transport_failure(const Error& e) {
  const auto c = e.errc();
  return c == Errc::process_exited || c == Errc::connection_closed || c == Errc::io_error;
}

bool http_status_means_legacy(const Error& e) {
  if (e.errc() != Errc::http_error || !e.http_status) return false;
  const int status = *e.http_status;
  return status >= 400 && status < 500 && status != 401 && status != 403;
}

std::optional<std::vector<std::string>> unsupported_version_list(const Error& e) {
  if (e.errc() != Errc::rpc_error || e.rpc_code != jsonrpc::unsupported_protocol_version) return std::nullopt;
  if (!e.data.is_object() || !e.data.contains("supported") || !e.data["supported"].is_array()) return std::nullopt;
  std::vector<std::string> out;
  for (const auto& v : e.data["supported"])
    if (v.is_string()) out.push_back(v.get<std::string>());
  return out;
}

bool is_recognised_modern_error(const Error& e) {
  if (unsupported_version_list(e)) return true;
  return e.errc() == Errc::rpc_error && e.rpc_code == jsonrpc::missing_required_client_capability &&
         e.data.is_object() && e.data.contains("requiredCapabilities");
}

std::optional<std::string> pick(const std::vector<std::string>& ours, const std::vector<std::string>& theirs) {
  for (const auto& v : ours)
    if (std::find(theirs.begin(), theirs.end(), v) != theirs.end()) return v;
  return std::nullopt;
}

bool is_discover_result(const json& r) {
  return r.is_object() && r.contains("supportedVersions") && r["supportedVersions"].is_array() &&
         !r["supportedVersions"].empty();
}

Result<ServerInfo> parse_discover(const json& r, const std::string& version) {
  if (!r.is_object()) return fail(Errc::invalid_result, "server/discover: result is not an object");
  ServerInfo si;
  si.era = Era::modern;
  si.protocol_version = version;
  if (r.contains("supportedVersions") && r["supportedVersions"].is_array())
    for (const auto& v : r["supportedVersions"])
      if (v.is_string()) si.supported_versions.push_back(v.get<std::string>());
  if (si.supported_versions.empty())
    return fail(Errc::invalid_result, "server/discover: result without supportedVersions");
  if (r.contains("capabilities") && r["capabilities"].is_object()) si.capabilities = r["capabilities"];
  if (auto v = detail::opt_str(r, "instructions")) si.instructions = std::move(*v);
  if (r.contains("_meta") && r["_meta"].is_object() && r["_meta"].contains(kMetaServerInfo))
    si.implementation = r["_meta"][kMetaServerInfo].get<Implementation>();
  else if (r.contains("serverInfo") && r["serverInfo"].is_object())  // earlier drafts put it in the body
    si.implementation = r["serverInfo"].get<Implementation>();
  return si;
}

// stdio: a DiscoverResult or a recognised modern error means modern; anything else, silence,
// or a server that exits on the probe means legacy. HTTP: a 4xx without a modern body means
// legacy; other HTTP failures are errors.
EraVerdict judge_probe(const Probe& p) {
  using Next = EraVerdict::Next;
  if (!p.sent) {
    if (is_transport_failure(p.reply.error())) return verdict(Next::legacy_restart);  // died on the probe
    return failure(p.reply.error());
  }
  if (p.reply) {
    // Not a DiscoverResult (some legacy servers answer unknown methods with `{}`): legacy.
    if (!is_discover_result(*p.reply)) return verdict(Next::legacy);
    auto si = parse_discover(*p.reply, p.offered);
    if (!si) return failure(si.error());
    const auto& supported = si->supported_versions;
    if (std::find(supported.begin(), supported.end(), p.offered) != supported.end()) {
      EraVerdict v = verdict(Next::modern, p.offered);
      v.info = std::move(*si);
      return v;
    }
    EraVerdict v = other_than_offered(p, supported);
    if (v.next == Next::fail)
      v.error = Error::make(Errc::unsupported_version, "server supports none of our protocol versions");
    return v;
  }
  const Error& e = p.reply.error();
  if (e.errc() == Errc::cancelled || e.errc() == Errc::disconnected) return failure(e);
  if (auto supported = unsupported_version_list(e)) {
    EraVerdict v = other_than_offered(p, *supported);  // modern, but another revision: retry once
    if (v.next == Next::fail) {
      v.error = e;
      v.error.code = make_error_code(Errc::unsupported_version);
      v.error.message =
          "server supports protocol versions " + e.data["supported"].dump() + ", none of which this client speaks";
    }
    return v;
  }
  if (is_recognised_modern_error(e)) return failure(e);
  // Silence: legacy. A slow modern server may still answer the probe before it answers
  // initialize (stdio is ordered), so the caller keeps listening for it.
  if (e.errc() == Errc::timeout) return verdict(Next::legacy_after_silence);
  if (p.transport == TransportKind::stdio && is_transport_failure(e)) return verdict(Next::legacy_restart);
  if (e.errc() != Errc::rpc_error && !http_status_means_legacy(e)) return failure(e);
  // Any other JSON-RPC error, or a 4xx without a modern body: legacy, same connection.
  return verdict(Next::legacy);
}

EraVerdict judge_known_modern(const Result<json>& discover, const std::string& version) {
  if (discover) {
    auto si = parse_discover(*discover, version);
    if (!si) return failure(si.error());
    EraVerdict v = verdict(EraVerdict::Next::modern, version);
    v.info = std::move(*si);
    return v;
  }
  auto supported = unsupported_version_list(discover.error());
  if (!supported) return failure(discover.error());
  auto v = pick(protocol::modern_versions(), *supported);
  if (!v)
    return failure(Error::make(Errc::unsupported_version, "server supports none of our modern protocol versions"));
  EraVerdict out = verdict(EraVerdict::Next::modern, *v);
  out.info.era = Era::modern;
  out.info.protocol_version = *v;
  out.info.supported_versions = std::move(*supported);
  return out;
}

std::optional<std::string> other_modern_version(const Error& e, const std::string& current) {
  auto supported = unsupported_version_list(e);
  if (!supported) return std::nullopt;
  auto v = pick(protocol::modern_versions(), *supported);
  if (!v || *v == current) return std::nullopt;
  return v;
}

}  // namespace mcp::detail
