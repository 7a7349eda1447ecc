// Allow entries and snoozes: exceptions an analyst makes, each with a reason and an end, in the
// audit log. They never drop a hit: the evaluation records a suppressed hit as a side hit
// (src/features/evaluation/hit-ledger.ts) and the account view shows it.
import { randomUUID } from "node:crypto";
import type { Database, Orm } from "../../db/database";
import { type SqlQuery, sql } from "../../db/sql";
import type { ConditionExplanation } from "../../engine/evaluation";
import type { Prisma } from "../../generated/prisma/client";
import { notFound, validationFailed } from "../../shared/errors";
import { decodeCursor, encodeCursor } from "../../shared/pagination";
import { z } from "zod";
import { type Actor, appendAudit } from "../audit/audit-log";
import { maxSuppressionDays } from "./suppression-views";
import type { AccountSuppression, AllowEntryPage, AllowEntryView, AllowKind, SideHitView, SnoozePage, SnoozeView } from "./suppression-views";

type AllowRow = Prisma.AllowEntryGetPayload<object>;
type SnoozeRow = Prisma.RuleSnoozeGetPayload<object>;
type SideRow = { role: "live" | "shadow"; shadow_id: string | null; rule_id: string; rule_version: number; account_id: string; occurred_at: Date; trigger_event_id: string; window: string; conditions: ConditionExplanation[]; event_ids: string[] | null; suppressed_by: SideHitView["suppressedBy"]; recorded_at: Date };

const iso = (d: Date) => new Date(d).toISOString();
/** A page's position: (created at, id) of its last row. */
const cursorShape = z.tuple([z.iso.datetime(), z.string().max(64)]);

function toAllowView(r: AllowRow, now = new Date()): AllowEntryView {
  return {
    id: r.id,
    kind: r.kind as AllowKind,
    value: r.value,
    ruleId: r.ruleId,
    reason: r.reason,
    expiresAt: iso(r.expiresAt),
    createdBy: r.createdBy,
    createdAt: iso(r.createdAt),
    revokedAt: r.revokedAt ? iso(r.revokedAt) : null,
    revokedBy: r.revokedBy,
    active: !r.revokedAt && r.expiresAt > now,
  };
}

function toSnoozeView(r: SnoozeRow, now = new Date()): SnoozeView {
  return {
    id: r.id,
    ruleId: r.ruleId,
    accountId: r.accountId,
    until: iso(r.until),
    reason: r.reason,
    caseId: r.caseId,
    createdBy: r.createdBy,
    createdAt: iso(r.createdAt),
    cancelledAt: r.cancelledAt ? iso(r.cancelledAt) : null,
    cancelledBy: r.cancelledBy,
    active: !r.cancelledAt && r.until > now,
  };
}

function toSideHitView(r: SideRow): SideHitView {
  return {
    role: r.role,
    shadowId: r.shadow_id,
    ruleId: r.rule_id,
    ruleVersion: r.rule_version,
    accountId: r.account_id,
    occurredAt: iso(r.occurred_at),
    triggerEventId: r.trigger_event_id,
    window: r.window,
    conditions: r.conditions,
    eventIds: r.event_ids ?? [],
    suppressedBy: r.suppressed_by,
    recordedAt: iso(r.recorded_at),
  };
}


/**
 * The (kind, value) keys an allow entry can name for an account: its id, its orgs (from its events
 * and its profile), the payment fingerprints it used. Each then meets allow_entry through its
 * (kind, value) index.
 */
export function allowKeysOf(accountId: SqlQuery): SqlQuery {
  return sql`
    SELECT 'accountId' AS kind, ${accountId} AS value
    UNION SELECT 'orgId', org_id FROM account WHERE id = ${accountId} AND org_id IS NOT NULL
    UNION SELECT 'orgId', org_id FROM account_profile WHERE account_id = ${accountId} AND org_id IS NOT NULL
    UNION SELECT 'paymentFingerprint', l.value FROM account_link_key l WHERE l.kind = 'paymentFingerprint' AND l.account_id = ${accountId}`;
}

