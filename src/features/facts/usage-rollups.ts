// Per-account usage rollups: minute and hour rows written for each batch of newly stored events
// (CTEs of the ingestion statement), day rows folded from hour rows by the compactor, and all of
// them read as window aggregates whose cost depends neither on the account's total history nor on
// the window's length (see window-plan.ts). A rollup row holds a bucket's totals and two maps:
// requests per distinct value ("kind:value") and requests per signal bin ("signal:bin").
import type { Sql } from "../../db/database";
import { type SqlQuery, prepared, raw, sql } from "../../db/sql";
import { type WindowPlan, planWindow } from "./window-plan";

export const bucketOrigin = "TIMESTAMPTZ '2000-01-01 00:00:00+00'";
export const bucketOf = (unit: "minute" | "hour" | "day", column: string) => `date_bin('1 ${unit}', ${column}, ${bucketOrigin})`;

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
 * The three tiers of a set of rollups: the accounts' (usage_*), or the linked-account components'
 * (component_*, see link-components.ts), whose `account_id` holds a component's key. Both are
 * written, merged and read by the same statements. `cte` prefixes CTE and statement names.
 */
export type RollupTables = { minute: string; hour: string; day: string; cte: string };
export const accountTables: RollupTables = { minute: "usage_minute", hour: "usage_hour", day: "usage_day", cte: "" };
export const componentTables: RollupTables = { minute: "component_minute", hour: "component_hour", day: "component_day", cte: "c_" };

/**
 * CTEs that add the events of CTE `source` (columns account_id, occurred_at, input_tokens,
 * output_tokens, model, ip, country, prompt_template_hash, signals) to the rollups. Append-only:
 * one row per account, bucket and batch, merged later by the compactor. An hour row's peak is this
 * batch's busiest minute in it; the compactor raises it to the minute's full total.
 *
 * No day rows here: the compactor derives them from the hour rows it merges (rollup-compactor.ts),
 * and readers take the hour rows it has not merged yet beside them. A third CTE writing day rows
 * like the hour rows made each 1,000-event batch about a fifth slower (+19% on PostgreSQL, +23%
 * on PGlite, measured interleaved; see docs/performance.md), for rows the compactor builds from
 * far fewer inputs: one row per merged hour key and pass instead of one per account and batch.
 */
export function rollupStatements(source: string, tables: RollupTables = accountTables): string {
  const minute = bucketOf("minute", "s.occurred_at");
  // Component rows keep the models and prompt templates only (the cluster facts' top template and
  // new-model share); IPs and countries, unbounded for a proxy network, are an account's alone.
  const kinds = tables === accountTables ? "('model', s.model), ('ip', s.ip), ('country', s.country), ('template', s.prompt_template_hash)" : "('model', s.model), ('template', s.prompt_template_hash)";
  const p = tables.cte;
  return `, ${p}value_counts AS (
      SELECT s.account_id, ${minute} AS minute, v.kind || ':' || v.value AS k, count(*) AS n
      FROM ${source} s, LATERAL (VALUES ${kinds}) AS v(kind, value)
      WHERE v.value IS NOT NULL GROUP BY 1, 2, 3
    ), ${p}signal_counts AS (
      SELECT s.account_id, ${minute} AS minute, j.key || ':' || (${signalBinSql("j.value")}) AS k, count(*) AS n
      FROM ${source} s, LATERAL jsonb_each(s.signals) AS j
      WHERE jsonb_typeof(s.signals) = 'object' GROUP BY 1, 2, 3
    ), ${p}minute_totals AS (
      SELECT s.account_id, ${minute} AS minute, count(*)::int AS requests, sum(s.input_tokens) AS input_tokens, sum(s.output_tokens) AS output_tokens
      FROM ${source} s GROUP BY 1, 2
    ), ${p}minute_rows AS (
      INSERT INTO ${tables.minute} (account_id, bucket, requests, input_tokens, output_tokens, "values", signals)
      SELECT t.account_id, t.minute, t.requests, t.input_tokens, t.output_tokens, coalesce(v.m, '{}'), coalesce(g.m, '{}')
      FROM ${p}minute_totals t
      LEFT JOIN (SELECT account_id, minute, jsonb_object_agg(k, n) AS m FROM ${p}value_counts GROUP BY 1, 2) v USING (account_id, minute)
      LEFT JOIN (SELECT account_id, minute, jsonb_object_agg(k, n) AS m FROM ${p}signal_counts GROUP BY 1, 2) g USING (account_id, minute)
    ), ${p}hour_totals AS (
      SELECT account_id, ${bucketOf("hour", "minute")} AS hour, sum(requests)::int AS requests, sum(input_tokens) AS input_tokens,
             sum(output_tokens) AS output_tokens, max(requests) AS peak
      FROM ${p}minute_totals GROUP BY 1, 2
    ), ${p}hour_rows AS (
      INSERT INTO ${tables.hour} (account_id, bucket, requests, input_tokens, output_tokens, "values", signals, peak_minute_requests)
      SELECT t.account_id, t.hour, t.requests, t.input_tokens, t.output_tokens, coalesce(v.m, '{}'), coalesce(g.m, '{}'), t.peak
      FROM ${p}hour_totals t
      LEFT JOIN (SELECT account_id, hour, jsonb_object_agg(k, n) AS m FROM
                   (SELECT account_id, ${bucketOf("hour", "minute")} AS hour, k, sum(n) AS n FROM ${p}value_counts GROUP BY 1, 2, 3) x
                 GROUP BY 1, 2) v USING (account_id, hour)
      LEFT JOIN (SELECT account_id, hour, jsonb_object_agg(k, n) AS m FROM
                   (SELECT account_id, ${bucketOf("hour", "minute")} AS hour, k, sum(n) AS n FROM ${p}signal_counts GROUP BY 1, 2, 3) x
                 GROUP BY 1, 2) g USING (account_id, hour)
    )`;
}

