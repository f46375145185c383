// SPDX-License-Identifier: MIT
#pragma once
// JSON Schema validation for tool results: `structuredContent` against the tool's
// `outputSchema` (MCP 2026-07-28, basic/index "JSON Schema Usage", server/tools "Output Schema").
//
// Dialects: a schema without `$schema` is JSON Schema 2020-12. Also supported, by their
// `$schema` URI (http or https, with or without the trailing '#'): 2019-09, draft-07, draft-06
// and draft-04. Any other `$schema` is rejected by compile() with a message naming it.
//
// `$ref` (and `$dynamicRef`, `$recursiveRef`) resolve only inside the schema document: JSON
// Pointer fragments, `$anchor`/`$dynamicAnchor` names and `$id`s of embedded resources, all by
// RFC 3986 resolution against the enclosing `$id`. Nothing is ever fetched: a reference that
// resolves to anything else (a network URI, a file, a meta-schema) makes compile() fail instead
// of the schema being treated as permissive.
//
// Everything the 2020-12 core and validation vocabularies assert is enforced, including
// `unevaluatedProperties`/`unevaluatedItems`, `dependentSchemas`, `prefixItems`,
// `minContains`/`maxContains` and `$dynamicRef` with its dynamic scope. `format` and the
// content/meta-data keywords are annotations, never assertions (the 2020-12 default). Unknown
// keywords are ignored. Known deviations are listed in schema_validator.cpp.
//
// Untrusted schemas and instances are bounded (SchemaLimits): compile() rejects documents that
// are too deep or too large, and validate() stops with a message, instead of recursing or looping
// without bound, when an instance is too deep or a validation exceeds its work budget.
#include <cstddef>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <tl/expected.hpp>

namespace mcp::detail {

/// Bounds against malicious schemas and instances. The defaults suit tool schemas of any
/// realistic size; every bound, when hit, is reported as an error, never as "valid".
struct SchemaLimits {
  /// Subschemas nested inside subschemas in the document (`{"properties":{"a":{}}}` is depth 1).
  std::size_t max_depth = 64;
  /// Schema objects and booleans in the document, counted wherever a subschema may appear.
  std::size_t max_subschemas = 10000;
  /// JSON nesting of the whole schema document, including `const`/`enum`/`default` values.
  std::size_t max_document_depth = 256;
  /// Bytes in one `pattern` or `patternProperties` regular expression.
  std::size_t max_pattern_bytes = 4096;
  /// JSON nesting of an instance passed to validate().
  std::size_t max_instance_depth = 512;
  /// Nested subschema evaluations in one validate(); bounds the stack it uses (about 0.5 KiB
  /// per level in an optimised build, a few times that in a debug or sanitizer build).
  std::size_t max_eval_depth = 512;
  /// Work budget of one validate(), in steps of roughly one subschema evaluation (a regex match
  /// costs its estimated automaton size times the string length / 16): `max_steps_base`, plus
  /// `max_steps_per_value` for each value in the instance, plus one per byte of its strings.
  std::size_t max_steps_base = 2'000'000;
  std::size_t max_steps_per_value = 64;
};

/// A compiled schema. Immutable once compiled: validate() may be called from any number of
/// threads at once on the same object.
class SchemaValidator {
 public:
  /// Compile `schema`. Fails with a human-readable reason for an unusable schema: not a schema,
  /// an invalid keyword value, an unsupported dialect or regular expression, a `$ref` that
  /// does not resolve inside the document (never fetched), a `$ref` loop that could never
  /// terminate, or a document beyond `limits`. Never throws.
  [[nodiscard]] static tl::expected<std::shared_ptr<const SchemaValidator>, std::string> compile(
      const nlohmann::json& schema, const SchemaLimits& limits = {});

  /// Empty when `instance` is valid. Otherwise a short message naming the first failing
  /// location(s) as JSON Pointers, e.g. "/result: expected number, got string" (up to three,
  /// joined by "; "; the instance root is "(root)"), or why validation was abandoned (instance
  /// too deep, work budget exceeded). Never throws.
  [[nodiscard]] std::string validate(const nlohmann::json& instance) const;

  /// The dialect the schema is read as, e.g. "https://json-schema.org/draft/2020-12/schema".
  [[nodiscard]] const std::string& dialect() const noexcept;

  ~SchemaValidator();
  SchemaValidator(const SchemaValidator&) = delete;
  SchemaValidator& operator=(const SchemaValidator&) = delete;

  struct Impl;  ///< compiled form (schema_validator.cpp)

 private:
  explicit SchemaValidator(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace mcp::detail
