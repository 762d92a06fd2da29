// The plain bytes of an answer relayed as the backend encoded it. A compressed answer reaches the
// client untouched (it asked for that coding); the proxy reads its usage from a decoded copy, once
// the response is on its way.
import { brotliDecompressSync, gunzipSync, inflateRawSync, inflateSync, zstdDecompressSync } from "node:zlib";

/** A small compressed body can expand without bound: a copy larger than this is not decoded. */
const MAX_DECODED_BYTES = 64 * 1024 * 1024;

type Decoder = (bytes: Uint8Array, maxOutputLength: number) => Uint8Array;

/** `deflate` is meant to be zlib-wrapped (RFC 9110), but some servers send it raw. */
const inflateEither: Decoder = (bytes, maxOutputLength) => {
  try {
    return inflateSync(bytes, { maxOutputLength });
  } catch {
    return inflateRawSync(bytes, { maxOutputLength });
  }
};

const gunzip: Decoder = (bytes, maxOutputLength) => gunzipSync(bytes, { maxOutputLength });

const DECODERS: Record<string, Decoder> = {
  gzip: gunzip,
  "x-gzip": gunzip,
  deflate: inflateEither,
  br: (bytes, maxOutputLength) => brotliDecompressSync(bytes, { maxOutputLength }),
  zstd: (bytes, maxOutputLength) => zstdDecompressSync(bytes, { maxOutputLength }),
};

/**
 * `body` with its `Content-Encoding` undone (a list, applied in the order named, so undone from the
 * last); null for a coding the proxy cannot undo, bytes that do not decode, or a copy over `limit`.
 */
export function decodedBody(body: Uint8Array, contentEncoding: string, limit = MAX_DECODED_BYTES): Uint8Array | null {
  const codings = contentEncoding
    .split(",")
    .map((coding) => coding.trim().toLowerCase())
    .filter((coding) => coding !== "" && coding !== "identity");
  let bytes = body;
  try {
    for (let i = codings.length - 1; i >= 0; i--) {
      const decode = DECODERS[codings[i]!];
      if (!decode) return null;
      bytes = decode(bytes, limit);
    }
  } catch {
    return null;
  }
  return bytes;
}
