import { invalidRequest } from "../model/errors";
import { checkDeclaredLength, readBody } from "./body-limit";

const decoder = new TextDecoder();

/**
 * Deeper JSON than any OpenAI request needs (tool schemas reach a few dozen levels). Deeper
 * nesting makes validation errors quadratic and JSON.stringify overflow the stack, so it is
 * refused before parsing.
 */
const MAX_JSON_DEPTH = 128;

const OPEN_OBJECT = 123,
  OPEN_ARRAY = 91,
  CLOSE_OBJECT = 125,
  CLOSE_ARRAY = 93,
  QUOTE = 34,
  BACKSLASH = 92;

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

/** The JSON value as an object (the shape of every OpenAI request body), or null for an array, a string, null, … */
export function asJsonObject(json: unknown): Record<string, unknown> | null {
  return json !== null && typeof json === "object" && !Array.isArray(json) ? (json as Record<string, unknown>) : null;
}

/**
 * A JSON body that must be an object; anything else is a 400. `vet` runs before any such refusal
 * (a 400, a 413) and may throw its own instead: a caller without a valid key hears that first.
 */
export async function readJsonObject(request: Request, limit: number, vet?: (request: Request) => void): Promise<Record<string, unknown>> {
  try {
    const object = asJsonObject(await readJson(request, limit));
    if (!object) throw invalidRequest("The request body must be a JSON object", null, "invalid_body");
    return object;
  } catch (error) {
    vet?.(request);
    throw error;
  }
}
