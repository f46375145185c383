// SPDX-License-Identifier: MIT
#include "oauth_util.hpp"

#include "../protocol/json_read.hpp"
#include "../util/ascii.hpp"

#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/ec.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/param_build.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/sha.h>

#include <arpa/inet.h>
#include <netdb.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <algorithm>
#include <array>
#include <cstdint>
#include <memory>
#include <set>
#include <utility>

namespace mcp::detail::oauth {
namespace {

bool is_token68_char(char c) noexcept {
  return is_alnum(c) || c == '-' ||
         c == '.' || c == '_' || c == '~' || c == '+' || c == '/';
}

bool is_ows(char c) noexcept { return c == ' ' || c == '\t'; }

// Cursor over the header; every method advances or reports, so loops terminate.
struct Cursor {
  std::string_view s;
  std::size_t p = 0;
  bool done() const noexcept { return p >= s.size(); }
  char peek() const noexcept { return s[p]; }
  void skip_ows() noexcept { while (!done() && is_ows(s[p])) ++p; }
  void skip_ows_and_commas() noexcept {
    while (!done() && (is_ows(s[p]) || s[p] == ',' || s[p] == '\r' || s[p] == '\n')) ++p;
  }
  std::string_view token() noexcept {
    std::size_t b = p;
    while (!done() && is_tchar(s[p])) ++p;
    return s.substr(b, p - b);
  }
  // Skips to the next comma outside a quoted string (not consuming it).
  void skip_to_comma() noexcept {
    bool quoted = false;
    while (!done()) {
      char c = s[p];
      if (quoted) {
        if (c == '\\') ++p;
        else if (c == '"') quoted = false;
      } else if (c == '"') {
        quoted = true;
      } else if (c == ',') {
        return;
      }
      ++p;
    }
    if (p > s.size()) p = s.size();
  }
  // After an opening quote: reads up to the closing quote, unescaping quoted-pairs.
  std::string quoted_string() {
    std::string out;
    while (!done()) {
      char c = s[p++];
      if (c == '"') return out;
      if (c == '\\' && !done()) c = s[p++];
      out.push_back(c);
    }
    return out;  // unterminated: lenient, ends at the end of the header
  }
  std::string bare_value() {
    std::size_t b = p;
    while (!done() && s[p] != ',' && !is_ows(s[p])) ++p;
    return std::string(s.substr(b, p - b));
  }
};

// Tries "token68 OWS (end|,)" at the cursor; restores the cursor when it is not one.
bool try_token68(Cursor& c, std::string& out) {
  std::size_t b = c.p, q = c.p;
  while (q < c.s.size() && is_token68_char(c.s[q])) ++q;
  if (q == b) return false;
  while (q < c.s.size() && c.s[q] == '=') ++q;
  std::size_t e = q;
  while (q < c.s.size() && is_ows(c.s[q])) ++q;
  if (q < c.s.size() && c.s[q] != ',') return false;
  out.assign(c.s.substr(b, e - b));
  c.p = q;
  return true;
}

// Parses auth-params of one challenge. Stops (cursor at the token) when the next element is
// a new challenge rather than a parameter.
void parse_params(Cursor& c, AuthChallenge& ch) {
  std::size_t count = 0;
  while (true) {
    c.skip_ows_and_commas();
    if (c.done()) return;
    std::size_t start = c.p;
    std::string_view name = c.token();
    if (name.empty()) {  // garbage: skip this element
      c.skip_to_comma();
      if (c.p == start) ++c.p;
      continue;
    }
    c.skip_ows();
    if (c.done() || c.peek() != '=') {
      // A token not followed by '=' starts the next challenge.
      c.p = start;
      return;
    }
    ++c.p;  // '='
    c.skip_ows();
    std::string value;
    if (!c.done() && c.peek() == '"') {
      ++c.p;
      value = c.quoted_string();
    } else {
      value = c.bare_value();
    }
    c.skip_ows();
    if (!c.done() && c.peek() != ',') c.skip_to_comma();  // trailing garbage in this element
    if (count < kMaxParams) {
      ch.params.emplace(to_lower(name), std::move(value));  // emplace: first wins
      ++count;
    }
  }
}

}  // namespace

bool AuthChallenge::is_scheme(std::string_view s) const noexcept { return iequals(scheme, s); }

const std::string* AuthChallenge::param(std::string_view name) const {
  auto it = params.find(to_lower(name));
  return it == params.end() ? nullptr : &it->second;
}

std::vector<AuthChallenge> parse_www_authenticate(std::string_view header) {
  std::vector<AuthChallenge> out;
  Cursor c{header.substr(0, std::min(header.size(), kMaxHeaderBytes))};
  while (true) {
    c.skip_ows_and_commas();
    if (c.done() || out.size() >= kMaxChallenges) break;
    std::size_t start = c.p;
    std::string_view scheme = c.token();
    if (scheme.empty()) {
      c.skip_to_comma();
      if (c.p == start) ++c.p;
      continue;
    }
    AuthChallenge ch;
    ch.scheme = std::string(scheme);
    if (!c.done() && !is_ows(c.peek()) && c.peek() != ',') {
      // e.g. "Bearer=x" or "Bearer\"": not a challenge; drop the element.
      c.skip_to_comma();
      continue;
    }
    c.skip_ows();
    if (!c.done() && c.peek() != ',') {
      if (!try_token68(c, ch.token68)) parse_params(c, ch);
    }
    out.push_back(std::move(ch));
  }
  return out;
}

std::optional<BearerChallenge> find_bearer_challenge(const std::vector<AuthChallenge>& challenges,
                                                    std::string_view scheme) {
  for (const auto& ch : challenges) {
    if (!ch.is_scheme(scheme)) continue;
    BearerChallenge b;
    auto get = [&](std::string_view n) -> std::optional<std::string> {
      if (const auto* v = ch.param(n)) return *v;
      return std::nullopt;
    };
    b.resource_metadata = get("resource_metadata");
    b.scope = get("scope");
    b.error = get("error");
    b.error_description = get("error_description");
    b.realm = get("realm");
    return b;
  }
  return std::nullopt;
}

std::optional<BearerChallenge> parse_bearer_challenge(std::string_view header, std::string_view scheme) {
  return find_bearer_challenge(parse_www_authenticate(header), scheme);
}

// ---------------------------------------------------------------------------------------------
// URLs

HostClass host_class(std::string_view host_text) {
  std::string host = to_lower(host_text);
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']') host = host.substr(1, host.size() - 2);
  if (!host.empty() && host.back() == '.') host.pop_back();  // "localhost." is localhost
  if (host == "localhost" || (host.size() > 10 && host.compare(host.size() - 10, 10, ".localhost") == 0))
    return HostClass::loopback;
  auto v4 = [](std::uint32_t a) {
    if ((a >> 24) == 127) return HostClass::loopback;
    if ((a >> 24) == 0) return HostClass::unspecified;
    if ((a >> 24) == 10 || (a >> 20) == 0xac1 || (a >> 16) == 0xc0a8) return HostClass::private_net;
    if ((a >> 16) == 0xa9fe) return HostClass::link_local;
    return HostClass::public_host;
  };
  in_addr a4{};
  // inet_aton, not inet_pton: it takes every IPv4 spelling getaddrinfo takes ("0x7f.1", "2130706433").
  if (host.find(':') == std::string::npos && ::inet_aton(host.c_str(), &a4) != 0) return v4(ntohl(a4.s_addr));
  in6_addr a6{};
  if (::inet_pton(AF_INET6, host.c_str(), &a6) != 1) return HostClass::public_host;
  const unsigned char* b = a6.s6_addr;
  const bool zero10 = std::all_of(b, b + 10, [](unsigned char c) { return c == 0; });
  if (zero10 && b[10] == 0xff && b[11] == 0xff)  // ::ffff:a.b.c.d
    return v4(static_cast<std::uint32_t>(b[12]) << 24 | static_cast<std::uint32_t>(b[13]) << 16 |
              static_cast<std::uint32_t>(b[14]) << 8 | b[15]);
  if (zero10 && b[10] == 0 && b[11] == 0 && b[12] == 0 && b[13] == 0 && b[14] == 0)
    return b[15] == 1 ? HostClass::loopback : b[15] == 0 ? HostClass::unspecified : HostClass::public_host;
  if ((b[0] & 0xfe) == 0xfc) return HostClass::private_net;
  if (b[0] == 0xfe && (b[1] & 0xc0) == 0x80) return HostClass::link_local;
  return HostClass::public_host;
}

