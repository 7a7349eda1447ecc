// Window reads over the day tier, on every test database: a 30-day history per account, stored out
// of order in batches with the compactor run at various points (or never), then every window
// aggregate over windows of 1m to 30d at odd offsets compared with a brute-force count over the raw
// events, including right after late events land in days that were already folded and while
// compaction passes commit beside the reads. And a 30-day read touches a bounded number of rows:
// the plan's ranges hold at most 2 partial minutes, 119 minute rows, 46 hour rows and 29 day rows,
// where reading hours would have taken ~720.
import pg from "pg";
import { type Database, openDatabase } from "../src/db/database";
import { migrate, readMigrations } from "../src/db/migrator";
import { raw, sql } from "../src/db/sql";
import { insertEvents } from "../src/features/events/event-repository";
import type { UsageEventInput } from "../src/features/events/event-schemas";
import { compactAll, compactRollups } from "../src/features/facts/rollup-compactor";
import { type SignalAsk, type WindowAsk, signalHitsMany, usageTotalsMany, valueStatsMany } from "../src/features/facts/usage-rollups";
import { planWindow } from "../src/features/facts/window-plan";
import { type TestDatabase, createTestDatabase, serverUrl, testTargets } from "./support/test-database";
import { rng } from "./support/seeded-random";

const minute = 60_000;
const hour = 60 * minute;
const day = 24 * hour;
/** The history's first midnight (UTC). */
const base = Date.parse("2026-10-01T00:00:00Z");
const historyEnd = base + 30 * day;

let seq = 0;
/**
 * A 30-day history for one account: mostly spread out, partly in bursts (busy minutes, for the
 * peak), and some events exactly on, or a millisecond either side of, minute, hour and day marks.
 */
function history(accountId: string, seed: number, count: number, from = base, span = 30 * day): UsageEventInput[] {
  const r = rng(seed);
  const times: number[] = [];
  while (times.length < count) {
    const kind = r();
    if (kind < 0.6) times.push(from + Math.floor(r() * span));
    else if (kind < 0.8) {
      const at = from + Math.floor((r() * span) / minute) * minute;
      for (let k = Math.floor(r() * 25); k >= 0; k--) times.push(at + Math.floor(r() * minute));
    } else {
      const unit = [minute, hour, day][Math.floor(r() * 3)]!;
      times.push(from + Math.floor((r() * span) / unit) * unit + [-1, 0, 0, 1][Math.floor(r() * 4)]!);
    }
  }
  return times.slice(0, count).map((at) => ({
    eventId: `w_${++seq}`,
    occurredAt: new Date(at).toISOString(),
    accountId,
    model: ["m1", "m2", "m3", "m4"][Math.floor(r() ** 2 * 4)]!,
    ip: `198.51.100.${Math.floor(r() ** 3 * 200)}`,
    country: r() < 0.9 ? ["NL", "US", "DE", "FR", "JP"][Math.floor(r() * 5)] : null,
    promptTemplateHash: r() < 0.8 ? `tpl_${Math.floor(r() ** 2 * 12)}` : null,
    inputTokens: Math.floor(r() * 1000),
    outputTokens: Math.floor(r() * 5000),
    ...(r() < 0.7 ? { signals: { reasoningTraceRequest: Math.round(r() * 100) / 100, syntheticDataRequest: r() < 0.4 } } : {}),
  }));
}

/** Every window aggregate over [from, to] (both included), counted from the raw events. */
function reference(events: UsageEventInput[], accountId: string, from: number, to: number) {
  const inWin = events.filter((e) => e.accountId === accountId && Date.parse(e.occurredAt) >= from && Date.parse(e.occurredAt) <= to);
  const distinct = (f: (e: UsageEventInput) => string | null | undefined) => new Set(inWin.map(f).filter((v) => v != null)).size;
  const templates = new Map<string, number>();
  const minutes = new Map<number, number>();
  for (const e of inWin) {
    if (e.promptTemplateHash) templates.set(e.promptTemplateHash, (templates.get(e.promptTemplateHash) ?? 0) + 1);
    const m = Math.floor(Date.parse(e.occurredAt) / minute);
    minutes.set(m, (minutes.get(m) ?? 0) + 1);
  }
  const hits = (name: string, threshold: number) =>
    inWin.filter((e) => {
      const v = e.signals?.[name];
      return v === true || (typeof v === "number" && v >= threshold);
    }).length;
  return {
    totals: {
      requestCount: inWin.length,
      inputTokens: inWin.reduce((a, e) => a + e.inputTokens, 0),
      outputTokens: inWin.reduce((a, e) => a + e.outputTokens, 0),
      peakRequestsPerMinute: Math.max(0, ...minutes.values()),
    },
    values: {
      distinctModels: distinct((e) => e.model),
      distinctIps: distinct((e) => e.ip),
      distinctCountries: distinct((e) => e.country),
      distinctPromptTemplates: distinct((e) => e.promptTemplateHash),
      topTemplateRequests: Math.max(0, ...templates.values()),
    },
    hits,
  };
}

