// Every fact, for exact values on hand-built histories, on every test database. Window facts are
// also checked against a brute-force reference over the same events at many random moments and
// windows: edges, out-of-order arrival and duplicates included.
import type { WindowAggregateName } from "../src/engine/fact-catalog";
import type { EventFact } from "../src/engine/evaluation";
import { insertEvents } from "../src/features/events/event-repository";
import { ipPrefix } from "../src/features/events/link-key-cache";
import type { UsageEventInput } from "../src/features/events/event-schemas";
import { createFactSource } from "../src/features/facts/fact-source";
import { compactAll } from "../src/features/facts/rollup-compactor";
import { uniteComponents } from "../src/features/facts/link-components";
import { signalHitsMany, valueStatsMany } from "../src/features/facts/usage-rollups";
import { type TestDatabase, createTestDatabase, testTargets } from "./support/test-database";
import { rng } from "./support/seeded-random";

const minute = 60_000;
const hour = 60 * minute;
const day = 24 * hour;
const base = Date.parse("2026-11-20T00:00:00Z");

let n = 0;
function ev(accountId: string, atMs: number, extra: Partial<UsageEventInput> = {}): UsageEventInput {
  n++;
  return { eventId: `f_${n}`, occurredAt: new Date(atMs).toISOString(), accountId, model: "m1", inputTokens: 10, outputTokens: 100, ...extra };
}

function reference(events: UsageEventInput[], accountIds: string[], from: number, to: number) {
  const inWin = events.filter((e) => accountIds.includes(e.accountId) && Date.parse(e.occurredAt) >= from && Date.parse(e.occurredAt) <= to);
  // When each model was first seen: its earliest event of all those stored, any account's.
  const firstSeen = new Map<string, number>();
  for (const e of events) firstSeen.set(e.model, Math.min(firstSeen.get(e.model) ?? Infinity, Date.parse(e.occurredAt)));
  const newModelShare = (maxAgeDays: number) =>
    inWin.length ? inWin.filter((e) => firstSeen.get(e.model)! > to - maxAgeDays * day).length / inWin.length : 0;
  const distinct = (f: (e: UsageEventInput) => string | null | undefined) => new Set(inWin.map(f).filter((v) => v != null)).size;
  const templates = new Map<string, number>();
  const minutes = new Map<string, number>();
  for (const e of inWin) {
    if (e.promptTemplateHash) templates.set(e.promptTemplateHash, (templates.get(e.promptTemplateHash) ?? 0) + 1);
    const k = `${e.accountId}:${Math.floor(Date.parse(e.occurredAt) / minute)}`;
    minutes.set(k, (minutes.get(k) ?? 0) + 1);
  }
  const signal = (name: string, t: number) =>
    inWin.length ? inWin.filter((e) => { const v = e.signals?.[name]; return v === true || (typeof v === "number" && v >= t); }).length / inWin.length : 0;
  return {
    requestCount: inWin.length,
    inputTokens: inWin.reduce((a, e) => a + e.inputTokens, 0),
    outputTokens: inWin.reduce((a, e) => a + e.outputTokens, 0),
    distinctModels: distinct((e) => e.model),
    distinctIps: distinct((e) => e.ip),
    distinctCountries: distinct((e) => e.country),
    distinctPromptTemplates: distinct((e) => e.promptTemplateHash),
    topTemplateShare: inWin.length ? Math.max(0, ...templates.values()) / inWin.length : 0,
    peakRequestsPerMinute: Math.max(0, ...minutes.values()),
    signal,
    newModelShare,
  };
}

const aggregateNames: Exclude<WindowAggregateName, "signalRate" | "indicatorMatches">[] = [
  "requestCount", "inputTokens", "outputTokens", "distinctModels", "distinctIps", "distinctCountries",
  "distinctPromptTemplates", "topTemplateShare", "peakRequestsPerMinute",
];

