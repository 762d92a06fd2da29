// A/B: CPU per non-streamed chat request of several proxy binaries, each against the same floor,
// measured side by side. Made for changes of a few µs on a noisy machine: every round starts fresh
// processes (two processes of one binary can land far apart), the order of the targets rotates every
// round (the first target after a quiet spell measures dearer), and the figures are the medians of
// each target's difference to the floor of its own round.
//
//   bun bench/ab.ts [--rounds N] [--secs S] [--config FILE] name=binary [name=binary ...]
//
// A path ending in .ts is a reference run from source (bench/floor.ts, bench/required-*.ts: port as its
// argument, the mock in FLOOR_BACKEND). A binary is any executable the proxy's CLI takes (`dist/cm-open-webui-proxy`, or a copy built from
// another commit: `git worktree add /tmp/old REV && (cd /tmp/old && bun install && make build)`).
// Without --config, the proxies get `make bench`'s default config (usage store, metrics and access
// log on, one target).
import { parseArgs } from "node:util";
import {
  BUN,
  chatCpuPerRequest,
  ensureWrk,
  LOAD_CPU,
  log,
  median,
  PINNED,
  pin,
  removeUsageFiles,
  sh,
  startMock,
  startServer,
  stop,
  TARGET_CPU,
  wrk,
  writeProxyConfig,
} from "./rig";

const { values, positionals } = parseArgs({
  args: Bun.argv.slice(2),
  options: { rounds: { type: "string", default: "8" }, secs: { type: "string", default: "3" }, config: { type: "string" } },
  allowPositionals: true,
});
const ROUNDS = Number(values.rounds);
const SECS = Number(values.secs);
const binaries = positionals.map((arg) => {
  const at = arg.indexOf("=");
  if (at <= 0) throw new Error(`expected name=binary, got ${arg}`);
  return { name: arg.slice(0, at), path: arg.slice(at + 1) };
});
if (binaries.length === 0) throw new Error("usage: bun bench/ab.ts [--rounds N] [--secs S] [--config FILE] name=binary ...");

ensureWrk();
if (PINNED) sh(["taskset", "-a", "-p", "-c", LOAD_CPU, String(process.pid)]);
removeUsageFiles();
const mock = await startMock();
const config = values.config ?? writeProxyConfig(mock, "proxy-config-ab.json");
const targets = [{ name: "floor", cmd: (port: number) => pin(TARGET_CPU, [BUN, "bench/floor.ts", String(port)]), env: { FLOOR_BACKEND: mock.url } }];
for (const { name, path } of binaries) {
  targets.push(
    path.endsWith(".ts")
      ? { name, cmd: (port: number) => pin(TARGET_CPU, [BUN, path, String(port)]), env: { FLOOR_BACKEND: mock.url } }
      : { name, cmd: (port: number) => pin(TARGET_CPU, [path, "--config", config, "--port", String(port), "--host", "127.0.0.1"]), env: { FLOOR_BACKEND: "" } },
  );
}
const perRound: Record<string, number[]> = Object.fromEntries(targets.map((t) => [t.name, []]));
const fetchPerRound: Record<string, number[]> = Object.fromEntries(targets.map((t) => [t.name, []]));
try {
  for (let round = 0; round < ROUNDS; round++) {
    const order = targets.map((_, i) => targets[(i + round) % targets.length]!);
    const line: string[] = [];
    for (const target of order) {
      const server = await startServer(`ab-${target.name}`, target.cmd, target.env);
      try {
        const us = await chatCpuPerRequest(server.url, server.pid, SECS);
        perRound[target.name]!.push(us.total);
        fetchPerRound[target.name]!.push(us.fetch);
        line.push(`${target.name} ${us.total.toFixed(1)} (fetch thread ${us.fetch.toFixed(1)})`);
      } finally {
        await stop(server.child);
      }
    }
    log(`round ${round + 1}/${ROUNDS}: ${line.join(", ")}`);
  }
} finally {
  await stop(mock.child);
}

const floor = perRound.floor!;
const signed = (value: number) => `${value >= 0 ? "+" : ""}${value.toFixed(1)}`;
console.log(`\n| target | CPU µs / request (median) | − floor of its round (median) | rounds' range of that | of the CPU, Bun's fetch thread (median) |`);
console.log("|---|--:|--:|--:|--:|");
for (const { name } of targets) {
  const us = perRound[name]!;
  const over = us.map((v, i) => v - floor[i]!);
  const range = name === "floor" ? "" : `${Math.min(...over).toFixed(1)} to ${Math.max(...over).toFixed(1)}`;
  console.log(
    `| ${name} | ${median(us).toFixed(1)} | ${name === "floor" ? "" : signed(median(over))} | ${range} | ${median(fetchPerRound[name]!).toFixed(1)} |`,
  );
}
