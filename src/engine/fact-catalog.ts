// Every fact a rule may name, with the params each takes. The single list the validator, the
// evaluator and the documentation read; values come from a FactSource at evaluation time.
import { z } from "zod";
import { parseWindow } from "./window";

const windowParam = z.string().superRefine((text, ctx) => {
  const r = parseWindow(text);
  if (!r.ok) ctx.addIssue({ code: "custom", message: r.message });
});
const signalParam = z.string().regex(/^[A-Za-z_][A-Za-z0-9_]{0,63}$/, "must be a signal name (letters, digits, _)");
// Signal rollups keep values in bins of 0.01, so a threshold is a multiple of 0.01 (exact, not rounded).
const thresholdParam = z
  .number()
  .min(0)
  .max(1)
  .refine((t) => Math.abs(t * 100 - Math.round(t * 100)) < 1e-9, "must be a multiple of 0.01 (e.g. 0.5, 0.93)");
/** A link scope: "any" (every strong kind) or one link kind (src/features/events/link-policy.ts, docs/linking.md). */
export const linkByParam = z.enum(["paymentFingerprint", "ipPrefix", "orgId", "promptTemplateHash", "sharedIpPrefix", "sharedIpPrefixTemplate", "sharedIpPrefixWave", "any"]);

export type LinkBy = z.infer<typeof linkByParam>;

export const windowAggregateNames = [
  "requestCount",
  "inputTokens",
  "outputTokens",
  "distinctModels",
  "distinctIps",
  "distinctCountries",
  "distinctPromptTemplates",
  "topTemplateShare",
  "newModelShare",
  "peakRequestsPerMinute",
  "signalRate",
  "indicatorMatches",
] as const;
export type WindowAggregateName = (typeof windowAggregateNames)[number];

export const linkedFactNames = [
  "linkedAccounts",
  "linkedSuspendedAccounts",
  "clusterRequestCount",
  "clusterOutputTokens",
  "clusterSignalRate",
  "clusterNewAccountShare",
  "clusterKnownAgeShare",
  "clusterTopTemplateShare",
  "clusterNewModelShare",
] as const;
export type LinkedFactName = (typeof linkedFactNames)[number];

export type FactKind = "event" | "account" | "window" | "linked";

export type FactDefinition = {
  kind: FactKind;
  /** Object-valued facts take a `path`; number-valued facts do not. */
  objectValued: boolean;
  params: z.ZodType<Record<string, unknown>>;
  description: string;
};

/** What a shared indicator can hash (docs/due-process.md#indicator-exchange). */
export const indicatorKinds = ["accountId", "paymentFingerprint", "ipPrefix", "promptTemplateHash"] as const;
export type IndicatorKind = (typeof indicatorKinds)[number];
/** A sharing partner's name, as CLAUSEGUARD_SHARING_PARTNERS names it. */
export const partnerNamePattern = /^[a-z0-9][a-z0-9_-]{0,63}$/;

const noParams = z.strictObject({});
const windowOnly = z.strictObject({ window: windowParam.optional() });
const signalParams = z.strictObject({ window: windowParam.optional(), signal: signalParam, threshold: thresholdParam.optional() });
/**
 * What a linked fact reads: the account's component (the default: every account joined to it by
 * non-hub values over all stored link keys, transitively; the same cost at any size), or `direct`:
 * the accounts that shared a non-hub value with it within the rule's window, one hop (at most
 * 5,000; for short windows, where shared cloud ranges must not chain unrelated customers together).
 */
export const linkReachParam = z.enum(["component", "direct"]);
export type LinkReach = z.infer<typeof linkReachParam>;
const linkParams = z.strictObject({ window: windowParam.optional(), by: linkByParam.optional(), reach: linkReachParam.optional() });
/** How recently a model must have been first seen to count as new (newModelShare, clusterNewModelShare). */
export const defaultNewModelDays = 7;
const newModelDays = z.number().positive().max(365);

const windowFact = (description: string, params: z.ZodType<Record<string, unknown>> = windowOnly): FactDefinition => ({
  kind: "window",
  objectValued: false,
  params,
  description,
});
const linkedFact = (description: string, params: z.ZodType<Record<string, unknown>> = linkParams): FactDefinition => ({
  kind: "linked",
  objectValued: false,
  params,
  description,
});

