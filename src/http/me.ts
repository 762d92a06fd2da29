import { Elysia, t } from "elysia";
import { ProxyError } from "../model/errors";
import { jsonResponse } from "../lib/json-response";
import { clientAccess } from "./client-access";
import type { RouteContext } from "./context";
import { windowEnd } from "../limits/calendar";
import { keySpend, type SpendOf } from "./key-spend";

const noKey = () =>
  new ProxyError(
    401,
    "/me describes the client key a request presents, and this proxy has none configured or issued",
    "authentication_error",
    "no_client_keys",
  );

/** A window's spend beside the budget that applies (remaining: null without a budget, or while the spend is unknown). */
const windowView = (spentUsd: number | null, budgetUsd: number | undefined, resetsAt: number) => ({
  spentUsd,
  budgetUsd: budgetUsd ?? null,
  remainingUsd: budgetUsd === undefined || spentUsd === null ? null : Math.max(0, budgetUsd - spentUsd),
  resetsAt: new Date(resetsAt).toISOString(),
});

const Window = t.Object({
  spentUsd: t.Union([t.Number(), t.Null()], { description: "spent in this window (null when the usage store cannot tell)" }),
  budgetUsd: t.Union([t.Number(), t.Null()]),
  remainingUsd: t.Union([t.Number(), t.Null()]),
  resetsAt: t.String({ format: "date-time" }),
});

/**
 * `GET /me`: what the presented client key may do and has spent: its name, models, limits (its own
 * over `limits.perClient`) and its spend against its dollar budgets today and this month (UTC).
 */
export const meRoutes = (context: RouteContext, prefix: string) => {
  const { catalogs, observe, keys } = context;
  const spendOf: SpendOf = keySpend(context);
  return new Elysia({ name: "me", seed: prefix, prefix }).use(clientAccess(catalogs, observe, keys, "key only")).get(
    "/me",
    async ({ client, config }) => {
      if (!client) throw noKey();
      const now = Date.now();
      const limits = { ...config.limits.perClient, ...client.limits };
      const [spend] = await spendOf([{ id: client.id ?? null, name: client.name }], now);
      const issued = client.id === undefined ? null : keys?.describe(client.id);
      return jsonResponse(
        JSON.stringify({
          id: client.id ?? null,
          name: client.name,
          source: client.id === undefined ? "config" : "api",
          models: client.models ? client.models.patterns : null,
          limits: Object.keys(limits).length > 0 ? limits : null,
          expiresAt: issued?.expiresAt ? new Date(issued.expiresAt).toISOString() : null,
          today: windowView(spend!.todayUsd, limits.usdPerDay, windowEnd("day", now)),
          month: windowView(spend!.monthUsd, limits.usdPerMonth, windowEnd("month", now)),
        }),
      );
    },
    {
      response: t.Object({
        id: t.Union([t.String(), t.Null()], { description: "an issued key's id; null for a config-file key" }),
        name: t.String(),
        source: t.Union([t.Literal("api"), t.Literal("config")]),
        models: t.Union([t.Array(t.String()), t.Null()]),
        limits: t.Union([t.Record(t.String(), t.Number()), t.Null()]),
        expiresAt: t.Union([t.String({ format: "date-time" }), t.Null()]),
        today: Window,
        month: Window,
      }),
      detail: {
        summary: "The presented client key: its models, limits, and spend and what is left of its budgets today and this month (UTC)",
        tags: ["Models"],
        hide: prefix === "",
      },
    },
  );
};
