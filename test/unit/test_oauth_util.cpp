// SPDX-License-Identifier: MIT
#include "../../lib/auth/oauth_util.hpp"  // private header: lib/ is not on the public include path

#include <mcp/oauth.hpp>

#include <doctest/doctest.h>
#include <openssl/evp.h>
#include <openssl/pem.h>

#include <chrono>
#include <cstdlib>
#include <thread>
#include <unistd.h>
#include <memory>
#include <random>
#include <set>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace oauth = mcp::detail::oauth;
using oauth::AuthChallenge;

namespace {

std::string param_or(const AuthChallenge& c, std::string_view n, std::string def = "<none>") {
  const auto* v = c.param(n);
  return v ? *v : def;
}

struct KeyPair {
  std::string private_pem;
  std::string public_pem;
};

KeyPair generate_p256() {
  EVP_PKEY* k = EVP_EC_gen("P-256");
  REQUIRE(k != nullptr);
  std::unique_ptr<EVP_PKEY, void (*)(EVP_PKEY*)> key(k, EVP_PKEY_free);
  auto dump = [&](bool priv) {
    std::unique_ptr<BIO, int (*)(BIO*)> bio(BIO_new(BIO_s_mem()), BIO_free);
    int ok = priv ? PEM_write_bio_PrivateKey(bio.get(), key.get(), nullptr, nullptr, 0, nullptr, nullptr)
                  : PEM_write_bio_PUBKEY(bio.get(), key.get());
    REQUIRE(ok == 1);
    char* data = nullptr;
    long n = BIO_get_mem_data(bio.get(), &data);
    return std::string(data, static_cast<std::size_t>(n));
  };
  return {dump(true), dump(false)};
}

oauth::ClientAssertionOptions assertion_opts(std::string client_id, std::string audience) {
  oauth::ClientAssertionOptions o;
  o.client_id = std::move(client_id);
  o.audience = std::move(audience);
  return o;
}

}  // namespace

// ---------------------------------------------------------------------------------------------
// WWW-Authenticate

TEST_CASE("oauth: WWW-Authenticate single Bearer challenge from the MCP spec") {
  auto ch = oauth::parse_www_authenticate(
      R"(Bearer resource_metadata="https://mcp.example.com/.well-known/oauth-protected-resource",)"
      "\r\n                         " R"(scope="files:read")");
  REQUIRE(ch.size() == 1);
  CHECK(ch[0].scheme == "Bearer");
  CHECK(ch[0].is_scheme("bearer"));
  CHECK(param_or(ch[0], "resource_metadata") == "https://mcp.example.com/.well-known/oauth-protected-resource");
  CHECK(param_or(ch[0], "SCOPE") == "files:read");
}

TEST_CASE("oauth: WWW-Authenticate insufficient_scope helper") {
  auto b = oauth::parse_bearer_challenge(
      R"(Bearer error="insufficient_scope", scope="files:write", )"
      R"(resource_metadata="https://mcp.example.com/.well-known/oauth-protected-resource", )"
      R"(error_description="File write permission required for this operation")");
  REQUIRE(b);
  CHECK(b->error == "insufficient_scope");
  CHECK(b->scope == "files:write");
  CHECK(b->resource_metadata == "https://mcp.example.com/.well-known/oauth-protected-resource");
  CHECK(b->error_description == "File write permission required for this operation");
  CHECK_FALSE(b->realm);
}

TEST_CASE("oauth: WWW-Authenticate multiple challenges, quoted commas, escapes, case") {
  auto ch = oauth::parse_www_authenticate(
      R"(Newauth realm="apps", type=1, title="Login to \"apps\"", Basic realm="simple, really", )"
      R"(BEARER REALM="x", Scope="a b", error=invalid_token)");
  REQUIRE(ch.size() == 3);
  CHECK(ch[0].scheme == "Newauth");
  CHECK(param_or(ch[0], "realm") == "apps");
  CHECK(param_or(ch[0], "type") == "1");
  CHECK(param_or(ch[0], "title") == R"(Login to "apps")");
  CHECK(ch[1].scheme == "Basic");
  CHECK(param_or(ch[1], "realm") == "simple, really");
  CHECK(ch[2].is_scheme("Bearer"));
  CHECK(param_or(ch[2], "realm") == "x");
  auto b = oauth::find_bearer_challenge(ch);
  REQUIRE(b);
  CHECK(b->scope == "a b");
  CHECK(b->error == "invalid_token");
  CHECK(b->realm == "x");
}

TEST_CASE("oauth: WWW-Authenticate token68, bare schemes, BWS and unquoted URLs") {
  auto ch = oauth::parse_www_authenticate("Negotiate abc+/def==, Bearer, DPoP algs=\"ES256 PS256\"");
  REQUIRE(ch.size() == 3);
  CHECK(ch[0].scheme == "Negotiate");
  CHECK(ch[0].token68 == "abc+/def==");
  CHECK(ch[0].params.empty());
  CHECK(ch[1].scheme == "Bearer");
  CHECK(ch[1].params.empty());
  CHECK(param_or(ch[2], "algs") == "ES256 PS256");

  auto b = oauth::parse_bearer_challenge(
      "Bearer resource_metadata = https://x.example/.well-known/oauth-protected-resource/mcp , scope = read");
  REQUIRE(b);
  CHECK(b->resource_metadata == "https://x.example/.well-known/oauth-protected-resource/mcp");
  CHECK(b->scope == "read");

  // Bare "Bearer" still counts as a Bearer challenge with no parameters.
  auto bare = oauth::parse_bearer_challenge("Bearer");
  REQUIRE(bare);
  CHECK(*bare == oauth::BearerChallenge{});
  CHECK_FALSE(oauth::parse_bearer_challenge("Basic realm=\"x\""));
  CHECK_FALSE(oauth::parse_bearer_challenge(""));
}

