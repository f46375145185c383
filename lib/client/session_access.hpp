// SPDX-License-Identifier: MIT
#pragma once
// What the Client needs of its sessions beyond the public Session API: listings over several
// servers without a thread per server. The first page of a listing is sent on every session
// before any reply is awaited; each listing then goes on (further pages, if any) on the
// calling thread.
#include <mcp/session.hpp>

#include <nlohmann/json.hpp>

#include <optional>
#include <string>
#include <vector>

namespace mcp::detail {

struct SessionAccess {
  /// The first page of `method` (no cursor) from each of `sessions`, requested on all of them
  /// before any reply is awaited (the last one as any request is, on this thread). Sessions not connected yet are connected first, in parallel
  /// when there are several (a thread each but one: this is paid once per connection, with
  /// the spawn or the handshake, never by a call on open connections).
  static std::vector<Result<nlohmann::json>> first_pages(const std::vector<Session*>& sessions,
                                                         const std::string& method, const RequestOptions& opt);

  /// Session::list_* with the first page already in hand (`first`; nullopt: request it).
  static Result<std::vector<ToolDefinition>> list_tools(Session& s, const RequestOptions& opt,
                                                        std::optional<Result<nlohmann::json>> first);
  static Result<std::vector<Resource>> list_resources(Session& s, const RequestOptions& opt,
                                                      std::optional<Result<nlohmann::json>> first);
  static Result<std::vector<ResourceTemplate>> list_resource_templates(Session& s, const RequestOptions& opt,
                                                                       std::optional<Result<nlohmann::json>> first);
  /// Session::list_tools from the session's inside (the asynchronous call's re-listing).
  static Result<std::vector<ToolDefinition>> list_tools_of(Session::Impl& impl, const RequestOptions& opt);
  static Result<std::vector<Prompt>> list_prompts(Session& s, const RequestOptions& opt,
                                                  std::optional<Result<nlohmann::json>> first);
};

}  // namespace mcp::detail
