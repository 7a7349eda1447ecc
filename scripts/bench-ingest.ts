// npm run bench:ingest -- [--db pglite|postgres] [--events 200000] [--batch 1000] [--clients 4]
//   [--accounts 5000] [--history 1000000] [--database-url postgresql://...]
// Starts ClauseGuard (API only) in a child process on a fresh database, posts events over HTTP
// from several concurrent clients, and prints events/s, request latency and database size. Then
// stores a long history for one account and times its window facts.
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { openDatabase } from "../src/db/database";
import { migrate } from "../src/db/migrator";
import type { EventFact } from "../src/engine/evaluation";
import { generateKey } from "../src/features/auth/api-key";
import { insertEvents } from "../src/features/events/event-repository";
import type { UsageEventInput } from "../src/features/events/event-schemas";
import { createFactSource } from "../src/features/facts/fact-source";
import { freshPostgresDatabase, makeEvent, oneOf, pickAccount, quantile, repoRoot, scriptOptions, startServerProcess, wholeNumber } from "./bench-support";
import { compactAll } from "../src/features/facts/rollup-compactor";

const args = scriptOptions("bench:ingest", {
  db: { type: "string", default: "pglite" },
  events: { type: "string", default: "200000" },
  batch: { type: "string", default: "1000" },
  clients: { type: "string", default: "4" },
  accounts: { type: "string", default: "5000" },
  history: { type: "string", default: "1000000" },
  /** heavy: a few accounts send most requests (realistic); uniform: every account alike (no hot rows). */
  accountMix: { type: "string", default: "heavy" },
  /** Write a V8 CPU profile of the server process into this folder. */
  "profile-server": { type: "string" },
  "database-url": { type: "string", default: "postgresql://postgres@127.0.0.1:5432/postgres" },
});

const kind = oneOf("db", args.db, ["pglite", "postgres"]);
const accountMix = oneOf("accountMix", args.accountMix, ["heavy", "uniform"]);
const total = wholeNumber("events", args.events, 1);
const batchSize = wholeNumber("batch", args.batch, 1);
const clients = wholeNumber("clients", args.clients, 1);
const accounts = wholeNumber("accounts", args.accounts, 1);
const historySize = wholeNumber("history", args.history);