HostClass address_class(const sockaddr& address) {
  char text[INET6_ADDRSTRLEN] = {};
  const void* bytes = address.sa_family == AF_INET    ? static_cast<const void*>(&reinterpret_cast<const sockaddr_in&>(address).sin_addr)
                      : address.sa_family == AF_INET6 ? static_cast<const void*>(&reinterpret_cast<const sockaddr_in6&>(address).sin6_addr)
                                                      : nullptr;
  if (!bytes || !::inet_ntop(address.sa_family, bytes, text, sizeof text)) return HostClass::public_host;
  return host_class(text);
}

std::vector<HostClass> host_classes(std::string_view host_text) {
  std::string host(host_text);
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']') host = host.substr(1, host.size() - 2);
  const HostClass literal = host_class(host);
  in6_addr a6{};
  in_addr a4{};
  if (literal != HostClass::public_host || ::inet_pton(AF_INET6, host.c_str(), &a6) == 1 ||
      (host.find(':') == std::string::npos && ::inet_aton(host.c_str(), &a4) != 0))
    return {literal};
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  addrinfo* res = nullptr;
  std::vector<HostClass> out;
  if (::getaddrinfo(host.c_str(), nullptr, &hints, &res) != 0 || !res) return out;
  for (addrinfo* ai = res; ai; ai = ai->ai_next) {
    const HostClass c = address_class(*ai->ai_addr);
    if (std::find(out.begin(), out.end(), c) == out.end()) out.push_back(c);
  }
  ::freeaddrinfo(res);
  return out;
}

