import { sseErrorEvent, type ProxyError } from "../errors";

const encoder = new TextEncoder();

/**
 * Relays a backend body chunk by chunk, unchanged and unbuffered, and ends it when the backend
 * stays silent longer than `idleMs`. A stream that already sent bytes cannot change its status,
 * so an event stream ends with a final `data: {"error":...}` event; other bodies are cut with an
 * error. Cancelling the relay (the client went away) cancels the backend body.
 */
export function watchIdle(
  body: ReadableStream<Uint8Array>,
  idleMs: number,
  idleError: () => ProxyError,
  eventStream: boolean,
): ReadableStream<Uint8Array> {
  const reader = body.getReader();
  let waiting = false;
  let timedOut = false;
  const timer = setTimeout(function onSilence() {
    if (!waiting) return void timer.refresh();
    timedOut = true;
    reader.cancel(idleError()).catch(() => {});
  }, idleMs);

  return new ReadableStream<Uint8Array>(
    {
      async pull(controller) {
        waiting = true;
        timer.refresh();
        let chunk: Awaited<ReturnType<typeof reader.read>>;
        try {
          chunk = await reader.read();
        } catch (error) {
          clearTimeout(timer);
          throw error;
        } finally {
          waiting = false;
        }
        if (!chunk.done) return controller.enqueue(chunk.value);
        clearTimeout(timer);
        if (!timedOut) return controller.close();
        if (!eventStream) return controller.error(idleError());
        controller.enqueue(encoder.encode(sseErrorEvent(idleError())));
        controller.close();
      },
      cancel(reason) {
        clearTimeout(timer);
        return reader.cancel(reason);
      },
    },
    { highWaterMark: 0 },
  );
}
