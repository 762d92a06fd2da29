import { Elysia, t } from "elysia";
import { ConfigError } from "../config/load";
import { ProxyError } from "../errors";
import { jsonResponse, type RouteContext } from "./context";

const ModelSummary = t.Object({ id: t.String(), displayName: t.String() });

const invalidConfig = (error: ConfigError) =>
  new ProxyError(400, `Reload rejected, the running configuration is unchanged: ${error.message}`, "invalid_request_error", "invalid_config");

/** `/health`, `/debug` (keys masked) and `/reload` (re-reads the startup file, never a client-chosen path). */
export const adminRoutes = ({ store, log }: RouteContext, prefix: string) =>
  new Elysia({ name: "admin", seed: prefix, prefix })
    .get("/health", () => jsonResponse(store.current.healthJson), {
      response: t.Object({ status: t.Literal("ok"), endpoints: t.Integer(), models: t.Array(ModelSummary) }),
      detail: { summary: "Liveness and the configured models", tags: ["Admin"], hide: prefix !== "" },
    })
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
          const config = await store.reload();
          log.info(`config reloaded from ${config.file}: ${config.modelIds.length} models`);
          const models = [...config.targets.values()].map(({ id, displayName }) => ({ id, displayName }));
          return { status: "reloaded" as const, endpoints: models.length, models };
        } catch (error) {
          if (!(error instanceof ConfigError)) throw error;
          log.warn(`config reload rejected: ${error.message}`);
          throw invalidConfig(error);
        }
      },
      {
        parse: "none",
        response: t.Object({ status: t.Literal("reloaded"), endpoints: t.Integer(), models: t.Array(ModelSummary) }),
        detail: {
          summary: "Re-read the startup config file; an invalid file is rejected and the running config kept",
          tags: ["Admin"],
          hide: prefix !== "",
        },
      },
    );
