// Shadow runs: a candidate version evaluated live beside the active one, opening no case
// (src/features/evaluation/hit-routing.ts), then promoted or stopped. Starting, stopping and
// promoting are audited; the report compares the two versions' side hits over the same events.
import { randomUUID } from "node:crypto";
import type { Database } from "../../db/database";
import { sql } from "../../db/sql";
import type { ConditionExplanation } from "../../engine/evaluation";
import { AppError, notFound, validationFailed } from "../../shared/errors";
import { type Actor, appendAudit } from "../audit/audit-log";
import type { RuleService } from "./rule-service";
import { listRefs } from "../../engine/named-lists";
import type { RuleDocument } from "../../engine/rule-schema";
import type { RuleView } from "./rule-views";
import type { ShadowAccount, ShadowReport, ShadowView } from "./lifecycle-views";

/** The longest a shadow may be set to run (it may also run until stopped). */
export const maxShadowDays = 92;

type ShadowRow = {
  id: string;
  rule_id: string;
  version: number;
  base_version: number | null;
  started_at: Date;
  started_by: string;
  ends_at: Date | null;
  stopped_at: Date | null;
  stopped_by: string | null;
  outcome: "stopped" | "promoted" | null;
};

const iso = (d: Date) => new Date(d).toISOString();

export function toShadowView(r: ShadowRow, now = new Date()): ShadowView {
  return {
    id: r.id,
    ruleId: r.rule_id,
    version: r.version,
    baseVersion: r.base_version,
    startedAt: iso(r.started_at),
    startedBy: r.started_by,
    endsAt: r.ends_at ? iso(r.ends_at) : null,
    stoppedAt: r.stopped_at ? iso(r.stopped_at) : null,
    stoppedBy: r.stopped_by,
    outcome: r.outcome,
    running: !r.stopped_at && (!r.ends_at || new Date(r.ends_at) > now),
  };
}

