// Webhooks on every test database, against a local HTTP receiver: the outbox is written in the
// transaction of the change, deliveries are signed, a failing receiver is retried with backoff, and
// a receiver that never answers is given up on after the last attempt.
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { sign } from "../src/features/webhooks/webhook-outbox";
import { type TestServer, startTestServer } from "./support/test-server";
import { testTargets } from "./support/test-database";
import { usageEvent } from "./support/factories";

type Received = { path: string; headers: Record<string, string | string[] | undefined>; body: string };

describe.each(testTargets())("webhooks on %s", (kind) => {
  const secret = "a-shared-secret-of-some-length";
  const received: Received[] = [];
  let flakyFailures = 1;
  let receiver: Server;
  let server: TestServer;

  beforeAll(async () => {
    receiver = createServer((req, res) => {
      let body = "";
      req.on("data", (d: Buffer) => (body += d.toString()));
      req.on("end", () => {
        received.push({ path: req.url ?? "", headers: req.headers, body });
        if (req.url === "/flaky" && flakyFailures-- > 0) res.writeHead(500).end();
        else res.writeHead(204).end();
      });
    });
    await new Promise<void>((r) => receiver.listen(0, "127.0.0.1", r));
    const base = `http://127.0.0.1:${(receiver.address() as AddressInfo).port}`;
    server = await startTestServer(kind, { config: { webhooks: { urls: [`${base}/ok`, `${base}/flaky`], secret, timeoutMs: 2000, maxAttempts: 3 } } });
  });
  afterAll(async () => {
    await server.stop();
    await new Promise((r) => receiver.close(r));
  });

  const deliveries = () => server.running.services.db.prisma.webhookDelivery.findMany({ orderBy: { id: "asc" } });

  it("notifies a new case, signed, and retries a failing receiver", async () => {
    await server.call("POST", "/v1/events", { body: [usageEvent({ accountId: "acct_hook", outputTokens: 5000, signals: { syntheticDataRequest: true } })] });
    await server.drain();
    // Written with the case, before any delivery.
    expect((await deliveries()).map((d) => [d.eventType, d.deliveredAt])).toEqual([
      ["case.opened", null],
      ["case.opened", null],
    ]);
    expect(await server.running.services.webhooks.deliverDue()).toBe(1);
    const ok = received.find((r) => r.path === "/ok")!;
    const payload = JSON.parse(ok.body);
    expect(payload).toMatchObject({ type: "case.opened", data: { accountId: "acct_hook", ruleId: "extraction.synthetic-data-request", severity: "medium" } });
    expect(ok.headers["x-clauseguard-signature"]).toBe(sign(secret, String(ok.headers["x-clauseguard-timestamp"]), ok.body));
    expect(ok.headers["x-clauseguard-signature"]).not.toBe(sign("another-secret-entirely", String(ok.headers["x-clauseguard-timestamp"]), ok.body));

    const flaky = (await deliveries()).find((d) => d.url.endsWith("/flaky"))!;
    expect(flaky).toMatchObject({ attempts: 1, deliveredAt: null, lastError: "HTTP 500" });
    expect(flaky.nextAttemptAt.getTime()).toBeGreaterThan(Date.now());
    // Not due yet: nothing is sent again before the backoff.
    expect(await server.running.services.webhooks.deliverDue()).toBe(0);
    expect(await server.running.services.webhooks.deliverDue(50, new Date(Date.now() + 5000))).toBe(1);
    expect((await deliveries()).every((d) => d.deliveredAt !== null)).toBe(true);
    expect(received.filter((r) => r.path === "/flaky").map((r) => JSON.parse(r.body).id)).toEqual([payload.id, payload.id]);
  });

  it("notifies status changes and enforcement", async () => {
    const c = (await server.call("GET", "/v1/cases?accountId=acct_hook")).body.items[0];
    await server.call("POST", `/v1/cases/${c.id}/transitions`, { body: { to: "confirmed" } });
    await server.call("POST", `/v1/cases/${c.id}/enforce`, { body: { action: "restrict", note: "confirmed extraction" } });
    await server.running.services.webhooks.deliverDue();
    const types = received.filter((r) => r.path === "/ok").map((r) => JSON.parse(r.body));
    expect(types.map((p: { type: string }) => p.type)).toEqual(["case.opened", "case.status_changed", "statement.issued", "account.enforced", "case.status_changed"]);
    expect(types[2]).toMatchObject({ data: { accountId: "acct_hook", kind: "enforcement", caseId: c.id, statementId: expect.stringMatching(/^sor_/) } });
    expect(types[3]).toMatchObject({ data: { accountId: "acct_hook", action: "restrict", status: "restricted", caseId: c.id } });
    expect(types[4]).toMatchObject({ data: { from: "confirmed", to: "enforced" } });
  });

  it("gives up after the last attempt on a receiver that is not there", async () => {
    await server.running.services.db.prisma.webhookDelivery.create({
      data: { url: "http://127.0.0.1:9/nothing-listens-here", eventType: "case.opened", payload: { test: true } },
    });
    for (let i = 0; i < 3; i++) await server.running.services.webhooks.deliverDue(50, new Date(Date.now() + 3_600_000 * (i + 1)));
    const dead = (await deliveries()).find((d) => d.url.includes("nothing-listens"))!;
    expect(dead).toMatchObject({ attempts: 3, deliveredAt: null });
    expect(dead.failedAt).not.toBeNull();
  });
});
