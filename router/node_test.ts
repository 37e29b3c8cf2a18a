// Tests of the Deno/Node helpers. They need --allow-env, --allow-read,
// --allow-write and --allow-net (`deno test -A router/`); without them the
// tests that need a permission are skipped, not failed.
import assert from "node:assert/strict";
import * as http from "node:http";
import * as http2 from "node:http2";
import type { AddressInfo } from "node:net";
import { createClient } from "@connectrpc/connect";
import { compressionGzip, connectNodeAdapter } from "@connectrpc/connect-node";
import { MessagesService } from "../gen/dataservices/v1/messages_pb.ts";
import { route, routeLive } from "./jump.ts";
// @ts-types="npm:@types/sinonjs__fake-timers@15.0.1"
import FakeTimers from "@sinonjs/fake-timers";
import { fakeCluster, FakeInstance } from "./_fake.ts";
import type { DnsResolver } from "./dns.ts";
import {
  createNodeRoutingTransport,
  createNodeTransportFactory,
  instancesFromEnv,
  readInstancesFile,
  resolveInstances,
  watchInstancesFile,
} from "./node.ts";
import { createRoutingTransport } from "./transport.ts";

const granted = (name: "env" | "read" | "write" | "net") =>
  Deno.permissions.querySync({ name }).state === "granted";
const canEnv = granted("env");
const canFs = granted("read") && granted("write");
const canNet = granted("net");

Deno.test({
  name: "instancesFromEnv reads DATA_SERVICES (or another variable)",
  ignore: !canEnv,
  fn() {
    const name = "ROUTER_TEST_DATA_SERVICES";
    Deno.env.set(name, " 127.0.0.1:50051, 127.0.0.1:50052 ");
    try {
      assert.deepEqual(instancesFromEnv(name), ["127.0.0.1:50051", "127.0.0.1:50052"]);
      Deno.env.set(name, " , ");
      assert.equal(instancesFromEnv(name), undefined);
      Deno.env.delete(name);
      assert.equal(instancesFromEnv(name), undefined);
    } finally {
      Deno.env.delete(name);
    }
  },
});

Deno.test({
  name: "resolveInstances: explicit list, then file, then environment",
  ignore: !(canEnv && canFs),
  async fn() {
    const dir = await Deno.makeTempDir();
    const env = "ROUTER_TEST_RESOLVE";
    try {
      const file = `${dir}/instances`;
      await Deno.writeTextFile(file, "# ordered\nf:1\nf:2, f:3\n");
      Deno.env.set(env, "e:1,e:2");
      assert.deepEqual(await readInstancesFile(file), ["f:1", "f:2", "f:3"]);
      assert.deepEqual(await resolveInstances({ instances: "x:1, y:1", file, env }), [
        "x:1",
        "y:1",
      ]);
      assert.deepEqual(await resolveInstances({ instances: ["x:1"], file, env }), ["x:1"]);
      assert.deepEqual(await resolveInstances({ instances: "", file, env }), ["f:1", "f:2", "f:3"]);
      assert.deepEqual(await resolveInstances({ env }), ["e:1", "e:2"]);
      assert.deepEqual(await resolveInstances({ env: false }), []);
      await assert.rejects(resolveInstances({ file: `${dir}/missing` }), Deno.errors.NotFound);
    } finally {
      Deno.env.delete(env);
      await Deno.remove(dir, { recursive: true });
    }
  },
});