std::string refuse_address(const sockaddr& address, const std::vector<HostClass>& server_classes) {
  const HostClass c = address_class(address);
  if (c == HostClass::public_host || std::find(server_classes.begin(), server_classes.end(), c) != server_classes.end())
    return {};
  const char* kind = c == HostClass::loopback      ? "a loopback"
                     : c == HostClass::private_net ? "a private-network"
                     : c == HostClass::link_local  ? "a link-local"
                                                   : "an unspecified";
  return std::string("the name resolves to ") + kind + " address and the MCP server's does not; refused";
}

Result<void> check_endpoint(std::string_view url, std::string_view server_url, std::string_view what) {
  auto u = split_url(url);
  if (!u) return fail(Errc::unauthorized, std::string(what) + " is not an absolute http(s) URL");
  if (!u->userinfo.empty()) return fail(Errc::unauthorized, std::string(what) + " has userinfo; refused");
  const HostClass target = host_class(u->host);
  if (u->scheme != "https" && target != HostClass::loopback)
    return fail(Errc::unauthorized, std::string(what) + " at " + origin_of(*u) +
                                        " is not https; refusing to send credentials over plain http "
                                        "(only loopback hosts may use http)");
  if (target == HostClass::public_host) return {};
  auto s = split_url(server_url);
  if (s && host_class(s->host) == target) return {};
  const char* kind = target == HostClass::loopback      ? "a loopback"
                     : target == HostClass::private_net ? "a private-network"
                     : target == HostClass::link_local  ? "a link-local"
                                                        : "an unspecified";
  return fail(Errc::unauthorized, std::string(what) + " at " + origin_of(*u) + " is " + kind +
                                      " address and the MCP server is not; refused");
}

namespace {

std::string strip_trailing_slash(std::string path) {
  while (!path.empty() && path.back() == '/') path.pop_back();
  return path;
}

void push_unique(std::vector<std::string>& v, std::string s) {
  if (std::find(v.begin(), v.end(), s) == v.end()) v.push_back(std::move(s));
}

}  // namespace

Result<std::string> canonical_resource_uri(std::string_view server_url) {
  auto u = split_url(server_url);
  if (!u) return fail(u.error());
  if (!u->userinfo.empty()) return fail(Errc::invalid_config, "resource URL must not contain userinfo");
  std::string out = origin_of(*u);
  if (u->path != "/") out += u->path;
  if (u->has_query) out += "?" + u->query;
  return out;
}

Result<std::vector<std::string>> protected_resource_metadata_urls(
    std::string_view server_url, std::optional<std::string_view> header_resource_metadata) {
  auto u = split_url(server_url);
  if (!u) return fail(u.error());
  std::vector<std::string> out;
  if (header_resource_metadata && split_url(*header_resource_metadata))
    out.emplace_back(*header_resource_metadata);
  const std::string origin = origin_of(*u);
  const std::string base = origin + "/.well-known/oauth-protected-resource";
  std::string path = strip_trailing_slash(u->path);
  // RFC 9728 3.1 keeps the query component after the inserted suffix.
  if (!path.empty() || (u->has_query && !u->query.empty()))
    push_unique(out, base + path + (u->has_query && !u->query.empty() ? "?" + u->query : ""));
  push_unique(out, base);
  return out;
}

