import { type PartitionStore, createPartitionLeases, partitionCount, partitionOf, planPartitions } from "./partitions";
import type { Sql } from "../../db/database";

/** The partition table in memory, on a clock the test moves: the SQL store's rules, no database. */
function fakeStore(clock: { now: number }): PartitionStore & { owners(): Map<string, number[]> } {
  const parts = Array.from({ length: partitionCount }, () => ({ owner: null as string | null, until: 0 }));
  const seen = new Map<string, number>();
  const mine = (w: string) => parts.flatMap((p, i) => (p.owner === w && p.until >= clock.now ? [i] : []));
  return {
    async heartbeat(w, leaseMs) {
      seen.set(w, clock.now);
      for (const i of mine(w)) parts[i]!.until = clock.now + leaseMs;
      return mine(w);
    },
    async state(leaseMs) {
      const live = [...seen.values()].filter((t) => t > clock.now - leaseMs).length;
      return { liveWorkers: live, free: parts.flatMap((p, i) => (p.owner === null || p.until < clock.now ? [i] : [])) };
    },
    async take(w, ids, leaseMs, force = false) {
      const taken = ids.filter((i) => force || parts[i]!.owner === null || parts[i]!.until < clock.now);
      for (const i of taken) parts[i] = { owner: w, until: clock.now + leaseMs };
      return taken.sort((a, b) => a - b);
    },
    async release(w, ids) {
      parts.forEach((p, i) => {
        if (p.owner === w && (ids === "all" || ids.includes(i))) parts[i] = { owner: null, until: 0 };
      });
    },
    async leave(w) {
      seen.delete(w);
    },
    async hold(_tx, w, ids) {
      return ids.filter((i) => parts[i]!.owner === w && parts[i]!.until >= clock.now);
    },
    owners() {
      const m = new Map<string, number[]>();
      parts.forEach((p, i) => {
        if (p.owner !== null && p.until >= clock.now) m.set(p.owner, [...(m.get(p.owner) ?? []), i]);
      });
      return m;
    },
  };
}

const noTx: Sql = { query: async () => [], exec: async () => {} };

describe("planPartitions", () => {
  it("takes free partitions up to its share, lowest first", () => {
    expect(planPartitions({ owned: [], liveWorkers: 3, free: [5, 1, 2, 3, 4], total: 6 })).toEqual({ take: [1, 2], release: [] });
    expect(planPartitions({ owned: [0], liveWorkers: 1, free: [1, 2], total: 3 })).toEqual({ take: [1, 2], release: [] });
  });

  it("gives up its highest partitions above its share when a worker joins", () => {
    expect(planPartitions({ owned: [0, 1, 2, 3], liveWorkers: 2, free: [], total: 4 })).toEqual({ take: [], release: [2, 3] });
  });

  it("keeps what it has at its share, and counts itself when no worker is seen yet", () => {
    expect(planPartitions({ owned: [0, 1], liveWorkers: 2, free: [2], total: 4 })).toEqual({ take: [], release: [] });
    expect(planPartitions({ owned: [], liveWorkers: 0, free: [0, 1], total: 2 })).toEqual({ take: [0, 1], release: [] });
  });
});

describe("partition leases", () => {
  const leaseMs = 3000;

  it("shares the partitions among the workers alive, and hands a dead worker's over once its leases expire", async () => {
    const clock = { now: 0 };
    const store = fakeStore(clock);
    const workers = ["a", "b", "c"].map((id) => createPartitionLeases(store, { leaseMs, workerId: id }));
    // Each heartbeats first, then rebalances in turn until nothing moves.
    for (const w of workers) await w.renew();
    for (let round = 0; round < 3; round++) for (const w of workers) await w.rebalance();
    expect(workers.map((w) => w.owned().length)).toEqual([22, 22, 20]);
    expect(new Set(workers.flatMap((w) => w.owned())).size).toBe(partitionCount);

    // c stops heartbeating (killed): its partitions stay its own until the lease expires.
    clock.now += leaseMs / 2;
    await workers[0]!.rebalance();
    await workers[1]!.rebalance();
    expect(store.owners().get("c")).toHaveLength(20);
    clock.now += leaseMs;
    for (let round = 0; round < 2; round++) for (const w of workers.slice(0, 2)) await w.rebalance();
    expect(workers.slice(0, 2).map((w) => w.owned().length)).toEqual([32, 32]);
    expect(store.owners().has("c")).toBe(false);
    // What c judged meanwhile does not commit: it holds none of its partitions.
    expect(await workers[2]!.hold(noTx, [0, 30, 63])).toEqual(new Set());
    expect(await workers[0]!.hold(noTx, workers[0]!.owned())).toEqual(new Set(workers[0]!.owned()));
  });

  it("passes a stopping worker's partitions on at once, and makes room for one that joins", async () => {
    const clock = { now: 0 };
    const store = fakeStore(clock);
    const a = createPartitionLeases(store, { leaseMs, workerId: "a" });
    const b = createPartitionLeases(store, { leaseMs, workerId: "b" });
    await a.rebalance();
    expect(a.owned()).toHaveLength(partitionCount);
    await b.rebalance();
    expect(b.owned()).toEqual([]);
    await a.rebalance();
    await b.rebalance();
    expect([a.owned().length, b.owned().length]).toEqual([32, 32]);
    await b.leave();
    await a.rebalance();
    expect(a.owned()).toHaveLength(partitionCount);
  });

  it("takes every partition at once on a database no other process can reach, even those a crashed run leased", async () => {
    const clock = { now: 0 };
    const store = fakeStore(clock);
    await createPartitionLeases(store, { leaseMs, workerId: "crashed" }).rebalance();
    const restarted = createPartitionLeases(store, { leaseMs, workerId: "restarted", exclusive: true });
    expect(await restarted.rebalance()).toHaveLength(partitionCount);
    expect([...store.owners().keys()]).toEqual(["restarted"]);
  });

  it("puts an account's tasks in one partition, as the generated column does", () => {
    // md5("acct_1") is 1c8af66c...: 0x1c & 63 = 28 (the migration's get_byte(decode(md5(id), 'hex'), 0) & 63).
    expect(partitionOf("acct_1")).toBe(0x1c & 63);
    const spread = new Set(Array.from({ length: 1000 }, (_, i) => partitionOf(`acct_${i}`)));
    expect(spread.size).toBe(partitionCount);
  });
});
