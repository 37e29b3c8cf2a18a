/**
 * applySchema against the real Cassandra: a fresh keyspace gets every
 * migration; applying again (as every instance does at start) runs no DDL at
 * all, since concurrent `CREATE ... IF NOT EXISTS` on different coordinators
 * can give one table two ids (bug seen on the 3-node fault cluster).
 */
import assert from "node:assert/strict";
import cassandra from "cassandra-driver";
import { applySchema, MIGRATIONS } from "../db/schema.ts";
import { cassandraInfo } from "./_util.ts";

Deno.test({
  name: "applySchema: every migration once; a second application runs no DDL",
  sanitizeOps: false,
  sanitizeResources: false,
  async fn() {
    const info = await cassandraInfo();
    const c = new cassandra.Client({
      contactPoints: info.contactPoints,
      localDataCenter: info.localDataCenter,
    });
    await c.connect();
    const keyspace = `schema_test_${Math.floor(Math.random() * 1e9)}`;
    const options = {
      keyspace,
      dataCenter: info.localDataCenter,
      replicationFactor: Math.min(3, info.nodes),
    };
    try {
      assert.deepEqual(await applySchema(c, options), MIGRATIONS.map((m) => m.version));
      const statements: string[] = [];
      const counting = new Proxy(c, {
        get(target, key, receiver) {
          if (key !== "execute") return Reflect.get(target, key, receiver);
          return (query: string, ...rest: unknown[]) => {
            statements.push(query.trim().split(/\s+/, 1)[0].toUpperCase());
            return (target.execute as (...a: unknown[]) => unknown).call(target, query, ...rest);
          };
        },
      });
      assert.deepEqual(await applySchema(counting, options), []);
      assert.deepEqual(statements, ["SELECT"], "only the read of schema_migrations");
    } finally {
      await c.execute(`DROP KEYSPACE IF EXISTS ${keyspace}`).catch(() => {});
      await c.shutdown();
    }
  },
});
