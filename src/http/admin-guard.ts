// Routes that show or change the running proxy say `{ admin: true }`; the guard is this one macro.
import { Elysia } from "elysia";
import { authorizeAdmin } from "../access/admin";
import type { LiveConfig } from "../config/live-config";

/**
 * `admin: true` on a route: the admin key is needed (`Authorization: Bearer <adminKey>`), or, when
 * none is configured, a loopback client. Unnamed: each app (each test's proxy) has its own config.
 * The client's address comes from the caller: Elysia infers what a macro's hook reads from its
 * source, which a minified binary renames, and its `server` then never arrives.
 */
export const adminGuard = (configs: LiveConfig, clientAddress: (request: Request) => string | undefined) =>
  new Elysia().macro({
    admin: {
      // Before the body is read: Elysia parses a body before any other hook, whole and of any size,
      // so a caller without access would otherwise have it held (and a 400 about it answered).
      // Returns nothing: the route's parser then reads the body as it would have.
      parse({ request }) {
        authorizeAdmin(configs.current.adminDigest, request.headers, clientAddress(request));
      },
      // Routes without a body have no parse step: the same check, before anything else.
      transform({ request }) {
        authorizeAdmin(configs.current.adminDigest, request.headers, clientAddress(request));
      },
    },
  });
