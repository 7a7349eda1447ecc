// The link policy through the real server, on every test database: heavy new customers on one
// cloud /24 and a campus of new students (a named network list) are not a hydra cluster; the
// same operation's accounts on proxy ranges, sharing their pipeline's templates, are, and so are
// accounts the provider created on one day on one cloud /24 (a creation wave); a card
// shared past its kind's hub limit links no one and shows as a hub. Then the same traffic under a
// policy that marks nothing as shared: the customers and the students are flagged, which is what
// the policy prevents.
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { testTargets } from "./support/test-database";
import { type TestServer, repoRulesDir, startTestServer } from "./support/test-server";

const at = Date.parse("2026-11-20T10:00:00Z");

/** Twelve new accounts per group, each with one request of 1,000,000 output tokens: 12,000,000 together, over the hydra rule's 10,000,000. */
function traffic() {
  const events: Record<string, unknown>[] = [];
  const add = (group: string, k: number, extra: Record<string, unknown>) =>
    events.push({
      eventId: `lp_${group}_${k}`,
      accountId: `lp_${group}_${k}`,
      occurredAt: new Date(at + events.length * 1000).toISOString(),
      model: "m",
      inputTokens: 100,
      outputTokens: 1_000_000,
      ...extra,
    });
  for (let k = 0; k < 12; k++) {
    add("cloud", k, { ip: `198.51.100.${10 + k}`, ipType: "cloud", promptTemplateHash: `tpl_cloud_${k}` });
    add("campus", k, { ip: `203.0.113.${10 + k}`, ipType: "residential", promptTemplateHash: `tpl_campus_${k}` });
    add("op", k, { ip: `192.0.2.${10 + k}`, ipType: "proxy", promptTemplateHash: "tpl_op_pipeline" });
    add("card", k, { ip: `100.${64 + k}.0.1`, ipType: "residential", paymentFingerprint: "pf_shared_card" });
    // Created by the provider on one day, on one cloud /24, each with its own prompts: a creation wave.
    add("wave", k, { ip: `198.51.101.${10 + k}`, ipType: "cloud", promptTemplateHash: `tpl_wave_${k}` });
  }
  return events;
}

function packWith(dir: string, files: Record<string, string>): string {
  const rules = path.join(dir, "rules");
  fs.cpSync(repoRulesDir, rules, { recursive: true });
  fs.mkdirSync(path.join(rules, "links"), { recursive: true });
  for (const [name, text] of Object.entries(files)) fs.writeFileSync(path.join(rules, "links", name), text);
  return rules;
}

describe.each(testTargets())("link policy through the server (%s)", (kind) => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "cg-link-policy-"));
  afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

  const group = (name: string) => Array.from({ length: 12 }, (_, k) => `lp_${name}_${k}`).sort();
  async function hydraCases(rulesDir: string, look?: (s: TestServer) => Promise<void>): Promise<string[]> {
    const server = await startTestServer(kind, { config: { rulesDir } });
    try {
      const created = new Date(at - 2 * 86_400_000 + 3_600_000).toISOString();
      const profiles = await server.call("PUT", "/v1/accounts", { body: group("wave").map((accountId, k) => ({ accountId, createdAt: new Date(Date.parse(created) + k * 60_000).toISOString() })) });
      expect(profiles.status).toBe(200);
      const posted = await server.call("POST", "/v1/events", { body: traffic() });
      expect(posted.status).toBe(202);
      expect(posted.body.accepted).toBe(60);
      await server.drain();
      const cases = await server.call("GET", "/v1/cases?ruleId=accounts.hydra-cluster&limit=500");
      expect(cases.status).toBe(200);
      await look?.(server);
      return (cases.body.items as { accountId: string }[]).map((c) => c.accountId).sort();
    } finally {
      await server.stop();
    }
  }
  it("flags the operation and the creation wave only: shared clouds and the listed campus link weakly, the shared card is a hub", async () => {
    const rulesDir = packWith(path.join(dir, "default"), {
      "policy.json": JSON.stringify({ hubLimits: { paymentFingerprint: 5 } }),
      "campus.txt": "# the university\n203.0.113.0/24\n",
    });
    const flagged = await hydraCases(rulesDir, async (server) => {
      const cloud = (await server.call("GET", "/v1/accounts/lp_cloud_0")).body;
      // The cloud neighbours are listed as weak links, not as network links.
      expect(cloud.linkedAccounts.ipPrefix).toEqual([]);
      expect(cloud.linkedAccounts.sharedIpPrefix).toEqual(group("cloud").filter((id) => id !== "lp_cloud_0"));
      const card = (await server.call("GET", "/v1/accounts/lp_card_0")).body;
      expect(card.linkedAccounts.paymentFingerprint).toEqual([]);
      expect(card.linkedAccounts.hubs).toEqual([{ kind: "paymentFingerprint", value: "pf_shared_card" }]);
      const op = (await server.call("GET", "/v1/cases?ruleId=accounts.hydra-cluster&accountId=lp_op_3")).body.items[0];
      const detail = (await server.call("GET", `/v1/cases/${op.id}`)).body;
      expect(JSON.stringify(detail)).toContain("lp_op_4");
    });
    expect(flagged).toEqual([...group("op"), ...group("wave")].sort());
  });

  it("flags the customers and the students too when the policy marks nothing as shared", async () => {
    const rulesDir = packWith(path.join(dir, "nothing-shared"), {
      "policy.json": JSON.stringify({ sharedNetworks: { ipTypes: [] }, hubLimits: { paymentFingerprint: 5 } }),
    });
    expect(await hydraCases(rulesDir)).toEqual([...group("campus"), ...group("cloud"), ...group("op"), ...group("wave")].sort());
  });

  it("with links: skip, a shared prefix makes no key, so the operation is not linked through its proxies either; an unlisted campus is", async () => {
    const rulesDir = packWith(path.join(dir, "skip"), { "policy.json": JSON.stringify({ sharedNetworks: { links: "skip" }, hubLimits: { paymentFingerprint: 5 } }) });
    expect(await hydraCases(rulesDir)).toEqual(group("campus"));
  });
});
