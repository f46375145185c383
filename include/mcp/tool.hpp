// SPDX-License-Identifier: MIT
#pragma once
/// @file tool.hpp
/// A tool bound to the server that offers it.
///
/// Thread-safety: `call` may be used from many threads at once. A Tool does not keep its
/// client alive: after the client is destroyed, `call` fails with Errc::disconnected.

#include <mcp/error.hpp>
#include <mcp/session.hpp>
#include <mcp/types.hpp>

#include <memory>
#include <string>

namespace mcp {

/// A callable tool.
class Tool {
 public:
  Tool(std::string server, ToolDefinition definition, std::weak_ptr<Session> session);  ///< made by Client and Session listings

  /// The server's name in the client config.
  [[nodiscard]] const std::string& server() const noexcept { return server_; }
  /// The tool's name on its server.
  [[nodiscard]] const std::string& name() const noexcept { return definition_.name; }
  /// The full definition (schemas, annotations, ...).
  [[nodiscard]] const ToolDefinition& definition() const noexcept { return definition_; }
  /// Call the tool with `arguments` (a JSON object).
  [[nodiscard]] Result<CallToolResult> call(nlohmann::json arguments = nlohmann::json::object(),
                                            const RequestOptions& options = {}) const;
  /// The same, asynchronous (see Session::async_call_tool): the last argument is a completion
  /// token (a callable taking Result<CallToolResult>, mcp::use_future, an Asio token).
  template <class Token>
  auto async_call(nlohmann::json arguments, RequestOptions options, Token&& token) const {
    return detail::async_start<CallToolResult>(
        std::forward<Token>(token), [session = session_, server = server_, name = definition_.name,
                                     arguments = std::move(arguments), options = std::move(options)](
                                        Callback<CallToolResult> cb, std::stop_token cancel) mutable {
          detail::with_cancel(options, cancel, cb);
          start_call(session, server, std::move(name), std::move(arguments), std::move(options), std::move(cb));
        });
  }
  /// async_call() with default RequestOptions
  template <detail::NotOptions Token>
  auto async_call(nlohmann::json arguments, Token&& token) const {
    return async_call(std::move(arguments), RequestOptions{}, std::forward<Token>(token));
  }

 private:
  std::string server_;
  ToolDefinition definition_;
  std::weak_ptr<Session> session_;

  static void start_call(const std::weak_ptr<Session>& session, const std::string& server, std::string name,
                         nlohmann::json arguments, RequestOptions options, Callback<CallToolResult> done);
};

}  // namespace mcp
