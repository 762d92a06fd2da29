import { describe, expect, test } from "bun:test";
import { TypeCompiler } from "@sinclair/typebox/compiler";
import { Type as t, type TSchema } from "@sinclair/typebox";
import { describeValueError, dottedPath } from "./schema-errors";

/** The description of the first failure of `value` against `schema`. */
function describe1(schema: TSchema, value: unknown): string {
  const [first] = TypeCompiler.Compile(schema).Errors(value);
  if (!first) throw new Error("expected the value to be rejected");
  return describeValueError(first);
}

describe("describeValueError", () => {
  test("a wrong type names the expected type, also for integers and unions", () => {
    expect(describe1(t.String(), 42)).toBe("expected a string");
    expect(describe1(t.Integer(), 1.5)).toBe("expected an integer");
    expect(describe1(t.Union([t.Number(), t.Null()]), "x")).toBe("expected a number or null");
  });

  test("a missing field is required", () => {
    expect(describe1(t.Object({ a: t.String() }), {})).toBe("is required");
  });

  test("a pattern failure quotes the pattern, unless the schema has its own words", () => {
    expect(describe1(t.String({ pattern: "^[a-z]+$" }), "ABC")).toBe("expected a string matching ^[a-z]+$");
    expect(describe1(t.String({ pattern: "^https?://", error: "expected an http:// or https:// URL" }), "ftp://x")).toBe("expected an http:// or https:// URL");
  });

  test("minLength 1 is 'must not be empty'; a longer minimum names its length", () => {
    expect(describe1(t.String({ minLength: 1 }), "")).toBe("must not be empty");
    expect(describe1(t.String({ minLength: 3 }), "ab")).toBe("must be at least 3 characters");
  });

  test("a number below its minimum names the minimum", () => {
    expect(describe1(t.Integer({ minimum: 1 }), 0)).toBe("expected at least 1");
    expect(describe1(t.Number({ minimum: 0.5 }), 0)).toBe("expected at least 0.5");
  });
});

describe("dottedPath", () => {
  test("a JSON pointer becomes a dotted path; escaped / and ~ come back", () => {
    expect(dottedPath("/endpoints/org~1model/url")).toBe("endpoints.org/model.url");
    expect(dottedPath("/a~0b")).toBe("a~b");
    expect(dottedPath("")).toBe("(root)");
  });
});
