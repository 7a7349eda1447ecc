// The durable evaluation queue (evaluation_task, filled in the ingestion transaction): workers
// claim batches under a lease with SKIP LOCKED and complete them in the transaction of their effects.
import { randomUUID } from "node:crypto";
import type { Db } from "../../db/transaction";

export type ClaimedBatch = { token: string; eventPks: bigint[] };

export async function claimBatch(db: Db, size: number, leaseMs: number): Promise<ClaimedBatch> {
  const token = randomUUID();
  const rows = await db.$queryRaw<{ event_pk: bigint }[]>`
    UPDATE evaluation_task SET leased_until = now() + ${leaseMs} * interval '1 millisecond',
                               lease_token = ${token}, attempts = attempts + 1
    WHERE event_pk IN (
      SELECT event_pk FROM evaluation_task
      WHERE leased_until IS NULL OR leased_until < now()
      ORDER BY event_pk LIMIT ${size}
      FOR UPDATE SKIP LOCKED)
    RETURNING event_pk`;
  return { token, eventPks: rows.map((r) => r.event_pk) };
}

/** Deletes the tasks this lease still owns; returns them. Run in the effects' transaction. */
export async function completeBatch(tx: Db, batch: ClaimedBatch): Promise<Set<bigint>> {
  const rows = await tx.$queryRaw<{ event_pk: bigint }[]>`
    DELETE FROM evaluation_task WHERE event_pk = ANY(${batch.eventPks}::bigint[]) AND lease_token = ${batch.token}
    RETURNING event_pk`;
  return new Set(rows.map((r) => r.event_pk));
}

export type QueueStats = { depth: number; oldestEnqueuedAt: Date | null };

export async function queueStats(db: Db): Promise<QueueStats> {
  const [row] = await db.$queryRaw<{ depth: bigint; oldest: Date | null }[]>`
    SELECT count(*) AS depth, min(enqueued_at) AS oldest FROM evaluation_task`;
  return { depth: Number(row?.depth ?? 0), oldestEnqueuedAt: row?.oldest ?? null };
}
