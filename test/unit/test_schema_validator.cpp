// SPDX-License-Identifier: MIT
#include <doctest/doctest.h>

#include <atomic>
#include <chrono>
#include <cmath>
#include <limits>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "../../lib/protocol/schema_validator.hpp"  // private header: lib/ is not on the public include path

using mcp::detail::SchemaLimits;
using mcp::detail::SchemaValidator;
using nlohmann::json;

namespace {

std::shared_ptr<const SchemaValidator> compile(const json& schema, const SchemaLimits& limits = {}) {
  auto r = SchemaValidator::compile(schema, limits);
  INFO("schema: " << schema.dump());
  if (!r) FAIL("compile failed: " << r.error());
  return *r;
}

std::string compile_error(const json& schema, const SchemaLimits& limits = {}) {
  auto r = SchemaValidator::compile(schema, limits);
  INFO("schema: " << schema.dump(-1).substr(0, 200));
  REQUIRE_FALSE(r.has_value());
  return r.error();
}

bool has(const std::string& haystack, const std::string& needle) {
  return haystack.find(needle) != std::string::npos;
}

/// {"properties": {"a": {"properties": {"a": ... {"type": "string"}}}}} with `depth` levels.
json nested_schema(std::size_t depth) {
  json schema = {{"type", "string"}};
  for (std::size_t i = 0; i < depth; ++i) schema = {{"properties", {{"a", std::move(schema)}}}};
  return schema;
}

// The weather tool of the 2026-07-28 tools page, with a few more keywords.
const json kWeather = json::parse(R"({
  "type": "object",
  "properties": {
    "temperature": {"type": "number", "minimum": -90, "maximum": 60},
    "conditions": {"type": "string", "enum": ["sunny", "cloudy", "rain"]},
    "humidity": {"type": "integer", "minimum": 0, "maximum": 100},
    "station": {"type": "string", "pattern": "^[A-Z]{4}$", "minLength": 4, "maxLength": 4},
    "readings": {"type": "array", "items": {"type": "number"}, "minItems": 1, "maxItems": 3}
  },
  "required": ["temperature", "conditions"],
  "additionalProperties": false
})");

}  // namespace

TEST_CASE("schema: valid instances of an object schema") {
  const auto v = compile(kWeather);
  CHECK(v->validate(json::parse(R"({"temperature": 22.5, "conditions": "sunny"})")).empty());
  CHECK(v->validate(json::parse(R"({"temperature": -3, "conditions": "rain", "humidity": 65,
                                   "station": "EGLL", "readings": [1, 2.5]})"))
            .empty());
  CHECK(
      v->validate(json::parse(R"({"temperature": 60, "conditions": "cloudy", "humidity": 100.0})")).empty());
}

TEST_CASE("schema: invalid instances name the failing path and the reason") {
  const auto v = compile(kWeather);
  auto check = [&](const char* instance, const char* expected) {
    const std::string message = v->validate(json::parse(instance));
    INFO(instance << " -> " << message);
    CHECK(has(message, expected));
  };
  check(R"({"temperature": "hot", "conditions": "sunny"})", "/temperature: expected number, got string");
  check(R"({"conditions": "sunny"})", "(root): missing required property \"temperature\"");
  check(R"({"temperature": 1, "conditions": "snow"})",
        "/conditions: must be one of [\"sunny\",\"cloudy\",\"rain\"], got \"snow\"");
  check(R"({"temperature": 61, "conditions": "rain"})", "/temperature: must be <= 60, got 61");
  check(R"({"temperature": -91, "conditions": "rain"})", "/temperature: must be >= -90, got -91");
  check(R"({"temperature": 1, "conditions": "rain", "humidity": 5.5})",
        "/humidity: expected integer, got number");
  check(R"({"temperature": 1, "conditions": "rain", "station": "egll"})",
        "/station: must match pattern \"^[A-Z]{4}$\"");
  check(R"({"temperature": 1, "conditions": "rain", "station": "EGLLX"})",
        "/station: must be at most 4 characters long, got 5");
  check(R"({"temperature": 1, "conditions": "rain", "readings": []})",
        "/readings: must have at least 1 items, got 0");
  check(R"({"temperature": 1, "conditions": "rain", "readings": [1, 2, 3, 4]})",
        "/readings: must have at most 3 items, got 4");
  check(R"({"temperature": 1, "conditions": "rain", "readings": [1, "2"]})",
        "/readings/1: expected number, got string");
  check(R"({"temperature": 1, "conditions": "rain", "wind": 3})", "(root): unexpected property \"wind\"");
  check(R"([1, 2])", "(root): expected object, got array");
  check(R"(null)", "(root): expected object, got null");

  // Several failures: up to three, in instance order, joined by "; ".
  const std::string many =
      v->validate(json::parse(R"({"temperature": "x", "conditions": 1, "humidity": -1, "station": 5})"));
  CHECK(many ==
        "/conditions: expected string, got integer; /humidity: must be >= 0, got -1; /station: expected "
        "string, got integer");
}

