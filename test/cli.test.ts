import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { join } from "node:path";
import packageJson from "../package.json";
import { BUN, CLI_ENTRY, cleanEnv, runToExit, spawnProcess, type RunningProcess } from "./support/process";
import { closedPort, makeTempDir, removeTempDirs, writeConfig } from "./support/proxy";

const cli = (...args: string[]) => [BUN, CLI_ENTRY, ...args];

const VALID = {
  endpoints: {
    gpt: { displayName: "GPT (CLI)", url: "http://127.0.0.1:9/v1", apiKey: "sk-cli-key-0123456789", actualModelName: "cli-actual" },
    "org/llama": { displayName: "Llama (CLI)", url: "http://127.0.0.1:9", actualModelName: "llama-actual" },
  },
};

let dir: string;
let validPath: string;
let invalidPath: string;
const running: RunningProcess[] = [];

beforeAll(() => {
  dir = makeTempDir("cli");
  validPath = writeConfig(join(dir, "valid.json"), VALID);
  invalidPath = writeConfig(join(dir, "invalid.json"), { endpoints: { gpt: { url: 42 } } });
});
afterAll(async () => {
  for (const proc of running) await proc.stop().catch(() => {});
  removeTempDirs();
});

/** Starts the CLI as a server and remembers it for cleanup. */
function serve(args: string[], env: Record<string, string> = {}, cwd = dir): RunningProcess {
  const proc = spawnProcess(cli(...args), { cwd, env: cleanEnv(env) });
  running.push(proc);
  return proc;
}

async function expectHealthy(port: number, models: number) {
  const response = await fetch(`http://127.0.0.1:${port}/health`);
  expect(response.status).toBe(200);
  const health = await response.json();
  expect(health.status).toBe("ok");
  expect(health.endpoints).toBe(models);
}

describe("CLI: informational flags", () => {
  test("--help prints usage with every flag and exits 0", async () => {
    const { code, stdout } = await runToExit(cli("--help"), { cwd: dir, env: cleanEnv() });
    expect(code).toBe(0);
    for (const flag of ["--config", "--port", "--host", "--check-config", "--version", "--help", "CM_OPEN_WEBUI_PROXY_PORT", "CM_OPEN_WEBUI_PROXY_CONFIG_FILE"]) {
      expect(stdout).toContain(flag);
    }
  });

  test("--version prints the package version and exits 0", async () => {
    const { code, stdout } = await runToExit(cli("--version"), { cwd: dir, env: cleanEnv() });
    expect(code).toBe(0);
    expect(stdout.trim()).toBe(packageJson.version);
  });

  test("an unknown flag exits non-zero with a message", async () => {
    const { code, stderr } = await runToExit(cli("--no-such-flag"), { cwd: dir, env: cleanEnv() });
    expect(code).not.toBe(0);
    expect(stderr).toContain("no-such-flag");
  });
});

describe("CLI: --check-config", () => {
  test("a valid file: exit 0, every model printed", async () => {
    const { code, stdout } = await runToExit(cli("--check-config", "--config", validPath), { cwd: dir, env: cleanEnv() });
    expect(code).toBe(0);
    for (const text of ["gpt", "GPT (CLI)", "org/llama", "Llama (CLI)"]) expect(stdout).toContain(text);
    expect(stdout).not.toContain("sk-cli-key-0123456789");
  });

  test("an invalid file: exit 1 with the validation message naming file and field", async () => {
    const { code, stdout, stderr } = await runToExit(cli("--check-config", "--config", invalidPath), { cwd: dir, env: cleanEnv() });
    expect(code).toBe(1);
    expect(stdout + stderr).toContain(`${invalidPath}: endpoints.gpt.url: expected a string`);
  });

  test("the file can be named by CM_OPEN_WEBUI_PROXY_CONFIG_FILE", async () => {
    const { code, stdout } = await runToExit(cli("--check-config"), { cwd: dir, env: cleanEnv({ CM_OPEN_WEBUI_PROXY_CONFIG_FILE: validPath }) });
    expect(code).toBe(0);
    expect(stdout).toContain("GPT (CLI)");
  });
});

