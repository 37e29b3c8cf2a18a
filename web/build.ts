/**
 * Bundles the dashboard: `web/app.ts` -> `web/dist/app.js` with `deno bundle`
 * (`deno task web:build`; `deno task start` and the browser test call
 * {@linkcode buildDashboard}).
 *
 * Not browser-safe, and not part of the bundle: it runs Deno.
 *
 * @module
 */

const ROOT = new URL("..", import.meta.url);

/** The `deno` arguments that bundle the page, run from the repository root. */
export const BUNDLE_ARGS: readonly string[] = Object.freeze([
  "bundle",
  "--platform=browser",
  "-o",
  "web/dist/app.js",
  "web/app.ts",
]);

/**
 * Bundles the dashboard.
 *
 * @throws {Error} with `deno bundle`'s output when it fails.
 */
export async function buildDashboard(): Promise<void> {
  const out = await new Deno.Command(Deno.execPath(), {
    args: [...BUNDLE_ARGS],
    cwd: ROOT,
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).output();
  if (!out.success) {
    throw new Error(`deno bundle failed:\n${new TextDecoder().decode(out.stderr)}`);
  }
}

if (import.meta.main) {
  try {
    await buildDashboard();
  } catch (err) {
    console.error(`error: ${(err as Error).message}`);
    Deno.exit(1);
  }
}