TEST_CASE("oauth: WWW-Authenticate duplicate params keep the first; empty quoted values") {
  auto ch = oauth::parse_www_authenticate(R"(Bearer scope="a", SCOPE="b", realm="")");
  REQUIRE(ch.size() == 1);
  CHECK(param_or(ch[0], "scope") == "a");
  CHECK(param_or(ch[0], "realm") == "");
}

TEST_CASE("oauth: WWW-Authenticate garbage never throws and stays bounded") {
  const std::vector<std::string> inputs = {
      "", ",,,,", "   ", "=", "\"", "\"unterminated", "Bearer \"", "Bearer realm=\"unterminated\\",
      "Bearer realm=\"a\" junk junk, scope=\"b\"", "Bearer=x", "@@@ Bearer scope=x", "Bearer ,,, ,scope=z",
      "Bearer realm=\"x\\\"", "\\\\\\", std::string(1, '\0') + "Bearer", "Bearer a=b=c=d",
      "Bearer\tscope=\"t\"", "Bearer scope=", "Bearer ====", "\xff\xfe Bearer scope=\"\xff\""};
  for (const auto& in : inputs) {
    CAPTURE(in);
    std::vector<AuthChallenge> ch;
    CHECK_NOTHROW(ch = oauth::parse_www_authenticate(in));
    CHECK(ch.size() <= oauth::kMaxChallenges);
  }
  // Junk after a value is skipped up to the next comma, the following param still parses.
  auto b = oauth::parse_bearer_challenge("Bearer realm=\"a\" junk junk, scope=\"b\"");
  REQUIRE(b);
  CHECK(b->realm == "a");
  CHECK(b->scope == "b");
  // Garbage before a valid challenge does not hide it.
  auto b2 = oauth::parse_bearer_challenge("@@@, Bearer scope=x");
  REQUIRE(b2);
  CHECK(b2->scope == "x");
  // Unterminated quoted string ends at the end of the header.
  auto b3 = oauth::parse_bearer_challenge("Bearer scope=\"abc");
  REQUIRE(b3);
  CHECK(b3->scope == "abc");

  // Huge and repetitive input: bounded counts.
  std::string many;
  for (int i = 0; i < 10000; ++i) many += "S" + std::to_string(i) + " a=b, ";
  auto ch = oauth::parse_www_authenticate(many);
  CHECK(ch.size() == oauth::kMaxChallenges);
  std::string params = "Bearer ";
  for (int i = 0; i < 1000; ++i) params += "p" + std::to_string(i) + "=v, ";
  ch = oauth::parse_www_authenticate(params);
  REQUIRE(ch.size() == 1);
  CHECK(ch[0].params.size() == oauth::kMaxParams);

  // Random bytes.
  std::mt19937 rng(1234);
  const std::string alphabet = "Bb=\", \\\t\r\nearer scope a-_./+~@";
  for (int round = 0; round < 2000; ++round) {
    std::string s;
    auto n = rng() % 64;
    for (unsigned i = 0; i < n; ++i)
      s.push_back((rng() % 4 == 0) ? static_cast<char>(rng() % 256) : alphabet[rng() % alphabet.size()]);
    CHECK_NOTHROW((void)oauth::parse_www_authenticate(s));
  }
}

// ---------------------------------------------------------------------------------------------
// URLs

TEST_CASE("oauth: canonical resource URI") {
  CHECK(oauth::canonical_resource_uri("HTTPS://MCP.Example.COM/mcp").value() == "https://mcp.example.com/mcp");
  CHECK(oauth::canonical_resource_uri("https://mcp.example.com/").value() == "https://mcp.example.com");
  CHECK(oauth::canonical_resource_uri("https://mcp.example.com").value() == "https://mcp.example.com");
  CHECK(oauth::canonical_resource_uri("https://mcp.example.com:8443").value() == "https://mcp.example.com:8443");
  CHECK(oauth::canonical_resource_uri("https://mcp.example.com:443/x").value() == "https://mcp.example.com/x");
  CHECK(oauth::canonical_resource_uri("https://mcp.example.com/server/MCP#frag").value() ==
        "https://mcp.example.com/server/MCP");
  CHECK(oauth::canonical_resource_uri("http://[::1]:3000/mcp?tenant=a").value() == "http://[::1]:3000/mcp?tenant=a");
  CHECK_FALSE(oauth::canonical_resource_uri("mcp.example.com"));
  CHECK_FALSE(oauth::canonical_resource_uri("ftp://mcp.example.com"));
  CHECK_FALSE(oauth::canonical_resource_uri("https://"));
  CHECK_FALSE(oauth::canonical_resource_uri("https://host:port/"));
  auto ui = oauth::canonical_resource_uri("https://user:hunter2@mcp.example.com/mcp");
  REQUIRE_FALSE(ui);
  CHECK(ui.error().message.find("hunter2") == std::string::npos);
  CHECK(ui.error().errc() == mcp::Errc::invalid_config);
}

