import { afterAll, describe, expect, test } from "bun:test";
import { modelFromEndpoint, sourceFromEndpoint } from "../config/models";
import { DEFAULT_TIMEOUTS } from "../config/schema";
import { consoleLogger } from "../lib/log";
import { Discovery } from "./discovery";

// A backend whose model list answers only when the test lets it.
let requests = 0;
const answer = Promise.withResolvers<void>();
const backend = Bun.serve({
  port: 0,
  hostname: "127.0.0.1",
  async fetch() {
    requests++;
    await answer.promise;
    return Response.json({ object: "list", data: [{ id: "a" }, { id: "b" }] });
  },
});
afterAll(() => backend.stop(true));

describe("Discovery.refresh", () => {
  test("a listing still under way is joined, not sent again", async () => {
    const endpoint = { url: `http://127.0.0.1:${backend.port}`, discover: { refreshMs: 60_000 } };
    const template = modelFromEndpoint("src", endpoint, { policy: {}, timeouts: DEFAULT_TIMEOUTS, priceTable: null });
    const source = sourceFromEndpoint("src", endpoint, template);
    let changes = 0;
    const discovery = new Discovery(
      consoleLogger(() => {}),
      () => changes++,
    );
    const first = discovery.sync([source]);
    const second = discovery.refresh(source);
    const third = discovery.refresh(source);
    answer.resolve();
    await Promise.all([first, second, third]);
    discovery.stop();
    expect(requests).toBe(1);
    expect(changes).toBe(1);
    expect(discovery.lists.get("src")).toEqual(["a", "b"]);
  });
});