export type UsageTotals = {
  requestCount: number;
  inputTokens: number;
  outputTokens: number;
  /** Exact for one account once compacted; for several it is the busiest single account-minute. */
  peakRequestsPerMinute: number;
};

export type ValueStats = {
  distinctModels: number;
  distinctIps: number;
  distinctCountries: number;
  distinctPromptTemplates: number;
  /** Requests with the most used prompt template (divide by requestCount for the share). */
  topTemplateRequests: number;
};

const num = (v: unknown) => (v === null || v === undefined ? 0 : Number(v));

/** The ranges of a window plan, in the order of planColumns. */
const planRanges = ["rawHead", "rawTail", "future", "minutesHead", "minutesTail", "hoursHead", "hoursTail", "days"] as const;
/** The columns planArrays fills, in its order: the start and end of each of planRanges. */
const planColumns = "rh0, rh1, rt0, rt1, f0, f1, mh0, mh1, mt0, mt1, hh0, hh1, ht0, ht1, d0, d1";

/** Window plans as sixteen timestamptz[] parameters for unnest, one element per ask: see planColumns. */
function planArrays(plans: WindowPlan[]): SqlQuery {
  const col = (f: (p: WindowPlan) => Date) => sql`${plans.map((p) => f(p).toISOString())}::timestamptz[]`;
  const cols = planRanges.flatMap((name) => [col((p) => p[name].start), col((p) => p[name].end)]);
  return cols.reduce((list, c) => sql`${list}, ${c}`);
}

/**
 * The window's hour and day rows, as one row source for the ask row `a`, with the given columns:
 * hour rows of the edge hours; day rows of the whole days; and the hour rows of those days that
 * the compactor has not merged yet, which are not in any day row yet (a day row holds exactly its
 * day's merged hour rows: see rollup-compactor.ts). All three are read in one statement, so in one
 * snapshot, where each hour row is either merged and in its day row or not: never both, never
 * neither. The third part is read through the index of unmerged rows, nearly always empty.
 */
const hoursAndDays = (a: string, columns: string, tables: RollupTables = accountTables) => `(
        SELECT ${columns} FROM ${tables.hour} h
        WHERE h.account_id = ${a}.account_id AND ((h.bucket >= ${a}.hh0 AND h.bucket < ${a}.hh1) OR (h.bucket >= ${a}.ht0 AND h.bucket < ${a}.ht1))
        UNION ALL
        SELECT ${columns} FROM ${tables.hour} h
        WHERE h.account_id = ${a}.account_id AND NOT h.compacted AND h.bucket >= ${a}.d0 AND h.bucket < ${a}.d1
        UNION ALL
        SELECT ${columns} FROM ${tables.day} h
        WHERE h.account_id = ${a}.account_id AND h.bucket >= ${a}.d0 AND h.bucket < ${a}.d1
      )`;