export function createSuppressionService(db: Database) {
  const { prisma } = db;
  const orm = <T>(fn: (tx: Orm) => Promise<T>) => db.transaction({ orm: true }, ({ prisma: tx }) => fn(tx));

  async function requireRule(tx: Orm, ruleId: string, path: string): Promise<void> {
    if (!(await tx.rule.findUnique({ where: { id: ruleId }, select: { id: true } }))) throw validationFailed([{ path, message: `unknown rule '${ruleId}'` }]);
  }

  async function allow(input: { kind: AllowKind; value: string; ruleId?: string | null; reason: string; expiresAt: Date }, { actor, requestId }: Actor): Promise<AllowEntryView> {
    return orm(async (tx) => {
      if (input.ruleId) await requireRule(tx, input.ruleId, "body.ruleId");
      const row = await tx.allowEntry.create({
        data: { id: `allow_${randomUUID().replace(/-/g, "")}`, kind: input.kind, value: input.value, ruleId: input.ruleId ?? null, reason: input.reason, expiresAt: input.expiresAt, createdBy: actor },
      });
      const view = toAllowView(row);
      await appendAudit(tx, { actor, requestId, action: "allow.create", targetType: "allow_entry", targetId: row.id, after: view });
      return view;
    });
  }

  async function revokeAllow(id: string, { actor, requestId }: Actor): Promise<AllowEntryView> {
    return orm(async (tx) => {
      const row = await tx.allowEntry.findUnique({ where: { id } });
      if (!row) throw notFound("allow entry", id);
      if (row.revokedAt) return toAllowView(row);
      const after = await tx.allowEntry.update({ where: { id }, data: { revokedAt: new Date(), revokedBy: actor } });
      await appendAudit(tx, { actor, requestId, action: "allow.revoke", targetType: "allow_entry", targetId: id, before: toAllowView(row), after: toAllowView(after) });
      return toAllowView(after);
    });
  }

  async function listAllow(q: { kind?: AllowKind; value?: string; ruleId?: string; active?: boolean; limit: number; cursor?: string }): Promise<AllowEntryPage> {
    const now = new Date();
    const after = q.cursor ? decodeCursor(q.cursor, cursorShape) : undefined;
    const rows = await prisma.allowEntry.findMany({
      where: {
        AND: [
          {
            ...(q.kind ? { kind: q.kind } : {}),
            ...(q.value ? { value: q.value } : {}),
            ...(q.ruleId ? { ruleId: q.ruleId } : {}),
          },
          q.active === true ? { revokedAt: null, expiresAt: { gt: now } } : q.active === false ? { OR: [{ revokedAt: { not: null } }, { expiresAt: { lte: now } }] } : {},
          after ? { OR: [{ createdAt: { lt: new Date(after[0]) } }, { createdAt: new Date(after[0]), id: { lt: after[1] } }] } : {},
        ],
      },
      orderBy: [{ createdAt: "desc" }, { id: "desc" }],
      take: q.limit + 1,
    });
    const page = rows.slice(0, q.limit);
    const last = page[page.length - 1];
    return { items: page.map((r) => toAllowView(r, now)), nextCursor: rows.length > q.limit && last ? encodeCursor([last.createdAt.toISOString(), last.id]) : null };
  }

  /** A rule silenced for one account until `until`; from a case page, the case's account and rule, and a timeline entry. */
  async function snooze(input: { ruleId: string; accountId: string; until: Date; reason: string; caseId?: string }, { actor, requestId }: Actor): Promise<SnoozeView> {
    return orm(async (tx) => {
      await requireRule(tx, input.ruleId, "body.ruleId");
      const row = await tx.ruleSnooze.create({
        data: { id: `snooze_${randomUUID().replace(/-/g, "")}`, ruleId: input.ruleId, accountId: input.accountId, until: input.until, reason: input.reason, caseId: input.caseId ?? null, createdBy: actor },
      });
      const view = toSnoozeView(row);
      await appendAudit(tx, { actor, requestId, action: "snooze.create", targetType: "account", targetId: input.accountId, after: view });
      if (input.caseId) {
        await tx.caseTimelineEntry.create({ data: { caseId: input.caseId, actor, kind: "snoozed", note: input.reason, detail: { snoozeId: row.id, until: view.until } } });
      }
      return view;
    });
  }

  /** Snoozes the rule of a case for the case's account. */
  async function snoozeCase(caseId: string, input: { until: Date; reason: string }, who: Actor): Promise<SnoozeView> {
    const c = await prisma.violationCase.findUnique({ where: { id: caseId }, select: { accountId: true, ruleId: true } });
    if (!c) throw notFound("case", caseId);
    return snooze({ ...input, ruleId: c.ruleId, accountId: c.accountId, caseId }, who);
  }

  async function cancelSnooze(id: string, { actor, requestId }: Actor): Promise<SnoozeView> {
    return orm(async (tx) => {
      const row = await tx.ruleSnooze.findUnique({ where: { id } });
      if (!row) throw notFound("snooze", id);
      if (row.cancelledAt) return toSnoozeView(row);
      const after = await tx.ruleSnooze.update({ where: { id }, data: { cancelledAt: new Date(), cancelledBy: actor } });
      await appendAudit(tx, { actor, requestId, action: "snooze.cancel", targetType: "account", targetId: row.accountId, before: toSnoozeView(row), after: toSnoozeView(after) });
      if (row.caseId) await tx.caseTimelineEntry.create({ data: { caseId: row.caseId, actor, kind: "snooze_cancelled", detail: { snoozeId: id } } });
      return toSnoozeView(after);
    });
  }

  async function listSnoozes(q: { accountId?: string; ruleId?: string; active?: boolean; limit: number; cursor?: string }): Promise<SnoozePage> {
    const now = new Date();
    const after = q.cursor ? decodeCursor(q.cursor, cursorShape) : undefined;
    const rows = await prisma.ruleSnooze.findMany({
      where: {
        AND: [
          { ...(q.accountId ? { accountId: q.accountId } : {}), ...(q.ruleId ? { ruleId: q.ruleId } : {}) },
          q.active === true ? { cancelledAt: null, until: { gt: now } } : q.active === false ? { OR: [{ cancelledAt: { not: null } }, { until: { lte: now } }] } : {},
          after ? { OR: [{ createdAt: { lt: new Date(after[0]) } }, { createdAt: new Date(after[0]), id: { lt: after[1] } }] } : {},
        ],
      },
      orderBy: [{ createdAt: "desc" }, { id: "desc" }],
      take: q.limit + 1,
    });
    const page = rows.slice(0, q.limit);
    const last = page[page.length - 1];
    return { items: page.map((r) => toSnoozeView(r, now)), nextCursor: rows.length > q.limit && last ? encodeCursor([last.createdAt.toISOString(), last.id]) : null };
  }

  /** For the account view: the allow entries and snoozes that hold for the account now, and its newest suppressed hits. */
  async function ofAccount(accountId: string, now = new Date()): Promise<AccountSuppression> {
    const allowRows = await db.query<{ id: string }>(sql`
      SELECT a.id FROM (${allowKeysOf(sql`${accountId}::text`)}) k
      JOIN allow_entry a ON a.kind = k.kind AND a.value = k.value
      WHERE a.revoked_at IS NULL AND a.expires_at > ${now}::timestamptz`);
    const [allowEntries, snoozes, hits] = await Promise.all([
      allowRows.length ? prisma.allowEntry.findMany({ where: { id: { in: allowRows.map((r) => r.id) } }, orderBy: [{ createdAt: "desc" }, { id: "desc" }] }) : [],
      prisma.ruleSnooze.findMany({ where: { accountId, cancelledAt: null, until: { gt: now } }, orderBy: [{ createdAt: "desc" }, { id: "desc" }] }),
      db.query<SideRow>(sql`
        SELECT role, shadow_id, rule_id, rule_version, account_id, occurred_at, trigger_event_id, "window", conditions, event_ids, suppressed_by, recorded_at
        FROM side_hit WHERE account_id = ${accountId} AND suppressed_by IS NOT NULL AND role = 'live'
        ORDER BY occurred_at DESC, id DESC LIMIT 20`),
    ]);
    return { allowEntries: allowEntries.map((r) => toAllowView(r, now)), snoozes: snoozes.map((r) => toSnoozeView(r, now)), suppressedHits: hits.map(toSideHitView) };
  }

  return { allow, revokeAllow, listAllow, snooze, snoozeCase, cancelSnooze, listSnoozes, ofAccount };
}

export type SuppressionService = ReturnType<typeof createSuppressionService>;

/** An end time for an allow entry or a snooze: in the future, and at most maxSuppressionDays away. */
export function checkEnd(at: Date, path: string, now = new Date(), maxDays = maxSuppressionDays): void {
  if (at <= now) throw validationFailed([{ path, message: "must be in the future" }]);
  if (at.getTime() - now.getTime() > maxDays * 86_400_000) throw validationFailed([{ path, message: `must be within ${maxDays} days` }]);
}

