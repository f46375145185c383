// SPDX-License-Identifier: MIT
// The YAML a SKILL.md frontmatter is written in, read as JSON: block mappings and sequences,
// plain, quoted and block (| >) scalars, flow collections ([a, b], {k: v}), comments, with the
// YAML 1.2 core schema's typing of plain scalars (null, booleans, integers, floats). Anything
// else (anchors, aliases, tags, complex keys, directives, a second document, tabs in
// indentation) is refused rather than guessed at: a frontmatter that cannot be read faithfully
// cannot be compared with the entry, and the host then declines the skill.
#include "yaml_subset.hpp"

#include "json_chars.hpp"

#include <cmath>
#include <cstdlib>
#include <limits>
#include <stdexcept>

namespace mcp::detail {

using nlohmann::json;

namespace {

constexpr int max_depth = 64;

struct Line {
  int indent;
  std::string text;  // without the indentation
  int number;        // 1-based, for messages
};

[[noreturn]] void refuse(int line, const std::string& why) {
  throw std::invalid_argument("line " + std::to_string(line) + ": " + why);
}

std::string rtrim(std::string s) {
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t' || s.back() == '\r')) s.pop_back();
  return s;
}
std::string trim(const std::string& s) {
  std::size_t b = 0;
  while (b < s.size() && (s[b] == ' ' || s[b] == '\t')) ++b;
  return rtrim(s.substr(b));
}

// Strips a comment (" #" outside quotes) from a plain or flow text.
std::string strip_comment(const std::string& s) {
  char quote = 0;
  for (std::size_t i = 0; i < s.size(); ++i) {
    char c = s[i];
    if (quote) {
      if (c == '\\' && quote == '"') ++i;
      else if (c == quote) quote = 0;
    } else if (c == '"' || c == '\'') {
      if (i == 0 || s[i - 1] == ' ' || s[i - 1] == '[' || s[i - 1] == '{' || s[i - 1] == ',' || s[i - 1] == ':')
        quote = c;
    } else if (c == '#' && (i == 0 || s[i - 1] == ' ' || s[i - 1] == '\t')) {
      return rtrim(s.substr(0, i));
    }
  }
  return rtrim(s);
}

void append_utf8(std::string& out, unsigned long cp, int line) {
  if (cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) refuse(line, "invalid escape code point");
  mcp::detail::append_utf8(out, static_cast<std::uint32_t>(cp));
}

// A quoted scalar starting at s[i] (the quote); i ends after the closing quote.
std::string quoted(const std::string& s, std::size_t& i, int line) {
  char q = s[i++];
  std::string out;
  while (true) {
    if (i >= s.size()) refuse(line, "unterminated quoted scalar (multi-line quoted scalars are not read)");
    char c = s[i++];
    if (c == q) {
      if (q == '\'' && i < s.size() && s[i] == '\'') {
        out += '\'';
        ++i;
        continue;
      }
      return out;
    }
    if (q == '"' && c == '\\') {
      if (i >= s.size()) refuse(line, "unterminated escape");
      char e = s[i++];
      switch (e) {
        case '0': out += '\0'; break;
        case 'a': out += '\a'; break;
        case 'b': out += '\b'; break;
        case 't': case '\t': out += '\t'; break;
        case 'n': out += '\n'; break;
        case 'v': out += '\v'; break;
        case 'f': out += '\f'; break;
        case 'r': out += '\r'; break;
        case 'e': out += '\x1b'; break;
        case ' ': out += ' '; break;
        case '"': out += '"'; break;
        case '/': out += '/'; break;
        case '\\': out += '\\'; break;
        case 'x': case 'u': case 'U': {
          std::size_t n = e == 'x' ? 2 : e == 'u' ? 4 : 8;
          if (i + n > s.size()) refuse(line, "short escape");
          std::string hex = s.substr(i, n);
          for (char h : hex)
            if (!std::isxdigit(static_cast<unsigned char>(h))) refuse(line, "bad escape");
          append_utf8(out, std::strtoul(hex.c_str(), nullptr, 16), line);
          i += n;
          break;
        }
        default: refuse(line, std::string("unknown escape \\") + e);
      }
      continue;
    }
    out += c;
  }
}

// The core schema's reading of a plain scalar.
json plain(const std::string& v, int line) {
  if (v.empty() || v == "~" || v == "null" || v == "Null" || v == "NULL") return nullptr;
  if (v == "true" || v == "True" || v == "TRUE") return true;
  if (v == "false" || v == "False" || v == "FALSE") return false;
  char c = v[0];
  if (c == '&' || c == '*' || c == '!') refuse(line, "anchors, aliases and tags are not read");
  if (c == '%' || c == '@' || c == '`') refuse(line, std::string("a plain scalar cannot start with ") + c);
  // Hand-written, not std::regex: libstdc++'s recurses per character and a server controls
  // the length.
  auto all = [](std::string_view t, auto pred) {
    if (t.empty()) return false;
    for (char ch : t)
      if (!pred(ch)) return false;
    return true;
  };
  auto digit = [](char ch) { return ch >= '0' && ch <= '9'; };
  std::string_view body = v;
  if (body[0] == '-' || body[0] == '+') body.remove_prefix(1);
  auto integer = [&](const std::string& digits, int base) -> json {
    errno = 0;
    long long x = std::strtoll(digits.c_str(), nullptr, base);
    if (errno == ERANGE) return std::strtod(v.c_str(), nullptr);  // as a JavaScript number would
    return x;
  };
  if (all(body, digit)) return integer(v, 10);
  if (v.size() > 2 && v[0] == '0' && v[1] == 'o' && all(std::string_view(v).substr(2), [](char ch) { return ch >= '0' && ch <= '7'; }))
    return integer(v.substr(2), 8);
  if (v.size() > 2 && v[0] == '0' && v[1] == 'x' &&
      all(std::string_view(v).substr(2), [](char ch) { return std::isxdigit(static_cast<unsigned char>(ch)) != 0; }))
    return integer(v.substr(2), 16);
  // [-+]? ( . digits | digits ( . digits* )? ) ( [eE] [-+]? digits )?
  {
    std::size_t i = 0;
    auto digits = [&] {
      std::size_t b = i;
      while (i < body.size() && digit(body[i])) ++i;
      return i - b;
    };
    std::size_t mantissa = digits();
    bool ok = true;
    if (i < body.size() && body[i] == '.') {
      ++i;
      std::size_t frac = digits();
      ok = mantissa > 0 || frac > 0;
    } else {
      ok = mantissa > 0;
    }
    if (ok && i < body.size() && (body[i] == 'e' || body[i] == 'E')) {
      ++i;
      if (i < body.size() && (body[i] == '-' || body[i] == '+')) ++i;
      ok = digits() > 0;
    }
    if (ok && i == body.size()) return std::strtod(v.c_str(), nullptr);
  }
  if (body == ".inf" || body == ".Inf" || body == ".INF" || v == ".nan" || v == ".NaN" || v == ".NAN")
    refuse(line, "infinite and NaN numbers have no JSON form");
  return v;
}

// A flow collection or scalar at s[i].
json flow(const std::string& s, std::size_t& i, int line, int depth) {
  if (depth > max_depth) refuse(line, "nested too deeply");
  auto ws = [&] {
    while (i < s.size() && (s[i] == ' ' || s[i] == '\t')) ++i;
  };
  ws();
  if (i >= s.size()) refuse(line, "unexpected end of a flow collection");
  if (s[i] == '[' || s[i] == '{') {
    bool seq = s[i] == '[';
    char close = seq ? ']' : '}';
    ++i;
    json out = seq ? json::array() : json::object();
    ws();
    if (i < s.size() && s[i] == close) {
      ++i;
      return out;
    }
    while (true) {
      if (seq) {
        out.push_back(flow(s, i, line, depth + 1));
      } else {
        json k = flow(s, i, line, depth + 1);
        if (!k.is_string()) refuse(line, "a flow mapping key that is not a string");
        ws();
        if (i >= s.size() || s[i] != ':') refuse(line, "a flow mapping entry without ':'");
        ++i;
        ws();
        json v = (i < s.size() && (s[i] == ',' || s[i] == '}')) ? json(nullptr) : flow(s, i, line, depth + 1);
        if (out.contains(k.get<std::string>())) refuse(line, "duplicate key '" + k.get<std::string>() + "'");
        out[k.get<std::string>()] = std::move(v);
      }
      ws();
      if (i >= s.size()) refuse(line, "unterminated flow collection (multi-line flow collections are not read)");
      if (s[i] == ',') {
        ++i;
        ws();
        if (i < s.size() && s[i] == close) {  // a trailing comma
          ++i;
          return out;
        }
        continue;
      }
      if (s[i] == close) {
        ++i;
        return out;
      }
      refuse(line, std::string("unexpected '") + s[i] + "' in a flow collection");
    }
  }
  if (s[i] == '"' || s[i] == '\'') return quoted(s, i, line);
  // A plain scalar inside a flow collection ends at , ] } or ": ".
  std::size_t b = i;
  while (i < s.size() && s[i] != ',' && s[i] != ']' && s[i] != '}' &&
         !(s[i] == ':' && (i + 1 == s.size() || s[i + 1] == ' ')))
    ++i;
  return plain(trim(s.substr(b, i - b)), line);
}

class Parser {
 public:
  explicit Parser(std::vector<Line> lines) : lines_(std::move(lines)) {}

