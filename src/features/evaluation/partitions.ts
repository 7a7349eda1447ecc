// Evaluation partitions: every account's tasks fall in one of 64 partitions (the first byte of
// md5(account id), masked: a generated column of evaluation_task), and each partition is evaluated
// by one worker at a time, under a lease. So no two workers judge one account at once, and a
// worker may keep an account's state in memory for as long as it holds the account's partition.
//
// Each worker heartbeats (evaluation_worker) and, between batches, takes or gives up partitions
// so that each of the live workers holds its share (planPartitions): a worker that joins gets
// partitions as the others give theirs up; a worker that dies stops renewing, and once its leases
// expire the others take its partitions. A batch's effects commit only for the partitions the
// worker still holds (hold, in the effects' transaction, locks them against a take-over), so a
// worker that lost a partition while it judged (a long pause, a lost connection) commits nothing
// for it: its tasks stay queued for the new owner.
import { createHash, randomUUID } from "node:crypto";
import { sql } from "../../db/sql";
import type { Sql } from "../../db/database";

export const partitionCount = 64;

/** A partition's lease: the task lease (CLAUSEGUARD_EVAL_LEASE_MS), at most 10 s (renewed every third of it). */
export const partitionLeaseMs = (taskLeaseMs: number) => Math.min(taskLeaseMs, 10_000);

/** The partition of an account, as the generated column computes it. */
export function partitionOf(accountId: string): number {
  return createHash("md5").update(accountId).digest()[0]! & (partitionCount - 1);
}

/**
 * Which partitions a worker takes and gives up: with `liveWorkers` alive (itself included), each
 * holds at most ceil(total / live). It gives up its highest above that share, and takes free ones
 * (lowest first) up to it. Pure: the decision each worker makes between batches.
 */
export function planPartitions(input: { owned: readonly number[]; liveWorkers: number; free: readonly number[]; total: number }): { take: number[]; release: number[] } {
  const share = Math.ceil(input.total / Math.max(1, input.liveWorkers));
  const owned = [...input.owned].sort((a, b) => a - b);
  if (owned.length > share) return { take: [], release: owned.slice(share) };
  const mine = new Set(owned);
  const free = [...input.free].filter((p) => !mine.has(p)).sort((a, b) => a - b);
  return { take: free.slice(0, share - owned.length), release: [] };
}

/** The partition table as the leases use it; SQL on the database, a fake in unit tests. */
export interface PartitionStore {
  /** Records that the worker is alive; renews the leases it holds; returns them. */
  heartbeat(workerId: string, leaseMs: number): Promise<number[]>;
  /** Workers seen within a lease, and partitions without a live owner. */
  state(leaseMs: number): Promise<{ liveWorkers: number; free: number[] }>;
  /** Takes those of `ids` that are still free (or all of them, with `force`); returns what it took. */
  take(workerId: string, ids: number[], leaseMs: number, force?: boolean): Promise<number[]>;
  release(workerId: string, ids: number[] | "all"): Promise<void>;
  /** Forgets the worker (it stopped). */
  leave(workerId: string): Promise<void>;
  /** In the effects' transaction: which of `ids` the worker still holds, locked until it commits. */
  hold(tx: Sql, workerId: string, ids: number[]): Promise<number[]>;
}

export type PartitionLeases = {
  readonly workerId: string;
  /** How often to renew (and, between batches, rebalance): a third of the lease. */
  readonly renewMs: number;
  /** The partitions this worker holds as of its last heartbeat. */
  owned(): number[];
  /** Heartbeat, then take or give up partitions to hold this worker's share. Between batches. */
  rebalance(): Promise<number[]>;
  /** Heartbeat only (renews the leases): on a timer, also while a long batch runs. */
  renew(): Promise<void>;
  hold(tx: Sql, ids: number[]): Promise<Set<number>>;
  /** Gives every partition up at once (a clean stop), so the others need not wait for the leases to expire. */
  leave(): Promise<void>;
};

/**
 * A worker's partition leases. `exclusive`: no other process can reach this database (the
 * embedded one, locked to one process), so the first rebalance takes every partition at once,
 * even those a crashed run still leased.
 */
