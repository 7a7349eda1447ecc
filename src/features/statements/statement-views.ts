// What the API answers about statements of reasons, as zod schemas: the services return these
// types, the OpenAPI document publishes them and the console imports them.
import { z } from "zod";
import { enforcementActions } from "../cases/case-model";
import { accountStatuses } from "../accounts/account-model";
import { pageOf } from "../../shared/page-view";
import { linkByParam } from "../../engine/fact-catalog";
import { statementKinds } from "./statement-model";

const moment = z.iso.datetime();

/** One fact that met the rule, with its value and window, in plain words. */
export const statementFactSchema = z.strictObject({
  fact: z.string(),
  /** The field an event or account fact was read at, e.g. $.signals.syntheticDataRequest. */
  path: z.string().nullable(),
  /** The fact's value when the rule hit. */
  value: z.unknown(),
  /** What the rule compared it with: the operator and its threshold. */
  operator: z.string(),
  threshold: z.unknown(),
  /** The window the value was computed over (e.g. "24h"), or null for an event or account fact. */
  window: z.string().nullable(),
  text: z.string(),
});
export type StatementFact = z.infer<typeof statementFactSchema>;

export const statementSchema = z.strictObject({
  id: z.string(),
  accountId: z.string(),
  kind: z.enum(statementKinds),
  issuedAt: moment,
  /** The enforcement it is about. */
  enforcementId: z.string(),
  caseId: z.string(),
  /** The measure: restrict or suspend. */
  action: z.enum(enforcementActions),
  /** The account's status once the change took effect. */
  accountStatus: z.enum(accountStatuses),
  /** Since when the change holds (the enforcement's start, or its lifting). */
  effectiveAt: moment,
  clause: z.strictObject({ ref: z.string(), text: z.string() }),
  /** The rule and the version that produced the case's evidence. */
  rule: z.strictObject({ id: z.string(), version: z.number().int() }),
  /** own_activity: the account's own facts met the rule; linked_account: it was acted on as part of a linked group. */
  grounds: z.enum(["own_activity", "linked_account"]),
  /** The kind of link, for linked_account grounds; never the other account. */
  linkedBy: linkByParam.nullable(),
  /** The facts that met the rule (own_activity enforcements only). */
  facts: z.array(statementFactSchema),
  /** Detection is by automated rules; the decision to act is taken by a person through the API. */
  automated: z.strictObject({ detection: z.boolean(), decision: z.boolean() }),
  /** Until when the holder may appeal; null where there is nothing to appeal (a lifting, a decided appeal). */
  appealUntil: moment.nullable(),
  /** The statement rendered from the notice template. */
  text: z.string(),
  /** The notice template it was rendered from: <id>@<sha256 prefix>. */
  template: z.string(),
});
export type Statement = z.infer<typeof statementSchema>;

export const statementPageSchema = pageOf(statementSchema);
export type StatementPage = z.infer<typeof statementPageSchema>;
