/**
 * Finding an instance's fast listener. Each instance serves every protocol
 * on its main port (the one in the instance list) and Connect and gRPC-web
 * on a second, cheaper listener whose port it announces in `GET /healthz`
 * (`{"status":"ok","fastPort":51051}`). {@linkcode withFastListener} wraps a
 * transport factory so that each instance's calls go there once it is
 * known, with no flag from the user; without an answer they stay on the
 * main port. Browser-safe.
 *
 * @module
 */
import type { Transport } from "@connectrpc/connect";
import type { ClosableTransport, Instance, TransportFactory } from "./membership.ts";
import { TransportFailure } from "./lean_transport.ts";

/** Options of {@linkcode discoverFastUrl} and {@linkcode withFastListener}. */
export interface DiscoveryOptions {
  /** fetch for `GET /healthz` (default `globalThis.fetch`, HTTP/1.1). */
  readonly fetch?: typeof globalThis.fetch;
  /** How long to wait for `/healthz` (default 2000 ms). */
  readonly timeoutMs?: number;
}

/**
 * The base URL of `baseUrl`'s fast listener (same scheme and host, the
 * announced port), or undefined when it announces none or does not answer.
 */
export async function discoverFastUrl(
  baseUrl: string,
  options: DiscoveryOptions = {},
): Promise<string | undefined> {
  const doFetch = options.fetch ?? globalThis.fetch.bind(globalThis);
  try {
    const res = await doFetch(new URL("/healthz", baseUrl), {
      signal: AbortSignal.timeout(options.timeoutMs ?? 2000),
    });
    if (!res.ok) {
      await res.body?.cancel();
      return undefined;
    }
    const port = (await res.json() as { fastPort?: unknown }).fastPort;
    if (typeof port !== "number" || !Number.isInteger(port) || port <= 0 || port > 65535) {
      return undefined;
    }
    const url = new URL(baseUrl);
    url.port = String(port);
    return url.origin;
  } catch {
    return undefined;
  }
}

/** Whether `error` (or a cause) says the request may never have reached the server. */
export function isTransportFailure(error: unknown): boolean {
  for (let e: unknown = error, depth = 0; e instanceof Error && depth < 5; depth++) {
    if (e instanceof TransportFailure) return true;
    const code = (e as { code?: unknown }).code;
    if (
      typeof code === "string" &&
      /^(ECONNREFUSED|ECONNRESET|EPIPE|EHOSTUNREACH|ENETUNREACH|ENOTFOUND|EAI_AGAIN)$/.test(code)
    ) return true;
    e = e.cause;
  }
  return false;
}

/**
 * Wraps `factory`: an instance's transport is made for its fast listener
 * (found by {@linkcode discoverFastUrl} before the first call) or, if it
 * announces none, for its main port. When a call to the fast listener fails
 * before reaching it (the instance restarted on another port, say), the next
 * call looks again.
 */
export function withFastListener(
  factory: TransportFactory,
  options: DiscoveryOptions = {},
): TransportFactory {
  return (instance) => {
    let current: Promise<{ transport: ClosableTransport; fast: boolean }> | undefined;
    const made: ClosableTransport[] = [];
    const resolve = () =>
      current ??= discoverFastUrl(instance.baseUrl, options).then((fastUrl) => {
        const target: Instance = fastUrl ? { ...instance, baseUrl: fastUrl } : instance;
        const transport = factory(target);
        made.push(transport);
        return { transport, fast: fastUrl !== undefined };
      });
    const forgetOn = (chosen: { transport: ClosableTransport; fast: boolean }, error: unknown) => {
      if (!chosen.fast || !isTransportFailure(error) || made.indexOf(chosen.transport) < 0) return;
      current = undefined;
      made.splice(made.indexOf(chosen.transport), 1);
      // Its connection failed; what still runs on it fails the same way.
      void chosen.transport.close?.();
    };
    const transport: ClosableTransport = {
      async unary(method, signal, timeoutMs, header, input, contextValues) {
        const chosen = await resolve();
        try {
          return await chosen.transport.unary(
            method,
            signal,
            timeoutMs,
            header,
            input,
            contextValues,
          );
        } catch (e) {
          forgetOn(chosen, e);
          throw e;
        }
      },
      async stream(method, signal, timeoutMs, header, input, contextValues) {
        const chosen = await resolve();
        try {
          return await chosen.transport.stream(
            method,
            signal,
            timeoutMs,
            header,
            input,
            contextValues,
          );
        } catch (e) {
          forgetOn(chosen, e);
          throw e;
        }
      },
      async close() {
        // A discovery under way still makes a transport: wait for it, then close it too.
        const pending = current;
        current = undefined;
        await pending?.catch(() => {});
        await Promise.all(made.splice(0).map((t) => t.close?.()));
      },
    };
    return transport satisfies Transport;
  };
}
