// SPDX-License-Identifier: MIT
// Randomness (states, nonces, jti) and PKCE S256 (RFC 7636).
#include "oauth_util.hpp"

#include "../util/ascii.hpp"

#include <openssl/crypto.h>
#include <openssl/rand.h>
#include <openssl/sha.h>

#include <algorithm>
#include <array>
#include <utility>

namespace mcp::detail::oauth {

namespace {
bool random_bytes(unsigned char* buf, std::size_t n) {
  while (n > 0) {
    int chunk = static_cast<int>(std::min<std::size_t>(n, 1 << 20));
    if (RAND_bytes(buf, chunk) != 1) return false;
    buf += chunk;
    n -= static_cast<std::size_t>(chunk);
  }
  return true;
}
}  // namespace

Result<std::string> random_token(std::size_t n_bytes) {
  if (n_bytes == 0 || n_bytes > 4096) return fail(Errc::invalid_config, "random token size out of range");
  std::string buf(n_bytes, '\0');
  if (!random_bytes(reinterpret_cast<unsigned char*>(buf.data()), n_bytes))
    return fail(Errc::unauthorized, "the system random number generator failed");
  std::string out = base64url_encode(buf);
  OPENSSL_cleanse(buf.data(), buf.size());
  return out;
}

bool is_valid_code_verifier(std::string_view v) noexcept {
  if (v.size() < 43 || v.size() > 128) return false;
  return std::all_of(v.begin(), v.end(), [](char c) {
    return is_alnum(c) || c == '-' ||
           c == '.' || c == '_' || c == '~';
  });
}

Result<std::string> generate_code_verifier(std::size_t length) {
  if (length < 43 || length > 128)
    return fail(Errc::invalid_config, "PKCE code verifier length must be 43..128");
  std::array<unsigned char, 128> buf{};
  if (!random_bytes(buf.data(), length))
    return fail(Errc::unauthorized, "the system random number generator failed");
  // The base64url alphabet is 64 unreserved characters: masking 6 bits is unbiased.
  std::string out(length, '\0');
  for (std::size_t i = 0; i < length; ++i) out[i] = kBase64UrlAlphabet[buf[i] & 63];
  OPENSSL_cleanse(buf.data(), buf.size());
  return out;
}

std::string sha256_base64url(std::string_view bytes) {
  unsigned char digest[SHA256_DIGEST_LENGTH];
  SHA256(reinterpret_cast<const unsigned char*>(bytes.data()), bytes.size(), digest);
  return base64url_encode(std::string_view(reinterpret_cast<const char*>(digest), sizeof digest));
}

std::string code_challenge_s256(std::string_view verifier) { return sha256_base64url(verifier); }

Result<Pkce> make_pkce(std::size_t verifier_length) {
  auto v = generate_code_verifier(verifier_length);
  if (!v) return fail(v.error());
  Pkce p;
  p.challenge = code_challenge_s256(*v);
  p.verifier = std::move(*v);
  return p;
}

}  // namespace mcp::detail::oauth
