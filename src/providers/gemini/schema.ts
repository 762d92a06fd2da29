// JSON Schema (as OpenAI tools and response formats carry it) cut down to the OpenAPI subset
// Gemini's `Schema` accepts. Gemini parses schemas as protobuf JSON: one keyword it has no field
// for (`additionalProperties`, `$schema`, `$ref`, `propertyNames`, …) fails the whole request, so
// only the keywords below are kept, `$ref`s are inlined and the shapes Gemini cannot express are
// rewritten into ones it can.
import { invalidRequest } from "../../model/errors";
import type { GeminiSchema } from "./types";

type Json = Record<string, unknown>;

const TYPES = new Set(["string", "number", "integer", "boolean", "array", "object"]);
/** Formats the Gemini API honours per type; any other value is refused, so it is dropped. */
const FORMATS: Record<string, readonly string[]> = {
  STRING: ["enum", "date-time"],
  NUMBER: ["float", "double"],
  INTEGER: ["int32", "int64"],
};
/** Keywords copied as they are when their value has the right JSON type. */
const COPIED = {
  string: ["title", "description", "pattern"],
  number: ["minItems", "maxItems", "minProperties", "maxProperties", "minLength", "maxLength", "minimum", "maximum"],
  any: ["default", "example"],
} as const;
/** Recursion guard: a `$ref` cycle or a pathological schema stops here as a bare object. */
const MAX_DEPTH = 32;
/**
 * Nodes the schemas of one request may convert to, all together. Inlining copies a definition
 * wherever it is named, and a type list copies its node once per type: a few kilobytes nesting
 * either 30 deep stand for 2^30 nodes or more, which would hold the event loop and the memory (and
 * a body holds thousands of such schemas). Real schemas stay far below this.
 */
const MAX_NODES = 100_000;

/** What is left of one request's MAX_NODES. */
export interface SchemaBudget {
  left: number;
}

export const schemaBudget = (): SchemaBudget => ({ left: MAX_NODES });

const tooLarge = () =>
  invalidRequest(
    `The request's JSON schemas expand to more than ${MAX_NODES} nodes once their $refs and type lists are written out, as a Gemini backend needs them`,
    null,
    "schema_too_large",
  );

const isObject = (value: unknown): value is Json => typeof value === "object" && value !== null && !Array.isArray(value);

/** Follows a local `$ref` (`#/$defs/X`, `#/definitions/X`, any `#/…` pointer) inside `root`. */
function resolveRef(ref: string, root: Json): Json | undefined {
  if (!ref.startsWith("#")) return undefined;
  let node: unknown = root;
  for (const raw of ref.slice(1).split("/").filter(Boolean)) {
    const key = decodeURIComponent(raw).replace(/~1/g, "/").replace(/~0/g, "~");
    if (!isObject(node)) return undefined;
    node = node[key];
  }
  return isObject(node) ? node : undefined;
}

/** `allOf` members merged into one schema: properties and required lists joined, first value wins otherwise. */
function mergeAllOf(schema: Json, root: Json, seen: readonly string[]): Json {
  const { allOf, ...rest } = schema;
  if (!Array.isArray(allOf)) return schema;
  const merged: Json = { ...rest };
  for (const member of allOf) {
    const part = isObject(member) ? inlineRef(member, root, seen).schema : {};
    for (const [key, value] of Object.entries(part)) {
      if (key === "properties" && isObject(value)) merged.properties = { ...(merged.properties as Json | undefined), ...value };
      else if (key === "required" && Array.isArray(value)) merged.required = [...((merged.required as unknown[]) ?? []), ...value];
      else if (!(key in merged)) merged[key] = value;
    }
  }
  return merged;
}

/** The schema with a top-level `$ref` replaced by its target (sibling keywords win), and the refs now open. */
function inlineRef(schema: Json, root: Json, seen: readonly string[]): { schema: Json; seen: readonly string[]; cycle: boolean } {
  const ref = schema.$ref;
  if (typeof ref !== "string") return { schema, seen, cycle: false };
  if (seen.includes(ref)) return { schema: {}, seen, cycle: true };
  const target = resolveRef(ref, root);
  const { $ref: _, ...siblings } = schema;
  if (!target) return { schema: siblings, seen, cycle: false };
  const inner = inlineRef(target, root, [...seen, ref]);
  return { schema: { ...inner.schema, ...siblings }, seen: inner.seen, cycle: inner.cycle };
}

const isNullSchema = (value: unknown) => isObject(value) && value.type === "null" && Object.keys(value).length === 1;

/**
 * One JSON Schema node → Gemini's Schema. `root` is the document `$ref`s point into; `seen` the
 * refs being inlined above this node (a cycle becomes a bare OBJECT: Gemini has no recursion);
 * `budget` the nodes the request may still convert to.
 */
