import { describe, expect, test } from "bun:test";
import { Closers } from "./closers";

const silent = { info() {}, warn() {}, error() {} };

describe("the closer stack", () => {
  test("closes in reverse order of opening, each once, and passes on whether to be graceful", async () => {
    const closed: string[] = [];
    const closers = new Closers(silent);
    for (const name of ["store", "link", "server"]) closers.add(name, (graceful) => closed.push(`${name}:${graceful}`));
    await Promise.all([closers.close(true), closers.close(false)]);
    await closers.close(false);
    expect(closed).toEqual(["server:true", "link:true", "store:true"]);
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