TEST_CASE("oauth: protected resource metadata URL candidates") {
  using V = std::vector<std::string>;
  CHECK(oauth::protected_resource_metadata_urls("https://example.com/public/mcp").value() ==
        V{"https://example.com/.well-known/oauth-protected-resource/public/mcp",
          "https://example.com/.well-known/oauth-protected-resource"});
  CHECK(oauth::protected_resource_metadata_urls("https://example.com/mcp/").value() ==
        V{"https://example.com/.well-known/oauth-protected-resource/mcp",
          "https://example.com/.well-known/oauth-protected-resource"});
  CHECK(oauth::protected_resource_metadata_urls("https://Example.com").value() ==
        V{"https://example.com/.well-known/oauth-protected-resource"});
  CHECK(oauth::protected_resource_metadata_urls("https://example.com/").value() ==
        V{"https://example.com/.well-known/oauth-protected-resource"});
  CHECK(oauth::protected_resource_metadata_urls("http://localhost:8080/mcp?x=1#f").value() ==
        V{"http://localhost:8080/.well-known/oauth-protected-resource/mcp?x=1",
          "http://localhost:8080/.well-known/oauth-protected-resource"});
  // The header's URL comes first, verbatim.
  CHECK(oauth::protected_resource_metadata_urls("https://example.com/mcp",
                                                std::string_view("https://meta.example.com/prm"))
            .value() == V{"https://meta.example.com/prm",
                          "https://example.com/.well-known/oauth-protected-resource/mcp",
                          "https://example.com/.well-known/oauth-protected-resource"});
  // ... and is not repeated when equal to a constructed one.
  CHECK(oauth::protected_resource_metadata_urls(
            "https://example.com/mcp",
            std::string_view("https://example.com/.well-known/oauth-protected-resource"))
            .value() == V{"https://example.com/.well-known/oauth-protected-resource",
                          "https://example.com/.well-known/oauth-protected-resource/mcp"});
  // A non-http(s) header value is ignored.
  CHECK(oauth::protected_resource_metadata_urls("https://example.com", std::string_view("javascript:alert(1)"))
            .value() == V{"https://example.com/.well-known/oauth-protected-resource"});
  CHECK_FALSE(oauth::protected_resource_metadata_urls("not a url"));
}

TEST_CASE("oauth: authorization server metadata URL candidates") {
  using V = std::vector<std::string>;
  CHECK(oauth::authorization_server_metadata_urls("https://auth.example.com/tenant1").value() ==
        V{"https://auth.example.com/.well-known/oauth-authorization-server/tenant1",
          "https://auth.example.com/.well-known/openid-configuration/tenant1",
          "https://auth.example.com/tenant1/.well-known/openid-configuration"});
  CHECK(oauth::authorization_server_metadata_urls("https://auth.example.com/a/b/").value() ==
        V{"https://auth.example.com/.well-known/oauth-authorization-server/a/b",
          "https://auth.example.com/.well-known/openid-configuration/a/b",
          "https://auth.example.com/a/b/.well-known/openid-configuration"});
  CHECK(oauth::authorization_server_metadata_urls("https://auth.example.com").value() ==
        V{"https://auth.example.com/.well-known/oauth-authorization-server",
          "https://auth.example.com/.well-known/openid-configuration"});
  CHECK(oauth::authorization_server_metadata_urls("https://auth.example.com:9000/").value() ==
        V{"https://auth.example.com:9000/.well-known/oauth-authorization-server",
          "https://auth.example.com:9000/.well-known/openid-configuration"});
  CHECK_FALSE(oauth::authorization_server_metadata_urls("https://auth.example.com/?q=1"));
  CHECK_FALSE(oauth::authorization_server_metadata_urls("https://auth.example.com/#f"));
  CHECK_FALSE(oauth::authorization_server_metadata_urls("auth.example.com"));
}

TEST_CASE("oauth: form encoding and query parsing") {
  CHECK(oauth::form_urlencode("https://mcp.example.com") == "https%3A%2F%2Fmcp.example.com");
  CHECK(oauth::form_urlencode("a b&c=d") == "a+b%26c%3Dd");
  CHECK(oauth::form_urldecode("a+b%26c%3Dd%2") == "a b&c=d%2");
  CHECK(oauth::form_urldecode("%zz%4") == "%zz%4");
  auto q = oauth::parse_query("a=1&&b=x+y&c&d=%3D");
  REQUIRE(q.size() == 4);
  CHECK(q[1] == std::pair<std::string, std::string>{"b", "x y"});
  CHECK(q[2].first == "c");
  CHECK(q[3].second == "=");
}

// ---------------------------------------------------------------------------------------------
// Base64url, PKCE

