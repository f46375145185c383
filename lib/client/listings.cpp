// SPDX-License-Identifier: MIT
// Listings: pagination (nextCursor to the end, loops refused) and what the Client needs of a
// session beyond its public API (SessionAccess: first pages sent on several servers at once).
#include "session_impl.hpp"

#include "../protocol/schema_validator.hpp"
#include "session_access.hpp"

namespace mcp {

using nlohmann::json;

namespace {

using FirstPage = std::optional<Result<json>>;

// Follows `nextCursor` to the end, handing each entry of the result's `key` array to
// `on_item`; refuses loops and runaway page counts. `first` is the first page when the
// caller has it already.
Result<void> paginate_items(Session& s, const std::string& method, const char* key, const RequestOptions& opt,
                            const std::function<void(const json&)>& on_item, FirstPage first = std::nullopt) {
  auto failure = [&](std::string message) { return fail(Errc::invalid_result, method + ": " + message, s.name()); };
  std::set<std::string> seen;
  std::optional<std::string> cursor;
  for (int page = 0; page < 10000; ++page) {
    Result<json> r = json();
    if (page == 0 && first) {
      r = std::move(*first);
    } else {
      json params = json::object();
      if (cursor) params["cursor"] = *cursor;
      r = s.request(method, std::move(params), opt);
    }
    if (!r) return fail(r.error());
    auto it = r->find(key);
    if (it == r->end() || !it->is_array()) return failure(std::string("result has no '") + key + "' array");
    for (const auto& item : *it) on_item(item);
    auto nc = r->find("nextCursor");
    if (nc == r->end() || nc->is_null()) return {};
    if (!nc->is_string() || !seen.insert(nc->get<std::string>()).second)
      return failure("invalid or repeated nextCursor (pagination loop)");
    cursor = nc->get<std::string>();
  }
  return failure("more than 10000 pages");
}

// Every entry as a T; entries that do not parse are skipped with a diagnostic.
template <class T>
Result<std::vector<T>> paginate(Session& s, const std::string& method, const char* key, const RequestOptions& opt,
                                const std::function<void(std::string)>& diag, FirstPage first) {
  std::vector<T> out;
  auto listed = paginate_items(
      s, method, key, opt,
      [&](const json& item) {
        try {
          out.push_back(item.get<T>());
        } catch (const std::exception& e) {
          diag(method + ": skipped an invalid entry: " + e.what());
        }
      },
      std::move(first));
  if (!listed) return fail(listed.error());
  return out;
}

}  // namespace

namespace detail {

std::vector<Result<json>> SessionAccess::first_pages(const std::vector<Session*>& sessions, const std::string& method,
                                                     const RequestOptions& opt) {
  // Connections still to open are opened side by side (spawning, probing): a thread each
  // but one, once per connection. Open connections cost no thread.
  std::vector<Session*> closed;
  for (Session* s : sessions)
    if (!s->connected()) closed.push_back(s);
  if (closed.size() > 1) {
    std::vector<std::thread> threads;
    for (std::size_t i = 1; i < closed.size(); ++i)
      threads.emplace_back([s = closed[i], &opt] { (void)s->impl_->ensure(opt); });
    (void)closed[0]->impl_->ensure(opt);
    for (auto& t : threads) t.join();
  }
  // All but the last are sent and left in flight; the last is asked as any request is (over
  // HTTP on this very thread), then the others' replies are collected.
  std::vector<Result<json>> out;
  if (sessions.empty()) return out;
  std::vector<Session::Impl::Flight> flights;
  flights.reserve(sessions.size() - 1);
  for (std::size_t i = 0; i + 1 < sessions.size(); ++i) flights.push_back(sessions[i]->impl_->send_first(method, opt));
  Result<json> last = sessions.back()->impl_->request(method, json::object(), opt);
  out.reserve(sessions.size());
  for (std::size_t i = 0; i + 1 < sessions.size(); ++i) out.push_back(sessions[i]->impl_->finish_first(flights[i], opt));
  out.push_back(std::move(last));
  return out;
}

Result<std::vector<ToolDefinition>> SessionAccess::list_tools(Session& s, const RequestOptions& options, FirstPage first) {
  auto& impl_ = s.impl_;
  std::vector<ToolDefinition> tools;
  std::map<std::string, std::vector<detail::ParamHeader>> param_headers;
  std::map<std::string, tl::expected<std::shared_ptr<const detail::SchemaValidator>, std::string>> output_schemas;
  auto listed = paginate_items(s, "tools/list", "tools", options, [&](const json& t) {
    ToolDefinition def;
    try {
      def = t.get<ToolDefinition>();
    } catch (const std::exception& e) {
      impl_->diagnostic(std::string("tools/list: skipped an invalid tool: ") + e.what());
      return;
    }
    if (impl_->transport.param_headers) {
      // Streamable HTTP clients MUST drop a tool whose x-mcp-header annotations are invalid.
      auto headers = detail::param_headers(def.input_schema);
      if (!headers) {
        impl_->diagnostic("tools/list: tool '" + def.name + "' dropped: " + headers.error());
        return;
      }
      if (!headers->empty()) param_headers[def.name] = std::move(*headers);
    }
    if (def.output_schema) output_schemas.emplace(def.name, detail::SchemaValidator::compile(*def.output_schema));
    tools.push_back(std::move(def));
  }, std::move(first));
  if (!listed) return fail(listed.error());
  // Published only for a complete listing: a failed one leaves the previous state.
  std::lock_guard lk(impl_->mutex);
  if (impl_->transport.param_headers) impl_->param_headers = std::move(param_headers);
  impl_->output_schemas = std::move(output_schemas);
  return tools;
}

Result<std::vector<Resource>> SessionAccess::list_resources(Session& s, const RequestOptions& options, FirstPage first) {
  return paginate<Resource>(s, "resources/list", "resources", options,
                            [&s](std::string m) { s.impl_->diagnostic(m); }, std::move(first));
}

Result<std::vector<ResourceTemplate>> SessionAccess::list_resource_templates(Session& s, const RequestOptions& options,
                                                                           FirstPage first) {
  return paginate<ResourceTemplate>(s, "resources/templates/list", "resourceTemplates", options,
                                    [&s](std::string m) { s.impl_->diagnostic(m); }, std::move(first));
}

Result<std::vector<Prompt>> SessionAccess::list_prompts(Session& s, const RequestOptions& options, FirstPage first) {
  return paginate<Prompt>(s, "prompts/list", "prompts", options, [&s](std::string m) { s.impl_->diagnostic(m); },
                          std::move(first));
}

}  // namespace detail

Result<std::vector<ToolDefinition>> Session::list_tools(const RequestOptions& options) {
  return detail::SessionAccess::list_tools(*this, options, std::nullopt);
}

Result<std::vector<Resource>> Session::list_resources(const RequestOptions& options) {
  return detail::SessionAccess::list_resources(*this, options, std::nullopt);
}

Result<std::vector<ResourceTemplate>> Session::list_resource_templates(const RequestOptions& options) {
  return detail::SessionAccess::list_resource_templates(*this, options, std::nullopt);
}

Result<std::vector<Prompt>> Session::list_prompts(const RequestOptions& options) {
  return detail::SessionAccess::list_prompts(*this, options, std::nullopt);
}

}  // namespace mcp