TEST_CASE("schema: type, const, enum and numbers") {
  CHECK(compile({{"type", "integer"}})->validate(1.0).empty());  // 2020-12: 1.0 is an integer
  CHECK(has(compile({{"type", "integer"}})->validate(1.5), "expected integer, got number"));
  CHECK(compile({{"type", {"string", "null"}}})->validate(nullptr).empty());
  CHECK(has(compile({{"type", {"string", "null"}}})->validate(true), "expected string or null, got boolean"));
  CHECK(compile({{"const", {{"a", 1}}}})->validate(json::parse(R"({"a": 1.0})")).empty());
  CHECK(has(compile({{"const", "x"}})->validate("y"), "must equal \"x\", got \"y\""));
  CHECK(has(compile({{"enum", {false}}})->validate(0), "must be one of [false], got 0"));
  CHECK(compile({{"exclusiveMinimum", 0}})->validate(0.0001).empty());
  CHECK(has(compile({{"exclusiveMinimum", 0}})->validate(0), "must be > 0, got 0"));
  // Decided on decimal values: no floating-point artefacts.
  CHECK(compile({{"multipleOf", 0.1}})->validate(0.3).empty());
  CHECK(has(compile({{"multipleOf", 0.01}})->validate(0.015), "must be a multiple of 0.01"));
  CHECK(compile({{"type", "integer"}, {"multipleOf", 0.5}})->validate(1e308).empty());
  // 64-bit integers compare exactly.
  CHECK(has(compile({{"maximum", 9007199254740992}})->validate(json(9007199254740993u)), "must be <="));
  CHECK(compile({{"maximum", 18446744073709551615u}})->validate(json(18446744073709551615u)).empty());
  // Keywords for another type are ignored.
  CHECK(compile({{"minimum", 5}, {"minLength", 3}, {"required", {"a"}}})->validate("x").empty() == false);
  CHECK(compile({{"minimum", 5}, {"required", {"a"}}})->validate("x").empty());
}

TEST_CASE("schema: strings count code points") {
  const auto v = compile({{"minLength", 5}, {"maxLength", 5}});
  CHECK(v->validate("h\xC3\xA9llo").empty());  // 6 bytes, 5 characters
  CHECK(v->validate("\xF0\x9F\x98\x80\xF0\x9F\x98\x80\xF0\x9F\x98\x80\xF0\x9F\x98\x80\xF0\x9F\x98\x80")
            .empty());
  CHECK(!v->validate("hello!").empty());
  const auto dot = compile({{"pattern", "^.{3}$"}});
  CHECK(dot->validate("\xC3\xA9t\xC3\xA9").empty());  // "été"
}

TEST_CASE("schema: patterns are unanchored ECMA-262") {
  const auto v = compile({{"pattern", "\\d+"}});
  CHECK(v->validate("abc123").empty());
  CHECK(!v->validate("abc").empty());
  CHECK(compile({{"pattern", "^\\s$"}})->validate("\xC2\xA0").empty());  // NBSP is white space in ECMA-262
  CHECK(compile({{"pattern", "^(?!admin$)[a-z]+$"}})->validate("root").empty());
  CHECK(!compile({{"pattern", "^(?!admin$)[a-z]+$"}})->validate("admin").empty());
  CHECK(compile({{"pattern", "^\\u{1F600}$"}})->validate("\xF0\x9F\x98\x80").empty());
  // Not supported by the engine: compile fails rather than ignoring the keyword.
  CHECK(has(compile_error({{"pattern", "^\\p{L}+$"}}), "regular expression \"^\\\\p{L}+$\" at #/pattern"));
  CHECK(has(compile_error({{"pattern", "(a"}}), "#/pattern"));
  CHECK(has(compile_error({{"patternProperties", {{"(", true}}}}), "#/patternProperties/("));
}

