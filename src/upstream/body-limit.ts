import { payloadTooLarge } from "../model/errors";

/** The `Content-Length` a message declares, or null when it declares none. */
export function declaredLength(headers: Headers): number | null {
  const declared = headers.get("content-length");
  return declared === null ? null : Number(declared);
}

/** Rejects a body whose declared length is over the limit before a byte of it is read. */
export function checkDeclaredLength(headers: Headers, limit: number): void {
  const declared = declaredLength(headers);
  if (declared !== null && declared > limit) throw payloadTooLarge(limit);
}

/** Reads a whole request body, never holding more than `limit` bytes of it. */
export async function readBody(request: Request, limit: number): Promise<Uint8Array> {
  checkDeclaredLength(request.headers, limit);
  return request.body ? readUpTo(request.body, limit, () => payloadTooLarge(limit)) : new Uint8Array(0);
}

/** Reads a whole stream, throwing `tooLarge()` as soon as it passes `limit` bytes. */
export async function readUpTo(body: ReadableStream<Uint8Array>, limit: number, tooLarge: () => Error): Promise<Uint8Array> {
  const chunks: Uint8Array[] = [];
  let size = 0;
  for await (const chunk of body) {
    size += chunk.byteLength;
    if (size > limit) throw tooLarge();
    chunks.push(chunk);
  }
  return chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks, size);
}

/** Passes a streamed body on unchanged, calling `onExceeded` and ending it once it passes `limit`. */
export function limitStream(body: ReadableStream<Uint8Array>, limit: number, onExceeded: () => void): ReadableStream<Uint8Array> {
  let size = 0;
  return body.pipeThrough(
    new TransformStream<Uint8Array, Uint8Array>({
      transform(chunk, controller) {
        size += chunk.byteLength;
        if (size > limit) {
          onExceeded();
          return controller.error(payloadTooLarge(limit));
        }
        controller.enqueue(chunk);
      },
    }),
  );
}
