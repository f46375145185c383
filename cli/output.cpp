// SPDX-License-Identifier: MIT
// Printing what servers say: their text made printable, errors on stderr, aligned columns.

#include "mcpc.hpp"

#include <algorithm>
#include <iostream>

namespace mcpc {

std::mutex g_stderr_mutex;

// Text a server chose (names, descriptions, error messages), made safe to print: control
// characters (C0, DEL, C1) and bytes that are not UTF-8 become visible escapes ("\x1b"), so a
// name can neither forge lines nor send escape sequences to the terminal. `keep_newlines`
// keeps line feeds (multi-line messages), still escaping a carriage return.
std::string printable(std::string_view s, bool keep_newlines) {
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out;
  out.reserve(s.size());
  auto escape = [&](unsigned char c) {
    out += "\\x";
    out += kHex[c >> 4];
    out += kHex[c & 15];
  };
  for (std::size_t i = 0; i < s.size();) {
    const auto c = static_cast<unsigned char>(s[i]);
    if (c < 0x80) {
      if ((c < 0x20 && !(keep_newlines && c == '\n')) || c == 0x7f) escape(c);
      else out += static_cast<char>(c);
      ++i;
      continue;
    }
    // The length of a well-formed UTF-8 sequence starting here (0: not one).
    std::size_t n = c >= 0xc2 && c <= 0xdf ? 2 : c >= 0xe0 && c <= 0xef ? 3 : c >= 0xf0 && c <= 0xf4 ? 4 : 0;
    if (n == 0 || i + n > s.size()) n = 0;
    for (std::size_t k = 1; k < n; ++k)
      if ((static_cast<unsigned char>(s[i + k]) & 0xc0) != 0x80) n = 0;
    if (n >= 3) {
      const auto c1 = static_cast<unsigned char>(s[i + 1]);
      if ((c == 0xe0 && c1 < 0xa0) || (c == 0xed && c1 >= 0xa0) || (c == 0xf0 && c1 < 0x90) || (c == 0xf4 && c1 >= 0x90))
        n = 0;  // overlong, a surrogate, or past U+10FFFF
    }
    if (n == 2 && c == 0xc2 && static_cast<unsigned char>(s[i + 1]) < 0xa0) {
      escape(static_cast<unsigned char>(s[i + 1]));  // a C1 control (U+0080..U+009F)
      i += 2;
    } else if (n == 0) {
      escape(c);
      ++i;
    } else {
      out.append(s.substr(i, n));
      i += n;
    }
  }
  return out;
}

void print_error(std::string_view message) {
  const std::string safe = printable(message, /*keep_newlines=*/true);
  std::lock_guard lk(g_stderr_mutex);
  std::cerr << "mcpc: " << safe << '\n';
}

// The first line of a server's text, printable.
std::string first_line(std::string_view s) {
  s = s.substr(0, s.find('\n'));
  while (!s.empty() && (s.back() == '\r' || s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return printable(s);
}

// Pads `s` with spaces to `width` (for columns).
std::string pad(std::string s, std::size_t width) {
  if (s.size() < width) s.resize(width, ' ');
  return s;
}

// Prints rows of columns aligned on the widest cell of each column (at most kMaxColumn),
// dropping empty trailing cells. Cells are made printable.
void print_table(std::vector<std::vector<std::string>> rows) {
  std::vector<std::size_t> width;
  for (auto& row : rows)
    for (std::size_t i = 0; i < row.size(); ++i) {
      row[i] = printable(row[i]);
      if (width.size() <= i) width.resize(i + 1, 0);
      width[i] = std::min(std::max(width[i], row[i].size()), kMaxColumn);
    }
  for (const auto& row : rows) {
    std::size_t last = row.size();
    while (last > 0 && row[last - 1].empty()) --last;
    std::string line;
    for (std::size_t i = 0; i < last; ++i) line += i + 1 < last ? pad(row[i], width[i]) + "  " : row[i];
    std::cout << line << '\n';
  }
}

}  // namespace mcpc
