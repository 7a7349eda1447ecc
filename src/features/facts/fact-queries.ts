// Fact values read from the database for one account at one moment: window aggregates over the
// account's events, linked accounts through account_link_key, and the cluster they form.
// Windows are [at - window, at], both ends included, relative to the evaluated event's time.
import type { Db } from "../../db/transaction";
import type { LinkBy, LinkedFactName, WindowAggregateName } from "../../engine/fact-catalog";
import type { AccountFact, EventFact, FactSource, LinkedQuery, WindowQuery } from "../../engine/rule-evaluator";

const dayMs = 86_400_000;
/** A value shared by more accounts than this (a big NAT, a public template) links no one usefully: the cap bounds the work. */
export const maxLinkedAccounts = 5000;

export type BaseAggregates = {
  requestCount: number;
  inputTokens: number;
  outputTokens: number;
  distinctModels: number;
  distinctIps: number;
  distinctCountries: number;
  distinctPromptTemplates: number;
  topTemplateShare: number;
  peakRequestsPerMinute: number;
};

const num = (v: unknown) => (v === null || v === undefined ? 0 : Number(v));

export async function windowAggregates(db: Db, accountIds: string[], from: Date, to: Date): Promise<BaseAggregates> {
  const [row] = await db.$queryRaw<Record<string, unknown>[]>`
    SELECT count(*) AS request_count,
           coalesce(sum(input_tokens), 0) AS input_tokens,
           coalesce(sum(output_tokens), 0) AS output_tokens,
           count(DISTINCT model) AS distinct_models,
           count(DISTINCT ip) AS distinct_ips,
           count(DISTINCT country) AS distinct_countries,
           count(DISTINCT prompt_template_hash) AS distinct_templates
    FROM usage_event
    WHERE account_id = ANY(${accountIds}::text[]) AND occurred_at >= ${from} AND occurred_at <= ${to}`;
  const [top] = await db.$queryRaw<{ n: bigint }[]>`
    SELECT count(*) AS n FROM usage_event
    WHERE account_id = ANY(${accountIds}::text[]) AND occurred_at >= ${from} AND occurred_at <= ${to}
      AND prompt_template_hash IS NOT NULL
    GROUP BY prompt_template_hash ORDER BY n DESC LIMIT 1`;
  const [peak] = await db.$queryRaw<{ n: bigint }[]>`
    SELECT count(*) AS n FROM usage_event
    WHERE account_id = ANY(${accountIds}::text[]) AND occurred_at >= ${from} AND occurred_at <= ${to}
    GROUP BY date_trunc('minute', occurred_at) ORDER BY n DESC LIMIT 1`;
  const requestCount = num(row?.request_count);
  return {
    requestCount,
    inputTokens: num(row?.input_tokens),
    outputTokens: num(row?.output_tokens),
    distinctModels: num(row?.distinct_models),
    distinctIps: num(row?.distinct_ips),
    distinctCountries: num(row?.distinct_countries),
    distinctPromptTemplates: num(row?.distinct_templates),
    topTemplateShare: requestCount ? num(top?.n) / requestCount : 0,
    peakRequestsPerMinute: num(peak?.n),
  };
}

/** Share of requests whose signal is true or a number >= threshold. */
export async function signalRate(db: Db, accountIds: string[], from: Date, to: Date, signal: string, threshold: number): Promise<number> {
  const [row] = await db.$queryRaw<{ total: bigint; hits: bigint }[]>`
    SELECT count(*) AS total,
           count(*) FILTER (WHERE
             (jsonb_typeof(signals -> ${signal}) = 'boolean' AND (signals ->> ${signal})::boolean)
             OR (jsonb_typeof(signals -> ${signal}) = 'number' AND (signals ->> ${signal})::float8 >= ${threshold})
           ) AS hits
    FROM usage_event
    WHERE account_id = ANY(${accountIds}::text[]) AND occurred_at >= ${from} AND occurred_at <= ${to}`;
  const total = num(row?.total);
  return total ? num(row?.hits) / total : 0;
}

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
    once(`agg:${ids.length === 1 ? ids[0] : ids.join(",")}:${windowMs}`, () => windowAggregates(db, ids, fromOf(windowMs), at));
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
      if (name === "signalRate") {
        const threshold = q.threshold ?? 0.5;
        return once(`signal:${q.signal}:${threshold}:${q.windowMs}`, () =>
          signalRate(db, [event.accountId], fromOf(q.windowMs), at, q.signal!, threshold),
        );
      }
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
        case "clusterSignalRate": {
          const threshold = q.threshold ?? 0.5;
          return once(`csignal:${q.by}:${q.signal}:${threshold}:${q.windowMs}`, () =>
            signalRate(db, cluster, fromOf(q.windowMs), at, q.signal!, threshold),
          );
        }
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
