import { describe, expect, test } from "bun:test";
import { parseCli, type CliCommand } from "./args";

type Env = Record<string, string | undefined>;

/** parseCli with `files` as the only files that exist. */
const parse = (argv: string[], env: Env = {}, files: string[] = []): CliCommand => parseCli(argv, env, (path) => files.includes(path));

/** A fileExists that fails the test when consulted: the command must not depend on what exists. */
const noLookup = (path: string): boolean => {
  throw new Error(`looked up ${path}`);
};

const serveDefaults: CliCommand = { kind: "serve", configPath: "config.json", port: 3333, hostname: "0.0.0.0", fromExample: false };
const usage = (message: string): CliCommand => ({ kind: "usage-error", message, withHelp: true });

describe("parseCli: --help and --version", () => {
  test("each is its command", () => {
    expect(parse(["--help"])).toEqual({ kind: "help" });
    expect(parse(["--version"])).toEqual({ kind: "version" });
  });

  test("they win over every other flag, a bad port and stray arguments; --help over --version", () => {
    expect(parse(["--check-config", "--init", "--probe", "--help"])).toEqual({ kind: "help" });
    expect(parse(["--help", "stray", "--port", "eighty"])).toEqual({ kind: "help" });
    expect(parse(["--version", "--init", "x", "y"])).toEqual({ kind: "version" });
    expect(parse(["--version", "--help"])).toEqual({ kind: "help" });
  });

  test("an unknown flag is refused even beside --help", () => {
    expect(parse(["--help", "--no-such-flag"])).toEqual({ kind: "usage-error", message: expect.stringContaining("'--no-such-flag'"), withHelp: true });
  });
});

describe("parseCli: usage errors come with the help", () => {
  test("an unknown flag", () => {
    expect(parse(["--no-such-flag"])).toEqual({ kind: "usage-error", message: expect.stringContaining("'--no-such-flag'"), withHelp: true });
  });

  test("a flag that needs a value and has none", () => {
    expect(parse(["--config"])).toEqual({ kind: "usage-error", message: expect.stringContaining("'--config <value>' argument missing"), withHelp: true });
    expect(parse(["--port"])).toEqual({ kind: "usage-error", message: expect.stringContaining("'--port <value>' argument missing"), withHelp: true });
  });

  test("a boolean flag given a value", () => {
    expect(parse(["--check-config=yes"])).toMatchObject({ kind: "usage-error", withHelp: true });
  });

  test("--init and --probe together, in either order", () => {
    expect(parse(["--init", "--probe"])).toEqual(usage("--init and --probe cannot be combined"));
    expect(parse(["--probe", "--init", "x"])).toEqual(usage("--init and --probe cannot be combined"));
  });

  test("a stray argument: any without --init or --probe, a second one with them", () => {
    expect(parse(["config.json"])).toEqual(usage("unexpected argument 'config.json'"));
    expect(parse(["--check-config", "x.json"])).toEqual(usage("unexpected argument 'x.json'"));
    expect(parse(["--config", "a.json", "b.json"])).toEqual(usage("unexpected argument 'b.json'"));
    expect(parse(["--init", "a.json", "b.json"])).toEqual(usage("unexpected argument 'b.json'"));
    expect(parse(["--probe", "http://a/ready", "http://b/ready"])).toEqual(usage("unexpected argument 'http://b/ready'"));
  });
});

