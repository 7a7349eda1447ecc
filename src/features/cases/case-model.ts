// The violation case (SPEC.md "Violation case"): its statuses, the moves between them, which moves
// must say why, and the dismissal cool-down. Plain constants without zod, shared by the server, the
// CLI and the analyst console (which bundles them); the API's views of a case are zod schemas in
// case-views.ts.
import { type Severity, severities } from "../../engine/rule-model";

export { type Severity, severities };

/** Every status, in the order the queue shows them (the database's `case_status` enum has the same values). */
export const caseStatuses = ["open", "investigating", "confirmed", "enforced", "dismissed", "resolved"] as const;
export type CaseStatus = (typeof caseStatuses)[number];

/** A case in one of these is the account's active case for its rule: new hits are added to it, and there is at most one. */
export const activeStatuses = ["open", "investigating", "confirmed", "enforced"] as const satisfies readonly CaseStatus[];

/** The only moves a case can make. `enforced` is reached through enforce (POST /v1/cases/:id/enforce), which also acts on the account. */
export const allowedMoves: Record<CaseStatus, CaseStatus[]> = {
  open: ["investigating", "confirmed", "dismissed"],
  investigating: ["confirmed", "dismissed"],
  confirmed: ["enforced", "dismissed"],
  enforced: ["resolved"],
  dismissed: ["open"],
  resolved: [],
};

/** Moves that must say why (a note). */
export const noteRequiredFor: CaseStatus[] = ["dismissed", "enforced", "resolved"];

/** A hit less than this long after a dismissal is counted on the dismissed case, which is not reopened. */
export const dismissalCooldownMs = 7 * 86_400_000;

/** What a timeline entry records: the case opened (by a rule's hit), a move, a note, an assignment, an enforcement, an appeal filed or decided, its rule snoozed for the account or the snooze cancelled. */
export const timelineKinds = ["opened", "transition", "note", "assign", "enforce", "appeal", "snoozed", "snooze_cancelled"] as const;
export type TimelineKind = (typeof timelineKinds)[number];

/** What enforcing a case does to its account (and to linked accounts on request). */
export const enforcementActions = ["restrict", "suspend"] as const;
export type EnforcementAction = (typeof enforcementActions)[number];