  json document() {
    skip_blank();
    if (pos_ >= lines_.size()) return json::object();  // an empty frontmatter: checked by the caller
    json v = block(lines_[pos_].indent, 0);
    skip_blank();
    if (pos_ < lines_.size()) refuse(lines_[pos_].number, "unexpected indentation");
    return v;
  }

 private:
  std::vector<Line> lines_;
  std::size_t pos_ = 0;

  static bool blank(const Line& l) { return l.text.empty() || l.text[0] == '#'; }
  void skip_blank() {
    while (pos_ < lines_.size() && blank(lines_[pos_])) ++pos_;
  }
  static bool is_item(const std::string& t) { return t == "-" || t.rfind("- ", 0) == 0; }

  // The node whose lines start at indentation `indent`.
  json block(int indent, int depth) {
    if (depth > max_depth) refuse(lines_[pos_].number, "nested too deeply");
    const Line& first = lines_[pos_];
    if (is_item(first.text)) return sequence(indent, depth);
    return mapping(indent, depth);
  }

  json sequence(int indent, int depth) {
    json out = json::array();
    while (true) {
      skip_blank();
      if (pos_ >= lines_.size() || lines_[pos_].indent != indent || !is_item(lines_[pos_].text)) break;
      Line& l = lines_[pos_];
      std::string rest = l.text.size() > 1 ? l.text.substr(2) : std::string();
      std::size_t lead = 0;
      while (lead < rest.size() && rest[lead] == ' ') ++lead;
      rest = rest.substr(lead);
      if (rest.empty() || rest[0] == '#') {
        ++pos_;
        out.push_back(nested(indent, depth, true));
      } else if (is_item(rest) || key_end(rest, l.number) != std::string::npos) {
        // "- key: v" or "- - x": the rest is a node at the column it starts in.
        l.indent = indent + 2 + static_cast<int>(lead);
        l.text = rest;
        out.push_back(block(l.indent, depth + 1));
      } else {
        const int number = l.number;
        ++pos_;
        out.push_back(value(rest, indent, depth + 1, number));
      }
    }
    if (pos_ < lines_.size() && lines_[pos_].indent > indent && !blank(lines_[pos_]))
      refuse(lines_[pos_].number, "unexpected indentation");
    return out;
  }