Result<std::vector<std::string>> authorization_server_metadata_urls(std::string_view issuer) {
  auto u = split_url(issuer);
  if (!u) return fail(u.error());
  if (u->has_query || u->has_fragment)
    return fail(Errc::invalid_config, "issuer must not have a query or fragment");
  const std::string origin = origin_of(*u);
  std::string path = strip_trailing_slash(u->path);
  std::vector<std::string> out;
  if (path.empty()) {
    out.push_back(origin + "/.well-known/oauth-authorization-server");
    out.push_back(origin + "/.well-known/openid-configuration");
  } else {
    out.push_back(origin + "/.well-known/oauth-authorization-server" + path);
    out.push_back(origin + "/.well-known/openid-configuration" + path);
    out.push_back(origin + path + "/.well-known/openid-configuration");
  }
  return out;
}

std::string form_urlencode(std::string_view s) {
  static constexpr char hex[] = "0123456789ABCDEF";
  std::string out;
  out.reserve(s.size() * 3);
  for (char ch : s) {
    auto c = static_cast<unsigned char>(ch);
    if (is_alnum(c) || c == '-' ||
        c == '.' || c == '_' || c == '~' || c == '*') {
      out.push_back(ch);
    } else if (c == ' ') {
      out.push_back('+');
    } else {
      out.push_back('%');
      out.push_back(hex[c >> 4]);
      out.push_back(hex[c & 15]);
    }
  }
  return out;
}

std::string form_urldecode(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  for (std::size_t i = 0; i < s.size(); ++i) {
    char c = s[i];
    if (c == '+') {
      out.push_back(' ');
    } else if (c == '%' && i + 2 < s.size() && hex_value(s[i + 1]) >= 0 &&
               hex_value(s[i + 2]) >= 0) {
      out.push_back(static_cast<char>(hex_value(s[i + 1]) * 16 + hex_value(s[i + 2])));
      i += 2;
    } else {
      out.push_back(c);
    }
  }
  return out;
}

