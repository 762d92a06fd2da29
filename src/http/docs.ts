import { Elysia } from "elysia";
import { openapi } from "@elysiajs/openapi";
// Embedded in the compiled binary, so the docs page works with no internet access.
import swaggerBundle from "swagger-ui-dist/swagger-ui-bundle.js" with { type: "file" };
import swaggerCss from "swagger-ui-dist/swagger-ui.css" with { type: "file" };
import { passthroughPaths } from "./passthrough-docs";

const ASSETS = "/swagger/assets";

/**
 * The page is also served at /swagger/, where the plugin's relative spec URL ("swagger/json")
 * resolves to /swagger/swagger/json. Its options spread after that default, so an absolute `url`
 * wins at run time; the plugin's types omit `url` because it sets one itself.
 */
const ABSOLUTE_SPEC_URL = { url: "/swagger/json" } as object;

const asset = (path: string, contentType: string) => () =>
  new Response(Bun.file(path), { headers: { "content-type": contentType, "cache-control": "public, max-age=86400" } });

/** Swagger UI at `/swagger` and the generated OpenAPI document at `/swagger/json`. */
export const docsRoutes = (version: string) =>
  new Elysia({ name: "docs" })
    .get(`${ASSETS}/swagger-ui-bundle.js`, asset(swaggerBundle, "text/javascript; charset=utf-8"), { detail: { hide: true } })
    .get(`${ASSETS}/swagger-ui.css`, asset(swaggerCss, "text/css; charset=utf-8"), { detail: { hide: true } })
    .use(
      openapi({
        path: "/swagger",
        specPath: "/swagger/json",
        provider: "swagger-ui",
        // The plugin leaves out paths with a dot as static files by default: /status.json is an API.
        exclude: { staticFile: false },
        swagger: { ...ABSOLUTE_SPEC_URL, cdn: `${ASSETS}/swagger-ui-bundle.js`, theme: `${ASSETS}/swagger-ui.css` },
        documentation: {
          info: {
            title: "cm-open-webui-proxy",
            version,
            description:
              "OpenAI-compatible proxy: one model list and one endpoint in front of many LLM backends. " + "Every route is served both at /x and at /v1/x.",
          },
          tags: [
            { name: "Models", description: "The configured models, under their friendly names" },
            { name: "Chat", description: "Chat completions, streamed or not" },
            { name: "Passthrough", description: "Embeddings, audio, images and every other OpenAI-style path, relayed to the model's backend" },
            { name: "Admin", description: "Health, masked configuration, reload" },
            { name: "Keys", description: "Client keys issued at runtime: create, list, block, revoke, rotate (admin access)" },
          ],
          paths: passthroughPaths,
        },
      }),
    );