Deno.test({
  name: "watchInstancesFile reports list changes, not rewrites of the same list or empty reads",
  ignore: !canFs,
  async fn() {
    const dir = await Deno.makeTempDir();
    try {
      const file = `${dir}/instances`;
      await Deno.writeTextFile(file, "a:1\nb:1\n");
      const lists: string[][] = [];
      let changed = Promise.withResolvers<void>();
      const watch = watchInstancesFile(file, ["a:1", "b:1"], (list) => {
        lists.push(list);
        changed.resolve();
      }, { debounceMs: 20 });
      try {
        await Deno.writeTextFile(file, "a:1, b:1 # same list, new comment\n");
        await Deno.writeTextFile(`${dir}/other`, "unrelated");
        await Deno.writeTextFile(file, "# momentarily empty, as while an editor rewrites it\n");
        await Deno.writeTextFile(file, "a:1\nb:1\nc:1\n");
        await changed.promise;
        assert.deepEqual(lists, [["a:1", "b:1", "c:1"]]);
        // Replaced by rename, as editors do.
        changed = Promise.withResolvers<void>();
        await Deno.writeTextFile(`${dir}/instances.tmp`, "a:1\nb:1\nc:1\nd:1\n");
        await Deno.rename(`${dir}/instances.tmp`, file);
        await changed.promise;
        assert.deepEqual(lists.at(-1), ["a:1", "b:1", "c:1", "d:1"]);
      } finally {
        watch.close();
        watch.close();
      }
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
});

/** `promise`, or a rejection naming `what` after `ms` (a real timer: no test waits forever). */
async function within<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms: ${what}`)), ms);
  });
  try {
    return await Promise.race([promise, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

/**
 * Writes `content` as a new version of a Kubernetes ConfigMap volume in `dir`,
 * the way the kubelet's AtomicWriter does: a new `..<timestamp>` directory, a
 * `..data_tmp` symlink to it renamed over `..data`, then the old version
 * removed. The user-visible `instances` is a symlink to `..data/instances`.
 */
async function writeConfigMapVersion(dir: string, version: number, content: string) {
  const data = `..2026_12_01_00_00_0${version}.${1000 + version}`;
  await Deno.mkdir(`${dir}/${data}`);
  await Deno.writeTextFile(`${dir}/${data}/instances`, content);
  let old: string | undefined;
  try {
    old = await Deno.readLink(`${dir}/..data`);
  } catch (error) {
    if (!(error instanceof Deno.errors.NotFound)) throw error;
  }
  await Deno.symlink(data, `${dir}/..data_tmp`);
  await Deno.rename(`${dir}/..data_tmp`, `${dir}/..data`);
  if (old === undefined) await Deno.symlink("..data/instances", `${dir}/instances`);
  else await Deno.remove(`${dir}/${old}`, { recursive: true });
}

Deno.test({
  name: "watchInstancesFile follows a Kubernetes ConfigMap update (..data symlink swap)",
  ignore: !canFs,
  async fn() {
    const dir = await Deno.makeTempDir();
    try {
      await writeConfigMapVersion(dir, 1, "ds-0:50051\nds-1:50051\n");
      const file = `${dir}/instances`;
      assert.deepEqual(await readInstancesFile(file), ["ds-0:50051", "ds-1:50051"]);
      const lists: string[][] = [];
      let changed = Promise.withResolvers<void>();
      const errors: unknown[] = [];
      const watch = watchInstancesFile(file, ["ds-0:50051", "ds-1:50051"], (list) => {
        lists.push(list);
        changed.resolve();
      }, { debounceMs: 20, onError: (e) => errors.push(e) });
      try {
        await writeConfigMapVersion(dir, 2, "ds-0:50051\nds-1:50051\nds-2:50051\n");
        await within(changed.promise, 5000, "the watch to see ..data swapped to version 2");
        assert.deepEqual(lists, [["ds-0:50051", "ds-1:50051", "ds-2:50051"]]);
        // The file path itself never changed: it is still the same symlink.
        assert.equal(await Deno.readLink(file), "..data/instances");
        changed = Promise.withResolvers<void>();
        await writeConfigMapVersion(dir, 3, "ds-0:50051\n");
        await within(changed.promise, 5000, "the watch to see ..data swapped to version 3");
        assert.deepEqual(lists.at(-1), ["ds-0:50051"]);
        assert.deepEqual(errors, []);
      } finally {
        watch.close();
      }
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
});

/** Serves a fake instance over real HTTP/2 (h2c) on an ephemeral port. */
async function serve(fake: FakeInstance) {
  const sessions = new Set<http2.ServerHttp2Session>();
  const server = http2.createServer(connectNodeAdapter({ routes: fake.routes }));
  server.on("session", (s) => {
    sessions.add(s);
    s.on("close", () => sessions.delete(s));
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const port = (server.address() as AddressInfo).port;
  return {
    address: `127.0.0.1:${port}`,
    async close() {
      for (const s of sessions) s.close();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

/** An address nothing listens on. */
async function deadAddress(): Promise<string> {
  const server = http2.createServer();
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const port = (server.address() as AddressInfo).port;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return `127.0.0.1:${port}`;
}

for (const protocol of ["grpc", "connect", "grpc-web"] as const) {
  Deno.test({
    name: `connect-node ${protocol} over HTTP/2: routing, failover from a refused port, close`,
    ignore: !canNet,
    async fn() {
      const fakeA = new FakeInstance("A");
      const fakeB = new FakeInstance("B");
      const a = await serve(fakeA);
      const b = await serve(fakeB);
      const dead = await deadAddress();
      const ids = [a.address, dead, b.address];
      const label = ["A", "dead", "B"];
      const router = createRoutingTransport({
        instances: ids,
        createTransport: createNodeTransportFactory({ protocol }),
        probeIntervalMs: 0,
      });
      try {
        const client = createClient(MessagesService, router);
        for (let channelId = 1n; channelId <= 40n; channelId++) {
          // Owners A and B serve their channels; the dead port's channels are
          // retried on (then routed to) their fallback among A and B.
          const res = await client.getMessages({ channelId });
          assert.equal(res.messages[0].content, label[routeLive(channelId, 3, (i) => i !== 1)]);
        }
        // The refused port was marked down by the first call for one of its channels.
        assert.deepEqual(router.instances.map((i) => i.up), [true, false, true]);
        await router.checkHealth();
        assert.deepEqual(router.instances.map((i) => i.up), [true, false, true]);
        assert.equal((await client.getStats({})).instance, "A");
        assert.equal(fakeA.healthChecks, 1);
      } finally {
        await router.close();
        await a.close();
        await b.close();
      }
    },
  });
}

for (const protocol of ["connect", "grpc-web"] as const) {
  Deno.test({
    name: `connect-node ${protocol} over HTTP/1.1: keep-alive connection per instance, gzip, close`,
    ignore: !canNet,
    async fn() {
      const fake = new FakeInstance("A");
      const adapter = connectNodeAdapter({ routes: fake.routes });
      const seen: { version: string; encoding: string }[] = [];
      const server = http.createServer((req, res) => {
        // Connect unary: content-encoding; gRPC-web: grpc-encoding.
        const encoding = req.headers["content-encoding"] ?? req.headers["grpc-encoding"];
        seen.push({ version: req.httpVersion, encoding: String(encoding ?? "") });
        adapter(req, res);
      });
      let connections = 0;
      server.on("connection", () => connections++);
      await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
      const address = `127.0.0.1:${(server.address() as AddressInfo).port}`;
      const router = createRoutingTransport({
        instances: [address],
        createTransport: createNodeTransportFactory({
          protocol,
          httpVersion: "1.1",
          sendCompression: compressionGzip,
          compressMinBytes: 0,
        }),
        probeIntervalMs: 0,
      });
      try {
        const client = createClient(MessagesService, router);
        for (let channelId = 1n; channelId <= 3n; channelId++) {
          assert.equal((await client.getMessages({ channelId })).messages[0].content, "A");
        }
        assert.deepEqual(seen, Array(3).fill({ version: "1.1", encoding: "gzip" }));
        assert.equal(connections, 1, "sequential calls reuse one keep-alive connection");
      } finally {
        await router.close();
        // The agent was destroyed with the transport: its idle connection is gone.
        await new Promise<void>((resolve) => server.close(() => resolve()));
      }
    },
  });
}

Deno.test("createNodeTransportFactory refuses gRPC over HTTP/1.1", () => {
  assert.throws(
    () => createNodeTransportFactory({ protocol: "grpc", httpVersion: "1.1" }),
    TypeError,
  );
});

Deno.test({
  name: "createNodeRoutingTransport follows its membership file",
  ignore: !(canFs && canNet && canEnv),
  async fn() {
    const fakes = [new FakeInstance("A"), new FakeInstance("B")];
    const servers = await Promise.all(fakes.map(serve));
    const dir = await Deno.makeTempDir();
    const file = `${dir}/instances`;
    await Deno.writeTextFile(file, `${servers[0].address}\n`);
    const changed = Promise.withResolvers<readonly string[]>();
    const errors: unknown[] = [];
    const router = await createNodeRoutingTransport({
      file,
      env: false,
      probeIntervalMs: 0,
      watch: { debounceMs: 20, onError: (e) => errors.push(e) },
      onInstancesChange: (list) => changed.resolve(list),
    });
    try {
      const client = createClient(MessagesService, router);
      assert.equal((await client.getMessages({ channelId: 7n })).messages[0].content, "A");
      const both = [servers[0].address, servers[1].address];
      await Deno.writeTextFile(file, both.join("\n"));
      assert.deepEqual(await changed.promise, both);
      assert.deepEqual(router.instances.map((i) => i.id), both);
      for (let channelId = 1n; channelId <= 10n; channelId++) {
        const res = await client.getMessages({ channelId });
        assert.equal(res.messages[0].content, ["A", "B"][route(channelId, 2)]);
      }
      assert.deepEqual(errors, []);
    } finally {
      await router.close();
      await Promise.all(servers.map((s) => s.close()));
      await Deno.remove(dir, { recursive: true });
    }
    await assert.rejects(createNodeRoutingTransport({ env: false }), TypeError);
  },
});

Deno.test({
  name: "createNodeRoutingTransport follows a dns: target (stub resolver, fake timers)",
  ignore: !canEnv,
  async fn() {
    const cluster = fakeCluster(0);
    for (const ip of ["10.0.0.1", "10.0.0.2", "10.0.0.10"]) cluster.add(`${ip}:50051`);
    let records: string[] | Error = ["10.0.0.2", "10.0.0.10"];
    const resolver = ((name: string, type: string) => {
      if (name !== "data-services.default.svc") throw new Error(`unexpected name ${name}`);
      if (type === "AAAA") return Promise.reject(new Deno.errors.NotFound("no AAAA"));
      return records instanceof Error ? Promise.reject(records) : Promise.resolve(records);
    }) as DnsResolver;
    const env = "ROUTER_TEST_DNS_DATA_SERVICES";
    Deno.env.set(env, "dns:///data-services.default.svc:50051");
    const clock = FakeTimers.install({ toFake: ["setTimeout", "clearTimeout"] });
    const errors: unknown[] = [];
    const changes: (readonly string[])[] = [];
    try {
      // From the environment variable, as the gateway in Kubernetes gets it.
      const router = await createNodeRoutingTransport({
        env,
        createTransport: cluster.factory,
        probeIntervalMs: 0,
        dns: { resolver, intervalMs: 1000, onError: (e) => errors.push(e) },
        onInstancesChange: (list) => changes.push(list),
      });
      try {
        assert.deepEqual(router.instances.map((i) => i.id), ["10.0.0.2:50051", "10.0.0.10:50051"]);
        const client = createClient(MessagesService, router);
        const owner = (c: bigint, ids: string[]) => ids[route(c, ids.length)];
        const res = await client.getMessages({ channelId: 5n });
        assert.equal(res.messages[0].content, owner(5n, ["10.0.0.2:50051", "10.0.0.10:50051"]));

        records = ["10.0.0.10", "10.0.0.1", "10.0.0.2"]; // a pod came up, sorts first
        await clock.tickAsync(1000);
        const three = ["10.0.0.1:50051", "10.0.0.2:50051", "10.0.0.10:50051"];
        assert.deepEqual(changes, [three]);
        assert.deepEqual(router.instances.map((i) => i.id), three);
        for (let c = 1n; c <= 12n; c++) {
          const r = await client.getMessages({ channelId: c });
          assert.equal(r.messages[0].content, owner(c, three));
        }

        records = new Error("SERVFAIL"); // keeps the list
        await clock.tickAsync(1000);
        assert.equal(changes.length, 1);
        assert.match(String(errors.at(-1)), /SERVFAIL/);
      } finally {
        await router.close();
      }
      const after = clock.countTimers();
      assert.equal(after, 0, "close stops the DNS timer");

      // Nothing resolves at start: the router starts empty and fills in later.
      records = [];
      const late = await createNodeRoutingTransport({
        instances: "dns:///data-services.default.svc:50051",
        createTransport: cluster.factory,
        probeIntervalMs: 0,
        dns: { resolver, intervalMs: 1000, onError: (e) => errors.push(e) },
      });
      try {
        assert.equal(late.instances.length, 0);
        assert.ok(errors.at(-1) instanceof Deno.errors.NotFound);
        records = ["10.0.0.1"];
        await clock.tickAsync(1000);
        assert.deepEqual(late.instances.map((i) => i.id), ["10.0.0.1:50051"]);
      } finally {
        await late.close();
      }
      await assert.rejects(
        createNodeRoutingTransport({ instances: "dns:///x:1, 10.0.0.1:1", env: false }),
        /DNS target must be the only entry/,
      );
    } finally {
      clock.uninstall();
      Deno.env.delete(env);
    }
  },
});
