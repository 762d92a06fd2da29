import { payloadTooLarge } from "../model/errors";

/** A streamed request body up to this size is held in memory so that a retry can send it again. */
export const MAX_REPLAY_BYTES = 8 * 1024 * 1024;

/**
 * Makes a streamed body replayable when it is small: reads it whole if it ends within `limit`
 * bytes. A larger one (declared or found while reading) comes back as a stream that yields what
 * was read and then the rest, to be sent once (and bounded as it is sent). A body found over
 * `maxBodyBytes` while it is read is a 413 at once: nothing has been sent.
 */
export async function bufferForReplay(
  body: ReadableStream<Uint8Array>,
  declaredLength: number | null,
  maxBodyBytes: number,
  limit = MAX_REPLAY_BYTES,
): Promise<Uint8Array | ReadableStream<Uint8Array>> {
  if (declaredLength !== null && declaredLength > limit) return body;
  const reader = body.getReader();
  const chunks: Uint8Array[] = [];
  let size = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) return Buffer.concat(chunks, size);
    chunks.push(value);
    size += value.byteLength;
    if (size > maxBodyBytes) {
      await reader.cancel().catch(() => {});
      throw payloadTooLarge(maxBodyBytes);
    }
    if (size > limit) break;
  }
  return new ReadableStream<Uint8Array>({
    async pull(controller) {
      const chunk = chunks.shift();
      if (chunk) return controller.enqueue(chunk);
      const { done, value } = await reader.read();
      if (done) controller.close();
      else controller.enqueue(value);
    },
    cancel: (reason) => reader.cancel(reason),
  });
}
