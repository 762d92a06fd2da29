import { Elysia, t } from "elysia";
import { adminGuard } from "./admin-guard";
import { ProxyError } from "../model/errors";
import { jsonResponse, ownResponse } from "../lib/json-response";
import { parseUsageQuery, usageCsv } from "../observe/usage/query";
import { GROUP_BYS, UsageStoreUnavailableError, type GroupBy, type UsageRange, type UsageStore } from "../observe/usage/store";
import { searchOf, type RouteContext } from "./context";

const usageOff = () => new ProxyError(404, "Usage accounting is off (usage.enabled is false in the configuration)", "invalid_request_error", "usage_disabled");

/**
 * The store cannot answer (its PostgreSQL server is away, or the SQLite file cannot take the rows
 * that wait): a 503 with the store's own reason, as either may be the one in use, and the rows wait
 * in memory meanwhile.
 */
const usageUnavailable = (reason: string) =>
  new ProxyError(
    503,
    `The usage store cannot answer right now: ${reason}. Usage rows are kept and written when it can take them again; try again shortly`,
    "api_error",
    "usage_store_unavailable",
  );

async function groupsOf(usage: UsageStore, range: UsageRange, groupBy: GroupBy) {
  try {
    return await usage.query(range, groupBy);
  } catch (error) {
    if (error instanceof UsageStoreUnavailableError) throw usageUnavailable(error.reason);
    throw error;
  }
}

const UsageGroup = t.Object({
  key: t.String(),
  requests: t.Integer(),
  errors: t.Integer(),
  promptTokens: t.Integer(),
  completionTokens: t.Integer(),
  totalTokens: t.Integer(),
  costUsd: t.Union([t.Number(), t.Null()], { description: "US dollars, the sum of the group's priced requests; null when none was priced" }),
  p50Ms: t.Integer(),
  p95Ms: t.Integer(),
});

const UsageQuery = t.Object(
  {
    from: t.Optional(t.String({ description: "ISO 8601 date or date-time (UTC when no zone); default 24 h before `to`" })),
    to: t.Optional(t.String({ description: "ISO 8601 date (that whole day included) or date-time, excluded; default now" })),
    groupBy: t.Optional(t.String({ description: `${GROUP_BYS.join(" | ")}; default day (UTC; hour: YYYY-MM-DDTHH in UTC)` })),
    format: t.Optional(t.String({ description: "json | csv; default json" })),
  },
  { additionalProperties: true },
);

/**
 * `GET /usage`: token usage, request and error counts and duration percentiles from the usage
 * store, grouped by day, model, client, user or target; JSON or CSV. Guarded like `/debug`.
 */
export const usageRoutes = ({ configs, usage, clientAddress }: RouteContext, prefix: string) =>
  new Elysia({ name: "usage", seed: prefix, prefix }).use(adminGuard(configs, clientAddress)).get(
    "/usage",
    async ({ request }) => {
      if (!usage) throw usageOff();
      const { range, groupBy, format } = parseUsageQuery(new URLSearchParams(searchOf(request.url)));
      const groups = await groupsOf(usage, range, groupBy);
      if (format === "csv") return ownResponse(usageCsv(groups), { headers: { "content-type": "text/csv; charset=utf-8" } });
      const from = new Date(range.from).toISOString();
      const to = new Date(range.to).toISOString();
      return jsonResponse(JSON.stringify({ from, to, groupBy, groups }));
    },
    {
      admin: true,
      query: UsageQuery,
      response: t.Object({ from: t.String({ format: "date-time" }), to: t.String({ format: "date-time" }), groupBy: t.String(), groups: t.Array(UsageGroup) }),
      detail: {
        summary: "Token usage, requests, errors and p50/p95 duration per day, model, client key, user or target (JSON or CSV)",
        tags: ["Admin"],
        hide: prefix !== "",
      },
    },
  );
