// SPDX-License-Identifier: MIT
#pragma once
// Strict equality of JSON values for the parser tests (unit and fuzz): nlohmann's == calls
// 1u, 1 and 1.0 equal and two discarded values unequal; here the types must match, floats
// must match bit for bit, and two discarded values are the same outcome.
#include <nlohmann/json.hpp>

#include <algorithm>
#include <cstring>
#include <utility>
#include <vector>

namespace mcp_test {

inline bool same_json(const nlohmann::json& a, const nlohmann::json& b) {
  using t = nlohmann::json::value_t;
  if (a.type() != b.type()) return false;
  switch (a.type()) {
    case t::discarded: return true;
    case t::object: {
      if (a.size() != b.size()) return false;
      for (auto ia = a.begin(), ib = b.begin(); ia != a.end(); ++ia, ++ib)
        if (ia.key() != ib.key() || !same_json(ia.value(), ib.value())) return false;
      return true;
    }
    case t::array:
      if (a.size() != b.size()) return false;
      for (std::size_t i = 0; i < a.size(); ++i)
        if (!same_json(a[i], b[i])) return false;
      return true;
    case t::number_float: {
      const double x = a.get<double>(), y = b.get<double>();
      return std::memcmp(&x, &y, sizeof x) == 0;
    }
    default: return a == b;
  }
}

// The deepest nesting of arrays and objects in `j`, walked without recursion (values nested
// past the parser's limit would overflow a recursive walk's stack).
inline int depth_of(const nlohmann::json& j) {
  using json = nlohmann::json;
  int deepest = 0;
  std::vector<std::pair<const json*, int>> todo{{&j, 0}};
  while (!todo.empty()) {
    auto [v, d] = todo.back();
    todo.pop_back();
    if (!v->is_structured()) continue;
    deepest = std::max(deepest, d + 1);
    for (const auto& e : *v) todo.emplace_back(&e, d + 1);
  }
  return deepest;
}

}  // namespace mcp_test
