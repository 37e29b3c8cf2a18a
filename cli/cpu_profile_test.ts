import assert from "node:assert/strict";
import {
  categorize,
  type CpuProfile,
  formatProfileSummary,
  shortUrl,
  summarizeProfile,
} from "./cpu_profile.ts";

const ROOT = "file:///repo/";

const frame = (functionName: string, url = "", lineNumber = -1) => ({
  functionName,
  url,
  lineNumber,
});

/**
 * A tiny profile: root -> handler (project) -> encode (protobuf-es), plus
 * GC, idle and node-compat JS. Samples every 100 µs except where noted.
 */
const PROFILE: CpuProfile = {
  nodes: [
    { id: 1, callFrame: frame("(root)"), children: [2, 5, 6, 7] },
    { id: 2, callFrame: frame("handle", `${ROOT}server/service.ts`, 41), children: [3, 4] },
    {
      id: 3,
      callFrame: frame(
        "toBinary",
        `${ROOT}node_modules/.deno/@bufbuild+protobuf@2.17.0/node_modules/@bufbuild/protobuf/dist/esm/to-binary.js`,
        9,
      ),
    },
    { id: 4, callFrame: frame("write", "ext:deno_node/internal/stream_base_commons.ts", 99) },
    { id: 5, callFrame: frame("(garbage collector)") },
    { id: 6, callFrame: frame("(idle)") },
    { id: 7, callFrame: frame("op_http_wait", "ext:deno_http/00_serve.ts", 0) },
  ],
  startTime: 1_000,
  // Sample stamps: 1100 (2), 1200 (3), 1300 (3), 1400 (4), 1500 (5), 1600 (6), 2000 (7); end 2100.
  samples: [2, 3, 3, 4, 5, 6, 7],
  timeDeltas: [100, 100, 100, 100, 100, 100, 400],
  endTime: 2_100,
};

Deno.test("categorize sorts call frames into the coarse categories", () => {
  assert.equal(categorize("(garbage collector)", "", ROOT), "gc");
  assert.equal(categorize("(idle)", "", ROOT), "idle");
  assert.equal(categorize("(program)", "", ROOT), "native");
  assert.equal(categorize("emit", "node:events", ROOT), "node-compat JS");
  assert.equal(categorize("x", "ext:deno_node/http2.ts", ROOT), "node-compat JS");
  assert.equal(categorize("x", "ext:deno_web/06_streams.js", ROOT), "deno runtime");
  assert.equal(
    categorize("x", `${ROOT}node_modules/.deno/x/node_modules/@connectrpc/connect/dist/a.js`, ROOT),
    "connect-es",
  );
  assert.equal(
    categorize(
      "x",
      `${ROOT}node_modules/.deno/prom-client@15.1.3/node_modules/prom-client/lib/c.js`,
      ROOT,
    ),
    "prom-client",
  );
  assert.equal(categorize("x", `${ROOT}node_modules/cassandra-driver/index.js`, ROOT), "other npm");
  assert.equal(categorize("x", `${ROOT}server/app.ts`, ROOT), "project");
  assert.equal(categorize("JSONStringify", "", ROOT), "v8 builtins/native");
  assert.equal(categorize("x", "https://example.com/a.js", ROOT), "other");
});

Deno.test("summarizeProfile credits each sample's time to its own node, idle apart", () => {
  const s = summarizeProfile(PROFILE, { root: ROOT });
  assert.equal(s.totalMs, 1);
  assert.equal(s.idleMs, 0.4); // (idle) at 1600, until the next sample at 2000
  assert.equal(s.busyMs, 0.6);
  assert.equal(s.samples, 7);
  assert.deepEqual(
    s.byCategory.map((r) => [r.name, Math.round(r.ms * 1000)]),
    [
      ["protobuf-es", 200],
      ["project", 100],
      ["node-compat JS", 100],
      ["gc", 100],
      ["deno runtime", 100], // the last sample runs to endTime
    ],
  );
  assert.equal(
    s.byFunction[0].name,
    "toBinary @bufbuild/protobuf/dist/esm/to-binary.js:10 [protobuf-es]",
  );
  assert.equal(s.byFunction[1].name, "handle server/service.ts:42 [project]");
  assert.ok(Math.abs(s.byFunction[0].percent - 100 / 3) < 1e-9);
  assert.ok(!s.byFunction.some((r) => r.name.startsWith("(idle)")));
  assert.ok(Math.abs(s.byCategory.reduce((a, r) => a + r.percent, 0) - 100) < 1e-9);
});

Deno.test("summarizeProfile skips samples before sinceUs and lists only the top functions", () => {
  const s = summarizeProfile(PROFILE, { root: ROOT, sinceUs: 450, top: 1 });
  // Only the samples at 1500 (gc), 1600 (idle) and 2000 (op_http_wait) remain.
  assert.equal(s.samples, 3);
  assert.equal(s.totalMs, 0.6);
  assert.equal(s.busyMs, 0.2);
  assert.deepEqual(s.byFunction.map((r) => r.name), ["(garbage collector) [gc]"]);
});

Deno.test("summarizeProfile keeps samples inside [sinceUs, untilUs) only", () => {
  // Stamps 1200 (toBinary), 1300 (toBinary), 1400 (write); 1500 (gc) is cut off.
  const s = summarizeProfile(PROFILE, { root: ROOT, sinceUs: 200, untilUs: 500 });
  assert.equal(s.samples, 3);
  assert.deepEqual(s.byCategory.map((r) => r.name), ["protobuf-es", "node-compat JS"]);
});

Deno.test("shortUrl and formatProfileSummary", () => {
  assert.equal(shortUrl(`${ROOT}cli/load.ts`, ROOT), "cli/load.ts");
  assert.equal(shortUrl("file:///x/node_modules/.deno/a@1/node_modules/a/i.js", ROOT), "a/i.js");
  assert.equal(shortUrl("ext:deno_node/http2.ts", ROOT), "ext:deno_node/http2.ts");
  const text = formatProfileSummary(summarizeProfile(PROFILE, { root: ROOT, top: 1 }));
  assert.equal(
    text,
    [
      "CPU profile: 1 ms busy (self time, shares below) and 0 ms idle, in 7 samples",
      "By category:",
      "   33.3%        0.2 ms  protobuf-es",
      "   16.7%        0.1 ms  project",
      "   16.7%        0.1 ms  node-compat JS",
      "   16.7%        0.1 ms  gc",
      "   16.7%        0.1 ms  deno runtime",
      "Top functions:",
      "   33.3%        0.2 ms  toBinary @bufbuild/protobuf/dist/esm/to-binary.js:10 [protobuf-es]",
    ].join("\n"),
  );
});
