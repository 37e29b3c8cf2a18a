/**
 * The fuzz test: malformed requests of every protocol an instance serves
 * (Connect JSON, binary and GET, gRPC, gRPC-web, Connect streams; broken
 * bodies, envelopes, varints, flags, sizes, ids, base64, timeouts, content
 * types, headers, HTTP/1.1 garbage), over raw HTTP/1.1 and h2c, to both
 * listeners of an instance over a MemoryStore in a child process. Every
 * answer's code is checked (never INTERNAL/UNKNOWN/5xx for a client's
 * mistake, the expected code where the case has one), no answer may take
 * over 1 s, a normal call must work after each batch, and the process must
 * not die. See tests/fuzz/.
 *
 * - `deno task test` runs a short version: 400 cases, a fixed seed.
 * - `deno task test:fuzz` runs 24,000 cases with a random seed (printed).
 * - `FUZZ_SEED=n FUZZ_CASES=n` rerun a run; `FUZZ_ONLY=12,345` reruns cases by
 *   number; `FUZZ_REPORT=file.json` writes the report.
 */
import assert from "node:assert/strict";
import { formatReport, runFuzz, startFuzzInstance } from "./fuzz/runner.ts";

const full = Deno.env.get("FUZZ_FULL") === "1";
const env = (name: string) => Deno.env.get(name) || undefined;
const seed = Number(
  env("FUZZ_SEED") ?? (full ? crypto.getRandomValues(new Uint32Array(1))[0] : 20261201),
);
const cases = Number(env("FUZZ_CASES") ?? (full ? 24_000 : 400));
const only = env("FUZZ_ONLY")?.split(",").map(Number);

Deno.test(`fuzz: ${only?.length ?? cases} malformed requests, seed ${seed}`, async () => {
  console.log(`fuzz seed ${seed} (rerun: FUZZ_SEED=${seed} FUZZ_CASES=${cases})`);
  const report = await runFuzz(() => startFuzzInstance(16 * 1024), {
    seed,
    cases,
    only,
    log: full ? (line) => console.log(line) : undefined,
  });
  console.log(formatReport(report, cases));
  const out = env("FUZZ_REPORT");
  if (out) await Deno.writeTextFile(out, JSON.stringify({ cases, ...report }, null, 2) + "\n");
  assert.deepEqual(report.crashes, [], "the instance process died");
  assert.deepEqual(report.normalFailures, [], "normal calls failed after a batch");
  assert.deepEqual(
    report.failures.slice(0, 10).map((f) =>
      `${f.why}: ${f.case}${f.detail ? ` (${f.detail})` : ""}`
    ),
    [],
    `${report.failures.length} answers broke the rules`,
  );
});
