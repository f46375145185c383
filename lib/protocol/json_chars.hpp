// SPDX-License-Identifier: MIT
#pragma once
// Character classes shared by the JSON reader and writer (json_read.cpp, json_write.cpp), and
// the UTF-8 encoding the JSON and YAML readers use for escapes.
#include <bit>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string>

namespace mcp::detail {

/// Bytes a JSON string holds as they are: printable ASCII and DEL, but not '"' or '\\'.
inline constexpr struct JsonPlainBytes {
  bool v[256]{};
  constexpr JsonPlainBytes() {
    for (int c = 0x20; c < 0x80; ++c) v[c] = c != '"' && c != '\\';
  }
} kJsonPlain;

/// The end of the run of plain bytes (kJsonPlain) that starts at `p`, at most `end`: the first
/// byte that needs a look (a control byte, '"', '\\' or a byte of a UTF-8 sequence), found eight
/// bytes at a time.
inline const unsigned char* plain_run(const unsigned char* p, const unsigned char* end) {
  if constexpr (std::endian::native == std::endian::little) {
    constexpr std::uint64_t ones = 0x0101010101010101ULL;
    constexpr std::uint64_t highs = 0x8080808080808080ULL;
    // The top bit of each byte that needs a look. Each test is exact for the lowest such byte
    // of the word (a borrow only marks bytes above it): a byte below 0x20 or with its top bit
    // set ((x - 0x20..) | x), a '"' or a '\\' (the "has a zero byte" test on x ^ that byte).
    const auto look = [](std::uint64_t x) {
      const std::uint64_t quote = x ^ (ones * '"');
      const std::uint64_t backslash = x ^ (ones * '\\');
      return ((x - ones * 0x20) | x | ((quote - ones) & ~quote) | ((backslash - ones) & ~backslash)) & highs;
    };
    for (; end - p >= 8; p += 8) {
      std::uint64_t x;
      std::memcpy(&x, p, 8);
      if (const std::uint64_t m = look(x)) return p + (std::countr_zero(m) >> 3);
    }
    while (p < end && kJsonPlain.v[*p]) ++p;  // the last bytes (a variable-length copy costs more)
    return p;
  } else {
    while (p < end && kJsonPlain.v[*p]) ++p;
    return p;
  }
}

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

/// Appends code point `cp` (at most U+10FFFF, not a surrogate: the caller checks) as UTF-8.
inline void append_utf8(std::string& out, std::uint32_t cp) {
  if (cp < 0x80) {
    out += static_cast<char>(cp);
  } else if (cp < 0x800) {
    out += static_cast<char>(0xC0 | (cp >> 6));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  } else if (cp < 0x10000) {
    out += static_cast<char>(0xE0 | (cp >> 12));
    out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  } else {
    out += static_cast<char>(0xF0 | (cp >> 18));
    out += static_cast<char>(0x80 | ((cp >> 12) & 0x3F));
    out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  }
}

}  // namespace mcp::detail
