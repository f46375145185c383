// SPDX-License-Identifier: MIT
#pragma once
/// @file types.hpp
/// MCP protocol types shared by both eras, with nlohmann_json (de)serialisers.
/// Unknown fields are kept in `raw` members so nothing the server sent is lost.
///
/// Thread-safety: plain value types.

#include <nlohmann/json.hpp>

#include <optional>
#include <string>
#include <vector>

namespace mcp {

/// Protocol revisions this SDK speaks.
namespace protocol {
inline constexpr const char* modern_version = "2026-07-28";      ///< the stateless revision
inline constexpr const char* latest_legacy_version = "2025-11-25";  ///< offered in `initialize`
/// Legacy (handshake) revisions we accept from a server, newest first.
const std::vector<std::string>& legacy_versions();
/// Modern (stateless) revisions we can speak, newest first.
const std::vector<std::string>& modern_versions();
/// True for a revision that uses the `initialize` handshake.
bool is_legacy_version(const std::string& v);
/// True for a revision that uses per-request `_meta`.
bool is_modern_version(const std::string& v);
}  // namespace protocol

/// The two protocol eras.
enum class Era {
  unknown,  ///< not yet detected
  modern,   ///< 2026-07-28 and later: stateless, per-request `_meta`
  legacy,   ///< 2025-11-25 and earlier: `initialize` handshake, session
};

/// "modern", "legacy" or "unknown".
const char* to_string(Era e) noexcept;

/// Name and version of a client or server implementation.
struct Implementation {
  std::string name;                  ///< programmatic name
  std::string version;               ///< version string
  std::optional<std::string> title;  ///< display name
  nlohmann::json raw;                ///< everything the peer sent
};
void to_json(nlohmann::json& j, const Implementation& v);
void from_json(const nlohmann::json& j, Implementation& v);

/// What we learnt about a server when connecting (from `server/discover` or `initialize`).
struct ServerInfo {
  Era era = Era::unknown;                 ///< the detected (or pinned) era
  std::string protocol_version;           ///< the revision in use
  std::vector<std::string> supported_versions;  ///< modern: what the server advertised
  Implementation implementation;          ///< serverInfo
  nlohmann::json capabilities = nlohmann::json::object();  ///< server capabilities
  std::optional<std::string> instructions;  ///< server instructions, if any
};

/// A tool as the server describes it (`tools/list`).
struct ToolDefinition {
  std::string name;                          ///< unique within its server
  std::optional<std::string> title;          ///< display name
  std::optional<std::string> description;    ///< for the model
  nlohmann::json input_schema = nlohmann::json::object();  ///< JSON Schema of the arguments
  std::optional<nlohmann::json> output_schema;  ///< JSON Schema of structuredContent
  nlohmann::json annotations;                ///< behaviour hints (or null)
  nlohmann::json raw;                        ///< the whole definition as sent
};
void from_json(const nlohmann::json& j, ToolDefinition& v);
void to_json(nlohmann::json& j, const ToolDefinition& v);

/// One content block of a tool result or prompt message.
struct ContentBlock {
  std::string type;          ///< "text", "image", "audio", "resource_link", "resource", ...
  std::string text;          ///< text blocks (and embedded text resources)
  std::string data;          ///< base64 data of image/audio blocks (and embedded blobs)
  std::string mime_type;     ///< mimeType where present
  std::string uri;           ///< resource_link / embedded resource URI
  nlohmann::json raw;        ///< the whole block as sent
};
void from_json(const nlohmann::json& j, ContentBlock& v);
void to_json(nlohmann::json& j, const ContentBlock& v);

/// The result of `tools/call`. A tool that fails reports `is_error`; that is a
/// result, not an `mcp::Error`.
struct CallToolResult {
  std::vector<ContentBlock> content;               ///< unstructured content
  std::optional<nlohmann::json> structured_content;  ///< structuredContent, if any
  bool is_error = false;                           ///< the tool reported failure
  nlohmann::json meta;                             ///< result `_meta` (or null)
  nlohmann::json raw;                              ///< the whole result as sent

  /// All text blocks joined by newlines (convenience for scripts).
  [[nodiscard]] std::string text() const;
};
void from_json(const nlohmann::json& j, CallToolResult& v);
void to_json(nlohmann::json& j, const CallToolResult& v);

}  // namespace mcp
