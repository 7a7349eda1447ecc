// GET /v1/accounts/:id on every test database: the analyst's view of one account.
import { type TestServer, startTestServer } from "./support/test-server";
import { testTargets } from "./support/test-database";
import { usageEvent } from "./support/factories";

describe.each(testTargets())("account view on %s", (kind) => {
  let server: TestServer;
  beforeAll(async () => {
    server = await startTestServer(kind);
  });
  afterAll(async () => {
    await server.stop();
  });

  it("shows status, the last 24 hours of usage, open cases and linked accounts", async () => {
    const hourAgo = new Date(Date.now() - 3_600_000).toISOString();
    const twoDaysAgo = new Date(Date.now() - 2 * 86_400_000).toISOString();
    const res = await server.call("POST", "/v1/events", {
      body: [
        usageEvent({ accountId: "acct_view", occurredAt: hourAgo, outputTokens: 5000, signals: { syntheticDataRequest: true }, paymentFingerprint: "pm_shared", ip: "203.0.113.9", orgId: "org_v", country: "NL", promptTemplateHash: "t1" }),
        usageEvent({ accountId: "acct_view", occurredAt: hourAgo, outputTokens: 100, ip: "203.0.113.10", country: "DE", promptTemplateHash: "t1" }),
        usageEvent({ accountId: "acct_view", occurredAt: twoDaysAgo, outputTokens: 7 }),
        usageEvent({ accountId: "acct_card", occurredAt: hourAgo, paymentFingerprint: "pm_shared" }),
        usageEvent({ accountId: "acct_net", occurredAt: hourAgo, ip: "203.0.113.200" }),
        usageEvent({ accountId: "acct_org", occurredAt: hourAgo, orgId: "org_v" }),
      ],
    });
    expect(res.body.accepted).toBe(6);
    await server.drain();

    const view = await server.call("GET", "/v1/accounts/acct_view");
    expect(view.status).toBe(200);
    expect(view.body).toMatchObject({
      accountId: "acct_view",
      orgId: "org_v",
      status: "active",
      firstSeenAt: new Date(twoDaysAgo).toISOString(),
      lastSeenAt: new Date(hourAgo).toISOString(),
      usage24h: { requestCount: 2, outputTokens: 5100, distinctIps: 2, distinctCountries: 2, topTemplateShare: 1 },
      linkedAccounts: { window: "30d", paymentFingerprint: ["acct_card"], ipPrefix: ["acct_net"], orgId: ["acct_org"] },
    });
    expect(view.body.openCases).toEqual([expect.objectContaining({ ruleId: "extraction.synthetic-data-request", status: "open" })]);

    expect((await server.call("GET", "/v1/accounts/nobody")).status).toBe(404);
    const noScope = await server.call("POST", "/v1/keys", { body: { name: "gw", scopes: ["events:write"] } });
    expect((await server.call("GET", "/v1/accounts/acct_view", { key: noScope.body.key })).status).toBe(403);
  });

  it("charts usage per hour: requests, tokens and the share of requests raising each signal", async () => {
    const hour = 3_600_000;
    const h0 = Math.floor(Date.now() / hour) * hour - 5 * hour;
    const at = (t: number) => new Date(t).toISOString();
    const res = await server.call("POST", "/v1/events", {
      body: [
        usageEvent({ accountId: "acct_series", occurredAt: at(h0 + 60_000), inputTokens: 10, outputTokens: 100, signals: { syntheticDataRequest: true, jailbreakScore: 0.9 } }),
        usageEvent({ accountId: "acct_series", occurredAt: at(h0 + 120_000), inputTokens: 20, outputTokens: 200, signals: { syntheticDataRequest: false, jailbreakScore: 0.49 } }),
        usageEvent({ accountId: "acct_series", occurredAt: at(h0 + 59 * 60_000), inputTokens: 30, outputTokens: 300, signals: { jailbreakScore: 0.5 } }),
        usageEvent({ accountId: "acct_series", occurredAt: at(h0 + 2 * hour + 5), inputTokens: 1, outputTokens: 7 }),
        // Before the asked range: not in the series.
        usageEvent({ accountId: "acct_series", occurredAt: at(h0 - 3 * hour), outputTokens: 999 }),
      ],
    });
    expect(res.body.accepted).toBe(5);

    const from = at(h0 - hour + 1);
    const series = await server.call("GET", `/v1/accounts/acct_series/usage?from=${from}&to=${at(h0 + 3 * hour)}`);
    expect(series.status).toBe(200);
    expect(series.body).toMatchObject({ accountId: "acct_series", bucket: "1h", signalThreshold: 0.5, from: new Date(from).toISOString() });
    expect(series.body.items).toEqual([
      { hour: at(h0), requests: 3, inputTokens: 60, outputTokens: 600, signalRates: { syntheticDataRequest: 1 / 3, jailbreakScore: 2 / 3 } },
      { hour: at(h0 + 2 * hour), requests: 1, inputTokens: 1, outputTokens: 7, signalRates: {} },
    ]);
    // The default range is the 7 days before now: the event 8 hours ago is in it.
    const recent = await server.call("GET", "/v1/accounts/acct_series/usage");
    expect(recent.body.items.map((p: { requests: number }) => p.requests)).toEqual([1, 3, 1]);

    const backwards = await server.call("GET", `/v1/accounts/acct_series/usage?from=${at(h0)}&to=${at(h0 - hour)}`);
    expect(backwards.status).toBe(400);
    expect(backwards.body.errors).toEqual([{ path: "query.from", message: "must be before to" }]);
    const tooLong = await server.call("GET", `/v1/accounts/acct_series/usage?from=${at(h0 - 32 * 86_400_000)}&to=${at(h0)}`);
    expect(tooLong.status).toBe(400);
    expect(tooLong.body.errors[0].path).toBe("query.from");
    expect((await server.call("GET", "/v1/accounts/acct_series/usage?bucket=1d")).status).toBe(400);
    expect((await server.call("GET", "/v1/accounts/nobody/usage")).status).toBe(404);
  });
});
