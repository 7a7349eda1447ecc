// Batches the fact reads of many evaluations into few statements (DataLoader): every read that
// the evaluations of one claimed batch ask for in the same tick goes out as one statement, and
// each distinct read is made once for the batch. So evaluation reads only the facts its rules'
// conditions get to (cheap gates first: fact-catalog's priorities), yet pays one statement per
// round of reads, not one per account or per judgement. One loader per claimed batch: its cache
// is the batch's consistent view of the data.
import DataLoader from "dataloader";
import pLimit from "p-limit";
import { prepared, sql } from "../../db/sql";
import type { LinkBy } from "../../engine/fact-catalog";
import { type AccountRow, accountRowsMany, linkedAccountIdsMany } from "./fact-queries";
import { type Queryable, type UsageTotals, type ValueStats, signalHitsMany, sumTotals, usageTotalsMany, valueStatsMany } from "./usage-rollups";

/** A read over one account or a cluster, in [from, to]. `key` names it (a cluster by its account and link query, not its members). */
export type SpanKey = { key: string; accountIds: string[]; from: Date; to: Date };
export type SignalKey = SpanKey & { signal: string; threshold: number };
/** An account and its linked accounts (`others`, as the linked read returned them: not copied per key). */
export type ClusterKey = { key: string; accountId: string; others: string[]; from: Date; to: Date };
export type ClusterSignalKey = ClusterKey & { signal: string; threshold: number };
export type LinkKey = { accountId: string; by: LinkBy; from: Date; to: Date };
export type EvidenceKey = { accountId: string; from: Date; to: Date; limit: number };
export type AccountBasics = { status: string; firstSeenAt: Date };

export type FactLoader = {
  /** Reads over one account; the cluster loaders read over an account and its linked accounts (fewer per statement). */
  totals: DataLoader<SpanKey, UsageTotals, string>;
  clusterTotals: DataLoader<ClusterKey, UsageTotals, string>;
  values: DataLoader<SpanKey, ValueStats, string>;
  signalHits: DataLoader<SignalKey, number, string>;
  clusterSignalHits: DataLoader<ClusterSignalKey, number, string>;
  linked: DataLoader<LinkKey, string[], string>;
  /** The account fact's row (status, first seen, confirmed cases) of a judged account. */
  account: DataLoader<string, AccountRow | null, string>;
  /** Status and first sight of any account (linked ones: suspended count, new-account share). */
  basics: DataLoader<string, AccountBasics | null, string>;
  /** The newest event ids of an account in a window (a hit's evidence). */
  evidence: DataLoader<EvidenceKey, string[], string>;
};

const span = (k: { from: Date; to: Date }) => `${k.from.getTime()}:${k.to.getTime()}`;
/** Reads per statement: bounded so that a round of a huge batch still goes out as statements of sane size. */
const maxAsks = 5000;
/**
 * Cluster reads carry up to 5,000 members each: fewer per statement, and at most two such
 * statements at a time per batch, their member lists built only when they run. (A round of a
 * 10,000-event batch of a 20,000-account ring asked for 25 million members at once, 3 GB.)
 */
const maxClusterAsks = 20;
const clusterStatementsAtOnce = 2;

/** `hubLimit`: see fact-queries' linkHubLimit (tests use small ones). */
export function createFactLoader(db: Queryable, opts: { hubLimit?: number } = {}): FactLoader {
  const spanKey = (k: { key: string; from: Date; to: Date }) => `${k.key}:${span(k)}`;
  const signalCacheKey = (k: { key: string; from: Date; to: Date; signal: string; threshold: number }) => `${spanKey(k)}:${k.signal}:${k.threshold}`;
  const totalsOf = async (keys: readonly SpanKey[]) => {
    const members = keys.flatMap((k) => k.accountIds.map((accountId) => ({ accountId, from: k.from, to: k.to })));
    const each = await usageTotalsMany(db, members);
    let at = 0;
    return keys.map((k) => sumTotals(each.slice(at, (at += k.accountIds.length))));
  };
  const clusterReads = pLimit(clusterStatementsAtOnce);
  const members = <K extends ClusterKey>(k: K) => ({ ...k, accountIds: [k.accountId, ...k.others] });
  return {
    totals: new DataLoader<SpanKey, UsageTotals, string>(totalsOf, { cacheKeyFn: spanKey, maxBatchSize: maxAsks }),
    clusterTotals: new DataLoader<ClusterKey, UsageTotals, string>((keys) => clusterReads(() => totalsOf(keys.map(members))), { cacheKeyFn: spanKey, maxBatchSize: maxClusterAsks }),
    values: new DataLoader<SpanKey, ValueStats, string>((keys) => valueStatsMany(db, [...keys]), { cacheKeyFn: spanKey, maxBatchSize: maxAsks }),
    signalHits: new DataLoader<SignalKey, number, string>((keys) => signalHitsMany(db, [...keys]), { cacheKeyFn: signalCacheKey, maxBatchSize: maxAsks }),
    clusterSignalHits: new DataLoader<ClusterSignalKey, number, string>((keys) => clusterReads(() => signalHitsMany(db, keys.map(members))), { cacheKeyFn: signalCacheKey, maxBatchSize: maxClusterAsks }),
    linked: new DataLoader((keys) => linkedAccountIdsMany(db, [...keys], opts.hubLimit), { cacheKeyFn: (k) => `${k.accountId}:${k.by}:${span(k)}`, maxBatchSize: maxAsks }),
    account: new DataLoader(
      async (ids) => {
        const rows = await accountRowsMany(db, [...ids]);
        return ids.map((id) => rows.get(id) ?? null);
      },
      { maxBatchSize: maxAsks },
    ),
    basics: new DataLoader(
      async (ids) => {
        const rows = await db.query<{ id: string; status: string; first_seen_at: Date }>(prepared("cg_account_basics", sql`
          SELECT id, status::text AS status, first_seen_at FROM account WHERE id = ANY(${[...ids]}::text[])`));
        const byId = new Map(rows.map((r) => [r.id, { status: r.status, firstSeenAt: new Date(r.first_seen_at) }]));
        return ids.map((id) => byId.get(id) ?? null);
      },
      { maxBatchSize: 50_000 },
    ),
    evidence: new DataLoader(
      async (keys) => {
        const rows = await db.query<{ i: number; ids: string[] | null }>(prepared("cg_contributing_events_many", sql`
          SELECT r.i, l.ids
          FROM unnest(${keys.map((_, i) => i)}::int[], ${keys.map((k) => k.accountId)}::text[], ${keys.map((k) => k.from.toISOString())}::timestamptz[],
                      ${keys.map((k) => k.to.toISOString())}::timestamptz[], ${keys.map((k) => k.limit)}::int[]) AS r(i, account_id, f, t, lim)
          CROSS JOIN LATERAL (
            SELECT array_agg(event_id ORDER BY occurred_at DESC, id DESC) AS ids FROM (
              SELECT e.event_id, e.occurred_at, e.id FROM usage_event e
              WHERE e.account_id = r.account_id AND e.occurred_at >= r.f AND e.occurred_at <= r.t
              ORDER BY e.occurred_at DESC, e.id DESC LIMIT r.lim) x
          ) l`));
        const byIndex = new Map(rows.map((r) => [Number(r.i), r.ids ?? []]));
        return keys.map((_, i) => byIndex.get(i) ?? []);
      },
      { cacheKeyFn: (k) => `${k.accountId}:${span(k)}:${k.limit}`, maxBatchSize: maxAsks },
    ),
  };
}
