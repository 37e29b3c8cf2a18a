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

/** CORS for a fetch-style server (the fast listener), with the same lists as {@linkcode withCors}. */
export interface FetchCors {
  /** The answer to a preflight (OPTIONS with Access-Control-Request-Method), else undefined. */
  preflight(req: Request): Response | undefined;
  /** Adds the CORS response headers for an allowed `Origin` of `req`. */
  decorate(req: Request, headers: Headers): void;
}

/** CORS for fetch handlers, for the allowed origins. */
export function fetchCors(allow: readonly string[]): FetchCors {
  const methods = [...connectCors.allowedMethods].join(", ");
  const allowedHeaders = [...connectCors.allowedHeaders, "Authorization"].join(", ");
  const exposed = [...connectCors.exposedHeaders].join(", ");
  const allowed = (req: Request) => {
    const origin = req.headers.get("origin");
    return origin !== null && originAllowed(allow, origin) ? origin : undefined;
  };
  return {
    preflight(req) {
      if (req.method !== "OPTIONS" || !req.headers.has("access-control-request-method")) {
        return undefined;
      }
      const origin = allowed(req);
      const headers = new Headers({ vary: "Origin", "content-length": "0" });
      if (origin !== undefined) {
        headers.set("access-control-allow-origin", origin);
        headers.set("access-control-allow-methods", methods);
        headers.set("access-control-allow-headers", allowedHeaders);
        headers.set("access-control-max-age", "7200");
      }
      return new Response(null, { status: 204, headers });
    },
    decorate(req, headers) {
      const origin = allowed(req);
      if (origin === undefined) return;
      headers.set("access-control-allow-origin", origin);
      headers.append("vary", "Origin");
      headers.set("access-control-expose-headers", exposed);
    },
  };
}

/**
 * The CORS response headers of an actual (non-preflight) request from
 * `origin`, with the same lists as {@linkcode withCors}; undefined for an
 * origin not allowed (the browser then refuses the answer). For handlers
 * that answer below `withCors`, such as the main port's fast path.
 */
export function corsHeaders(
  allow: readonly string[],
): (origin: string) => Readonly<Record<string, string>> | undefined {
  const exposed = [...connectCors.exposedHeaders].join(", ");
  return (origin) =>
    originAllowed(allow, origin)
      ? {
        "access-control-allow-origin": origin,
        vary: "Origin",
        "access-control-expose-headers": exposed,
      }
      : undefined;
}
