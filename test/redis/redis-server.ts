// A real Redis server for tests: Debian's `redis-server`, on 127.0.0.1 on an ephemeral port, in a
// temp folder, with no persistence (`--save ""`, `--appendonly no`): nothing outlives the test.
// `stop()` and `start()` take it away and bring it back on the same port (empty, as a restarted
// Redis without persistence is): an outage the proxy must live through. `make test` installs the
// package when `redis-server` is missing.
import { RedisClient, type Subprocess } from "bun";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { closedPort } from "../support/proxy";

/** The redis-server binary, or null when the package is not installed. */
export function redisServerBinary(): string | null {
  return Bun.which("redis-server") ?? Bun.which("redis-server", { PATH: "/usr/bin:/usr/sbin:/usr/local/bin" });
}

export interface RedisServer {
  readonly port: number;
  readonly url: string;
  readonly dir: string;
  readonly running: boolean;
  /** Kills it (SIGKILL unless `graceful`); resolves once it has exited. */
  stop(graceful?: boolean): Promise<void>;
  /** Starts it again on the same port; resolves once it answers PING. */
  start(): Promise<void>;
  /** Freezes it (SIGSTOP): connections stay open, nothing is answered. `resume` thaws it. */
  freeze(): void;
  resume(): void;
  /** A client of the test's own (not the proxy's), for looking at keys; closed by `destroy`. */
  client(): Promise<RedisClient>;
  /** Stops it and removes its folder. */
  destroy(): Promise<void>;
}

const START_TIMEOUT_MS = 10_000;

export async function startRedis(): Promise<RedisServer> {
  const binary = redisServerBinary();
  if (!binary) throw new Error("redis-server not found: install Debian's redis-server package (make test does when it is missing)");
  const dir = mkdtempSync(join(tmpdir(), "cm-owp-redis-"));
  let port = 0;
  let current: Subprocess | null = null;
  /** Whether `current` is still running (a process killed by a signal has no exit code). */
  let alive = false;
  let own: RedisClient | null = null;
  let output = "";
  // A test run that dies leaves no server behind.
  const killOnExit = () => current?.kill("SIGKILL");
  process.once("exit", killOnExit);

  const spawn = async (): Promise<void> => {
    const child = Bun.spawn(
      [
        binary,
        "--port",
        String(port),
        "--bind",
        "127.0.0.1",
        "--save",
        "",
        "--appendonly",
        "no",
        "--dir",
        dir,
        "--daemonize",
        "no",
        "--loglevel",
        "warning",
        "--protected-mode",
        "no",
      ],
      { cwd: dir, stdout: "pipe", stderr: "pipe" },
    );
    current = child;
    alive = true;
    void child.exited.then(() => {
      if (current === child) alive = false;
    });
    void new Response(child.stdout).text().then((text) => (output += text));
    // Answers PING once listening: poll the port (no event tells when it is up).
    const deadline = performance.now() + START_TIMEOUT_MS;
    while (performance.now() < deadline) {
      if (!alive) break;
      if (await answersPing(port)) return;
      await Bun.sleep(20);
    }
    child.kill("SIGKILL");
    await child.exited;
    throw new Error(`redis-server did not start on port ${port}: ${output}${await new Response(child.stderr).text()}`);
  };

  // A port taken between closedPort() and the server binding it is retried with another.
  for (let i = 0; ; i++) {
    port = closedPort();
    try {
      await spawn();
      break;
    } catch (error) {
      if (i >= 4) throw error;
    }
  }

  const server: RedisServer = {
    port,
    url: `redis://127.0.0.1:${port}`,
    dir,
    get running() {
      return alive;
    },
    async stop(graceful = false) {
      const child = current;
      if (!child || !alive) return;
      child.kill(graceful ? "SIGTERM" : "SIGKILL");
      await child.exited;
      alive = false;
    },
    async start() {
      if (server.running) return;
      await spawn();
    },
    freeze() {
      current?.kill("SIGSTOP");
    },
    resume() {
      current?.kill("SIGCONT");
    },
    async client() {
      own?.close();
      own = new RedisClient(server.url, { autoReconnect: false, enableOfflineQueue: false, connectionTimeout: 2000 });
      await own.connect();
      return own;
    },
    async destroy() {
      own?.close();
      own = null;
      current?.kill("SIGCONT");
      await server.stop();
      process.off("exit", killOnExit);
      rmSync(dir, { recursive: true, force: true });
    },
  };
  return server;
}

async function answersPing(port: number): Promise<boolean> {
  const client = new RedisClient(`redis://127.0.0.1:${port}`, { autoReconnect: false, enableOfflineQueue: false, connectionTimeout: 500 });
  try {
    await client.connect();
    return (await client.send("PING", [])) === "PONG";
  } catch {
    return false;
  } finally {
    client.close();
  }
}
