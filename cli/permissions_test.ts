// The permissions of each entry point are written in several places (the
// tasks, the processes `deno task start` spawns, the image, compose and the
// Kubernetes manifests); these tests keep them in step. That the narrowed
// flags are enough is tested by running the processes: tests/serve_process_test.ts
// (an instance) and tests/browser_test.ts (`deno task start`: instances and gateway).
import assert from "node:assert/strict";
import { PERMISSIONS, permissionsOf } from "./permissions.ts";

const root = new URL("../", import.meta.url);
const read = (path: string) => Deno.readTextFile(new URL(path, root));

/** The permission kinds of a flag list: `--allow-read=/x` -> `read`. */
const kinds = (flags: readonly string[]) =>
  flags.filter((f) => f.startsWith("--allow-")).map((f) => f.slice(8).split("=")[0]).sort();

Deno.test("permissionsOf: the listed scripts get their flags, others -A", () => {
  assert.deepEqual(permissionsOf("server/main.ts"), ["--allow-net", "--allow-env", "--allow-read"]);
  assert.deepEqual(permissionsOf("./cli/load.ts"), [
    "--allow-net",
    "--allow-env",
    "--allow-read=cli,lib,router,gen",
  ]);
  assert.deepEqual(permissionsOf("db/main.ts"), ["-A"]);
  for (const flags of Object.values(PERMISSIONS)) assert.ok(!flags.includes("-A"));
});

Deno.test("deno.json: serve, dev, gateway and load run with the entry point's flags", async () => {
  const tasks = JSON.parse(await read("deno.json")).tasks as Record<string, { command: string }>;
  const expect = (task: string, script: string) => {
    const command = tasks[task].command;
    const run = `deno run ${task === "dev" ? "--watch " : ""}${
      PERMISSIONS[script].join(" ")
    } ${script}`;
    assert.ok(command.endsWith(run), `task ${task}: "${command}" does not end with "${run}"`);
    assert.ok(!/ -A /.test(command.slice(command.lastIndexOf("deno run"))), `task ${task}: -A`);
  };
  expect("serve", "server/main.ts");
  expect("dev", "server/main.ts");
  expect("gateway", "gateway/main.ts");
  expect("load", "cli/load.ts");
});

Deno.test("the image, compose and Kubernetes grant the same kinds, with paths", async () => {
  const server = kinds(PERMISSIONS["server/main.ts"]);
  const gateway = kinds(PERMISSIONS["gateway/main.ts"]);

  const cmd = /^CMD (\[.*\])$/m.exec(await read("Dockerfile"));
  assert.ok(cmd, "Dockerfile has no exec-form CMD");
  const image = JSON.parse(cmd[1]) as string[];
  assert.equal(image.at(-1), "server/main.ts");
  assert.deepEqual(kinds(image), server);
  assert.ok(image.some((f) => /^--allow-read=\//.test(f)), "the image's read is not narrowed");

  const compose = await read("compose.yaml");
  const composeGateway = /^ {2}gateway:\n(?: {4}.*\n)*? {4}command:\n((?: {6}- .*\n)+)/m.exec(
    compose,
  );
  assert.ok(composeGateway, "compose.yaml: no gateway command");
  const composeArgs = composeGateway[1].split("\n").map((l) => l.trim().replace(/^- /, ""));
  assert.ok(composeArgs.includes("gateway/main.ts"), "compose.yaml: gateway runs another script");
  assert.deepEqual(kinds(composeArgs), gateway);
  assert.ok(!/"-A"|- -A$/m.test(compose), "compose.yaml still passes -A");

  const k8s = await read("deploy/k8s/gateway-deployment.yaml");
  const args = [...k8s.matchAll(/^ {12}- (--allow-\S+)$/gm)].map((m) => m[1]);
  assert.deepEqual(kinds(args), gateway);
  assert.match(k8s, /^ {12}- gateway\/main\.ts$/m);
});
