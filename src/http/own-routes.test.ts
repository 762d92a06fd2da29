import { expect, test } from "bun:test";
import { ownRouteMethods } from "./own-routes";

const routes = [
  { method: "GET", path: "/health" },
  { method: "GET", path: "/v1/health" },
  { method: "POST", path: "/reload" },
  { method: "GET", path: "/admin/keys/:id" },
  { method: "PATCH", path: "/admin/keys/:id" },
  { method: "GET", path: "/status.json" },
  { method: "POST", path: "/v1/chat/completions" },
  { method: "GET", path: "/v1/models/:id" },
  { method: "ALL", path: "/*" },
];

test("the proxy's own paths with their methods (HEAD with GET); API paths and the catch-all are not its own", () => {
  const methodsOf = ownRouteMethods(routes);
  expect(methodsOf("/health")).toEqual(["GET", "HEAD"]);
  expect(methodsOf("/v1/health/")).toEqual(["GET", "HEAD"]);
  expect(methodsOf("/reload")).toEqual(["POST"]);
  expect(methodsOf("/admin/keys/key_1")).toEqual(["GET", "HEAD", "PATCH"]);
  expect(methodsOf("/status.json")).toEqual(["GET", "HEAD"]);
  expect(methodsOf("/statusXjson")).toBeNull();
  for (const relayed of ["/v1/chat/completions", "/v1/models/gpt", "/v1/embeddings", "/admin/keys/a/b"]) expect(methodsOf(relayed)).toBeNull();
});
