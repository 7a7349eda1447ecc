// The client's spill folder on its own (clients/node/src/spill.ts): batches kept in the order they
// were tracked whatever order their writes finish in, found again by the next client, bounded, and
// owned by one client at a time (a lease), with names no other client's batch can overwrite.
import { spawnSync } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { ClauseGuardClient, type UsageEvent } from "../clients/node/src/index";
import { SpillFolder } from "../clients/node/src/spill";
import { usageEvent } from "./support/factories";

describe("the client's spill folder", () => {
  let dir: string;
  beforeEach(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), "cg-spill-unit-"));
  });
  afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

  it("keeps batches in sequence order however their writes finish, and the next client finds them", async () => {
    const folder = new SpillFolder(dir, 1024 * 1024);
    expect(folder.nextSeq()).toBe(1);
    await Promise.all([folder.write(3, '{"n":3}\n', 1), folder.write(1, '{"n":1}\n{"n":1}\n', 2), folder.write(2, '{"n":2}\n', 1)]);
    expect(folder.oldest()).toMatchObject({ seq: 1, events: 2 });
    expect(folder.size()).toEqual({ batches: 3, events: 4, bytes: 32 });
    expect(await folder.read(folder.oldest()!)).toBe('{"n":1}\n{"n":1}\n');
    await folder.remove(folder.oldest()!);
    expect(folder.oldest()).toMatchObject({ seq: 2 });
    folder.close();

    // A write its process never finished is not a batch: it is removed.
    fs.writeFileSync(path.join(dir, "0000000000000009-5.ndjson.tmp"), '{"half":');
    const next = new SpillFolder(dir, 1024 * 1024);
    expect(next.size()).toEqual({ batches: 2, events: 2, bytes: 16 });
    expect(next.nextSeq()).toBe(4);
    expect(fs.readdirSync(dir).sort()).toEqual([expect.stringMatching(/^0000000000000002-[0-9a-f]{8}-1\.ndjson$/), expect.stringMatching(/^0000000000000003-[0-9a-f]{8}-1\.ndjson$/), "LOCK"]);
    // Another client's batch of the same sequence number is a file of its own.
    await next.write(3, '{"n":"other"}\n', 1);
    expect(next.size()).toMatchObject({ batches: 3, events: 3 });
    next.close();
  });

  it("has no room once it holds its bound", async () => {
    const folder = new SpillFolder(dir, 1000);
    expect(folder.hasRoom()).toBe(true);
    await folder.write(1, "x".repeat(600), 1);
    expect(folder.hasRoom()).toBe(true);
    await folder.write(2, "x".repeat(600), 1);
    expect(folder.hasRoom()).toBe(false);
    await folder.remove(folder.oldest()!);
    expect(folder.hasRoom()).toBe(true);
    folder.close();
  });

  it("is owned by one client at a time, and taken over once its owner has ended or its lease has run out", () => {
    const lockFile = path.join(dir, "LOCK");
    const lock = (pid: number, host = os.hostname()) => fs.writeFileSync(lockFile, JSON.stringify({ host, pid, token: "0badc0de" }));
    const owner = () => JSON.parse(fs.readFileSync(lockFile, "utf8")) as { pid: number };
    const folder = new SpillFolder(dir, 1024 * 1024);
    expect(() => new SpillFolder(path.join(dir, "."), 1024 * 1024)).toThrow(/in use by another client of this process/);
    folder.close();
    expect(fs.existsSync(lockFile)).toBe(false);

    // Held by a live process (this one's parent): refused, naming it.
    lock(process.ppid);
    expect(() => new SpillFolder(dir, 1024 * 1024)).toThrow(new RegExp(`in use by process ${process.ppid}`));
    // Held from another host, its lease renewed: refused; not renewed for over a minute: taken over.
    lock(4242, "another-host");
    expect(() => new SpillFolder(dir, 1024 * 1024)).toThrow(/in use by process 4242 on another-host/);
    const old = new Date(Date.now() - 120_000);
    fs.utimesSync(lockFile, old, old);
    new SpillFolder(dir, 1024 * 1024).close();

    // Left by a process that has ended: taken over.
    const ended = spawnSync(process.execPath, ["-e", "console.log(process.pid)"], { encoding: "utf8" });
    lock(Number(ended.stdout.trim()));
    const taken = new SpillFolder(dir, 1024 * 1024);
    expect(owner().pid).toBe(process.pid);
    taken.close();

    // Left by an earlier incarnation with this process's id (a container's gateway is often pid 1), or not a lock at all: taken over.
    lock(process.pid);
    new SpillFolder(dir, 1024 * 1024).close();
    fs.writeFileSync(lockFile, "12345");
    new SpillFolder(dir, 1024 * 1024).close();
  });

  it("gives up only its own lock at close", () => {
    const folder = new SpillFolder(dir, 1024 * 1024);
    // Taken over meanwhile (its lease ran out while the process was stopped): the new owner's lock stays.
    fs.writeFileSync(path.join(dir, "LOCK"), JSON.stringify({ host: "another-host", pid: 7, token: "feedf00d" }));
    folder.close();
    expect(JSON.parse(fs.readFileSync(path.join(dir, "LOCK"), "utf8"))).toMatchObject({ token: "feedf00d" });
  });
});

