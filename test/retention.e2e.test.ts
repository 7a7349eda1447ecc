// Retention of raw events, on every test database: events older than the retention go, in
// batches; newer ones stay; the rollups (so window facts) and the cases with their evidence stay
// complete.
import { sql } from "../src/db/sql";
import { deleteExpiredEvents } from "../src/features/events/event-retention";
import { usageEvent } from "./support/factories";
import { testTargets } from "./support/test-database";
import { type TestServer, startTestServer } from "./support/test-server";

const day = 86_400_000;

describe.each(testTargets())("event retention on %s", (kind) => {
  let server: TestServer;
  beforeAll(async () => {
    server = await startTestServer(kind);
  });
  afterAll(async () => {
    await server.stop();
  });

  it("deletes events older than the retention in batches and keeps rollups, cases and evidence", async () => {
    const now = Date.parse("2026-11-25T00:00:00Z");
    const at = (daysAgo: number, k: number) => new Date(now - daysAgo * day + k * 1000).toISOString();
    const old = Array.from({ length: 7 }, (_, k) => usageEvent({ accountId: "acct_ret", occurredAt: at(120, k), outputTokens: 5000, signals: { syntheticDataRequest: true } }));
    const recent = Array.from({ length: 3 }, (_, k) => usageEvent({ accountId: "acct_ret", occurredAt: at(10, k) }));
    expect((await server.call("POST", "/v1/events", { body: [...old, ...recent] })).body.accepted).toBe(10);
    await server.drain();
    const caseBefore = (await server.call("GET", "/v1/cases?accountId=acct_ret")).body.items[0];
    const { db } = server.running.services;
    const hourTotals = async () =>
      (await db.query<{ n: string }>(sql`SELECT coalesce(sum(requests), 0)::text AS n FROM usage_hour WHERE account_id = 'acct_ret'`))[0]!.n;
    expect(await hourTotals()).toBe("10");

    // Batches of 3: the 7 old events go in three statements; the 3 recent ones stay.
    expect(await deleteExpiredEvents(db, 91, new Date(now), 3)).toBe(7);
    expect(await deleteExpiredEvents(db, 91, new Date(now), 3)).toBe(0);
    const left = await server.call("GET", "/v1/events?accountId=acct_ret&limit=50");
    expect(left.body.items.map((e: { eventId: string }) => e.eventId).sort()).toEqual(recent.map((e) => e.eventId as string).sort());

    expect(await hourTotals()).toBe("10");
    const caseAfter = await server.call("GET", `/v1/cases/${caseBefore.id}`);
    expect(caseAfter.status).toBe(200);
    expect(caseAfter.body.hitCount).toBe(caseBefore.hitCount);
    expect(caseAfter.body.evidence[0].triggerEventId).toBe(old[old.length - 1]!.eventId);
    expect(await deleteExpiredEvents(db, 0, new Date(now))).toBe(0);
  });

  it("deletes side hits (shadow and suppressed) of expired events with them", async () => {
    const now = Date.parse("2026-11-25T00:00:00Z");
    const { db } = server.running.services;
    const side = (eventId: string, daysAgo: number) => sql`
      INSERT INTO side_hit (role, rule_id, rule_version, account_id, occurred_at, trigger_event_id, "window", conditions, event_ids, recorded_at)
      VALUES ('shadow', 'distillation.output-volume', 1, 'acct_ret_side', ${new Date(now - daysAgo * day)}, ${eventId}, '24h', '[]', '{}', now())`;
    for (let k = 0; k < 4; k++) await db.query(side(`old_${k}`, 120));
    await db.query(side("recent", 10));
    await deleteExpiredEvents(db, 91, new Date(now), 3);
    const left = await db.query<{ trigger_event_id: string }>(sql`SELECT trigger_event_id FROM side_hit WHERE account_id = 'acct_ret_side'`);
    expect(left.map((r) => r.trigger_event_id)).toEqual(["recent"]);
  });
});
