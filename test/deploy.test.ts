// deploy/: the Dockerfile, docker-compose.yml and the Kubernetes manifests must agree with the
// binary they run: its port, its probe routes, the environment variables it reads, its drain
// timeout, a config file it accepts. Each file is parsed (YAML with Bun.YAML, the Dockerfile by
// lines) and every such value is checked against the source or against a running proxy; nothing
// here needs Docker or a cluster. Also `--probe`, the image's HEALTHCHECK, against real servers.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { existsSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { dirname, join, posix } from "node:path";
import { Glob } from "bun";
import { loadConfig } from "../src/config/load";
import { DEFAULT_DRAIN_TIMEOUT_MS } from "../src/config/schema";
import { startMock, type MockBackend } from "./support/mock-backend";
import { openWebUIClaims, signToken } from "./support/openwebui-jwt";
import { BUN, CLI_ENTRY, REPO_ROOT, cleanEnv, runToExit } from "./support/process";
import { closedPort, makeTempDir, removeTempDirs, startProxy, type ProxyHandle } from "./support/proxy";

const DEPLOY = join(REPO_ROOT, "deploy");
const K8S = join(DEPLOY, "k8s");
const PORT = 3333;
const read = (path: string) => readFileSync(path, "utf8");
const yaml = (path: string): any => Bun.YAML.parse(read(path));

/** Every CM_OPEN_WEBUI_PROXY_* variable the proxy's source reads. */
function variablesTheProxyReads(): Set<string> {
  const names = new Set<string>();
  for (const file of new Glob("src/**/*.ts").scanSync(REPO_ROOT)) {
    if (file.endsWith(".test.ts")) continue;
    for (const [name] of read(join(REPO_ROOT, file)).matchAll(/CM_OPEN_WEBUI_PROXY_[A-Z_]+/g)) names.add(name);
  }
  return names;
}

const makefileVar = (name: string) => new RegExp(`^${name}\\s*:?=\\s*(.+)$`, "m").exec(read(join(REPO_ROOT, "Makefile")))?.[1]?.trim();

/** The config's drain timeout in whole seconds (rounded up). */
const drainSeconds = (config: { drainTimeoutMs?: number }) => Math.ceil((config.drainTimeoutMs ?? DEFAULT_DRAIN_TIMEOUT_MS) / 1000);

/** Writes `text` to a temp file (config.json) and loads it as the proxy would, with `env` only. */
async function loadWith(text: string, env: Record<string, string>) {
  const path = join(makeTempDir("deploy-config"), "config.json");
  writeFileSync(path, text);
  return loadConfig(path, env);
}

let mock: MockBackend;
let proxy: ProxyHandle;
beforeAll(async () => {
  mock = startMock("deploy");
  proxy = await startProxy({ endpoints: { m: { url: mock.url } } });
});
afterAll(async () => {
  await proxy.stop();
  await mock.stop();
  removeTempDirs();
});

test("the probe paths the manifests use are the proxy's /health (liveness) and /ready (readiness)", async () => {
  for (const path of ["/health", "/ready"]) {
    const response = await fetch(proxy.url(path));
    expect({ path, status: response.status }).toEqual({ path, status: 200 });
  }
});

test("the env names in deploy/ are ones the proxy reads", () => {
  const known = variablesTheProxyReads();
  for (const name of ["CM_OPEN_WEBUI_PROXY_CONFIG_FILE", "CM_OPEN_WEBUI_PROXY_PORT", "CM_OPEN_WEBUI_PROXY_ADMIN_KEY"]) expect(known).toContain(name);
  const files = [...new Glob("**/*").scanSync(DEPLOY)];
  for (const file of files) {
    for (const [name] of read(join(DEPLOY, file)).matchAll(/CM_OPEN_WEBUI_PROXY_[A-Z_]+/g))
      expect({ file, name, known: known.has(name) }).toEqual({ file, name, known: true });
  }
});

