// SPDX-License-Identifier: MIT
#pragma once
// Character classes shared by the JSON reader and writer (json_read.cpp, json_write.cpp).
#include <cstddef>

namespace mcp::detail {

/// Bytes a JSON string holds as they are: printable ASCII and DEL, but not '"' or '\\'.
inline constexpr struct JsonPlainBytes {
  bool v[256]{};
  constexpr JsonPlainBytes() {
    for (int c = 0x20; c < 0x80; ++c) v[c] = c != '"' && c != '\\';
  }
} kJsonPlain;

/// UTF-8 sequences as RFC 3629 defines them (the ranges nlohmann's lexer checks too).
/// The length of the sequence that `lead` starts (2 to 4), with the range its second byte
/// must be in (`lo`..`hi`; later bytes are always 0x80..0xBF). 0 if `lead` starts none: ASCII,
/// a continuation byte, an overlong lead (C0, C1) or one above U+10FFFF (F5 to FF).
inline std::size_t utf8_sequence(unsigned char lead, unsigned char& lo, unsigned char& hi) {
  lo = 0x80;
  hi = 0xBF;
  if (lead >= 0xC2 && lead <= 0xDF) return 2;
  if (lead == 0xE0) return lo = 0xA0, 3;
  if ((lead >= 0xE1 && lead <= 0xEC) || lead == 0xEE || lead == 0xEF) return 3;
  if (lead == 0xED) return hi = 0x9F, 3;  // not the surrogates
  if (lead == 0xF0) return lo = 0x90, 4;
  if (lead >= 0xF1 && lead <= 0xF3) return 4;
  if (lead == 0xF4) return hi = 0x8F, 4;
  return 0;
}

}  // namespace mcp::detail