describe("parseCli: serving", () => {
  test("no arguments, nothing set: config.json, port 3333, every address", () => {
    expect(parse([], {}, ["config.json"])).toEqual(serveDefaults);
  });

  test("--config, --port and --host, in either spelling", () => {
    expect(parse(["--config", "my.json", "--port", "8080", "--host", "127.0.0.1"])).toEqual({
      ...serveDefaults,
      configPath: "my.json",
      port: 8080,
      hostname: "127.0.0.1",
    });
    expect(parse(["--config=my.json", "--port=8080", "--host=::1"])).toEqual({ ...serveDefaults, configPath: "my.json", port: 8080, hostname: "::1" });
  });

  test("ports 0 (any free one) to 65535 are accepted", () => {
    expect(parse(["--port", "0"])).toMatchObject({ kind: "serve", port: 0 });
    expect(parse(["--port", "65535"])).toMatchObject({ kind: "serve", port: 65535 });
  });

  test("a bad --port is refused by name, without the help", () => {
    // Number() would read "" and " " as 0 (any free port), "0x1f90" as 8080 and "1e3" as 1000: only decimal digits are a port.
    for (const bad of ["eighty", "65536", "1.5", "-1", "", " ", "0x1f90", "1e3", "+80"]) {
      expect(parse([`--port=${bad}`])).toEqual({ kind: "usage-error", message: `--port: expected a port number, got '${bad}'`, withHelp: false });
    }
  });

  test("CM_OPEN_WEBUI_PROXY_PORT sets the port when --port is absent; --port wins over it", () => {
    expect(parse([], { CM_OPEN_WEBUI_PROXY_PORT: "4000" })).toMatchObject({ kind: "serve", port: 4000 });
    expect(parse(["--port", "5000"], { CM_OPEN_WEBUI_PROXY_PORT: "4000" })).toMatchObject({ kind: "serve", port: 5000 });
  });

  test("a bad CM_OPEN_WEBUI_PROXY_PORT is refused by name, unless --port overrides it; an empty one means unset", () => {
    expect(parse([], { CM_OPEN_WEBUI_PROXY_PORT: "nope" })).toEqual({
      kind: "usage-error",
      message: "CM_OPEN_WEBUI_PROXY_PORT: expected a port number, got 'nope'",
      withHelp: false,
    });
    expect(parse(["--port", "5000"], { CM_OPEN_WEBUI_PROXY_PORT: "nope" })).toMatchObject({ kind: "serve", port: 5000 });
    expect(parse([], { CM_OPEN_WEBUI_PROXY_PORT: "" })).toMatchObject({ kind: "serve", port: 3333 });
    expect(parse([], { CM_OPEN_WEBUI_PROXY_PORT: " " })).toMatchObject({
      kind: "usage-error",
      message: "CM_OPEN_WEBUI_PROXY_PORT: expected a port number, got ' '",
    });
  });

  test("CM_OPEN_WEBUI_PROXY_CONFIG_FILE names the file when --config is absent; --config wins over it; an empty one means unset", () => {
    expect(parse([], { CM_OPEN_WEBUI_PROXY_CONFIG_FILE: "/config/env.json" })).toMatchObject({ kind: "serve", configPath: "/config/env.json" });
    expect(parse(["--config", "flag.json"], { CM_OPEN_WEBUI_PROXY_CONFIG_FILE: "/config/env.json" })).toMatchObject({ kind: "serve", configPath: "flag.json" });
    expect(parse([], { CM_OPEN_WEBUI_PROXY_CONFIG_FILE: "" }, ["config.json"])).toMatchObject({ kind: "serve", configPath: "config.json" });
  });

  test("other environment variables change nothing", () => {
    expect(parse([], { CM_OPEN_WEBUI_PROXY_LOG_FORMAT: "yaml", BUN_CONFIG_MAX_HTTP_REQUESTS: "1", PORT: "1" }, ["config.json"])).toEqual(serveDefaults);
  });
});

describe("parseCli: config.json, else config.example.json", () => {
  test("config.json when it exists, whether or not the example does", () => {
    expect(parse([], {}, ["config.json"])).toMatchObject({ configPath: "config.json", fromExample: false });
    expect(parse([], {}, ["config.json", "config.example.json"])).toMatchObject({ configPath: "config.json", fromExample: false });
  });

  test("the example stands in when config.json is missing", () => {
    expect(parse([], {}, ["config.example.json"])).toMatchObject({ kind: "serve", configPath: "config.example.json", fromExample: true });
    expect(parse(["--check-config"], {}, ["config.example.json"])).toEqual({ kind: "check", configPath: "config.example.json", fromExample: true });
  });

  test("with neither, config.json: the file a start-up error names", () => {
    expect(parse([])).toMatchObject({ configPath: "config.json", fromExample: false });
  });

  test("a named file is taken as named, never looked up nor replaced by the example", () => {
    expect(parseCli(["--config", "missing.json"], {}, noLookup)).toMatchObject({ configPath: "missing.json", fromExample: false });
    expect(parseCli([], { CM_OPEN_WEBUI_PROXY_CONFIG_FILE: "missing.json" }, noLookup)).toMatchObject({ configPath: "missing.json", fromExample: false });
    expect(parseCli(["--config", "config.example.json"], {}, noLookup)).toMatchObject({ configPath: "config.example.json", fromExample: false });
  });
});

