import assert from "node:assert/strict";
import { createLogger, LogThrottle } from "./log.ts";

Deno.test("LogThrottle lets one line per key per interval through and counts the rest", () => {
  let t = 0;
  const th = new LogThrottle(1000, { now: () => t });
  assert.deepEqual(th.allow("a"), { ok: true, suppressed: 0 });
  assert.deepEqual(th.allow("a"), { ok: false });
  assert.deepEqual(th.allow("a"), { ok: false });
  assert.deepEqual(th.allow("b"), { ok: true, suppressed: 0 }, "keys are independent");
  t = 999;
  assert.deepEqual(th.allow("a"), { ok: false });
  t = 1000;
  assert.deepEqual(
    th.allow("a"),
    { ok: true, suppressed: 3 },
    "the next line says how many were left out",
  );
  assert.deepEqual(th.allow("a"), { ok: false });
});

Deno.test("LogThrottle remembers a bounded number of keys", () => {
  const th = new LogThrottle(1000, { now: () => 0, maxKeys: 2 });
  th.allow("a");
  th.allow("b");
  th.allow("c"); // forgets "a"
  assert.deepEqual(th.allow("a"), { ok: true, suppressed: 0 });
  assert.deepEqual(th.allow("c"), { ok: false });
});

Deno.test("createLogger writes one JSON object per line with the base fields", () => {
  const lines: string[] = [];
  const log = createLogger({ service: "x" }, { level: "info", write: (l) => lines.push(l) });
  log.debug("hidden");
  log.warn("shown", { n: 1n });
  assert.equal(lines.length, 1);
  const o = JSON.parse(lines[0]);
  assert.equal(o.msg, "shown");
  assert.equal(o.level, "warn");
  assert.equal(o.service, "x");
  assert.equal(o.n, "1");
});
