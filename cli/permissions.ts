/**
 * The Deno permissions of each entry point, instead of `-A`: what the
 * `deno task serve|gateway|load` tasks pass, what `deno task start` gives the
 * processes it spawns, and (with paths narrowed to the image's layout) what
 * the Dockerfile, compose.yaml and deploy/k8s pass.
 *
 * - `server/main.ts`: network (listen, Cassandra, DNS), environment (its
 *   configuration), reading files (`--tls-cert`/`--tls-key`, wherever they are);
 * - `gateway/main.ts`: the same (the dashboard under web/, TLS files);
 * - `cli/load.ts`: network, environment, and reading its own modules (the
 *   sending threads of `--workers` load them: `cli`, `lib`, `router`, `gen`;
 *   paths relative to the repository root, where tasks run).
 *
 * None of them may write files, run programs, load native code or read
 * system information. Tools that do (`db`, `start`, `gen`, the tests) keep `-A`.
 *
 * @module
 */

/** Permission flags by script path (relative to the repository root). */
export const PERMISSIONS: Readonly<Record<string, readonly string[]>> = {
  "server/main.ts": ["--allow-net", "--allow-env", "--allow-read"],
  "gateway/main.ts": ["--allow-net", "--allow-env", "--allow-read"],
  "cli/load.ts": ["--allow-net", "--allow-env", "--allow-read=cli,lib,router,gen"],
};

/** The flags to run `script` with: its entry in {@linkcode PERMISSIONS}, else `-A`. */
export function permissionsOf(script: string): readonly string[] {
  return PERMISSIONS[script.replace(/^\.\//, "")] ?? ["-A"];
}
