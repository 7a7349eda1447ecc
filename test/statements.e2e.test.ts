// Statements of reasons over HTTP on every test database: one for every enforcement placed and
// lifted (the case's own account and linked ones), what each says (clause, facts in plain words
// with values and windows, grounds, automation, appeal deadline), that a linked account's holds no
// other customer's identity or data, that stored statements cannot be changed, the webhook, and
// who may read them.
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { type TestServer, startTestServer, testConfig } from "./support/test-server";
import { startServer } from "../src/server";
import { createLogger } from "../src/shared/logger";
import { builtInNotice } from "../src/features/statements/notice-templates";
import { testTargets } from "./support/test-database";
import { usageEvent } from "./support/factories";

const dayMs = 86_400_000;

describe.each(testTargets())("statements of reasons on %s", (kind) => {
  let server: TestServer;
  const ago = (minutes: number) => new Date(Date.now() - minutes * 60_000).toISOString();

  beforeAll(async () => {
    server = await startTestServer(kind, { config: { webhooks: { urls: ["http://127.0.0.1:9/statements"], secret: "s".repeat(16), timeoutMs: 1000, maxAttempts: 1 } } });
    await server.call("POST", "/v1/rules", {
      body: {
        id: "test.reasoning-volume",
        name: "Reasoning trace volume",
        description: "Many requests, most asking for reasoning traces.",
        clause: { ref: "Terms 2(c)", text: "You may not use Output to develop competing models." },
        severity: "high",
        scope: "account",
        window: "24h",
        enabled: true,
        recommendedAction: "suspend",
        conditions: {
          all: [
            { fact: "requestCount", operator: "greaterThanInclusive", value: 4 },
            { fact: "signalRate", params: { signal: "reasoningTraceRequest" }, operator: "greaterThanInclusive", value: 0.5 },
          ],
        },
      },
    });
  });
  afterAll(async () => {
    await server.stop();
  });

  it("issues one for each enforcement and lifting; a linked account's names the link kind and nothing of the other customer", async () => {
    // acct_sor_1 sends 5 requests, 4 asking for reasoning traces; acct_sor_2 shares its payment method.
    const mine = Array.from({ length: 5 }, (_, i) =>
      usageEvent({ accountId: "acct_sor_1", occurredAt: ago(10 - i), ip: "198.51.100.23", paymentFingerprint: "pm_sor_secret", signals: { reasoningTraceRequest: i < 4 } }),
    );
    await server.call("POST", "/v1/events", { body: [...mine, usageEvent({ accountId: "acct_sor_2", occurredAt: ago(3), ip: "203.0.113.99", paymentFingerprint: "pm_sor_secret" })] });
    await server.drain();
    const kase = (await server.call("GET", "/v1/cases?accountId=acct_sor_1&ruleId=test.reasoning-volume")).body.items[0];
    expect(kase).toBeDefined();
    await server.call("POST", `/v1/cases/${kase.id}/transitions`, { body: { to: "confirmed" } });
    const enforced = await server.call("POST", `/v1/cases/${kase.id}/enforce`, { body: { action: "suspend", note: "internal: ring of two", includeLinked: { by: "paymentFingerprint" } } });
    expect(enforced.status).toBe(200);

    const own = (await server.call("GET", "/v1/accounts/acct_sor_1/statements")).body;
    expect(own.items).toHaveLength(1);
    const s = own.items[0];
    expect(s).toMatchObject({
      accountId: "acct_sor_1",
      kind: "enforcement",
      caseId: kase.id,
      action: "suspend",
      accountStatus: "suspended",
      clause: { ref: "Terms 2(c)", text: "You may not use Output to develop competing models." },
      rule: { id: "test.reasoning-volume", version: 1 },
      grounds: "own_activity",
      linkedBy: null,
      automated: { detection: true, decision: false },
    });
    expect(s.facts.map((f: { fact: string; value: unknown; window: string; text: string }) => [f.fact, f.value, f.window, f.text])).toEqual([
      ["requestCount", 5, "24h", "5 requests in 24 h"],
      ["signalRate", 0.8, "24h", "80% of requests in 24 h asking for reasoning traces"],
    ]);
    expect(Date.parse(s.appealUntil) - Date.parse(s.issuedAt)).toBe(180 * dayMs);
    expect(s.text).toContain("your account acct_sor_1 is suspended");
    expect(s.text).toContain("- 5 requests in 24 h\n- 80% of requests in 24 h asking for reasoning traces");
    expect(s.text).toContain(`You can appeal until ${s.appealUntil.slice(0, 16).replace("T", " ")} UTC`);
    expect(s.template).toMatch(/^default@[0-9a-f]{12}$/);
    // The analyst's note is internal: not in the statement.
    expect(JSON.stringify(s)).not.toContain("ring of two");

    const linked = (await server.call("GET", "/v1/accounts/acct_sor_2/statements")).body.items;
    expect(linked).toHaveLength(1);
    expect(linked[0]).toMatchObject({ accountId: "acct_sor_2", kind: "enforcement", grounds: "linked_account", linkedBy: "paymentFingerprint", facts: [], accountStatus: "suspended" });
    expect(linked[0].text).toContain("it shares a payment method with an account we found in breach");
    // No other customer's identity or data: not its id, its payment fingerprint, its address or its facts.
    const text = JSON.stringify(linked[0]);
    for (const other of ["acct_sor_1", "pm_sor_secret", "198.51.100.23", "80%", "5 requests", "internal"]) expect([other, text.includes(other)]).toEqual([other, false]);

    // Resolving lifts both: a lifting statement each, saying the status after.
    await server.call("POST", `/v1/cases/${kase.id}/transitions`, { body: { to: "resolved", note: "stopped" } });
    for (const account of ["acct_sor_1", "acct_sor_2"]) {
      const items = (await server.call("GET", `/v1/accounts/${account}/statements`)).body.items;
      expect(items.map((i: { kind: string; accountStatus: string }) => [i.kind, i.accountStatus])).toEqual([
        ["lifting", "active"],
        ["enforcement", "suspended"],
      ]);
      expect(items[0].appealUntil).toBeNull();
      expect(items[0].text).toContain(`your account ${account} under clause Terms 2(c) of our terms is lifted. Your account is now active.`);
      expect(items[0].text).toContain("The case that led to it is closed.");
      expect((await server.call("GET", `/v1/statements/${items[0].id}`)).body).toEqual(items[0]);
    }

    // Announced: one statement.issued webhook per statement, naming no other account.
    const hooks = await server.running.services.db.prisma.webhookDelivery.findMany({ where: { eventType: "statement.issued" }, orderBy: { id: "asc" } });
    const data = hooks.map((h) => (h.payload as { data: { accountId: string; kind: string } }).data);
    expect(data.map((d) => `${d.accountId}:${d.kind}`)).toEqual(["acct_sor_1:enforcement", "acct_sor_2:enforcement", "acct_sor_1:lifting", "acct_sor_2:lifting"]);
  });

  it("refuses to start on an invalid notice file, naming the file and the path, before touching the database", async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "cg-bad-notice-"));
    fs.mkdirSync(path.join(dir, "notices"));
    fs.writeFileSync(path.join(dir, "notices", "default.json"), JSON.stringify({ ...builtInNotice, enforcement: "Dear {{customerName}}" }));
    await expect(startServer(testConfig({ rulesDir: dir }), createLogger("silent", false), { api: true, worker: false })).rejects.toThrow(/default\.json at enforcement: '\{\{customerName\}\}' is not a name/);
  });

  it("keeps every statement as issued: the database refuses to change or delete one", async () => {
    const row = await server.running.services.db.prisma.statementOfReasons.findFirstOrThrow();
    await expect(server.running.services.db.prisma.statementOfReasons.update({ where: { id: row.id }, data: { text: "rewritten" } })).rejects.toThrow(/never changed or deleted/);
    await expect(server.running.services.db.prisma.statementOfReasons.delete({ where: { id: row.id } })).rejects.toThrow(/never changed or deleted/);
    expect((await server.running.services.db.prisma.statementOfReasons.findUniqueOrThrow({ where: { id: row.id } })).text).toBe(row.text);
  });

  it("pages newest first, validates its input, and is read with statements:read or cases:read only", async () => {
    const first = await server.call("GET", "/v1/accounts/acct_sor_1/statements?limit=1");
    expect(first.body.items.map((i: { kind: string }) => i.kind)).toEqual(["lifting"]);
    const second = await server.call("GET", `/v1/accounts/acct_sor_1/statements?limit=1&cursor=${first.body.nextCursor}`);
    expect(second.body).toMatchObject({ items: [{ kind: "enforcement" }], nextCursor: null });
    expect((await server.call("GET", "/v1/accounts/acct_sor_1/statements?limit=0")).body.errors).toEqual([expect.objectContaining({ path: "query.limit" })]);
    expect((await server.call("GET", "/v1/accounts/acct_sor_1/statements?cursor=nope")).body.errors).toEqual([expect.objectContaining({ path: "query.cursor" })]);
    expect((await server.call("GET", "/v1/accounts/acct_nobody/statements")).body).toEqual({ items: [], nextCursor: null });
    expect((await server.call("GET", "/v1/statements/sor_missing")).status).toBe(404);

    const keyWith = async (scopes: string[]) => (await server.call("POST", "/v1/keys", { body: { name: scopes.join("+"), scopes } })).body.key as string;
    const portal = await keyWith(["statements:read"]);
    expect((await server.call("GET", "/v1/accounts/acct_sor_1/statements", { key: portal })).status).toBe(200);
    expect((await server.call("GET", "/v1/cases", { key: portal })).status).toBe(403);
    const gateway = await keyWith(["events:write"]);
    expect((await server.call("GET", "/v1/accounts/acct_sor_1/statements", { key: gateway })).status).toBe(403);
    expect((await server.call("GET", "/v1/accounts/acct_sor_1/statements", { key: null })).status).toBe(401);
  });
});