std::vector<std::pair<std::string, std::string>> parse_query(std::string_view query) {
  std::vector<std::pair<std::string, std::string>> out;
  while (!query.empty()) {
    auto amp = query.find('&');
    std::string_view part = query.substr(0, amp);
    query = amp == std::string_view::npos ? std::string_view{} : query.substr(amp + 1);
    if (part.empty()) continue;
    auto eq = part.find('=');
    if (eq == std::string_view::npos)
      out.emplace_back(form_urldecode(part), std::string{});
    else
      out.emplace_back(form_urldecode(part.substr(0, eq)), form_urldecode(part.substr(eq + 1)));
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// Randomness, PKCE

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

// ---------------------------------------------------------------------------------------------
// Scopes

std::vector<std::string_view> split_scopes(std::string_view s) {
  std::vector<std::string_view> out;
  std::size_t i = 0;
  while (i < s.size()) {
    while (i < s.size() && (s[i] == ' ' || s[i] == '\t')) ++i;
    std::size_t b = i;
    while (i < s.size() && s[i] != ' ' && s[i] != '\t') ++i;
    if (i > b) out.push_back(s.substr(b, i - b));
  }
  return out;
}

namespace {
std::string join_scopes(const std::vector<std::string_view>& v) {
  std::string out;
  for (auto s : v) {
    if (!out.empty()) out.push_back(' ');
    out.append(s);
  }
  return out;
}
}  // namespace

std::optional<std::string> select_scope(const std::optional<std::string>& challenge_scope,
                                        const nlohmann::json& resource_metadata) {
  if (challenge_scope) {
    auto parts = split_scopes(*challenge_scope);
    if (!parts.empty()) return join_scopes(parts);
  }
  if (resource_metadata.is_object()) {
    auto it = resource_metadata.find("scopes_supported");
    if (it != resource_metadata.end() && it->is_array()) {
      std::vector<std::string_view> parts;
      for (const auto& s : *it)
        if (s.is_string() && !s.get_ref<const std::string&>().empty()) {
          const auto& str = s.get_ref<const std::string&>();
          if (std::find(parts.begin(), parts.end(), str) == parts.end()) parts.push_back(str);
        }
      if (!parts.empty()) return join_scopes(parts);
    }
  }
  return std::nullopt;
}

std::string union_scopes(std::string_view previous, std::string_view challenge) {
  std::vector<std::string_view> out;
  for (auto src : {previous, challenge})
    for (auto s : split_scopes(src))
      if (std::find(out.begin(), out.end(), s) == out.end()) out.push_back(s);
  return join_scopes(out);
}

std::string add_offline_access_if_supported(std::string_view scope, const nlohmann::json& as_metadata) {
  auto parts = split_scopes(scope);
  if (std::find(parts.begin(), parts.end(), "offline_access") != parts.end()) return join_scopes(parts);
  if (as_metadata.is_object()) {
    auto it = as_metadata.find("scopes_supported");
    if (it != as_metadata.end() && it->is_array())
      for (const auto& s : *it)
        if (s.is_string() && s.get_ref<const std::string&>() == "offline_access") {
          parts.push_back("offline_access");
          break;
        }
  }
  return join_scopes(parts);
}

// ---------------------------------------------------------------------------------------------
// ES256

namespace {
struct PkeyFree { void operator()(EVP_PKEY* p) const noexcept { EVP_PKEY_free(p); } };
struct BioFree { void operator()(BIO* b) const noexcept { BIO_free(b); } };
struct MdCtxFree { void operator()(EVP_MD_CTX* c) const noexcept { EVP_MD_CTX_free(c); } };
struct SigFree { void operator()(ECDSA_SIG* s) const noexcept { ECDSA_SIG_free(s); } };
using PkeyPtr = std::unique_ptr<EVP_PKEY, PkeyFree>;

// No passphrase prompt: an encrypted key fails instead of reading the terminal.
int no_password(char*, int, int, void*) { return 0; }

bool is_p256(EVP_PKEY* k) {
  if (EVP_PKEY_get_base_id(k) != EVP_PKEY_EC) return false;
  char name[64] = {};
  std::size_t len = 0;
  if (EVP_PKEY_get_group_name(k, name, sizeof name, &len) != 1) return false;
  std::string_view n(name, len);
  return n == "prime256v1" || n == "P-256" || n == "secp256r1";
}

Result<PkeyPtr> load_key(std::string_view pem, bool is_private) {
  if (pem.size() > (1u << 16)) return fail(Errc::invalid_config, "key PEM is too large");
  std::unique_ptr<BIO, BioFree> bio(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())));
  if (!bio) return fail(Errc::invalid_config, "could not read the key");
  EVP_PKEY* k = is_private ? PEM_read_bio_PrivateKey(bio.get(), nullptr, no_password, nullptr)
                           : PEM_read_bio_PUBKEY(bio.get(), nullptr, no_password, nullptr);
  // OpenSSL's error queue may describe the input; drop it rather than surface it.
  ERR_clear_error();
  if (!k)
    return fail(Errc::invalid_config, is_private ? "could not parse the EC private key PEM"
                                                 : "could not parse the EC public key PEM");
  PkeyPtr key(k);
  if (!is_p256(key.get())) return fail(Errc::invalid_config, "ES256 requires an EC P-256 key");
  return key;
}

constexpr std::size_t kCoordBytes = 32;

// The compact JWS of `header`.`claims` signed with ES256 by `key`; `what` names the failure.
Result<std::string> sign_es256(EVP_PKEY* key, const nlohmann::json& header, const nlohmann::json& claims,
                               const char* what) {
  std::string signing_input = base64url_encode(header.dump()) + "." + base64url_encode(claims.dump());
  std::unique_ptr<EVP_MD_CTX, MdCtxFree> ctx(EVP_MD_CTX_new());
  std::size_t der_len = 0;
  if (!ctx || EVP_DigestSignInit(ctx.get(), nullptr, EVP_sha256(), nullptr, key) != 1 ||
      EVP_DigestSign(ctx.get(), nullptr, &der_len,
                     reinterpret_cast<const unsigned char*>(signing_input.data()), signing_input.size()) != 1) {
    ERR_clear_error();
    return fail(Errc::invalid_config, what);
  }
  std::string der(der_len, '\0');
  if (EVP_DigestSign(ctx.get(), reinterpret_cast<unsigned char*>(der.data()), &der_len,
                     reinterpret_cast<const unsigned char*>(signing_input.data()), signing_input.size()) != 1) {
    ERR_clear_error();
    return fail(Errc::invalid_config, what);
  }
  der.resize(der_len);
  // JWS wants the raw fixed-width R||S (RFC 7518 3.4), not OpenSSL's DER ECDSA-Sig-Value.
  const auto* p = reinterpret_cast<const unsigned char*>(der.data());
  std::unique_ptr<ECDSA_SIG, SigFree> sig(d2i_ECDSA_SIG(nullptr, &p, static_cast<long>(der.size())));
  if (!sig) {
    ERR_clear_error();
    return fail(Errc::invalid_config, what);
  }
  const BIGNUM* r = nullptr;
  const BIGNUM* s = nullptr;
  ECDSA_SIG_get0(sig.get(), &r, &s);
  std::string raw(2 * kCoordBytes, '\0');
  auto* out = reinterpret_cast<unsigned char*>(raw.data());
  if (BN_bn2binpad(r, out, kCoordBytes) != static_cast<int>(kCoordBytes) ||
      BN_bn2binpad(s, out + kCoordBytes, kCoordBytes) != static_cast<int>(kCoordBytes)) {
    ERR_clear_error();
    return fail(Errc::invalid_config, what);
  }
  return signing_input + "." + base64url_encode(raw);
}
}  // namespace

