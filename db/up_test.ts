import assert from "node:assert/strict";
import { ensureUp } from "./up.ts";
import { DbError } from "./settings.ts";
import { clusterDir, nodeDir } from "./state.ts";
import { tmpSettings } from "./_test_util.ts";

Deno.test("ensureUp: a cluster keeps the loopback prefix it was created on", async () => {
  const s = await tmpSettings({ ipBase: "127.0.1" });
  try {
    await Deno.mkdir(`${nodeDir(s, 3, 1)}/data`, { recursive: true });
    await Deno.writeTextFile(`${clusterDir(s, 3)}/cluster.json`, '{"nodes":3,"version":"5.0.8"}');
    await assert.rejects(ensureUp(3, { settings: s }), (e: unknown) => {
      assert.ok(e instanceof DbError);
      assert.equal(e.exitCode, 2);
      assert.match(e.message, /created on 127\.0\.0\.1\.\.3, not 127\.0\.1\.1\.\.3/);
      assert.match(e.message, /DB_IP_BASE=127\.0\.0/);
      return true;
    });
  } finally {
    await Deno.remove(s.stateDir, { recursive: true });
  }
});

Deno.test("ensureUp: --nodes out of range is a usage error", async () => {
  const s = await tmpSettings();
  try {
    for (const n of [0, 4, 1.5]) {
      await assert.rejects(ensureUp(n, { settings: s }), (e: unknown) => {
        assert.ok(e instanceof DbError);
        assert.equal(e.exitCode, 2);
        return true;
      });
    }
  } finally {
    await Deno.remove(s.stateDir, { recursive: true });
  }
});
