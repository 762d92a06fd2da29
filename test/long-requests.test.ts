// Long generations must not be cut: not by an idle timeout on the client's connection (Bun.serve's
// idleTimeout defaults to 10 s; the Bun pinned today does not apply it to a pending request, but
// the requirement stands whatever the runtime does) nor by any limit but the model's own timeouts.
// That a model's own timeouts beat the global ones, both ways, is hardening/timeouts.test.ts's.
import { afterAll, beforeAll, beforeEach, describe, expect, test } from "bun:test";
import { chatBody, postJson, readBody } from "./support/http";
import { defaultCompletion, reply } from "./support/mock-backend";
import { ALPHA_KEY, endpointFor, startHarness, type Harness } from "./support/proxy";

/** Longer than Bun.serve's default idleTimeout of 10 s. */
const BEYOND_BUN_IDLE_MS = 11_000;

let h: Harness;
beforeAll(async () => {
  h = await startHarness({ timeouts: { firstByteMs: 300, idleMs: 300 } }, (alpha) => ({
    patient: endpointFor(alpha, { apiKey: ALPHA_KEY, actualModelName: "patient-actual", timeouts: { firstByteMs: 60_000, idleMs: 60_000 } }),
  }));
});
beforeEach(() => h.reset());
afterAll(() => h.stop());

describe("long requests are not cut", () => {
  test("a non-streamed answer after 11 s of thinking and a stream with an 11 s pause both arrive whole", async () => {
    // both wait concurrently so the suite pays for the wait once
    h.alpha.willReply((request) =>
      request.json().stream
        ? reply.sse(['data: {"before":"pause"}\n\n', 'data: {"after":"pause"}\n\n', "data: [DONE]\n\n"], { delayMs: BEYOND_BUN_IDLE_MS / 2 })
        : reply.json(defaultCompletion("alpha", "patient-actual"), { delayMs: BEYOND_BUN_IDLE_MS }),
    );
    const [plain, streamed] = await Promise.all([
      postJson(h.url("/v1/chat/completions"), chatBody("patient")).then(async (response) => ({ status: response.status, body: await response.json() })),
      postJson(h.url("/v1/chat/completions"), chatBody("patient", { stream: true })).then(async (response) => ({
        status: response.status,
        text: (await readBody(response, undefined, 15_000)).text,
      })),
    ]);
    expect(plain).toEqual({ status: 200, body: defaultCompletion("alpha", "patient-actual") });
    expect(streamed).toEqual({ status: 200, text: 'data: {"before":"pause"}\n\ndata: {"after":"pause"}\n\ndata: [DONE]\n\n' });
  }, 30_000);
});
