// The rule document's plain constants, without zod: the rule schema (rule-schema.ts), the case
// model and the analyst console all take them from here. Severity order matters: low..critical,
// as the database's `severity` enum sorts them.
export const severities = ["low", "medium", "high", "critical"] as const;
export type Severity = (typeof severities)[number];
