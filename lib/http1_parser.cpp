// SPDX-License-Identifier: MIT
// The response parser of the lean HTTP/1.1 client (http1.hpp): RFC 9112 framing, bytes in,
// a bounded head and body pieces out.
#include "http1.hpp"

#include "util/ascii.hpp"

#include <algorithm>
#include <cstring>

namespace mcp::detail::http1 {

namespace {

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

// Calls f(token) for each comma-separated, trimmed, non-empty token of a field value.
template <class F>
void each_token(std::string_view v, F&& f) {
  while (!v.empty()) {
    const auto comma = v.find(',');
    const auto t = trim(v.substr(0, comma));
    if (!t.empty()) f(t);
    if (comma == std::string_view::npos) break;
    v.remove_prefix(comma + 1);
  }
}

}  // namespace

std::string_view Head::get(std::string_view name) const {
  for (const auto& [k, v] : fields)
    if (iequals(k, name)) return v;
  return {};
}

// ---------------------------------------------------------------- the parser

void ResponseParser::reset(bool head_request) {
  state_ = State::head;
  head_request_ = head_request;
  stopped_ = started_ = keep_alive_ = false;
  buf_.clear();
  informational_ = 0;
  left_ = 0;
  trailer_bytes_ = 0;
  head_.status = 0;
  head_.fields.clear();
  error_.clear();
}

bool ResponseParser::fail(std::string why) {
  state_ = State::failed;
  keep_alive_ = false;
  error_ = std::move(why);
  return false;
}

bool ResponseParser::take_line(const char*& p, const char* end, std::size_t limit, std::string& line,
                               bool& complete) {
  const char* nl = static_cast<const char*>(std::memchr(p, '\n', static_cast<std::size_t>(end - p)));
  const char* stop = nl ? nl : end;
  line.append(p, stop);
  p = nl ? nl + 1 : end;
  complete = nl != nullptr;
  if (complete && !line.empty() && line.back() == '\r') line.pop_back();
  if (line.size() > limit) return fail("a line of the response is too long");
  return true;
}

bool ResponseParser::parse_head(const OnHead& on_head) {
  head_text_.swap(buf_);  // kept: the fields view it
  std::string_view text(head_text_);
  head_.status = 0;
  head_.fields.clear();  // keeps its capacity from one response to the next
  bool first = true;
  while (!text.empty()) {
    auto nl = text.find('\n');
    std::string_view line = text.substr(0, nl);
    text.remove_prefix(nl == std::string_view::npos ? text.size() : nl + 1);
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    if (first) {
      first = false;
      // HTTP/1.x SP 3DIGIT [SP reason]
      if (line.size() < 12 || line.substr(0, 7) != "HTTP/1." || line[7] < '0' || line[7] > '9' || line[8] != ' ' ||
          (line.size() > 12 && line[12] != ' '))
        return fail("malformed status line");
      int status = 0;
      for (int i = 9; i < 12; ++i) {
        if (line[i] < '0' || line[i] > '9') return fail("malformed status line");
        status = status * 10 + (line[i] - '0');
      }
      if (status < 100) return fail("malformed status line");
      head_.status = status;
      head_.minor_version = line[7] - '0';
      continue;
    }
    if (line.empty()) break;  // the blank line ending the head
    if (line.front() == ' ' || line.front() == '\t') return fail("obsolete line folding in the response head");
    const auto colon = line.find(':');
    if (colon == std::string_view::npos || colon == 0) return fail("malformed header field");
    const auto name = line.substr(0, colon);
    for (char c : name)
      if (!is_tchar(c)) return fail("malformed header field name");
    if (head_.fields.size() >= kMaxFields) return fail("more than 100 header fields in the response head");
    head_.fields.emplace_back(name, trim(line.substr(colon + 1)));
  }
  if (first) return fail("empty response head");
  buf_.clear();  // the previous head's text, swapped out above: its capacity is reused
  const int status = head_.status;
  if (status < 200) {
    if (status == 101) return fail("unexpected 101 Switching Protocols");
    if (++informational_ > kMaxInformational) return fail("too many informational responses");
    state_ = State::head;  // skipped; the real response follows
    return true;
  }
  bool close = false, keep = false;
  for (const auto& [k, v] : head_.fields) {
    if (!iequals(k, "Connection")) continue;
    each_token(v, [&](std::string_view t) {
      if (iequals(t, "close")) close = true;
      if (iequals(t, "keep-alive")) keep = true;
    });
  }
  keep_alive_ = !close && (head_.minor_version >= 1 || keep);
  if (on_head && !on_head(head_)) {
    stopped_ = true;
    keep_alive_ = false;
    return false;
  }
  if (head_request_ || status == 204 || status == 304) {
    state_ = State::done;
    return true;
  }
  // Transfer-Encoding wins over Content-Length (RFC 9112, 6.3).
  bool has_te = false;
  std::string_view last_coding;
  for (const auto& [k, v] : head_.fields) {
    if (!iequals(k, "Transfer-Encoding")) continue;
    has_te = true;
    each_token(v, [&](std::string_view t) { last_coding = t; });
  }
  if (has_te) {
    if (iequals(last_coding, "chunked")) {
      state_ = State::chunk_size;
    } else {
      state_ = State::until_close;
      keep_alive_ = false;
    }
    return true;
  }
  bool has_length = false;
  std::uint64_t length = 0;
  for (const auto& [k, v] : head_.fields) {
    if (!iequals(k, "Content-Length")) continue;
    bool bad = false;
    each_token(v, [&](std::string_view t) {
      std::uint64_t n = 0;
      if (t.size() > 15) bad = true;
      for (char c : t) {
        if (c < '0' || c > '9') bad = true;
        else n = n * 10 + static_cast<std::uint64_t>(c - '0');
      }
      if (has_length && n != length) bad = true;
      has_length = true;
      length = n;
    });
    if (bad || trim(v).empty()) return fail("invalid or conflicting Content-Length");
  }
  if (has_length) {
    left_ = length;
    state_ = length ? State::length : State::done;
    return true;
  }
  state_ = State::until_close;
  keep_alive_ = false;
  return true;
}

bool ResponseParser::feed(const char* data, std::size_t n, const OnHead& on_head, const OnData& on_data) {
  if (state_ == State::failed) return false;
  if (n) started_ = true;
  const char* p = data;
  const char* end = data + n;
  bool complete = false;
  while (p < end) {
    switch (state_) {
      case State::head: {
        const std::size_t old = buf_.size();
        const std::size_t room = kMaxHead + 3 - std::min(old, kMaxHead + 3);
        const std::size_t take = std::min<std::size_t>(room, static_cast<std::size_t>(end - p));
        buf_.append(p, take);
        p += take;
        std::size_t term = std::string::npos;
        for (std::size_t i = old >= 2 ? old - 2 : 0; i < buf_.size(); ++i) {
          const void* nl = std::memchr(buf_.data() + i, '\n', buf_.size() - i);
          if (!nl) break;
          i = static_cast<std::size_t>(static_cast<const char*>(nl) - buf_.data());
          if (i + 1 < buf_.size() && buf_[i + 1] == '\n') { term = i + 2; break; }
          if (i + 2 < buf_.size() && buf_[i + 1] == '\r' && buf_[i + 2] == '\n') { term = i + 3; break; }
        }
        if (term == std::string::npos) {
          if (buf_.size() > kMaxHead) return fail("response head larger than 64 KiB");
          break;
        }
        // What follows the head is body (or the next response, after a 1xx). The head ends
        // in what this call appended (the scan starts at old - 2, its end is past old), so
        // the rest is still in `data`: read on from there, no copy.
        p -= buf_.size() - term;
        buf_.resize(term);
        if (!parse_head(on_head)) return false;
        break;
      }
      case State::length:
      case State::chunk_data: {
        const std::size_t take = static_cast<std::size_t>(std::min<std::uint64_t>(left_, static_cast<std::uint64_t>(end - p)));
        if (take && on_data && !on_data(p, take)) {
          stopped_ = true;
          keep_alive_ = false;
          return false;
        }
        p += take;
        left_ -= take;
        if (left_ == 0) state_ = state_ == State::length ? State::done : State::chunk_end;
        break;
      }
      case State::until_close:
        if (on_data && !on_data(p, static_cast<std::size_t>(end - p))) {
          stopped_ = true;
          return false;
        }
        p = end;
        break;
      case State::chunk_size: {
        if (!take_line(p, end, 1024, buf_, complete)) return false;
        if (!complete) break;
        std::string_view line = trim(std::string_view(buf_).substr(0, buf_.find(';')));
        if (line.empty() || line.size() > 15) return fail("malformed chunk size");
        std::uint64_t size = 0;
        for (char c : line) {
          const int d = hex_value(c);
          if (d < 0) return fail("malformed chunk size");
          size = size * 16 + static_cast<std::uint64_t>(d);
        }
        buf_.clear();
        left_ = size;
        state_ = size ? State::chunk_data : State::trailers;
        break;
      }
      case State::chunk_end:
        if (!take_line(p, end, 2, buf_, complete)) return fail("chunk data not followed by CRLF");
        if (!complete) break;
        if (!buf_.empty()) return fail("chunk data not followed by CRLF");
        state_ = State::chunk_size;
        break;
      case State::trailers: {
        if (!take_line(p, end, kMaxHead, buf_, complete)) return false;
        if (!complete) break;
        trailer_bytes_ += buf_.size() + 2;
        if (trailer_bytes_ > kMaxHead) return fail("trailer section larger than 64 KiB");
        const bool blank = buf_.empty();
        buf_.clear();
        if (blank) state_ = State::done;
        break;
      }
      case State::done:
        // Nothing may follow a response on a connection without pipelining: the response
        // stands, the connection is not reused.
        keep_alive_ = false;
        p = end;
        break;
      case State::failed:
        return false;
    }
  }
  return true;
}

bool ResponseParser::finish() {
  if (state_ == State::until_close) state_ = State::done;
  if (state_ == State::done) {
    keep_alive_ = false;
    return true;
  }
  if (state_ != State::failed)
    fail(started_ ? "the connection closed before the end of the response" : "the connection closed before a response");
  return false;
}

}  // namespace mcp::detail::http1
