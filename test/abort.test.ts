import { afterAll, beforeAll, beforeEach, describe, expect, test } from "bun:test";
import { within } from "./support/events";
import { chatBody, postJson, readFirstChunk } from "./support/http";
import { reply } from "./support/mock-backend";
import { startHarness, type Harness } from "./support/proxy";

let h: Harness;
beforeAll(async () => {
  h = await startHarness();
});
beforeEach(() => h.reset());
afterAll(() => h.stop());

/** An endless-looking stream: 50 chunks 100 ms apart (5 s), far longer than any abort test waits. */
const longStream = () => reply.sse(Array.from({ length: 50 }, (_, i) => `data: {"i":${i}}\n\n`), { delayMs: 100 });

describe("a client that goes away aborts the backend request", () => {
  test("aborting a streaming chat mid-stream closes the backend's stream", async () => {
    h.alpha.willReply(longStream());
    const controller = new AbortController();
    const response = await postJson(h.url("/v1/chat/completions"), chatBody("gpt", { stream: true }), {}, { signal: controller.signal });
    const { first } = await readFirstChunk(response);
    expect(new TextDecoder().decode(first.value)).toStartWith('data: {"i":0}');
    const backendRequest = h.alpha.last;
    controller.abort();
    await within(backendRequest.closed, 5000, "the backend seeing the stream closed after the client aborted");
    expect(backendRequest.log.indexOf("done")).toBe(-1); // the backend did not get to finish
    expect(backendRequest.log.indexOf("sent:49")).toBe(-1);
  });

  test("aborting a non-streamed chat while the backend is still thinking aborts the backend request", async () => {
    h.bravo.willReply(reply.hang());
    const controller = new AbortController();
    const pending = postJson(h.url("/v1/chat/completions"), chatBody("llama"), {}, { signal: controller.signal }).catch((error: Error) => error);
    const backendRequest = await h.bravo.waitForRequests(1);
    controller.abort();
    expect(await pending).toBeInstanceOf(Error);
    await within(backendRequest.closed, 5000, "the backend seeing its request aborted after the client aborted");
  });

  test("aborting a passthrough request while the backend is thinking aborts the backend request", async () => {
    h.alpha.willReply(reply.hang());
    const controller = new AbortController();
    const pending = postJson(h.url("/v1/embeddings"), { model: "embed", input: "x" }, {}, { signal: controller.signal }).catch((error: Error) => error);
    const backendRequest = await h.alpha.waitForRequests(1);
    controller.abort();
    await pending;
    await within(backendRequest.closed, 5000, "the backend seeing the passthrough request aborted");
  });

  test("after an abort the proxy keeps serving (the next request succeeds)", async () => {
    h.alpha.willReply(longStream());
    const controller = new AbortController();
    const response = await postJson(h.url("/v1/chat/completions"), chatBody("gpt", { stream: true }), {}, { signal: controller.signal });
    await readFirstChunk(response);
    controller.abort();
    await within(h.alpha.last.closed, 5000, "the first stream closed");
    h.alpha.reset();
    const next = await postJson(h.url("/v1/chat/completions"), chatBody("gpt"));
    expect(next.status).toBe(200);
    expect((await next.json()).choices[0].message.content).toBe("hello from alpha");
  });
});
