// GET /v1/audit over HTTP, on every test database: admin only, every change with its actor, time,
// before and after, newest first, filtered by actor, action and [from, to), paginated; bad
// filters named; no route changes the log. Every answer carries helmet's security headers.
import { type TestServer, startTestServer } from "./support/test-server";
import { testTargets } from "./support/test-database";
import { ruleDocument } from "./support/factories";

describe.each(testTargets())("audit log API on %s", (kind) => {
  let server: TestServer;
  let reader: { id: string; key: string };
  beforeAll(async () => {
    server = await startTestServer(kind);
    reader = (await server.call("POST", "/v1/keys", { body: { name: "audit reader", scopes: ["cases:read", "rules:read"] } })).body;
  });
  afterAll(async () => {
    await server.stop();
  });

  it("lists changes newest first with actor, before and after, filtered and paged", async () => {
    const since = new Date().toISOString();
    const created = await server.call("POST", "/v1/rules", { body: ruleDocument({ id: "audit.rule" }) });
    expect(created.status).toBe(201);
    await server.call("PUT", "/v1/rules/audit.rule", { body: ruleDocument({ id: "audit.rule", severity: "low" }) });
    await server.call("POST", "/v1/rules/audit.rule/disable");

    const all = await server.call("GET", `/v1/audit?from=${encodeURIComponent(since)}&limit=500`);
    expect(all.status).toBe(200);
    const mine = all.body.items.filter((e: { targetId: string }) => e.targetId === "audit.rule");
    expect(mine.map((e: { action: string }) => e.action)).toEqual(["rule.disable", "rule.version", "rule.create"]);
    const admin = mine[0].actor;
    expect(admin).toMatch(/^key:/);
    for (const e of mine) expect(e).toMatchObject({ actor: admin, targetType: "rule", at: expect.any(String), requestId: expect.any(String) });
    expect(mine[1].after).toMatchObject({ version: 2 });

    const byAction = await server.call("GET", `/v1/audit?action=rule.version&from=${encodeURIComponent(since)}`);
    expect(byAction.body.items.map((e: { targetId: string }) => e.targetId)).toEqual(["audit.rule"]);
    const byActor = await server.call("GET", `/v1/audit?actor=${encodeURIComponent("key:nobody")}`);
    expect(byActor.body).toEqual({ items: [], nextCursor: null });

    // One entry per page, following the cursor, gives the same entries in the same order.
    const paged: string[] = [];
    let cursor: string | null = null;
    do {
      const page: { body: { items: { id: string }[]; nextCursor: string | null } } = await server.call(
        "GET",
        `/v1/audit?from=${encodeURIComponent(since)}&limit=1${cursor ? `&cursor=${cursor}` : ""}`,
      );
      paged.push(...page.body.items.map((e) => e.id));
      cursor = page.body.nextCursor;
    } while (cursor);
    expect(paged).toEqual(all.body.items.map((e: { id: string }) => e.id));
  });

  it("answers with security headers and no CORS permission, errors included", async () => {
    for (const res of [await server.call("GET", "/v1/audit?limit=1"), await server.call("GET", "/v1/audit", { key: null }), await server.call("GET", "/healthz")]) {
      expect(res.headers.get("x-content-type-options")).toBe("nosniff");
      expect(res.headers.get("x-frame-options")).toBe("SAMEORIGIN");
      expect(res.headers.get("content-security-policy")).toContain("default-src 'self'");
      expect(res.headers.get("strict-transport-security")).toMatch(/max-age=\d+/);
      expect(res.headers.get("access-control-allow-origin")).toBeNull();
      expect(res.headers.get("x-powered-by")).toBeNull();
    }
  });

  it("is for admin keys only, names bad filters, and cannot be changed over HTTP", async () => {
    expect((await server.call("GET", "/v1/audit", { key: null })).status).toBe(401);
    expect((await server.call("GET", "/v1/audit", { key: reader.key })).status).toBe(403);
    const bad = await server.call("GET", "/v1/audit?from=yesterday&limit=0&colour=red");
    expect(bad.status).toBe(400);
    expect(bad.body.errors.map((e: { path: string }) => e.path).sort()).toEqual(["query", "query.from", "query.limit"].sort());
    const backwards = await server.call("GET", "/v1/audit?from=2026-11-25T00:00:00Z&to=2026-11-24T00:00:00Z");
    expect(backwards.body.errors).toEqual([{ path: "query.to", message: "must be after from" }]);
    for (const method of ["POST", "PUT", "PATCH", "DELETE"]) expect((await server.call(method, "/v1/audit", { body: {} })).status).toBe(404);
  });
});
