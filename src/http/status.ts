import { Elysia, t } from "elysia";
// Embedded in the compiled binary: the page works offline, with nothing fetched from elsewhere.
import pageFile from "../ui/status.html" with { type: "file" };
import { adminGuard } from "./admin-guard";
import { LimitUseSchema } from "./admin";
import type { Catalog } from "../catalog/catalog";
import { jsonResponse, ownResponse } from "../lib/json-response";
import type { RecentStats } from "../observe/recent";
import { healthReport, type StoreStates } from "../observe/health-report";
import type { LimitUse } from "../limits/limiter";
import type { TargetStates } from "../targets/target-states";
import { VERSION } from "../lib/version";
import { BUILT_IN_PRICES } from "../pricing/price-table";
import type { RouteContext } from "./context";
import { storeStates } from "./store-states";

/** bun-types calls every `.html` import an HTML bundle; imported `with { type: "file" }` it is a path. */
const PAGE_PATH = pageFile as unknown as string;

const sha256 = (text: string) => `'sha256-${new Bun.CryptoHasher("sha256").update(text).digest("base64")}'`;

/**
 * The page with its headers. Its one inline script and one inline style are allowed by their
 * hashes and nothing else runs: no other origin, no inline handler, no frame around it.
 */
async function renderPage(): Promise<{ body: string; headers: Record<string, string> }> {
  const body = await Bun.file(PAGE_PATH).text();
  const hashes = (tag: string) => [...body.matchAll(new RegExp(`<${tag}>([\\s\\S]*?)</${tag}>`, "g"))].map((match) => sha256(match[1]!)).join(" ");
  const policy = [
    "default-src 'none'",
    `script-src ${hashes("script")}`,
    `style-src ${hashes("style")}`,
    "connect-src 'self'",
    "img-src 'self' data:",
    "base-uri 'none'",
    "form-action 'none'",
    "frame-ancestors 'none'",
  ].join("; ");
  return {
    body,
    headers: {
      "content-type": "text/html; charset=utf-8",
      "content-security-policy": policy,
      "x-content-type-options": "nosniff",
      "referrer-policy": "no-referrer",
      "cache-control": "no-cache",
    },
  };
}

let page: ReturnType<typeof renderPage> | null = null;

/** What `/status.json` answers: every model's targets with their state and recent figures. */
export function statusReport(
  catalog: Catalog,
  states: TargetStates,
  recent: RecentStats,
  inFlight: number,
  usageEnabled: boolean,
  limits: LimitUse[] | null,
  stores: StoreStates = {},
  now = Date.now(),
) {
  recent.sweep();
  const health = healthReport(catalog, states, now, stores);
  const models = health.models.map((model) => {
    const figures = recent.model(model.id);
    const targets = model.targets.map((target) => {
      const tries = recent.target(model.id, target.name);
      return {
        ...target,
        requests5m: tries.requests,
        errors5m: tries.errors,
        ttfbP50Ms: tries.ttfbP50Ms,
        ttfbP95Ms: tries.ttfbP95Ms,
      };
    });
    return {
      id: model.id,
      displayName: model.displayName,
      inFlight: targets.reduce((sum, target) => sum + target.inFlight, 0),
      requests5m: figures.requests,
      errors5m: figures.errors,
      ttfbP50Ms: figures.ttfbP50Ms,
      ttfbP95Ms: figures.ttfbP95Ms,
      tokensToday: recent.tokensToday(model.id),
      targets,
    };
  });
  return {
    version: VERSION,
    uptimeSeconds: Math.floor((now - recent.startedAt) / 1000),
    time: new Date(now).toISOString(),
    status: health.status,
    windowSeconds: recent.windowSeconds,
    inFlight,
    usage: { enabled: usageEnabled },
    prices: pricesReport(catalog.config.priceTable !== null),
    limits,
    ...("stores" in health && { stores: health.stores }),
    models,
  };
}

/** Whether unconfigured models are priced from the built-in table, and which table that is. */
function pricesReport(builtIn: boolean) {
  const { source, version, date } = BUILT_IN_PRICES.snapshot;
  return { builtIn, source, version, date };
}

