import { Elysia } from "elysia";
import { adminGuard } from "./admin-guard";
import { ownResponse } from "../lib/json-response";
import { CONTENT_TYPE } from "../observe/metrics/registry";
import type { RouteContext } from "./context";

/**
 * `/metrics`: every metric in Prometheus's text exposition format. Guarded like `/debug`: the
 * admin key, or a loopback client when none is set.
 */
export const metricsRoutes = ({ configs, metrics, clientAddress }: RouteContext, prefix: string) =>
  new Elysia({ name: "metrics", seed: prefix, prefix })
    .use(adminGuard(configs, clientAddress))
    .get("/metrics", () => ownResponse(metrics.render(), { headers: { "content-type": CONTENT_TYPE } }), {
      admin: true,
      detail: {
        summary: "Prometheus metrics (text exposition format): requests, latencies, errors, retries, fallbacks, tokens, targets",
        tags: ["Admin"],
        hide: prefix !== "",
        responses: { 200: { description: "The text exposition format, version 0.0.4", content: { [CONTENT_TYPE]: { schema: { type: "string" } } } } },
      },
    });
