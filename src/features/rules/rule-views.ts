// What the API answers about rules, as zod schemas: a rule with its current version, its versions,
// a validation, and a backtest's result. The rule service and the backtest build these shapes
// (their return types are these schemas' types), the OpenAPI document publishes them,
// test/openapi.e2e.test.ts holds real answers to them, and the console imports their types.
import { z } from "zod";
import { type RuleDocument, ruleDocumentSchema } from "../../engine/rule-schema";
import { pageOf } from "../../shared/page-view";
import { conditionExplanationSchema } from "../cases/case-views";

const moment = z.iso.datetime();

/** Where a rule version came from: the rules directory (a file) or the API. */
export const ruleSources = ["file", "api"] as const;
export type RuleSource = (typeof ruleSources)[number];

/**
 * A stored rule document: as validated (rule-schema.ts, its defaults filled in). `conditions` is
 * the rule's condition tree, checked by the validator's walker rather than by this schema.
 */
const storedRuleDocument = ruleDocumentSchema.extend({ conditions: z.custom<RuleDocument["conditions"]>() });

/** A rule and its current version (GET /v1/rules/:id, POST /v1/rules, enable, disable). */
export const ruleViewSchema = z.strictObject({
  id: z.string(),
  /** The current version. */
  version: z.number().int(),
  enabled: z.boolean(),
  /** Where the current version came from: the rules directory or the API. */
  source: z.enum(ruleSources),
  createdAt: moment,
  updatedAt: moment,
  document: storedRuleDocument,
});
export type RuleView = z.infer<typeof ruleViewSchema>;

export const rulePageSchema = pageOf(ruleViewSchema);
export type RulePage = z.infer<typeof rulePageSchema>;

/** PUT /v1/rules/:id: the rule, and whether the document made a new version (an identical one does not). */
export const ruleUpdateSchema = ruleViewSchema.extend({ changed: z.boolean() });
export type RuleUpdate = z.infer<typeof ruleUpdateSchema>;

/** One version of a rule (GET /v1/rules/:id/versions, newest first, in one page). */
export const ruleVersionSchema = z.strictObject({
  version: z.number().int(),
  current: z.boolean(),
  /** sha256 of the document's canonical JSON. */
  checksum: z.string(),
  createdAt: moment,
  createdBy: z.string(),
  document: storedRuleDocument,
});
export type RuleVersion = z.infer<typeof ruleVersionSchema>;

export const ruleVersionPageSchema = pageOf(ruleVersionSchema);
export type RuleVersionPage = z.infer<typeof ruleVersionPageSchema>;

/** POST /v1/rules/validate: a valid document (an invalid one is a 400 listing every fault). */
export const ruleValidSchema = z.strictObject({ valid: z.literal(true) });
export type RuleValid = z.infer<typeof ruleValidSchema>;

/** An account a backtest flagged: its hits over the range and the first hit's evidence. */
export const backtestHitSchema = z.strictObject({
  accountId: z.string(),
  firstHitAt: moment,
  lastHitAt: moment,
  hitCount: z.number().int(),
  /** The first hit's evidence, in the shape cases use. */
  sampleEvidence: z.strictObject({
    triggerEventId: z.string(),
    occurredAt: moment,
    window: z.string(),
    conditions: z.array(conditionExplanationSchema),
    eventIds: z.array(z.string()),
  }),
});
export type BacktestHit = z.infer<typeof backtestHitSchema>;

/** POST /v1/rules/backtest, POST /v1/rules/:id/backtest (as JSON; with Accept: application/x-ndjson the last line, with `type: "result"`). */
export const backtestResultSchema = z.strictObject({
  ruleId: z.string(),
  /** The stored version replayed; null for an unsaved document. */
  version: z.number().int().nullable(),
  from: moment,
  to: moment,
  eventsEvaluated: z.number().int(),
  accountsEvaluated: z.number().int(),
  /** Every account hit, even beyond the hits listed (see truncated). */
  accountsHit: z.number().int(),
  evaluationErrors: z.number().int(),
  hits: z.array(backtestHitSchema),
  /** True when more accounts were hit than are listed. */
  truncated: z.boolean(),
  durationMs: z.number().int(),
});
export type BacktestResult = z.infer<typeof backtestResultSchema>;

/** How far a backtest is: what it has read and judged so far. */
export const backtestProgressSchema = z.strictObject({ eventsRead: z.number().int(), accountsEvaluated: z.number().int(), accountsHit: z.number().int() });
export type BacktestProgress = z.infer<typeof backtestProgressSchema>;

/** A line of a streamed backtest (Accept: application/x-ndjson): a progress line about every second, the result last. */
export const backtestStreamLineSchema = z.discriminatedUnion("type", [
  backtestProgressSchema.extend({ type: z.literal("progress") }),
  backtestResultSchema.extend({ type: z.literal("result") }),
]);
export type BacktestStreamLine = z.infer<typeof backtestStreamLineSchema>;
