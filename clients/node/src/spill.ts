// The client's optional spill folder (docs/client.md): batches ClauseGuard has not taken yet, kept
// on disk so that an outage, a ClauseGuard restart or the gateway's own restart loses nothing. One
// NDJSON file per batch, written under a temporary name and renamed into place (a reader never sees
// half a batch), named by the batch's sequence number (the order its events were tracked in) and
// its event count. One client owns a folder at a time: a LOCK file holds its process id, and a
// folder whose owner has ended is taken over with the batches it left.
import fs from "node:fs";
import path from "node:path";

export type SpilledBatch = { seq: number; name: string; events: number; bytes: number };

/** Folders opened by clients of this process (a LOCK naming this process's id is stale unless listed). */
const openHere = new Set<string>();
const batchName = /^(\d{16})-(\d+)\.ndjson$/;

export class SpillFolder {
  /** Oldest first. */
  private readonly batches: SpilledBatch[] = [];
  private bytesOnDisk = 0;
  private eventsOnDisk = 0;
  private bytesWriting = 0;
  private readonly dir: string;
  private closed = false;

  /** Opens (creating) the folder and takes its lock; throws if another live client holds it. */
  constructor(
    dir: string,
    private readonly maxBytes: number,
  ) {
    this.dir = path.resolve(dir);
    fs.mkdirSync(this.dir, { recursive: true });
    this.lock();
    for (const name of fs.readdirSync(this.dir).sort()) {
      const m = batchName.exec(name);
      if (m) {
        const bytes = fs.statSync(path.join(this.dir, name)).size;
        this.batches.push({ seq: Number(m[1]), name, events: Number(m[2]), bytes });
        this.bytesOnDisk += bytes;
        this.eventsOnDisk += Number(m[2]);
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

  /** Whether another batch may be written: the folder holds less than its bound. */
  hasRoom(): boolean {
    return this.bytesOnDisk + this.bytesWriting < this.maxBytes;
  }

  oldest(): SpilledBatch | undefined {
    return this.batches[0];
  }

  size(): { batches: number; events: number; bytes: number } {
    return { batches: this.batches.length, events: this.eventsOnDisk, bytes: this.bytesOnDisk };
  }

  /** Keeps a batch (NDJSON lines) under its sequence number; resolves once it is in place. */
  async write(seq: number, body: string, events: number): Promise<void> {
    const name = `${String(seq).padStart(16, "0")}-${events}.ndjson`;
    const bytes = Buffer.byteLength(body);
    this.bytesWriting += bytes;
    try {
      const tmp = path.join(this.dir, `${name}.tmp`);
      await fs.promises.writeFile(tmp, body);
      await fs.promises.rename(tmp, path.join(this.dir, name));
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

  private forget(batch: SpilledBatch): void {
    const i = this.batches.indexOf(batch);
    if (i >= 0) {
      this.batches.splice(i, 1);
      this.bytesOnDisk -= batch.bytes;
      this.eventsOnDisk -= batch.events;
    }
  }

  /** Gives the folder up (its batches stay for the next client). */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    openHere.delete(this.dir);
    fs.rmSync(path.join(this.dir, "LOCK"), { force: true });
  }

  private lock(): void {
    if (openHere.has(this.dir)) throw new Error(`spill folder ${this.dir} is in use by another client of this process`);
    const file = path.join(this.dir, "LOCK");
    try {
      fs.writeFileSync(file, String(process.pid), { flag: "wx" });
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== "EEXIST") throw err;
      const owner = Number(fs.readFileSync(file, "utf8").trim());
      // A LOCK naming this process is a previous incarnation's (a container's gateway is often pid 1 every time).
      if (Number.isInteger(owner) && owner > 0 && owner !== process.pid && alive(owner)) {
        throw new Error(`spill folder ${this.dir} is in use by process ${owner} (each client needs a folder of its own)`);
      }
      fs.writeFileSync(file, String(process.pid));
    }
    openHere.add(this.dir);
  }
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === "EPERM";
  }
}
