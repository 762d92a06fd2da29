import { describe, expect, test } from "bun:test";
import { msToWindowEnd, windowEnd, windowOf, windowStart } from "./calendar";

const at = (iso: string) => Date.parse(iso);

describe("calendar windows (UTC)", () => {
  test("a day runs from 00:00 UTC to the next 00:00 UTC", () => {
    expect(msToWindowEnd("day", at("2026-11-30T23:59:59.000Z"))).toBe(1000);
    expect(msToWindowEnd("day", at("2026-11-30T00:00:00.000Z"))).toBe(86_400_000);
    expect(windowOf("day", at("2026-11-30T23:59:59.999Z"))).toBe(windowOf("day", at("2026-11-30T00:00:00.000Z")));
    expect(windowOf("day", at("2026-12-01T00:00:00.000Z"))).toBe(windowOf("day", at("2026-11-30T00:00:00.000Z")) + 1);
  });

  test("a month runs from 00:00 UTC on the 1st to 00:00 UTC on the next 1st", () => {
    expect(windowEnd("month", at("2026-11-30T23:59:59.000Z"))).toBe(at("2026-12-01T00:00:00.000Z"));
    expect(windowEnd("month", at("2026-12-01T00:00:00.000Z"))).toBe(at("2027-01-01T00:00:00.000Z"));
    expect(msToWindowEnd("month", at("2026-12-31T23:59:59.999Z"))).toBe(1);
    expect(windowOf("month", at("1970-01-31T12:00:00.000Z"))).toBe(0);
    expect(windowOf("month", at("2026-12-31T23:59:59.999Z"))).toBe(56 * 12 + 11);
    expect(windowOf("month", at("2027-01-01T00:00:00.000Z"))).toBe(57 * 12);
  });

  test("months of every length, leap years included", () => {
    expect(windowEnd("month", at("2024-02-10T00:00:00.000Z"))).toBe(at("2024-03-01T00:00:00.000Z"));
    expect(msToWindowEnd("month", at("2024-02-01T00:00:00.000Z"))).toBe(29 * 86_400_000);
    expect(msToWindowEnd("month", at("2025-02-01T00:00:00.000Z"))).toBe(28 * 86_400_000);
    expect(msToWindowEnd("month", at("2100-02-01T00:00:00.000Z"))).toBe(28 * 86_400_000); // not a leap year
    expect(msToWindowEnd("month", at("2000-02-01T00:00:00.000Z"))).toBe(29 * 86_400_000); // a leap year
    expect(msToWindowEnd("month", at("2025-04-01T00:00:00.000Z"))).toBe(30 * 86_400_000);
    expect(msToWindowEnd("month", at("2025-07-01T00:00:00.000Z"))).toBe(31 * 86_400_000);
  });

  test("a window starts where the one before it ends", () => {
    expect(windowStart("day", at("2026-11-30T23:59:59.999Z"))).toBe(at("2026-11-30T00:00:00.000Z"));
    expect(windowStart("month", at("2026-11-30T23:59:59.999Z"))).toBe(at("2026-11-01T00:00:00.000Z"));
    for (const period of ["day", "month"] as const) {
      const end = windowEnd(period, at("2024-02-29T12:00:00.000Z"));
      expect(windowStart(period, end)).toBe(end);
      expect(windowEnd(period, end - 1)).toBe(end);
    }
  });

  test("a time zone's midnight is not the window's: only UTC counts", () => {
    // 23:30 in New York on the 31st is already the 1st in UTC.
    expect(windowOf("month", at("2025-01-31T23:30:00-05:00"))).toBe(windowOf("month", at("2025-02-01T04:30:00.000Z")));
  });
});
