// Scale-out on PostgreSQL: three worker processes share one queue while events arrive for many
// accounts; one worker is killed with SIGKILL midway. Every expected case must exist exactly once
// with the exact hit count: nothing acknowledged is lost, nothing is counted twice.
import { type ChildProcess, spawn } from "node:child_process";
import path from "node:path";
import { pathToFileURL } from "node:url";
import { generateKey } from "../src/features/auth/api-key";
import { insertEvents } from "../src/features/events/event-repository";
import type { UsageEventInput } from "../src/features/events/event-schemas";
import { claimBatch, completeBatch } from "../src/features/evaluation/evaluation-queue";
import { createPartitionLeases, partitionCount, partitionOf, sqlPartitionStore } from "../src/features/evaluation/partitions";
import { type TestDatabase, createTestDatabase, serverUrl, testTargets } from "./support/test-database";
import { repoRulesDir } from "./support/test-server";

const root = path.resolve(__dirname, "..");
const tsxLoader = pathToFileURL(path.join(root, "node_modules/tsx/dist/loader.mjs")).href;
if (!process.env.TEST_DATABASE_URL) {
  // Without PostgreSQL there is no scale-out to test; what holds instead is that the embedded
  // database keeps to one process: a worker started beside a running server is refused.
  describe("evaluation workers on the embedded database", () => {
    it("refuses a worker process while another process holds the database", async () => {
      const fs = await import("node:fs");
      const os = await import("node:os");
      const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), "cg-data-"));
      fs.writeFileSync(path.join(dataDir, "clauseguard.lock"), String(process.pid));
      const worker = spawn(process.execPath, ["--import", tsxLoader, path.join(root, "src/main.ts"), "worker"], {
        env: { PATH: process.env.PATH ?? "", CLAUSEGUARD_DATA_DIR: dataDir, CLAUSEGUARD_RULES_DIR: repoRulesDir },
        stdio: ["ignore", "ignore", "pipe"],
      });
      let stderr = "";
      worker.stderr!.on("data", (d: Buffer) => (stderr += d.toString()));
      expect(await new Promise((r) => worker.on("exit", r))).toBe(1);
      expect(stderr).toContain(`in use by process ${process.pid}`);
    });
  });
}

