/**
 * `deno task serve` as a real process: --help and bad flags, JSON logs, and
 * SIGTERM draining (readiness flips, the process exits 0).
 */
import assert from "node:assert/strict";
import { spawnService } from "../cli/child.ts";
import { withTimeout } from "../lib/wait.ts";
import { cassandraInfo, READY_TIMEOUT_MS } from "./_util.ts";

const opts = { sanitizeOps: false, sanitizeResources: false };

async function run(args: string[]): Promise<{ code: number; out: string; err: string }> {
  const r = await new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", "server/main.ts", ...args],
    cwd: new URL("..", import.meta.url),
    stdin: "null",
  }).output();
  const d = new TextDecoder();
  return { code: r.code, out: d.decode(r.stdout), err: d.decode(r.stderr) };
}

Deno.test("serve --help lists the flags; a bad flag exits 2 with a clear message", async () => {
  const help = await run(["--help"]);
  assert.equal(help.code, 0);
  assert.match(help.out, /--cassandra-contact-points/);
  assert.match(help.out, /--no-coalesce/);
  const bad = await run(["--port", "http"]);
  assert.equal(bad.code, 2);
  assert.match(bad.err, /--port must be an integer in 0\.\.65535/);
  const unknown = await run(["--colour"]);
  assert.equal(unknown.code, 2);
  assert.match(unknown.err, /Unknown option '--colour'/);
});

Deno.test({
  name: "SIGTERM drains and exits 0; logs are JSON lines",
  ...opts,
  async fn() {
    const info = await cassandraInfo();
    const ready = Promise.withResolvers<void>();
    const child = spawnService("serve", "server/main.ts", [
      "--port",
      "0",
      "--cassandra-contact-points",
      info.contactPoints.join(","),
      "--drain-ms",
      "3000",
    ], { onLine: (line) => line.includes('"msg":"ready"') && ready.resolve() });
    try {
      const url = await withTimeout(child.listening, READY_TIMEOUT_MS, "deno task serve to listen");
      await withTimeout(
        ready.promise,
        READY_TIMEOUT_MS,
        `deno task serve at ${url} to log "ready"`,
      );
      const r = await fetch(`${url}/readyz`);
      await r.body?.cancel();
      assert.equal(r.status, 200);
      const stats = await fetch(`${url}/dataservices.v1.MessagesService/GetStats`, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: "{}",
      });
      assert.equal(stats.status, 200);
      await stats.body?.cancel();
      Deno.kill(child.pid, "SIGTERM");
      assert.equal(
        await withTimeout(child.exited, 10_000, "deno task serve to exit after SIGTERM"),
        0,
      );
      const logs = child.tail().map((l) => JSON.parse(l));
      const msgs = logs.map((l) => l.msg);
      assert.ok(msgs.includes("draining"), msgs.join(", "));
      assert.ok(msgs.includes("stopped"), msgs.join(", "));
      for (const l of logs) assert.ok(l.time && l.level && l.msg, "structured JSON log lines");
    } finally {
      await child.stop(1000);
    }
  },
});
