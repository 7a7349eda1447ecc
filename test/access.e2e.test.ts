// Every endpoint against every scope, table-driven: no key 401, a key without the scope 403, a key
// with it 2xx (admin holds every scope). Health, readiness, metrics, the API's documentation and
// the console's page (which holds no data) are the only open endpoints.
// Each allowed call gets fresh, valid input of its own (a new case, a new key, a new rule).
import fs from "node:fs";
import http from "node:http";
import type { AddressInfo } from "node:net";
import os from "node:os";
import path from "node:path";
import { createApp } from "../src/api/app";
import { operations } from "../src/api/openapi";
import { servedRoutes } from "./support/routes";
import { type TestServer, startTestServer } from "./support/test-server";
import { testTargets } from "./support/test-database";
import { ruleDocument, usageEvent } from "./support/factories";

const scopes = ["events:write", "accounts:write", "cases:read", "cases:write", "rules:read", "rules:write", "statements:read", "appeals:write", "admin"] as const;
type Scope = (typeof scopes)[number];

type Call = { method: string; path: string; body?: unknown };
type Route = { name: string; allowed: Scope[]; call: (s: TestServer) => Promise<Call> };

let n = 0;
const unique = () => `${Date.now().toString(36)}${(n++).toString(36)}`;

/** A new open case of its own (an event-scope hit on a fresh account). */
async function newCase(s: TestServer): Promise<string> {
  const accountId = `acct_access_${unique()}`;
  await s.call("POST", "/v1/events", { body: [usageEvent({ accountId, outputTokens: 5000, signals: { syntheticDataRequest: true } })] });
  await s.drain();
  return (await s.call("GET", `/v1/cases?accountId=${accountId}`)).body.items[0].id as string;
}

/** A statement of reasons of its own (a new case enforced); its id. */
async function newStatement(s: TestServer): Promise<string> {
  const id = await newCase(s);
  await s.call("POST", `/v1/cases/${id}/transitions`, { body: { to: "confirmed" } });
  const enforced = await s.call("POST", `/v1/cases/${id}/enforce`, { body: { action: "restrict", note: "restricted" } });
  const accountId = enforced.body.enforced[0].accountId as string;
  return (await s.call("GET", `/v1/accounts/${accountId}/statements`)).body.items[0].id as string;
}

/** A new appeal of its own, filed by an admin key (so any analyst key may decide it); its id. */
async function newAppeal(s: TestServer): Promise<string> {
  const statementId = await newStatement(s);
  return (await s.call("POST", "/v1/appeals", { body: { statementId, explanation: "not us" } })).body.id as string;
}

/** A day from now: an end for allow entries and snoozes. */
const soon = () => new Date(Date.now() + 86_400_000).toISOString();

/** A new rule of its own (with a second, candidate version when `candidate`); its id. */
async function newRule(s: TestServer, candidate = false): Promise<string> {
  const id = `access.${unique()}`;
  await s.call("POST", "/v1/rules", { body: ruleDocument({ id }) });
  if (candidate) await s.call("POST", `/v1/rules/${id}/versions`, { body: ruleDocument({ id, severity: "low" }) });
  return id;
}

/** A new rule with a running shadow; its id. */
async function newShadow(s: TestServer): Promise<string> {
  const id = await newRule(s, true);
  await s.call("POST", `/v1/rules/${id}/shadow`, { body: { version: 2 } });
  return id;
}

/** A new named list; its name. */
async function newList(s: TestServer): Promise<string> {
  const name = `access-${unique()}`;
  await s.call("POST", "/v1/lists", { body: { name } });
  return name;
}

/** What the server answers without a key. */
const openRoutes = ["GET /healthz", "GET /readyz", "GET /metrics", "GET /openapi.json", "GET /docs", "GET /docs/init.js", "GET /console", "GET /v1/signing-keys"];

const range = { from: "2026-11-01T00:00:00Z", to: "2026-11-25T00:00:00Z" };

