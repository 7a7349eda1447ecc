// @clauseguard/client: the gateway's side of ClauseGuard (docs/client.md). `track` returns at once
// and never throws for a delivery problem; events are sent in batches (by count, bytes and time) as
// NDJSON or JSON, gzip-compressed once the server says it takes gzip, up to four requests at a time, retried
// with backoff (Retry-After on 429 and 503) under their eventId, so a retry never stores an event
// twice. The buffer is bounded; what it drops is counted. With a spill folder, batches ClauseGuard
// has not taken wait on disk instead (spill.ts), so an outage or a restart of either side loses
// nothing. `enforcement` answers from a cache refreshed in the background, and from the caller's
// policy when ClauseGuard cannot answer within the deadline. Node's fetch only: no runtime dependency.
import { createHmac, timingSafeEqual } from "node:crypto";
import { promisify } from "node:util";
import { gzip } from "node:zlib";
import type { operations } from "./api.js";
import { SpillFolder, type SpilledBatch } from "./spill.js";

const gzipAsync = promisify(gzip);

/** A usage event, as POST /v1/events takes it (the server's own schema, generated: api.ts). */
export type UsageEvent = operations["postV1Events"]["requestBody"]["content"]["application/json"][number];
/** What POST /v1/events answers. */
export type IngestResult = operations["postV1Events"]["responses"][202]["content"]["application/json"];
/** GET /v1/accounts/:id/enforcement. */
export type EnforcementStatus = operations["getV1AccountsIdEnforcement"]["responses"][200]["content"]["application/json"];

/** An enforcement answer and where it came from: the cache, the server, or the caller's policy (ClauseGuard unreachable or late). */
export type EnforcementAnswer = EnforcementStatus & { source: "cache" | "server" | "policy"; stale: boolean };

export type ClientOptions = {
  /** ClauseGuard's base URL, e.g. http://127.0.0.1:8080. */
  url: string;
  /** An API key with events:write. */
  key: string;
  batch?: {
    /** Events per request (1..5000; default 500). */
    maxEvents?: number;
    /** Uncompressed bytes per request (default 1 MiB; the server's default body limit is 10 MiB). */
    maxBytes?: number;
    /** A partial batch is sent this long after its first event (default 1000 ms). */
    intervalMs?: number;
    /**
     * Requests in flight at once (1..16; default 4): the server overlaps their parsing and commits
     * (docs/client.md#figures). With more than one, batches may arrive out of the order they were
     * tracked in; 1 keeps the order.
     */
    concurrency?: number;
    /** The body: NDJSON, one event a line (the default), or a JSON array. */
    format?: "ndjson" | "json";
    /**
     * gzip: auto (the default) compresses once an answer of the server says it takes gzip
     * (Accept-Encoding); gzip compresses from the first request; none never does. A server that
     * answers a compressed batch 415 gets it again uncompressed, and no more compressed ones.
     */
    compression?: "auto" | "gzip" | "none";
  };
  buffer?: {
    /** Events held in memory at most (default 100,000). */
    maxEvents?: number;
    /** When full (and the spill folder, if any, is full too): drop the oldest held event, or the new one (default drop-oldest). Either is counted. */
    overflow?: "drop-oldest" | "drop-newest";
  };
  /**
   * A folder of this client's own where batches wait on disk: the oldest held batch when the
   * buffer is full, and a batch ClauseGuard did not take. They are sent, oldest first, until
   * ClauseGuard takes them; a client that starts on the folder sends what an earlier one left.
   */
  spill?: {
    dir: string;
    /** Bytes on disk at most (default 1 GiB); past it the overflow policy drops. */
    maxBytes?: number;
  };
  retry?: {
    /** Attempts per batch before it is dropped and counted (default 10). With a spill folder, a batch waits on disk after its first failed attempt and is tried until ClauseGuard takes it. */
    maxAttempts?: number;
    /** First backoff (default 250 ms), doubled each attempt with jitter, at most maxMs (default 30 s). */
    baseMs?: number;
    maxMs?: number;
    /** How long one request may take before it counts as a failed attempt (default 30 s). */
    requestTimeoutMs?: number;
  };
  enforcement?: {
    /** How long an answer is fresh (default 5 s); a stale one is returned while one read refreshes it. */
    ttlMs?: number;
    /** Answers that are not refreshed for this long are no longer used (default 60 s). */
    maxStaleMs?: number;
    /** Accounts cached at most (default 100,000; the least recently asked go first). */
    maxEntries?: number;
    /** How long a call waits for ClauseGuard before it answers from policy (default 50 ms). */
    deadlineMs?: number;
    /** The answer when ClauseGuard cannot give one in time: let the request through (open, the default) or refuse it (closed). */
    whenUnavailable?: "open" | "closed";
  };
  /** Called with every delivery problem (the client never throws one at the caller). */
  onError?: (err: Error) => void;
};