const windows = [minute, 59 * minute, 61 * minute, 23 * hour, 25 * hour, 7 * day, 30 * day, 7 * day + 13 * minute + 17, 30 * day - 1, day + 1];
/** Moments to read at: off every grid, on and beside midnight, hour and minute marks, at the history's end and before its start. */
const probes = [
  historyEnd - 12_345,
  historyEnd,
  base + 29 * day,
  base + 29 * day - 1,
  base + 29 * day + 1,
  base + 17 * day + 5 * hour + 33 * minute + 7_777,
  base + 22 * day + 13 * hour,
  base + 22 * day + 13 * hour + minute - 1,
  base + 8 * day + 23 * hour + 59 * minute + 59_999,
  base + 3 * hour,
  historyEnd + 3 * day + 1,
];
const signals = [["reasoningTraceRequest", 0.5], ["reasoningTraceRequest", 0.93], ["reasoningTraceRequest", 0], ["syntheticDataRequest", 0.5]] as const;

describe.each(testTargets())("window reads over the day tier on %s", (kind) => {
  let t: TestDatabase;
  beforeAll(async () => {
    t = await createTestDatabase(kind);
  });
  afterAll(async () => {
    await t.drop();
  });

  const store = async (events: UsageEventInput[], batch = 150) => {
    for (let i = 0; i < events.length; i += batch) await t.db.transaction((tx) => insertEvents(tx, events.slice(i, i + batch)));
  };
  /** Events in a seeded arrival order: a history reaches ClauseGuard out of order. */
  const shuffled = (events: UsageEventInput[], seed: number) => {
    const r = rng(seed);
    return events.map((e) => ({ e, k: r() })).sort((a, b) => a.k - b.k).map((x) => x.e);
  };

  /**
   * Reads every aggregate for every (probe, window) of the account in three statements and
   * compares each with the reference. The busiest minute is exact once everything is compacted;
   * before, an hour's or day's rows hold each batch's busiest minute, so it may only fall short.
   */
  async function expectExact(db: Database, events: UsageEventInput[], accountId: string, peak: "exact" | "at most") {
    const asks = probes.flatMap((at) => [...windows, ...[0, 1, 2].map((k) => Math.floor(rng(at + k)() * 30 * day))].map((w) => ({ from: at - w, to: at })));
    const windowAsks: WindowAsk[] = asks.map((a) => ({ accountIds: [accountId], from: new Date(a.from), to: new Date(a.to) }));
    const [totals, values, hits] = await Promise.all([
      usageTotalsMany(db, asks.map((a) => ({ accountId, from: new Date(a.from), to: new Date(a.to) }))),
      valueStatsMany(db, windowAsks),
      signalHitsMany(db, windowAsks.flatMap((a): SignalAsk[] => signals.map(([signal, threshold]) => ({ ...a, signal, threshold })))),
    ]);
    const label = (a: { from: number; to: number }) => `${new Date(a.from).toISOString()}..${new Date(a.to).toISOString()}`;
    const got = asks.map((a, i) => ({ window: label(a), totals: totals[i], values: values[i], hits: hits.slice(i * signals.length, (i + 1) * signals.length) }));
    const want = asks.map((a, i) => {
      const ref = reference(events, accountId, a.from, a.to);
      const p = totals[i]!.peakRequestsPerMinute;
      const totalsWanted = peak === "exact" || p > ref.totals.peakRequestsPerMinute ? ref.totals : { ...ref.totals, peakRequestsPerMinute: p };
      return { window: label(a), totals: totalsWanted, values: ref.values, hits: signals.map(([s, th]) => ref.hits(s, th)) };
    });
    expect(got).toEqual(want);
    // The history is busy enough that the reads above were not all trivially zero.
    expect(totals.filter((x) => x.requestCount > 100).length).toBeGreaterThan(asks.length / 3);
  }

  it("reads exactly with the compactor never run", async () => {
    const events = history("acct_never", 1, 3000);
    await store(shuffled(events, 11));
    expect((await t.db.query<{ n: string }>(sql`SELECT count(*)::text AS n FROM usage_day WHERE account_id = 'acct_never'`))[0]!.n).toBe("0");
    await expectExact(t.db, events, "acct_never", "at most");
  });

  it("reads exactly with compaction run at various points, partial passes included, and after late events land in folded days", async () => {
    const events = history("acct_mixed", 2, 3000);
    const arriving = shuffled(events, 22);
    const stored: UsageEventInput[] = [];
    const steps = [
      { upTo: 600, then: () => compactAll(t.db) },
      { upTo: 1100, then: () => compactRollups(t.db, 7) },
      { upTo: 1700, then: async () => { await compactRollups(t.db, 40); await compactRollups(t.db, 3); } },
      { upTo: 2400, then: () => compactAll(t.db, 50) },
      { upTo: 3000, then: () => Promise.resolve() },
    ];
    for (const { upTo, then } of steps) {
      const next = arriving.slice(stored.length, upTo);
      await store(next, 100);
      stored.push(...next);
      await then();
      await expectExact(t.db, stored, "acct_mixed", "at most");
    }
    await compactAll(t.db);
    expect((await t.db.query<{ n: string }>(sql`SELECT count(*)::text AS n FROM usage_day WHERE account_id = 'acct_mixed' AND NOT compacted`))[0]!.n).toBe("0");
    await expectExact(t.db, events, "acct_mixed", "exact");

    // Late events (a gateway's backlog) into days whose hours are folded already: read right after
    // ingestion, before any compaction, then after a partial pass, then compacted.
    const late = history("acct_mixed", 3, 400, base + 10 * day, 5 * day);
    await store(late, 80);
    const all = [...events, ...late];
    await expectExact(t.db, all, "acct_mixed", "at most");
    await compactRollups(t.db, 5);
    await expectExact(t.db, all, "acct_mixed", "at most");
    await compactAll(t.db);
    await expectExact(t.db, all, "acct_mixed", "exact");
  });

  it("reads exactly while compaction passes run beside the reads (on PostgreSQL, on other connections at the same time)", async () => {
    const events = history("acct_race", 6, 2500);
    await store(shuffled(events, 66), 50);
    let done = false;
    let passes = 0;
    const compacting = (async () => {
      // Small passes, so that many of them commit while the reads run: every snapshot a read takes
      // sees some hours merged and folded and others not.
      while (!done) {
        const r = await compactRollups(t.db, 3);
        passes++;
        if (r.removed === 0) break;
      }
    })();
    try {
      for (let round = 0; round < 4; round++) await expectExact(t.db, events, "acct_race", "at most");
    } finally {
      done = true;
      await compacting;
    }
    expect(passes).toBeGreaterThan(4);
    await compactAll(t.db);
    await expectExact(t.db, events, "acct_race", "exact");
  });

  it("reads a 30-day window from at most 2 partial minutes, 119 minute rows, 46 hour rows and 29 day rows", async () => {
    const events = history("acct_rows", 4, 6000);
    await store(shuffled(events, 44), 500);
    await compactAll(t.db);
    const at = historyEnd - 12_345;
    const p = planWindow(new Date(at - 30 * day), new Date(at));
    const { rawHead, rawTail, future, minutesHead, minutesTail, hoursHead, hoursTail, days } = p;
    // Rows in the ranges the reads take (usage-rollups.ts reads exactly these, and nothing else).
    const [rows] = await t.db.query<Record<string, string>>(sql`
      SELECT
        (SELECT count(DISTINCT date_bin('1 minute', occurred_at, TIMESTAMPTZ '2000-01-01 00:00:00+00'))::text FROM usage_event WHERE account_id = 'acct_rows'
           AND ((occurred_at >= ${rawHead.start} AND occurred_at < ${rawHead.end}) OR (occurred_at >= ${rawTail.start} AND occurred_at < ${rawTail.end})
             OR (occurred_at >= ${future.start} AND occurred_at < ${future.end}))) AS raw_minutes,
        (SELECT count(*)::text FROM usage_minute WHERE account_id = 'acct_rows'
           AND ((bucket >= ${minutesHead.start} AND bucket < ${minutesHead.end}) OR (bucket >= ${minutesTail.start} AND bucket < ${minutesTail.end}))) AS minute_rows,
        (SELECT count(*)::text FROM usage_hour WHERE account_id = 'acct_rows'
           AND ((bucket >= ${hoursHead.start} AND bucket < ${hoursHead.end}) OR (bucket >= ${hoursTail.start} AND bucket < ${hoursTail.end})
             OR (bucket >= ${days.start} AND bucket < ${days.end} AND NOT compacted))) AS hour_rows,
        (SELECT count(*)::text FROM usage_day WHERE account_id = 'acct_rows' AND bucket >= ${days.start} AND bucket < ${days.end}) AS day_rows,
        (SELECT count(*)::text FROM usage_hour WHERE account_id = 'acct_rows' AND bucket >= ${new Date(at - 30 * day)} AND bucket <= ${new Date(at)}) AS hours_in_window`);
    const n = Object.fromEntries(Object.entries(rows!).map(([k, v]) => [k, Number(v)]));
    expect(n.raw_minutes).toBeLessThanOrEqual(2);
    expect(n.minute_rows).toBeLessThanOrEqual(119);
    expect(n.hour_rows).toBeLessThanOrEqual(46);
    expect(n.day_rows).toBe(29);
    // What reading hour rows would have taken instead (this history has an event in most hours).
    expect(n.hours_in_window).toBeGreaterThan(600);
    await expectExact(t.db, events, "acct_rows", "exact");
  });
});

