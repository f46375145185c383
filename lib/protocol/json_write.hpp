// SPDX-License-Identifier: MIT
#pragma once
// Compact JSON text for outgoing messages, several times faster than nlohmann's dump (whose
// per-byte UTF-8 state machine dominated the cost of serialising a request). The output is
// byte for byte what `dump(-1, ' ', false, error_handler_t::replace)` gives: keys in the
// object's order, non-ASCII left as UTF-8, control characters escaped (\u00xx lower-case),
// and each invalid UTF-8 sequence replaced by U+FFFD exactly where nlohmann puts one.
#include <nlohmann/json_fwd.hpp>

#include <string>
#include <string_view>

namespace mcp::detail {

/// Values nested deeper than this are not written: the writer recurses once per level. Twice
/// what is read (kMaxJsonDepth), so what a server sent can always be sent back inside a request.
inline constexpr int kMaxJsonWriteDepth = 256;

/// Appends `j` as compact JSON text to `out`; false (with `out` partly written) if `j` nests
/// deeper than kMaxJsonWriteDepth.
[[nodiscard]] bool append_json(std::string& out, const nlohmann::json& j);

/// A value that append_json writes as the JSON text it holds, byte for byte: text serialised
/// once and spliced into many messages (a modern request's `_meta`). It is a binary value of a
/// subtype of ours; `text` must be one JSON value as append_json writes it (the caller's
/// promise: it is not checked). Only append_json knows it: nlohmann's dump() writes it as the
/// binary value it is, and a reader sees no object. Keep it to messages that only go through
/// append_json, and out of anything that looks into the value.
nlohmann::json raw_json(std::string_view text);
/// True for a raw_json value.
bool is_raw_json(const nlohmann::json& j);
/// The text of a raw_json value (empty for any other value).
std::string_view raw_json_text(const nlohmann::json& j);

/// What a transport says when append_json refused a message it was asked to send.
std::string too_deep_to_send_text();

}  // namespace mcp::detail
