// What the API answers about appeals, as zod schemas: the services return these types, the OpenAPI
// document publishes them and the console imports them.
import { z } from "zod";
import { pageOf } from "../../shared/page-view";
import { appealStatuses, caseOutcomes } from "./appeal-model";

const moment = z.iso.datetime();

export const attachmentSchema = z.strictObject({ name: z.string(), ref: z.string() });

export const appealSchema = z.strictObject({
  id: z.string(),
  statementId: z.string(),
  accountId: z.string(),
  caseId: z.string(),
  enforcementId: z.string(),
  explanation: z.string(),
  attachments: z.array(attachmentSchema),
  status: z.enum(appealStatuses),
  submittedAt: moment,
  /** The decision is due by then; after it, an undecided appeal is overdue. */
  deadlineAt: moment,
  overdue: z.boolean(),
  /** Who took it under review. */
  reviewer: z.string().nullable(),
  decidedBy: z.string().nullable(),
  decidedAt: moment.nullable(),
  decisionNote: z.string().nullable(),
  /** For a reversal: what became of the case. */
  caseOutcome: z.enum(caseOutcomes).nullable(),
});
export type AppealView = z.infer<typeof appealSchema>;

export const appealPageSchema = pageOf(appealSchema);
export type AppealPage = z.infer<typeof appealPageSchema>;

/** GET /v1/appeals/counts. */
export const appealCountsSchema = z.strictObject({
  counts: z.strictObject(Object.fromEntries(appealStatuses.map((s) => [s, z.number().int()])) as Record<(typeof appealStatuses)[number], z.ZodNumber>),
  /** Submitted or under review. */
  open: z.number().int(),
  /** Open past the deadline. */
  overdue: z.number().int(),
});
export type AppealCounts = z.infer<typeof appealCountsSchema>;

/** POST /v1/appeals/:id/transitions: the appeal after the move, and the statements it issued. */
export const appealDecisionSchema = z.strictObject({
  appeal: appealSchema,
  /** Statements of reasons issued by the move (liftings on a reversal, appeal_upheld on upholding). */
  statementIds: z.array(z.string()),
});
export type AppealDecision = z.infer<typeof appealDecisionSchema>;
