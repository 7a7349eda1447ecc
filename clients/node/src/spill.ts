// The client's optional spill folder (docs/client.md): batches ClauseGuard has not taken yet, kept
// on disk so that an outage, a ClauseGuard restart or the gateway's own restart loses nothing. One
// NDJSON file per batch, written under a temporary name and renamed into place (a reader never sees
// half a batch), named by the batch's sequence number (the order its events were tracked in), the
// writing client's token and its event count. Names are unique per client, so even two clients on
// one folder overwrite nothing: at worst a batch is sent twice, and the server stores it once.
//
// One client owns a folder at a time, by a lease: a LOCK file naming its host, process and token,
// touched every 10 s. A lock whose lease has run out (60 s), or whose process on this host has
// ended, is taken over with the batches it left.
import { randomBytes } from "node:crypto";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";

export type SpilledBatch = { seq: number; name: string; events: number; bytes: number };

/** Folders opened by clients of this process. */
const openHere = new Set<string>();
const batchName = /^(\d{16})-([0-9a-f]{8})-(\d+)\.ndjson$/;
const leaseRenewMs = 10_000;
const leaseMs = 60_000;

export class SpillFolder {
  /** Oldest first. */
  private readonly batches: SpilledBatch[] = [];
  private bytesOnDisk = 0;
  private eventsOnDisk = 0;
  private bytesWriting = 0;
  /** The disk said it is full (ENOSPC): no room until a batch is removed. */
  private diskFull = false;
  private readonly dir: string;
  private readonly token = randomBytes(4).toString("hex");
  private readonly lease: NodeJS.Timeout;
  private closed = false;

  /** Opens (creating) the folder and takes its lock; throws if another live client holds it. */
  constructor(
    dir: string,
    private readonly maxBytes: number,
  ) {
    fs.mkdirSync(dir, { recursive: true });
    this.dir = fs.realpathSync(dir);
    this.lock();
    this.lease = setInterval(() => {
      const now = new Date();
      fs.promises.utimes(this.lockFile(), now, now).catch(() => {});
    }, leaseRenewMs).unref();
    for (const name of fs.readdirSync(this.dir).sort()) {
      const m = batchName.exec(name);
      if (m) {
        const bytes = fs.statSync(path.join(this.dir, name)).size;
        this.batches.push({ seq: Number(m[1]), name, events: Number(m[3]), bytes });
        this.bytesOnDisk += bytes;
        this.eventsOnDisk += Number(m[3]);
      } else if (name.endsWith(".tmp")) {
        // A write its process did not finish: the batch was never acknowledged as kept.
        fs.rmSync(path.join(this.dir, name), { force: true });
      }
    }
  }

  /** The sequence number after the newest batch on disk (a new client goes on from there). */
  nextSeq(): number {
    return (this.batches.at(-1)?.seq ?? 0) + 1;
  }

  /** Whether another batch may be written: the folder holds less than its bound, and the disk has not said it is full. */
  hasRoom(): boolean {
    return !this.diskFull && this.bytesOnDisk + this.bytesWriting < this.maxBytes;
  }

  oldest(): SpilledBatch | undefined {
    return this.batches[0];
  }

  /** The oldest batch not in `taken` (batches other senders are sending). */
  oldestExcept(taken: ReadonlySet<SpilledBatch>): SpilledBatch | undefined {
    if (taken.size === 0) return this.batches[0];
    return this.batches.find((b) => !taken.has(b));
  }

  size(): { batches: number; events: number; bytes: number } {
    return { batches: this.batches.length, events: this.eventsOnDisk, bytes: this.bytesOnDisk };
  }

