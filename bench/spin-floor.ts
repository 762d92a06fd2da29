// The floor (bench/floor.ts) plus FLOOR_SPIN_US µs of busy JavaScript per request before the
// forward: how much a µs of a proxy's own work costs the process in all, Bun's fetch thread
// included (bench/coupling.ts). Usage: FLOOR_BACKEND=… FLOOR_SPIN_US=20 bun bench/spin-floor.ts [port]
import { forwardChat, serveFloor } from "./floor-work";

const spinMs = Number(process.env.FLOOR_SPIN_US ?? 0) / 1000;

serveFloor(async (request) => {
  const body = (await request.json()) as { model: string };
  const until = performance.now() + spinMs;
  while (performance.now() < until);
  return forwardChat(body);
});
