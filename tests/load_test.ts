/**
 * End to end: `runLoad` (what `deno task load` runs) against two real
 * data-service instances on the test Cassandra.
 *
 * Sanitizers are off: cassandra-driver keeps sockets and timers beyond a
 * test's body by design; the test closes what it opened in `finally`.
 */
import assert from "node:assert/strict";
import { runLoad } from "../cli/load.ts";
import { formatText } from "../cli/report_text.ts";
import { startInstance } from "./_util.ts";

const opts = { sanitizeOps: false, sanitizeResources: false };

Deno.test("load: 2,000 requests over 20 channels on two instances", opts, async () => {
  const a = await startInstance();
  const b = await startInstance();
  try {
    const requests = 2000;
    const report = await runLoad({
      targets: [a.url, b.url],
      requests,
      channels: 20,
      method: "history",
      routing: "jump",
    });
    const text = formatText(report);
    assert.equal(report.client.failed, 0, text);
    assert.deepEqual(report.client.errors, {});
    assert.equal(report.client.sent, requests);
    // Nobody else talks to these fresh instances: the deltas are exactly this run.
    assert.equal(report.totalRequests, requests, text);
    assert.ok(report.totalQueries > 0, text);
    assert.ok(report.totalQueries < requests, `coalescing saved nothing:\n${text}`);
    assert.equal(report.savedQueries, requests - report.totalQueries);
    assert.equal(report.averageQueriesPerRequest, report.totalQueries / requests);

    // Per-instance figures add up to the totals and are consistent with each other.
    assert.deepEqual(report.instances.map((d) => d.id), [a.url, b.url]);
    const sum = (k: "requests" | "queries") => report.instances.reduce((s, d) => s + d[k], 0);
    assert.equal(sum("requests"), report.totalRequests);
    assert.equal(sum("queries"), report.totalQueries);
    for (const d of report.instances) {
      assert.equal(d.errors, 0, text);
      assert.equal(d.restarted, false);
      // Each request either ran the query or joined one.
      assert.equal(d.queries + d.coalesced, d.requests, text);
      // Jump routing keeps each channel (100 requests) on one instance.
      assert.equal(d.requests % (requests / 20), 0, text);
    }
    assert.equal(report.latencyMs?.count, requests);
    assert.deepEqual(text.split("\n").slice(0, 3), [
      `Unique requests: 20, Total requests: ${requests}, Total queries executed: ${report.totalQueries}`,
      `Average queries per request: ${report.totalQueries / requests}`,
      `Saved queries by coalescing: ${requests - report.totalQueries}`,
    ]);
    assert.match(text.split("\n")[3], /^Total time taken: \d/);
  } finally {
    await Promise.all([a.close(0), b.close(0)]);
  }
});
