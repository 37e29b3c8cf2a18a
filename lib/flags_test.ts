import assert from "node:assert/strict";
import {
  defineCommand,
  FlagError,
  formatDuration,
  helpText,
  parseCommand,
  parseDuration,
  parseOrExitCode,
} from "./flags.ts";

const CMD = defineCommand({
  name: "demo",
  summary: "A command for tests.",
  flags: [
    { name: "port", type: "int", min: 0, max: 65535, default: 8080, env: "PORT", help: "Port" },
    { name: "count", type: "int", min: 1, help: "How many", section: "Load" },
    { name: "rate", type: "number", above: 0, help: "Per second" },
    { name: "timeout", type: "duration", bare: "ms", default: 60_000, help: "Deadline" },
    { name: "duration", type: "duration", bare: "s", above: 0, help: "How long" },
    { name: "hosts", type: "list", default: ["127.0.0.1"], env: "HOSTS", help: "Hosts" },
    { name: "mode", type: "enum", choices: ["fast", "slow"], default: "fast", help: "Mode" },
    { name: "name", type: "string", short: "n", help: "A name" },
    { name: "quiet", type: "bool", env: "QUIET", help: "Say less" },
  ],
  epilogue: "Exit codes: 0 ok, 2 bad flags.",
});

const noEnv = () => undefined;

function values(args: string[], env: (n: string) => string | undefined = noEnv) {
  const p = parseCommand(CMD, args, env);
  assert.equal(p.help, false);
  return (p as Extract<typeof p, { help: false }>).values;
}

Deno.test("defaults, and undefined for flags without one", () => {
  assert.deepEqual(values([]), {
    port: 8080,
    count: undefined,
    rate: undefined,
    timeout: 60_000,
    duration: undefined,
    hosts: ["127.0.0.1"],
    mode: "fast",
    name: undefined,
    quiet: false,
  });
});

Deno.test("every type converts its text", () => {
  const v = values([
    "--port=0",
    "--count",
    "3",
    "--rate",
    "2.5",
    "--timeout",
    "2s",
    "--duration",
    "1.5m",
    "--hosts",
    "a, b,,c",
    "--mode",
    "slow",
    "-n",
    "x",
    "--quiet",
  ]);
  assert.deepEqual(v, {
    port: 0,
    count: 3,
    rate: 2.5,
    timeout: 2000,
    duration: 90_000,
    hosts: ["a", "b", "c"],
    mode: "slow",
    name: "x",
    quiet: true,
  });
});

Deno.test("a bare duration keeps each flag's old unit", () => {
  assert.equal(values(["--timeout", "30"]).timeout, 30, "--timeout 30 is 30 ms");
  assert.equal(values(["--duration", "30"]).duration, 30_000, "--duration 30 is 30 s");
  assert.equal(values(["--timeout", "500ms"]).timeout, 500);
  assert.equal(parseDuration("d", "1h", "s"), 3_600_000);
  assert.equal(parseDuration("d", " 2m ", "ms"), 120_000);
});

Deno.test("a repeatable list adds up its occurrences; split: false keeps each value whole", () => {
  const cmd = defineCommand({
    name: "multi",
    summary: "",
    flags: [
      { name: "only", type: "list", repeatable: true, help: "Subsets" },
      { name: "run", type: "list", repeatable: true, split: false, help: "Patterns" },
      { name: "hosts", type: "list", help: "Hosts" },
    ],
  });
  const p = parseCommand(
    cmd,
    [
      "--only",
      "a, b",
      "--only",
      "c",
      "--run",
      "x,y z",
      "--run",
      "w",
      "--hosts",
      "h1",
      "--hosts",
      "h2",
    ],
    noEnv,
  );
  assert.ok(!p.help);
  assert.deepEqual(p.values, { only: ["a", "b", "c"], run: ["x,y z", "w"], hosts: ["h2"] });
  assert.match(helpText(cmd), /--only LIST +Subsets \(repeatable\)\n/);
  assert.doesNotMatch(helpText(cmd), /--hosts LIST +Hosts \(repeatable\)/);
});

Deno.test("flags beat environment, environment beats defaults; empty env is unset", () => {
  const env = (n: string) => ({ PORT: "7000", HOSTS: "x,y", QUIET: "yes" })[n];
  assert.equal(values([], env).port, 7000);
  assert.equal(values(["--port", "9"], env).port, 9);
  assert.deepEqual(values([], env).hosts, ["x", "y"]);
  assert.equal(values([], env).quiet, true);
  assert.equal(values([], (n) => (n === "QUIET" ? "0" : undefined)).quiet, false);
  assert.equal(values([], (n) => (n === "PORT" ? "" : undefined)).port, 8080);
});

