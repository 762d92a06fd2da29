import { describe, expect, test } from "bun:test";
import { toGeminiParameters, toGeminiSchema } from "./schema";

/** Every key Gemini's Schema has a field for; anything else in an answer fails the request. */
const GEMINI_KEYS = new Set([
  "type",
  "format",
  "title",
  "description",
  "nullable",
  "enum",
  "default",
  "example",
  "items",
  "minItems",
  "maxItems",
  "properties",
  "required",
  "propertyOrdering",
  "minProperties",
  "maxProperties",
  "minLength",
  "maxLength",
  "pattern",
  "minimum",
  "maximum",
  "anyOf",
]);

/** The unknown keys anywhere in a converted schema, with their paths. */
function unknownKeys(schema: unknown, path = "$"): string[] {
  if (typeof schema !== "object" || schema === null) return [];
  return Object.entries(schema).flatMap(([key, value]) => {
    if (!GEMINI_KEYS.has(key)) return [`${path}.${key}`];
    if (key === "properties") return Object.entries(value as object).flatMap(([name, sub]) => unknownKeys(sub, `${path}.properties.${name}`));
    if (key === "items") return unknownKeys(value, `${path}.items`);
    if (key === "anyOf") return (value as unknown[]).flatMap((sub, i) => unknownKeys(sub, `${path}.anyOf[${i}]`));
    return [];
  });
}

