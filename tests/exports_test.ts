/**
 * deno.json `exports`: another Deno project imports the typed client by the
 * package name. The project is made in a temporary directory and links this
 * repository (`"links"` in its deno.json: the local-package mechanism of
 * Deno 2, so no registry is asked); it type-checks, then runs a routed call
 * against an in-process fake (no server needed).
 */
import assert from "node:assert/strict";

const root = new URL("..", import.meta.url).pathname.replace(/\/$/, "");
const config = JSON.parse(await Deno.readTextFile(`${root}/deno.json`));

/** Runs deno with `args` in `cwd`, killed after `ms` (the message names the step). */
async function deno(cwd: string, args: string[], ms = 120_000) {
  const r = await new Deno.Command(Deno.execPath(), {
    args,
    cwd,
    stdin: "null",
    env: { NO_COLOR: "1" },
    signal: AbortSignal.timeout(ms),
  }).output();
  const d = new TextDecoder();
  return { code: r.code, out: d.decode(r.stdout), err: d.decode(r.stderr) };
}

Deno.test("deno.json exports: name, version, and every export exists", async () => {
  assert.equal(config.name, "@deno-data-services/client");
  assert.match(config.version, /^\d+\.\d+\.\d+$/);
  assert.deepEqual(Object.keys(config.exports), [
    ".",
    "./node",
    "./dns",
    "./dataservices/v1",
    "./messages",
    "./health/v1",
  ]);
  for (const [key, path] of Object.entries(config.exports as Record<string, string>)) {
    const stat = await Deno.stat(`${root}/${path}`);
    assert.ok(stat.isFile, `${key} -> ${path} is not a file`);
  }
  // The browser entry point must stay free of node: imports.
  const graph = await deno(root, ["info", "--json", config.exports["."]]);
  assert.equal(graph.code, 0, graph.err);
  const specifiers = JSON.parse(graph.out).modules.map((m: { specifier: string }) => m.specifier);
  assert.ok(specifiers.length > 5);
  const node = specifiers.filter((s: string) => s.startsWith("node:"));
  assert.deepEqual(node, [], `router/mod.ts pulls in ${node.join(", ")}`);
});

Deno.test("another Deno project imports the typed client by package name", async () => {
  const dir = await Deno.makeTempDir({ prefix: "ds-consumer-" });
  try {
    const connect = config.imports["@connectrpc/connect"];
    await Deno.writeTextFile(
      `${dir}/deno.json`,
      JSON.stringify({
        imports: {
          "@connectrpc/connect": connect,
          [config.name]: `jsr:${config.name}@^${config.version}`,
        },
        links: [root],
      }),
    );
    await Deno.writeTextFile(
      `${dir}/main.ts`,
      `import { createClient, createRouterTransport } from "@connectrpc/connect";
import { createRoutingTransport, route } from "${config.name}";
import { createNodeRoutingTransport } from "${config.name}/node";
import { parseDnsTarget } from "${config.name}/dns";
import { MessagesService } from "${config.name}/dataservices/v1";
import { MessagesService as Original } from "${config.name}/messages";
import { Health } from "${config.name}/health/v1";

// Two in-process instances that answer with their name: the router picks the owner.
const fake = (name: string) =>
  createRouterTransport(({ service }) => {
    service(MessagesService, {
      getMessages: (req) => ({ messages: [{ channelId: req.channelId, content: name }] }),
    });
  });
const router = createRoutingTransport({
  instances: ["a:1", "b:1"],
  createTransport: (i) => fake(i.id),
  probeIntervalMs: 0,
});
const api = createClient(MessagesService, router);
const out = [];
for (const channelId of [1n, 2n, 3n, 4n, 5n]) {
  const res = await api.getMessages({ channelId });
  out.push(res.messages[0].content === ["a:1", "b:1"][route(channelId, 2)]);
}
await router.close();
// @ts-expect-error channelId is a bigint: fails to check if the types did not come through
const untyped = () => api.getMessages({ channelId: "1" });
console.log(JSON.stringify({
  routed: out,
  node: typeof createNodeRoutingTransport,
  dns: parseDnsTarget("dns:///ds:1").port,
  services: [Original.typeName, Health.typeName],
  untyped: typeof untyped,
}));
`,
    );
    const check = await deno(dir, ["check", "main.ts"]);
    assert.equal(check.code, 0, `deno check failed:\n${check.err}`);
    const run = await deno(dir, ["run", "main.ts"]);
    assert.equal(run.code, 0, `deno run failed:\n${run.err}`);
    assert.deepEqual(JSON.parse(run.out.trim().split("\n").at(-1)!), {
      routed: [true, true, true, true, true],
      node: "function",
      dns: 1,
      services: ["messages.MessagesService", "grpc.health.v1.Health"],
      untyped: "function",
    });
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
