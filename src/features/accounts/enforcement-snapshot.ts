// The gateway's fast path: every API process keeps the accounts whose status ever changed (the
// restricted and suspended ones, and those lifted back to active) in memory, and answers
// GET /v1/accounts/:id/enforcement from there, never from the database. The set is reloaded every
// second by the scheduler (a change made in another process is seen within that), and at once,
// before the request that made it is answered, in the process that enforced or lifted.
import { sql } from "../../db/sql";
import type { Sql } from "../../db/database";
import type { EnforcementStatus } from "./account-views";

export type { EnforcementStatus } from "./account-views";

/** Where the snapshot comes from: the database in production, a fake in unit tests. */
export type EnforcementSource = { load(): Promise<Map<string, EnforcementStatus>> };

export function enforcementSourceOf(db: Sql): EnforcementSource {
  return {
    async load() {
      // Both reads are index-only scans of partial indexes (migration 20261201000000): their cost is
      // the number of accounts ever enforced, whatever the size of the account table.
      const [accounts, holding] = await Promise.all([
        db.query<{ id: string; status: EnforcementStatus["status"]; since: Date | null }>(sql`
          SELECT id, status::text AS status, status_since AS since FROM account WHERE status_since IS NOT NULL`),
        // The cases holding each account, the first enforced first (as the API has always listed them).
        db.query<{ account_id: string; case_ids: string[] }>(sql`
          SELECT account_id, array_agg(case_id ORDER BY first_at, case_id) AS case_ids
          FROM (SELECT account_id, case_id, min(created_at) AS first_at FROM enforcement WHERE lifted_at IS NULL GROUP BY 1, 2) held
          GROUP BY account_id`),
      ]);
      const cases = new Map(holding.map((h) => [h.account_id, h.case_ids]));
      const map = new Map<string, EnforcementStatus>();
      for (const a of accounts) {
        map.set(a.id, {
          accountId: a.id,
          status: a.status,
          since: a.since ? new Date(a.since).toISOString() : null,
          caseIds: a.status === "active" ? [] : (cases.get(a.id) ?? []),
        });
      }
      return map;
    },
  };
}

export function createEnforcementSnapshot(deps: { source: EnforcementSource }) {
  let current = new Map<string, EnforcementStatus>();
  let loadedAt: number | undefined;
  let inFlight: Promise<void> | undefined;
  let again = false;

  /** Reloads; a call during a load waits for a further load that starts after it (so it sees every commit before it). */
  function refresh(): Promise<void> {
    if (inFlight) {
      again = true; // the load in flight loads once more before it resolves
      return inFlight;
    }
    inFlight = (async () => {
      try {
        do {
          again = false;
          current = await deps.source.load();
          loadedAt = Date.now();
        } while (again);
      } finally {
        inFlight = undefined;
      }
    })();
    return inFlight;
  }

  return {
    /** The API role loads it before answering and every second after (src/scheduler.ts); a failed load keeps the last snapshot. */
    refresh,
    /** An account the snapshot does not hold was never restricted or suspended: it is active. */
    status(accountId: string): EnforcementStatus {
      return current.get(accountId) ?? { accountId, status: "active", since: null, caseIds: [] };
    },
    /** How old the answers are, in ms (undefined before the first load). */
    ageMs: () => (loadedAt === undefined ? undefined : Date.now() - loadedAt),
    size: () => current.size,
  };
}

export type EnforcementSnapshot = ReturnType<typeof createEnforcementSnapshot>;
