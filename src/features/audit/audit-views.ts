// What the API answers from the audit log, as a zod schema: one entry (GET /v1/audit pages them).
// audit-queries.ts builds it (its return type is this schema's type), the OpenAPI document
// publishes it and test/openapi.e2e.test.ts holds real answers to it.
import { z } from "zod";
import { pageOf } from "../../shared/page-view";

export const auditItemSchema = z.strictObject({
  id: z.string(),
  at: z.iso.datetime(),
  /** `key:<id>`, `cli`, `rules-dir`, `bootstrap`, ... */
  actor: z.string(),
  /** `rule.create`, `case.transition`, `account.enforce`, `key.revoke`, ... */
  action: z.string(),
  targetType: z.string(),
  targetId: z.string(),
  /** The changed fields before and after (JSON, or null). */
  before: z.unknown(),
  after: z.unknown(),
  requestId: z.string().nullable(),
});
export type AuditItem = z.infer<typeof auditItemSchema>;

export const auditPageSchema = pageOf(auditItemSchema);
export type AuditPage = z.infer<typeof auditPageSchema>;
