// What the API answers about cases, as zod schemas: the list item, the whole case with its evidence
// and timeline, the counts per status, and the workflow's answers. case-queries.ts and
// case-workflow.ts build these shapes (their return types are these schemas' types), the OpenAPI
// document publishes them as response schemas, test/openapi.e2e.test.ts holds real answers to them,
// and the console and the CLI import their types. Objects are strict: a field added to an answer
// without its schema fails that test.
import { z } from "zod";
import { pageOf } from "../../shared/page-view";
import { accountStatuses } from "../accounts/account-model";
import { type CaseStatus, caseStatuses, enforcementActions, severities, timelineKinds } from "./case-model";

/** A moment as the API writes it: ISO 8601 in UTC (Date.toISOString). */
const moment = z.iso.datetime();
const status = z.enum(caseStatuses);

/** A case as lists show it (GET /v1/cases, an account's open cases). */
export const caseSummarySchema = z.strictObject({
  id: z.string(),
  accountId: z.string(),
  ruleId: z.string(),
  /** The rule version of the newest hit. */
  ruleVersion: z.number().int(),
  clause: z.strictObject({ ref: z.string(), text: z.string() }),
  severity: z.enum(severities),
  status,
  firstSeenAt: moment,
  lastSeenAt: moment,
  hitCount: z.number().int(),
  assignee: z.string().nullable(),
  linkedAccounts: z.array(z.string()),
  createdAt: moment,
  activityAt: moment,
  dismissedAt: moment.nullable(),
});
export type CaseSummary = z.infer<typeof caseSummarySchema>;

export const casePageSchema = pageOf(caseSummarySchema);
export type CasePage = z.infer<typeof casePageSchema>;

/** One condition of a rule as evaluated for a hit (engine/evaluation.ts ConditionExplanation), in evidence and backtests. */
export const conditionExplanationSchema = z.strictObject({
  /** Where the condition sits in the rule: `all[0]`, `any[1].not`. */
  path: z.string(),
  fact: z.string(),
  params: z.record(z.string(), z.unknown()).optional(),
  jsonPath: z.string().optional(),
  operator: z.string(),
  value: z.unknown(),
  /** Absent when the fact was never read (a short-circuited condition). */
  factValue: z.unknown().optional(),
  /** null when the condition was never evaluated (short-circuited). */
  result: z.boolean().nullable(),
  /** How a value was found, e.g. an account's age from its first sight. */
  note: z.string().optional(),
});
export type ConditionView = z.infer<typeof conditionExplanationSchema>;

export const evidenceSchema = z.strictObject({
  ruleVersion: z.number().int(),
  triggerEventId: z.string(),
  occurredAt: moment,
  window: z.string(),
  conditions: z.array(conditionExplanationSchema),
  eventIds: z.array(z.string()),
  recordedAt: moment,
});
export type Evidence = z.infer<typeof evidenceSchema>;

export const timelineEntrySchema = z.strictObject({
  at: moment,
  /** `key:<id>` for a person through the API, `rule:<id>@<version>` for the hit that opened the case. */
  actor: z.string(),
  kind: z.enum(timelineKinds),
  from: status.nullable(),
  to: status.nullable(),
  note: z.string().nullable(),
  /** What the entry did beyond a move: the triggering event, the assignment, the accounts enforced. */
  detail: z.unknown().optional(),
});
export type TimelineEntry = z.infer<typeof timelineEntrySchema>;

/** A case whole (GET /v1/cases/:id). */
export const caseDetailSchema = caseSummarySchema.extend({
  /** The moves this case can make now; `enforced` is made through POST /v1/cases/:id/enforce. */
  allowedTransitions: z.array(z.strictObject({ to: status, noteRequired: z.boolean() })),
  /** Newest first, at most the 20 newest hits. */
  evidence: z.array(evidenceSchema),
  /** Oldest first. */
  timeline: z.array(timelineEntrySchema),
});
export type CaseDetail = z.infer<typeof caseDetailSchema>;

/** GET /v1/cases/counts: every status, 0 included, and their sum. */
export const caseCountsSchema = z.strictObject({
  counts: z.strictObject(Object.fromEntries(caseStatuses.map((s) => [s, z.number().int()])) as { [S in CaseStatus]: z.ZodNumber }),
  total: z.number().int(),
});
export type CaseCounts = z.infer<typeof caseCountsSchema>;

/** An account's status after a change to its enforcements. */
const settledAccount = z.strictObject({ accountId: z.string(), status: z.enum(accountStatuses), since: moment.nullable() });

/** POST /v1/cases/:id/transitions: the move, and the accounts whose enforcements it lifted (resolving). */
export const transitionResultSchema = z.strictObject({
  caseId: z.string(),
  from: status,
  to: status,
  accounts: z.array(settledAccount),
});
export type TransitionResult = z.infer<typeof transitionResultSchema>;

/** POST /v1/cases/:id/notes. */
export const noteResultSchema = z.strictObject({ caseId: z.string(), at: moment, actor: z.string(), note: z.string() });
export type NoteResult = z.infer<typeof noteResultSchema>;

/** PATCH /v1/cases/:id. */
export const assignResultSchema = z.strictObject({ caseId: z.string(), assignee: z.string().nullable() });
export type AssignResult = z.infer<typeof assignResultSchema>;

/** POST /v1/cases/:id/enforce: every account enforced (the case's first, then linked ones) with its resulting status. */
export const enforceResultSchema = z.strictObject({
  caseId: z.string(),
  status: z.literal("enforced"),
  enforced: z.array(settledAccount.extend({ action: z.enum(enforcementActions), linked: z.boolean() })),
});
export type EnforceResult = z.infer<typeof enforceResultSchema>;
