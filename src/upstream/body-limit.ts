import { invalidRequest, payloadTooLarge } from "../errors";

/** Rejects a body whose declared length is over the limit before a byte of it is read. */
export function checkDeclaredLength(headers: Headers, limit: number): void {
  const declared = headers.get("content-length");
  if (declared !== null && Number(declared) > limit) throw payloadTooLarge(limit);
}

/** Reads a whole request body, never holding more than `limit` bytes of it. */
export async function readBody(request: Request, limit: number): Promise<Uint8Array> {
  checkDeclaredLength(request.headers, limit);
  if (!request.body) return new Uint8Array(0);
  const chunks: Uint8Array[] = [];
  let size = 0;
  for await (const chunk of request.body) {
    size += chunk.byteLength;
    if (size > limit) throw payloadTooLarge(limit);
    chunks.push(chunk);
  }
  return chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks, size);
}

const decoder = new TextDecoder();

/**
 * Deeper JSON than any OpenAI request needs (tool schemas reach a few dozen levels). Deeper
 * nesting makes validation errors quadratic and JSON.stringify overflow the stack, so it is
 * refused before parsing.
 */
export const MAX_JSON_DEPTH = 128;

const OPEN_OBJECT = 123, OPEN_ARRAY = 91, CLOSE_OBJECT = 125, CLOSE_ARRAY = 93, QUOTE = 34, BACKSLASH = 92;

/** Whether brackets outside strings nest deeper than `max`; one pass, no allocation. */
function nestsDeeperThan(text: string, max: number): boolean {
  let depth = 0;
  let inString = false;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (inString) {
      if (c === BACKSLASH) i++;
      else if (c === QUOTE) inString = false;
    } else if (c === QUOTE) inString = true;
    else if (c === OPEN_OBJECT || c === OPEN_ARRAY) {
      if (++depth > max) return true;
    } else if (c === CLOSE_OBJECT || c === CLOSE_ARRAY) depth--;
  }
  return false;
}

/** Parses a JSON request body read within `limit`; a body that is not JSON is a 400. */
export async function readJson(request: Request, limit: number): Promise<unknown> {
  checkDeclaredLength(request.headers, limit);
  // A declared length, checked above, already bounds the body through HTTP framing: read it natively.
  const text = request.headers.has("content-length") ? await request.text() : decoder.decode(await readBody(request, limit));
  if (nestsDeeperThan(text, MAX_JSON_DEPTH)) {
    throw invalidRequest(`The JSON body nests deeper than ${MAX_JSON_DEPTH} levels`, null, "json_too_deep");
  }
  try {
    return JSON.parse(text);
  } catch (error) {
    throw invalidRequest(`We could not parse the JSON body of your request: ${(error as Error).message}`, null, "invalid_json");
  }
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

/** A JSON body that must be an object, as every OpenAI request body is. */
export async function readJsonObject(request: Request, limit: number): Promise<Record<string, unknown>> {
  const json = await readJson(request, limit);
  if (json === null || typeof json !== "object" || Array.isArray(json)) {
    throw invalidRequest("The request body must be a JSON object", null, "invalid_body");
  }
  return json as Record<string, unknown>;
}
