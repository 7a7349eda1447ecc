// Fact values read from the database for one account at one moment: window aggregates from the
// usage rollups, linked accounts through account_link_key, and the cluster they form. Reads run
// on the driver (one statement each), and each value is computed once per evaluated event.
// Windows are [at - window, at], both ends included, relative to the evaluated event's time.
import { prepared, sql } from "../../db/sql";
import type { LinkBy, LinkedFactName, WindowAggregateName } from "../../engine/fact-catalog";
import type { AccountFact, EventFact, FactSource, LinkedQuery, WindowQuery } from "../../engine/evaluation";
import { type Queryable, type UsageTotals, type ValueStats, signalHits, usageTotals, valueStats } from "./usage-rollups";

const dayMs = 86_400_000;
/** A value shared by more accounts than this (a big NAT, a public template) links no one usefully: the cap bounds the work. */
export const maxLinkedAccounts = 5000;

export function linkKindsFor(by: LinkBy): string[] {
  return by === "any" ? ["paymentFingerprint", "ipPrefix", "orgId"] : [by];
}

/** Accounts (other than this one) that used a value of the given kinds that this one used, both within the window. */
export async function linkedAccountIds(db: Queryable, accountId: string, by: LinkBy, from: Date, to: Date): Promise<string[]> {
  return (await linkedAccountIdsMany(db, [{ accountId, by, from, to }]))[0]!;
}

/** linkedAccountIds for many (account, kinds, window) asks in one statement: evaluation asks for a whole batch. */
export async function linkedAccountIdsMany(db: Queryable, asks: { accountId: string; by: LinkBy; from: Date; to: Date }[]): Promise<string[][]> {
  if (asks.length === 0) return [];
  const rows = await db.query<{ i: number; ids: string[] | null }>(prepared("cg_linked_accounts_many", sql`
    SELECT r.i, l.ids
    FROM unnest(${asks.map((_, i) => i)}::int[], ${asks.map((a) => a.accountId)}::text[], ${asks.map((a) => linkKindsFor(a.by).join(","))}::text[],
                ${asks.map((a) => a.from.toISOString())}::timestamptz[], ${asks.map((a) => a.to.toISOString())}::timestamptz[])
         AS r(i, account_id, kinds, f, t)
    CROSS JOIN LATERAL (
      SELECT array_agg(account_id ORDER BY account_id) AS ids FROM (
        SELECT DISTINCT o.account_id
        FROM account_link_key m
        JOIN account_link_key o ON o.kind = m.kind AND o.value = m.value AND o.account_id <> m.account_id
        WHERE m.account_id = r.account_id AND m.kind = ANY(string_to_array(r.kinds, ','))
          AND m.last_seen_at >= r.f AND m.first_seen_at <= r.t
          AND o.last_seen_at >= r.f AND o.first_seen_at <= r.t
        ORDER BY o.account_id
        LIMIT ${maxLinkedAccounts}) x
    ) l`));
  const byIndex = new Map(rows.map((r) => [Number(r.i), r.ids ?? []]));
  return asks.map((_, i) => byIndex.get(i) ?? []);
}

/**
 * What evaluation read for a whole batch, for one account as of its newest event: totals and
 * value stats by window length, signal hits by `${signal}:${threshold}:${windowMs}`, linked
 * accounts by `${by}:${windowMs}`.
 */
export type Prefetched = {
  /** The account row as the batch began (the account fact is read as of now, not as of the event, live and in backtests alike). */
  account?: AccountRow | null;
  /** Which accounts, among every linked account the batch read, are suspended. */
  suspended?: Set<string>;
  totals?: Map<number, UsageTotals>;
  values?: Map<number, ValueStats>;
  signalHits?: Map<string, number>;
  linked?: Map<string, string[]>;
};

export const signalKey = (signal: string, threshold: number, windowMs: number) => `${signal}:${threshold}:${windowMs}`;

const num = (v: unknown) => (v === null || v === undefined ? 0 : Number(v));

type AccountRow = { status: string; first_seen_at: Date; confirmed: unknown };

/** The account fact's rows of many accounts in one statement (a batch judges many account-minutes). */
export async function accountRowsMany(db: Queryable, accountIds: string[]): Promise<Map<string, AccountRow>> {
  if (accountIds.length === 0) return new Map();
  const rows = await db.query<AccountRow & { id: string }>(prepared("cg_account_rows", sql`
    SELECT a.id, a.status::text AS status, a.first_seen_at,
           (SELECT count(*) FROM violation_case c WHERE c.account_id = a.id AND c.status IN ('confirmed', 'enforced')) AS confirmed
    FROM account a WHERE a.id = ANY(${accountIds}::text[])`));
  return new Map(rows.map((r) => [r.id, r]));
}

/** The suspended accounts among `accountIds`, in one statement. */
export async function suspendedAmong(db: Queryable, accountIds: string[]): Promise<Set<string>> {
  if (accountIds.length === 0) return new Set();
  const rows = await db.query<{ id: string }>(prepared("cg_suspended_among", sql`
    SELECT id FROM account WHERE id = ANY(${accountIds}::text[]) AND status = 'suspended'`));
  return new Set(rows.map((r) => r.id));
}

/**
 * The facts of one event, computed lazily and memoized: rules that share a fact query it once.
 * `prefetched` holds what was read for the whole batch at once (totals, linked accounts).
 */
