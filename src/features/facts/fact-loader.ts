// Batches the fact reads of many evaluations into few statements (DataLoader): every read that
// the evaluations of one claimed batch ask for in the same tick goes out as one statement, and
// each distinct read is made once for the batch. So evaluation reads only the facts its rules'
// conditions get to (cheap gates first: fact-catalog's priorities), yet pays one statement per
// round of reads, not one per account or per judgement. One loader per claimed batch: its cache
// is the batch's consistent view of the data.
import DataLoader from "dataloader";
import { prepared, sql } from "../../db/sql";
import type { IndicatorKind, LinkBy } from "../../engine/fact-catalog";
import { indicatorHash } from "../indicators/stix";
import type { HubLimits } from "../events/link-policy";
import { type AccountRow, accountRowsMany, linkedAccountIdsMany } from "./fact-queries";
import type { Sql } from "../../db/database";
import { type UsageTotals, type ValueStats, componentTables, signalHitsMany, sumTotals, usageTotalsMany, valueCountsMany, valueStatsMany } from "./usage-rollups";

/** A read over one account or several, in [from, to]. `key` names it. */
export type SpanKey = { key: string; accountIds: string[]; from: Date; to: Date };
export type SignalKey = SpanKey & { signal: string; threshold: number };
/** A read of one component's rollups (link-components.ts), by its key. */
export type ComponentSpan = { component: string; from: Date; to: Date };
export type ComponentSignalSpan = ComponentSpan & { signal: string; threshold: number };
/**
 * A component's members as the cluster facts need them: how many, which are suspended, when each
 * was born (the provider's createdAt, else first sight) in order, and how many ages the provider gave.
 */
export type ComponentView = { size: number; members: string[]; suspended: Set<string>; bornMs: number[]; knownAges: number };
export type EvidenceKey = { accountId: string; from: Date; to: Date; limit: number };
export type DirectKey = { accountId: string; by: LinkBy; from: Date; to: Date };
/** indicatorMatches: an account's values of one kind in [from, to] against one partner's indicators valid at `to`. */
export type IndicatorKey = { accountId: string; kind: IndicatorKind; source: string; from: Date; to: Date };
/** `bornAt`: the provider's createdAt when it gave one (`ageKnown`), else the first sight. */
export type AccountBasics = { status: string; firstSeenAt: Date; bornAt: Date; ageKnown: boolean };

export type FactLoader = {
  /** Reads over one account. */
  totals: DataLoader<SpanKey, UsageTotals, string>;
  values: DataLoader<SpanKey, ValueStats, string>;
  signalHits: DataLoader<SignalKey, number, string>;
  /** The component an account is in, in a link scope; null when it is alone there. */
  component: DataLoader<{ accountId: string; scope: LinkBy }, string | null, string>;
  componentView: DataLoader<string, ComponentView, string>;
  /** Reads of a component's rollups: the same whatever its size. */
  componentTotals: DataLoader<ComponentSpan, UsageTotals, string>;
  componentSignalHits: DataLoader<ComponentSignalSpan, number, string>;
  /** The account fact's row (status, first seen, confirmed cases) of a judged account. */
  account: DataLoader<string, AccountRow | null, string>;
  /** Status and first sight of any account (linked ones: suspended count, new-account share). */
  basics: DataLoader<string, AccountBasics | null, string>;
  /** The accounts that shared a non-hub value with an account within a window (one hop; linked facts with reach "direct"). */
  direct: DataLoader<DirectKey, string[], string>;
  /** The newest event ids of an account in a window (a hit's evidence). */
  evidence: DataLoader<EvidenceKey, string[], string>;
  /** How many of an account's distinct values of a kind in a window match a partner's indicators. */
  indicatorMatches: DataLoader<IndicatorKey, number, string>;
  /** Requests per model and prompt template ("model:<name>", "template:<hash>") over accounts, and over a component's rollups. */
  valueCounts: DataLoader<SpanKey, Map<string, number>, string>;
  componentValueCounts: DataLoader<ComponentSpan, Map<string, number>, string>;
  /** When a model was first seen by the provider (any account's first event of it), in ms; null for a model never stored. */
  modelFirstSeen: DataLoader<string, number | null, string>;
};

/** DataLoader.loadMany whose first failure is thrown, not returned among the values. */
export async function loadAll<K, V>(loader: DataLoader<K, V, string>, keys: readonly K[]): Promise<V[]> {
  const found = await loader.loadMany(keys);
  const failed = found.find((v): v is Error => v instanceof Error);
  if (failed) throw failed;
  return found as V[];
}

const span = (k: { from: Date; to: Date }) => `${k.from.getTime()}:${k.to.getTime()}`;
/** Reads per statement: bounded so that a round of a huge batch still goes out as statements of sane size. */
const maxAsks = 5000;

