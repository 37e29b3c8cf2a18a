import assert from "node:assert/strict";
// @ts-types="npm:@types/sinonjs__fake-timers@15.0.1"
import FakeTimers from "@sinonjs/fake-timers";
import {
  compareNatural,
  DEFAULT_DNS_INTERVAL_MS,
  DEFAULT_DNS_PORT,
  type DnsResolver,
  isDnsTarget,
  parseDnsTarget,
  resolveDnsTarget,
  watchDnsTarget,
} from "./dns.ts";

/** A stub resolver answering from `zone` (name -> type -> records or an error); logs queries. */
function stubResolver(zone: Record<string, Record<string, unknown[] | Error>>) {
  const queries: string[] = [];
  const options: (Deno.ResolveDnsOptions | undefined)[] = [];
  const resolver = ((query: string, type: string, o?: Deno.ResolveDnsOptions) => {
    queries.push(`${type} ${query}`);
    options.push(o);
    const answer = zone[query]?.[type];
    if (answer === undefined) {
      return Promise.reject(new Deno.errors.NotFound(`no ${type} record for ${query}`));
    }
    return answer instanceof Error ? Promise.reject(answer) : Promise.resolve([...answer]);
  }) as DnsResolver;
  return { resolver, queries, options, zone };
}

Deno.test("isDnsTarget tells dns: targets from host:port and URLs", () => {
  assert.ok(isDnsTarget("dns:///ds.default.svc:50051"));
  assert.ok(isDnsTarget(" DNS:ds:1"));
  assert.ok(isDnsTarget("dns+srv:///_grpc._tcp.ds"));
  assert.ok(!isDnsTarget("127.0.0.1:50051"));
  assert.ok(!isDnsTarget("http://dns:50051"));
  assert.ok(!isDnsTarget("dnsname:50051"));
});

Deno.test("parseDnsTarget reads gRPC's target syntax", () => {
  assert.deepEqual(parseDnsTarget("dns:///data-services.default.svc:50051"), {
    type: "A",
    name: "data-services.default.svc",
    port: 50051,
    text: "dns:///data-services.default.svc:50051",
  });
  assert.equal(parseDnsTarget("dns:ds").port, DEFAULT_DNS_PORT);
  assert.equal(parseDnsTarget("dns:ds:7").name, "ds");
  assert.deepEqual(parseDnsTarget("dns://10.96.0.10/ds:1").nameServer, {
    ipAddr: "10.96.0.10",
    port: 53,
  });
  assert.deepEqual(parseDnsTarget("dns://[fd00::a]:5353/ds:1").nameServer, {
    ipAddr: "fd00::a",
    port: 5353,
  });
  assert.deepEqual(parseDnsTarget("dns:///[::1]:9").name, "::1");
  const srv = parseDnsTarget("dns+srv:///_grpc._tcp.ds.default.svc");
  assert.equal(srv.type, "SRV");
  assert.equal(srv.name, "_grpc._tcp.ds.default.svc");
  for (
    const [bad, why] of [
      ["ds:1", /not a DNS target/],
      ["dns:///", /empty/],
      ["dns:///ds:0", /port must be 1\.\.65535/],
      ["dns:///ds:", /port must be 1\.\.65535/],
      ["dns:///ds:70000", /port must be/],
      ["dns+srv:///_grpc._tcp.ds:1", /SRV target takes no port/],
      ["dns://my-dns/ds:1", /name server "my-dns" must be ip\[:port\]/],
      ["dns:///a,b:1", /empty or contains/],
    ] as const
  ) {
    assert.throws(
      () => parseDnsTarget(bad),
      (e: Error) => e instanceof TypeError && why.test(e.message),
      bad,
    );
  }
});

