import assert from "node:assert/strict";
import { ConfigError, helpText, OPTIONS, parseConfig } from "./config.ts";

const noEnv = () => undefined;

Deno.test("defaults", () => {
  const c = parseConfig([], noEnv);
  assert.equal(c.port, 50051);
  assert.equal(c.workerId, undefined, "any free id, leased");
  assert.equal(c.workerLeaseTtlMs, 30_000);
  assert.equal(c.probeIntervalMs, 250);
  assert.equal(c.probeTimeoutMs, 750);
  assert.deepEqual(c.contactPoints, ["127.0.0.1"]);
  assert.equal(c.coalesce, true);
  assert.equal(c.onCap, "reject");
  assert.equal(c.tls, undefined);
});

Deno.test("flags beat environment, environment beats defaults", () => {
  const env = (n: string) =>
    ({ PORT: "6000", CASSANDRA_CONTACT_POINTS: "a, b", NO_COALESCE: "true" })[n];
  const c = parseConfig(["--port", "7000"], env);
  assert.equal(c.port, 7000);
  assert.deepEqual(c.contactPoints, ["a", "b"]);
  assert.equal(c.coalesce, false);
  assert.equal(parseConfig(["--no-coalesce"], noEnv).coalesce, false);
});

Deno.test("bad values are ConfigErrors that name the flag", () => {
  for (
    const args of [
      ["--port", "70000"],
      ["--port", "abc"],
      ["--worker-id", "2000"],
      ["--worker-lease-ttl", "2"],
      ["--worker-lease-ttl", "4500ms"],
      ["--on-cap", "drop"],
      ["--tls-cert", "x.pem"],
      ["--bogus"],
      ["--max-waiters", "0"],
    ]
  ) {
    assert.throws(() => parseConfig(args, noEnv), ConfigError, args.join(" "));
  }
  assert.throws(() => parseConfig(["--port", "x"], noEnv), /--port must be an integer/);
});

Deno.test("help lists every flag and its environment variable", () => {
  const h = helpText();
  for (const o of OPTIONS) {
    assert.ok(h.includes(`--${o.name}`), o.name);
    if ("env" in o && o.env) assert.ok(h.includes(o.env), o.env);
  }
});

Deno.test("an explicit worker id and lease length", () => {
  const c = parseConfig(["--worker-id", "7", "--worker-lease-ttl", "12"], noEnv);
  assert.equal(c.workerId, 7);
  assert.equal(c.workerLeaseTtlMs, 12_000);
  assert.equal(parseConfig([], (n) => ({ WORKER_ID: "0" })[n]).workerId, 0);
});