  // The value below a key or dash that had nothing after it: a more indented block, a
  // sequence at the key's own indentation (YAML allows "key:\n- a"), or null.
  json nested(int indent, int depth, bool after_dash) {
    skip_blank();
    if (pos_ >= lines_.size()) return nullptr;
    const Line& n = lines_[pos_];
    if (n.indent > indent) return block(n.indent, depth + 1);
    if (!after_dash && n.indent == indent && is_item(n.text)) return sequence(indent, depth + 1);
    return nullptr;
  }

  // Where the key of a mapping line ends (the ':' of ": " or a final ':'), or npos.
  static std::size_t key_end(const std::string& t, int line) {
    std::size_t i = 0;
    if (t[0] == '"' || t[0] == '\'') {
      std::size_t j = 0;
      (void)quoted(t, j, line);
      i = j;
      while (i < t.size() && t[i] == ' ') ++i;
      return i < t.size() && t[i] == ':' && (i + 1 == t.size() || t[i + 1] == ' ') ? i : std::string::npos;
    }
    for (; i < t.size(); ++i)
      if (t[i] == ':' && (i + 1 == t.size() || t[i + 1] == ' ' || t[i + 1] == '\t')) return i;
      else if (t[i] == '#' && i > 0 && t[i - 1] == ' ') break;
    return std::string::npos;
  }

