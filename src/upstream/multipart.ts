// Rewrites one field of a multipart/form-data body in place, leaving every other byte (other
// parts, their headers, the boundary) exactly as the client sent it. Re-encoding through FormData
// would change part headers and the boundary.

const encoder = new TextEncoder();
const decoder = new TextDecoder();
const HEADER_END = encoder.encode("\r\n\r\n");

export function boundaryOf(contentType: string): string | null {
  const match = /boundary=(?:"([^"]+)"|([^;\s]+))/i.exec(contentType);
  return match ? (match[1] ?? match[2]!) : null;
}

export interface MultipartField {
  readonly value: string;
  /** The body with the field's value replaced. */
  replace(value: string): Uint8Array;
}

/** Finds the text field `name` in a multipart body, or null when there is none. */
export function findMultipartField(body: Uint8Array, boundary: string, name: string): MultipartField | null {
  const bytes = Buffer.from(body.buffer, body.byteOffset, body.byteLength);
  const delimiter = Buffer.from(`--${boundary}`);
  const nextDelimiter = Buffer.from(`\r\n--${boundary}`);
  const disposition = new RegExp(`^content-disposition:[^\\r\\n]*;\\s*name="${name}"`, "im");
  let at = bytes.indexOf(delimiter);
  while (at !== -1) {
    const headersStart = at + delimiter.length + 2; // past the delimiter's CRLF
    const headersEnd = bytes.indexOf(HEADER_END, headersStart);
    if (headersEnd === -1) return null;
    const valueStart = headersEnd + HEADER_END.length;
    const valueEnd = bytes.indexOf(nextDelimiter, valueStart);
    if (valueEnd === -1) return null;
    if (disposition.test(decoder.decode(bytes.subarray(headersStart, headersEnd)))) {
      return {
        value: decoder.decode(bytes.subarray(valueStart, valueEnd)),
        replace: (value) => Buffer.concat([bytes.subarray(0, valueStart), encoder.encode(value), bytes.subarray(valueEnd)]),
      };
    }
    at = valueEnd + 2;
  }
  return null;
}
