// Reads of violation cases for analysts: the filtered, cursor-paginated list and one case whole.
import { z } from "zod";
import type { PrismaClient, Prisma } from "../../generated/prisma/client";
import { notFound } from "../../errors";
import { type Page, decodeCursor, encodeCursor } from "../../http/pagination";

export const caseStatuses = ["open", "investigating", "confirmed", "enforced", "dismissed", "resolved"] as const;
export const severities = ["low", "medium", "high", "critical"] as const;

export type CaseFilter = {
  status?: (typeof caseStatuses)[number];
  severity?: (typeof severities)[number];
  ruleId?: string;
  accountId?: string;
  assignee?: string;
  from?: Date;
  to?: Date;
  limit: number;
  cursor?: string;
};

type CaseRow = Prisma.ViolationCaseGetPayload<object>;

export function toCaseSummary(c: CaseRow) {
  return {
    id: c.id,
    accountId: c.accountId,
    ruleId: c.ruleId,
    ruleVersion: c.ruleVersion,
    clause: { ref: c.clauseRef, text: c.clauseText },
    severity: c.severity,
    status: c.status,
    firstSeenAt: c.firstSeenAt.toISOString(),
    lastSeenAt: c.lastSeenAt.toISOString(),
    hitCount: c.hitCount,
    assignee: c.assignee,
    linkedAccounts: c.linkedAccounts as string[],
    createdAt: c.createdAt.toISOString(),
    activityAt: c.activityAt.toISOString(),
    dismissedAt: c.dismissedAt?.toISOString() ?? null,
  };
}

export type CaseSummary = ReturnType<typeof toCaseSummary>;

const cursorShape = z.tuple([z.string(), z.string()]);

export function createCaseQueries(prisma: PrismaClient) {
  async function listCases(f: CaseFilter): Promise<Page<CaseSummary>> {
    const after = f.cursor ? decodeCursor(f.cursor, cursorShape) : undefined;
    const rows = await prisma.violationCase.findMany({
      where: {
        ...(f.status ? { status: f.status } : {}),
        ...(f.severity ? { severity: f.severity } : {}),
        ...(f.ruleId ? { ruleId: f.ruleId } : {}),
        ...(f.accountId ? { accountId: f.accountId } : {}),
        ...(f.assignee ? { assignee: f.assignee } : {}),
        activityAt: { ...(f.from ? { gte: f.from } : {}), ...(f.to ? { lt: f.to } : {}) },
        ...(after
          ? { OR: [{ activityAt: { lt: new Date(after[0]) } }, { activityAt: new Date(after[0]), id: { lt: after[1] } }] }
          : {}),
      },
      orderBy: [{ activityAt: "desc" }, { id: "desc" }],
      take: f.limit + 1,
    });
    const page = rows.slice(0, f.limit);
    const last = page[page.length - 1];
    return {
      items: page.map(toCaseSummary),
      nextCursor: rows.length > f.limit && last ? encodeCursor([last.activityAt.toISOString(), last.id]) : null,
    };
  }

  async function getCase(id: string) {
    const c = await prisma.violationCase.findUnique({
      where: { id },
      include: {
        evidence: { orderBy: { id: "desc" } },
        timeline: { orderBy: { id: "asc" } },
      },
    });
    if (!c) throw notFound("case", id);
    return {
      ...toCaseSummary(c),
      evidence: c.evidence.map((e) => ({
        ruleVersion: e.ruleVersion,
        triggerEventId: e.triggerEventId,
        occurredAt: e.occurredAt.toISOString(),
        window: e.window,
        conditions: e.conditions,
        eventIds: e.eventIds,
        recordedAt: e.createdAt.toISOString(),
      })),
      timeline: c.timeline.map((t) => ({
        at: t.at.toISOString(),
        actor: t.actor,
        kind: t.kind,
        from: t.fromStatus,
        to: t.toStatus,
        note: t.note,
        ...(t.detail ? { detail: t.detail } : {}),
      })),
    };
  }

  return { listCases, getCase };
}

export type CaseQueries = ReturnType<typeof createCaseQueries>;
