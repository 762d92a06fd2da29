import { Elysia, t } from "elysia";
import { adminGuard } from "./admin-guard";
import { ConfigError } from "../config/load";
import { ProxyError } from "../model/errors";
import { jsonResponse } from "../lib/json-response";
import { healthReport } from "../observe/health-report";
import type { RouteContext } from "./context";
import { storeStates } from "./store-states";

const TargetHealth = t.Object({
  name: t.String(),
  state: t.Union([t.Literal("up"), t.Literal("cooling"), t.Literal("half-open")]),
  inFlight: t.Integer(),
  ewmaTtfbMs: t.Union([t.Number(), t.Null()]),
  consecutiveFailures: t.Integer(),
  cooldownUntil: t.Union([t.String({ format: "date-time" }), t.Null()]),
});

/** One limit's use (src/limits/limiter.ts LimitUse): /health and /status.json. */
export const LimitUseSchema = t.Object({
  scope: t.String({ description: "client | model" }),
  subject: t.String({ description: "the client key's name or the model id" }),
  limit: t.String({ description: "rpm | tpm | concurrent | tokensPerDay | usdPerDay | usdPerMonth" }),
  max: t.Number({ description: "the limit: requests, tokens or slots; US dollars for a budget (usdPerDay, usdPerMonth)" }),
  used: t.Number({ description: "spent in the window (a budget's in US dollars)" }),
  remaining: t.Number({ description: "left in the window (a budget's in US dollars)" }),
  resetMs: t.Integer({ description: "ms until the limit is whole again (a budget: the end of its UTC day or month)" }),
});

const ModelSummary = t.Object({ id: t.String(), displayName: t.String() });

const invalidConfig = (error: ConfigError) =>
  new ProxyError(400, `Reload rejected, the running configuration is unchanged: ${error.message}`, "invalid_request_error", "invalid_config");

const notReady = () => new ProxyError(503, "The proxy is starting or shutting down", "api_error", "not_ready");

/**
 * `/health` and `/ready` (open), `/debug` (keys masked) and `/reload` (re-reads the startup file,
 * never a client-chosen path). The last two need the admin key, or a loopback client when none is set.
 * Every answer is a jsonResponse: its size is the access log's `bytesOut` (an object left to Elysia
 * to serialize would be logged as 0 bytes).
 */
export const adminRoutes = (context: RouteContext, prefix: string) => {
  const { configs, catalogs, states, limiter, ready, clientAddress } = context;
  return new Elysia({ name: "admin", seed: prefix, prefix })
    .use(adminGuard(configs, clientAddress))
    .get(
      "/health",
      async () => {
        const catalog = catalogs.current;
        const report = healthReport(catalog, states, Date.now(), storeStates(context));
        // Current use against each limit, when limits are configured (null: the limit store is unreachable).
        const issued = context.keys?.activeClients(Date.now()) ?? [];
        if (!catalog.config.limits.any && !issued.some((client) => client.limits)) return jsonResponse(JSON.stringify(report));
        return jsonResponse(JSON.stringify({ ...report, limits: await limiter.current(catalog.config, issued) }));
      },
      {
        response: t.Object({
          status: t.Union([t.Literal("ok"), t.Literal("degraded")]),
          endpoints: t.Integer(),
          models: t.Array(t.Object({ id: t.String(), displayName: t.String(), targets: t.Array(TargetHealth) })),
          limits: t.Optional(t.Union([t.Array(LimitUseSchema), t.Null()])),
          stores: t.Optional(
            t.Record(t.String(), t.Union([t.Literal("up"), t.Literal("down")]), {
              description:
                "stores on a server (usage: PostgreSQL; redis: shared limits and cool-downs), listed when configured, and the SQLite usage file while it cannot be written; one down makes the status degraded",
            }),
          ),
        }),
        detail: {
          summary:
            "Liveness (always 200) with every model's targets (and limits' use); 'degraded' when some model has no usable target or a store (usage, redis) is down",
          tags: ["Admin"],
          hide: prefix !== "",
        },
      },
    )
    .get(
      "/ready",
      () => {
        if (!ready()) throw notReady();
        return jsonResponse(JSON.stringify({ status: "ready" }));
      },
      {
        response: t.Object({ status: t.Literal("ready") }),
        detail: { summary: "Readiness: 503 until the config is loaded and while shutting down", tags: ["Admin"], hide: prefix !== "" },
      },
    )
    .get("/debug", () => jsonResponse(JSON.stringify(configs.current.debugView)), {
      admin: true,
      detail: {
        summary: "The running configuration with every API key masked, and the config file's path",
        tags: ["Admin"],
        hide: prefix !== "",
      },
    })
    .post(
      "/reload",
      async () => {
        try {
          const { file } = await configs.reload("POST /reload");
          const models = [...catalogs.current.models.values()].map(({ id, displayName }) => ({ id, displayName }));
          // The original proxy's fields: scripts written for it keep working.
          return jsonResponse(JSON.stringify({ status: "ok", message: `Configuration reloaded from ${file}`, endpoints: models.length, models }));
        } catch (error) {
          if (!(error instanceof ConfigError)) throw error;
          throw invalidConfig(error);
        }
      },
      {
        admin: true,
        parse: "none",
        response: t.Object({ status: t.Literal("ok"), message: t.String(), endpoints: t.Integer(), models: t.Array(ModelSummary) }),
        detail: {
          summary: "Re-read the startup config file; an invalid file is rejected and the running config kept",
          tags: ["Admin"],
          hide: prefix !== "",
        },
      },
    );
};
