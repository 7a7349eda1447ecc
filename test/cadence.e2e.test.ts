// With CLAUSEGUARD_EVAL_CADENCE=minute, one history judged with evaluation batches of 1, 100 and
// 10,000 events on every test database gives the same cases, and the same hits as a backtest of
// each rule over it: account-scope rules are judged once per account-minute, as of its last stored
// event, however the queue is cut. With the batch cadence (the default) it does not.
import { type TestServer, startTestServer, testConfig } from "./support/test-server";
import { testTargets } from "./support/test-database";
import { ruleDocument, usageEvent } from "./support/factories";

const t0 = Date.parse("2026-11-20T10:00:00Z");
const at = (seconds: number) => new Date(t0 + seconds * 1000).toISOString();

// A rule whose threshold is crossed and left within a minute: in a plain minute after a flagged
// one, the 1-minute window at the minute's first event holds 3 flagged of 5 (0.6), at its last
// event 2 of 5 (0.4). Judged per event, every minute would hit; per account-minute, only some do.
const flickerRule = ruleDocument({
  id: "test.signal-flicker",
  window: "1m",
  conditions: { all: [{ fact: "signalRate", params: { signal: "scrapeLike" }, operator: "greaterThan", value: 0.5 }] },
});
const volumeRule = ruleDocument({
  id: "test.volume-per-hour",
  window: "1h",
  conditions: { all: [{ fact: "outputTokens", operator: "greaterThanInclusive", value: 60_000 }] },
});

/** 40 minutes of four accounts, several events a minute, stored in a shuffled order (keys do not follow time). */
function history(): Record<string, unknown>[] {
  const events: Record<string, unknown>[] = [];
  for (let m = 0; m < 40; m++) {
    // acct_flicker: flagged, flagged, plain, plain within the minute (every fourth minute: all flagged).
    ["f1", "f2", "p1", "p2"].forEach((kind, k) =>
      events.push(usageEvent({ accountId: "acct_flicker", occurredAt: at(m * 60 + k * 10), signals: { scrapeLike: m % 4 === 0 || kind.startsWith("f") } })),
    );
    // acct_heavy: 3 events a minute of 1,000 output tokens: 60,000 in an hour from minute 20 on.
    for (let k = 0; k < 3; k++) events.push(usageEvent({ accountId: "acct_heavy", occurredAt: at(m * 60 + 5 + k * 15), outputTokens: 1000 }));
    // acct_light and acct_burst: one event a minute, and a burst of 50 in minute 30.
    events.push(usageEvent({ accountId: "acct_light", occurredAt: at(m * 60 + 30), outputTokens: 200 }));
    if (m === 30) for (let k = 0; k < 50; k++) events.push(usageEvent({ accountId: "acct_burst", occurredAt: at(m * 60 + k), outputTokens: 1500 }));
  }
  // A fixed shuffle: the same order for every database and batch size.
  let seed = 7;
  for (let i = events.length - 1; i > 0; i--) {
    seed = (seed * 1103515245 + 12345) % 2 ** 31;
    const j = seed % (i + 1);
    [events[i], events[j]] = [events[j]!, events[i]!];
  }
  return events;
}

type CaseView = { ruleId: string; accountId: string; hitCount: number; firstSeenAt: string; lastSeenAt: string; triggers: string[] };

