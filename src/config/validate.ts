import { TypeCompiler } from "@sinclair/typebox/compiler";
import type { ValueError } from "@sinclair/typebox/errors";
import { ConfigFileSchema, type ConfigFile } from "./schema";

const checker = TypeCompiler.Compile(ConfigFileSchema);

const EXPECTED: Record<string, string> = {
  string: "expected a string",
  integer: "expected an integer",
  number: "expected a number",
  boolean: "expected true or false",
  object: "expected an object",
  array: "expected an array",
};

/** `/endpoints/gpt/url` → `endpoints.gpt.url` */
function dotted(pointer: string): string {
  return pointer.split("/").slice(1).map((part) => part.replace(/~1/g, "/").replace(/~0/g, "~")).join(".") || "(root)";
}

function hasType(type: string, value: unknown): boolean {
  if (type === "integer") return Number.isInteger(value);
  if (type === "array") return Array.isArray(value);
  if (type === "object") return value !== null && typeof value === "object" && !Array.isArray(value);
  return typeof value === type;
}

function describe(error: ValueError): string {
  const schema = error.schema as { type?: string; pattern?: string; minimum?: number; minLength?: number };
  if (error.value === undefined) return "is required";
  if (schema.type && EXPECTED[schema.type] && !hasType(schema.type, error.value)) return EXPECTED[schema.type]!;
  if (schema.pattern) return "expected an http:// or https:// URL";
  if (schema.minimum !== undefined) return `expected at least ${schema.minimum}`;
  if (schema.minLength !== undefined) return "must not be empty";
  return error.message.charAt(0).toLowerCase() + error.message.slice(1);
}

/** One line per problem, e.g. `endpoints.gpt.url: expected a string`; empty when the value is valid. */
export function configProblems(value: unknown): string[] {
  if (checker.Check(value)) return [];
  const seen = new Set<string>();
  const problems: string[] = [];
  for (const error of checker.Errors(value)) {
    const path = dotted(error.path);
    if (seen.has(path)) continue; // TypeBox reports one failure several ways; the first is the clearest
    seen.add(path);
    problems.push(`${path}: ${describe(error)}`);
  }
  return problems;
}

/** Problems no schema can see: references between fields. */
export function crossFieldProblems(file: ConfigFile): string[] {
  const problems: string[] = [];
  const seenKeys = new Set<string>();
  file.clientKeys?.forEach((client, i) => {
    if (seenKeys.has(client.key)) problems.push(`clientKeys.${i}.key: the same key is listed twice`);
    seenKeys.add(client.key);
    client.models?.forEach((model, j) => {
      if (!(model in file.endpoints)) problems.push(`clientKeys.${i}.models.${j}: unknown model '${model}'`);
    });
  });
  return problems;
}
