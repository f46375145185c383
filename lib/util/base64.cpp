// SPDX-License-Identifier: MIT
#include "base64.hpp"

namespace mcp::detail {
namespace {

constexpr const char* kB64Url = kBase64UrlAlphabet;

// The 6-bit value of `c` in the URL-safe alphabet, or also in the standard one when `both`;
// -1 for anything else.
int value_of(char c, bool both) noexcept {
  if (c >= 'A' && c <= 'Z') return c - 'A';
  if (c >= 'a' && c <= 'z') return c - 'a' + 26;
  if (c >= '0' && c <= '9') return c - '0' + 52;
  if (c == '-' || (both && c == '+')) return 62;
  if (c == '_' || (both && c == '/')) return 63;
  return -1;
}

// Appends the bytes the 6-bit value `v` completes.
void push(unsigned v, unsigned& acc, int& bits, std::string& out) {
  acc = (acc << 6) | v;
  bits += 6;
  if (bits >= 8) {
    bits -= 8;
    out.push_back(static_cast<char>((acc >> bits) & 0xff));
  }
}

}  // namespace

std::string base64url_encode(std::string_view bytes) {
  std::string out;
  out.reserve((bytes.size() + 2) / 3 * 4);
  std::size_t i = 0;
  auto at = [&](std::size_t k) { return static_cast<unsigned>(static_cast<unsigned char>(bytes[k])); };
  for (; i + 3 <= bytes.size(); i += 3) {
    unsigned v = (at(i) << 16) | (at(i + 1) << 8) | at(i + 2);
    out.push_back(kB64Url[(v >> 18) & 63]);
    out.push_back(kB64Url[(v >> 12) & 63]);
    out.push_back(kB64Url[(v >> 6) & 63]);
    out.push_back(kB64Url[v & 63]);
  }
  std::size_t rem = bytes.size() - i;
  if (rem == 1) {
    unsigned v = at(i) << 16;
    out.push_back(kB64Url[(v >> 18) & 63]);
    out.push_back(kB64Url[(v >> 12) & 63]);
  } else if (rem == 2) {
    unsigned v = (at(i) << 16) | (at(i + 1) << 8);
    out.push_back(kB64Url[(v >> 18) & 63]);
    out.push_back(kB64Url[(v >> 12) & 63]);
    out.push_back(kB64Url[(v >> 6) & 63]);
  }
  return out;
}

std::string base64_encode(std::string_view bytes) {
  std::string out = base64url_encode(bytes);
  for (char& c : out) c = c == '-' ? '+' : c == '_' ? '/' : c;
  while (out.size() % 4 != 0) out.push_back('=');
  return out;
}

std::optional<std::string> base64url_decode(std::string_view text) {
  if (text.size() % 4 == 0) {
    // Padding is allowed only as a proper suffix.
    std::size_t pad = 0;
    while (pad < 2 && pad < text.size() && text[text.size() - 1 - pad] == '=') ++pad;
    text.remove_suffix(pad);
  }
  if (text.size() % 4 == 1) return std::nullopt;
  std::string out;
  out.reserve(text.size() * 3 / 4);
  unsigned acc = 0;
  int bits = 0;
  for (char c : text) {
    const int v = value_of(c, false);
    if (v < 0) return std::nullopt;
    push(static_cast<unsigned>(v), acc, bits, out);
  }
  // Non-canonical encodings (leftover non-zero bits) are rejected.
  if (bits > 0 && (acc & ((1u << bits) - 1)) != 0) return std::nullopt;
  return out;
}

std::optional<std::string> base64_decode_lenient(std::string_view text) {
  std::string out;
  out.reserve(text.size() / 4 * 3);
  unsigned acc = 0;
  int bits = 0, pad = 0;
  for (char c : text) {
    if (c == '=') {
      ++pad;
      continue;
    }
    if (c == '\n' || c == '\r' || c == ' ') continue;
    const int v = value_of(c, true);
    if (v < 0 || pad) return std::nullopt;  // not base64, or data after padding
    push(static_cast<unsigned>(v), acc, bits, out);
  }
  if (pad > 2) return std::nullopt;
  return out;
}

}  // namespace mcp::detail
