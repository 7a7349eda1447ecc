// npm run eval:policy -- [--accounts 10000] [--days 7] [--seed 1] [--db postgres|pglite] [--database-url URL]
//                        [--wait-minutes 180] [--workers 0] [--batch-size 10000] [--ring-accounts 0 --ring-prefixes 400] [--resume-database-url URL [--so-far]]
//                        [--link-policy FILE] [--no-network-lists] [--fresh-install] [--provider-ages]
// Generates a scenario, starts ClauseGuard (API and worker) on a fresh database with the default
// policy pack, plays the scenario through the HTTP API (banning the pre-banned accounts at its
// start), waits for evaluation and prints, per rule and overall, precision, recall, the false
// positives with their population, and the time taken. --workers N adds N evaluation worker
// processes (PostgreSQL). --batch-size sets CLAUSEGUARD_EVAL_BATCH_SIZE: the run posts days of traffic
// in minutes, so evaluation works through a backlog a gateway's real-time stream never builds, and a
// larger batch judges each account once for more of its events (see docs/policy-pack.md's
// section); the lease grows with it. --resume-database-url picks up a run that was stopped after ingestion
// (its database keeps the queue): the same --accounts/--days/--seed, no ingestion, the rest as usual;
// with --so-far it does not wait either: it scores the cases opened so far and says how far
// evaluation got (the scenario time of the oldest event still queued). --link-policy FILE runs with
// FILE as the pack's links/policy.json (docs/linking.md), --no-network-lists without the
// scenario's network lists (its campus ranges): what another link policy would flag.
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import pg from "pg";
import { maxEvalBatchSize } from "../src/config";
import { generateKey } from "../src/features/auth/api-key";
import { distillationRules, formatScores, scorePolicy, supplementaryRules } from "./scenarios/policy-score";
import { generateEvents, planScenario, scenarioNetworks, truthOf } from "./scenarios/scenario-generator";
import { type ScenarioRun, flaggedByRule, runScenario, waitForEvaluation, writeScenarioPack } from "./scenarios/scenario-runner";
import { freshPostgresDatabase, oneOf, repoRoot, scenarioOptionDefinitions, scenarioOptions, scriptOptions, startServerProcess, wholeNumber } from "./bench-support";

const args = scriptOptions("eval:policy", {
  accounts: { type: "string", default: "10000" },
  days: { type: "string", default: "7" },
  seed: { type: "string", default: "1" },
  start: { type: "string", default: "2026-11-02T00:00:00Z" },
  ...scenarioOptionDefinitions,
  db: { type: "string", default: "postgres" },
  "database-url": { type: "string", default: "postgresql://postgres@127.0.0.1:5432/postgres" },
  "wait-minutes": { type: "string", default: "180" },
  workers: { type: "string", default: "0" },
  "batch-size": { type: "string", default: "10000" },
  "resume-database-url": { type: "string" },
  "so-far": { type: "boolean", default: false },
  "link-policy": { type: "string" },
  "no-network-lists": { type: "boolean", default: false },
});

/** Every argument checked before any work: a bad one exits 2 naming it, leaving nothing behind. */
function options() {
  const db = oneOf("db", args.db, ["postgres", "pglite"]);
  const scenario = scenarioOptions(args);
  const workers = wholeNumber("workers", args.workers);
  if (workers > 0 && db !== "postgres") {
    console.error("eval:policy: --workers needs --db postgres (the embedded database has one process)");
    process.exit(2);
  }
  const resumeUrl = args["resume-database-url"];
  if (args["so-far"] && !resumeUrl) {
    console.error("eval:policy: --so-far needs --resume-database-url (the run to score)");
    process.exit(2);
  }
  const batchSize = wholeNumber("batch-size", args["batch-size"], 1, maxEvalBatchSize);
  const evaluationTimeoutMs = wholeNumber("wait-minutes", args["wait-minutes"], 1) * 60_000;
  const linkPolicy = args["link-policy"];
  if (linkPolicy !== undefined) {
    try {
      JSON.parse(fs.readFileSync(linkPolicy, "utf8"));
    } catch (err) {
      console.error(`eval:policy: --link-policy ${linkPolicy}: ${(err as Error).message}`);
      process.exit(2);
    }
  }
  return { db, scenario, workers, resumeUrl, batchSize, evaluationTimeoutMs, linkPolicy };
}