export function createFactSource(db: Queryable, event: EventFact, prefetched: Prefetched = {}): FactSource {
  const at = new Date(event.occurredAt);
  const memo = new Map<string, Promise<unknown>>();
  const once = <T>(key: string, fn: () => Promise<T>): Promise<T> => {
    let p = memo.get(key) as Promise<T> | undefined;
    if (!p) {
      p = fn();
      memo.set(key, p);
    }
    return p;
  };
  const fromOf = (windowMs: number) => new Date(at.getTime() - windowMs);
  /** Only the account's own reads were prefetched; a cluster's are read here. */
  const own = (ids: string[]) => ids.length === 1 && ids[0] === event.accountId;
  const totals = (ids: string[], windowMs: number) => {
    const known = own(ids) ? prefetched.totals?.get(windowMs) : undefined;
    return known ? Promise.resolve(known) : once(`totals:${ids.join(",")}:${windowMs}`, () => usageTotals(db, ids, fromOf(windowMs), at));
  };
  const values = (ids: string[], windowMs: number) => {
    const known = own(ids) ? prefetched.values?.get(windowMs) : undefined;
    return known ? Promise.resolve(known) : once(`values:${ids.join(",")}:${windowMs}`, () => valueStats(db, ids, fromOf(windowMs), at));
  };
  const share = (ids: string[], q: WindowQuery) => {
    const threshold = q.threshold ?? 0.5;
    return once(`signal:${ids.join(",")}:${q.signal}:${threshold}:${q.windowMs}`, async () => {
      const { requestCount } = await totals(ids, q.windowMs);
      if (!requestCount) return 0;
      const known = own(ids) ? prefetched.signalHits?.get(signalKey(q.signal!, threshold, q.windowMs)) : undefined;
      return (known ?? (await signalHits(db, ids, fromOf(q.windowMs), at, q.signal!, threshold))) / requestCount;
    });
  };
  const linked = (by: LinkBy, windowMs: number) => {
    const known = prefetched.linked?.get(`${by}:${windowMs}`);
    return known ? Promise.resolve(known) : once(`linked:${by}:${windowMs}`, () => linkedAccountIds(db, event.accountId, by, fromOf(windowMs), at));
  };
  const countAccounts = async (ids: string[], condition: ReturnType<typeof sql>) => {
    const [row] = await db.query<{ n: unknown }>(sql`SELECT count(*) AS n FROM account WHERE id = ANY(${ids}::text[]) AND ${condition}`);
    return num(row?.n);
  };

  return {
    event,
    account: () =>
      once("account", async (): Promise<AccountFact> => {
        const row = prefetched.account !== undefined ? prefetched.account : (await accountRowsMany(db, [event.accountId])).get(event.accountId);
        const firstSeen = row?.first_seen_at ? new Date(row.first_seen_at) : at;
        return {
          status: row?.status ?? "active",
          firstSeenAt: firstSeen.toISOString(),
          ageDays: Math.max(0, (at.getTime() - firstSeen.getTime()) / dayMs),
          confirmedCases: num(row?.confirmed),
        };
      }),
    async windowAggregate(name: WindowAggregateName, q: WindowQuery): Promise<number> {
      const ids = [event.accountId];
      switch (name) {
        case "requestCount":
        case "inputTokens":
        case "outputTokens":
        case "peakRequestsPerMinute":
          return (await totals(ids, q.windowMs))[name];
        case "distinctModels":
        case "distinctIps":
        case "distinctCountries":
        case "distinctPromptTemplates":
          return (await values(ids, q.windowMs))[name];
        case "topTemplateShare": {
          const { requestCount } = await totals(ids, q.windowMs);
          return requestCount ? (await values(ids, q.windowMs)).topTemplateRequests / requestCount : 0;
        }
        case "signalRate":
          return share(ids, q);
      }
    },
    async linkedFact(name: LinkedFactName, q: LinkedQuery): Promise<number> {
      const others = await linked(q.by, q.windowMs);
      const cluster = [event.accountId, ...others];
      switch (name) {
        case "linkedAccounts":
          return others.length;
        case "linkedSuspendedAccounts": {
          const known = prefetched.suspended;
          if (known && prefetched.linked?.has(`${q.by}:${q.windowMs}`)) return others.filter((id) => known.has(id)).length;
          return others.length ? countAccounts(others, sql`status = 'suspended'`) : 0;
        }
        case "clusterRequestCount":
          return (await totals(cluster, q.windowMs)).requestCount;
        case "clusterOutputTokens":
          return (await totals(cluster, q.windowMs)).outputTokens;
        case "clusterSignalRate":
          return share(cluster, q);
        case "clusterNewAccountShare": {
          const since = new Date(at.getTime() - (q.maxAgeDays ?? 14) * dayMs);
          return (await countAccounts(cluster, sql`first_seen_at > ${since}`)) / cluster.length;
        }
      }
    },
    contributingEventIds: (windowMs, limit) =>
      once(`ids:${windowMs}:${limit}`, async () => {
        const rows = await db.query<{ event_id: string }>(prepared("cg_contributing_events", sql`
          SELECT event_id FROM usage_event
          WHERE account_id = ${event.accountId} AND occurred_at >= ${fromOf(windowMs)} AND occurred_at <= ${at}
          ORDER BY occurred_at DESC, id DESC LIMIT ${limit}`));
        return rows.map((r) => r.event_id);
      }),
  };
}