describe("deploy/Dockerfile", () => {
  /** Instructions, continuation lines joined, comments dropped; with the stage each belongs to. */
  const instructions = read(join(DEPLOY, "Dockerfile"))
    .replace(/\\\n/g, " ")
    .split("\n")
    .map((line) => line.trim())
    .filter((line) => line && !line.startsWith("#"))
    .map((line) => {
      const [, keyword, rest] = /^(\S+)\s+(.*)$/.exec(line)!;
      return { keyword: keyword!.toUpperCase(), args: rest!.trim() };
    });
  const stages: { from: string; lines: typeof instructions }[] = [];
  for (const line of instructions) {
    if (line.keyword === "FROM") stages.push({ from: line.args, lines: [] });
    else stages.at(-1)?.lines.push(line);
  }
  const final = stages.at(-1)!;
  const arg = (name: string) => instructions.find((i) => i.keyword === "ARG" && i.args.startsWith(`${name}=`))?.args.split("=")[1];
  const last = (keyword: string) => final.lines.filter((i) => i.keyword === keyword).at(-1)?.args;
  const execForm = (args: string) => JSON.parse(args.replace(/^CMD\s+/, "")) as string[];
  const entrypoint = () => execForm(last("ENTRYPOINT")!)[0]!;
  const env = () => {
    const values: Record<string, string> = {};
    for (const line of final.lines.filter((i) => i.keyword === "ENV")) {
      for (const [, name, value] of line.args.matchAll(/(\w+)=(\S+)/g)) values[name!] = value!;
    }
    return values;
  };

  test("builds with the official Debian Bun image at the Makefile's Bun version, through make build", () => {
    expect(arg("BUN_VERSION")).toBe(makefileVar("BUN_VERSION"));
    const build = stages[0]!;
    expect(build.from).toMatch(/^oven\/bun:\$\{BUN_VERSION\}-debian\s+AS\s+build$/i);
    expect(build.lines.some((i) => i.keyword === "RUN" && /\bmake build\b/.test(i.args))).toBe(true);
    // What make build writes is what the final stage copies.
    const name = makefileVar("NAME");
    const copy = final.lines.find((i) => i.keyword === "COPY" && i.args.includes(`dist/${name}`));
    expect(copy?.args.split(/\s+/).at(-1)).toBe(entrypoint());
  });

  test("runs on a distroless base as a non-root user", () => {
    expect(final.from).toMatch(/^gcr\.io\/distroless\/cc-debian\d+:nonroot$/);
    const user = last("USER")!;
    expect(user).toMatch(/^\d+(:\d+)?$/); // numeric, so Kubernetes' runAsNonRoot can check it
    expect(Number(user.split(":")[0])).toBeGreaterThan(0);
  });

  test("exposes the proxy's port and names its config file", () => {
    expect(last("EXPOSE")).toBe(String(PORT));
    expect(env()).toMatchObject({ CM_OPEN_WEBUI_PROXY_PORT: String(PORT), CM_OPEN_WEBUI_PROXY_CONFIG_FILE: "/config/config.json" });
  });

  test("HEALTHCHECK runs the binary's --probe on /ready at the exposed port, and that command works", async () => {
    const healthcheck = last("HEALTHCHECK")!;
    const command = execForm(healthcheck.slice(healthcheck.indexOf("CMD")));
    expect(command).toEqual([entrypoint(), "--probe", `http://127.0.0.1:${PORT}/ready`]);
    // The same arguments, aimed at a running proxy's port, exit 0.
    const url = command[2]!.replace(`:${PORT}/`, `:${proxy.server.port}/`);
    const { code, stderr } = await runToExit([BUN, CLI_ENTRY, "--probe", url], { cwd: REPO_ROOT, env: cleanEnv() });
    expect({ code, stderr }).toEqual({ code: 0, stderr: "" });
  });

  test("the build context leaves out dependencies, local configs and secrets", () => {
    const ignored = read(join(DEPLOY, "Dockerfile.dockerignore"))
      .split("\n")
      .map((line) => line.trim());
    for (const entry of [".git", ".tools", "node_modules", "dist", "config.json", ".env"]) expect(ignored).toContain(entry);
  });
});

