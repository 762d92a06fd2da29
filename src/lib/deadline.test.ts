import { describe, expect, test } from "bun:test";
import { withDeadline } from "./deadline";

const never = new Promise<never>(() => {});

describe("withDeadline", () => {
  test("work that settles first wins, value or rejection", async () => {
    expect(await withDeadline(Promise.resolve("done"), 1000, () => "late")).toBe("done");
    await expect(withDeadline(Promise.reject(new Error("broke")), 1000, () => "late")).rejects.toThrow("broke");
  });

  test("after ms, onTimeout's value wins", async () => {
    expect(await withDeadline(never, 5, () => false)).toBe(false);
  });

  test("after ms, onTimeout's throw rejects", async () => {
    await expect(
      withDeadline(never, 5, () => {
        throw new Error("too slow");
      }),
    ).rejects.toThrow("too slow");
  });
});
