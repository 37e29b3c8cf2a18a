/**
 * Every command of the project answers `-h` and a bad flag the same way:
 * help on stdout with exit code 0; one `error:` line and a hint on stderr
 * with exit code 2. Runs each command as a process (no database needed:
 * none gets past its flags). Every script a task of deno.json runs is
 * either such a command or one that takes no flags.
 */
import assert from "node:assert/strict";
import config from "../deno.json" with { type: "json" };

/** Task name and the script `deno task <name>` runs. */
const COMMANDS = [
  ["serve", "server/main.ts"],
  ["gateway", "gateway/main.ts"],
  ["start", "cli/start.ts"],
  ["load", "cli/load.ts"],
  ["bench:coalesce", "cli/bench_coalesce.ts"],
  ["bench:hot", "cli/bench_hot.ts"],
  ["db", "db/main.ts"],
  ["bench:rpc", "cli/bench_rpc.ts"],
  ["conformance", "conformance/run.ts"],
  ["bench:commitlog", "db/bench_commitlog.ts"],
  ["test:faults", "tests/faults/main.ts"],
  ["bench:recovery", "cli/bench_recovery.ts"],
  ["docs", "cli/readme_flags.ts"],
  ["bench:churn", "cli/bench_churn.ts"],
] as const;

/** Scripts tasks run that read no command line (build steps). */
const NO_FLAGS = ["proto/protovalidate.ts", "conformance/gen.ts", "web/build.ts"];

/** The scripts a task's command runs with `deno run`. */
function taskScripts(task: string | { command: string }): string[] {
  const command = typeof task === "string" ? task : task.command;
  return [...command.matchAll(/deno run\b[^&|;]*?\s([\w./-]+\.ts)\b/g)].map((m) => m[1]);
}

Deno.test("every script a task of deno.json runs is checked here or takes no flags", () => {
  const tasks: Record<string, string | { command: string }> = config.tasks;
  for (const [name, script] of COMMANDS) {
    assert.ok(taskScripts(tasks[name] ?? "").includes(script), `task ${name} runs ${script}`);
  }
  const checked = new Set<string>([...COMMANDS.map(([, script]) => script), ...NO_FLAGS]);
  for (const [name, task] of Object.entries(tasks)) {
    for (const script of taskScripts(task)) {
      assert.ok(checked.has(script), `task ${name} runs ${script}: add it to COMMANDS`);
    }
  }
});

async function run(script: string, args: string[]) {
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", script, ...args],
    cwd: new URL("..", import.meta.url),
    stdin: "null",
    env: { NO_COLOR: "1" },
  }).output();
  const d = new TextDecoder();
  return { code: out.code, stdout: d.decode(out.stdout), stderr: d.decode(out.stderr) };
}

for (const [name, script] of COMMANDS) {
  Deno.test(`deno task ${name}: -h prints help (0); a bad flag is one line and a hint (2)`, async () => {
    const help = await run(script, ["-h"]);
    assert.equal(help.code, 0, help.stderr);
    assert.match(help.stdout, new RegExp(`^Usage: deno task ${name} `));
    assert.match(help.stdout, /-h, --help/);
    assert.equal(help.stderr, "", "help writes nothing else (start does not bundle first)");
    const bad = await run(script, ["--bogus"]);
    assert.equal(bad.code, 2);
    assert.equal(bad.stdout, "");
    assert.deepEqual(bad.stderr.trimEnd().split("\n"), [
      "error: Unknown option '--bogus'",
      `Run 'deno task ${name} --help' for the list of options.`,
    ]);
  });
}

Deno.test("README.md's flag tables and --help texts match the commands (deno task docs)", async () => {
  const { expectedReadme } = await import("./readme_flags.ts");
  const readme = await Deno.readTextFile(new URL("../README.md", import.meta.url));
  assert.ok(expectedReadme(readme) === readme, "README.md is stale: run `deno task docs`");
});

Deno.test("README.md's task table names every task of deno.json", async () => {
  const readme = await Deno.readTextFile(new URL("../README.md", import.meta.url));
  const table = readme.slice(
    readme.indexOf("## Tasks"),
    readme.indexOf("\n## ", readme.indexOf("## Tasks") + 1),
  );
  const plumbing = new Set(["fmt", "lint", "check"]); // parts of `deno task ok`
  for (const task of Object.keys(config.tasks).filter((t) => !plumbing.has(t))) {
    assert.ok(
      table.includes(`\`deno task ${task}\``) || table.includes(`\`deno task ${task} `),
      `task ${task}`,
    );
  }
});