const routes: Route[] = [
  { name: "POST /v1/events", allowed: ["events:write"], call: async () => ({ method: "POST", path: "/v1/events", body: [usageEvent({ accountId: "acct_access" })] }) },
  { name: "GET /v1/events", allowed: ["cases:read"], call: async () => ({ method: "GET", path: "/v1/events?accountId=acct_access" }) },
  { name: "GET /v1/accounts/:id/enforcement", allowed: ["events:write", "cases:read"], call: async () => ({ method: "GET", path: "/v1/accounts/acct_access/enforcement" }) },
  { name: "GET /v1/accounts/:id", allowed: ["cases:read"], call: async () => ({ method: "GET", path: "/v1/accounts/acct_access" }) },
  { name: "GET /v1/accounts/:id/usage", allowed: ["cases:read"], call: async () => ({ method: "GET", path: "/v1/accounts/acct_access/usage" }) },
  { name: "PUT /v1/accounts/:id", allowed: ["accounts:write"], call: async () => ({ method: "PUT", path: "/v1/accounts/acct_access", body: { plan: "pro" } }) },
  { name: "PUT /v1/accounts", allowed: ["accounts:write"], call: async () => ({ method: "PUT", path: "/v1/accounts", body: [{ accountId: "acct_access", plan: "pro" }] }) },
  { name: "GET /v1/accounts/:id/statements", allowed: ["statements:read", "cases:read"], call: async () => ({ method: "GET", path: "/v1/accounts/acct_access/statements" }) },
  { name: "GET /v1/statements/:id", allowed: ["statements:read", "cases:read"], call: async (s) => ({ method: "GET", path: `/v1/statements/${await newStatement(s)}` }) },
  { name: "POST /v1/appeals", allowed: ["appeals:write"], call: async (s) => ({ method: "POST", path: "/v1/appeals", body: { statementId: await newStatement(s), explanation: "not us" } }) },
  { name: "GET /v1/appeals", allowed: ["cases:read"], call: async () => ({ method: "GET", path: "/v1/appeals" }) },
  { name: "GET /v1/appeals/counts", allowed: ["cases:read"], call: async () => ({ method: "GET", path: "/v1/appeals/counts" }) },
  { name: "GET /v1/appeals/:id", allowed: ["cases:read", "appeals:write"], call: async (s) => ({ method: "GET", path: `/v1/appeals/${await newAppeal(s)}` }) },
  { name: "POST /v1/appeals/:id/transitions", allowed: ["cases:write"], call: async (s) => ({ method: "POST", path: `/v1/appeals/${await newAppeal(s)}/transitions`, body: { to: "under_review" } }) },
  { name: "GET /v1/cases/:id/evidence-bundle", allowed: ["cases:read"], call: async (s) => ({ method: "GET", path: `/v1/cases/${await newCase(s)}/evidence-bundle` }) },
  {
    name: "GET /v1/indicators",
    allowed: ["cases:read"],
    call: async (s) => {
      const id = await newCase(s);
      await s.call("POST", `/v1/cases/${id}/transitions`, { body: { to: "confirmed" } });
      return { method: "GET", path: `/v1/indicators?partner=acme&caseId=${id}` };
    },
  },
  { name: "POST /v1/indicators/import", allowed: ["rules:write"], call: async () => ({ method: "POST", path: "/v1/indicators/import?source=acme", body: { type: "bundle", id: "bundle--a463ffb3-1bd9-4d94-b02d-74e4f1658283", objects: [] } }) },
  { name: "GET /v1/cases", allowed: ["cases:read"], call: async () => ({ method: "GET", path: "/v1/cases" }) },
  { name: "GET /v1/cases/counts", allowed: ["cases:read"], call: async () => ({ method: "GET", path: "/v1/cases/counts" }) },
  { name: "GET /v1/cases/:id", allowed: ["cases:read"], call: async (s) => ({ method: "GET", path: `/v1/cases/${await newCase(s)}` }) },
  { name: "POST /v1/cases/:id/transitions", allowed: ["cases:write"], call: async (s) => ({ method: "POST", path: `/v1/cases/${await newCase(s)}/transitions`, body: { to: "investigating" } }) },
  { name: "POST /v1/cases/:id/notes", allowed: ["cases:write"], call: async (s) => ({ method: "POST", path: `/v1/cases/${await newCase(s)}/notes`, body: { note: "seen" } }) },
  { name: "PATCH /v1/cases/:id", allowed: ["cases:write"], call: async (s) => ({ method: "PATCH", path: `/v1/cases/${await newCase(s)}`, body: { assignee: "analyst_1" } }) },
  {
    name: "POST /v1/cases/:id/enforce",
    allowed: ["cases:write"],
    call: async (s) => {
      const id = await newCase(s);
      await s.call("POST", `/v1/cases/${id}/transitions`, { body: { to: "confirmed", note: "confirmed" } });
      return { method: "POST", path: `/v1/cases/${id}/enforce`, body: { action: "restrict", note: "restricted" } };
    },
  },
  { name: "GET /v1/rules", allowed: ["rules:read"], call: async () => ({ method: "GET", path: "/v1/rules" }) },
  { name: "GET /v1/rules/:id", allowed: ["rules:read"], call: async () => ({ method: "GET", path: "/v1/rules/extraction.synthetic-data-request" }) },
  { name: "GET /v1/rules/:id/versions", allowed: ["rules:read"], call: async () => ({ method: "GET", path: "/v1/rules/extraction.synthetic-data-request/versions" }) },
  { name: "POST /v1/rules/validate", allowed: ["rules:read"], call: async () => ({ method: "POST", path: "/v1/rules/validate", body: ruleDocument() }) },
  { name: "POST /v1/rules/backtest", allowed: ["rules:read"], call: async () => ({ method: "POST", path: "/v1/rules/backtest", body: { ...range, rule: ruleDocument() } }) },
  { name: "POST /v1/rules/:id/backtest", allowed: ["rules:read"], call: async () => ({ method: "POST", path: "/v1/rules/extraction.synthetic-data-request/backtest", body: range }) },
  { name: "POST /v1/rules", allowed: ["rules:write"], call: async () => ({ method: "POST", path: "/v1/rules", body: ruleDocument({ id: `access.${unique()}` }) }) },
  {
    name: "PUT /v1/rules/:id",
    allowed: ["rules:write"],
    call: async (s) => {
      const id = `access.${unique()}`;
      await s.call("POST", "/v1/rules", { body: ruleDocument({ id }) });
      return { method: "PUT", path: `/v1/rules/${id}`, body: ruleDocument({ id, severity: "low" }) };
    },
  },
  { name: "POST /v1/rules/:id/disable", allowed: ["rules:write"], call: async () => ({ method: "POST", path: "/v1/rules/distillation.output-volume/disable" }) },
  { name: "POST /v1/rules/:id/enable", allowed: ["rules:write"], call: async () => ({ method: "POST", path: "/v1/rules/distillation.output-volume/enable" }) },
  { name: "GET /v1/rules/:id/stats", allowed: ["rules:read"], call: async () => ({ method: "GET", path: "/v1/rules/extraction.synthetic-data-request/stats" }) },
  { name: "GET /v1/rule-stats", allowed: ["rules:read"], call: async () => ({ method: "GET", path: "/v1/rule-stats" }) },
  {
    name: "POST /v1/rules/:id/versions",
    allowed: ["rules:write"],
    call: async (s) => {
      const id = await newRule(s);
      return { method: "POST", path: `/v1/rules/${id}/versions`, body: ruleDocument({ id, severity: "low" }) };
    },
  },
  { name: "POST /v1/rules/:id/shadow", allowed: ["rules:write"], call: async (s) => ({ method: "POST", path: `/v1/rules/${await newRule(s, true)}/shadow`, body: { version: 2 } }) },
  { name: "GET /v1/rules/:id/shadow", allowed: ["rules:read"], call: async (s) => ({ method: "GET", path: `/v1/rules/${await newShadow(s)}/shadow` }) },
  { name: "GET /v1/rules/:id/shadow/report", allowed: ["rules:read"], call: async (s) => ({ method: "GET", path: `/v1/rules/${await newShadow(s)}/shadow/report` }) },
  { name: "DELETE /v1/rules/:id/shadow", allowed: ["rules:write"], call: async (s) => ({ method: "DELETE", path: `/v1/rules/${await newShadow(s)}/shadow` }) },
  { name: "POST /v1/rules/:id/shadow/promote", allowed: ["rules:write"], call: async (s) => ({ method: "POST", path: `/v1/rules/${await newShadow(s)}/shadow/promote`, body: { reason: "better" } }) },
  { name: "GET /v1/lists", allowed: ["rules:read"], call: async () => ({ method: "GET", path: "/v1/lists" }) },
  { name: "POST /v1/lists", allowed: ["rules:write"], call: async () => ({ method: "POST", path: "/v1/lists", body: { name: `access-${unique()}` } }) },
  { name: "GET /v1/lists/:name", allowed: ["rules:read"], call: async (s) => ({ method: "GET", path: `/v1/lists/${await newList(s)}` }) },
  { name: "DELETE /v1/lists/:name", allowed: ["rules:write"], call: async (s) => ({ method: "DELETE", path: `/v1/lists/${await newList(s)}` }) },
  { name: "GET /v1/lists/:name/entries", allowed: ["rules:read"], call: async (s) => ({ method: "GET", path: `/v1/lists/${await newList(s)}/entries` }) },
  { name: "POST /v1/lists/:name/entries", allowed: ["rules:write"], call: async (s) => ({ method: "POST", path: `/v1/lists/${await newList(s)}/entries`, body: { values: ["v"] } }) },
  { name: "POST /v1/allow-entries", allowed: ["cases:write"], call: async () => ({ method: "POST", path: "/v1/allow-entries", body: { kind: "accountId", value: "acct_access", reason: "r", expiresAt: soon() } }) },
  { name: "GET /v1/allow-entries", allowed: ["cases:read"], call: async () => ({ method: "GET", path: "/v1/allow-entries" }) },
  {
    name: "DELETE /v1/allow-entries/:id",
    allowed: ["cases:write"],
    call: async (s) => ({ method: "DELETE", path: `/v1/allow-entries/${(await s.call("POST", "/v1/allow-entries", { body: { kind: "orgId", value: "o", reason: "r", expiresAt: soon() } })).body.id}` }),
  },
  { name: "POST /v1/snoozes", allowed: ["cases:write"], call: async () => ({ method: "POST", path: "/v1/snoozes", body: { ruleId: "distillation.output-volume", accountId: "acct_access", until: soon(), reason: "r" } }) },
  { name: "GET /v1/snoozes", allowed: ["cases:read"], call: async () => ({ method: "GET", path: "/v1/snoozes" }) },
  {
    name: "DELETE /v1/snoozes/:id",
    allowed: ["cases:write"],
    call: async (s) => ({
      method: "DELETE",
      path: `/v1/snoozes/${(await s.call("POST", "/v1/snoozes", { body: { ruleId: "distillation.output-volume", accountId: "acct_access", until: soon(), reason: "r" } })).body.id}`,
    }),
  },
  { name: "POST /v1/cases/:id/snooze", allowed: ["cases:write"], call: async (s) => ({ method: "POST", path: `/v1/cases/${await newCase(s)}/snooze`, body: { until: soon(), reason: "r" } }) },
  { name: "GET /v1/keys", allowed: [], call: async () => ({ method: "GET", path: "/v1/keys" }) },
  { name: "POST /v1/keys", allowed: [], call: async () => ({ method: "POST", path: "/v1/keys", body: { name: `k ${unique()}`, scopes: ["cases:read"] } }) },
  {
    name: "DELETE /v1/keys/:id",
    allowed: [],
    call: async (s) => ({ method: "DELETE", path: `/v1/keys/${(await s.call("POST", "/v1/keys", { body: { name: `k ${unique()}`, scopes: ["cases:read"] } })).body.id}` }),
  },
  { name: "GET /v1/audit", allowed: [], call: async () => ({ method: "GET", path: "/v1/audit" }) },
];

