// The case workflow (SPEC.md "Violation case"): the allowed moves, notes, assignment, and
// enforcement of an account (and, on request, of the accounts linked to it), with the account's
// status kept as the strongest enforcement still holding it. Every change is on the timeline and
// in the audit log, in the same transaction.
import { randomUUID } from "node:crypto";
import type { Database, Orm, OrmSql } from "../../db/database";
import { AppError, notFound, validationFailed } from "../../shared/errors";
import type { LinkBy } from "../../engine/fact-catalog";
import { type HubLimits, defaultHubLimits } from "../events/link-policy";
import type { Prisma } from "../../generated/prisma/client";
import { type Actor, appendAudit } from "../audit/audit-log";
import { linkedAccountIds } from "../facts/fact-queries";
import type { WebhookOutbox } from "../webhooks/webhook-outbox";
import type { AccountStatus } from "../accounts/account-model";
import { type CaseStatus, type EnforcementAction, type TimelineKind, activeStatuses, allowedMoves, noteRequiredFor } from "./case-model";
import type { AssignResult, EnforceResult, NoteResult, TransitionResult } from "./case-views";
import type { StatementInput, StatementIssuer } from "../statements/statement-service";

// The statuses and the moves are the case model's (case-model.ts); re-exported for the callers that read them here.
export { type CaseStatus, allowedMoves } from "./case-model";

const strength: Record<AccountStatus, number> = { active: 0, restricted: 1, suspended: 2 };
const statusOf = (action: EnforcementAction): AccountStatus => (action === "suspend" ? "suspended" : "restricted");

type Tx = Orm;

/**
 * `onEnforcementChanged` runs after a transaction that enforced or lifted commits, before the
 * caller is answered: the enforcement snapshot reloads, so this process's next answer shows it.
 * `statements` issues a statement of reasons for every enforcement placed or lifted, in the same
 * transaction: required, so no workflow can enforce without one.
 */