  json mapping(int indent, int depth) {
    json out = json::object();
    while (true) {
      skip_blank();
      if (pos_ >= lines_.size() || lines_[pos_].indent != indent) break;
      const Line l = lines_[pos_];
      if (l.text.rfind("? ", 0) == 0 || l.text == "?") refuse(l.number, "complex keys are not read");
      if (is_item(l.text)) refuse(l.number, "a sequence item where a mapping key was expected");
      auto colon = key_end(l.text, l.number);
      if (colon == std::string::npos) refuse(l.number, "expected 'key: value'");
      std::string key;
      std::string raw_key = rtrim(l.text.substr(0, colon));
      if (raw_key.empty()) refuse(l.number, "empty key");
      if (raw_key[0] == '"' || raw_key[0] == '\'') {
        std::size_t j = 0;
        key = quoted(raw_key, j, l.number);
      } else {
        if (raw_key[0] == '[' || raw_key[0] == '{') refuse(l.number, "complex keys are not read");
        if (raw_key[0] == '&' || raw_key[0] == '*' || raw_key[0] == '!') refuse(l.number, "anchors, aliases and tags are not read");
        key = raw_key;
      }
      if (key == "<<") refuse(l.number, "merge keys are not read");
      if (out.contains(key)) refuse(l.number, "duplicate key '" + key + "'");
      std::string rest = trim(l.text.substr(colon + 1));
      ++pos_;
      out[key] = value(rest, indent, depth, l.number);
    }
    if (pos_ < lines_.size() && lines_[pos_].indent > indent) refuse(lines_[pos_].number, "unexpected indentation");
    return out;
  }

  // The value after "key:" (`rest`, trimmed) of a mapping at `indent`.
  json value(const std::string& rest, int indent, int depth, int line) {
    if (rest.empty() || rest[0] == '#') return nested(indent, depth, false);
    char c = rest[0];
    if (c == '|' || c == '>') return block_scalar(rest, indent, line);
    if (c == '&' || c == '*' || c == '!') refuse(line, "anchors, aliases and tags are not read");
    if (c == '"' || c == '\'') {
      std::size_t i = 0;
      std::string s = quoted(rest, i, line);
      std::string after = trim(rest.substr(i));
      if (!after.empty() && after[0] != '#') refuse(line, "text after a quoted scalar");
      return s;
    }
    if (c == '[' || c == '{') {
      std::string text = strip_comment(rest);
      std::size_t i = 0;
      json v = flow(text, i, line, depth + 1);
      if (!trim(text.substr(i)).empty()) refuse(line, "text after a flow collection");
      return v;
    }
    // A plain scalar, perhaps continued on more indented lines (folded with spaces).
    std::string text = strip_comment(rest);
    if (text.find(": ") != std::string::npos) refuse(line, "': ' inside a plain scalar (quote it)");
    bool continued = false;
    while (pos_ < lines_.size() && lines_[pos_].indent > indent && !lines_[pos_].text.empty() &&
           lines_[pos_].text[0] != '#') {
      std::string more = strip_comment(lines_[pos_].text);
      if (more.find(": ") != std::string::npos || more.back() == ':')
        refuse(lines_[pos_].number, "a mapping entry inside a plain scalar (bad indentation?)");
      text += ' ' + more;
      continued = true;
      ++pos_;
    }
    if (continued) return text;  // a multi-line plain scalar is a string
    return plain(text, line);
  }

