// The default policy pack against a small generated scenario with a known truth, through the real
// server: every pattern is caught (recall >= 0.9) by its rule, every rule's flags are right
// (precision >= 0.9), and no legitimate heavy user is flagged under a distillation rule. A rule
// change that breaks the pack fails here. On PostgreSQL when the machine has it (the scenario is
// about the rules, not the database), else on PGlite.
import { distillationRules, formatScores, scorePolicy, supplementaryRules } from "../scripts/scenarios/policy-score";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { generateEvents, planScenario, scenarioNetworks, truthOf } from "../scripts/scenarios/scenario-generator";
import { runScenario, writeScenarioPack } from "../scripts/scenarios/scenario-runner";
import { testTargets } from "./support/test-database";
import { type TestServer, startTestServer } from "./support/test-server";

const kind = testTargets()[testTargets().length - 1]!;

describe(`default policy pack on a generated scenario (${kind})`, () => {
  let server: TestServer;
  const opts = { accounts: 300, days: 2, seed: 7, start: new Date("2026-11-02T00:00:00Z") };
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "cg-pack-"));
  beforeAll(async () => {
    // The default pack with the scenario's campus ranges imported as a network list.
    const rulesDir = writeScenarioPack(path.join(__dirname, "..", "rules"), path.join(dir, "rules"), scenarioNetworks(opts));
    server = await startTestServer(kind, { worker: true, config: { rulesDir, evaluation: { pollMs: 50, batchSize: 2000, leaseMs: 60_000 } } });
  });
  afterAll(async () => {
    await server.stop();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it("catches every pattern with precision and recall of at least 0.9", async () => {
    const plans = planScenario(opts);
    const truth = truthOf(plans);
    const run = await runScenario({ api: { url: server.url, key: server.adminKey }, events: generateEvents(plans, opts), truth, start: opts.start });
    expect(run.bannedMissed).toEqual([]);
    expect(run.bannedEnforced).toBeGreaterThan(0);

    const score = scorePolicy(truth, run.flaggedByRule);
    const report = formatScores(score);
    const problems = score.rules.flatMap((r) => [
      // Every pattern is present in the scenario, so a rule that flags nothing fails on recall.
      ...(r.targetAccounts === 0 ? [`${r.ruleId}: no target account in the scenario`] : []),
      ...(r.precision < 0.9 ? [`${r.ruleId}: precision ${r.precision.toFixed(2)}`] : []),
      ...(!supplementaryRules.has(r.ruleId) && r.recall < 0.9 ? [`${r.ruleId}: recall ${r.recall.toFixed(2)}`] : []),
    ]);
    expect({ problems, report }).toEqual({ problems: [], report });
    const heavy = score.rules
      .filter((r) => distillationRules.includes(r.ruleId))
      .flatMap((r) => r.falsePositives.filter((f) => f.population.startsWith("heavy-")));
    expect(heavy).toEqual([]);
    // No legitimate account (shared clouds, a carrier NAT, a campus of new accounts) under a critical, suspend-recommending rule.
    const critical = score.rules
      .filter((r) => ["accounts.hydra-cluster", "accounts.ban-evasion"].includes(r.ruleId))
      .flatMap((r) => r.falsePositives.filter((f) => f.pattern === null).map((f) => `${r.ruleId}: ${f.accountId} (${f.population})`));
    expect(critical).toEqual([]);
  }, 600_000);
});
