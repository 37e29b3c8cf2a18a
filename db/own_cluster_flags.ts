/**
 * The flags of a command that runs a Cassandra cluster of its own beside the
 * default one (`bench:commitlog`, `test:faults`): `--state-dir` and
 * `--ip-base`, and the check of the prefix.
 *
 * @module
 */
import { FlagError } from "../lib/flags.ts";
import { REPO_ROOT } from "./settings.ts";
import { IP_BASE } from "./templates.ts";

/** `--state-dir` (default `<repo>/<stateDir>`) and `--ip-base` rows of a flag table. */
export function ownClusterFlags<const D extends string, const P extends string>(
  stateDir: D,
  ipBase: P,
) {
  return [
    {
      name: "state-dir",
      type: "string",
      arg: "DIR",
      default: `${REPO_ROOT}/${stateDir}`,
      defaultHelp: `<repo>/${stateDir}`,
      help: "State directory of its cluster",
    },
    {
      name: "ip-base",
      type: "string",
      arg: "P",
      default: ipBase,
      help: "Loopback prefix of its nodes (P.1, P.2, ...)",
    },
  ] as const;
}

/**
 * `value` when it is three octets of a loopback address (`127.0.2`).
 *
 * @throws {FlagError} naming `--ip-base` otherwise.
 */
export function checkIpBase(value: string): string {
  if (!IP_BASE.test(value)) {
    throw new FlagError(
      `--ip-base must be three octets of a loopback address, e.g. 127.0.2, got "${value}"`,
    );
  }
  return value;
}
