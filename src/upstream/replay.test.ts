import { describe, expect, test } from "bun:test";
import { bufferForReplay } from "./replay";

const streamOf = (chunks: Uint8Array[]) =>
  new ReadableStream<Uint8Array>({
    start(controller) {
      for (const chunk of chunks) controller.enqueue(chunk);
      controller.close();
    },
  });

const bytes = (n: number, fill: number) => new Uint8Array(n).fill(fill);

describe("bufferForReplay", () => {
  test("a body within the limit comes back whole, byte for byte", async () => {
    const result = await bufferForReplay(streamOf([bytes(3, 1), bytes(4, 2)]), null, 100, 10);
    expect(result).toBeInstanceOf(Uint8Array);
    expect([...(result as Uint8Array)]).toEqual([1, 1, 1, 2, 2, 2, 2]);
  });

  test("a larger body stays a stream that still yields every byte in order", async () => {
    const result = await bufferForReplay(streamOf([bytes(6, 1), bytes(6, 2), bytes(6, 3)]), null, 100, 10);
    expect(result).toBeInstanceOf(ReadableStream);
    const all = new Uint8Array(await new Response(result as ReadableStream).arrayBuffer());
    expect(all.length).toBe(18);
    expect([all[0], all[6], all[12], all[17]]).toEqual([1, 2, 3, 3]);
  });

  test("a declared length over the limit is not read at all", async () => {
    const body = streamOf([bytes(4, 1)]);
    expect(await bufferForReplay(body, 11, 100, 10)).toBe(body);
  });

  test("a body found over maxBodyBytes while it is read is a 413", async () => {
    const refused = await bufferForReplay(streamOf([bytes(6, 1), bytes(6, 2)]), null, 8, 10).catch((error) => error);
    expect(refused).toMatchObject({ status: 413, code: "payload_too_large" });
  });
});
