// The rules API on every test database: validate, create, version, read, enable/disable, scopes,
// audit, and a running worker picking a change up without a restart.
import fs from "node:fs";
import { type TestServer, repoRulesDir, startTestServer } from "./support/test-server";
import { testTargets } from "./support/test-database";
import { ruleDocument, usageEvent } from "./support/factories";

const eventRule = (overrides: Record<string, unknown> = {}) =>
  ruleDocument({
    id: "api.model-x",
    scope: "event",
    severity: "low",
    conditions: { all: [{ fact: "event", path: "$.model", operator: "equal", value: "model-x" }] },
    ...overrides,
  });

async function waitFor<T>(fn: () => Promise<T | undefined>, timeoutMs = 15_000): Promise<T> {
  const until = Date.now() + timeoutMs;
  for (;;) {
    const v = await fn();
    if (v !== undefined) return v;
    if (Date.now() > until) throw new Error("timed out");
    await new Promise((r) => setTimeout(r, 100));
  }
}

describe.each(testTargets())("rules API on %s", (kind) => {
  let server: TestServer;
  beforeAll(async () => {
    server = await startTestServer(kind, { worker: true });
  });
  afterAll(async () => {
    await server.stop();
  });

  it("validates without saving, listing every fault with its JSON path", async () => {
    expect((await server.call("POST", "/v1/rules/validate", { body: eventRule() })).body).toEqual({ valid: true });
    const bad = await server.call("POST", "/v1/rules/validate", {
      body: eventRule({
        severity: "extreme",
        window: "100d",
        conditions: { all: [{ fact: "outputTokenz", operator: "greaterThan", value: 1 }, { any: [{ fact: "requestCount", operator: "near", value: 3 }] }] },
      }),
    });
    expect(bad.status).toBe(400);
    expect(bad.headers.get("content-type")).toContain("application/problem+json");
    expect(bad.body.errors.map((e: { path: string }) => e.path).sort()).toEqual(["conditions.all[0].fact", "conditions.all[1].any[0].operator", "severity", "window"]);
    expect((await server.call("GET", "/v1/rules/api.model-x")).status).toBe(404);
  });

  it("refuses text the database cannot store anywhere in a rule, naming where, and stores nothing", async () => {
    // Found by the fuzzer: an unpaired surrogate in the clause's text passed validation and failed the insert (500).
    const rule = eventRule({
      id: "api.unstorable",
      clause: { ref: "Terms, 1", text: "x\udfffy" },
      conditions: { all: [{ fact: "event", path: "$.model", operator: "equal", value: "a\u0000b" }] },
    });
    for (const [method, path] of [["POST", "/v1/rules/validate"], ["POST", "/v1/rules"]] as const) {
      const res = await server.call(method, path, { body: rule });
      expect({ status: res.status, errors: res.body.errors }).toEqual({
        status: 400,
        errors: [
          { path: "clause.text", message: "must not contain NUL characters or unpaired surrogates" },
          { path: "conditions.all[0].value", message: "must not contain NUL characters or unpaired surrogates" },
        ],
      });
    }
    const key = await server.call("POST", "/v1/rules/validate", { body: { ...eventRule(), "\ud800": 1 } });
    expect(key.body.errors).toEqual([{ path: "\ud800", message: "the key must not contain NUL characters or unpaired surrogates" }]);
    expect((await server.call("GET", "/v1/rules/api.unstorable")).status).toBe(404);
  });

  it("creates a rule, refuses a second create, adds versions only for changes, and lists them", async () => {
    const created = await server.call("POST", "/v1/rules", { body: eventRule() });
    expect(created.status).toBe(201);
    expect(created.body).toMatchObject({ id: "api.model-x", version: 1, enabled: true, source: "api", document: { severity: "low" } });
    expect((await server.call("POST", "/v1/rules", { body: eventRule() })).status).toBe(409);

    const same = await server.call("PUT", "/v1/rules/api.model-x", { body: eventRule() });
    expect(same.body).toMatchObject({ version: 1, changed: false });
    const v2 = await server.call("PUT", "/v1/rules/api.model-x", { body: eventRule({ severity: "high" }) });
    expect(v2.body).toMatchObject({ version: 2, changed: true, document: { severity: "high" } });

    const versions = await server.call("GET", "/v1/rules/api.model-x/versions");
    expect(versions.body.items.map((v: { version: number; current: boolean; document: { severity: string } }) => [v.version, v.current, v.document.severity])).toEqual([
      [2, true, "high"],
      [1, false, "low"],
    ]);
    expect((await server.call("PUT", "/v1/rules/api.model-x", { body: eventRule({ id: "other.rule" }) })).body.errors).toEqual([
      { path: "id", message: "must be 'api.model-x', the rule in the path" },
    ]);
    expect((await server.call("PUT", "/v1/rules/no.such-rule", { body: eventRule({ id: "no.such-rule" }) })).status).toBe(404);

    // The policy pack's rules are listed with the API's, in id order, page by page.
    const pack = fs.readdirSync(repoRulesDir).filter((f) => f.endsWith(".json")).map((f) => f.replace(/\.json$/, ""));
    const ids: string[] = [];
    let cursor: string | null = null;
    let pages = 0;
    do {
      const page = await server.call("GET", `/v1/rules?limit=4${cursor ? `&cursor=${cursor}` : ""}`);
      expect(page.body.items.length).toBeLessThanOrEqual(4);
      ids.push(...page.body.items.map((r: { id: string }) => r.id));
      cursor = page.body.nextCursor;
      pages++;
    } while (cursor);
    expect(ids).toEqual(["api.model-x", ...pack].sort());
    expect(pages).toBe(Math.ceil(ids.length / 4));
  });

  it("is in effect for every event stored after the change, in the running worker: versions, disable, enable", async () => {
    await server.call("PUT", "/v1/rules/api.model-x", { body: eventRule({ severity: "critical" }) });
    const caseOf = async () => (await server.call("GET", "/v1/cases?ruleId=api.model-x&accountId=acct_rules")).body.items[0];

    await server.call("POST", "/v1/events", { body: [usageEvent({ accountId: "acct_rules", model: "model-x" })] });
    const opened = await waitFor(async () => (await caseOf()) ?? undefined);
    expect(opened).toMatchObject({ ruleVersion: 3, severity: "critical", hitCount: 1 });

    const disabled = await server.call("POST", "/v1/rules/api.model-x/disable");
    expect(disabled.body).toMatchObject({ enabled: false, version: 3 });
    await server.call("POST", "/v1/events", { body: [usageEvent({ accountId: "acct_rules", model: "model-x" })] });
    await waitFor(async () => ((await server.call("GET", "/readyz")).body.evaluation.queueDepth === 0 ? true : undefined));
    expect((await caseOf()).hitCount).toBe(1);

    expect((await server.call("POST", "/v1/rules/api.model-x/enable")).body.enabled).toBe(true);
    await server.call("POST", "/v1/events", { body: [usageEvent({ accountId: "acct_rules", model: "model-x" })] });
    await waitFor(async () => ((await caseOf()).hitCount === 2 ? true : undefined));
  });

  it("audits every change with who and which request", async () => {
    const entries = await server.running.services.db.prisma.auditLogEntry.findMany({ where: { targetId: "api.model-x" }, orderBy: { id: "asc" } });
    expect(entries.map((e) => e.action)).toEqual(["rule.create", "rule.version", "rule.version", "rule.disable", "rule.enable"]);
    for (const e of entries) {
      expect(e.actor).toMatch(/^key:/);
      expect(e.requestId).toEqual(expect.any(String));
    }
    expect(entries[1]!.before).toMatchObject({ version: 1 });
    expect(entries[1]!.after).toMatchObject({ version: 2 });
  });

  it("needs rules:read to read and validate, rules:write to change", async () => {
    const reader = (await server.call("POST", "/v1/keys", { body: { name: "author", scopes: ["rules:read"] } })).body.key;
    expect((await server.call("GET", "/v1/rules", { key: reader })).status).toBe(200);
    expect((await server.call("POST", "/v1/rules/validate", { body: eventRule(), key: reader })).status).toBe(200);
    expect((await server.call("POST", "/v1/rules", { body: eventRule({ id: "x.y" }), key: reader })).status).toBe(403);
    expect((await server.call("POST", "/v1/rules/api.model-x/disable", { key: reader })).status).toBe(403);
    expect((await server.call("GET", "/v1/rules", { key: null })).status).toBe(401);
  });
});