TEST_CASE("oauth: base64url round trip and RFC 4648 vectors") {
  CHECK(oauth::base64url_encode("") == "");
  CHECK(oauth::base64url_encode("f") == "Zg");
  CHECK(oauth::base64url_encode("fo") == "Zm8");
  CHECK(oauth::base64url_encode("foo") == "Zm9v");
  CHECK(oauth::base64url_encode("foobar") == "Zm9vYmFy");
  CHECK(oauth::base64url_encode("\xfb\xff") == "-_8");
  CHECK(oauth::base64url_decode("Zm9vYg").value() == "foob");
  CHECK(oauth::base64url_decode("Zm9vYg==").value() == "foob");
  CHECK(oauth::base64url_decode("-_8").value() == "\xfb\xff");
  CHECK_FALSE(oauth::base64url_decode("Zm9vY"));      // impossible length
  CHECK_FALSE(oauth::base64url_decode("Zm+v"));       // standard alphabet rejected
  CHECK_FALSE(oauth::base64url_decode("Zh"));         // non-canonical trailing bits
  CHECK_FALSE(oauth::base64url_decode("Zm=9"));
  std::mt19937 rng(7);
  for (int i = 0; i < 200; ++i) {
    std::string s(rng() % 50, '\0');
    for (auto& c : s) c = static_cast<char>(rng() % 256);
    CHECK(oauth::base64url_decode(oauth::base64url_encode(s)).value() == s);
  }
}

TEST_CASE("oauth: PKCE RFC 7636 Appendix B test vector") {
  CHECK(oauth::code_challenge_s256("dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk") ==
        "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM");
  CHECK(oauth::is_valid_code_verifier("dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk"));
}

TEST_CASE("oauth: PKCE verifier generation") {
  std::set<std::string> seen;
  for (std::size_t len : {43u, 64u, 128u}) {
    auto v = oauth::generate_code_verifier(len);
    REQUIRE(v);
    CHECK(v->size() == len);
    CHECK(oauth::is_valid_code_verifier(*v));
    CHECK(seen.insert(*v).second);
  }
  CHECK_FALSE(oauth::generate_code_verifier(42));
  CHECK_FALSE(oauth::generate_code_verifier(129));
  CHECK_FALSE(oauth::is_valid_code_verifier(std::string(43, '!')));
  auto p = oauth::make_pkce();
  REQUIRE(p);
  CHECK(p->method == "S256");
  CHECK(p->challenge == oauth::code_challenge_s256(p->verifier));
  CHECK(p->challenge.size() == 43);
  auto t = oauth::random_token();
  REQUIRE(t);
  CHECK(t->size() == 43);
  CHECK(oauth::random_token().value() != *t);
}

// ---------------------------------------------------------------------------------------------
// Scopes

TEST_CASE("oauth: scope selection strategy") {
  nlohmann::json prm = {{"resource", "https://mcp.example.com"},
                        {"scopes_supported", {"files:read", "files:write", 7, "files:read"}}};
  CHECK(oauth::select_scope(std::string("files:read"), prm) == "files:read");
  CHECK(oauth::select_scope(std::string("  a   b "), prm) == "a b");
  CHECK(oauth::select_scope(std::nullopt, prm) == "files:read files:write");
  CHECK(oauth::select_scope(std::string("   "), prm) == "files:read files:write");
  CHECK_FALSE(oauth::select_scope(std::nullopt, nlohmann::json{{"resource", "x"}}));
  CHECK_FALSE(oauth::select_scope(std::nullopt, nlohmann::json{{"scopes_supported", "a b"}}));
  CHECK_FALSE(oauth::select_scope(std::nullopt, nlohmann::json{{"scopes_supported", nlohmann::json::array()}}));
  CHECK_FALSE(oauth::select_scope(std::nullopt, nlohmann::json()));
  CHECK(oauth::union_scopes("files:read mcp", "files:write files:read") == "files:read mcp files:write");
  CHECK(oauth::union_scopes("", "") == "");
  nlohmann::json as = {{"scopes_supported", {"openid", "offline_access"}}};
  CHECK(oauth::add_offline_access_if_supported("files:read", as) == "files:read offline_access");
  CHECK(oauth::add_offline_access_if_supported("offline_access x", as) == "offline_access x");
  CHECK(oauth::add_offline_access_if_supported("files:read", nlohmann::json::object()) == "files:read");
}

// ---------------------------------------------------------------------------------------------
// JWT client assertion

