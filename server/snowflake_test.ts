import assert from "node:assert/strict";
import {
  BUCKET_MS,
  bucketAt,
  bucketOf,
  EPOCH_MS,
  firstIdAt,
  ReservationError,
  SnowflakeGenerator,
  timestampOf,
} from "./snowflake.ts";

Deno.test("ids carry their time, and buckets follow it", () => {
  const t = Date.UTC(2026, 10, 26, 12, 0, 0);
  const gen = new SnowflakeGenerator(7, () => t);
  const id = gen.next();
  assert.equal(timestampOf(id), t);
  assert.equal(bucketOf(id), bucketAt(t));
  assert.equal(bucketAt(t), Math.floor((t - EPOCH_MS) / BUCKET_MS));
  assert.ok(firstIdAt(t) <= id);
  assert.equal(Number((id >> 12n) & 1023n), 7);
});

Deno.test("ids strictly increase within a millisecond and past 4096 per ms", () => {
  const gen = new SnowflakeGenerator(1, () => EPOCH_MS + 1000);
  let prev = 0n;
  for (let i = 0; i < 10_000; i++) {
    const id = gen.next();
    assert.ok(id > prev, `id ${i} did not increase`);
    prev = id;
  }
});

Deno.test("ids keep increasing when the clock steps back", () => {
  let now = EPOCH_MS + 50_000;
  const gen = new SnowflakeGenerator(2, () => now);
  const a = gen.next();
  now -= 10_000;
  assert.ok(gen.next() > a);
});

Deno.test("two workers never collide in the same millisecond", () => {
  const clock = () => EPOCH_MS + 5;
  const a = new SnowflakeGenerator(1, clock);
  const b = new SnowflakeGenerator(2, clock);
  const ids = new Set<bigint>();
  for (let i = 0; i < 1000; i++) {
    ids.add(a.next());
    ids.add(b.next());
  }
  assert.equal(ids.size, 2000);
});

Deno.test("worker id is validated", () => {
  assert.throws(() => new SnowflakeGenerator(1024), RangeError);
  assert.throws(() => new SnowflakeGenerator(-1), RangeError);
  assert.throws(() => new SnowflakeGenerator(1.5), RangeError);
});

Deno.test("the original's tiny ids fall in bucket 0", () => {
  assert.equal(bucketOf(1000n), 0);
  assert.equal(bucketOf(20_000n), 0);
});

Deno.test("a floor: ids start after it, even with the clock behind it", () => {
  const floor = EPOCH_MS + 90_000;
  let now = floor - 30_000; // the clock is 30 s behind what this worker id minted before
  const gen = new SnowflakeGenerator(3, () => now, floor);
  assert.equal(gen.lastMs, floor);
  const first = gen.next();
  assert.equal(timestampOf(first), floor + 1, "not in the floor's millisecond");
  assert.ok(gen.next() > first);
  now = floor + 10_000;
  assert.equal(timestampOf(gen.next()), floor + 10_000, "the clock again once it is ahead");
  assert.equal(gen.workerId, 3);
});

Deno.test("an id past the reservation is refused and nothing is used up", () => {
  let now = EPOCH_MS + 1000;
  const gen = new SnowflakeGenerator(4, () => now);
  const a = gen.next(EPOCH_MS + 1000);
  now += 5;
  assert.throws(() => gen.next(EPOCH_MS + 1004), ReservationError);
  assert.equal(gen.lastMs, EPOCH_MS + 1000);
  const b = gen.next(EPOCH_MS + 1005);
  assert.ok(b > a);
  assert.equal(timestampOf(b), EPOCH_MS + 1005);
});
