// Failover under load (issue 9): a backend that dies mid-run and comes back on its port costs
// clients nothing: every non-streamed request is answered 200 by the other target, streams that
// were under way on the dead one end with the in-stream error event, none hangs; and the official
// openai SDK works against a model one of whose targets is down.
import { afterAll, afterEach, describe, expect, test } from "bun:test";
import OpenAI from "openai";
import { within } from "../support/events";
import { chatBody, postJson, readBody } from "../support/http";
import { closedPort, CLIENT_KEY, removeTempDirs, startProxy, type ProxyHandle } from "../support/proxy";
import { startRawBackend } from "../support/raw-backend";
import { completionFrom, RestartableBackend, routing, sseChunk } from "./lib-a";

const running: { stop(): Promise<void> }[] = [];
afterEach(async () => {
  await Promise.all(running.splice(0).map((thing) => thing.stop()));
});
afterAll(() => removeTempDirs());

/**
 * A backend answering chat completions after `delayMs(n)` for its n-th request (its own timer), as
 * a busy model server would.
 */
function backend(name: string, delayMs: (n: number) => number = () => 0): RestartableBackend {
  const started = new RestartableBackend(name, async () => {
    await Bun.sleep(delayMs(started.arrivals.length));
    return Response.json(completionFrom(name));
  }).start();
  running.push(started);
  return started;
}

async function proxyFor(endpoints: Record<string, unknown>): Promise<ProxyHandle> {
  const proxy = await startProxy({ endpoints });
  running.push(proxy);
  return proxy;
}

