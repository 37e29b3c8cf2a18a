import assert from "node:assert/strict";
import { exists, readText, tailFile } from "./files.ts";

Deno.test("tailFile: last lines of small and large files, missing file", async () => {
  const dir = await Deno.makeTempDir();
  try {
    assert.equal(await tailFile(`${dir}/none.log`, 5), undefined);
    await Deno.writeTextFile(`${dir}/small.log`, "a\nb\nc\n");
    assert.deepEqual(await tailFile(`${dir}/small.log`, 2), ["b", "c"]);
    assert.deepEqual(await tailFile(`${dir}/small.log`, 10), ["a", "b", "c"]);
    const big = Array.from({ length: 20_000 }, (_, i) => `line ${i} ${"x".repeat(40)}`);
    await Deno.writeTextFile(`${dir}/big.log`, big.join("\n") + "\n");
    assert.deepEqual(await tailFile(`${dir}/big.log`, 3), big.slice(-3));
    // more lines than fit in the 256 KiB window: only whole lines come back
    const many = (await tailFile(`${dir}/big.log`, 100_000))!;
    assert.ok(many.length < big.length);
    assert.deepEqual(many, big.slice(-many.length));
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("readText and exists: a missing file is undefined / false, not an error", async () => {
  const dir = await Deno.makeTempDir();
  try {
    assert.equal(await readText(`${dir}/none`), undefined);
    assert.equal(await exists(`${dir}/none`), false);
    await Deno.writeTextFile(`${dir}/f`, "x");
    assert.equal(await readText(`${dir}/f`), "x");
    assert.equal(await exists(`${dir}/f`), true);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