/**
 * Totals of each (account, window) asked for, in one statement: rollup rows plus at most two raw
 * minutes per window. Evaluation asks for a whole batch's accounts at once.
 */
export async function usageTotalsMany(db: Sql, asks: { accountId: string; from: Date; to: Date }[], tables = accountTables): Promise<UsageTotals[]> {
  if (asks.length === 0) return [];
  const plans = asks.map((a) => planWindow(a.from, a.to));
  const rows = await db.query<{ i: number; requests: unknown; input: unknown; output: unknown; peak: unknown }>(prepared(`cg_${tables.cte}usage_totals`, sql`
    SELECT r.i, raw.n + mins.n + hrs.n AS requests, raw.i + mins.i + hrs.i AS input, raw.o + mins.o + hrs.o AS output,
           GREATEST(raw.n, mins.p, hrs.p) AS peak
    FROM unnest(${asks.map((_, i) => i)}::int[], ${asks.map((a) => a.accountId)}::text[], ${planArrays(plans)})
         AS r(i, account_id, ${raw(planColumns)})
    CROSS JOIN LATERAL (
      -- One partial minute at most: its count is also its peak.
      SELECT count(*) AS n, coalesce(sum(e.input_tokens), 0) AS i, coalesce(sum(e.output_tokens), 0) AS o
      FROM usage_event e
      WHERE e.account_id = r.account_id
        AND ((e.occurred_at >= r.rh0 AND e.occurred_at < r.rh1) OR (e.occurred_at >= r.rt0 AND e.occurred_at < r.rt1))
    ) raw
    CROSS JOIN LATERAL (
      SELECT count(*) AS n, coalesce(sum(e.input_tokens), 0) AS i, coalesce(sum(e.output_tokens), 0) AS o
      FROM usage_event e WHERE e.account_id = r.account_id AND e.occurred_at >= r.f0 AND e.occurred_at < r.f1
    ) fut
    CROSS JOIN LATERAL (
      -- Rows not merged yet are summed per minute first; the last minute loses what came after the window.
      SELECT coalesce(sum(s.n), 0) AS n, coalesce(sum(s.i), 0) AS i, coalesce(sum(s.o), 0) AS o, max(s.n) AS p
      FROM (SELECT sum(m.requests) - CASE WHEN m.bucket = r.f1 - interval '1 minute' THEN fut.n ELSE 0 END AS n,
                   sum(m.input_tokens) - CASE WHEN m.bucket = r.f1 - interval '1 minute' THEN fut.i ELSE 0 END AS i,
                   sum(m.output_tokens) - CASE WHEN m.bucket = r.f1 - interval '1 minute' THEN fut.o ELSE 0 END AS o
            FROM ${raw(tables.minute)} m
            WHERE m.account_id = r.account_id
              AND ((m.bucket >= r.mh0 AND m.bucket < r.mh1) OR (m.bucket >= r.mt0 AND m.bucket < r.mt1))
            GROUP BY m.bucket) s
    ) mins
    CROSS JOIN LATERAL (
      SELECT coalesce(sum(x.requests), 0) AS n, coalesce(sum(x.input_tokens), 0) AS i, coalesce(sum(x.output_tokens), 0) AS o,
             max(x.peak_minute_requests) AS p
      FROM ${raw(hoursAndDays("r", "h.requests, h.input_tokens, h.output_tokens, h.peak_minute_requests", tables))} x
    ) hrs`));
  const byIndex = new Map(rows.map((r) => [Number(r.i), r]));
  return asks.map((_, i) => {
    const r = byIndex.get(i);
    return { requestCount: num(r?.requests), inputTokens: num(r?.input), outputTokens: num(r?.output), peakRequestsPerMinute: num(r?.peak) };
  });
}

/** Several accounts' totals as one: a cluster's busiest minute is its busiest account-minute. */
export function sumTotals(each: UsageTotals[]): UsageTotals {
  return each.reduce(
    (sum, t) => ({
      requestCount: sum.requestCount + t.requestCount,
      inputTokens: sum.inputTokens + t.inputTokens,
      outputTokens: sum.outputTokens + t.outputTokens,
      peakRequestsPerMinute: Math.max(sum.peakRequestsPerMinute, t.peakRequestsPerMinute),
    }),
    { requestCount: 0, inputTokens: 0, outputTokens: 0, peakRequestsPerMinute: 0 },
  );
}