Deno.test("compareNatural orders addresses and ordinal names as people do", () => {
  const list = [
    "10.0.0.10:50051",
    "10.0.0.9:50051",
    "10.0.1.2:50051",
    "[fd00::2]:50051",
    "9.255.0.1:50051",
  ];
  assert.deepEqual([...list].sort(compareNatural), [
    "9.255.0.1:50051",
    "10.0.0.9:50051",
    "10.0.0.10:50051",
    "10.0.1.2:50051",
    "[fd00::2]:50051",
  ]);
  assert.deepEqual(["ds-10.x:1", "ds-2.x:1", "ds-1.x:1"].sort(compareNatural), [
    "ds-1.x:1",
    "ds-2.x:1",
    "ds-10.x:1",
  ]);
  assert.ok(compareNatural("a01", "a1") !== 0);
  assert.equal(compareNatural("a1", "a1"), 0);
  assert.ok(compareNatural("a", "a1") < 0);
});

Deno.test("resolveDnsTarget: A and AAAA records with the port, deduplicated and sorted", async () => {
  const { resolver, queries } = stubResolver({
    "ds.default.svc": {
      A: ["10.0.0.10", "10.0.0.9", "10.0.0.10"],
      AAAA: ["fd00::1"],
    },
    "v4only": { A: ["10.1.0.1"] },
  });
  assert.deepEqual(await resolveDnsTarget("dns:///ds.default.svc:50051", { resolver }), [
    "10.0.0.9:50051",
    "10.0.0.10:50051",
    "[fd00::1]:50051",
  ]);
  assert.deepEqual(queries, ["A ds.default.svc", "AAAA ds.default.svc"]);
  // AAAA answers NotFound: the A records are the list.
  assert.deepEqual(await resolveDnsTarget("dns:v4only:7", { resolver }), ["10.1.0.1:7"]);
});

Deno.test("resolveDnsTarget: SRV records give target:port, trailing dot dropped", async () => {
  const { resolver } = stubResolver({
    "_grpc._tcp.ds": {
      SRV: [
        { priority: 0, weight: 10, port: 50051, target: "ds-10.ds.default.svc.cluster.local." },
        { priority: 0, weight: 10, port: 50051, target: "ds-2.ds.default.svc.cluster.local." },
      ],
    },
  });
  assert.deepEqual(await resolveDnsTarget("dns+srv:///_grpc._tcp.ds", { resolver }), [
    "ds-2.ds.default.svc.cluster.local:50051",
    "ds-10.ds.default.svc.cluster.local:50051",
  ]);
});

Deno.test("resolveDnsTarget: no record is NotFound; a failed lookup surfaces its error", async () => {
  const { resolver, options } = stubResolver({
    "flaky": { A: new Error("resolver timed out"), AAAA: ["fd00::9"] },
    "down": { A: new Error("resolver timed out"), AAAA: new Error("resolver timed out") },
  });
  await assert.rejects(
    resolveDnsTarget("dns:///missing:1", { resolver }),
    (e: Error) =>
      e instanceof Deno.errors.NotFound && /"missing" has no A or AAAA record/.test(e.message),
  );
  await assert.rejects(
    resolveDnsTarget("dns+srv:///missing", { resolver }),
    (e: Error) => e instanceof Deno.errors.NotFound && /no SRV record/.test(e.message),
  );
  // One family answering is enough.
  assert.deepEqual(await resolveDnsTarget("dns:flaky:1", { resolver }), ["[fd00::9]:1"]);
  await assert.rejects(resolveDnsTarget("dns:down:1", { resolver }), /resolver timed out/);
  // The authority is passed on as the name server.
  await resolveDnsTarget("dns://10.96.0.10:5353/flaky:1", { resolver });
  assert.deepEqual(options.at(-1)?.nameServer, { ipAddr: "10.96.0.10", port: 5353 });
});

Deno.test("watchDnsTarget re-resolves every interval and reports only changed lists", async () => {
  const clock = FakeTimers.install({ toFake: ["setTimeout", "clearTimeout"] });
  try {
    await watchScenario(clock);
  } finally {
    clock.uninstall();
  }
});

