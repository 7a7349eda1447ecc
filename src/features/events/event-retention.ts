// Retention of raw events (CLAUSEGUARD_RETENTION_DAYS): events whose occurredAt is older than the
// retention are deleted in small batches, each its own short statement, so ingestion never waits
// on a long lock. Rollups, link keys, cases and their evidence (which keeps event ids, not rows)
// stay complete. Retention is at least 91 days: the longest rule window (90 days) then never needs
// a deleted event, so live facts are unchanged; backtests can only replay what is kept.
// An event that case evidence names leaves its SHA-256 (of its canonical JSON, as GET /v1/events
// shows it) in evidence_event_digest, in the same transaction: evidence bundles still commit to it.
import type { Database } from "../../db/database";
import { raw, sql } from "../../db/sql";
import { canonicalDigest } from "../evidence/signing-keys";
import { type StoredEventRow, storedEventColumns, storedEventOf } from "./stored-event";

export const minRetentionDays = 91;

/**
 * Deletes up to `maxBatches` batches of expired events, and as many of expired side hits (shadow and
 * suppressed hits, docs/rule-lifecycle.md: kept as long as the events they name); returns how many events it deleted.
 */
export async function deleteExpiredEvents(db: Database, retentionDays: number, now = new Date(), batchSize = 5000, maxBatches = 20): Promise<number> {
  if (retentionDays <= 0) return 0;
  await deleteExpiredSideHits(db, new Date(now.getTime() - retentionDays * 86_400_000), batchSize, maxBatches);
  const before = new Date(now.getTime() - retentionDays * 86_400_000);
  let deleted = 0;
  for (let i = 0; i < maxBatches; i++) {
    const n = await db.transaction(async (tx) => {
      const batch = await tx.query<{ id: string }>(sql`SELECT id::text AS id FROM usage_event WHERE occurred_at < ${before} ORDER BY occurred_at LIMIT ${batchSize}::int`);
      if (batch.length === 0) return 0;
      const ids = batch.map((b) => b.id);
      // The GIN index on case_evidence.event_ids answers each lookup; most expiring events are named by no evidence.
      const named = await tx.query<StoredEventRow>(sql`
        SELECT ${raw(storedEventColumns)} FROM usage_event e
        WHERE e.id = ANY(${ids}::bigint[]) AND EXISTS (SELECT 1 FROM case_evidence ce WHERE ce.event_ids @> ARRAY[e.event_id])`);
      if (named.length > 0) {
        const events = named.map(storedEventOf);
        await tx.query(sql`
          INSERT INTO evidence_event_digest (event_id, sha256, occurred_at)
          SELECT * FROM unnest(${events.map((e) => e.eventId)}::text[], ${events.map(canonicalDigest)}::text[], ${events.map((e) => e.occurredAt)}::timestamptz[])
          ON CONFLICT (event_id) DO NOTHING`);
      }
      const gone = await tx.query<{ n: number }>(sql`WITH gone AS (DELETE FROM usage_event WHERE id = ANY(${ids}::bigint[]) RETURNING 1) SELECT count(*)::int AS n FROM gone`);
      return Number(gone[0]?.n ?? 0);
    });
    deleted += n;
    if (n < batchSize) break;
  }
  return deleted;
}

async function deleteExpiredSideHits(db: Database, before: Date, batchSize: number, maxBatches: number): Promise<void> {
  for (let i = 0; i < maxBatches; i++) {
    const [gone] = await db.query<{ n: number }>(sql`
      WITH gone AS (DELETE FROM side_hit WHERE id IN (SELECT id FROM side_hit WHERE occurred_at < ${before} ORDER BY occurred_at LIMIT ${batchSize}::int) RETURNING 1)
      SELECT count(*)::int AS n FROM gone`);
    if (Number(gone?.n ?? 0) < batchSize) return;
  }
}
