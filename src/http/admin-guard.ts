// Routes that show or change the running proxy say `{ admin: true }`; the guard is this one macro.
import { Elysia } from "elysia";
import { authorizeAdmin } from "../access/admin";
import type { LiveConfig } from "../config/live-config";
import { readJsonObject } from "../upstream/json-body";

/** What an admin body may weigh: far more than any key's fields with their metadata need. */
const MAX_ADMIN_BODY_BYTES = 64 * 1024;

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
    // `adminJson: true` beside it, on a route whose body is a JSON object: read within a bound
    // (Elysia's own parser would hold any size), once the caller is known to have access. A route's
    // own parser would run before the macro's check.
    adminJson: {
      parse({ request }) {
        authorizeAdmin(configs.current.adminDigest, request.headers, clientAddress(request));
        return request.body ? readJsonObject(request, MAX_ADMIN_BODY_BYTES) : undefined;
      },
    },
  });
