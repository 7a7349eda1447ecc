// Linked-account and cluster facts against a brute-force reference on random link graphs, on
// every test database: random accounts sharing payment fingerprints, /24 prefixes (some on shared
// hosting, which link weakly, or strongly with the same prompt template), orgs and templates from
// small pools over three days (so that some values are hubs), stored through ingestion in
// batches, each followed by a uniting pass (link-components.ts) and some by compaction; then at
// random moments, windows and link kinds, every linked fact must equal what a direct computation
// over the same events gives, with a small hub limit: the one-hop reads (a hit's evidence, the
// account view) per window, the cluster facts over connected components.
import { insertEvents } from "../src/features/events/event-repository";
import type { UsageEventInput } from "../src/features/events/event-schemas";
import { ipPrefix } from "../src/features/events/link-key-cache";
import { uniformHubLimits } from "../src/features/events/link-policy";
import type { EventFact } from "../src/engine/evaluation";
import type { LinkBy } from "../src/engine/fact-catalog";
import { createFactLoader } from "../src/features/facts/fact-loader";
import { linkHubs, linkKindsFor, linkedAccountIdsMany } from "../src/features/facts/fact-queries";
import { createFactSource } from "../src/features/facts/fact-source";
import { compactAll } from "../src/features/facts/rollup-compactor";
import { uniteComponents } from "../src/features/facts/link-components";
import { sql } from "../src/db/sql";
import { type TestDatabase, createTestDatabase, testTargets } from "./support/test-database";
import { rng } from "./support/seeded-random";

const hour = 3_600_000;
const day = 24 * hour;
const base = Date.parse("2026-11-10T00:00:00Z");
// Per-kind limits, as a link policy sets them: the corroborated shared-prefix key has its own.
const hubLimits = { ...uniformHubLimits(6), sharedIpPrefixTemplate: 4 };
/** clusterNewModelShare's maxAgeDays in the asks: models first seen within a day of the moment are new. */
const newSince = 1;

/** 120 accounts, 900 events over 3 days; values from small pools, so they are shared, some by more than the hub limit. */
function history(seed: number): UsageEventInput[] {
  const r = rng(seed);
  const pick = <T>(xs: T[]) => xs[Math.floor(r() * xs.length)]!;
  const accounts = Array.from({ length: 120 }, (_, i) => `lr_${seed}_${i}`);
  return Array.from({ length: 900 }, (_, i) => {
    const at = base + Math.floor(r() * 3 * day);
    // Models released one a day (their first sight), so a window's share of new models varies.
    const models = at < base + day ? ["lr_m1"] : at < base + 2 * day ? ["lr_m1", "lr_m2"] : ["lr_m1", "lr_m2", "lr_m3"];
    return {
    eventId: `lr_${seed}_e${i}`,
    accountId: pick(accounts),
    occurredAt: new Date(at).toISOString(),
    model: models[Math.floor(r() * models.length)]!,
    inputTokens: 10,
    outputTokens: 1 + Math.floor(r() * 500),
    ...(r() < 0.3 ? { paymentFingerprint: `pf_${Math.floor(r() * 60)}` } : {}),
    ...(r() < 0.7 ? { ip: `10.${seed % 200}.${Math.floor(r() * 80)}.${1 + Math.floor(r() * 200)}`, ipType: r() < 0.4 ? ("hosting" as const) : ("residential" as const) } : {}),
    ...(r() < 0.2 ? { orgId: `org_${Math.floor(r() * 25)}` } : {}),
    ...(r() < 0.5 ? { promptTemplateHash: `tpl_${Math.floor(r() * 8)}` } : {}),
    };
  });
}

type Value = { kind: string; value: string };
/** The default link policy, written out: a hosting address's prefix is weak, and strong together with the template. */
const valuesOf = (e: UsageEventInput): Value[] => [
  ...(e.paymentFingerprint ? [{ kind: "paymentFingerprint", value: e.paymentFingerprint }] : []),
  ...(e.ip && e.ipType !== "hosting" ? [{ kind: "ipPrefix", value: ipPrefix(e.ip) }] : []),
  ...(e.ip && e.ipType === "hosting" ? [{ kind: "sharedIpPrefix", value: ipPrefix(e.ip) }] : []),
  ...(e.ip && e.ipType === "hosting" && e.promptTemplateHash ? [{ kind: "sharedIpPrefixTemplate", value: `${ipPrefix(e.ip)} ${e.promptTemplateHash}` }] : []),
  ...(e.orgId ? [{ kind: "orgId", value: e.orgId }] : []),
  ...(e.promptTemplateHash ? [{ kind: "promptTemplateHash", value: e.promptTemplateHash }] : []),
];
const limitOf = (kind: string) => hubLimits[kind as keyof typeof hubLimits];

