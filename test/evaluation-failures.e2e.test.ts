// Evaluation faults that are not the database being down: an event that cannot be evaluated is
// isolated (the batch is split until it stands alone), dead-lettered with its error, reported in
// /readyz and /metrics, and requeued by `retry-failed`; the events around it are evaluated as usual.
// The fault is real: a trigger in the test database refuses to open a case for one account.
import { claimBatch, retryFailed } from "../src/features/evaluation/evaluation-queue";
import { type StoredEventRow, eventFact, storedEventColumns, storedEventOf } from "../src/features/events/stored-event";
import { sql, raw } from "../src/db/sql";
import { usageEvent } from "./support/factories";
import { testTargets } from "./support/test-database";
import { type TestServer, startTestServer } from "./support/test-server";

const hit = (accountId: string, minute: number) =>
  usageEvent({ accountId, outputTokens: 5000, signals: { syntheticDataRequest: true }, occurredAt: `2026-11-24T10:${String(minute).padStart(2, "0")}:00Z` });

describe.each(testTargets())("evaluation faults on %s", (kind) => {
  let server: TestServer;
  beforeAll(async () => {
    server = await startTestServer(kind);
  });
  afterAll(async () => {
    await server.stop();
  });

  it("dead-letters the one event that fails, evaluates the rest, and requeues it on request", async () => {
    const { db } = server.running.services;
    await db.withSession(async (s) => {
      await s.exec(`
        CREATE FUNCTION refuse_poison() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
          IF NEW.account_id = 'acct_poison' THEN RAISE EXCEPTION 'refused by the test for %', NEW.account_id; END IF;
          RETURN NEW;
        END $$;
        CREATE TRIGGER refuse_poison BEFORE INSERT ON violation_case FOR EACH ROW EXECUTE FUNCTION refuse_poison();`);
    });
    const events = Array.from({ length: 12 }, (_, i) => hit(i === 7 ? "acct_poison" : `acct_fault_${i}`, i));
    expect((await server.call("POST", "/v1/events", { body: events })).status).toBe(202);

    const result = await server.running.services.evaluation.runBatch(500);
    expect(result).toMatchObject({ claimed: 12, evaluated: 11, failed: 1, hits: 11 });
    const failures = await db.query<{ account_id: string; error: string; attempts: number }>(sql`SELECT account_id, error, attempts FROM evaluation_failure`);
    expect(failures).toEqual([{ account_id: "acct_poison", error: expect.stringContaining("refused by the test for acct_poison"), attempts: 1 }]);
    const queued = await db.query<{ n: string }>(sql`SELECT count(*)::text AS n FROM evaluation_task`);
    expect(queued[0]!.n).toBe("0");
    const cases = await server.call("GET", "/v1/cases?ruleId=extraction.synthetic-data-request&limit=50");
    expect(cases.body.items.map((c: { accountId: string }) => c.accountId).sort()).toEqual(
      events.filter((e) => e.accountId !== "acct_poison").map((e) => e.accountId as string).sort(),
    );

    const ready = await server.call("GET", "/readyz");
    expect(ready.body.evaluation).toMatchObject({ queueDepth: 0, failedEvents: 1 });
    const metrics = await server.call("GET", "/metrics");
    expect(metrics.body).toMatch(/^clauseguard_evaluation_failed_events 1$/m);

    // Fixed: the event goes back in the queue and opens its case.
    await db.withSession((s) => s.exec("DROP TRIGGER refuse_poison ON violation_case; DROP FUNCTION refuse_poison();"));
    expect(await retryFailed(db)).toBe(1);
    expect(await server.drain()).toBe(1);
    const poison = await server.call("GET", "/v1/cases?accountId=acct_poison");
    expect(poison.body.items).toHaveLength(1);
    expect((await server.call("GET", "/readyz")).body.evaluation.failedEvents).toBe(0);
  });

  it("hands rules each event as the gateway posted it: what the API shows, without receivedAt and null fields", async () => {
    const full = usageEvent({
      accountId: "acct_shape",
      orgId: "org_1",
      apiKeyId: "key_1",
      endpoint: "/v1/chat",
      endUserId: "user_9",
      ip: "203.0.113.7",
      ipType: "hosting",
      country: "DE",
      asn: 64500,
      userAgent: "python-requests/2.32",
      paymentFingerprint: "card_ab12",
      promptTemplateHash: "tpl_1",
      signals: { reasoningTraceRequest: 0.93, syntheticDataRequest: false },
      attributes: { tier: "pro", nested: { a: [1, 2], gone: null }, plan: null },
      occurredAt: "2026-11-24T09:15:30.123Z",
    });
    const bare = usageEvent({ accountId: "acct_shape", occurredAt: "2026-11-24T09:16:00Z" });
    await server.call("POST", "/v1/events", { body: [full, bare] });
    const listed = await server.call("GET", "/v1/events?accountId=acct_shape");
    const claimed = await claimBatch(server.running.services.db, 500, 60_000);
    expect(claimed.events.map((e) => e.event)).toEqual([...listed.body.items].reverse());
    // The fact a rule reads: the posted event; fields sent as null are absent at any depth, as the old live path's jsonb_strip_nulls made them.
    const { receivedAt: _r, ...posted } = listed.body.items[1];
    expect(posted.attributes).toEqual({ tier: "pro", nested: { a: [1, 2], gone: null }, plan: null });
    expect(eventFact(claimed.events[0]!.event)).toEqual({ ...posted, attributes: { tier: "pro", nested: { a: [1, 2] } } });
    expect(claimed.events[0]!.occurredAtMs).toBe(Date.parse("2026-11-24T09:15:30.123Z"));
    // stored-event.ts is the one mapping of a row: every column of usage_event but its key is in it
    // (a column added to the table must be added there too), and a full event keeps every field.
    const db = server.running.services.db;
    const columns = await db.query<{ c: string }>(sql`SELECT column_name AS c FROM information_schema.columns WHERE table_name = 'usage_event' AND table_schema = current_schema()`);
    expect(columns.map((r) => `e.${r.c}`).filter((c) => c !== "e.id" && c !== "e.ip_prefix").sort()).toEqual(storedEventColumns.split(",").map((c) => c.trim()).sort());
    const [row] = await db.query<StoredEventRow>(sql`SELECT ${raw(storedEventColumns)} FROM usage_event e WHERE e.event_id = ${full.eventId as string}`);
    expect(Object.keys(storedEventOf(row!)).sort()).toEqual([...Object.keys(full), "receivedAt"].sort());
  });
});
