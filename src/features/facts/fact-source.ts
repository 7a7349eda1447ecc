// The facts of one evaluated event or account-minute, as the rules read them: window aggregates
// from the usage rollups, and the linked-account facts from the account's component of linked
// accounts (link-components.ts) and that component's rollups, whatever its size.
// Every read goes through a FactLoader (fact-loader.ts), so the evaluations of one batch share
// statements; each value is computed once per source. Windows are [at - window, at], both ends
// included, relative to the evaluated event's time.
import { type LinkBy, type LinkedFactName, type WindowAggregateName, defaultNewModelDays } from "../../engine/fact-catalog";
import type { AccountFact, ConditionExplanation, EventFact, FactSource, LinkedQuery, WindowQuery } from "../../engine/evaluation";
import { factReader } from "../../engine/fact-reader";
import { type FactLoader, type SpanKey, createFactLoader, loadAll } from "./fact-loader";
import type { Sql } from "../../db/database";

const dayMs = 86_400_000;
const minuteMs = 60_000;
/** The index of the first value above `t` in ascending `sorted` (its length when none is). */
function firstAbove(sorted: number[], t: number): number {
  let lo = 0;
  let hi = sorted.length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (sorted[mid]! > t) hi = mid;
    else lo = mid + 1;
  }
  return lo;
}

const num = (v: unknown) => (v === null || v === undefined ? 0 : Number(v));

/**
 * The facts of one event, computed lazily and memoized: rules that share a fact query it once.
 * Pass the batch's loader to share its reads (and their statements) with the batch's other sources.
 */