export function createCaseWorkflow(
  db: Database,
  deps: { statements: StatementIssuer; outbox?: WebhookOutbox; onEnforcementChanged?: () => Promise<void>; hubLimits?: HubLimits },
) {
  const { statements, outbox } = deps;
  const onEnforcementChanged = deps.onEnforcementChanged ?? (async () => {});
  const hubLimits = deps.hubLimits ?? defaultHubLimits;
  const { prisma } = db;

  /** Locks the case row for the rest of the transaction: concurrent moves on one case are serialized. */
  async function lockCase(tx: Tx, caseId: string) {
    const rows = await tx.$queryRaw<{ id: string }[]>`SELECT id FROM violation_case WHERE id = ${caseId} FOR UPDATE`;
    if (rows.length === 0) throw notFound("case", caseId);
    return tx.violationCase.findUniqueOrThrow({ where: { id: caseId } });
  }

  async function timeline(tx: Tx, caseId: string, entry: { actor: string; kind: TimelineKind; from?: CaseStatus; to?: CaseStatus; note?: string; detail?: unknown }, now: Date) {
    await tx.caseTimelineEntry.create({
      data: {
        caseId,
        at: now,
        actor: entry.actor,
        kind: entry.kind,
        fromStatus: entry.from ?? null,
        toStatus: entry.to ?? null,
        note: entry.note ?? null,
        ...(entry.detail === undefined ? {} : { detail: entry.detail as Prisma.InputJsonValue }),
      },
    });
    await tx.violationCase.update({ where: { id: caseId }, data: { activityAt: now } });
  }

  /** Recomputes an account's status from the enforcements still holding it. */
  async function settleAccount(tx: Tx, accountId: string, now: Date): Promise<{ accountId: string; status: AccountStatus; since: Date | null }> {
    const holding = await tx.enforcement.findMany({ where: { accountId, liftedAt: null }, select: { action: true } });
    const status = holding.reduce<AccountStatus>((s, e) => (strength[statusOf(e.action)] > strength[s] ? statusOf(e.action) : s), "active");
    const account = await tx.account.findUniqueOrThrow({ where: { id: accountId } });
    if (account.status === status) return { accountId, status, since: account.statusSince };
    await tx.account.update({ where: { id: accountId }, data: { status, statusSince: now } });
    return { accountId, status, since: now };
  }

  /**
   * Lifts the case's enforcements that still hold (of `accountId` only, or of every account with
   * null), settles each account's status, and issues a lifting statement for each enforcement.
   */
  async function lift(t: OrmSql, c: StatementInput["case"], accountId: string | null, who: Actor, now: Date, because: (accountId: string) => "case_resolved" | "appeal_reversed") {
    const tx = t.prisma;
    const where = { caseId: c.id, liftedAt: null, ...(accountId === null ? {} : { accountId }) };
    const held = await tx.enforcement.findMany({ where, select: { id: true, accountId: true, action: true, createdAt: true }, orderBy: [{ accountId: "asc" }, { id: "asc" }] });
    await tx.enforcement.updateMany({ where, data: { liftedAt: now, liftedBy: who.actor } });
    const accounts: Awaited<ReturnType<typeof settleAccount>>[] = [];
    for (const a of [...new Set(held.map((h) => h.accountId))].sort()) accounts.push(await settleAccount(tx, a, now));
    const statusAfter = new Map(accounts.map((a) => [a.accountId, a.status]));
    const statementIds: string[] = [];
    for (const e of held) {
      const issued = await statements.issue(t, { kind: "lifting", accountId: e.accountId, enforcement: e, case: c, accountStatus: statusAfter.get(e.accountId)!, effectiveAt: now, linkedBy: null, liftedBecause: because(e.accountId) }, now);
      statementIds.push(issued.id);
    }
    return { accounts, statementIds };
  }

  /**
   * An appeal reversed (features/appeals), inside the appeal's transaction: `dismissed` or `open`
   * lift every enforcement of the case and move it there; `unchanged` lifts the appellant's only.
   * Other cases' enforcements are never touched. The caller runs `enforcementChanged` after commit.
   */
  async function reverseForAppeal(t: OrmSql, input: { caseId: string; appellant: string; outcome: "dismissed" | "open" | "unchanged"; appealId: string; note: string }, who: Actor, now: Date) {
    const tx = t.prisma;
    const c = await lockCase(tx, input.caseId);
    const from = c.status as CaseStatus;
    const lifted = await lift(t, c, input.outcome === "unchanged" ? input.appellant : null, who, now, (a) => (a === input.appellant ? "appeal_reversed" : "case_resolved"));
    const to: CaseStatus = input.outcome === "unchanged" ? from : input.outcome;
    if (to !== from) await tx.violationCase.update({ where: { id: c.id }, data: { status: to, ...(to === "dismissed" ? { dismissedAt: now } : {}) } });
    await timeline(tx, c.id, { actor: who.actor, kind: "appeal", from, to, note: input.note, detail: { appealId: input.appealId, decision: "reversed", outcome: input.outcome, accountsRestored: lifted.accounts.map((a) => a.accountId) } }, now);
    await appendAudit(tx, { ...who, action: "case.appeal_reversed", targetType: "case", targetId: c.id, before: { status: from }, after: { status: to, appealId: input.appealId, outcome: input.outcome, accountsRestored: lifted.accounts } });
    if (to !== from) await outbox?.notify(t, "case.status_changed", { caseId: c.id, accountId: c.accountId, ruleId: c.ruleId, from, to, actor: who.actor, note: input.note, accounts: lifted.accounts }, now);
    return lifted;
  }

  async function transition(caseId: string, to: CaseStatus, note: string | undefined, who: Actor, now = new Date()): Promise<TransitionResult> {
    const result = await transitionInTransaction(caseId, to, note, who, now);
    if (result.accounts.length > 0) await onEnforcementChanged();
    return result;
  }

  async function transitionInTransaction(caseId: string, to: CaseStatus, note: string | undefined, who: Actor, now: Date) {
    if (to === "enforced") {
      throw new AppError("transition_not_allowed", "a case becomes enforced through POST /v1/cases/:id/enforce, which also acts on the account");
    }
    if (noteRequiredFor.includes(to) && !note) throw validationFailed([{ path: "body.note", message: `a move to ${to} needs a note saying why` }]);
    return db.transaction({ orm: true }, async (t) => {
      const tx = t.prisma;
      const c = await lockCase(tx, caseId);
      const from = c.status as CaseStatus;
      if (!allowedMoves[from].includes(to)) {
        throw new AppError("transition_not_allowed", `a case that is ${from} cannot move to ${to}`, undefined, { from, to, allowed: allowedMoves[from] });
      }
      if (to === "open") {
        // Reopening must not make a second active case for the account and rule.
        const active = await tx.violationCase.findFirst({
          where: { accountId: c.accountId, ruleId: c.ruleId, status: { in: [...activeStatuses] }, id: { not: c.id } },
          select: { id: true },
        });
        if (active) throw new AppError("conflict", `case ${active.id} is already active for this account and rule`, undefined, { activeCaseId: active.id });
      }
      // Lifting the case's enforcements restores each account unless another enforcement still holds it.
      const lifted = to === "resolved" ? (await lift(t, c, null, who, now, () => "case_resolved")).accounts : [];
      await tx.violationCase.update({ where: { id: caseId }, data: { status: to, ...(to === "dismissed" ? { dismissedAt: now } : {}) } });
      await timeline(tx, caseId, { actor: who.actor, kind: "transition", from, to, note }, now);
      await appendAudit(tx, { ...who, action: "case.transition", targetType: "case", targetId: caseId, before: { status: from }, after: { status: to, note, accountsRestored: lifted } });
      await outbox?.notify(t, "case.status_changed", { caseId, accountId: c.accountId, ruleId: c.ruleId, from, to, actor: who.actor, note: note ?? null, accounts: lifted }, now);
      return { caseId, from, to, accounts: lifted.map((a) => ({ ...a, since: a.since?.toISOString() ?? null })) };
    });
  }

  async function addNote(caseId: string, note: string, who: Actor, now = new Date()): Promise<NoteResult> {
    return db.transaction({ orm: true }, async (t) => {
      const tx = t.prisma;
      await lockCase(tx, caseId);
      await timeline(tx, caseId, { actor: who.actor, kind: "note", note }, now);
      await appendAudit(tx, { ...who, action: "case.note", targetType: "case", targetId: caseId, after: { note } });
      return { caseId, at: now.toISOString(), actor: who.actor, note };
    });
  }

  async function assign(caseId: string, assignee: string | null, who: Actor, now = new Date()): Promise<AssignResult> {
    return db.transaction({ orm: true }, async (t) => {
      const tx = t.prisma;
      const c = await lockCase(tx, caseId);
      if (c.assignee !== assignee) {
        await tx.violationCase.update({ where: { id: caseId }, data: { assignee } });
        await timeline(tx, caseId, { actor: who.actor, kind: "assign", detail: { from: c.assignee, to: assignee } }, now);
        await appendAudit(tx, { ...who, action: "case.assign", targetType: "case", targetId: caseId, before: { assignee: c.assignee }, after: { assignee } });
      }
      return { caseId, assignee };
    });
  }

  /**
   * Restricts or suspends the case's account, and with includeLinked every account linked to it
   * now (by the given key, over `linkWindowMs`), each enforcement recording this case as its reason.
   */
  async function enforce(
    caseId: string,
    input: { action: EnforcementAction; note: string; includeLinked?: { by: LinkBy; windowMs: number } },
    who: Actor,
    now = new Date(),
  ): Promise<EnforceResult> {
    const found = await prisma.violationCase.findUnique({ where: { id: caseId }, select: { accountId: true } });
    if (!found) throw notFound("case", caseId);
    // Read before the transaction: on the embedded database a driver read inside it would wait for it.
    const linked = input.includeLinked
      ? await linkedAccountIds(db, found.accountId, input.includeLinked.by, new Date(now.getTime() - input.includeLinked.windowMs), now, hubLimits)
      : [];
    const result = await db.transaction({ orm: true }, async (t) => {
      const tx = t.prisma;
      const c = await lockCase(tx, caseId);
      const from = c.status as CaseStatus;
      if (from !== "confirmed" && from !== "enforced") {
        throw new AppError("transition_not_allowed", `only a confirmed case can be enforced; this one is ${from}`, undefined, { from, to: "enforced", allowed: allowedMoves[from] });
      }
      const accounts = [c.accountId, ...linked.filter((a) => a !== c.accountId).sort()];
      const enforced: (Awaited<ReturnType<typeof settleAccount>> & { action: EnforcementAction; linked: boolean })[] = [];
      for (const accountId of accounts) {
        const enforcement = await tx.enforcement.create({ data: { id: `enf_${randomUUID().replace(/-/g, "")}`, accountId, caseId, action: input.action, actor: who.actor, note: input.note, createdAt: now } });
        const settled = await settleAccount(tx, accountId, now);
        await statements.issue(t, { kind: "enforcement", accountId, enforcement, case: c, accountStatus: settled.status, effectiveAt: now, linkedBy: input.includeLinked?.by ?? null }, now);
        enforced.push({ ...settled, action: input.action, linked: accountId !== c.accountId });
        await appendAudit(tx, { ...who, action: "account.enforce", targetType: "account", targetId: accountId, after: { action: input.action, caseId, status: settled.status, note: input.note } });
        await outbox?.notify(t, "account.enforced", { accountId, action: input.action, status: settled.status, caseId, linked: accountId !== c.accountId, actor: who.actor }, now);
      }
      if (from !== "enforced") {
        await tx.violationCase.update({ where: { id: caseId }, data: { status: "enforced" } });
        await outbox?.notify(t, "case.status_changed", { caseId, accountId: c.accountId, ruleId: c.ruleId, from, to: "enforced", actor: who.actor, note: input.note }, now);
      }
      await timeline(tx, caseId, { actor: who.actor, kind: "enforce", from, to: "enforced", note: input.note, detail: { action: input.action, accounts } }, now);
      await appendAudit(tx, { ...who, action: "case.enforce", targetType: "case", targetId: caseId, before: { status: from }, after: { status: "enforced", action: input.action, accounts } });
      return { caseId, status: "enforced" as const, enforced: enforced.map((e) => ({ ...e, since: e.since?.toISOString() ?? null })) };
    });
    await onEnforcementChanged();
    return result;
  }

  return { transition, addNote, assign, enforce, reverseForAppeal, timeline, enforcementChanged: onEnforcementChanged };
}

export type CaseWorkflow = ReturnType<typeof createCaseWorkflow>;
