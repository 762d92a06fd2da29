// What a µs of a proxy's own JavaScript costs the whole process at full load (bench/FINDINGS.md,
// "Eighth session"): the floor with 0, 10, 20 and 40 µs of busy JavaScript added per request, each
// round in a rotated order with fresh processes, and the CPU per request of the whole process and of
// Bun's fetch thread. The budget "floor + N µs" is in the whole process's terms; this says how
// many µs of the proxy's own work that leaves.
//
//   bun bench/coupling.ts [--rounds N] [--secs S]
import { parseArgs } from "node:util";
import { BUN, chatCpuPerRequest, ensureWrk, LOAD_CPU, log, median, PINNED, pin, sh, startMock, startServer, stop, TARGET_CPU } from "./rig";

const { values } = parseArgs({
  args: Bun.argv.slice(2),
  options: { rounds: { type: "string", default: "4" }, secs: { type: "string", default: "3" } },
});
const ROUNDS = Number(values.rounds);
const SECS = Number(values.secs);
const SPINS = [0, 10, 20, 40];

ensureWrk();
if (PINNED) sh(["taskset", "-a", "-p", "-c", LOAD_CPU, String(process.pid)]);
const mock = await startMock();
const total: Record<number, number[]> = Object.fromEntries(SPINS.map((spin) => [spin, []]));
const fetch: Record<number, number[]> = Object.fromEntries(SPINS.map((spin) => [spin, []]));
try {
  for (let round = 0; round < ROUNDS; round++) {
    const order = SPINS.map((_, i) => SPINS[(i + round) % SPINS.length]!);
    const line: string[] = [];
    for (const spin of order) {
      const server = await startServer(`coupling-${spin}`, (port) => pin(TARGET_CPU, [BUN, "bench/spin-floor.ts", String(port)]), {
        FLOOR_BACKEND: mock.url,
        FLOOR_SPIN_US: String(spin),
      });
      try {
        const us = await chatCpuPerRequest(server.url, server.pid, SECS);
        total[spin]!.push(us.total);
        fetch[spin]!.push(us.fetch);
        line.push(`+${spin} µs: ${us.total.toFixed(1)} (fetch thread ${us.fetch.toFixed(1)})`);
      } finally {
        await stop(server.child);
      }
    }
    log(`round ${round + 1}/${ROUNDS}: ${line.join(", ")}`);
  }
} finally {
  await stop(mock.child);
}

console.log("\n| JavaScript added per request | CPU µs / request (median) | over the floor | Bun's fetch thread | its share of the increase |");
console.log("|--:|--:|--:|--:|--:|");
const base = median(total[0]!);
const baseFetch = median(fetch[0]!);
for (const spin of SPINS) {
  const t = median(total[spin]!);
  const f = median(fetch[spin]!);
  const over = t - base;
  const share = spin === 0 ? "" : `${(((f - baseFetch) / over) * 100).toFixed(0)} %`;
  console.log(`| ${spin} µs | ${t.toFixed(1)} | ${spin === 0 ? "" : `+${over.toFixed(1)}`} | ${f.toFixed(1)} | ${share} |`);
}