describe.each(testTargets())("evaluation partitions on %s", (kind) => {
  let t: TestDatabase;
  beforeAll(async () => {
    t = await createTestDatabase(kind);
  });
  afterAll(() => t.drop());

  it("puts each account's tasks in the partition partitionOf names", async () => {
    const events = Array.from({ length: 40 }, (_, i) => ({
      eventId: `part_${i}`, occurredAt: "2026-11-24T10:00:00Z", accountId: `acct_part${i % 20}`, model: "m", inputTokens: 1, outputTokens: 1,
    }));
    await t.db.transaction((tx) => insertEvents(tx, events));
    const rows = await t.db.query<{ account_id: string; partition: number }>({ text: "SELECT DISTINCT account_id, partition FROM evaluation_task", values: [] });
    expect(rows).toHaveLength(20);
    for (const r of rows) expect({ account: r.account_id, partition: Number(r.partition) }).toEqual({ account: r.account_id, partition: partitionOf(r.account_id) });
  });

  it("completes a batch's tasks only in the partitions its worker still holds", async () => {
    const events = Array.from({ length: 30 }, (_, i) => ({
      eventId: `fence_${i}`, occurredAt: "2026-11-24T11:00:00Z", accountId: `acct_fence${i}`, model: "m", inputTokens: 1, outputTokens: 1,
    }));
    await t.db.transaction((tx) => insertEvents(tx, events));
    const batch = await claimBatch(t.db, 1000, 60_000);
    expect(batch.partitions.length).toBeGreaterThan(1);
    const kept = batch.partitions[0]!;
    const done = await t.db.transaction((tx) => completeBatch(tx, batch, new Set([kept])));
    const inKept = batch.events.filter((e) => partitionOf(e.accountId) === kept).map((e) => e.pk);
    expect([...done].sort()).toEqual(inKept.sort());
    // The others stay queued, under this lease, for the partitions' owners.
    const left = await t.db.query<{ n: number }>({ text: "SELECT count(*)::int AS n FROM evaluation_task", values: [] });
    expect(Number(left[0]!.n)).toBe(batch.eventPks.length - inKept.length);
    await t.db.transaction((tx) => completeBatch(tx, batch));
  });

  it("shares partitions between workers, fences a commit of a lost partition, and hands partitions over when a lease expires", async () => {
    const store = sqlPartitionStore(t.db);
    const leaseMs = 400;
    const a = createPartitionLeases(store, { leaseMs, workerId: "worker-a" });
    const b = createPartitionLeases(store, { leaseMs, workerId: "worker-b" });
    await a.rebalance();
    expect(a.owned()).toHaveLength(partitionCount);
    await b.rebalance();
    await a.rebalance();
    await b.rebalance();
    expect([a.owned().length, b.owned().length]).toEqual([32, 32]);
    expect(new Set([...a.owned(), ...b.owned()]).size).toBe(partitionCount);
    // In a commit's transaction each holds only its own.
    const held = await t.db.transaction((tx) => a.hold(tx, [...a.owned().slice(0, 3), ...b.owned().slice(0, 3)]));
    expect([...held].sort((x, y) => x - y)).toEqual(a.owned().slice(0, 3));

    // b stops renewing: once its leases expire, a takes its partitions, and b's commit holds none.
    const bs = b.owned();
    await new Promise((r) => setTimeout(r, leaseMs + 100));
    await a.rebalance();
    await a.rebalance();
    expect(a.owned()).toHaveLength(partitionCount);
    expect(await t.db.transaction((tx) => b.hold(tx, bs))).toEqual(new Set());
    const owners = await t.db.query<{ owner: string; n: number }>({ text: "SELECT owner, count(*)::int AS n FROM evaluation_partition GROUP BY 1", values: [] });
    expect(owners.map((o) => ({ owner: o.owner, n: Number(o.n) }))).toEqual([{ owner: "worker-a", n: partitionCount }]);
    await a.leave();
    const free = await t.db.query<{ n: number }>({ text: "SELECT count(*)::int AS n FROM evaluation_partition WHERE owner IS NULL", values: [] });
    expect(Number(free[0]!.n)).toBe(partitionCount);
  });
});

// Defined only with PostgreSQL: JIT exists there alone.
if (process.env.TEST_DATABASE_URL) describe("PostgreSQL connections", () => {
  it("run without JIT compilation (it compiled batch-sized statements for ~450 ms each)", async () => {
    const t = await createTestDatabase("postgres");
    try {
      expect(await t.db.query<{ jit: string }>({ text: "SHOW jit", values: [] })).toEqual([{ jit: "off" }]);
    } finally {
      await t.drop();
    }
  });
});

