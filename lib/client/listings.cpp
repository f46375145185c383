// SPDX-License-Identifier: MIT
// Listings: pagination (nextCursor to the end, loops refused) and what the Client needs of a
// session beyond its public API (SessionAccess: first pages sent on several servers at once).
#include "session_impl.hpp"

#include "../protocol/schema_validator.hpp"
#include "listing_pages.hpp"
#include "session_access.hpp"

namespace mcp {

using nlohmann::json;

namespace detail {

Result<std::optional<json>> Pager::take(Result<json> r, const std::function<void(const json&)>& on_item) {
  auto failure = [&](std::string message) { return fail(Errc::invalid_result, method_ + ": " + message, server_); };
  if (!r) return fail(r.error());
  auto it = r->find(key_);
  if (it == r->end() || !it->is_array()) return failure(std::string("result has no '") + key_ + "' array");
  for (const auto& item : *it) on_item(item);
  auto nc = r->find("nextCursor");
  if (nc == r->end() || nc->is_null()) return std::optional<json>();
  if (!nc->is_string() || !seen_.insert(nc->get<std::string>()).second)
    return failure("invalid or repeated nextCursor (pagination loop)");
  if (++pages_ >= 10000) return failure("more than 10000 pages");
  json next = base_;
  next["cursor"] = nc->get<std::string>();
  return std::optional<json>(std::move(next));
}

template <class T>
void Collect<T>::add(const json& item) {
  try {
    out_.push_back(item.get<T>());
  } catch (const std::exception& e) {
    impl_.diagnostic(method_ + ": skipped an invalid entry: " + e.what(), method_);
  }
}
template class Collect<Resource>;
template class Collect<ResourceTemplate>;
template class Collect<Prompt>;
template class Collect<Skill>;

void Collect<ToolDefinition>::add(const json& t) {
  ToolDefinition def;
  try {
    def = t.get<ToolDefinition>();
  } catch (const std::exception& e) {
    impl_.diagnostic(std::string("tools/list: skipped an invalid tool: ") + e.what(), "tools/list");
    return;
  }
  if (impl_.transport.param_headers) {
    // Streamable HTTP clients MUST drop a tool whose x-mcp-header annotations are invalid.
    auto headers = param_headers(def.input_schema);
    if (!headers) {
      impl_.diagnostic("tools/list: tool '" + def.name + "' dropped: " + headers.error(), "tools/list");
      return;
    }
    if (!headers->empty()) param_headers_[def.name] = std::move(*headers);
  }
  if (def.output_schema) output_schemas_.emplace(def.name, SchemaValidator::compile(*def.output_schema));
  tools_.push_back(std::move(def));
}

Result<std::vector<ToolDefinition>> Collect<ToolDefinition>::finish() {
  // Published only for a complete listing: a failed one leaves the previous state.
  std::lock_guard lk(impl_.mutex);
  if (impl_.transport.param_headers) impl_.param_headers = std::move(param_headers_);
  impl_.output_schemas = std::move(output_schemas_);
  return std::move(tools_);
}

}  // namespace detail

namespace {

using FirstPage = std::optional<Result<json>>;

// Every entry of listing T, following nextCursor to the end. `first` is the first page when
// the caller has it already.
template <class T, class L = detail::ListingOf<T>>
Result<std::vector<T>> paginate(Session::Impl& impl, const RequestOptions& opt, FirstPage first,
                                json base = json::object()) {
  detail::Pager pager(L::method, L::key, impl.name, std::move(base));
  detail::Collect<T> collect(impl, L::method);
  auto add = [&](const json& item) { collect.add(item); };
  json params = pager.first();
  for (bool at_first = true;; at_first = false) {
    auto r = at_first && first ? std::move(*first) : impl.request(L::method, std::move(params), opt);
    auto next = pager.take(std::move(r), add);
    if (!next) return fail(next.error());
    if (!*next) return collect.finish();
    params = std::move(**next);
  }
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
  return paginate<ToolDefinition>(*s.impl_, options, std::move(first));
}

Result<std::vector<ToolDefinition>> SessionAccess::list_tools_of(Session::Impl& impl, const RequestOptions& options) {
  return paginate<ToolDefinition>(impl, options, std::nullopt);
}

Result<std::vector<Resource>> SessionAccess::list_resources(Session& s, const RequestOptions& options, FirstPage first) {
  return paginate<Resource>(*s.impl_, options, std::move(first));
}

Result<std::vector<ResourceTemplate>> SessionAccess::list_resource_templates(Session& s, const RequestOptions& options,
                                                                           FirstPage first) {
  return paginate<ResourceTemplate>(*s.impl_, options, std::move(first));
}

Result<std::vector<Prompt>> SessionAccess::list_prompts(Session& s, const RequestOptions& options, FirstPage first) {
  return paginate<Prompt>(*s.impl_, options, std::move(first));
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

Result<std::vector<Skill>> Session::list_skills(const RequestOptions& options) {
  auto c = impl_->ensure(options);
  if (!c) return fail(c.error());
  if (auto d = impl_->skills_declared(*c->second, false); !d) return fail(d.error());
  return paginate<Skill>(*impl_, options, std::nullopt);
}

Result<std::vector<Resource>> Session::read_directory(const std::string& uri, const RequestOptions& options) {
  auto c = impl_->ensure(options);
  if (!c) return fail(c.error());
  if (auto d = impl_->skills_declared(*c->second, true); !d) return fail(d.error());
  return paginate<Resource, detail::DirectoryListing>(*impl_, options, std::nullopt, json{{"uri", uri}});
}

}  // namespace mcp
