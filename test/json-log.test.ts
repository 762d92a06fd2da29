// `log.format: "json"` from the outside: the compiled binary, its stdout and stderr read line by
// line. With JSON asked for (by the config, or by CM_OPEN_WEBUI_PROXY_LOG_FORMAT before a config
// is read), every line the process writes is one JSON object with `time`, `level` and `msg`.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { join } from "node:path";
import { buildBinary } from "./support/binary";
import { chatBody, postJson } from "./support/http";
import { reply, startMock, type MockBackend } from "./support/mock-backend";
import { cleanEnv, runToExit, spawnProcess, type Finished, type RunningProcess } from "./support/process";
import { ALPHA_KEY, closedPort, makeTempDir, removeTempDirs, writeConfig } from "./support/proxy";

const LOG_FORMAT_ENV = "CM_OPEN_WEBUI_PROXY_LOG_FORMAT";
const ISO_TIME = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?Z$/;

let binary: string;
let build: Finished;
let mock: MockBackend;
let proc: RunningProcess | null = null;

beforeAll(async () => {
  mock = startMock("json-log");
  binary = join(makeTempDir("json-log-build"), "cm-open-webui-proxy");
  build = await buildBinary(binary);
}, 180_000);

afterAll(async () => {
  await proc?.stop().catch(() => {});
  await mock.stop();
  removeTempDirs();
});

type Entry = Record<string, unknown> & { time: string; level: string; msg: string };

/** The line as an object, or null when it is not JSON. */
function parsed(line: string): Entry | null {
  try {
    const value: unknown = JSON.parse(line);
    return typeof value === "object" && value !== null && !Array.isArray(value) ? (value as Entry) : null;
  } catch {
    return null;
  }
}

/** A matcher for `RunningProcess.line`: a JSON line whose object passes `test`. */
const jsonWhere = (test: (entry: Entry) => boolean) => (line: string) => {
  const entry = parsed(line);
  return entry !== null && test(entry);
};

const msgOf = (entry: Entry) => (typeof entry.msg === "string" ? entry.msg : "");

/** Every line of `text` (a whole stream) parsed, failing with the line that is not one JSON object with time, level, msg. */
function everyLineJson(text: string, stream: string): Entry[] {
  const lines = text.split("\n").filter((line, i, all) => line !== "" || i < all.length - 1);
  return lines.map((line) => {
    const entry = parsed(line);
    expect({ stream, line, json: entry !== null }).toEqual({ stream, line, json: true });
    expect({ stream, line, time: ISO_TIME.test(String(entry!.time)), level: entry!.level, msg: typeof entry!.msg }).toEqual({
      stream,
      line,
      time: true,
      level: expect.stringMatching(/^(info|warn|error)$/),
      msg: "string",
    });
    return entry!;
  });
}

const endpoints = (extra: Record<string, unknown> = {}) => ({
  gpt: { url: mock.url, apiKey: ALPHA_KEY, actualModelName: "json-actual" },
  ...extra,
});

