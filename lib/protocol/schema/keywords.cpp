// SPDX-License-Identifier: MIT
// Pass 3 of the schema compiler (see compiler.hpp): each subschema's keywords into its Node.
#include "compiler.hpp"

#include "../../util/url.hpp"

#include <algorithm>
#include <exception>

namespace mcp::detail::schema {

std::uint64_t Compiler::non_negative(const json& v, const char* kw, const std::string& ptr) {
  if (!v.is_number() || !is_integral(v) || compare_numbers(v, json(0)) < 0) {
    fail(std::string("'") + kw + "' at " + where(ptr) + " must be a non-negative integer");
  }
  if (v.is_number_float()) {
    const double d = v.get<double>();
    return d >= 1.8e19 ? std::numeric_limits<std::uint64_t>::max() : static_cast<std::uint64_t>(d);
  }
  return v.get<std::uint64_t>();
}

const json* Compiler::number(const json& v, const char* kw, const std::string& ptr) {
  if (!v.is_number()) fail(std::string("'") + kw + "' at " + where(ptr) + " must be a number");
  return &v;
}

std::vector<const std::string*> Compiler::string_list(const json& v, const std::string& what, const std::string& ptr) {
  if (!v.is_array()) fail(what + " at " + where(ptr) + " must be an array of strings");
  std::vector<const std::string*> out;
  for (const auto& e : v) {
    if (!e.is_string()) fail(what + " at " + where(ptr) + " must be an array of strings");
    out.push_back(&e.get_ref<const std::string&>());
  }
  return out;
}

int Compiler::regex(const std::string& source, const std::string& ptr) {
  if (const auto it = regex_by_source_.find(source); it != regex_by_source_.end()) return it->second;
  if (source.size() > lim_.max_pattern_bytes) {
    fail("regular expression at " + where(ptr) + " is longer than " +
         std::to_string(lim_.max_pattern_bytes) + " bytes");
  }
  Regex r;
  r.source = source;
  const std::wstring wide = translate_pattern(widen(source));
  r.cost = estimate_regex_cost(wide);
  try {
    auto flags = std::regex_constants::ECMAScript;
#if defined(__GLIBCXX__)
    // Thompson-style (breadth-first) matching: time linear in the input, no recursion per
    // character (the default executor overflows the stack on long inputs).
    flags |= std::regex_constants::__polynomial;
#endif
    r.re = std::wregex(wide, flags);
  } catch (const std::regex_error& e) {
    fail("unsupported or invalid regular expression " + quote(source) + " at " + where(ptr) + " (" +
         e.what() + ")");
  }
  const int index = static_cast<int>(impl_.regexes.size());
  impl_.regexes.push_back(std::move(r));
  regex_by_source_.emplace(source, index);
  return index;
}

void Compiler::compile_node(std::size_t index) {
  const Entry e = entries_[index];  // copy: resolving references may grow entries_
  if (impl_.nodes.size() <= index) impl_.nodes.resize(index + 1);
  Node n;
  n.pointer = e.pointer;
  n.dialect = e.dialect;
  n.resource = e.resource;
  const json& o = *e.node;
  const std::string& ptr = e.pointer;
  const Dialect d = e.dialect;
  if (o.is_boolean()) {
    n.is_bool = true;
    n.bool_value = o.get<bool>();
    impl_.nodes[index] = std::move(n);
    return;
  }
  auto find = [&o](const char* kw) -> const json* {
    const auto it = o.find(kw);
    return it == o.end() ? nullptr : &*it;
  };
  auto sub = [&](const char* kw) { return child(append(ptr, kw)); };

  if (const json* ref = find("$ref")) {
    if (!ref->is_string()) fail("$ref at " + where(ptr) + " must be a string");
    n.ref = resolve_reference(ref->get_ref<const std::string&>(), e, "$ref");
    if (d <= Dialect::d7) {  // siblings of $ref are ignored before 2019-09
      impl_.nodes[index] = std::move(n);
      return;
    }
  }
  if (d == Dialect::d2020) {
    if (const json* ref = find("$dynamicRef")) {
      if (!ref->is_string()) fail("$dynamicRef at " + where(ptr) + " must be a string");
      const std::string& s = ref->get_ref<const std::string&>();
      n.dynamic_ref = resolve_reference(s, e, "$dynamicRef");
      const std::string fragment = split_fragment(resolve_uri(e.base, s)).second;
      const json& target = *entries_[std::size_t(n.dynamic_ref)].node;
      if (!fragment.empty() && fragment[0] != '/' && target.is_object()) {
        const auto it = target.find("$dynamicAnchor");
        if (it != target.end() && it->is_string() && it->get_ref<const std::string&>() == fragment) {
          n.dynamic_bookend = true;
          n.dynamic_name = fragment;
        }
      }
    }
  } else if (d == Dialect::d2019) {
    if (const json* ref = find("$recursiveRef")) {
      if (!ref->is_string() || ref->get_ref<const std::string&>() != "#") {
        fail("$recursiveRef at " + where(ptr) + " must be \"#\"");
      }
      n.dynamic_ref = resolve_reference("#", e, "$recursiveRef");
      n.recursive_ref = true;
      const json& target = *entries_[std::size_t(n.dynamic_ref)].node;
      if (target.is_object()) {
        const auto it = target.find("$recursiveAnchor");
        n.dynamic_bookend = it != target.end() && it->is_boolean() && it->get<bool>();
      }
    }
  }

  // Assertions.
  if (const json* t = find("type")) {
    auto bit = [&](const json& name) -> std::uint8_t {
      if (name.is_string()) {
        const std::string& s = name.get_ref<const std::string&>();
        if (s == "null") return kNull;
        if (s == "boolean") return kBoolean;
        if (s == "object") return kObject;
        if (s == "array") return kArray;
        if (s == "number") return kNumber;
        if (s == "string") return kString;
        if (s == "integer") return kInteger;
      }
      fail("'type' at " + where(ptr) + " names an unknown type " + render(name));
    };
    if (t->is_array()) {
      for (const auto& name : *t) n.types |= bit(name);
      if (t->empty()) fail("'type' at " + where(ptr) + " must not be an empty array");
    } else {
      n.types = bit(*t);
    }
  }
  if (const json* v = find("enum")) {
    if (!v->is_array()) fail("'enum' at " + where(ptr) + " must be an array");
    n.enum_values = v;
  }
  if (d >= Dialect::d6) {
    if (const json* v = find("const")) n.const_value = v;
  }
  if (const json* v = find("multipleOf")) {
    n.multiple_of = number(*v, "multipleOf", ptr);
    if (compare_numbers(*v, json(0)) <= 0)
      fail("'multipleOf' at " + where(ptr) + " must be greater than 0");
  }
  if (d == Dialect::d4) {
    const json* max = find("maximum");
    const json* min = find("minimum");
    if (max) number(*max, "maximum", ptr);
    if (min) number(*min, "minimum", ptr);
    auto exclusive = [&](const char* kw) {
      const json* v = find(kw);
      if (v && !v->is_boolean())
        fail(std::string("'") + kw + "' at " + where(ptr) + " must be a boolean in draft-04");
      return v && v->get<bool>();
    };
    (exclusive("exclusiveMaximum") ? n.exclusive_maximum : n.maximum) = max;
    (exclusive("exclusiveMinimum") ? n.exclusive_minimum : n.minimum) = min;
  } else {
    if (const json* v = find("maximum")) n.maximum = number(*v, "maximum", ptr);
    if (const json* v = find("minimum")) n.minimum = number(*v, "minimum", ptr);
    if (const json* v = find("exclusiveMaximum")) n.exclusive_maximum = number(*v, "exclusiveMaximum", ptr);
    if (const json* v = find("exclusiveMinimum")) n.exclusive_minimum = number(*v, "exclusiveMinimum", ptr);
  }
  auto count = [&](const char* kw, std::optional<std::uint64_t>& out) {
    if (const json* v = find(kw)) out = non_negative(*v, kw, ptr);
  };
  count("minLength", n.min_length);
  count("maxLength", n.max_length);
  count("minItems", n.min_items);
  count("maxItems", n.max_items);
  count("minProperties", n.min_properties);
  count("maxProperties", n.max_properties);
  if (d >= Dialect::d2019) {
    count("minContains", n.min_contains);
    count("maxContains", n.max_contains);
  }
  if (const json* v = find("pattern")) {
    if (!v->is_string()) fail("'pattern' at " + where(ptr) + " must be a string");
    n.pattern = regex(v->get_ref<const std::string&>(), append(ptr, "pattern"));
  }
  if (const json* v = find("uniqueItems")) {
    if (!v->is_boolean()) fail("'uniqueItems' at " + where(ptr) + " must be a boolean");
    n.unique_items = v->get<bool>();
  }
  if (const json* v = find("required")) n.required = string_list(*v, "'required'", ptr);
  if (d >= Dialect::d2019) {
    if (const json* v = find("dependentRequired")) {
      if (!v->is_object()) fail("'dependentRequired' at " + where(ptr) + " must be an object");
      for (const auto& [k, list] : v->items()) {
        n.dependent_required.emplace_back(&k, string_list(list, "'dependentRequired'", ptr));
      }
    }
  }
  if (const json* v = find("dependencies"); v && read_dependencies(o, d, ptr)) {
    for (const auto& [k, dep] : v->items()) {
      if (dep.is_array()) {
        n.dependent_required.emplace_back(&k, string_list(dep, "'dependencies'", ptr));
      } else {
        n.dependent_schemas.emplace_back(&k, child(append(append(ptr, "dependencies"), k)));
      }
    }
  }

  // Applicators.
  auto list = [&](const char* kw, std::vector<int>& out) {
    if (const json* v = find(kw)) {
      for (std::size_t i = 0; i < v->size(); ++i)
        out.push_back(child(append(ptr, kw) + "/" + std::to_string(i)));
    }
  };
  list("allOf", n.all_of);
  list("anyOf", n.any_of);
  list("oneOf", n.one_of);
  if (find("not")) n.not_ = sub("not");
  if (d >= Dialect::d7 && find("if")) {
    n.if_ = sub("if");
    if (find("then")) n.then_ = sub("then");
    if (find("else")) n.else_ = sub("else");
  }
  if (const json* v = find("properties")) {
    for (const auto& item : v->items()) {
      n.properties.emplace_back(&item.key(), child(append(append(ptr, "properties"), item.key())));
    }
  }
  if (const json* v = find("patternProperties")) {
    for (const auto& item : v->items()) {
      const std::string at = append(append(ptr, "patternProperties"), item.key());
      n.pattern_properties.emplace_back(regex(item.key(), at), child(at));
    }
  }
  if (const json* v = find("additionalProperties")) {
    if (d == Dialect::d4 && v->is_boolean()) {
      n.additional_properties = v->get<bool>() ? kNone : kFalse;
    } else {
      n.additional_properties = sub("additionalProperties");
    }
  }
  if (d >= Dialect::d6 && find("propertyNames")) n.property_names = sub("propertyNames");
  if (d >= Dialect::d2019) {
    if (const json* v = find("dependentSchemas")) {
      for (const auto& item : v->items()) {
        n.dependent_schemas.emplace_back(&item.key(),
                                         child(append(append(ptr, "dependentSchemas"), item.key())));
      }
    }
    if (find("unevaluatedProperties")) n.unevaluated_properties = sub("unevaluatedProperties");
    if (find("unevaluatedItems")) n.unevaluated_items = sub("unevaluatedItems");
  }
  const json* items = find("items");
  if (d == Dialect::d2020 && !(items && items->is_array())) {
    list("prefixItems", n.prefix_items);
    if (items) n.items = sub("items");
  } else if (items && items->is_array()) {
    list("items", n.prefix_items);
    if (const json* v = find("additionalItems")) {
      if (d == Dialect::d4 && v->is_boolean()) {
        n.items = v->get<bool>() ? kNone : kFalse;
      } else {
        n.items = sub("additionalItems");
      }
      n.items_is_additional = true;
    }
  } else if (items) {
    n.items = sub("items");
  }
  if (d >= Dialect::d6 && find("contains")) n.contains = sub("contains");

  std::sort(n.properties.begin(), n.properties.end(),
            [](const Named& a, const Named& b) { return *a.first < *b.first; });
  impl_.nodes[index] = std::move(n);
}

}  // namespace mcp::detail::schema
