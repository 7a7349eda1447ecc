// The account's plain constants, without zod (the console may import them): its statuses. The
// API's views of an account are zod schemas in account-views.ts.

/** An account's status: the strongest enforcement still holding it (suspended over restricted), else active. */
export const accountStatuses = ["active", "restricted", "suspended"] as const;
export type AccountStatus = (typeof accountStatuses)[number];