TEST_CASE("schema: arrays: items, prefixItems, contains, uniqueItems") {
  const auto tuple = compile(json::parse(R"({"prefixItems": [{"type": "string"}, {"type": "integer"}],
                                             "items": false})"));
  CHECK(tuple->validate(json::parse(R"(["a", 1])")).empty());
  CHECK(tuple->validate(json::parse(R"(["a"])")).empty());
  CHECK(has(tuple->validate(json::parse(R"([1, 1])")), "/0: expected string, got integer"));
  CHECK(has(tuple->validate(json::parse(R"(["a", 1, 2])")), "/2: no value is allowed here"));

  const auto unique = compile({{"uniqueItems", true}});
  CHECK(unique->validate(json::parse("[1, 2, {\"a\": [1]}, {\"a\": [2]}]")).empty());
  CHECK(has(unique->validate(json::parse("[1, 2, 1.0]")), "#0 and #2 are equal"));
  json many = json::array();
  for (int i = 0; i < 100000; ++i) many.push_back({{"id", i}});
  CHECK(unique->validate(many).empty());
  many.push_back({{"id", 99999.0}});
  CHECK(has(unique->validate(many), "#99999 and #100000 are equal"));

  const auto contains =
      compile(json::parse(R"({"contains": {"type": "string"}, "minContains": 2, "maxContains": 3})"));
  CHECK(contains->validate(json::parse(R"([1, "a", "b"])")).empty());
  CHECK(has(contains->validate(json::parse(R"([1, "a"])")),
            "must contain at least 2 items matching 'contains', found 1"));
  CHECK(has(contains->validate(json::parse(R"(["a", "b", "c", "d"])")), "at most 3 items"));

  // draft-07 tuple form.
  const auto d7 = compile(json::parse(R"({"$schema": "http://json-schema.org/draft-07/schema#",
      "items": [{"type": "string"}], "additionalItems": {"type": "integer"}})"));
  CHECK(d7->validate(json::parse(R"(["a", 1, 2])")).empty());
  CHECK(has(d7->validate(json::parse(R"(["a", "b"])")), "/1: expected integer, got string"));
}

TEST_CASE("schema: objects: additionalProperties, patternProperties, propertyNames, dependencies") {
  const auto v = compile(json::parse(R"({
    "properties": {"id": {"type": "string"}},
    "patternProperties": {"^x-": {"type": "integer"}},
    "additionalProperties": false,
    "propertyNames": {"maxLength": 8},
    "dependentRequired": {"id": ["x-rev"]}
  })"));
  CHECK(v->validate(json::parse(R"({"id": "a", "x-rev": 3})")).empty());
  CHECK(has(v->validate(json::parse(R"({"x-rev": "3"})")), "/x-rev: expected integer, got string"));
  CHECK(has(v->validate(json::parse(R"({"other": 1})")), "unexpected property \"other\""));
  CHECK(has(v->validate(json::parse(R"({"x-very-long": 1})")),
            "invalid property name \"x-very-long\": must be at most 8"));
  CHECK(has(v->validate(json::parse(R"({"id": "a"})")), "property \"id\" requires property \"x-rev\""));

  const auto schemas = compile(json::parse(R"({"dependentSchemas": {"card": {"required": ["billing"]}}})"));
  CHECK(schemas->validate(json::parse(R"({"name": 1})")).empty());
  CHECK(has(schemas->validate(json::parse(R"({"card": 1})")), "missing required property \"billing\""));

  // A property name with '/' and '~' is escaped in the path.
  const auto escaped = compile(json::parse(R"({"properties": {"a/b~c": {"type": "string"}}})"));
  CHECK(has(escaped->validate(json::parse(R"({"a/b~c": 1})")), "/a~1b~0c: expected string"));
}

