import assert from "node:assert/strict";
import { FLOOR_DIR, goCommand, parseFloorListening } from "./bench_rpc_floor.ts";

Deno.test("parseFloorListening reads the floor's listening line only", () => {
  assert.equal(parseFloorListening("listening 127.0.0.1:41234"), "127.0.0.1:41234");
  assert.equal(parseFloorListening("listening 127.0.0.1:41234\r"), "127.0.0.1:41234");
  assert.equal(parseFloorListening("2026/12/01 serve: closed"), undefined);
});

Deno.test("the floor's sources are where the bench builds them", () => {
  for (const f of ["go.mod", "go.sum", "main.go", "buf.gen.yaml"]) {
    assert.ok(Deno.statSync(`${FLOOR_DIR}/${f}`).isFile, `bench/floor/${f}`);
  }
  assert.match(Deno.readTextFileSync(`${FLOOR_DIR}/main.go`), /RegisterMessagesServiceServer/);
});

Deno.test("goCommand prefers GO from the environment", () => {
  const before = Deno.env.get("GO");
  try {
    Deno.env.set("GO", "/opt/go/bin/go");
    assert.equal(goCommand(), "/opt/go/bin/go");
  } finally {
    if (before === undefined) Deno.env.delete("GO");
    else Deno.env.set("GO", before);
  }
});
