import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import packageJson from "../package.json";
import { BUN, CLI_ENTRY, REPO_ROOT, cleanEnv, runToExit, spawnCli, type RunningProcess } from "./support/process";
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
  const proc = spawnCli(args, env, cwd);
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
    for (const flag of [
      "--config",
      "--port",
      "--host",
      "--check-config",
      "--init",
      "--version",
      "--help",
      "CM_OPEN_WEBUI_PROXY_PORT",
      "CM_OPEN_WEBUI_PROXY_CONFIG_FILE",
    ]) {
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

describe("CLI: --init", () => {
  const example = readFileSync(join(REPO_ROOT, "config.example.json"), "utf8");

  test("in an empty folder: writes config.json from the example, which --check-config accepts", async () => {
    const cwd = makeTempDir("cli-init");
    const init = await runToExit(cli("--init"), { cwd, env: cleanEnv() });
    expect(init.code).toBe(0);
    expect(init.stdout).toContain("config.json");
    expect(readFileSync(join(cwd, "config.json"), "utf8")).toBe(example);
    const check = await runToExit(cli("--check-config"), { cwd, env: cleanEnv() });
    expect(check).toMatchObject({ code: 0, stdout: expect.stringContaining(`${join(cwd, "config.json")}: valid`) });
  });

  test("never overwrites: a second --init exits non-zero naming the file, which stays as the user left it", async () => {
    const cwd = makeTempDir("cli-init-twice");
    expect((await runToExit(cli("--init"), { cwd, env: cleanEnv() })).code).toBe(0);
    const edited = JSON.stringify({ endpoints: { mine: { url: "http://127.0.0.1:9" } } });
    writeFileSync(join(cwd, "config.json"), edited);
    const again = await runToExit(cli("--init"), { cwd, env: cleanEnv() });
    expect(again.code).not.toBe(0);
    expect(again.stderr).toContain("config.json already exists");
    expect(readFileSync(join(cwd, "config.json"), "utf8")).toBe(edited);
  });
});

/** Asserts a start-up failure: exit 1 and a single line on stderr, no stack trace. */
function expectOneLineFailure({ code, stderr }: { code: number; stderr: string }, ...parts: string[]) {
  expect({ code, lines: stderr.trimEnd().split("\n") }).toEqual({ code: 1, lines: [expect.stringContaining("cm-open-webui-proxy: ")] });
  for (const part of parts) expect(stderr).toContain(part);
}

describe("CLI: start-up failures", () => {
  test("no config.json in an empty folder: one line naming the file and --init", async () => {
    const cwd = makeTempDir("cli-empty");
    const result = await runToExit(cli("--port", "0", "--host", "127.0.0.1"), { cwd, env: cleanEnv() });
    expectOneLineFailure(result, `${join(cwd, "config.json")}: file not found`, "--init");
  });

  test("a port already in use: one line naming the address, exit 1", async () => {
    const holder = Bun.listen({ hostname: "127.0.0.1", port: 0, socket: { data() {} } });
    try {
      const result = await runToExit(cli("--config", validPath, "--port", String(holder.port), "--host", "127.0.0.1"), { cwd: dir, env: cleanEnv() });
      expectOneLineFailure(result, `cannot listen on 127.0.0.1:${holder.port}`, "already in use");
    } finally {
      holder.stop(true);
    }
  });

  test("a host that is no address: one line naming it, exit 1", async () => {
    const result = await runToExit(cli("--config", validPath, "--port", "0", "--host", "no-such-host.invalid"), { cwd: dir, env: cleanEnv() });
    expectOneLineFailure(result, "cannot listen on no-such-host.invalid:0", "'no-such-host.invalid' is neither an IP address nor a host name");
  });

  test("a named config file that is missing: non-zero exit naming the file", async () => {
    const missing = join(dir, "missing.json");
    const { code, stderr } = await runToExit(cli("--config", missing, "--port", "0", "--host", "127.0.0.1"), { cwd: dir, env: cleanEnv() });
    expect(code).not.toBe(0);
    expect(stderr).toContain(missing);
    expect(stderr.toLowerCase()).toContain("not found");
  });

  test("an invalid config at start-up: exit 1 with the validation message", async () => {
    const { code, stderr } = await runToExit(cli("--config", invalidPath, "--port", "0", "--host", "127.0.0.1"), { cwd: dir, env: cleanEnv() });
    expect(code).toBe(1);
    expect(stderr).toContain("endpoints.gpt.url: expected a string");
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

  test("with no config.json and none named, it starts from config.example.json with a warning", async () => {
    const cwd = makeTempDir("cli-example");
    writeConfig(join(cwd, "config.example.json"), { endpoints: { example: { displayName: "Example", url: "http://127.0.0.1:9" } } });
    const proc = serve(["--port", "0", "--host", "127.0.0.1"], {}, cwd);
    const port = await proc.listening();
    expect(proc.stderr).toMatch(/WARN.*config\.json.*config\.example\.json/);
    const health = await (await fetch(`http://127.0.0.1:${port}/health`)).json();
    expect(health.models).toMatchObject([{ id: "example", displayName: "Example" }]);
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
    expect(proc.stderr).not.toContain("config.example.json");
    await proc.stop();
  });

  test("a config with no models: a warning when serving and when checking; none for a config with models", async () => {
    const empty = writeConfig(join(dir, "empty.json"), { endpoints: {} });
    const proc = serve(["--config", empty, "--port", "0", "--host", "127.0.0.1"]);
    await expectHealthy(await proc.listening(), 0);
    await proc.line((line) => /WARN .*empty\.json has no models/.test(line), 5000, "the no-models warning");
    expect(await proc.stop()).toBe(0);

    const check = await runToExit(cli("--check-config", "--config", empty), { cwd: dir, env: cleanEnv() });
    expect(check.code).toBe(0);
    expect(check.stderr).toContain("has no models");
    const withModels = await runToExit(cli("--check-config", "--config", validPath), { cwd: dir, env: cleanEnv() });
    expect(withModels.stderr).not.toContain("has no models");
  });

  test("SIGTERM with no request in flight exits 0", async () => {
    const proc = serve(["--config", validPath, "--port", "0", "--host", "127.0.0.1"]);
    await expectHealthy(await proc.listening(), 2);
    expect(await proc.stop()).toBe(0);
  });

  // A SIGTERM the instant 'listening' is logged: hardening/shutdown.test.ts (20 rounds driven by python3).
});
