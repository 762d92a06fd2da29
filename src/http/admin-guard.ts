// Routes that show or change the running proxy say `{ admin: true }`; the guard is this one macro.
import { Elysia } from "elysia";
import { authorizeAdmin } from "../access/admin";
import type { LiveConfig } from "../config/live-config";

/**
 * `admin: true` on a route: the admin key is needed (`Authorization: Bearer <adminKey>`), or, when
 * none is configured, a loopback client. Unnamed: each app (each test's proxy) has its own config.
 */
export const adminGuard = (configs: LiveConfig) =>
  new Elysia().macro({
    admin: {
      beforeHandle({ request, server }) {
        authorizeAdmin(configs.current.adminDigest, request.headers, server?.requestIP(request)?.address);
      },
    },
  });
