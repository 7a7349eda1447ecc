// Per-account usage rollups: written for each batch of newly stored events (CTEs of the ingestion
// statement), and read as window aggregates whose cost does not depend on the account's total
// history (see window-plan.ts). A rollup row holds a bucket's totals and two maps: requests per
// distinct value ("kind:value") and requests per signal bin ("signal:bin").
import type { Db } from "../../db/transaction";
import { planWindow } from "./window-plan";

export const bucketOrigin = "TIMESTAMPTZ '2000-01-01 00:00:00+00'";
export const bucketOf = (unit: "minute" | "hour", column: string) => `date_bin('1 ${unit}', ${column}, ${bucketOrigin})`;

/**
 * The signal bin of a jsonb signal value: -1 for false, floor(value * 100) for a number, 100 for
 * true, so "signal >= threshold" is exact for thresholds in steps of 0.01.
 */
const signalBinSql = (v: string) =>
  `CASE jsonb_typeof(${v}) WHEN 'boolean' THEN CASE WHEN (${v})::boolean THEN 100 ELSE -1 END
     ELSE LEAST(100, floor((${v})::float8 * 100 + 1e-9))::int END`;

export function thresholdBin(threshold: number): number {
  return Math.round(threshold * 100);
}

/**
 * CTEs that add the events of CTE `source` (columns account_id, occurred_at, input_tokens,
 * output_tokens, model, ip, country, prompt_template_hash, signals) to the rollups. Append-only:
 * one row per account, bucket and batch, merged later by the compactor. An hour row's peak is this
 * batch's busiest minute in it; the compactor raises it to the minute's full total.
 */
export function rollupStatements(source: string): string {
  const minute = bucketOf("minute", "s.occurred_at");
  return `, value_counts AS (
      SELECT s.account_id, ${minute} AS minute, v.kind || ':' || v.value AS k, count(*) AS n
      FROM ${source} s, LATERAL (VALUES ('model', s.model), ('ip', s.ip), ('country', s.country), ('template', s.prompt_template_hash)) AS v(kind, value)
      WHERE v.value IS NOT NULL GROUP BY 1, 2, 3
    ), signal_counts AS (
      SELECT s.account_id, ${minute} AS minute, j.key || ':' || (${signalBinSql("j.value")}) AS k, count(*) AS n
      FROM ${source} s, LATERAL jsonb_each(s.signals) AS j
      WHERE jsonb_typeof(s.signals) = 'object' GROUP BY 1, 2, 3
    ), minute_totals AS (
      SELECT s.account_id, ${minute} AS minute, count(*)::int AS requests, sum(s.input_tokens) AS input_tokens, sum(s.output_tokens) AS output_tokens
      FROM ${source} s GROUP BY 1, 2
    ), minute_rows AS (
      INSERT INTO usage_minute (account_id, bucket, requests, input_tokens, output_tokens, "values", signals)
      SELECT t.account_id, t.minute, t.requests, t.input_tokens, t.output_tokens, coalesce(v.m, '{}'), coalesce(g.m, '{}')
      FROM minute_totals t
      LEFT JOIN (SELECT account_id, minute, jsonb_object_agg(k, n) AS m FROM value_counts GROUP BY 1, 2) v USING (account_id, minute)
      LEFT JOIN (SELECT account_id, minute, jsonb_object_agg(k, n) AS m FROM signal_counts GROUP BY 1, 2) g USING (account_id, minute)
    ), hour_totals AS (
      SELECT account_id, ${bucketOf("hour", "minute")} AS hour, sum(requests)::int AS requests, sum(input_tokens) AS input_tokens,
             sum(output_tokens) AS output_tokens, max(requests) AS peak
      FROM minute_totals GROUP BY 1, 2
    ), hour_rows AS (
      INSERT INTO usage_hour (account_id, bucket, requests, input_tokens, output_tokens, "values", signals, peak_minute_requests)
      SELECT t.account_id, t.hour, t.requests, t.input_tokens, t.output_tokens, coalesce(v.m, '{}'), coalesce(g.m, '{}'), t.peak
      FROM hour_totals t
      LEFT JOIN (SELECT account_id, hour, jsonb_object_agg(k, n) AS m FROM
                   (SELECT account_id, ${bucketOf("hour", "minute")} AS hour, k, sum(n) AS n FROM value_counts GROUP BY 1, 2, 3) x
                 GROUP BY 1, 2) v USING (account_id, hour)
      LEFT JOIN (SELECT account_id, hour, jsonb_object_agg(k, n) AS m FROM
                   (SELECT account_id, ${bucketOf("hour", "minute")} AS hour, k, sum(n) AS n FROM signal_counts GROUP BY 1, 2, 3) x
                 GROUP BY 1, 2) g USING (account_id, hour)
    )`;
}

