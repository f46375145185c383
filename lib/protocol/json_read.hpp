// SPDX-License-Identifier: MIT
#pragma once
// Parsing incoming messages, several times faster than nlohmann's parser (whose lexer keeps a
// copy of every token byte and goes through an input adapter per byte: it was the largest
// single cost of receiving a reply).
//
// Within the limits below, the result is exactly what `nlohmann::json::parse(text, nullptr,
// false)` gives: the same values with the same number types (unsigned for non-negative
// integers, signed for negative ones), the last of duplicate keys, the same strings, and
// `discarded` for the same inputs. That holds by construction: a fast path handles the common
// shapes (objects, arrays, strings with valid UTF-8 and escapes, integers of up to 18 digits,
// literals) and hands anything else, including every malformed input, to nlohmann's parser
// whole. Checked by a differential test and fuzz target against nlohmann.
//
// Two differences, both for text a peer controls:
// - Limits. Text nested deeper than kMaxJsonDepth, or holding more values than `max_values`,
//   is refused (`discarded`) before any value is built for it (the fast path stops at the
//   depth limit as it goes). A peer's 60,000-deep `[[[...` would otherwise be parsed (nlohmann's
//   parser is iterative) and then crash the process in whatever recurses over it: copies,
//   dump(), our writer and validators. A million `[]` cost 60 MB or more as values, from 3 MB
//   of text.
// - Repair. Text that fails only for invalid UTF-8 (a Latin-1 `caf\xe9`) or an unpaired
//   surrogate escape (`"\ud800"`) is parsed again with each of those replaced by U+FFFD, as
//   Node-based peers read it. Only after a failed parse: valid text pays nothing for it.
#include <nlohmann/json_fwd.hpp>

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace mcp::detail {

/// The deepest nesting of arrays and objects accepted in a message (the top-level object is
/// level 1). Deeper text is refused. 128 is serde_json's default, so what the Rust SDK takes.
/// Chosen for stack: a copy of a json value recurses with about 85 bytes of stack per level
/// in an optimised build and 1.7 KB under ASan at -O0, dump() 50 B and 800 B, our writer 70 B
/// and 420 B; at 128 levels a value still copies within a 256 KiB thread stack with ASan.
inline constexpr int kMaxJsonDepth = 128;

/// The cap on JSON values in one message when none is given: one per 16 bytes of the default
/// message limit (32 MiB). A value costs 16 bytes as a json plus its allocation (48 to 100
/// bytes for an empty array, object or string), so this bounds one message's values to about
/// 200 MB whatever its text.
inline constexpr std::size_t kDefaultMaxJsonValues = std::size_t(2) << 20;

/// The cap on values for a transport whose messages may be `max_message_bytes` long: one per
/// 16 bytes of that, and never below 1 Mi (a small limit bounds the values by itself).
std::size_t max_json_values(std::size_t max_message_bytes);

/// Why parse_json gave `discarded`.
enum class JsonRefusal { none, malformed, too_deep, too_many_values };

/// "is not valid JSON", "nests deeper than 128 levels", "holds more than N JSON values".
std::string describe(JsonRefusal why, std::size_t max_values = kDefaultMaxJsonValues);

/// Parses one JSON text (surrounding whitespace allowed); `discarded` if it is not one, or if it
/// is over the limits (see above; `why` says which).
nlohmann::json parse_json(std::string_view text, JsonRefusal* why = nullptr,
                          std::size_t max_values = kDefaultMaxJsonValues);

/// The fast path alone: true with `out` set if it took the whole text, false if the text is
/// for nlohmann's parser (then `out` holds a partial value). Stops at kMaxJsonDepth. For tests.
bool parse_json_fast(std::string_view text, nlohmann::json& out);

/// `text` with U+FFFD for each invalid UTF-8 sequence and each escape of an unpaired surrogate
/// (`\ufffd`); nothing if it has neither. What parse_json parses after a failure. For tests.
std::optional<std::string> repaired_json_text(std::string_view text);

/// A JSON-RPC success response read without building its envelope: true, with `id` and
/// `result` set, when `text` is an object of exactly "id" (an integer), "result" and optionally
/// "jsonrpc" (a string), each once, and parse_json would take it; `result` is then exactly
/// parse_json(text)["result"]. False for anything else (an error, a request, a notification,
/// another member, a repeated one, text the fast path leaves to nlohmann, text over the
/// limits): then parse the whole text with parse_json, which decides as it always did.
bool parse_response(std::string_view text, std::int64_t& id, nlohmann::json& result,
                    std::size_t max_values = kDefaultMaxJsonValues);

/// For text that parse_json refused: the id of the JSON-RPC response it appears to be, read
/// without parsing, so the request it answers can fail at once rather than time out. Only when
/// that is certain: a top-level object with one integer "id", a "result" or "error" member and
/// no "method" (a server request with the same number is not a reply to ours).
std::optional<std::int64_t> response_id(std::string_view text);

}  // namespace mcp::detail