  /** Keeps a batch (NDJSON lines) under its sequence number; resolves once it is in place. */
  async write(seq: number, body: string, events: number): Promise<void> {
    const name = `${String(seq).padStart(16, "0")}-${this.token}-${events}.ndjson`;
    const bytes = Buffer.byteLength(body);
    const tmp = path.join(this.dir, `${name}.tmp`);
    this.bytesWriting += bytes;
    try {
      await fs.promises.writeFile(tmp, body);
      await fs.promises.rename(tmp, path.join(this.dir, name));
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === "ENOSPC") this.diskFull = true;
      await fs.promises.rm(tmp, { force: true }).catch(() => {});
      throw err;
    } finally {
      this.bytesWriting -= bytes;
    }
    // Writes finish in any order: keep the list in sequence order.
    let i = this.batches.length;
    while (i > 0 && this.batches[i - 1]!.seq > seq) i--;
    this.batches.splice(i, 0, { seq, name, events, bytes });
    this.bytesOnDisk += bytes;
    this.eventsOnDisk += events;
  }

  read(batch: SpilledBatch): Promise<string> {
    return fs.promises.readFile(path.join(this.dir, batch.name), "utf8");
  }

  /** Forgets a batch ClauseGuard took (or refused for good). */
  async remove(batch: SpilledBatch): Promise<void> {
    try {
      await fs.promises.rm(path.join(this.dir, batch.name), { force: true });
    } finally {
      // Forgotten even if the file could not be removed: a later client sends it again, and the server counts it as duplicates.
      this.forget(batch);
    }
  }

  /** Sets a batch that cannot be read aside (renamed `.unreadable`), so the batches after it go on. */
  async setAside(batch: SpilledBatch): Promise<void> {
    try {
      await fs.promises.rename(path.join(this.dir, batch.name), path.join(this.dir, `${batch.name}.unreadable`));
    } finally {
      this.forget(batch);
    }
  }

  /** Gives the folder up (its batches stay for the next client). */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    clearInterval(this.lease);
    openHere.delete(this.dir);
    // Only our own lock: a client that took the folder over since keeps its.
    if (readLock(this.lockFile())?.token === this.token) fs.rmSync(this.lockFile(), { force: true });
  }

  private forget(batch: SpilledBatch): void {
    const i = this.batches.indexOf(batch);
    if (i >= 0) {
      this.batches.splice(i, 1);
      this.bytesOnDisk -= batch.bytes;
      this.eventsOnDisk -= batch.events;
      this.diskFull = false;
    }
  }

  private lockFile(): string {
    return path.join(this.dir, "LOCK");
  }

  private lock(): void {
    if (openHere.has(this.dir)) throw new Error(`spill folder ${this.dir} is in use by another client of this process`);
    const mine = JSON.stringify({ host: os.hostname(), pid: process.pid, token: this.token });
    try {
      fs.writeFileSync(this.lockFile(), mine, { flag: "wx" });
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== "EEXIST") throw err;
      const held = readLock(this.lockFile());
      if (held && !stale(held)) {
        throw new Error(`spill folder ${this.dir} is in use by process ${held.pid} on ${held.host} (each client needs a folder of its own; a lock not renewed for ${leaseMs / 1000} s is taken over)`);
      }
      fs.writeFileSync(this.lockFile(), mine);
    }
    openHere.add(this.dir);
  }
}

type Lock = { host: string; pid: number; token: string; renewedAt: number };

function readLock(file: string): Lock | undefined {
  try {
    const held = JSON.parse(fs.readFileSync(file, "utf8")) as Partial<Lock>;
    if (typeof held.host !== "string" || typeof held.pid !== "number" || typeof held.token !== "string") return undefined;
    return { host: held.host, pid: held.pid, token: held.token, renewedAt: fs.statSync(file).mtimeMs };
  } catch {
    return undefined; // gone, or not a lock this client wrote: taken over
  }
}

/**
 * A lock nobody holds any more: its lease ran out, or its process on this host has ended, or it
 * names this process while no client of this process holds it (an earlier incarnation with the same
 * id: a container's gateway is often pid 1 every time).
 */
function stale(held: Lock): boolean {
  if (Date.now() - held.renewedAt > leaseMs) return true;
  if (held.host !== os.hostname()) return false;
  return held.pid === process.pid || !alive(held.pid);
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === "EPERM";
  }
}
