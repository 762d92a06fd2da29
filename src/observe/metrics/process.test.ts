import { expect, test } from "bun:test";
import { maxFdsFromLimits, registerProcessMetrics, rssFromStatus } from "./process";
import { MetricsRegistry } from "./registry";

test("RSS and the open-files limit are read from /proc's formats", () => {
  expect(rssFromStatus("Name:\tbun\nVmPeak:\t  9 kB\nVmRSS:\t    2032 kB\nVmData:\t 1 kB\n")).toBe(2032 * 1024);
  expect(rssFromStatus("Name:\tbun\n")).toBeNull();
  expect(maxFdsFromLimits("Limit  Soft Limit  Hard Limit  Units\nMax open files            20000                20000                files\n")).toBe(20000);
  expect(maxFdsFromLimits("Max open files            unlimited            unlimited            files\n")).toBeNull();
});

test("the process metrics render under their standard names with plausible values", () => {
  const metrics = new MetricsRegistry();
  registerProcessMetrics(metrics);
  const text = metrics.render();
  const value = (name: string) => {
    const line = text.split("\n").find((l) => l.startsWith(`${name} `));
    return line === undefined ? undefined : Number(line.slice(name.length + 1));
  };
  expect(value("process_resident_memory_bytes")).toBeGreaterThan(1024 * 1024);
  const start = value("process_start_time_seconds")!;
  expect(start).toBeLessThanOrEqual(Date.now() / 1000);
  expect(start).toBeGreaterThan(Date.now() / 1000 - 24 * 3600);
  expect(value("process_cpu_seconds_total")).toBeGreaterThan(0);
  if (process.platform === "linux") {
    expect(value("process_open_fds")).toBeGreaterThan(2);
    expect(value("process_max_fds")).toBeGreaterThan(0);
  }
});
