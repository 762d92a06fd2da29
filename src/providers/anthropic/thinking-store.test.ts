import { describe, expect, test } from "bun:test";
import { ThinkingStore } from "./thinking-store";
import type { ReplayedThinking } from "./types";

const thought = (text: string): ReplayedThinking[] => [{ type: "thinking", thinking: text, signature: `sig-${text}` }];

describe("ThinkingStore", () => {
  test("a turn's thinking is found by any of its tool-call ids; unknown ids and empty turns find nothing", () => {
    const store = new ThinkingStore();
    store.keep({ toolCallIds: ["toolu_a", "toolu_b"], blocks: thought("plan") });
    store.keep(null);
    store.keep({ toolCallIds: ["toolu_c"], blocks: [] });
    expect(store.lookup(["toolu_b"])).toEqual(thought("plan"));
    expect(store.lookup(["toolu_x", "toolu_a"])).toEqual(thought("plan"));
    expect(store.lookup(["toolu_c"])).toBeUndefined();
    expect(store.size).toBe(1);
  });

  test("kept for its time to live, then gone", () => {
    let now = 1_000;
    const store = new ThinkingStore({ ttlMs: 100, now: () => now });
    store.keep({ toolCallIds: ["a"], blocks: thought("one") });
    now = 1_099;
    expect(store.lookup(["a"])).toEqual(thought("one"));
    now = 1_100;
    expect(store.lookup(["a"])).toBeUndefined();
    expect(store.size).toBe(0);
  });

  test("bounded in turns and in characters: the oldest turns go first", () => {
    const store = new ThinkingStore({ maxTurns: 2, maxChars: 1_000 });
    store.keep({ toolCallIds: ["a"], blocks: thought("one") });
    store.keep({ toolCallIds: ["b"], blocks: thought("two") });
    store.keep({ toolCallIds: ["c"], blocks: thought("three") });
    expect([store.lookup(["a"]), store.lookup(["b"]), store.lookup(["c"])].map(Boolean)).toEqual([false, true, true]);

    const small = new ThinkingStore({ maxChars: 28 });
    small.keep({ toolCallIds: ["a"], blocks: thought("x".repeat(10)) }); // 10 + 14 characters
    small.keep({ toolCallIds: ["b"], blocks: thought("y") });
    expect(small.lookup(["a"])).toBeUndefined();
    expect(small.lookup(["b"])).toEqual(thought("y"));
    small.keep({ toolCallIds: ["huge"], blocks: thought("z".repeat(100)) }); // larger than the whole store: not kept
    expect(small.lookup(["huge"])).toBeUndefined();
    expect(small.lookup(["b"])).toEqual(thought("y"));
  });

  test("an id kept again replaces its earlier turn", () => {
    const store = new ThinkingStore();
    store.keep({ toolCallIds: ["a", "b"], blocks: thought("old") });
    store.keep({ toolCallIds: ["a"], blocks: thought("new") });
    expect(store.lookup(["a"])).toEqual(thought("new"));
    expect(store.lookup(["b"])).toBeUndefined();
    expect(store.size).toBe(1);
  });

  test("shared: kept turns are saved for every instance, and fetch brings a turn kept elsewhere into memory, once per turn", async () => {
    const saved = new Map<string, { ids: readonly string[]; blocks: readonly ReplayedThinking[] }>();
    const loads: string[] = [];
    const shared = {
      save: (ids: readonly string[], blocks: readonly ReplayedThinking[]) => {
        for (const id of ids) saved.set(id, { ids, blocks });
      },
      load: async (id: string) => {
        loads.push(id);
        return saved.get(id) ?? null;
      },
    };
    new ThinkingStore({ shared }).keep({ toolCallIds: ["a", "b"], blocks: thought("elsewhere") });
    const here = new ThinkingStore({ shared });
    expect(here.lookup(["a"])).toBeUndefined();
    await here.fetch(["a", "b", "unknown"]);
    expect(loads).toEqual(["a", "unknown"]);
    expect(here.lookup(["b"])).toEqual(thought("elsewhere"));
    await here.fetch(["a", "b"]);
    expect(loads).toEqual(["a", "unknown"]);
  });
});
