// Merges the rows ingestion appends to the rollups and link keys (one per key and batch) into one
// row per key, so readers keep scanning few rows, and folds merged hour rows into day rows. Safe
// beside ingestion (which only inserts) and beside other compactors (one at a time, by advisory
// lock): rows inserted after a pass's snapshot are simply left for the next pass.
//
// Day rows: a day row holds exactly the hour rows of its day that have been merged, each added once,
// by the statement that merged it (one statement, so one atomic step for every reader's snapshot).
// Readers add the day's unmerged hour rows beside its day rows (usage-rollups.ts, hoursAndDays), so
// a read never counts an hour row twice or misses one, before, during or after any pass. Day rows
// are derived here rather than written at ingestion, where a third tier made every batch about a
// fifth slower (see rollupStatements); here it is one row per merged hour key and pass.
import type { Database, Sql } from "../../db/database";
import { type RollupTables, accountTables, bucketOf, componentTables } from "./usage-rollups";

/** Lock key shared by every process that compacts. */
export const compactionLock = "4236936583016097351";

/** Sums the counts of a map column over the rows of `rows` (CTE or subquery), per account and `bucket` (an expression of its bucket). */
const mergedMap = (column: string, rows = "gone", bucket = "g.bucket") => `
  SELECT account_id, bucket, jsonb_object_agg(k, n) AS m FROM (
    SELECT g.account_id, ${bucket} AS bucket, e.key AS k, sum(e.value::bigint) AS n FROM ${rows} g, LATERAL jsonb_each(g.${column}) AS e GROUP BY 1, 2, 3
  ) x GROUP BY 1, 2`;

/**
 * The hour rows of `rows` (a CTE or a parenthesized subquery) added to their days, as new unmerged
 * day rows: totals, maps and the busiest minute. (The migration that created usage_day ran this
 * statement's text over the hour rows merged before it.)
 */
export function foldIntoDays(rows: string, tables: RollupTables = accountTables): string {
  return `INSERT INTO ${tables.day} (account_id, bucket, requests, input_tokens, output_tokens, "values", signals, peak_minute_requests)
      SELECT t.account_id, t.bucket, t.requests, t.input_tokens, t.output_tokens, coalesce(v.m, '{}'), coalesce(s.m, '{}'), t.peak
      FROM (SELECT account_id, ${bucketOf("day", "bucket")} AS bucket, sum(requests) AS requests, sum(input_tokens) AS input_tokens,
                   sum(output_tokens) AS output_tokens, max(peak_minute_requests) AS peak
            FROM ${rows} r GROUP BY 1, 2) t
      LEFT JOIN (${mergedMap('"values"', rows, bucketOf("day", "g.bucket"))}) v USING (account_id, bucket)
      LEFT JOIN (${mergedMap("signals", rows, bucketOf("day", "g.bucket"))}) s USING (account_id, bucket)`;
}