export type UsageAggregates = {
  requestCount: number;
  inputTokens: number;
  outputTokens: number;
  distinctModels: number;
  distinctIps: number;
  distinctCountries: number;
  distinctPromptTemplates: number;
  topTemplateShare: number;
  /** Exact for one account once compacted; for several it is the busiest single account-minute. */
  peakRequestsPerMinute: number;
};

const num = (v: unknown) => (v === null || v === undefined ? 0 : Number(v));

/** Aggregates over [from, to] (both included) for the given accounts, from the rollups plus at most two raw minutes. */
export async function usageAggregates(db: Db, accountIds: string[], from: Date, to: Date): Promise<UsageAggregates> {
  const p = planWindow(from, to);
  const [totals] = await db.$queryRaw<{ requests: unknown; input: unknown; output: unknown; peak: unknown }[]>`
    WITH raw AS (
      SELECT account_id, occurred_at, input_tokens, output_tokens FROM usage_event
      WHERE account_id = ANY(${accountIds}::text[])
        AND ((occurred_at >= ${p.rawHead.start} AND occurred_at < ${p.rawHead.end})
          OR (occurred_at >= ${p.rawTail.start} AND occurred_at <= ${p.rawTail.end}))
    ), parts AS (
      SELECT count(*) AS requests, sum(input_tokens) AS input, sum(output_tokens) AS output,
             (SELECT max(n) FROM (SELECT count(*) AS n FROM raw
                GROUP BY account_id, date_bin('1 minute', occurred_at, TIMESTAMPTZ '2000-01-01 00:00:00+00')) x) AS peak
      FROM raw
      UNION ALL
      SELECT sum(requests), sum(input_tokens), sum(output_tokens), max(requests) FROM (
        -- Rows not merged yet are summed per account-minute first.
        SELECT sum(requests) AS requests, sum(input_tokens) AS input_tokens, sum(output_tokens) AS output_tokens FROM usage_minute
        WHERE account_id = ANY(${accountIds}::text[])
          AND ((bucket >= ${p.minutesHead.start} AND bucket < ${p.minutesHead.end}) OR (bucket >= ${p.minutesTail.start} AND bucket < ${p.minutesTail.end}))
        GROUP BY account_id, bucket) per_minute
      UNION ALL
      SELECT sum(requests), sum(input_tokens), sum(output_tokens), max(peak_minute_requests) FROM usage_hour
      WHERE account_id = ANY(${accountIds}::text[]) AND bucket >= ${p.hours.start} AND bucket < ${p.hours.end}
    )
    SELECT sum(requests) AS requests, sum(input) AS input, sum(output) AS output, max(peak) AS peak FROM parts`;
  const kinds = await db.$queryRaw<{ kind: string; distinct_values: unknown; top: unknown }[]>`
    WITH raw AS (
      SELECT model, ip, country, prompt_template_hash FROM usage_event
      WHERE account_id = ANY(${accountIds}::text[])
        AND ((occurred_at >= ${p.rawHead.start} AND occurred_at < ${p.rawHead.end})
          OR (occurred_at >= ${p.rawTail.start} AND occurred_at <= ${p.rawTail.end}))
    ), parts AS (
      SELECT v.kind || ':' || v.value AS k, count(*) AS n
      FROM raw, LATERAL (VALUES ('model', raw.model), ('ip', raw.ip), ('country', raw.country), ('template', raw.prompt_template_hash)) AS v(kind, value)
      WHERE v.value IS NOT NULL GROUP BY 1
      UNION ALL
      SELECT e.key, sum(e.value::int) FROM usage_minute m, LATERAL jsonb_each(m."values") AS e
      WHERE m.account_id = ANY(${accountIds}::text[])
        AND ((m.bucket >= ${p.minutesHead.start} AND m.bucket < ${p.minutesHead.end}) OR (m.bucket >= ${p.minutesTail.start} AND m.bucket < ${p.minutesTail.end}))
      GROUP BY 1
      UNION ALL
      SELECT e.key, sum(e.value::int) FROM usage_hour h, LATERAL jsonb_each(h."values") AS e
      WHERE h.account_id = ANY(${accountIds}::text[]) AND h.bucket >= ${p.hours.start} AND h.bucket < ${p.hours.end}
      GROUP BY 1
    ), per_value AS (SELECT k, sum(n) AS n FROM parts GROUP BY k)
    SELECT split_part(k, ':', 1) AS kind, count(*) AS distinct_values, max(n) AS top FROM per_value GROUP BY 1`;
  const byKind = new Map(kinds.map((k) => [k.kind, k]));
  const requestCount = num(totals?.requests);
  return {
    requestCount,
    inputTokens: num(totals?.input),
    outputTokens: num(totals?.output),
    distinctModels: num(byKind.get("model")?.distinct_values),
    distinctIps: num(byKind.get("ip")?.distinct_values),
    distinctCountries: num(byKind.get("country")?.distinct_values),
    distinctPromptTemplates: num(byKind.get("template")?.distinct_values),
    topTemplateShare: requestCount ? num(byKind.get("template")?.top) / requestCount : 0,
    peakRequestsPerMinute: num(totals?.peak),
  };
}

