// Fact values read from the database for one account at one moment: window aggregates from the
// usage rollups, linked accounts through account_link_key, and the cluster they form.
// Windows are [at - window, at], both ends included, relative to the evaluated event's time.
import type { Db } from "../../db/transaction";
import type { LinkBy, LinkedFactName, WindowAggregateName } from "../../engine/fact-catalog";
import type { AccountFact, EventFact, FactSource, LinkedQuery, WindowQuery } from "../../engine/rule-evaluator";
import { signalShare, usageAggregates } from "./usage-rollups";

const dayMs = 86_400_000;
/** A value shared by more accounts than this (a big NAT, a public template) links no one usefully: the cap bounds the work. */
export const maxLinkedAccounts = 5000;

export function linkKindsFor(by: LinkBy): string[] {
  return by === "any" ? ["paymentFingerprint", "ipPrefix", "orgId"] : [by];
}

/** Accounts (other than this one) that used a value of the given kinds that this one used, both within the window. */
export async function linkedAccountIds(db: Db, accountId: string, by: LinkBy, from: Date, to: Date): Promise<string[]> {
  const kinds = linkKindsFor(by);
  const rows = await db.$queryRaw<{ account_id: string }[]>`
    SELECT DISTINCT o.account_id
    FROM account_link_key m
    JOIN account_link_key o ON o.kind = m.kind AND o.value = m.value AND o.account_id <> m.account_id
    WHERE m.account_id = ${accountId} AND m.kind = ANY(${kinds}::text[])
      AND m.last_seen_at >= ${from} AND m.first_seen_at <= ${to}
      AND o.last_seen_at >= ${from} AND o.first_seen_at <= ${to}
    ORDER BY o.account_id
    LIMIT ${maxLinkedAccounts}`;
  return rows.map((r) => r.account_id);
}


/** The facts of one event, computed lazily and memoized: rules that share a fact query it once. */
export function createFactSource(db: Db, event: EventFact): FactSource {
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
  const aggregates = (ids: string[], windowMs: number) =>
    once(`agg:${ids.join(",")}:${windowMs}`, () => usageAggregates(db, ids, fromOf(windowMs), at));
  const share = (ids: string[], q: WindowQuery) => {
    const threshold = q.threshold ?? 0.5;
    return once(`signal:${ids.join(",")}:${q.signal}:${threshold}:${q.windowMs}`, async () =>
      signalShare(db, ids, fromOf(q.windowMs), at, q.signal!, threshold, (await aggregates(ids, q.windowMs)).requestCount),
    );
  };
  const linked = (by: LinkBy, windowMs: number) =>
    once(`linked:${by}:${windowMs}`, () => linkedAccountIds(db, event.accountId, by, fromOf(windowMs), at));

  const source: FactSource = {
    event,
    account: () =>
      once("account", async (): Promise<AccountFact> => {
        const row = await db.account.findUnique({ where: { id: event.accountId } });
        const confirmedCases = await db.violationCase.count({ where: { accountId: event.accountId, status: { in: ["confirmed", "enforced"] } } });
        const firstSeen = row?.firstSeenAt ?? at;
        return {
          status: row?.status ?? "active",
          firstSeenAt: firstSeen.toISOString(),
          ageDays: Math.max(0, (at.getTime() - firstSeen.getTime()) / dayMs),
          confirmedCases,
        };
      }),
    async windowAggregate(name: WindowAggregateName, q: WindowQuery): Promise<number> {
      if (name === "signalRate") return share([event.accountId], q);
      return (await aggregates([event.accountId], q.windowMs))[name];
    },
    async linkedFact(name: LinkedFactName, q: LinkedQuery): Promise<number> {
      const others = await linked(q.by, q.windowMs);
      const cluster = [event.accountId, ...others];
      switch (name) {
        case "linkedAccounts":
          return others.length;
        case "linkedSuspendedAccounts":
          return others.length ? db.account.count({ where: { id: { in: others }, status: "suspended" } }) : 0;
        case "clusterRequestCount":
          return (await aggregates(cluster, q.windowMs)).requestCount;
        case "clusterOutputTokens":
          return (await aggregates(cluster, q.windowMs)).outputTokens;
        case "clusterSignalRate":
          return share(cluster, q);
        case "clusterNewAccountShare": {
          const since = new Date(at.getTime() - (q.maxAgeDays ?? 14) * dayMs);
          const young = await db.account.count({ where: { id: { in: cluster }, firstSeenAt: { gt: since } } });
          return young / cluster.length;
        }
      }
    },
    contributingEventIds: (windowMs, limit) =>
      once(`ids:${windowMs}:${limit}`, async () => {
        const rows = await db.$queryRaw<{ event_id: string }[]>`
          SELECT event_id FROM usage_event
          WHERE account_id = ${event.accountId} AND occurred_at >= ${fromOf(windowMs)} AND occurred_at <= ${at}
          ORDER BY occurred_at DESC, id DESC LIMIT ${limit}`;
        return rows.map((r) => r.event_id);
      }),
  };
  return source;
}
