import assert from "node:assert/strict";
import {
  commitlogYaml,
  JVM17_FLAGS,
  jvmArgs,
  LOGBACK_XML,
  MAIN_CLASS,
  nodeIp,
  renderCassandraYaml,
  tokensFor,
  yamlQuote,
} from "./templates.ts";

Deno.test("tokensFor: evenly spaced Murmur3 tokens (values from the notes)", () => {
  assert.deepEqual(tokensFor(1), ["-9223372036854775808"]);
  assert.deepEqual(tokensFor(3), [
    "-9223372036854775808",
    "-3074457345618258603",
    "3074457345618258602",
  ]);
  assert.deepEqual(tokensFor(2), ["-9223372036854775808", "0"]);
  for (const n of [1, 2, 3, 7]) {
    const t = tokensFor(n).map(BigInt);
    assert.equal(new Set(t).size, n);
    for (const x of t) assert.ok(x >= -(2n ** 63n) && x < 2n ** 63n);
    assert.deepEqual([...t].sort((a, b) => (a < b ? -1 : 1)), t);
  }
  assert.throws(() => tokensFor(0), RangeError);
  assert.throws(() => tokensFor(1.5), RangeError);
});

Deno.test("nodeIp: 127.0.0.i, or on another loopback prefix", () => {
  assert.equal(nodeIp(1), "127.0.0.1");
  assert.equal(nodeIp(3), "127.0.0.3");
  assert.equal(nodeIp(2, "127.0.1"), "127.0.1.2");
  assert.equal(nodeIp(1, "127.255.9"), "127.255.9.1");
  assert.throws(() => nodeIp(0), RangeError);
  assert.throws(() => nodeIp(255), RangeError);
  for (const bad of ["10.0.0", "127.0", "127.0.256", "127.0.1.", " 127.0.1", "127.00x.1"]) {
    assert.throws(() => nodeIp(1, bad), RangeError, bad);
  }
});

Deno.test("yamlQuote escapes single quotes", () => {
  assert.equal(yamlQuote("a"), "'a'");
  assert.equal(yamlQuote("it's"), "'it''s'");
});

