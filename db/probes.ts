/**
 * Probes of a Cassandra and of local ports: a CQL round trip with
 * cassandra-driver, a TCP connect, whether a port can be bound, and who
 * listens on one (for error messages).
 *
 * @module
 */
import cassandra from "cassandra-driver";
import { clientOptions, type ClusterInfo } from "./cluster_info.ts";

/** What a CQL probe saw. */
export interface CqlProbe {
  /** Hosts the driver considers up. */
  up: number;
  /** Rows of `system.peers` on the coordinator. */
  peers: number;
  /** `release_version` of the coordinator. */
  version: string;
}

/** Opens a driver client on `info`, runs `fn`, and always shuts the client down. */
export async function withClient<T>(
  info: ClusterInfo,
  fn: (client: cassandra.Client) => Promise<T>,
  connectTimeoutMs = 3000,
): Promise<T> {
  const client = new cassandra.Client({
    ...clientOptions(info),
    socketOptions: { connectTimeout: connectTimeoutMs, readTimeout: 15000 },
  });
  try {
    await client.connect();
    return await fn(client);
  } finally {
    await client.shutdown().catch(() => {});
  }
}

/** A one-line description of a driver error (NoHostAvailableError lists each host's error). */
export function describeCqlError(e: unknown): string {
  const err = e as { message?: string; innerErrors?: Record<string, { message?: string }> };
  if (err?.innerErrors && Object.keys(err.innerErrors).length) {
    return Object.entries(err.innerErrors)
      .map(([host, inner]) => `${host}: ${inner?.message ?? inner}`)
      .join("; ");
  }
  return String(err?.message ?? e).split("\n")[0];
}

/** Connects with cassandra-driver and counts hosts up and `system.peers` rows. */
export function probeCql(info: ClusterInfo): Promise<CqlProbe> {
  return withClient(info, async (client) => {
    const up = client.hosts.values().filter((h) => h.isUp()).length;
    const local = await client.execute("SELECT release_version FROM system.local");
    const peers = await client.execute("SELECT peer FROM system.peers");
    return { up, peers: peers.rowLength, version: String(local.first()?.get("release_version")) };
  });
}

/** Whether a TCP connection to `host:port` succeeds within `timeoutMs`. */
export async function tcpOpen(host: string, port: number, timeoutMs = 1000): Promise<boolean> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const connect = Deno.connect({ hostname: host, port }).then(
    (c) => {
      c.close();
      return true;
    },
    () => false,
  );
  const timeout = new Promise<boolean>((r) => timer = setTimeout(() => r(false), timeoutMs));
  try {
    return await Promise.race([connect, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

/** Whether we could bind `host:port` now (i.e. nobody listens there). */
export function portFree(host: string, port: number): boolean {
  try {
    Deno.listen({ hostname: host, port, transport: "tcp" }).close();
    return true;
  } catch (e) {
    if (e instanceof Deno.errors.AddrInUse) return false;
    throw e;
  }
}

/** Best effort: who listens on `port` (`ss -ltnp`), for error messages. */
export async function listenerOf(host: string, port: number): Promise<string> {
  try {
    const out = await new Deno.Command("ss", { args: ["-Hltnp"], stderr: "null" }).output();
    const lines = new TextDecoder().decode(out.stdout).split("\n").filter((l) =>
      [`${host}:${port} `, `0.0.0.0:${port} `, `*:${port} `, `[::]:${port} `].some((a) =>
        l.includes(a)
      )
    );
    return lines.length
      ? `\n  ${lines.map((l) => l.trim().replace(/\s+/g, " ")).join("\n  ")}`
      : "";
  } catch {
    return "";
  }
}
