// Appeals: their statuses, the moves between them, and what a reversal does to the case. Plain
// constants, shared by the server and the console.

export const appealStatuses = ["submitted", "under_review", "upheld", "reversed"] as const;
export type AppealStatus = (typeof appealStatuses)[number];

/** Statuses that still wait for a decision (an overdue appeal is one of these past its deadline). */
export const openAppealStatuses = ["submitted", "under_review"] as const satisfies readonly AppealStatus[];

/** The only moves an appeal can make; upheld and reversed are final. */
export const appealMoves: Record<AppealStatus, AppealStatus[]> = {
  submitted: ["under_review", "upheld", "reversed"],
  under_review: ["upheld", "reversed"],
  upheld: [],
  reversed: [],
};

/**
 * What a reversal does to the case: `dismissed` (the case was wrong: every enforcement of it is
 * lifted, the case is dismissed), `open` (lifted too, and the case goes back to the queue to be
 * looked at again), `unchanged` (only the appellant's enforcements of this case are lifted, e.g.
 * an account wrongly linked; the case and its other enforcements stand).
 */
export const caseOutcomes = ["dismissed", "open", "unchanged"] as const;
export type CaseOutcome = (typeof caseOutcomes)[number];

/** The longest explanation a holder may give, and the most attachments (references, not files). */
export const maxExplanationLength = 5000;
export const maxAttachments = 10;
export const defaultAppealDecisionDays = 14;