TEST_CASE("schema: composition: allOf, anyOf, oneOf, not, if/then/else") {
  const auto any =
      compile(json::parse(R"({"anyOf": [{"type": "string"}, {"type": "object", "required": ["a"]}]})"));
  CHECK(any->validate("x").empty());
  CHECK(any->validate(json::parse(R"({"a": 1})")).empty());
  const std::string message = any->validate(json::object());
  CHECK(has(message, "(root): must match at least one schema in anyOf"));
  CHECK(has(message, "missing required property \"a\""));

  const auto one = compile(json::parse(R"({"oneOf": [{"type": "integer"}, {"minimum": 2}]})"));
  CHECK(one->validate(1).empty());
  CHECK(has(one->validate(3), "matches #0 and #1"));

  CHECK(has(compile({{"not", {{"type", "null"}}}})->validate(nullptr), "must not match the schema in 'not'"));

  const auto cond = compile(json::parse(R"({"if": {"properties": {"kind": {"const": "a"}}},
      "then": {"required": ["a"]}, "else": {"required": ["b"]}})"));
  CHECK(cond->validate(json::parse(R"({"kind": "a", "a": 1})")).empty());
  CHECK(has(cond->validate(json::parse(R"({"kind": "a"})")), "missing required property \"a\""));
  CHECK(has(cond->validate(json::parse(R"({"kind": "z"})")), "missing required property \"b\""));

  // unevaluatedProperties sees what allOf and $ref evaluated.
  const auto closed = compile(json::parse(R"({
    "$defs": {"base": {"properties": {"id": {"type": "string"}}}},
    "allOf": [{"$ref": "#/$defs/base"}],
    "properties": {"name": {"type": "string"}},
    "unevaluatedProperties": false
  })"));
  CHECK(closed->validate(json::parse(R"({"id": "1", "name": "n"})")).empty());
  CHECK(has(closed->validate(json::parse(R"({"id": "1", "extra": 0})")),
            "unexpected property \"extra\" (unevaluatedProperties)"));
}

TEST_CASE("schema: boolean schemas") {
  CHECK(compile(true)->validate(json::parse(R"({"anything": [1]})")).empty());
  CHECK(has(compile(false)->validate(1), "(root): no value is allowed here"));
  CHECK(has(compile({{"properties", {{"a", false}}}})->validate({{"a", 1}}), "/a: no value is allowed here"));
}

TEST_CASE("schema: local $ref through $defs, definitions, anchors and recursion") {
  const auto defs = compile(json::parse(R"({
    "$defs": {
      "point": {"type": "object", "properties": {"x": {"$ref": "#/$defs/coord"}, "y": {"$ref": "#/$defs/coord"}},
                "required": ["x", "y"]},
      "coord": {"type": "number"}
    },
    "type": "array", "items": {"$ref": "#/$defs/point"}
  })"));
  CHECK(defs->validate(json::parse(R"([{"x": 1, "y": 2}])")).empty());
  CHECK(has(defs->validate(json::parse(R"([{"x": 1, "y": 2}, {"x": "1", "y": 2}])")),
            "/1/x: expected number, got string"));

  // draft-07: `definitions`, `$ref` siblings ignored.
  const auto d7 = compile(json::parse(R"({
    "$schema": "http://json-schema.org/draft-07/schema#",
    "definitions": {"name": {"type": "string", "minLength": 1}},
    "properties": {"name": {"$ref": "#/definitions/name", "maxLength": 2}}
  })"));
  CHECK(d7->validate(json::parse(R"({"name": "long name"})")).empty());
  CHECK(has(d7->validate(json::parse(R"({"name": ""})")), "/name: must be at least 1 characters long"));

  // 2020-12: `definitions` still works as a container, and `$ref` siblings apply.
  const auto siblings = compile(json::parse(R"({
    "definitions": {"name": {"type": "string"}},
    "properties": {"name": {"$ref": "#/definitions/name", "maxLength": 2}}
  })"));
  CHECK(has(siblings->validate(json::parse(R"({"name": "long"})")),
            "/name: must be at most 2 characters long"));

  // Anchors, embedded resources and percent-encoded pointers.
  const auto ids = compile(json::parse(R"({
    "$id": "https://example.com/root.json",
    "$defs": {
      "a b": {"$anchor": "spaced", "type": "integer"},
      "child": {"$id": "child.json", "$defs": {"s": {"type": "string"}}, "$ref": "#/$defs/s"}
    },
    "properties": {
      "n": {"$ref": "#spaced"},
      "m": {"$ref": "#/$defs/a%20b"},
      "c": {"$ref": "child.json"},
      "d": {"$ref": "https://example.com/child.json#/$defs/s"}
    }
  })"));
  CHECK(ids->validate(json::parse(R"({"n": 1, "m": 2, "c": "x", "d": "y"})")).empty());
  CHECK(has(ids->validate(json::parse(R"({"c": 1})")), "/c: expected string, got integer"));

  // Recursion through "#".
  const auto tree = compile(json::parse(R"({
    "type": "object", "properties": {"value": {"type": "integer"}, "children": {"type": "array", "items": {"$ref": "#"}}},
    "required": ["value"]
  })"));
  CHECK(tree->validate(json::parse(R"({"value": 1, "children": [{"value": 2, "children": [{"value": 3}]}]})"))
            .empty());
  CHECK(has(tree->validate(json::parse(R"({"value": 1, "children": [{"value": 2, "children": [{}]}]})")),
            "/children/0/children/0: missing required property \"value\""));
}

