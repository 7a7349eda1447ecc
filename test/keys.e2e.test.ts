// GET/POST/DELETE /v1/keys over HTTP, on every test database: a key is shown once and never listed,
// scopes are enforced (admin holds them all), bad input is named field by field, revocation and
// expiry take effect at once, and every create and revoke lands in the audit log.
import { createHash } from "node:crypto";
import { type TestServer, startTestServer } from "./support/test-server";
import { testTargets } from "./support/test-database";
import { usageEvent } from "./support/factories";
import { waitFor } from "./support/cli";
import { createApiKeyService, keyCacheMs, keyStaleMs } from "../src/features/auth/api-key-service";
import { createLogger } from "../src/shared/logger";

type Res = { status: number; body: any; headers: Headers };

function expectProblem(res: Res, status: number, code: string): void {
  expect(res.status).toBe(status);
  expect(res.headers.get("content-type")).toMatch(/^application\/problem\+json/);
  expect(res.body).toMatchObject({ status, code, title: expect.any(String), detail: expect.any(String) });
}

const keyIdOf = (key: string) => /^cg_([a-z0-9]{12})_/.exec(key)![1]!;
const secretOf = (key: string) => /^cg_[a-z0-9]{12}_(.+)$/.exec(key)![1]!;

describe.each(testTargets())("API keys on %s", (kind) => {
  let server: TestServer;
  let adminActor: string;
  /** Every key this file created through the API, and every one it revoked. */
  const created: { id: string; key: string; name: string; scopes: string[] }[] = [];
  const revoked: string[] = [];

  async function create(name: string, scopes: string[], extra: Record<string, unknown> = {}): Promise<{ id: string; key: string }> {
    const res = await server.call("POST", "/v1/keys", { body: { name, scopes, ...extra } });
    expect(res.status).toBe(201);
    created.push({ ...res.body, name, scopes });
    return res.body;
  }

  /** What a key may do, by status: posting events, reading events and cases, listing keys. */
  async function reach(key: string): Promise<Record<string, number>> {
    const [post, events, cases, keys] = await Promise.all([
      server.call("POST", "/v1/events", { body: [usageEvent({ accountId: "acct_keys" })], key }),
      server.call("GET", "/v1/events?accountId=acct_keys", { key }),
      server.call("GET", "/v1/cases", { key }),
      server.call("GET", "/v1/keys", { key }),
    ]);
    return { "POST /v1/events": post.status, "GET /v1/events": events.status, "GET /v1/cases": cases.status, "GET /v1/keys": keys.status };
  }

  beforeAll(async () => {
    server = await startTestServer(kind);
    adminActor = `key:${keyIdOf(server.adminKey)}`;
  });
  afterAll(async () => {
    await server.stop();
  });

  it("creates a key with 201, showing it once, and lists it without its secret or hash", async () => {
    const res = await server.call("POST", "/v1/keys", { body: { name: "gateway", scopes: ["events:write"] } });
    expect(res.status).toBe(201);
    expect(Object.keys(res.body).sort()).toEqual(["id", "key"]);
    expect(res.body.id).toMatch(/^[a-z0-9]{12}$/);
    expect(res.body.key).toMatch(new RegExp(`^cg_${res.body.id}_[A-Za-z0-9_-]{32,}$`));
    created.push({ ...res.body, name: "gateway", scopes: ["events:write"] });
    const { id, key } = res.body;

    // The list as it goes over the wire: neither the key, nor its secret, nor the stored hash.
    const raw = await fetch(`${server.url}/v1/keys`, { headers: { authorization: `Bearer ${server.adminKey}` } });
    expect(raw.status).toBe(200);
    const text = await raw.text();
    const secretHash = createHash("sha256").update(secretOf(key)).digest("hex");
    for (const secret of [key, secretOf(key), secretHash, server.adminKey, secretOf(server.adminKey), "secretHash", "secret_hash"]) {
      expect(text).not.toContain(secret);
    }
    const list = JSON.parse(text);
    expect(list.nextCursor).toBeNull();
    const listed = list.items.find((k: { id: string }) => k.id === id);
    expect(listed).toEqual({
      id,
      name: "gateway",
      scopes: ["events:write"],
      createdAt: expect.any(String),
      createdBy: adminActor,
      lastUsedAt: null,
      expiresAt: null,
      revokedAt: null,
    });
    expect(list.items.every((k: Record<string, unknown>) => !("key" in k))).toBe(true);
    // The bootstrap admin key is listed too, as a key like any other.
    expect(list.items.find((k: { id: string }) => k.id === keyIdOf(server.adminKey))).toMatchObject({ scopes: ["admin"], revokedAt: null });

    // Using the key shows in the list, still without the secret.
    expect((await server.call("POST", "/v1/events", { body: [usageEvent({ accountId: "acct_keys" })], key })).status).toBe(202);
    const after = await server.call("GET", "/v1/keys");
    expect(after.body.items.find((k: { id: string }) => k.id === id).lastUsedAt).toEqual(expect.any(String));
    expect(JSON.stringify(after.body)).not.toContain(secretOf(key));
  });

  it("lets a key do what its scopes allow and answers 403 problem+json for the rest", async () => {
    const writer = await create("writer", ["events:write"]);
    const reader = await create("reader", ["cases:read"]);
    const both = await create("both", ["events:write", "cases:read"]);
    expect(await reach(writer.key)).toEqual({ "POST /v1/events": 202, "GET /v1/events": 403, "GET /v1/cases": 403, "GET /v1/keys": 403 });
    expect(await reach(reader.key)).toEqual({ "POST /v1/events": 403, "GET /v1/events": 200, "GET /v1/cases": 200, "GET /v1/keys": 403 });
    expect(await reach(both.key)).toEqual({ "POST /v1/events": 202, "GET /v1/events": 200, "GET /v1/cases": 200, "GET /v1/keys": 403 });

    const denied = await server.call("POST", "/v1/events", { body: [usageEvent()], key: reader.key });
    expectProblem(denied, 403, "forbidden");
    expect(denied.body.detail).toContain("events:write");
  });

  it("treats the admin scope as every scope", async () => {
    const admin = await create("second admin", ["admin"]);
    expect(await reach(admin.key)).toEqual({ "POST /v1/events": 202, "GET /v1/events": 200, "GET /v1/cases": 200, "GET /v1/keys": 200 });
    // An admin key made through the API can manage keys itself.
    const made = await server.call("POST", "/v1/keys", { body: { name: "made by second admin", scopes: ["rules:read"] }, key: admin.key });
    expect(made.status).toBe(201);
    created.push({ ...made.body, name: "made by second admin", scopes: ["rules:read"] });
    const listed = (await server.call("GET", "/v1/keys", { key: admin.key })).body.items.find((k: { id: string }) => k.id === made.body.id);
    expect(listed.createdBy).toBe(`key:${admin.id}`);
  });

  it("stores each scope once and keeps an expiry given with any zone", async () => {
    const key = await create("dedup", ["cases:read", "cases:read", "rules:read"], { expiresAt: "2099-01-01T01:00:00+01:00" });
    const listed = (await server.call("GET", "/v1/keys")).body.items.find((k: { id: string }) => k.id === key.id);
    expect(listed).toMatchObject({ scopes: ["cases:read", "rules:read"], expiresAt: "2099-01-01T00:00:00.000Z" });
    expect((await server.call("GET", "/v1/cases", { key: key.key })).status).toBe(200);
  });

  it("answers 400 naming each bad field of a create body, and creates nothing", async () => {
    const before = (await server.call("GET", "/v1/keys")).body.items.length;
    const cases: [unknown, string[]][] = [
      [{ name: "x", scopes: ["events:write", "superuser"] }, ["body.scopes[1]"]],
      [{ name: "", scopes: ["admin"] }, ["body.name"]],
      [{ name: "   ", scopes: ["admin"] }, ["body.name"]],
      [{ name: "x", scopes: ["admin"], owner: "me" }, ["body"]],
      [{ name: "x", scopes: [] }, ["body.scopes"]],
      [{ name: "x", scopes: "admin" }, ["body.scopes"]],
      [{ name: "x", scopes: ["admin"], expiresAt: "tomorrow" }, ["body.expiresAt"]],
      [{ name: "x", scopes: ["admin"], expiresAt: "2099-01-01T00:00:00" }, ["body.expiresAt"]],
      [{ scopes: ["admin"] }, ["body.name"]],
      // Text and times the database cannot hold are named too, never a 500.
      [{ name: "a\u0000b", scopes: ["admin"] }, ["body.name"]],
      [{ name: "x", scopes: ["admin"], expiresAt: "0000-01-01T00:00:00Z" }, ["body.expiresAt"]],
      [{ name: "", scopes: ["nope"], extra: 1 }, ["body", "body.name", "body.scopes[0]"]],
      [[], ["body"]],
    ];
    for (const [body, paths] of cases) {
      const res = await server.call("POST", "/v1/keys", { body });
      expectProblem(res, 400, "validation_failed");
      expect(res.body.errors.map((e: { path: string }) => e.path).sort()).toEqual(paths);
    }
    const unknownField = await server.call("POST", "/v1/keys", { body: { name: "x", scopes: ["admin"], owner: "me" } });
    expect(unknownField.body.errors[0].message).toContain("owner");

    const surrogate = await server.call("POST", "/v1/keys", { rawBody: '{"name": "a\\ud800", "scopes": ["admin"]}' });
    expectProblem(surrogate, 400, "validation_failed");
    expect(surrogate.body.errors.map((e: { path: string }) => e.path)).toEqual(["body.name"]);

    expectProblem(await server.call("POST", "/v1/keys", { rawBody: '{"name": "x", ', contentType: "application/json" }), 400, "malformed_body");
    expect((await server.call("GET", "/v1/keys")).body.items).toHaveLength(before);
  });

  it("revokes a key with 204, after which it gets 401 at once, and answers 404 for an unknown id", async () => {
    const key = await create("to revoke", ["events:write"]);
    expect((await server.call("POST", "/v1/events", { body: [usageEvent({ accountId: "acct_keys" })], key: key.key })).status).toBe(202);

    const res = await server.call("DELETE", `/v1/keys/${key.id}`);
    expect(res.status).toBe(204);
    expect(res.body).toBeUndefined();
    revoked.push(key.id);

    const after = await server.call("POST", "/v1/events", { body: [usageEvent({ accountId: "acct_keys" })], key: key.key });
    expectProblem(after, 401, "unauthorized");
    expect(after.body.detail).toMatch(/revoked/);
    const listed = (await server.call("GET", "/v1/keys")).body.items.find((k: { id: string }) => k.id === key.id);
    expect(Date.parse(listed.revokedAt)).not.toBeNaN();

    // Revoking it again changes nothing.
    expect((await server.call("DELETE", `/v1/keys/${key.id}`)).status).toBe(204);
    expect((await server.call("GET", "/v1/keys")).body.items.find((k: { id: string }) => k.id === key.id).revokedAt).toBe(listed.revokedAt);

    const unknown = await server.call("DELETE", "/v1/keys/zzzzzzzzzzzz");
    expectProblem(unknown, 404, "not_found");
    expect(unknown.body.detail).toContain("zzzzzzzzzzzz");
  });

  it("lets a revoked admin key manage nothing", async () => {
    const admin = await create("admin to revoke", ["admin"]);
    const victim = await create("victim", ["cases:read"]);
    expect((await server.call("DELETE", `/v1/keys/${admin.id}`)).status).toBe(204);
    revoked.push(admin.id);
    expectProblem(await server.call("DELETE", `/v1/keys/${victim.id}`, { key: admin.key }), 401, "unauthorized");
    expectProblem(await server.call("POST", "/v1/keys", { body: { name: "sneaky", scopes: ["admin"] }, key: admin.key }), 401, "unauthorized");
    expect((await server.call("GET", "/v1/cases", { key: victim.key })).status).toBe(200);
  });

  it("answers 401 to an expired key", async () => {
    const expiresAt = Date.now() + 1500;
    const key = await create("short-lived", ["cases:read"], { expiresAt: new Date(expiresAt).toISOString() });
    expect((await server.call("GET", "/v1/cases", { key: key.key })).status).toBe(200);
    // Time passes: the expiry is now behind us. (The key's row is cached after its first use: the
    // expiry is checked against the clock on every request all the same.)
    await new Promise((r) => setTimeout(r, Math.max(0, expiresAt - Date.now()) + 50));
    const res = await server.call("GET", "/v1/cases", { key: key.key });
    expectProblem(res, 401, "unauthorized");
    expect(res.body.detail).toMatch(/expired/);

    // A key created with an expiry already past never works.
    const past = await create("born expired", ["cases:read"], { expiresAt: "2020-01-01T00:00:00Z" });
    expectProblem(await server.call("GET", "/v1/cases", { key: past.key }), 401, "unauthorized");
  });

  it("answers 401 without a key and 403 to a non-admin key on every /v1/keys route, changing nothing", async () => {
    const target = await create("target", ["cases:read"]);
    const nonAdmin = await create("non-admin", ["events:write", "cases:read", "cases:write", "rules:read", "rules:write"]);
    const before = (await server.call("GET", "/v1/keys")).body.items.length;
    for (const key of [nonAdmin.key, null]) {
      const status = key ? 403 : 401;
      const code = key ? "forbidden" : "unauthorized";
      expectProblem(await server.call("GET", "/v1/keys", { key }), status, code);
      expectProblem(await server.call("POST", "/v1/keys", { body: { name: "escalate", scopes: ["admin"] }, key }), status, code);
      expectProblem(await server.call("DELETE", `/v1/keys/${target.id}`, { key }), status, code);
    }
    const forbidden = await server.call("GET", "/v1/keys", { key: nonAdmin.key });
    expect(forbidden.body.detail).toContain("admin");
    const after = (await server.call("GET", "/v1/keys")).body.items;
    expect(after).toHaveLength(before);
    expect(after.find((k: { id: string }) => k.id === target.id).revokedAt).toBeNull();
    expect((await server.call("GET", "/v1/cases", { key: target.key })).status).toBe(200);
  });

  it("records every create and revoke in the audit log, without secrets", async () => {
    const entries = await server.running.services.db.prisma.auditLogEntry.findMany({ where: { targetType: "api_key" }, orderBy: { id: "asc" } });
    const creates = entries.filter((e) => e.action === "key.create");
    const revokes = entries.filter((e) => e.action === "key.revoke");

    // The bootstrap admin key, then each key this file made, once each.
    expect(creates.map((e) => e.targetId)).toEqual([keyIdOf(server.adminKey), ...created.map((k) => k.id)]);
    for (const k of created) {
      const entry = creates.find((e) => e.targetId === k.id)!;
      expect(entry.after).toMatchObject({ name: k.name, scopes: [...new Set(k.scopes)] });
      expect(entry.actor).toMatch(/^key:[a-z0-9]{12}$/);
      expect(entry.at).toBeInstanceOf(Date);
      // The request that made the change, as its answer's X-Request-Id named it.
      expect(entry.requestId).toMatch(/^[0-9a-f-]{36}$/);
    }
    expect(creates.filter((e) => e.actor === adminActor)).toHaveLength(created.length - 1);

    // A revoke is recorded once, also when the key was revoked twice.
    expect(revokes.map((e) => e.targetId)).toEqual(revoked);
    for (const e of revokes) {
      expect(e.actor).toBe(adminActor);
      expect(e.before).toEqual({ revokedAt: null });
      expect(e.after).toEqual({ revokedAt: expect.any(String) });
    }

    const text = JSON.stringify(entries, (_k, v) => (typeof v === "bigint" ? String(v) : v));
    for (const k of created) expect(text).not.toContain(secretOf(k.key));
    expect(text).not.toContain(secretOf(server.adminKey));
  });

  it("answers a known key from memory past its cache time while one read refreshes it; a revocation by another process shows after that read", async () => {
    const { key, id } = await create("gateway of another process", ["events:write"]);
    // Another process: its own service over the same database, with its own cache.
    const other = createApiKeyService(server.running.services.db, createLogger("silent", false));
    const t0 = Date.now();
    expect((await other.authenticate(`Bearer ${key}`, new Date(t0))).keyId).toBe(id);
    expect((await server.call("DELETE", `/v1/keys/${id}`)).status).toBe(204);
    // Within the cache time: from memory, the revocation unseen.
    expect((await other.authenticate(`Bearer ${key}`, new Date(t0 + keyCacheMs - 1))).keyId).toBe(id);
    // Past it: still answered at once from memory, while one read starts.
    expect((await other.authenticate(`Bearer ${key}`, new Date(t0 + keyCacheMs + 1))).keyId).toBe(id);
    await waitFor(async () => other.authenticate(`Bearer ${key}`, new Date(t0 + keyCacheMs + 2)).then(() => undefined, (err: Error) => err.message));
    await expect(other.authenticate(`Bearer ${key}`, new Date(t0 + keyCacheMs + 3))).rejects.toThrow("revoked");
    // A key not read for longer than keyStaleMs waits for the database.
    const fresh = createApiKeyService(server.running.services.db, createLogger("silent", false));
    const second = await create("read long ago", ["events:write"]);
    await fresh.authenticate(`Bearer ${second.key}`, new Date(t0));
    await server.call("DELETE", `/v1/keys/${second.id}`);
    await expect(fresh.authenticate(`Bearer ${second.key}`, new Date(t0 + keyStaleMs + 1))).rejects.toThrow("revoked");
  });
});
