// The rule lifecycle on every test database (docs/rule-lifecycle.md): named lists (versioned
// changes, all or nothing, used by inList / notInList and taking effect without a rule change),
// allow entries and snoozes (hits suppressed, recorded, shown on the account, expiring), shadow
// runs (no case, the same hits as a backtest of the version, promotion audited), and rule quality
// against hand-counted cases.
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { run } from "./support/cli";
import { sql } from "../src/db/sql";
import { ruleCompiler } from "../src/engine/rule-compiler";
import { verifyBundle } from "../src/features/evidence/evidence-verify";
import { publicKeyFromJwk } from "../src/features/evidence/signing-keys";
import { type TestServer, startTestServer } from "./support/test-server";
import { testTargets } from "./support/test-database";
import { ruleDocument, usageEvent } from "./support/factories";

const minute = 60_000;

describe.each(testTargets())("rule lifecycle on %s", (kind) => {
  let server: TestServer;
  const t0 = Date.now() - 3 * 60 * minute;
  const at = (m: number) => new Date(t0 + m * minute).toISOString();
  const post = async (events: Record<string, unknown>[]) => {
    const res = await server.call("POST", "/v1/events", { body: events });
    expect(res.status).toBe(202);
    await server.drain();
  };
  const casesOf = async (ruleId: string) => (await server.call("GET", `/v1/cases?ruleId=${ruleId}&limit=500`)).body.items as { id: string; accountId: string; hitCount: number }[];

  beforeAll(async () => {
    server = await startTestServer(kind);
  });
  afterAll(async () => {
    await server.stop();
  });

  describe("named lists", () => {
    it("creates a list and changes it in versions that record who changed what", async () => {
      expect((await server.call("POST", "/v1/lists", { body: { name: "blocked-cards", description: "cards seen in resale" } })).status).toBe(201);
      expect((await server.call("POST", "/v1/lists", { body: { name: "blocked-cards" } })).body).toMatchObject({ status: 409 });
      const add = await server.call("POST", "/v1/lists/blocked-cards/entries?mode=add", { body: { values: ["pm_a", "pm_b", "pm_b"] } });
      expect(add.status).toBe(200);
      expect(add.body.change).toMatchObject({ version: 2, mode: "add", added: 2, removed: 0, size: 2 });
      // NDJSON: a JSON string per line, or { "value": ... }; replace keeps pm_b, drops pm_a, adds pm_c.
      const replace = await server.call("POST", "/v1/lists/blocked-cards/entries?mode=replace", { rawBody: '"pm_b"\n{"value":"pm_c"}\n\n', contentType: "application/x-ndjson" });
      expect(replace.body.change).toMatchObject({ version: 3, mode: "replace", added: 1, removed: 1, size: 2, sample: { added: ["pm_c"], removed: ["pm_a"] } });
      const removed = await server.call("POST", "/v1/lists/blocked-cards/entries?mode=remove", { body: { values: ["pm_c", "pm_zzz"] } });
      expect(removed.body.change).toMatchObject({ version: 4, added: 0, removed: 1, size: 1 });
      const detail = (await server.call("GET", "/v1/lists/blocked-cards")).body;
      expect(detail).toMatchObject({ name: "blocked-cards", version: 4, size: 1, description: "cards seen in resale", usedBy: [] });
      expect(detail.changes.map((c: { version: number; mode: string }) => `${c.version}:${c.mode}`)).toEqual(["4:remove", "3:replace", "2:add", "1:create"]);
      expect((await server.call("GET", "/v1/lists/blocked-cards/entries")).body).toEqual({ items: ["pm_b"], nextCursor: null });
      expect((await server.call("GET", "/v1/lists/blocked-cards/entries?value=pm_a")).body.items).toEqual([]);
      for (const action of ["list.create", "list.add", "list.replace", "list.remove"]) {
        const entries = (await server.call("GET", `/v1/audit?action=${action}`)).body.items;
        expect(entries.find((e: { targetId: string }) => e.targetId === "blocked-cards")).toMatchObject({ targetType: "list", actor: expect.any(String) });
      }
    });

    it("refuses bad values with their path and stores nothing", async () => {
      const bad = await server.call("POST", "/v1/lists/blocked-cards/entries?mode=replace", { rawBody: '"pm_ok"\nnot json\n42\n"a\\u0000b"\n', contentType: "application/x-ndjson" });
      expect(bad.status).toBe(400);
      expect(bad.body.errors.map((e: { path: string }) => e.path)).toEqual(["line 2", "line 3"]);
      const nul = await server.call("POST", "/v1/lists/blocked-cards/entries?mode=add", { body: { values: ["fine", "", "x".repeat(513)] } });
      expect(nul.body.errors.map((e: { path: string }) => e.path)).toEqual(["body.values[1]", "body.values[2]"]);
      expect((await server.call("POST", "/v1/lists/blocked-cards/entries?mode=wipe", { body: { values: [] } })).body.errors[0].path).toBe("query.mode");
      expect((await server.call("POST", "/v1/lists/Not A Name/entries", { body: { values: [] } })).body.errors[0].path).toBe("params.name");
      expect((await server.call("POST", "/v1/lists/no-such-list/entries", { body: { values: ["x"] } })).status).toBe(404);
      expect((await server.call("GET", "/v1/lists/blocked-cards")).body).toMatchObject({ version: 4, size: 1 });
    });

    it("refuses a rule naming an unknown list, with the path of the reference", async () => {
      const rule = ruleDocument({ id: "test.unknown-list", scope: "event", conditions: { all: [{ fact: "event", path: "$.paymentFingerprint", operator: "inList", value: { list: "nope" } }] } });
      const res = await server.call("POST", "/v1/rules", { body: rule });
      expect(res.status).toBe(400);
      expect(res.body.errors).toEqual([{ path: "conditions.all[0].value.list", message: expect.stringContaining("unknown list 'nope'") }]);
      const shape = await server.call("POST", "/v1/rules/validate", { body: { ...rule, conditions: { all: [{ fact: "event", path: "$.ip", operator: "inList", value: { list: "Bad Name" } }] } } });
      expect(shape.body.errors[0].path).toBe("conditions.all[0].value");
    });

    it("matches events against the list's current version, without a new rule version", async () => {
      const rule = ruleDocument({
        id: "test.blocked-card",
        scope: "event",
        conditions: { all: [{ fact: "event", path: "$.paymentFingerprint", operator: "inList", value: { list: "blocked-cards" } }] },
      });
      expect((await server.call("POST", "/v1/rules", { body: rule })).status).toBe(201);
      const notListed = ruleDocument({
        id: "test.card-not-listed",
        scope: "event",
        conditions: { all: [{ fact: "event", path: "$.paymentFingerprint", operator: "notInList", value: { list: "blocked-cards" } }, { fact: "event", path: "$.outputTokens", operator: "equal", value: 4242 }] },
      });
      expect((await server.call("POST", "/v1/rules", { body: notListed })).status).toBe(201);
      await post([
        usageEvent({ accountId: "acct_list1", occurredAt: at(1), paymentFingerprint: "pm_b", outputTokens: 4242 }),
        usageEvent({ accountId: "acct_list2", occurredAt: at(1), paymentFingerprint: "pm_new", outputTokens: 4242 }),
      ]);
      expect((await casesOf("test.blocked-card")).map((c) => c.accountId)).toEqual(["acct_list1"]);
      expect((await casesOf("test.card-not-listed")).map((c) => c.accountId)).toEqual(["acct_list2"]);
      // The list changes; the rule does not: the next event with pm_new is hit.
      await server.call("POST", "/v1/lists/blocked-cards/entries?mode=add", { body: { values: ["pm_new"] } });
      await post([usageEvent({ accountId: "acct_list2", occurredAt: at(2), paymentFingerprint: "pm_new" })]);
      expect((await casesOf("test.blocked-card")).map((c) => c.accountId).sort()).toEqual(["acct_list1", "acct_list2"]);
      expect((await server.call("GET", "/v1/rules/test.blocked-card")).body.version).toBe(1);
      // The evidence shows the reference, not the values.
      const c = (await server.call("GET", `/v1/cases/${(await casesOf("test.blocked-card"))[0]!.id}`)).body;
      expect(c.evidence[0].conditions[0]).toMatchObject({ operator: "inList", value: { list: "blocked-cards" }, result: true });
      // In use: not deleted.
      const del = await server.call("DELETE", "/v1/lists/blocked-cards");
      expect(del.body).toMatchObject({ status: 409, usedBy: ["test.blocked-card", "test.card-not-listed"] });
      expect((await server.call("GET", "/v1/lists")).body.items.find((l: { name: string }) => l.name === "blocked-cards").usedBy).toEqual(["test.blocked-card", "test.card-not-listed"]);
      // Its evidence bundle verifies offline: the list's membership is what the hit recorded.
      const bundle = (await server.call("GET", `/v1/cases/${(await casesOf("test.blocked-card"))[0]!.id}/evidence-bundle`)).body;
      const key = publicKeyFromJwk((await server.call("GET", "/v1/signing-keys", { key: null })).body.keys[0]);
      const check = await verifyBundle(bundle, key, ruleCompiler("compiled"));
      expect(check).toMatchObject({ signature: true, ok: true });
      expect(check.hits[0]!.conditions).toEqual([expect.objectContaining({ operator: "inList", value: { list: "blocked-cards" }, recorded: true, recomputed: true })]);
      // A list deleted behind the API's back holds neither way: notInList does not flag everything.
      await server.call("POST", "/v1/lists", { body: { name: "vanishing" } });
      await server.call("POST", "/v1/rules", {
        body: ruleDocument({ id: "test.vanishing", scope: "event", conditions: { all: [{ fact: "event", path: "$.paymentFingerprint", operator: "notInList", value: { list: "vanishing" } }] } }),
      });
      await server.running.services.db.query(sql`DELETE FROM named_list WHERE name = 'vanishing'`);
      await post([usageEvent({ accountId: "acct_vanishing", occurredAt: at(2), paymentFingerprint: "pm_any" })]);
      expect(await casesOf("test.vanishing")).toEqual([]);
      // A backtest reads the list too.
      const bt = await server.call("POST", "/v1/rules/test.blocked-card/backtest", { body: { from: at(0), to: at(10) } });
      expect(bt.body.hits.map((h: { accountId: string }) => h.accountId).sort()).toEqual(["acct_list1", "acct_list2"]);
    });

    it("imports a CSV or NDJSON file through the CLI in one change, and refuses a bad file whole", async () => {
      const dir = fs.mkdtempSync(path.join(os.tmpdir(), "cg-lists-"));
      const env = { CLAUSEGUARD_URL: server.url, CLAUSEGUARD_API_KEY: server.adminKey };
      fs.writeFileSync(path.join(dir, "cards.csv"), "note,card\nfirst,pm_cli_1\nsecond,pm_cli_2\nthird,pm_cli_2\n");
      const csv = run(["lists", "import", "cli-cards", path.join(dir, "cards.csv"), "--column", "card", "--create", "--description", "from a file"], env);
      expect(await csv.exited).toBe(0);
      expect(csv.stdout()).toMatch(/^cli-cards: version 2, 2 added, 0 removed, 2 entries \(3 values read, \d+ ms\)\n$/);
      fs.writeFileSync(path.join(dir, "more.ndjson"), '"pm_cli_3"\n{"value":"pm_cli_1"}\n');
      const ndjson = run(["lists", "import", "cli-cards", path.join(dir, "more.ndjson"), "--mode", "add"], env);
      expect(await ndjson.exited).toBe(0);
      expect(ndjson.stdout()).toMatch(/^cli-cards: version 3, 1 added, 0 removed, 3 entries/);
      fs.writeFileSync(path.join(dir, "bad.ndjson"), '"pm_ok"\n{broken\n7\n');
      const bad = run(["lists", "import", "cli-cards", path.join(dir, "bad.ndjson")], env);
      expect(await bad.exited).toBe(2);
      expect(bad.stderr()).toMatch(/nothing sent; line 2: not valid JSON; line 3: must be a JSON string/);
      expect((await server.call("GET", "/v1/lists/cli-cards")).body).toMatchObject({ version: 3, size: 3, description: "from a file" });
    });

    it("takes 1,000,000 values (the most) in one change, judges against them, and refuses one more", async () => {
      await server.call("POST", "/v1/lists", { body: { name: "million" } });
      const value = (i: number) => `v${i.toString(36).padStart(5, "0")}`;
      const body = Array.from({ length: 1_000_000 }, (_, i) => JSON.stringify(value(i))).join("\n");
      const res = await server.call("POST", "/v1/lists/million/entries?mode=replace", { rawBody: body, contentType: "application/x-ndjson" });
      expect(res.body.change).toMatchObject({ version: 2, added: 1_000_000, removed: 0, size: 1_000_000 });
      const more = await server.call("POST", "/v1/lists/million/entries?mode=add", { rawBody: `${body}\n"one more"`, contentType: "application/x-ndjson" });
      expect(more.status).toBe(400);
      expect((await server.call("GET", "/v1/lists/million")).body).toMatchObject({ version: 2, size: 1_000_000 });
      await server.call("POST", "/v1/rules", {
        body: ruleDocument({ id: "test.million", scope: "event", conditions: { all: [{ fact: "event", path: "$.endUserId", operator: "inList", value: { list: "million" } }] } }),
      });
      await post([usageEvent({ accountId: "acct_million", occurredAt: at(8), endUserId: value(999_999) }), usageEvent({ accountId: "acct_not_million", occurredAt: at(8), endUserId: "v-none" })]);
      expect((await casesOf("test.million")).map((c) => c.accountId)).toEqual(["acct_million"]);
    }, 120_000);

    it("deletes a list no rule names; a stored candidate naming it then cannot run in shadow", async () => {
      await server.call("POST", "/v1/lists", { body: { name: "scratch" } });
      const rule = ruleDocument({ id: "test.scratch", scope: "event", conditions: { all: [{ fact: "event", path: "$.ip", operator: "equal", value: "1.2.3.4" }] } });
      await server.call("POST", "/v1/rules", { body: rule });
      const v2 = await server.call("POST", "/v1/rules/test.scratch/versions", { body: { ...rule, conditions: { all: [{ fact: "event", path: "$.ip", operator: "inList", value: { list: "scratch" } }] } } });
      expect(v2.status).toBe(201);
      // Neither the current version nor a running shadow names it: it may go.
      expect((await server.call("DELETE", "/v1/lists/scratch")).status).toBe(204);
      expect((await server.call("GET", "/v1/lists/scratch")).status).toBe(404);
      const shadow = await server.call("POST", "/v1/rules/test.scratch/shadow", { body: { version: v2.body.version } });
      expect(shadow.body.errors).toEqual([{ path: "body.version", message: expect.stringContaining("unknown list(s) scratch") }]);
    });
  });

  describe("allow entries and snoozes", () => {
    const rule = ruleDocument({ id: "test.big-output", scope: "event", conditions: { all: [{ fact: "event", path: "$.outputTokens", operator: "equal", value: 7777 }] } });
    beforeAll(async () => {
      expect((await server.call("POST", "/v1/rules", { body: rule })).status).toBe(201);
    });

    it("records a hit an allow entry covers as suppressed, opens no case, and shows it on the account", async () => {
      const until = new Date(Date.now() + 86_400_000).toISOString();
      const byAccount = await server.call("POST", "/v1/allow-entries", { body: { kind: "accountId", value: "acct_allow1", ruleId: "test.big-output", reason: "a research partner", expiresAt: until } });
      expect(byAccount.status).toBe(201);
      await server.call("POST", "/v1/allow-entries", { body: { kind: "paymentFingerprint", value: "pm_partner", reason: "the partner's card", expiresAt: until } });
      await post([
        usageEvent({ accountId: "acct_allow1", occurredAt: at(3), outputTokens: 7777 }),
        usageEvent({ accountId: "acct_allow2", occurredAt: at(3), outputTokens: 7777, paymentFingerprint: "pm_partner" }),
        usageEvent({ accountId: "acct_allow3", occurredAt: at(3), outputTokens: 7777 }),
      ]);
      expect((await casesOf("test.big-output")).map((c) => c.accountId)).toEqual(["acct_allow3"]);
      const view = (await server.call("GET", "/v1/accounts/acct_allow1")).body;
      expect(view.suppression.allowEntries.map((e: { id: string }) => e.id)).toEqual([byAccount.body.id]);
      expect(view.suppression.suppressedHits).toEqual([
        expect.objectContaining({ ruleId: "test.big-output", role: "live", suppressedBy: { type: "allow", id: byAccount.body.id, reason: "a research partner" } }),
      ]);
      const card = (await server.call("GET", "/v1/accounts/acct_allow2")).body.suppression;
      expect(card.suppressedHits[0].suppressedBy).toMatchObject({ type: "allow", reason: "the partner's card" });
      expect(card.allowEntries[0]).toMatchObject({ kind: "paymentFingerprint", value: "pm_partner", ruleId: null, active: true });
      // Revoked: the next hit opens a case.
      expect((await server.call("DELETE", `/v1/allow-entries/${byAccount.body.id}`)).body).toMatchObject({ active: false, revokedBy: expect.any(String) });
      await post([usageEvent({ accountId: "acct_allow1", occurredAt: at(4), outputTokens: 7777 })]);
      expect((await casesOf("test.big-output")).map((c) => c.accountId).sort()).toEqual(["acct_allow1", "acct_allow3"]);
      const hits = (await server.call("GET", "/v1/rules/test.big-output/stats")).body.total;
      expect(hits).toMatchObject({ hits: 2, suppressedHits: 2 });
    });

    it("pages through allow entries by state: every page of inactive ones holds inactive ones only", async () => {
      const until = new Date(Date.now() + 86_400_000).toISOString();
      const ids: string[] = [];
      for (let k = 0; k < 4; k++) ids.push((await server.call("POST", "/v1/allow-entries", { body: { kind: "orgId", value: `org_page_${k}`, reason: "r", expiresAt: until } })).body.id);
      for (const id of ids.slice(0, 3)) await server.call("DELETE", `/v1/allow-entries/${id}`);
      const seen: string[] = [];
      let cursor: string | null = null;
      do {
        const page: { body: { items: { id: string; active: boolean }[]; nextCursor: string | null } } = await server.call("GET", `/v1/allow-entries?kind=orgId&active=false&limit=1${cursor ? `&cursor=${cursor}` : ""}`);
        expect(page.body.items.every((e) => !e.active)).toBe(true);
        seen.push(...page.body.items.map((e) => e.id));
        cursor = page.body.nextCursor;
      } while (cursor);
      expect(seen.filter((id) => ids.includes(id)).sort()).toEqual(ids.slice(0, 3).sort());
      const bad = await server.call("GET", `/v1/allow-entries?cursor=${Buffer.from(JSON.stringify(["not a date", "x"])).toString("base64url")}`);
      expect(bad.body.errors[0].path).toBe("query.cursor");
    });

    it("refuses an allow entry without a future expiry or with an unknown rule, naming the field", async () => {
      const past = await server.call("POST", "/v1/allow-entries", { body: { kind: "accountId", value: "a", reason: "r", expiresAt: "2020-01-01T00:00:00Z" } });
      expect(past.body.errors[0].path).toBe("body.expiresAt");
      const rule404 = await server.call("POST", "/v1/allow-entries", { body: { kind: "orgId", value: "a", ruleId: "no.such", reason: "r", expiresAt: new Date(Date.now() + 60_000).toISOString() } });
      expect(rule404.body.errors[0].path).toBe("body.ruleId");
      const kindBad = await server.call("POST", "/v1/allow-entries", { body: { kind: "ip", value: "a", reason: "r", expiresAt: new Date(Date.now() + 60_000).toISOString() } });
      expect(kindBad.body.errors[0].path).toBe("body.kind");
    });

    it("snoozes a rule for one account from its case until a time, in the audit log and on the timeline; it expires", async () => {
      await post([usageEvent({ accountId: "acct_snooze", occurredAt: at(5), outputTokens: 7777 })]);
      const caseId = (await casesOf("test.big-output")).find((c) => c.accountId === "acct_snooze")!.id;
      await server.call("POST", `/v1/cases/${caseId}/transitions`, { body: { to: "dismissed", note: "benign batch job" } });
      const until = new Date(Date.now() + 60 * minute);
      const snooze = await server.call("POST", `/v1/cases/${caseId}/snooze`, { body: { until: until.toISOString(), reason: "batch job agreed with the customer" } });
      expect(snooze.status).toBe(201);
      expect(snooze.body).toMatchObject({ ruleId: "test.big-output", accountId: "acct_snooze", caseId, active: true });
      const timeline = (await server.call("GET", `/v1/cases/${caseId}`)).body.timeline.map((t: { kind: string }) => t.kind);
      expect(timeline).toContain("snoozed");
      const audit = (await server.call("GET", "/v1/audit?action=snooze.create")).body.items;
      expect(audit.find((e: { targetId: string }) => e.targetId === "acct_snooze")).toMatchObject({ targetType: "account", after: expect.objectContaining({ id: snooze.body.id }) });
      expect((await server.call("GET", "/v1/accounts/acct_snooze")).body.suppression.snoozes.map((s: { id: string }) => s.id)).toEqual([snooze.body.id]);

      // While it holds, a hit is suppressed; judged after `until`, the same kind of hit counts on the case.
      const hitCount = async () => (await server.call("GET", `/v1/cases/${caseId}`)).body.hitCount;
      const before = await hitCount();
      await post([usageEvent({ accountId: "acct_snooze", occurredAt: at(6), outputTokens: 7777 })]);
      expect(await hitCount()).toBe(before);
      await server.call("POST", "/v1/events", { body: [usageEvent({ accountId: "acct_snooze", occurredAt: at(7), outputTokens: 7777 })] });
      await server.running.services.evaluation.runBatch(500, { now: () => new Date(until.getTime() + 1000) });
      expect(await hitCount()).toBe(before + 1);
      const suppressed = (await server.call("GET", "/v1/accounts/acct_snooze")).body.suppression.suppressedHits;
      expect(suppressed.map((h: { suppressedBy: { type: string } }) => h.suppressedBy.type)).toEqual(["snooze"]);
      // Cancelled: no longer active.
      expect((await server.call("DELETE", `/v1/snoozes/${snooze.body.id}`)).body).toMatchObject({ active: false });
      expect((await server.call("GET", "/v1/snoozes?accountId=acct_snooze&active=true")).body.items).toEqual([]);
    });
  });

  describe("shadow runs", () => {
    const base = ruleDocument({ id: "test.shadowed", scope: "event", conditions: { all: [{ fact: "event", path: "$.outputTokens", operator: "greaterThan", value: 9000 }] } });
    const candidate = { ...base, conditions: { all: [{ fact: "event", path: "$.outputTokens", operator: "greaterThan", value: 5000 }] } };

    it("evaluates a candidate live without opening a case, reports it beside the active version, and matches a backtest of it", async () => {
      expect((await server.call("POST", "/v1/rules", { body: base })).status).toBe(201);
      const v2 = await server.call("POST", "/v1/rules/test.shadowed/versions", { body: candidate });
      expect(v2.body).toMatchObject({ version: 2, current: false });
      expect((await server.call("GET", "/v1/rules/test.shadowed")).body.version).toBe(1);
      expect((await server.call("POST", "/v1/rules/test.shadowed/shadow", { body: { version: 1 } })).body.errors[0].path).toBe("body.version");
      const started = await server.call("POST", "/v1/rules/test.shadowed/shadow", { body: { version: 2 } });
      expect(started.status).toBe(201);
      expect(started.body).toMatchObject({ version: 2, baseVersion: 1, running: true });
      expect((await server.call("POST", "/v1/rules/test.shadowed/shadow", { body: { version: 2 } })).body.status).toBe(409);

      // acct_sh1: 9500 (both versions); acct_sh2: 6000 (candidate only); acct_sh3: 100 (neither).
      const events = [];
      for (let m = 10; m < 14; m++) {
        events.push(usageEvent({ accountId: "acct_sh1", occurredAt: at(m), outputTokens: 9500 }));
        events.push(usageEvent({ accountId: "acct_sh2", occurredAt: at(m), outputTokens: 6000 + m }));
        events.push(usageEvent({ accountId: "acct_sh3", occurredAt: at(m), outputTokens: 100 }));
      }
      await post(events);
      expect((await casesOf("test.shadowed")).map((c) => c.accountId)).toEqual(["acct_sh1"]);
      expect((await casesOf("test.shadowed"))[0]!.hitCount).toBe(4);

      const report = (await server.call("GET", "/v1/rules/test.shadowed/shadow/report")).body;
      expect(report.totals).toEqual({ candidateHits: 8, activeHits: 4, suppressedHits: 0, onlyCandidate: 1, onlyActive: 0, both: 1 });
      expect(report.onlyCandidate.map((a: { accountId: string }) => a.accountId)).toEqual(["acct_sh2"]);
      expect(report.both[0]).toMatchObject({ accountId: "acct_sh1", candidateHits: 4, activeHits: 4 });
      expect(report.onlyCandidate[0].sample.candidate).toMatchObject({ ruleVersion: 2, occurredAt: at(13), conditions: [expect.objectContaining({ factValue: 6013, result: true })] });
      expect(report.days.reduce((n: number, d: { candidateHits: number }) => n + d.candidateHits, 0)).toBe(8);

      // An allow entry on an account both versions hit: the shadow's report shows its hits as suppressed, and no case opens.
      const allow = await server.call("POST", "/v1/allow-entries", { body: { kind: "accountId", value: "acct_sh4", ruleId: "test.shadowed", reason: "a red-team account", expiresAt: new Date(Date.now() + 86_400_000).toISOString() } });
      await post([usageEvent({ accountId: "acct_sh4", occurredAt: at(15), outputTokens: 9600 }), usageEvent({ accountId: "acct_sh4", occurredAt: at(16), outputTokens: 9700 })]);
      expect((await casesOf("test.shadowed")).map((c) => c.accountId)).toEqual(["acct_sh1"]);
      const allowed = (await server.call("GET", "/v1/rules/test.shadowed/shadow/report")).body;
      expect(allowed.totals).toEqual({ candidateHits: 10, activeHits: 6, suppressedHits: 4, onlyCandidate: 1, onlyActive: 0, both: 2 });
      expect(allowed.both.find((a: { accountId: string }) => a.accountId === "acct_sh4")).toMatchObject({ candidateHits: 2, activeHits: 2, suppressedHits: 4, sample: { candidate: { suppressed: true, occurredAt: at(16) }, active: { suppressed: true } } });
      expect(allowed.both.find((a: { accountId: string }) => a.accountId === "acct_sh1")).toMatchObject({ suppressedHits: 0, sample: { candidate: { suppressed: false } } });
      await server.call("DELETE", `/v1/allow-entries/${allow.body.id}`);

      // The shadow's hits are the backtest's of version 2 over the same period (both ranges include their ends).
      const bt = (await server.call("POST", "/v1/rules/test.shadowed/backtest", { body: { version: 2, from: at(10), to: at(13) } })).body;
      const inPeriod = (await server.call("GET", `/v1/rules/test.shadowed/shadow/report?from=${at(10)}&to=${at(13)}`)).body;
      expect(inPeriod.totals).toEqual(report.totals);
      const fromBacktest = bt.hits.map((h: { accountId: string; hitCount: number; firstHitAt: string; lastHitAt: string }) => [h.accountId, h.hitCount, h.firstHitAt, h.lastHitAt]).sort();
      const fromShadow = [...report.onlyCandidate, ...report.both].map((a: { accountId: string; candidateHits: number; firstHitAt: string; lastHitAt: string }) => [a.accountId, a.candidateHits, a.firstHitAt, a.lastHitAt]).sort();
      expect(fromShadow).toEqual(fromBacktest);
    });

    it("promotes the candidate with one call: it becomes the active version, audited with who and why", async () => {
      const res = await server.call("POST", "/v1/rules/test.shadowed/shadow/promote", { body: { reason: "catches the 6k accounts too" } });
      expect(res.status).toBe(200);
      expect(res.body.rule.version).toBe(2);
      expect(res.body.shadow).toMatchObject({ outcome: "promoted", running: false });
      const audit = (await server.call("GET", "/v1/audit?action=rule.promote")).body.items;
      expect(audit.find((e: { targetId: string }) => e.targetId === "test.shadowed")).toMatchObject({ before: { version: 1 }, after: { version: 2, reason: "catches the 6k accounts too" } });
      await post([usageEvent({ accountId: "acct_sh2", occurredAt: at(20), outputTokens: 6000 })]);
      expect((await casesOf("test.shadowed")).map((c) => c.accountId).sort()).toEqual(["acct_sh1", "acct_sh2"]);
      expect((await server.call("DELETE", "/v1/rules/test.shadowed/shadow")).status).toBe(404);
    });

    it("stops a shadow; after its end time it is no longer evaluated", async () => {
      const v3 = await server.call("POST", "/v1/rules/test.shadowed/versions", { body: { ...base, severity: "low" } });
      await server.call("POST", "/v1/rules/test.shadowed/shadow", { body: { version: v3.body.version, endsAt: new Date(Date.now() + 60 * minute).toISOString() } });
      await server.call("POST", "/v1/events", { body: [usageEvent({ accountId: "acct_sh1", occurredAt: at(30), outputTokens: 9500 })] });
      const late = await server.running.services.evaluation.runBatch(500, { now: () => new Date(Date.now() + 61 * minute) });
      expect(late).toMatchObject({ hits: 1, shadowHits: 0 });
      const stopped = await server.call("DELETE", "/v1/rules/test.shadowed/shadow");
      expect(stopped.body).toMatchObject({ outcome: "stopped", running: false });
      expect((await server.call("GET", "/v1/rules/test.shadowed/shadow")).body.id).toBe(stopped.body.id);
    });

    it("closes a shadow past its end time when the next one starts", async () => {
      const shadows = server.running.services.shadows;
      const who = { actor: "test" };
      const v = await server.call("POST", "/v1/rules/test.shadowed/versions", { body: { ...base, severity: "medium" } });
      const t = Date.now();
      const first = await shadows.start("test.shadowed", { version: v.body.version, endsAt: new Date(t + 60_000) }, who, new Date(t));
      const second = await shadows.start("test.shadowed", { version: v.body.version }, who, new Date(t + 120_000));
      expect(second).toMatchObject({ running: true });
      expect(second.id).not.toBe(first.id);
      const closed = (await server.running.services.db.query<{ stopped_by: string; outcome: string }>(sql`SELECT stopped_by, outcome FROM rule_shadow WHERE id = ${first.id}`))[0];
      expect(closed).toEqual({ stopped_by: "system:ended", outcome: "stopped" });
      await server.call("DELETE", "/v1/rules/test.shadowed/shadow");
    });
  });

  describe("rule quality", () => {
    it("counts cases, verdicts, precision and hits per 1,000 events against a hand count", async () => {
      const rule = ruleDocument({ id: "test.quality", scope: "event", conditions: { all: [{ fact: "event", path: "$.outputTokens", operator: "equal", value: 3333 }] } });
      await server.call("POST", "/v1/rules", { body: rule });
      const accounts = ["acct_q1", "acct_q2", "acct_q3", "acct_q4"];
      await post(accounts.map((a) => usageEvent({ accountId: a, occurredAt: at(40), outputTokens: 3333 })));
      await server.call("PUT", "/v1/rules/test.quality", { body: { ...rule, severity: "critical" } });
      await post([usageEvent({ accountId: "acct_q5", occurredAt: at(41), outputTokens: 3333 }), usageEvent({ accountId: "acct_q1", occurredAt: at(41), outputTokens: 3333 })]);
      const ids = new Map((await casesOf("test.quality")).map((c) => [c.accountId, c.id]));
      const move = (a: string, to: string, note?: string) => server.call("POST", `/v1/cases/${ids.get(a)}/transitions`, { body: { to, ...(note ? { note } : {}) } });
      // v1 opened q1..q4: q1 confirmed and enforced, q2 confirmed, q3 dismissed, q4 open. v2 opened q5: dismissed.
      await move("acct_q1", "confirmed");
      await server.call("POST", `/v1/cases/${ids.get("acct_q1")}/enforce`, { body: { action: "restrict", note: "resale" } });
      await move("acct_q2", "investigating");
      await move("acct_q2", "confirmed");
      await move("acct_q3", "dismissed", "a benchmark");
      await move("acct_q5", "dismissed", "a benchmark");
      const stats = (await server.call("GET", "/v1/rules/test.quality/stats")).body;
      expect(stats.total).toMatchObject({ version: null, casesOpened: 5, confirmed: 2, dismissed: 2, enforced: 1, reversedOnAppeal: 0, precision: 0.5, hits: 6, suppressedHits: 0 });
      expect(stats.versions).toEqual([
        expect.objectContaining({ version: 2, casesOpened: 1, confirmed: 0, dismissed: 1, precision: 0, hits: 2 }),
        expect.objectContaining({ version: 1, casesOpened: 4, confirmed: 2, dismissed: 1, enforced: 1, precision: 2 / 3, hits: 4 }),
      ]);
      expect(stats.total.medianHoursToDecision).toBeGreaterThanOrEqual(0);
      expect(stats.total.medianHoursToDecision).toBeLessThan(0.1);
      // hits per 1,000 events: 6 hits over every event evaluated in the period.
      expect(stats.total.hitsPer1000Events).toBeCloseTo((6 / stats.eventsEvaluated) * 1000, 2);
      const all = (await server.call("GET", "/v1/rule-stats")).body.items;
      expect(all.find((s: { ruleId: string }) => s.ruleId === "test.quality").total).toEqual(stats.total);
      expect((await server.call("GET", "/v1/rules/test.quality/stats?from=2026-01-02T00:00:00Z&to=2026-01-01T00:00:00Z")).body.errors[0].path).toBe("query.from");
      expect((await server.call("GET", "/v1/rules/no.such/stats")).status).toBe(404);
    });
  });
});
