/**
 * Maps errors of the Cassandra driver to Connect error codes.
 *
 * | driver error                                              | Connect code        |
 * |-----------------------------------------------------------|---------------------|
 * | `NoHostAvailableError` (no node reachable)                | `UNAVAILABLE`       |
 * | server `Unavailable`, `Overloaded`, `IsBootstrapping`     | `UNAVAILABLE`       |
 * | server `ReadTimeout`/`WriteTimeout`, read/write failure   | `UNAVAILABLE`       |
 * | client `OperationTimedOutError` (driver `readTimeout`)    | `DEADLINE_EXCEEDED` |
 * | `BusyConnectionError` (driver request queue full), also   | `RESOURCE_EXHAUSTED`|
 * | inside `NoHostAvailableError` when every host was busy    |                     |
 * | anything else                                             | `INTERNAL`          |
 *
 * UNAVAILABLE means "try again, maybe elsewhere": the router retries idempotent
 * reads that fail with it once on a fallback instance.
 *
 * @module
 */
import cassandra from "cassandra-driver";
import { Code, ConnectError } from "@connectrpc/connect";

const { errors, types } = cassandra;
const rc = types.responseErrorCodes;
const UNAVAILABLE_RESPONSES = new Set<number>([
  rc.unavailableException,
  rc.overloaded,
  rc.isBootstrapping,
  rc.readTimeout,
  rc.writeTimeout,
  rc.readFailure,
  rc.writeFailure,
]);

/** The Connect code for an error thrown by the Cassandra driver. */
export function codeOfDriverError(err: unknown): Code {
  if (err instanceof ConnectError) return err.code;
  if (err instanceof errors.NoHostAvailableError) {
    const inner = Object.values(err.innerErrors ?? {});
    const all = (type: new (...args: never[]) => Error) =>
      inner.length > 0 && inner.every((e) => e instanceof type);
    // The driver's own back-pressure (every connection has 2048 requests in
    // flight) is overload here, not a lost database.
    if (all(errors.BusyConnectionError)) return Code.ResourceExhausted;
    return all(errors.OperationTimedOutError) ? Code.DeadlineExceeded : Code.Unavailable;
  }
  if (err instanceof errors.OperationTimedOutError) return Code.DeadlineExceeded;
  if (err instanceof errors.BusyConnectionError) return Code.ResourceExhausted;
  if (err instanceof errors.ResponseError && UNAVAILABLE_RESPONSES.has(err.code)) {
    return Code.Unavailable;
  }
  return Code.Internal;
}

/** Wraps a driver error in a ConnectError with the mapped code; keeps ConnectErrors. */
export function toConnectError(err: unknown, what = "Cassandra query"): ConnectError {
  if (err instanceof ConnectError) return err;
  const code = codeOfDriverError(err);
  return new ConnectError(`${what} failed: ${describe(err)}`, code, undefined, undefined, err);
}

/** One line about a driver error; for NoHostAvailableError, each host's first line. */
export function describe(err: unknown): string {
  const firstLine = (e: unknown) =>
    (e instanceof Error ? e.message : String(e)).split("\n")[0].replace(/^Error: /, "");
  if (err instanceof errors.NoHostAvailableError) {
    const hosts = Object.entries(err.innerErrors ?? {}).map(([h, e]) => `${h}: ${firstLine(e)}`);
    return `no Cassandra host answered${hosts.length ? ` (${hosts.join("; ")})` : ""}`;
  }
  return firstLine(err);
}
