// npm run bench:eval -- [--db postgres|pglite] [--rate 5000] [--seconds 30] [--accounts 5000] [--cases 100000] [--eval-batch 2000] [--rules dir]
//   [--history-days 0] [--history-per-day 4] [--shadow]
// With --shadow, every rule runs a shadow candidate beside it (docs/rule-lifecycle.md): compare the
// evaluation rate with and without to read what a shadow version costs per event.
// With --history-days, first stores that many days of history for every account (--history-per-day
// events each per day, through the ingestion statement, compacted and united as the worker would have
// done, not judged), so that the run's windows are full: day 30 of a scenario against day 1 without it.
// Then starts ClauseGuard (API and in-process worker) on the database, posts a steady stream of
// events at --rate for --seconds, samples the evaluation queue's depth and age from /readyz, and
// reports evaluation throughput and lag. Then fills the database to --cases cases and times the
// case list with filters.
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { maxEvalBatchSize } from "../src/config";
import { type DatabaseTarget, openDatabase } from "../src/db/database";
import { migrate } from "../src/db/migrator";
import { sql } from "../src/db/sql";
import { generateKey } from "../src/features/auth/api-key";
import { insertEvents } from "../src/features/events/event-repository";
import { createLinkKeyCache } from "../src/features/events/link-key-cache";
import type { UsageEventInput } from "../src/features/events/event-schemas";
import { scopesFor, uniteComponents } from "../src/features/facts/link-components";
import { compactAll } from "../src/features/facts/rollup-compactor";
import { loadRuleFiles } from "../src/features/rules/rule-files";
import { existingFolder, freshPostgresDatabase, makeEvent, oneOf, pickAccount, quantile, repoRoot, scriptOptions, startServerProcess, wholeNumber } from "./bench-support";

const args = scriptOptions("bench:eval", {
  db: { type: "string", default: "postgres" },
  rate: { type: "string", default: "5000" },
  seconds: { type: "string", default: "30" },
  accounts: { type: "string", default: "5000" },
  cases: { type: "string", default: "100000" },
  /** CLAUSEGUARD_EVAL_BATCH_SIZE of the server under test. */
  "eval-batch": { type: "string", default: "2000" },
  "database-url": { type: "string", default: "postgresql://postgres@127.0.0.1:5432/postgres" },
  /** The rules folder of the server under test (default: the policy pack); an empty folder measures the pipeline without judging. */
  rules: { type: "string" },
  /** Days of stored history before the run (0: none, the windows fill as the run goes). */
  "history-days": { type: "string", default: "0" },
  /** History events per account and day. */
  "history-per-day": { type: "string", default: "4" },
  /** Put a candidate of every rule in shadow before the run (the same conditions, another severity): what a shadow adds per event. */
  shadow: { type: "boolean", default: false },
  /** Write a V8 CPU profile of the server to this folder (node --cpu-prof). */
  profile: { type: "string" },
});

type Ready = { evaluation: { queueDepth: number; oldestQueuedAgeMs: number; worker?: { evaluated: number; hits: number; batches: number } } };

