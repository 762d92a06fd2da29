import { describe, expect, test } from "bun:test";
import { NextTurn, UsageQueue } from "./queue";
import { record } from "../../../test/support/usage-records";

const ids = (queue: UsageQueue, count = 100) => queue.head(count).map((row) => row[1]);

describe("UsageQueue", () => {
  test("keeps rows in arrival order up to its size; past it drops and counts them, and says so once per overflow", () => {
    let overflows = 0;
    const queue = new UsageQueue(2, () => overflows++);
    const first = record();
    const second = record();
    expect([queue.add(first), queue.add(second), queue.add(record()), queue.add(record())]).toEqual([true, true, false, false]);
    expect(ids(queue)).toEqual([first.id, second.id]);
    expect([queue.length, queue.dropped, overflows]).toEqual([2, 2, 1]);

    queue.shift(1); // room again: the next overflow is a new one
    expect(ids(queue)).toEqual([second.id]);
    expect(queue.add(record())).toBe(true);
    expect(queue.add(record())).toBe(false);
    expect([queue.dropped, overflows]).toEqual([3, 2]);
  });

  test("head leaves the rows queued; shift takes them as written, discard as dropped; clear says how many were lost", () => {
    const queue = new UsageQueue(10, () => {});
    for (let i = 0; i < 5; i++) queue.add(record());
    expect(queue.head(3)).toHaveLength(3);
    expect(queue.length).toBe(5);
    queue.shift(2);
    queue.discard(2);
    expect([queue.length, queue.dropped]).toEqual([1, 2]);
    queue.discard(5); // more than wait: only what was there counts
    expect([queue.length, queue.dropped]).toEqual([0, 3]);
    queue.add(record());
    expect(queue.clear()).toBe(1);
    expect(queue.length).toBe(0);
  });
});

describe("NextTurn", () => {
  test("runs its task once at the next turn however often it is asked, again when asked after, never after cancel", async () => {
    let runs = 0;
    const next = new NextTurn(() => runs++);
    next.request();
    next.request();
    expect(runs).toBe(0);
    await new Promise((resolve) => setImmediate(resolve));
    expect(runs).toBe(1);
    next.request();
    next.cancel();
    await new Promise((resolve) => setImmediate(resolve));
    await new Promise((resolve) => setImmediate(resolve));
    expect(runs).toBe(1);
  });
});
