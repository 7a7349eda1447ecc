// Writes of violation cases on the evaluation path: a batch's hits open a case, or are added to
// the account's active case for the rule (or to a case dismissed less than the cool-down, 7 days,
// earlier: case-model.ts). What the hits of one account and rule do is decided by planCaseWrites
// (pure); recordHits writes the whole batch's decisions in a fixed number of statements, whatever
// the number of hits.
import { randomUUID } from "node:crypto";
import { type SqlQuery, raw, sql } from "../../db/sql";
import type { ConditionExplanation } from "../../engine/evaluation";
import type { RuleDocument } from "../../engine/rule-schema";
import type { Sql } from "../../db/database";
import type { WebhookOutbox } from "../webhooks/webhook-outbox";
import { activeStatuses, dismissalCooldownMs } from "./case-model";

// The cool-down is the case model's (case-model.ts); re-exported for the callers that read it here.
export { dismissalCooldownMs } from "./case-model";
export const maxEvidencePerCase = 20;

/** The model's active statuses as SQL literals ('open', ...): constants, so the statement's text stays the same. */
const activeStatusesSql = activeStatuses.map((s) => `'${s}'`).join(", ");

export type Hit = {
  accountId: string;
  rule: RuleDocument;
  version: number;
  occurredAt: Date;
  triggerEventId: string;
  window: string;
  conditions: ConditionExplanation[];
  eventIds: string[];
  linkedAccounts: string[];
};

export type HitOutcome = { caseId: string; effect: "opened" | "updated" | "counted-on-dismissed" };

export function newCaseId(): string {
  return `case_${randomUUID().replace(/-/g, "")}`;
}

/** The cases a batch's hits of one account and rule meet: its active case, and its newest dismissed one. */
export type ExistingCases = { activeId?: string; dismissed?: { id: string; dismissedAt: Date } };

/** What a batch's hits of one account and rule write: added to a case, or opening one. */
export type CaseWrite =
  /** `active`: the case is active, so its activity time, linked accounts and rule version follow the newest hit. */
  | { kind: "count"; caseId: string; active: boolean; hits: Hit[] }
  | { kind: "open"; caseId: string; hits: Hit[] };

const byTime = (a: Hit, b: Hit) => a.occurredAt.getTime() - b.occurredAt.getTime() || (a.triggerEventId < b.triggerEventId ? -1 : a.triggerEventId > b.triggerEventId ? 1 : 0);

/**
 * What the hits of one account and rule do, as if each were recorded alone in time order: all go
 * to the active case if there is one; otherwise those within the cool-down of a dismissal are
 * counted on the dismissed case (not reopened), and the first past it opens a case that the rest
 * join. Outcomes come one per hit, in time order.
 */
export function planCaseWrites(hits: Hit[], existing: ExistingCases, newId: () => string = newCaseId): { writes: CaseWrite[]; outcomes: HitOutcome[] } {
  const sorted = [...hits].sort(byTime);
  if (sorted.length === 0) return { writes: [], outcomes: [] };
  if (existing.activeId) {
    const caseId = existing.activeId;
    return { writes: [{ kind: "count", caseId, active: true, hits: sorted }], outcomes: sorted.map(() => ({ caseId, effect: "updated" })) };
  }
  const writes: CaseWrite[] = [];
  const outcomes: HitOutcome[] = [];
  const d = existing.dismissed;
  // Sorted by time, the hits within the cool-down come first: the cool-down only gets harder to meet.
  const cooled = d ? sorted.findIndex((h) => d.dismissedAt.getTime() <= h.occurredAt.getTime() - dismissalCooldownMs) : 0;
  const onDismissed = cooled === -1 ? sorted : sorted.slice(0, cooled);
  const opening = cooled === -1 ? [] : sorted.slice(cooled);
  if (d && onDismissed.length) {
    writes.push({ kind: "count", caseId: d.id, active: false, hits: onDismissed });
    for (const _ of onDismissed) outcomes.push({ caseId: d.id, effect: "counted-on-dismissed" });
  }
  if (opening.length) {
    const caseId = newId();
    writes.push({ kind: "open", caseId, hits: opening });
    opening.forEach((_, i) => outcomes.push({ caseId, effect: i === 0 ? "opened" : "updated" }));
  }
  return { writes, outcomes };
}