/** Share of the requests in [from, to] whose signal is true or a number >= threshold (a multiple of 0.01). */
export async function signalShare(db: Db, accountIds: string[], from: Date, to: Date, signal: string, threshold: number, requestCount: number): Promise<number> {
  if (requestCount === 0) return 0;
  const p = planWindow(from, to);
  const bin = thresholdBin(threshold);
  const [row] = await db.$queryRaw<{ hits: unknown }[]>`
    SELECT
      (SELECT count(*) FROM usage_event
        WHERE account_id = ANY(${accountIds}::text[])
          AND ((occurred_at >= ${p.rawHead.start} AND occurred_at < ${p.rawHead.end})
            OR (occurred_at >= ${p.rawTail.start} AND occurred_at <= ${p.rawTail.end}))
          AND ((jsonb_typeof(signals -> ${signal}) = 'boolean' AND (signals ->> ${signal})::boolean)
            OR (jsonb_typeof(signals -> ${signal}) = 'number' AND (signals ->> ${signal})::float8 >= ${threshold})))
      + coalesce((SELECT sum(e.value::int) FROM usage_minute m, LATERAL jsonb_each(m.signals) AS e
        WHERE m.account_id = ANY(${accountIds}::text[])
          AND ((m.bucket >= ${p.minutesHead.start} AND m.bucket < ${p.minutesHead.end}) OR (m.bucket >= ${p.minutesTail.start} AND m.bucket < ${p.minutesTail.end}))
          AND split_part(e.key, ':', 1) = ${signal} AND split_part(e.key, ':', 2)::int >= ${bin}), 0)
      + coalesce((SELECT sum(e.value::int) FROM usage_hour h, LATERAL jsonb_each(h.signals) AS e
        WHERE h.account_id = ANY(${accountIds}::text[]) AND h.bucket >= ${p.hours.start} AND h.bucket < ${p.hours.end}
          AND split_part(e.key, ':', 1) = ${signal} AND split_part(e.key, ':', 2)::int >= ${bin}), 0) AS hits`;
  return num(row?.hits) / requestCount;
}