/** Totals over [from, to] (both included) for the given accounts together (see sumTotals). */
export async function usageTotals(db: Sql, accountIds: string[], from: Date, to: Date): Promise<UsageTotals> {
  return sumTotals(await usageTotalsMany(db, accountIds.map((accountId) => ({ accountId, from, to }))));
}

/** One read over a set of accounts (one, or a cluster) and a window [from, to]. */
export type WindowAsk = { accountIds: string[]; from: Date; to: Date };

/**
 * The asks as two parameter sets: `r`, one row per ask with its window plan (see window-plan.ts),
 * and `m`, one row per (ask, account). Every read joins usage tables per `m` row through a
 * LATERAL subquery, so each account is found through its (account_id, time) index.
 */
function askRows(asks: WindowAsk[]) {
  const plans = asks.map((a) => planWindow(a.from, a.to));
  const members = asks.flatMap((a, i) => a.accountIds.map((id) => ({ i, id })));
  return sql`
    r AS (
      SELECT * FROM unnest(${asks.map((_, i) => i)}::int[], ${planArrays(plans)})
        AS r(i, ${raw(planColumns)})
    ), m AS (
      SELECT r.*, mb.account_id FROM unnest(${members.map((m) => m.i)}::int[], ${members.map((m) => m.id)}::text[]) AS mb(i, account_id) JOIN r USING (i)
    )`;
}

/** The raw-event and minute conditions of a LATERAL read for the `m` row (alias `m`); hours and days: hoursAndDays. */
const rawIn = (e: string) => `((${e}.occurred_at >= m.rh0 AND ${e}.occurred_at < m.rh1) OR (${e}.occurred_at >= m.rt0 AND ${e}.occurred_at < m.rt1))`;
const futureIn = (e: string) => `(${e}.occurred_at >= m.f0 AND ${e}.occurred_at < m.f1)`;
const minutesIn = (u: string) => `((${u}.bucket >= m.mh0 AND ${u}.bucket < m.mh1) OR (${u}.bucket >= m.mt0 AND ${u}.bucket < m.mt1))`;
const valueKinds = (e: string) => `(VALUES ('model', ${e}.model), ('ip', ${e}.ip), ('country', ${e}.country), ('template', ${e}.prompt_template_hash)) AS v(kind, value)`;

/**
 * The `parts` CTE of a read per value: (ask, "kind:value", requests) from the raw edge minutes (the
 * events after the window subtracted), the minute rows, and the hour and day rows of `tables`;
 * `keys`: which keys of the rows' maps to read (all when absent).
 */
const valueParts = (kinds: (e: string) => string, tables: RollupTables, keys?: (x: string) => string) => `parts AS (
      SELECT m.i, p.k, p.n FROM m CROSS JOIN LATERAL (
        SELECT v.kind || ':' || v.value AS k, count(*) AS n
        FROM usage_event e, LATERAL ${kinds("e")}
        WHERE e.account_id = m.account_id AND ${rawIn("e")} AND v.value IS NOT NULL GROUP BY 1
        UNION ALL
        SELECT v.kind || ':' || v.value, -count(*)
        FROM usage_event f, LATERAL ${kinds("f")}
        WHERE f.account_id = m.account_id AND ${futureIn("f")} AND v.value IS NOT NULL GROUP BY 1
        UNION ALL
        SELECT x.key, sum(x.value::int) FROM ${tables.minute} u, LATERAL jsonb_each(u."values") AS x
        WHERE u.account_id = m.account_id AND ${minutesIn("u")}${keys ? ` AND ${keys("x")}` : ""} GROUP BY 1
        UNION ALL
        SELECT x.key, sum(x.value::bigint) FROM ${hoursAndDays("m", 'h."values"', tables)} h, LATERAL jsonb_each(h."values") AS x${keys ? ` WHERE ${keys("x")}` : ""} GROUP BY 1
      ) p
    )`;

/**
 * Distinct models, IPs, countries and templates, and the top template's requests, for each ask
 * (a set of accounts over a window), in one statement: evaluation asks for a whole batch.
 */
