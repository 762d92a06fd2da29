//  The mock's own contract: abort tests are only as good as its `closed` signal.
import { afterAll, beforeAll, beforeEach, describe, expect, test } from "bun:test";
import { within } from "./support/events";
import { readBody, readFirstChunk } from "./support/http";
import { reply, startMock, type MockBackend } from "./support/mock-backend";

let mock: MockBackend;
beforeAll(() => {
  mock = startMock("self-test");
});
beforeEach(() => mock.reset());
afterAll(() => mock.stop());

describe("mock backend self-test", () => {
  test("records method, path with query, headers and raw body bytes", async () => {
    const body = new Uint8Array([0, 255, 10, 13]);
    await (await fetch(`${mock.url}/v1/x?a=1&b=%20`, { method: "PUT", headers: { "x-h": "v" }, body })).arrayBuffer();
    expect(mock.last.method).toBe("PUT");
    expect(mock.last.path).toBe("/v1/x?a=1&b=%20");
    expect(mock.last.headers.get("x-h")).toBe("v");
    expect(mock.last.body).toEqual(body);
  });

  test("a completed reply does not count as closed", async () => {
    mock.willReply(reply.sse(["data: 1\n\n", "data: 2\n\n"], { delayMs: 10 }));
    const { text } = await readBody(await fetch(mock.url));
    expect(text).toBe("data: 1\n\ndata: 2\n\n");
    expect(mock.last.log.entries).toEqual(["sent:0", "sent:1", "done"]);
    expect(mock.last.wasClosed).toBe(false);
  });

  test("a hanging request is closed only once its client aborts", async () => {
    mock.willReply(reply.hang());
    const controller = new AbortController();
    const pending = fetch(mock.url, { signal: controller.signal }).catch(() => "aborted");
    const request = await mock.waitForRequests(1);
    expect(request.wasClosed).toBe(false);
    controller.abort();
    expect(await pending).toBe("aborted");
    await within(request.closed, 5000, "closed after abort");
  });

  test("a stream is closed once its client aborts mid-stream", async () => {
    mock.willReply(
      reply.sse(
        Array.from({ length: 50 }, (_, i) => `data: ${i}\n\n`),
        { delayMs: 100 },
      ),
    );
    const controller = new AbortController();
    const response = await fetch(mock.url, { signal: controller.signal });
    await readFirstChunk(response);
    expect(mock.last.wasClosed).toBe(false);
    controller.abort();
    await within(mock.last.closed, 5000, "closed after abort");
  });
});
