/**
 * CORS for browsers calling an instance or the gateway directly: Connect's
 * lists of methods and headers (`cors` from `@connectrpc/connect`) applied by
 * the `cors` middleware, for an allowlist of origins.
 *
 * Allowlist entries: `localhost` (any http(s) origin on localhost, 127.0.0.1
 * or [::1], any port; the default), `*` (any origin), or exact origins such as
 * `https://app.example`.
 *
 * @module
 */
import { cors as connectCors } from "@connectrpc/connect";
import cors from "cors";
import type { NodeHandler } from "./one_port.ts";

const LOCALHOST_ORIGIN = /^https?:\/\/(localhost|127\.0\.0\.1|\[::1\])(:\d+)?$/;

/** Whether `origin` is allowed by the configured list. */
export function originAllowed(allow: readonly string[], origin: string): boolean {
  return allow.some((a) =>
    a === "*" || a === origin || (a === "localhost" && LOCALHOST_ORIGIN.test(origin))
  );
}

/** Wraps a node handler with CORS for the allowed origins; preflights are answered here. */
export function withCors(allow: readonly string[], handler: NodeHandler): NodeHandler {
  const mw = cors({
    origin: (origin, cb) => cb(null, origin !== undefined && originAllowed(allow, origin)),
    methods: [...connectCors.allowedMethods],
    allowedHeaders: [...connectCors.allowedHeaders, "Authorization"],
    exposedHeaders: [...connectCors.exposedHeaders],
    maxAge: 7200,
  });
  return (req, res) => mw(req as never, res as never, () => handler(req, res));
}
