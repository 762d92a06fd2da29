import type { ValueError } from "@sinclair/typebox/errors";

/**
 * Plain-words descriptions of TypeBox validation failures, shared by config validation and request
 * validation: `expected a string`, `expected a number or null`, `is required`.
 */
interface SchemaLike {
  type?: string;
  anyOf?: SchemaLike[];
  const?: unknown;
  pattern?: string;
  minimum?: number;
  minLength?: number;
  multipleOf?: number;
}

const NOUNS: Record<string, string> = {
  string: "a string",
  integer: "an integer",
  number: "a number",
  boolean: "true or false",
  object: "an object",
  array: "an array",
  null: "null",
};

function noun(schema: SchemaLike): string {
  if (schema.anyOf) return schema.anyOf.map(noun).join(" or ");
  if (schema.const !== undefined) return JSON.stringify(schema.const);
  if (schema.type === "number" && schema.multipleOf === 1) return NOUNS.integer!;
  return (schema.type && NOUNS[schema.type]) ?? "a valid value";
}

function hasType({ type, multipleOf }: SchemaLike, value: unknown): boolean {
  if (type === "number" && multipleOf === 1) return Number.isInteger(value);
  if (type === "integer") return Number.isInteger(value);
  if (type === "array") return Array.isArray(value);
  if (type === "object") return value !== null && typeof value === "object" && !Array.isArray(value);
  if (type === "null") return value === null;
  return typeof value === type;
}

/** `/endpoints/gpt/url` → `endpoints.gpt.url` (the root is `(root)`). */
export function dottedPath(pointer: string): string {
  return pointer.split("/").slice(1).map((part) => part.replace(/~1/g, "/").replace(/~0/g, "~")).join(".") || "(root)";
}

export function describeValueError(error: ValueError): string {
  const schema = error.schema as SchemaLike;
  if (error.value === undefined) return "is required";
  if (schema.anyOf || (schema.type && !hasType(schema, error.value))) return `expected ${noun(schema)}`;
  if (schema.pattern) return "expected an http:// or https:// URL";
  if (schema.minimum !== undefined) return `expected at least ${schema.minimum}`;
  if (schema.minLength !== undefined) return "must not be empty";
  return error.message.charAt(0).toLowerCase() + error.message.slice(1);
}
