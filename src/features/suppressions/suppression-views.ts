// What the API answers about allow entries, snoozes and suppressed hits, as zod schemas: the
// services return these types, the OpenAPI document publishes them and the console imports them.
import { z } from "zod";
import { conditionExplanationSchema } from "../cases/case-views";
import { pageOf } from "../../shared/page-view";

const moment = z.iso.datetime();

export const allowKinds = ["accountId", "paymentFingerprint", "orgId"] as const;
export type AllowKind = (typeof allowKinds)[number];
/** The longest an allow entry or a snooze may run: they are exceptions, renewed on purpose. */
export const maxSuppressionDays = 366;

export const allowEntrySchema = z.strictObject({
  id: z.string(),
  kind: z.enum(allowKinds),
  value: z.string(),
  /** null: every rule. */
  ruleId: z.string().nullable(),
  reason: z.string(),
  expiresAt: moment,
  createdBy: z.string(),
  createdAt: moment,
  revokedAt: moment.nullable(),
  revokedBy: z.string().nullable(),
  /** Not revoked and not expired. */
  active: z.boolean(),
});
export type AllowEntryView = z.infer<typeof allowEntrySchema>;
export const allowEntryPageSchema = pageOf(allowEntrySchema);
export type AllowEntryPage = z.infer<typeof allowEntryPageSchema>;

export const snoozeSchema = z.strictObject({
  id: z.string(),
  ruleId: z.string(),
  accountId: z.string(),
  until: moment,
  reason: z.string(),
  /** The case it was set from, if any. */
  caseId: z.string().nullable(),
  createdBy: z.string(),
  createdAt: moment,
  cancelledAt: moment.nullable(),
  cancelledBy: z.string().nullable(),
  active: z.boolean(),
});
export type SnoozeView = z.infer<typeof snoozeSchema>;
export const snoozePageSchema = pageOf(snoozeSchema);
export type SnoozePage = z.infer<typeof snoozePageSchema>;

export const suppressionSchema = z.strictObject({ type: z.enum(["allow", "snooze"]), id: z.string(), reason: z.string() });

/** A hit that opened no case: a shadow version's, or a suppressed one (docs/rule-lifecycle.md). */
export const sideHitSchema = z.strictObject({
  role: z.enum(["live", "shadow"]),
  shadowId: z.string().nullable(),
  ruleId: z.string(),
  ruleVersion: z.number().int(),
  accountId: z.string(),
  occurredAt: moment,
  triggerEventId: z.string(),
  window: z.string(),
  conditions: z.array(conditionExplanationSchema),
  eventIds: z.array(z.string()),
  suppressedBy: suppressionSchema.nullable(),
  recordedAt: moment,
});
export type SideHitView = z.infer<typeof sideHitSchema>;

/** What the account view shows of suppression: what holds for the account now, and its newest suppressed hits. */
export const accountSuppressionSchema = z.strictObject({
  /** Active allow entries that cover the account (by its id, its org, or a card it used). */
  allowEntries: z.array(allowEntrySchema),
  /** Active snoozes of rules for the account. */
  snoozes: z.array(snoozeSchema),
  /** Its newest suppressed hits (at most 20). */
  suppressedHits: z.array(sideHitSchema),
});
export type AccountSuppression = z.infer<typeof accountSuppressionSchema>;
