// SPDX-License-Identifier: MIT
// Validation of the authorization response the user-agent comes back with (RFC 6749 4.1.2,
// RFC 9207), and sanitizing text a server sent.
#include "oauth_util.hpp"

#include <openssl/crypto.h>

#include <map>
#include <utility>

namespace mcp::detail::oauth {

namespace {
bool constant_time_equal(std::string_view a, std::string_view b) noexcept {
  if (a.size() != b.size()) return false;
  return CRYPTO_memcmp(a.data(), b.data(), a.size()) == 0;
}
}  // namespace

std::string sanitize(std::string_view s, std::size_t max) {
  std::string out;
  for (char c : s.substr(0, max))
    out.push_back((static_cast<unsigned char>(c) >= 0x20 && static_cast<unsigned char>(c) < 0x7f) ? c : '?');
  return out;
}

Result<AuthorizationResponse> validate_authorization_response(std::string_view redirect_url,
                                                              const ExpectedAuthorization& expected) {
  auto q = redirect_url.find('?');
  std::string_view query = q == std::string_view::npos ? std::string_view{} : redirect_url.substr(q + 1);
  if (auto h = query.find('#'); h != std::string_view::npos) query = query.substr(0, h);
  auto params = parse_query(query);
  std::map<std::string, std::string> seen;
  for (auto& [k, v] : params) {
    if (k == "code" || k == "state" || k == "iss" || k == "error" || k == "error_description") {
      if (!seen.emplace(k, v).second)
        return fail(Errc::unauthorized, "authorization response repeats the '" + k + "' parameter");
    }
  }
  auto get = [&](const char* k) -> const std::string* {
    auto it = seen.find(k);
    return it == seen.end() ? nullptr : &it->second;
  };
  // RFC 9207 2.4, before anything else (including error) is acted on.
  if (const auto* iss = get("iss")) {
    if (*iss != expected.issuer)
      return fail(Errc::unauthorized,
                  "authorization response 'iss' does not match the authorization server's issuer "
                  "(possible mix-up attack); response rejected");
  } else if (expected.iss_parameter_supported) {
    return fail(Errc::unauthorized,
                "authorization response lacks 'iss' although the authorization server advertises it");
  }
  const auto* state = get("state");
  if (expected.state.empty()) {
    if (state) return fail(Errc::unauthorized, "authorization response has an unexpected 'state'");
  } else if (!state || !constant_time_equal(*state, expected.state)) {
    return fail(Errc::unauthorized, "authorization response 'state' does not match the request");
  }
  if (const auto* err = get("error")) {
    std::string msg = "authorization server returned error '" + sanitize(*err, 64) + "'";
    if (const auto* desc = get("error_description")) msg += ": " + sanitize(*desc, 256);
    return fail(Errc::unauthorized, std::move(msg));
  }
  const auto* code = get("code");
  if (!code || code->empty()) return fail(Errc::unauthorized, "authorization response has no 'code'");
  AuthorizationResponse r;
  r.code = *code;
  if (const auto* iss = get("iss")) r.iss = *iss;
  return r;
}

}  // namespace mcp::detail::oauth
