// A backend whose TCP connect hangs: a listener that never accepts, its accept queue already full,
// so a new connection attempt waits in SYN retries instead of failing. Served by a python3 helper
// (backlog-full.py): Bun's listeners accept every connection, so they cannot hold a queue full.
import { join } from "node:path";
import { within } from "./events";

export interface NeverAccepting {
  readonly url: string;
  stop(): Promise<void>;
}

/**
 * Starts the helper. Resolves `{ skip }`, with the reason, when the kernel does not leave a
 * connection pending (it answers or refuses SYNs to a full queue): the hang cannot be produced on
 * this machine. Call it before the tests are collected (a top-level `await`) so the test can be
 * `test.skipIf("skip" in result)`: a skip shows as a skip, never as a pass. Without python3 (a
 * package `make test` installs), or when the helper fails in any other way, it throws.
 */
export async function neverAcceptingListener(): Promise<NeverAccepting | { skip: string }> {
  const python = Bun.which("python3");
  if (!python) throw new Error("python3 not found: install Debian's python3 package (make test does when it is missing)");
  const child = Bun.spawn([python, join(import.meta.dir, "backlog-full.py")], { stdin: "pipe", stdout: "pipe", stderr: "inherit" });
  // Closing its stdin is what ends it; the kill is for a helper stuck elsewhere.
  const stop = async () => {
    try {
      child.stdin.end();
    } catch {}
    child.kill();
    await within(child.exited, 5000, "backlog-full.py exiting");
  };
  let line = "";
  const decoder = new TextDecoder();
  const reader = child.stdout.getReader();
  try {
    while (!line.includes("\n")) {
      const { done, value } = await within(reader.read(), 10_000, "backlog-full.py reporting its port");
      if (done) break;
      line += decoder.decode(value, { stream: true });
    }
  } catch (error) {
    await stop();
    throw error;
  } finally {
    reader.releaseLock();
  }
  const [port, state] = line.trim().split(" ");
  if (!/^\d+$/.test(port ?? "") || (state !== "full" && state !== "notfull")) {
    await stop();
    throw new Error(`backlog-full.py printed no port and state: '${line}'`);
  }
  if (state === "notfull") {
    await stop();
    return { skip: `the kernel completed or refused every connection to a listen(0) socket: cannot make connect() hang` };
  }
  return { url: `http://127.0.0.1:${port}`, stop };
}