type Query = <T>(query: SqlQuery) => Promise<T[]>;
type Exec = (query: SqlQuery) => Promise<void>;
const json = (v: unknown) => JSON.stringify(v);

/**
 * Records a batch's hits: call inside a transaction that holds the evaluation lock of every
 * account hit. Returns one outcome per hit, in the order given. Six statements at most for the
 * batch (plus a webhook row per case opened), and at most the 20 newest hits of each case are
 * written as evidence: the cost does not grow with how many hits a case gets.
 */
export async function recordHits(tx: Sql, hits: Hit[], now: Date, outbox?: WebhookOutbox): Promise<HitOutcome[]> {
  if (hits.length === 0) return [];
  const query: Query = (q) => tx.query(q);
  const exec: Exec = async (q) => void (await tx.query(q));
  const groups = new Map<string, Hit[]>();
  for (const h of hits) {
    const key = `${h.accountId}\u0000${h.rule.id}`;
    const list = groups.get(key);
    if (list) list.push(h);
    else groups.set(key, [h]);
  }
  const keys = [...groups.keys()];
  const pairs = keys.map((k) => groups.get(k)![0]!);
  const found = await query<{ i: number; active_id: string | null; dismissed_id: string | null; dismissed_at: Date | null }>(sql`
    SELECT p.i, a.id AS active_id, d.id AS dismissed_id, d.dismissed_at
    FROM jsonb_to_recordset(${json(pairs.map((h, i) => ({ i, account_id: h.accountId, rule_id: h.rule.id })))}::jsonb) AS p(i int, account_id text, rule_id text)
    LEFT JOIN LATERAL (
      SELECT c.id FROM violation_case c
      WHERE c.account_id = p.account_id AND c.rule_id = p.rule_id AND c.status IN (${raw(activeStatusesSql)})
      ORDER BY c.created_at DESC, c.id LIMIT 1) a ON true
    LEFT JOIN LATERAL (
      SELECT c.id, c.dismissed_at FROM violation_case c
      WHERE c.account_id = p.account_id AND c.rule_id = p.rule_id AND c.status = 'dismissed' AND c.dismissed_at IS NOT NULL
      ORDER BY c.dismissed_at DESC, c.id LIMIT 1) d ON true`);
  const existingOf = new Map(found.map((r) => [Number(r.i), r]));

  const writes: CaseWrite[] = [];
  const outcomeOf = new Map<Hit, HitOutcome>();
  keys.forEach((key, i) => {
    const r = existingOf.get(i);
    const existing: ExistingCases = {
      ...(r?.active_id ? { activeId: r.active_id } : {}),
      ...(r?.dismissed_id && r.dismissed_at ? { dismissed: { id: r.dismissed_id, dismissedAt: new Date(r.dismissed_at) } } : {}),
    };
    const sorted = [...groups.get(key)!].sort(byTime);
    const plan = planCaseWrites(sorted, existing);
    writes.push(...plan.writes);
    sorted.forEach((h, j) => outcomeOf.set(h, plan.outcomes[j]!));
  });

  const opens = writes.filter((w) => w.kind === "open");
  const counts = writes.filter((w): w is Extract<CaseWrite, { kind: "count" }> => w.kind === "count");
  const first = (w: CaseWrite) => w.hits[0]!;
  const newest = (w: CaseWrite) => w.hits[w.hits.length - 1]!;
  if (opens.length) {
    await exec(sql`
      INSERT INTO violation_case (id, account_id, rule_id, rule_version, opened_version, clause_ref, clause_text, severity, status,
                                  first_seen_at, last_seen_at, hit_count, linked_accounts, created_at, activity_at)
      SELECT r.id, r.account_id, r.rule_id, r.rule_version, r.opened_version, r.clause_ref, r.clause_text, r.severity::severity, 'open',
             r.first_seen_at, r.last_seen_at, r.hit_count, r.linked_accounts, r.now, r.now
      FROM jsonb_to_recordset(${json(
        opens.map((w) => ({
          id: w.caseId,
          account_id: first(w).accountId,
          rule_id: first(w).rule.id,
          rule_version: newest(w).version,
          opened_version: first(w).version,
          clause_ref: first(w).rule.clause.ref,
          clause_text: first(w).rule.clause.text,
          severity: first(w).rule.severity,
          first_seen_at: first(w).occurredAt,
          last_seen_at: newest(w).occurredAt,
          hit_count: w.hits.length,
          linked_accounts: newest(w).linkedAccounts,
          now,
        })),
      )}::jsonb) AS r(id text, account_id text, rule_id text, rule_version int, opened_version int, clause_ref text, clause_text text, severity text,
                      first_seen_at timestamptz, last_seen_at timestamptz, hit_count int, linked_accounts jsonb, now timestamptz)`);
    await exec(sql`
      INSERT INTO case_timeline_entry (case_id, at, actor, kind, to_status, detail)
      SELECT r.case_id, r.at, r.actor, 'opened', 'open', r.detail
      FROM jsonb_to_recordset(${json(
        opens.map((w) => ({ case_id: w.caseId, at: now, actor: `rule:${first(w).rule.id}@${first(w).version}`, detail: { triggerEventId: first(w).triggerEventId } })),
      )}::jsonb) AS r(case_id text, at timestamptz, actor text, detail jsonb)`);
  }
  if (counts.length) {
    await exec(sql`
      UPDATE violation_case c SET hit_count = c.hit_count + u.n,
        last_seen_at = GREATEST(c.last_seen_at, u.last_seen_at),
        first_seen_at = LEAST(c.first_seen_at, u.first_seen_at),
        activity_at = CASE WHEN u.active THEN u.now ELSE c.activity_at END,
        linked_accounts = CASE WHEN u.active THEN u.linked_accounts ELSE c.linked_accounts END,
        rule_version = CASE WHEN u.active THEN u.rule_version ELSE c.rule_version END
      FROM jsonb_to_recordset(${json(
        counts.map((w) => ({
          id: w.caseId,
          n: w.hits.length,
          first_seen_at: first(w).occurredAt,
          last_seen_at: newest(w).occurredAt,
          active: w.active,
          linked_accounts: newest(w).linkedAccounts,
          rule_version: newest(w).version,
          now,
        })),
      )}::jsonb) AS u(id text, n int, first_seen_at timestamptz, last_seen_at timestamptz, active boolean, linked_accounts jsonb, rule_version int, now timestamptz)
      WHERE c.id = u.id`);
  }
  // Evidence: only each case's newest hits can survive the cut to maxEvidencePerCase, so only they
  // are written, oldest first (ids then follow time, as when each hit was written alone).
  const evidence = writes.flatMap((w) => w.hits.slice(-maxEvidencePerCase).map((h) => ({ w, h })));
  await exec(sql`
    INSERT INTO case_evidence (case_id, rule_version, trigger_event_id, occurred_at, "window", conditions, event_ids)
    SELECT r.case_id, r.rule_version, r.trigger_event_id, r.occurred_at, r."window", r.conditions, r.event_ids
    FROM jsonb_to_recordset(${json(
      evidence.map(({ w, h }, n) => ({
        n,
        case_id: w.caseId,
        rule_version: h.version,
        trigger_event_id: h.triggerEventId,
        occurred_at: h.occurredAt,
        window: h.window,
        conditions: h.conditions,
        event_ids: h.eventIds,
      })),
    )}::jsonb) AS r(n int, case_id text, rule_version int, trigger_event_id text, occurred_at timestamptz, "window" text, conditions jsonb, event_ids text[])
    ORDER BY r.n`);
  // Keep the newest evidence only (by the hit's time, so the same hits keep the same evidence in
  // whatever order they were judged): a case's size must not grow with its hit count.
  await exec(sql`
    DELETE FROM case_evidence WHERE id IN (
      SELECT id FROM (
        SELECT id, row_number() OVER (PARTITION BY case_id ORDER BY occurred_at DESC, id DESC) AS n
        FROM case_evidence WHERE case_id = ANY(${writes.map((w) => w.caseId)}::text[])) ranked
      WHERE n > ${maxEvidencePerCase}::int)`);
  for (const w of opens) {
    const h = first(w);
    await outbox?.notify(
      tx,
      "case.opened",
      { caseId: w.caseId, accountId: h.accountId, ruleId: h.rule.id, ruleVersion: h.version, severity: h.rule.severity, clause: h.rule.clause, firstSeenAt: h.occurredAt.toISOString() },
      now,
    );
  }
  return hits.map((h) => outcomeOf.get(h)!);
}
