// Backtesting on every test database: a backtest over stored history finds what live evaluation
// found (event scope per event, account scope per account-minute), creates no cases, takes unsaved
// documents, streams progress, and validates its input.
import { type TestServer, startTestServer } from "./support/test-server";
import { testTargets } from "./support/test-database";
import { ruleDocument, usageEvent } from "./support/factories";

const minute = 60_000;
const t0 = Date.parse("2026-11-20T10:00:00Z");
const at = (m: number) => new Date(t0 + m * minute).toISOString();

describe.each(testTargets())("backtest on %s", (kind) => {
  let server: TestServer;
  const liveHits = new Map<string, number>();

  beforeAll(async () => {
    server = await startTestServer(kind);
    // Event scope: every other event of three accounts asks for training data at volume.
    for (let m = 0; m < 12; m++) {
      const batch = ["acct_bt1", "acct_bt2", "acct_bt3"].map((a, i) =>
        usageEvent({ accountId: a, occurredAt: at(m), outputTokens: 4000 + i, signals: { syntheticDataRequest: (m + i) % 2 === 0 } }),
      );
      await server.call("POST", "/v1/events", { body: batch });
    }
    // Account scope: one event a minute of 1,000,000 output tokens, judged live after each one.
    for (let m = 0; m < 8; m++) {
      await server.call("POST", "/v1/events", { body: [usageEvent({ accountId: "acct_bulk", occurredAt: at(m), outputTokens: 1_000_000 })] });
      await server.drain();
    }
    await server.drain();
    for (const c of (await server.call("GET", "/v1/cases?limit=500")).body.items) liveHits.set(`${c.ruleId}/${c.accountId}`, c.hitCount);
  });
  afterAll(async () => {
    await server.stop();
  });

  it("finds the same hits as live evaluation for an event-scope rule, and creates no case", async () => {
    const casesBefore = await server.running.services.db.prisma.violationCase.count();
    const res = await server.call("POST", "/v1/rules/extraction.synthetic-data-request/backtest", { body: { from: at(-60), to: at(60) } });
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({ ruleId: "extraction.synthetic-data-request", version: 1, eventsEvaluated: 44, accountsEvaluated: 4, accountsHit: 3, truncated: false, evaluationErrors: 0 });
    for (const hit of res.body.hits) {
      expect(hit.hitCount).toBe(liveHits.get(`extraction.synthetic-data-request/${hit.accountId}`));
    }
    const bt1 = res.body.hits.find((h: { accountId: string }) => h.accountId === "acct_bt1");
    expect(bt1).toMatchObject({ hitCount: 6, firstHitAt: at(0), lastHitAt: at(10) });
    expect(bt1.sampleEvidence.conditions).toEqual([
      { path: "all[0]", fact: "event", jsonPath: "$.signals.syntheticDataRequest", operator: "equal", value: true, factValue: true, result: true },
      { path: "all[1]", fact: "event", jsonPath: "$.outputTokens", operator: "greaterThanInclusive", value: 4000, factValue: 4000, result: true },
    ]);
    expect(await server.running.services.db.prisma.violationCase.count()).toBe(casesBefore);
  });

  it("judges an account-scope rule per account-minute with windows reaching back before from", async () => {
    const res = await server.call("POST", "/v1/rules/distillation.output-volume/backtest", { body: { from: at(0), to: at(60) } });
    // 6,000,000 > 5,000,000 from the sixth minute on: minutes 5, 6, 7 hit, as live.
    const bulk = res.body.hits.find((h: { accountId: string }) => h.accountId === "acct_bulk");
    expect(bulk).toMatchObject({ hitCount: 3, firstHitAt: at(5) });
    expect(bulk.hitCount).toBe(liveHits.get("distillation.output-volume/acct_bulk"));
    expect(bulk.sampleEvidence.conditions[0]).toMatchObject({ fact: "outputTokens", factValue: 6_000_000, result: true });
    expect(bulk.sampleEvidence.eventIds).toHaveLength(6);

    // Judged only from minute 6 on, but the window still holds the earlier minutes' output.
    const later = await server.call("POST", "/v1/rules/distillation.output-volume/backtest", { body: { from: at(6), to: at(60) } });
    expect(later.body.hits.find((h: { accountId: string }) => h.accountId === "acct_bulk")).toMatchObject({ hitCount: 2, firstHitAt: at(6) });
  });

  it("backtests an unsaved document, and streams progress and the result as NDJSON", async () => {
    const doc = ruleDocument({ id: "draft.rule", scope: "event", conditions: { all: [{ fact: "event", path: "$.outputTokens", operator: "equal", value: 4002 }] } });
    const res = await fetch(`${server.url}/v1/rules/backtest`, {
      method: "POST",
      headers: { authorization: `Bearer ${server.adminKey}`, "content-type": "application/json", accept: "application/x-ndjson" },
      body: JSON.stringify({ rule: doc, from: at(-60), to: at(60) }),
    });
    expect(res.headers.get("content-type")).toMatch(/application\/x-ndjson/);
    const lines = (await res.text()).trim().split("\n").map((l) => JSON.parse(l));
    const result = lines[lines.length - 1];
    expect(lines.slice(0, -1).every((l: { type: string }) => l.type === "progress")).toBe(true);
    expect(result).toMatchObject({ type: "result", ruleId: "draft.rule", version: null, accountsHit: 1, hits: [expect.objectContaining({ accountId: "acct_bt3", hitCount: 12 })] });
    expect((await server.call("GET", "/v1/rules/draft.rule")).status).toBe(404);
  });

  it("answers 400 naming the field for a bad range or document, 404 for an unknown rule or version", async () => {
    const range = await server.call("POST", "/v1/rules/distillation.output-volume/backtest", { body: { from: at(10), to: at(0) } });
    expect(range.status).toBe(400);
    expect(range.body.errors).toEqual([{ path: "body.to", message: "must be after from" }]);
    const long = await server.call("POST", "/v1/rules/distillation.output-volume/backtest", { body: { from: at(0), to: at(93 * 24 * 60) } });
    expect(long.body.errors[0].message).toMatch(/at most 92 days/);
    expect((await server.call("POST", "/v1/rules/no.rule/backtest", { body: { from: at(0), to: at(1) } })).status).toBe(404);
    expect((await server.call("POST", "/v1/rules/distillation.output-volume/backtest", { body: { from: at(0), to: at(1), version: 9 } })).status).toBe(404);
    const doc = await server.call("POST", "/v1/rules/backtest", { body: { rule: ruleDocument({ severity: "huge" }), from: at(0), to: at(1) } });
    expect(doc.body.errors).toEqual([expect.objectContaining({ path: "body.rule.severity" })]);
  });
});
