// Per-account usage rollups: written for each batch of newly stored events (in the ingestion
// transaction, a fixed number of set-based statements), and read as window aggregates whose cost
// does not depend on the account's total history (see window-plan.ts).
import type { SqlSession } from "../../db/database";
import { sql } from "../../db/sql";
import type { Db } from "../../db/transaction";
import type { UsageEventInput } from "../events/event-schemas";
import { hourBucket, minuteBucket, planWindow } from "./window-plan";

export const valueKinds = ["model", "ip", "country", "template"] as const;

/** -1 for false, floor(value * 100) for a number, 100 for true: `>= threshold` is exact for thresholds in steps of 0.01. */
export function signalBin(v: number | boolean): number {
  if (v === true) return 100;
  if (v === false) return -1;
  return Math.min(100, Math.floor(v * 100 + 1e-9));
}

export function thresholdBin(threshold: number): number {
  return Math.round(threshold * 100);
}

type Totals = { requests: number; inputTokens: number; outputTokens: number };

function bump<K>(map: Map<string, K>, key: string, init: () => K, add: (k: K) => void): void {
  let cur = map.get(key);
  if (!cur) {
    cur = init();
    map.set(key, cur);
  }
  add(cur);
}

const sortedEntries = <V>(m: Map<string, V>) => [...m.entries()].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
const iso = (ms: number) => new Date(ms).toISOString();

