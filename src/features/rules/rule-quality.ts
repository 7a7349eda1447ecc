// Rule quality from verdicts (docs/rule-lifecycle.md#rule-quality): for the cases a rule opened in
// a period, by the version that opened them, what analysts decided, how fast, and what appeals
// reversed; with the hits and events counted per day as they were evaluated (rule_hit_day,
// evaluation_day). Three statements, whatever the period.
import type { Sql } from "../../db/database";
import { sql } from "../../db/sql";
import type { QualityStats, VersionQualityStats } from "./lifecycle-views";

type CaseRow = { rule_id: string; version: number | null; total: number; opened: number; confirmed: number; dismissed: number; enforced: number; reversed: number; median_hours: number | null };
type HitRow = { rule_id: string; version: number | null; total: number; hits: string; suppressed: string };

/** Counts per rule (and version; `version` null: the rule's totals) over [from, to). `ruleId` undefined: every rule. */
async function measure(db: Sql, ruleId: string | undefined, from: Date, to: Date) {
  const cases = await db.query<CaseRow>(sql`
    SELECT c.rule_id, c.opened_version AS version, GROUPING(c.opened_version)::int AS total, count(*)::int AS opened,
           count(*) FILTER (WHERE c.status IN ('confirmed', 'enforced', 'resolved'))::int AS confirmed,
           count(*) FILTER (WHERE c.status = 'dismissed')::int AS dismissed,
           count(*) FILTER (WHERE EXISTS (SELECT 1 FROM enforcement e WHERE e.case_id = c.id))::int AS enforced,
           count(*) FILTER (WHERE EXISTS (SELECT 1 FROM appeal a WHERE a.case_id = c.id AND a.status = 'reversed'))::int AS reversed,
           percentile_cont(0.5) WITHIN GROUP (ORDER BY d.hours) AS median_hours
    FROM violation_case c
    LEFT JOIN LATERAL (
      SELECT extract(epoch FROM (min(t.at) - c.created_at)) / 3600.0 AS hours FROM case_timeline_entry t
      WHERE t.case_id = c.id AND t.kind = 'transition' AND t.to_status IN ('confirmed', 'dismissed')) d ON true
    WHERE (${ruleId ?? null}::text IS NULL OR c.rule_id = ${ruleId ?? null}) AND c.created_at >= ${from}::timestamptz AND c.created_at < ${to}::timestamptz
    GROUP BY GROUPING SETS ((c.rule_id, c.opened_version), (c.rule_id))`);
  // Days that start in [from, to), and the day `from` falls in: counters are kept per UTC day.
  const hits = await db.query<HitRow>(sql`
    SELECT rule_id, rule_version AS version, GROUPING(rule_version)::int AS total, sum(hits)::text AS hits, sum(suppressed)::text AS suppressed FROM rule_hit_day
    WHERE (${ruleId ?? null}::text IS NULL OR rule_id = ${ruleId ?? null})
      AND day >= (${from}::timestamptz AT TIME ZONE 'UTC')::date AND day < ${to}::timestamptz AT TIME ZONE 'UTC'
    GROUP BY GROUPING SETS ((rule_id, rule_version), (rule_id))`);
  const [events] = await db.query<{ n: string | null }>(sql`
    SELECT sum(events)::text AS n FROM evaluation_day
    WHERE day >= (${from}::timestamptz AT TIME ZONE 'UTC')::date AND day < ${to}::timestamptz AT TIME ZONE 'UTC'`);
  return { cases, hits, events: Number(events?.n ?? 0) };
}

function combine(version: number | null, c: CaseRow | undefined, h: HitRow | undefined, events: number): VersionQualityStats {
  const confirmed = c?.confirmed ?? 0;
  const dismissed = c?.dismissed ?? 0;
  const hits = Number(h?.hits ?? 0);
  return {
    version,
    casesOpened: c?.opened ?? 0,
    confirmed,
    dismissed,
    enforced: c?.enforced ?? 0,
    reversedOnAppeal: c?.reversed ?? 0,
    precision: confirmed + dismissed > 0 ? confirmed / (confirmed + dismissed) : null,
    medianHoursToDecision: c?.median_hours === null || c?.median_hours === undefined ? null : Math.round(Number(c.median_hours) * 100) / 100,
    hits,
    suppressedHits: Number(h?.suppressed ?? 0),
    hitsPer1000Events: events > 0 ? Math.round((hits / events) * 1000 * 1000) / 1000 : null,
  };
}

function statsOf(ruleId: string, m: Awaited<ReturnType<typeof measure>>, from: Date, to: Date): QualityStats {
  // The grouping set's total row is marked by GROUPING() (a case opened before versions were recorded has a null version too).
  const key = (version: number | null, total = false) => (total ? "total" : `v${version ?? "?"}`);
  const caseOf = new Map<string, CaseRow>();
  const hitOf = new Map<string, HitRow>();
  const versions = new Set<number>();
  for (const [rows, into] of [
    [m.cases, caseOf],
    [m.hits, hitOf],
  ] as const) {
    for (const r of rows) {
      if (r.rule_id !== ruleId) continue;
      (into as Map<string, CaseRow | HitRow>).set(key(r.version, Number(r.total) === 1), r as never);
      if (r.version !== null && Number(r.total) === 0) versions.add(r.version);
    }
  }
  return {
    ruleId,
    from: from.toISOString(),
    to: to.toISOString(),
    eventsEvaluated: m.events,
    total: combine(null, caseOf.get(key(null, true)), hitOf.get(key(null, true)), m.events),
    versions: [...versions].sort((a, b) => b - a).map((v) => combine(v, caseOf.get(key(v)), hitOf.get(key(v)), m.events)),
  };
}

export function createRuleQuality(db: Sql) {
  return {
    async stats(ruleId: string, from: Date, to: Date): Promise<QualityStats> {
      return statsOf(ruleId, await measure(db, ruleId, from, to), from, to);
    },
    /** Every rule's stats at once (the metrics and the console's rule list). */
    async all(ruleIds: readonly string[], from: Date, to: Date): Promise<QualityStats[]> {
      const m = await measure(db, undefined, from, to);
      return ruleIds.map((id) => statsOf(id, m, from, to));
    },
  };
}

export type RuleQuality = ReturnType<typeof createRuleQuality>;