/** What the operator exports for a variable compose requires (`${NAME:?why}`), as the header comment says. */
const exported = (name: string) => `${name.toLowerCase()}-as-the-operator-exports-it-0123456789`;

/**
 * Compose's `${NAME:-default}`: the default (what runs when the operator exports nothing); a
 * required `${NAME:?why}`: what the operator exports.
 */
const composeDefault = (value: string) =>
  value.replace(/\$\{(\w+)(?::?([-?])([^}]*))?\}/g, (_, name: string, kind: string | undefined, fallback: string | undefined) =>
    kind === "?" ? exported(name) : (fallback ?? ""),
  );

describe("deploy/docker-compose.yml", () => {
  const compose = yaml(join(DEPLOY, "docker-compose.yml"));
  const { proxy: proxyService, "open-webui": webui, redis } = compose.services;
  const proxyEnv = (): Record<string, string> =>
    Object.fromEntries(Object.entries(proxyService.environment as Record<string, string>).map(([k, v]) => [k, composeDefault(String(v))]));
  const configMount = () => {
    const mount = (proxyService.volumes as string[]).find((volume) => volume.split(":")[1] === proxyEnv().CM_OPEN_WEBUI_PROXY_CONFIG_FILE);
    return mount?.split(":")[0];
  };

  test("runs Open WebUI, the proxy built from deploy/Dockerfile, and Redis", () => {
    expect(Object.keys(compose.services).sort()).toEqual(["open-webui", "proxy", "redis"]);
    expect(webui.image).toBe("ghcr.io/open-webui/open-webui:main");
    expect(redis.image).toBe("redis:7");
    expect(existsSync(join(DEPLOY, proxyService.build.context, proxyService.build.dockerfile))).toBe(true);
    expect(posix.normalize(posix.join("deploy", proxyService.build.context, proxyService.build.dockerfile))).toBe("deploy/Dockerfile");
  });

  test("the proxy listens on 3333 and gets its config file mounted where CM_OPEN_WEBUI_PROXY_CONFIG_FILE says", () => {
    expect(proxyEnv().CM_OPEN_WEBUI_PROXY_PORT).toBe(String(PORT));
    expect(proxyService.ports).toContain(`${PORT}:${PORT}`);
    expect(configMount()).toBe("./config.json");
    expect(existsSync(join(DEPLOY, configMount()!))).toBe(true);
  });

  test("Open WebUI talks to the proxy service at its port, with one of the config's client keys", async () => {
    const base = new URL(webui.environment.OPENAI_API_BASE_URL);
    expect({ host: base.hostname, port: Number(base.port), path: base.pathname }).toEqual({ host: "proxy", port: PORT, path: "/v1" });
    const config = await loadWith(read(join(DEPLOY, configMount()!)), proxyEnv());
    expect(config.clients.keys.map((key) => key.name)).toContain("open-webui");
    const raw = JSON.parse(read(join(DEPLOY, configMount()!)));
    const webuiKey = composeDefault(webui.environment.OPENAI_API_KEY);
    const clientKeys = (raw.clientKeys as { key: string }[]).map((entry) =>
      composeDefault(entry.key.replace(/\$\{(\w+)\}/g, (_, name) => proxyEnv()[name] ?? "")),
    );
    expect(clientKeys).toContain(webuiKey);
  });

  test("its config.json passes the proxy's validation and points state.redis at the Redis service", async () => {
    const text = read(join(DEPLOY, configMount()!));
    await loadWith(text, proxyEnv()); // throws ConfigError with every problem otherwise
    const raw = JSON.parse(text);
    const redisUrl = new URL(raw.state.redis);
    expect({ protocol: redisUrl.protocol, host: redisUrl.hostname, port: redisUrl.port || "6379" }).toEqual({
      protocol: "redis:",
      host: "redis",
      port: "6379",
    });
    // usage.path lies in a volume the proxy can write (the image's root is not its to write).
    const dataMount = (proxyService.volumes as string[]).map((volume) => volume.split(":")[1]).find((target) => raw.usage.path.startsWith(`${target}/`));
    expect(dataMount).toBe("/data");
  });

  test("Open WebUI signs its user with the secret the proxy verifies, which the operator must set", async () => {
    expect(webui.environment.ENABLE_FORWARD_USER_INFO_HEADERS).toBe("true");
    const secretOf = (value: string) => {
      expect(value).toMatch(/^\$\{\w+:\?[^}]*\}$/); // required: no default anyone could read here
      return composeDefault(value);
    };
    const webuiSecret = secretOf(webui.environment.FORWARD_USER_INFO_HEADER_JWT_SECRET);
    const config = await loadWith(read(join(DEPLOY, configMount()!)), proxyEnv());
    expect(secretOf(proxyService.environment.OPEN_WEBUI_USER_JWT_SECRET)).toBe(webuiSecret);
    expect(config.warnings).toEqual([]);
    const token = signToken(openWebUIClaims({ id: "u-compose" }), webuiSecret);
    expect(config.openWebUI.userToken?.verify(token)?.id).toBe("u-compose");
    expect(config.openWebUI.userToken?.verify(signToken(openWebUIClaims({ id: "u-compose" }), `${webuiSecret}x`))).toBeNull();
    // The header comment, which a user follows, exports it.
    expect(read(join(DEPLOY, "docker-compose.yml"))).toMatch(/^#\s+export OPEN_WEBUI_USER_JWT_SECRET=\$\(openssl rand -hex 32\)/m);
  });

  test("stop_grace_period covers the drain timeout plus 5 s", () => {
    const raw = JSON.parse(read(join(DEPLOY, configMount()!)));
    const seconds = Number(/^(\d+)s$/.exec(proxyService.stop_grace_period)?.[1]);
    expect(seconds).toBeGreaterThanOrEqual(drainSeconds(raw) + 5);
  });
});