describe("a target dies under load and comes back", () => {
  test("200 concurrent requests while one target is stopped mid-run and restarted: every answer is 200", async () => {
    // Answers spread over about 150 ms, so the run has a middle to stop and restart a in.
    const spread = (n: number) => (n % 40) * 4;
    const a = backend("a", spread);
    const b = backend("b", spread);
    const proxy = await proxyFor({
      duo: {
        targets: [
          { name: "a", url: a.url },
          { name: "b", url: b.url },
        ],
        retry: { attempts: 2, backoffMs: 5 },
        cooldown: { failures: 2, seconds: 0.3 },
      },
    });
    let completed = 0;
    const milestones = new Map<number, () => void>();
    const reached = (count: number) => new Promise<void>((resolve) => milestones.set(count, resolve));
    const stopAt = reached(40);
    const restartAt = reached(100);
    const send = async () => {
      const response = await postJson(proxy.url("/v1/chat/completions"), chatBody("duo"));
      const text = await response.text();
      milestones.get(++completed)?.();
      return { status: response.status, text, ...routing(response) };
    };
    const run = within(Promise.all(Array.from({ length: 200 }, send)), 15_000, "200 requests through a dying target");
    await within(stopAt, 10_000, "40 requests answered");
    const beforeStop = a.arrivals.length;
    await a.stop();
    await within(restartAt, 10_000, "100 requests answered");
    a.start();
    const results = await run;

    const failures = results.filter((result) => result.status !== 200);
    expect(failures).toEqual([]);
    for (const result of results) {
      const target = result.servedBy!.slice("duo/".length);
      expect(JSON.parse(result.text).choices[0].message.content).toBe(`hello from ${target}`);
    }
    // a had its share of the 200, and the stop hit requests under way there: their connection
    // dropped, a's fresh one was refused, and b answered them on a third try.
    expect(beforeStop).toBeGreaterThan(50);
    expect(results.filter((result) => result.attempts === "3").length).toBeGreaterThan(0);
    expect(results.filter((result) => result.servedBy === "duo/a").length).toBeLessThan(beforeStop);

    // Back on its port, a serves again once its cool-down is over (a half-open trial, then up).
    for (let i = 0; i < 400 && !a.arrivals.some((arrival) => arrival.life === 2); i++) {
      const response = await postJson(proxy.url("/v1/chat/completions"), chatBody("duo"));
      expect(response.status).toBe(200);
      await response.arrayBuffer();
    }
    expect(a.arrivals.some((arrival) => arrival.life === 2)).toBe(true);
  });

  test("a target that dies between its headers and its body: the client gets the other target's answer", async () => {
    // A small body with a declared length is read whole before answering: nothing reached the client yet.
    const dying = startRawBackend(`HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: 200\r\n\r\n{"id":"cut sh`);
    running.push({ stop: async () => dying.stop() });
    const b = backend("b");
    const proxy = await proxyFor({
      duo: {
        targets: [
          { name: "dying", url: dying.url },
          { name: "b", url: b.url },
        ],
      },
    });
    const pending = postJson(proxy.url("/v1/chat/completions"), chatBody("duo"));
    await dying.answered();
    dying.cut();
    const response = await within(pending, 3000, "the answer");
    expect(response.status).toBe(200);
    expect((await response.json()).choices[0].message.content).toBe("hello from b");
    expect(routing(response)).toEqual({ model: "duo", servedBy: "duo/b", attempts: "2" });
  });

  test("streams under way on a target that dies end with the error event; the others finish; none hangs", async () => {
    const encoder = new TextEncoder();
    /** Streams a first chunk at once, then one more every 20 ms, 8 in all (the backend's own pace). */
    const streaming = (name: string) => {
      const started = new RestartableBackend(name, () => {
        let sent = 0;
        const stream = new ReadableStream<Uint8Array>({
          async pull(controller) {
            if (sent > 0) await Bun.sleep(20);
            if (sent === 8) {
              controller.enqueue(encoder.encode("data: [DONE]\n\n"));
              return controller.close();
            }
            controller.enqueue(encoder.encode(sseChunk(`${name}-${sent++}`)));
          },
        });
        return new Response(stream, { headers: { "content-type": "text/event-stream" } });
      }).start();
      running.push(started);
      return started;
    };
    const a = streaming("a");
    const b = streaming("b");
    const proxy = await proxyFor({
      duo: {
        targets: [
          { name: "a", url: a.url },
          { name: "b", url: b.url },
        ],
        retry: { attempts: 3, backoffMs: 5 },
      },
    });

    const streams = await Promise.all(
      Array.from({ length: 10 }, async () => {
        const response = await postJson(proxy.url("/v1/chat/completions"), chatBody("duo", { stream: true }));
        expect(response.status).toBe(200);
        let first!: () => void;
        const firstChunk = new Promise<void>((resolve) => (first = resolve));
        const body = readBody(response, () => first(), 3000);
        return { servedBy: routing(response).servedBy, firstChunk, body };
      }),
    );
    await within(Promise.all(streams.map((stream) => stream.firstChunk)), 3000, "every stream's first chunk");
    await a.stop();
    const bodies = await within(Promise.all(streams.map((stream) => stream.body)), 5000, "every stream ending");

    const onA = streams.map((stream, i) => ({ ...stream, text: bodies[i]!.text })).filter((stream) => stream.servedBy === "duo/a");
    const onB = streams.map((stream, i) => ({ ...stream, text: bodies[i]!.text })).filter((stream) => stream.servedBy === "duo/b");
    expect([onA.length, onB.length]).toEqual([5, 5]);
    for (const stream of onA) {
      expect(stream.text).toStartWith(sseChunk("a-0"));
      expect(stream.text).toEndWith("\n\n");
      const events = stream.text.trimEnd().split("\n\n");
      const last = JSON.parse(events.at(-1)!.slice("data: ".length));
      expect(last.error.code).toBe("backend_unreachable");
      expect(stream.text).not.toContain("[DONE]");
    }
    for (const stream of onB) {
      expect(stream.text).toStartWith(sseChunk("b-0"));
      expect(stream.text).toEndWith("data: [DONE]\n\n");
      expect(stream.text).not.toContain(`"error"`);
    }
    // Not retried: one backend request per stream.
    expect(a.arrivals.length + b.arrivals.length).toBe(10);
  });
});

describe("the official openai SDK", () => {
  test("a model with two targets, one of them down: non-streamed and streamed calls complete without error", async () => {
    const up = backend("up");
    up.willAnswer(async (request, arrival) => {
      if ((arrival.body as { stream?: boolean }).stream) {
        const sse = [sseChunk("Hel"), sseChunk("lo"), "data: [DONE]\n\n"].join("");
        return new Response(sse, { headers: { "content-type": "text/event-stream" } });
      }
      return Response.json(completionFrom("up"));
    });
    const proxy = await proxyFor({
      duo: {
        targets: [
          { name: "down", url: `http://127.0.0.1:${closedPort()}` },
          { name: "up", url: up.url },
        ],
      },
    });
    const client = new OpenAI({ baseURL: proxy.url("/v1"), apiKey: CLIENT_KEY, maxRetries: 0 });
    for (let i = 0; i < 6; i++) {
      const completion = await client.chat.completions.create({ model: "duo", messages: [{ role: "user", content: "Hi" }] });
      expect(completion.choices[0]!.message.content).toBe("hello from up");
    }
    const stream = await client.chat.completions.create({ model: "duo", messages: [{ role: "user", content: "Hi" }], stream: true });
    let content = "";
    for await (const part of stream) content += part.choices[0]?.delta.content ?? "";
    expect(content).toBe("Hello");
    expect(up.arrivals.length).toBe(7);
  });
});