describe("parseCli: --check-config", () => {
  test("checks the file serving would use", () => {
    expect(parse(["--check-config"], {}, ["config.json"])).toEqual({ kind: "check", configPath: "config.json", fromExample: false });
    expect(parse(["--check-config", "--config", "my.json"])).toEqual({ kind: "check", configPath: "my.json", fromExample: false });
    expect(parse(["--check-config"], { CM_OPEN_WEBUI_PROXY_CONFIG_FILE: "env.json" })).toEqual({ kind: "check", configPath: "env.json", fromExample: false });
  });

  test("a bad port is refused here too", () => {
    expect(parse(["--check-config", "--port", "eighty"])).toMatchObject({ kind: "usage-error", withHelp: false });
    expect(parse(["--check-config"], { CM_OPEN_WEBUI_PROXY_PORT: "nope" })).toMatchObject({ kind: "usage-error", withHelp: false });
  });
});

describe("parseCli: --init", () => {
  test("the file given, else --config's, else CM_OPEN_WEBUI_PROXY_CONFIG_FILE's, else config.json", () => {
    const env = { CM_OPEN_WEBUI_PROXY_CONFIG_FILE: "env.json" };
    expect(parse(["--init", "given.json", "--config", "flag.json"], env)).toEqual({ kind: "init", file: "given.json" });
    expect(parse(["--config", "flag.json", "--init"], env)).toEqual({ kind: "init", file: "flag.json" });
    expect(parse(["--init"], env)).toEqual({ kind: "init", file: "env.json" });
    expect(parse(["--init"])).toEqual({ kind: "init", file: "config.json" });
  });

  test("looks nothing up: an existing file is the writer's refusal, and the example is no fallback here", () => {
    expect(parseCli(["--init"], {}, noLookup)).toEqual({ kind: "init", file: "config.json" });
  });

  test("a bad port, from the flag or the environment, does not stop it", () => {
    expect(parse(["--init", "--port", "eighty"], { CM_OPEN_WEBUI_PROXY_PORT: "nope" })).toEqual({ kind: "init", file: "config.json" });
  });

  test("wins over --check-config", () => {
    expect(parse(["--check-config", "--init"])).toEqual({ kind: "init", file: "config.json" });
  });
});

describe("parseCli: --probe", () => {
  test("the URL given", () => {
    expect(parse(["--probe", "http://10.0.0.1:9000/health"])).toEqual({ kind: "probe", url: "http://10.0.0.1:9000/health", configPath: "config.json" });
  });

  test("no URL: /ready on 127.0.0.1 at --port, else CM_OPEN_WEBUI_PROXY_PORT, else 3333", () => {
    const env = { CM_OPEN_WEBUI_PROXY_PORT: "4000" };
    expect(parse(["--probe", "--port", "5000"], env)).toMatchObject({ kind: "probe", url: "http://127.0.0.1:5000/ready" });
    expect(parse(["--probe"], env)).toMatchObject({ kind: "probe", url: "http://127.0.0.1:4000/ready" });
    expect(parse(["--probe"])).toMatchObject({ kind: "probe", url: "http://127.0.0.1:3333/ready" });
  });

  test("carries the config file whose log.format its failure line follows", () => {
    expect(parse(["--probe", "--config", "my.json"])).toMatchObject({ kind: "probe", configPath: "my.json" });
    expect(parse(["--probe"], {}, ["config.example.json"])).toMatchObject({ kind: "probe", configPath: "config.example.json" });
  });

  test("a bad port is refused, even with a URL given", () => {
    expect(parse(["--probe", "http://127.0.0.1:1/ready", "--port", "eighty"])).toEqual({
      kind: "usage-error",
      message: "--port: expected a port number, got 'eighty'",
      withHelp: false,
    });
  });

  test("wins over --check-config", () => {
    expect(parse(["--check-config", "--probe"])).toMatchObject({ kind: "probe" });
  });
});