export type ClientStats = {
  /** Held in memory, not taken yet (the batch in flight and batches being written to disk included). */
  queued: number;
  /** Batches waiting in the spill folder. */
  onDisk: { batches: number; events: number; bytes: number };
  accepted: number;
  duplicates: number;
  /** Refused by the server as invalid (per item, or a whole batch answered 400). */
  rejected: number;
  /** Dropped by the overflow policy (the buffer full, and the spill folder full or failing), and tracked after close(). */
  droppedOverflow: number;
  /** Dropped after maxAttempts failed deliveries or held at close() past its timeout (without a spill folder, or with a full one), and spilled batches gone from the folder or unreadable. */
  droppedUndelivered: number;
  /** Events written to the spill folder. */
  spilled: number;
  retries: number;
  requests: number;
  /** Requests sent gzip-compressed. */
  compressedRequests: number;
  enforcement: { hits: number; misses: number; stale: number; policy: number };
};

/** A batch taken from the buffer: its sequence number (the order it was tracked in) and its events as JSON texts. */
type Batch = { seq: number; parts: string[] };
type Outcome = { kind: "taken" } | { kind: "retry"; wait: number | undefined };

const retryable = new Set([408, 429, 500, 502, 503, 504]);
/** Bodies smaller than this go uncompressed (gzip would not pay for itself). */
const compressFrom = 1024;

export class ClauseGuardClient {
  private readonly url: string;
  private readonly key: string;
  private readonly maxBatch: number;
  private readonly maxBytes: number;
  private readonly intervalMs: number;
  private readonly concurrency: number;
  private readonly format: "ndjson" | "json";
  private readonly compression: "auto" | "gzip" | "none";
  private readonly maxBuffer: number;
  private readonly overflow: "drop-oldest" | "drop-newest";
  private readonly maxAttempts: number;
  private readonly baseMs: number;
  private readonly maxMs: number;
  private readonly requestTimeoutMs: number;
  private readonly ttlMs: number;
  private readonly maxStaleMs: number;
  private readonly maxEntries: number;
  private readonly deadlineMs: number;
  private readonly whenUnavailable: "open" | "closed";
  private readonly onError: (err: Error) => void;
  private readonly spill: SpillFolder | undefined;

  /** Held events as JSON texts, oldest first; `head` is where the oldest is (a queue without shifting the array). */
  private buffer: string[] = [];
  /** Each held event's size in bytes, beside it (measured once, at track()). */
  private sizes: number[] = [];
  private bufferBytes = 0;
  private head = 0;
  private nextSeq: number;
  private timer: NodeJS.Timeout | undefined;
  /** The senders running (at most `concurrency`), each a loop taking one batch at a time. */
  private readonly senders = new Set<Promise<void>>();
  /** Spilled batches a sender is sending. */
  private readonly claimed = new Set<SpilledBatch>();
  /** close() was called: no more events, and a failed delivery no longer waits to be retried when there is a spill folder. */
  private closed = false;
  /** close() ran out of time: the sender stops at once. */
  private stopping = false;
  /** A delivery failed while closing: what is held goes to the spill folder instead of waiting. */
  private closeFailed = false;
  /** close() has finished: nothing more is sent (the spill folder may have a new owner). */
  private disposed = false;
  /** Failed reads of a spilled batch, by file name. */
  private readonly readFailures = new Map<string, number>();
  private readonly stop = new AbortController();
  private readonly wakers = new Set<() => void>();
  /** The server takes gzip (it said so in Accept-Encoding), unless it answered a compressed batch 415. */
  private serverTakesGzip = false;
  private gzipRefused = false;
  private readonly writes = new Set<Promise<void>>();
  private spilling = 0;
  /** Events of the buffer's batches being sent (by every sender). */
  private inFlight = 0;
  private readonly counts = { accepted: 0, duplicates: 0, rejected: 0, droppedOverflow: 0, droppedUndelivered: 0, spilled: 0, retries: 0, requests: 0, compressedRequests: 0 };
  private readonly cache = new Map<string, { status: EnforcementStatus; at: number }>();
  private readonly refreshing = new Map<string, Promise<EnforcementStatus | undefined>>();
  private readonly enforcementCounts = { hits: 0, misses: 0, stale: 0, policy: 0 };

