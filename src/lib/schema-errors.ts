import { ValueErrorType, type ValueError } from "@sinclair/typebox/errors";

/**
 * Plain-words descriptions of TypeBox validation failures, shared by config validation and request
 * validation: `expected a string`, `expected a number or null`, `is required`.
 */
interface SchemaLike {
  type?: string;
  anyOf?: SchemaLike[];
  const?: unknown;
  pattern?: string;
  /** The schema's own words for a failed constraint (Elysia's `error` option), e.g. on a URL pattern. */
  error?: unknown;
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
  return (
    pointer
      .split("/")
      .slice(1)
      .map((part) => part.replace(/~1/g, "/").replace(/~0/g, "~"))
      .join(".") || "(root)"
  );
}

export function describeValueError(error: ValueError): string {
  const schema = error.schema as SchemaLike;
  if (error.value === undefined) return "is required";
  if (schema.anyOf || (schema.type && !hasType(schema, error.value))) return `expected ${noun(schema)}`;
  // An empty string says so, whatever else its schema would say about what it holds.
  if (typeof schema.error === "string" && error.type !== ValueErrorType.StringMinLength) return schema.error;
  switch (error.type) {
    case ValueErrorType.StringPattern:
      return `expected a string matching ${schema.pattern}`;
    case ValueErrorType.StringMinLength:
      return schema.minLength === 1 ? "must not be empty" : `must be at least ${schema.minLength} characters`;
    case ValueErrorType.IntegerMinimum:
    case ValueErrorType.NumberMinimum:
      return `expected at least ${schema.minimum}`;
    default:
      return error.message.charAt(0).toLowerCase() + error.message.slice(1);
  }
}
