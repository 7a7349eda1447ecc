// Reads of violation cases for analysts: the filtered, cursor-paginated list and one case whole.
import { z } from "zod";
import type { $Enums, PrismaClient, Prisma } from "../../generated/prisma/client";
import { notFound } from "../../shared/errors";
import { decodeCursor, encodeCursor } from "../../shared/pagination";
import { type CaseStatus, type Severity, allowedMoves, caseStatuses, noteRequiredFor, severities } from "./case-model";
import type { CaseCounts, CaseDetail, CasePage, CaseSummary, TimelineEntry } from "./case-views";

// The model's statuses and severities are the database enums' (prisma/schema.prisma): a compile error when they part.
type Same<A, B> = [A] extends [B] ? ([B] extends [A] ? true : false) : false;
const _statusesMatchTheDatabase: Same<CaseStatus, $Enums.CaseStatus> & Same<Severity, $Enums.Severity> = true;

export type CaseFilter = {
  status?: CaseStatus;
  severity?: Severity;
  ruleId?: string;
  accountId?: string;
  assignee?: string;
  from?: Date;
  to?: Date;
  /** `activity` (default): newest activity first; `severity`: most severe first, then newest activity. */
  sort?: "activity" | "severity";
  limit: number;
  cursor?: string;
};

export type CaseCountFilter = Omit<CaseFilter, "status" | "sort" | "limit" | "cursor">;

type CaseRow = Prisma.ViolationCaseGetPayload<object>;

export function toCaseSummary(c: CaseRow): CaseSummary {
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

const cursorShape = z.tuple([z.string(), z.string()]);
const severityCursorShape = z.tuple([z.enum(severities), z.string(), z.string()]);

const filterWhere = (f: CaseCountFilter & { status?: CaseFilter["status"] }): Prisma.ViolationCaseWhereInput => ({
  ...(f.status ? { status: f.status } : {}),
  ...(f.severity ? { severity: f.severity } : {}),
  ...(f.ruleId ? { ruleId: f.ruleId } : {}),
  ...(f.accountId ? { accountId: f.accountId } : {}),
  ...(f.assignee ? { assignee: f.assignee } : {}),
  activityAt: { ...(f.from ? { gte: f.from } : {}), ...(f.to ? { lt: f.to } : {}) },
});

/** Cases after a page's last one, in (activityAt, id) descending order. */
const afterActivity = (at: string, id: string): Prisma.ViolationCaseWhereInput[] => [
  { activityAt: { lt: new Date(at) } },
  { activityAt: new Date(at), id: { lt: id } },
];

export function createCaseQueries(prisma: PrismaClient) {
  async function listCases(f: CaseFilter): Promise<CasePage> {
    const bySeverity = f.sort === "severity";
    let after: Prisma.ViolationCaseWhereInput | undefined;
    if (f.cursor && bySeverity) {
      // Severity is a PostgreSQL enum ordered low..critical, so the database sorts it by rank.
      const [severity, at, id] = decodeCursor(f.cursor, severityCursorShape);
      const lower = severities.slice(0, severities.indexOf(severity));
      after = { OR: [...(lower.length ? [{ severity: { in: lower } }] : []), ...afterActivity(at, id).map((w) => ({ ...w, severity }))] };
    } else if (f.cursor) {
      const [at, id] = decodeCursor(f.cursor, cursorShape);
      after = { OR: afterActivity(at, id) };
    }
    const rows = await prisma.violationCase.findMany({
      where: { ...filterWhere(f), ...after },
      orderBy: [...(bySeverity ? [{ severity: "desc" as const }] : []), { activityAt: "desc" }, { id: "desc" }],
      take: f.limit + 1,
    });
    const page = rows.slice(0, f.limit);
    const last = page[page.length - 1];
    const cursorOf = (c: CaseRow) => encodeCursor(bySeverity ? [c.severity, c.activityAt.toISOString(), c.id] : [c.activityAt.toISOString(), c.id]);
    return { items: page.map(toCaseSummary), nextCursor: rows.length > f.limit && last ? cursorOf(last) : null };
  }

  /** How many cases of each status match the other filters (the console's queue tabs). */
  async function countCases(f: CaseCountFilter): Promise<CaseCounts> {
    const groups = await prisma.violationCase.groupBy({ by: ["status"], where: filterWhere(f), _count: { _all: true } });
    const counts = Object.fromEntries(caseStatuses.map((s) => [s, 0])) as CaseCounts["counts"];
    for (const g of groups) counts[g.status] = g._count._all;
    return { counts, total: groups.reduce((n, g) => n + g._count._all, 0) };
  }

  async function getCase(id: string): Promise<CaseDetail> {
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
      /** The moves this case can make now; `enforced` is made through POST /v1/cases/:id/enforce. */
      allowedTransitions: allowedMoves[c.status].map((to) => ({ to, noteRequired: noteRequiredFor.includes(to) })),
      evidence: c.evidence.map((e) => ({
        ruleVersion: e.ruleVersion,
        triggerEventId: e.triggerEventId,
        occurredAt: e.occurredAt.toISOString(),
        window: e.window,
        conditions: e.conditions as CaseDetail["evidence"][number]["conditions"],
        eventIds: e.eventIds,
        recordedAt: e.createdAt.toISOString(),
      })),
      timeline: c.timeline.map((t) => ({
        at: t.at.toISOString(),
        actor: t.actor,
        kind: t.kind as TimelineEntry["kind"],
        from: t.fromStatus as CaseStatus | null,
        to: t.toStatus as CaseStatus | null,
        note: t.note,
        ...(t.detail ? { detail: t.detail } : {}),
      })),
    };
  }

  return { listCases, countCases, getCase };
}

export type CaseQueries = ReturnType<typeof createCaseQueries>;
