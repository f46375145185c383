// SPDX-License-Identifier: MIT
#pragma once
/// @file types.hpp
/// MCP protocol types shared by both eras, with nlohmann_json (de)serialisers.
/// Unknown fields are kept in `raw` members so nothing the server sent is lost.
///
/// Results are held once. A tool result, a resource read or a prompt can carry megabytes of
/// text or base64; those payloads live only in their typed members (`ContentBlock::text` and
/// `data`, `ResourceContents::text` and `blob`, `CallToolResult::content`, `structured_content`
/// and `meta`, `ReadResourceResult::contents`), not again in `raw`: a payload string's member
/// stays in `raw` as an empty string (so `raw` keeps the shape of what was sent), and a member
/// held whole elsewhere (a result's `content`, `structuredContent`, `_meta`, `contents`) is not
/// in the result's `raw` at all. `nlohmann::json(x)` (to_json) gives back what was sent, the
/// typed members winning where they were changed.
///
/// Thread-safety: plain value types.

#include <nlohmann/json.hpp>

#include <cstdint>
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

/// An icon of a server, tool, resource, resource template or prompt (2025-11-25 on).
struct Icon {
  std::string src;                       ///< an http(s) URL or a data: URI
  std::optional<std::string> mime_type;  ///< mimeType ("image/png", ...), when the URI does not tell
  std::vector<std::string> sizes;        ///< "48x48", "any", ...
  std::optional<std::string> theme;      ///< "light" or "dark": the background it is drawn for
};
void to_json(nlohmann::json& j, const Icon& v);
/// Tolerant: members of the wrong type are left out (a peer's malformed icon loses nothing else).
void from_json(const nlohmann::json& j, Icon& v);

/// Name and version of a client or server implementation.
struct Implementation {
  std::string name;                  ///< programmatic name
  std::string version;               ///< version string
  std::optional<std::string> title;  ///< display name
  nlohmann::json raw;                ///< everything the peer sent
  std::vector<Icon> icons;           ///< icons (items without a string `src` are skipped)
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
  /// What carries the messages: "stdio", "streamable-http" or "sse" (legacy HTTP+SSE).
  std::string transport;
  /// True when Streamable HTTP was tried first and the server answered as a legacy HTTP+SSE
  /// server (400, 404 or 405 to the opening request), so `transport` is "sse".
  bool transport_fallback = false;
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
  std::vector<Icon> icons;                   ///< icons
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
  nlohmann::json raw;        ///< the block as sent, text/data (and an embedded resource's text/blob) left empty
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
  nlohmann::json raw;  ///< the result as sent but `content`, `structuredContent`, `_meta` (json(*this): all of it)

  /// All text blocks joined by newlines (convenience for scripts).
  [[nodiscard]] std::string text() const;
};
void from_json(const nlohmann::json& j, CallToolResult& v);
void to_json(nlohmann::json& j, const CallToolResult& v);

/// A resource (`resources/list`).
struct Resource {
  std::string uri;                          ///< unique identifier
  std::string name;                         ///< programmatic name
  std::optional<std::string> title;         ///< display name
  std::optional<std::string> description;   ///< what it is
  std::optional<std::string> mime_type;     ///< mimeType, if known
  std::optional<std::int64_t> size;         ///< size in bytes, if known
  nlohmann::json raw;                       ///< the whole entry as sent
  std::vector<Icon> icons;                  ///< icons
};
void from_json(const nlohmann::json& j, Resource& v);
void to_json(nlohmann::json& j, const Resource& v);

/// A resource template (`resources/templates/list`), an RFC 6570 URI template.
struct ResourceTemplate {
  std::string uri_template;                 ///< uriTemplate
  std::string name;                         ///< programmatic name
  std::optional<std::string> title;         ///< display name
  std::optional<std::string> description;   ///< what it is
  std::optional<std::string> mime_type;     ///< mimeType of matching resources
  nlohmann::json raw;                       ///< the whole entry as sent
  std::vector<Icon> icons;                  ///< icons
};
void from_json(const nlohmann::json& j, ResourceTemplate& v);
void to_json(nlohmann::json& j, const ResourceTemplate& v);