/**
 * `hubLimits`: the one-hop reads' (the link policy's; tests use small ones, as the uniting passes do).
 * `partners`: the sharing partners' secrets, which indicatorMatches hashes the account's values with.
 */
export function createFactLoader(db: Sql, opts: { hubLimits?: HubLimits; partners?: Record<string, string> } = {}): FactLoader {
  const spanKey = (k: { key: string; from: Date; to: Date }) => `${k.key}:${span(k)}`;
  const signalCacheKey = (k: { key: string; from: Date; to: Date; signal: string; threshold: number }) => `${spanKey(k)}:${k.signal}:${k.threshold}`;
  const totalsOf = async (keys: readonly SpanKey[]) => {
    const members = keys.flatMap((k) => k.accountIds.map((accountId) => ({ accountId, from: k.from, to: k.to })));
    const each = await usageTotalsMany(db, members);
    let at = 0;
    return keys.map((k) => sumTotals(each.slice(at, (at += k.accountIds.length))));
  };
  const basics: FactLoader["basics"] = new DataLoader(
    async (ids) => {
      const rows = await db.query<{ id: string; status: string; first_seen_at: Date; created_at: Date | null }>(prepared("cg_account_basics", sql`
        SELECT a.id, a.status::text AS status, a.first_seen_at, p.created_at
        FROM account a LEFT JOIN account_profile p ON p.account_id = a.id WHERE a.id = ANY(${[...ids]}::text[])`));
      const byId = new Map(
        rows.map((r) => [
          r.id,
          { status: r.status, firstSeenAt: new Date(r.first_seen_at), bornAt: new Date(r.created_at ?? r.first_seen_at), ageKnown: r.created_at !== null },
        ]),
      );
      return ids.map((id) => byId.get(id) ?? null);
    },
    { maxBatchSize: 50_000 },
  );
  const componentKey = (k: ComponentSpan) => `${k.component}:${span(k)}`;
  return {
    totals: new DataLoader<SpanKey, UsageTotals, string>(totalsOf, { cacheKeyFn: spanKey, maxBatchSize: maxAsks }),
    values: new DataLoader<SpanKey, ValueStats, string>((keys) => valueStatsMany(db, [...keys]), { cacheKeyFn: spanKey, maxBatchSize: maxAsks }),
    signalHits: new DataLoader<SignalKey, number, string>((keys) => signalHitsMany(db, [...keys]), { cacheKeyFn: signalCacheKey, maxBatchSize: maxAsks }),
    component: new DataLoader(
      async (keys) => {
        const rows = await db.query<{ account_id: string; scope: string; component: string }>(prepared("cg_link_components", sql`
          SELECT c.account_id, c.scope, c.component
          FROM unnest(${keys.map((k) => k.accountId)}::text[], ${keys.map((k) => k.scope)}::text[]) AS r(account_id, scope)
          JOIN link_component c ON c.account_id = r.account_id AND c.scope = r.scope`));
        const of = new Map(rows.map((r) => [`${r.scope}:${r.account_id}`, r.component]));
        return keys.map((k) => of.get(`${k.scope}:${k.accountId}`) ?? null);
      },
      { cacheKeyFn: (k) => `${k.scope}:${k.accountId}`, maxBatchSize: maxAsks },
    ),
    componentView: new DataLoader(
      async (components) => {
        const rows = await db.query<{ component: string; ids: string[] }>(prepared("cg_component_members", sql`
          SELECT component, array_agg(account_id) AS ids FROM link_component WHERE component = ANY(${[...components]}::text[]) GROUP BY 1`));
        const ids = new Map(rows.map((r) => [r.component, r.ids]));
        const all = [...new Set(rows.flatMap((r) => r.ids))];
        const found = await loadAll(basics, all);
        const basicsOf = new Map(all.map((id, i) => [id, found[i]]));
        return components.map((c) => {
          const members = (ids.get(c) ?? []).sort();
          const suspended = new Set(members.filter((id) => basicsOf.get(id)?.status === "suspended"));
          const bornMs = members.map((id) => basicsOf.get(id)?.bornAt.getTime() ?? Number.NEGATIVE_INFINITY).sort((a, b) => a - b);
          const knownAges = members.filter((id) => basicsOf.get(id)?.ageKnown).length;
          return { size: members.length, members, suspended, bornMs, knownAges };
        });
      },
      { maxBatchSize: maxAsks },
    ),
    componentTotals: new DataLoader(
      (keys) => usageTotalsMany(db, keys.map((k) => ({ accountId: k.component, from: k.from, to: k.to })), componentTables),
      { cacheKeyFn: componentKey, maxBatchSize: maxAsks },
    ),
    valueCounts: new DataLoader<SpanKey, Map<string, number>, string>((keys) => valueCountsMany(db, [...keys]), { cacheKeyFn: spanKey, maxBatchSize: maxAsks }),
    componentValueCounts: new DataLoader(
      (keys) => valueCountsMany(db, keys.map((k) => ({ accountIds: [k.component], from: k.from, to: k.to })), componentTables),
      { cacheKeyFn: componentKey, maxBatchSize: maxAsks },
    ),
    modelFirstSeen: new DataLoader(
      async (models) => {
        const rows = await db.query<{ model: string; first_seen_at: Date }>(prepared("cg_model_first_seen", sql`
          SELECT model, first_seen_at FROM model_first_seen WHERE model = ANY(${[...models]}::text[])`));
        const at = new Map(rows.map((r) => [r.model, new Date(r.first_seen_at).getTime()]));
        return models.map((m) => at.get(m) ?? null);
      },
      { maxBatchSize: maxAsks },
    ),
    componentSignalHits: new DataLoader(
      (keys) => signalHitsMany(db, keys.map((k) => ({ ...k, accountIds: [k.component] })), componentTables),
      { cacheKeyFn: (k) => `${componentKey(k)}:${k.signal}:${k.threshold}`, maxBatchSize: maxAsks },
    ),
    account: new DataLoader(
      async (ids) => {
        const rows = await accountRowsMany(db, [...ids]);
        return ids.map((id) => rows.get(id) ?? null);
      },
      { maxBatchSize: maxAsks },
    ),
    basics,
    direct: new DataLoader((keys) => linkedAccountIdsMany(db, [...keys], opts.hubLimits), { cacheKeyFn: (k) => `${k.by}:${k.accountId}:${span(k)}`, maxBatchSize: maxAsks }),
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
    indicatorMatches: new DataLoader((keys) => indicatorMatchesMany(db, keys, opts.partners ?? {}), {
      cacheKeyFn: (k) => `${k.source}:${k.kind}:${k.accountId}:${span(k)}`,
      maxBatchSize: maxAsks,
    }),
  };
}

