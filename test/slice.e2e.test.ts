// The first vertical slice over HTTP, on every test database: events in, evaluation, a case with
// evidence, a further hit on the same case, the case list and detail, the enforcement answer.
import { type TestServer, startTestServer } from "./support/test-server";
import { testTargets } from "./support/test-database";
import { ruleDocument, usageEvent } from "./support/factories";

describe.each(testTargets())("vertical slice on %s", (kind) => {
  let server: TestServer;
  beforeAll(async () => {
    server = await startTestServer(kind);
  });
  afterAll(async () => {
    await server.stop();
  });

  it("opens a case with evidence for an event-scope hit and adds a further hit to it", async () => {
    const first = usageEvent({ accountId: "acct_synth", outputTokens: 4500, signals: { syntheticDataRequest: true }, occurredAt: "2026-11-24T10:00:00Z" });
    const miss = usageEvent({ accountId: "acct_synth", outputTokens: 100, signals: { syntheticDataRequest: true }, occurredAt: "2026-11-24T10:01:00Z" });
    const post = await server.call("POST", "/v1/events", { body: [first, miss] });
    expect(post.status).toBe(202);
    expect(post.body).toEqual({ accepted: 2, duplicates: 0, rejected: [] });
    expect(await server.drain()).toBe(2);

    const list = await server.call("GET", "/v1/cases?accountId=acct_synth");
    expect(list.status).toBe(200);
    expect(list.body.items).toHaveLength(1);
    const summary = list.body.items[0];
    expect(summary).toMatchObject({
      accountId: "acct_synth",
      ruleId: "extraction.synthetic-data-request",
      ruleVersion: 1,
      status: "open",
      severity: "medium",
      hitCount: 1,
      clause: { ref: "Terms of Use, 2(c)(iii)" },
      firstSeenAt: "2026-11-24T10:00:00.000Z",
    });

    const detail = await server.call("GET", `/v1/cases/${summary.id}`);
    expect(detail.status).toBe(200);
    expect(detail.body.evidence).toHaveLength(1);
    const evidence = detail.body.evidence[0];
    expect(evidence.triggerEventId).toBe(first.eventId);
    expect(evidence.eventIds).toEqual([first.eventId]);
    expect(evidence.conditions).toEqual([
      { path: "all[0]", fact: "event", jsonPath: "$.signals.syntheticDataRequest", operator: "equal", value: true, factValue: true, result: true },
      { path: "all[1]", fact: "event", jsonPath: "$.outputTokens", operator: "greaterThanInclusive", value: 4000, factValue: 4500, result: true },
    ]);
    expect(detail.body.timeline).toEqual([
      expect.objectContaining({ kind: "opened", to: "open", actor: "rule:extraction.synthetic-data-request@1" }),
    ]);

    const again = usageEvent({ accountId: "acct_synth", outputTokens: 9000, signals: { syntheticDataRequest: true }, occurredAt: "2026-11-24T11:00:00Z" });
    expect((await server.call("POST", "/v1/events", { body: [again] })).status).toBe(202);
    await server.drain();
    const after = await server.call("GET", `/v1/cases/${summary.id}`);
    expect(after.body).toMatchObject({ hitCount: 2, lastSeenAt: "2026-11-24T11:00:00.000Z", status: "open" });
    expect(after.body.evidence.map((e: { triggerEventId: string }) => e.triggerEventId)).toEqual([again.eventId, first.eventId]);
    const all = await server.call("GET", "/v1/cases?accountId=acct_synth");
    expect(all.body.items).toHaveLength(1);
  });

  it("opens an account-scope case from the 24h output-token aggregate, once per burst", async () => {
    // 6 events of 1,000,000 output tokens: the aggregate passes 5,000,000 only with the sixth.
    const events = Array.from({ length: 6 }, (_, i) =>
      usageEvent({ accountId: "acct_volume", outputTokens: 1_000_000, occurredAt: `2026-11-24T0${i}:00:00Z` }),
    );
    await server.call("POST", "/v1/events", { body: events.slice(0, 5) });
    await server.drain();
    expect((await server.call("GET", "/v1/cases?accountId=acct_volume&ruleId=distillation.output-volume")).body.items).toEqual([]);

    await server.call("POST", "/v1/events", { body: events.slice(5) });
    await server.drain();
    const list = await server.call("GET", "/v1/cases?accountId=acct_volume&ruleId=distillation.output-volume");
    expect(list.body.items).toHaveLength(1);
    const detail = await server.call("GET", `/v1/cases/${list.body.items[0].id}`);
    expect(detail.body).toMatchObject({ hitCount: 1, severity: "high", firstSeenAt: "2026-11-24T05:00:00.000Z" });
    const evidence = detail.body.evidence[0];
    expect(evidence.window).toBe("24h");
    expect(evidence.conditions).toEqual([
      { path: "all[0]", fact: "outputTokens", operator: "greaterThan", value: 5_000_000, factValue: 6_000_000, result: true },
    ]);
    // The contributing events, newest first.
    expect(evidence.eventIds).toEqual(events.map((e) => e.eventId).reverse());

    // Two more events in one batch: with the default (batch) cadence the account's window is judged
    // once, at its newest event, so one more hit (test/cadence.e2e.test.ts covers the minute cadence).
    await server.call("POST", "/v1/events", {
      body: [usageEvent({ accountId: "acct_volume", outputTokens: 10, occurredAt: "2026-11-24T06:00:00Z" }), usageEvent({ accountId: "acct_volume", outputTokens: 10, occurredAt: "2026-11-24T06:30:00Z" })],
    });
    await server.drain();
    const again = await server.call("GET", `/v1/cases/${list.body.items[0].id}`);
    expect(again.body.hitCount).toBe(2);
    expect(again.body.evidence[0].conditions[0].factValue).toBe(6_000_020);
  });

  it("opens a ban-evasion case for accounts linked to a suspended one, directly or through others, and none for the others", async () => {
    const at = "2026-11-24T09:00:00Z";
    await server.call("POST", "/v1/events", { body: [usageEvent({ accountId: "acct_banned", paymentFingerprint: "pmfp_slice_ban", occurredAt: at })] });
    await server.drain();
    await server.running.services.db.prisma.account.update({ where: { id: "acct_banned" }, data: { status: "suspended", statusSince: new Date(at) } });
    // One batch: two accounts share the banned one's card, one shares nothing.
    await server.call("POST", "/v1/events", {
      body: ["acct_evader1", "acct_evader2", "acct_unrelated"].map((accountId) =>
        usageEvent({ accountId, paymentFingerprint: accountId === "acct_unrelated" ? "pmfp_slice_own" : "pmfp_slice_ban", occurredAt: "2026-11-24T09:30:00Z" }),
      ),
    });
    await server.drain();
    const flagged = (await server.call("GET", "/v1/cases?ruleId=accounts.ban-evasion&limit=50")).body.items.map((c: { accountId: string }) => c.accountId).sort();
    expect(flagged).toEqual(["acct_evader1", "acct_evader2"]);

    // A later account shares only a network with acct_evader2 (and evader2 that network with no
    // one else): it is in the banned account's cluster through evader2, and its case lists the cluster.
    await server.call("POST", "/v1/events", { body: [usageEvent({ accountId: "acct_evader2", ip: "198.18.7.10", occurredAt: "2026-11-24T09:40:00Z" })] });
    await server.call("POST", "/v1/events", { body: [usageEvent({ accountId: "acct_evader3", ip: "198.18.7.99", occurredAt: "2026-11-24T09:45:00Z" })] });
    await server.drain();
    const cases = (await server.call("GET", "/v1/cases?ruleId=accounts.ban-evasion&limit=50")).body.items;
    const of = (id: string) => cases.find((c: { accountId: string }) => c.accountId === id);
    expect(cases.map((c: { accountId: string }) => c.accountId).sort()).toEqual(["acct_evader1", "acct_evader2", "acct_evader3"]);
    const third = (await server.call("GET", `/v1/cases/${of("acct_evader3").id}`)).body;
    expect(third.linkedAccounts).toEqual(["acct_banned", "acct_evader1", "acct_evader2"]);
    const first = (await server.call("GET", `/v1/cases/${of("acct_evader1").id}`)).body;
    expect(first.linkedAccounts).toEqual(["acct_banned", "acct_evader2"]);
  });

  it("builds the components of a link scope when a rule first names it, from the links stored before", async () => {
    // Three accounts on one /24, stored while no rule reads the network scope: only "any" is kept.
    await server.call("POST", "/v1/events", {
      body: ["acct_net1", "acct_net2", "acct_net3"].map((accountId, i) => usageEvent({ accountId, ip: `198.51.77.${i + 1}`, occurredAt: "2026-11-24T12:00:00Z" })),
    });
    await server.drain();
    const kept = async () => (await server.running.services.db.query<{ scope: string }>({ text: "SELECT scope FROM link_scope ORDER BY 1", values: [] })).map((r) => r.scope);
    expect(await kept()).not.toContain("ipPrefix");
    const rule = ruleDocument({
      id: "test.network-cluster",
      conditions: { all: [{ fact: "linkedAccounts", operator: "greaterThanInclusive", value: 2, params: { by: "ipPrefix" } }] },
    });
    expect((await server.call("POST", "/v1/rules", { body: rule })).status).toBe(201);
    await server.call("POST", "/v1/events", { body: [usageEvent({ accountId: "acct_net1", ip: "198.51.77.1", occurredAt: "2026-11-24T12:05:00Z" })] });
    await server.drain();
    expect(await kept()).toContain("ipPrefix");
    const cases = (await server.call("GET", "/v1/cases?ruleId=test.network-cluster")).body.items;
    expect(cases.map((c: { accountId: string }) => c.accountId)).toEqual(["acct_net1"]);
    const detail = (await server.call("GET", `/v1/cases/${cases[0].id}`)).body;
    expect(detail.evidence[0].conditions[0]).toMatchObject({ fact: "linkedAccounts", factValue: 2, result: true });
  });

  it("filters and paginates the case list, newest activity first", async () => {
    for (const account of ["acct_p1", "acct_p2", "acct_p3"]) {
      await server.call("POST", "/v1/events", { body: [usageEvent({ accountId: account, outputTokens: 5000, signals: { syntheticDataRequest: true } })] });
      await server.drain();
    }
    const page1 = await server.call("GET", "/v1/cases?ruleId=extraction.synthetic-data-request&severity=medium&limit=2");
    expect(page1.body.items.map((c: { accountId: string }) => c.accountId)).toEqual(["acct_p3", "acct_p2"]);
    expect(page1.body.nextCursor).toEqual(expect.any(String));
    const page2 = await server.call("GET", `/v1/cases?ruleId=extraction.synthetic-data-request&severity=medium&limit=2&cursor=${page1.body.nextCursor}`);
    expect(page2.body.items.map((c: { accountId: string }) => c.accountId)).toEqual(["acct_p1", "acct_synth"]);
    expect(page2.body.nextCursor).toBeNull();
    expect((await server.call("GET", "/v1/cases?status=dismissed")).body.items).toEqual([]);

    const bad = await server.call("GET", "/v1/cases?status=nope&limit=0");
    expect(bad.status).toBe(400);
    expect(bad.headers.get("content-type")).toContain("application/problem+json");
    expect(bad.body.errors.map((e: { path: string }) => e.path).sort()).toEqual(["query.limit", "query.status"]);
    expect((await server.call("GET", "/v1/cases?cursor=garbage")).status).toBe(400);
  });

  it("sorts the queue by severity, counts it per status, and offers each case its allowed moves", async () => {
    const since = new Date().toISOString();
    await server.call("POST", "/v1/events", { body: [usageEvent({ accountId: "acct_sev_mid", eventId: "evt_sev_mid", outputTokens: 5000, signals: { syntheticDataRequest: true } })] });
    await server.drain();
    await server.call("POST", "/v1/events", { body: [usageEvent({ accountId: "acct_sev_low", eventId: "evt_sev_low", country: "KP" })] });
    await server.drain();
    const ids = (res: { body: { items: { accountId: string }[] } }) => res.body.items.map((c) => c.accountId);

    expect(ids(await server.call("GET", `/v1/cases?from=${since}`))).toEqual(["acct_sev_low", "acct_sev_mid"]);
    const first = await server.call("GET", `/v1/cases?from=${since}&sort=severity&limit=1`);
    expect(ids(first)).toEqual(["acct_sev_mid"]);
    const second = await server.call("GET", `/v1/cases?from=${since}&sort=severity&limit=1&cursor=${first.body.nextCursor}`);
    expect(ids(second)).toEqual(["acct_sev_low"]);
    expect(second.body.nextCursor).toBeNull();
    // A cursor of one order is refused by the other, not misread.
    expect((await server.call("GET", `/v1/cases?from=${since}&cursor=${first.body.nextCursor}`)).status).toBe(400);
    expect((await server.call("GET", "/v1/cases?sort=oldest")).body.errors).toEqual([expect.objectContaining({ path: "query.sort" })]);

    const low = second.body.items[0];
    const detail = await server.call("GET", `/v1/cases/${low.id}`);
    expect(detail.body.allowedTransitions).toEqual([
      { to: "investigating", noteRequired: false },
      { to: "confirmed", noteRequired: false },
      { to: "dismissed", noteRequired: true },
    ]);
    expect((await server.call("GET", `/v1/cases/counts?from=${since}`)).body).toEqual({
      counts: { open: 2, investigating: 0, confirmed: 0, enforced: 0, dismissed: 0, resolved: 0 },
      total: 2,
    });
    await server.call("POST", `/v1/cases/${low.id}/transitions`, { body: { to: "investigating" } });
    expect((await server.call("GET", `/v1/cases/counts?from=${since}&severity=low`)).body).toMatchObject({ counts: { open: 0, investigating: 1 }, total: 1 });
    expect((await server.call("GET", "/v1/cases/counts?status=open")).status).toBe(400);

    // The events a case's evidence names, fetched by id.
    const byId = await server.call("GET", "/v1/events?eventId=evt_sev_low&eventId=evt_sev_mid");
    expect(byId.body.items.map((e: { eventId: string }) => e.eventId).sort()).toEqual(["evt_sev_low", "evt_sev_mid"]);
    expect((await server.call("GET", "/v1/events?eventId=evt_sev_low")).body.items).toHaveLength(1);
    const tooMany = Array.from({ length: 51 }, (_, i) => `eventId=e${i}`).join("&");
    expect((await server.call("GET", `/v1/events?${tooMany}`)).body.errors).toEqual([expect.objectContaining({ path: "query.eventId" })]);
  });

  it("answers 404 problem+json for an unknown case", async () => {
    const res = await server.call("GET", "/v1/cases/case_doesnotexist");
    expect(res.status).toBe(404);
    expect(res.body).toMatchObject({ status: 404, code: "not_found", detail: "case 'case_doesnotexist' does not exist" });
  });

  it("answers the gateway's enforcement question, also for an unknown account", async () => {
    const known = await server.call("GET", "/v1/accounts/acct_synth/enforcement");
    expect(known.body).toEqual({ accountId: "acct_synth", status: "active", since: null, caseIds: [] });
    const unknown = await server.call("GET", "/v1/accounts/never-seen/enforcement");
    expect(unknown.status).toBe(200);
    expect(unknown.body).toEqual({ accountId: "never-seen", status: "active", since: null, caseIds: [] });
  });
});