function convert(input: Json, root: Json, seen: readonly string[], depth: number, budget: SchemaBudget): GeminiSchema {
  if (--budget.left < 0) throw tooLarge();
  const inlined = inlineRef(input, root, seen);
  if (inlined.cycle || depth > MAX_DEPTH) return { type: "OBJECT", ...describe(input) };
  const schema = mergeAllOf(inlined.schema, root, inlined.seen);
  const next = (value: Json) => convert(value, root, inlined.seen, depth + 1, budget);

  // `type: [a, b]` and `anyOf`/`oneOf` with a `null` member become `nullable`; several real types an anyOf.
  const types = (Array.isArray(schema.type) ? schema.type : schema.type === undefined ? [] : [schema.type]).filter((t) => typeof t === "string");
  const nullable = types.includes("null") || schema.nullable === true || (Array.isArray(schema.enum) && schema.enum.includes(null));
  const realTypes = types.filter((t) => t !== "null" && TYPES.has(t as string)) as string[];
  if (realTypes.length > 1) {
    const { type: _, ...rest } = schema;
    const anyOf = realTypes.map((type) => next({ ...rest, type }));
    return { anyOf, ...describe(schema), ...(nullable ? { nullable: true } : {}) };
  }

  const variants = [schema.anyOf, schema.oneOf].find(Array.isArray)?.filter(isObject);
  if (variants) {
    const real = variants.filter((variant) => !isNullSchema(variant));
    const nullableVariant = real.length < variants.length || nullable;
    const { anyOf: _a, oneOf: _o, ...rest } = schema;
    if (real.length === 1) return { ...next({ ...rest, ...real[0] }), ...(nullableVariant ? { nullable: true } : {}) };
    const out: GeminiSchema = { anyOf: real.map(next), ...describe(schema) };
    if (nullableVariant) out.nullable = true;
    return out;
  }

  const out: GeminiSchema = {};
  const type = realTypes[0] ?? guessType(schema);
  if (type) out.type = type.toUpperCase() as GeminiSchema["type"];
  for (const key of COPIED.string) if (typeof schema[key] === "string") (out as Json)[key] = schema[key];
  for (const key of COPIED.number) if (typeof schema[key] === "number") (out as Json)[key] = schema[key];
  for (const key of COPIED.any) if (schema[key] !== undefined) (out as Json)[key] = schema[key];
  if (nullable) out.nullable = true;
  if (typeof schema.format === "string" && out.type && FORMATS[out.type]?.includes(schema.format)) out.format = schema.format;

  // Gemini's enum holds strings only, for STRING; `const` is a one-value enum.
  const values = Array.isArray(schema.enum) ? schema.enum.filter((v) => v !== null) : "const" in schema ? [schema.const] : undefined;
  if (values && values.length > 0 && values.every((v) => typeof v === "string") && (out.type === "STRING" || !out.type)) {
    out.type = "STRING";
    out.enum = values as string[];
    out.format = "enum";
  }

  if (isObject(schema.items)) out.items = next(schema.items);
  else if (Array.isArray(schema.items) && isObject(schema.items[0])) out.items = next(schema.items[0]);
  // Gemini refuses an ARRAY without a typed `items` ("items: missing field"), which JSON Schema allows (any items): strings say the least.
  if (out.type === "ARRAY" && !out.items?.type && !out.items?.anyOf) out.items = { ...out.items, type: "STRING" };

  if (isObject(schema.properties)) {
    const properties = Object.entries(schema.properties).filter((entry): entry is [string, Json] => isObject(entry[1]));
    // An empty `properties` map is refused ("should be non-empty for OBJECT type"): a free-form object has none.
    if (properties.length > 0) {
      out.properties = Object.fromEntries(properties.map(([name, value]) => [name, next(value)]));
      // Every required name must be a declared property, or Gemini refuses the schema.
      const required = Array.isArray(schema.required)
        ? [...new Set(schema.required)].filter((name) => typeof name === "string" && name in out.properties!)
        : [];
      if (required.length > 0) out.required = required as string[];
      if (Array.isArray(schema.propertyOrdering)) {
        const ordering = schema.propertyOrdering.filter((name) => typeof name === "string" && name in out.properties!);
        if (ordering.length > 0) out.propertyOrdering = ordering as string[];
      }
    }
  }
  return out;
}

function guessType(schema: Json): string | undefined {
  if (isObject(schema.properties)) return "object";
  if (schema.items !== undefined) return "array";
  return undefined;
}

const describe = (schema: Json): GeminiSchema => (typeof schema.description === "string" ? { description: schema.description } : {});

/**
 * Any JSON Schema → Gemini's Schema subset; `$ref`s resolve against the schema's own `$defs`/`definitions`.
 * A 400 once the request's schemas (sharing `budget`) expand past MAX_NODES.
 */
export function toGeminiSchema(schema: unknown, budget: SchemaBudget = schemaBudget()): GeminiSchema {
  return isObject(schema) ? convert(schema, schema, [], 0, budget) : {};
}

/**
 * A function's parameters: always an OBJECT, or undefined when it takes none (Gemini refuses an
 * OBJECT with an empty `properties` map, and a declaration without `parameters` is the way to say
 * "no arguments").
 */
export function toGeminiParameters(schema: unknown, budget: SchemaBudget = schemaBudget()): GeminiSchema | undefined {
  if (!isObject(schema)) return undefined;
  const converted = toGeminiSchema(schema, budget);
  if (!converted.properties) return undefined;
  return { ...converted, type: "OBJECT" };
}
