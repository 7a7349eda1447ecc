// What a start does on a database: the policy pack becomes rule versions (a changed file is a new
// version, an unchanged one is not), the admin key is bootstrapped, and the in-process worker
// evaluates events without being driven.
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { loadRuleFiles } from "../src/features/rules/rule-files";
import { createRuleService } from "../src/features/rules/rule-service";
import { createApiKeyService } from "../src/features/auth/api-key-service";
import { generateKey } from "../src/features/auth/api-key";
import { createLogger } from "../src/shared/logger";
import { type TestDatabase, createTestDatabase, testTargets } from "./support/test-database";
import { startTestServer } from "./support/test-server";
import { ruleDocument, usageEvent } from "./support/factories";

const writeRule = (dir: string, doc: Record<string, unknown>) => fs.writeFileSync(path.join(dir, `${doc.id}.json`), JSON.stringify(doc, null, 2));

describe.each(testTargets())("start-up on %s", (kind) => {
  let t: TestDatabase;
  beforeEach(async () => {
    t = await createTestDatabase(kind);
  });
  afterEach(async () => {
    await t.drop();
  });

  it("versions rule files: new, unchanged (even reformatted), changed", async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "cg-rules-"));
    const rules = createRuleService(t.db);
    writeRule(dir, ruleDocument({ id: "a.rule" }));
    writeRule(dir, ruleDocument({ id: "b.rule", enabled: false }));
    expect(await rules.syncRuleFiles(loadRuleFiles(dir))).toEqual({ created: ["a.rule", "b.rule"], updated: [], unchanged: [], awaitingLists: [] });

    // Same content, other formatting and key order: not a new version.
    const reordered = Object.fromEntries(Object.entries(ruleDocument({ id: "a.rule" })).reverse());
    fs.writeFileSync(path.join(dir, "a.rule.json"), JSON.stringify(reordered));
    expect(await rules.syncRuleFiles(loadRuleFiles(dir))).toEqual({ created: [], updated: [], unchanged: ["a.rule", "b.rule"], awaitingLists: [] });

    writeRule(dir, ruleDocument({ id: "a.rule", severity: "critical" }));
    expect(await rules.syncRuleFiles(loadRuleFiles(dir))).toEqual({ created: [], updated: ["a.rule"], unchanged: ["b.rule"], awaitingLists: [] });

    const versions = await t.db.prisma.ruleVersion.findMany({ where: { ruleId: "a.rule" }, orderBy: { version: "asc" } });
    expect(versions.map((v) => [v.version, (v.document as { severity: string }).severity])).toEqual([
      [1, "high"],
      [2, "critical"],
    ]);
    expect(await rules.activeRules()).toEqual([{ rule: expect.objectContaining({ id: "a.rule", severity: "critical" }), version: 2 }]);
    const audit = await t.db.prisma.auditLogEntry.findMany({ where: { targetId: "a.rule" }, orderBy: { id: "asc" } });
    expect(audit.map((a) => a.action)).toEqual(["rule.create", "rule.version"]);
  });

  it("starts with a rule file naming a list not created yet: its list conditions hold for no event until the list exists", async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "cg-rules-"));
    const onList = (id: string, operator: string) => ruleDocument({ id, scope: "event", conditions: { all: [{ fact: "event", path: "$.ip", operator, value: { list: "later-proxies" } }] } });
    writeRule(dir, onList("proxy.listed", "inList"));
    writeRule(dir, onList("proxy.unlisted", "notInList"));
    expect((await createRuleService(t.db).syncRuleFiles(loadRuleFiles(dir))).awaitingLists).toEqual([
      { ruleId: "proxy.listed", lists: ["later-proxies"] },
      { ruleId: "proxy.unlisted", lists: ["later-proxies"] },
    ]);
    const server = await startTestServer(kind, { config: { rulesDir: dir } });
    try {
      const casesOf = async (accountId: string) => (await server.call("GET", `/v1/cases?accountId=${accountId}`)).body.items.map((c: { ruleId: string }) => c.ruleId);
      // Before the list exists: neither inList nor notInList holds (notInList of a missing list would otherwise flag everything).
      await server.call("POST", "/v1/events", { body: [usageEvent({ accountId: "acct_before_list", ip: "203.0.113.9" })] });
      await server.drain();
      expect(await casesOf("acct_before_list")).toEqual([]);
      // The list is created and filled through the API: the rules judge by it from the next batch, without a restart.
      expect((await server.call("POST", "/v1/lists", { body: { name: "later-proxies" } })).status).toBe(201);
      await server.call("POST", "/v1/lists/later-proxies/entries?mode=add", { body: { values: ["203.0.113.9"] } });
      await server.call("POST", "/v1/events", { body: [usageEvent({ accountId: "acct_listed", ip: "203.0.113.9" }), usageEvent({ accountId: "acct_not_listed", ip: "198.51.100.7" })] });
      await server.drain();
      expect(await casesOf("acct_listed")).toEqual(["proxy.listed"]);
      expect(await casesOf("acct_not_listed")).toEqual(["proxy.unlisted"]);
      // Saved through the API, a rule must still name lists that exist.
      const refused = await server.call("POST", "/v1/rules", { body: { ...onList("proxy.other", "inList"), conditions: { all: [{ fact: "event", path: "$.ip", operator: "inList", value: { list: "never-made" } }] } } });
      expect(refused.body.errors).toEqual([{ path: "conditions.all[0].value.list", message: expect.stringContaining("unknown list 'never-made'") }]);
    } finally {
      await server.stop();
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  it("generates an admin key once on an empty database and stores only its hash", async () => {
    const keys = createApiKeyService(t.db, createLogger("silent", false));
    const first = await keys.bootstrapAdminKey(undefined);
    expect(first.generatedKey).toMatch(/^cg_[a-z0-9]{12}_/);
    expect(await keys.bootstrapAdminKey(undefined)).toEqual({});
    const rows = await t.db.prisma.apiKey.findMany();
    expect(rows).toHaveLength(1);
    expect(rows[0]!.scopes).toEqual(["admin"]);
    expect(JSON.stringify(rows)).not.toContain(first.generatedKey!.slice("cg_".length + 13)); // the secret, after cg_<id>_
    const principal = await keys.authenticate(`Bearer ${first.generatedKey}`);
    expect(principal.scopes).toEqual(["admin"]);
  });

  it("stores CLAUSEGUARD_ADMIN_KEY and does not bring back a revoked one", async () => {
    const keys = createApiKeyService(t.db, createLogger("silent", false));
    const configured = generateKey().key;
    expect(await keys.bootstrapAdminKey(configured)).toEqual({});
    await expect(keys.authenticate(`Bearer ${configured}`)).resolves.toMatchObject({ scopes: ["admin"] });
    const id = configured.split("_")[1]!;
    await keys.revokeKey(id, { actor: "test" });
    await keys.bootstrapAdminKey(configured);
    await expect(keys.authenticate(`Bearer ${configured}`)).rejects.toThrow(/revoked/);
  });
});

describe.each(testTargets())("in-process evaluation worker on %s", (kind) => {
  it("evaluates posted events by itself within seconds", async () => {
    const server = await startTestServer(kind, { worker: true });
    try {
      const res = await server.call("POST", "/v1/events", {
        body: [usageEvent({ accountId: "acct_worker", outputTokens: 8000, signals: { syntheticDataRequest: true } })],
      });
      expect(res.status).toBe(202);
      const deadline = Date.now() + 10_000;
      let items: unknown[] = [];
      while (Date.now() < deadline) {
        items = (await server.call("GET", "/v1/cases?accountId=acct_worker")).body.items;
        if (items.length) break;
        await new Promise((r) => setTimeout(r, 50));
      }
      expect(items).toEqual([expect.objectContaining({ ruleId: "extraction.synthetic-data-request", hitCount: 1 })]);
      const ready = await server.call("GET", "/readyz");
      expect(ready.body).toMatchObject({ status: "ready", evaluation: { queueDepth: 0, worker: { evaluated: 1, hits: 1 } } });
    } finally {
      await server.stop();
    }
  });
});
