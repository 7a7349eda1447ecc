// What the API answers about accounts, as zod schemas: the gateway's enforcement answer, the
// account view an analyst opens, its hourly usage, and the provider's profiles. The services build
// these shapes (their return types are these schemas' types), the OpenAPI document publishes them,
// test/openapi.e2e.test.ts holds real answers to them, and the console imports their types.
import { z } from "zod";
import { caseSummarySchema } from "../cases/case-views";
import { enforcementActions } from "../cases/case-model";
import { accountStatuses } from "./account-model";
import { accountSuppressionSchema } from "../suppressions/suppression-views";

const moment = z.iso.datetime();
const status = z.enum(accountStatuses);

/** GET /v1/accounts/:id/enforcement: what the gateway asks before serving a request. */
export const enforcementStatusSchema = z.strictObject({
  accountId: z.string(),
  status,
  /** When the account got this status; null for an account never restricted or suspended. */
  since: moment.nullable(),
  /** The cases whose enforcements hold the account, the first enforced first. */
  caseIds: z.array(z.string()),
});
export type EnforcementStatus = z.infer<typeof enforcementStatusSchema>;

/** What the provider said of an account (PUT /v1/accounts/:id). */
export const accountProfileSchema = z.strictObject({
  accountId: z.string(),
  createdAt: moment.nullable(),
  verification: z.string().nullable(),
  plan: z.string().nullable(),
  orgId: z.string().nullable(),
  updatedAt: moment,
});
export type AccountProfile = z.infer<typeof accountProfileSchema>;

/** PUT /v1/accounts: every profile set, in account id order. */
export const profilesResultSchema = z.strictObject({ updated: z.number().int(), items: z.array(accountProfileSchema) });
export type ProfilesResult = z.infer<typeof profilesResultSchema>;

const count = z.number().int();

/** GET /v1/accounts/:id. */
export const accountViewSchema = z.strictObject({
  accountId: z.string(),
  orgId: z.string().nullable(),
  status,
  statusSince: moment.nullable(),
  firstSeenAt: moment,
  lastSeenAt: moment,
  /** What the provider said of the account, or null. */
  profile: accountProfileSchema.nullable(),
  /** The window aggregates over the last 24 hours. */
  usage24h: z.strictObject({
    requestCount: count,
    inputTokens: count,
    outputTokens: count,
    peakRequestsPerMinute: count,
    distinctModels: count,
    distinctIps: count,
    distinctCountries: count,
    distinctPromptTemplates: count,
    /** Share of the requests that used the most used prompt template (0 without requests). */
    topTemplateShare: z.number(),
  }),
  /** The account's active cases, newest activity first. */
  openCases: z.array(caseSummarySchema),
  /** Accounts linked over `window` by each key; sharedIpPrefix: weak links through shared infrastructure; hubs: values too many accounts used, which link no one. */
  linkedAccounts: z.strictObject({
    window: z.string(),
    paymentFingerprint: z.array(z.string()),
    ipPrefix: z.array(z.string()),
    orgId: z.array(z.string()),
    sharedIpPrefix: z.array(z.string()),
    hubs: z.array(z.strictObject({ kind: z.string(), value: z.string() })),
  }),
  /** Every enforcement placed on the account (newest first, at most 100), lifted or not. */
  enforcements: z.array(
    z.strictObject({
      id: z.string(),
      caseId: z.string(),
      action: z.enum(enforcementActions),
      actor: z.string(),
      note: z.string(),
      at: moment,
      liftedAt: moment.nullable(),
      liftedBy: z.string().nullable(),
    }),
  ),
  /** Allow entries and snoozes that hold for the account now, and its newest suppressed hits (docs/rule-lifecycle.md). */
  suppression: accountSuppressionSchema,
});
export type AccountView = z.infer<typeof accountViewSchema>;

/** One hour of an account's usage (hours without requests are left out). */
export const usagePointSchema = z.strictObject({
  hour: moment,
  requests: count,
  inputTokens: count,
  outputTokens: count,
  /** Per signal: the share of the hour's requests whose value is true or >= signalThreshold. */
  signalRates: z.record(z.string(), z.number()),
});
export type UsagePoint = z.infer<typeof usagePointSchema>;

/** GET /v1/accounts/:id/usage. */
export const usageSeriesSchema = z.strictObject({
  accountId: z.string(),
  from: moment,
  to: moment,
  bucket: z.literal("1h"),
  signalThreshold: z.number(),
  items: z.array(usagePointSchema),
});
export type UsageSeries = z.infer<typeof usageSeriesSchema>;