describe("the API's documentation of access", () => {
  it("gives every operation the scopes this table checks against the server", () => {
    // Lists of [route, scopes], not objects: a route listed twice on either side shows.
    const byName = (a: [string, string[]], b: [string, string[]]) => a[0].localeCompare(b[0]);
    const documented = operations
      .filter((o) => o.auth !== "open")
      .map((o): [string, string[]] => [`${o.method.toUpperCase()} ${o.path}`, [...(o.auth as string[])].sort()])
      .sort(byName);
    expect(documented).toEqual(routes.map((r): [string, string[]] => [r.name, [...r.allowed].sort()]).sort(byName));
    // And the open ones are the routes the server leaves open.
    expect(operations.filter((o) => o.auth === "open").map((o) => `${o.method.toUpperCase()} ${o.path}`).sort()).toEqual([...openRoutes].sort());
  });
});

describe.each(testTargets())("access control on %s", (kind) => {
  let server: TestServer;
  const keys = new Map<Scope, string>();
  beforeAll(async () => {
    server = await startTestServer(kind);
    for (const scope of scopes) keys.set(scope, (await server.call("POST", "/v1/keys", { body: { name: `only ${scope}`, scopes: [scope] } })).body.key);
  }, 60_000);
  afterAll(async () => {
    await server.stop();
  });

  it.each(routes.map((r) => [r.name, r] as const))("%s: 401 without a key, 403 without the scope, 2xx with it", async (_name, route) => {
    const outcome: Record<string, number> = {};
    const expected: Record<string, string> = {};
    const noKey = await route.call(server);
    outcome["(no key)"] = (await server.call(noKey.method, noKey.path, { body: noKey.body, key: null })).status;
    expected["(no key)"] = "401";
    for (const scope of scopes) {
      const c = await route.call(server);
      const status = (await server.call(c.method, c.path, { body: c.body, key: keys.get(scope)! })).status;
      const may = scope === "admin" || route.allowed.includes(scope);
      outcome[scope] = status;
      expected[scope] = may ? "2xx" : "403";
    }
    const seen = Object.fromEntries(Object.entries(outcome).map(([k, s]) => [k, s >= 200 && s < 300 ? "2xx" : String(s)]));
    expect(seen).toEqual(expected);
  });

  it("covers every route the app serves", () => {
    const served = servedRoutes(server.running.services);
    expect(served.length).toBeGreaterThan(openRoutes.length);
    expect(served.filter((r) => !openRoutes.includes(r)).sort()).toEqual(routes.map((r) => r.name).sort());
  });

  it("leaves health, readiness, metrics, the API's documentation and the console's page open", async () => {
    for (const path of ["/healthz", "/readyz", "/metrics", "/openapi.json", "/docs", "/docs/init.js"]) expect((await server.call("GET", path, { key: null })).status).toBe(200);
    // The console's page holds no data (it signs in with a key and calls the API): asked for no key,
    // it answers the page (or 503 on a checkout where it is not built; test/console.e2e checks the page).
    expect((await server.call("GET", "/console", { key: null })).status).not.toBe(401);
  });
});