const BAD: [string[], RegExp][] = [
  [["--nope"], /^Unknown option '--nope'$/],
  [["stray"], /^Unexpected argument 'stray'/],
  [["--count"], /^Option '--count <value>' argument missing$/],
  [["--count", "-1"], /^Option '--count' argument is ambiguous\. Did you forget/],
  [["--port", "70000"], /^--port must be an integer in 0\.\.65535, got "70000"$/],
  [["--port", "http"], /^--port must be an integer in 0\.\.65535, got "http"$/],
  [["--count", "0"], /^--count must be an integer >= 1, got "0"$/],
  [["--count", "1.5"], /^--count must be an integer >= 1, got "1\.5"$/],
  [["--rate", "0"], /^--rate must be a number > 0, got "0"$/],
  [["--rate", "fast"], /^--rate must be a number > 0, got "fast"$/],
  [["--timeout", "soon"], /^--timeout must be a duration like 500ms, 10s or 2m \(a bare number/],
  [["--duration", "0"], /^--duration must be > 0ms, got "0"$/],
  [["--mode", "medium"], /^--mode must be one of fast, slow, got "medium"$/],
];

for (const [args, message] of BAD) {
  Deno.test(`bad command line ${JSON.stringify(args)}: one-line FlagError, exit code 2`, () => {
    assert.throws(() => parseCommand(CMD, args, noEnv), (err) => {
      assert.ok(err instanceof FlagError);
      assert.equal(err.exitCode, 2);
      assert.match(err.message, message);
      assert.doesNotMatch(err.message, /\n/);
      return true;
    });
  });
}

Deno.test("a bad environment variable names the variable and its flag", () => {
  assert.throws(
    () => parseCommand(CMD, [], (n) => (n === "PORT" ? "x" : undefined)),
    (e) =>
      e instanceof FlagError &&
      e.message === 'PORT (for --port) must be an integer in 0..65535, got "x"',
  );
});

Deno.test("-h and --help win over bad values", () => {
  assert.deepEqual(parseCommand(CMD, ["-h"], noEnv), { help: true });
  assert.deepEqual(parseCommand(CMD, ["--port", "x", "--help"], noEnv), { help: true });
});

Deno.test("positionals only where the command takes them", () => {
  const withArgs = defineCommand({ ...CMD, positionals: true });
  const p = parseCommand(withArgs, ["up", "--port", "1"], noEnv);
  assert.ok(!p.help);
  assert.deepEqual(p.positionals, ["up"]);
});

Deno.test("help lists every flag with its default, unit and environment variable", () => {
  const text = helpText(CMD);
  assert.match(text, /^Usage: deno task demo \[options\]\n\nA command for tests\.\n/);
  assert.match(text, /\n {6}--port N {12}Port \(default 8080\) \[env PORT\]\n/);
  assert.match(text, /--timeout D +Deadline \(default 1m; a bare number is ms\)/);
  assert.match(text, /--duration D +How long \(a bare number is seconds\)/);
  assert.match(text, /--hosts LIST +Hosts \(default 127\.0\.0\.1\) \[env HOSTS\]/);
  assert.match(text, / {2}-n, --name TEXT +A name\n/);
  assert.match(text, /Load:\n +--count N +How many\n/);
  assert.match(text, / {2}-h, --help +Print this help\n\nExit codes/);
  for (const f of CMD.flags) assert.ok(text.includes(`--${f.name}`), f.name);
});

Deno.test("parseOrExitCode: help on stdout (0), one error line and a hint on stderr (2)", () => {
  const out: string[] = [];
  const err: string[] = [];
  const io = { env: noEnv, out: (t: string) => out.push(t), err: (t: string) => err.push(t) };
  assert.equal(parseOrExitCode(CMD, ["--help"], io), 0);
  assert.match(out.join(""), /Usage: deno task demo/);
  assert.equal(parseOrExitCode(CMD, ["--port", "x"], io), 2);
  assert.deepEqual(err.join("").split("\n"), [
    'error: --port must be an integer in 0..65535, got "x"',
    "Run 'deno task demo --help' for the list of options.",
  ]);
  const ok = parseOrExitCode(CMD, ["--port", "1"], io);
  assert.ok(typeof ok !== "number");
  assert.equal(ok.values.port, 1);
});

Deno.test("formatDuration picks the largest whole unit", () => {
  assert.equal(formatDuration(500), "500ms");
  assert.equal(formatDuration(1500), "1.5s");
  assert.equal(formatDuration(90_000), "90s");
  assert.equal(formatDuration(120_000), "2m");
  assert.equal(formatDuration(3_600_000), "1h");
  assert.equal(formatDuration(0), "0ms");
});

Deno.test("defineCommand refuses a flag defined twice", () => {
  assert.throws(
    () =>
      defineCommand({
        name: "x",
        summary: "",
        flags: [{ name: "a", type: "bool", help: "" }, { name: "a", type: "bool", help: "" }],
      }),
    /--a defined twice/,
  );
});
