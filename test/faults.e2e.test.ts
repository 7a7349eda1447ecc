// Faults survived, with ClauseGuard as an operator runs it (`clauseguard serve` in its own process)
// under sustained ingestion: kill -9, SIGTERM, and (with a PostgreSQL server the test starts
// itself) the database server crashing and coming back. After each: every batch answered 202 is
// stored exactly once, every batch without an answer is stored whole or not at all, a gateway's
// retry of it completes it, and evaluation catches up.
import { setTimeout as sleep } from "node:timers/promises";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { freshPostgresDatabase, startServerProcess } from "../scripts/bench-support";
import { generateKey } from "../src/features/auth/api-key";
import { type SentBatch, storedEventIds, sustainLoad } from "./support/load";
import { type OwnPostgres, createOwnPostgres } from "./support/own-postgres";
import { testTargets } from "./support/test-database";
import { repoRulesDir } from "./support/test-server";

jest.setTimeout(240_000);

const accounts = 10;

type Target = { env: Record<string, string>; drop(): Promise<void> };

async function target(kind: "pglite" | "postgres"): Promise<Target> {
  if (kind === "pglite") {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "cg-faults-"));
    return { env: { CLAUSEGUARD_DATA_DIR: dir }, drop: async () => fs.rmSync(dir, { recursive: true, force: true }) };
  }
  const fresh = await freshPostgresDatabase(process.env.TEST_DATABASE_URL!);
  return { env: { DATABASE_URL: fresh.url }, drop: fresh.drop };
}

const serverEnv = (key: string, t: Target, extra: Record<string, string> = {}) => ({
  CLAUSEGUARD_ADMIN_KEY: key,
  CLAUSEGUARD_RULES_DIR: repoRulesDir,
  CLAUSEGUARD_EVAL_POLL_MS: "50",
  // A killed process's claimed tasks are taken again once their lease runs out: 5 s here instead
  // of the default minute, so the test waits for the expiry, not for the clock.
  CLAUSEGUARD_EVAL_LEASE_MS: "5000",
  ...t.env,
  ...extra,
});

const exitOf = (child: import("node:child_process").ChildProcess) =>
  new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null) resolve({ code: child.exitCode, signal: child.signalCode });
    else child.once("exit", (code, signal) => resolve({ code, signal }));
  });

async function readyz(url: string): Promise<{ status: number; body: { evaluation?: { queueDepth: number; failedEvents: number } } }> {
  const res = await fetch(`${url}/readyz`);
  return { status: res.status, body: (await res.json()) as { evaluation?: { queueDepth: number; failedEvents: number } } };
}

/**
 * The promises kept after a fault, checked through the API of a running server: acked batches
 * stored once each, unanswered ones whole or absent and completed by a retry, evaluation caught
 * up with a case for every account.
 */
async function expectNothingAckedLost(url: string, key: string, prefix: string, batches: SentBatch[]): Promise<void> {
  const acked = batches.filter((b) => b.outcome === "acked");
  const unanswered = batches.filter((b) => b.outcome === "unanswered");
  expect(acked.length).toBeGreaterThan(0);

  const stored = await storedEventIds(url, key, prefix, accounts);
  for (const b of acked) expect(b.ids.map((id) => stored.get(id))).toEqual(b.ids.map(() => 1));
  for (const b of unanswered) {
    const kept = b.ids.filter((id) => stored.has(id)).length;
    expect([0, b.ids.length]).toContain(kept);
  }

  // The gateway sends what it got no answer for again: the part that was stored counts as duplicates.
  for (const b of unanswered) {
    const wasStored = b.ids.some((id) => stored.has(id));
    const res = await fetch(`${url}/v1/events`, {
      method: "POST",
      headers: { authorization: `Bearer ${key}`, "content-type": "application/json" },
      body: b.body,
    });
    expect(res.status).toBe(202);
    const r = (await res.json()) as { accepted: number; duplicates: number };
    expect(r).toMatchObject(wasStored ? { accepted: 0, duplicates: b.ids.length } : { accepted: b.ids.length, duplicates: 0 });
  }
  const after = await storedEventIds(url, key, prefix, accounts);
  const sentIds = new Set([...acked, ...unanswered].flatMap((b) => b.ids));
  expect(after.size).toBe(sentIds.size);
  expect([...after.values()].every((n) => n === 1)).toBe(true);

  // Evaluation catches up: the queue empties, nothing is dead-lettered, every account has its case.
  const until = Date.now() + 180_000;
  for (;;) {
    const r = await readyz(url);
    if (r.status === 200 && r.body.evaluation?.queueDepth === 0) {
      expect(r.body.evaluation.failedEvents).toBe(0);
      break;
    }
    if (Date.now() > until) throw new Error(`evaluation did not catch up: ${JSON.stringify(r.body)}`);
    await sleep(250);
  }
  const cases = await fetch(`${url}/v1/cases?ruleId=extraction.synthetic-data-request&limit=500`, { headers: { authorization: `Bearer ${key}` } });
  const flaggedAccounts = new Set(((await cases.json()) as { items: { accountId: string }[] }).items.map((c) => c.accountId));
  expect([...flaggedAccounts].sort()).toEqual(Array.from({ length: accounts }, (_, a) => `${prefix}-acct-${a}`).sort());
}