TEST_CASE("schema: $dynamicRef resolves through the dynamic scope") {
  // A generic list (resource "list") whose item type the outer resource supplies.
  const auto list = compile(json::parse(R"({
    "$id": "https://example.com/main",
    "$ref": "list",
    "$defs": {
      "item": {"$dynamicAnchor": "item", "type": "integer"},
      "list": {"$id": "list", "type": "array", "items": {"$dynamicRef": "#item"},
               "$defs": {"item": {"$dynamicAnchor": "item"}}}
    }
  })"));
  CHECK(list->validate(json::parse("[1, 2]")).empty());
  CHECK(has(list->validate(json::parse("[1, \"2\"]")), "/1: expected integer, got string"));
}

TEST_CASE("schema: external references are refused at compile time, never fetched") {
  CHECK(has(compile_error({{"$ref", "https://example.com/schema.json"}}),
            "$ref \"https://example.com/schema.json\" at # does not resolve within the schema document"));
  CHECK(has(compile_error({{"properties", {{"a", {{"$ref", "other.json#/x"}}}}}}), "at #/properties/a"));
  CHECK(has(compile_error({{"$ref", "https://json-schema.org/draft/2020-12/schema"}}), "never fetched"));
  CHECK(has(compile_error({{"$ref", "file:///etc/passwd"}}), "never fetched"));
  // A $ref whose base is a network $id is still only local when it names the document itself.
  CHECK(has(compile_error({{"$id", "https://example.com/a.json"}, {"$ref", "b.json"}}), "never fetched"));
  // Local references that do not resolve.
  CHECK(has(compile_error({{"$ref", "#/$defs/missing"}}), "points to a missing location"));
  CHECK(has(compile_error({{"$ref", "#nowhere"}}), "unknown anchor"));
  CHECK(has(compile_error({{"$ref", 5}}), "$ref at # must be a string"));
  CHECK(has(compile_error({{"$ref", "#/enum/0"}, {"enum", {1}}}), "expected a schema"));
}

TEST_CASE("schema: dialects") {
  CHECK(compile(json::object())->dialect() == "https://json-schema.org/draft/2020-12/schema");
  CHECK(compile({{"$schema", "https://json-schema.org/draft/2020-12/schema"}})->dialect() ==
        "https://json-schema.org/draft/2020-12/schema");
  CHECK(compile({{"$schema", "http://json-schema.org/draft-07/schema#"}})->dialect() ==
        "http://json-schema.org/draft-07/schema#");
  CHECK(compile({{"$schema", "http://json-schema.org/draft-07/schema"}})->dialect() ==
        "http://json-schema.org/draft-07/schema#");
  CHECK(compile({{"$schema", "https://json-schema.org/draft/2019-09/schema"}})->dialect() ==
        "https://json-schema.org/draft/2019-09/schema");
  CHECK(compile({{"$schema", "http://json-schema.org/draft-06/schema#"}})->dialect() ==
        "http://json-schema.org/draft-06/schema#");
  CHECK(compile({{"$schema", "http://json-schema.org/draft-04/schema#"}})->dialect() ==
        "http://json-schema.org/draft-04/schema#");

  const std::string bogus =
      compile_error({{"$schema", "https://example.com/my-dialect"}, {"type", "object"}});
  CHECK(has(bogus, "unsupported JSON Schema dialect \"https://example.com/my-dialect\""));
  CHECK(has(compile_error({{"$schema", "http://json-schema.org/draft-03/schema#"}}), "draft-03"));
  CHECK(has(compile_error({{"$schema", 7}}), "$schema must be a string"));

  // The dialect changes meaning: prefixItems is unknown (ignored) in draft-07,
  // boolean exclusiveMaximum belongs to draft-04, 1.0 is not an integer in draft-04.
  CHECK(compile(
            {{"$schema", "http://json-schema.org/draft-07/schema#"}, {"prefixItems", {{{"type", "string"}}}}})
            ->validate({1})
            .empty());
  const auto d4 = compile(json::parse(R"({"$schema": "http://json-schema.org/draft-04/schema#",
                                          "maximum": 5, "exclusiveMaximum": true})"));
  CHECK(has(d4->validate(5), "must be < 5"));
  CHECK(!compile({{"$schema", "http://json-schema.org/draft-04/schema#"}, {"type", "integer"}})
             ->validate(1.0)
             .empty());
  CHECK(has(compile_error({{"$schema", "http://json-schema.org/draft-04/schema#"}, {"not", true}}),
            "draft-04"));
}