// Defined only with PostgreSQL: nothing here is skipped, it is a test of the server's scale-out.
if (process.env.TEST_DATABASE_URL) describe("three evaluation workers on PostgreSQL, one killed midway", () => {
  let t: TestDatabase;
  const workers: ChildProcess[] = [];

  beforeAll(async () => {
    t = await createTestDatabase("postgres");
  });
  afterAll(async () => {
    for (const w of workers) if (w.exitCode === null) w.kill("SIGKILL");
    await t.drop();
  });

  it("evaluates every event exactly once", async () => {
    const dbName = (await t.db.withSession((s) => s.query<{ d: string }>("SELECT current_database() AS d")))[0]!.d;
    const env = {
      PATH: process.env.PATH ?? "",
      DATABASE_URL: serverUrl(dbName),
      CLAUSEGUARD_RULES_DIR: repoRulesDir,
      CLAUSEGUARD_ADMIN_KEY: generateKey().key,
      CLAUSEGUARD_EVAL_LEASE_MS: "2000",
      CLAUSEGUARD_EVAL_BATCH_SIZE: "50",
      CLAUSEGUARD_EVAL_POLL_MS: "50",
      LOG_LEVEL: "warn",
    };
    for (let i = 0; i < 3; i++) {
      workers.push(spawn(process.execPath, ["--import", tsxLoader, path.join(root, "src/main.ts"), "worker"], { env, stdio: "ignore" }));
    }

    // 200 accounts, 12 events each, posted in 24 concurrent-ish batches; every third event hits
    // the event-scope rule, so each account must end with one case of exactly 4 hits.
    const accounts = Array.from({ length: 200 }, (_, i) => `acct_w${i}`);
    const batches: UsageEventInput[][] = [];
    for (let round = 0; round < 12; round++) {
      const batch = accounts.map((a) => ({
        eventId: `${a}_${round}`,
        occurredAt: new Date(Date.parse("2026-11-24T10:00:00Z") + round * 60_000).toISOString(),
        accountId: a,
        model: "m",
        inputTokens: 10,
        outputTokens: round % 3 === 0 ? 5000 : 10,
        signals: { syntheticDataRequest: true },
      }));
      batches.push(batch.slice(0, 100), batch.slice(100));
    }
    const casesNow = () => t.db.prisma.violationCase.count();
    /** Partitions per live owner. */
    const owners = async () =>
      (await t.db.query<{ owner: string; n: number }>({ text: "SELECT owner, count(*)::int AS n FROM evaluation_partition WHERE lease_until >= now() GROUP BY 1", values: [] })).map((o) => ({
        owner: o.owner,
        n: Number(o.n),
      }));
    for (let i = 0; i < batches.length; i += 4) {
      await Promise.all(batches.slice(i, i + 4).map((b) => t.db.transaction((tx) => insertEvents(tx, b))));
      if (i === 8) {
        // Kill a worker once evaluation is under way and the partitions are shared by all three.
        // Each holds at most ceil(64 / 3) = 22 and none is left free: 20/22/22 or 21/21/22,
        // depending on who took what first; both are settled states.
        const shares = async () => (await owners()).map((o) => o.n).sort((x, y) => x - y);
        const settled = (s: number[]) => s.length === 3 && s.reduce((a, b) => a + b, 0) === 64 && s[2]! <= 22;
        for (let k = 0; k < 200 && ((await casesNow()) === 0 || !settled(await shares())); k++) await new Promise((r) => setTimeout(r, 50));
        const settledShares = await shares();
        expect(settledShares).toHaveLength(3);
        expect(settledShares.reduce((a, b) => a + b, 0)).toBe(64);
        expect(Math.max(...settledShares)).toBeLessThanOrEqual(22);
        expect(Math.min(...settledShares)).toBeGreaterThanOrEqual(20);
        workers[0]!.kill("SIGKILL");
      }
    }

    const deadline = Date.now() + 60_000;
    while ((await t.db.prisma.evaluationTask.count()) > 0) {
      if (Date.now() > deadline) throw new Error("the queue did not drain");
      await new Promise((r) => setTimeout(r, 200));
    }
    expect(workers[0]!.exitCode === null && workers[0]!.signalCode === null).toBe(false);
    // The killed worker's partitions went to the two others, half each.
    for (let k = 0; k < 100 && (await owners()).length !== 2; k++) await new Promise((r) => setTimeout(r, 100));
    expect((await owners()).map((o) => o.n)).toEqual([32, 32]);

    const cases = await t.db.prisma.violationCase.findMany({ where: { ruleId: "extraction.synthetic-data-request" } });
    expect(cases).toHaveLength(accounts.length);
    expect(new Set(cases.map((c) => c.accountId)).size).toBe(accounts.length);
    expect(cases.filter((c) => c.hitCount !== 4).map((c) => `${c.accountId}:${c.hitCount}`)).toEqual([]);
    expect(await t.db.prisma.usageEvent.count()).toBe(accounts.length * 12);
  });
});