export function createFactSource(db: Sql, event: EventFact, loader: FactLoader = createFactLoader(db)): FactSource {
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
  const componentOf = (by: LinkBy) => loader.component.load({ accountId: event.accountId, scope: by });
  // A component's rollups are read by whole minutes (no raw event carries a component's key): the
  // minutes that start within the window, through the end of the evaluated event's minute. So the
  // span is named by those minutes, and every judgement of one component within the same minute
  // shares one read (the ring's 20,000 accounts: one read per window and minute, not per account).
  const componentSpan = (component: string, windowMs: number) => ({
    component,
    from: new Date(Math.ceil((at.getTime() - windowMs) / minuteMs) * minuteMs),
    to: new Date(Math.floor(at.getTime() / minuteMs) * minuteMs),
  });
  /** The share of a span's requests whose signal is raised (0 without requests). */
  const spanShare = async (span: SpanKey, q: WindowQuery) => {
    const { requestCount } = await loader.totals.load(span);
    if (!requestCount) return 0;
    return (await loader.signalHits.load({ ...span, signal: q.signal!, threshold: q.threshold ?? 0.5 })) / requestCount;
  };
  const ownShare = (q: WindowQuery) => once(`signal:${q.signal}:${q.threshold ?? 0.5}:${q.windowMs}`, () => spanShare(self(q.windowMs), q));
  /** The first moment a model counts as new for newModelShare: `maxAgeDays` before the event. */
  const newSince = (q: { maxAgeDays?: number }) => at.getTime() - (q.maxAgeDays ?? defaultNewModelDays) * dayMs;
  /** The share of `requests` that went to models first seen after `since`, from requests per model. */
  const newModelShareOf = async (counts: Map<string, number>, requests: number, since: number) => {
    if (!requests) return 0;
    const models = [...counts.keys()].filter((k) => k.startsWith("model:"));
    const firstSeen = await loadAll(loader.modelFirstSeen, models.map((k) => k.slice("model:".length)));
    let n = 0;
    models.forEach((k, i) => {
      const f = firstSeen[i];
      if (f !== null && f !== undefined && f > since) n += counts.get(k)!;
    });
    return n / requests;
  };
  /** The share of `requests` that used the most used prompt template, from requests per template. */
  const topTemplateShareOf = (counts: Map<string, number>, requests: number) => {
    if (!requests) return 0;
    let top = 0;
    for (const [k, n] of counts) if (k.startsWith("template:") && n > top) top = n;
    return top / requests;
  };
  const ownNewModelShare = async (q: WindowQuery) =>
    newModelShareOf(await loader.valueCounts.load(self(q.windowMs)), (await loader.totals.load(self(q.windowMs))).requestCount, newSince(q));
  const ownTopTemplateShare = async (windowMs: number) => {
    const { requestCount } = await loader.totals.load(self(windowMs));
    return requestCount ? (await loader.values.load(self(windowMs))).topTemplateRequests / requestCount : 0;
  };
  /** A share of a component's requests over the window whose signal is raised. */
  const componentShare = (component: string, q: LinkedQuery) =>
    once(`cluster-signal:${q.by}:${q.signal}:${q.threshold ?? 0.5}:${q.windowMs}`, async () => {
      const span = componentSpan(component, q.windowMs);
      const { requestCount } = await loader.componentTotals.load(span);
      if (!requestCount) return 0;
      return (await loader.componentSignalHits.load({ ...span, signal: q.signal!, threshold: q.threshold ?? 0.5 })) / requestCount;
    });

  /** A linked fact over the account and its one-hop set within the window (reach "direct"), read exactly. */
  const directFact = async (name: LinkedFactName, q: LinkedQuery, since: number): Promise<number> => {
    const linked = await loader.direct.load({ accountId: event.accountId, by: q.by, from: fromOf(q.windowMs), to: at });
    const group = { key: `direct:${q.by}:${event.accountId}`, accountIds: [event.accountId, ...linked], from: fromOf(q.windowMs), to: at };
    switch (name) {
      case "linkedAccounts":
        return linked.length;
      case "linkedSuspendedAccounts":
        return (await loadAll(loader.basics, linked)).filter((b) => b?.status === "suspended").length;
      case "clusterRequestCount":
        return (await loader.totals.load(group)).requestCount;
      case "clusterOutputTokens":
        return (await loader.totals.load(group)).outputTokens;
      case "clusterSignalRate":
        return spanShare(group, q);
      case "clusterNewAccountShare": {
        const all = await loadAll(loader.basics, group.accountIds);
        return all.filter((b) => b !== null && b.bornAt.getTime() > since).length / all.length;
      }
      case "clusterKnownAgeShare": {
        const all = await loadAll(loader.basics, group.accountIds);
        return all.filter((b) => b?.ageKnown).length / all.length;
      }
      case "clusterTopTemplateShare":
        return topTemplateShareOf(await loader.valueCounts.load(group), (await loader.totals.load(group)).requestCount);
      case "clusterNewModelShare":
        return newModelShareOf(await loader.valueCounts.load(group), (await loader.totals.load(group)).requestCount, newSince(q));
    }
  };

  return {
    event,
    account: () =>
      once("account", async (): Promise<AccountFact> => {
        // As of now, not as of the event, live and in backtests alike.
        const row = await loader.account.load(event.accountId);
        const firstSeen = row?.first_seen_at ? new Date(row.first_seen_at) : at;
        const created = row?.created_at ? new Date(row.created_at) : null;
        return {
          status: row?.status ?? "active",
          firstSeenAt: firstSeen.toISOString(),
          createdAt: created?.toISOString() ?? null,
          ageDays: Math.max(0, (at.getTime() - (created ?? firstSeen).getTime()) / dayMs),
          ageSource: created ? "provider" : "firstSeen",
          ageKnown: created !== null,
          verification: row?.verification ?? null,
          plan: row?.plan ?? null,
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
        case "topTemplateShare":
          return ownTopTemplateShare(q.windowMs);
        case "newModelShare":
          return ownNewModelShare(q);
        case "signalRate":
          return ownShare(q);
        case "indicatorMatches":
          return loader.indicatorMatches.load({ accountId: event.accountId, kind: q.kind!, source: q.source!, from: fromOf(q.windowMs), to: at });
      }
    },
    async linkedFact(name: LinkedFactName, q: LinkedQuery): Promise<number> {
      const since = at.getTime() - (q.maxAgeDays ?? 14) * dayMs;
      if (q.reach === "direct") return directFact(name, q, since);
      const component = await componentOf(q.by);
      if (component === null) {
        // Alone in this scope: the cluster is the account itself.
        switch (name) {
          case "linkedAccounts":
          case "linkedSuspendedAccounts":
            return 0;
          case "clusterRequestCount":
            return (await loader.totals.load(self(q.windowMs))).requestCount;
          case "clusterOutputTokens":
            return (await loader.totals.load(self(q.windowMs))).outputTokens;
          case "clusterSignalRate":
            return ownShare(q);
          case "clusterNewAccountShare": {
            const own = await loader.basics.load(event.accountId);
            return own !== null && own.bornAt.getTime() > since ? 1 : 0;
          }
          case "clusterKnownAgeShare":
            return (await loader.basics.load(event.accountId))?.ageKnown ? 1 : 0;
          case "clusterTopTemplateShare":
            return ownTopTemplateShare(q.windowMs);
          case "clusterNewModelShare":
            return ownNewModelShare(q);
        }
      }
      const span = componentSpan(component, q.windowMs);
      switch (name) {
        case "linkedAccounts":
          return (await loader.componentView.load(component)).size - 1;
        case "linkedSuspendedAccounts": {
          const { suspended } = await loader.componentView.load(component);
          return suspended.size - (suspended.has(event.accountId) ? 1 : 0);
        }
        case "clusterRequestCount":
          return (await loader.componentTotals.load(span)).requestCount;
        case "clusterOutputTokens":
          return (await loader.componentTotals.load(span)).outputTokens;
        case "clusterSignalRate":
          return componentShare(component, q);
        case "clusterNewAccountShare": {
          const { size, bornMs } = await loader.componentView.load(component);
          return size ? (size - firstAbove(bornMs, since)) / size : 0;
        }
        case "clusterKnownAgeShare": {
          const { size, knownAges } = await loader.componentView.load(component);
          return size ? knownAges / size : 0;
        }
        case "clusterTopTemplateShare":
          return topTemplateShareOf(await loader.componentValueCounts.load(span), (await loader.componentTotals.load(span)).requestCount);
        case "clusterNewModelShare":
          return newModelShareOf(await loader.componentValueCounts.load(span), (await loader.componentTotals.load(span)).requestCount, newSince(q));
      }
    },
    contributingEventIds: (windowMs, limit) => loader.evidence.load({ accountId: event.accountId, from: fromOf(windowMs), to: at, limit }),
  };
}

const agePath = /ageDays|ageSource|ageKnown|createdAt|firstSeenAt/;

/**
 * A hit's conditions, with a note on each evaluated one whose value rests on an age taken from the
 * first sight in ClauseGuard because the provider gave no createdAt (account.ageDays and the like,
 * clusterNewAccountShare): the evidence says so. Reads only facts the hit has read already, but
 * for the cluster's known-age share, from the same component view.
 */
export async function withAgeNotes(source: FactSource, ruleWindow: string, conditions: ConditionExplanation[]): Promise<ConditionExplanation[]> {
  return Promise.all(
    conditions.map(async (c) => {
      if (c.result === null) return c;
      if (c.fact === "account" && agePath.test(c.jsonPath ?? "")) {
        const a = await source.account();
        return a.ageKnown ? c : { ...c, note: "the account's age is from its first sight in ClauseGuard: the provider gave no createdAt" };
      }
      if (c.fact === "clusterNewAccountShare") {
        const { maxAgeDays: _, ...params } = c.params ?? {};
        const known = Number(await factReader("clusterKnownAgeShare", params, ruleWindow).read(source));
        if (known >= 1) return c;
        return { ...c, note: `the ages of ${Math.round((1 - known) * 100)}% of the cluster are from their first sight in ClauseGuard: the provider gave no createdAt for them` };
      }
      return c;
    }),
  );
}
