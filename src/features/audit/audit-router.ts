// GET /v1/audit (admin): the append-only audit log, newest first, filtered by actor, action and a
// half-open [from, to) time range, cursor-paginated. There is no route that changes it.
import { Router } from "express";
import { z } from "zod";
import type { PrismaClient } from "../../generated/prisma/client";
import { requireScope } from "../../http/auth";
import { type Page, decodeCursor, encodeCursor, paginationQuery } from "../../http/pagination";
import { parseOrThrow } from "../../http/parse";
import type { ApiKeyService } from "../auth/api-key-service";
import { queryMoment, queryText } from "../events/event-schemas";

export const auditQuery = z
  .strictObject({
    actor: queryText(300).optional(),
    action: queryText(100).optional(),
    from: queryMoment.optional(),
    to: queryMoment.optional(),
    ...paginationQuery,
  })
  .refine((q) => !(q.from && q.to) || Date.parse(q.from) < Date.parse(q.to), { path: ["to"], message: "must be after from" });

export type AuditItem = {
  id: string;
  at: string;
  actor: string;
  action: string;
  targetType: string;
  targetId: string;
  before: unknown;
  after: unknown;
  requestId: string | null;
};

const cursorShape = z.tuple([queryMoment, z.string().regex(/^[0-9]{1,18}$/)]);

export async function listAudit(prisma: PrismaClient, q: z.infer<typeof auditQuery>): Promise<Page<AuditItem>> {
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

export function createAuditRouter(deps: { prisma: PrismaClient; apiKeys: ApiKeyService }): Router {
  const router = Router();
  router.get("/v1/audit", requireScope(deps.apiKeys, "admin"), async (req, res) => {
    const q = parseOrThrow(auditQuery, req.query, "query");
    res.json(await listAudit(deps.prisma, q));
  });
  return router;
}