describe("log.format json, the compiled binary", () => {
  test("bun build --compile succeeds", () => {
    expect({ code: build.code, stderr: build.code === 0 ? "" : build.stderr }).toEqual({ code: 0, stderr: "" });
  });

  test("start-up, warning, reloads (accepted, rejected by the watcher and by SIGHUP), traffic and SIGTERM: every stdout and stderr line is one JSON object", async () => {
    const dir = makeTempDir("json-log-run");
    const file = join(dir, "config.json");
    // `stalls`: its backend falls silent mid-body below, and its body is cut after idleMs.
    const stalls = { url: mock.url, timeouts: { idleMs: 100 } };
    writeConfig(file, { log: { format: "json" }, endpoints: endpoints({ stalls }) }); // no clientKeys: a warning
    proc = spawnProcess([binary, "--config", file, "--port", "0", "--host", "127.0.0.1"], { cwd: dir, env: cleanEnv() });
    const port = await proc.ready(20_000);
    await proc.line(
      jsonWhere((e) => e.level === "warn" && msgOf(e).includes("no clientKeys configured")),
      5000,
      "the no-clientKeys warning",
    );

    // An accepted reload (the file watcher), then a rejected one (the watcher, then SIGHUP).
    writeConfig(file, { log: { format: "json" }, endpoints: endpoints({ stalls, second: { url: mock.url } }) }, "atomic");
    await proc.line(
      jsonWhere((e) => msgOf(e).startsWith("config reloaded") && e.models === 3),
      5000,
      "the reload with three models",
    );
    writeConfig(file, { log: { format: "json" }, endpoints: { gpt: { url: 42 } } }, "atomic");
    await proc.line(
      jsonWhere((e) => msgOf(e).includes("rejected") && e.reason !== "SIGHUP"),
      5000,
      "the watcher's rejected reload",
    );
    proc.kill("SIGHUP");
    await proc.line(
      jsonWhere((e) => msgOf(e).includes("rejected") && e.reason === "SIGHUP"),
      5000,
      "the SIGHUP's rejected reload",
    );

    // Traffic: access lines on stdout.
    const ok = await postJson(`http://127.0.0.1:${port}/v1/chat/completions`, chatBody("gpt"), { "x-request-id": "json-log-ok" });
    expect((await ok.json()).choices[0].message.content).toBe("hello from json-log");
    const missing = await postJson(`http://127.0.0.1:${port}/v1/chat/completions`, chatBody("nope"), { "x-request-id": "json-log-404" });
    expect(missing.status).toBe(404);
    await missing.arrayBuffer();
    // A backend that answers and then stalls mid-body: the client's body is cut, and nothing but JSON reaches stderr.
    mock.willReply(reply.sse(['{"id":"chatcmpl-cut",'], { stallAfter: 1, headers: { "content-type": "application/json" } }));
    const cut = await postJson(`http://127.0.0.1:${port}/v1/chat/completions`, chatBody("stalls"), { "x-request-id": "json-log-cut" });
    expect(cut.status).toBe(200);
    expect(
      await cut.arrayBuffer().then(
        () => "complete",
        () => "cut",
      ),
    ).toBe("cut");
    mock.reset();
    // A request's access line is written once the response is out (and batched for up to 100 ms).
    for (const id of ["json-log-ok", "json-log-404", "json-log-cut"])
      await proc.stdoutLine(
        jsonWhere((e) => e.requestId === id),
        5000,
        `the access line of ${id}`,
      );

    expect(await proc.stop(10_000)).toBe(0); // SIGTERM: drain, flush the access lines, exit
    const stderr = everyLineJson(proc.stderr, "stderr");
    const stdout = everyLineJson(proc.stdout, "stdout");
    const output = proc.stdout + proc.stderr;
    proc = null;

    const listening = stderr.find((e) => msgOf(e).includes(" listening on "));
    expect(listening).toMatchObject({
      level: "info",
      version: expect.stringMatching(/^\d+\.\d+\.\d+/),
      address: `127.0.0.1:${port}`,
      models: 2,
      file,
      maxInFlight: 4096, // the start-up re-exec set Bun's limit to the default maxInFlight
    });
    expect(stderr.find((e) => msgOf(e).includes("no clientKeys"))).toMatchObject({ level: "warn" });
    expect(stderr.find((e) => msgOf(e).startsWith("config reloaded") && e.models === 3)).toMatchObject({ level: "info", file, reason: expect.any(String) });
    const rejected = stderr.filter((e) => msgOf(e).includes("rejected"));
    expect(rejected.length).toBeGreaterThanOrEqual(2);
    for (const entry of rejected) expect(entry).toMatchObject({ level: "warn", file, error: expect.stringContaining("endpoints.gpt.url") });
    expect(stderr.find((e) => msgOf(e).startsWith("SIGTERM: no new connections"))).toMatchObject({
      level: "info",
      signal: "SIGTERM",
      drainTimeoutMs: expect.any(Number),
    });
    expect(stderr.at(-1)).toMatchObject({ level: "info", msg: "all requests finished, exiting", signal: "SIGTERM", drained: true });

    expect(stdout.find((e) => e.requestId === "json-log-ok")).toMatchObject({
      level: "info",
      msg: "POST /v1/chat/completions 200",
      status: 200,
      model: "gpt",
      outcome: "ok",
    });
    expect(stdout.find((e) => e.requestId === "json-log-404")).toMatchObject({ level: "info", msg: "POST /v1/chat/completions 404", status: 404 });
    expect(stdout.find((e) => e.requestId === "json-log-cut")).toMatchObject({ status: 200, outcome: "timeout" });
    expect(output).not.toContain(ALPHA_KEY);
  }, 60_000);

  test("the format follows the config: the environment's JSON until a reload names text, whose own line is text", async () => {
    const dir = makeTempDir("json-log-follow");
    const file = join(dir, "config.json");
    writeConfig(file, { endpoints: endpoints(), clientKeys: [{ key: "json-log-client-key-0000000000", name: "a" }] });
    proc = spawnProcess([binary, "--config", file, "--port", "0", "--host", "127.0.0.1"], { cwd: dir, env: cleanEnv({ [LOG_FORMAT_ENV]: "json" }) });
    await proc.ready(20_000);
    writeConfig(file, { log: { format: "text" }, endpoints: endpoints(), clientKeys: [{ key: "json-log-client-key-0000000000", name: "a" }] }, "atomic");
    const reloaded = await proc.line((line) => / INFO {2}config reloaded \(/.test(line), 5000, "the text line of the reload");
    expect(reloaded).toMatch(/^\S+Z INFO {2}config reloaded \(.+\): 1 models from /);
    expect(await proc.stop(10_000)).toBe(0);
    const lines = proc.stderr.trimEnd().split("\n");
    proc = null;
    const listening = lines.findIndex((line) => line.includes(" listening on "));
    expect(parsed(lines[listening]!)).toMatchObject({ level: "info", models: 1, file }); // JSON from the environment
    const first = lines.findIndex((line) => line === reloaded);
    for (const line of lines.slice(0, first)) expect(parsed(line)).not.toBeNull();
    for (const line of lines.slice(first)) expect({ line, json: parsed(line) !== null }).toEqual({ line, json: false }); // text from the config on
  }, 60_000);
});

describe("stdout's reader going away", () => {
  test("the proxy keeps serving, says so once on stderr, and no write fails as an unhandled error", async () => {
    const dir = makeTempDir("json-log-epipe");
    const file = writeConfig(join(dir, "config.json"), { log: { format: "json" }, endpoints: endpoints() });
    proc = spawnProcess([binary, "--config", file, "--port", "0", "--host", "127.0.0.1"], { cwd: dir, env: cleanEnv(), stdoutReader: "gone" });
    const port = await proc.ready(20_000);
    const send = async () => {
      const response = await postJson(`http://127.0.0.1:${port}/v1/chat/completions`, chatBody("gpt"));
      expect(response.status).toBe(200);
      await response.text();
    };
    await send();
    // Its access line's batch cannot be written.
    await proc.line((line) => line.includes("stdout cannot be written"), 5000, "the warning about stdout");
    // Served all the same; this one's line is written (and dropped) when SIGTERM flushes the log.
    await send();
    expect(await proc.stop(10_000)).toBe(0);
    const lines = proc.stderr.trimEnd().split("\n");
    proc = null;
    expect(lines.filter((line) => line.includes("stdout cannot be written"))).toHaveLength(1);
    expect(lines.filter((line) => /unhandled|EPIPE/.test(line) && !line.includes("stdout cannot be written"))).toEqual([]);
  }, 60_000);
});

describe("errors before a config is loaded", () => {
  /** Exit 1 and exactly one line on stderr, a JSON object at level error; returns it. */
  function oneJsonError({ code, stdout, stderr }: Finished): Entry {
    const lines = stderr.trimEnd().split("\n");
    expect({ code, stdout, lines: lines.length }).toEqual({ code: 1, stdout: "", lines: 1 });
    const entry = parsed(lines[0]!);
    expect(entry).not.toBeNull();
    expect({ time: ISO_TIME.test(String(entry!.time)), level: entry!.level, msg: typeof entry!.msg }).toEqual({ time: true, level: "error", msg: "string" });
    return entry!;
  }

  test("a missing config file with CM_OPEN_WEBUI_PROXY_LOG_FORMAT=json: one JSON line on stderr, exit 1", async () => {
    const dir = makeTempDir("json-log-missing");
    const missing = join(dir, "absent.json");
    const result = await runToExit([binary, "--config", missing, "--port", "0", "--host", "127.0.0.1"], {
      cwd: dir,
      env: cleanEnv({ [LOG_FORMAT_ENV]: "json" }),
    });
    const entry = oneJsonError(result);
    expect(entry.msg).toContain("file not found (run with --init");
    expect(entry.file).toBe(missing);
  });

  test("a bad --port with the environment asking for JSON: one JSON line", async () => {
    const dir = makeTempDir("json-log-port");
    const result = await runToExit([binary, "--port", "eighty"], { cwd: dir, env: cleanEnv({ [LOG_FORMAT_ENV]: "json" }) });
    expect(oneJsonError(result).msg).toBe("--port: expected a port number, got 'eighty'");
  });

  test("an invalid config whose file asks for JSON: one JSON line with every problem, no environment needed", async () => {
    const dir = makeTempDir("json-log-invalid");
    const file = writeConfig(join(dir, "config.json"), { log: { format: "json" }, endpoints: { gpt: { url: 42 } } });
    const result = await runToExit([binary, "--config", file, "--port", "0", "--host", "127.0.0.1"], { cwd: dir, env: cleanEnv() });
    const entry = oneJsonError(result);
    expect(entry.msg).toStartWith("invalid configuration\n");
    expect(entry).toMatchObject({ file, problems: [expect.stringContaining("endpoints.gpt.url")] });
  });

  test("a port already in use with JSON asked for: one JSON line carrying the address it could not bind", async () => {
    const dir = makeTempDir("json-log-in-use");
    const file = writeConfig(join(dir, "config.json"), { endpoints: endpoints() });
    const taken = Bun.listen({ hostname: "127.0.0.1", port: 0, socket: { data() {} } });
    try {
      const result = await runToExit([binary, "--config", file, "--port", String(taken.port), "--host", "127.0.0.1"], {
        cwd: dir,
        env: cleanEnv({ [LOG_FORMAT_ENV]: "json" }),
      });
      expect(oneJsonError(result)).toMatchObject({
        msg: `cannot listen on 127.0.0.1:${taken.port}: port ${taken.port} is already in use`,
        address: `127.0.0.1:${taken.port}`,
      });
    } finally {
      taken.stop(true);
    }
  });

  test("without JSON asked for, a start-up failure stays the text line", async () => {
    const dir = makeTempDir("json-log-text");
    const result = await runToExit([binary, "--config", join(dir, "absent.json"), "--port", "0"], { cwd: dir, env: cleanEnv() });
    expect({ code: result.code, stderr: result.stderr }).toEqual({
      code: 1,
      stderr: expect.stringMatching(/^cm-open-webui-proxy: .*absent\.json: file not found.*\n$/),
    });
  });

  test("a log format the environment cannot mean is refused by name, in text", async () => {
    const dir = makeTempDir("json-log-bad-env");
    const result = await runToExit([binary, "--port", "0"], { cwd: dir, env: cleanEnv({ [LOG_FORMAT_ENV]: "yaml" }) });
    expect({ code: result.code, stderr: result.stderr }).toEqual({
      code: 1,
      stderr: `cm-open-webui-proxy: ${LOG_FORMAT_ENV}: expected text or json, got 'yaml'\n`,
    });
  });

  test("commands keep their human output on stdout in JSON mode (--version, --check-config)", async () => {
    const dir = makeTempDir("json-log-commands");
    const env = cleanEnv({ [LOG_FORMAT_ENV]: "json" });
    const version = await runToExit([binary, "--version"], { cwd: dir, env });
    expect({ code: version.code, stdout: version.stdout.trim(), stderr: version.stderr }).toEqual({
      code: 0,
      stdout: expect.stringMatching(/^\d+\.\d+\.\d+/),
      stderr: "",
    });
    const file = writeConfig(join(dir, "config.json"), { endpoints: endpoints() });
    const check = await runToExit([binary, "--check-config", "--config", file], { cwd: dir, env });
    expect({ code: check.code, stderr: check.stderr }).toEqual({ code: 0, stderr: "" });
    expect(check.stdout).toStartWith(`${file}: valid, 1 models`);
    const invalid = writeConfig(join(dir, "bad.json"), { endpoints: { gpt: { url: 42 } } });
    const failed = await runToExit([binary, "--check-config", "--config", invalid], { cwd: dir, env });
    expect(oneJsonError(failed)).toMatchObject({ file: invalid, problems: [expect.stringContaining("endpoints.gpt.url")] });
    // A warning names the file it is about, as a field too.
    const empty = writeConfig(join(dir, "empty.json"), { endpoints: {} });
    const warned = await runToExit([binary, "--check-config", "--config", empty], { cwd: dir, env });
    expect(warned.code).toBe(0);
    expect(everyLineJson(warned.stderr, "stderr")).toEqual([
      expect.objectContaining({ level: "warn", msg: expect.stringContaining("has no models"), file: empty }),
    ]);
    // So does a failed probe, the URL it asked.
    const unreachable = `http://127.0.0.1:${closedPort()}/ready`;
    const probed = await runToExit([binary, "--probe", unreachable, "--config", file], { cwd: dir, env });
    expect(oneJsonError(probed)).toMatchObject({ msg: `probe ${unreachable}: connection refused`, url: unreachable });
  });
});
