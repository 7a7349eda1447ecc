// /openapi.json is a valid OpenAPI 3.1 document (checked by an independent validator,
// @readme/openapi-parser), it documents exactly the routes the app serves, its schemas are the
// validators' own, and /docs serves Swagger UI from this process. The drift test: real answers of
// every documented operation, over a socket, each validated (ajv, JSON Schema 2020-12) against the
// document's schema for its operation, status and content type; the answers' objects are strict,
// so a field added to or dropped from an answer without its schema (features/*/*-views.ts) fails here.
import { isIPv4, isIPv6 } from "node:net";
import { validate } from "@readme/openapi-parser";
import Ajv2020, { type ValidateFunction } from "ajv/dist/2020";
import { servedRoutes } from "./support/routes";
import { usageEvent, ruleDocument } from "./support/factories";
import { type TestServer, startTestServer } from "./support/test-server";

describe("the OpenAPI document and /docs", () => {
  let server: TestServer;
  let doc: {
    openapi: string;
    paths: Record<string, Record<string, { requestBody?: { content: Record<string, { schema: any }> }; parameters?: { name: string; in: string }[]; responses: Record<string, any> }>>;
    components: Record<string, Record<string, any>>;
  };
  beforeAll(async () => {
    server = await startTestServer("pglite");
    const res = await fetch(`${server.url}/openapi.json`);
    expect(res.status).toBe(200);
    doc = (await res.json()) as typeof doc;
  });
  afterAll(async () => {
    await server.stop();
  });

  it("is a valid OpenAPI 3.1 document", async () => {
    expect(doc.openapi).toBe("3.1.0");
    const result = await validate(structuredClone(doc) as never);
    expect(result).toMatchObject({ valid: true });
  });

  it("documents every route the app serves, and only those", () => {
    const served = new Set(servedRoutes(server.running.services));
    const documented = new Set(
      Object.entries(doc.paths).flatMap(([p, ops]) => Object.keys(ops).map((m) => `${m.toUpperCase()} ${p.replace(/\{([A-Za-z]+)\}/g, ":$1")}`)),
    );
    expect([...served].filter((r) => !documented.has(r)).sort()).toEqual([]);
    expect([...documented].filter((r) => !served.has(r)).sort()).toEqual([]);
    expect(served.size).toBeGreaterThan(25);
  });

  it("describes requests with the validators' own schemas", () => {
    const transition = doc.paths["/v1/cases/{id}/transitions"]!.post!.requestBody!.content["application/json"]!.schema;
    expect(transition.properties.to.enum).toEqual(["open", "investigating", "confirmed", "enforced", "dismissed", "resolved"]);
    expect(transition.additionalProperties).toBe(false);
    const events = doc.paths["/v1/events"]!.post!.requestBody!.content;
    expect(Object.keys(events)).toEqual(["application/json", "application/x-ndjson"]);
    expect(events["application/json"]!.schema.maxItems).toBe(5000);
    expect(events["application/json"]!.schema.items.required).toEqual(expect.arrayContaining(["eventId", "occurredAt", "accountId", "model", "inputTokens", "outputTokens"]));
    expect(doc.paths["/v1/cases"]!.get!.parameters!.map((p) => p.name)).toEqual(expect.arrayContaining(["status", "severity", "ruleId", "accountId", "assignee", "limit", "cursor"]));
  });

  it("serves Swagger UI at /docs from its own files", async () => {
    const page = await fetch(`${server.url}/docs`);
    expect(page.status).toBe(200);
    expect(page.headers.get("content-type")).toMatch(/^text\/html/);
    const html = await page.text();
    for (const asset of [...html.matchAll(/(?:src|href)="(\/docs\/[^"]+)"/g)].map((m) => m[1]!)) {
      const res = await fetch(`${server.url}${asset}`);
      expect([asset, res.status, (await res.arrayBuffer()).byteLength > 0]).toEqual([asset, 200, true]);
    }
    expect(await (await fetch(`${server.url}/docs/init.js`)).text()).toContain('url: "/openapi.json"');
  });

  describe("real answers match the document (the drift test)", () => {
    // Strict: a schema ajv would have to guess about fails too (`type: [string, null]` is zod's nullable).
    const ajv = new Ajv2020({ allErrors: true, strict: true, allowUnionTypes: true });
    // The formats the answers use, checked for real (ajv 8 knows none without ajv-formats).
    ajv.addFormat("date-time", (v: string) => /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?(Z|[+-]\d\d:\d\d)$/.test(v) && !Number.isNaN(Date.parse(v)));
    ajv.addFormat("ipv4", (v: string) => isIPv4(v));
    ajv.addFormat("ipv6", (v: string) => isIPv6(v));
    const compiled = new Map<string, ValidateFunction>();
    /** The operations some real answer was checked against: "GET /v1/cases/{id} 200". */
    const checked = new Set<string>();

    /** A `$ref` of the document (#/components/...) followed, once. */
    const deref = (node: any): any => {
      if (!node?.$ref) return node;
      const target = (node.$ref as string).replace(/^#\//, "").split("/").reduce((o: any, k: string) => o?.[k], doc);
      if (!target) throw new Error(`dangling $ref ${node.$ref}`);
      return target;
    };

    /**
     * Checks one real answer against the document: its status is documented for the operation, its
     * content type too, and its body validates against that schema. `template`: the documented path.
     */
    function expectDocumented(method: string, template: string, res: { status: number; body: unknown; headers: Headers }): void {
      const op = doc.paths[template]?.[method.toLowerCase()];
      expect([method, template, op ? "documented" : "missing"]).toEqual([method, template, "documented"]);
      const response = deref(op!.responses[String(res.status)]);
      expect([method, template, res.status, response ? "documented" : "status not documented"]).toEqual([method, template, res.status, "documented"]);
      checked.add(`${method} ${template} ${res.status}`);
      if (res.status === 204) {
        expect(response.content).toBeUndefined();
        return;
      }
      const type = (res.headers.get("content-type") ?? "").split(";")[0]!.trim();
      const media = response.content?.[type];
      expect([method, template, res.status, type, media ? "documented" : "content type not documented"]).toEqual([method, template, res.status, type, "documented"]);
      const key = `${method} ${template} ${res.status} ${type}`;
      let check = compiled.get(key);
      if (!check) compiled.set(key, (check = ajv.compile(deref(media.schema))));
      if (!check(res.body)) {
        const faults = (check.errors ?? []).map((e) => `${e.instancePath || "(the body)"} ${e.message} ${JSON.stringify(e.params)}`).join("\n");
        throw new Error(`${key}: the answer does not match the document's schema:\n${faults}\n${JSON.stringify(res.body).slice(0, 1500)}`);
      }
    }

    /** Calls the server and checks the answer against the document. */
    async function call(method: string, template: string, urlPath: string, opts: Parameters<TestServer["call"]>[2] = {}) {
      const res = await server.call(method, urlPath, opts);
      expectDocumented(method, template, res);
      return res;
    }
    const at = (minutesAgo: number) => new Date(Date.now() - minutesAgo * 60_000).toISOString();
    const account = "acct_openapi_1";
    const synth = (extra: Record<string, unknown> = {}) =>
      usageEvent({ accountId: account, outputTokens: 5000, signals: { syntheticDataRequest: true }, occurredAt: at(1), ...extra });

    it("ingest, events and the case's whole workflow", async () => {
      // Every optional field of an event, so the stored event's schema meets them all.
      const full = synth({
        orgId: "org_openapi",
        apiKeyId: "key_1",
        endpoint: "/v1/chat",
        endUserId: "user_1",
        ip: "203.0.113.7",
        ipType: "residential",
        country: "NL",
        asn: 64500,
        userAgent: "sdk/1.0",
        paymentFingerprint: "pf_openapi",
        promptTemplateHash: "tmpl_1",
        attributes: { region: "eu" },
      });
      const ingest = await call("POST", "/v1/events", "/v1/events", { body: [full, full, synth({ ip: "2001:db8::1" }), { eventId: "bad", outputTokens: -1 }] });
      expect(ingest.status).toBe(202);
      expect(ingest.body).toMatchObject({ accepted: 2, duplicates: 1, rejected: [{ index: 3, eventId: "bad" }] });
      await server.drain();

      expect((await call("GET", "/v1/events", `/v1/events?accountId=${account}`)).body.items).toHaveLength(2);
      const list = await call("GET", "/v1/cases", `/v1/cases?accountId=${account}`);
      const id: string = list.body.items[0].id;
      await call("GET", "/v1/cases/counts", "/v1/cases/counts");

      const kase = `/v1/cases/${id}`;
      expect((await call("POST", "/v1/cases/{id}/transitions", `${kase}/transitions`, { body: { to: "confirmed" } })).status).toBe(200);
      expect((await call("POST", "/v1/cases/{id}/notes", `${kase}/notes`, { body: { note: "checked the templates" } })).status).toBe(201);
      expect((await call("PATCH", "/v1/cases/{id}", kase, { body: { assignee: "analyst_1" } })).status).toBe(200);
      await call("PUT", "/v1/accounts/{id}", `/v1/accounts/${account}`, { body: { createdAt: at(60 * 24), plan: "pro" } });
      const enforced = await call("POST", "/v1/cases/{id}/enforce", `${kase}/enforce`, { body: { action: "suspend", note: "resale", includeLinked: { by: "any" } } });
      expect(enforced.body.enforced[0]).toMatchObject({ accountId: account, status: "suspended" });

      // While enforced: the account has an open case, a profile and an enforcement; the gateway's answer names the case.
      const view = await call("GET", "/v1/accounts/{id}", `/v1/accounts/${account}`);
      expect(view.body).toMatchObject({ status: "suspended", profile: { plan: "pro" }, openCases: [{ id }] });
      expect((await call("GET", "/v1/accounts/{id}/enforcement", `/v1/accounts/${account}/enforcement`)).body).toMatchObject({ status: "suspended", caseIds: [id] });
      expect((await call("GET", "/v1/accounts/{id}/usage", `/v1/accounts/${account}/usage`)).body.items.length).toBeGreaterThan(0);
      await call("GET", "/v1/accounts/{id}/enforcement", "/v1/accounts/acct_never_seen/enforcement");

      const resolved = await call("POST", "/v1/cases/{id}/transitions", `${kase}/transitions`, { body: { to: "resolved", note: "customer stopped" } });
      expect(resolved.body.accounts).toEqual([expect.objectContaining({ accountId: account, status: "active" })]);
      const statements = await call("GET", "/v1/accounts/{id}/statements", `/v1/accounts/${account}/statements`);
      expect(statements.body.items.map((s: { kind: string }) => s.kind)).toEqual(["lifting", "enforcement"]);
      await call("GET", "/v1/statements/{id}", `/v1/statements/${statements.body.items[1].id}`);
      // An appeal of a fresh enforcement, through the whole workflow.
      await call("POST", "/v1/events", "/v1/events", { body: [synth({ accountId: "acct_openapi_appeal" })] });
      await server.drain();
      const third = (await call("GET", "/v1/cases", "/v1/cases?accountId=acct_openapi_appeal")).body.items[0].id;
      await call("POST", "/v1/cases/{id}/transitions", `/v1/cases/${third}/transitions`, { body: { to: "confirmed" } });
      await call("POST", "/v1/cases/{id}/enforce", `/v1/cases/${third}/enforce`, { body: { action: "restrict", note: "r" } });
      const toAppeal = (await call("GET", "/v1/accounts/{id}/statements", "/v1/accounts/acct_openapi_appeal/statements")).body.items[0].id;
      const filed = await call("POST", "/v1/appeals", "/v1/appeals", { body: { statementId: toAppeal, explanation: "not us", attachments: [{ name: "n", ref: "r" }] } });
      expect(filed.status).toBe(201);
      expect((await call("POST", "/v1/appeals", "/v1/appeals", { body: { statementId: toAppeal, explanation: "again" } })).status).toBe(409);
      await call("GET", "/v1/appeals", "/v1/appeals");
      await call("GET", "/v1/appeals/counts", "/v1/appeals/counts");
      await call("GET", "/v1/appeals/{id}", `/v1/appeals/${filed.body.id}`);
      const decided = await call("POST", "/v1/appeals/{id}/transitions", `/v1/appeals/${filed.body.id}/transitions`, { body: { to: "upheld", note: "stands" } });
      // The admin key enforced: four eyes refuse it; another analyst decides.
      expect(decided.body.code).toBe("four_eyes");
      const other = (await server.call("POST", "/v1/keys", { body: { name: "second analyst", scopes: ["cases:write"] } })).body.key;
      const upheld = await call("POST", "/v1/appeals/{id}/transitions", `/v1/appeals/${filed.body.id}/transitions`, { body: { to: "upheld", note: "stands" }, key: other });
      expect(upheld.body.appeal.status).toBe("upheld");
      const indicators = await call("GET", "/v1/indicators", `/v1/indicators?partner=acme&caseId=${id}`);
      expect(indicators.body.objects.length).toBeGreaterThan(0);
      expect((await call("POST", "/v1/indicators/import", "/v1/indicators/import?source=acme", { body: indicators.body })).body.imported).toBe(indicators.body.objects.length);
      const signed = await call("GET", "/v1/cases/{id}/evidence-bundle", `${kase}/evidence-bundle`);
      expect(signed.body.signature.keyId).toBe((await call("GET", "/v1/signing-keys", "/v1/signing-keys", { key: null })).body.keys[0].kid);
      const detail = await call("GET", "/v1/cases/{id}", kase);
      expect(detail.body.timeline.map((t: { kind: string }) => t.kind)).toEqual(["opened", "transition", "note", "assign", "enforce", "transition"]);
      expect(detail.body.evidence.length).toBeGreaterThan(0);

      const bulk = await call("PUT", "/v1/accounts", "/v1/accounts", { body: [{ accountId: account, verification: "email" }, { accountId: "acct_openapi_2", orgId: null }] });
      expect(bulk.body.updated).toBe(2);
    });

    it("rules, their versions and backtests", async () => {
      const range = { from: at(60), to: at(-1) };
      await call("GET", "/v1/rules", "/v1/rules?limit=500");
      const ruleId = "extraction.synthetic-data-request";
      await call("GET", "/v1/rules/{id}", `/v1/rules/${ruleId}`);
      expect((await call("POST", "/v1/rules/validate", "/v1/rules/validate", { body: ruleDocument() })).body).toEqual({ valid: true });
      expect((await call("POST", "/v1/rules", "/v1/rules", { body: ruleDocument({ id: "openapi.test-rule" }) })).status).toBe(201);
      expect((await call("POST", "/v1/rules", "/v1/rules", { body: ruleDocument({ id: "openapi.test-rule" }) })).status).toBe(409);
      const changed = await call("PUT", "/v1/rules/{id}", "/v1/rules/openapi.test-rule", { body: ruleDocument({ id: "openapi.test-rule", severity: "low" }) });
      expect(changed.body).toMatchObject({ version: 2, changed: true });
      expect((await call("GET", "/v1/rules/{id}/versions", "/v1/rules/openapi.test-rule/versions")).body.items).toHaveLength(2);
      await call("POST", "/v1/rules/{id}/disable", "/v1/rules/openapi.test-rule/disable");
      await call("POST", "/v1/rules/{id}/enable", "/v1/rules/openapi.test-rule/enable");

      const stored = await call("POST", "/v1/rules/{id}/backtest", `/v1/rules/${ruleId}/backtest`, { body: range });
      expect(stored.body.hits.length).toBeGreaterThan(0);
      await call("POST", "/v1/rules/backtest", "/v1/rules/backtest", { body: { ...range, rule: ruleDocument() } });
      // Streamed: every line is one of the documented lines, the result last.
      const streamed = await fetch(`${server.url}/v1/rules/${ruleId}/backtest`, {
        method: "POST",
        headers: { authorization: `Bearer ${server.adminKey}`, "content-type": "application/json", accept: "application/x-ndjson" },
        body: JSON.stringify(range),
      });
      const lines = (await streamed.text()).trim().split("\n").map((l) => JSON.parse(l) as { type: string });
      for (const line of lines) expectDocumented("POST", "/v1/rules/{id}/backtest", { status: streamed.status, headers: streamed.headers, body: line });
      expect(lines[lines.length - 1]!.type).toBe("result");
    });

    it("the rule lifecycle: candidate versions, shadows, rule quality, named lists, allow entries and snoozes", async () => {
      const base = ruleDocument({ id: "openapi.lifecycle", scope: "event", conditions: { all: [{ fact: "event", path: "$.outputTokens", operator: "greaterThan", value: 9000 }] } });
      await call("POST", "/v1/rules", "/v1/rules", { body: base });
      const candidate = { ...base, conditions: { all: [{ fact: "event", path: "$.paymentFingerprint", operator: "inList", value: { list: "openapi-cards" } }] } };
      expect((await call("POST", "/v1/lists", "/v1/lists", { body: { name: "openapi-cards" } })).status).toBe(201);
      await call("POST", "/v1/lists/{name}/entries", "/v1/lists/openapi-cards/entries?mode=add", { body: { values: ["pf_lifecycle"] } });
      await call("POST", "/v1/lists/{name}/entries", "/v1/lists/openapi-cards/entries?mode=replace", { rawBody: '"pf_lifecycle"\n"pf_two"\n', contentType: "application/x-ndjson" });
      await call("GET", "/v1/lists", "/v1/lists");
      await call("GET", "/v1/lists/{name}", "/v1/lists/openapi-cards");
      await call("GET", "/v1/lists/{name}/entries", "/v1/lists/openapi-cards/entries?limit=1");
      const v2 = await call("POST", "/v1/rules/{id}/versions", "/v1/rules/openapi.lifecycle/versions", { body: candidate });
      expect((await call("POST", "/v1/rules/{id}/shadow", "/v1/rules/openapi.lifecycle/shadow", { body: { version: v2.body.version, endsAt: at(-600) } })).status).toBe(201);
      await call("GET", "/v1/rules/{id}/shadow", "/v1/rules/openapi.lifecycle/shadow");
      const until = at(-60);
      await call("POST", "/v1/allow-entries", "/v1/allow-entries", { body: { kind: "accountId", value: "acct_openapi_allowed", reason: "partner", expiresAt: until } });
      await call("POST", "/v1/events", "/v1/events", {
        body: [usageEvent({ accountId: "acct_openapi_shadow", paymentFingerprint: "pf_lifecycle", occurredAt: at(1) }), usageEvent({ accountId: "acct_openapi_allowed", outputTokens: 9500, occurredAt: at(1) })],
      });
      await server.drain();
      const report = await call("GET", "/v1/rules/{id}/shadow/report", "/v1/rules/openapi.lifecycle/shadow/report");
      expect(report.body.totals.onlyCandidate).toBe(1);
      const allowed = await call("GET", "/v1/accounts/{id}", "/v1/accounts/acct_openapi_allowed");
      expect(allowed.body.suppression.suppressedHits.map((h: { ruleId: string }) => h.ruleId)).toContain("openapi.lifecycle");
      const entries = await call("GET", "/v1/allow-entries", "/v1/allow-entries?active=true");
      await call("DELETE", "/v1/allow-entries/{id}", `/v1/allow-entries/${entries.body.items[0].id}`);
      const snooze = await call("POST", "/v1/snoozes", "/v1/snoozes", { body: { ruleId: "openapi.lifecycle", accountId: "acct_openapi_allowed", until, reason: "agreed" } });
      await call("GET", "/v1/snoozes", "/v1/snoozes?accountId=acct_openapi_allowed");
      await call("DELETE", "/v1/snoozes/{id}", `/v1/snoozes/${snooze.body.id}`);
      const caseId = (await server.call("GET", "/v1/cases?accountId=acct_openapi_1")).body.items[0].id;
      await call("POST", "/v1/cases/{id}/snooze", `/v1/cases/${caseId}/snooze`, { body: { until, reason: "agreed" } });
      // The snooze is on the case's timeline, in the documented shape.
      expect((await call("GET", "/v1/cases/{id}", `/v1/cases/${caseId}`)).body.timeline.map((t: { kind: string }) => t.kind)).toContain("snoozed");
      const promoted = await call("POST", "/v1/rules/{id}/shadow/promote", "/v1/rules/openapi.lifecycle/shadow/promote", { body: { reason: "better" } });
      expect(promoted.body.rule.version).toBe(v2.body.version);
      const v3 = await call("POST", "/v1/rules/{id}/versions", "/v1/rules/openapi.lifecycle/versions", { body: base });
      await call("POST", "/v1/rules/{id}/shadow", "/v1/rules/openapi.lifecycle/shadow", { body: { version: v3.body.version } });
      await call("DELETE", "/v1/rules/{id}/shadow", "/v1/rules/openapi.lifecycle/shadow");
      const stats = await call("GET", "/v1/rules/{id}/stats", "/v1/rules/extraction.synthetic-data-request/stats");
      expect(stats.body.total.casesOpened).toBeGreaterThan(0);
      await call("GET", "/v1/rule-stats", "/v1/rule-stats");
      await call("POST", "/v1/lists", "/v1/lists", { body: { name: "openapi-scratch" } });
      expect((await call("DELETE", "/v1/lists/{name}", "/v1/lists/openapi-scratch")).status).toBe(204);
    });

    it("keys, the audit log, health and the problems", async () => {
      const created = await call("POST", "/v1/keys", "/v1/keys", { body: { name: "openapi test", scopes: ["cases:read"], expiresAt: at(-60) } });
      expect((await call("GET", "/v1/cases/counts", "/v1/cases/counts", { key: created.body.key })).status).toBe(200);
      expect((await call("GET", "/v1/audit", "/v1/audit", { key: created.body.key })).status).toBe(403);
      expect((await call("DELETE", "/v1/keys/{id}", `/v1/keys/${created.body.id}`)).status).toBe(204);
      // A key used, expiring and revoked: every time of the listed key is set.
      const keys = await call("GET", "/v1/keys", "/v1/keys");
      expect(keys.body.items.find((k: { id: string }) => k.id === created.body.id)).toMatchObject({ lastUsedAt: expect.any(String), revokedAt: expect.any(String) });
      const audit = await call("GET", "/v1/audit", "/v1/audit?limit=500");
      expect(audit.body.items.length).toBeGreaterThan(10);

      await call("GET", "/healthz", "/healthz");
      await call("GET", "/readyz", "/readyz");
      await call("GET", "/metrics", "/metrics");
      await call("GET", "/openapi.json", "/openapi.json");
      await call("GET", "/docs", "/docs");
      await call("GET", "/docs/init.js", "/docs/init.js");
      await call("GET", "/console", "/console");

      // Problems: a validation failure with its field errors, a refused move with its extension members, and the rest.
      const invalid = await call("GET", "/v1/cases", "/v1/cases?limit=0");
      expect(invalid.status).toBe(400);
      expect(invalid.body.errors).toEqual([expect.objectContaining({ path: "query.limit" })]);
      const badEvent = await call("POST", "/v1/events", "/v1/events", { body: [] });
      expect(badEvent.status).toBe(400);
      expect((await call("POST", "/v1/cases/{id}/transitions", "/v1/cases/case_nope/transitions", { body: { to: "confirmed" } })).status).toBe(404);
      await server.call("POST", "/v1/events", { body: [usageEvent({ accountId: "acct_openapi_3", outputTokens: 5000, signals: { syntheticDataRequest: true }, occurredAt: at(1) })] });
      await server.drain();
      const open = (await server.call("GET", "/v1/cases?accountId=acct_openapi_3")).body.items[0];
      const refused = await call("POST", "/v1/cases/{id}/transitions", `/v1/cases/${open.id}/transitions`, { body: { to: "resolved", note: "no" } });
      expect(refused.body).toMatchObject({ status: 409, code: "transition_not_allowed", from: "open", allowed: ["investigating", "confirmed", "dismissed"] });
      expect((await call("GET", "/v1/cases", "/v1/cases", { key: null })).status).toBe(401);
      expect((await call("GET", "/v1/audit", "/v1/audit", { key: created.body.key })).status).toBe(401);
      expect((await call("POST", "/v1/rules", "/v1/rules", { rawBody: "{", contentType: "application/json" })).body.code).toBe("malformed_body");
      expect((await call("POST", "/v1/events", "/v1/events", { rawBody: "a,b", contentType: "text/csv" })).status).toBe(415);
    });

    it("met a real answer for every documented operation", () => {
      const operations = Object.entries(doc.paths).flatMap(([p, ops]) => Object.entries(ops).map(([m, op]) => ({ op: `${m.toUpperCase()} ${p}`, ok: Object.keys(op.responses).find((s) => /^2/.test(s))! })));
      expect(operations.filter(({ op, ok }) => !checked.has(`${op} ${ok}`)).map(({ op, ok }) => `${op} ${ok}`)).toEqual([]);
      expect(checked.size).toBeGreaterThan(operations.length);
    });
  });
});
