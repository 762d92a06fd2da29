// A real PostgreSQL server for tests: Debian's `postgresql` package (initdb, pg_ctl, postgres from
// /usr/lib/postgresql/<version>/bin), a fresh cluster in a temp folder, listening on 127.0.0.1 on an
// ephemeral port (its unix socket in that folder, not /var/run), trust authentication, durability
// off (fsync, synchronous_commit) since nothing outlives the test. `stop()` and `start()` take it
// away and bring it back on the same port, with its data: an outage the proxy must live through.
//
// PostgreSQL refuses to run as root, and CI runs as root: then every server command runs as the
// `postgres` system user the package creates (through `setpriv`, else `runuser`), in a folder
// chowned to it. `make test` installs the package when initdb is missing.
import { SQL } from "bun";
import { chownSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { closedPort } from "../support/proxy";

const PG_ROOT = "/usr/lib/postgresql";

/** The newest `/usr/lib/postgresql/<version>/bin` that holds initdb, else a folder on PATH that does. */
export function postgresBinDir(): string | null {
  const versions = existsSync(PG_ROOT)
    ? readdirSync(PG_ROOT)
        .filter((version) => existsSync(join(PG_ROOT, version, "bin", "initdb")))
        .sort((a, b) => Number.parseFloat(b) - Number.parseFloat(a))
    : [];
  if (versions.length > 0) return join(PG_ROOT, versions[0]!, "bin");
  const onPath = Bun.which("initdb");
  return onPath ? join(onPath, "..") : null;
}

function run(command: string[], cwd: string, what: string): string {
  const result = Bun.spawnSync(command, {
    cwd,
    stdout: "pipe",
    stderr: "pipe",
    env: { PATH: process.env.PATH ?? "/usr/bin:/bin", LANG: "C.UTF-8", LC_ALL: "C.UTF-8" },
  });
  const output = `${result.stdout.toString()}${result.stderr.toString()}`;
  if (result.exitCode !== 0) throw new Error(`${what} failed (exit ${result.exitCode}): ${command.join(" ")}\n${output}`);
  return output;
}

const isRoot = () => process.getuid?.() === 0;

/** `command` as the postgres user when we are root (PostgreSQL will not run as root), as is otherwise. */
function asPostgresUser(command: string[]): string[] {
  if (!isRoot()) return command;
  if (Bun.which("setpriv")) return ["setpriv", "--reuid=postgres", "--regid=postgres", "--init-groups", "--", ...command];
  if (Bun.which("runuser")) return ["runuser", "-u", "postgres", "--", ...command];
  throw new Error("running as root, and neither setpriv nor runuser is there to start PostgreSQL as the postgres user");
}

function postgresIds(): { uid: number; gid: number } {
  const line = readFileSync("/etc/passwd", "utf8")
    .split("\n")
    .find((entry) => entry.startsWith("postgres:"));
  if (!line) throw new Error("running as root and there is no 'postgres' user (Debian's postgresql package creates it)");
  const [, , uid, gid] = line.split(":");
  return { uid: Number(uid), gid: Number(gid) };
}

export interface PostgresServer {
  readonly port: number;
  /** The folder holding the cluster, its log and its socket. */
  readonly dir: string;
  /** `postgres://postgres@127.0.0.1:<port>/<database>`; with `password`, one in the URL (trust ignores it). */
  url(password?: string, database?: string): string;
  /** Creates a fresh database (dropping one of that name first): tests keep apart by database. */
  createDatabase(name: string): Promise<void>;
  readonly running: boolean;
  /** A fast shutdown (sessions ended, data kept); resolves once it no longer accepts connections. */
  stop(): Promise<void>;
  /** Starts it again on the same port; resolves once it accepts connections. */
  start(): Promise<void>;
  /** A client of its own (max 1 connection) for the test to look at the table; closed by `destroy`. */
  readonly sql: SQL;
  /** Stops it and removes its folder. */
  destroy(): Promise<void>;
}

const live = new Set<() => void>();
process.on("exit", () => {
  for (const kill of live) kill();
});

/** initdb in a fresh temp folder, then start. Throws with the server's log when it cannot. */
export async function startPostgres(): Promise<PostgresServer> {
  const bin = postgresBinDir();
  if (!bin) throw new Error("PostgreSQL's initdb is not installed: install Debian's postgresql package (make test does when it is missing)");
  const dir = mkdtempSync(join(tmpdir(), "cm-owp-pg-"));
  const data = join(dir, "data");
  const socketDir = join(dir, "socket");
  const logFile = join(dir, "postgres.log");
  mkdirSync(socketDir);
  if (isRoot()) {
    const { uid, gid } = postgresIds();
    for (const path of [dir, socketDir]) chownSync(path, uid, gid);
  }
  run(asPostgresUser([join(bin, "initdb"), "-D", data, "-U", "postgres", "-A", "trust", "-E", "UTF8", "--locale=C.UTF-8", "--no-sync"]), dir, "initdb");

  let port = closedPort();
  let running = false;
  const pgCtl = (...args: string[]) => asPostgresUser([join(bin, "pg_ctl"), "-D", data, ...args]);
  const serverLog = () => (existsSync(logFile) ? readFileSync(logFile, "utf8").split("\n").slice(-30).join("\n") : "(no log)");

  const startOnce = () => {
    const options = [
      `-p ${port}`,
      `-k ${socketDir}`,
      "-c listen_addresses=127.0.0.1",
      "-c fsync=off",
      "-c synchronous_commit=off",
      "-c full_page_writes=off",
      "-c max_connections=50",
    ].join(" ");
    run(pgCtl("-l", logFile, "-w", "-t", "30", "-o", options, "start"), dir, "pg_ctl start");
  };
  const stopNow = () => {
    Bun.spawnSync(pgCtl("-m", "immediate", "-w", "stop"), { cwd: dir, stdout: "ignore", stderr: "ignore" });
  };

  const server: PostgresServer = {
    get port() {
      return port;
    },
    dir,
    url: (password, database = "postgres") => `postgres://postgres${password ? `:${encodeURIComponent(password)}` : ""}@127.0.0.1:${port}/${database}`,
    async createDatabase(name) {
      if (!/^[a-z_][a-z0-9_]*$/.test(name)) throw new Error(`not a plain database name: ${name}`);
      await server.sql.unsafe(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
      await server.sql.unsafe(`CREATE DATABASE ${name}`);
    },
    get running() {
      return running;
    },
    sql: undefined as unknown as SQL,
    async start() {
      if (running) return;
      try {
        startOnce();
      } catch (error) {
        throw new Error(`${(error as Error).message}\nserver log:\n${serverLog()}`);
      }
      running = true;
      live.add(stopNow);
    },
    async stop() {
      if (!running) return;
      run(pgCtl("-m", "fast", "-w", "-t", "30", "stop"), dir, "pg_ctl stop");
      running = false;
      live.delete(stopNow);
    },
    async destroy() {
      await (server.sql as SQL | undefined)?.close({ timeout: 0 }).catch(() => {});
      if (running) stopNow();
      running = false;
      live.delete(stopNow);
      rmSync(dir, { recursive: true, force: true });
    },
  };

  // The ephemeral port may be taken between finding it and binding it: try a few.
  for (let attempt = 1; ; attempt++) {
    try {
      await server.start();
      break;
    } catch (error) {
      if (attempt >= 3 || !/could not bind|Address already in use/i.test((error as Error).message)) {
        rmSync(dir, { recursive: true, force: true });
        throw error;
      }
      port = closedPort();
    }
  }
  (server as { sql: SQL }).sql = new SQL(server.url(), { max: 1, connectionTimeout: 5 });
  return server;
}
