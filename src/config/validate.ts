import { TypeCompiler } from "@sinclair/typebox/compiler";
import { describeValueError, dottedPath } from "../schema-errors";
import { ConfigFileSchema, type ConfigFile } from "./schema";

const checker = TypeCompiler.Compile(ConfigFileSchema);

/** One line per problem, e.g. `endpoints.gpt.url: expected a string`; empty when the value is valid. */
export function configProblems(value: unknown): string[] {
  if (checker.Check(value)) return [];
  const seen = new Set<string>();
  const problems: string[] = [];
  for (const error of checker.Errors(value)) {
    const path = dottedPath(error.path);
    if (seen.has(path)) continue; // TypeBox reports one failure several ways; the first is the clearest
    seen.add(path);
    problems.push(`${path}: ${describeValueError(error)}`);
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
      if (!Object.hasOwn(file.endpoints, model)) problems.push(`clientKeys.${i}.models.${j}: unknown model '${model}'`);
    });
  });
  return problems;
}
