import { describe, expect, test } from "bun:test";
import { substituteEnv } from "./env";

const expand = (value: unknown, env: Record<string, string | undefined>) => {
  const missing: string[] = [];
  return { value: substituteEnv(value, env, "", missing), missing };
};

describe("substituteEnv", () => {
  test("${NAME} is replaced in every string, nested in objects and arrays; other values are kept", () => {
    const { value, missing } = expand({ a: "${K}", b: ["x-${K}-y", 3, null, true], c: { d: "${K}${K}" } }, { K: "v" });
    expect(value).toEqual({ a: "v", b: ["x-v-y", 3, null, true], c: { d: "vv" } });
    expect(missing).toEqual([]);
  });

  test("${NAME:-fallback} takes the fallback when NAME is unset or empty", () => {
    expect(expand("${K:-fb}", {}).value).toBe("fb");
    expect(expand("${K:-fb}", { K: "" }).value).toBe("fb");
    expect(expand("${K:-fb}", { K: "set" }).value).toBe("set");
    expect(expand("${K:-}", {}).value).toBe("");
  });

  test("an unset variable without fallback is reported with the dotted path where it is used", () => {
    const { missing } = expand({ endpoints: { gpt: { apiKey: "${NOPE}" } }, list: ["${ALSO_NOPE}"] }, {});
    expect(missing).toEqual(["endpoints.gpt.apiKey: environment variable NOPE is not set", "list.0: environment variable ALSO_NOPE is not set"]);
  });

  test("a variable set to the empty string is substituted, not reported", () => {
    expect(expand("a${E}b", { E: "" })).toEqual({ value: "ab", missing: [] });
  });

  test("text that is not a reference is left alone", () => {
    const text = "costs $5 {x} $HOME ${} ${1BAD}";
    expect(expand(text, { HOME: "/root" }).value).toBe(text);
  });

  test("only the environment's own variables count: ${constructor} and ${toString} are unset", () => {
    const { value, missing } = expand({ a: "${constructor}", b: "${toString:-fb}", c: "${__proto__}" }, {});
    expect(value).toEqual({ a: "", b: "fb", c: "" });
    expect(missing).toHaveLength(2);
  });

  test("a `__proto__` key stays a plain key: no prototype is set on the result or on Object.prototype", () => {
    const parsed = JSON.parse('{"__proto__": {"polluted": "${K}"}, "endpoints": {"__proto__": {"url": "u"}}}');
    const result = substituteEnv(parsed, { K: "yes" }) as Record<string, Record<string, unknown>>;
    expect(Object.getPrototypeOf(result)).toBe(Object.prototype);
    expect(Object.hasOwn(result, "__proto__")).toBe(true);
    expect(Object.getOwnPropertyDescriptor(result, "__proto__")?.value).toEqual({ polluted: "yes" });
    expect(result.polluted).toBeUndefined();
    expect(Object.keys(result.endpoints!)).toEqual(["__proto__"]);
    expect(result.endpoints!.url).toBeUndefined();
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
  });
});
