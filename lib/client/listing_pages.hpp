// SPDX-License-Identifier: MIT
#pragma once
// A listing's pages (nextCursor to the end, loops and runaway page counts refused) and what each
// kind of listing makes of its entries, shared by the blocking (listings.cpp) and asynchronous
// (async_session.cpp) listings.
#include "session_impl.hpp"

#include <set>

namespace mcp::detail {

/// The pages of one listing, one after the other.
class Pager {
 public:
  /// `base`: params every page's request carries (the cursor is added to them).
  Pager(std::string method, const char* key, std::string server, nlohmann::json base = nlohmann::json::object())
      : method_(std::move(method)), key_(key), server_(std::move(server)), base_(std::move(base)) {}
  /// The first page's params.
  [[nodiscard]] const nlohmann::json& first() const { return base_; }
  /// Hands the entries of page `r` to `on_item`; returns the next page's params, nullopt at the
  /// end, or why the listing failed.
  Result<std::optional<nlohmann::json>> take(Result<nlohmann::json> r,
                                             const std::function<void(const nlohmann::json&)>& on_item);
  [[nodiscard]] const std::string& method() const { return method_; }

 private:
  std::string method_;
  const char* key_;
  std::string server_;
  nlohmann::json base_;
  std::set<std::string> seen_;
  int pages_ = 0;
};

/// A listing's entries as T (entries that do not parse are skipped with a diagnostic); for
/// tools, the session's output schemas and Mcp-Param headers are published at the end.
template <class T>
class Collect {
 public:
  explicit Collect(Session::Impl& impl, std::string method) : impl_(impl), method_(std::move(method)) {}
  void add(const nlohmann::json& item);
  Result<std::vector<T>> finish() { return std::move(out_); }

 private:
  Session::Impl& impl_;
  std::string method_;
  std::vector<T> out_;
};

template <>
class Collect<ToolDefinition> {
 public:
  explicit Collect(Session::Impl& impl, std::string method) : impl_(impl), method_(std::move(method)) {}
  void add(const nlohmann::json& item);
  Result<std::vector<ToolDefinition>> finish();

 private:
  Session::Impl& impl_;
  std::string method_;
  std::vector<ToolDefinition> tools_;
  std::map<std::string, std::vector<ParamHeader>> param_headers_;
  std::map<std::string, tl::expected<std::shared_ptr<const SchemaValidator>, std::string>> output_schemas_;
};

/// The method and result key of listing T.
template <class T>
struct ListingOf;
template <>
struct ListingOf<ToolDefinition> {
  static constexpr const char* method = "tools/list";
  static constexpr const char* key = "tools";
};
template <>
struct ListingOf<Resource> {
  static constexpr const char* method = "resources/list";
  static constexpr const char* key = "resources";
};
template <>
struct ListingOf<ResourceTemplate> {
  static constexpr const char* method = "resources/templates/list";
  static constexpr const char* key = "resourceTemplates";
};
template <>
struct ListingOf<Prompt> {
  static constexpr const char* method = "prompts/list";
  static constexpr const char* key = "prompts";
};
template <>
struct ListingOf<Skill> {
  static constexpr const char* method = "skills/list";
  static constexpr const char* key = "skills";
};
/// `resources/directory/read` (its entries are Resources; its params carry the directory's uri).
struct DirectoryListing {
  static constexpr const char* method = "resources/directory/read";
  static constexpr const char* key = "resources";
};

}  // namespace mcp::detail
