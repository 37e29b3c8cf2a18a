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
import { Code, ConnectError, type Transport } from "@connectrpc/connect";
import type { ClosableTransport, Instance, TransportFactory } from "./membership.ts";
import { TransportFailure } from "./lean_transport.ts";

/** Options of {@linkcode discoverFastUrl} and {@linkcode withFastListener}. */
export interface DiscoveryOptions {
  /** fetch for `GET /healthz` (default `globalThis.fetch`, HTTP/1.1). */
  readonly fetch?: typeof globalThis.fetch;
  /** How long to wait for `/healthz` (default 2000 ms). */
  readonly timeoutMs?: number;
}

/** What an instance's `/healthz` said about its fast listener. */
interface Lookup {
  /** The main port answered (any HTTP status). */
  readonly reached: boolean;
  /** The fast listener's base URL, when announced. */
  readonly url?: string;
  /** Why the main port did not answer. */
  readonly error?: string;
}

async function lookUp(baseUrl: string, options: DiscoveryOptions): Promise<Lookup> {
  const doFetch = options.fetch ?? globalThis.fetch.bind(globalThis);
  let res: Response;
  try {
    res = await doFetch(new URL("/healthz", baseUrl), {
      signal: AbortSignal.timeout(options.timeoutMs ?? 2000),
    });
  } catch (e) {
    const error = errorText(e);
    // Deno's fetch says "client error (Connect)" when no connection could be made (refused,
    // unreachable, DNS); other failures (an h2c-only server, like the original's, answering
    // HTTP/1.1 with garbage) come from a live server: its main port is the way then.
    const down = /client error \(Connect\)/.test(error) ||
      (e instanceof DOMException && (e.name === "TimeoutError" || e.name === "AbortError"));
    return down ? { reached: false, error } : { reached: true };
  }
  try {
    if (!res.ok) {
      await res.body?.cancel();
      return { reached: true };
    }
    const port = (await res.json() as { fastPort?: unknown }).fastPort;
    if (typeof port !== "number" || !Number.isInteger(port) || port <= 0 || port > 65535) {
      return { reached: true };
    }
    const url = new URL(baseUrl);
    url.port = String(port);
    return { reached: true, url: url.origin };
  } catch {
    return { reached: true };
  }
}

/** An error's message with its causes' (Deno's fetch puts the reason in `cause`). */
function errorText(e: unknown): string {
  const parts: string[] = [];
  for (let c: unknown = e, depth = 0; c !== undefined && depth < 4; depth++) {
    parts.push(c instanceof Error ? c.message : String(c));
    c = c instanceof Error ? c.cause : undefined;
  }
  return parts.join(": ");
}

/**
 * The base URL of `baseUrl`'s fast listener (same scheme and host, the
 * announced port), or undefined when it announces none or does not answer.
 */
export async function discoverFastUrl(
  baseUrl: string,
  options: DiscoveryOptions = {},
): Promise<string | undefined> {
  return (await lookUp(baseUrl, options)).url;
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
 * call looks again. When no connection to the main port can be made (the
 * instance is not up yet; connection refused, DNS, timeout), the call fails
 * with UNAVAILABLE and nothing is remembered: the next call (or health probe)
 * looks again, so an instance that comes up after its client still gets its
 * fast listener used.
 */
export function withFastListener(
  factory: TransportFactory,
  options: DiscoveryOptions = {},
): TransportFactory {
  return (instance) => {
    let current: Promise<{ transport: ClosableTransport; fast: boolean }> | undefined;
    const made: ClosableTransport[] = [];
    let closed = false;
    const resolve = () => {
      if (current !== undefined) return current;
      const attempt = lookUp(instance.baseUrl, options).then((found) => {
        if (!found.reached) {
          const why = `${instance.baseUrl}/healthz does not answer: ${found.error}`;
          throw new ConnectError(
            why,
            Code.Unavailable,
            undefined,
            undefined,
            new TransportFailure(why),
          );
        }
        // Closed while looking: make nothing that would outlive the close.
        if (closed) throw new ConnectError("transport closed", Code.Canceled);
        const target: Instance = found.url ? { ...instance, baseUrl: found.url } : instance;
        const transport = factory(target);
        made.push(transport);
        return { transport, fast: found.url !== undefined };
      });
      current = attempt;
      attempt.catch(() => {
        if (current === attempt) current = undefined;
      });
      return attempt;
    };
    const forgetOn = (chosen: { transport: ClosableTransport; fast: boolean }, error: unknown) => {
      if (!chosen.fast || !isTransportFailure(error) || made.indexOf(chosen.transport) < 0) return;
      current = undefined;
      made.splice(made.indexOf(chosen.transport), 1);
      // Its connection failed; what still runs on it fails the same way.
      void chosen.transport.close?.();
    };
    /** Runs `call` on the chosen transport; a transport failure there makes the next call look again. */
    const via = async <R>(call: (t: ClosableTransport) => Promise<R>): Promise<R> => {
      const chosen = await resolve();
      try {
        return await call(chosen.transport);
      } catch (e) {
        forgetOn(chosen, e);
        throw e;
      }
    };
    const transport: ClosableTransport = {
      unary: (...args) => via((t) => t.unary(...args)),
      stream: (...args) => via((t) => t.stream(...args)),
      async close() {
        closed = true;
        current = undefined;
        await Promise.all(made.splice(0).map((t) => t.close?.()));
      },
    };
    return transport satisfies Transport;
  };
}
