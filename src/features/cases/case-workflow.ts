// The case workflow (SPEC.md "Violation case"): the allowed moves, notes, assignment, and
// enforcement of an account (and, on request, of the accounts linked to it), with the account's
// status kept as the strongest enforcement still holding it. Every change is on the timeline and
// in the audit log, in the same transaction.
import { randomUUID } from "node:crypto";
import type { Database, Orm } from "../../db/database";
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

// The statuses and the moves are the case model's (case-model.ts); re-exported for the callers that read them here.
export { type CaseStatus, allowedMoves } from "./case-model";

const strength: Record<AccountStatus, number> = { active: 0, restricted: 1, suspended: 2 };
const statusOf = (action: EnforcementAction): AccountStatus => (action === "suspend" ? "suspended" : "restricted");

type Tx = Orm;

/**
 * `onEnforcementChanged` runs after a transaction that enforced or lifted commits, before the
 * caller is answered: the enforcement snapshot reloads, so this process's next answer shows it.
 */
export function createCaseWorkflow(db: Database, outbox?: WebhookOutbox, onEnforcementChanged: () => Promise<void> = async () => {}, hubLimits: HubLimits = defaultHubLimits) {
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
      const lifted: Awaited<ReturnType<typeof settleAccount>>[] = [];
      if (to === "resolved") {
        // Lifting the case's enforcements restores each account unless another enforcement still holds it.
        const held = await tx.enforcement.findMany({ where: { caseId, liftedAt: null }, select: { accountId: true } });
        await tx.enforcement.updateMany({ where: { caseId, liftedAt: null }, data: { liftedAt: now, liftedBy: who.actor } });
        for (const accountId of [...new Set(held.map((h) => h.accountId))].sort()) lifted.push(await settleAccount(tx, accountId, now));
      }
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
        await tx.enforcement.create({ data: { id: `enf_${randomUUID().replace(/-/g, "")}`, accountId, caseId, action: input.action, actor: who.actor, note: input.note, createdAt: now } });
        const settled = await settleAccount(tx, accountId, now);
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

  return { transition, addNote, assign, enforce };
}

export type CaseWorkflow = ReturnType<typeof createCaseWorkflow>;