TEST_CASE("schema: invalid schemas are rejected with the keyword and location") {
  CHECK(has(compile_error(5), "a schema must be an object or a boolean, got integer"));
  CHECK(has(compile_error({{"type", "text"}}), "'type' at # names an unknown type \"text\""));
  CHECK(has(compile_error({{"properties", {{"a", {{"minLength", -1}}}}}}),
            "'minLength' at #/properties/a must be a non-negative integer"));
  CHECK(has(compile_error({{"required", "a"}}), "'required' at # must be an array of strings"));
  CHECK(has(compile_error({{"properties", json::array()}}), "'properties' at # must be an object"));
  CHECK(has(compile_error({{"allOf", json::array()}}), "'allOf' at # must be a non-empty array"));
  CHECK(has(compile_error({{"items", 3}}), "expected a schema (object or boolean) at #/items, got integer"));
  CHECK(has(compile_error({{"multipleOf", 0}}), "'multipleOf' at # must be greater than 0"));
  // Unknown keywords and annotations are fine.
  CHECK(compile({{"x-custom", {{"type", 5}}}, {"format", "email"}, {"description", "d"}, {"examples", {1}}})
            ->validate("not an email")
            .empty());
}

TEST_CASE("schema: bounds against malicious schemas") {
  CHECK(compile(nested_schema(64))->validate(json::object()).empty());
  CHECK(has(compile_error(nested_schema(65)), "schema nesting exceeds 64 levels"));
  CHECK(has(compile_error(nested_schema(100)), "schema nesting exceeds 64 levels"));

  // The document itself (not only its subschemas) is bounded before it is copied.
  json deep_const = 1;
  for (int i = 0; i < 100000; ++i) deep_const = json::array({std::move(deep_const)});
  json deep_schema = json::object();
  deep_schema["const"] = std::move(deep_const);
  CHECK(has(compile_error(deep_schema), "schema document nests deeper than 256 levels"));

  json wide = json::object();
  for (int i = 0; i < 10001; ++i) wide["p" + std::to_string(i)] = json::object();
  CHECK(has(compile_error({{"properties", wide}}), "more than 10000 subschemas"));
  SchemaLimits small;
  small.max_subschemas = 10;
  CHECK(has(compile_error(nested_schema(20), small), "more than 10 subschemas"));

  // Reference loops that could never terminate.
  CHECK(has(compile_error({{"$ref", "#"}}), "would recurse forever"));
  CHECK(has(compile_error(json::parse(
                R"({"$defs": {"a": {"$ref": "#/$defs/b"}, "b": {"allOf": [{"$ref": "#/$defs/a"}]}},
                                          "anyOf": [{"$ref": "#/$defs/a"}]})")),
            "would recurse forever"));
  CHECK(has(compile_error(json::parse(R"({"not": {"$ref": "#"}})")), "would recurse forever"));
  // ... but only when the root can reach them.
  CHECK(compile(json::parse(R"({"$defs": {"loop": {"$ref": "#/$defs/loop"}}, "type": "string"})"))
            ->validate("x")
            .empty());

  // Long patterns.
  CHECK(has(compile_error({{"pattern", std::string(5000, 'a')}}), "longer than 4096 bytes"));
}

TEST_CASE("schema: exponential schemas stop at the work budget") {
  // 40 levels of anyOf, each alternative a reference to the next level: 2^40 evaluations.
  json defs = json::object();
  for (int i = 0; i < 40; ++i) {
    const std::string next = "#/$defs/d" + std::to_string(i + 1);
    defs["d" + std::to_string(i)] = {{"anyOf", {{{"$ref", next}}, {{"$ref", next}}}}};
  }
  defs["d40"] = {{"type", "string"}};
  const auto v = compile({{"$defs", defs}, {"$ref", "#/$defs/d0"}});
  CHECK(v->validate("ok").empty());
  const auto start = std::chrono::steady_clock::now();
  const std::string message = v->validate(1);
  const auto elapsed = std::chrono::steady_clock::now() - start;
  CHECK(has(message, "work budget"));
  CHECK(elapsed < std::chrono::seconds(10));
}

TEST_CASE("schema: validate never throws and never recurses without bound") {
  const auto any = compile(kWeather);
  CHECK_NOTHROW((void)any->validate(nullptr));
  CHECK_NOTHROW((void)any->validate(json::array()));
  CHECK_NOTHROW((void)any->validate(json(std::numeric_limits<double>::quiet_NaN())));
  CHECK_NOTHROW((void)any->validate(json::binary({1, 2, 3})));
  CHECK(has(compile({{"minimum", 0}})->validate(json(std::numeric_limits<double>::quiet_NaN())),
            "must be a finite number"));

  // Invalid UTF-8 in strings and keys.
  const auto strings = compile({{"pattern", "^a"}, {"maxLength", 2}, {"propertyNames", {{"pattern", "^a"}}}});
  CHECK_NOTHROW((void)strings->validate(std::string("a\xFF\xFE")));
  CHECK_NOTHROW((void)strings->validate(json{{std::string("\xC3"), 1}}));

  // Huge arrays.
  const auto items = compile(json::parse(R"({"type": "array", "items": {"type": "integer", "minimum": 0}})"));
  json big = json::array();
  for (int i = 0; i < 1000000; ++i) big.push_back(i);
  CHECK(items->validate(big).empty());
  big.push_back(-1);
  CHECK(has(items->validate(big), "/1000000: must be >= 0, got -1"));

  // A very long string against a pattern: linear time, no recursion per character.
  const auto pattern = compile({{"pattern", "^[a-z]+$"}});
  CHECK(pattern->validate(std::string(1000000, 'a')).empty());
  CHECK(!pattern->validate(std::string(1000000, 'a') + "1").empty());

  // Deeply nested instances: refused up front, not walked recursively.
  json deep = json::array();
  for (int i = 0; i < 100000; ++i) deep = json::array({std::move(deep)});
  CHECK(has(compile(true)->validate(deep), "(root): instance nests deeper than 512 levels"));
  CHECK(has(compile({{"uniqueItems", true}})->validate(deep), "nests deeper"));

  // A recursive schema against a deep (but admissible) instance stops at max_eval_depth.
  const auto tree = compile(json::parse(R"({"type": "array", "items": {"$ref": "#"}})"));
  json nested = json::array();
  for (int i = 0; i < 400; ++i) nested = json::array({std::move(nested)});
  CHECK(has(tree->validate(nested), "subschemas nest deeper than 512 levels"));
  json shallow = json::array();
  for (int i = 0; i < 100; ++i) shallow = json::array({std::move(shallow)});
  CHECK(tree->validate(shallow).empty());
}

TEST_CASE("schema: one compiled schema validates from many threads") {
  const auto v = compile(json::parse(R"({
    "$defs": {"n": {"type": "object", "properties": {"v": {"type": "integer"}, "next": {"$ref": "#/$defs/n"}},
                    "patternProperties": {"^tag-[a-z]+$": {"type": "string", "pattern": "^[0-9a-f]{4}$"}},
                    "unevaluatedProperties": false}},
    "$ref": "#/$defs/n"
  })"));
  const json good = json::parse(R"({"v": 1, "tag-x": "00ff", "next": {"v": 2, "next": {"v": 3, "tag-y": "abcd"}}})");
  const json bad = json::parse(R"({"v": 1, "next": {"v": "2", "extra": 1}})");
  std::atomic<int> wrong{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < 200; ++i) {
        if (!v->validate(good).empty()) ++wrong;
        if (v->validate(bad) != "/next/v: expected integer, got string") ++wrong;
      }
    });
  }
  for (auto& t : threads) t.join();
  CHECK(wrong == 0);
}
