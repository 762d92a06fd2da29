// Where the proxy's CPU per request goes, measured inside the proxy itself (bench/FINDINGS.md,
// "Seventh session"). Builds copies of src/ in which `Dispatcher.dispatch` is replaced, compiles
// each like the binary, and compares them with `bench/ab.ts` against the real binary:
//
//   stub                the dispatch answers a constant 600-byte JSON body itself: the whole app
//                       (Elysia, hooks, record, client access, body reader, schema, observers), no backend
//   stub-no-observers   the same without the access log, usage row, metrics and status-page stats
//   bare-fetch          the floor's own forward in place of the dispatch (two headers, the body stream returned)
//   required-forward    bare-fetch plus what the required floor does: the client's headers forwarded,
//                       an abort controller wired to the client's disconnect and a first-byte timer, a
//                       small answer read whole under an idle timer, the answer's headers cleaned
//   send-relay          the proxy's own `send` and `relay` called directly (no selection, lease or usage read)
//   proxy               the binary as built (`make build`)
//
//   bun bench/ablate.ts [--rounds N]      (run `make build` first; about 10 minutes at 8 rounds; the copies are built in a temporary folder and removed)
//
// None of the copies is shippable; each only locates cost. An edit whose anchor text is gone from
// src/ fails the build of its copy with the anchor named, so this script goes stale loudly.
import { cpSync, existsSync, mkdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { resolve } from "node:path";
import { parseArgs } from "node:util";
import { BUN, log, ROOT } from "./rig";

const { values } = parseArgs({ args: Bun.argv.slice(2), options: { rounds: { type: "string", default: "8" } } });
const BUILD_FLAGS = (process.env.BENCH_BUILD_FLAGS ?? "--compile --minify --sourcemap --bytecode --format=esm").split(/\s+/).filter(Boolean);
const PROXY = resolve(ROOT, "dist/cm-open-webui-proxy");
if (!existsSync(PROXY)) throw new Error(`${PROXY} is missing: run \`make build\` first`);
// Outside the checkout: copies of src/ inside it would be type-checked and tested with it.
const WORK = resolve(tmpdir(), `cm-proxy-ablate-${process.pid}`);

interface Edit {
  readonly file: string;
  readonly find: string;
  readonly replace: string;
}

const DISPATCH = "src/proxy/dispatch.ts";
const ANCHOR = "    return new Dispatch(this.deps, request).run();";

/** A dispatch that ends the record the way a relayed body does, then returns `response`. */
const dispatchWith = (response: string): Edit => ({
  file: DISPATCH,
  find: ANCHOR,
  replace: `    const record = request.record;
    const target = request.model.targets[0]!;
    const served = (response: Response) => {
      record.servedModel = target.modelId;
      record.servedTarget = target.name;
      record.endsWithBody = true;
      record.afterResponse = () => record.end(response.status, "ok");
      return response;
    };
    return ${response}.then(served);`,
});

const STUB = dispatchWith(
  `Promise.resolve(new Response("${"x".repeat(600)}", { headers: { "content-type": "application/json", "x-request-id": record.id } }))`,
);

const NO_OBSERVERS: Edit = { file: "src/observe/observability.ts", find: "    this.observers.push(observer);", replace: "    void observer;" };

const BARE_FETCH = dispatchWith(`(async () => {
      const body = (request.call as ChatCall).body;
      body.model = target.actualModelName;
      const upstream = await fetch(target.prefix + "chat/completions", {
        method: "POST",
        headers: { "content-type": "application/json", authorization: target.authorization ?? "" },
        body: JSON.stringify(body),
      });
      return new Response(upstream.body, { status: upstream.status, headers: { "content-type": upstream.headers.get("content-type") ?? "application/json", "x-request-id": record.id } });
    })()`);

const REQUIRED_FORWARD = dispatchWith(`(async () => {
      const out = this.deps.providers.openai.outgoing(request.call as ClientCall, target) as Outgoing;
      const abort = new AbortController();
      request.clientSignal.addEventListener("abort", () => abort.abort(), { once: true });
      const firstByte = setTimeout(() => abort.abort(), 600_000);
      const upstream = await fetch(target.prefix + out.path, { method: "POST", headers: out.headers, body: out.body, signal: abort.signal, redirect: "manual", decompress: false, timeout: false });
      clearTimeout(firstByte);
      const headers = downstreamResponseHeaders(upstream.headers);
      headers["x-request-id"] = record.id;
      const idle = setTimeout(() => abort.abort(), 300_000);
      const bytes = await upstream.arrayBuffer();
      clearTimeout(idle);
      return new Response(bytes, { status: upstream.status, headers });
    })()`);
const RESPONSE_HEADERS: Edit = {
  file: DISPATCH,
  find: 'import type { HeaderRecord } from "../upstream/headers";',
  replace: 'import { downstreamResponseHeaders, type HeaderRecord } from "../upstream/headers";',
};
const CHAT_CALL: Edit = {
  file: DISPATCH,
  find: "import type { AnswerTranslator, ClientCall,",
  replace: "import type { AnswerTranslator, ChatCall, ClientCall,",
};

const SEND_RELAY = dispatchWith(`(async () => {
      const out = this.deps.providers.openai.outgoing(request.call as ClientCall, target) as Outgoing;
      const sent = await send({ target, path: out.path, headers: out.headers, body: out.body, method: "POST", maxBodyBytes: request.maxBodyBytes, clientSignal: request.clientSignal });
      return relay(sent, { "x-request-id": record.id }, () => {});
    })()`);

const VARIANTS: Record<string, Edit[]> = {
  stub: [STUB],
  "stub-no-observers": [STUB, NO_OBSERVERS],
  "bare-fetch": [BARE_FETCH, CHAT_CALL],
  "required-forward": [REQUIRED_FORWARD, RESPONSE_HEADERS],
  "send-relay": [SEND_RELAY],
};

/** A copy of the checkout's sources with `edits` applied, compiled like the binary; its path. */
function build(name: string, edits: readonly Edit[]): string {
  const dir = resolve(WORK, name);
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir, { recursive: true });
  for (const entry of ["src", "package.json", "tsconfig.json", "config.example.json"]) cpSync(resolve(ROOT, entry), resolve(dir, entry), { recursive: true });
  symlinkSync(resolve(ROOT, "node_modules"), resolve(dir, "node_modules"));
  for (const { file, find, replace } of edits) {
    const path = resolve(dir, file);
    const text = readFileSync(path, "utf8");
    if (!text.includes(find)) throw new Error(`${name}: ${file} no longer contains ${JSON.stringify(find)}; update bench/ablate.ts`);
    writeFileSync(path, text.replace(find, replace));
  }
  const binary = resolve(dir, "proxy");
  const built = Bun.spawnSync([BUN, "build", "src/cli.ts", "src/observe/usage/sqlite-query-worker.ts", ...BUILD_FLAGS, "--outfile", binary], {
    cwd: dir,
    stderr: "pipe",
  });
  if (built.exitCode !== 0) throw new Error(`${name}: build failed:\n${built.stderr.toString()}`);
  return binary;
}

try {
  const targets = [`proxy=${PROXY}`];
  for (const [name, edits] of Object.entries(VARIANTS)) {
    log(`building ${name}`);
    targets.push(`${name}=${build(name, edits)}`);
  }
  const ab = Bun.spawnSync([BUN, "bench/ab.ts", "--rounds", values.rounds!, ...targets], { cwd: ROOT, stdout: "inherit", stderr: "inherit" });
  process.exitCode = ab.exitCode ?? 1;
} finally {
  rmSync(WORK, { recursive: true, force: true });
}
