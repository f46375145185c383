// SPDX-License-Identifier: MIT
// Mcp-Param-* headers from a tool's inputSchema (x-mcp-header): the checks and the values.
#include "tool_headers.hpp"

#include "client/http_send_facts.hpp"
#include "util/ascii.hpp"

#include <algorithm>
#include <set>

namespace mcp::detail {

using nlohmann::json;

namespace {

constexpr const char* kKey = "x-mcp-header";
constexpr long long kMaxSafe = 9007199254740991LL;  // 2^53 - 1

std::string where(const std::vector<std::string>& path) {
  std::string out;
  for (const auto& p : path) out += (out.empty() ? "" : ".") + p;
  return out.empty() ? "(root)" : out;
}

// Keywords whose values are data, not subschemas: an "x-mcp-header" key inside them is not
// an annotation.
bool is_data_keyword(const std::string& k) {
  return k == "enum" || k == "const" || k == "default" || k == "examples";
}

struct Walker {
  std::vector<ParamHeader> found;
  std::string error;

  // `reachable`: this schema is reached from the root through `properties` keys only.
  void schema(const json& s, const std::vector<std::string>& path, bool reachable) {
    if (!error.empty() || !s.is_object()) return;
    for (auto it = s.begin(); it != s.end() && error.empty(); ++it) {
      const std::string& k = it.key();
      if (k == kKey) {
        annotation(s, it.value(), path, reachable);
      } else if (k == "properties" && it.value().is_object()) {
        for (auto p = it.value().begin(); p != it.value().end(); ++p) {
          auto sub = path;
          sub.push_back(p.key());
          schema(p.value(), sub, reachable);
        }
      } else if (!is_data_keyword(k)) {
        any(it.value(), path);
      }
    }
  }
  // Anything below a non-`properties` keyword: annotations found there are invalid.
  void any(const json& v, const std::vector<std::string>& path) {
    if (v.is_object()) schema(v, path, false);
    else if (v.is_array())
      for (const auto& e : v) any(e, path);
  }
  void annotation(const json& s, const json& value, const std::vector<std::string>& path, bool reachable) {
    if (!reachable || path.empty()) {
      error = "x-mcp-header at " + where(path) + " is not reachable from the schema root through properties alone";
      return;
    }
    if (!value.is_string() || value.get_ref<const std::string&>().empty()) {
      error = "x-mcp-header of " + where(path) + " must be a non-empty string";
      return;
    }
    const auto& name = value.get_ref<const std::string&>();
    for (unsigned char c : name) {
      if (!is_tchar(c)) {
        error = "x-mcp-header '" + name + "' of " + where(path) + " is not a valid HTTP header token";
        return;
      }
    }
    const json type = s.value("type", json());
    if (!type.is_string() || (type != "string" && type != "integer" && type != "boolean")) {
      error = "x-mcp-header '" + name + "' is on " + where(path) + ", which is not of type string, integer or boolean";
      return;
    }
    for (const auto& f : found) {
      if (iequals(f.name, name)) {
        error = "x-mcp-header '" + name + "' is used twice (case-insensitively)";
        return;
      }
    }
    found.push_back({name, path});
  }
};

}  // namespace

tl::expected<std::vector<ParamHeader>, std::string> param_headers(const json& input_schema) {
  Walker w;
  w.schema(input_schema, {}, true);
  if (!w.error.empty()) return tl::unexpected<std::string>(w.error);
  return w.found;
}

tl::expected<std::vector<std::pair<std::string, std::string>>, std::string> param_header_values(
    const std::vector<ParamHeader>& params, const json& arguments) {
  std::vector<std::pair<std::string, std::string>> out;
  for (const auto& p : params) {
    const json* v = &arguments;
    for (const auto& key : p.path) {
      if (!v->is_object() || !v->contains(key)) {
        v = nullptr;
        break;
      }
      v = &(*v)[key];
    }
    if (!v || v->is_null()) continue;
    std::string text;
    if (v->is_string()) {
      text = v->get<std::string>();
    } else if (v->is_boolean()) {
      text = v->get<bool>() ? "true" : "false";
    } else if (v->is_number_integer() || (v->is_number_float() && v->get<double>() == static_cast<double>(static_cast<long long>(v->get<double>())))) {
      const long long n = v->is_number_unsigned() ? static_cast<long long>(std::min<unsigned long long>(v->get<unsigned long long>(), kMaxSafe + 1ULL))
                          : v->is_number_integer() ? v->get<long long>()
                                                   : static_cast<long long>(v->get<double>());
      if (n > kMaxSafe || n < -kMaxSafe)
        return tl::unexpected<std::string>("argument " + p.path.back() + " is outside the safe integer range for its Mcp-Param-" + p.name + " header");
      text = std::to_string(n);
    } else {
      continue;  // objects, arrays, non-integral numbers: not mirrored
    }
    out.emplace_back("Mcp-Param-" + p.name, encode_header_value(text));
  }
  return out;
}

}  // namespace mcp::detail