export function createPartitionLeases(store: PartitionStore, opts: { leaseMs: number; exclusive?: boolean; workerId?: string }): PartitionLeases {
  const workerId = opts.workerId ?? randomUUID();
  let owned: number[] = [];
  let first = true;
  /** Set by leave(), cleared when the worker's loop joins again (rebalance). */
  let left = false;
  let renewing: Promise<number[]> | undefined;
  return {
    workerId,
    renewMs: Math.max(100, Math.floor(opts.leaseMs / 3)),
    owned: () => owned,
    async rebalance() {
      left = false;
      owned = await store.heartbeat(workerId, opts.leaseMs);
      if (first && opts.exclusive) {
        owned = await store.take(workerId, Array.from({ length: partitionCount }, (_, i) => i), opts.leaseMs, true);
        first = false;
        return owned;
      }
      first = false;
      const { liveWorkers, free } = await store.state(opts.leaseMs);
      const plan = planPartitions({ owned, liveWorkers, free, total: partitionCount });
      if (plan.release.length) {
        await store.release(workerId, plan.release);
        owned = owned.filter((p) => !plan.release.includes(p));
      }
      if (plan.take.length) owned = [...owned, ...(await store.take(workerId, plan.take, opts.leaseMs))].sort((a, b) => a - b);
      return owned;
    },
    async renew() {
      // After leave() a renewal would re-register the worker that left (the scheduler may still
      // fire one while the worker drains): the others would wait for its heartbeat to expire.
      if (left) return;
      renewing = store.heartbeat(workerId, opts.leaseMs);
      try {
        const held = await renewing;
        if (!left) owned = held;
      } finally {
        renewing = undefined;
      }
    },
    async hold(tx, ids) {
      return new Set(ids.length ? await store.hold(tx, workerId, ids) : []);
    },
    async leave() {
      left = true;
      await renewing?.catch(() => {});
      owned = [];
      await store.release(workerId, "all");
      await store.leave(workerId);
    },
  };
}

/** The partition store on the database (evaluation_partition, evaluation_worker). */
export function sqlPartitionStore(db: Sql): PartitionStore {
  const until = (leaseMs: number) => sql`now() + ${Math.trunc(leaseMs)}::int * interval '1 millisecond'`;
  return {
    async heartbeat(workerId, leaseMs) {
      const rows = await db.query<{ id: number }>(sql`
        WITH seen AS (
          INSERT INTO evaluation_worker (id, seen_at) VALUES (${workerId}, now())
          ON CONFLICT (id) DO UPDATE SET seen_at = now()
        )
        -- Rows locked in id order, as hold and take lock them: no deadlock with a batch's commit.
        UPDATE evaluation_partition SET lease_until = ${until(leaseMs)}
        WHERE id IN (SELECT id FROM evaluation_partition WHERE owner = ${workerId} AND lease_until >= now() ORDER BY id FOR UPDATE)
        RETURNING id`);
      return rows.map((r) => Number(r.id)).sort((a, b) => a - b);
    },
    async state(leaseMs) {
      const [row] = await db.query<{ live: number; free: number[] }>(sql`
        SELECT (SELECT count(*)::int FROM evaluation_worker WHERE seen_at > now() - ${Math.trunc(leaseMs)}::int * interval '1 millisecond') AS live,
               array(SELECT id::int FROM evaluation_partition WHERE owner IS NULL OR lease_until < now() ORDER BY id) AS free`);
      return { liveWorkers: Number(row?.live ?? 0), free: (row?.free ?? []).map(Number) };
    },
    async take(workerId, ids, leaseMs, force = false) {
      // SKIP LOCKED: a partition whose owner is committing a batch (hold) is not free anyway. IN (...)
      // is safe here (unlike the task claim, evaluation-queue.ts): the table has 64 rows, always.
      const rows = await db.query<{ id: number }>(sql`
        UPDATE evaluation_partition p SET owner = ${workerId}, lease_until = ${until(leaseMs)}, epoch = p.epoch + 1
        WHERE p.id IN (
          SELECT id FROM evaluation_partition
          WHERE id = ANY(${ids}::smallint[]) AND (${force}::boolean OR owner IS NULL OR lease_until < now())
          ORDER BY id FOR UPDATE SKIP LOCKED)
        RETURNING p.id`);
      return rows.map((r) => Number(r.id)).sort((a, b) => a - b);
    },
    async release(workerId, ids) {
      await db.query(sql`
        UPDATE evaluation_partition SET owner = NULL, lease_until = NULL
        WHERE id IN (SELECT id FROM evaluation_partition
                     WHERE owner = ${workerId} AND (${ids === "all"}::boolean OR id = ANY(${ids === "all" ? [] : ids}::smallint[]))
                     ORDER BY id FOR UPDATE)`);
    },
    async leave(workerId) {
      // Workers long gone are forgotten too: only the recent ones count as live.
      await db.query(sql`DELETE FROM evaluation_worker WHERE id = ${workerId} OR seen_at < now() - interval '1 day'`);
    },
    async hold(tx, workerId, ids) {
      const rows = await tx.query<{ id: number }>(sql`
        SELECT id FROM evaluation_partition WHERE id = ANY(${ids}::smallint[]) AND owner = ${workerId} AND lease_until >= now()
        ORDER BY id FOR SHARE`);
      return rows.map((r) => Number(r.id));
    },
  };
}