/// One item of a `resources/read` result: text, or a base64 blob.
struct ResourceContents {
  std::string uri;                          ///< the item's URI
  std::optional<std::string> mime_type;     ///< mimeType
  std::optional<std::string> text;          ///< text contents
  std::optional<std::string> blob;          ///< base64 binary contents
  nlohmann::json raw;                       ///< as sent, text/blob left empty
  /// The bytes: the text, or the decoded blob (an invalid blob decodes to nullopt).
  [[nodiscard]] std::optional<std::string> bytes() const;
};
void from_json(const nlohmann::json& j, ResourceContents& v);
void to_json(nlohmann::json& j, const ResourceContents& v);

/// The result of `resources/read`.
struct ReadResourceResult {
  std::vector<ResourceContents> contents;   ///< one or more items
  nlohmann::json raw;                       ///< the result as sent but `contents` (json(*this): all of it)
};
void from_json(const nlohmann::json& j, ReadResourceResult& v);
void to_json(nlohmann::json& j, const ReadResourceResult& v);

/// A prompt argument.
struct PromptArgument {
  std::string name;                         ///< argument name
  std::optional<std::string> description;   ///< what it is
  bool required = false;                    ///< must be supplied
};

/// A prompt (`prompts/list`).
struct Prompt {
  std::string name;                         ///< programmatic name
  std::optional<std::string> title;         ///< display name
  std::optional<std::string> description;   ///< what it is
  std::vector<PromptArgument> arguments;    ///< its arguments
  nlohmann::json raw;                       ///< the whole entry as sent
  std::vector<Icon> icons;                  ///< icons
};
void from_json(const nlohmann::json& j, Prompt& v);
void to_json(nlohmann::json& j, const Prompt& v);

/// One message of a prompt.
struct PromptMessage {
  std::string role;                         ///< "user" or "assistant"
  ContentBlock content;                     ///< its content
};

/// The result of `prompts/get`.
struct GetPromptResult {
  std::optional<std::string> description;   ///< description of the rendered prompt
  std::vector<PromptMessage> messages;      ///< the messages
  nlohmann::json raw;  ///< as sent, each message's content an empty object (json(*this): all of it)
};
void from_json(const nlohmann::json& j, GetPromptResult& v);
void to_json(nlohmann::json& j, const GetPromptResult& v);

/// A root offered to servers (`roots/list`).
struct Root {
  std::string uri;                          ///< a file:// URI
  std::optional<std::string> name;          ///< display name
};

/// An elicitation request from a server (`elicitation/create`), in either era.
struct ElicitRequest {
  std::string mode = "form";                ///< "form" or "url"
  std::string message;                      ///< what to ask the user
  nlohmann::json requested_schema;          ///< form mode: flat JSON Schema of the answer
  std::string url;                          ///< url mode: where to send the user
  nlohmann::json raw;                       ///< the params as sent
};

/// The user's answer to an elicitation.
struct ElicitResult {
  std::string action = "accept";            ///< "accept", "decline" or "cancel"
  nlohmann::json content = nlohmann::json::object();  ///< form mode, on accept: the values
};

/// A log message from a server (`notifications/message`).
struct LogMessage {
  std::string level;                        ///< debug, info, notice, warning, error, critical, alert, emergency
  std::optional<std::string> logger;        ///< logger name
  nlohmann::json data;                      ///< the message (any JSON)
};

/// A progress notification for a request in flight.
struct Progress {
  double progress = 0;                      ///< increases with each notification
  std::optional<double> total;              ///< if known
  std::optional<std::string> message;       ///< human-readable
};

/// What changed on a server (list changes and resource updates).
struct ChangeEvent {
  /// What kind of change.
  enum class Kind { tools, prompts, resources, resource_updated };
  Kind kind = Kind::tools;                  ///< what changed
  std::string uri;                          ///< resource_updated: the resource
};

}  // namespace mcp