  constructor(options: ClientOptions) {
    if (!/^https?:\/\//.test(options.url)) throw new TypeError("url must be an http:// or https:// URL");
    if (!options.key) throw new TypeError("key is required (an API key with events:write)");
    this.url = options.url.replace(/\/+$/, "");
    this.key = options.key;
    this.maxBatch = bounded("batch.maxEvents", options.batch?.maxEvents ?? 500, 1, 5000);
    this.maxBytes = bounded("batch.maxBytes", options.batch?.maxBytes ?? 1024 * 1024, 1024, 10 * 1024 * 1024);
    this.intervalMs = bounded("batch.intervalMs", options.batch?.intervalMs ?? 1000, 0, 3_600_000);
    this.concurrency = bounded("batch.concurrency", options.batch?.concurrency ?? 4, 1, 16);
    this.format = oneOf("batch.format", options.batch?.format ?? "ndjson", ["ndjson", "json"]);
    this.compression = oneOf("batch.compression", options.batch?.compression ?? "auto", ["auto", "gzip", "none"]);
    this.maxBuffer = bounded("buffer.maxEvents", options.buffer?.maxEvents ?? 100_000, 1, 100_000_000);
    this.overflow = oneOf("buffer.overflow", options.buffer?.overflow ?? "drop-oldest", ["drop-oldest", "drop-newest"]);
    this.maxAttempts = bounded("retry.maxAttempts", options.retry?.maxAttempts ?? 10, 1, 1000);
    this.baseMs = bounded("retry.baseMs", options.retry?.baseMs ?? 250, 1, 3_600_000);
    this.maxMs = bounded("retry.maxMs", options.retry?.maxMs ?? 30_000, 1, 3_600_000);
    this.requestTimeoutMs = bounded("retry.requestTimeoutMs", options.retry?.requestTimeoutMs ?? 30_000, 10, 600_000);
    this.ttlMs = bounded("enforcement.ttlMs", options.enforcement?.ttlMs ?? 5000, 0, 86_400_000);
    this.maxStaleMs = bounded("enforcement.maxStaleMs", options.enforcement?.maxStaleMs ?? 60_000, 0, 86_400_000);
    this.maxEntries = bounded("enforcement.maxEntries", options.enforcement?.maxEntries ?? 100_000, 1, 100_000_000);
    this.deadlineMs = bounded("enforcement.deadlineMs", options.enforcement?.deadlineMs ?? 50, 1, 60_000);
    this.whenUnavailable = oneOf("enforcement.whenUnavailable", options.enforcement?.whenUnavailable ?? "open", ["open", "closed"]);
    this.onError = options.onError ?? (() => {});
    if (options.spill) {
      if (typeof options.spill.dir !== "string" || options.spill.dir === "") throw new TypeError("spill.dir must be a folder's path");
      this.spill = new SpillFolder(options.spill.dir, bounded("spill.maxBytes", options.spill.maxBytes ?? 1024 ** 3, 1024 * 1024, 2 ** 50));
      this.nextSeq = this.spill.nextSeq();
      // What an earlier client left is sent at once.
      if (this.spill.oldest()) setImmediate(() => this.kick());
    } else {
      this.nextSeq = 1;
    }
  }

  /**
   * Holds an event for delivery and returns at once; it never throws. After close(), events are
   * refused (counted as overflow); one that cannot be serialized (a cycle, a BigInt) is counted as
   * rejected and reported to onError.
   */
  track(event: UsageEvent): void {
    if (this.closed) {
      this.counts.droppedOverflow++;
      return;
    }
    let json: string;
    try {
      json = JSON.stringify(event);
      if (typeof json !== "string" || json[0] !== "{") throw new TypeError("an event is an object");
    } catch (err) {
      this.counts.rejected++;
      this.report(new Error(`an event could not be serialized: ${(err as Error).message}`));
      return;
    }
    if (this.queued() >= this.maxBuffer && !this.spillOldest()) {
      this.counts.droppedOverflow++;
      if (this.overflow === "drop-newest") return;
      this.bufferBytes -= this.sizes[this.head]!;
      this.buffer[this.head++] = "";
      this.compact();
    }
    const size = Buffer.byteLength(json);
    this.buffer.push(json);
    this.sizes.push(size);
    this.bufferBytes += size;
    if (this.intervalMs === 0) this.kick();
    else if (this.queued() >= this.maxBatch || this.bufferBytes >= this.maxBytes) this.kick(false);
    else if (!this.timer) this.timer = setTimeout(() => this.kick(), this.intervalMs).unref();
  }

  /**
   * Sends everything held now, the spill folder included; resolves when it is delivered (or
   * dropped after its attempts). With a spill folder, batches are tried until ClauseGuard takes
   * them, so during an outage this waits for its end: at shutdown, call close().
   */
  async flush(): Promise<void> {
    while (this.pending()) {
      this.kick();
      await Promise.all([...this.senders, ...this.writes]);
    }
  }

  /**
   * Stops taking events and delivers what is held, for at most timeoutMs (default 10 s). With a
   * spill folder, what ClauseGuard does not take at once (it is down, or the time is up) is written
   * to the folder for the next client to send; without one, it is counted as droppedUndelivered.
   */
  async close(options: { timeoutMs?: number } = {}): Promise<void> {
    const timeoutMs = bounded("timeoutMs", options.timeoutMs ?? 10_000, 0, 3_600_000);
    this.closed = true;
    this.wakeAll();
    let timer: NodeJS.Timeout | undefined;
    const timedOut = await Promise.race([this.flush().then(() => false), new Promise<boolean>((r) => (timer = setTimeout(() => r(true), timeoutMs)))]);
    clearTimeout(timer);
    if (timedOut) {
      this.stopping = true;
      this.stop.abort();
      this.wakeAll();
      await Promise.all([...this.senders]);
      await this.spillHeld();
    }
    await Promise.all(this.writes);
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    this.disposed = true;
    this.spill?.close();
  }

  stats(): ClientStats {
    return {
      queued: this.queued() + this.inFlight + this.spilling,
      onDisk: this.spill?.size() ?? { batches: 0, events: 0, bytes: 0 },
      ...this.counts,
      enforcement: { ...this.enforcementCounts },
    };
  }

  /**
   * The account's enforcement: from the cache when fresh; a stale answer at once while one read
   * refreshes it; otherwise a read, and if it does not answer within deadlineMs (or fails), the
   * policy's answer (whenUnavailable). The read then goes on and fills the cache for the next call.
   */
  async enforcement(accountId: string): Promise<EnforcementAnswer> {
    const now = Date.now();
    const cached = this.cache.get(accountId);
    if (cached && now - cached.at < this.ttlMs) {
      this.enforcementCounts.hits++;
      this.touch(accountId, cached);
      return { ...cached.status, source: "cache", stale: false };
    }
    if (cached && now - cached.at < this.ttlMs + this.maxStaleMs) {
      this.enforcementCounts.stale++;
      void this.refresh(accountId);
      return { ...cached.status, source: "cache", stale: true };
    }
    this.enforcementCounts.misses++;
    const read = this.refresh(accountId);
    let timer: NodeJS.Timeout | undefined;
    const late = new Promise<undefined>((resolve) => (timer = setTimeout(() => resolve(undefined), this.deadlineMs)));
    const status = await Promise.race([read, late]);
    clearTimeout(timer);
    if (status) return { ...status, source: "server", stale: false };
    this.enforcementCounts.policy++;
    return { accountId, status: this.whenUnavailable === "open" ? "active" : "suspended", since: null, caseIds: [], source: "policy", stale: false };
  }

  /** Forgets the cached answer of an account (a webhook said its enforcement changed), or of every account. */
  invalidate(accountId?: string): void {
    if (accountId === undefined) this.cache.clear();
    else this.cache.delete(accountId);
  }

  /**
   * A ClauseGuard webhook as the receiver got it (the raw body and the X-ClauseGuard-Timestamp and
   * X-ClauseGuard-Signature headers): verifies its signature with the shared secret and its age,
   * and forgets the cached enforcement of every account it names (`account.enforced`, and
   * `case.status_changed`, which lifts enforcements). `ok: false` for a delivery that is not
   * ClauseGuard's (answer it 401); a valid one of another type invalidates nothing.
   */
  handleWebhook(delivery: { body: string; timestamp?: string | null; signature?: string | null }, secret: string, toleranceSeconds = 300): { ok: boolean; type?: string; invalidated: string[] } {
    const { body, timestamp, signature } = delivery;
    if (!timestamp || !signature || !/^\d+$/.test(timestamp)) return { ok: false, invalidated: [] };
    if (Math.abs(Date.now() / 1000 - Number(timestamp)) > toleranceSeconds) return { ok: false, invalidated: [] };
    const expected = Buffer.from(`sha256=${createHmac("sha256", secret).update(`${timestamp}.${body}`).digest("hex")}`);
    const given = Buffer.from(signature);
    if (given.length !== expected.length || !timingSafeEqual(given, expected)) return { ok: false, invalidated: [] };
    let payload: { type?: string; data?: { accountId?: unknown; accounts?: unknown } };
    try {
      payload = JSON.parse(body) as typeof payload;
    } catch {
      return { ok: false, invalidated: [] };
    }
    const accounts = new Set<string>();
    if (payload.type === "account.enforced" || payload.type === "case.status_changed") {
      if (typeof payload.data?.accountId === "string") accounts.add(payload.data.accountId);
      for (const a of Array.isArray(payload.data?.accounts) ? payload.data.accounts : []) {
        const id = typeof a === "string" ? a : (a as { accountId?: unknown })?.accountId;
        if (typeof id === "string") accounts.add(id);
      }
    }
    for (const id of accounts) this.invalidate(id);
    return { ok: true, type: payload.type, invalidated: [...accounts] };
  }

  private queued(): number {
    return this.buffer.length - this.head;
  }

  /** Anything left to do: held events, a send, a write, or batches on disk (unless a delivery failed while closing). */
  private pending(): boolean {
    if (this.stopping || this.disposed) return false;
    if (this.closeFailed) return this.senders.size > 0 || this.writes.size > 0;
    return this.queued() > 0 || this.senders.size > 0 || this.writes.size > 0 || (!this.closeFailed && this.spill?.oldest() !== undefined);
  }

  /** Hands a problem to onError; a handler that throws changes nothing here. */
  private report(err: unknown): void {
    try {
      this.onError(err instanceof Error ? err : new Error(String(err)));
    } catch {
      // The caller's handler failed: the client goes on regardless.
    }
  }

  /**
   * Starts senders, up to `concurrency`, while there are batches for them; each goes on while
   * whole batches are held. `partial`: the kick may send a partial batch (the interval, a flush,
   * close), not when a track() filled a batch.
   */
  private kick(partial = true): void {
    if (this.timer) {
      clearTimeout(this.timer);
      this.timer = undefined;
    }
    // After a delivery failed while closing, nothing more is sent (close() writes what is held to the folder).
    if (this.stopping || this.disposed || this.closeFailed) return;
    const batches = Math.ceil(this.queued() / this.maxBatch) + (this.spill?.size().batches ?? 0) - this.claimed.size;
    for (let n = Math.min(this.concurrency - this.senders.size, batches); n > 0; n--) {
      const sender: Promise<void> = this.drain(partial)
        .catch((err: unknown) => this.report(err))
        .finally(() => {
          this.senders.delete(sender);
          // What arrived during the send and is not a whole batch waits for the interval.
          if (this.queued() > 0 && !this.timer && !this.closed) this.timer = setTimeout(() => this.kick(), this.intervalMs).unref();
        });
      this.senders.add(sender);
    }
  }

  private wakeAll(): void {
    for (const wake of [...this.wakers]) wake();
  }

  /**
   * The sender: batches on disk first (they hold the oldest events; a batch still being written
   * is waited for), then the buffer. A partial batch goes when the kick was its own (the interval,
   * a flush, close); after that only whole ones.
   */
  private async drain(partial: boolean): Promise<void> {
    let ownKick = partial;
    // This sender's consecutive failed attempts: its backoff's exponent.
    let failures = 0;
    while (!this.stopping && !this.closeFailed) {
      if (this.writes.size > 0) await Promise.all(this.writes);
      const onDisk = this.spill?.oldestExcept(this.claimed);
      if (onDisk) {
        this.claimed.add(onDisk);
        let retryAfter: number | undefined;
        try {
          const body = await this.readSpilled(onDisk);
          if (body === undefined) continue;
          const outcome = await this.send(body, "application/x-ndjson", onDisk.events);
          if (outcome.kind === "taken") {
            failures = 0;
            await this.spill!.remove(onDisk);
            continue;
          }
          // Closing: what is held goes to disk rather than waiting for ClauseGuard.
          if (this.closed) return this.failWhileClosing();
          retryAfter = outcome.wait;
        } finally {
          this.claimed.delete(onDisk);
        }
        await this.pause(retryAfter, ++failures);
        continue;
      }
      if (this.queued() === 0) return;
      if (!ownKick && this.queued() < this.maxBatch && this.bufferBytes < this.maxBytes && !this.closed) return;
      ownKick = false;
      const batch = this.take();
      if (!this.spill) {
        await this.deliver(batch, 1);
        continue;
      }
      // A batch from the buffer counts as queued while it is in flight (one from the folder counts on disk).
      this.inFlight += batch.parts.length;
      let outcome: Outcome;
      try {
        outcome = await this.send(this.body(batch, this.format), this.contentType(), batch.parts.length);
        if (outcome.kind === "retry" && !this.spill.hasRoom()) {
          // The folder is full: this batch is tried from memory, as without a folder.
          if (!this.closed) await this.pause(outcome.wait, ++failures);
        }
      } finally {
        this.inFlight -= batch.parts.length;
      }
      if (outcome.kind === "taken") {
        failures = 0;
        continue;
      }
      if (!this.spill.hasRoom()) {
        await this.deliver(batch, 2);
        continue;
      }
      // Not taken: it waits on disk, and the sender tries the oldest batch there until ClauseGuard takes it.
      await this.writeSpill(batch);
      if (this.closed) return this.failWhileClosing();
      await this.pause(outcome.wait, ++failures);
    }
  }

  private async failWhileClosing(): Promise<void> {
    this.closeFailed = true;
    await this.spillHeld();
  }

  /** The oldest spilled batch's body; undefined when it cannot be read now (it is then forgotten, set aside, or waited for). */
  private async readSpilled(batch: SpilledBatch): Promise<string | undefined> {
    try {
      const body = await this.spill!.read(batch);
      this.readFailures.delete(batch.name);
      return body;
    } catch (err) {
      const failed = (this.readFailures.get(batch.name) ?? 0) + 1;
      const spill = this.spill!;
      if ((err as NodeJS.ErrnoException).code === "ENOENT") {
        // Removed by hand, or sent by another client on the folder.
        this.counts.droppedUndelivered += batch.events;
        this.report(new Error(`the spilled batch ${batch.name} is gone from the folder; its ${batch.events} event(s) are counted as undelivered`));
        await spill.remove(batch).catch(() => {});
      } else if (failed >= 3) {
        // Unreadable three times running: set aside (renamed .unreadable) so the batches after it go on.
        this.readFailures.delete(batch.name);
        this.counts.droppedUndelivered += batch.events;
        this.report(new Error(`could not read the spilled batch ${batch.name} (${(err as Error).message}); set aside as ${batch.name}.unreadable`));
        await spill.setAside(batch).catch(() => {});
      } else {
        this.readFailures.set(batch.name, failed);
        this.report(new Error(`could not read the spilled batch ${batch.name}: ${(err as Error).message}`));
        await this.pause(undefined, failed);
      }
      return undefined;
    }
  }

  private contentType(): string {
    return this.format === "ndjson" ? "application/x-ndjson" : "application/json";
  }

  /** Without a spill folder (or with a full one): a batch is tried up to maxAttempts, then dropped and counted. */
  private async deliver(batch: Batch, firstAttempt: number): Promise<void> {
    const body = this.body(batch, this.format);
    this.inFlight += batch.parts.length;
    try {
      await this.attempts(body, batch.parts.length, firstAttempt);
    } finally {
      this.inFlight -= batch.parts.length;
    }
  }

  private async attempts(body: string, events: number, firstAttempt: number): Promise<void> {
    for (let attempt = firstAttempt; ; attempt++) {
      const outcome = await this.send(body, this.contentType(), events);
      if (outcome.kind === "taken") return;
      if (attempt >= this.maxAttempts || this.stopping) {
        this.counts.droppedUndelivered += events;
        this.report(new Error(`dropped a batch of ${events} event(s) after ${attempt} attempt(s)`));
        return;
      }
      await this.pause(outcome.wait, attempt);
    }
  }

  /**
   * One attempt at POST /v1/events. Taken: the server answered 202 (its counts are added), or
   * refused the batch for good (a bad key, a body it cannot read: counted as rejected, dropped).
   * Otherwise it is to be retried, after Retry-After if the server gave one.
   */
  private async send(body: string, contentType: string, events: number): Promise<Outcome> {
    const headers: Record<string, string> = { authorization: `Bearer ${this.key}`, "content-type": contentType };
    let payload: string | Buffer = body;
    const compress = this.compression !== "none" && !this.gzipRefused && (this.compression === "gzip" || this.serverTakesGzip) && body.length >= compressFrom;
    if (compress) {
      // zlib's gzip runs on libuv's thread pool: the host's event loop does not wait for it.
      payload = await gzipAsync(body, { level: 1 });
      headers["content-encoding"] = "gzip";
    }
    try {
      this.counts.requests++;
      if (compress) this.counts.compressedRequests++;
      const res = await fetch(`${this.url}/v1/events`, { method: "POST", headers, body: payload, signal: AbortSignal.any([AbortSignal.timeout(this.requestTimeoutMs), this.stop.signal]) });
      this.learnEncodings(res);
      const text = await res.text();
      if (res.status === 202) {
        const r = JSON.parse(text) as IngestResult;
        this.counts.accepted += r.accepted;
        this.counts.duplicates += r.duplicates;
        this.counts.rejected += r.rejected.length;
        if (r.rejected.length) this.report(new Error(`ClauseGuard rejected ${r.rejected.length} event(s): ${JSON.stringify(r.rejected.slice(0, 3))}`));
        return { kind: "taken" };
      }
      if (res.status === 415 && compress) {
        // A server (or a proxy before it) that does not take gzip: the same batch again, plain.
        this.gzipRefused = true;
        this.report(new Error("ClauseGuard refused a gzip-compressed batch (415); sending uncompressed from now on"));
        return this.send(body, contentType, events);
      }
      // With a spill folder a refused key keeps the batches on disk: the events are sound, the credential is not.
      if (!retryable.has(res.status) && !(this.spill && (res.status === 401 || res.status === 403))) {
        this.counts.rejected += events;
        this.report(new Error(`ClauseGuard refused a batch of ${events}: ${res.status} ${text.slice(0, 300)}`));
        return { kind: "taken" };
      }
      const after = Number(res.headers.get("retry-after"));
      const wait = Number.isFinite(after) && after > 0 ? after * 1000 : undefined;
      this.report(new Error(`ClauseGuard answered ${res.status}; retrying${wait ? ` in ${wait} ms` : ""}`));
      return { kind: "retry", wait };
    } catch (err) {
      this.report(err instanceof Error ? err : new Error(String(err)));
      return { kind: "retry", wait: undefined };
    }
  }

  /** Waits before the next attempt (the `failures`-th in a row for its sender): Retry-After, else the backoff; close() cuts it short. */
  private async pause(retryAfterMs: number | undefined, failures: number): Promise<void> {
    if (this.stopping) return;
    this.counts.retries++;
    const wait = Math.min(retryAfterMs ?? this.backoff(failures), this.maxMs);
    await new Promise<void>((resolve) => {
      const wake = () => {
        clearTimeout(timer);
        this.wakers.delete(wake);
        resolve();
      };
      const timer = setTimeout(wake, wait);
      this.wakers.add(wake);
    });
  }

  private backoff(attempt: number): number {
    const exp = Math.min(this.maxMs, this.baseMs * 2 ** (attempt - 1));
    return Math.round(exp / 2 + Math.random() * (exp / 2));
  }

  /** An answer's Accept-Encoding (RFC 7694): whether the server takes gzip-compressed bodies. */
  private learnEncodings(res: Response): void {
    const accepts = res.headers.get("accept-encoding");
    if (accepts === null) return;
    this.serverTakesGzip = accepts.split(",").some((item) => {
      const [coding, ...params] = item.split(";").map((x) => x.trim().toLowerCase());
      const q = params.find((p) => p.startsWith("q="));
      return coding === "gzip" && (q === undefined || Number(q.slice(2)) > 0);
    });
  }

  /** Up to maxBatch events and maxBytes, the oldest first; never empty (the caller checks). */
  private take(): Batch {
    const start = this.head;
    let bytes = 0;
    while (this.head < this.buffer.length && this.head - start < this.maxBatch) {
      const size = this.sizes[this.head]! + 1;
      if (this.head > start && bytes + size > this.maxBytes) break;
      bytes += size;
      this.head++;
    }
    const parts = this.buffer.slice(start, this.head);
    this.bufferBytes -= bytes - parts.length;
    this.compact();
    return { seq: this.nextSeq++, parts };
  }

  /** Drops the consumed head of the array once it is large (amortized: each slot is copied at most once more). */
  private compact(): void {
    if (this.head > 65_536 && this.head * 2 > this.buffer.length) {
      this.buffer = this.buffer.slice(this.head);
      this.sizes = this.sizes.slice(this.head);
      this.head = 0;
    }
  }

  /** Drops everything held, counted as undelivered (close() without room for it). */
  private dropHeld(why: string): void {
    const n = this.queued();
    this.counts.droppedUndelivered += n;
    if (n > 0) this.report(new Error(`${why}: dropped ${n} held event(s) at close`));
    this.buffer = [];
    this.sizes = [];
    this.head = 0;
    this.bufferBytes = 0;
  }

  private body(batch: Batch, format: "ndjson" | "json"): string {
    return format === "ndjson" ? `${batch.parts.join("\n")}\n` : `[${batch.parts.join(",")}]`;
  }

  /**
   * The buffer is full: moves its oldest batch to the spill folder (written in the background) and
   * says whether it made room. No room when there is no folder, the folder is full, or writes are
   * behind by a buffer's worth (or ten batches, if more).
   */
  private spillOldest(): boolean {
    if (!this.spill || !this.spill.hasRoom() || this.spilling >= Math.max(this.maxBuffer, 10 * this.maxBatch)) return false;
    void this.writeSpill(this.take());
    return true;
  }

  private writeSpill(batch: Batch): Promise<void> {
    const n = batch.parts.length;
    this.spilling += n;
    const write = this.spill!.write(batch.seq, this.body(batch, "ndjson"), n).then(
      () => {
        this.counts.spilled += n;
        // The sender may have gone idle while this was written.
        if (!this.closed) this.kick();
      },
      (err: unknown) => {
        this.counts.droppedOverflow += n;
        this.report(new Error(`could not write a batch of ${n} to the spill folder: ${(err as Error).message}`));
      },
    );
    const tracked = write.finally(() => {
      this.spilling -= n;
      this.writes.delete(tracked);
    });
    this.writes.add(tracked);
    return tracked;
  }

  /** Everything still held goes to the spill folder, or without one is counted as undelivered. */
  private async spillHeld(): Promise<void> {
    if (!this.spill) return this.dropHeld("no spill folder");
    while (this.queued() > 0) {
      if (!this.spill.hasRoom()) return this.dropHeld("the spill folder is full");
      await this.writeSpill(this.take());
    }
    // Batches the overflow was writing land before close() gives the folder up.
    await Promise.all(this.writes);
  }

  /** One read of an account's enforcement at a time; its answer fills the cache. */
  private refresh(accountId: string): Promise<EnforcementStatus | undefined> {
    let read = this.refreshing.get(accountId);
    if (read) return read;
    read = (async () => {
      try {
        const res = await fetch(`${this.url}/v1/accounts/${encodeURIComponent(accountId)}/enforcement`, {
          headers: { authorization: `Bearer ${this.key}` },
          signal: AbortSignal.timeout(10_000),
        });
        this.learnEncodings(res);
        if (!res.ok) throw new Error(`enforcement of ${accountId}: ${res.status} ${(await res.text()).slice(0, 200)}`);
        const status = (await res.json()) as EnforcementStatus;
        this.touch(accountId, { status, at: Date.now() });
        return status;
      } catch (err) {
        this.report(err instanceof Error ? err : new Error(String(err)));
        return undefined;
      } finally {
        this.refreshing.delete(accountId);
      }
    })();
    this.refreshing.set(accountId, read);
    return read;
  }

  /** Caches an answer as the most recently used, evicting the least recently used past maxEntries. */
  private touch(accountId: string, entry: { status: EnforcementStatus; at: number }): void {
    this.cache.delete(accountId);
    this.cache.set(accountId, entry);
    if (this.cache.size > this.maxEntries) this.cache.delete(this.cache.keys().next().value as string);
  }
}

function oneOf<T extends string>(name: string, value: T, allowed: readonly T[]): T {
  if (!allowed.includes(value)) throw new RangeError(`${name} must be one of ${allowed.join(", ")}; got ${String(value)}`);
  return value;
}

function bounded(name: string, value: number, min: number, max: number): number {
  if (!Number.isFinite(value) || value < min || value > max) throw new RangeError(`${name} must be between ${min} and ${max}; got ${value}`);
  return value;
}