Result<std::string> make_client_assertion_es256(std::string_view private_key_pem,
                                                const ClientAssertionOptions& opts) {
  if (opts.client_id.empty()) return fail(Errc::invalid_config, "client assertion needs a client_id");
  if (opts.audience.empty()) return fail(Errc::invalid_config, "client assertion needs an audience");
  if (opts.lifetime.count() <= 0) return fail(Errc::invalid_config, "client assertion lifetime must be positive");
  auto key = load_key(private_key_pem, true);
  if (!key) return fail(key.error());
  auto jti = random_token(16);
  if (!jti) return fail(jti.error());

  auto now = opts.issued_at == std::chrono::system_clock::time_point{} ? std::chrono::system_clock::now()
                                                                        : opts.issued_at;
  auto iat = std::chrono::duration_cast<std::chrono::seconds>(now.time_since_epoch()).count();
  nlohmann::json header = {{"alg", "ES256"}, {"typ", "JWT"}};
  if (opts.key_id) header["kid"] = *opts.key_id;
  nlohmann::json claims = {{"iss", opts.client_id}, {"sub", opts.client_id}, {"aud", opts.audience},
                           {"iat", iat},            {"exp", iat + opts.lifetime.count()},
                           {"jti", *jti}};
  return sign_es256(key->get(), header, claims, "could not sign the client assertion");
}

Result<VerifiedJws> verify_jws_es256(std::string_view jws, std::string_view public_key_pem) {
  if (jws.size() > (1u << 16)) return fail(Errc::unauthorized, "JWS is too large");
  auto d1 = jws.find('.');
  auto d2 = d1 == std::string_view::npos ? d1 : jws.find('.', d1 + 1);
  if (d2 == std::string_view::npos || jws.find('.', d2 + 1) != std::string_view::npos)
    return fail(Errc::unauthorized, "JWS is not in compact serialization");
  auto header_raw = base64url_decode(jws.substr(0, d1));
  auto payload_raw = base64url_decode(jws.substr(d1 + 1, d2 - d1 - 1));
  auto sig_raw = base64url_decode(jws.substr(d2 + 1));
  if (!header_raw || !payload_raw || !sig_raw) return fail(Errc::unauthorized, "JWS is not valid base64url");
  VerifiedJws v;
  v.header = parse_json(*header_raw);
  if (!v.header.is_object()) return fail(Errc::unauthorized, "JWS header is not a JSON object");
  auto alg = v.header.find("alg");
  if (alg == v.header.end() || !alg->is_string() || alg->get_ref<const std::string&>() != "ES256")
    return fail(Errc::unauthorized, "JWS alg is not ES256");
  if (sig_raw->size() != 2 * kCoordBytes) return fail(Errc::unauthorized, "JWS signature has the wrong length");
  auto key = load_key(public_key_pem, false);
  if (!key) return fail(key.error());

  std::unique_ptr<ECDSA_SIG, SigFree> sig(ECDSA_SIG_new());
  const auto* raw = reinterpret_cast<const unsigned char*>(sig_raw->data());
  BIGNUM* r = BN_bin2bn(raw, kCoordBytes, nullptr);
  BIGNUM* s = BN_bin2bn(raw + kCoordBytes, kCoordBytes, nullptr);
  if (!sig || !r || !s || ECDSA_SIG_set0(sig.get(), r, s) != 1) {
    BN_free(r);
    BN_free(s);
    ERR_clear_error();
    return fail(Errc::unauthorized, "JWS signature could not be decoded");
  }
  unsigned char* der = nullptr;
  int der_len = i2d_ECDSA_SIG(sig.get(), &der);
  if (der_len <= 0) {
    ERR_clear_error();
    return fail(Errc::unauthorized, "JWS signature could not be decoded");
  }
  std::unique_ptr<unsigned char, void (*)(unsigned char*)> der_guard(der, [](unsigned char* q) { OPENSSL_free(q); });
  std::string_view signing_input = jws.substr(0, d2);
  std::unique_ptr<EVP_MD_CTX, MdCtxFree> ctx(EVP_MD_CTX_new());
  int ok = ctx && EVP_DigestVerifyInit(ctx.get(), nullptr, EVP_sha256(), nullptr, key->get()) == 1
               ? EVP_DigestVerify(ctx.get(), der, static_cast<std::size_t>(der_len),
                                  reinterpret_cast<const unsigned char*>(signing_input.data()),
                                  signing_input.size())
               : -1;
  ERR_clear_error();
  if (ok != 1) return fail(Errc::unauthorized, "JWS signature does not verify");
  v.claims = parse_json(*payload_raw);
  if (!v.claims.is_object()) return fail(Errc::unauthorized, "JWS payload is not a JSON object");
  return v;
}

