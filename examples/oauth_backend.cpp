// SPDX-License-Identifier: MIT
// A backend (no user, machine to machine) calling an OAuth-protected MCP server with the client
// credentials grant, its tokens kept in a file between runs. The first run meets the server's
// 401, discovers its authorization server (RFC 9728, RFC 8414), gets a token for this server
// (RFC 8707) and saves it; later runs send the saved token from the first request and ask the
// authorization server for nothing until it expires or the server refuses it.
//   MCP_CLIENT_ID=reporting MCP_CLIENT_SECRET=... build/examples/oauth_backend URL TOKEN_FILE [TOOL]
// URL is the MCP endpoint (e.g. https://mcp.example.com/mcp); TOKEN_FILE is created with mode
// 0600 (its directory must exist); TOOL, if given, is called without arguments. The client id
// and secret come from the environment, not the command line, which other users can see.
// See docs/guide/authorization.md.
#include <mcp/client.hpp>
#include <mcp/oauth.hpp>

#include <cstdlib>
#include <iostream>
#include <optional>
#include <string>

namespace {
// The entry the provider keeps for this server (tenant "", any issuer), if any.
std::optional<mcp::StoredAuth> stored(mcp::TokenStore& store, const std::string& url) {
  auto entry = store.load({.tenant = "", .issuer = "", .resource = url});
  return entry ? *entry : std::nullopt;
}
}  // namespace

int main(int argc, char** argv) {
  const char* id = std::getenv("MCP_CLIENT_ID");
  const char* secret = std::getenv("MCP_CLIENT_SECRET");
  if (argc < 3 || argc > 4 || !id || !secret) {
    std::cerr << "usage: MCP_CLIENT_ID=... MCP_CLIENT_SECRET=... oauth_backend URL TOKEN_FILE [TOOL]\n";
    return 2;
  }
  const std::string url = argv[1];
  auto store = mcp::file_token_store(argv[2]);  // safe to share between processes

  mcp::OAuthClientOptions oauth;
  oauth.grant = mcp::OAuthGrant::client_credentials;
  oauth.client_id = id;          // registered at the authorization server beforehand
  oauth.client_secret = secret;  // or private_key_pem for private_key_jwt
  oauth.store = store;
  oauth.on_diagnostic = [](std::string_view line) { std::cerr << line << '\n'; };  // never holds secrets
  mcp::HttpServerConfig http;
  http.url = url;
  http.auth = mcp::oauth_provider(std::move(oauth));
  mcp::ClientConfig config;
  config.servers["reports"].transport = http;
  auto client = mcp::Client::create(std::move(config));
  if (!client) { std::cerr << client.error().what() << '\n'; return 1; }

  const auto before = stored(*store, url);
  auto tools = client->list_tools();  // the first request: 401, then the grant, or the stored token
  if (!tools) { std::cerr << tools.error().what() << '\n'; return 1; }  // Errc::unauthorized if refused
  std::cout << "tools:";
  for (const auto& [key, tool] : *tools) std::cout << ' ' << key;
  std::cout << '\n';
  if (argc == 4) {
    auto result = client->call_tool("reports", argv[3]);
    if (!result) { std::cerr << result.error().what() << '\n'; return 1; }
    std::cout << argv[3] << ": " << result->text() << '\n';
  }
  const auto after = stored(*store, url);
  std::cout << (before && before == after ? "token: reused the stored one\n"
                : after                    ? "token: obtained a new one and stored it\n"
                                           : "token: none stored\n");
}