/** Adds newly stored events to the rollups. Call once per event, in the transaction that stored it. */
export async function recordUsage(tx: SqlSession, events: UsageEventInput[]): Promise<void> {
  if (events.length === 0) return;
  const minutes = new Map<string, Totals & { account: string; ms: number }>();
  const hours = new Map<string, Totals & { account: string; ms: number }>();
  const values = new Map<string, { account: string; ms: number; kind: string; value: string; n: number }>();
  const signals = new Map<string, { account: string; ms: number; signal: string; bin: number; n: number }>();

  for (const e of events) {
    const ms = Date.parse(e.occurredAt);
    for (const [map, bucket] of [[minutes, minuteBucket(ms)], [hours, hourBucket(ms)]] as const) {
      bump(map, `${e.accountId}\u0000${bucket}`, () => ({ account: e.accountId, ms: bucket, requests: 0, inputTokens: 0, outputTokens: 0 }), (t) => {
        t.requests++;
        t.inputTokens += e.inputTokens;
        t.outputTokens += e.outputTokens;
      });
    }
    const vals: [string, string | null | undefined][] = [["model", e.model], ["ip", e.ip], ["country", e.country], ["template", e.promptTemplateHash]];
    for (const granularity of ["m", "h"] as const) {
      const bucket = granularity === "m" ? minuteBucket(ms) : hourBucket(ms);
      for (const [kind, value] of vals) {
        if (!value) continue;
        bump(values, `${granularity}\u0000${e.accountId}\u0000${bucket}\u0000${kind}\u0000${value}`, () => ({ account: e.accountId, ms: bucket, kind, value, n: 0 }), (v) => v.n++);
      }
      for (const [signal, v] of Object.entries(e.signals ?? {})) {
        const bin = signalBin(v);
        bump(signals, `${granularity}\u0000${e.accountId}\u0000${bucket}\u0000${signal}\u0000${bin}`, () => ({ account: e.accountId, ms: bucket, signal, bin, n: 0 }), (s) => s.n++);
      }
    }
  }

  const m = sortedEntries(minutes).map(([, v]) => v);
  const h = sortedEntries(hours).map(([, v]) => v);
  // The hour's busiest minute is read back from the minute totals after they are added to.
  await tx.query(sql`
    WITH m AS (
      INSERT INTO usage_minute (account_id, bucket, requests, input_tokens, output_tokens)
      SELECT * FROM unnest(${m.map((r) => r.account)}::text[], ${m.map((r) => iso(r.ms))}::timestamptz[],
        ${m.map((r) => r.requests)}::int[], ${m.map((r) => String(r.inputTokens))}::bigint[], ${m.map((r) => String(r.outputTokens))}::bigint[])
      ON CONFLICT (account_id, bucket) DO UPDATE SET
        requests = usage_minute.requests + EXCLUDED.requests,
        input_tokens = usage_minute.input_tokens + EXCLUDED.input_tokens,
        output_tokens = usage_minute.output_tokens + EXCLUDED.output_tokens
      RETURNING account_id, bucket, requests
    ), peaks AS (
      SELECT account_id, date_bin('1 hour', bucket, TIMESTAMPTZ '2000-01-01 00:00:00+00') AS hour, max(requests) AS peak
      FROM m GROUP BY 1, 2
    )
    INSERT INTO usage_hour (account_id, bucket, requests, input_tokens, output_tokens, peak_minute_requests)
    SELECT h.account_id, h.bucket, h.requests, h.input_tokens, h.output_tokens, p.peak
    FROM unnest(${h.map((r) => r.account)}::text[], ${h.map((r) => iso(r.ms))}::timestamptz[],
      ${h.map((r) => r.requests)}::int[], ${h.map((r) => String(r.inputTokens))}::bigint[], ${h.map((r) => String(r.outputTokens))}::bigint[])
      AS h(account_id, bucket, requests, input_tokens, output_tokens)
    JOIN peaks p ON p.account_id = h.account_id AND p.hour = h.bucket
    ORDER BY h.account_id, h.bucket
    ON CONFLICT (account_id, bucket) DO UPDATE SET
      requests = usage_hour.requests + EXCLUDED.requests,
      input_tokens = usage_hour.input_tokens + EXCLUDED.input_tokens,
      output_tokens = usage_hour.output_tokens + EXCLUDED.output_tokens,
      peak_minute_requests = GREATEST(usage_hour.peak_minute_requests, EXCLUDED.peak_minute_requests)`);

  const split = <T>(rows: [string, T][]) => ({
    minute: rows.filter(([k]) => k.startsWith("m")).map(([, v]) => v),
    hour: rows.filter(([k]) => k.startsWith("h")).map(([, v]) => v),
  });
  const v = split(sortedEntries(values));
  if (v.minute.length) {
    await tx.query(sql`
      WITH vm AS (
        INSERT INTO usage_value_minute (account_id, bucket, kind, value, requests)
        SELECT * FROM unnest(${v.minute.map((r) => r.account)}::text[], ${v.minute.map((r) => iso(r.ms))}::timestamptz[],
          ${v.minute.map((r) => r.kind)}::text[], ${v.minute.map((r) => r.value)}::text[], ${v.minute.map((r) => r.n)}::int[])
        ON CONFLICT (account_id, bucket, kind, value) DO UPDATE SET requests = usage_value_minute.requests + EXCLUDED.requests
      )
      INSERT INTO usage_value_hour (account_id, bucket, kind, value, requests)
      SELECT * FROM unnest(${v.hour.map((r) => r.account)}::text[], ${v.hour.map((r) => iso(r.ms))}::timestamptz[],
        ${v.hour.map((r) => r.kind)}::text[], ${v.hour.map((r) => r.value)}::text[], ${v.hour.map((r) => r.n)}::int[])
      ON CONFLICT (account_id, bucket, kind, value) DO UPDATE SET requests = usage_value_hour.requests + EXCLUDED.requests`);
  }
  const s = split(sortedEntries(signals));
  if (s.minute.length) {
    await tx.query(sql`
      WITH sm AS (
        INSERT INTO usage_signal_minute (account_id, bucket, signal, bin, requests)
        SELECT * FROM unnest(${s.minute.map((r) => r.account)}::text[], ${s.minute.map((r) => iso(r.ms))}::timestamptz[],
          ${s.minute.map((r) => r.signal)}::text[], ${s.minute.map((r) => r.bin)}::smallint[], ${s.minute.map((r) => r.n)}::int[])
        ON CONFLICT (account_id, bucket, signal, bin) DO UPDATE SET requests = usage_signal_minute.requests + EXCLUDED.requests
      )
      INSERT INTO usage_signal_hour (account_id, bucket, signal, bin, requests)
      SELECT * FROM unnest(${s.hour.map((r) => r.account)}::text[], ${s.hour.map((r) => iso(r.ms))}::timestamptz[],
        ${s.hour.map((r) => r.signal)}::text[], ${s.hour.map((r) => r.bin)}::smallint[], ${s.hour.map((r) => r.n)}::int[])
      ON CONFLICT (account_id, bucket, signal, bin) DO UPDATE SET requests = usage_signal_hour.requests + EXCLUDED.requests`);
  }
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
  /** Exact for one account; for several it is the busiest single account-minute. */
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
      SELECT sum(requests), sum(input_tokens), sum(output_tokens), max(requests) FROM usage_minute
      WHERE account_id = ANY(${accountIds}::text[])
        AND ((bucket >= ${p.minutesHead.start} AND bucket < ${p.minutesHead.end}) OR (bucket >= ${p.minutesTail.start} AND bucket < ${p.minutesTail.end}))
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
      SELECT v.kind, v.value, count(*) AS requests
      FROM raw, LATERAL (VALUES ('model', raw.model), ('ip', raw.ip), ('country', raw.country), ('template', raw.prompt_template_hash)) AS v(kind, value)
      WHERE v.value IS NOT NULL GROUP BY 1, 2
      UNION ALL
      SELECT kind, value, sum(requests) FROM usage_value_minute
      WHERE account_id = ANY(${accountIds}::text[])
        AND ((bucket >= ${p.minutesHead.start} AND bucket < ${p.minutesHead.end}) OR (bucket >= ${p.minutesTail.start} AND bucket < ${p.minutesTail.end}))
      GROUP BY 1, 2
      UNION ALL
      SELECT kind, value, sum(requests) FROM usage_value_hour
      WHERE account_id = ANY(${accountIds}::text[]) AND bucket >= ${p.hours.start} AND bucket < ${p.hours.end}
      GROUP BY 1, 2
    ), per_value AS (SELECT kind, value, sum(requests) AS requests FROM parts GROUP BY 1, 2)
    SELECT kind, count(*) AS distinct_values, max(requests) AS top FROM per_value GROUP BY kind`;
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
      + coalesce((SELECT sum(requests) FROM usage_signal_minute
        WHERE account_id = ANY(${accountIds}::text[]) AND signal = ${signal} AND bin >= ${bin}
          AND ((bucket >= ${p.minutesHead.start} AND bucket < ${p.minutesHead.end}) OR (bucket >= ${p.minutesTail.start} AND bucket < ${p.minutesTail.end}))), 0)
      + coalesce((SELECT sum(requests) FROM usage_signal_hour
        WHERE account_id = ANY(${accountIds}::text[]) AND signal = ${signal} AND bin >= ${bin}
          AND bucket >= ${p.hours.start} AND bucket < ${p.hours.end}), 0) AS hits`;
  return num(row?.hits) / requestCount;
}
