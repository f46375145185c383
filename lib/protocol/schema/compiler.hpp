// SPDX-License-Identifier: MIT
#pragma once
// The schema compiler: compile() (1) checks the document's JSON depth, (2) scans every
// subschema location, recording base URIs, resources, dialects, `$id`s and anchors
// (compiler.cpp), (3) compiles each location into a Node (keywords.cpp) and (4) rejects
// reference cycles that never descend into the instance (compiler.cpp).
#include "model.hpp"

namespace mcp::detail::schema {

// ----------------------------------------------------------------------------------------------
// URIs: RFC 3986 reference resolution is lib/util/url.hpp's (parse_uri, resolve_uri)

/// Splits "doc#fragment" into {doc, fragment}.
inline std::pair<std::string, std::string> split_fragment(const std::string& uri) {
  const std::size_t hash = uri.find('#');
  if (hash == std::string::npos) return {uri, {}};
  return {uri.substr(0, hash), uri.substr(hash + 1)};
}

/// The base URI of a document that has no `$id`: private, hierarchical (so relative `$id`s of
/// embedded resources resolve against it), and impossible to fetch.
inline constexpr const char* kDefaultBase = "x-mcp-cpp-schema:///root.json";

// ----------------------------------------------------------------------------------------------
// Compiler

class Compiler {
 public:
  explicit Compiler(SchemaValidator::Impl& impl) : impl_(impl), lim_(impl.limits) {}

  void run();

 private:
  struct Entry {
    std::string pointer;
    const json* node;
    std::string base;
    int resource;
    Dialect dialect;
  };

  SchemaValidator::Impl& impl_;
  const SchemaLimits& lim_;
  std::vector<Entry> entries_;
  std::unordered_map<std::string, int> by_pointer_;
  std::unordered_map<std::string, int> resource_by_uri_;
  std::unordered_map<std::string, std::string> anchors_;  ///< "uri#name" -> pointer
  std::unordered_map<std::string, int> regex_by_source_;
  std::size_t count_ = 0;

  // --- pass 1: locations, identifiers, anchors -------------------------------------------------

  void scan(const json& node, const std::string& ptr, std::string base, int res, Dialect d, std::size_t depth);
  void add_entry(const std::string& ptr, const json& node, const std::string& base, int res, Dialect d);
  static std::string anchor_name(const json& v, const char* keyword, const std::string& ptr);
  void add_anchor(const std::string& base, const std::string& name, const std::string& ptr);

  /// Whether `dependencies` is read: always before 2019-09 (where it must be an object), and
  /// afterwards, for compatibility, only when it has the old shape (arrays of names or schemas).
  static bool read_dependencies(const json& node, Dialect d, const std::string& ptr);

  /// Calls fn(child, pointer) for every subschema position of `node` in dialect `d`, checking
  /// the shape of each applicator keyword on the way.
  template <class Fn>
  void for_each_subschema(const json& node, const std::string& ptr, Dialect d, Fn&& fn);

  // --- references ---------------------------------------------------------------------------------

  /// The node a reference resolves to, scanning the target first if it lies outside the
  /// locations pass 1 knew to be schemas.
  int resolve_reference(const std::string& ref, const Entry& at, const char* keyword);
  int node_at(const std::string& ptr) const;
  int child(const std::string& ptr) const;

  // --- pass 2: nodes ------------------------------------------------------------------------------

  std::uint64_t non_negative(const json& v, const char* kw, const std::string& ptr);
  const json* number(const json& v, const char* kw, const std::string& ptr);
  static std::vector<const std::string*> string_list(const json& v, const std::string& what,
                                                    const std::string& ptr);
  int regex(const std::string& source, const std::string& ptr);
  void compile_node(std::size_t index);

  // --- pass 3: reference cycles that never reach a value -----------------------------------------

  /// A chain of in-place applicators (`$ref`, `allOf`, `not`, ...) that returns to where it
  /// started evaluates the same instance location forever; reject it, when the root can reach
  /// it, rather than let validate() hit its depth bound on every call.
  void check_cycles();
};

}  // namespace mcp::detail::schema
