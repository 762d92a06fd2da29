/**
 * The `openai` dev dependency brings @types/node, whose undici-types declare `Response#json()` as
 * `Promise<unknown>` and shadow bun-types' `Promise<any>`. The tests read JSON bodies freely and
 * let `expect` do the checking, as Bun's own types intend.
 */
interface Response {
  json(): Promise<any>;
}
