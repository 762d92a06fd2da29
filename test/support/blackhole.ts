/** A port whose TCP connect hangs (full, never-accepted backlog), served by a python3 helper. */
import { join } from "node:path";
import { withDeadline } from "../../src/deadline";
import { within } from "./events";

export interface Blackhole {
  readonly port: number;
  stop(): Promise<void>;
}

/** Starts the helper; resolves null when python3 is unavailable (the caller skips with a reason). */
export async function startBlackhole(): Promise<Blackhole | null> {
  const python = Bun.which("python3");
  if (!python) return null;
  const child = Bun.spawn([python, join(import.meta.dir, "backlog-full.py")], { stdin: "pipe", stdout: "pipe", stderr: "inherit" });
  const reader = child.stdout.getReader();
  let text = "";
  while (!text.includes("\n")) {
    const { done, value } = await within(reader.read(), 5000, "backlog-full.py printing its port");
    if (done) break;
    text += new TextDecoder().decode(value);
  }
  reader.releaseLock();
  const port = Number(text.trim());
  if (!Number.isInteger(port) || port <= 0) {
    child.kill();
    throw new Error(`backlog-full.py printed no port: '${text}'`);
  }
  return {
    port,
    async stop() {
      child.stdin.end();
      child.kill();
      await within(child.exited, 5000, "backlog-full.py exiting");
    },
  };
}

/** True when a plain connect to the port is still pending after `ms` (the kernel really drops SYNs). */
export async function connectHangs(port: number, ms = 500): Promise<boolean> {
  let socket: Awaited<ReturnType<typeof Bun.connect>> | undefined;
  const attempt = Bun.connect({ hostname: "127.0.0.1", port, socket: { data() {} } }).then(
    (opened) => {
      socket = opened;
      return "connected" as const;
    },
    () => "failed" as const,
  );
  const outcome = await withDeadline(attempt, ms, () => "pending" as const);
  socket?.end();
  return outcome === "pending";
}
