import { Elysia, t } from "elysia";
import { authorizeAdmin } from "../access/admin";
import { ConfigError } from "../config/load";
import { ProxyError } from "../errors";
import { jsonResponse, type RouteContext } from "./context";

const ModelSummary = t.Object({ id: t.String(), displayName: t.String() });

const invalidConfig = (error: ConfigError) =>
  new ProxyError(400, `Reload rejected, the running configuration is unchanged: ${error.message}`, "invalid_request_error", "invalid_config");

/**
 * `/health` (open), `/debug` (keys masked) and `/reload` (re-reads the startup file, never a
 * client-chosen path). The last two need the admin key, or a loopback client when none is set.
 */
export const adminRoutes = ({ store }: RouteContext, prefix: string) =>
  new Elysia({ name: "admin", seed: prefix, prefix })
    .get("/health", () => jsonResponse(store.current.healthJson), {
      response: t.Object({ status: t.Literal("ok"), endpoints: t.Integer(), models: t.Array(ModelSummary) }),
      detail: { summary: "Liveness and the configured models", tags: ["Admin"], hide: prefix !== "" },
    })
    .onBeforeHandle(({ request, server }) =>
      authorizeAdmin(store.current.adminDigest, request.headers, server?.requestIP(request)?.address),
    )
    .get("/debug", () => store.current.debugView, {
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
          const { file, modelIds } = await store.reload("POST /reload");
          // The original proxy's answer, field for field: scripts written for it keep working.
          return { status: "ok" as const, message: `Configuration reloaded from ${file}`, endpoints: modelIds.length, models: [...modelIds] };
        } catch (error) {
          if (!(error instanceof ConfigError)) throw error;
          throw invalidConfig(error);
        }
      },
      {
        parse: "none",
        response: t.Object({ status: t.Literal("ok"), message: t.String(), endpoints: t.Integer(), models: t.Array(t.String()) }),
        detail: {
          summary: "Re-read the startup config file; an invalid file is rejected and the running config kept",
          tags: ["Admin"],
          hide: prefix !== "",
        },
      },
    );
