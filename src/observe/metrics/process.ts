import { readdirSync, readFileSync } from "node:fs";
import type { MetricsRegistry } from "./registry";

/** Reads a file of /proc, or null where there is none (not Linux) or it cannot be read. */
function readProc(path: string): string | null {
  try {
    return readFileSync(path, "utf8");
  } catch {
    return null;
  }
}

/** The resident set size from /proc/self/status (`VmRSS: <n> kB`), or null. */
export function rssFromStatus(status: string): number | null {
  const match = /^VmRSS:\s+(\d+)\s+kB/m.exec(status);
  return match ? Number(match[1]) * 1024 : null;
}

/** The soft limit on open files from /proc/self/limits, or null (also when unlimited). */
export function maxFdsFromLimits(limits: string): number | null {
  const match = /^Max open files\s+(\d+)/m.exec(limits);
  return match ? Number(match[1]) : null;
}

function openFds(): number | null {
  try {
    // The listing's own descriptor is among the entries, as in every Prometheus client.
    return readdirSync("/proc/self/fd").length;
  } catch {
    return null;
  }
}

/**
 * The standard process metrics, read when scraped: resident memory, open and maximum file
 * descriptors (Linux's /proc; absent elsewhere), CPU time and start time (everywhere).
 */
export function registerProcessMetrics(metrics: MetricsRegistry): void {
  const linux = readProc("/proc/self/status") !== null;
  const startSeconds = performance.timeOrigin / 1000;
  metrics.counterFn("process_cpu_seconds_total", "Total user and system CPU time spent in seconds.", () => {
    const { user, system } = process.cpuUsage();
    return (user + system) / 1e6;
  });
  metrics.gaugeFn("process_resident_memory_bytes", "Resident memory size in bytes.", () => {
    const status = linux ? readProc("/proc/self/status") : null;
    return (status === null ? null : rssFromStatus(status)) ?? process.memoryUsage().rss;
  });
  metrics.gaugeFn("process_start_time_seconds", "Start time of the process since unix epoch in seconds.", () => startSeconds);
  if (!linux) return;
  metrics.gaugeFn("process_open_fds", "Number of open file descriptors.", openFds);
  metrics.gaugeFn("process_max_fds", "Maximum number of open file descriptors.", () => {
    const limits = readProc("/proc/self/limits");
    return limits === null ? null : maxFdsFromLimits(limits);
  });
}
