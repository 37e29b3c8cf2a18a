/**
 * The plain HTTP routes of a server (`/healthz`, `/readyz`, `/metrics`, and
 * any extra GET routes such as the gateway's dashboard files) and the answer
 * to an RPC path nobody serves, written once and adapted to both listeners:
 * node-style (the main port) and fetch-style (the fast listener).
 *
 * @module
 */
import { Code } from "@connectrpc/connect";
import type { NodeRequest, NodeResponse } from "./one_port.ts";

/** A plain HTTP answer. */
export interface PlainAnswer {
  readonly status: number;
  readonly contentType: string;
  readonly body: string;
  /** Extra headers (gRPC status of a trailers-only answer). */
  readonly headers?: Readonly<Record<string, string>>;
}

/** Answers a plain request; may be async (metrics). */
export type PlainRoutes = (
  method: string,
  path: string,
  contentType: string,
) => PlainAnswer | Promise<PlainAnswer>;

/** What the routes report. */
export interface RouteSources {
  /** `/healthz` body fields besides `status` (e.g. the fast listener's port). */
  readonly health: () => Record<string, unknown>;
  /** Readiness: ok, or the reason it is not; `detail` fields join the `/readyz` body. */
  readonly ready: () => { ok: boolean; reason: string; detail?: Record<string, unknown> };
  /** Prometheus exposition. */
  readonly metrics: () => Promise<{ contentType: string; body: string }>;
  /** More GET/HEAD routes by exact path (after the three above), e.g. the dashboard's files. */
  readonly get?: Readonly<Record<string, () => PlainAnswer | Promise<PlainAnswer>>>;
  /** `/debug/hotkeys`: the hot-key views as JSON (404 when absent). */
  readonly hotKeys?: () => unknown;
}

const json = (status: number, body: unknown): PlainAnswer => ({
  status,
  contentType: "application/json",
  body: JSON.stringify(body) + "\n",
});

/**
 * The routes: GET/HEAD `/healthz`, `/readyz`, `/metrics`, `/debug/hotkeys`
 * and the extra `get` routes; a POST to an
 * unknown procedure gets UNIMPLEMENTED in the caller's protocol (gRPC and
 * gRPC-web: a trailers-only answer; Connect: 404 with the error as JSON).
 */
export function plainRoutes(s: RouteSources): PlainRoutes {
  const extra = new Map(Object.entries(s.get ?? {}));
  return (method, path, contentType) => {
    if (method === "POST") {
      const message = `unknown procedure ${path}`;
      if (contentType.startsWith("application/grpc")) {
        return {
          status: 200,
          contentType: contentType.split(";")[0],
          body: "",
          headers: {
            "grpc-status": String(Code.Unimplemented),
            "grpc-message": encodeURIComponent(message),
          },
        };
      }
      return json(404, { code: "unimplemented", message });
    }
    if (method !== "GET" && method !== "HEAD") {
      return json(405, { error: `${method} not allowed on ${path}` });
    }
    if (path === "/healthz") return json(200, { status: "ok", ...s.health() });
    if (path === "/readyz") {
      const r = s.ready();
      return r.ok
        ? json(200, { status: "ready", ...r.detail })
        : json(503, { status: "not ready", reason: r.reason, ...r.detail });
    }
    if (path === "/metrics") {
      return s.metrics().then(
        ({ contentType, body }) => ({ status: 200, contentType, body }),
        (err) => json(500, { error: String(err) }),
      );
    }
    if (path === "/debug/hotkeys" && s.hotKeys) return json(200, s.hotKeys());
    const route = extra.get(path);
    if (route !== undefined) return route();
    return json(404, { error: `no route for ${path}` });
  };
}

/** The routes as a node-style handler (the Connect adapter's fallback). */
export function nodeRoutes(routes: PlainRoutes): (req: NodeRequest, res: NodeResponse) => void {
  return (req, res) => {
    const path = (req.url ?? "/").split("?")[0];
    const send = (a: PlainAnswer) => {
      const h2 = (res as { stream?: import("node:http2").ServerHttp2Stream }).stream;
      if (h2 !== undefined && a.headers?.["grpc-status"] !== undefined && a.body === "") {
        // gRPC "trailers-only": one HEADERS frame that ends the stream. Through the
        // compatibility API the status would go out as plain headers followed by an
        // empty DATA frame, which gRPC clients read as a stream without trailers.
        if (!h2.headersSent && !h2.destroyed) {
          h2.respond({ ":status": 200, "content-type": a.contentType, ...a.headers }, {
            endStream: true,
          });
        }
        return;
      }
      // Through one member of the union (see one_port.ts `answer`).
      const r = res as import("node:http").ServerResponse;
      r.statusCode = a.status;
      r.setHeader("content-type", a.contentType);
      r.setHeader("cache-control", "no-store");
      for (const [k, v] of Object.entries(a.headers ?? {})) r.setHeader(k, v);
      r.end(req.method === "HEAD" ? undefined : a.body);
    };
    const a = routes(req.method ?? "GET", path, String(req.headers["content-type"] ?? ""));
    if (a instanceof Promise) a.then(send);
    else send(a);
  };
}

/** The routes as a fetch handler. */
export function fetchRoutes(routes: PlainRoutes): (req: Request) => Promise<Response> {
  return async (req) => {
    const url = new URL(req.url);
    const a = await routes(req.method, url.pathname, req.headers.get("content-type") ?? "");
    return new Response(req.method === "HEAD" ? null : a.body, {
      status: a.status,
      headers: { "content-type": a.contentType, "cache-control": "no-store", ...a.headers },
    });
  };
}
