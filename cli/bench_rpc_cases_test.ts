import assert from "node:assert/strict";
import {
  base64Url,
  grpcFrame,
  h2loadArgs,
  hotKeyBinary,
  planCases,
  planRun,
  requestFor,
  selectCases,
} from "./bench_rpc_cases.ts";

Deno.test("the hot key encodes as GetMessageRequest{1, 1000}", () => {
  // field 1 varint 1, field 2 varint 1000 (0xe8 0x07)
  assert.deepEqual([...hotKeyBinary()], [0x08, 0x01, 0x10, 0xe8, 0x07]);
  assert.equal(base64Url(hotKeyBinary()), "CAEQ6Ac");
  assert.equal(base64Url(new Uint8Array([0xfb, 0xff])), "-_8");
  assert.deepEqual([...grpcFrame(new Uint8Array([7, 8]))], [0, 0, 0, 0, 2, 7, 8]);
});

Deno.test("requestFor builds each protocol's request", () => {
  const get = requestFor("connect-get");
  assert.equal(get.method, "GET");
  assert.equal(
    get.path,
    "/dataservices.v1.MessagesService/GetMessage?connect=v1&encoding=proto&base64=1&message=CAEQ6Ac",
  );
  assert.equal(get.body, undefined);
  const json = requestFor("connect-json");
  assert.equal(new TextDecoder().decode(json.body), '{"channelId":"1","messageId":"1000"}');
  assert.equal(json.headers["content-type"], "application/json");
  assert.equal(requestFor("grpc").headers.te, "trailers");
  assert.deepEqual([...requestFor("grpc-web").body!], [0, 0, 0, 0, 5, 8, 1, 16, 232, 7]);
  assert.equal(requestFor("grpc-web").headers["content-type"], "application/grpc-web+proto");
});

Deno.test("planCases: floor, main (web protocols x h2c/h1, then gRPC h2c), then fast", () => {
  assert.deepEqual(planCases({ floor: true, fastPort: false }).map((c) => c.name), [
    "grpc/h2c/floor",
    "connect-proto/h2c/main",
    "connect-json/h2c/main",
    "connect-get/h2c/main",
    "grpc-web/h2c/main",
    "connect-proto/h1/main",
    "connect-json/h1/main",
    "connect-get/h1/main",
    "grpc-web/h1/main",
    "grpc/h2c/main",
  ]);
  const withFast = planCases({ floor: false, fastPort: true });
  assert.equal(withFast.length, 17);
  assert.ok(withFast.every((c) => c.port !== "floor"));
  assert.ok(!withFast.some((c) => c.port === "fast" && c.protocol === "grpc"));
  assert.deepEqual(
    withFast.filter((c) => c.port === "fast").map((c) => c.name).slice(0, 2),
    ["connect-proto/h2c/fast", "connect-json/h2c/fast"],
  );
});

Deno.test("selectCases keeps names containing any filter", () => {
  const cases = planCases({ floor: true, fastPort: true });
  assert.deepEqual(
    selectCases(cases, ["grpc/", "json/h1/fast"]).map((c) => c.name),
    ["grpc/h2c/floor", "grpc/h2c/main", "connect-json/h1/fast"],
  );
  assert.equal(selectCases(cases, []).length, cases.length);
  assert.deepEqual(selectCases(cases, ["nothing"]), []);
});

Deno.test("planRun measures at least the asked requests between the 20% and 90% marks", () => {
  assert.deepEqual(planRun(50_000), {
    total: 71_430,
    startTenth: 2,
    endTenth: 9,
    measured: 50_001,
  });
  assert.deepEqual(planRun(7), { total: 10, startTenth: 2, endTenth: 9, measured: 7 });
  for (const n of [1, 999, 5000, 123_457]) {
    const p = planRun(n);
    assert.equal(p.total % 10, 0);
    assert.ok(p.measured >= n && p.measured < n + 7);
  }
});

Deno.test("h2loadArgs: h2c and HTTP/1.1 shapes, headers, body file, URL", () => {
  assert.deepEqual(
    h2loadArgs("grpc", "h2c", { baseUrl: "http://h:1", total: 100, bodyFile: "/b" }),
    [
      "-n",
      "100",
      "-c",
      "4",
      "-m",
      "100",
      "-d",
      "/b",
      "-H",
      "content-type: application/grpc",
      "-H",
      "te: trailers",
      "http://h:1/dataservices.v1.MessagesService/GetMessage",
    ],
  );
  const h1 = h2loadArgs("connect-get", "h1", { baseUrl: "http://h:1", total: 10 });
  assert.deepEqual(h1.slice(0, 5), ["-n", "10", "-c", "16", "--h1"]);
  assert.ok(!h1.includes("-d"));
  assert.match(h1.at(-1)!, /\?connect=v1&encoding=proto&base64=1&message=CAEQ6Ac$/);
  const burst = h2loadArgs("grpc", "h2c", {
    baseUrl: "http://h:1",
    total: 5000,
    bodyFile: "/b",
    clients: 1,
    streams: 5000,
  });
  assert.deepEqual(burst.slice(0, 6), ["-n", "5000", "-c", "1", "-m", "5000"]);
  assert.throws(
    () => h2loadArgs("grpc", "h1", { baseUrl: "x", total: 1, bodyFile: "/b" }),
    /HTTP\/2/,
  );
  assert.throws(() => h2loadArgs("grpc-web", "h1", { baseUrl: "x", total: 1 }), /bodyFile/);
});
