// Appends to the audit log. There is deliberately no update or delete: the log is append-only.
import type { Prisma } from "../../generated/prisma/client";
import type { Orm, Sql } from "../../db/database";
import { sql } from "../../db/sql";

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

/** The same entry through SQL, for a driver transaction (one that outlives Prisma's 5 s limit, such as a list import). */
export async function appendAuditSql(tx: Sql, entry: AuditEntry): Promise<void> {
  await tx.query(sql`
    INSERT INTO audit_log (actor, action, target_type, target_id, before, after, request_id)
    VALUES (${entry.actor}, ${entry.action}, ${entry.targetType}, ${entry.targetId},
            ${entry.before === undefined ? null : JSON.stringify(entry.before)}::jsonb,
            ${entry.after === undefined ? null : JSON.stringify(entry.after)}::jsonb, ${entry.requestId ?? null})`);
}
