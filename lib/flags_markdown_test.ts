import assert from "node:assert/strict";
import { defineCommand } from "./flags.ts";
import { fillFlagTables, flagsMarkdown } from "./flags_markdown.ts";

const CMD = defineCommand({
  name: "demo",
  summary: "A demo.",
  flags: [
    { name: "port", type: "int", env: "PORT", default: 50051, help: "Port\n(0 = any)" },
    { name: "mode", type: "enum", choices: ["a", "b"], default: "a", help: "Mode" },
    { name: "wait", type: "duration", bare: "ms", default: 1500, help: "Wait." },
    { name: "quiet", type: "bool", help: "Say less" },
  ],
});

Deno.test("flagsMarkdown: one padded row per flag: flag, env, default, meaning", () => {
  assert.equal(
    flagsMarkdown(CMD),
    [
      "| flag          | env    | default | meaning                                                      |",
      "| ------------- | ------ | ------- | ------------------------------------------------------------ |",
      "| `--port`      | `PORT` | `50051` | Port (0 = any)                                               |",
      "| `--mode a\\|b` |        | `a`     | Mode                                                         |",
      "| `--wait`      |        | `1.5s`  | Wait; a duration (`500ms`, `30s`, `2m`); a bare number is ms |",
      "| `--quiet`     |        |         | Say less                                                     |",
      "",
    ].join("\n"),
  );
});

Deno.test("fillFlagTables: regions are replaced, unknown or missing ones are errors", () => {
  const text =
    "a\n<!-- flags:demo -->\nold\n<!-- /flags:demo -->\nb\n<!-- help:demo -->\n<!-- /help:demo -->\n";
  const out = fillFlagTables(text, { demo: CMD });
  assert.match(out, /<!-- flags:demo -->\n\n\| flag /);
  assert.doesNotMatch(out, /old/);
  assert.match(out, /<!-- help:demo -->\n\n```\nUsage: deno task demo \[options\]/);
  assert.equal(fillFlagTables(out, { demo: CMD }), out, "idempotent");
  assert.throws(() => fillFlagTables(text, { other: CMD }), /flags:demo: no such command/);
  assert.throws(() => fillFlagTables("none", { demo: CMD }), /no region for: demo/);
});
