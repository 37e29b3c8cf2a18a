import assert from "node:assert/strict";
import { originAllowed } from "./cors.ts";

Deno.test("origin allowlist: localhost shorthand, exact origins, wildcard", () => {
  const local = ["localhost"];
  assert.ok(originAllowed(local, "http://localhost:5173"));
  assert.ok(originAllowed(local, "http://127.0.0.1:8080"));
  assert.ok(originAllowed(local, "https://[::1]"));
  assert.ok(!originAllowed(local, "http://localhost.evil.example"));
  assert.ok(!originAllowed(local, "https://example.com"));
  assert.ok(originAllowed(["https://app.example"], "https://app.example"));
  assert.ok(!originAllowed(["https://app.example"], "https://app.example:444"));
  assert.ok(originAllowed(["*"], "https://anything.example"));
  assert.ok(!originAllowed([], "http://localhost"));
});