async function main(): Promise<void> {
  const kind = oneOf("db", args.db, ["postgres", "pglite"]);
  const rate = wholeNumber("rate", args.rate, 1);
  const seconds = wholeNumber("seconds", args.seconds, 1);
  const accounts = wholeNumber("accounts", args.accounts, 1);
  const caseTarget = wholeNumber("cases", args.cases);
  const evalBatch = wholeNumber("eval-batch", args["eval-batch"], 1, maxEvalBatchSize);
  const historyDays = wholeNumber("history-days", args["history-days"], 0, 90);
  const historyPerDay = wholeNumber("history-per-day", args["history-per-day"], 1, 1440);
  const rulesDir = args.rules ? existingFolder("rules", args.rules) : path.join(repoRoot, "rules");
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), "cg-bench-"));
  const fresh = kind === "postgres" ? await freshPostgresDatabase(args["database-url"]!) : undefined;
  const adminKey = generateKey().key;
  const env = {
    CLAUSEGUARD_ADMIN_KEY: adminKey,
    CLAUSEGUARD_DATA_DIR: dataDir,
    CLAUSEGUARD_RULES_DIR: rulesDir,
    LOG_LEVEL: "info",
    CLAUSEGUARD_EVAL_BATCH_SIZE: String(evalBatch),
    ...(fresh ? { DATABASE_URL: fresh.url } : {}),
  };
  const target = fresh ? ({ kind: "postgres", url: fresh.url } as const) : ({ kind: "pglite", dataDir } as const);
  if (historyDays > 0) await storeHistory(target, { accounts, days: historyDays, perDay: historyPerDay, rules: loadRuleFiles(rulesDir).map((f) => f.rule) });
  const server = await startServerProcess(env, ["serve"], args.profile ? ["--cpu-prof", `--cpu-prof-dir=${path.resolve(args.profile)}`] : []);
  const headers = { authorization: `Bearer ${adminKey}`, "content-type": "application/json" };
  const ready = async () => (await (await fetch(`${server.url}/readyz`)).json()) as Ready;
  try {
    let shadows = 0;
    if (args.shadow) {
      for (const { rule } of loadRuleFiles(rulesDir)) {
        const candidate = { ...rule, severity: rule.severity === "low" ? "medium" : "low" };
        const v = await fetch(`${server.url}/v1/rules/${rule.id}/versions`, { method: "POST", headers, body: JSON.stringify(candidate) });
        const { version } = (await v.json()) as { version: number };
        const started = await fetch(`${server.url}/v1/rules/${rule.id}/shadow`, { method: "POST", headers, body: JSON.stringify({ version }) });
        if (started.status !== 201) throw new Error(`shadow of ${rule.id}: ${started.status} ${await started.text()}`);
        shadows++;
      }
    }
    console.log(
      `ClauseGuard evaluation bench: ${kind}, ${rate} events/s for ${seconds} s, ${accounts} accounts, ${historyDays} days of history, ${shadows} shadow versions, ${os.cpus().length} cores (${os.cpus()[0]?.model ?? "?"})`,
    );
    // One batch every 200 ms, sized to the rate; events are timestamped as they are sent.
    const perTick = Math.max(1, Math.round(rate / 5));
    const ages: number[] = [];
    let sent = 0;
    let late = 0;
    const start = Date.now();
    const inflight: Promise<unknown>[] = [];
    for (let tick = 0; tick < seconds * 5; tick++) {
      const due = start + tick * 200;
      const wait = due - Date.now();
      if (wait > 0) await new Promise((r) => setTimeout(r, wait));
      else late++;
      const batch: UsageEventInput[] = [];
      for (let k = 0; k < perTick; k++, sent++) batch.push(makeEvent(sent, pickAccount(sent, accounts), Date.now()));
      inflight.push(fetch(`${server.url}/v1/events`, { method: "POST", headers, body: JSON.stringify(batch) }).then((r) => r.arrayBuffer()));
      if (tick % 5 === 0) ages.push((await ready()).evaluation.oldestQueuedAgeMs);
      if (inflight.length > 8) await inflight.shift();
    }
    await Promise.all(inflight);
    const ingestSeconds = (Date.now() - start) / 1000;
    // Drain: the time until the queue is empty is what evaluation needed beyond the ingest.
    let r = await ready();
    while (r.evaluation.queueDepth > 0) {
      ages.push(r.evaluation.oldestQueuedAgeMs);
      await new Promise((res) => setTimeout(res, 200));
      r = await ready();
    }
    const totalSeconds = (Date.now() - start) / 1000;
    // The evaluation thread's counters reach /readyz once a second: wait for the last of them.
    for (let i = 0; i < 30 && (r.evaluation.worker?.evaluated ?? 0) < sent; i++) {
      await new Promise((res) => setTimeout(res, 100));
      r = await ready();
    }
    const worker = r.evaluation.worker!;
    ages.sort((a, b) => a - b);
    console.log(`ingest: ${sent} events in ${ingestSeconds.toFixed(1)} s (${Math.round(sent / ingestSeconds)} events/s offered; ${late} of ${seconds * 5} ticks sent late)`);
    console.log(`evaluation: ${worker.evaluated} events in ${worker.batches} batches, done ${(totalSeconds - ingestSeconds).toFixed(1)} s after the last post: ${Math.round(worker.evaluated / totalSeconds)} events/s, ${worker.hits} hits`);
    console.log(`lag (age of the oldest unevaluated event, sampled each second): p50 ${quantile(ages, 0.5)} ms, p95 ${quantile(ages, 0.95)} ms, max ${ages[ages.length - 1] ?? 0} ms`);
    if (fresh) {
      // (PostgreSQL only: the embedded database is the server's until it stops.)
      // Rows the compactor has not merged yet: readers sum them, so a growing count is a read growing.
      const db = await openDatabase(target);
      const [left] = await db.query<Record<string, number>>(sql`
        SELECT (SELECT count(*)::int FROM usage_minute WHERE NOT compacted) AS minute, (SELECT count(*)::int FROM usage_hour WHERE NOT compacted) AS hour,
               (SELECT count(*)::int FROM component_minute WHERE NOT compacted) AS component_minute, (SELECT count(*)::int FROM account_link_key WHERE NOT compacted) AS link_keys`);
      await db.close();
      console.log(`rows not merged yet at the end: ${Object.entries(left ?? {}).map(([k, v]) => `${k} ${v}`).join(", ")}`);
    }
  } finally {
    await server.stop();
  }

  if (caseTarget > 0) {
    // Fill to the target with synthetic cases (set-based), then time the list with filters over HTTP.
    const db = await openDatabase(target);
    // Each synthetic case has an account of its own: no two are active for one account and rule.
    await db.withSession(async (s) => {
      await s.query(
        `INSERT INTO account (id, first_seen_at, last_seen_at) SELECT 'bench_acct_' || g, now(), now() FROM generate_series(1, $1::int) g`,
        [caseTarget],
      );
      await s.query(
        `INSERT INTO violation_case (id, account_id, rule_id, rule_version, clause_ref, clause_text, severity, status, first_seen_at, last_seen_at, hit_count, assignee, created_at, activity_at)
         SELECT 'case_bench_' || g, 'bench_acct_' || g, (ARRAY['distillation.output-volume','extraction.synthetic-data-request'])[1 + g % 2], 1, 'ref', 'text',
                (ARRAY['low','medium','high','critical'])[1 + g % 4]::severity,
                (ARRAY['dismissed','resolved','confirmed','investigating','open'])[1 + g % 5]::case_status,
                now() - (g || ' seconds')::interval, now() - (g || ' seconds')::interval, 1 + g % 7,
                CASE WHEN g % 10 = 0 THEN 'analyst_' || (g % 5) END, now() - (g || ' seconds')::interval, now() - (g || ' seconds')::interval
         FROM generate_series(1, $1::int) g`,
        [caseTarget],
      );
      await s.query("ANALYZE");
    });
    await db.close();
    const again = await startServerProcess({ ...env, CLAUSEGUARD_EVAL_POLL_MS: "60000" }, ["serve", "--api-only"]);
    try {
      const filters = ["", "status=confirmed", "severity=high", "ruleId=distillation.output-volume", "assignee=analyst_0", "status=investigating&severity=critical", "accountId=bench_acct_77", "from=2026-01-01T00:00:00Z&status=dismissed"];
      const times: number[] = [];
      for (let i = 0; i < 200; i++) {
        const s = performance.now();
        const res = await fetch(`${again.url}/v1/cases?limit=50&${filters[i % filters.length]}`, { headers });
        await res.arrayBuffer();
        if (i >= 16) times.push(performance.now() - s);
      }
      times.sort((a, b) => a - b);
      console.log(`case list over HTTP with ${caseTarget}+ cases, 8 filter mixes: p50 ${quantile(times, 0.5).toFixed(1)} ms, p95 ${quantile(times, 0.95).toFixed(1)} ms`);
    } finally {
      await again.stop();
    }
  }
  await fresh?.drop();
  fs.rmSync(dataDir, { recursive: true, force: true });
}