export async function valueStatsMany(db: Sql, asks: WindowAsk[]): Promise<ValueStats[]> {
  if (asks.length === 0) return [];
  const rows = await db.query<{ i: number; kind: string; distinct_values: unknown; top: unknown }>(prepared("cg_value_stats_many", sql`
    WITH ${askRows(asks)}, ${raw(valueParts(valueKinds, accountTables))}, per_value AS (SELECT i, k, sum(n) AS n FROM parts GROUP BY 1, 2 HAVING sum(n) > 0)
    SELECT i, split_part(k, ':', 1) AS kind, count(*) AS distinct_values, max(n) AS top FROM per_value GROUP BY 1, 2`));
  const byAsk = new Map<string, { distinct_values: unknown; top: unknown }>(rows.map((r) => [`${r.i}:${r.kind}`, r]));
  return asks.map((_, i) => ({
    distinctModels: num(byAsk.get(`${i}:model`)?.distinct_values),
    distinctIps: num(byAsk.get(`${i}:ip`)?.distinct_values),
    distinctCountries: num(byAsk.get(`${i}:country`)?.distinct_values),
    distinctPromptTemplates: num(byAsk.get(`${i}:template`)?.distinct_values),
    topTemplateRequests: num(byAsk.get(`${i}:template`)?.top),
  }));
}

const componentValueKeys = (x: string) => `(${x}.key LIKE 'model:%' OR ${x}.key LIKE 'template:%')`;
const modelAndTemplate = (e: string) => `(VALUES ('model', ${e}.model), ('template', ${e}.prompt_template_hash)) AS v(kind, value)`;

/**
 * Requests per model and per prompt template ("model:<name>", "template:<hash>") of each ask (a
 * set of accounts over a window, or with componentTables one component's key), in one statement:
 * newModelShare and the cluster's top template read them. Reads as valueStatsMany does (raw edge
 * minutes, minute, hour and day rows); a component's key has no raw events, so its read is by
 * whole minutes.
 */
export async function valueCountsMany(db: Sql, asks: WindowAsk[], tables: RollupTables = accountTables): Promise<Map<string, number>[]> {
  if (asks.length === 0) return [];
  const rows = await db.query<{ i: number; k: string; n: unknown }>(prepared(`cg_${tables.cte}value_counts_many`, sql`
    WITH ${askRows(asks)}, ${raw(valueParts(modelAndTemplate, tables, componentValueKeys))}
    SELECT i, k, sum(n) AS n FROM parts GROUP BY 1, 2 HAVING sum(n) > 0`));
  const out = asks.map(() => new Map<string, number>());
  for (const r of rows) out[Number(r.i)]!.set(r.k, num(r.n));
  return out;
}

/** Distinct models, IPs, countries and templates over [from, to], and the top template's requests. */
export async function valueStats(db: Sql, accountIds: string[], from: Date, to: Date): Promise<ValueStats> {
  return (await valueStatsMany(db, [{ accountIds, from, to }]))[0]!;
}

export type SignalAsk = WindowAsk & { signal: string; threshold: number };

