// SPDX-License-Identifier: MIT
#pragma once
// Parsing incoming messages, several times faster than nlohmann's parser (whose lexer keeps a
// copy of every token byte and goes through an input adapter per byte: it was the largest
// single cost of receiving a reply).
//
// The result is exactly what `nlohmann::json::parse(text, nullptr, false)` gives: the same
// values with the same number types (unsigned for non-negative integers, signed for negative
// ones), the last of duplicate keys, the same strings, and `discarded` for the same inputs.
// That holds by construction: a fast path handles the common shapes (objects, arrays,
// strings with valid UTF-8 and escapes, integers of up to 18 digits, literals, nesting up to
// 256 levels) and hands anything else, including every malformed input, to nlohmann's parser
// whole. Checked by a differential test and fuzz target against nlohmann.
#include <nlohmann/json_fwd.hpp>

#include <string_view>

namespace mcp::detail {

/// Parses one JSON text (surrounding whitespace allowed); `discarded` if it is not one.
nlohmann::json parse_json(std::string_view text);

/// The fast path alone: true with `out` set if it took the whole text, false if the text is
/// for nlohmann's parser (then `out` holds a partial value). For tests.
bool parse_json_fast(std::string_view text, nlohmann::json& out);

}  // namespace mcp::detail