describe("deploy/k8s", () => {
  const docs = () =>
    Object.fromEntries(
      readdirSync(K8S)
        .filter((file) => file.endsWith(".yaml"))
        .map((file) => [file, yaml(join(K8S, file))]),
    );
  const byKind = (kind: string) => {
    const found = Object.values(docs()).filter((doc: any) => doc.kind === kind);
    expect({ kind, count: found.length }).toEqual({ kind, count: 1 });
    return found[0] as any;
  };
  const deployment = () => byKind("Deployment");
  const pod = () => deployment().spec.template.spec;
  const container = () => pod().containers[0];
  const configMap = () => byKind("ConfigMap");
  const secret = () => byKind("Secret");
  const rawConfig = () => JSON.parse(configMap().data["config.json"]);
  const envValue = (name: string) => container().env.find((entry: any) => entry.name === name)?.value;
  const podLabels = () => deployment().spec.template.metadata.labels;
  const selects = (selector: Record<string, string>) => Object.entries(selector).every(([key, value]) => podLabels()[key] === value);

  test("has a Deployment, Service, ConfigMap, Secret, HorizontalPodAutoscaler and PodDisruptionBudget, all in the kustomization", () => {
    for (const kind of ["Deployment", "Service", "ConfigMap", "Secret", "HorizontalPodAutoscaler", "PodDisruptionBudget"]) byKind(kind);
    const resources = (yaml(join(K8S, "kustomization.yaml")).resources as string[]).sort();
    expect(resources).toEqual(
      Object.entries(docs())
        .filter(([, doc]: [string, any]) => doc.kind !== "Kustomization")
        .map(([file]) => file)
        .sort(),
    );
  });

  test("the container listens on 3333, with liveness on /health and readiness on /ready at that port", () => {
    const port = container().ports.find((entry: any) => entry.containerPort === PORT);
    expect(port).toBeDefined();
    expect(envValue("CM_OPEN_WEBUI_PROXY_PORT")).toBe(String(PORT));
    const probePort = (probe: any) => (probe.httpGet.port === port.name ? PORT : probe.httpGet.port);
    expect({ path: container().livenessProbe.httpGet.path, port: probePort(container().livenessProbe) }).toEqual({ path: "/health", port: PORT });
    expect({ path: container().readinessProbe.httpGet.path, port: probePort(container().readinessProbe) }).toEqual({ path: "/ready", port: PORT });
    // No service links: a Service named cm-open-webui-proxy would inject CM_OPEN_WEBUI_PROXY_PORT=tcp://...
    expect(pod().enableServiceLinks).toBe(false);
  });

  test("the Service sends 3333 to the pods' port 3333", () => {
    const service = byKind("Service");
    expect(selects(service.spec.selector)).toBe(true);
    const port = service.spec.ports[0];
    expect(port.port).toBe(PORT);
    const target =
      typeof port.targetPort === "string" ? container().ports.find((entry: any) => entry.name === port.targetPort)?.containerPort : port.targetPort;
    expect(target).toBe(PORT);
  });

  test("terminationGracePeriodSeconds covers the preStop pause, the config's drainTimeoutMs and 5 s more", () => {
    const preStop = container().lifecycle?.preStop?.sleep?.seconds ?? 0;
    expect(pod().terminationGracePeriodSeconds).toBeGreaterThanOrEqual(preStop + drainSeconds(rawConfig()) + 5);
  });

  test("runs as non-root with a read-only root file system, and writes only to mounted volumes", () => {
    expect(pod().securityContext).toMatchObject({ runAsNonRoot: true });
    expect(pod().securityContext.runAsUser).toBeGreaterThan(0);
    expect(container().securityContext).toMatchObject({ readOnlyRootFilesystem: true, allowPrivilegeEscalation: false, capabilities: { drop: ["ALL"] } });
    const mounts = container().volumeMounts as { name: string; mountPath: string; readOnly?: boolean }[];
    const writable = mounts.filter((mount) => !mount.readOnly).map((mount) => mount.mountPath);
    expect(writable.some((path) => rawConfig().usage.path.startsWith(`${path}/`))).toBe(true);
    expect(container().resources.requests).toMatchObject({ cpu: expect.anything(), memory: expect.anything() });
    expect(container().resources.limits).toMatchObject({ memory: expect.anything() });
  });

  test("the config file is the ConfigMap's config.json, and the keys come from the Secret", () => {
    const configFile = envValue("CM_OPEN_WEBUI_PROXY_CONFIG_FILE");
    const mount = container().volumeMounts.find((entry: any) => entry.mountPath === dirname(configFile));
    const volume = pod().volumes.find((entry: any) => entry.name === mount.name);
    expect(volume.configMap.name).toBe(configMap().metadata.name);
    expect(Object.keys(configMap().data)).toContain(configFile.slice(dirname(configFile).length + 1));
    expect(container().envFrom.map((entry: any) => entry.secretRef?.name)).toContain(secret().metadata.name);
    expect(Object.keys(secret().stringData)).toContain("CM_OPEN_WEBUI_PROXY_ADMIN_KEY");
  });

  test("the ConfigMap's config.json passes the proxy's own validation with the Secret's values as environment", async () => {
    const env: Record<string, string> = { ...secret().stringData };
    for (const entry of container().env) if (entry.value !== undefined) env[entry.name] = entry.value;
    const config = await loadWith(configMap().data["config.json"], env);
    expect(config.models.size).toBeGreaterThan(0);
    expect(config.adminDigest).not.toBeNull(); // the Secret's admin key is picked up
    expect(config.clients.keys.length).toBeGreaterThan(0);
    // Open WebUI's user is verified with the Secret's value, and the notes tell how to set Open WebUI's side.
    const jwtSecret = secret().stringData.OPEN_WEBUI_USER_JWT_SECRET;
    expect(config.openWebUI.userToken?.verify(signToken(openWebUIClaims({ id: "u-k8s" }), jwtSecret))?.id).toBe("u-k8s");
    const notes = read(join(K8S, "secret.yaml"));
    for (const name of ["ENABLE_FORWARD_USER_INFO_HEADERS=true", "FORWARD_USER_INFO_HEADER_JWT_SECRET"]) expect(notes).toContain(name);
    // Without the Secret, the config is refused (its keys are not in the file).
    await expect(loadWith(configMap().data["config.json"], {})).rejects.toThrow(/OPENAI_API_KEY/);
  });

  test("the autoscaler scales the Deployment, and the disruption budget leaves a pod up", () => {
    const hpa = byKind("HorizontalPodAutoscaler");
    expect(hpa.spec.scaleTargetRef).toMatchObject({ kind: "Deployment", name: deployment().metadata.name });
    expect(hpa.spec.minReplicas).toBeGreaterThanOrEqual(2);
    expect(hpa.spec.maxReplicas).toBeGreaterThan(hpa.spec.minReplicas);
    const pdb = byKind("PodDisruptionBudget");
    expect(selects(pdb.spec.selector.matchLabels)).toBe(true);
    expect(pdb.spec.minAvailable).toBeGreaterThanOrEqual(1);
    expect(pdb.spec.minAvailable).toBeLessThan(hpa.spec.minReplicas); // a node drain can still move a pod
    expect(selects(deployment().spec.selector.matchLabels)).toBe(true);
  });
});