describe("toGeminiSchema", () => {
  test("drops the keywords Gemini has no field for, at every depth", () => {
    const schema = {
      $schema: "http://json-schema.org/draft-07/schema#",
      $id: "x",
      type: "object",
      additionalProperties: false,
      properties: {
        path: { type: "string", description: "A path", minLength: 1, examples: ["/a"], $comment: "c" },
        env: { type: "object", additionalProperties: { type: "string" }, propertyNames: { pattern: "^[A-Z]+$" } },
        tags: { type: "array", items: { type: "string", uniqueItems: true }, uniqueItems: true, maxItems: 3 },
        ratio: { type: "number", exclusiveMinimum: 0, multipleOf: 0.5, maximum: 1 },
        mode: { not: { const: "x" }, if: {}, then: {}, else: {}, type: "string" },
      },
      required: ["path"],
      strict: true,
    };
    const converted = toGeminiSchema(schema);
    expect(unknownKeys(converted)).toEqual([]);
    expect(converted).toEqual({
      type: "OBJECT",
      properties: {
        path: { type: "STRING", description: "A path", minLength: 1 },
        env: { type: "OBJECT" },
        tags: { type: "ARRAY", items: { type: "STRING" }, maxItems: 3 },
        ratio: { type: "NUMBER", maximum: 1 },
        mode: { type: "STRING" },
      },
      required: ["path"],
    });
  });

  test("$ref is inlined from $defs and definitions; sibling keywords win", () => {
    const schema = {
      type: "object",
      properties: {
        a: { $ref: "#/$defs/Point", description: "where" },
        b: { type: "array", items: { $ref: "#/definitions/Name" } },
      },
      $defs: { Point: { type: "object", properties: { x: { type: "number" } }, required: ["x"], description: "a point" } },
      definitions: { Name: { type: "string", enum: ["a", "b"] } },
    };
    expect(toGeminiSchema(schema)).toEqual({
      type: "OBJECT",
      properties: {
        a: { type: "OBJECT", description: "where", properties: { x: { type: "NUMBER" } }, required: ["x"] },
        b: { type: "ARRAY", items: { type: "STRING", enum: ["a", "b"], format: "enum" } },
      },
    });
  });

  test("a $ref to a $ref, and a recursive $ref cut to a bare object", () => {
    const schema = {
      type: "object",
      properties: { alias: { $ref: "#/$defs/Alias" }, tree: { $ref: "#/$defs/Node" } },
      $defs: {
        Alias: { $ref: "#/$defs/Leaf" },
        Leaf: { type: "integer" },
        Node: { type: "object", description: "node", properties: { children: { type: "array", items: { $ref: "#/$defs/Node" } } } },
      },
    };
    expect(toGeminiSchema(schema)).toEqual({
      type: "OBJECT",
      properties: {
        alias: { type: "INTEGER" },
        tree: { type: "OBJECT", description: "node", properties: { children: { type: "ARRAY", items: { type: "OBJECT" } } } },
      },
    });
  });

  test("a small schema whose $refs or type lists would expand without bound is a 400, found in bounded time", () => {
    // 40 definitions, each naming the next twice: under 3 KB, 2^40 nodes once inlined.
    const $defs = Object.fromEntries(
      Array.from({ length: 40 }, (_, i) => [`D${i}`, { type: "object", properties: { a: { $ref: `#/$defs/D${i + 1}` }, b: { $ref: `#/$defs/D${i + 1}` } } }]),
    );
    const refs = { $ref: "#/$defs/D0", $defs: { ...$defs, D40: { type: "string" } } };
    // Every level a list of six types, each a copy of the level below: 6^30 nodes, no $ref at all.
    let types: Record<string, unknown> = { type: "string" };
    for (let i = 0; i < 30; i++) types = { type: ["string", "number", "integer", "boolean", "array", "object"], items: types };
    const started = performance.now();
    for (const schema of [refs, types]) {
      expect(() => toGeminiSchema(schema)).toThrow(expect.objectContaining({ status: 400, code: "schema_too_large" }));
    }
    expect(performance.now() - started).toBeLessThan(1000);
  });

  test("an unresolvable $ref is dropped, not sent", () => {
    expect(toGeminiSchema({ type: "object", properties: { a: { $ref: "https://x/y.json", description: "d" } } })).toEqual({
      type: "OBJECT",
      properties: { a: { description: "d" } },
    });
  });

  test("null in a type list, in anyOf/oneOf or in an enum becomes nullable", () => {
    expect(toGeminiSchema({ type: ["string", "null"] })).toEqual({ type: "STRING", nullable: true });
    expect(toGeminiSchema({ anyOf: [{ type: "integer" }, { type: "null" }], description: "n" })).toEqual({ type: "INTEGER", description: "n", nullable: true });
    expect(toGeminiSchema({ oneOf: [{ type: "null" }, { $ref: "#/$defs/S" }], $defs: { S: { type: "string" } } })).toEqual({ type: "STRING", nullable: true });
    expect(toGeminiSchema({ type: "string", enum: ["a", null] })).toEqual({ type: "STRING", enum: ["a"], format: "enum", nullable: true });
  });

  test("several types, anyOf and oneOf become Gemini's anyOf", () => {
    expect(toGeminiSchema({ type: ["string", "integer"], description: "id" })).toEqual({
      anyOf: [
        { type: "STRING", description: "id" },
        { type: "INTEGER", description: "id" },
      ],
      description: "id",
    });
    expect(toGeminiSchema({ oneOf: [{ type: "string" }, { type: "object", properties: { a: { type: "boolean" } } }] })).toEqual({
      anyOf: [{ type: "STRING" }, { type: "OBJECT", properties: { a: { type: "BOOLEAN" } } }],
    });
  });

  test("allOf members are merged", () => {
    const schema = {
      allOf: [
        { type: "object", properties: { a: { type: "string" } }, required: ["a"] },
        { properties: { b: { type: "number" } }, required: ["b"] },
      ],
    };
    expect(toGeminiSchema(schema)).toEqual({
      type: "OBJECT",
      properties: { a: { type: "STRING" }, b: { type: "NUMBER" } },
      required: ["a", "b"],
    });
  });

  test("enums: strings kept, other values dropped (Gemini's enum is strings only); const is a one-value enum", () => {
    expect(toGeminiSchema({ type: "integer", enum: [1, 2] })).toEqual({ type: "INTEGER" });
    expect(toGeminiSchema({ enum: ["x", "y"] })).toEqual({ type: "STRING", enum: ["x", "y"], format: "enum" });
    expect(toGeminiSchema({ const: "fixed" })).toEqual({ type: "STRING", enum: ["fixed"], format: "enum" });
    expect(toGeminiSchema({ type: "number", const: 3 })).toEqual({ type: "NUMBER" });
  });

  test("formats Gemini does not honour are dropped", () => {
    expect(toGeminiSchema({ type: "string", format: "uri" })).toEqual({ type: "STRING" });
    expect(toGeminiSchema({ type: "string", format: "date-time" })).toEqual({ type: "STRING", format: "date-time" });
    expect(toGeminiSchema({ type: "integer", format: "int64" })).toEqual({ type: "INTEGER", format: "int64" });
    expect(toGeminiSchema({ type: "number", format: "int32" })).toEqual({ type: "NUMBER" });
  });

  test("required names that are not properties, and an empty properties map, are left out", () => {
    expect(toGeminiSchema({ type: "object", properties: { a: { type: "string" } }, required: ["a", "ghost", "a"] })).toEqual({
      type: "OBJECT",
      properties: { a: { type: "STRING" } },
      required: ["a"],
    });
    expect(toGeminiSchema({ type: "object", properties: {}, required: ["x"] })).toEqual({ type: "OBJECT" });
  });

  test("type is inferred from properties or items; titles, defaults and examples are kept", () => {
    expect(toGeminiSchema({ properties: { a: { items: { type: "string" }, title: "A", default: [] } }, example: { a: [] } })).toEqual({
      type: "OBJECT",
      example: { a: [] },
      properties: { a: { type: "ARRAY", title: "A", default: [], items: { type: "STRING" } } },
    });
  });

  test("tuple items become their first schema; non-object input is an empty schema", () => {
    expect(toGeminiSchema({ type: "array", items: [{ type: "number" }, { type: "string" }] })).toEqual({ type: "ARRAY", items: { type: "NUMBER" } });
    expect(toGeminiSchema(true)).toEqual({});
    expect(toGeminiSchema(null)).toEqual({});
  });
});

describe("arrays", () => {
  test("an array whose items are not typed (none given, or {}) gets string items: Gemini refuses an ARRAY without", () => {
    expect(toGeminiParameters({ type: "object", properties: { tags: { type: "array" }, any: { type: "array", items: {} } } })).toEqual({
      type: "OBJECT",
      properties: { tags: { type: "ARRAY", items: { type: "STRING" } }, any: { type: "ARRAY", items: { type: "STRING" } } },
    });
    expect(toGeminiSchema({ type: "array", items: { type: "integer" } })).toEqual({ type: "ARRAY", items: { type: "INTEGER" } });
  });
});

describe("toGeminiParameters", () => {
  test("a function without arguments has no parameters at all", () => {
    expect(toGeminiParameters(undefined)).toBeUndefined();
    expect(toGeminiParameters({ type: "object", properties: {}, required: [] })).toBeUndefined();
    expect(toGeminiParameters({ type: "object", additionalProperties: false })).toBeUndefined();
  });

  test("parameters are always an OBJECT", () => {
    expect(toGeminiParameters({ properties: { q: { type: "string" } }, required: ["q"], additionalProperties: false })).toEqual({
      type: "OBJECT",
      properties: { q: { type: "STRING" } },
      required: ["q"],
    });
  });
});