describe("the console's page on a checkout where it is not built", () => {
  it("answers 503 saying how to build it, while the folder's assets and the API are served", async () => {
    const server = await startTestServer("pglite");
    // A half-made build: an asset, no index.html.
    const empty = fs.mkdtempSync(path.join(os.tmpdir(), "cg-console-"));
    fs.mkdirSync(path.join(empty, "assets"));
    fs.writeFileSync(path.join(empty, "assets", "index-abc123.js"), "console.log('half built');\n");
    const http1 = http.createServer(createApp(server.running.services, { bodyLimitBytes: 1024, workerInProcess: false, consoleDir: empty }));
    try {
      await new Promise<void>((resolve) => http1.listen(0, "127.0.0.1", resolve));
      const base = `http://127.0.0.1:${(http1.address() as AddressInfo).port}`;
      const page = await fetch(`${base}/console`);
      expect(page.status).toBe(503);
      expect(page.headers.get("content-type")).toMatch(/^application\/problem\+json/);
      expect(((await page.json()) as { detail: string }).detail).toBe("the console is not built: run `npm run build:console`");
      // Assets come from the configured folder, cached for good (their names carry a hash).
      const asset = await fetch(`${base}/console/assets/index-abc123.js`);
      expect({ status: asset.status, body: await asset.text(), cache: asset.headers.get("cache-control") }).toEqual({
        status: 200,
        body: "console.log('half built');\n",
        cache: "public, max-age=31536000, immutable",
      });
      const missing = await fetch(`${base}/console/assets/other.js`);
      expect({ status: missing.status, type: missing.headers.get("content-type") }).toEqual({ status: 404, type: expect.stringMatching(/^application\/problem\+json/) });
      await missing.text();
      // The API beside it is unaffected.
      const health = await fetch(`${base}/healthz`);
      expect(health.status).toBe(200);
      await health.text();
    } finally {
      await new Promise((resolve) => http1.close(resolve));
      await server.stop();
      fs.rmSync(empty, { recursive: true, force: true });
    }
  });
});

