import { describe, expect, test } from "bun:test";
import { ProxyError } from "../../model/errors";
import { nearestRank, parseInstant, parseUsageQuery, usageCsv, withPercentiles } from "./query";

const DAY = 24 * 60 * 60 * 1000;

describe("parseInstant", () => {
  test("dates are UTC midnights; as 'to' the next one", () => {
    expect(parseInstant("2024-05-01")).toBe(Date.UTC(2024, 4, 1));
    expect(parseInstant("2024-05-01", true)).toBe(Date.UTC(2024, 4, 2));
    expect(parseInstant("2024-12-31", true)).toBe(Date.UTC(2025, 0, 1));
    // Years 0–99 are those years, not 1900–1999 (as Date.UTC would read them); year 0 is a leap year.
    expect(new Date(parseInstant("0050-01-01")!).toISOString()).toBe("0050-01-01T00:00:00.000Z");
    expect(new Date(parseInstant("0000-02-29", true)!).toISOString()).toBe("0000-03-01T00:00:00.000Z");
  });

  test("date-times: UTC without a zone, offsets, fractions, a space for T", () => {
    expect(parseInstant("2024-05-01T12:30")).toBe(Date.UTC(2024, 4, 1, 12, 30));
    expect(parseInstant("2024-05-01T12:30:15Z")).toBe(Date.UTC(2024, 4, 1, 12, 30, 15));
    expect(parseInstant("2024-05-01 12:30:15.25")).toBe(Date.UTC(2024, 4, 1, 12, 30, 15, 250));
    expect(parseInstant("2024-05-01T12:30:15.123456789Z")).toBe(Date.UTC(2024, 4, 1, 12, 30, 15, 123));
    expect(parseInstant("2024-05-01T12:30:00+02:00")).toBe(Date.UTC(2024, 4, 1, 10, 30));
    expect(parseInstant("2024-05-01T12:30:00-0130")).toBe(Date.UTC(2024, 4, 1, 14, 0));
    expect(parseInstant("2024-05-01T00:30+01")).toBe(Date.UTC(2024, 3, 30, 23, 30));
    // A time does not move to the end of its day as 'to'.
    expect(parseInstant("2024-05-01T12:30Z", true)).toBe(Date.UTC(2024, 4, 1, 12, 30));
  });

  test("anything else is null", () => {
    for (const bad of [
      "",
      "yesterday",
      "2024-13-01",
      "2024-02-30",
      "2023-02-29",
      "2024-05-01T24:00",
      "2024-05-01T12:60",
      "1714560000",
      "May 1 2024",
      "2024-05-01T12:00+25:00",
      "2024-5-1",
    ]) {
      expect({ bad, at: parseInstant(bad) }).toEqual({ bad, at: null });
    }
    expect(parseInstant("2024-02-29")).toBe(Date.UTC(2024, 1, 29));
  });
});

describe("parseUsageQuery", () => {
  const now = Date.UTC(2024, 4, 10, 8);
  const parse = (query: string) => parseUsageQuery(new URLSearchParams(query), now);

  test("defaults: the last 24 h by day, as JSON", () => {
    expect(parse("")).toEqual({ range: { from: now - DAY, to: now }, groupBy: "day", format: "json" });
    expect(parse("to=2024-05-01T00:00Z&groupBy=user&format=csv")).toEqual({
      range: { from: Date.UTC(2024, 3, 30), to: Date.UTC(2024, 4, 1) },
      groupBy: "user",
      format: "csv",
    });
    expect(parse("from=2024-05-01&to=2024-05-02").range).toEqual({ from: Date.UTC(2024, 4, 1), to: Date.UTC(2024, 4, 3) });
  });

  test("an unencoded + of an offset (a space once decoded) still reads as +", () => {
    expect(parse("from=2024-05-01T12:00:00+02:00").range.from).toBe(Date.UTC(2024, 4, 1, 10));
  });

  test("a bad value is a 400 naming the parameter", () => {
    const cases: [string, string][] = [
      ["from=yesterday", "from"],
      ["to=2024-02-30", "to"],
      ["groupBy=week", "groupBy"],
      ["format=xml", "format"],
      ["from=2024-05-02&to=2024-05-01T00:00Z", "from"],
    ];
    for (const [query, param] of cases) {
      let caught: unknown;
      try {
        parse(query);
      } catch (error) {
        caught = error;
      }
      expect(caught).toBeInstanceOf(ProxyError);
      expect({ query, status: (caught as ProxyError).status, param: (caught as ProxyError).param }).toEqual({ query, status: 400, param });
    }
  });
});

describe("percentiles", () => {
  test("nearest rank", () => {
    expect([nearestRank(50, 1), nearestRank(95, 1), nearestRank(50, 2), nearestRank(50, 20), nearestRank(95, 20), nearestRank(95, 21)]).toEqual([
      1, 1, 1, 10, 19, 20,
    ]);
  });

  test("picked per group from durations sorted by key then value", () => {
    const totals = [
      { key: "a", requests: 20, errors: 1, promptTokens: 2, completionTokens: 3, totalTokens: 5, costUsd: 0.25 },
      { key: "b", requests: 1, errors: 0, promptTokens: 0, completionTokens: 0, totalTokens: 0, costUsd: null },
      { key: "c", requests: 2, errors: 0, promptTokens: 0, completionTokens: 0, totalTokens: 0, costUsd: 0 },
    ];
    const durations: [string, number][] = [...Array.from({ length: 20 }, (_, i) => ["a", (i + 1) * 10] as [string, number]), ["b", 7], ["c", 3], ["c", 900]];
    expect(withPercentiles(totals, durations)).toEqual([
      { ...totals[0]!, p50Ms: 100, p95Ms: 190 },
      { ...totals[1]!, p50Ms: 7, p95Ms: 7 },
      { ...totals[2]!, p50Ms: 3, p95Ms: 900 },
    ]);
  });
});

describe("usageCsv", () => {
  test("a header row, then the same columns as the JSON; keys quoted and defused; an unpriced group's cost empty", () => {
    const group = { requests: 2, errors: 1, promptTokens: 3, completionTokens: 4, totalTokens: 7, costUsd: 0.0125, p50Ms: 10, p95Ms: 20 };
    const csv = usageCsv([
      { key: "2024-05-01", ...group },
      { key: 'a,"b"', ...group },
      { key: "=cmd()", ...group },
      { key: "-", ...group, costUsd: null },
    ]);
    expect(csv).toBe(
      "key,requests,errors,promptTokens,completionTokens,totalTokens,costUsd,p50Ms,p95Ms\r\n" +
        "2024-05-01,2,1,3,4,7,0.0125,10,20\r\n" +
        '"a,""b""",2,1,3,4,7,0.0125,10,20\r\n' +
        "'=cmd(),2,1,3,4,7,0.0125,10,20\r\n" +
        "-,2,1,3,4,7,,10,20\r\n",
    );
    expect(usageCsv([])).toBe("key,requests,errors,promptTokens,completionTokens,totalTokens,costUsd,p50Ms,p95Ms\r\n");
  });
});