// ClauseGuard unreachable (a closed port): every event tracked is accounted for, in memory, on disk
// or in a drop counter, whatever the folder's bound; the buffer's memory stays bounded.
describe("the client while ClauseGuard is unreachable", () => {
  const unreachable = "http://127.0.0.1:9";
  let dir: string;
  beforeEach(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), "cg-spill-client-"));
  });
  afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));
  const events = (n: number) => Array.from({ length: n }, () => usageEvent({ accountId: "acct_unreachable" }) as unknown as UsageEvent);
  const settle = () => new Promise((r) => setTimeout(r, 200));

  it("fills its folder to the bound, then drops by its policy, and accounts for every event", async () => {
    const client = new ClauseGuardClient({ url: unreachable, key: "cg_x", batch: { maxEvents: 100, intervalMs: 10, concurrency: 3 }, buffer: { maxEvents: 200 }, retry: { baseMs: 5, maxMs: 20 }, spill: { dir, maxBytes: 1024 * 1024 } });
    const sent = events(20_000);
    for (let i = 0; i < sent.length; i += 100) {
      for (const e of sent.slice(i, i + 100)) client.track(e);
      await new Promise((r) => setTimeout(r, 1));
    }
    await settle();
    const during = client.stats();
    expect(during.onDisk.bytes).toBeGreaterThan(900 * 1024);
    // Past the bound by at most the batches being written when it was reached.
    expect(during.onDisk.bytes).toBeLessThan(1024 * 1024 + 10 * 100 * 1024);
    expect(during.droppedOverflow).toBeGreaterThan(0);
    expect(during.queued + during.onDisk.events + during.droppedOverflow + during.droppedUndelivered).toBe(20_000);
    await client.close({ timeoutMs: 200 });
    const after = client.stats();
    expect(after.queued).toBe(0);
    expect(after.onDisk.events + after.droppedOverflow + after.droppedUndelivered).toBe(20_000);
    expect(fs.readdirSync(dir).filter((f) => f.endsWith(".ndjson")).length).toBe(after.onDisk.batches);
  });

  it("closes promptly with several senders failing and writes still landing, keeping every event on disk or counted", async () => {
    // A slow disk: each batch takes 30 ms to write, so writes are still landing when the senders give up.
    const write = SpillFolder.prototype.write;
    const slow = jest.spyOn(SpillFolder.prototype, "write").mockImplementation(async function (this: SpillFolder, ...args: Parameters<SpillFolder["write"]>) {
      await new Promise((r) => setTimeout(r, 30));
      return write.apply(this, args);
    });
    const client = new ClauseGuardClient({ url: unreachable, key: "cg_x", batch: { maxEvents: 10, intervalMs: 5, concurrency: 4 }, buffer: { maxEvents: 50 }, retry: { baseMs: 5, maxMs: 20 }, spill: { dir } });
    const sent = events(500);
    for (let i = 0; i < 200; i += 10) {
      for (const e of sent.slice(i, i + 10)) client.track(e);
      await new Promise((r) => setTimeout(r, 2));
    }
    // A burst right before close(): the overflow's writes are still landing when the senders fail.
    for (const e of sent.slice(200)) client.track(e);
    const t0 = Date.now();
    await client.close({ timeoutMs: 20_000 });
    expect(Date.now() - t0).toBeLessThan(5000);
    const after = client.stats();
    expect(after.queued).toBe(0);
    expect(after.onDisk.events + after.droppedOverflow + after.droppedUndelivered).toBe(500);
    expect(after.onDisk.events).toBeGreaterThan(100);
    // The next client finds every batch the folder holds.
    slow.mockRestore();
    const next = new ClauseGuardClient({ url: unreachable, key: "cg_x", spill: { dir } });
    expect(next.stats().onDisk.events).toBe(after.onDisk.events);
    await next.close({ timeoutMs: 0 });
  });

  it("goes on when its onError throws, and keeps what it could not send", async () => {
    const client = new ClauseGuardClient({ url: unreachable, key: "cg_x", batch: { maxEvents: 10, intervalMs: 5 }, buffer: { maxEvents: 20 }, retry: { baseMs: 5, maxMs: 20 }, spill: { dir }, onError: () => {
      throw new Error("the host's handler is broken");
    } });
    const cyclic = { ...events(1)[0]! } as UsageEvent & { self?: unknown };
    cyclic.self = cyclic;
    expect(() => client.track(cyclic)).not.toThrow();
    const sent = events(100);
    for (let i = 0; i < sent.length; i += 10) {
      for (const e of sent.slice(i, i + 10)) client.track(e);
      await new Promise((r) => setTimeout(r, 2));
    }
    await settle();
    await client.close({ timeoutMs: 200 });
    expect(client.stats()).toMatchObject({ queued: 0, rejected: 1, droppedOverflow: 0, droppedUndelivered: 0, onDisk: { events: 100 } });
  });

  it("keeps its memory bounded while it drops the oldest without a folder", async () => {
    const client = new ClauseGuardClient({ url: unreachable, key: "cg_x", batch: { maxEvents: 10, intervalMs: 3_600_000, concurrency: 1 }, buffer: { maxEvents: 10 }, retry: { baseMs: 3_600_000 } });
    const one = events(1)[0]!;
    for (let i = 0; i < 300_000; i++) client.track({ ...one, eventId: `evt_bound_${i}` });
    expect(client.stats()).toMatchObject({ droppedOverflow: 300_000 - 20, queued: 20 });
    // The array behind the buffer is compacted as the oldest are dropped, not only when batches are taken.
    expect((client as unknown as { buffer: string[] }).buffer.length).toBeLessThan(140_000);
    await client.close({ timeoutMs: 0 });
  });
});