async function watchScenario(clock: FakeTimers.InstalledClock) {
  const { resolver, queries, zone } = stubResolver({ ds: { A: ["10.0.0.2", "10.0.0.1"] } });
  const lists: string[][] = [];
  const errors: unknown[] = [];
  const watch = watchDnsTarget("dns:///ds:50051", ["10.0.0.1:50051", "10.0.0.2:50051"], (l) => {
    lists.push(l);
  }, { resolver, onError: (e) => errors.push(e) });
  try {
    assert.equal(queries.length, 0, "the first resolution waits for the interval");
    await clock.tickAsync(DEFAULT_DNS_INTERVAL_MS);
    assert.equal(queries.length, 2, "A and AAAA after one interval");
    assert.deepEqual(lists, [], "same records in another order: no change");

    zone.ds.A = ["10.0.0.3", "10.0.0.1", "10.0.0.2"]; // a pod came up
    await clock.tickAsync(DEFAULT_DNS_INTERVAL_MS - 1);
    assert.deepEqual(lists, []);
    await clock.tickAsync(1);
    assert.deepEqual(lists, [["10.0.0.1:50051", "10.0.0.2:50051", "10.0.0.3:50051"]]);

    zone.ds.A = new Error("server failure"); // DNS trouble: keep the list
    delete zone.ds.AAAA;
    await clock.tickAsync(DEFAULT_DNS_INTERVAL_MS);
    assert.equal(lists.length, 1);
    assert.match(String(errors.at(-1)), /server failure/);

    zone.ds.A = []; // every pod unready: NotFound, keep the list
    await clock.tickAsync(DEFAULT_DNS_INTERVAL_MS);
    assert.equal(lists.length, 1);
    assert.ok(errors.at(-1) instanceof Deno.errors.NotFound);

    zone.ds.A = ["10.0.0.1"];
    await watch.refresh(); // now, without waiting for the timer
    assert.deepEqual(lists.at(-1), ["10.0.0.1:50051"]);
    const before = queries.length;
    await clock.tickAsync(DEFAULT_DNS_INTERVAL_MS - 1);
    assert.equal(queries.length, before, "refresh restarted the interval");
    await clock.tickAsync(1);
    assert.equal(queries.length, before + 2);
  } finally {
    watch.close();
    watch.close();
  }
  const after = queries.length;
  await clock.tickAsync(DEFAULT_DNS_INTERVAL_MS * 3);
  assert.equal(queries.length, after, "no lookup after close");
  assert.equal(clock.countTimers(), 0, "no timer left behind");
}

Deno.test("watchDnsTarget runs one lookup at a time and drops the answer of a closed watch", async () => {
  const clock = FakeTimers.install({ toFake: ["setTimeout", "clearTimeout"] });
  try {
    let release!: (ips: string[]) => void;
    let calls = 0;
    const resolver = ((_q: string, type: string) => {
      calls++;
      if (type === "AAAA") return Promise.reject(new Deno.errors.NotFound("none"));
      return new Promise<string[]>((resolve) => (release = resolve));
    }) as DnsResolver;
    const lists: string[][] = [];
    const watch = watchDnsTarget("dns:ds:1", [], (l) => lists.push(l), {
      resolver,
      intervalMs: 100,
    });
    await clock.tickAsync(100);
    assert.equal(calls, 2);
    const again = watch.refresh(); // joins the lookup under way
    await clock.tickAsync(1000);
    assert.equal(calls, 2, "no second lookup while one runs");
    release(["10.0.0.1"]);
    await again;
    assert.deepEqual(lists, [["10.0.0.1:1"]]);
    await clock.tickAsync(100);
    assert.equal(calls, 4);
    watch.close();
    release(["10.0.0.2"]);
    await clock.tickAsync(1000);
    assert.deepEqual(lists, [["10.0.0.1:1"]], "an answer after close is dropped");
    assert.throws(() => watchDnsTarget("dns:ds:1", [], () => {}, { intervalMs: 0 }), RangeError);
  } finally {
    clock.uninstall();
  }
});
