// SPDX-License-Identifier: MIT
#pragma once
// The compiled form of a JSON Schema and what the validator's parts share: the compiler
// (compiler.cpp: locations, identifiers, references, cycles; keywords.cpp: each subschema's
// keywords), the evaluator (evaluator.cpp) and the value helpers both use (formats.cpp: JSON
// Pointers, numbers, strings, regular expressions, messages). Private to lib/protocol/schema.
#include "../schema_validator.hpp"

#include <cstddef>
#include <cstdint>
#include <optional>
#include <regex>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

namespace mcp::detail::schema {

using nlohmann::json;

// ----------------------------------------------------------------------------------------------
// Errors and dialects (compiler.cpp)

struct CompileError {
  std::string message;
};
/// Ends compilation with `message` (SchemaValidator::compile returns it).
[[noreturn]] void fail(std::string message);

/// Thrown out of evaluation when a bound is hit; the message is returned by validate().
struct Abort {
  std::string message;
};

enum class Dialect { d4, d6, d7, d2019, d2020 };

/// The meta-schema URI of a dialect.
const char* dialect_uri(Dialect d);
/// The dialect a `$schema` URI names (http or https, with or without the trailing '#').
std::optional<Dialect> dialect_of(std::string_view uri);

// ----------------------------------------------------------------------------------------------
// Values: JSON Pointers, numbers, strings, regular expressions, messages (formats.cpp)

/// A JSON Pointer reference token escaped (`~` -> `~0`, `/` -> `~1`).
std::string escape_token(std::string_view t);

/// `ptr` extended by one (escaped) token.
std::string append(const std::string& ptr, std::string_view token);

/// A schema location for messages: `#` + pointer.
std::string where(const std::string& ptr);

/// %XX escapes decoded (a URI fragment); nullopt for a malformed escape.
std::optional<std::string> percent_decode(std::string_view s);

/// Tokens of a JSON Pointer ("" or "/a/b"), unescaped; nullopt if malformed.
std::optional<std::vector<std::string>> parse_pointer(std::string_view p);

/// The value `tokens` lead to from `node`, or nullptr.
const json* navigate(const json* node, const std::vector<std::string>& tokens);

struct Size {
  std::size_t depth = 0;   ///< nesting (a scalar is 0), stops growing past the limit
  std::size_t values = 0;  ///< values visited
  std::size_t string_bytes = 0;
};

/// Measures a document iteratively (nothing here may recurse on untrusted nesting), stopping
/// as soon as the nesting exceeds `limit`.
Size measure(const json& root, std::size_t limit);

/// The JSON Schema type name of a value ("integer" for integral numbers).
const char* type_name(const json& j);

/// A short rendering of a value for messages (never the whole of a large value).
std::string describe(const json& j);

/// `j` as JSON text, at most `max` bytes ("..." marks a cut).
std::string render(const json& j, std::size_t max = 64);

/// The message for a `$schema` this validator does not read.
std::string unsupported_dialect(const json& value);

/// A JSON string literal for messages; invalid UTF-8 becomes U+FFFD instead of throwing.
std::string quote(const std::string& s);

/// Messages end up in JSON (errors, logs): make them valid UTF-8 whatever the input held.
std::string valid_utf8(const std::string& s);

/// a * b, or SIZE_MAX when that overflows.
std::size_t saturating_mul(std::size_t a, std::size_t b);

/// An integer, or a float with no fractional part (1.0 is an integer).
bool is_integral(const json& j);

/// Three-way numeric comparison, exact for 64-bit integers of either sign.
int compare_numbers(const json& a, const json& b);

/// x is an integer multiple of divisor (> 0), decided on the decimal values, so 0.3 is a multiple
/// of 0.1 and 1e308 of 0.5 but not of 0.123456789.
bool multiple_of(const json& x, const json& divisor);

/// Unicode code points in UTF-8 text (what minLength/maxLength count).
std::size_t code_points(const std::string& s);

/// UTF-8 to wchar_t code units for std::wregex; invalid sequences become U+FFFD.
std::wstring widen(std::string_view s);

/// The representation used to find duplicates for `uniqueItems`: equal JSON values (1 and 1.0
/// included) map to equal strings. Recursion is bounded by max_instance_depth.
void canonical(const json& j, std::string& out);

/// ECMA-262 features std::wregex lacks, rewritten into equivalents: `\s`/`\S` with the
/// Unicode white space and line terminators, `\cX`, `\u{...}` and `\uHHHH` surrogate pairs.
/// `\p{...}` is left alone, so that compiling it fails.
std::wstring translate_pattern(const std::wstring& p);

struct Regex {
  std::string source;
  std::wregex re;
  std::size_t cost = 1;  ///< estimated automaton states times capture groups, per input character
};

/// Estimates the size of the automaton libstdc++ builds (counted repetitions are expanded), so
/// that matching can be charged to the work budget before it runs.
std::size_t estimate_regex_cost(const std::wstring& p);

// ----------------------------------------------------------------------------------------------
// Compiled form

enum TypeBits : std::uint8_t {
  kNull = 1,
  kBoolean = 2,
  kObject = 4,
  kArray = 8,
  kNumber = 16,
  kString = 32,
  kInteger = 64,
};

constexpr int kNone = -1;
constexpr int kFalse = -2;  ///< draft-04 `additionalProperties`/`additionalItems: false`

using Named = std::pair<const std::string*, int>;

struct Node {
  std::string pointer;  ///< location in the document, for compile-time messages
  Dialect dialect = Dialect::d2020;
  int resource = 0;
  bool is_bool = false;
  bool bool_value = true;

