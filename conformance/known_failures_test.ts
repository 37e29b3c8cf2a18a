import assert from "node:assert/strict";
import { applicable, parseKnownList } from "./known_failures.ts";

const connect2 = { protocol: "connect", http: "2" } as const;
const grpcWeb11 = { protocol: "grpc-web", http: "1.1" } as const;

Deno.test("parseKnownList: comments, blank lines, optional [combination ...] prefix", () => {
  const list = parseKnownList(
    "# why\n\nBasic/**/x\n  [connect/1.1 connect/2]  Connect Unexpected Responses/**/y  \n",
  );
  assert.deepEqual(list, [
    { pattern: "Basic/**/x" },
    { pattern: "Connect Unexpected Responses/**/y", only: ["connect/1.1", "connect/2"] },
  ]);
  assert.throws(() => parseKnownList("[connect/3] Basic/**"), /unknown combination connect\/3/);
});

Deno.test("applicable gives untagged patterns to every combination, tagged ones to theirs", () => {
  const known = parseKnownList(
    "Basic/**/a\n[connect/2 grpc/2] Connect Unexpected Responses/**/b\n",
  );
  assert.deepEqual(applicable(known, connect2), [
    "Basic/**/a",
    "Connect Unexpected Responses/**/b",
  ]);
  assert.deepEqual(applicable(known, grpcWeb11), ["Basic/**/a"]);
});
