// `make prices`: refreshes src/pricing/built-in-prices.json, the price table built into the binary,
// from the newest @pydantic/genai-prices on the npm registry (MIT; its notice is kept beside the
// table). The package is installed into a temporary folder, never into the project: the proxy needs
// only the few fields written here, and never fetches prices at run time.
//
//   bun scripts/prices.ts [version]     (default: latest)
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";

const PACKAGE = "@pydantic/genai-prices";
const OUT_DIR = resolve(import.meta.dir, "..", "src", "pricing");

type MatchLogic = Record<string, unknown>;
interface ModelInfo {
  id: string;
  match: MatchLogic;
  prices: Record<string, unknown> | { constraint?: Record<string, string>; prices: Record<string, unknown> }[];
}
interface Provider {
  id: string;
  model_match?: MatchLogic;
  fallback_model_providers?: string[];
  models: ModelInfo[];
}

function run(cmd: string[], cwd: string): string {
  const result = Bun.spawnSync(cmd, { cwd, stdout: "pipe", stderr: "pipe" });
  if (result.exitCode !== 0) throw new Error(`${cmd.join(" ")} failed: ${result.stderr.toString()}`);
  return result.stdout.toString();
}

/** A price of the table: a number, or a tiered one whose base (below the first tier) is taken. */
const amount = (value: unknown): number | null => {
  if (typeof value === "number") return value;
  const base = (value as { base?: unknown } | null)?.base;
  return typeof base === "number" ? base : null;
};

/** input, output, cached-input and cache-write USD per million tokens; null for a model with no token price (images, audio, pages). */
function tokenPrice(prices: Record<string, unknown>) {
  const input = amount(prices.input_mtok);
  if (input === null) return null;
  const cached = amount(prices.cache_read_mtok);
  const written = amount(prices.cache_write_mtok);
  return { input, output: amount(prices.output_mtok) ?? 0, ...(cached !== null && { cachedInput: cached }), ...(written !== null && { cacheWrite: written }) };
}

const SECONDS_PER_DAY = 86_400;
const seconds = (time: string) => {
  const [h, m, s] = time.replace(/Z$/, "").split(":").map(Number);
  return h! * 3600 + m! * 60 + (s ?? 0);
};

/**
 * A model's prices over time: `since` (a UTC date) for a price that starts on a date, none for
 * the one in force before. A time-of-day price (an off-peak discount) cannot be one price per
 * model: the one in force for the larger part of the UTC day is taken.
 */
function pricesOf(model: ModelInfo) {
  if (!Array.isArray(model.prices)) {
    const price = tokenPrice(model.prices);
    return price ? [price] : [];
  }
  let list: { since?: string; input: number; output: number; cachedInput?: number; cacheWrite?: number }[] = [];
  for (const { constraint, prices } of model.prices) {
    const price = tokenPrice(prices);
    if (constraint?.start_date) {
      if (price) list.push({ since: constraint.start_date, ...price });
      continue;
    }
    if (constraint?.start_time && constraint.end_time) {
      const span = (seconds(constraint.end_time) - seconds(constraint.start_time) + SECONDS_PER_DAY) % SECONDS_PER_DAY;
      if (span <= SECONDS_PER_DAY / 2) continue;
    }
    // In force from the start (or most of each day): every earlier entry is overruled.
    list = price ? [price] : [];
  }
  return list;
}

const version = process.argv[2] ?? "latest";
const dir = mkdtempSync(join(tmpdir(), "prices-"));
try {
  writeFileSync(join(dir, "package.json"), "{}");
  run([process.execPath, "add", "--exact", `${PACKAGE}@${version}`], dir);
  const packageDir = join(dir, "node_modules", PACKAGE);
  const installed = (await Bun.file(join(packageDir, "package.json")).json()).version as string;
  const published = JSON.parse(run([process.execPath, "info", PACKAGE, "time", "--json"], dir))[installed] as string;
  const { waitForUpdate } = await import(join(packageDir, "dist", "index.js"));
  const providers = (await waitForUpdate()) as Provider[];

  // Only providers a model name alone can reach (by their model_match), and those they fall back to.
  const reachable = new Set(providers.filter((provider) => provider.model_match).map((provider) => provider.id));
  for (const provider of providers) if (reachable.has(provider.id)) for (const id of provider.fallback_model_providers ?? []) reachable.add(id);
  const table = {
    source: PACKAGE,
    version: installed,
    date: published.slice(0, 10),
    license: "MIT, see built-in-prices.LICENSE",
    generatedBy: "scripts/prices.ts (make prices); do not edit by hand",
    units: "USD per million tokens",
    providers: providers
      .filter((provider) => reachable.has(provider.id))
      .map((provider) => ({
        id: provider.id,
        ...(provider.model_match && { match: provider.model_match }),
        ...(provider.fallback_model_providers && { fallbacks: provider.fallback_model_providers.filter((id) => reachable.has(id)) }),
        models: provider.models.map((model) => ({ id: model.id, match: model.match, prices: pricesOf(model) })),
      })),
  };
  const out = join(OUT_DIR, "built-in-prices.json");
  writeFileSync(out, `${JSON.stringify(table)}\n`);
  writeFileSync(
    join(OUT_DIR, "built-in-prices.LICENSE"),
    `src/pricing/built-in-prices.json is derived from ${PACKAGE} ${installed} (https://github.com/pydantic/genai-prices), under this license:\n\n${await Bun.file(join(packageDir, "LICENSE")).text()}`,
  );
  run([process.execPath, "x", "biome", "format", "--write", out], resolve(import.meta.dir, ".."));
  const models = table.providers.reduce((sum, provider) => sum + provider.models.length, 0);
  console.log(`${out}: ${PACKAGE} ${installed} of ${table.date}, ${table.providers.length} providers, ${models} models`);
} finally {
  rmSync(dir, { recursive: true, force: true });
}