/**
 * Stores `days` of history before now for accounts acct_0.. (perDay events each per day, spread
 * over the day), as ingestion stores it, then does what the worker would have done with it by now
 * (compaction, uniting its link keys) except judging it: its evaluation tasks are removed.
 */
async function storeHistory(target: DatabaseTarget, h: { accounts: number; days: number; perDay: number; rules: readonly { conditions: unknown }[] }): Promise<void> {
  const t0 = performance.now();
  const db = await openDatabase(target);
  try {
    await migrate(db);
    const step = 86_400_000 / h.perDay;
    const from = Date.now() - h.days * 86_400_000 - 60_000;
    const total = h.accounts * h.days * h.perDay;
    const linkKeys = createLinkKeyCache();
    for (let i = 0; i < total; i += 5000) {
      const batch: UsageEventInput[] = [];
      for (let j = i; j < Math.min(total, i + 5000); j++) {
        const a = j % h.accounts;
        batch.push(makeEvent(10_000_000 + j, `acct_${a}`, from + Math.floor(j / h.accounts) * step + ((a * 7919) % step)));
      }
      // With the link keys cached as the server caches them (one row per key and hour).
      const { linkKeysWritten } = await db.transaction((tx) => insertEvents(tx, batch, linkKeys));
      linkKeys.remember(linkKeysWritten);
    }
    await db.query(sql`DELETE FROM evaluation_task`);
    // Merged rows first (the uniting pass copies fewer), then the link keys united, then those and
    // the component rows merged: what the worker's compactor and uniting passes would have done by now.
    await compactAll(db, 50_000);
    await uniteComponents(db, { scopes: scopesFor(h.rules) });
    await compactAll(db, 50_000);
    await db.query(sql`ANALYZE`);
    console.log(`history: ${total} events over ${h.days} days for ${h.accounts} accounts stored, compacted and united in ${((performance.now() - t0) / 1000).toFixed(1)} s`);
  } finally {
    await db.close();
  }
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
