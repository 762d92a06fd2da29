import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { msToWindowEnd } from "../../src/limits/calendar";
import { RedisCounters } from "../../src/limits/redis-counters";
import type { LimitRule } from "../../src/limits/rules";
import { countersContract } from "../support/counters-contract";
import { RedisLink } from "../../src/cluster/redis-link";
import { CapturingLogger } from "../support/logger";
import { startRedis, type RedisServer } from "./redis-server";

/** The Redis counters, held to the memory counters's contract, on a real redis-server; then what only it has. */
let redis: RedisServer;
let link: RedisLink;
let counters: RedisCounters;
const links: RedisLink[] = [];

beforeAll(async () => {
  redis = await startRedis();
  link = new RedisLink(redis.url, new CapturingLogger());
  links.push(link);
  counters = new RedisCounters(link);
});
afterAll(async () => {
  counters.close();
  for (const one of links) one.close();
  await redis.destroy();
});

countersContract("redis", () => counters);

let serial = 0;
const slotRule = (limit: number): LimitRule => {
  const subject = `lease-${Date.now()}-${++serial}`;
  return { scope: "client", kind: "concurrent", subject, limit, key: `client:concurrent:${subject}` };
};

function instance(leaseMs: number, name: string) {
  const own = new RedisLink(redis.url, new CapturingLogger());
  links.push(own);
  return new RedisCounters(own, { leaseMs, instance: name });
}

describe("Redis counters: what the memory counters has no need for", () => {
  test("keys are the rule's under cm-proxy:, and idle ones expire (rates after their window, days and months an hour after they end, slots after their lease)", async () => {
    const subject = `ttl-${Date.now()}`;
    const rules: LimitRule[] = (["rpm", "tpm", "concurrent", "tokensPerDay", "usdPerDay", "usdPerMonth"] as const).map((kind) => ({
      scope: "client",
      kind,
      subject,
      limit: 10,
      key: `client:${kind}:${subject}`,
    }));
    const now = Date.now();
    await counters.admit(rules, now);
    await counters.charge(rules, { tokens: 5, nanos: 5 }, now);
    const client = await redis.client();
    const ttl = async (kind: string) => Number(await client.send("PTTL", [`cm-proxy:client:${kind}:${subject}`]));
    expect(await ttl("rpm")).toBeGreaterThan(0);
    expect(await ttl("rpm")).toBeLessThanOrEqual(6_000 + 1_000); // one interval (6 s) + margin
    expect(await ttl("tpm")).toBeLessThanOrEqual(30_000 + 1_000); // 5 tokens of 10 per minute
    expect(await ttl("tokensPerDay")).toBeLessThanOrEqual(86_400_000 + 3_600_000);
    expect(await ttl("tokensPerDay")).toBeGreaterThan(3_600_000);
    expect(await ttl("usdPerDay")).toBeLessThanOrEqual(msToWindowEnd("day", now) + 3_600_000);
    expect(await ttl("usdPerDay")).toBeGreaterThan(msToWindowEnd("day", now) + 3_600_000 - 60_000);
    expect(await ttl("usdPerMonth")).toBeLessThanOrEqual(msToWindowEnd("month", now) + 3_600_000);
    expect(await ttl("usdPerMonth")).toBeGreaterThan(msToWindowEnd("month", now) + 3_600_000 - 60_000);
    // A budget's spend is whole nano-dollars: the 5 charged, exactly.
    expect(await client.send("HGET", [`cm-proxy:client:usdPerMonth:${subject}`, "spent"])).toBe("5");
    expect(await ttl("concurrent")).toBeLessThanOrEqual(60_000);
    expect(await ttl("concurrent")).toBeGreaterThan(0);
  });

  test("two instances share one concurrency limit", async () => {
    const slots = slotRule(3);
    const a = instance(30_000, "a");
    const b = instance(30_000, "b");
    expect((await a.admit([slots], Date.now()))[0]!.allowed).toBe(true);
    expect((await b.admit([slots], Date.now()))[0]!.allowed).toBe(true);
    expect((await a.admit([slots], Date.now()))[0]!.allowed).toBe(true);
    expect((await b.admit([slots], Date.now()))[0]!).toMatchObject({ allowed: false, retryAfterMs: 1000 });
    // b releasing a slot it does not hold frees nothing of a's.
    await b.release([slots]);
    await b.release([slots]);
    expect((await a.peek([slots], Date.now()))[0]!.remaining).toBe(1);
    await a.release([slots]);
    expect((await a.peek([slots], Date.now()))[0]!.remaining).toBe(2);
    a.close();
    b.close();
  });

  test("the slots of an instance that died without releasing them stop counting when its lease runs out", async () => {
    const slots = slotRule(2);
    const crashed = instance(600, "crashed");
    const alive = instance(600, "alive");
    expect(await Promise.all([crashed.admit([slots], Date.now()), crashed.admit([slots], Date.now())])).toHaveLength(2);
    crashed.close(); // no more renewals, no release: as if the process had been killed
    expect((await alive.admit([slots], Date.now()))[0]!.allowed).toBe(false);
    await Bun.sleep(700); // the lease (600 ms) runs out: time has to pass in Redis' clock
    expect((await alive.admit([slots], Date.now()))[0]!).toMatchObject({ allowed: true, remaining: 1 });
    alive.close();
  });

  test("a live instance keeps its slots past the lease by renewing it, and a renewal restores counts Redis lost", async () => {
    const slots = slotRule(1);
    const holder = instance(300, "holder");
    const other = instance(300, "other");
    expect((await holder.admit([slots], Date.now()))[0]!.allowed).toBe(true);
    await Bun.sleep(700); // two and a half leases, renewed every 100 ms
    expect((await other.admit([slots], Date.now()))[0]!.allowed).toBe(false);
    // Redis loses the count (a restart without persistence, here a DEL): the next renewal writes it back.
    const client = await redis.client();
    await client.send("DEL", [`cm-proxy:${slots.key}`]);
    await holder.renew();
    expect((await other.admit([slots], Date.now()))[0]!.allowed).toBe(false);
    await holder.release([slots]);
    expect((await other.admit([slots], Date.now()))[0]!.allowed).toBe(true);
    holder.close();
    other.close();
  });

  test("the script is sent whole only when Redis does not know it (after SCRIPT FLUSH, as after a restart)", async () => {
    const client = await redis.client();
    await client.send("SCRIPT", ["FLUSH"]);
    const slots = slotRule(5);
    expect((await counters.admit([slots], Date.now()))[0]!.allowed).toBe(true);
    await counters.release([slots]);
  });
});