describe("--probe, the image's HEALTHCHECK", () => {
  const probe = (args: string[], env: Record<string, string> = {}) => runToExit([BUN, CLI_ENTRY, "--probe", ...args], { cwd: REPO_ROOT, env: cleanEnv(env) });

  test("a ready proxy: exit 0", async () => {
    const { code, stdout, stderr } = await probe([proxy.url("/ready")]);
    expect({ code, stderr }).toEqual({ code: 0, stderr: "" });
    expect(stdout.trim()).toBe(`${proxy.url("/ready")}: 200 OK`);
  });

  test("with no URL: /ready on 127.0.0.1 at --port, else CM_OPEN_WEBUI_PROXY_PORT", async () => {
    const port = String(proxy.server.port);
    expect((await probe(["--port", port])).code).toBe(0);
    expect((await probe([], { CM_OPEN_WEBUI_PROXY_PORT: port })).code).toBe(0);
    const closed = await probe(["--port", String(closedPort())]);
    expect(closed.code).toBe(1);
    expect(closed.stderr).toMatch(/^cm-open-webui-proxy: probe http:\/\/127\.0\.0\.1:\d+\/ready: connection refused\n$/);
  });

  test("a closed port: exit 1, one line on why", async () => {
    const url = `http://127.0.0.1:${closedPort()}/ready`;
    const { code, stderr } = await probe([url]);
    expect({ code, stderr }).toEqual({ code: 1, stderr: `cm-open-webui-proxy: probe ${url}: connection refused\n` });
  });

  test("a 503 (a proxy not ready, or shutting down): exit 1", async () => {
    mock.willReply({ kind: "raw", body: '{"error":{"message":"not ready"}}', status: 503 });
    try {
      const url = `${mock.url}/ready`;
      const { code, stderr } = await probe([url]);
      expect({ code, stderr }).toEqual({ code: 1, stderr: `cm-open-webui-proxy: probe ${url}: answered 503 Service Unavailable\n` });
    } finally {
      mock.reset();
    }
  });

  test("is listed in --help", async () => {
    const { stdout } = await runToExit([BUN, CLI_ENTRY, "--help"], { cwd: REPO_ROOT, env: cleanEnv() });
    expect(stdout).toContain("--probe [url]");
    expect(stdout).toContain("maxInFlight");
  });
});