/** Top-level `key: value` pairs of our (flat) yaml. */
function topLevel(yaml: string): Map<string, string> {
  const m = new Map<string, string>();
  for (const line of yaml.split("\n")) {
    const r = line.match(/^([a-z_]+):(?:\s+(.*?))?\s*(?:#.*)?$/);
    if (r) {
      assert.ok(!m.has(r[1]), `duplicate key ${r[1]}`);
      m.set(r[1], r[2] ?? "");
    }
  }
  return m;
}

Deno.test("renderCassandraYaml: one node of three", () => {
  const yaml = renderCassandraYaml({
    clusterName: "dataservices-n3",
    ip: "127.0.0.2",
    token: "-3074457345618258603",
    seeds: "127.0.0.1:7000",
    dir: "/tmp/state/n3/node2",
  });
  const kv = topLevel(yaml);
  assert.equal(kv.get("cluster_name"), "'dataservices-n3'");
  assert.equal(kv.get("listen_address"), "127.0.0.2");
  assert.equal(kv.get("rpc_address"), "127.0.0.2");
  assert.equal(kv.get("initial_token"), "'-3074457345618258603'");
  assert.equal(kv.get("num_tokens"), "1");
  assert.equal(kv.get("auto_bootstrap"), "false");
  assert.equal(kv.get("endpoint_snitch"), "SimpleSnitch");
  assert.equal(kv.get("native_transport_port"), "9042");
  assert.equal(kv.get("storage_port"), "7000");
  assert.equal(kv.get("commitlog_directory"), "'/tmp/state/n3/node2/commitlog'");
  // durable acknowledgements by default: batch, and no period (5.0 refuses both)
  assert.equal(kv.get("commitlog_sync"), "batch");
  assert.equal(kv.has("commitlog_sync_group_window"), false);
  assert.equal(kv.has("commitlog_sync_period"), false);
  assert.equal(kv.get("hints_directory"), "'/tmp/state/n3/node2/hints'");
  assert.equal(kv.get("phi_convict_threshold"), "12");
  assert.equal(kv.get("write_request_timeout"), "5000ms");
  assert.match(yaml, /^ {6}- seeds: '127\.0\.0\.1:7000'$/m);
  assert.match(yaml, /^data_file_directories:\n {2}- '\/tmp\/state\/n3\/node2\/data'$/m);
  assert.doesNotMatch(yaml, /@[A-Z]+@/);
  assert.doesNotMatch(yaml, /\t/);
  // keys Cassandra 5.0 no longer accepts
  for (const old of ["start_rpc", "rpc_port", "_in_ms", "_in_kb", "_in_mb"]) {
    assert.ok(!yaml.includes(old), old);
  }
});

Deno.test("renderCassandraYaml: custom ports, quoting of odd paths", () => {
  const yaml = renderCassandraYaml({
    clusterName: "c",
    ip: "127.0.0.1",
    token: "0",
    seeds: "127.0.0.1:7100",
    dir: "/tmp/it's here",
    nativePort: 19042,
    storagePort: 7100,
  });
  const kv = topLevel(yaml);
  assert.equal(kv.get("native_transport_port"), "19042");
  assert.equal(kv.get("storage_port"), "7100");
  assert.equal(kv.get("saved_caches_directory"), "'/tmp/it''s here/saved_caches'");
});

Deno.test("LOGBACK_XML writes system.log under cassandra.logdir", () => {
  assert.ok(LOGBACK_XML.includes("<file>${cassandra.logdir}/system.log</file>"));
  assert.ok(LOGBACK_XML.includes('<root level="INFO">'));
  assert.ok(LOGBACK_XML.includes("<maxFileSize>50MB</maxFileSize>"));
});

Deno.test("jvmArgs: heap, jamm agent, system properties, sorted classpath, main class last", () => {
  const jars = ["/l/zstd-jni-1.5.jar", "/l/jamm-0.4.0.jar", "/l/cassandra-all-5.0.8.jar"];
  const a = jvmArgs({ dir: "/s/n1/node1", jars, heap: "1G", heapMin: "256M", extra: ["-Dx=1"] });
  assert.equal(a[0], "-Xms256M");
  assert.equal(a[1], "-Xmx1G");
  for (const f of JVM17_FLAGS) assert.ok(a.includes(f), f);
  assert.ok(a.includes("-javaagent:/l/jamm-0.4.0.jar"));
  assert.ok(a.includes("-Dcassandra.config=file:///s/n1/node1/conf/cassandra.yaml"));
  assert.ok(a.includes("-Dcassandra.storagedir=/s/n1/node1"));
  assert.ok(a.includes("-Dcassandra.logdir=/s/n1/node1/logs"));
  assert.ok(a.includes("-Djna.tmpdir=/s/n1/node1/tmp"));
  assert.ok(a.includes("-Dcassandra-foreground=yes"));
  assert.ok(a.includes("-Dcassandra.skip_wait_for_gossip_to_settle=0"));
  assert.ok(a.includes("-Dcassandra.ring_delay_ms=5000"));
  assert.ok(!a.some((x) => x.startsWith("-Dcassandra.superuser_setup_delay_ms")));
  assert.ok(a.includes("--add-opens=java.base/java.io=ALL-UNNAMED"));
  assert.ok(a.includes("--add-exports=java.base/jdk.internal.misc=ALL-UNNAMED"));
  assert.ok(a.indexOf("-Dx=1") < a.indexOf("-cp"));
  assert.equal(a.at(-1), MAIN_CLASS);
  assert.equal(a.at(-3), "-cp");
  assert.equal(
    a.at(-2),
    "/s/n1/node1/conf:/l/cassandra-all-5.0.8.jar:/l/jamm-0.4.0.jar:/l/zstd-jni-1.5.jar",
  );
  assert.equal(jvmArgs({ dir: "/d", jars, heap: "512M" })[0], "-Xms512M");
});

Deno.test("jvmArgs: refuses a missing jamm jar or a bad heap size", () => {
  assert.throws(() => jvmArgs({ dir: "/d", jars: ["/l/a.jar"], heap: "1G" }), /jamm/);
  const jars = ["/l/jamm-0.4.0.jar"];
  assert.throws(() => jvmArgs({ dir: "/d", jars, heap: "1 G" }), /heap/);
  assert.throws(() => jvmArgs({ dir: "/d", jars, heap: "-1G" }), /heap/);
  assert.throws(() => jvmArgs({ dir: "/d", jars, heap: "1G", heapMin: "x" }), /heap/);
});

Deno.test("commitlogYaml: one sync key set per mode, each accepted by 5.0 alone", () => {
  const keys = (mode: Parameters<typeof commitlogYaml>[0]) =>
    Object.fromEntries(commitlogYaml(mode).split("\n").map((l) => l.split(": ")));
  assert.deepEqual(keys("group"), {
    commitlog_sync: "group",
    commitlog_sync_group_window: "15ms",
  });
  assert.deepEqual(keys("batch"), { commitlog_sync: "batch" });
  assert.deepEqual(keys("periodic"), {
    commitlog_sync: "periodic",
    commitlog_sync_period: "10000ms",
  });
  const yaml = renderCassandraYaml({
    clusterName: "c",
    ip: "127.0.1.1",
    token: "0",
    seeds: "127.0.1.1:7000",
    dir: "/d",
    commitlogSync: "periodic",
  });
  assert.match(yaml, /^commitlog_sync: periodic\ncommitlog_sync_period: 10000ms$/m);
  assert.doesNotMatch(yaml, /group_window/);
});