const Ms = t.Union([t.Number(), t.Null()]);

const TargetStatus = t.Object({
  name: t.String(),
  state: t.Union([t.Literal("up"), t.Literal("cooling"), t.Literal("half-open")]),
  inFlight: t.Integer(),
  ewmaTtfbMs: Ms,
  consecutiveFailures: t.Integer(),
  cooldownUntil: t.Union([t.String({ format: "date-time" }), t.Null()]),
  requests5m: t.Integer({ description: "Tries sent to this target over the window" }),
  errors5m: t.Integer({ description: "Of those, the ones that failed: no answer, 429 or 5xx, or a body that broke" }),
  ttfbP50Ms: Ms,
  ttfbP95Ms: Ms,
});

const StatusReport = t.Object({
  version: t.String(),
  uptimeSeconds: t.Integer(),
  time: t.String({ format: "date-time" }),
  status: t.Union([t.Literal("ok"), t.Literal("degraded")]),
  windowSeconds: t.Integer({ description: "The window of every *5m figure (300)" }),
  inFlight: t.Integer({ description: "Requests the proxy is answering now, this one aside" }),
  usage: t.Object({ enabled: t.Boolean({ description: "Whether the usage store (and so /usage) is on" }) }),
  prices: t.Object(
    {
      builtIn: t.Boolean({ description: "Whether models with no configured price are priced from the built-in table (prices.builtIn)" }),
      source: t.String({ description: "The built-in table's source package" }),
      version: t.String({ description: "Its version" }),
      date: t.String({ description: "When that version was published, YYYY-MM-DD" }),
    },
    { description: "The price table built into the binary" },
  ),
  stores: t.Optional(
    t.Record(t.String(), t.Union([t.Literal("up"), t.Literal("down")]), {
      description: "server-backed stores (usage: PostgreSQL; redis) when configured, and the SQLite usage file while it cannot be written",
    }),
  ),
  limits: t.Union([t.Array(LimitUseSchema), t.Null()], {
    description: "Current use against each limit per client key and per model (empty without limits; null while the limit store is unreachable)",
  }),
  models: t.Array(
    t.Object({
      id: t.String(),
      displayName: t.String(),
      inFlight: t.Integer(),
      requests5m: t.Integer({ description: "Requests that named this model over the window" }),
      errors5m: t.Integer({ description: "Of those, the ones that failed on the backend side (5xx, 429, timeout, broken body)" }),
      ttfbP50Ms: Ms,
      ttfbP95Ms: Ms,
      tokensToday: t.Object({ prompt: t.Integer(), completion: t.Integer() }, { description: "Since 00:00 UTC, in this process" }),
      targets: t.Array(TargetStatus),
    }),
  ),
});

/**
 * `GET /`: the status page (open: it holds no data). `GET /status.json`: what it shows, guarded
 * like `/debug` (the admin key, or a loopback client when none is set). Never a key or a URL.
 */
export const statusRoutes = (context: RouteContext) => {
  const { configs, catalogs, states, observe, recent, usage, limiter, clientAddress } = context;
  return (
    new Elysia({ name: "status" })
      .use(adminGuard(configs, clientAddress))
      .get(
        "/",
        async () => {
          const { body, headers } = await (page ??= renderPage());
          return ownResponse(body, { headers });
        },
        { detail: { hide: true } },
      )
      // Browsers ask for it with every page (the status page, the docs): nothing, rather than a 400 about a model.
      .get("/favicon.ico", () => new Response(null, { status: 204 }), { detail: { hide: true } })
      .get(
        "/status.json",
        async () => {
          const catalog = catalogs.current;
          const limits = await limiter.current(catalog.config, context.keys?.activeClients(Date.now()) ?? []);
          const report = statusReport(catalog, states, recent, observe.inFlight - 1, usage !== null, limits, storeStates(context));
          return jsonResponse(JSON.stringify(report), 200, {
            "cache-control": "no-store",
          });
        },
        {
          admin: true,
          response: StatusReport,
          detail: {
            summary: "What the status page at / shows: every model and target, their state and the last 5 minutes' figures",
            tags: ["Admin"],
          },
        },
      )
  );
};
