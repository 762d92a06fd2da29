// The rig every bench script shares: where it runs, the CPU pinning, child processes that are
// killed on any exit, servers started and waited for, wrk runs and /proc readings.
import { mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { availableParallelism } from "node:os";
import { resolve } from "node:path";
import type { Subprocess } from "bun";
import { BACKEND_KEY, BACKEND_MODEL, CLIENT_MODEL, TWO_TARGET_MODEL } from "./shared";

export const ROOT = resolve(import.meta.dir, "..");
process.chdir(ROOT);
export const BUN = process.execPath;
export const SCRATCH = "bench/results";
mkdirSync(SCRATCH, { recursive: true });

// ---- process bookkeeping: every child is killed on any exit -----------------------------------
const children = new Set<Subprocess>();
export function killAll(): void {
  for (const child of children) {
    try {
      child.kill("SIGKILL");
    } catch {}
  }
  children.clear();
}
process.on("exit", killAll);
for (const signal of ["SIGINT", "SIGTERM", "SIGHUP"] as const) {
  process.on(signal, () => {
    killAll();
    process.exit(130);
  });
}

export const cpus = availableParallelism();
export const PINNED = cpus >= 2;
export const TARGET_CPU = "0";
export const LOAD_CPU = "1";
export const pin = (cpu: string, cmd: string[]) => (PINNED ? ["taskset", "-c", cpu, ...cmd] : cmd);
export const log = (message: string) => process.stderr.write(`[bench] ${message}\n`);
export const sleep = (ms: number) => Bun.sleep(ms);

/** The median of the finite values (NaN when there are none). */
export const median = (values: number[]) => {
  const sorted = values.filter(Number.isFinite).sort((a, b) => a - b);
  if (sorted.length === 0) return NaN;
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
};

export function sh(cmd: string[]): string {
  const result = Bun.spawnSync(cmd, { stdout: "pipe", stderr: "pipe" });
  return (result.stdout.toString() + result.stderr.toString()).trim();
}

export function ensureWrk(): void {
  if (Bun.which("wrk")) return;
  log("wrk not found: installing it from Debian (apt-get install wrk)");
  const sudo = process.getuid?.() === 0 ? [] : ["sudo"];
  Bun.spawnSync([...sudo, "apt-get", "update", "-qq"], { stdout: "inherit", stderr: "inherit" });
  Bun.spawnSync([...sudo, "apt-get", "install", "-y", "-qq", "wrk"], { stdout: "inherit", stderr: "inherit" });
  if (!Bun.which("wrk")) throw new Error("wrk could not be installed (apt-get install wrk)");
}

export async function freePort(): Promise<number> {
  const probe = Bun.serve({ port: 0, hostname: "127.0.0.1", fetch: () => new Response() });
  const port = probe.port!;
  await probe.stop(true);
  return port;
}

export interface Server {
  name: string;
  url: string;
  port: number;
  pid: number;
  child: Subprocess;
}

/** Starts `cmd` with its stdout and stderr in bench/results/<name>.log and <name>.err.log. */
export function spawnChild(name: string, cmd: string[], env: Record<string, string> = {}): Subprocess {
  const [out, err] = [`${SCRATCH}/${name}.log`, `${SCRATCH}/${name}.err.log`];
  // Emptied first: Bun writes a Bun.file stdout from offset 0 without truncating, so an earlier
  // run's longer log would otherwise survive behind this one's lines.
  writeFileSync(out, "");
  writeFileSync(err, "");
  const child = Bun.spawn(cmd, {
    cwd: ROOT,
    env: { ...process.env, ...env },
    stdout: Bun.file(out),
    stderr: Bun.file(err),
    stdin: "ignore",
  });
  children.add(child);
  return child;
}

export async function stop(child: Subprocess): Promise<void> {
  if (child.exitCode === null && child.signalCode === null) {
    child.kill("SIGTERM");
    const exited = await Promise.race([child.exited.then(() => true), sleep(3000).then(() => false)]);
    if (!exited) child.kill("SIGKILL");
    await Promise.race([child.exited, sleep(2000)]);
  }
  children.delete(child);
}

/** Kills a child at once (a start-up measurement is over) and forgets it. */
export async function kill(child: Subprocess): Promise<void> {
  child.kill("SIGKILL");
  await Promise.race([child.exited, sleep(2000)]);
  children.delete(child);
}

/** Polls GET /health every millisecond until it answers 200; ms from `since`, or throws after `limitMs`. */
export async function waitHealthy(port: number, since: number, limitMs: number, child: Subprocess): Promise<number> {
  const url = `http://127.0.0.1:${port}/health`;
  while (performance.now() - since < limitMs) {
    if (child.exitCode !== null || child.signalCode !== null) throw new Error(`process exited (${child.exitCode ?? child.signalCode}) before /health answered`);
    try {
      const response = await fetch(url, { headers: { connection: "close" } });
      await response.arrayBuffer();
      if (response.status === 200) return performance.now() - since;
    } catch {}
    await sleep(1);
  }
  throw new Error(`no successful ${url} within ${limitMs} ms`);
}

export async function startServer(name: string, cmd: (port: number) => string[], env: Record<string, string> = {}): Promise<Server> {
  const port = await freePort();
  const child = spawnChild(name, cmd(port), env);
  const since = performance.now();
  try {
    await waitHealthy(port, since, 15_000, child);
  } catch (error) {
    throw new Error(`${name}: ${(error as Error).message}; see ${SCRATCH}/${name}.err.log`);
  }
  return { name, url: `http://127.0.0.1:${port}`, port, pid: child.pid, child };
}

export function procStatus(pid: number): { rssMb: number; hwmMb: number } {
  const text = readFileSync(`/proc/${pid}/status`, "utf8");
  const kb = (field: string) => Number(new RegExp(`^${field}:\\s+(\\d+) kB`, "m").exec(text)?.[1] ?? NaN);
  return { rssMb: kb("VmRSS") / 1024, hwmMb: kb("VmHWM") / 1024 };
}

/** Resets VmHWM to the current RSS (Linux ≥ 4.0), so a later VmHWM is the peak of what follows. */
export function resetPeak(pid: number): void {
  writeFileSync(`/proc/${pid}/clear_refs`, "5");
}

/** CPU seconds (user + system) a process has used so far. */
export function cpuSeconds(pid: number): number {
  const fields = readFileSync(`/proc/${pid}/stat`, "utf8").split(") ")[1]!.split(" ");
  return (Number(fields[11]) + Number(fields[12])) / 100; // utime, stime in clock ticks (USER_HZ = 100)
}

/**
 * CPU seconds (user + system) the threads of Bun's HTTP client (the one thread that runs every
 * `fetch`) have used so far: the part of a proxy's CPU spent outside its JavaScript thread on the
 * backend's side.
 */
export function fetchThreadSeconds(pid: number): number {
  let seconds = 0;
  for (const tid of readdirSync(`/proc/${pid}/task`)) {
    let stat: string;
    try {
      stat = readFileSync(`/proc/${pid}/task/${tid}/stat`, "utf8");
    } catch {
      continue; // the thread ended between the listing and the read
    }
    const close = stat.lastIndexOf(") ");
    if (stat.slice(stat.indexOf("(") + 1, close) !== "HTTP Client") continue;
    const fields = stat.slice(close + 2).split(" ");
    seconds += (Number(fields[11]) + Number(fields[12])) / 100;
  }
  return seconds;
}

/** CPU seconds the target core has spent busy (any process, kernel included) and stolen by the hypervisor so far. */
export function coreSeconds(): { busy: number; steal: number } {
  const line = readFileSync("/proc/stat", "utf8")
    .split("\n")
    .find((l) => l.startsWith(`cpu${TARGET_CPU} `));
  if (!PINNED || !line) return { busy: NaN, steal: NaN };
  // user nice system idle iowait irq softirq steal (guest time is already in user)
  const [user, nice, system, , , irq, softirq, steal] = line.trim().split(/\s+/).slice(1).map(Number) as number[];
  return { busy: (user! + nice! + system! + irq! + softirq!) / 100, steal: steal! / 100 };
}

// ---- load generators ------------------------------------------------------------------------
export interface WrkResult {
  rps: number;
  requests: number;
  errors: number;
  p50Ms: number;
  p90Ms: number;
  p99Ms: number;
  meanMs: number;
}

export async function runWithLimit(cmd: string[], env: Record<string, string>, limitMs: number): Promise<string> {
  const child = Bun.spawn(cmd, { cwd: ROOT, env: { ...process.env, ...env }, stdout: "pipe", stderr: "pipe" });
  children.add(child);
  const timer = setTimeout(() => child.kill("SIGKILL"), limitMs);
  const [out, err] = await Promise.all([new Response(child.stdout).text(), new Response(child.stderr).text()]);
  await child.exited;
  clearTimeout(timer);
  children.delete(child);
  if (child.exitCode !== 0) throw new Error(`${cmd.join(" ")} failed (${child.exitCode ?? child.signalCode}): ${err || out}`);
  return out;
}

export function benchJson(out: string): any {
  const line = out.split("\n").find((l) => l.startsWith("BENCH_JSON "));
  if (!line) throw new Error(`no BENCH_JSON line in:\n${out}`);
  return JSON.parse(line.slice("BENCH_JSON ".length));
}

export async function wrk(url: string, script: string, connections: number, seconds: number, env: Record<string, string> = {}): Promise<WrkResult> {
  const cmd = pin(LOAD_CPU, ["wrk", "-t1", `-c${connections}`, `-d${seconds}s`, "--timeout", "5s", "-s", script, url]);
  const j = benchJson(await runWithLimit(cmd, env, (seconds + 20) * 1000));
  return {
    rps: j.requests / (j.duration_us / 1e6),
    requests: j.requests,
    errors: j.connect + j.read + j.write + j.status + j.timeout,
    p50Ms: j.p50 / 1000,
    p90Ms: j.p90 / 1000,
    p99Ms: j.p99 / 1000,
    meanMs: j.mean / 1000,
  };
}

export async function startMock(): Promise<Server> {
  return startServer("mock", (port) => pin(LOAD_CPU, [BUN, "bench/mock-backend.ts", String(port)]));
}

/**
 * A proxy config in bench/results: the two bench models on the mock, plus `extra` (top-level keys;
 * a `usage` object is merged). Each config has its own usage store file (removed at the start of
 * every run by `removeUsageFiles`), so no two processes write the same SQLite file at once and no run
 * inserts into a table that earlier runs have grown. An `endpoints` object in `extra` is merged into
 * the endpoints of the same name (the translation variant turns the bench model's into an anthropic one).
 */
export function writeProxyConfig(mock: Server, name = "proxy-config.json", extra: Record<string, unknown> = {}): string {
  const path = resolve(SCRATCH, name);
  const endpoints = (extra.endpoints ?? {}) as Record<string, Record<string, unknown>>;
  const config = {
    ...extra,
    usage: { path: `usage-${name.replace(/\.json$/, "")}.db`, ...(extra.usage as Record<string, unknown> | undefined) },
    endpoints: {
      [CLIENT_MODEL]: { displayName: "Bench model", url: mock.url, apiKey: BACKEND_KEY, actualModelName: BACKEND_MODEL, ...endpoints[CLIENT_MODEL] },
      [TWO_TARGET_MODEL]: {
        displayName: "Bench model, two targets",
        apiKey: BACKEND_KEY,
        actualModelName: BACKEND_MODEL,
        targets: [
          { name: "a", url: mock.url },
          { name: "b", url: mock.url },
        ],
      },
    },
  };
  writeFileSync(path, JSON.stringify(config, null, 2));
  return path;
}

/** The usage store files (and their -wal/-shm) of earlier runs. */
export function removeUsageFiles(): void {
  for (const file of readdirSync(SCRATCH)) if (/^usage.*\.db(-wal|-shm|-journal)?$/.test(file)) rmSync(resolve(SCRATCH, file), { force: true });
}

/**
 * CPU µs per non-streamed chat request of one `secs`-second wrk run (after a warm-up long enough for
 * the JIT's top tier) against a server pinned to the target CPU: the whole process's, and the part
 * of it Bun's fetch thread took.
 */
export async function chatCpuPerRequest(url: string, pid: number, secs: number): Promise<{ total: number; fetch: number }> {
  await wrk(url, "bench/wrk/chat.lua", 64, 3);
  const before = cpuSeconds(pid);
  const fetchBefore = fetchThreadSeconds(pid);
  const run = await wrk(url, "bench/wrk/chat.lua", 64, secs);
  if (run.errors > 0) throw new Error(`${url}: ${run.errors} errors`);
  const perRequest = (seconds: number) => (seconds * 1e6) / run.requests;
  return { total: perRequest(cpuSeconds(pid) - before), fetch: perRequest(fetchThreadSeconds(pid) - fetchBefore) };
}
