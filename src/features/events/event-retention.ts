// Retention of raw events (CLAUSEGUARD_RETENTION_DAYS): events whose occurredAt is older than the
// retention are deleted in small batches, each its own short statement, so ingestion never waits
// on a long lock. Rollups, link keys, cases and their evidence (which keeps event ids, not rows)
// stay complete. Retention is at least 91 days: the longest rule window (90 days) then never needs
// a deleted event, so live facts are unchanged; backtests can only replay what is kept.
import type { Database } from "../../db/database";
import { sql } from "../../db/sql";

export const minRetentionDays = 91;

/** Deletes up to `maxBatches` batches of expired events; returns how many it deleted. */
export async function deleteExpiredEvents(db: Database, retentionDays: number, now = new Date(), batchSize = 5000, maxBatches = 20): Promise<number> {
  if (retentionDays <= 0) return 0;
  const before = new Date(now.getTime() - retentionDays * 86_400_000);
  let deleted = 0;
  for (let i = 0; i < maxBatches; i++) {
    const rows = await db.query<{ n: number }>(sql`
      WITH gone AS (
        DELETE FROM usage_event WHERE id IN (
          SELECT id FROM usage_event WHERE occurred_at < ${before} ORDER BY occurred_at LIMIT ${batchSize}::int)
        RETURNING 1)
      SELECT count(*)::int AS n FROM gone`);
    const n = Number(rows[0]?.n ?? 0);
    deleted += n;
    if (n < batchSize) break;
  }
  return deleted;
}
