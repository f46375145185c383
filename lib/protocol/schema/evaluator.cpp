// SPDX-License-Identifier: MIT
// The evaluator's recursive walk (see evaluator.hpp), and SchemaValidator::validate.
#include "evaluator.hpp"

#include <limits>

namespace mcp::detail::schema {

#define FAILED()                     \
  do {                               \
    ok = false;                      \
    if (!keep_going()) return false; \
  } while (0)

bool Evaluator::eval(int index, const json& inst, Annotations* ann) {
  if (index == kFalse) {
    error("no value is allowed here");
    return false;
  }
  const Node& s = impl_.nodes[std::size_t(index)];
  if (depth_ >= impl_.limits.max_eval_depth) too_deep();
  charge(1);
  if (s.is_bool) {
    if (!s.bool_value) error("no value is allowed here (the schema is false)");
    return s.bool_value;
  }
  ++depth_;
  const bool enter = s.resource != scope_.back();
  if (enter) scope_.push_back(s.resource);
  Frame frame{*this, enter};
  if (s.unevaluated_properties != kNone || s.unevaluated_items != kNone) return unevaluated(s, inst, ann);
  return keywords(s, inst, ann);
}

bool Evaluator::keywords(const Node& s, const json& inst, Annotations* a) {
  if (s.types && !type_matches(s, inst)) {
    if (recording()) type_error(s, inst);
    return false;  // the other keywords' complaints would only be noise
  }
  bool ok = true;
  if (!check_value(s, inst)) FAILED();
  if (inst.is_object()) {
    if (!check_object(s, inst)) FAILED();
    if (!members(s, inst, a)) FAILED();
  } else if (inst.is_array()) {
    if (!check_array(s, inst)) FAILED();
    if (!elements(s, inst, a)) FAILED();
  }
  if (has_in_place(s) && !in_place(s, inst, a)) FAILED();
  return ok;
}

// unevaluatedProperties / unevaluatedItems see the annotations of every other keyword of the
// schema and of its in-place subschemas; when something already failed the schema fails anyway
// (and the annotations are incomplete), so they are not applied.
bool Evaluator::unevaluated(const Node& s, const json& inst, Annotations* ann) {
  Annotations local;
  bool ok = keywords(s, inst, &local);
  if (!ok) return false;
  if (s.unevaluated_properties != kNone && inst.is_object() && !local.all_props) {
    std::sort(local.props.begin(), local.props.end());
    for (auto member = inst.begin(); member != inst.end(); ++member) {
      const std::string& key = member.key();
      const json& value = *member;
      if (std::binary_search(local.props.begin(), local.props.end(), std::string_view(key))) continue;
      if (is_false(s.unevaluated_properties)) {
        report([&] { return "unexpected property " + quote(key) + " (unevaluatedProperties)"; });
        FAILED();
        continue;
      }
      PathGuard g(path_, &key, 0);
      if (!eval(s.unevaluated_properties, value, nullptr)) FAILED();
    }
    local.all_props = true;
  }
  if (s.unevaluated_items != kNone && inst.is_array() && !local.all_items) {
    std::sort(local.item_indices.begin(), local.item_indices.end());
    for (std::size_t i = local.items; i < inst.size(); ++i) {
      if (std::binary_search(local.item_indices.begin(), local.item_indices.end(), i)) continue;
      PathGuard g(path_, nullptr, i);
      if (is_false(s.unevaluated_items)) {
        error("unexpected item (unevaluatedItems)");
        FAILED();
        continue;
      }
      if (!eval(s.unevaluated_items, inst[i], nullptr)) FAILED();
    }
    local.all_items = true;
  }
  if (ok && ann) ann->merge(std::move(local));
  return ok;
}

void Evaluator::type_error(const Node& s, const json& inst) {
  std::string expected;
  static constexpr std::pair<std::uint8_t, const char*> kNames[] = {
      {kObject, "object"},   {kArray, "array"},     {kString, "string"}, {kNumber, "number"},
      {kInteger, "integer"}, {kBoolean, "boolean"}, {kNull, "null"}};
  for (const auto& [bit, name] : kNames) {
    if (s.types & bit) expected += (expected.empty() ? "" : " or ") + std::string(name);
  }
  const bool d4_float = s.dialect == Dialect::d4 && inst.is_number_float();
  error("expected " + expected + ", got " + (d4_float ? "number" : type_name(inst)));
}

bool Evaluator::type_matches(const Node& s, const json& inst) {
  if (inst.is_number()) {
    // draft-04 predates "1.0 is an integer"; a float only counts when it is too large to
    // have been parsed as a 64-bit integer (a bignum).
    const bool integer =
        s.dialect == Dialect::d4
            ? inst.is_number_integer() || (is_integral(inst) && std::fabs(inst.get<double>()) >= 9.2e18)
            : is_integral(inst);
    return (s.types & kNumber) || ((s.types & kInteger) && integer);
  }
  const std::uint8_t have = inst.is_null()      ? kNull
                            : inst.is_boolean() ? kBoolean
                            : inst.is_object()  ? kObject
                            : inst.is_array()   ? kArray
                            : inst.is_string()  ? kString
                                                : 0;
  return (have & s.types) != 0;
}

bool Evaluator::check_value(const Node& s, const json& inst) {
  bool ok = true;
  if (s.const_value && !(*s.const_value == inst)) {
    report([&] { return "must equal " + render(*s.const_value) + ", got " + describe(inst); });
    FAILED();
  }
  if (s.enum_values) {
    charge(s.enum_values->size() / 8);
    if (std::find(s.enum_values->begin(), s.enum_values->end(), inst) == s.enum_values->end()) {
      report([&] { return "must be one of " + render(*s.enum_values) + ", got " + describe(inst); });
      FAILED();
    }
  }
  if (inst.is_number_float() && !std::isfinite(inst.get<double>()) &&
      (s.maximum || s.exclusive_maximum || s.minimum || s.exclusive_minimum || s.multiple_of)) {
    // Not JSON (only a program can build it), and no bound holds for it.
    error("must be a finite number");
    FAILED();
  } else if (inst.is_number()) {
    auto bound = [&](const json* limit, bool pass, const char* op) {
      if (!limit || pass) return true;
      report([&] { return std::string("must be ") + op + " " + limit->dump() + ", got " + inst.dump(); });
      return false;
    };
    if (!bound(s.maximum, !s.maximum || compare_numbers(inst, *s.maximum) <= 0, "<=")) FAILED();
    if (!bound(s.exclusive_maximum, !s.exclusive_maximum || compare_numbers(inst, *s.exclusive_maximum) < 0,
               "<"))
      FAILED();
    if (!bound(s.minimum, !s.minimum || compare_numbers(inst, *s.minimum) >= 0, ">=")) FAILED();
    if (!bound(s.exclusive_minimum, !s.exclusive_minimum || compare_numbers(inst, *s.exclusive_minimum) > 0,
               ">"))
      FAILED();
    if (s.multiple_of && !multiple_of(inst, *s.multiple_of)) {
      report([&] { return "must be a multiple of " + s.multiple_of->dump() + ", got " + inst.dump(); });
      FAILED();
    }
  } else if (inst.is_string()) {
    const std::string& str = inst.get_ref<const std::string&>();
    if (s.min_length || s.max_length) {
      const std::size_t len = code_points(str);
      if (s.min_length && len < *s.min_length) {
        report([&] {
          return "must be at least " + std::to_string(*s.min_length) + " characters long, got " +
                 std::to_string(len);
        });
        FAILED();
      }
      if (s.max_length && len > *s.max_length) {
        report([&] {
          return "must be at most " + std::to_string(*s.max_length) + " characters long, got " +
                 std::to_string(len);
        });
        FAILED();
      }
    }
    if (s.pattern != kNone && !matches(s.pattern, str)) {
      report(
          [&] { return "must match pattern " + render(json(impl_.regexes[std::size_t(s.pattern)].source)); });
      FAILED();
    }
  }
  return ok;
}

bool Evaluator::check_object(const Node& s, const json& inst) {
  bool ok = true;
  for (const std::string* name : s.required) {
    if (!inst.contains(*name)) {
      report([&] { return "missing required property " + quote(*name); });
      FAILED();
    }
  }
  if (s.min_properties && inst.size() < *s.min_properties) {
    report([&] {
      return "must have at least " + std::to_string(*s.min_properties) + " properties, got " +
             std::to_string(inst.size());
    });
    FAILED();
  }
  if (s.max_properties && inst.size() > *s.max_properties) {
    report([&] {
      return "must have at most " + std::to_string(*s.max_properties) + " properties, got " +
             std::to_string(inst.size());
    });
    FAILED();
  }
  for (const auto& [name, deps] : s.dependent_required) {
    if (!inst.contains(*name)) continue;
    for (const std::string* dep : deps) {
      if (!inst.contains(*dep)) {
        report([&] { return "property " + quote(*name) + " requires property " + quote(*dep); });
        FAILED();
      }
    }
  }
  return ok;
}

bool Evaluator::property_name(const Node& s, const std::string& key) {
  const json name(key);
  std::vector<Error> captured;
  if (alternative(s.property_names, name, nullptr, captured)) return true;
  report([&] {
    return "invalid property name " + quote(key) +
           (captured.empty() ? std::string() : ": " + captured.front().message);
  });
  return false;
}

bool Evaluator::members(const Node& s, const json& inst, Annotations* a) {
  if (s.properties.empty() && s.pattern_properties.empty() && s.additional_properties == kNone &&
      s.property_names == kNone) {
    return true;
  }
  bool ok = true;
  for (auto member = inst.begin(); member != inst.end(); ++member) {
    const std::string& key = member.key();
    const json& value = *member;
    charge(1);
    if (s.property_names != kNone && !property_name(s, key)) FAILED();
    bool known = false;
    const auto it = std::lower_bound(s.properties.begin(), s.properties.end(), key,
                                     [](const Named& p, const std::string& k) { return *p.first < k; });
    if (it != s.properties.end() && *it->first == key) {
      known = true;
      PathGuard g(path_, &key, 0);
      if (!eval(it->second, value, nullptr)) FAILED();
    }
    for (const auto& [regex, c] : s.pattern_properties) {
      if (!matches(regex, key)) continue;
      known = true;
      PathGuard g(path_, &key, 0);
      if (!eval(c, value, nullptr)) FAILED();
    }
    if (!known && s.additional_properties != kNone) {
      known = true;
      if (is_false(s.additional_properties)) {
        report([&] { return "unexpected property " + quote(key); });
        FAILED();
      } else {
        PathGuard g(path_, &key, 0);
        if (!eval(s.additional_properties, value, nullptr)) FAILED();
      }
    }
    if (a && known) a->props.emplace_back(key);
  }
  return ok;
}

bool Evaluator::check_array(const Node& s, const json& inst) {
  bool ok = true;
  const std::size_t size = inst.size();
  if (s.min_items && size < *s.min_items) {
    report([&] {
      return "must have at least " + std::to_string(*s.min_items) + " items, got " + std::to_string(size);
    });
    FAILED();
  }
  if (s.max_items && size > *s.max_items) {
    report([&] {
      return "must have at most " + std::to_string(*s.max_items) + " items, got " + std::to_string(size);
    });
    FAILED();
  }
  if (s.unique_items && !unique(inst)) FAILED();
  return ok;
}

bool Evaluator::elements(const Node& s, const json& inst, Annotations* a) {
  bool ok = true;
  const std::size_t size = inst.size();
  const std::size_t prefix = std::min(size, s.prefix_items.size());
  for (std::size_t i = 0; i < prefix; ++i) {
    PathGuard g(path_, nullptr, i);
    if (!eval(s.prefix_items[i], inst[i], nullptr)) FAILED();
  }
  if (a) a->items = std::max(a->items, prefix);
  if (s.items != kNone && size > s.prefix_items.size()) {
    if (s.items == kFalse || (is_false(s.items) && s.items_is_additional)) {
      report([&] {
        return "must have at most " + std::to_string(s.prefix_items.size()) + " items, got " +
               std::to_string(size);
      });
      FAILED();
    } else {
      for (std::size_t i = s.prefix_items.size(); i < size; ++i) {
        PathGuard g(path_, nullptr, i);
        if (!eval(s.items, inst[i], nullptr)) FAILED();
      }
    }
    if (a) a->all_items = true;
  }
  if (s.contains != kNone && !contains(s, inst, a)) FAILED();
  return ok;
}

bool Evaluator::contains(const Node& s, const json& inst, Annotations* a) {
  const bool modern = s.dialect >= Dialect::d2019;
  const std::uint64_t min = modern && s.min_contains ? *s.min_contains : 1;
  const bool has_max = modern && s.max_contains.has_value();
  const std::uint64_t max = has_max ? *s.max_contains : 0;
  const bool collect = a && s.dialect == Dialect::d2020;
  std::uint64_t found = 0;
  for (std::size_t i = 0; i < inst.size(); ++i) {
    PathGuard g(path_, nullptr, i);
    if (test(s.contains, inst[i], nullptr)) {
      ++found;
      if (collect) a->item_indices.push_back(i);
      if (!collect && !has_max && found >= min) break;
    }
  }
  if (found < min) {
    report([&] {
      return "must contain at least " + std::to_string(min) + " item" + (min == 1 ? "" : "s") +
             " matching 'contains', found " + std::to_string(found);
    });
    return false;
  }
  if (has_max && found > max) {
    report([&] {
      return "must contain at most " + std::to_string(max) + " item" + (max == 1 ? "" : "s") +
             " matching 'contains', found " + std::to_string(found);
    });
    return false;
  }
  return true;
}

bool Evaluator::in_place(const Node& s, const json& inst, Annotations* a) {
  bool ok = true;
  if (s.ref != kNone && !eval(s.ref, inst, a)) FAILED();
  if (s.dynamic_ref != kNone && !eval(dynamic_target(s), inst, a)) FAILED();
  for (int c : s.all_of) {
    if (!eval(c, inst, a)) FAILED();
  }
  if (!s.any_of.empty() && !any_of(s, inst, a)) FAILED();
  if (!s.one_of.empty() && !one_of(s, inst, a)) FAILED();
  if (s.not_ != kNone && test(s.not_, inst, nullptr)) {
    error("must not match the schema in 'not'");
    FAILED();
  }
  if (s.if_ != kNone && (s.then_ != kNone || s.else_ != kNone || a)) {
    Annotations t;
    if (test(s.if_, inst, a ? &t : nullptr)) {
      if (a) a->merge(std::move(t));
      if (s.then_ != kNone && !eval(s.then_, inst, a)) FAILED();
    } else if (s.else_ != kNone && !eval(s.else_, inst, a)) {
      FAILED();
    }
  }
  if (inst.is_object()) {
    for (const auto& [name, c] : s.dependent_schemas) {
      if (inst.contains(*name) && !eval(c, inst, a)) FAILED();
    }
  }
  return ok;
}

bool Evaluator::any_of(const Node& s, const json& inst, Annotations* a) {
  bool any = false;
  std::vector<std::vector<Error>> captured(recording() ? s.any_of.size() : 0);
  std::vector<Error> ignored;
  for (std::size_t i = 0; i < s.any_of.size(); ++i) {
    Annotations t;
    if (alternative(s.any_of[i], inst, a ? &t : nullptr, captured.empty() ? ignored : captured[i])) {
      any = true;
      if (!a) break;  // annotations need every passing alternative
      a->merge(std::move(t));
    }
  }
  if (!any) report([&] { return "must match at least one schema in anyOf" + closest(captured); });
  return any;
}

bool Evaluator::one_of(const Node& s, const json& inst, Annotations* a) {
  std::vector<std::size_t> passed;
  std::vector<std::vector<Error>> captured(recording() ? s.one_of.size() : 0);
  std::vector<Error> ignored;
  Annotations kept;
  for (std::size_t i = 0; i < s.one_of.size() && passed.size() < 2; ++i) {
    Annotations t;
    if (alternative(s.one_of[i], inst, a ? &t : nullptr, captured.empty() ? ignored : captured[i])) {
      passed.push_back(i);
      kept = std::move(t);
    }
  }
  if (passed.size() == 1) {
    if (a) a->merge(std::move(kept));
    return true;
  }
  report([&] {
    if (passed.empty()) return "must match exactly one schema in oneOf, but matches none" + closest(captured);
    return "must match exactly one schema in oneOf, but matches #" + std::to_string(passed[0]) + " and #" +
           std::to_string(passed[1]);
  });
  return false;
}

bool Evaluator::unique(const json& inst) {
  const std::size_t size = inst.size();
  if (size < 2) return true;
  auto duplicate = [&](std::size_t i, std::size_t j) {
    report([&] {
      return "items must be unique, but #" + std::to_string(i) + " and #" + std::to_string(j) + " are equal";
    });
    return false;
  };
  if (size <= 8) {
    charge(size * size / 2);
    for (std::size_t i = 0; i < size; ++i) {
      for (std::size_t j = i + 1; j < size; ++j) {
        // Scalars compare by value (1 == 1.0); containers through the canonical form.
        bool equal = false;
        if (inst[i].is_structured() || inst[j].is_structured()) {
          std::string x, y;
          canonical(inst[i], x);
          canonical(inst[j], y);
          equal = x == y;
        } else {
          equal = inst[i] == inst[j];
        }
        if (equal) return duplicate(i, j);
      }
    }
    return true;
  }
  std::unordered_map<std::string, std::size_t> seen;
  seen.reserve(size);
  for (std::size_t i = 0; i < size; ++i) {
    std::string key;
    canonical(inst[i], key);
    charge(1 + key.size() / 64);
    const auto [it, inserted] = seen.emplace(std::move(key), i);
    if (!inserted) return duplicate(it->second, i);
  }
  return true;
}

#undef FAILED

}  // namespace mcp::detail::schema

