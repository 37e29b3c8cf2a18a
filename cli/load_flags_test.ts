import assert from "node:assert/strict";
import { DEFAULT_TARGETS, FlagError, parseDuration, parseLoadArgs } from "./load_flags.ts";
import { main } from "./load.ts";

Deno.test("no flags: the original's defaults, all at once, over deno task start's instances", () => {
  const c = parseLoadArgs([]);
  assert.equal(c.help, false);
  assert.equal(c.format, "text");
  assert.equal(c.allowErrors, false);
  assert.deepEqual(c.options, {
    channels: 20,
    requests: 10000,
    concurrency: undefined,
    rps: undefined,
    durationMs: undefined,
    timeoutMs: 60000,
    connections: 4,
    protocol: "connect",
    routing: "jump",
    targets: [...DEFAULT_TARGETS],
    gateway: undefined,
    method: "message",
    warmup: 0,
    workers: Math.max(1, Math.min(4, navigator.hardwareConcurrency)),
  });
});

Deno.test("every flag is parsed", () => {
  const c = parseLoadArgs([
    "--channels=7",
    "--concurrency",
    "64",
    "--rps",
    "250.5",
    "--duration",
    "1.5m",
    "--timeout",
    "2s",
    "--connections",
    "2",
    "--protocol",
    "connect-json",
    "--routing",
    "round-robin",
    "--targets",
    "a:1, http://b:2",
    "--method",
    "compat",
    "--warmup",
    "10",
    "--workers",
    "3",
    "--format",
    "json",
    "--allow-errors",
  ]);
  assert.equal(c.format, "json");
  assert.equal(c.allowErrors, true);
  assert.deepEqual(c.options, {
    channels: 7,
    requests: undefined,
    concurrency: 64,
    rps: 250.5,
    durationMs: 90_000,
    timeoutMs: 2000,
    connections: 2,
    protocol: "connect-json",
    routing: "round-robin",
    targets: ["a:1", "http://b:2"],
    gateway: undefined,
    method: "compat",
    warmup: 10,
    workers: 3,
  });
  assert.equal(
    parseLoadArgs(["--gateway", "127.0.0.1:8080"]).options.gateway,
    "http://127.0.0.1:8080",
  );
  assert.deepEqual(parseLoadArgs(["--targets", "dns:///ds.default.svc:50051"]).options.targets, [
    "dns:///ds.default.svc:50051",
  ]);
  assert.equal(parseLoadArgs(["--help"]).help, true);
  assert.equal(parseLoadArgs(["-h"]).help, true);
});

Deno.test("parseDuration: units, and bare numbers in the flag's unit", () => {
  assert.equal(parseDuration("d", "500ms", "s"), 500);
  assert.equal(parseDuration("d", "10", "s"), 10_000);
  assert.equal(parseDuration("t", "10", "ms"), 10);
  assert.equal(parseDuration("d", "2m", "s"), 120_000);
  assert.equal(parseDuration("d", "1h", "s"), 3_600_000);
});

const BAD: [string[], RegExp][] = [
  [["--nope"], /Unknown option '--nope'/],
  [["extra"], /Unexpected argument 'extra'/],
  [["--channels"], /--channels/],
  [["--channels", "0"], /--channels must be an integer >= 1, got "0"/],
  [["--channels", "ten"], /--channels must be an integer >= 1, got "ten"/],
  [["--requests=-5"], /--requests must be an integer >= 1, got "-5"/],
  [["--requests", "1.5"], /--requests must be an integer >= 1, got "1.5"/],
  [["--concurrency", "0"], /--concurrency must be an integer >= 1/],
  [["--connections", "0"], /--connections must be an integer >= 1, got "0"/],
  [["--rps", "0"], /--rps must be a number > 0, got "0"/],
  [["--rps", "fast"], /--rps must be a number > 0/],
  [["--duration", "soon", "--rps", "5"], /--duration must be a duration like 500ms/],
  [["--duration", "0", "--rps", "5"], /--duration must be > 0/],
  [["--duration", "10s"], /--duration needs --rps .* or --concurrency/],
  [["--duration", "10s", "--rps", "5", "--requests", "9"], /--requests and --duration exclude/],
  [["--duration", "100ms", "--rps", "1"], /sends no request/],
  [["--timeout", "later"], /--timeout must be a duration/],
  [["--protocol", "http3"], /--protocol must be one of grpc, grpc-web, connect, connect-json/],
  [["--routing", "consistent"], /--routing must be one of jump, round-robin, random, single/],
  [["--method", "all"], /--method must be one of history, message, compat/],
  [["--format", "yaml"], /--format must be one of text, json/],
  [["--warmup=-1"], /--warmup must be an integer >= 0, got "-1"/],
  [["--warmup", "-1"], /Option '--warmup' argument is ambiguous/],
  [["--targets", ""], /--targets is empty/],
  [["--targets", "localhost"], /--targets: "localhost" must be host:port/],
  [["--targets", "a:70000"], /port 1\.\.65535/],
  [["--targets", "ftp://a:1"], /must be an http:\/\/ or https:\/\/ URL/],
  [["--targets", "a:1,a:1"], /--targets lists a:1 twice/],
  [["--targets", "dns:///ds:1,a:1"], /a dns: target must be alone/],
  [["--targets", "dns:///ds:0"], /--targets: "dns:\/\/\/ds:0": port must be 1\.\.65535/],
  [["--gateway", "http://"], /--gateway: "http:\/\/" is not a valid URL/],
  [["--gateway", "g:8080", "--routing", "jump"], /--routing does not apply with --gateway/],
];

for (const [args, message] of BAD) {
  Deno.test(`bad flags ${JSON.stringify(args)}: FlagError with exit code 2`, () => {
    assert.throws(() => parseLoadArgs(args), (err) => {
      assert.ok(err instanceof FlagError);
      assert.equal(err.exitCode, 2);
      assert.match(err.message, message);
      return true;
    });
  });
}

Deno.test("main returns 2 on a bad flag and prints the message and a hint on stderr", async () => {
  const errors: string[] = [];
  const original = console.error;
  console.error = (...args: unknown[]) => errors.push(args.join(" "));
  try {
    assert.equal(await main(["--channels", "0"]), 2);
  } finally {
    console.error = original;
  }
  assert.match(errors.join("\n"), /error: --channels must be an integer >= 1, got "0"/);
  assert.match(errors.join("\n"), /--help/);
});

Deno.test("the process exits with code 2 on a bad flag, 0 on --help", async () => {
  const run = (args: string[]) =>
    new Deno.Command(Deno.execPath(), {
      args: ["run", "-A", new URL("./load.ts", import.meta.url).pathname, ...args],
      stdout: "piped",
      stderr: "piped",
      env: { NO_COLOR: "1" },
    }).output();
  const bad = await run(["--routing", "nearest"]);
  assert.equal(bad.code, 2);
  assert.match(new TextDecoder().decode(bad.stderr), /--routing must be one of/);
  const help = await run(["--help"]);
  assert.equal(help.code, 0);
  assert.match(new TextDecoder().decode(help.stdout), /Usage: deno task load/);
});
