//  The connection to Redis on its own: bounded waits, fail-fast while down, recovery, quiet logs.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { RedisLink, RedisUnavailableError } from "../../src/cluster/redis-link";
import { CapturingLogger } from "../support/logger";
import { closedPort } from "../support/proxy";
import { eventually } from "./fleet";
import { startRedis, type RedisServer } from "./redis-server";

let redis: RedisServer;
beforeAll(async () => {
  redis = await startRedis();
});
afterAll(async () => {
  await redis.destroy();
});

async function rejection(promise: Promise<unknown>): Promise<{ error: unknown; ms: number }> {
  const started = performance.now();
  try {
    await promise;
  } catch (error) {
    return { error, ms: performance.now() - started };
  }
  throw new Error("expected a rejection");
}

describe("RedisLink", () => {
  test("nothing listening: the first command fails within the connect timeout, the next at once; the password never reaches the log", async () => {
    const log = new CapturingLogger();
    const link = new RedisLink(`redis://:hunter2-secret@127.0.0.1:${closedPort()}`, log, { connectTimeoutMs: 300 });
    try {
      expect(link.status).toBe("up"); // nothing known yet
      const first = await rejection(link.send("PING", []));
      expect(first.error).toBeInstanceOf(RedisUnavailableError);
      expect(first.ms).toBeLessThan(1_000);
      const second = await rejection(link.send("PING", []));
      expect(second.ms).toBeLessThan(50);
      expect(link.status).toBe("down");
      expect(log.lines.filter((line) => line.startsWith("WARN"))).toHaveLength(1);
      expect(log.text).not.toContain("hunter2");
      expect(log.text).toContain("127.0.0.1:");
    } finally {
      link.close();
    }
  });

  test("errors Redis answers are not outages; a lost server is, and the link comes back by itself", async () => {
    const log = new CapturingLogger();
    const link = new RedisLink(redis.url, log, { retryMs: 100 });
    try {
      expect(await link.send("PING", [])).toBe("PONG");
      const wrong = await rejection(link.send("NOSUCHCOMMAND", []));
      expect(wrong.error).not.toBeInstanceOf(RedisUnavailableError);
      expect(link.status).toBe("up");
      await redis.stop();
      await eventually(async () => link.status === "down", 3_000, "the link noticing");
      expect((await rejection(link.send("PING", []))).error).toBeInstanceOf(RedisUnavailableError);
      await redis.start();
      await eventually(async () => (await link.send("PING", [])) === "PONG", 5_000, "the link back");
      expect(link.status).toBe("up");
      expect(log.lines.filter((line) => line.includes("is reachable again"))).toHaveLength(1);
    } finally {
      link.close();
    }
  }, 15_000);
});