describe.each(testTargets())("the usage_day migration on %s", (kind) => {
  it("folds the hour rows merged before it into day rows, so reads stay exact across the upgrade", async () => {
    const { db, drop } = await emptyDatabase(kind);
    try {
      const all = readMigrations();
      // Everything before usage_day: the database as the previous version left it.
      const dayMigration = all.findIndex((m) => /_usage_day$/.test(m.name));
      expect(dayMigration).toBeGreaterThan(0);
      await migrate(db, all.slice(0, dayMigration));
      // This version's ingestion also writes the tables of later migrations (linked-account
      // components, the models' first sightings): stand-ins for them while the old schema is in place, dropped before upgrading.
      const standIns = ["link_component", "component_minute", "component_hour", "model_first_seen"];
      await db.query(sql`CREATE TABLE model_first_seen (model text PRIMARY KEY, first_seen_at timestamptz NOT NULL)`);
      await db.query(sql`CREATE TABLE link_component (account_id text, scope text, component text)`);
      await db.query(sql`CREATE TABLE component_minute (LIKE usage_minute INCLUDING DEFAULTS)`);
      await db.query(sql`CREATE TABLE component_hour (LIKE usage_hour INCLUDING DEFAULTS)`);
      const events = history("acct_upgrade", 5, 1500);
      for (let i = 0; i < events.length; i += 100) await db.transaction((tx) => insertEvents(tx, events.slice(i, i + 100)));
      for (const table of standIns) await db.query(sql`DROP TABLE ${raw(table)}`);
      // What the previous version's compactor left: some hour rows merged (a merged row needs only be
      // marked; its key's other rows are merged with it later), the rest not.
      await db.query(sql`UPDATE usage_hour SET compacted = true WHERE id % 3 <> 0`);
      await migrate(db, all);
      // The models' first sightings are taken from the stored events by the upgrade.
      const firstSeen = new Map<string, number>();
      for (const e of events) firstSeen.set(e.model, Math.min(firstSeen.get(e.model) ?? Infinity, Date.parse(e.occurredAt)));
      const seen = await db.query<{ model: string; first_seen_at: Date }>(sql`SELECT model, first_seen_at FROM model_first_seen ORDER BY model`);
      expect(seen.map((r) => [r.model, new Date(r.first_seen_at).getTime()])).toEqual([...firstSeen].sort());
      const [folded] = await db.query<{ day: string; hour: string }>(sql`
        SELECT (SELECT sum(requests)::text FROM usage_day) AS day, (SELECT sum(requests)::text FROM usage_hour WHERE compacted) AS hour`);
      expect(folded!.day).toBe(folded!.hour);
      const at = base + 30 * day - 1;
      const asks = windows.map((w) => ({ accountIds: ["acct_upgrade"], from: new Date(at - w), to: new Date(at) }));
      const check = async () => {
        const [totals, values] = await Promise.all([usageTotalsMany(db, asks.map((a) => ({ accountId: "acct_upgrade", from: a.from, to: a.to }))), valueStatsMany(db, asks)]);
        return asks.map((a, i) => ({ requests: totals[i]!.requestCount, output: totals[i]!.outputTokens, values: values[i] }));
      };
      const want = asks.map((a) => {
        const ref = reference(events, "acct_upgrade", a.from.getTime(), a.to.getTime());
        return { requests: ref.totals.requestCount, output: ref.totals.outputTokens, values: ref.values };
      });
      expect(await check()).toEqual(want);
      await compactAll(db);
      expect(await check()).toEqual(want);
    } finally {
      await drop();
    }
  });
});

/** A database with no migrations applied (the template databases have them all). */
async function emptyDatabase(kind: "pglite" | "postgres"): Promise<{ db: Database; drop(): Promise<void> }> {
  if (kind === "pglite") {
    const db = await openDatabase({ kind: "pglite" });
    return { db, drop: () => db.close() };
  }
  const name = `clauseguard_day_${Math.random().toString(36).slice(2, 10)}`;
  const admin = new pg.Client({ connectionString: process.env.TEST_DATABASE_URL });
  await admin.connect();
  await admin.query(`CREATE DATABASE "${name}"`);
  await admin.end();
  const db = await openDatabase({ kind: "postgres", url: serverUrl(name) });
  return {
    db,
    drop: async () => {
      await db.close();
      const c = new pg.Client({ connectionString: process.env.TEST_DATABASE_URL });
      await c.connect();
      await c.query(`DROP DATABASE IF EXISTS "${name}" WITH (FORCE)`);
      await c.end();
    },
  };
}