describe.each(testTargets())("faults under sustained ingestion (%s)", (kind) => {
  it("kill -9: every acknowledged event is stored exactly once after a restart, and evaluation catches up", async () => {
    const t = await target(kind);
    const key = generateKey().key;
    let server = await startServerProcess(serverEnv(key, t), ["serve"]);
    let url = server.url;
    const load = sustainLoad({ url: () => url, key, prefix: "k9" });
    try {
      await load.waitForBatches(5);
      server.child.kill("SIGKILL");
      expect(await exitOf(server.child)).toEqual({ code: null, signal: "SIGKILL" });
      await load.waitForBatches(1);
      const batches = await load.stop();
      expect(batches.some((b) => b.outcome === "unanswered")).toBe(true);

      // The same database, a new process (the embedded database's lock of the dead one is taken over).
      server = await startServerProcess(serverEnv(key, t), ["serve"]);
      url = server.url;
      await expectNothingAckedLost(url, key, "k9", batches);
    } finally {
      await load.stop();
      await server.stop();
      await t.drop();
    }
  });

  it("SIGTERM under load: in-flight batches are answered, nothing acknowledged is lost, the process exits 0 within the bound", async () => {
    const t = await target(kind);
    const key = generateKey().key;
    const env = serverEnv(key, t, { CLAUSEGUARD_SHUTDOWN_TIMEOUT_MS: "10000", LOG_LEVEL: "info" });
    let server = await startServerProcess(env, ["serve"]);
    let url = server.url;
    const load = sustainLoad({ url: () => url, key, prefix: "term" });
    try {
      await load.waitForBatches(5);
      const signalledAt = Date.now();
      server.child.kill("SIGTERM");
      const exit = await exitOf(server.child);
      const tookMs = Date.now() - signalledAt;
      expect(exit).toEqual({ code: 0, signal: null });
      expect(tookMs).toBeLessThan(10_000);
      await load.waitForBatches(1);
      const batches = await load.stop();
      // Nothing is cut off with an error: a batch is either answered 202 or never reached the closed port.
      expect(batches.filter((b) => b.outcome === "refused").map((b) => b.status)).toEqual([]);

      server = await startServerProcess(env, ["serve"]);
      url = server.url;
      await expectNothingAckedLost(url, key, "term", batches);
    } finally {
      await load.stop();
      await server.stop();
      await t.drop();
    }
  });
});

// A server of the test's own, so restarting it disturbs nothing else; runs where the PostgreSQL
// tests run.
if (process.env.TEST_DATABASE_URL) describe("the PostgreSQL server restarts under load", () => {
  let pgServer: OwnPostgres;
  beforeAll(async () => {
    pgServer = await createOwnPostgres();
  });
  afterAll(async () => {
    await pgServer?.destroy();
  });

  it("answers 503 problem+json at once while it is down and recovers by itself when it is back", async () => {
    const key = generateKey().key;
    const server = await startServerProcess(serverEnv(key, { env: { DATABASE_URL: pgServer.url }, drop: async () => {} }), ["serve"]);
    const pid = server.child.pid;
    const load = sustainLoad({ url: () => server.url, key, prefix: "pgr" });
    try {
      await load.waitForBatches(5);
      await pgServer.stop("immediate");
      const downAt = Date.now();
      await load.waitForBatches(5);

      // While it is down: fast, explicit refusals, never a 500; liveness stays up, readiness does not.
      // Only batches sent after it went down: one sent before may have committed and be answered 202 after.
      const whileDown = load.batches.filter((b) => b.startedAt >= downAt);
      expect(whileDown.length).toBeGreaterThanOrEqual(5);
      expect(whileDown.map((b) => b.status)).toEqual(whileDown.map(() => 503));
      expect(whileDown.every((b) => b.contentType?.startsWith("application/problem+json"))).toBe(true);
      expect(Math.max(...whileDown.map((b) => b.ms))).toBeLessThan(5_000);
      const cases = await fetch(`${server.url}/v1/cases`, { headers: { authorization: `Bearer ${key}` } });
      expect(cases.status).toBe(503);
      expect(((await cases.json()) as { code: string }).code).toBe("unavailable");
      expect((await readyz(server.url)).status).toBe(503);
      expect((await fetch(`${server.url}/healthz`)).status).toBe(200);

      await pgServer.start();
      const backFrom = load.batches.length;
      const until = Date.now() + 60_000;
      while (!load.batches.slice(backFrom).some((b) => b.outcome === "acked")) {
        if (Date.now() > until) throw new Error("ingestion did not recover within 60 s of the database's return");
        await sleep(100);
      }
      await load.waitForBatches(3);
      const batches = await load.stop();
      expect(batches.filter((b) => b.outcome === "refused" && b.status !== 503)).toEqual([]);
      expect(server.child.pid).toBe(pid);
      expect(server.child.exitCode).toBeNull();

      // A 503 is not an acknowledgement: like a batch without an answer, it is stored whole or not
      // at all (the commit may have reached the server just before it went), and a retry completes it.
      await expectNothingAckedLost(server.url, key, "pgr", batches.map((b) => (b.outcome === "refused" ? { ...b, outcome: "unanswered" as const } : b)));
    } finally {
      await load.stop();
      await server.stop();
    }
  });
});
