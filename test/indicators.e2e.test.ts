// Indicator exchange on every test database: a confirmed case exported as a STIX 2.1 bundle (valid
// against the specification's rules, test/stix/), its patterns HMAC hashes a partner holding the
// same secret recomputes and no raw value in it; only confirmed cases shared; a partner's bundle
// imported as a named source, idempotently, and a malformed one refused with the path of each
// fault and nothing stored.
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { run } from "./support/cli";
import Ajv2020 from "ajv/dist/2020";
import { type TestServer, startTestServer } from "./support/test-server";
import { testTargets } from "./support/test-database";
import { usageEvent } from "./support/factories";
import { indicatorHash } from "../src/features/indicators/stix";

const secret = "a-secret-shared-with-acme-0123456789";
const ajv = new Ajv2020({ allErrors: true, strict: true });
const stixBundle = ajv.compile(JSON.parse(fs.readFileSync(path.join(__dirname, "stix/stix21-indicator-bundle.schema.json"), "utf8")));

describe.each(testTargets())("indicator exchange on %s", (kind) => {
  let server: TestServer;
  let caseId: string;
  const ago = (minutes: number) => new Date(Date.now() - minutes * 60_000).toISOString();

  beforeAll(async () => {
    server = await startTestServer(kind, { config: { sharingPartners: { acme: secret } } });
    await server.call("POST", "/v1/events", {
      body: [
        usageEvent({ accountId: "acct_ind1", outputTokens: 5000, signals: { syntheticDataRequest: true }, occurredAt: ago(5), ip: "198.51.100.23", paymentFingerprint: "pm_ind_card", promptTemplateHash: "tmpl_ind" }),
        usageEvent({ accountId: "acct_ind2", outputTokens: 5000, signals: { syntheticDataRequest: true }, occurredAt: ago(4), paymentFingerprint: "pm_ind_other" }),
      ],
    });
    await server.drain();
    caseId = (await server.call("GET", "/v1/cases?accountId=acct_ind1")).body.items[0].id;
    await server.call("POST", `/v1/cases/${caseId}/transitions`, { body: { to: "confirmed" } });
    await server.call("POST", `/v1/cases/${caseId}/enforce`, { body: { action: "suspend", note: "ring" } });
  });
  afterAll(async () => {
    await server.stop();
  });

  it("exports a confirmed case as a valid STIX 2.1 bundle of keyed hashes, with no raw value in it", async () => {
    const res = await server.call("GET", `/v1/indicators?partner=acme&caseId=${caseId}`);
    expect(res.status).toBe(200);
    expect([stixBundle(res.body), stixBundle.errors ?? []]).toEqual([true, []]);
    const patterns = res.body.objects.map((o: { pattern: string }) => o.pattern).sort();
    // What acme computes from the raw values with the secret it shares with this provider.
    const expected = [
      ["account_id", indicatorHash(secret, "accountId", "acct_ind1")],
      ["ip_prefix", indicatorHash(secret, "ipPrefix", "198.51.100.0/24")],
      ["payment_fingerprint", indicatorHash(secret, "paymentFingerprint", "pm_ind_card")],
      ["prompt_template_hash", indicatorHash(secret, "promptTemplateHash", "tmpl_ind")],
    ].map(([p, h]) => `[x-clauseguard-hmac:${p} = '${h}']`);
    expect(patterns).toEqual(expected.sort());
    for (const o of res.body.objects) expect(o).toMatchObject({ confidence: 85, pattern_type: "stix", labels: ["clauseguard", "extraction.synthetic-data-request"] });
    const text = JSON.stringify(res.body);
    for (const raw of ["acct_ind1", "pm_ind_card", "198.51.100", "tmpl_ind"]) expect([raw, text.includes(raw)]).toEqual([raw, false]);
    // The same indicators keep their ids from one export to the next.
    const again = await server.call("GET", `/v1/indicators?partner=acme&caseId=${caseId}`);
    expect(again.body.objects.map((o: { id: string }) => o.id).sort()).toEqual(res.body.objects.map((o: { id: string }) => o.id).sort());

    // By rule and period: the confirmed case only; acct_ind2's open case is not shared.
    const byRule = await server.call("GET", `/v1/indicators?partner=acme&ruleId=extraction.synthetic-data-request&from=${ago(60)}&to=${ago(-60)}`);
    expect(byRule.body.objects).toHaveLength(4);
    const open = (await server.call("GET", "/v1/cases?accountId=acct_ind2")).body.items[0].id;
    expect((await server.call("GET", `/v1/indicators?partner=acme&caseId=${open}`)).body).toMatchObject({ status: 409, code: "conflict" });
  });

  it("refuses an unknown partner and an incomplete selection, naming the field", async () => {
    expect((await server.call("GET", `/v1/indicators?partner=globex&caseId=${caseId}`)).body.errors).toEqual([expect.objectContaining({ path: "query.partner" })]);
    const paths = (await server.call("GET", "/v1/indicators?partner=acme&ruleId=x")).body.errors.map((e: { path: string }) => e.path).sort();
    expect(paths).toEqual(["query.from", "query.to"]);
  });

  it("imports a partner's bundle as a named source, idempotently; ignores what it cannot match", async () => {
    const exported = (await server.call("GET", `/v1/indicators?partner=acme&caseId=${caseId}`)).body;
    const foreign = { type: "indicator", spec_version: "2.1", id: "indicator--8e2e2d2b-17d4-4cbf-938f-98ee46b3cd3f", created: "2026-12-01T00:00:00.000Z", modified: "2026-12-01T00:00:00.000Z", pattern: "[ipv4-addr:value = '203.0.113.1']", pattern_type: "stix", valid_from: "2026-12-01T00:00:00Z" };
    const identity = { type: "identity", spec_version: "2.1", id: "identity--a463ffb3-1bd9-4d94-b02d-74e4f1658283", name: "acme" };
    const bundle = { ...exported, objects: [...exported.objects, foreign, identity] };
    const first = await server.call("POST", "/v1/indicators/import?source=acme", { body: bundle });
    expect(first.body).toEqual({ source: "acme", imported: 4, ignored: 2, held: 4 });
    expect((await server.call("POST", "/v1/indicators/import?source=acme", { body: bundle })).body).toEqual({ source: "acme", imported: 4, ignored: 2, held: 4 });
    const rows = await server.running.services.db.prisma.sharedIndicator.findMany({ where: { source: "acme" } });
    expect(rows.map((r) => r.kind).sort()).toEqual(["accountId", "ipPrefix", "paymentFingerprint", "promptTemplateHash"]);
    expect(rows.find((r) => r.kind === "accountId")!.valueHash).toBe(indicatorHash(secret, "accountId", "acct_ind1"));
  });

  it("feeds a rule on the partner's side: its accounts using a shared value hit once the bundle is imported, live and in a backtest", async () => {
    // Provider B shares the secret with this one (provider A), under its own name for A.
    const b = await startTestServer(kind, { config: { sharingPartners: { provider_a: secret } } });
    try {
      await b.call("POST", "/v1/rules", {
        body: {
          id: "test.partner-card",
          name: "A card another provider confirmed",
          clause: { ref: "Terms 3(b)", text: "No accounts of a banned operation." },
          severity: "high",
          scope: "account",
          window: "24h",
          conditions: { all: [{ fact: "indicatorMatches", params: { kind: "paymentFingerprint", source: "provider_a" }, operator: "greaterThanInclusive", value: 1 }] },
        },
      });
      // Before the import, the card means nothing on B.
      await b.call("POST", "/v1/events", { body: [usageEvent({ accountId: "acct_b0", paymentFingerprint: "pm_ind_card", occurredAt: ago(3) })] });
      await b.drain();
      expect((await b.call("GET", "/v1/cases?ruleId=test.partner-card")).body.items).toEqual([]);

      const bundle = (await server.call("GET", `/v1/indicators?partner=acme&caseId=${caseId}`)).body;
      expect((await b.call("POST", "/v1/indicators/import?source=provider_a", { body: bundle })).body.imported).toBe(4);
      await b.call("POST", "/v1/events", {
        body: [usageEvent({ accountId: "acct_b1", paymentFingerprint: "pm_ind_card", occurredAt: ago(2) }), usageEvent({ accountId: "acct_b2", paymentFingerprint: "pm_b_own", occurredAt: ago(2) })],
      });
      await b.drain();
      const cases = (await b.call("GET", "/v1/cases?ruleId=test.partner-card")).body.items;
      expect(cases.map((c: { accountId: string }) => c.accountId)).toEqual(["acct_b1"]);
      const detail = (await b.call("GET", `/v1/cases/${cases[0].id}`)).body;
      expect(detail.evidence[0].conditions[0]).toMatchObject({ fact: "indicatorMatches", factValue: 1, result: true });
      // A backtest reads the imported indicators as live evaluation does: both accounts with the card.
      const backtest = await b.call("POST", "/v1/rules/test.partner-card/backtest", { body: { from: ago(60), to: ago(-1) } });
      expect(backtest.body.hits.map((h: { accountId: string }) => h.accountId).sort()).toEqual(["acct_b0", "acct_b1"]);
    } finally {
      await b.stop();
    }
  });

  it("refuses a malformed bundle with the path of each fault, and stores nothing of it", async () => {
    const before = await server.running.services.db.prisma.sharedIndicator.count();
    const good = (await server.call("GET", `/v1/indicators?partner=acme&caseId=${caseId}`)).body.objects[0];
    const bad = {
      type: "bundle",
      id: "bundle--not-a-uuid",
      objects: [
        { ...good, id: "indicator--00000000-0000-5000-8000-000000000001" },
        { ...good, id: "indicator--00000000-0000-5000-8000-000000000002", spec_version: "2.0", confidence: 101 },
        { ...good, id: "indicator--00000000-0000-5000-8000-000000000003", valid_from: "yesterday" },
        { ...good, id: "indicator--00000000-0000-5000-8000-000000000004", valid_until: "2000-01-01T00:00:00Z" },
        { type: "identity", id: "malware--a463ffb3-1bd9-4d94-b02d-74e4f1658283" },
      ],
    };
    const res = await server.call("POST", "/v1/indicators/import?source=acme", { body: bad });
    expect(res.status).toBe(400);
    expect(res.body.detail).toMatch(/nothing was imported/);
    expect(res.body.errors.map((e: { path: string }) => e.path).sort()).toEqual([
      "body.id",
      "body.objects[1].confidence",
      "body.objects[1].spec_version",
      "body.objects[2].valid_from",
      "body.objects[3].valid_until",
      "body.objects[4].id",
    ]);
    expect(await server.running.services.db.prisma.sharedIndicator.count()).toBe(before);
    expect((await server.call("POST", "/v1/indicators/import?source=globex", { body: bad })).body.errors).toEqual([expect.objectContaining({ path: "query.source" })]);
  });
});

