// SQL injection attempts in every filter and path parameter are inert, on every test database:
// each answer is 200 (nothing matched) or 400 (a field named), never 500, and the data is intact.
// Queries take values as bound parameters only; these tests would notice a string spliced in.
import { sql } from "../src/db/sql";
import { usageEvent } from "./support/factories";
import { testTargets } from "./support/test-database";
import { type TestServer, startTestServer } from "./support/test-server";

const attacks = [
  "' OR '1'='1",
  "acct_inj'; DROP TABLE usage_event; --",
  "x') UNION SELECT event_id FROM usage_event --",
  "1; UPDATE account SET status = 'suspended'",
  "$1",
  "\\' OR 1=1 --",
  "%' OR account_id LIKE '%",
  "acct_inj\u0000",
  "' || pg_sleep(5) || '",
];

describe.each(testTargets())("injection attempts on %s", (kind) => {
  let server: TestServer;
  beforeAll(async () => {
    server = await startTestServer(kind);
    await server.call("POST", "/v1/events", { body: [usageEvent({ accountId: "acct_inj", outputTokens: 5000, signals: { syntheticDataRequest: true } })] });
    await server.drain();
  });
  afterAll(async () => {
    await server.stop();
  });

  it("finds nothing, names the field, or refuses, and leaves every row as it was", async () => {
    const { db } = server.running.services;
    const counts = async () =>
      (await db.query<{ e: string; a: string; c: string; s: string }>(sql`
        SELECT (SELECT count(*) FROM usage_event)::text AS e, (SELECT count(*) FROM account)::text AS a,
               (SELECT count(*) FROM violation_case)::text AS c, (SELECT count(*) FROM account WHERE status <> 'active')::text AS s`))[0];
    const before = await counts();
    const q = encodeURIComponent;
    for (const attack of attacks) {
      const paths = [
        `/v1/events?accountId=${q(attack)}`,
        `/v1/cases?accountId=${q(attack)}`,
        `/v1/cases?ruleId=${q(attack)}`,
        `/v1/cases?assignee=${q(attack)}`,
        `/v1/cases?status=${q(attack)}`,
        `/v1/cases?from=${q(attack)}`,
        `/v1/cases?cursor=${q(attack)}`,
        `/v1/audit?actor=${q(attack)}`,
        `/v1/audit?action=${q(attack)}`,
        `/v1/accounts/${q(attack)}`,
        `/v1/accounts/${q(attack)}/enforcement`,
        `/v1/cases/${q(attack)}`,
        `/v1/rules/${q(attack)}`,
      ];
      for (const path of paths) {
        const started = Date.now();
        const res = await server.call("GET", path);
        expect({ path, answered: [200, 400, 404].includes(res.status) ? "200/400/404" : res.status }).toEqual({ path, answered: "200/400/404" });
        if (res.status === 200 && Array.isArray(res.body.items)) expect({ path, items: res.body.items }).toEqual({ path, items: [] });
        expect(Date.now() - started).toBeLessThan(4000);
      }
    }
    expect(await counts()).toEqual(before);
    // The unknown account answers as an unknown account, not as every account.
    const enforcement = await server.call("GET", `/v1/accounts/${encodeURIComponent("' OR '1'='1")}/enforcement`);
    expect(enforcement.body).toMatchObject({ status: "active", caseIds: [] });
  });

  it("answers 400 naming the field for text the database cannot hold in case notes and assignees", async () => {
    const id = (await server.call("GET", "/v1/cases?accountId=acct_inj")).body.items[0].id as string;
    const note = await server.call("POST", `/v1/cases/${id}/notes`, { body: { note: "bad\u0000note" } });
    expect(note.status).toBe(400);
    expect(note.body.errors).toEqual([{ path: "body.note", message: "must not contain NUL characters or unpaired surrogates" }]);
    const assign = await server.call("PATCH", `/v1/cases/${id}`, { body: { assignee: "a\u0000b" } });
    expect(assign.status).toBe(400);
    expect(assign.body.errors[0].path).toBe("body.assignee");
    expect((await server.call("GET", `/v1/cases/${id}`)).body.timeline).toHaveLength(1);
  });

  it("answers 400 naming params for a path segment that is not valid percent-encoding", async () => {
    for (const path of ["/v1/cases/%", "/v1/cases/%E0%A4%A/notes", "/v1/accounts/%zz", "/v1/rules/%/versions"]) {
      const method = path.endsWith("/notes") ? "POST" : "GET";
      const res = await server.call(method, path, method === "POST" ? { body: { note: "x" } } : {});
      expect({ path, status: res.status, code: res.body.code, errors: res.body.errors }).toEqual({
        path,
        status: 400,
        code: "validation_failed",
        errors: [{ path: "params", message: expect.any(String) }],
      });
    }
  });
});
