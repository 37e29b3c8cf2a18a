/**
 * Where the dashboard finds the fleet: `/config.json` (served by the
 * gateway) merged with the page's query string.
 *
 * Browser-safe: no DOM, no network.
 *
 * @module
 */

/** Where the page finds the fleet. */
export interface PageConfig {
  /** Ordered instance list, the same order as every other router. */
  instances: string[];
  /** Base URL of the gateway, if there is one. */
  gateway?: string;
  /** Where the instance list came from, for the page's header. */
  source: string;
}

/**
 * Merges `/config.json` (if it was readable) with the query string: the
 * `instances` (comma-separated `host:port` or URLs) and `gateway` parameters
 * override the file.
 *
 * @throws {Error} with a readable message when no instance list is found.
 */
export function resolveConfig(
  file: { instances?: unknown; gateway?: unknown } | undefined,
  search: string,
  fileError?: string,
): PageConfig {
  const params = new URLSearchParams(search);
  const fromParams = (params.get("instances") ?? "").split(/[\s,]+/).filter((s) => s !== "");
  const gatewayParam = params.get("gateway") ?? undefined;
  const fileInstances = Array.isArray(file?.instances)
    ? file.instances.filter((s): s is string => typeof s === "string" && s !== "")
    : [];
  const gateway = gatewayParam ||
    (typeof file?.gateway === "string" && file.gateway !== "" ? file.gateway : undefined);
  if (fromParams.length > 0) {
    return { instances: fromParams, gateway, source: "?instances= in the address" };
  }
  if (fileInstances.length > 0) {
    return { instances: fileInstances, gateway, source: "/config.json" };
  }
  throw new Error(
    `No instance list: /config.json ${
      fileError ? `could not be read (${fileError})` : "has no instances"
    } and the address has no ?instances=host:port,host:port parameter`,
  );
}