async function main(): Promise<void> {
  const { db, scenario: opts, workers, resumeUrl, batchSize, evaluationTimeoutMs, linkPolicy } = options();
  const plans = planScenario(opts);
  const truth = truthOf(plans);
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), "cg-policy-"));
  const fresh = db === "postgres" && !resumeUrl ? await freshPostgresDatabase(args["database-url"]!) : undefined;
  const databaseUrl = resumeUrl ?? fresh?.url;
  const key = generateKey().key;
  // The default pack, with the network lists this scenario's provider imports (its campus), or as told.
  const rulesDir = writeScenarioPack(path.join(repoRoot, "rules"), path.join(dataDir, "rules"), args["no-network-lists"] ? {} : scenarioNetworks(opts));
  if (linkPolicy !== undefined) fs.copyFileSync(linkPolicy, path.join(rulesDir, "links", "policy.json"));
  const env = {
    CLAUSEGUARD_ADMIN_KEY: key,
    CLAUSEGUARD_DATA_DIR: dataDir,
    CLAUSEGUARD_RULES_DIR: rulesDir,
    LOG_LEVEL: "info",
    CLAUSEGUARD_EVAL_BATCH_SIZE: String(batchSize),
    // The run posts days of traffic in minutes, a backlog on purpose: admission control's backlog
    // limit (503 + Retry-After past 200,000 queued events) would stop it part-way.
    CLAUSEGUARD_EVAL_MAX_BACKLOG: "0",
    // A batch may take a while under a backlog: 30 ms an event, at least the default minute.
    CLAUSEGUARD_EVAL_LEASE_MS: String(Math.max(60_000, batchSize * 30)),
    ...(databaseUrl ? { DATABASE_URL: databaseUrl } : {}),
  };
  // Everything started is stopped, and the database and folder removed, whatever fails.
  const started: { stop(): Promise<void> }[] = [];
  try {
    const server = await startServerProcess(env, ["serve"]);
    started.push(server);
    for (let i = 0; i < workers; i++) started.push(await startServerProcess(env, ["worker"]));
    console.log(`policy evaluation: ${opts.accounts} accounts, ${opts.days} days, seed ${opts.seed}, ${db}, ${1 + workers} evaluating process(es), batches of ${batchSize}${resumeUrl ? ", resumed" : ""}`);
    let run: ScenarioRun;
    if (resumeUrl) {
      const api = { url: server.url, key };
      const began = Date.now();
      if (args["so-far"]) {
        const front = new pg.Client({ connectionString: resumeUrl });
        await front.connect();
        const { rows } = await front.query<{ left: string; at: Date | null }>(
          "SELECT count(*)::text AS left, min(e.occurred_at) AS at FROM evaluation_task k JOIN usage_event e ON e.id = k.event_pk",
        );
        await front.end();
        console.log(`so far: ${rows[0]!.left} events still queued; evaluated up to scenario time ${rows[0]!.at?.toISOString() ?? "(the end)"}`);
      } else await waitForEvaluation(api, evaluationTimeoutMs);
      run = { flaggedByRule: await flaggedByRule(api), events: 0, ingestSeconds: 0, evaluationSeconds: (Date.now() - began) / 1000, bannedEnforced: 0, bannedMissed: [] };
    } else {
      run = await runScenario({
        api: { url: server.url, key },
        events: generateEvents(plans, opts),
        truth,
        start: opts.start,
        evaluationTimeoutMs,
        onProgress: (n) => {
          if (n % 200_000 < 2000) process.stderr.write(`  ${n} events posted\n`);
        },
      });
    }
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
    await Promise.all(started.map((p) => p.stop()));
    await fresh?.drop();
    fs.rmSync(dataDir, { recursive: true, force: true });
  }
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
