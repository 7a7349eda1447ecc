// Appeals (docs/due-process.md): a holder, through the provider's portal, contests the enforcement
// a statement of reasons told them of; an analyst who took no part in it reviews it and upholds or
// reverses it before a deadline. Reversing lifts this case's part of the measure only, issues the
// statements, and records everything on the case's timeline and in the audit log, in one transaction.
import { randomUUID } from "node:crypto";
import { z } from "zod";
import type { Database, Orm } from "../../db/database";
import type { Appeal } from "../../generated/prisma/client";
import { AppError, notFound, validationFailed } from "../../shared/errors";
import { decodeCursor, encodeCursor } from "../../shared/pagination";
import { type Actor, appendAudit } from "../audit/audit-log";
import type { AccountStatus } from "../accounts/account-model";
import type { CaseWorkflow } from "../cases/case-workflow";
import type { EnforcementAction } from "../cases/case-model";
import type { StatementIssuer } from "../statements/statement-service";
import { type AppealStatus, type CaseOutcome, appealMoves, appealStatuses, openAppealStatuses } from "./appeal-model";
import type { AppealCounts, AppealDecision, AppealPage, AppealView } from "./appeal-views";

const dayMs = 86_400_000;

export function appealView(row: Appeal, now: Date): AppealView {
  const status = row.status as AppealStatus;
  return {
    id: row.id,
    statementId: row.statementId,
    accountId: row.accountId,
    caseId: row.caseId,
    enforcementId: row.enforcementId,
    explanation: row.explanation,
    attachments: row.attachments as AppealView["attachments"],
    status,
    submittedAt: row.submittedAt.toISOString(),
    deadlineAt: row.deadlineAt.toISOString(),
    overdue: (openAppealStatuses as readonly string[]).includes(status) && row.deadlineAt < now,
    reviewer: row.reviewer,
    decidedBy: row.decidedBy,
    decidedAt: row.decidedAt?.toISOString() ?? null,
    decisionNote: row.decisionNote,
    caseOutcome: row.caseOutcome as CaseOutcome | null,
  };
}

export type AppealInput = { statementId: string; explanation: string; attachments: { name: string; ref: string }[] };
export type AppealMove = { to: AppealStatus; note?: string; caseOutcome?: CaseOutcome };
export type AppealListQuery = { status?: AppealStatus; overdue?: boolean; accountId?: string; limit: number; cursor?: string };

const cursorShape = z.tuple([z.string(), z.string()]);

/** Still waiting for a decision, past the deadline. */
const overdueWhere = (now: Date) => ({ status: { in: [...openAppealStatuses] }, deadlineAt: { lt: now } });

