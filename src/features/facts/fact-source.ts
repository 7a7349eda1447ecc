// The facts of one evaluated event or account-minute, as the rules read them: window aggregates
// from the usage rollups, linked accounts through account_link_key, and the cluster they form.
// Every read goes through a FactLoader (fact-loader.ts), so the evaluations of one batch share
// statements; each value is computed once per source. Windows are [at - window, at], both ends
// included, relative to the evaluated event's time.
import type { LinkBy, LinkedFactName, WindowAggregateName } from "../../engine/fact-catalog";
import type { AccountFact, EventFact, FactSource, LinkedQuery, WindowQuery } from "../../engine/evaluation";
import { type AccountBasics, type FactLoader, createFactLoader } from "./fact-loader";
import type { Queryable } from "./usage-rollups";

const dayMs = 86_400_000;
const num = (v: unknown) => (v === null || v === undefined ? 0 : Number(v));

/**
 * The facts of one event, computed lazily and memoized: rules that share a fact query it once.
 * Pass the batch's loader to share its reads (and their statements) with the batch's other sources.
 */
export function createFactSource(db: Queryable, event: EventFact, loader: FactLoader = createFactLoader(db)): FactSource {
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
  const self = (windowMs: number) => ({ key: event.accountId, accountIds: [event.accountId], from: fromOf(windowMs), to: at });
  /** The account and its linked accounts: named by the link query, whose answer its members are. */
  const cluster = (by: LinkBy, windowMs: number, others: string[]) => ({ key: `${event.accountId}~${by}:${windowMs}`, accountId: event.accountId, others, from: fromOf(windowMs), to: at });
  const linked = (by: LinkBy, windowMs: number) => loader.linked.load({ accountId: event.accountId, by, from: fromOf(windowMs), to: at });
  const ownShare = (q: WindowQuery) =>
    once(`signal:${q.signal}:${q.threshold ?? 0.5}:${q.windowMs}`, async () => {
      const { requestCount } = await loader.totals.load(self(q.windowMs));
      if (!requestCount) return 0;
      return (await loader.signalHits.load({ ...self(q.windowMs), signal: q.signal!, threshold: q.threshold ?? 0.5 })) / requestCount;
    });
  /** loadMany answers a failed read with an Error in its place: a fact must fail with it, not count around it. */
  const basicsOf = async (ids: string[]) => {
    const rows = await loader.basics.loadMany(ids);
    const failed = rows.find((r): r is Error => r instanceof Error);
    if (failed) throw failed;
    return rows as (AccountBasics | null)[];
  };

  return {
    event,
    account: () =>
      once("account", async (): Promise<AccountFact> => {
        // As of now, not as of the event, live and in backtests alike.
        const row = await loader.account.load(event.accountId);
        const firstSeen = row?.first_seen_at ? new Date(row.first_seen_at) : at;
        return {
          status: row?.status ?? "active",
          firstSeenAt: firstSeen.toISOString(),
          ageDays: Math.max(0, (at.getTime() - firstSeen.getTime()) / dayMs),
          confirmedCases: num(row?.confirmed),
        };
      }),
    async windowAggregate(name: WindowAggregateName, q: WindowQuery): Promise<number> {
      switch (name) {
        case "requestCount":
        case "inputTokens":
        case "outputTokens":
        case "peakRequestsPerMinute":
          return (await loader.totals.load(self(q.windowMs)))[name];
        case "distinctModels":
        case "distinctIps":
        case "distinctCountries":
        case "distinctPromptTemplates":
          return (await loader.values.load(self(q.windowMs)))[name];
        case "topTemplateShare": {
          const { requestCount } = await loader.totals.load(self(q.windowMs));
          return requestCount ? (await loader.values.load(self(q.windowMs))).topTemplateRequests / requestCount : 0;
        }
        case "signalRate":
          return ownShare(q);
      }
    },
    async linkedFact(name: LinkedFactName, q: LinkedQuery): Promise<number> {
      const others = await linked(q.by, q.windowMs);
      const all = cluster(q.by, q.windowMs, others);
      switch (name) {
        case "linkedAccounts":
          return others.length;
        case "linkedSuspendedAccounts":
          return (await basicsOf(others)).filter((b) => b?.status === "suspended").length;
        case "clusterRequestCount":
          return (await loader.clusterTotals.load(all)).requestCount;
        case "clusterOutputTokens":
          return (await loader.clusterTotals.load(all)).outputTokens;
        case "clusterSignalRate":
          return once(`cluster-signal:${q.by}:${q.signal}:${q.threshold ?? 0.5}:${q.windowMs}`, async () => {
            const { requestCount } = await loader.clusterTotals.load(all);
            if (!requestCount) return 0;
            return (await loader.clusterSignalHits.load({ ...all, signal: q.signal!, threshold: q.threshold ?? 0.5 })) / requestCount;
          });
        case "clusterNewAccountShare": {
          const since = at.getTime() - (q.maxAgeDays ?? 14) * dayMs;
          const basics = await basicsOf([event.accountId, ...others]);
          return basics.filter((b) => b !== null && b.firstSeenAt.getTime() > since).length / basics.length;
        }
      }
    },
    contributingEventIds: (windowMs, limit) => loader.evidence.load({ accountId: event.accountId, from: fromOf(windowMs), to: at, limit }),
  };
}