/**
 * Two statements for a whole round of asks: the accounts' distinct values of each kind in its
 * window (link keys hold a value's first and last sight; an account's own id for accountId), then
 * which of their hashes, keyed with each source's secret, are among that source's indicators valid
 * at the window's end. A source without a configured secret matches nothing.
 */
async function indicatorMatchesMany(db: Sql, keys: readonly IndicatorKey[], partners: Record<string, string>): Promise<number[]> {
  const linked = keys.map((k, i) => ({ k, i })).filter(({ k }) => k.kind !== "accountId" && partners[k.source] !== undefined);
  const values = linked.length
    ? await db.query<{ i: number; value: string }>(prepared("cg_indicator_values", sql`
        SELECT r.i, v.value
        FROM unnest(${linked.map((l) => l.i)}::int[], ${linked.map((l) => l.k.accountId)}::text[], ${linked.map((l) => l.k.kind)}::text[],
                    ${linked.map((l) => l.k.from.toISOString())}::timestamptz[], ${linked.map((l) => l.k.to.toISOString())}::timestamptz[]) AS r(i, account_id, kind, f, t)
        CROSS JOIN LATERAL (
          SELECT DISTINCT value FROM account_link_key k
          WHERE k.account_id = r.account_id AND k.kind = r.kind AND k.last_seen_at >= r.f AND k.first_seen_at <= r.t) v`))
    : [];
  const asks: { i: number; source: string; kind: string; hash: string; at: string }[] = [];
  const ask = (i: number, value: string) => {
    const k = keys[i]!;
    asks.push({ i, source: k.source, kind: k.kind, hash: indicatorHash(partners[k.source]!, k.kind, value), at: k.to.toISOString() });
  };
  keys.forEach((k, i) => k.kind === "accountId" && partners[k.source] !== undefined && ask(i, k.accountId));
  for (const v of values) ask(Number(v.i), v.value);
  if (asks.length === 0) return keys.map(() => 0);
  const rows = await db.query<{ i: number; n: number }>(prepared("cg_indicator_matches", sql`
    SELECT r.i, count(DISTINCT r.hash)::int AS n
    FROM unnest(${asks.map((a) => a.i)}::int[], ${asks.map((a) => a.source)}::text[], ${asks.map((a) => a.kind)}::text[], ${asks.map((a) => a.hash)}::text[],
                ${asks.map((a) => a.at)}::timestamptz[]) AS r(i, source, kind, hash, at)
    WHERE EXISTS (SELECT 1 FROM shared_indicator s WHERE s.source = r.source AND s.kind = r.kind AND s.value_hash = r.hash
                  AND s.valid_from <= r.at AND (s.valid_until IS NULL OR s.valid_until >= r.at))
    GROUP BY r.i`));
  const counts = new Map(rows.map((r) => [Number(r.i), Number(r.n)]));
  return keys.map((_, i) => counts.get(i) ?? 0);
}
