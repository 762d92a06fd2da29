import { describe, expect, test } from "bun:test";
import { Closers } from "./closers";

const silent = { info() {}, warn() {}, error() {} };

describe("the closer stack", () => {
  test("closes in reverse order of opening, each once, and passes on whether to be graceful", async () => {
    const closed: string[] = [];
    const closers = new Closers(silent);
    for (const name of ["store", "link", "server"]) closers.add(name, (graceful) => closed.push(`${name}:${graceful}`));
    await Promise.all([closers.close(true), closers.close(true)]);
    await closers.close(false);
    expect(closed).toEqual(["server:true", "link:true", "store:true"]);
  });

  test("a forced close during a graceful one stops waiting for the closer under way and closes the rest without grace", async () => {
    const closed: string[] = [];
    const warnings: string[] = [];
    const closers = new Closers({ ...silent, warn: (message: string) => warnings.push(message) });
    closers.add("store", (graceful) => closed.push(`store:${graceful}`));
    const stuck = Promise.withResolvers<void>();
    closers.add("keys", (graceful) => {
      closed.push(`keys:${graceful}`);
      return stuck.promise; // a store that stopped answering
    });
    const shutdown = closers.close(true);
    await Promise.resolve();
    await closers.close(false);
    await shutdown;
    expect(closed).toEqual(["keys:true", "store:false"]);
    expect(warnings).toEqual(["closing keys: not waited for any longer (forced stop)"]);
  });

  test("a graceful closer past its deadline is left behind; one that fails later is still only logged", async () => {
    const errors: string[] = [];
    const warnings: string[] = [];
    const closers = new Closers({ ...silent, warn: (message: string) => warnings.push(message), error: (message: string) => errors.push(message) });
    const stuck = Promise.withResolvers<void>();
    closers.add("usage store", () => stuck.promise, { deadlineMs: 5 });
    await closers.close(true);
    expect(warnings).toEqual(["closing usage store took over 5 ms: shutdown goes on without it"]);
    stuck.reject(new Error("connection lost"));
    await Promise.resolve();
    await Promise.resolve();
    expect(errors).toEqual(["closing usage store failed: connection lost"]);
  });

  test("a closer that fails is logged, and the ones after it still close", async () => {
    const closed: string[] = [];
    const errors: string[] = [];
    const closers = new Closers({ ...silent, error: (message: string) => errors.push(message) });
    closers.add("first", () => closed.push("first"));
    closers.add("broken", async () => {
      throw new Error("disk gone");
    });
    closers.add("last", () => closed.push("last"));
    await closers.close(true);
    expect(closed).toEqual(["last", "first"]);
    expect(errors).toEqual(["closing broken failed: disk gone"]);
  });
});
