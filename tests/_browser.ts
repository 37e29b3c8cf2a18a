/**
 * Helpers of the browser test: the page's bundle, a headless Chromium driven
 * by playwright-core, a static server for the page (to load it from another
 * origin), and a Deno Connect client that sums every instance's GetStats.
 */
import assert from "node:assert/strict";
import { createClient } from "@connectrpc/connect";
import { type Browser, chromium } from "playwright-core";
import { MessagesService } from "../gen/dataservices/v1/messages_pb.ts";
import { buildDashboard } from "../web/build.ts";
import { transportFor } from "./_util.ts";

/** Debian's Chromium (`apt-get install chromium`; `.ci/run` installs it). */
export const CHROMIUM = "/usr/bin/chromium";

const root = new URL("../", import.meta.url);
const path = (p: string) => new URL(p, root).pathname;

/** Builds `web/dist/app.js` the way the `web:build` task does. */
export const buildBundle: () => Promise<void> = buildDashboard;

/** Launches headless Chromium, with a clear message when it is not installed. */
export async function launchBrowser(): Promise<Browser> {
  try {
    await Deno.stat(CHROMIUM);
  } catch {
    assert.fail(`${CHROMIUM} is missing: apt-get install -y chromium`);
  }
  return await chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    args: [
      "--headless",
      "--no-sandbox",
      "--disable-gpu",
      "--disable-background-networking",
      "--disable-component-update",
      "--disable-sync",
      "--no-first-run",
      "--disable-quic",
    ],
  });
}

/** A static server of the page: `/`, `/app.js` and `/config.json`. */
export interface PageServer {
  /** `http://<hostname>:<port>` */
  readonly url: string;
  close(): Promise<void>;
}

/**
 * Serves `web/index.html`, `web/dist/app.js` and `config` as `/config.json`
 * (404 without one), the way the gateway does, on `hostname` and an ephemeral port.
 */
export function servePage(
  options: { hostname?: string; config?: { instances: string[]; gateway?: string } } = {},
): PageServer {
  const hostname = options.hostname ?? "127.0.0.1";
  const files: Record<string, [string, string]> = {
    "/": ["web/index.html", "text/html; charset=utf-8"],
    "/index.html": ["web/index.html", "text/html; charset=utf-8"],
    "/app.js": ["web/dist/app.js", "text/javascript; charset=utf-8"],
  };
  const server = Deno.serve({ hostname, port: 0, onListen: () => {} }, async (req) => {
    const { pathname } = new URL(req.url);
    if (pathname === "/config.json" && options.config) return Response.json(options.config);
    const file = files[pathname];
    if (!file) return new Response("not found\n", { status: 404 });
    return new Response(await Deno.readFile(path(file[0])), {
      headers: { "content-type": file[1], "cache-control": "no-store" },
    });
  });
  return {
    url: `http://${hostname}:${server.addr.port}`,
    close: () => server.shutdown(),
  };
}

/** Counters of GetStats summed over instances. */
export interface Totals {
  requests: number;
  queries: number;
  coalesced: number;
}

/** A Deno client of every instance: GetStats totals, and writes for seeding. */
export function fleetClient(instanceUrls: string[]) {
  const conns = instanceUrls.map((url) => transportFor(url, "connect-binary/h1"));
  const clients = conns.map((c) => createClient(MessagesService, c.transport));
  return {
    clients,
    /** Sum of GetStats over every instance. */
    async totals(): Promise<Totals> {
      const all = await Promise.all(clients.map((c) => c.getStats({})));
      return all.reduce(
        (t, s) => ({
          requests: t.requests + Number(s.requests),
          queries: t.queries + Number(s.queries),
          coalesced: t.coalesced + Number(s.coalesced),
        }),
        { requests: 0, queries: 0, coalesced: 0 },
      );
    },
    close() {
      for (const c of conns) c.close();
    },
  };
}
