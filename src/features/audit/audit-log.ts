// Appends to the audit log. There is deliberately no update or delete: the log is append-only.
import type { Prisma } from "../../generated/prisma/client";
import type { Orm } from "../../db/database";

/** Who made a change and in which request: what every audited service call receives. */
export type Actor = { actor: string; requestId?: string };

export type AuditEntry = {
  actor: string;
  action: string;
  targetType: string;
  targetId: string;
  before?: unknown;
  after?: unknown;
  requestId?: string;
};

export async function appendAudit(db: Orm, entry: AuditEntry): Promise<void> {
  await db.auditLogEntry.create({
    data: {
      actor: entry.actor,
      action: entry.action,
      targetType: entry.targetType,
      targetId: entry.targetId,
      before: toJson(entry.before),
      after: toJson(entry.after),
      requestId: entry.requestId ?? null,
    },
  });
}

function toJson(v: unknown): Prisma.InputJsonValue | undefined {
  return v === undefined ? undefined : (JSON.parse(JSON.stringify(v)) as Prisma.InputJsonValue);
}