describe.each(testTargets())("account-minute cadence on %s", (kind) => {
  const events = history();
  const cases = new Map<number, CaseView[]>();
  const backtests: Record<string, { accountId: string; hitCount: number; firstHitAt: string; lastHitAt: string }[]> = {};

  /** Stores the history on a fresh database, evaluates it in batches of `size`, returns the cases. */
  async function replay(size: number, cadence: "minute" | "batch", withBacktests = false): Promise<CaseView[]> {
    const server: TestServer = await startTestServer(kind, { config: { evaluation: { ...testConfig().evaluation, cadence } } });
    try {
      for (const rule of [flickerRule, volumeRule]) expect((await server.call("POST", "/v1/rules", { body: rule })).status).toBe(201);
      // Stored first, in batches of 250 posted one after another, then evaluated.
      for (let i = 0; i < events.length; i += 250) expect((await server.call("POST", "/v1/events", { body: events.slice(i, i + 250) })).status).toBe(202);
      for (;;) {
        const r = await server.running.services.evaluation.runBatch(size);
        if (r.claimed === 0) break;
      }
      const views: CaseView[] = [];
      const list = (await server.call("GET", "/v1/cases?limit=200")).body.items as { id: string }[];
      for (const { id } of list) {
        const c = (await server.call("GET", `/v1/cases/${id}`)).body;
        views.push({ ruleId: c.ruleId, accountId: c.accountId, hitCount: c.hitCount, firstSeenAt: c.firstSeenAt, lastSeenAt: c.lastSeenAt, triggers: c.evidence.map((e: { triggerEventId: string }) => e.triggerEventId).sort() });
      }
      if (withBacktests) {
        for (const ruleId of [flickerRule.id, volumeRule.id, "distillation.output-volume"] as string[]) {
          const res = await server.call("POST", `/v1/rules/${ruleId}/backtest`, { body: { from: at(-3600), to: at(3600) } });
          expect(res.status).toBe(200);
          backtests[ruleId] = res.body.hits;
        }
      }
      return views.sort((a, b) => `${a.ruleId}/${a.accountId}`.localeCompare(`${b.ruleId}/${b.accountId}`));
    } finally {
      await server.stop();
    }
  }

  const batchCadence = new Map<number, CaseView[]>();
  beforeAll(async () => {
    for (const size of [1, 100, 10_000]) cases.set(size, await replay(size, "minute", size === 1));
    for (const size of [1, 10_000]) batchCadence.set(size, await replay(size, "batch"));
  }, 300_000);

  it("with the batch cadence, what is judged depends on the batch size (why the minute cadence exists)", () => {
    const hits = (views: CaseView[]) => views.find((c) => c.ruleId === flickerRule.id && c.accountId === "acct_flicker")?.hitCount ?? 0;
    expect(hits(batchCadence.get(1)!)).toBeGreaterThan(hits(batchCadence.get(10_000)!));
  });

  it("opens the same cases, with the same hits and evidence, for batches of 1, 100 and 10,000", () => {
    const one = cases.get(1)!;
    expect(one.length).toBeGreaterThanOrEqual(2);
    expect(cases.get(100)).toEqual(one);
    expect(cases.get(10_000)).toEqual(one);
  });

  it("judges a threshold crossed and left within a minute as of the minute's last event", () => {
    const flicker = cases.get(1)!.find((c) => c.ruleId === flickerRule.id && c.accountId === "acct_flicker");
    // At each minute's last event (second 30) the window reaches back to the last event of the minute
    // before: all-flagged minutes (0, 4, ..., 36) hold 1.0, the minutes after them 3 of 5 (0.6),
    // the two others 2 of 5 (0.4): 20 hits of 40 minutes.
    expect(flicker).toMatchObject({ hitCount: 20, firstSeenAt: at(30), lastSeenAt: at(37 * 60 + 30) });
  });

  it("finds what a backtest of each rule over the same history finds", () => {
    for (const [ruleId, hits] of Object.entries(backtests)) {
      const live = cases.get(1)!.filter((c) => c.ruleId === ruleId);
      expect(live.map((c) => ({ accountId: c.accountId, hitCount: c.hitCount, firstHitAt: c.firstSeenAt, lastHitAt: c.lastSeenAt })).sort((a, b) => a.accountId.localeCompare(b.accountId))).toEqual(
        hits.map((h) => ({ accountId: h.accountId, hitCount: h.hitCount, firstHitAt: new Date(h.firstHitAt).toISOString(), lastHitAt: new Date(h.lastHitAt).toISOString() })).sort((a, b) => a.accountId.localeCompare(b.accountId)),
      );
    }
    expect(backtests[volumeRule.id as string]!.map((h) => h.accountId).sort()).toEqual(["acct_burst", "acct_flicker", "acct_heavy"]);
  });
});
