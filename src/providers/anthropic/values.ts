// Reading the client's JSON, whose shape no type guarantees: each field is checked before use.

export type Json = Record<string, unknown>;

/** The chat completions body as the route parsed it. */
export type ChatBody = Readonly<Json>;

export const isRecord = (value: unknown): value is Json => typeof value === "object" && value !== null && !Array.isArray(value);

export const isCount = (value: unknown): value is number => typeof value === "number" && Number.isInteger(value);

/** A table lookup that never finds Object.prototype's members ("constructor", "toString"). */
export const lookup = <T>(table: Readonly<Record<string, T>>, key: unknown): T | undefined =>
  typeof key === "string" && Object.hasOwn(table, key) ? table[key] : undefined;

/** A thinking budget as an effort level (OpenAI's `reasoning_effort`, adaptive thinking's `effort`). */
export function effortOf(budget: number): "low" | "medium" | "high" {
  if (budget < 4096) return "low";
  if (budget < 16384) return "medium";
  return "high";
}