TEST_CASE("oauth: ES256 client assertion sign/verify round trip") {
  auto keys = generate_p256();
  oauth::ClientAssertionOptions opts;
  opts.client_id = "https://client.example.com/metadata.json";
  opts.audience = "https://auth.example.com/token";
  opts.key_id = "key-1";
  opts.issued_at = std::chrono::system_clock::time_point(std::chrono::seconds(1'700'000'000));
  auto jwt = oauth::make_client_assertion_es256(keys.private_pem, opts);
  REQUIRE(jwt);
  auto v = oauth::verify_jws_es256(*jwt, keys.public_pem);
  REQUIRE(v);
  CHECK(v->header["alg"] == "ES256");
  CHECK(v->header["typ"] == "JWT");
  CHECK(v->header["kid"] == "key-1");
  CHECK(v->claims["iss"] == opts.client_id);
  CHECK(v->claims["sub"] == opts.client_id);
  CHECK(v->claims["aud"] == opts.audience);
  CHECK(v->claims["iat"] == 1'700'000'000);
  CHECK(v->claims["exp"] == 1'700'000'300);
  REQUIRE(v->claims["jti"].is_string());
  CHECK(v->claims["jti"].get<std::string>().size() >= 16);

  // Signature is the raw 64-byte R||S.
  auto dot = jwt->rfind('.');
  CHECK(oauth::base64url_decode(std::string_view(*jwt).substr(dot + 1)).value().size() == 64);

  // jti is fresh each time; "now" is used by default.
  opts.issued_at = {};
  auto jwt2 = oauth::make_client_assertion_es256(keys.private_pem, opts);
  REQUIRE(jwt2);
  auto v2 = oauth::verify_jws_es256(*jwt2, keys.public_pem);
  REQUIRE(v2);
  CHECK(v2->claims["jti"] != v->claims["jti"]);
  auto now = std::chrono::duration_cast<std::chrono::seconds>(
                 std::chrono::system_clock::now().time_since_epoch()).count();
  CHECK(v2->claims["iat"].get<long long>() <= now);
  CHECK(v2->claims["iat"].get<long long>() >= now - 60);

  // Wrong key, tampered payload, tampered signature, alg none: all rejected.
  auto other = generate_p256();
  CHECK_FALSE(oauth::verify_jws_es256(*jwt, other.public_pem));
  std::string tampered = *jwt;
  auto d1 = tampered.find('.');
  auto claims_b64 = tampered.substr(d1 + 1, dot - d1 - 1);
  auto claims = nlohmann::json::parse(oauth::base64url_decode(claims_b64).value());
  claims["sub"] = "attacker";
  tampered = tampered.substr(0, d1 + 1) + oauth::base64url_encode(claims.dump()) + tampered.substr(dot);
  CHECK_FALSE(oauth::verify_jws_es256(tampered, keys.public_pem));
  std::string badsig = *jwt;
  badsig[badsig.size() - 5] = badsig[badsig.size() - 5] == 'A' ? 'B' : 'A';
  CHECK_FALSE(oauth::verify_jws_es256(badsig, keys.public_pem));
  std::string none = oauth::base64url_encode(R"({"alg":"none"})") + "." + claims_b64 + ".";
  CHECK_FALSE(oauth::verify_jws_es256(none, keys.public_pem));
  CHECK_FALSE(oauth::verify_jws_es256("a.b", keys.public_pem));
  CHECK_FALSE(oauth::verify_jws_es256("a.b.c.d", keys.public_pem));
  CHECK_FALSE(oauth::verify_jws_es256("!!.??.**", keys.public_pem));
}

TEST_CASE("oauth: client assertion rejects bad keys without leaking them") {
  auto opts = assertion_opts("client", "https://as/token");
  auto keys = generate_p256();
  // A public key where a private one is required.
  auto r1 = oauth::make_client_assertion_es256(keys.public_pem, opts);
  REQUIRE_FALSE(r1);
  CHECK(r1.error().message.find("BEGIN") == std::string::npos);
  // Garbage that looks like a PEM with a secret body.
  std::string fake = "-----BEGIN PRIVATE KEY-----\nc2VjcmV0LWtleS1tYXRlcmlhbA==\n-----END PRIVATE KEY-----\n";
  auto r2 = oauth::make_client_assertion_es256(fake, opts);
  REQUIRE_FALSE(r2);
  CHECK(r2.error().message.find("c2VjcmV0") == std::string::npos);
  CHECK(r2.error().what().find("c2VjcmV0") == std::string::npos);
  // A non-P-256 key (P-384).
  EVP_PKEY* k = EVP_EC_gen("P-384");
  REQUIRE(k);
  std::unique_ptr<BIO, int (*)(BIO*)> bio(BIO_new(BIO_s_mem()), BIO_free);
  REQUIRE(PEM_write_bio_PrivateKey(bio.get(), k, nullptr, nullptr, 0, nullptr, nullptr) == 1);
  EVP_PKEY_free(k);
  char* data = nullptr;
  long n = BIO_get_mem_data(bio.get(), &data);
  auto r3 = oauth::make_client_assertion_es256(std::string(data, static_cast<std::size_t>(n)), opts);
  REQUIRE_FALSE(r3);
  CHECK(r3.error().message.find("P-256") != std::string::npos);
  // Missing claims inputs.
  CHECK_FALSE(oauth::make_client_assertion_es256(keys.private_pem, assertion_opts("", "aud")));
  CHECK_FALSE(oauth::make_client_assertion_es256(keys.private_pem, assertion_opts("id", "")));
}

// ---------------------------------------------------------------------------------------------
// Authorization response

TEST_CASE("oauth: authorization response validation (RFC 9207, state)") {
  const std::string code = "SplxlOBeZQQYbYS6WxSbIA-secret-code";
  const std::string state = "xyz-STATE-value-123";
  oauth::ExpectedAuthorization exp{state, "https://auth.example.com", false};
  const std::string cb = "http://127.0.0.1:33418/callback";

  auto ok = oauth::validate_authorization_response(
      cb + "?code=" + code + "&state=" + state + "&iss=https%3A%2F%2Fauth.example.com", exp);
  REQUIRE(ok);
  CHECK(ok->code == code);
  CHECK(ok->iss == "https://auth.example.com");

  // iss absent, AS does not advertise it: proceed.
  CHECK(oauth::validate_authorization_response(cb + "?code=" + code + "&state=" + state, exp));

  std::vector<std::pair<std::string, oauth::ExpectedAuthorization>> bad = {
      // iss mismatch (also no normalisation: case and trailing slash differ).
      {cb + "?code=" + code + "&state=" + state + "&iss=https%3A%2F%2Fevil.example.com", exp},
      {cb + "?code=" + code + "&state=" + state + "&iss=https%3A%2F%2FAUTH.example.com", exp},
      {cb + "?code=" + code + "&state=" + state + "&iss=https%3A%2F%2Fauth.example.com%2F", exp},
      // iss absent while advertised.
      {cb + "?code=" + code + "&state=" + state, {state, "https://auth.example.com", true}},
      // state mismatch / missing / unexpected.
      {cb + "?code=" + code + "&state=" + state + "x", exp},
      {cb + "?code=" + code, exp},
      {cb + "?code=" + code + "&state=" + state, {"", "https://auth.example.com", false}},
      // duplicates.
      {cb + "?code=" + code + "&code=" + code + "x&state=" + state, exp},
      {cb + "?code=" + code + "&state=" + state + "&state=" + state, exp},
      // no code.
      {cb + "?state=" + state, exp},
      {cb + "?code=&state=" + state, exp},
      {cb, exp},
  };
  for (const auto& [url, e] : bad) {
    CAPTURE(url);
    auto r = oauth::validate_authorization_response(url, e);
    REQUIRE_FALSE(r);
    CHECK(r.error().errc() == mcp::Errc::unauthorized);
    const auto what = r.error().what();
    CHECK(what.find(code) == std::string::npos);
    CHECK(what.find(state) == std::string::npos);
    CHECK(what.find("evil") == std::string::npos);
    CHECK(what.find("127.0.0.1") == std::string::npos);
  }
}

TEST_CASE("oauth: error responses are shown only after iss and state check out") {
  oauth::ExpectedAuthorization exp{"st4te", "https://auth.example.com", true};
  auto err = oauth::validate_authorization_response(
      "https://app/cb?error=access_denied&error_description=User+said+no&state=st4te&iss=https%3A%2F%2Fauth.example.com",
      exp);
  REQUIRE_FALSE(err);
  CHECK(err.error().message.find("access_denied") != std::string::npos);
  CHECK(err.error().message.find("User said no") != std::string::npos);

  // Mismatched iss: the error and description must not be acted on or displayed.
  auto mix = oauth::validate_authorization_response(
      "https://app/cb?error=access_denied&error_description=Call+1-800-PHISH&state=st4te&iss=https%3A%2F%2Fevil", exp);
  REQUIRE_FALSE(mix);
  CHECK(mix.error().message.find("PHISH") == std::string::npos);
  CHECK(mix.error().message.find("access_denied") == std::string::npos);
  CHECK(mix.error().message.find("iss") != std::string::npos);

  // Control characters in the AS error are neutralised.
  auto ctl = oauth::validate_authorization_response(
      "https://app/cb?error=x%0d%0aInjected&state=st4te&iss=https%3A%2F%2Fauth.example.com", exp);
  REQUIRE_FALSE(ctl);
  CHECK(ctl.error().message.find('\n') == std::string::npos);
}

TEST_CASE("oauth: no secret appears in any error string") {
  const std::string secret = "TOPSECRET-token-9f8e7d";
  std::vector<std::string> messages;
  auto collect = [&](const auto& r) {
    if (!r) messages.push_back(r.error().what());
  };
  collect(oauth::canonical_resource_uri("https://u:" + secret + "@h/"));
  collect(oauth::canonical_resource_uri("ftp://h/?token=" + secret));
  collect(oauth::protected_resource_metadata_urls("nope://" + secret));
  collect(oauth::authorization_server_metadata_urls("https://h/?access_token=" + secret));
  collect(oauth::split_url(secret));
  collect(oauth::make_client_assertion_es256(secret, assertion_opts("c", "a")));
  collect(oauth::verify_jws_es256(secret + "." + secret + "." + secret, secret));
  collect(oauth::verify_jws_es256(oauth::base64url_encode(R"({"alg":"ES256"})") + ".e30." +
                                      oauth::base64url_encode(std::string(64, 'x')),
                                  secret));
  collect(oauth::DpopKey::from_pem(secret));
  collect(oauth::ec_public_pem_from_jwk(nlohmann::json{{"kty", "EC"}, {"crv", "P-256"}, {"x", secret}, {"y", secret}}));
  oauth::ExpectedAuthorization exp{secret, "https://as", false};
  collect(oauth::validate_authorization_response("https://cb/?code=" + secret + "&state=no", exp));
  collect(oauth::validate_authorization_response("https://cb/?state=" + secret + "x", exp));
  collect(oauth::validate_authorization_response("https://cb/?code=" + secret + "&iss=x", exp));
  collect(oauth::validate_authorization_response("https://cb/?state=" + secret, exp));
  CHECK(messages.size() == 14);
  for (const auto& m : messages) {
    CAPTURE(m);
    CHECK(m.find(secret) == std::string::npos);
    CHECK(m.find("TOPSECRET") == std::string::npos);
    CHECK_FALSE(m.empty());
  }
}

// ---------------------------------------------------------------------------------------------
// DPoP (RFC 9449)

namespace {
// RFC 7517 A.1/A.2's EC P-256 key; its RFC 7638 thumbprint as jose computes it.
const char* kRfc7517Pem =
    "-----BEGIN PRIVATE KEY-----\n"
    "MIGHAgEAMBMGByqGSM49AgEGCCqGSM49AwEHBG0wawIBAQQg870MB6gfuTJ4HtUn\n"
    "UvYMyJpr5eUZNP4Bk43bVdj3eAGhRANCAAQwoEJM0hwpRIOKLXXJKzfnbqINnwCJ\n"
    "OjtO7oo8Cq/sPuBLZekkVtmIi1Kzeb371R7oae8fD8ZbZllpW2zOCBcj\n"
    "-----END PRIVATE KEY-----\n";
const char* kRfc7517X = "MKBCTNIcKUSDii11ySs3526iDZ8AiTo7Tu6KPAqv7D4";
const char* kRfc7517Y = "4Etl6SRW2YiLUrN5vfvVHuhp7x8PxltmWWlbbM4IFyM";
const char* kRfc7517Thumbprint = "cn-I_WNMClehiVp51i_0VpOENW1upEerA8sEam5hn-s";

// Verifies a DPoP proof the way a server does: with the public key of its own `jwk` header.
mcp::Result<oauth::VerifiedJws> verify_proof(const std::string& proof) {
  auto dot = proof.find('.');
  auto header = oauth::base64url_decode(proof.substr(0, dot));
  REQUIRE(header);
  auto jwk = nlohmann::json::parse(*header).at("jwk");
  auto pem = oauth::ec_public_pem_from_jwk(jwk);
  if (!pem) return mcp::fail(pem.error());
  return oauth::verify_jws_es256(proof, *pem);
}
}  // namespace

TEST_CASE("oauth: DPoP key from PEM: public JWK and RFC 7638 thumbprint") {
  auto k = oauth::DpopKey::from_pem(kRfc7517Pem);
  REQUIRE(k);
  CHECK(k->public_jwk() == nlohmann::json{{"kty", "EC"}, {"crv", "P-256"}, {"x", kRfc7517X}, {"y", kRfc7517Y}});
  CHECK_FALSE(k->public_jwk().contains("d"));
  CHECK(k->thumbprint() == kRfc7517Thumbprint);
  // Member order and extra members do not change the thumbprint.
  nlohmann::json shuffled = {{"y", kRfc7517Y}, {"use", "sig"}, {"x", kRfc7517X}, {"kty", "EC"}, {"crv", "P-256"}};
  CHECK(*oauth::jwk_thumbprint(shuffled) == kRfc7517Thumbprint);
  CHECK_FALSE(oauth::jwk_thumbprint(nlohmann::json{{"kty", "EC"}, {"crv", "P-256"}, {"x", kRfc7517X}}));
  // Fresh keys differ; a key's copies share it.
  auto a = oauth::DpopKey::generate();
  auto b = oauth::DpopKey::generate();
  REQUIRE(a);
  REQUIRE(b);
  CHECK(a->thumbprint() != b->thumbprint());
  oauth::DpopKey copy = *a;
  CHECK(copy.thumbprint() == a->thumbprint());
  CHECK(copy.native() == a->native());
  // Other keys are refused.
  CHECK_FALSE(oauth::DpopKey::from_pem(generate_p256().public_pem));
  CHECK_FALSE(oauth::DpopKey::from_pem("not a key"));
}

TEST_CASE("oauth: DPoP proof: header, claims, signature by the jwk's key") {
  auto key = oauth::DpopKey::from_pem(kRfc7517Pem);
  REQUIRE(key);
  oauth::DpopProofOptions po;
  po.method = "POST";
  po.url = "https://mcp.example.com/mcp?session=1#frag";
  po.access_token = "Kz~8mXK1EalYznwH-LC-1fBAo.4Ljp~zsPE_NeO.gxU";
  po.nonce = "eyJ7S_zG.eyJH0-Z.HX4w-7v";
  const auto before = std::chrono::duration_cast<std::chrono::seconds>(
                          std::chrono::system_clock::now().time_since_epoch()).count();
  auto proof = oauth::make_dpop_proof(*key, po);
  REQUIRE(proof);
  auto v = verify_proof(*proof);
  REQUIRE_MESSAGE(v, (v ? "" : v.error().what()));
  CHECK(v->header["typ"] == "dpop+jwt");
  CHECK(v->header["alg"] == "ES256");
  CHECK(v->header["jwk"] == key->public_jwk());
  CHECK(v->claims["htm"] == "POST");
  CHECK(v->claims["htu"] == "https://mcp.example.com/mcp");  // no query, no fragment
  CHECK(v->claims["iat"].get<std::int64_t>() >= before);
  CHECK(v->claims["iat"].get<std::int64_t>() <= before + 5);
  // RFC 9449 7.1's example: ath of that token.
  CHECK(v->claims["ath"] == "fUHyO2r2Z3DZ53EsNrWBb0xWXoaNy59IiKCAqksmQEo");
  CHECK(v->claims["nonce"] == po.nonce);
  REQUIRE(v->claims["jti"].is_string());
  CHECK(v->claims["jti"].get<std::string>().size() >= 16);

  // Token request: no ath, no nonce; every proof has its own jti.
  oauth::DpopProofOptions tr;
  tr.method = "POST";
  tr.url = "https://as.example.com/token";
  tr.issued_at = std::chrono::system_clock::time_point(std::chrono::seconds(1'700'000'000));
  auto p1 = oauth::make_dpop_proof(*key, tr);
  auto p2 = oauth::make_dpop_proof(*key, tr);
  REQUIRE(p1);
  REQUIRE(p2);
  auto v1 = verify_proof(*p1);
  auto v2 = verify_proof(*p2);
  REQUIRE(v1);
  REQUIRE(v2);
  CHECK_FALSE(v1->claims.contains("ath"));
  CHECK_FALSE(v1->claims.contains("nonce"));
  CHECK(v1->claims["iat"] == 1'700'000'000);
  CHECK(v1->claims["htu"] == "https://as.example.com/token");
  CHECK(v1->claims["jti"] != v2->claims["jti"]);

  // Another key's jwk does not verify it; neither does a tampered payload.
  auto other = oauth::DpopKey::generate();
  REQUIRE(other);
  CHECK_FALSE(oauth::verify_jws_es256(*p1, *oauth::ec_public_pem_from_jwk(other->public_jwk())));
  auto d1 = p1->find('.');
  auto d2 = p1->find('.', d1 + 1);
  nlohmann::json forged = v1->claims;
  forged["htm"] = "GET";
  CHECK_FALSE(verify_proof(p1->substr(0, d1 + 1) + oauth::base64url_encode(forged.dump()) + p1->substr(d2)));

  CHECK_FALSE(oauth::make_dpop_proof(*key, oauth::DpopProofOptions{}));
  CHECK_FALSE(oauth::make_dpop_proof(oauth::DpopKey(), tr));
}

TEST_CASE("oauth: DPoP jwk to public key: only EC P-256 public keys on the curve") {
  nlohmann::json good = {{"kty", "EC"}, {"crv", "P-256"}, {"x", kRfc7517X}, {"y", kRfc7517Y}};
  CHECK(oauth::ec_public_pem_from_jwk(good));
  auto with_d = good;
  with_d["d"] = "870MB6gfuTJ4HtUnUvYMyJpr5eUZNP4Bk43bVdj3eAE";
  CHECK_FALSE(oauth::ec_public_pem_from_jwk(with_d));
  auto p384 = good;
  p384["crv"] = "P-384";
  CHECK_FALSE(oauth::ec_public_pem_from_jwk(p384));
  auto rsa = good;
  rsa["kty"] = "RSA";
  CHECK_FALSE(oauth::ec_public_pem_from_jwk(rsa));
  auto short_x = good;
  short_x["x"] = oauth::base64url_encode(std::string(31, 'a'));
  CHECK_FALSE(oauth::ec_public_pem_from_jwk(short_x));
  auto off_curve = good;
  off_curve["y"] = kRfc7517X;
  CHECK_FALSE(oauth::ec_public_pem_from_jwk(off_curve));
  CHECK_FALSE(oauth::ec_public_pem_from_jwk(nlohmann::json::array()));
}

TEST_CASE("oauth: the file store leaves no lock file, and concurrent saves through separate stores all land") {
  char dir_template[] = "/tmp/mcp-store-XXXXXX";
  REQUIRE(::mkdtemp(dir_template) != nullptr);
  const std::string dir = dir_template, path = dir + "/tokens.json";
  auto exists = [](const std::string& p) { return ::access(p.c_str(), F_OK) == 0; };
  {
    auto s = mcp::file_token_store(path);
    mcp::StoredAuth a;
    a.access_token = "a";
    REQUIRE(s->save({"t", "https://as", "https://r"}, a));
    CHECK((*s->load({"t", "", "https://r"}))->access_token == "a");
    CHECK(exists(path));
    CHECK_FALSE(exists(path + ".lock"));
  }
  // Separate store objects (as separate processes would be) contend only through the lock
  // file: no save is lost, and none is left behind.
  constexpr int kThreads = 6, kEach = 15;
  {
    std::vector<std::thread> threads;
    for (int t = 0; t < kThreads; ++t)
      threads.emplace_back([&, t] {
        auto s = mcp::file_token_store(path);
        for (int i = 0; i < kEach; ++i) {
          mcp::StoredAuth v;
          v.access_token = std::to_string(t) + "-" + std::to_string(i);
          CHECK(s->save({"tenant" + v.access_token, "https://as", "https://r"}, v));
          CHECK(s->load({"tenant" + v.access_token, "", "https://r"}));
        }
      });
    for (auto& t : threads) t.join();
  }
  auto s = mcp::file_token_store(path);
  for (int t = 0; t < kThreads; ++t)
    for (int i = 0; i < kEach; ++i) {
      const std::string tok = std::to_string(t) + "-" + std::to_string(i);
      auto got = s->load({"tenant" + tok, "https://as", "https://r"});
      REQUIRE(got);
      REQUIRE(*got);
      CHECK((*got)->access_token == tok);
    }
  CHECK_FALSE(exists(path + ".lock"));
  ::unlink(path.c_str());
  CHECK(::rmdir(dir.c_str()) == 0);  // nothing else was left in the directory
}

TEST_CASE("oauth: memory store keys") {
  auto s = mcp::memory_token_store();
  mcp::StoredAuth x;
  x.access_token = "x";
  mcp::StoredAuth y;
  y.access_token = "y";
  REQUIRE(s->save({"t", "https://as1", "https://r"}, x));
  REQUIRE(s->save({"t", "https://as2", "https://r"}, y));
  CHECK((*s->load({"t", "https://as1", "https://r"}))->access_token == "x");
  CHECK((*s->load({"t", "", "https://r"}))->access_token == "y");  // most recent
  CHECK_FALSE(*s->load({"u", "", "https://r"}));
  REQUIRE(s->erase({"t", "https://as2", "https://r"}));
  CHECK((*s->load({"t", "", "https://r"}))->access_token == "x");
}