/**
 * The reference. A compacted link key spans the whole hours from an account's first to its last
 * use of a value; an account used a value within [from, to] when that span overlaps it. A value
 * used by more accounts than its kind's hub limit within the window links no one.
 */
function reference(events: UsageEventInput[]) {
  const firstSeen = new Map<string, number>();
  for (const e of events) firstSeen.set(e.model, Math.min(firstSeen.get(e.model) ?? Infinity, Date.parse(e.occurredAt)));
  const spans = new Map<string, { accountId: string; kind: string; value: string; first: number; last: number }>();
  for (const e of events) {
    const h = Math.floor(Date.parse(e.occurredAt) / hour) * hour;
    for (const v of valuesOf(e)) {
      const k = `${v.kind}|${v.value}|${e.accountId}`;
      const s = spans.get(k);
      if (!s) spans.set(k, { accountId: e.accountId, ...v, first: h, last: h + hour - 1 });
      else Object.assign(s, { first: Math.min(s.first, h), last: Math.max(s.last, h + hour - 1) });
    }
  }
  const within = (from: number, to: number) => [...spans.values()].filter((s) => s.first <= to && s.last >= from);
  const users = (live: ReturnType<typeof within>, kind: string, value: string) => new Set(live.filter((s) => s.kind === kind && s.value === value).map((s) => s.accountId));
  return {
    linked(accountId: string, by: LinkBy, from: number, to: number): { linked: string[]; hubs: Value[] } {
      const live = within(from, to);
      const kinds = linkKindsFor(by);
      const own = live.filter((s) => s.accountId === accountId && kinds.includes(s.kind));
      const linked = new Set<string>();
      const hubs: Value[] = [];
      for (const s of own) {
        const u = users(live, s.kind, s.value);
        if (u.size > limitOf(s.kind)) hubs.push({ kind: s.kind, value: s.value });
        else u.forEach((id) => id !== accountId && linked.add(id));
      }
      return { linked: [...linked].sort(), hubs: hubs.sort((a, b) => `${a.kind}|${a.value}`.localeCompare(`${b.kind}|${b.value}`)) };
    },
    /**
     * The other accounts of this one's component: joined by values used by at most their kind's hub limit of
     * accounts over all time, transitively (plain graph search).
     */
    component(accountId: string, by: LinkBy): string[] {
      const all = [...spans.values()].filter((s) => linkKindsFor(by).includes(s.kind));
      const usersOf = new Map<string, Set<string>>();
      for (const s of all) {
        const k = `${s.kind}|${s.value}`;
        usersOf.set(k, (usersOf.get(k) ?? new Set()).add(s.accountId));
      }
      const seen = new Set([accountId]);
      for (const queue = [accountId]; queue.length; ) {
        const at = queue.pop()!;
        for (const s of all) {
          if (s.accountId !== at) continue;
          const u = usersOf.get(`${s.kind}|${s.value}`)!;
          if (u.size > limitOf(s.kind)) continue;
          for (const id of u) {
            if (seen.has(id)) continue;
            seen.add(id);
            queue.push(id);
          }
        }
      }
      seen.delete(accountId);
      return [...seen].sort();
    },
    /** `at`: the evaluated moment, which model newness is measured from (newSince days before it). */
    usage(accountIds: string[], from: number, to: number, at = to) {
      const inWin = events.filter((e) => accountIds.includes(e.accountId) && Date.parse(e.occurredAt) >= from && Date.parse(e.occurredAt) <= to);
      const templates = new Map<string, number>();
      for (const e of inWin) if (e.promptTemplateHash) templates.set(e.promptTemplateHash, (templates.get(e.promptTemplateHash) ?? 0) + 1);
      const newModel = inWin.filter((e) => firstSeen.get(e.model)! > at - newSince * day).length;
      return {
        requestCount: inWin.length,
        outputTokens: inWin.reduce((a, e) => a + e.outputTokens, 0),
        topTemplateShare: inWin.length ? Math.max(0, ...templates.values()) / inWin.length : 0,
        newModelShare: inWin.length ? newModel / inWin.length : 0,
      };
    },
  };
}

