// The client's spill folder on its own (clients/node/src/spill.ts): batches kept in the order they
// were tracked whatever order their writes finish in, found again by the next client, bounded, and
// owned by one client at a time.
import { spawnSync } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { SpillFolder } from "../clients/node/src/spill";

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
    expect(fs.readdirSync(dir).sort()).toEqual(["0000000000000002-1.ndjson", "0000000000000003-1.ndjson", "LOCK"]);
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

  it("is owned by one client at a time, and taken over from a process that has ended", () => {
    const folder = new SpillFolder(dir, 1024 * 1024);
    expect(() => new SpillFolder(dir, 1024 * 1024)).toThrow(/in use by another client of this process/);
    folder.close();
    expect(fs.existsSync(path.join(dir, "LOCK"))).toBe(false);

    // Held by a live process (this one's parent): refused, naming it.
    fs.writeFileSync(path.join(dir, "LOCK"), String(process.ppid));
    expect(() => new SpillFolder(dir, 1024 * 1024)).toThrow(new RegExp(`in use by process ${process.ppid}`));

    // Left by a process that has ended: taken over.
    const ended = spawnSync(process.execPath, ["-e", "console.log(process.pid)"], { encoding: "utf8" });
    fs.writeFileSync(path.join(dir, "LOCK"), ended.stdout.trim());
    const taken = new SpillFolder(dir, 1024 * 1024);
    expect(fs.readFileSync(path.join(dir, "LOCK"), "utf8")).toBe(String(process.pid));
    taken.close();

    // Left by an earlier incarnation with this process's id (a container's gateway is often pid 1): taken over.
    fs.writeFileSync(path.join(dir, "LOCK"), String(process.pid));
    new SpillFolder(dir, 1024 * 1024).close();
  });
});
