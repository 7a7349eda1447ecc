// Reading the audit log (GET /v1/audit): newest first, filtered by actor, action and a half-open
// [from, to) time range, cursor-paginated. Appending is audit-log.ts; nothing changes an entry.
import { z } from "zod";
import type { PrismaClient } from "../../generated/prisma/client";
import { decodeCursor, encodeCursor, paginationQuery } from "../../shared/pagination";
import { queryMoment, queryText } from "../events/event-schemas";
import type { AuditPage } from "./audit-views";

export const auditQuery = z
  .strictObject({
    actor: queryText(300).optional(),
    action: queryText(100).optional(),
    from: queryMoment.optional(),
    to: queryMoment.optional(),
    ...paginationQuery,
  })
  .refine((q) => !(q.from && q.to) || Date.parse(q.from) < Date.parse(q.to), { path: ["to"], message: "must be after from" });

export type AuditQuery = z.infer<typeof auditQuery>;

const cursorShape = z.tuple([queryMoment, z.string().regex(/^[0-9]{1,18}$/)]);

async function listAudit(prisma: PrismaClient, q: AuditQuery): Promise<AuditPage> {
  const after = q.cursor ? decodeCursor(q.cursor, cursorShape) : undefined;
  const rows = await prisma.auditLogEntry.findMany({
    where: {
      ...(q.actor ? { actor: q.actor } : {}),
      ...(q.action ? { action: q.action } : {}),
      at: { ...(q.from ? { gte: new Date(q.from) } : {}), ...(q.to ? { lt: new Date(q.to) } : {}) },
      ...(after ? { OR: [{ at: { lt: new Date(after[0]) } }, { at: new Date(after[0]), id: { lt: BigInt(after[1]) } }] } : {}),
    },
    orderBy: [{ at: "desc" }, { id: "desc" }],
    take: q.limit + 1,
  });
  const page = rows.slice(0, q.limit);
  const last = page[page.length - 1];
  return {
    items: page.map((r) => ({
      id: String(r.id),
      at: r.at.toISOString(),
      actor: r.actor,
      action: r.action,
      targetType: r.targetType,
      targetId: r.targetId,
      before: r.before ?? null,
      after: r.after ?? null,
      requestId: r.requestId,
    })),
    nextCursor: rows.length > q.limit && last ? encodeCursor([last.at.toISOString(), String(last.id)]) : null,
  };
}

export function createAuditQueries(prisma: PrismaClient) {
  return { list: (q: AuditQuery) => listAudit(prisma, q) };
}

export type AuditQueries = ReturnType<typeof createAuditQueries>;
