// Elysia decides per route what to build for each request (cookies, query, a headers object) from
// what its handlers and hooks read of the context; a context passed on whole counts as reading
// everything. The model routes, with the app's own hooks, read none of those: this holds them to it.
import { describe, expect, test } from "bun:test";
import { sucrose } from "elysia/sucrose";
import type { RouteContext } from "../http/context";
import { createApp } from "./app";

/** The routes and hooks read the context only when a request comes: an empty one builds the whole app. */
const app = createApp({} as RouteContext);

describe("what Elysia builds for each model request", () => {
  const routes = app.routes.filter((route) =>
    ["/v1/chat/completions", "/v1/openai/deployments/:deployment/chat/completions", "/v1/messages", "/v1/messages/count_tokens", "/v1/models", "/*"].includes(
      route.path,
    ),
  );

  test("every model route is here", () => {
    expect(routes.map((route) => `${route.method} ${route.path}`).sort()).toEqual(
      [
        "ALL /*",
        "GET /v1/models",
        "POST /v1/chat/completions",
        "POST /v1/openai/deployments/:deployment/chat/completions",
        "POST /v1/messages",
        "POST /v1/messages/count_tokens",
      ].sort(),
    );
  });

  for (const route of routes) {
    test(`${route.method} ${route.path}: no cookies, no parsed query, no headers object`, () => {
      const inference = sucrose(Object.assign({ handler: route.handler }, route.hooks) as Parameters<typeof sucrose>[0]);
      expect({ cookie: inference.cookie, query: inference.query, headers: inference.headers }).toEqual({ cookie: false, query: false, headers: false });
    });
  }
});
