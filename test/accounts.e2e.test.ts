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
});
