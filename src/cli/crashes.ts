// Failures nothing caught, in JSON mode: one JSON error line each, so that a log shipper that
// expects JSON never meets Bun's multi-line text report.
import type { LogFormat, Logger } from "../lib/log";

export const describeError = (error: unknown) => (error instanceof Error ? (error.stack ?? error.message) : String(error));

/**
 * An exception nothing caught, or a rejection nothing handled: in JSON mode one JSON error line
 * (an exception then exits 1, and a rejection lets serving go on, as Bun does with them); in text
 * mode Bun prints them as it always has, because the handlers are installed only while the format
 * is JSON. The returned function re-reads the format: call it whenever the format may have changed.
 */
export function reportCrashes(format: () => LogFormat, log: Logger): () => void {
  const uncaught = (error: unknown) => {
    log.error(`uncaught exception, exiting: ${(error as Error)?.message ?? String(error)}`, { error: describeError(error) });
    process.exit(1);
  };
  const unhandled = (reason: unknown) => {
    log.error(`unhandled promise rejection: ${(reason as Error)?.message ?? String(reason)}`, { error: describeError(reason) });
    process.exitCode = 1;
  };
  let installed = false;
  return () => {
    const json = format() === "json";
    if (json === installed) return;
    installed = json;
    if (json) {
      process.on("uncaughtException", uncaught);
      process.on("unhandledRejection", unhandled);
    } else {
      process.off("uncaughtException", uncaught);
      process.off("unhandledRejection", unhandled);
    }
  };
}