  std::uint8_t types = 0;  ///< 0: no `type`
  const json* const_value = nullptr;
  const json* enum_values = nullptr;
  const json* multiple_of = nullptr;
  const json* maximum = nullptr;
  const json* exclusive_maximum = nullptr;
  const json* minimum = nullptr;
  const json* exclusive_minimum = nullptr;
  std::optional<std::uint64_t> min_length, max_length, min_items, max_items, min_properties, max_properties,
      min_contains, max_contains;
  int pattern = kNone;
  bool unique_items = false;
  std::vector<const std::string*> required;
  std::vector<std::pair<const std::string*, std::vector<const std::string*>>> dependent_required;

  int ref = kNone;
  int dynamic_ref = kNone;   ///< static target of `$dynamicRef` / `$recursiveRef`
  std::string dynamic_name;  ///< anchor name for a bookended `$dynamicRef`
  bool dynamic_bookend = false;
  bool recursive_ref = false;  ///< the dynamic reference is a 2019-09 `$recursiveRef`
  std::vector<int> all_of, any_of, one_of;
  int not_ = kNone, if_ = kNone, then_ = kNone, else_ = kNone;
  std::vector<Named> properties;                        ///< sorted by name
  std::vector<std::pair<int, int>> pattern_properties;  ///< regex, node
  int additional_properties = kNone;
  int property_names = kNone;
  std::vector<Named> dependent_schemas;
  std::vector<int> prefix_items;
  int items = kNone;                 ///< applies to indices >= prefix_items.size()
  bool items_is_additional = false;  ///< annotation semantics of 2019-09 `additionalItems`
  int contains = kNone;
  int unevaluated_properties = kNone;
  int unevaluated_items = kNone;
};

struct Resource {
  std::string uri;
  std::string pointer;
  Dialect dialect = Dialect::d2020;
  int root_node = kNone;
  bool recursive_anchor = false;
  std::unordered_map<std::string, std::string> dynamic_anchors;  ///< name -> pointer
  std::unordered_map<std::string, int> dynamic_nodes;            ///< name -> node
};

}  // namespace mcp::detail::schema

namespace mcp::detail {

struct SchemaValidator::Impl {
  nlohmann::json doc;
  SchemaLimits limits;
  schema::Dialect dialect = schema::Dialect::d2020;
  std::string dialect_uri;
  std::vector<schema::Node> nodes;
  std::vector<schema::Resource> resources;
  std::vector<schema::Regex> regexes;
};

}  // namespace mcp::detail
