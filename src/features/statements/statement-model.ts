// Statements of reasons: their kinds. Plain constants, shared by the server and the console.

/** enforcement: a measure placed; lifting: a measure lifted; appeal_upheld: an appeal decided and the measure stands. */
export const statementKinds = ["enforcement", "lifting", "appeal_upheld"] as const;
export type StatementKind = (typeof statementKinds)[number];

/** How long after a statement its holder may appeal, by default (the EU DSA asks for at least six months). */
export const defaultAppealFilingDays = 180;