// ---------------------------------------------------------------------------------------------
// DPoP

namespace {
struct BnFree { void operator()(BIGNUM* b) const noexcept { BN_free(b); } };
struct ParamBldFree { void operator()(OSSL_PARAM_BLD* b) const noexcept { OSSL_PARAM_BLD_free(b); } };
struct ParamFree { void operator()(OSSL_PARAM* p) const noexcept { OSSL_PARAM_free(p); } };
struct PkeyCtxFree { void operator()(EVP_PKEY_CTX* c) const noexcept { EVP_PKEY_CTX_free(c); } };

// A coordinate of a P-256 public key, base64url of its fixed-width big-endian bytes.
std::optional<std::string> coordinate(EVP_PKEY* k, const char* name) {
  BIGNUM* raw = nullptr;
  if (EVP_PKEY_get_bn_param(k, name, &raw) != 1) return std::nullopt;
  std::unique_ptr<BIGNUM, BnFree> bn(raw);
  std::string out(kCoordBytes, '\0');
  if (BN_bn2binpad(bn.get(), reinterpret_cast<unsigned char*>(out.data()), kCoordBytes) != static_cast<int>(kCoordBytes))
    return std::nullopt;
  return base64url_encode(out);
}
}  // namespace

Result<DpopKey> DpopKey::from_native(std::shared_ptr<evp_pkey_st> key) {
  DpopKey k;
  auto x = coordinate(key.get(), OSSL_PKEY_PARAM_EC_PUB_X);
  auto y = coordinate(key.get(), OSSL_PKEY_PARAM_EC_PUB_Y);
  ERR_clear_error();
  if (!x || !y) return fail(Errc::invalid_config, "could not read the DPoP public key");
  k.jwk_ = {{"kty", "EC"}, {"crv", "P-256"}, {"x", *x}, {"y", *y}};
  auto t = jwk_thumbprint(k.jwk_);
  if (!t) return fail(t.error());
  k.thumbprint_ = *t;
  k.key_ = std::move(key);
  return k;
}

Result<DpopKey> DpopKey::generate() {
  EVP_PKEY* raw = EVP_PKEY_Q_keygen(nullptr, nullptr, "EC", "P-256");
  ERR_clear_error();
  if (!raw) return fail(Errc::invalid_config, "could not generate a DPoP key");
  return from_native(std::shared_ptr<evp_pkey_st>(raw, EVP_PKEY_free));
}

Result<DpopKey> DpopKey::from_pem(std::string_view private_key_pem) {
  auto key = load_key(private_key_pem, true);
  if (!key) return fail(key.error());
  return from_native(std::shared_ptr<evp_pkey_st>(key->release(), EVP_PKEY_free));
}