async function main(): Promise<void> {
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), "cg-bench-"));
  const fresh = kind === "postgres" ? await freshPostgresDatabase(args["database-url"]!) : undefined;
  const databaseUrl = fresh?.url;
  const adminKey = generateKey().key;
  const server = await startServerProcess(
    {
      CLAUSEGUARD_ADMIN_KEY: adminKey,
      CLAUSEGUARD_DATA_DIR: dataDir,
      CLAUSEGUARD_RULES_DIR: path.join(repoRoot, "rules"),
      ...(databaseUrl ? { DATABASE_URL: databaseUrl } : {}),
    },
    ["serve", "--api-only"],
    args["profile-server"] ? ["--cpu-prof", `--cpu-prof-dir=${args["profile-server"]}`] : [],
  );
  const url = server.url;

  console.log(`ClauseGuard bench: ${kind}, ${total} events, batches of ${batchSize}, ${clients} clients, ${accounts} accounts, ${os.cpus().length} cores (${os.cpus()[0]?.model ?? "?"})`);
  const start0 = Date.parse("2026-11-24T00:00:00Z");
  const bodies: string[] = [];
  for (let i = 0; i < total; i += batchSize) {
    const batch: UsageEventInput[] = [];
    for (let j = i; j < Math.min(total, i + batchSize); j++) batch.push(makeEvent(j, pickAccount(j, accounts, accountMix), start0 + j * 50));
    bodies.push(JSON.stringify(batch));
  }
  const latencies: number[] = [];
  let accepted = 0;
  let next = 0;
  const t0 = performance.now();
  await Promise.all(
    Array.from({ length: clients }, async () => {
      while (next < bodies.length) {
        const body = bodies[next++]!;
        const s = performance.now();
        const res = await fetch(`${url}/v1/events`, { method: "POST", headers: { authorization: `Bearer ${adminKey}`, "content-type": "application/json" }, body });
        const json = (await res.json()) as { accepted: number };
        latencies.push(performance.now() - s);
        if (res.status !== 202) throw new Error(`POST answered ${res.status}: ${JSON.stringify(json)}`);
        accepted += json.accepted;
      }
    }),
  );
  const seconds = (performance.now() - t0) / 1000;
  latencies.sort((a, b) => a - b);
  console.log(`ingest: ${accepted} accepted in ${seconds.toFixed(2)} s = ${Math.round(accepted / seconds)} events/s; request latency p50 ${quantile(latencies, 0.5).toFixed(1)} ms, p99 ${quantile(latencies, 0.99).toFixed(1)} ms (batch ${batchSize})`);

  await server.stop();

  const db = await openDatabase(kind === "postgres" ? { kind: "postgres", url: databaseUrl! } : { kind: "pglite", dataDir });
  await migrate(db);
  const size = async () =>
    kind === "postgres"
      ? Number((await db.withSession((s) => s.query<{ b: string }>(`SELECT pg_database_size(current_database())::text AS b`)))[0]!.b)
      : dirSize(dataDir);
  console.log(`database size after ingest: ${(await size() / 1e6).toFixed(1)} MB`);

  if (historySize > 0) {
    // One heavy account: historySize events over 30 days, stored in the same way ingestion stores them.
    const heavy = "acct_heavy";
    const span = 30 * 86_400_000;
    const end = start0 + span;
    const t1 = performance.now();
    for (let i = 0; i < historySize; i += 5000) {
      const batch: UsageEventInput[] = [];
      for (let j = i; j < Math.min(historySize, i + 5000); j++) batch.push(makeEvent(total + j, heavy, start0 + Math.floor((j / historySize) * span)));
      await db.transaction((tx) => insertEvents(tx, batch));
    }
    // The worker's compactor would have merged the rows by now; do it here, as it would.
    await compactAll(db);
    console.log(`history: ${historySize} events for ${heavy} stored and compacted in ${((performance.now() - t1) / 1000).toFixed(1)} s`);
    const facts = {
      "outputTokens (one sum)": ["outputTokens"],
      "every window aggregate + signalRate": [
        "requestCount", "inputTokens", "outputTokens", "distinctModels", "distinctIps", "distinctCountries",
        "distinctPromptTemplates", "topTemplateShare", "peakRequestsPerMinute", "signalRate",
      ],
    } as const;
    for (const [label, windowMs] of [["24h", 86_400_000], ["7d", 7 * 86_400_000], ["30d", 30 * 86_400_000]] as const) {
      for (const [what, names] of Object.entries(facts)) {
        const times: number[] = [];
        for (let k = 0; k < 65; k++) {
          // A moment off the minute grid, so every part of the window plan is exercised; a fresh
          // FactSource each time, so nothing is memoized between rounds.
          const at = end - k * 3_600_000 - 12_345;
          const source = createFactSource(db, { eventId: "bench", accountId: heavy, occurredAt: new Date(at).toISOString() } as EventFact);
          const s = performance.now();
          for (const name of names) await source.windowAggregate(name, { windowMs, signal: "reasoningTraceRequest", threshold: 0.5 });
          if (k >= 5) times.push(performance.now() - s); // the first 5 rounds warm caches up
        }
        times.sort((a, b) => a - b);
        console.log(`facts for a ${historySize}-event account, ${label} window, ${what}: p50 ${quantile(times, 0.5).toFixed(2)} ms, p99 ${quantile(times, 0.99).toFixed(2)} ms`);
      }
    }
    console.log(`database size with history: ${(await size() / 1e6).toFixed(1)} MB`);
  }
  await db.close();
  await fresh?.drop();
  fs.rmSync(dataDir, { recursive: true, force: true });
}

function dirSize(dir: string): number {
  let sum = 0;
  for (const e of fs.readdirSync(dir, { withFileTypes: true })) {
    const p = path.join(dir, e.name);
    sum += e.isDirectory() ? dirSize(p) : fs.statSync(p).size;
  }
  return sum;
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
