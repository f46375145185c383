// SPDX-License-Identifier: MIT
#include "schema_validator.hpp"

// Why not valijson (the Debian 1.0 package was the first choice): tool schemas and results come
// from untrusted servers, and valijson 1.0 crashes or misvalidates on inputs a server controls
// (each reproduced against the installed headers):
//  - `pattern` runs std::regex's backtracking executor, which recurses once per character: a
//    100k-character string against `^[a-z]+$` overflows an 8 MiB stack (SIGSEGV);
//    `patternProperties` does the same on property names;
//  - `{"$ref": "#"}` (any pure `$ref` cycle) recurses in the parser until the stack overflows,
//    and `$ref` chains through definitions recurse as deep as the chain is long;
//  - type coercion: the string "7" fails `multipleOf: 5` and 10.5 passes it, `format` rejects
//    non-strings, 1.0 is not an integer; `uniqueItems` is quadratic;
//  - its subschema cache is keyed by unescaped paths, so a property named "a/properties/b"
//    is validated against the schema of `properties.a.properties.b` once a `$ref` names it;
//  - no 2019-09/2020-12 semantics: `prefixItems`, `unevaluated*`, `dependentSchemas`,
//    `$anchor`, `$dynamicRef`, `$ref` with siblings, `$id` (it reads draft-04 `id`).
// Working around all of that meant replacing every keyword but the applicator dispatch, so this
// file compiles schemas into its own form and evaluates it directly, with explicit bounds on
// depth, size and work. Conformance: every required test of the JSON-Schema-Test-Suite for
// 2020-12, 2019-09, draft-07, draft-06 and draft-04 passes, except those that need remote
// references or custom meta-schemas, which are refused by design.
//
// Shape: compile() (1) checks the document's JSON depth iteratively, (2) scans every subschema
// location (recursion bounded by SchemaLimits::max_depth), recording its base URI, resource and
// dialect, every `$id`, `$anchor` and `$dynamicAnchor`, (3) compiles each location into a Node
// whose children are indices (so `$ref` is an index, and cycles cost nothing to represent), and
// (4) rejects reference cycles, reachable from the root, that never descend into the instance.
// validate() walks Nodes recursively with a depth counter and a work budget; a second,
// reporting pass runs only when the first finds the instance invalid.
//
// Known deviations from the specifications:
//  - Regular expressions are ECMAScript as std::wregex (libstdc++, polynomial mode) implements
//    it, over Unicode code points, with `\s`, `\cX` and `\u{...}` rewritten to ECMA-262
//    meaning: back-references, lookbehind, named groups and `\p{...}` are not supported, and a
//    schema using them fails to compile (never silently ignored).
//  - `format` is an annotation (the 2020-12 default), in every dialect; `$vocabulary` is not
//    read (the standard vocabularies are assumed); `content*` keywords are annotations.
//  - `multipleOf` is decided on the shortest decimal form of both numbers, so 0.3 is a
//    multiple of 0.1 (a double-precision division would say no).
//  - Leniencies for generated schemas: in 2020-12 the legacy tuple form (`items` as an array,
//    with `additionalItems`) is read as in draft-07, since it is otherwise invalid; `definitions`
//    is a subschema container in every dialect; `dependencies` is honoured in 2019-09 and later.

#include "schema/model.hpp"

namespace mcp::detail {

// ----------------------------------------------------------------------------------------------
// SchemaValidator

SchemaValidator::SchemaValidator(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
SchemaValidator::~SchemaValidator() = default;

const std::string& SchemaValidator::dialect() const noexcept { return impl_->dialect_uri; }

}  // namespace mcp::detail
