// Ingestion under overload, on each database (the embedded one in its own thread, as the server
// runs it): a client that ignores Retry-After gets 503s with Retry-After, never a dropped
// connection; the server keeps answering health and enforcement checks; every acknowledged event
// is stored once and nothing of a refused batch is stored.
import { sql } from "../src/db/sql";
import { testTargets } from "./support/test-database";
import { usageEvent } from "./support/factories";
import { type TestServer, startTestServer } from "./support/test-server";

type Post = { status: number; retryAfter: string | null; body: { code?: string; reason?: string; accepted?: number } };

async function post(server: TestServer, events: Record<string, unknown>[]): Promise<Post> {
  const res = await fetch(`${server.url}/v1/events`, {
    method: "POST",
    headers: { authorization: `Bearer ${server.adminKey}`, "content-type": "application/json" },
    body: JSON.stringify(events),
  });
  return { status: res.status, retryAfter: res.headers.get("retry-after"), body: (await res.json()) as Post["body"] };
}

const batch = (n: number, tag: string) =>
  Array.from({ length: n }, (_, i) => usageEvent({ eventId: `${tag}_${i}`, accountId: `acct_${i % 50}`, occurredAt: new Date(Date.parse("2026-11-24T00:00:00Z") + i * 1000).toISOString() }));

async function storedEventIds(server: TestServer): Promise<Set<string>> {
  const rows = await server.running.services.db.query<{ event_id: string }>(sql`SELECT event_id FROM usage_event`);
  return new Set(rows.map((r) => r.event_id));
}

describe.each(testTargets())("backpressure on %s", (kind) => {
  describe("when the process is storing as many batches as it may", () => {
    let server: TestServer;
    beforeAll(async () => {
      server = await startTestServer(kind, { ownThread: true, config: { ingest: { maxInFlight: 1, maxWaiting: 1, maxWaitMs: 50, maxBacklog: 0 } } });
    });
    afterAll(async () => {
      await server.stop();
    });

    it("answers 503 with Retry-After to a client that keeps pushing, stays healthy, and loses nothing it acknowledged", async () => {
      const acknowledged = new Set<string>();
      const refused = new Set<string>();
      const statuses: number[] = [];
      const healthTimes: number[] = [];
      let pushing = true;
      const prober = (async () => {
        while (pushing) {
          const t0 = performance.now();
          const h = await fetch(`${server.url}/healthz`);
          expect(h.status).toBe(200);
          const e = await server.call("GET", "/v1/accounts/acct_1/enforcement");
          expect(e.status).toBe(200);
          healthTimes.push(performance.now() - t0);
          await new Promise((r) => setTimeout(r, 10));
        }
      })();
      // 8 clients, 5 batches each, every refused batch sent again at once (Retry-After ignored).
      await Promise.all(
        Array.from({ length: 8 }, async (_, c) => {
          for (let b = 0; b < 5; b++) {
            const events = batch(400, `bp_${kind}_${c}_${b}`);
            for (let attempt = 0; ; attempt++) {
              const r = await post(server, events);
              statuses.push(r.status);
              if (r.status === 202) {
                expect(r.body.accepted).toBeLessThanOrEqual(400);
                events.forEach((e) => acknowledged.add(e.eventId as string));
                break;
              }
              expect(r.status).toBe(503);
              expect(r.retryAfter).toBe("1");
              expect(r.body).toMatchObject({ code: "unavailable", reason: "busy" });
              if (attempt === 2) {
                // Give up on this batch: it must not be stored at all.
                events.forEach((e) => refused.add(e.eventId as string));
                break;
              }
            }
          }
        }),
      );
      pushing = false;
      await prober;

      expect(statuses.filter((s) => s === 503).length).toBeGreaterThan(0);
      expect(statuses.filter((s) => s === 202).length).toBeGreaterThan(0);
      expect(healthTimes.length).toBeGreaterThan(0);
      const stored = await storedEventIds(server);
      expect(stored.size).toBe(acknowledged.size);
      for (const id of acknowledged) expect(stored.has(id)).toBe(true);
      for (const id of refused) expect(stored.has(id)).toBe(false);
      const ready = await server.call("GET", "/readyz");
      expect(ready.body.ingest).toMatchObject({ inFlight: 0, waiting: 0, refusedBusy: statuses.filter((s) => s === 503).length, refusedBacklog: 0 });
      expect(ready.body.enforcement.snapshotAgeMs).toBeLessThan(5000);
    });
  });

  describe("when the evaluation backlog is over its limit", () => {
    let server: TestServer;
    beforeAll(async () => {
      server = await startTestServer(kind, { ownThread: true, config: { ingest: { maxInFlight: 4, maxWaiting: 8, maxWaitMs: 10_000, maxBacklog: 1000 } } });
    });
    afterAll(async () => {
      await server.stop();
    });

    it("refuses batches with Retry-After until evaluation catches up, then takes them again", async () => {
      expect((await post(server, batch(1000, `bl_${kind}_a`))).status).toBe(202);
      // The backlog is sampled once a second: within a few seconds every batch is refused.
      let refusal: Post | undefined;
      const tried: string[][] = [];
      for (let i = 0; i < 40 && !refusal; i++) {
        const events = batch(10, `bl_${kind}_probe_${i}`);
        const r = await post(server, events);
        if (r.status === 503) {
          refusal = r;
          tried.push(events.map((e) => e.eventId as string));
        } else await new Promise((res) => setTimeout(res, 100));
      }
      expect(refusal).toMatchObject({ status: 503, retryAfter: "5", body: { code: "unavailable", reason: "backlog" } });
      expect((await fetch(`${server.url}/healthz`)).status).toBe(200);
      const stored = await storedEventIds(server);
      for (const id of tried.flat()) expect(stored.has(id)).toBe(false);

      await server.drain();
      let accepted = false;
      for (let i = 0; i < 40 && !accepted; i++) {
        const r = await post(server, batch(10, `bl_${kind}_after_${i}`));
        accepted = r.status === 202;
        if (!accepted) await new Promise((res) => setTimeout(res, 100));
      }
      expect(accepted).toBe(true);
    });
  });
});