describe.each(testTargets())("linked facts against a brute-force reference on %s", (kind) => {
  let t: TestDatabase;
  const seed = 7;
  const events = history(seed);
  const ref = reference(events);
  const suspended = [`lr_${seed}_3`, `lr_${seed}_11`, `lr_${seed}_29`, `lr_${seed}_40`];
  const r = rng(99);
  const asks = Array.from({ length: 200 }, () => {
    const e = events[Math.floor(r() * events.length)]!;
    const by = (["any", "any", "paymentFingerprint", "ipPrefix", "orgId", "sharedIpPrefix"] as LinkBy[])[Math.floor(r() * 6)]!;
    const windowMs = [hour, 6 * hour, day, 3 * day][Math.floor(r() * 4)]!;
    return { event: e, by, windowMs, at: Date.parse(e.occurredAt) };
  });

  /** The four linked facts of every ask, through one loader (so in one statement per kind of read). */
  const linkedFactsOfAsks = (loader: ReturnType<typeof createFactLoader>, reach: "component" | "direct") =>
    Promise.all(
      asks.map(async (a) => {
        const s = createFactSource(t.db, a.event as unknown as EventFact, loader);
        const q = { by: a.by, windowMs: a.windowMs, reach };
        return {
          linkedAccounts: await s.linkedFact("linkedAccounts", q),
          linkedSuspendedAccounts: await s.linkedFact("linkedSuspendedAccounts", q),
          clusterRequestCount: await s.linkedFact("clusterRequestCount", q),
          clusterOutputTokens: await s.linkedFact("clusterOutputTokens", q),
          clusterTopTemplateShare: await s.linkedFact("clusterTopTemplateShare", q),
          clusterNewModelShare: await s.linkedFact("clusterNewModelShare", { ...q, maxAgeDays: newSince }),
        };
      }),
    );

  const passes = { moved: 0, hubs: 0, rebuilt: 0, keptBefore: [] as string[], built: [] as string[] };

  beforeAll(async () => {
    t = await createTestDatabase(kind);
    // Stored in several batches, out of time order, each followed by a uniting pass (so that values
    // join and then turn into hubs as the batches come), every other one by compaction.
    for (let i = 0; i < events.length; i += 100) {
      await t.db.transaction((tx) => insertEvents(tx, events.slice(i, i + 100)));
      // Two scopes kept as the links come; the others are built at the end, from every value's members.
      const pass = await uniteComponents(t.db, { hubLimits, scopes: ["any", "paymentFingerprint"] });
      passes.moved += pass.moved;
      passes.hubs += pass.hubs;
      passes.rebuilt += pass.rebuilt;
      if (i % 200 === 0) await compactAll(t.db);
    }
    passes.keptBefore = (await t.db.query<{ scope: string }>(sql`SELECT DISTINCT scope FROM link_component ORDER BY 1`)).map((r) => r.scope);
    passes.built = (await uniteComponents(t.db, { hubLimits })).built;
    await compactAll(t.db);
    await t.db.query(sql`UPDATE account SET status = 'suspended' WHERE id = ANY(${suspended}::text[])`);
  }, 120_000);
  afterAll(() => t.drop());

  it("has hubs, linked accounts and lone accounts among the asks (the test covers each case)", () => {
    const found = asks.map((a) => ref.linked(a.event.accountId, a.by, a.at - a.windowMs, a.at));
    expect(found.filter((f) => f.hubs.length > 0).length).toBeGreaterThan(10);
    expect(found.filter((f) => f.linked.length > 0).length).toBeGreaterThan(30);
    expect(found.filter((f) => f.linked.length === 0).length).toBeGreaterThan(5);
    // Weak links (a shared hosting /24) that "any" does not count, and corroborated ones it does.
    const within = (a: (typeof asks)[number], by: LinkBy) => ref.linked(a.event.accountId, by, a.at - a.windowMs, a.at).linked;
    expect(asks.filter((a) => within(a, "sharedIpPrefix").some((id) => !within(a, "any").includes(id))).length).toBeGreaterThan(5);
    expect(asks.filter((a) => within(a, "sharedIpPrefixTemplate").length > 0).length).toBeGreaterThan(2);
  });

  it("links exactly the accounts that share a non-hub value within the window, in one statement for all asks", async () => {
    const got = await linkedAccountIdsMany(
      t.db,
      asks.map((a) => ({ accountId: a.event.accountId, by: a.by, from: new Date(a.at - a.windowMs), to: new Date(a.at) })),
      hubLimits,
    );
    asks.forEach((a, i) => expect({ i, linked: got[i] }).toEqual({ i, linked: ref.linked(a.event.accountId, a.by, a.at - a.windowMs, a.at).linked }));
  });

  it("lists the hubs an account is not linked through", async () => {
    for (const a of asks.slice(0, 60)) {
      const hubs = await linkHubs(t.db, a.event.accountId, a.by, new Date(a.at - a.windowMs), new Date(a.at), hubLimits);
      expect(hubs).toEqual(ref.linked(a.event.accountId, a.by, a.at - a.windowMs, a.at).hubs);
    }
  });

  it("has clusters of every size among the asks, some joined through others, some split by a value turned hub", () => {
    expect(passes.moved).toBeGreaterThan(20);
    expect(passes.hubs).toBeGreaterThan(5);
    expect(passes.rebuilt).toBeGreaterThan(0);
    // Only the scopes asked for were kept during the batches; the last pass built the rest.
    expect(passes.keptBefore).toEqual(["any", "paymentFingerprint"]);
    expect(passes.built).toEqual(["ipPrefix", "orgId", "promptTemplateHash", "sharedIpPrefix", "sharedIpPrefixTemplate", "sharedIpPrefixWave"]);
    const sizes = asks.map((a) => ref.component(a.event.accountId, a.by).length);
    expect(sizes.filter((n) => n === 0).length).toBeGreaterThan(5);
    expect(sizes.filter((n) => n > 0).length).toBeGreaterThan(30);
    // Transitive: more accounts in the component than linked in one hop over all time.
    expect(asks.filter((a) => ref.component(a.event.accountId, a.by).length > ref.linked(a.event.accountId, a.by, 0, Date.now()).linked.length).length).toBeGreaterThan(5);
  });

  it("computes every linked fact with reach direct over the one-hop set within the window, exactly, as the reference does", async () => {
    const facts = await linkedFactsOfAsks(createFactLoader(t.db, { hubLimits }), "direct");
    let differs = 0;
    asks.forEach((a, i) => {
      const { linked } = ref.linked(a.event.accountId, a.by, a.at - a.windowMs, a.at);
      if (linked.length !== ref.component(a.event.accountId, a.by).length) differs++;
      const usage = ref.usage([a.event.accountId, ...linked], a.at - a.windowMs, a.at);
      expect({ i, ...facts[i] }).toEqual({
        i,
        linkedAccounts: linked.length,
        linkedSuspendedAccounts: linked.filter((id) => suspended.includes(id)).length,
        clusterRequestCount: usage.requestCount,
        clusterOutputTokens: usage.outputTokens,
        clusterTopTemplateShare: usage.topTemplateShare,
        clusterNewModelShare: usage.newModelShare,
      });
    });
    // The asks tell the two reaches apart: many one-hop sets are smaller than the component.
    expect(differs).toBeGreaterThan(30);
  });

  it("computes every cluster fact over the account's component, as the reference does, over one loader for all asks", async () => {
    const facts = await linkedFactsOfAsks(createFactLoader(t.db), "component");
    const minute = 60_000;
    asks.forEach((a, i) => {
      const linked = ref.component(a.event.accountId, a.by);
      // A component's usage is counted by whole minutes: those that start within the window, up to
      // the end of the evaluated moment's minute. An account alone counts its own window exactly.
      const usage = linked.length
        ? ref.usage([a.event.accountId, ...linked], Math.ceil((a.at - a.windowMs) / minute) * minute, Math.floor(a.at / minute) * minute + minute - 1, a.at)
        : ref.usage([a.event.accountId], a.at - a.windowMs, a.at);
      expect({ i, ...facts[i] }).toEqual({
        i,
        linkedAccounts: linked.length,
        linkedSuspendedAccounts: linked.filter((id) => suspended.includes(id)).length,
        clusterRequestCount: usage.requestCount,
        clusterOutputTokens: usage.outputTokens,
        clusterTopTemplateShare: usage.topTemplateShare,
        clusterNewModelShare: usage.newModelShare,
      });
    });
    // Both shares take values strictly between 0 and 1 among the asks: the comparison is not of 0s and 1s.
    expect(facts.filter((f) => f.clusterTopTemplateShare > 0 && f.clusterTopTemplateShare < 1).length).toBeGreaterThan(30);
    expect(facts.filter((f) => f.clusterNewModelShare > 0 && f.clusterNewModelShare < 1).length).toBeGreaterThan(10);
  });
});
