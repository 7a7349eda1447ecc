// npm run eval:policy -- [--accounts 10000] [--days 7] [--seed 1] [--db postgres|pglite] [--database-url URL]
//                        [--wait-minutes 180]
// Generates a scenario, starts ClauseGuard (API and worker) on a fresh database with the default
// policy pack, plays the scenario through the HTTP API (banning the pre-banned accounts at its
// start), waits for evaluation and prints, per rule and overall, precision, recall, the false
// positives with their population, and the time taken.
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { parseArgs } from "node:util";
import { generateKey } from "../src/features/auth/api-key";
import { distillationRules, formatScores, scorePolicy, supplementaryRules } from "../src/features/scenarios/policy-score";
import { generateEvents, planScenario, truthOf } from "../src/features/scenarios/scenario-generator";
import { runScenario } from "../src/features/scenarios/scenario-runner";
import { freshPostgresDatabase, repoRoot, startServerProcess, wholeNumber } from "./bench-support";

const { values: args } = parseArgs({
  options: {
    accounts: { type: "string", default: "10000" },
    days: { type: "string", default: "7" },
    seed: { type: "string", default: "1" },
    start: { type: "string", default: "2026-11-02T00:00:00Z" },
    db: { type: "string", default: "postgres" },
    "database-url": { type: "string", default: "postgresql://postgres@127.0.0.1:5432/postgres" },
    "wait-minutes": { type: "string", default: "180" },
  },
});

async function main(): Promise<void> {
  if (args.db !== "postgres" && args.db !== "pglite") {
    console.error("eval:policy: --db must be postgres or pglite");
    process.exit(2);
  }
  const start = new Date(args.start!);
  if (Number.isNaN(start.getTime())) {
    console.error("eval:policy: --start must be an ISO 8601 date-time");
    process.exit(2);
  }
  const opts = { accounts: wholeNumber("accounts", args.accounts, 100), days: wholeNumber("days", args.days, 2), seed: wholeNumber("seed", args.seed), start };
  const plans = planScenario(opts);
  const truth = truthOf(plans);
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), "cg-policy-"));
  const fresh = args.db === "postgres" ? await freshPostgresDatabase(args["database-url"]!) : undefined;
  const key = generateKey().key;
  const server = await startServerProcess(
    {
      CLAUSEGUARD_ADMIN_KEY: key,
      CLAUSEGUARD_DATA_DIR: dataDir,
      CLAUSEGUARD_RULES_DIR: path.join(repoRoot, "rules"),
      LOG_LEVEL: "info",
      ...(fresh ? { DATABASE_URL: fresh.url } : {}),
    },
    ["serve"],
  );
  try {
    console.log(`policy evaluation: ${opts.accounts} accounts, ${opts.days} days, seed ${opts.seed}, ${args.db}`);
    const run = await runScenario({
      api: { url: server.url, key },
      events: generateEvents(plans, opts),
      truth,
      start,
      evaluationTimeoutMs: wholeNumber("wait-minutes", args["wait-minutes"], 1) * 60_000,
      onProgress: (n) => {
        if (n % 200_000 < 2000) process.stderr.write(`  ${n} events posted\n`);
      },
    });
    const score = scorePolicy(truth, run.flaggedByRule);
    console.log(`${run.events} events: ingested in ${run.ingestSeconds.toFixed(0)} s, evaluation done ${run.evaluationSeconds.toFixed(0)} s later; ${run.bannedEnforced} pre-banned accounts suspended${run.bannedMissed.length ? `, ${run.bannedMissed.length} had no case to enforce` : ""}`);
    console.log(formatScores(score));
    const failing = score.rules.filter((r) => r.precision < 0.9 || (!supplementaryRules.has(r.ruleId) && r.recall < 0.9));
    const heavyFlagged = score.rules
      .filter((r) => distillationRules.includes(r.ruleId))
      .flatMap((r) => r.falsePositives.filter((f) => f.population.startsWith("heavy-")).map((f) => `${r.ruleId}: ${f.accountId} (${f.population})`));
    if (heavyFlagged.length) console.log(`legitimate heavy users flagged under a distillation rule:\n  ${heavyFlagged.join("\n  ")}`);
    if (failing.length || heavyFlagged.length) {
      console.log(`targets missed by: ${failing.map((r) => r.ruleId).join(", ") || "(none)"}`);
      process.exitCode = 1;
    } else {
      console.log("every rule meets precision >= 0.9 and recall >= 0.9; no legitimate heavy user flagged under a distillation rule");
    }
  } finally {
    await server.stop();
    await fresh?.drop();
    fs.rmSync(dataDir, { recursive: true, force: true });
  }
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
