// /openapi.json is a valid OpenAPI 3.1 document (checked by an independent validator,
// @readme/openapi-parser), it documents exactly the routes the app serves, its schemas are the
// validators' own, and /docs serves Swagger UI from this process.
import { validate } from "@readme/openapi-parser";
import { servedRoutes } from "./support/routes";
import { type TestServer, startTestServer } from "./support/test-server";

describe("the OpenAPI document and /docs", () => {
  let server: TestServer;
  let doc: { openapi: string; paths: Record<string, Record<string, { requestBody?: { content: Record<string, { schema: any }> }; parameters?: { name: string; in: string }[] }>> };
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
});
