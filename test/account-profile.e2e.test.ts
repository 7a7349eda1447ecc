// What the provider says of an account, through the real server on every test database: the
// upsert (one and bulk, JSON and NDJSON; a field left out kept, null cleared), bad input refused
// with the field's path and nothing stored, the scope, profile fields carried by events, and the
// facts: a fresh installation, where every account is first seen now, flags an established team
// as a hydra cluster from first sight (and says so in the evidence) until the provider's creation
// dates are known, and the account fact and clusterKnownAgeShare read them.
import { createFactLoader } from "../src/features/facts/fact-loader";
import { createFactSource } from "../src/features/facts/fact-source";
import type { EventFact } from "../src/engine/evaluation";
import { testTargets } from "./support/test-database";
import { type TestServer, startTestServer } from "./support/test-server";

const at = Date.parse("2026-11-20T10:00:00Z");
const day = 86_400_000;

describe.each(testTargets())("account profiles (%s)", (kind) => {
  let server: TestServer;
  beforeAll(async () => {
    server = await startTestServer(kind);
  });
  afterAll(() => server.stop());

  const profileOf = async (id: string) =>
    (await server.running.services.db.query<{ created_at: Date | null; verification: string | null; plan: string | null; org_id: string | null }>({
      text: "SELECT created_at, verification, plan, org_id FROM account_profile WHERE account_id = $1",
      values: [id],
    }))[0] ?? null;

  it("sets one account's profile, keeps the fields left out and clears those sent as null", async () => {
    const put = await server.call("PUT", "/v1/accounts/ap_one", { body: { createdAt: "2025-01-02T03:04:05+01:00", verification: "id", plan: "pro" } });
    expect(put.status).toBe(200);
    expect(put.body).toMatchObject({ accountId: "ap_one", createdAt: "2025-01-02T02:04:05.000Z", verification: "id", plan: "pro", orgId: null });
    const again = await server.call("PUT", "/v1/accounts/ap_one", { body: { plan: null, orgId: "org_ap" } });
    expect(again.body).toMatchObject({ createdAt: "2025-01-02T02:04:05.000Z", verification: "id", plan: null, orgId: "org_ap" });
    // The account view shows it once the account has been seen.
    await server.call("POST", "/v1/events", { body: [{ eventId: "ap_one_e1", accountId: "ap_one", occurredAt: new Date(at).toISOString(), model: "m", inputTokens: 1, outputTokens: 1 }] });
    const view = await server.call("GET", "/v1/accounts/ap_one");
    expect(view.body.profile).toMatchObject({ createdAt: "2025-01-02T02:04:05.000Z", verification: "id", plan: null, orgId: "org_ap" });
  });

  it("refuses bad input naming the field, and stores nothing", async () => {
    const cases: [unknown, string[]][] = [
      [{ createdAt: "yesterday" }, ["body.createdAt"]],
      [{ createdAt: "2999-01-01T00:00:00Z" }, ["body.createdAt"]],
      [{ verification: "has spaces" }, ["body.verification"]],
      [{ plan: "x".repeat(65) }, ["body.plan"]],
      [{ orgId: "" }, ["body.orgId"]],
      // An unknown field, and no known one.
      [{ tier: "pro" }, ["body", "body"]],
      [{}, ["body"]],
    ];
    for (const [body, path] of cases) {
      const res = await server.call("PUT", "/v1/accounts/ap_bad", { body });
      expect({ body, status: res.status, paths: res.body.errors.map((d: { path: string }) => d.path) }).toEqual({ body, status: 400, paths: path });
    }
    expect(await profileOf("ap_bad")).toBeNull();
  });

  it("needs the accounts:write scope", async () => {
    const gateway = (await server.call("POST", "/v1/keys", { body: { name: "gw", scopes: ["events:write"] } })).body.key;
    const crm = (await server.call("POST", "/v1/keys", { body: { name: "crm", scopes: ["accounts:write"] } })).body.key;
    expect((await server.call("PUT", "/v1/accounts/ap_scope", { body: { plan: "free" }, key: gateway })).status).toBe(403);
    expect((await server.call("PUT", "/v1/accounts", { body: [{ accountId: "ap_scope", plan: "free" }], key: gateway })).status).toBe(403);
    expect((await server.call("PUT", "/v1/accounts/ap_scope", { body: { plan: "free" }, key: crm })).status).toBe(200);
  });

  it("sets many at once, as JSON or NDJSON, all or nothing", async () => {
    const ndjson = [
      JSON.stringify({ accountId: "ap_b1", createdAt: "2024-05-01T00:00:00Z", plan: "enterprise" }),
      JSON.stringify({ accountId: "ap_b2", verification: "email" }),
      "",
      JSON.stringify({ accountId: "ap_b3", orgId: "org_b" }),
    ].join("\n");
    const ok = await server.call("PUT", "/v1/accounts", { rawBody: ndjson, contentType: "application/x-ndjson" });
    expect(ok.status).toBe(200);
    expect(ok.body.updated).toBe(3);
    expect(ok.body.items.map((p: { accountId: string }) => p.accountId)).toEqual(["ap_b1", "ap_b2", "ap_b3"]);

    const bad = await server.call("PUT", "/v1/accounts", {
      body: [{ accountId: "ap_b4", plan: "free" }, { accountId: "ap_b5", plan: "bad plan" }, { accountId: "ap_b4", plan: "pro" }, { plan: "free" }, { accountId: "ap_b6" }],
    });
    expect(bad.status).toBe(400);
    expect(bad.body.errors.map((d: { path: string }) => d.path)).toEqual(["[1].plan", "[2].accountId", "[3].accountId", "[4]"]);
    const brokenLine = await server.call("PUT", "/v1/accounts", { rawBody: `${JSON.stringify({ accountId: "ap_b4", plan: "x" })}\n{not json`, contentType: "application/x-ndjson" });
    expect(brokenLine.status).toBe(400);
    expect(brokenLine.body.errors[0].path).toBe("[1]");
    expect(await profileOf("ap_b4")).toBeNull();
    expect((await server.call("PUT", "/v1/accounts", { body: { accountId: "ap_b4" } })).status).toBe(400);
  });

  it("takes profile fields from events: the latest event's value of each field", async () => {
    const ev = (n: number, min: number, extra: Record<string, unknown>) => ({ eventId: `ap_ev_${n}`, accountId: "ap_ev", occurredAt: new Date(at + min * 60_000).toISOString(), model: "m", inputTokens: 1, outputTokens: 1, ...extra });
    const posted = await server.call("POST", "/v1/events", {
      body: [ev(1, 5, { accountCreatedAt: "2023-03-03T00:00:00Z", accountPlan: "pro" }), ev(2, 1, { accountPlan: "free", accountVerification: "phone" }), ev(3, 9, {})],
    });
    expect(posted.body).toMatchObject({ accepted: 3, rejected: [] });
    expect(await profileOf("ap_ev")).toEqual({ created_at: new Date("2023-03-03T00:00:00Z"), verification: "phone", plan: "pro", org_id: null });
    // Events fill what the profile lacks; what the API set stays, even against a later event.
    await server.call("PUT", "/v1/accounts/ap_ev", { body: { plan: "enterprise" } });
    await server.call("POST", "/v1/events", { body: [ev(5, 30, { accountPlan: "free", accountVerification: "id" })] });
    expect(await profileOf("ap_ev")).toMatchObject({ plan: "enterprise", verification: "phone" });
    const refused = await server.call("POST", "/v1/events", { body: [ev(4, 1, { accountCreatedAt: "soon" })] });
    expect(refused.body.rejected[0].errors[0].path).toBe("[0].accountCreatedAt");
  });

  it("on a fresh installation, judges ages from first sight and says so, until the provider's creation dates are known", async () => {
    // An established team of 12 sharing a card, first seen by this installation today, heavy together.
    const team = Array.from({ length: 12 }, (_, k) => `ap_team_${k}`);
    const events = (round: number) =>
      team.map((accountId, k) => ({
        eventId: `ap_team_${round}_${k}`,
        accountId,
        occurredAt: new Date(at + round * day + k * 1000).toISOString(),
        model: "m",
        inputTokens: 10,
        outputTokens: 1_000_000,
        paymentFingerprint: "pf_team",
      }));
    await server.call("POST", "/v1/events", { body: events(0) });
    await server.drain();
    const cases = (await server.call("GET", "/v1/cases?ruleId=accounts.hydra-cluster&limit=100")).body.items as { id: string; accountId: string }[];
    expect(cases.map((c) => c.accountId).sort()).toEqual([...team].sort());
    const detail = (await server.call("GET", `/v1/cases/${cases[0]!.id}`)).body;
    const share = detail.evidence[0].conditions.find((c: { fact: string }) => c.fact === "clusterNewAccountShare");
    expect(share).toMatchObject({ factValue: 1, note: expect.stringContaining("100% of the cluster are from their first sight") });

    // The provider says they were created long ago: the next day's traffic opens no new case, and the facts read the dates.
    const put = await server.call("PUT", "/v1/accounts", { body: team.map((accountId) => ({ accountId, createdAt: new Date(at - 400 * day).toISOString(), plan: "team" })) });
    expect(put.status).toBe(200);
    for (const c of cases) await server.call("POST", `/v1/cases/${c.id}/transitions`, { body: { to: "dismissed", note: "established customers" } });
    await server.call("POST", "/v1/events", { body: events(1) });
    await server.drain();
    const open = (await server.call("GET", "/v1/cases?ruleId=accounts.hydra-cluster&status=open&limit=100")).body.items;
    expect(open).toEqual([]);

    const source = createFactSource(server.running.services.db, { eventId: "x", accountId: "ap_team_0", occurredAt: new Date(at + day).toISOString() } as EventFact, createFactLoader(server.running.services.db));
    expect(await source.account()).toMatchObject({ createdAt: new Date(at - 400 * day).toISOString(), ageSource: "provider", ageKnown: true, plan: "team", verification: null });
    expect((await source.account()).ageDays).toBeCloseTo(401, 6);
    const q = { by: "any" as const, windowMs: 7 * day };
    expect(await source.linkedFact("clusterNewAccountShare", q)).toBe(0);
    expect(await source.linkedFact("clusterKnownAgeShare", q)).toBe(1);
    expect(await source.linkedFact("clusterKnownAgeShare", { ...q, reach: "direct" })).toBe(1);
  });
});
