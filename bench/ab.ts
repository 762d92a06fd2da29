// A/B: CPU per non-streamed chat request of several proxy binaries, each against the same floor,
// measured side by side. Made for changes of a few µs on a noisy machine: every round starts fresh
// processes (two processes of one binary can land far apart), the order of the targets rotates every
// round (the first target after a quiet spell measures dearer), and the figures are the medians of
// each target's difference to the floor of its own round.
//
//   bun bench/ab.ts [--rounds N] [--secs S] [--config FILE] [--latency] name=binary [name=binary ...]
//
// With --latency it compares the p50 latency at a fixed 200 req/s (the budget's third row; use
// --secs 6 as `make bench` does) instead of the CPU per request.
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
  options: {
    rounds: { type: "string", default: "8" },
    secs: { type: "string", default: "3" },
    config: { type: "string" },
    latency: { type: "boolean", default: false },
  },
  allowPositionals: true,
});
const ROUNDS = Number(values.rounds);
const SECS = Number(values.secs);
const LATENCY = values.latency!;
const RATE = { BENCH_RATE: "200" };

/** The p50 latency (ms) at a fixed 200 req/s, the budget's third row: after a warm-up at full load and at the rate. */
async function p50AtRate(url: string): Promise<number> {
  await wrk(url, "bench/wrk/chat.lua", 64, 2);
  await wrk(url, "bench/wrk/chat-rate.lua", 2, 1, RATE);
  return (await wrk(url, "bench/wrk/chat-rate.lua", 2, SECS, RATE)).p50Ms;
}
const binaries = positionals.map((arg) => {
  const at = arg.indexOf("=");
  if (at <= 0) throw new Error(`expected name=binary, got ${arg}`);
  return { name: arg.slice(0, at), path: arg.slice(at + 1) };
});
if (binaries.length === 0) throw new Error("usage: bun bench/ab.ts [--rounds N] [--secs S] [--config FILE] [--latency] name=binary ...");

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
        if (LATENCY) {
          const ms = await p50AtRate(server.url);
          perRound[target.name]!.push(ms);
          line.push(`${target.name} ${ms.toFixed(3)} ms`);
        } else {
          const us = await chatCpuPerRequest(server.url, server.pid, SECS);
          perRound[target.name]!.push(us.total);
          fetchPerRound[target.name]!.push(us.fetch);
          line.push(`${target.name} ${us.total.toFixed(1)} (fetch thread ${us.fetch.toFixed(1)})`);
        }
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
const digits = LATENCY ? 3 : 1;
const signed = (value: number) => `${value >= 0 ? "+" : ""}${value.toFixed(digits)}`;
console.log(
  LATENCY
    ? "\n| target | p50 ms at 200 req/s (median) | − floor of its round (median) | rounds' range of that |\n|---|--:|--:|--:|"
    : "\n| target | CPU µs / request (median) | − floor of its round (median) | rounds' range of that | of the CPU, Bun's fetch thread (median) |\n|---|--:|--:|--:|--:|",
);
for (const { name } of targets) {
  const values = perRound[name]!;
  const over = values.map((v, i) => v - floor[i]!);
  const range = name === "floor" ? "" : `${Math.min(...over).toFixed(digits)} to ${Math.max(...over).toFixed(digits)}`;
  const fetchShare = LATENCY ? "" : ` ${median(fetchPerRound[name]!).toFixed(1)} |`;
  console.log(`| ${name} | ${median(values).toFixed(digits)} | ${name === "floor" ? "" : signed(median(over))} | ${range} |${fetchShare}`);
}
