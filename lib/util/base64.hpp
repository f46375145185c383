// SPDX-License-Identifier: MIT
#pragma once
// Base64 (RFC 4648): the standard and the URL-safe alphabet, one encoder and one decoder with
// a strict mode (JWS parts, JWK coordinates) and a lenient one (resource blobs from servers).
#include <optional>
#include <string>
#include <string_view>

namespace mcp::detail {

/// The base64url alphabet (RFC 4648 5): 64 characters, all unreserved in URLs.
inline constexpr char kBase64UrlAlphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

/// Base64url without padding (RFC 4648 5, RFC 7515 2).
[[nodiscard]] std::string base64url_encode(std::string_view bytes);
/// Standard base64 with '=' padding (RFC 4648 4), e.g. for HTTP Basic credentials and the
/// `=?base64?...?=` header value encoding.
[[nodiscard]] std::string base64_encode(std::string_view bytes);

/// Decodes base64url strictly: with or without '=' padding (padding only as a proper suffix),
/// no other characters, no impossible lengths, no non-canonical trailing bits.
[[nodiscard]] std::optional<std::string> base64url_decode(std::string_view text);

/// Decodes what servers send as base64, leniently: either alphabet (even mixed), CR, LF and
/// spaces skipped, up to two '=' at the end, trailing bits ignored. nullopt for any other
/// character, data after padding or more than two '='.
[[nodiscard]] std::optional<std::string> base64_decode_lenient(std::string_view text);

}  // namespace mcp::detail