/** Requests whose signal is true or a number >= threshold (a multiple of 0.01), for each ask, in one statement. */
export async function signalHitsMany(db: Sql, asks: SignalAsk[], tables = accountTables): Promise<number[]> {
  if (asks.length === 0) return [];
  const rows = await db.query<{ i: number; hits: unknown }>(prepared(`cg_${tables.cte}signal_hits_many`, sql`
    WITH ${askRows(asks)}, s AS (
      SELECT * FROM unnest(${asks.map((_, i) => i)}::int[], ${asks.map((a) => a.signal)}::text[],
                           ${asks.map((a) => a.threshold)}::float8[], ${asks.map((a) => thresholdBin(a.threshold))}::int[])
        AS s(i, sig, thr, bin)
    ), ms AS (SELECT m.*, s.sig, s.thr, s.bin FROM m JOIN s USING (i))
    SELECT m.i, sum(p.n) AS hits FROM ms m CROSS JOIN LATERAL (
      SELECT count(*) AS n FROM usage_event e
      WHERE e.account_id = m.account_id AND ${raw(rawIn("e"))}
        AND ((jsonb_typeof(e.signals -> m.sig) = 'boolean' AND (e.signals ->> m.sig)::boolean)
          OR (jsonb_typeof(e.signals -> m.sig) = 'number' AND (e.signals ->> m.sig)::float8 >= m.thr))
      UNION ALL
      SELECT -count(*) FROM usage_event f, LATERAL jsonb_each(f.signals) AS j
      WHERE f.account_id = m.account_id AND ${raw(futureIn("f"))} AND jsonb_typeof(f.signals) = 'object'
        AND j.key = m.sig AND ${raw(signalBinSql("j.value"))} >= m.bin
      UNION ALL
      SELECT coalesce(sum(x.value::int), 0) FROM ${raw(tables.minute)} u, LATERAL jsonb_each(u.signals) AS x
      WHERE u.account_id = m.account_id AND ${raw(minutesIn("u"))}
        AND split_part(x.key, ':', 1) = m.sig AND split_part(x.key, ':', 2)::int >= m.bin
      UNION ALL
      SELECT coalesce(sum(x.value::bigint), 0) FROM ${raw(hoursAndDays("m", "h.signals", tables))} h, LATERAL jsonb_each(h.signals) AS x
      WHERE split_part(x.key, ':', 1) = m.sig AND split_part(x.key, ':', 2)::int >= m.bin
    ) p GROUP BY m.i`));
  const byAsk = new Map(rows.map((r) => [Number(r.i), num(r.hits)]));
  return asks.map((_, i) => byAsk.get(i) ?? 0);
}

/** Requests in [from, to] whose signal is true or a number >= threshold (a multiple of 0.01). */
export async function signalHits(db: Sql, accountIds: string[], from: Date, to: Date, signal: string, threshold: number): Promise<number> {
  return (await signalHitsMany(db, [{ accountIds, from, to, signal, threshold }]))[0]!;
}

/** One hour of an account's usage, as the analyst console charts it. */
export type UsageHourPoint = {
  hour: string;
  requests: number;
  inputTokens: number;
  outputTokens: number;
  /** Per signal: the share of the hour's requests whose value is true or >= 0.5. */
  signalRates: Record<string, number>;
};

/** The bin of 0.5: the threshold the usage series counts a signal as raised at. */
export const seriesSignalThreshold = 0.5;

/**
 * An account's usage per hour over [from, to) from the hour rollups (written at ingestion, so the
 * current hour is there too): one point per hour that has requests. Reads at most the window's
 * hour rows, whatever the account's history.
 */
export async function usageSeries(db: Sql, accountId: string, from: Date, to: Date): Promise<UsageHourPoint[]> {
  // One pass over the range's hour rows: totals per hour, and per hour and signal the requests in a
  // bin at or above the threshold (keys are "signal:bin", as signalHitsMany reads them).
  const rows = await db.query<{ hour: Date; requests: unknown; input: unknown; output: unknown; hits: Record<string, unknown> | null }>(prepared("cg_usage_series", sql`
    WITH h AS (
      SELECT bucket, requests, input_tokens, output_tokens, signals FROM usage_hour
      WHERE account_id = ${accountId} AND bucket >= date_bin('1 hour', ${from}::timestamptz, ${raw(bucketOrigin)}) AND bucket < ${to}
    ), hits AS (
      SELECT bucket, jsonb_object_agg(signal, n) AS hits FROM (
        SELECT h.bucket, split_part(x.key, ':', 1) AS signal, sum(x.value::int) AS n
        FROM h, LATERAL jsonb_each(h.signals) AS x
        WHERE split_part(x.key, ':', 2)::int >= ${thresholdBin(seriesSignalThreshold)}
        GROUP BY 1, 2) s
      GROUP BY 1
    )
    SELECT t.bucket AS hour, t.requests, t.input, t.output, hits.hits
    FROM (SELECT bucket, sum(requests) AS requests, sum(input_tokens) AS input, sum(output_tokens) AS output FROM h GROUP BY 1) t
    LEFT JOIN hits USING (bucket) ORDER BY t.bucket`));
  return rows.map((t) => {
    const requests = num(t.requests);
    const rates = Object.entries(t.hits ?? {}).map(([signal, n]) => [signal, requests ? num(n) / requests : 0] as const);
    return { hour: new Date(t.hour).toISOString(), requests, inputTokens: num(t.input), outputTokens: num(t.output), signalRates: Object.fromEntries(rates) };
  });
}
