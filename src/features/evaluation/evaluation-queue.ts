// The durable evaluation queue (evaluation_task), from enqueue to completion: a task per stored
// event is written by the ingestion statement itself (enqueueInserted), so an acknowledged event
// is always queued; workers claim batches under a lease with SKIP LOCKED, complete them in the
// transaction of their effects, or dead-letter an event that fails on its own. Claiming runs on
// the driver and returns the events themselves (stored-event.ts), so a batch costs one
// statement and no ORM row mapping.
import { randomUUID } from "node:crypto";
import { raw, sql } from "../../db/sql";
import type { Orm, Sql } from "../../db/database";
import { type StoredEventRow, storedEventColumns, storedEventOf } from "../events/stored-event";
import type { MinuteGroup, MinuteState } from "./account-minutes";
import type { ClaimedBatch, ClaimedEvent } from "./claimed-batch";


/**
 * The statement that queues the events an ingestion statement inserted: a data-modifying CTE body
 * over `inserted` (a CTE returning id and account_id), so the tasks commit with their events in
 * one statement. Each task's partition is a generated column of its account (partitions.ts).
 */
export function enqueueInserted(inserted: string): string {
  return `INSERT INTO evaluation_task (event_pk, account_id) SELECT id, account_id FROM ${inserted}`;
}

/** A claimed task with its event's columns: null where retention deleted the event. */
type ClaimRow = { pk: string; partition: number } & ({ [K in keyof StoredEventRow]: StoredEventRow[K] } | { [K in keyof StoredEventRow]: null });

/** A stored event as a worker handles it: its key, the keys the cadence groups by, and the event. */
const claimedEventOf = (pk: string, r: StoredEventRow): ClaimedEvent => ({
  pk: BigInt(pk),
  accountId: r.account_id,
  occurredAtMs: r.occurred_at.getTime(),
  receivedAtMs: r.received_at.getTime(),
  event: storedEventOf(r),
});

/**
 * Leases up to `size` due tasks (oldest first) and returns their events ordered by time. Tasks
 * whose event is gone (deleted by retention) are leased too and completed with the batch.
 * `partitions`: only tasks of these (a worker's, partitions.ts); all when absent.
 */
export async function claimBatch(db: Sql, size: number, leaseMs: number, partitions?: readonly number[]): Promise<ClaimedBatch> {
  const token = randomUUID();
  const rows = await db.query<ClaimRow>(sql`
    WITH claimed AS (
      UPDATE evaluation_task SET leased_until = now() + ${leaseMs}::int * interval '1 millisecond',
                                 lease_token = ${token}, attempts = attempts + 1
      -- ARRAY(...) is run once, before the update: with IN (...) the planner could choose a nested
      -- loop that runs the locking subquery per queued task, when the table's statistics were taken
      -- with the queue empty and a backlog then arrived (measured: one claim ran over 5 minutes).
      WHERE event_pk = ANY(ARRAY(
        SELECT event_pk FROM evaluation_task
        WHERE (leased_until IS NULL OR leased_until < now())
          AND (${partitions === undefined}::boolean OR partition = ANY(${partitions ?? []}::smallint[]))
        ORDER BY event_pk LIMIT ${size}::int
        FOR UPDATE SKIP LOCKED))
      RETURNING event_pk, partition)
    SELECT c.event_pk::text AS pk, c.partition, ${raw(storedEventColumns)}
    FROM claimed c LEFT JOIN usage_event e ON e.id = c.event_pk
    ORDER BY e.occurred_at, c.event_pk`);
  const events: ClaimedEvent[] = [];
  for (const r of rows) if (r.event_id !== null) events.push(claimedEventOf(r.pk, r));
  return { token, eventPks: rows.map((r) => BigInt(r.pk)), events, partitions: [...new Set(rows.map((r) => Number(r.partition)))].sort((a, b) => a - b) };
}

/**
 * For each account-minute of a batch: whether an event of that minute with a higher key than the
 * batch's is still queued (its batch judges the minute), and the minute's last stored event by
 * (occurred_at, id). One statement; each lookup reads only that minute's events of the account
 * through the (account_id, occurred_at) index.
 */
