// @clauseguard/client: the gateway's side of ClauseGuard (docs/client.md). `track` returns at once
// and never throws for a delivery problem; events are sent in batches (by count, bytes and time),
// one request at a time, retried with backoff (Retry-After on 429 and 503) under their eventId, so
// a retry never stores an event twice. The buffer is bounded; what it drops is counted.
// `enforcement` answers from a cache refreshed in the background, and from the caller's policy when
// ClauseGuard cannot answer within the deadline. Node's fetch only: no runtime dependency.
import { createHmac, timingSafeEqual } from "node:crypto";
import type { operations } from "./api.js";

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
    /** JSON bytes per request (default 1 MiB; the server's default body limit is 10 MiB). */
    maxBytes?: number;
    /** A partial batch is sent this long after its first event (default 1000 ms). */
    intervalMs?: number;
  };
  buffer?: {
    /** Events held in memory at most (default 100,000). */
    maxEvents?: number;
    /** When full: drop the oldest held event, or the new one (default drop-oldest). Either is counted. */
    overflow?: "drop-oldest" | "drop-newest";
  };
  retry?: {
    /** Attempts per batch before it is dropped and counted (default 10). */
    maxAttempts?: number;
    /** First backoff (default 250 ms), doubled each attempt with jitter, at most maxMs (default 30 s). */
    baseMs?: number;
    maxMs?: number;
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
  /** Held, not sent yet (in-flight batch included). */
  queued: number;
  accepted: number;
  duplicates: number;
  /** Refused by the server as invalid (per item, or a whole batch answered 400). */
  rejected: number;
  /** Dropped by the overflow policy. */
  droppedOverflow: number;
  /** Dropped after maxAttempts failed deliveries. */
  droppedUndelivered: number;
  retries: number;
  requests: number;
  enforcement: { hits: number; misses: number; stale: number; policy: number };
};

const retryable = new Set([408, 429, 500, 502, 503, 504]);

export class ClauseGuardClient {
  private readonly url: string;
  private readonly key: string;
  private readonly maxBatch: number;
  private readonly maxBytes: number;
  private readonly intervalMs: number;
  private readonly maxBuffer: number;
  private readonly overflow: "drop-oldest" | "drop-newest";
  private readonly maxAttempts: number;
  private readonly baseMs: number;
  private readonly maxMs: number;
  private readonly ttlMs: number;
  private readonly maxStaleMs: number;
  private readonly maxEntries: number;
  private readonly deadlineMs: number;
  private readonly whenUnavailable: "open" | "closed";
  private readonly onError: (err: Error) => void;

  /** Held events, oldest first; `head` is where the oldest is (a queue without shifting the array). */
  private buffer: UsageEvent[] = [];
  private head = 0;
  private timer: NodeJS.Timeout | undefined;
  private sending: Promise<void> | undefined;
  private closed = false;
  private readonly counts: Omit<ClientStats, "queued" | "enforcement"> = { accepted: 0, duplicates: 0, rejected: 0, droppedOverflow: 0, droppedUndelivered: 0, retries: 0, requests: 0 };
  private readonly cache = new Map<string, { status: EnforcementStatus; at: number }>();
  private readonly refreshing = new Map<string, Promise<EnforcementStatus | undefined>>();
  private readonly enforcementCounts = { hits: 0, misses: 0, stale: 0, policy: 0 };
  private inFlight = 0;

