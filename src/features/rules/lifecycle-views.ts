// What the API answers about shadow runs and rule quality, as zod schemas: the services return
// these types, the OpenAPI document publishes them and the console imports them.
import { z } from "zod";
import { conditionExplanationSchema } from "../cases/case-views";
import { ruleViewSchema } from "./rule-views";

const moment = z.iso.datetime();
const count = z.number().int();

export const shadowOutcomes = ["stopped", "promoted"] as const;

export const shadowSchema = z.strictObject({
  id: z.string(),
  ruleId: z.string(),
  /** The candidate version. */
  version: count,
  /** The version that was active when it started. */
  baseVersion: count.nullable(),
  startedAt: moment,
  startedBy: z.string(),
  /** It stops being evaluated then (null: until stopped). */
  endsAt: moment.nullable(),
  stoppedAt: moment.nullable(),
  stoppedBy: z.string().nullable(),
  outcome: z.enum(shadowOutcomes).nullable(),
  /** Evaluated now: not stopped, and its end (if any) not past. */
  running: z.boolean(),
});
export type ShadowView = z.infer<typeof shadowSchema>;

/** POST /v1/rules/:id/shadow/promote. */
export const promotionSchema = z.strictObject({ rule: ruleViewSchema, shadow: shadowSchema });
export type Promotion = z.infer<typeof promotionSchema>;

const sampleHitSchema = z.strictObject({
  ruleVersion: count,
  occurredAt: moment,
  triggerEventId: z.string(),
  window: z.string(),
  conditions: z.array(conditionExplanationSchema),
  suppressed: z.boolean(),
});

export const shadowAccountSchema = z.strictObject({
  accountId: z.string(),
  /** Hits of the candidate version. */
  candidateHits: count,
  /** Hits of the active version while the shadow ran. */
  activeHits: count,
  /** Of those hits, how many an allow entry or a snooze suppressed. */
  suppressedHits: count,
  firstHitAt: moment,
  lastHitAt: moment,
  /** The newest hit of each side, as evidence. */
  sample: z.strictObject({ candidate: sampleHitSchema.nullable(), active: sampleHitSchema.nullable() }),
});
export type ShadowAccount = z.infer<typeof shadowAccountSchema>;

/** GET /v1/rules/:id/shadow/report. */
export const shadowReportSchema = z.strictObject({
  shadow: shadowSchema,
  /** The period asked for, by the time events occurred; null: unbounded. */
  from: moment.nullable(),
  to: moment.nullable(),
  totals: z.strictObject({
    candidateHits: count,
    activeHits: count,
    suppressedHits: count,
    onlyCandidate: count,
    onlyActive: count,
    both: count,
  }),
  /** Accounts hit by the candidate alone, by the active version alone, and by both, most hits first (at most `limit` each). */
  onlyCandidate: z.array(shadowAccountSchema),
  onlyActive: z.array(shadowAccountSchema),
  both: z.array(shadowAccountSchema),
  /** Per UTC day: hits and distinct accounts of each side. */
  days: z.array(z.strictObject({ day: z.string(), candidateHits: count, activeHits: count, candidateAccounts: count, activeAccounts: count })),
});
export type ShadowReport = z.infer<typeof shadowReportSchema>;

const versionStatsSchema = z.strictObject({
  /** null: the rule's totals over every version. */
  version: count.nullable(),
  casesOpened: count,
  confirmed: count,
  dismissed: count,
  enforced: count,
  reversedOnAppeal: count,
  /** confirmed / (confirmed + dismissed) among the cases decided in the period; null when none was. */
  precision: z.number().nullable(),
  /** Median time from a case's opening to its first decision (confirmed or dismissed), in hours; null when none. */
  medianHoursToDecision: z.number().nullable(),
  hits: count,
  suppressedHits: count,
  /** Hits per 1,000 events evaluated in the period; null without events. */
  hitsPer1000Events: z.number().nullable(),
});
export type VersionQualityStats = z.infer<typeof versionStatsSchema>;

/** GET /v1/rules/:id/stats. */
export const ruleStatsSchema = z.strictObject({
  ruleId: z.string(),
  from: moment,
  to: moment,
  eventsEvaluated: count,
  total: versionStatsSchema,
  versions: z.array(versionStatsSchema),
});
export type QualityStats = z.infer<typeof ruleStatsSchema>;

/** GET /v1/rule-stats: every rule's stats over one period. */
export const ruleStatsPageSchema = z.strictObject({ from: moment, to: moment, items: z.array(ruleStatsSchema) });
export type QualityStatsPage = z.infer<typeof ruleStatsPageSchema>;
