// npm run bench:backtest -- [--db postgres|pglite] [--events 1000000] [--accounts 10000] [--days 7] [--evaluator compiled|json-rules-engine]
// Stores a history of usage events on a fresh database (as ingestion stores them), then backtests
// each rule of the policy pack over the whole range and prints how long each replay took.
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { type Database, openDatabase } from "../src/db/database";
import { migrate } from "../src/db/migrator";
import { evaluatorKinds } from "../src/engine/evaluation";
import { ruleCompiler } from "../src/engine/rule-compiler";
import { insertEvents } from "../src/features/events/event-repository";
import type { UsageEventInput } from "../src/features/events/event-schemas";
import { createLinkKeyCache } from "../src/features/events/link-key-cache";
import { runBacktest } from "../src/features/rules/backtest";
import { loadRuleFiles } from "../src/features/rules/rule-files";
import { freshPostgresDatabase, makeEvent, oneOf, pickAccount, scriptOptions, wholeNumber } from "./bench-support";

const args = scriptOptions("bench:backtest", {
  db: { type: "string", default: "postgres" },
  events: { type: "string", default: "1000000" },
  accounts: { type: "string", default: "10000" },
  days: { type: "string", default: "7" },
  evaluator: { type: "string", default: "compiled" },
  "database-url": { type: "string", default: "postgresql://postgres@127.0.0.1:5432/postgres" },
});

async function main(): Promise<void> {
  const kind = oneOf("db", args.db, ["postgres", "pglite"]);
  const total = wholeNumber("events", args.events, 1);
  const accounts = wholeNumber("accounts", args.accounts, 1);
  const spanMs = wholeNumber("days", args.days, 1) * 86_400_000;
  const compile = ruleCompiler(oneOf("evaluator", args.evaluator, evaluatorKinds));
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), "cg-bench-"));
  const fresh = kind === "postgres" ? await freshPostgresDatabase(args["database-url"]!) : undefined;
  const db: Database = await openDatabase(fresh ? { kind: "postgres", url: fresh.url } : { kind: "pglite", dataDir });
  try {
    await migrate(db);
    const start = Date.parse("2026-11-01T00:00:00Z");
    const linkKeys = createLinkKeyCache();
    const t0 = performance.now();
    for (let i = 0; i < total; i += 5000) {
      const batch: UsageEventInput[] = [];
      for (let j = i; j < Math.min(total, i + 5000); j++) batch.push(makeEvent(j, pickAccount(j, accounts), start + Math.floor((j / total) * spanMs)));
      const stored = await db.transaction((tx) => insertEvents(tx, batch, linkKeys));
      linkKeys.remember(stored.linkKeysWritten);
    }
    console.log(`ClauseGuard backtest bench: ${kind}, ${args.evaluator} evaluator, ${total} events, ${accounts} accounts over ${args.days} days, ${os.cpus().length} cores; stored in ${((performance.now() - t0) / 1000).toFixed(1)} s`);
    for (const { rule } of loadRuleFiles(path.resolve(__dirname, "../rules"))) {
      const s = performance.now();
      const r = await runBacktest(db, { compiled: compile(rule, 1), version: 1, from: new Date(start), to: new Date(start + spanMs) });
      const seconds = (performance.now() - s) / 1000;
      console.log(
        `backtest ${rule.id} (${rule.scope} scope): ${seconds.toFixed(1)} s, ${r.eventsEvaluated} evaluations, ${r.accountsEvaluated} accounts, ${r.accountsHit} hit, ${Math.round(total / seconds)} events/s`,
      );
    }
  } finally {
    await db.close();
    await fresh?.drop();
    fs.rmSync(dataDir, { recursive: true, force: true });
  }
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