  // "|" or ">" with optional chomping (+ -) and indentation indicator.
  json block_scalar(const std::string& header, int indent, int line) {
    bool literal = header[0] == '|';
    char chomp = 0;
    int explicit_indent = 0;
    std::string h = strip_comment(header.substr(1));
    for (char c : h) {
      if ((c == '+' || c == '-') && !chomp) chomp = c;
      else if (c >= '1' && c <= '9' && !explicit_indent) explicit_indent = c - '0';
      else refuse(line, "bad block scalar header");
    }
    // Its lines: every following line more indented than the key, or blank.
    std::size_t end = pos_;
    while (end < lines_.size() && (lines_[end].text.empty() || lines_[end].indent > indent)) ++end;
    int content_indent = explicit_indent ? indent + explicit_indent : -1;
    if (content_indent < 0) {
      for (std::size_t k = pos_; k < end; ++k)
        if (!lines_[k].text.empty()) {
          content_indent = lines_[k].indent;
          break;
        }
    }
    std::vector<std::string> body;
    for (std::size_t k = pos_; k < end; ++k) {
      const Line& l = lines_[k];
      if (l.text.empty()) body.emplace_back(l.indent > content_indent ? std::string(l.indent - content_indent, ' ') : "");
      else {
        if (l.indent < content_indent) refuse(l.number, "a block scalar line less indented than its first");
        body.push_back(std::string(l.indent - content_indent, ' ') + l.text);
      }
    }
    pos_ = end;
    // Trailing blank lines: chomping decides.
    std::size_t trailing = 0;
    while (trailing < body.size() && body[body.size() - 1 - trailing].empty()) ++trailing;
    std::size_t content = body.size() - trailing;
    std::string out;
    for (std::size_t k = 0; k < content; ++k) {
      if (k > 0) {
        const std::string& prev = body[k - 1];
        const std::string& cur = body[k];
        if (literal) out += '\n';
        // Folded: a break between two plain lines is a space; an empty line is a newline (the
        // break before it is dropped); lines indented further keep their breaks.
        else if (cur.empty()) out += '\n';
        else if (prev.empty()) {
          if (cur[0] == ' ') out += '\n';
        } else if (prev[0] == ' ' || cur[0] == ' ') out += '\n';
        else out += ' ';
      }
      out += body[k];
    }
    if (content == 0) out.clear();
    if (chomp == '-') return out;
    if (content > 0) out += '\n';
    if (chomp == '+') out.append(trailing, '\n');
    return out;
  }
};

}  // namespace

json read_frontmatter_yaml(std::string_view text) {
  std::vector<Line> lines;
  int number = 1;
  std::size_t b = 0;
  while (b <= text.size()) {
    std::size_t e = text.find('\n', b);
    if (e == std::string_view::npos) e = text.size();
    std::string raw(text.substr(b, e - b));
    if (!raw.empty() && raw.back() == '\r') raw.pop_back();
    int indent = 0;
    while (indent < static_cast<int>(raw.size()) && raw[indent] == ' ') ++indent;
    if (indent < static_cast<int>(raw.size()) && raw[indent] == '\t') {
      std::string rest = trim(raw);
      if (!rest.empty()) refuse(number, "a tab in indentation");
    }
    std::string t = rtrim(raw.substr(indent));
    if (t == "---" || t == "..." || t.rfind("--- ", 0) == 0) refuse(number, "a second document");
    if (indent == 0 && !t.empty() && t[0] == '%') refuse(number, "directives are not read");
    lines.push_back({indent, t, number});
    ++number;
    if (e == text.size()) break;
    b = e + 1;
  }
  return Parser(std::move(lines)).document();
}

}  // namespace mcp::detail
