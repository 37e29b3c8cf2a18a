import assert from "node:assert/strict";
import { getMessageUrl, parseH2loadLog, summarizeBurst } from "./h2load.ts";

Deno.test("getMessageUrl: a Connect GET with the JSON message URL-encoded", () => {
  const url = getMessageUrl("http://127.0.0.1:5", 12n, 34n);
  const u = new URL(url);
  assert.equal(u.pathname, "/dataservices.v1.MessagesService/GetMessage");
  assert.equal(u.searchParams.get("connect"), "v1");
  assert.equal(u.searchParams.get("encoding"), "json");
  assert.deepEqual(JSON.parse(u.searchParams.get("message")!), {
    channelId: "12",
    messageId: "34",
  });
  assert.ok(!url.includes("{"), "the message is encoded");
});

Deno.test("parseH2loadLog and summarizeBurst: codes from HTTP statuses, first answers, no-answers", () => {
  const t0 = 1_700_000_000_000; // ms
  const us = (ms: number) => String(ms * 1000);
  const log = [
    `${us(t0 + 1)}\t429\t${us(4)}`, // ends at 5 ms
    `${us(t0 + 1)}\t404\t${us(50)}`, // ends at 51 ms
    `${us(t0 + 2)}\t503\t${us(98)}`, // ends at 100 ms
    `${us(t0 + 2)}\t429\t${us(1)}`, // ends at 3 ms
    "",
  ].join("\n");
  const answers = parseH2loadLog(log);
  assert.equal(answers.length, 4);
  // Launched 150 ms before its first request (t0 + 1): times count from that request.
  const s = summarizeBurst(6, answers, t0 - 150);
  assert.deepEqual(s.byCode, { RESOURCE_EXHAUSTED: 2, NOT_FOUND: 1, UNAVAILABLE: 1 });
  assert.equal(s.noAnswer, 2);
  assert.equal(s.firstAnswerMs, 2);
  assert.equal(s.lastAnswerMs, 99);
  assert.deepEqual(s.firstByCodeMs, { RESOURCE_EXHAUSTED: 2, NOT_FOUND: 50, UNAVAILABLE: 99 });
  assert.equal(summarizeBurst(1, [], t0).firstAnswerMs, null);
});
