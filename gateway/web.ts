/**
 * The dashboard the gateway serves, as extra GET routes of its plain routes
 * (http/routes.ts): `/` and `/index.html` (web/index.html), `/app.js` (the
 * bundle `deno task web:build` writes to web/dist/app.js) and `/config.json`
 * (the instances and the gateway's own URL, which the page reads). Files are
 * read on every request, so a rebuilt bundle is served at once.
 *
 * @module
 */
import type { PlainAnswer } from "../http/routes.ts";

/** Options of {@linkcode dashboardRoutes}. */
export interface DashboardOptions {
  /** Directory holding index.html and dist/app.js. */
  readonly webDir: string;
  /** The body of `/config.json`. */
  readonly config: () => { instances: readonly string[]; gateway: string };
}

const FILES: Readonly<Record<string, readonly [file: string, contentType: string]>> = {
  "/": ["index.html", "text/html; charset=utf-8"],
  "/index.html": ["index.html", "text/html; charset=utf-8"],
  "/app.js": ["dist/app.js", "text/javascript; charset=utf-8"],
};

/** The dashboard's routes, by path. */
export function dashboardRoutes(
  o: DashboardOptions,
): Record<string, () => PlainAnswer | Promise<PlainAnswer>> {
  const dir = o.webDir.replace(/\/+$/, "");
  const routes: Record<string, () => PlainAnswer | Promise<PlainAnswer>> = {
    "/config.json": () => ({
      status: 200,
      contentType: "application/json",
      body: JSON.stringify(o.config()),
    }),
  };
  for (const [path, [file, contentType]] of Object.entries(FILES)) {
    routes[path] = async () => {
      try {
        return { status: 200, contentType, body: await Deno.readTextFile(`${dir}/${file}`) };
      } catch {
        return {
          status: 404,
          contentType: "text/plain; charset=utf-8",
          body: `${file} not found: run 'deno task web:build'\n`,
        };
      }
    };
  }
  return routes;
}
