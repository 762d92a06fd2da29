// What every suite of proxies sharing a real redis-server sets up the same way: one Redis and the
// suite's mock backends for the whole file; before each test the mocks reset and Redis emptied
// (FLUSHALL), so no test sees another's counters or cool-downs; after each, the proxies it started
// stopped; at the end, all of it gone.
import { afterAll, afterEach, beforeAll, beforeEach } from "bun:test";
import { startMock, type MockBackend } from "../support/mock-backend";
import { removeTempDirs } from "../support/proxy";
import { startRedis, type RedisServer } from "./redis-server";

export interface RedisSuiteOptions<Names extends readonly string[]> {
  /** One mock backend per name, in this order (started at once: a mock needs no wait). */
  readonly mocks: Names;
  /**
   * The suite's tests kill or freeze Redis: each test then starts with it thawed and running again,
   * so one that fails while Redis is away does not fail the next.
   */
  readonly testsTakeRedisAway: boolean;
}

export interface RedisSuite<Mocks> {
  /** The suite's redis-server, started before the first test. */
  readonly redis: RedisServer;
  readonly mocks: Mocks;
  /** Stops `thing` (a proxy, a fleet) after the test that started it; returns it. */
  stopAfterTest<T extends { stop(): Promise<unknown> }>(thing: T): T;
}

/** Registers the suite's hooks; call it once, at the top of a test file. */
export function redisSuite<const Names extends readonly string[]>(
  options: RedisSuiteOptions<Names>,
): RedisSuite<{ -readonly [K in keyof Names]: MockBackend }> {
  type Mocks = { -readonly [K in keyof Names]: MockBackend };
  const mocks = options.mocks.map((name) => startMock(name));
  const toStop: { stop(): Promise<unknown> }[] = [];
  let redis: RedisServer | undefined;

  beforeAll(async () => {
    redis = await startRedis();
  });
  afterAll(async () => {
    await Promise.all(mocks.map((mock) => mock.stop()));
    await redis?.destroy();
    removeTempDirs();
  });
  beforeEach(async () => {
    for (const mock of mocks) mock.reset();
    if (options.testsTakeRedisAway) {
      redis!.resume();
      await redis!.start();
    }
    await (await redis!.client()).send("FLUSHALL", []);
  });
  afterEach(async () => {
    await Promise.all(toStop.splice(0).map((thing) => thing.stop()));
  });

  return {
    get redis() {
      if (!redis) throw new Error("the suite's Redis starts in beforeAll: use it inside a test or hook");
      return redis;
    },
    mocks: mocks as unknown as Mocks,
    stopAfterTest(thing) {
      toStop.push(thing);
      return thing;
    },
  };
}
