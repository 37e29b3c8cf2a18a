import assert from "node:assert/strict";
import { resolveConfig } from "./page_config.ts";

Deno.test("resolveConfig: the address overrides /config.json", () => {
  const file = {
    instances: ["127.0.0.1:50051", "127.0.0.1:50052"],
    gateway: "http://g:8080",
  };
  assert.deepEqual(resolveConfig(file, ""), {
    instances: file.instances,
    gateway: "http://g:8080",
    source: "/config.json",
  });
  assert.deepEqual(resolveConfig(file, "?instances=a:1,b:2&gateway=http://x:1"), {
    instances: ["a:1", "b:2"],
    gateway: "http://x:1",
    source: "?instances= in the address",
  });
  assert.deepEqual(resolveConfig(undefined, "?instances=a:1", "HTTP 404").instances, ["a:1"]);
  assert.throws(
    () => resolveConfig(undefined, "", "HTTP 404"),
    /could not be read \(HTTP 404\).*\?instances=/,
  );
  assert.throws(() => resolveConfig({ instances: [] }, ""), /has no instances/);
});