describe("CLI: start-up failures", () => {
  test("a named config file that is missing: non-zero exit naming the file", async () => {
    const missing = join(dir, "missing.json");
    const { code, stderr } = await runToExit(cli("--config", missing, "--port", "0", "--host", "127.0.0.1"), { cwd: dir, env: cleanEnv() });
    expect(code).not.toBe(0);
    expect(stderr).toContain(missing);
    expect(stderr.toLowerCase()).toContain("not found");
  });

  test("a file named by CM_OPEN_WEBUI_PROXY_CONFIG_FILE that is missing: non-zero exit too", async () => {
    const missing = join(dir, "missing-env.json");
    const { code, stderr } = await runToExit(cli("--port", "0", "--host", "127.0.0.1"), { cwd: dir, env: cleanEnv({ CM_OPEN_WEBUI_PROXY_CONFIG_FILE: missing }) });
    expect(code).not.toBe(0);
    expect(stderr).toContain(missing);
  });

  test("an invalid config at start-up: exit 1 with the validation message", async () => {
    const { code, stderr } = await runToExit(cli("--config", invalidPath, "--port", "0", "--host", "127.0.0.1"), { cwd: dir, env: cleanEnv() });
    expect(code).toBe(1);
    expect(stderr).toContain("endpoints.gpt.url: expected a string");
  });

  test("a bad --port value: non-zero exit naming it", async () => {
    const { code, stderr } = await runToExit(cli("--config", validPath, "--port", "eighty"), { cwd: dir, env: cleanEnv() });
    expect(code).not.toBe(0);
    expect(stderr).toContain("eighty");
  });
});

describe("CLI: serving", () => {
  test("--port: listens there and answers /health", async () => {
    const port = closedPort();
    const proc = serve(["--config", validPath, "--port", String(port), "--host", "127.0.0.1"]);
    expect(await proc.listening()).toBe(port);
    await expectHealthy(port, 2);
    expect(await proc.stop()).toBe(0);
  });

  test("CM_OPEN_WEBUI_PROXY_PORT sets the port when --port is absent", async () => {
    const port = closedPort();
    const proc = serve(["--config", validPath, "--host", "127.0.0.1"], { CM_OPEN_WEBUI_PROXY_PORT: String(port) });
    expect(await proc.listening()).toBe(port);
    await expectHealthy(port, 2);
    expect(await proc.stop()).toBe(0);
  });

  test("--port wins over CM_OPEN_WEBUI_PROXY_PORT", async () => {
    const [flagPort, envPort] = [closedPort(), closedPort()];
    const proc = serve(["--config", validPath, "--port", String(flagPort), "--host", "127.0.0.1"], { CM_OPEN_WEBUI_PROXY_PORT: String(envPort) });
    expect(await proc.listening()).toBe(flagPort);
    await expectHealthy(flagPort, 2);
    await proc.stop();
  });

  test("CM_OPEN_WEBUI_PROXY_CONFIG_FILE names the file to serve", async () => {
    const proc = serve(["--port", "0", "--host", "127.0.0.1"], { CM_OPEN_WEBUI_PROXY_CONFIG_FILE: validPath });
    const port = await proc.listening();
    const models = await (await fetch(`http://127.0.0.1:${port}/v1/models`)).json();
    expect(models.data.map((model: { id: string }) => model.id)).toEqual(["gpt", "org/llama"]);
    await proc.stop();
  });

  test("with no config.json and none named, it starts from config.example.json with a warning", async () => {
    const cwd = makeTempDir("cli-example");
    writeConfig(join(cwd, "config.example.json"), { endpoints: { example: { displayName: "Example", url: "http://127.0.0.1:9" } } });
    const proc = serve(["--port", "0", "--host", "127.0.0.1"], {}, cwd);
    const port = await proc.listening();
    expect(proc.stderr.text).toMatch(/WARN.*config\.json.*config\.example\.json/);
    const health = await (await fetch(`http://127.0.0.1:${port}/health`)).json();
    expect(health.models).toEqual([{ id: "example", displayName: "Example" }]);
    await proc.stop();
  });

  test("config.json in the working directory is the default file", async () => {
    const cwd = makeTempDir("cli-default");
    writeConfig(join(cwd, "config.json"), { endpoints: { "from-default": { url: "http://127.0.0.1:9" } } });
    writeConfig(join(cwd, "config.example.json"), { endpoints: { example: { url: "http://127.0.0.1:9" } } });
    const proc = serve(["--port", "0", "--host", "127.0.0.1"], {}, cwd);
    const port = await proc.listening();
    const health = await (await fetch(`http://127.0.0.1:${port}/health`)).json();
    expect(health.models.map((model: { id: string }) => model.id)).toEqual(["from-default"]);
    expect(proc.stderr.text).not.toContain("config.example.json");
    await proc.stop();
  });

  test("SIGTERM with no request in flight exits 0", async () => {
    const proc = serve(["--config", validPath, "--port", "0", "--host", "127.0.0.1"]);
    await expectHealthy(await proc.listening(), 2);
    expect(await proc.stop()).toBe(0);
  });

  test("once 'listening' is logged, a SIGTERM is already handled (clean exit 0, never killed by the signal)", async () => {
    // A supervisor may stop the proxy the moment it reports readiness. Repeated because the window is short.
    const codes: number[] = [];
    for (let attempt = 0; attempt < 10; attempt++) {
      const proc = serve(["--config", validPath, "--port", "0", "--host", "127.0.0.1"]);
      await proc.listening();
      codes.push(await proc.stop());
    }
    expect(codes).toEqual(Array(10).fill(0));
  }, 30_000);
});
