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
      // Before the body is validated: a caller without access learns nothing from a 400.
      transform({ request }) {
        authorizeAdmin(configs.current.adminDigest, request.headers, clientAddress(request));
      },
    },
  });