describe("clauseguard indicators export|import", () => {
  let server: TestServer;
  beforeAll(async () => {
    server = await startTestServer("pglite");
  });
  afterAll(async () => {
    await server.stop();
  });

  it("exports a case's bundle to a file and imports it back through the API", async () => {
    await server.call("POST", "/v1/events", { body: [usageEvent({ accountId: "acct_ind_cli", outputTokens: 5000, signals: { syntheticDataRequest: true }, occurredAt: new Date(Date.now() - 60_000).toISOString() })] });
    await server.drain();
    const id = (await server.call("GET", "/v1/cases?accountId=acct_ind_cli")).body.items[0].id;
    await server.call("POST", `/v1/cases/${id}/transitions`, { body: { to: "confirmed" } });
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "cg-indicators-"));
    const out = path.join(dir, "acme.json");
    const env = { CLAUSEGUARD_URL: server.url, CLAUSEGUARD_API_KEY: server.adminKey };
    const exported = run(["indicators", "export", "--partner", "acme", "--case-id", id, "--out", out], env);
    expect(await exported.exited).toBe(0);
    expect(exported.stderr()).toMatch(/^wrote 1 indicator\(s\) to /);
    expect(JSON.parse(fs.readFileSync(out, "utf8")).objects[0].pattern).toBe(`[x-clauseguard-hmac:account_id = '${indicatorHash("test-secret-shared-with-acme", "accountId", "acct_ind_cli")}']`);
    const imported = run(["indicators", "import", out, "--source", "acme"], env);
    expect(await imported.exited).toBe(0);
    expect(imported.stdout()).toBe("imported 1 indicator(s) from acme (0 object(s) ignored); 1 held from it\n");
    const incomplete = run(["indicators", "export", "--partner", "acme"], env);
    expect(await incomplete.exited).toBe(2);
    expect(incomplete.stderr()).toMatch(/give --case-id, or --rule-id with --from and --to/);
  });
});