export const factCatalog: Record<string, FactDefinition> = {
  event: { kind: "event", objectValued: true, params: noParams, description: "The event being evaluated; read fields with `path`, e.g. $.signals.jailbreakAttempt." },
  account: {
    kind: "account",
    objectValued: true,
    params: noParams,
    description:
      "{ status, firstSeenAt, createdAt, ageDays, ageSource, ageKnown, verification, plan, confirmedCases } of the event's account: ageDays from the provider's createdAt when it gave one (ageSource provider, ageKnown true), else from the first sight (firstSeen); createdAt, verification and plan are null when the provider gave none.",
  },
  requestCount: windowFact("Requests by the account in the window."),
  inputTokens: windowFact("Input tokens of the account in the window."),
  outputTokens: windowFact("Output tokens of the account in the window."),
  distinctModels: windowFact("Distinct models the account called in the window."),
  distinctIps: windowFact("Distinct client IPs of the account in the window."),
  distinctCountries: windowFact("Distinct countries of the account in the window."),
  distinctPromptTemplates: windowFact("Distinct prompt templates of the account in the window."),
  topTemplateShare: windowFact("Share (0..1) of the account's requests in the window that used its most used prompt template."),
  newModelShare: windowFact(
    `Share (0..1) of the account's requests in the window that went to a model first seen by the provider (its first event in ClauseGuard, any account's) less than \`maxAgeDays\` (default ${defaultNewModelDays}) days before the event: distillation operations move to a newly released model within a day.`,
    z.strictObject({ window: windowParam.optional(), maxAgeDays: newModelDays.optional() }),
  ),
  peakRequestsPerMinute: windowFact("Most requests of the account in one clock minute of the window."),
  signalRate: windowFact("Share (0..1) of the account's requests in the window whose `signal` is true or >= `threshold` (default 0.5).", signalParams),
  indicatorMatches: windowFact(
    "Distinct values of `kind` (accountId, paymentFingerprint, ipPrefix, promptTemplateHash) the account used in the window that match an indicator imported from the sharing partner `source` and valid at the event's time (its own id for accountId: 0 or 1). A source that is not a configured partner matches nothing.",
    z.strictObject({ window: windowParam.optional(), kind: z.enum(indicatorKinds), source: z.string().regex(partnerNamePattern, "must be a sharing partner's name (lowercase letters, digits, '_', '-')") }),
  ),
  linkedAccounts: linkedFact(
    "Other accounts in this one's component of linked accounts (`by`, default any): joined to it by shared values that are not hubs, directly or through others, over all stored link keys. With `reach: direct`: the accounts that shared such a value with it within the window (one hop), as for every linked fact.",
  ),
  linkedSuspendedAccounts: linkedFact("Linked accounts whose status is suspended."),
  clusterRequestCount: linkedFact("Requests in the window (by whole minutes) of the account's component of linked accounts, the account included."),
  clusterOutputTokens: linkedFact("Output tokens in the window (by whole minutes) of the account's component of linked accounts, the account included."),
  clusterSignalRate: linkedFact(
    "signalRate over the account plus its linked accounts.",
    z.strictObject({ window: windowParam.optional(), by: linkByParam.optional(), reach: linkReachParam.optional(), signal: signalParam, threshold: thresholdParam.optional() }),
  ),
  clusterNewAccountShare: linkedFact(
    "Share of the cluster's accounts created less than `maxAgeDays` (default 14) days before the event: by the provider's createdAt where it gave one, else by the first sight in ClauseGuard.",
    z.strictObject({ window: windowParam.optional(), by: linkByParam.optional(), reach: linkReachParam.optional(), maxAgeDays: z.number().positive().max(3650).optional() }),
  ),
  clusterKnownAgeShare: linkedFact("Share of the cluster's accounts (this one included) whose creation time the provider gave: a rule can require the ages it judges to be known."),
  clusterTopTemplateShare: linkedFact(
    "topTemplateShare over the account's component of linked accounts (by whole minutes, as the other cluster facts): the share of the cluster's requests that used its most used prompt template. Scripted extraction spread over many accounts concentrates on few templates.",
  ),
  clusterNewModelShare: linkedFact(
    `newModelShare over the account's component of linked accounts (by whole minutes): the share of the cluster's requests that went to models first seen less than \`maxAgeDays\` (default ${defaultNewModelDays}) days before the event.`,
    z.strictObject({ window: windowParam.optional(), by: linkByParam.optional(), reach: linkReachParam.optional(), maxAgeDays: newModelDays.optional() }),
  ),
};

export const factNames = Object.keys(factCatalog);

/**
 * The order json-rules-engine computes facts in (its fact `priority`: higher first). Within an
 * all/any it evaluates the conditions of one priority together and stops between priorities once
 * the answer is known, so cheap gates (the event, totals read for the whole batch, linked
 * accounts) run first and the costly scans (per-value maps, signal bins, cluster-wide reads) run
 * only for the accounts that pass them. The outcome is the same in any order; the work is not.
 * A condition's own `priority` overrides this.
 */
const factPriorities: Record<string, number> = {
  event: 4,
  account: 3,
  requestCount: 3,
  inputTokens: 3,
  outputTokens: 3,
  peakRequestsPerMinute: 3,
  linkedAccounts: 3,
  clusterRequestCount: 2,
  clusterOutputTokens: 2,
  linkedSuspendedAccounts: 2,
  clusterNewAccountShare: 2,
  clusterKnownAgeShare: 2,
  distinctModels: 1,
  distinctIps: 1,
  distinctCountries: 1,
  distinctPromptTemplates: 1,
  topTemplateShare: 1,
  newModelShare: 1,
  clusterTopTemplateShare: 1,
  clusterNewModelShare: 1,
  signalRate: 1,
  clusterSignalRate: 1,
  indicatorMatches: 1,
};

export function isFactName(name: string): boolean {
  return Object.hasOwn(factCatalog, name);
}

export function factPriority(fact: unknown): number {
  return typeof fact === "string" && Object.hasOwn(factPriorities, fact) ? factPriorities[fact]! : 1;
}