Result<std::string> make_dpop_proof(const DpopKey& key, const DpopProofOptions& opts) {
  if (!key.native()) return fail(Errc::invalid_config, "DPoP proof without a key");
  if (opts.method.empty()) return fail(Errc::invalid_config, "DPoP proof needs the HTTP method");
  if (opts.url.empty()) return fail(Errc::invalid_config, "DPoP proof needs the request URL");
  auto jti = random_token(16);
  if (!jti) return fail(jti.error());
  auto now = opts.issued_at == std::chrono::system_clock::time_point{} ? std::chrono::system_clock::now()
                                                                        : opts.issued_at;
  nlohmann::json header = {{"typ", "dpop+jwt"}, {"alg", "ES256"}, {"jwk", key.public_jwk()}};
  nlohmann::json claims = {{"jti", *jti},
                           {"htm", opts.method},
                           {"htu", opts.url.substr(0, opts.url.find_first_of("?#"))},
                           {"iat", std::chrono::duration_cast<std::chrono::seconds>(now.time_since_epoch()).count()}};
  if (!opts.access_token.empty()) claims["ath"] = sha256_base64url(opts.access_token);
  if (!opts.nonce.empty()) claims["nonce"] = opts.nonce;
  return sign_es256(key.native(), header, claims, "could not sign the DPoP proof");
}

Result<std::string> jwk_thumbprint(const nlohmann::json& jwk) {
  if (!jwk.is_object()) return fail(Errc::invalid_config, "JWK is not an object");
  nlohmann::json members = nlohmann::json::object();
  for (const char* k : {"crv", "kty", "x", "y"}) {
    auto it = jwk.find(k);
    if (it == jwk.end() || !it->is_string()) return fail(Errc::invalid_config, "JWK is not an EC public key");
    members[k] = *it;
  }
  return sha256_base64url(members.dump());  // RFC 7638 3: sorted members, no whitespace
}

Result<std::string> ec_public_pem_from_jwk(const nlohmann::json& jwk) {
  if (!jwk.is_object() || jwk.value("kty", "") != "EC" || jwk.value("crv", "") != "P-256")
    return fail(Errc::unauthorized, "JWK is not an EC P-256 key");
  if (jwk.contains("d")) return fail(Errc::unauthorized, "JWK carries a private key");
  auto x = base64url_decode(jwk.value("x", ""));
  auto y = base64url_decode(jwk.value("y", ""));
  if (!x || !y || x->size() != kCoordBytes || y->size() != kCoordBytes)
    return fail(Errc::unauthorized, "JWK coordinates are malformed");
  std::string point = "\x04" + *x + *y;  // uncompressed SEC1 point
  std::unique_ptr<OSSL_PARAM_BLD, ParamBldFree> bld(OSSL_PARAM_BLD_new());
  char group[] = "prime256v1";
  if (!bld || OSSL_PARAM_BLD_push_utf8_string(bld.get(), OSSL_PKEY_PARAM_GROUP_NAME, group, 0) != 1 ||
      OSSL_PARAM_BLD_push_octet_string(bld.get(), OSSL_PKEY_PARAM_PUB_KEY, point.data(), point.size()) != 1) {
    ERR_clear_error();
    return fail(Errc::unauthorized, "could not build the public key");
  }
  std::unique_ptr<OSSL_PARAM, ParamFree> params(OSSL_PARAM_BLD_to_param(bld.get()));
  std::unique_ptr<EVP_PKEY_CTX, PkeyCtxFree> ctx(EVP_PKEY_CTX_new_from_name(nullptr, "EC", nullptr));
  EVP_PKEY* raw = nullptr;
  if (!params || !ctx || EVP_PKEY_fromdata_init(ctx.get()) != 1 ||
      EVP_PKEY_fromdata(ctx.get(), &raw, EVP_PKEY_PUBLIC_KEY, params.get()) != 1) {
    ERR_clear_error();
    return fail(Errc::unauthorized, "JWK is not a point on P-256");
  }
  PkeyPtr key(raw);
  // fromdata does not check the point: make sure it is on the curve.
  std::unique_ptr<EVP_PKEY_CTX, PkeyCtxFree> check(EVP_PKEY_CTX_new_from_pkey(nullptr, key.get(), nullptr));
  if (!check || EVP_PKEY_public_check(check.get()) != 1) {
    ERR_clear_error();
    return fail(Errc::unauthorized, "JWK is not a point on P-256");
  }
  std::unique_ptr<BIO, BioFree> bio(BIO_new(BIO_s_mem()));
  if (!bio || PEM_write_bio_PUBKEY(bio.get(), key.get()) != 1) {
    ERR_clear_error();
    return fail(Errc::unauthorized, "could not encode the public key");
  }
  char* data = nullptr;
  long n = BIO_get_mem_data(bio.get(), &data);
  return std::string(data, static_cast<std::size_t>(n));
}

// ---------------------------------------------------------------------------------------------
// Authorization response

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