export async function minuteStates(db: Sql, groups: MinuteGroup[]): Promise<MinuteState[]> {
  if (groups.length === 0) return [];
  const rows = await db.query<{ i: number; later: boolean; pk: string | null } & ({ [K in keyof StoredEventRow]: StoredEventRow[K] } | { [K in keyof StoredEventRow]: null })>(sql`
    SELECT g.i,
           EXISTS (SELECT 1 FROM usage_event q JOIN evaluation_task t ON t.event_pk = q.id
                   WHERE q.account_id = g.account_id AND q.occurred_at >= g.m0 AND q.occurred_at < g.m0 + interval '1 minute'
                     AND q.id > g.max_pk) AS later,
           l.*
    FROM unnest(${groups.map((_, i) => i)}::int[], ${groups.map((g) => g.accountId)}::text[],
                ${groups.map((g) => new Date(g.minuteMs).toISOString())}::timestamptz[], ${groups.map((g) => g.maxPk.toString())}::bigint[])
         AS g(i, account_id, m0, max_pk)
    LEFT JOIN LATERAL (
      SELECT e.id::text AS pk, ${raw(storedEventColumns)}
      FROM usage_event e
      WHERE e.account_id = g.account_id AND e.occurred_at >= g.m0 AND e.occurred_at < g.m0 + interval '1 minute'
      ORDER BY e.occurred_at DESC, e.id DESC LIMIT 1
    ) l ON true`);
  const byIndex = new Map(rows.map((r) => [Number(r.i), r]));
  return groups.map((g, i) => {
    const r = byIndex.get(i);
    const lastStored = r?.pk && r.event_id !== null ? claimedEventOf(r.pk, r) : undefined;
    return { laterQueued: r?.later === true, lastStored };
  });
}

/** The part of a batch made of the given events, under the same lease. */
export function subBatch(batch: ClaimedBatch, events: ClaimedEvent[]): ClaimedBatch {
  return { token: batch.token, eventPks: events.map((e) => e.pk), events, partitions: batch.partitions };
}

/**
 * Deletes the tasks this lease still owns (and, given `held`, only those of these partitions: the
 * worker's, locked by its commit); returns them. Run in the effects' transaction.
 */
export async function completeBatch(tx: Sql, batch: ClaimedBatch, held?: ReadonlySet<number>): Promise<Set<bigint>> {
  const rows = await tx.query<{ event_pk: string }>(sql`
    DELETE FROM evaluation_task WHERE event_pk = ANY(${batch.eventPks.map(String)}::bigint[]) AND lease_token = ${batch.token}
      AND (${held === undefined}::boolean OR partition = ANY(${held ? [...held] : []}::smallint[]))
    RETURNING event_pk::text`);
  return new Set(rows.map((r) => BigInt(r.event_pk)));
}

/**
 * Takes an event that fails to evaluate on its own out of the queue and records why, in one
 * statement; does nothing if the lease was lost meanwhile (another worker has the task).
 */
export async function deadLetter(db: Sql, batch: ClaimedBatch, event: ClaimedEvent, error: string): Promise<boolean> {
  const rows = await db.query<{ event_pk: string }>(sql`
    WITH gone AS (
      DELETE FROM evaluation_task WHERE event_pk = ${event.pk.toString()}::bigint AND lease_token = ${batch.token}
      RETURNING event_pk, account_id, attempts)
    INSERT INTO evaluation_failure (event_pk, account_id, error, attempts)
    SELECT event_pk, account_id, ${error.slice(0, 2000)}, attempts FROM gone
    ON CONFLICT (event_pk) DO UPDATE SET error = EXCLUDED.error, attempts = EXCLUDED.attempts, failed_at = now()
    RETURNING event_pk::text`);
  return rows.length > 0;
}

/** Puts every dead-lettered event back in the queue (after the fault was fixed); returns how many. */
export async function retryFailed(db: Sql): Promise<number> {
  const rows = await db.query<{ event_pk: string }>(sql`
    WITH back AS (DELETE FROM evaluation_failure RETURNING event_pk, account_id)
    INSERT INTO evaluation_task (event_pk, account_id) SELECT event_pk, account_id FROM back
    ON CONFLICT (event_pk) DO NOTHING
    RETURNING event_pk::text`);
  return rows.length;
}

export type QueueStats = { depth: number; depthCapped: boolean; oldestEnqueuedAt: Date | null; failed: number };

/** Counting stops here: /readyz and /metrics are polled often, and a count of a deep queue would scan all of it. */
export const queueDepthCap = 100_000;

export async function queueStats(db: Orm): Promise<QueueStats> {
  // Tasks are enqueued in event_pk order (to within concurrent batches), so the oldest is the first by primary key: no scan.
  const [row] = await db.$queryRaw<{ depth: bigint; oldest: Date | null; failed: bigint }[]>`
    SELECT (SELECT count(*) FROM (SELECT 1 FROM evaluation_task LIMIT ${queueDepthCap}) capped) AS depth,
           (SELECT enqueued_at FROM evaluation_task ORDER BY event_pk LIMIT 1) AS oldest,
           (SELECT count(*) FROM evaluation_failure) AS failed`;
  const depth = Number(row?.depth ?? 0);
  return { depth, depthCapped: depth >= queueDepthCap, oldestEnqueuedAt: row?.oldest ?? null, failed: Number(row?.failed ?? 0) };
}

/**
 * The queue's depth, counted up to `cap` (an index-only scan of at most `cap` entries): admission
 * control reads it once a second and only needs to know whether it is over its limit.
 */
export async function backlogDepth(db: Sql, cap: number): Promise<number> {
  const [row] = await db.query<{ n: string }>(sql`SELECT count(*)::text AS n FROM (SELECT 1 FROM evaluation_task LIMIT ${cap}::int) capped`);
  return Number(row?.n ?? 0);
}