function mergeRollup(tables: RollupTables, tier: "minute" | "hour" | "day", limit: number): string {
  const table = tables[tier];
  const minute = tier === "minute";
  const hour = tier === "hour";
  const sumRequests = tier === "day" ? "sum(requests)" : "sum(requests)::int";
  return `
    WITH keys AS (
      SELECT DISTINCT account_id, bucket FROM ${table} WHERE NOT compacted LIMIT ${limit}
    ), gone AS (
      DELETE FROM ${table} t USING keys k WHERE t.account_id = k.account_id AND t.bucket = k.bucket
      RETURNING t.*
    ), totals AS (
      SELECT account_id, bucket, ${sumRequests} AS requests, sum(input_tokens) AS input_tokens, sum(output_tokens) AS output_tokens
             ${minute ? "" : ", max(peak_minute_requests) AS peak"}
      FROM gone GROUP BY 1, 2
    ), merged AS (
      INSERT INTO ${table} (account_id, bucket, requests, input_tokens, output_tokens, "values", signals${minute ? "" : ", peak_minute_requests"}, compacted)
      SELECT t.account_id, t.bucket, t.requests, t.input_tokens, t.output_tokens, coalesce(v.m, '{}'), coalesce(s.m, '{}')${minute ? "" : ", t.peak"}, true
      FROM totals t
      LEFT JOIN (${mergedMap('"values"')}) v USING (account_id, bucket)
      LEFT JOIN (${mergedMap("signals")}) s USING (account_id, bucket)
      RETURNING account_id, bucket, requests
    )${
      minute
        ? `, peaks AS (
      -- A merged minute's full total is a candidate for its hour's busiest minute (and, once that
      -- hour row is merged and folded, its day's).
      INSERT INTO ${tables.hour} (account_id, bucket, requests, input_tokens, output_tokens, "values", signals, peak_minute_requests)
      SELECT account_id, ${bucketOf("hour", "bucket")}, 0, 0, 0, '{}', '{}', max(requests) FROM merged GROUP BY 1, 2)`
        : hour
          ? `, folded AS (
      -- The hour rows merged for the first time (the key's earlier merged row is in its day already)
      -- go into their day, in this statement: no snapshot sees them both merged and not folded.
      ${foldIntoDays("(SELECT * FROM gone WHERE NOT compacted)", tables)})`
          : ""
    }
    SELECT (SELECT count(*) FROM gone)::int AS removed, (SELECT count(*) FROM merged)::int AS kept`;
}

/**
 * Only keys whose rows the uniting passes have all read (link-components.ts): a merged row gets a
 * new id, past their mark, and is compacted, which the passes skip.
 */
function mergeLinkKeys(limit: number): string {
  return `
    WITH keys AS (
      SELECT DISTINCT kind, value, account_id FROM account_link_key
      WHERE NOT compacted AND id <= (SELECT last_key FROM link_progress WHERE id = 1)
      LIMIT ${limit}
    ), gone AS (
      DELETE FROM account_link_key t USING keys k WHERE t.kind = k.kind AND t.value = k.value AND t.account_id = k.account_id
      RETURNING t.kind, t.value, t.account_id, t.first_seen_at, t.last_seen_at
    ), merged AS (
      INSERT INTO account_link_key (kind, value, account_id, first_seen_at, last_seen_at, compacted)
      SELECT kind, value, account_id, min(first_seen_at), max(last_seen_at), true FROM gone GROUP BY 1, 2, 3
      RETURNING 1
    )
    SELECT (SELECT count(*) FROM gone)::int AS removed, (SELECT count(*) FROM merged)::int AS kept`;
}

export type CompactionResult = { ran: boolean; removed: number; kept: number };

/** One pass over every table, at most `limit` keys each. ran=false when another process holds the lock. */
export async function compactRollups(db: Database, limit = 5000): Promise<CompactionResult> {
  return db.transaction(async (s: Sql) => {
    const [lock] = await s.query<{ ok: boolean }>(`SELECT pg_try_advisory_xact_lock(${compactionLock}) AS ok`);
    if (!lock?.ok) return { ran: false, removed: 0, kept: 0 };
    let removed = 0;
    let kept = 0;
    // Minutes first: merging them adds the peak rows the hour pass then merges in; hours before
    // days: merging them adds the day rows the day pass then merges.
    // Components' rollups (link-components.ts) the same way, by the same statements.
    const statements = [accountTables, componentTables].flatMap((t) => (["minute", "hour", "day"] as const).map((tier) => mergeRollup(t, tier, limit)));
    statements.push(mergeLinkKeys(limit));
    for (const statement of statements) {
      const [r] = await s.query<{ removed: number; kept: number }>(statement);
      removed += Number(r?.removed ?? 0);
      kept += Number(r?.kept ?? 0);
    }
    return { ran: true, removed, kept };
  });
}

/** Compacts until nothing is left to merge (tests, and catching up after a burst). */
export async function compactAll(db: Database, limit = 5000): Promise<void> {
  for (let i = 0; i < 1000; i++) {
    const r = await compactRollups(db, limit);
    if (!r.ran || r.removed === 0) return;
  }
}
