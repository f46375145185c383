// SPDX-License-Identifier: MIT
// Passes 1, 2 and 4 of the schema compiler (see compiler.hpp), and SchemaValidator::compile.
#include "compiler.hpp"

#include "../../util/url.hpp"

#include <algorithm>
#include <exception>

namespace mcp::detail::schema {

void fail(std::string message) { throw CompileError{std::move(message)}; }

const char* dialect_uri(Dialect d) {
  switch (d) {
    case Dialect::d4:
      return "http://json-schema.org/draft-04/schema#";
    case Dialect::d6:
      return "http://json-schema.org/draft-06/schema#";
    case Dialect::d7:
      return "http://json-schema.org/draft-07/schema#";
    case Dialect::d2019:
      return "https://json-schema.org/draft/2019-09/schema";
    case Dialect::d2020:
      break;
  }
  return "https://json-schema.org/draft/2020-12/schema";
}

std::optional<Dialect> dialect_of(std::string_view uri) {
  std::string u(uri);
  if (!u.empty() && u.back() == '#') u.pop_back();
  if (u.rfind("https://", 0) == 0) u = "http://" + u.substr(8);
  if (u == "http://json-schema.org/draft/2020-12/schema") return Dialect::d2020;
  if (u == "http://json-schema.org/draft/2019-09/schema") return Dialect::d2019;
  if (u == "http://json-schema.org/draft-07/schema") return Dialect::d7;
  if (u == "http://json-schema.org/draft-06/schema") return Dialect::d6;
  if (u == "http://json-schema.org/draft-04/schema") return Dialect::d4;
  return std::nullopt;
}

void Compiler::run() {
  const json& root = impl_.doc;
  if (!root.is_object() && !root.is_boolean()) {
    fail(std::string("a schema must be an object or a boolean, got ") + type_name(root));
  }
  Dialect d = Dialect::d2020;
  if (root.is_object()) {
    if (const auto it = root.find("$schema"); it != root.end()) {
      if (!it->is_string()) fail("$schema must be a string");
      const auto found = dialect_of(it->get_ref<const std::string&>());
      if (!found) fail(unsupported_dialect(*it));
      d = *found;
    }
  }
  impl_.dialect = d;
  impl_.dialect_uri = dialect_uri(d);
  Resource r0;
  r0.uri = kDefaultBase;
  r0.dialect = d;
  impl_.resources.push_back(std::move(r0));
  resource_by_uri_[kDefaultBase] = 0;
  scan(root, "", kDefaultBase, 0, d, 0);

  for (std::size_t i = 0; i < entries_.size(); ++i) compile_node(i);
  for (Resource& r : impl_.resources) {
    r.root_node = node_at(r.pointer);
    for (const auto& [name, ptr] : r.dynamic_anchors) r.dynamic_nodes[name] = node_at(ptr);
  }
  check_cycles();
}

template <class Fn>
void Compiler::for_each_subschema(const json& node, const std::string& ptr, Dialect d, Fn&& fn) {
  auto single = [&](const char* kw) {
    if (const auto it = node.find(kw); it != node.end()) fn(*it, append(ptr, kw));
  };
  auto array = [&](const char* kw) {
    const auto it = node.find(kw);
    if (it == node.end()) return;
    if (!it->is_array() || it->empty()) {
      fail(std::string("'") + kw + "' at " + where(ptr) + " must be a non-empty array of schemas");
    }
    const std::string base = append(ptr, kw);
    for (std::size_t i = 0; i < it->size(); ++i) fn((*it)[i], base + "/" + std::to_string(i));
  };
  auto map = [&](const char* kw, bool strict) {
    const auto it = node.find(kw);
    if (it == node.end()) return;
    if (!it->is_object()) {
      if (!strict) return;
      fail(std::string("'") + kw + "' at " + where(ptr) + " must be an object of schemas");
    }
    if (!strict) {
      for (const auto& v : *it) {
        if (!v.is_object() && !v.is_boolean()) return;  // not a schema container after all
      }
    }
    const std::string base = append(ptr, kw);
    for (const auto& [k, v] : it->items()) fn(v, append(base, k));
  };
  // Containers are scanned even beside a draft-07 `$ref` (which ignores its siblings): the
  // `{"$ref": "#/definitions/x", "definitions": {...}}` shape is what generators emit.
  map("$defs", d >= Dialect::d2019);
  map("definitions", d <= Dialect::d7);
  if (d <= Dialect::d7 && node.contains("$ref")) return;

  const bool d4 = d == Dialect::d4;
  if (const auto it = node.find("additionalProperties"); it != node.end() && !(d4 && it->is_boolean())) {
    fn(*it, append(ptr, "additionalProperties"));
  }
  single("not");
  array("allOf");
  array("anyOf");
  array("oneOf");
  map("properties", true);
  map("patternProperties", true);
  if (d >= Dialect::d6) {
    single("propertyNames");
    single("contains");
  }
  if (d >= Dialect::d7) {
    single("if");
    single("then");
    single("else");
  }
  if (d >= Dialect::d2019) {
    map("dependentSchemas", true);
    single("unevaluatedProperties");
    single("unevaluatedItems");
  }
  // `dependencies` was split in 2019-09; it stays honoured there for compatibility (the
  // test suite's optional "dependencies-compatibility"), when it has the old shape.
  if (read_dependencies(node, d, ptr)) {
    const std::string base = append(ptr, "dependencies");
    for (const auto& [k, v] : node.at("dependencies").items()) {
      if (!v.is_array()) fn(v, append(base, k));
    }
  }
  if (d == Dialect::d2020) array("prefixItems");
  if (const auto it = node.find("items"); it != node.end()) {
    if (it->is_array()) {
      // An empty array is valid in draft-04..2019-09 tuple form.
      const std::string base = append(ptr, "items");
      for (std::size_t i = 0; i < it->size(); ++i) fn((*it)[i], base + "/" + std::to_string(i));
    } else {
      fn(*it, append(ptr, "items"));
    }
  }
  const bool additional_items = d != Dialect::d2020 || (node.contains("items") && node["items"].is_array());
  if (additional_items) {
    if (const auto it = node.find("additionalItems"); it != node.end() && !(d4 && it->is_boolean())) {
      fn(*it, append(ptr, "additionalItems"));
    }
  }
}

void Compiler::scan(const json& node, const std::string& ptr, std::string base, int res, Dialect d, std::size_t depth) {
  if (depth > lim_.max_depth) {
    fail("schema nesting exceeds " + std::to_string(lim_.max_depth) + " levels at " + where(ptr));
  }
  if (by_pointer_.count(ptr)) return;
  if (++count_ > lim_.max_subschemas) {
    fail("schema has more than " + std::to_string(lim_.max_subschemas) + " subschemas");
  }
  if (node.is_boolean()) {
    if (d == Dialect::d4) fail("boolean schema at " + where(ptr) + " is not allowed in draft-04");
    add_entry(ptr, node, base, res, d);
    return;
  }
  if (!node.is_object()) {
    fail("expected a schema (object or boolean) at " + where(ptr) + ", got " + type_name(node));
  }
  if (!ptr.empty()) {
    if (const auto it = node.find("$schema"); it != node.end()) {
      if (!it->is_string()) fail("$schema at " + where(ptr) + " must be a string");
      const auto found = dialect_of(it->get_ref<const std::string&>());
      if (!found) fail(unsupported_dialect(*it) + " at " + where(ptr));
      d = *found;
    }
  }
  const bool ref_only = d <= Dialect::d7 && node.contains("$ref");
  const char* id_keyword = d == Dialect::d4 ? "id" : "$id";
  if (const auto it = node.find(id_keyword); it != node.end() && !ref_only) {
    if (!it->is_string()) fail(std::string(id_keyword) + " at " + where(ptr) + " must be a string");
    Uri id = parse_uri(it->get_ref<const std::string&>());
    const std::string fragment = id.fragment;
    id.has_fragment = false;
    id.fragment.clear();
    const std::string doc_part = to_string(id);
    if (d >= Dialect::d2019 && !fragment.empty()) {
      fail("$id at " + where(ptr) + " must not contain a fragment (use $anchor)");
    }
    if (!doc_part.empty()) {
      base = split_fragment(resolve_uri(base, doc_part)).first;
      const auto found = resource_by_uri_.find(base);
      if (ptr.empty()) {
        impl_.resources[0].uri = base;
        resource_by_uri_[base] = 0;
      } else if (found != resource_by_uri_.end()) {
        if (impl_.resources[std::size_t(found->second)].pointer != ptr) {
          fail("duplicate $id \"" + base + "\" at " + where(ptr));
        }
        res = found->second;
      } else {
        Resource r;
        r.uri = base;
        r.pointer = ptr;
        r.dialect = d;
        res = static_cast<int>(impl_.resources.size());
        impl_.resources.push_back(std::move(r));
        resource_by_uri_[base] = res;
      }
    }
    if (d <= Dialect::d7 && !fragment.empty() && fragment[0] != '/') {
      add_anchor(base, fragment, ptr);
    }
  }
  if (d >= Dialect::d2019) {
    if (const auto it = node.find("$anchor"); it != node.end()) {
      add_anchor(base, anchor_name(*it, "$anchor", ptr), ptr);
    }
    if (d == Dialect::d2020) {
      if (const auto it = node.find("$dynamicAnchor"); it != node.end()) {
        const std::string name = anchor_name(*it, "$dynamicAnchor", ptr);
        add_anchor(base, name, ptr);
        impl_.resources[std::size_t(res)].dynamic_anchors.emplace(name, ptr);
      }
    } else if (const auto it = node.find("$recursiveAnchor"); it != node.end()) {
      if (!it->is_boolean()) fail("$recursiveAnchor at " + where(ptr) + " must be a boolean");
      if (it->get<bool>() && impl_.resources[std::size_t(res)].pointer == ptr) {
        impl_.resources[std::size_t(res)].recursive_anchor = true;
      }
    }
  }
  add_entry(ptr, node, base, res, d);
  for_each_subschema(node, ptr, d, [&](const json& child, const std::string& child_ptr) {
    scan(child, child_ptr, base, res, d, depth + 1);
  });
}

void Compiler::add_entry(const std::string& ptr, const json& node, const std::string& base, int res, Dialect d) {
  by_pointer_[ptr] = static_cast<int>(entries_.size());
  entries_.push_back(Entry{ptr, &node, base, res, d});
}

std::string Compiler::anchor_name(const json& v, const char* keyword, const std::string& ptr) {
  if (!v.is_string()) fail(std::string(keyword) + " at " + where(ptr) + " must be a string");
  const std::string& s = v.get_ref<const std::string&>();
  const bool ok = !s.empty() && (std::isalpha(static_cast<unsigned char>(s[0])) || s[0] == '_') &&
                  std::all_of(s.begin(), s.end(), [](char c) {
                    return std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '-' || c == '.';
                  });
  if (!ok) fail(std::string(keyword) + " \"" + s + "\" at " + where(ptr) + " is not a valid name");
  return s;
}

void Compiler::add_anchor(const std::string& base, const std::string& name, const std::string& ptr) {
  const auto [it, inserted] = anchors_.emplace(base + "#" + name, ptr);
  if (!inserted && it->second != ptr) {
    fail("duplicate anchor \"" + name + "\" at " + where(ptr));
  }
}

bool Compiler::read_dependencies(const json& node, Dialect d, const std::string& ptr) {
  const auto it = node.find("dependencies");
  if (it == node.end()) return false;
  if (d <= Dialect::d7) {
    if (!it->is_object()) fail("'dependencies' at " + where(ptr) + " must be an object");
    return true;
  }
  if (!it->is_object()) return false;
  return std::all_of(it->begin(), it->end(), [](const json& v) {
    return v.is_object() || v.is_boolean() ||
           (v.is_array() && std::all_of(v.begin(), v.end(), [](const json& e) { return e.is_string(); }));
  });
}

int Compiler::resolve_reference(const std::string& ref, const Entry& at, const char* keyword) {
  const std::string absolute = resolve_uri(at.base, ref);
  const auto [doc, raw_fragment] = split_fragment(absolute);
  const auto res = resource_by_uri_.find(doc);
  if (res == resource_by_uri_.end()) {
    fail(std::string(keyword) + " \"" + ref + "\" at " + where(at.pointer) +
         " does not resolve within the schema document; external references are never fetched");
  }
  const Resource& resource = impl_.resources[std::size_t(res->second)];
  const auto fragment = percent_decode(raw_fragment);
  if (!fragment) fail(std::string(keyword) + " \"" + ref + "\" at " + where(at.pointer) + " is malformed");
  std::string target;
  if (fragment->empty() || (*fragment)[0] == '/') {
    const auto tokens = parse_pointer(*fragment);
    if (!tokens) fail(std::string(keyword) + " \"" + ref + "\" at " + where(at.pointer) + " is malformed");
    target = resource.pointer;
    for (const std::string& t : *tokens) target = append(target, t);
  } else {
    const auto it = anchors_.find(doc + "#" + *fragment);
    if (it == anchors_.end()) {
      fail(std::string(keyword) + " \"" + ref + "\" at " + where(at.pointer) + " names an unknown anchor");
    }
    target = it->second;
  }
  if (const auto it = by_pointer_.find(target); it != by_pointer_.end()) return it->second;
  const auto tokens = parse_pointer(target);
  const json* node = tokens ? navigate(&impl_.doc, *tokens) : nullptr;
  if (!node) {
    fail(std::string(keyword) + " \"" + ref + "\" at " + where(at.pointer) +
         " points to a missing location");
  }
  scan(*node, target, resource.uri, res->second, resource.dialect, 0);
  return by_pointer_.at(target);
}

int Compiler::node_at(const std::string& ptr) const {
  const auto it = by_pointer_.find(ptr);
  return it == by_pointer_.end() ? kNone : it->second;
}

int Compiler::child(const std::string& ptr) const {
  const int i = node_at(ptr);
  if (i == kNone) fail("internal error: unscanned subschema at " + where(ptr));
  return i;
}

void Compiler::check_cycles() {
  const std::size_t n = impl_.nodes.size();
  auto in_place = [](const Node& s, std::vector<int>& out) {
    out.clear();
    auto add = [&out](int i) {
      if (i >= 0) out.push_back(i);
    };
    add(s.ref);
    add(s.dynamic_ref);
    for (int i : s.all_of) add(i);
    for (int i : s.any_of) add(i);
    for (int i : s.one_of) add(i);
    add(s.not_);
    add(s.if_);
    add(s.then_);
    add(s.else_);
    for (const auto& dep : s.dependent_schemas) add(dep.second);
  };
  auto descending = [](const Node& s, std::vector<int>& out) {
    auto add = [&out](int i) {
      if (i >= 0) out.push_back(i);
    };
    for (const auto& p : s.properties) add(p.second);
    for (const auto& p : s.pattern_properties) add(p.second);
    add(s.additional_properties);
    add(s.property_names);
    for (int i : s.prefix_items) add(i);
    add(s.items);
    add(s.contains);
    add(s.unevaluated_properties);
    add(s.unevaluated_items);
  };

  // Reachable from the root; a `$dynamicRef` may land on any dynamic anchor.
  std::vector<std::uint8_t> reachable(n, 0);
  std::vector<int> todo{0}, children;
  reachable[0] = 1;
  bool dynamic = false;
  while (!todo.empty()) {
    const Node& s = impl_.nodes[std::size_t(todo.back())];
    todo.pop_back();
    dynamic |= s.dynamic_bookend;
    in_place(s, children);
    descending(s, children);
    for (int c : children) {
      if (!reachable[std::size_t(c)]) {
        reachable[std::size_t(c)] = 1;
        todo.push_back(c);
      }
    }
    if (todo.empty() && dynamic) {
      dynamic = false;
      for (const Resource& r : impl_.resources) {
        for (const auto& anchor : r.dynamic_nodes) {
          if (!reachable[std::size_t(anchor.second)]) {
            reachable[std::size_t(anchor.second)] = 1;
            todo.push_back(anchor.second);
          }
        }
        if (r.recursive_anchor && !reachable[std::size_t(r.root_node)]) {
          reachable[std::size_t(r.root_node)] = 1;
          todo.push_back(r.root_node);
        }
      }
    }
  }

  // Depth-first over in-place edges only; 0 = unvisited, 1 = on the stack, 2 = done.
  std::vector<std::uint8_t> state(n, 0);
  struct Frame {
    int node;
    std::vector<int> children;
    std::size_t next;
  };
  for (std::size_t start = 0; start < n; ++start) {
    if (state[start] || !reachable[start]) continue;
    std::vector<Frame> stack;
    in_place(impl_.nodes[start], children);
    stack.push_back(Frame{static_cast<int>(start), children, 0});
    state[start] = 1;
    while (!stack.empty()) {
      Frame& f = stack.back();
      if (f.next == f.children.size()) {
        state[std::size_t(f.node)] = 2;
        stack.pop_back();
        continue;
      }
      const int c = f.children[f.next++];
      if (state[std::size_t(c)] == 1) {
        fail("reference cycle at " + where(impl_.nodes[std::size_t(c)].pointer) +
             " never descends into the instance: the schema would recurse forever");
      }
      if (state[std::size_t(c)] == 0) {
        state[std::size_t(c)] = 1;
        in_place(impl_.nodes[std::size_t(c)], children);
        stack.push_back(Frame{c, children, 0});
      }
    }
  }
}

}  // namespace mcp::detail::schema

namespace mcp::detail {

using namespace schema;

tl::expected<std::shared_ptr<const SchemaValidator>, std::string> SchemaValidator::compile(
    const nlohmann::json& schema, const SchemaLimits& limits) {
  try {
    // Before anything copies or recurses over the document (nlohmann's copy is recursive).
    if (measure(schema, limits.max_document_depth).depth > limits.max_document_depth) {
      return tl::unexpected("schema document nests deeper than " + std::to_string(limits.max_document_depth) +
                            " levels");
    }
    auto impl = std::make_unique<Impl>();
    impl->doc = schema;
    impl->limits = limits;
    Compiler(*impl).run();
    return std::shared_ptr<const SchemaValidator>(new SchemaValidator(std::move(impl)));
  } catch (const CompileError& e) {
    return tl::unexpected(valid_utf8(e.message));
  } catch (const std::exception& e) {
    return tl::unexpected(std::string("cannot compile schema: ") + e.what());
  } catch (...) {
    return tl::unexpected(std::string("cannot compile schema: unknown error"));
  }
}

}  // namespace mcp::detail