describe.each(testTargets())("facts on %s", (kind) => {
  let t: TestDatabase;
  beforeAll(async () => {
    t = await createTestDatabase(kind);
  });
  afterAll(async () => {
    await t.drop();
  });

  const store = async (events: UsageEventInput[]) => (await t.db.transaction((tx) => insertEvents(tx, events))).inserted;
  const source = (accountId: string, atMs: number) =>
    createFactSource(t.db, { eventId: "probe", accountId, occurredAt: new Date(atMs).toISOString() } as EventFact);

  it("matches a brute-force reference at random moments and windows, with out-of-order batches and duplicates", async () => {
    const r = rng(42);
    const events: UsageEventInput[] = [];
    for (let i = 0; i < 600; i++) {
      // Clustered in bursts so minutes hold several events; some exactly on minute and hour marks.
      const at = base + Math.floor(r() * 3 * day / minute) * minute + (r() < 0.3 ? 0 : Math.floor(r() * minute));
      // Models of this test alone, released one a day: a window's share of new models varies with the moment.
      const models = at < base + day ? ["ref_m1"] : at < base + 2 * day ? ["ref_m1", "ref_m2"] : ["ref_m1", "ref_m2", "ref_m3"];
      events.push(ev("acct_ref", at, {
        model: models[Math.floor(r() * models.length)]!,
        ip: `198.51.100.${Math.floor(r() * 20)}`,
        country: ["NL", "US", "DE", "FR"][Math.floor(r() * 4)],
        promptTemplateHash: r() < 0.8 ? `tpl_${Math.floor(r() * 4)}` : null,
        inputTokens: Math.floor(r() * 1000),
        outputTokens: Math.floor(r() * 5000),
        signals: { reasoningTraceRequest: Math.round(r() * 100) / 100, syntheticDataRequest: r() < 0.4 },
      }));
    }
    // Arrival order shuffled, in batches of 50, and a third of the events posted twice.
    const shuffled = [...events].sort(() => r() - 0.5);
    for (let i = 0; i < shuffled.length; i += 50) await store(shuffled.slice(i, i + 50));
    for (let i = 0; i < 200; i += 50) expect(await store(shuffled.slice(i, i + 50))).toBe(0);

    const windows = [minute, 5 * minute, hour, 90 * minute, 6 * hour, day, 2 * day, 7 * day];
    const probes: number[] = [base + day + 37 * minute + 12_345, base + 2 * day, base + 3 * day - 1];
    // Probes placed exactly on stored events, so the window starts and ends on an event.
    for (let i = 0; i < 10; i++) probes.push(Date.parse(events[Math.floor(r() * events.length)]!.occurredAt));

    // Before compaction, rows appended per batch are summed by the readers: every fact but the
    // hours' busiest minute (which compaction completes) is already exact.
    const exactBefore = aggregateNames.filter((a) => a !== "peakRequestsPerMinute");
    for (const at of probes.slice(0, 4)) {
      for (const w of windows) {
        const expected = reference(events, ["acct_ref"], at - w, at);
        const s = source("acct_ref", at);
        for (const name of exactBefore) expect([name, w, await s.windowAggregate(name, { windowMs: w })]).toEqual([name, w, expected[name]]);
      }
    }
    const rowsBefore = await t.db.prisma.usageMinute.count();
    await compactAll(t.db);
    expect(await t.db.prisma.usageMinute.count()).toBeLessThan(rowsBefore);
    expect(await t.db.prisma.usageMinute.count({ where: { compacted: false } })).toBe(0);

    let partialShares = 0;
    for (const at of probes) {
      for (const w of windows) {
        const expected = reference(events, ["acct_ref"], at - w, at);
        const s = source("acct_ref", at);
        const got: Record<string, number> = {};
        for (const name of aggregateNames) got[name] = await s.windowAggregate(name, { windowMs: w });
        const want = Object.fromEntries(aggregateNames.map((name) => [name, expected[name]]));
        expect({ at: new Date(at).toISOString(), w, ...got }).toEqual({ at: new Date(at).toISOString(), w, ...want });
        for (const [signal, threshold] of [["reasoningTraceRequest", 0.5], ["reasoningTraceRequest", 0.93], ["reasoningTraceRequest", 0], ["syntheticDataRequest", 0.5]] as const) {
          expect(await s.windowAggregate("signalRate", { windowMs: w, signal, threshold })).toBeCloseTo(expected.signal(signal, threshold), 12);
        }
        for (const maxAgeDays of [0.5, 1, 2, 7]) {
          const share = await s.windowAggregate("newModelShare", { windowMs: w, maxAgeDays });
          expect([w, maxAgeDays, share]).toEqual([w, maxAgeDays, expected.newModelShare(maxAgeDays)]);
          if (share > 0 && share < 1) partialShares++;
        }
      }
    }
    // The probes see windows where only part of the traffic went to new models.
    expect(partialShares).toBeGreaterThan(10);
  });

  it("answers many reads in one statement exactly as the reference: accounts, clusters and windows mixed", async () => {
    const r = rng(7);
    const events: UsageEventInput[] = [];
    for (let i = 0; i < 300; i++) {
      events.push(ev(`acct_many_${i % 3}`, base + Math.floor(r() * 2 * day), {
        model: ["m1", "m2"][Math.floor(r() * 2)]!,
        ip: `203.0.113.${Math.floor(r() * 9)}`,
        country: ["NL", "US", "JP"][Math.floor(r() * 3)],
        promptTemplateHash: r() < 0.7 ? `tpl_${Math.floor(r() * 3)}` : null,
        signals: { reasoningTraceRequest: Math.round(r() * 100) / 100, syntheticDataRequest: r() < 0.5 },
      }));
    }
    for (let i = 0; i < events.length; i += 100) await store(events.slice(i, i + 100));
    const at = base + 2 * day;
    const asks = [
      { accountIds: ["acct_many_0"], from: at - day, to: at },
      { accountIds: ["acct_many_1", "acct_many_2"], from: at - 6 * hour, to: at },
      { accountIds: ["acct_many_nobody"], from: at - day, to: at },
      { accountIds: ["acct_many_0", "acct_many_1", "acct_many_2"], from: at - 2 * day - 1, to: at - 90 * minute + 1234 },
      { accountIds: ["acct_many_2"], from: at - 17 * minute - 5, to: at - 3 * minute + 17 },
    ];
    const dated = asks.map((a) => ({ ...a, from: new Date(a.from), to: new Date(a.to) }));
    const values = await valueStatsMany(t.db, dated);
    const signals = [["reasoningTraceRequest", 0.5], ["reasoningTraceRequest", 0.93], ["syntheticDataRequest", 0.5]] as const;
    const hits = await signalHitsMany(t.db, dated.flatMap((a) => signals.map(([signal, threshold]) => ({ ...a, signal, threshold }))));
    asks.forEach((a, i) => {
      const ref = reference(events, a.accountIds, a.from, a.to);
      expect(values[i]).toEqual({
        distinctModels: ref.distinctModels,
        distinctIps: ref.distinctIps,
        distinctCountries: ref.distinctCountries,
        distinctPromptTemplates: ref.distinctPromptTemplates,
        topTemplateRequests: Math.round(ref.topTemplateShare * ref.requestCount),
      });
      signals.forEach(([signal, threshold], j) => expect(hits[i * signals.length + j]).toBe(Math.round(ref.signal(signal, threshold) * ref.requestCount)));
    });
    expect(values[2]).toEqual({ distinctModels: 0, distinctIps: 0, distinctCountries: 0, distinctPromptTemplates: 0, topTemplateRequests: 0 });
  });

  it("counts an event exactly at the window start and not one a millisecond after the evaluated moment", async () => {
    const at = base + 10 * day + 30 * minute;
    await store([ev("acct_edge", at - day), ev("acct_edge", at - day - 1), ev("acct_edge", at), ev("acct_edge", at + 1)]);
    const s = source("acct_edge", at);
    expect(await s.windowAggregate("requestCount", { windowMs: day })).toBe(2);
    expect(await s.windowAggregate("outputTokens", { windowMs: day })).toBe(200);
  });

  it("answers zeros for an account with no history", async () => {
    const s = source("acct_nobody", base);
    for (const name of aggregateNames) expect(await s.windowAggregate(name, { windowMs: day })).toBe(0);
    expect(await s.windowAggregate("signalRate", { windowMs: day, signal: "x" })).toBe(0);
    expect(await s.account()).toEqual({
      status: "active",
      firstSeenAt: new Date(base).toISOString(),
      createdAt: null,
      ageDays: 0,
      ageSource: "firstSeen",
      ageKnown: false,
      verification: null,
      plan: null,
      confirmedCases: 0,
    });
  });

  it("reads signals given as booleans and as numbers against the threshold", async () => {
    const at = base + 20 * day;
    await store([
      ev("acct_sig", at - 4, { signals: { s: true } }),
      ev("acct_sig", at - 3, { signals: { s: 0.5 } }),
      ev("acct_sig", at - 2, { signals: { s: 0.49 } }),
      ev("acct_sig", at - 1, { signals: { s: false } }),
      ev("acct_sig", at, { signals: { other: 1 } }),
    ]);
    const s = source("acct_sig", at);
    expect(await s.windowAggregate("signalRate", { windowMs: hour, signal: "s" })).toBeCloseTo(2 / 5, 12);
    expect(await s.windowAggregate("signalRate", { windowMs: hour, signal: "s", threshold: 0.49 })).toBeCloseTo(3 / 5, 12);
    expect(await s.windowAggregate("signalRate", { windowMs: hour, signal: "s", threshold: 0 })).toBeCloseTo(3 / 5, 12);
    expect(await s.windowAggregate("signalRate", { windowMs: hour, signal: "s", threshold: 1 })).toBeCloseTo(1 / 5, 12);
  });

  it("takes the busiest clock minute for peakRequestsPerMinute", async () => {
    const at = base + 30 * day;
    const m = Math.floor(at / minute) * minute - 10 * minute;
    await store([ev("acct_peak", m), ev("acct_peak", m + 59_999), ev("acct_peak", m + 60_000)]);
    await store([ev("acct_peak", m + 1000), ev("acct_peak", m - 1)]);
    await compactAll(t.db);
    expect(await source("acct_peak", at).windowAggregate("peakRequestsPerMinute", { windowMs: hour })).toBe(3);
  });

  it("gives the account's status, age at the event and confirmed cases", async () => {
    await store([ev("acct_age", base + 40 * day)]);
    const a = await source("acct_age", base + 43 * day + 12 * hour).account();
    expect(a).toEqual({
      status: "active",
      firstSeenAt: new Date(base + 40 * day).toISOString(),
      createdAt: null,
      ageDays: 3.5,
      ageSource: "firstSeen",
      ageKnown: false,
      verification: null,
      plan: null,
      confirmedCases: 0,
    });
  });

  it("links accounts that share a payment fingerprint, a network prefix, an org or a template into clusters", async () => {
    const at = base + 50 * day;
    await store([
      ev("hub", at - hour, { paymentFingerprint: "pm_1", ip: "192.0.2.7", orgId: "org_a", signals: { r: 1 } }),
      ev("same_card", at - 2 * hour, { paymentFingerprint: "pm_1", outputTokens: 1000, signals: { r: 0 } }),
      ev("same_net", at - 3 * hour, { ip: "192.0.2.250", outputTokens: 1000, signals: { r: 1 } }),
      ev("other_net", at - 3 * hour, { ip: "192.0.3.1" }),
      ev("same_org", at - 4 * hour, { orgId: "org_a" }),
      ev("v6_a", at - hour, { ip: "2001:db8:abcd:1::1" }),
      ev("v6_b", at - hour, { ip: "2001:db8:abcd:ffff::2" }),
      ev("old_card", at - 5 * day, { paymentFingerprint: "pm_1" }),
      ev("same_tpl", at - hour, { promptTemplateHash: "tpl_hub" }),
      ev("hub", at - 2 * hour, { promptTemplateHash: "tpl_hub" }),
    ]);
    await uniteComponents(t.db);
    await t.db.prisma.account.update({ where: { id: "same_net" }, data: { status: "suspended" } });
    const s = source("hub", at);
    const q = (by: "any" | "paymentFingerprint" | "ipPrefix" | "orgId" | "promptTemplateHash", windowMs = day) => ({ windowMs, by });
    // A cluster is the account's component: every account joined to it by a value, whenever the
    // value was shared (old_card's five days ago too). The window bounds the usage counted.
    expect(await s.linkedFact("linkedAccounts", q("paymentFingerprint"))).toBe(2);
    expect(await s.linkedFact("linkedAccounts", q("paymentFingerprint", 7 * day))).toBe(2);
    expect(await s.linkedFact("linkedAccounts", q("ipPrefix"))).toBe(1);
    expect(await s.linkedFact("linkedAccounts", q("orgId"))).toBe(1);
    expect(await s.linkedFact("linkedAccounts", q("promptTemplateHash"))).toBe(1);
    expect(await s.linkedFact("linkedAccounts", q("any"))).toBe(4);
    expect(await s.linkedFact("linkedSuspendedAccounts", q("any"))).toBe(1);
    // Within the last day: hub's 2 events, same_card, same_net and same_org (old_card's is older).
    expect(await s.linkedFact("clusterRequestCount", q("any"))).toBe(5);
    expect(await s.linkedFact("clusterOutputTokens", q("any"))).toBe(100 + 100 + 1000 + 1000 + 100);
    expect(await s.linkedFact("clusterRequestCount", q("any", 7 * day))).toBe(6);
    expect(await s.linkedFact("clusterSignalRate", { ...q("any"), signal: "r" })).toBeCloseTo(2 / 5, 12);
    // Every account in this cluster was first seen within the last 14 days.
    expect(await s.linkedFact("clusterNewAccountShare", q("any"))).toBe(1);
    // 0.1 days = 2.4 hours: hub and same_card (first seen 2 hours before) are young; same_net, same_org and old_card are not.
    expect(await s.linkedFact("clusterNewAccountShare", { ...q("any"), maxAgeDays: 0.1 })).toBe(2 / 5);
    expect(await source("v6_a", at).linkedFact("linkedAccounts", q("ipPrefix"))).toBe(1);
    // Alone: the cluster is the account itself.
    const alone = source("other_net", at);
    expect(await alone.linkedFact("linkedAccounts", q("any"))).toBe(0);
    expect(await alone.linkedFact("clusterRequestCount", q("any"))).toBe(1);
    expect(await alone.linkedFact("clusterNewAccountShare", q("any"))).toBe(1);
  });

  it("joins accounts through others, and keeps a component's usage whole when components merge", async () => {
    const at = base + 60 * day;
    // Two chains built apart, then joined by one shared card: a-b by card, b-c by org; x-y by network; then c and y share a card.
    await store([ev("ch_a", at - 3 * hour, { paymentFingerprint: "pm_ch1" }), ev("ch_b", at - 3 * hour, { paymentFingerprint: "pm_ch1", orgId: "org_ch" })]);
    await uniteComponents(t.db);
    await store([ev("ch_c", at - 2 * hour, { orgId: "org_ch" }), ev("ch_x", at - 2 * hour, { ip: "203.0.120.1" }), ev("ch_y", at - 2 * hour, { ip: "203.0.120.2" })]);
    await uniteComponents(t.db);
    await compactAll(t.db);
    expect(await source("ch_a", at).linkedFact("linkedAccounts", { by: "any", windowMs: day })).toBe(2);
    expect(await source("ch_x", at).linkedFact("clusterRequestCount", { by: "any", windowMs: day })).toBe(2);
    await store([ev("ch_c", at - hour, { paymentFingerprint: "pm_ch2" }), ev("ch_y", at - hour, { paymentFingerprint: "pm_ch2" })]);
    await uniteComponents(t.db);
    // Ingestion goes on writing into the merged component.
    await store([ev("ch_x", at - 30 * minute, { outputTokens: 7 })]);
    for (const id of ["ch_a", "ch_b", "ch_c", "ch_x", "ch_y"]) {
      const s = source(id, at);
      expect({ id, linked: await s.linkedFact("linkedAccounts", { by: "any", windowMs: day }) }).toEqual({ id, linked: 4 });
      expect({ id, requests: await s.linkedFact("clusterRequestCount", { by: "any", windowMs: day }) }).toEqual({ id, requests: 8 });
    }
    await compactAll(t.db);
    expect(await source("ch_b", at).linkedFact("clusterOutputTokens", { by: "any", windowMs: day })).toBe(7 * 100 + 7);
    // By card alone: a-b and c-y are two components.
    expect(await source("ch_a", at).linkedFact("linkedAccounts", { by: "paymentFingerprint", windowMs: day })).toBe(1);
    expect(await source("ch_y", at).linkedFact("clusterRequestCount", { by: "paymentFingerprint", windowMs: day })).toBe(4);
  });

  it("computes /24 and /48 prefixes", () => {
    expect(ipPrefix("203.0.113.7")).toBe("203.0.113.0/24");
    expect(ipPrefix("::ffff:203.0.113.7")).toBe("203.0.113.0/24");
    expect(ipPrefix("2001:db8:abcd:12::1")).toBe("2001:db8:abcd::/48");
  });
});