describe("metrics closed by configuration", () => {
  it("asks an admin key for /metrics and leaves health open", async () => {
    const server = await startTestServer("pglite", { config: { metricsPublic: false } });
    try {
      const reader = (await server.call("POST", "/v1/keys", { body: { name: "reader", scopes: ["cases:read"] } })).body.key as string;
      expect((await server.call("GET", "/metrics", { key: null })).status).toBe(401);
      expect((await server.call("GET", "/metrics", { key: reader })).status).toBe(403);
      const scraped = await server.call("GET", "/metrics");
      expect(scraped.status).toBe(200);
      expect(scraped.body).toMatch(/^clauseguard_evaluation_queue_depth \d+$/m);
      expect((await server.call("GET", "/healthz", { key: null })).status).toBe(200);
    } finally {
      await server.stop();
    }
  });
});

describe("CORS", () => {
  const preflight = (url: string, origin: string) =>
    fetch(`${url}/v1/cases`, { method: "OPTIONS", headers: { origin, "access-control-request-method": "GET", "access-control-request-headers": "authorization" } });

  it("sends no CORS headers unless origins are configured", async () => {
    const server = await startTestServer("pglite");
    try {
      const res = await preflight(server.url, "https://console.example.com");
      expect(res.headers.get("access-control-allow-origin")).toBeNull();
      const get = await fetch(`${server.url}/v1/cases`, { headers: { origin: "https://console.example.com", authorization: `Bearer ${server.adminKey}` } });
      expect(get.status).toBe(200);
      expect(get.headers.get("access-control-allow-origin")).toBeNull();
    } finally {
      await server.stop();
    }
  });

  it("allows exactly the configured origins, and still asks them for a key", async () => {
    const server = await startTestServer("pglite", { config: { corsOrigins: ["https://console.example.com"] } });
    try {
      const allowed = await preflight(server.url, "https://console.example.com");
      expect(allowed.status).toBe(204);
      expect(allowed.headers.get("access-control-allow-origin")).toBe("https://console.example.com");
      expect(allowed.headers.get("access-control-allow-headers")).toMatch(/authorization/i);
      const other = await preflight(server.url, "https://evil.example.net");
      expect(other.headers.get("access-control-allow-origin")).toBeNull();
      const noKey = await fetch(`${server.url}/v1/cases`, { headers: { origin: "https://console.example.com" } });
      expect(noKey.status).toBe(401);
      expect(noKey.headers.get("access-control-allow-origin")).toBe("https://console.example.com");
    } finally {
      await server.stop();
    }
  });
});
