import { describe, expect, test } from "bun:test";
import { badGateway, gatewayTimeout } from "../model/errors";
import { relayBody, type RelayOptions } from "./relay";

const encoder = new TextEncoder();
const decoder = new TextDecoder();

const idleError = () => gatewayTimeout("m", "no data for 30 ms");
const lostError = () => badGateway("m", "connection lost mid-response");
const unreadableError = () => badGateway("m", "its stream could not be read");
const options = (overrides: Partial<RelayOptions> = {}): RelayOptions => ({
  idleMs: 30,
  eventStream: true,
  idleError,
  lostError,
  unreadableError,
  ...overrides,
});
const errorEvent = (error: ReturnType<typeof idleError>) => `data: ${JSON.stringify(error.toJSON())}\n\n`;

/** A backend body the test drives by hand; `cancelled` resolves with the reason it was cancelled for. */
function backendBody() {
  let controller!: ReadableStreamDefaultController<Uint8Array>;
  const { promise: cancelled, resolve } = Promise.withResolvers<unknown>();
  const body = new ReadableStream<Uint8Array>({
    start(c) {
      controller = c;
    },
    cancel: resolve,
  });
  return { body, controller, cancelled };
}

/** What the tests use of a reader (Bun's and node:stream/web's reader types disagree on the rest). */
type Reader = { read(): Promise<{ done: boolean; value?: Uint8Array }> };

/** The chunks a reader still delivers, up to its end (a relay that never ends fails the test's timeout). */
async function remaining(reader: Reader): Promise<Uint8Array[]> {
  const chunks: Uint8Array[] = [];
  for (let chunk = await reader.read(); !chunk.done; chunk = await reader.read()) chunks.push(chunk.value!);
  return chunks;
}

const rest = async (reader: Reader) => (await remaining(reader)).map((chunk) => decoder.decode(chunk)).join("");

describe("relayBody", () => {
  test("relays every byte exactly, chunk boundaries and non-UTF-8 bytes included, then ends", async () => {
    const chunks = [
      encoder.encode('data: {"a":'),
      encoder.encode("1}\r\n\r\n: comment\n\n"),
      new Uint8Array([0xff, 0x00, 0xc3]),
      encoder.encode("data: [DONE]\n\n"),
    ];
    const { body, controller } = backendBody();
    for (const chunk of chunks) controller.enqueue(chunk);
    controller.close();
    // one read per backend chunk: nothing was buffered or merged
    expect(await remaining(relayBody(body, options()).getReader())).toEqual(chunks);
  });

  test("an event stream whose backend falls silent ends with one idle error event after the bytes sent", async () => {
    const { body, controller, cancelled } = backendBody();
    controller.enqueue(encoder.encode("data: 1\n\n"));
    expect(await rest(relayBody(body, options()).getReader())).toBe("data: 1\n\n" + errorEvent(idleError()));
    expect(await cancelled).toMatchObject({ status: 504 });
  });

  test("an event stream whose backend connection breaks ends with one lost-connection error event", async () => {
    const { body, controller } = backendBody();
    controller.enqueue(encoder.encode("data: 1\n\n"));
    const reader = relayBody(body, options({ idleMs: 60_000 })).getReader();
    expect(decoder.decode((await reader.read()).value)).toBe("data: 1\n\n");
    controller.error(new Error("ECONNRESET"));
    expect(await rest(reader)).toBe(errorEvent(lostError()));
  });

  test("a filter whose format has its own error event ends a broken stream with it; the relay adds none of its own", async () => {
    const ownEvent = "event: error\ndata: {}\n\n";
    const filter = (endsBrokenStreams: boolean) => ({
      endsBrokenStreams,
      pass: (chunk: Uint8Array) => chunk,
      flush: (broken?: boolean) => (broken ? encoder.encode(ownEvent) : null),
    });
    for (const ends of [true, false]) {
      const { body, controller } = backendBody();
      controller.enqueue(encoder.encode("data: 1\n\n"));
      const text = await rest(relayBody(body, options({ filter: filter(ends) })).getReader());
      expect(text).toBe(`data: 1\n\n${ownEvent}${ends ? "" : errorEvent(idleError())}`);
    }
  });

  test("a body that is not an event stream is cut with the error instead (no bytes can be added)", async () => {
    const { body, controller } = backendBody();
    controller.enqueue(encoder.encode('{"partial":'));
    const reader = relayBody(body, options({ eventStream: false, idleMs: 60_000 })).getReader();
    expect(decoder.decode((await reader.read()).value)).toBe('{"partial":');
    controller.error(new Error("ECONNRESET"));
    await expect(reader.read()).rejects.toMatchObject({ status: 502, code: "backend_unreachable" });
  });

  test("cancelling the relay (the client went away) cancels the backend body with the same reason", async () => {
    const { body, controller, cancelled } = backendBody();
    controller.enqueue(encoder.encode("data: 1\n\n"));
    const reader = relayBody(body, options({ idleMs: 60_000 })).getReader();
    expect(decoder.decode((await reader.read()).value)).toBe("data: 1\n\n");
    const reason = new Error("client closed");
    await reader.cancel(reason);
    expect(await cancelled).toBe(reason);
  });
});

describe("relayBody keeping a copy (keepUpTo)", () => {
  async function relayed(chunks: string[], keepUpTo: number, cut = false) {
    const { body, controller } = backendBody();
    for (const chunk of chunks) controller.enqueue(encoder.encode(chunk));
    if (cut) controller.error(new Error("reset"));
    else controller.close();
    let whole: Uint8Array | null | undefined;
    const out = relayBody(body, options({ eventStream: false, keepUpTo, onEnd: (_end, _bytes, kept) => (whole = kept) })).getReader();
    const text = await rest(out).catch(() => null);
    return { text, whole: whole === undefined ? undefined : whole && decoder.decode(whole) };
  }

  test("a body complete within the bound is handed to onEnd whole, and relayed unchanged", async () => {
    expect(await relayed(['{"a":', '1,"b":', "2}"], 100)).toEqual({ text: '{"a":1,"b":2}', whole: '{"a":1,"b":2}' });
  });

  test("a body over the bound, or one that broke, is not", async () => {
    expect(await relayed(['{"a":', '1,"b":', "2}"], 8)).toEqual({ text: '{"a":1,"b":2}', whole: null });
    expect((await relayed(['{"a":'], 100, true)).whole).toBeNull();
  });

  test("without keepUpTo nothing is kept", async () => {
    expect((await relayed(["{}"], 0)).whole).toBeNull();
  });
});