export function createShadowService(db: Database, rules: Pick<RuleService, "writing" | "ruleView">) {
  /** Puts `version` of the rule in shadow until `endsAt` (or until stopped). One shadow per rule at a time. */
  async function start(ruleId: string, input: { version: number; endsAt?: Date }, { actor, requestId }: Actor, now = new Date()): Promise<ShadowView> {
    if (input.endsAt && input.endsAt <= now) throw validationFailed([{ path: "body.endsAt", message: "must be in the future" }]);
    if (input.endsAt && input.endsAt.getTime() - now.getTime() > maxShadowDays * 86_400_000) throw validationFailed([{ path: "body.endsAt", message: `must be within ${maxShadowDays} days` }]);
    return rules.writing(async (tx) => {
      const rule = await tx.rule.findUnique({ where: { id: ruleId } });
      if (!rule) throw notFound("rule", ruleId);
      const candidate = await tx.ruleVersion.findUnique({ where: { ruleId_version: { ruleId, version: input.version } }, select: { document: true } });
      if (!candidate) throw validationFailed([{ path: "body.version", message: `rule '${ruleId}' has no version ${input.version}` }]);
      // Its named lists must exist now (one may have been deleted since the version was stored).
      const refs = listRefs((candidate.document as unknown as RuleDocument).conditions);
      if (refs.length) {
        const found = new Set((await tx.namedList.findMany({ where: { name: { in: refs.map((r) => r.list) } }, select: { name: true } })).map((l) => l.name));
        const missing = refs.filter((r) => !found.has(r.list)).map((r) => r.list);
        if (missing.length) throw validationFailed([{ path: "body.version", message: `version ${input.version} names unknown list(s) ${missing.join(", ")}` }]);
      }
      if (input.version === rule.currentVersion) throw validationFailed([{ path: "body.version", message: `version ${input.version} is the active version; shadow another one` }]);
      // One past its end time is closed as of that time; one still running is in the way.
      await tx.$executeRaw`
        UPDATE rule_shadow SET stopped_at = ends_at, stopped_by = 'system:ended', outcome = 'stopped'
        WHERE rule_id = ${ruleId} AND stopped_at IS NULL AND ends_at <= ${now}`;
      const [current] = await tx.$queryRaw<ShadowRow[]>`SELECT * FROM rule_shadow WHERE rule_id = ${ruleId} AND stopped_at IS NULL`;
      if (current) throw new AppError("conflict", `version ${current.version} of '${ruleId}' runs in shadow already: stop it first (DELETE /v1/rules/${ruleId}/shadow)`);
      const id = `shadow_${randomUUID().replace(/-/g, "")}`;
      const [row] = await tx.$queryRaw<ShadowRow[]>`
        INSERT INTO rule_shadow (id, rule_id, version, base_version, started_at, started_by, ends_at)
        VALUES (${id}, ${ruleId}, ${input.version}, ${rule.currentVersion}, ${now}, ${actor}, ${input.endsAt ?? null}) RETURNING *`;
      const view = toShadowView(row!, now);
      await appendAudit(tx, { actor, requestId, action: "rule.shadow.start", targetType: "rule", targetId: ruleId, after: view });
      return view;
    });
  }

  async function stop(ruleId: string, { actor, requestId }: Actor, now = new Date()): Promise<ShadowView> {
    return rules.writing(async (tx) => {
      const [row] = await tx.$queryRaw<ShadowRow[]>`
        UPDATE rule_shadow SET stopped_at = ${now}, stopped_by = ${actor}, outcome = 'stopped' WHERE rule_id = ${ruleId} AND stopped_at IS NULL RETURNING *`;
      if (!row) throw notFound("running shadow of rule", ruleId);
      const view = toShadowView(row, now);
      await appendAudit(tx, { actor, requestId, action: "rule.shadow.stop", targetType: "rule", targetId: ruleId, after: view });
      return view;
    });
  }

  /** Makes the running shadow's version the active one; the audit entry records who and why. */
  async function promote(ruleId: string, input: { reason: string }, { actor, requestId }: Actor, now = new Date()): Promise<{ rule: RuleView; shadow: ShadowView }> {
    return rules.writing(async (tx) => {
      const [row] = await tx.$queryRaw<ShadowRow[]>`
        UPDATE rule_shadow SET stopped_at = ${now}, stopped_by = ${actor}, outcome = 'promoted' WHERE rule_id = ${ruleId} AND stopped_at IS NULL RETURNING *`;
      if (!row) throw notFound("running shadow of rule", ruleId);
      const rule = await tx.rule.findUniqueOrThrow({ where: { id: ruleId } });
      await tx.rule.update({ where: { id: ruleId }, data: { currentVersion: row.version, source: "api" } });
      const shadow = toShadowView(row, now);
      await appendAudit(tx, {
        actor,
        requestId,
        action: "rule.promote",
        targetType: "rule",
        targetId: ruleId,
        before: { version: rule.currentVersion },
        after: { version: row.version, shadowId: row.id, reason: input.reason },
      });
      return { rule: await rules.ruleView(ruleId, tx), shadow };
    });
  }

  /** The running shadow of a rule, else its newest; 404 when it never had one. */
  async function latest(ruleId: string, shadowId?: string): Promise<ShadowRow> {
    const [r] = shadowId
      ? await db.query<ShadowRow>(sql`SELECT * FROM rule_shadow WHERE rule_id = ${ruleId} AND id = ${shadowId}`)
      : await db.query<ShadowRow>(sql`SELECT * FROM rule_shadow WHERE rule_id = ${ruleId} ORDER BY (stopped_at IS NULL) DESC, started_at DESC, id DESC LIMIT 1`);
    if (!r) throw notFound(shadowId ? "shadow" : "shadow of rule", shadowId ?? ruleId);
    return r;
  }

  async function get(ruleId: string): Promise<ShadowView> {
    return toShadowView(await latest(ruleId));
  }

  /**
   * Accounts hit only by the candidate, only by the active version, and by both, over the hits of
   * events that occurred in [from, to] (inclusive, as a backtest's range) (each unbounded by default: the whole run), with the newest hit of each side as evidence
   * and counts per UTC day. Reads the shadow's side hits only (an index range on shadow_id, time).
   */
  async function report(ruleId: string, q: { from?: Date; to?: Date; shadowId?: string; limit?: number }, now = new Date()): Promise<ShadowReport> {
    const row = await latest(ruleId, q.shadowId);
    // Unbounded by default: every hit of the run, whenever its event occurred (a backlog's too).
    const from = q.from ?? null;
    const to = q.to ?? null;
    const limit = q.limit ?? 100;
    const perAccount = await db.query<{ account_id: string; candidate: number; active: number; suppressed: number; first_at: Date; last_at: Date }>(sql`
      SELECT account_id,
             count(*) FILTER (WHERE role = 'shadow')::int AS candidate,
             count(*) FILTER (WHERE role = 'live')::int AS active,
             count(suppressed_by)::int AS suppressed,
             min(occurred_at) AS first_at, max(occurred_at) AS last_at
      FROM side_hit WHERE shadow_id = ${row.id} AND (${from}::timestamptz IS NULL OR occurred_at >= ${from}::timestamptz) AND (${to}::timestamptz IS NULL OR occurred_at <= ${to}::timestamptz)
      GROUP BY account_id`);
    const days = await db.query<{ day: string; candidate: number; active: number; candidate_accounts: number; active_accounts: number }>(sql`
      SELECT to_char(date_trunc('day', occurred_at AT TIME ZONE 'UTC'), 'YYYY-MM-DD') AS day,
             count(*) FILTER (WHERE role = 'shadow')::int AS candidate,
             count(*) FILTER (WHERE role = 'live')::int AS active,
             count(DISTINCT account_id) FILTER (WHERE role = 'shadow')::int AS candidate_accounts,
             count(DISTINCT account_id) FILTER (WHERE role = 'live')::int AS active_accounts
      FROM side_hit WHERE shadow_id = ${row.id} AND (${from}::timestamptz IS NULL OR occurred_at >= ${from}::timestamptz) AND (${to}::timestamptz IS NULL OR occurred_at <= ${to}::timestamptz)
      GROUP BY 1 ORDER BY 1`);
    const byHits = (a: (typeof perAccount)[number], b: (typeof perAccount)[number]) => b.candidate + b.active - (a.candidate + a.active) || (a.account_id < b.account_id ? -1 : 1);
    const groups = {
      onlyCandidate: perAccount.filter((a) => a.candidate > 0 && a.active === 0).sort(byHits),
      onlyActive: perAccount.filter((a) => a.candidate === 0 && a.active > 0).sort(byHits),
      both: perAccount.filter((a) => a.candidate > 0 && a.active > 0).sort(byHits),
    };
    const listed = [...groups.onlyCandidate.slice(0, limit), ...groups.onlyActive.slice(0, limit), ...groups.both.slice(0, limit)].map((a) => a.account_id);
    const samples = listed.length
      ? await db.query<{ account_id: string; role: string; rule_version: number; occurred_at: Date; trigger_event_id: string; window: string; conditions: ConditionExplanation[]; suppressed: boolean }>(sql`
          SELECT DISTINCT ON (account_id, role) account_id, role, rule_version, occurred_at, trigger_event_id, "window", conditions, suppressed_by IS NOT NULL AS suppressed
          FROM side_hit WHERE shadow_id = ${row.id} AND account_id = ANY(${listed}::text[]) AND (${from}::timestamptz IS NULL OR occurred_at >= ${from}::timestamptz) AND (${to}::timestamptz IS NULL OR occurred_at <= ${to}::timestamptz)
          ORDER BY account_id, role, occurred_at DESC, id DESC`)
      : [];
    const sampleOf = new Map(samples.map((s) => [`${s.account_id}/${s.role}`, s]));
    const sample = (accountId: string, role: string) => {
      const s = sampleOf.get(`${accountId}/${role}`);
      return s ? { ruleVersion: s.rule_version, occurredAt: iso(s.occurred_at), triggerEventId: s.trigger_event_id, window: s.window, conditions: s.conditions, suppressed: s.suppressed } : null;
    };
    const account = (a: (typeof perAccount)[number]): ShadowAccount => ({
      accountId: a.account_id,
      candidateHits: a.candidate,
      activeHits: a.active,
      suppressedHits: a.suppressed,
      firstHitAt: iso(a.first_at),
      lastHitAt: iso(a.last_at),
      sample: { candidate: sample(a.account_id, "shadow"), active: sample(a.account_id, "live") },
    });
    const sum = (f: (a: (typeof perAccount)[number]) => number) => perAccount.reduce((n, a) => n + f(a), 0);
    return {
      shadow: toShadowView(row, now),
      from: from?.toISOString() ?? null,
      to: to?.toISOString() ?? null,
      totals: {
        candidateHits: sum((a) => a.candidate),
        activeHits: sum((a) => a.active),
        suppressedHits: sum((a) => a.suppressed),
        onlyCandidate: groups.onlyCandidate.length,
        onlyActive: groups.onlyActive.length,
        both: groups.both.length,
      },
      onlyCandidate: groups.onlyCandidate.slice(0, limit).map(account),
      onlyActive: groups.onlyActive.slice(0, limit).map(account),
      both: groups.both.slice(0, limit).map(account),
      days: days.map((d) => ({ day: d.day, candidateHits: d.candidate, activeHits: d.active, candidateAccounts: d.candidate_accounts, activeAccounts: d.active_accounts })),
    };
  }

  return { start, stop, promote, get, report };
}

export type ShadowService = ReturnType<typeof createShadowService>;
