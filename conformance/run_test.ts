import assert from "node:assert/strict";
import { applicable, COMBINATIONS, parseKnownList, parseSummary, runnerConfig } from "./run.ts";

const connect2 = { protocol: "connect", http: "2" } as const;
const grpcWeb11 = { protocol: "grpc-web", http: "1.1" } as const;

Deno.test("parseSummary reads the runner's totals, tests not run and expected failures", () => {
  assert.deepEqual(parseSummary("FAILED: x:\n\tboom\n\nTotal cases: 12\n10 passed, 2 failed\n"), {
    complete: true,
    passed: 10,
    failed: 2,
    expected: 0,
    notRun: 0,
  });
  const wedgedClient = "Total cases: 346\n341 passed, 5 failed\n" +
    "Another 180 could not be run due to client timing out or exiting prematurely.\n" +
    "(Another 4 failed as expected due to being known failures/flakes.)\n";
  assert.deepEqual(parseSummary(wedgedClient), {
    complete: true,
    passed: 341,
    failed: 185,
    expected: 4,
    notRun: 180,
  });
  assert.equal(
    parseSummary("known failing: unmatched and possibly invalid patterns:\nx\n").complete,
    false,
  );
});

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

Deno.test("runnerConfig: one protocol and HTTP version; TLS for the server when asked; gRPC needs HTTP/2", () => {
  assert.ok(COMBINATIONS.every((c) => c.protocol !== "grpc" || c.http === "2"));
  const server = JSON.parse(runnerConfig("server", grpcWeb11, true)).features;
  assert.deepEqual(server.versions, ["HTTP_VERSION_1"]);
  assert.deepEqual(server.protocols, ["PROTOCOL_GRPC_WEB"]);
  assert.deepEqual(server.codecs, ["CODEC_PROTO", "CODEC_JSON"]);
  assert.equal(server.supportsH2c, false);
  assert.equal(server.supportsTls, true);
  assert.equal(server.supportsMessageReceiveLimit, true);
  assert.equal(JSON.parse(runnerConfig("server", grpcWeb11, false)).features.supportsTls, false);
  const client = JSON.parse(runnerConfig("client", connect2, true)).features;
  assert.deepEqual([client.versions, client.supportsH2c, client.supportsTls], [
    ["HTTP_VERSION_2"],
    true,
    false,
  ]);
});