export function createAppealService(db: Database, deps: { workflow: CaseWorkflow; statements: StatementIssuer; decisionDays: number }) {
  const { prisma } = db;

  async function lockAppeal(tx: Orm, id: string) {
    const rows = await tx.$queryRaw<{ id: string }[]>`SELECT id FROM appeal WHERE id = ${id} FOR UPDATE`;
    if (rows.length === 0) throw notFound("appeal", id);
    return tx.appeal.findUniqueOrThrow({ where: { id } });
  }

  /** Files an appeal of an enforcement statement: within its appeal period, while the measure holds, once. */
  async function submit(input: AppealInput, who: Actor, now = new Date()): Promise<AppealView> {
    return db.transaction({ orm: true }, async (t) => {
      const tx = t.prisma;
      const statement = await tx.statementOfReasons.findUnique({ where: { id: input.statementId } });
      if (!statement) throw validationFailed([{ path: "body.statementId", message: `statement '${input.statementId}' does not exist` }]);
      if (statement.kind !== "enforcement") throw new AppError("conflict", `only an enforcement can be appealed; statement ${statement.id} is a ${statement.kind} statement`);
      const until = (statement.body as { appealUntil: string | null }).appealUntil;
      if (until && now > new Date(until)) throw new AppError("conflict", `the appeal period of statement ${statement.id} ended at ${until}`, undefined, { appealUntil: until });
      const enforcement = await tx.enforcement.findUniqueOrThrow({ where: { id: statement.enforcementId } });
      if (enforcement.liftedAt) throw new AppError("conflict", `the measure of statement ${statement.id} was lifted at ${enforcement.liftedAt.toISOString()}: there is nothing to appeal`);
      const existing = await tx.appeal.findUnique({ where: { statementId: statement.id }, select: { id: true } });
      if (existing) throw new AppError("conflict", `statement ${statement.id} is already appealed (${existing.id})`, undefined, { appealId: existing.id });
      const row = await tx.appeal.create({
        data: {
          id: `apl_${randomUUID().replace(/-/g, "")}`,
          statementId: statement.id,
          accountId: statement.accountId,
          caseId: statement.caseId,
          enforcementId: statement.enforcementId,
          explanation: input.explanation,
          attachments: input.attachments,
          submittedBy: who.actor,
          submittedAt: now,
          deadlineAt: new Date(now.getTime() + deps.decisionDays * dayMs),
        },
      });
      await deps.workflow.timeline(tx, statement.caseId, { actor: who.actor, kind: "appeal", detail: { appealId: row.id, accountId: row.accountId, status: "submitted" } }, now);
      await appendAudit(tx, { ...who, action: "appeal.submit", targetType: "appeal", targetId: row.id, after: { statementId: statement.id, accountId: row.accountId, caseId: row.caseId, deadlineAt: row.deadlineAt } });
      return appealView(row, now);
    });
  }

  /**
   * Moves an appeal. Whoever placed the enforcement may neither review nor decide it (four eyes).
   * A decision needs a note. Reversal lifts this case's enforcements (the appellant's only with
   * caseOutcome `unchanged`, the default for an account acted on as linked), upholding issues an
   * appeal_upheld statement.
   */
  async function move(id: string, input: AppealMove, who: Actor, now = new Date()): Promise<AppealDecision> {
    const decided = input.to === "upheld" || input.to === "reversed";
    if (decided && !input.note) throw validationFailed([{ path: "body.note", message: `a decision (${input.to}) needs a note saying why` }]);
    if (input.caseOutcome && input.to !== "reversed") throw validationFailed([{ path: "body.caseOutcome", message: "only a reversal says what becomes of the case" }]);
    let enforcementChanged = false;
    const result = await db.transaction({ orm: true }, async (t) => {
      const tx = t.prisma;
      const appeal = await lockAppeal(tx, id);
      const from = appeal.status as AppealStatus;
      if (!appealMoves[from].includes(input.to)) {
        throw new AppError("transition_not_allowed", `an appeal that is ${from} cannot move to ${input.to}`, undefined, { from, to: input.to, allowed: appealMoves[from] });
      }
      const enforcement = await tx.enforcement.findUniqueOrThrow({ where: { id: appeal.enforcementId } });
      if (enforcement.actor === who.actor) {
        throw new AppError("four_eyes", `${who.actor} placed the enforcement this appeal contests, so another analyst must review and decide it`, undefined, { enforcedBy: enforcement.actor });
      }
      const kase = await tx.violationCase.findUniqueOrThrow({ where: { id: appeal.caseId } });
      const statementIds: string[] = [];
      let caseOutcome: CaseOutcome | null = null;
      if (input.to === "reversed") {
        caseOutcome = input.caseOutcome ?? (appeal.accountId === kase.accountId ? "dismissed" : "unchanged");
        const lifted = await deps.workflow.reverseForAppeal(t, { caseId: kase.id, appellant: appeal.accountId, outcome: caseOutcome, appealId: appeal.id, note: input.note! }, who, now);
        statementIds.push(...lifted.statementIds);
        enforcementChanged = lifted.accounts.length > 0;
      } else if (input.to === "upheld") {
        const account = await tx.account.findUniqueOrThrow({ where: { id: appeal.accountId }, select: { status: true } });
        const issued = await deps.statements.issue(
          t,
          { kind: "appeal_upheld", accountId: appeal.accountId, enforcement: { id: enforcement.id, action: enforcement.action as EnforcementAction, createdAt: enforcement.createdAt }, case: kase, accountStatus: account.status as AccountStatus, effectiveAt: enforcement.createdAt, linkedBy: null },
          now,
        );
        statementIds.push(issued.id);
        await deps.workflow.timeline(tx, kase.id, { actor: who.actor, kind: "appeal", note: input.note, detail: { appealId: appeal.id, decision: "upheld" } }, now);
      } else {
        await deps.workflow.timeline(tx, kase.id, { actor: who.actor, kind: "appeal", detail: { appealId: appeal.id, status: input.to } }, now);
      }
      const row = await tx.appeal.update({
        where: { id },
        data: {
          status: input.to,
          ...(input.to === "under_review" ? { reviewer: who.actor } : {}),
          ...(decided ? { decidedBy: who.actor, decidedAt: now, decisionNote: input.note!, caseOutcome } : {}),
        },
      });
      await appendAudit(tx, { ...who, action: decided ? "appeal.decide" : "appeal.review", targetType: "appeal", targetId: id, before: { status: from }, after: { status: input.to, note: input.note, caseOutcome, statementIds } });
      return { appeal: appealView(row, now), statementIds };
    });
    if (enforcementChanged) await deps.workflow.enforcementChanged();
    return result;
  }

  async function get(id: string, now = new Date()): Promise<AppealView> {
    const row = await prisma.appeal.findUnique({ where: { id } });
    if (!row) throw notFound("appeal", id);
    return appealView(row, now);
  }

  /** The queue: the nearest deadline first. */
  async function list(q: AppealListQuery, now = new Date()): Promise<AppealPage> {
    const after = q.cursor ? decodeCursor(q.cursor, cursorShape) : undefined;
    const rows = await prisma.appeal.findMany({
      where: {
        ...(q.status ? { status: q.status } : {}),
        ...(q.accountId ? { accountId: q.accountId } : {}),
        // Beside a status filter, not over it: AND keeps both.
        ...(q.overdue === undefined ? {} : { AND: [q.overdue ? overdueWhere(now) : { NOT: overdueWhere(now) }] }),
        ...(after ? { OR: [{ deadlineAt: { gt: new Date(after[0]) } }, { deadlineAt: new Date(after[0]), id: { gt: after[1] } }] } : {}),
      },
      orderBy: [{ deadlineAt: "asc" }, { id: "asc" }],
      take: q.limit + 1,
    });
    const items = rows.slice(0, q.limit).map((r) => appealView(r, now));
    const last = items.at(-1);
    return { items, nextCursor: rows.length > q.limit && last ? encodeCursor([last.deadlineAt, last.id]) : null };
  }

  async function counts(now = new Date()): Promise<AppealCounts> {
    const groups = await prisma.appeal.groupBy({ by: ["status"], _count: { _all: true } });
    const overdue = await prisma.appeal.count({ where: overdueWhere(now) });
    const byStatus = Object.fromEntries(appealStatuses.map((s) => [s, groups.find((g) => g.status === s)?._count._all ?? 0])) as AppealCounts["counts"];
    return { counts: byStatus, open: byStatus.submitted + byStatus.under_review, overdue };
  }

  return { submit, move, get, list, counts };
}
export type AppealService = ReturnType<typeof createAppealService>;
