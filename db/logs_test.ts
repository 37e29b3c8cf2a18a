import assert from "node:assert/strict";
import {
  cqlListening,
  gossipView,
  lastLines,
  parseContactPoints,
  parseJavaMajor,
  peersNotUp,
  seconds,
  splitHostPort,
  startupError,
} from "./logs.ts";

Deno.test("lastLines", () => {
  assert.deepEqual(lastLines("", 3), []);
  assert.deepEqual(lastLines("a\nb\nc\n", 2), ["b", "c"]);
  assert.deepEqual(lastLines("a\nb\nc", 2), ["b", "c"]);
  assert.deepEqual(lastLines("a\nb\n", 10), ["a", "b"]);
  assert.deepEqual(lastLines("a\n\nb\n", 2), ["", "b"]);
  assert.deepEqual(lastLines("a\nb", 0), []);
});

// Lines as Cassandra 5.0.8 logs them (logback pattern of templates.ts).
const BOOT =
  `INFO  [main] 2026-11-26 09:21:53,125 StorageService.java:3320 - Node /127.0.0.1:7000 state jump to NORMAL
INFO  [main] 2026-11-26 09:21:53,219 PipelineConfigurator.java:148 - Starting listening for CQL clients on /127.0.0.1:9042 (unencrypted)...
INFO  [main] 2026-11-26 09:21:53,230 CassandraDaemon.java:744 - Startup complete
`;

Deno.test("cqlListening", () => {
  assert.equal(cqlListening(BOOT), true);
  assert.equal(cqlListening(BOOT.split("\n")[0]), false);
  assert.equal(cqlListening(""), false);
});

Deno.test("gossipView: last UP/DOWN per peer wins", () => {
  const log =
    `INFO  [GossipStage:1] 2026-11-26 10:00:01,000 Gossiper.java:1400 - InetAddress /127.0.0.2:7000 is now UP
INFO  [GossipStage:1] 2026-11-26 10:00:05,000 Gossiper.java:1400 - InetAddress /127.0.0.3:7000 is now UP
INFO  [GossipTasks:1] 2026-11-26 10:01:00,000 Gossiper.java:1420 - InetAddress /127.0.0.3:7000 is now DOWN
INFO  [GossipStage:1] 2026-11-26 10:01:30,000 Gossiper.java:1400 - InetAddress /127.0.0.2:7000 is now DOWN
INFO  [GossipStage:1] 2026-11-26 10:01:31,000 Gossiper.java:1400 - InetAddress /127.0.0.2:7000 is now UP
`;
  const v = gossipView(log);
  assert.equal(v.get("127.0.0.2"), "UP");
  assert.equal(v.get("127.0.0.3"), "DOWN");
  assert.equal(v.size, 2);
  assert.deepEqual(peersNotUp(v, ["127.0.0.2", "127.0.0.3"]), ["127.0.0.3"]);
  assert.deepEqual(peersNotUp(gossipView(BOOT), ["127.0.0.2"]), ["127.0.0.2"]);
  assert.deepEqual(peersNotUp(v, []), []);
});

Deno.test("startupError finds Cassandra's startup failure line", () => {
  const out = `WARNING: A terminally deprecated method in java.lang.System has been called
ERROR [main] 2026-11-26 10:00:00,000 CassandraDaemon.java:900 - Exception encountered during startup
org.apache.cassandra.exceptions.ConfigurationException: Invalid yaml
`;
  assert.match(startupError(out)!, /Exception encountered during startup/);
  assert.match(
    startupError("ERROR [main] x - Fatal configuration error\nmore")!,
    /Fatal configuration error/,
  );
  assert.equal(startupError("all good\n"), undefined);
});

Deno.test("parseJavaMajor", () => {
  assert.equal(
    parseJavaMajor(`openjdk version "17.0.15" 2025-04-15
OpenJDK Runtime Environment (build 17.0.15+6-Debian-1deb12u1)`),
    17,
  );
  assert.equal(parseJavaMajor('openjdk version "25.0.3" 2026-04-21 LTS'), 25);
  assert.equal(parseJavaMajor('java version "1.8.0_392"'), 8);
  assert.equal(parseJavaMajor('openjdk version "17" 2021-09-14'), 17);
  assert.equal(parseJavaMajor("bash: java: command not found"), undefined);
});

Deno.test("parseContactPoints and splitHostPort", () => {
  assert.deepEqual(parseContactPoints("127.0.0.1, 127.0.0.2,,"), ["127.0.0.1", "127.0.0.2"]);
  assert.deepEqual(parseContactPoints(""), []);
  assert.deepEqual(splitHostPort("127.0.0.1"), { host: "127.0.0.1", port: 9042 });
  assert.deepEqual(splitHostPort("db.local:19042"), { host: "db.local", port: 19042 });
  assert.deepEqual(splitHostPort("[::1]:9043"), { host: "::1", port: 9043 });
  assert.deepEqual(splitHostPort("[::1]"), { host: "::1", port: 9042 });
});

Deno.test("seconds", () => {
  assert.equal(seconds(7049), "7.0 s");
  assert.equal(seconds(120), "0.1 s");
});