  constructor(options: ClientOptions) {
    if (!/^https?:\/\//.test(options.url)) throw new TypeError("url must be an http:// or https:// URL");
    if (!options.key) throw new TypeError("key is required (an API key with events:write)");
    this.url = options.url.replace(/\/+$/, "");
    this.key = options.key;
    this.maxBatch = bounded("batch.maxEvents", options.batch?.maxEvents ?? 500, 1, 5000);
    this.maxBytes = bounded("batch.maxBytes", options.batch?.maxBytes ?? 1024 * 1024, 1024, 10 * 1024 * 1024);
    this.intervalMs = bounded("batch.intervalMs", options.batch?.intervalMs ?? 1000, 0, 3_600_000);
    this.maxBuffer = bounded("buffer.maxEvents", options.buffer?.maxEvents ?? 100_000, 1, 100_000_000);
    this.overflow = options.buffer?.overflow ?? "drop-oldest";
    this.maxAttempts = bounded("retry.maxAttempts", options.retry?.maxAttempts ?? 10, 1, 1000);
    this.baseMs = bounded("retry.baseMs", options.retry?.baseMs ?? 250, 1, 3_600_000);
    this.maxMs = bounded("retry.maxMs", options.retry?.maxMs ?? 30_000, 1, 3_600_000);
    this.ttlMs = bounded("enforcement.ttlMs", options.enforcement?.ttlMs ?? 5000, 0, 86_400_000);
    this.maxStaleMs = bounded("enforcement.maxStaleMs", options.enforcement?.maxStaleMs ?? 60_000, 0, 86_400_000);
    this.maxEntries = bounded("enforcement.maxEntries", options.enforcement?.maxEntries ?? 100_000, 1, 100_000_000);
    this.deadlineMs = bounded("enforcement.deadlineMs", options.enforcement?.deadlineMs ?? 50, 1, 60_000);
    this.whenUnavailable = options.enforcement?.whenUnavailable ?? "open";
    this.onError = options.onError ?? (() => {});
  }

  /** Holds an event for delivery and returns at once. After close(), events are refused (counted as overflow). */
  track(event: UsageEvent): void {
    if (this.closed) {
      this.counts.droppedOverflow++;
      return;
    }
    if (this.queued() >= this.maxBuffer) {
      this.counts.droppedOverflow++;
      if (this.overflow === "drop-newest") return;
      this.head++;
    }
    this.buffer.push(event);
    if (this.queued() >= this.maxBatch) this.kick();
    else if (!this.timer && this.intervalMs > 0) this.timer = setTimeout(() => this.kick(), this.intervalMs).unref();
    else if (this.intervalMs === 0) this.kick();
  }

  /** Sends everything held now; resolves when it is delivered (or dropped after its attempts). */
  async flush(): Promise<void> {
    while (this.queued() > 0 || this.sending) {
      this.kick();
      await this.sending;
    }
  }

  /** Stops taking events, delivers what is held, and stops its timers. */
  async close(): Promise<void> {
    this.closed = true;
    await this.flush();
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
  }

  stats(): ClientStats {
    return { queued: this.queued() + this.inFlight, ...this.counts, enforcement: { ...this.enforcementCounts } };
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

  /** Starts a send if none runs; the send goes on while whole batches are held. */
  private kick(): void {
    if (this.timer) {
      clearTimeout(this.timer);
      this.timer = undefined;
    }
    if (this.sending || this.queued() === 0) return;
    this.sending = this.drain().finally(() => {
      this.sending = undefined;
      // What arrived during the send and is not a whole batch waits for the interval.
      if (this.queued() > 0 && !this.timer && !this.closed) this.timer = setTimeout(() => this.kick(), this.intervalMs).unref();
    });
  }

  private async drain(): Promise<void> {
    for (;;) {
      const batch = this.take();
      if (!batch) return;
      await this.deliver(batch);
      // A partial batch waits for its interval unless closing or flushing (kick takes it then).
      if (this.queued() < this.maxBatch && !this.closed) return;
    }
  }

  /** Up to maxBatch events and maxBytes of JSON, the oldest first; never an empty batch. */
  private take(): { events: UsageEvent[]; body: string } | undefined {
    if (this.queued() === 0) return undefined;
    const parts: string[] = [];
    let bytes = 2;
    while (this.head < this.buffer.length && parts.length < this.maxBatch) {
      const json = JSON.stringify(this.buffer[this.head]);
      const size = Buffer.byteLength(json) + 1;
      if (parts.length > 0 && bytes + size > this.maxBytes) break;
      parts.push(json);
      bytes += size;
      this.head++;
    }
    const events = this.buffer.slice(this.head - parts.length, this.head);
    // Compact the array once its consumed head is large.
    if (this.head > 65_536 && this.head * 2 > this.buffer.length) {
      this.buffer = this.buffer.slice(this.head);
      this.head = 0;
    }
    this.inFlight = events.length;
    return { events, body: `[${parts.join(",")}]` };
  }

  private async deliver(batch: { events: UsageEvent[]; body: string }): Promise<void> {
    try {
      for (let attempt = 1; ; attempt++) {
        let wait: number;
        try {
          this.counts.requests++;
          const res = await fetch(`${this.url}/v1/events`, {
            method: "POST",
            headers: { authorization: `Bearer ${this.key}`, "content-type": "application/json" },
            body: batch.body,
            signal: AbortSignal.timeout(30_000),
          });
          const text = await res.text();
          if (res.status === 202) {
            const r = JSON.parse(text) as IngestResult;
            this.counts.accepted += r.accepted;
            this.counts.duplicates += r.duplicates;
            this.counts.rejected += r.rejected.length;
            if (r.rejected.length) this.onError(new Error(`ClauseGuard rejected ${r.rejected.length} event(s): ${JSON.stringify(r.rejected.slice(0, 3))}`));
            return;
          }
          if (!retryable.has(res.status)) {
            // A request the server will never take (a bad key, a batch it cannot read): dropped, counted.
            this.counts.rejected += batch.events.length;
            this.onError(new Error(`ClauseGuard refused a batch of ${batch.events.length}: ${res.status} ${text.slice(0, 300)}`));
            return;
          }
          const after = Number(res.headers.get("retry-after"));
          wait = Number.isFinite(after) && after > 0 ? after * 1000 : this.backoff(attempt);
          this.onError(new Error(`ClauseGuard answered ${res.status}; retrying in ${wait} ms`));
        } catch (err) {
          wait = this.backoff(attempt);
          this.onError(err instanceof Error ? err : new Error(String(err)));
        }
        if (attempt >= this.maxAttempts) {
          this.counts.droppedUndelivered += batch.events.length;
          this.onError(new Error(`dropped a batch of ${batch.events.length} event(s) after ${attempt} attempts`));
          return;
        }
        this.counts.retries++;
        await new Promise((r) => setTimeout(r, Math.min(wait, this.maxMs)));
      }
    } finally {
      this.inFlight = 0;
    }
  }

  private backoff(attempt: number): number {
    const exp = Math.min(this.maxMs, this.baseMs * 2 ** (attempt - 1));
    return Math.round(exp / 2 + Math.random() * (exp / 2));
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
        if (!res.ok) throw new Error(`enforcement of ${accountId}: ${res.status} ${(await res.text()).slice(0, 200)}`);
        const status = (await res.json()) as EnforcementStatus;
        this.touch(accountId, { status, at: Date.now() });
        return status;
      } catch (err) {
        this.onError(err instanceof Error ? err : new Error(String(err)));
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

function bounded(name: string, value: number, min: number, max: number): number {
  if (!Number.isFinite(value) || value < min || value > max) throw new RangeError(`${name} must be between ${min} and ${max}; got ${value}`);
  return value;
}
