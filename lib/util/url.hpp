// SPDX-License-Identifier: MIT
#pragma once
// URLs, one grammar for the library (RFC 3986): generic URI references and their resolution
// (schema `$id`s and `$ref`s), absolute http(s) URLs split into their parts (the OAuth client),
// and the request URLs the HTTP transport sends to (origin plus an origin-form target).
//
// Errors never echo the URL: it may carry credentials in its userinfo or query.
#include <mcp/error.hpp>

#include <string>
#include <string_view>

namespace mcp::detail {

// ---------------------------------------------------------------------------------------------
// URI references (RFC 3986 3, 4.1, 5.2)

/// A URI reference, split as RFC 3986 appendix B does (no validation, no normalisation beyond
/// the scheme's case).
struct Uri {
  std::string scheme, authority, path, query, fragment;
  bool has_scheme = false, has_authority = false, has_query = false, has_fragment = false;
};
/// Splits any URI reference; never fails.
[[nodiscard]] Uri parse_uri(std::string_view s);
/// The reference text of `u` (RFC 3986 5.3).
[[nodiscard]] std::string to_string(const Uri& u);
/// RFC 3986 5.2.4: "." and ".." segments removed from a path.
[[nodiscard]] std::string remove_dot_segments(std::string_view path);
/// RFC 3986 5.2.2: `ref` resolved against `base`, dot segments removed.
[[nodiscard]] std::string resolve_uri(const std::string& base, const std::string& ref);

// ---------------------------------------------------------------------------------------------
// Absolute http(s) URLs

/// The parts of an absolute http(s) URL (no normalisation).
struct UrlParts {
  std::string scheme;    ///< lowercased ("http" or "https")
  std::string userinfo;  ///< without the '@'; empty when absent
  std::string host;      ///< as written (IPv6 literals keep their brackets)
  std::string port;      ///< digits only; empty when absent
  std::string path;      ///< begins with '/' or is empty
  std::string query;     ///< without the '?'; see `has_query`
  std::string fragment;  ///< without the '#'; see `has_fragment`
  bool has_query = false;     ///< a '?' was present (possibly with an empty query)
  bool has_fragment = false;  ///< a '#' was present
};

/// Splits an absolute `http://` or `https://` URL; fails (invalid_config, without echoing it)
/// otherwise, and for whitespace or control characters anywhere in it.
[[nodiscard]] Result<UrlParts> split_url(std::string_view url);

/// `scheme://host[:port]` of a split URL: lowercase scheme and host, default port elided.
[[nodiscard]] std::string origin_of(const UrlParts& u);

// ---------------------------------------------------------------------------------------------
// Request URLs

/// A parsed http(s) URL, as requests are sent to it.
struct Url {
  std::string scheme;  ///< "http" or "https"
  std::string host;    ///< lowercase, without brackets for IPv6
  int port = 0;
  std::string target;  ///< path (dot segments removed) and query, at least "/"
  [[nodiscard]] std::string origin() const;  ///< scheme://host:port
  [[nodiscard]] std::string str() const;     ///< origin + target
  /// origin + path, without the query (which may hold keys): for error text and diagnostics.
  [[nodiscard]] std::string shown() const;
};

/// Fails (invalid_config, saying what is wrong, not echoing the URL) unless `text` is an
/// absolute http(s) URL without userinfo whose path and query hold only what RFC 3986 allows
/// in a request target (no control characters, spaces or non-ASCII bytes). The fragment is
/// dropped and dot segments are removed from the path.
[[nodiscard]] Result<Url> parse_url(const std::string& text);

/// `ref` (absolute URL, network-path, absolute or relative path, or query) resolved against
/// `base` by RFC 3986 5.2, the fragment dropped; absolute references get parse_url's checks,
/// relative ones fail with invalid_message when the target is not one target_ok accepts.
[[nodiscard]] Result<Url> resolve_url(const Url& base, const std::string& ref);

/// A request target (origin-form) as RFC 3986 allows it: '/' then pchars, '/' and '?', and
/// %XX escapes; nothing that could end or split a request line.
[[nodiscard]] bool target_ok(std::string_view target);

}  // namespace mcp::detail
