/**
 * Keeps `deno task test:unit` (every `*_test.ts` outside `tests/`) free of
 * databases and browsers, with Deno's sanitizers on: no unit test may use
 * the integration helpers of `tests/` (they find the running Cassandra), build
 * a Cassandra store, or switch sanitizers off. Integration tests belong in
 * `tests/`.
 */
import assert from "node:assert/strict";
import { relative } from "node:path";

const ROOT = new URL("../", import.meta.url).pathname;
const SKIP = new Set(["tests", "node_modules", "gen", ".cassandra", ".git", "artifacts"]);

async function unitTests(dir = ROOT): Promise<string[]> {
  const out: string[] = [];
  for await (const e of Deno.readDir(dir)) {
    if (e.isDirectory && !SKIP.has(e.name)) out.push(...await unitTests(`${dir}${e.name}/`));
    if (e.isFile && e.name.endsWith("_test.ts")) out.push(`${dir}${e.name}`);
  }
  return out;
}

const FORBIDDEN: [RegExp, string][] = [
  [/from "(\.\.\/)+tests\//, "imports an integration helper of tests/"],
  [/new CassandraStore\(/, "builds a Cassandra store"],
  [/sanitize(Ops|Resources|Exit)\s*:\s*false/, "switches a sanitizer off"],
];

Deno.test("unit tests need no database and keep their sanitizers on", async () => {
  const files = await unitTests();
  assert.ok(files.length > 20, `found only ${files.length} unit test files`);
  const problems: string[] = [];
  for (const file of files) {
    const text = await Deno.readTextFile(file);
    for (const [re, why] of FORBIDDEN) {
      if (re.test(text)) problems.push(`${relative(ROOT, file)} ${why}`);
    }
  }
  assert.deepEqual(problems, [], "move these to tests/ or use server/memory_store.ts");
});
