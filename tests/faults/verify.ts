/**
 * Reads back acknowledged writes straight from Cassandra at LOCAL_QUORUM
 * (cassandra-driver, not through an instance), twice: a row missing on the
 * first pass is a lost acknowledged write; the second pass shows what read
 * repair brought back.
 *
 * @module
 */
import cassandra from "cassandra-driver";
import { bucketOf } from "../../server/snowflake.ts";
import type { AckedWrite } from "./load.ts";

/** What {@link verifyAcked} found. */
export interface Verification {
  /** Writes checked. */
  checked: number;
  /** Not found at LOCAL_QUORUM on the first read. */
  lost: AckedWrite[];
  /** Still not found on a second read (after read repair). */
  lostAfterRepair: number;
  /** Reads that failed three times (not counted as lost). */
  unverified: number;
}

const SELECT = "SELECT message_id FROM dataservices.messages " +
  "WHERE channel_id = ? AND bucket = ? AND message_id = ?";

async function found(client: cassandra.Client, w: AckedWrite): Promise<boolean | undefined> {
  const id = BigInt(w.messageId);
  for (let attempt = 0; attempt < 3; attempt++) {
    try {
      const rs = await client.execute(
        SELECT,
        [
          cassandra.types.Long.fromString(w.channelId),
          bucketOf(id),
          cassandra.types.Long.fromString(w.messageId),
        ],
        { prepare: true, consistency: cassandra.types.consistencies.localQuorum },
      );
      return rs.rowLength > 0;
    } catch {
      // a replica still coming back: try again
    }
  }
  return undefined;
}

async function pass(
  client: cassandra.Client,
  writes: AckedWrite[],
  concurrency: number,
): Promise<{ missing: AckedWrite[]; unverified: number }> {
  const missing: AckedWrite[] = [];
  let unverified = 0;
  let next = 0;
  const worker = async () => {
    while (next < writes.length) {
      const w = writes[next++];
      const f = await found(client, w);
      if (f === false) missing.push(w);
      if (f === undefined) unverified++;
    }
  };
  await Promise.all(Array.from({ length: concurrency }, worker));
  return { missing, unverified };
}

/** Checks every write of `writes` at LOCAL_QUORUM with `client`. */
export async function verifyAcked(
  client: cassandra.Client,
  writes: AckedWrite[],
  concurrency = 32,
): Promise<Verification> {
  const first = await pass(client, writes, concurrency);
  const second = await pass(client, first.missing, concurrency);
  return {
    checked: writes.length,
    lost: first.missing.sort((a, b) => a.seq - b.seq),
    lostAfterRepair: second.missing.length,
    unverified: first.unverified,
  };
}
