import { afterAll, expect, test } from "bun:test";
import { mkdirSync, renameSync, symlinkSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { CapturingLogger } from "./support/logger";
import { startServer } from "../src/server/start";
import { makeTempDir, removeTempDirs } from "./support/proxy";

afterAll(removeTempDirs);

/**
 * A Kubernetes ConfigMap volume: `config.json` links to `..data/config.json`, `..data` links to a
 * timestamped folder, and an update writes a new folder and swaps `..data` atomically.
 */
test("a ConfigMap-style update (the ..data link swapped to a new folder) is picked up and reloaded", async () => {
  const dir = makeTempDir("configmap");
  const version = (n: number) => {
    const folder = join(dir, `..2026_11_30_0${n}`);
    mkdirSync(folder);
    writeFileSync(join(folder, "config.json"), JSON.stringify({ endpoints: { [`model-v${n}`]: { url: "http://127.0.0.1:9" } } }));
    return `..2026_11_30_0${n}`;
  };
  symlinkSync(version(1), join(dir, "..data"));
  symlinkSync("..data/config.json", join(dir, "config.json"));
  const log = new CapturingLogger("configmap proxy log");
  const server = await startServer({
    configPath: join(dir, "config.json"),
    port: 0,
    hostname: "127.0.0.1",
    log,
    watchConfig: true,
    accessLogWrite: log.access,
  });
  try {
    expect([...server.configs.current.models.keys()]).toEqual(["model-v1"]);
    const next = version(2);
    symlinkSync(next, join(dir, "..data_tmp"));
    renameSync(join(dir, "..data_tmp"), join(dir, "..data"));
    await log.until(() => server.configs.current.models.has("model-v2"), 5000, "the swapped ConfigMap reloaded");
    expect([...server.configs.current.models.keys()]).toEqual(["model-v2"]);
  } finally {
    await server.stop();
  }
});