namespace mcp::detail {

using namespace schema;

std::string SchemaValidator::validate(const nlohmann::json& instance) const {
  try {
    const SchemaLimits& lim = impl_->limits;
    const Size size = measure(instance, lim.max_instance_depth);
    if (size.depth > lim.max_instance_depth) {
      return "(root): instance nests deeper than " + std::to_string(lim.max_instance_depth) + " levels";
    }
    // Saturating: base + per_value * values + string bytes.
    constexpr std::size_t kMax = std::numeric_limits<std::size_t>::max();
    std::size_t budget = lim.max_steps_base;
    auto add = [&budget](std::size_t n) { budget = n > kMax - budget ? kMax : budget + n; };
    add(lim.max_steps_per_value && size.values > kMax / lim.max_steps_per_value
            ? kMax
            : size.values * lim.max_steps_per_value);
    add(size.string_bytes);
    if (Evaluator(*impl_, false, budget).run(instance)) return {};
    Evaluator reporting(*impl_, true, budget);
    reporting.run(instance);
    if (reporting.errors.empty()) return "(root): does not match the schema";
    std::string out;
    for (const Error& e : reporting.errors) {
      if (!out.empty()) out += "; ";
      out += e.path.empty() ? "(root)" : e.path;
      out += ": ";
      out += e.message;
    }
    return valid_utf8(out);
  } catch (const Abort& a) {
    return a.message;
  } catch (const std::exception& e) {
    return std::string("validation failed: ") + e.what();
  } catch (...) {
    return "validation failed: unknown error";
  }
}

}  // namespace mcp::detail
