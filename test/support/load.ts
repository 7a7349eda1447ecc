// Sustained ingestion as a gateway sends it, for the fault tests: a few clients post batches of
// new events back to back and remember, per batch, whether the server acknowledged it (202),
// refused it (any other status) or never answered (the connection failed: outcome unknown).
import { setTimeout as sleep } from "node:timers/promises";

export type SentBatch = {
  /** When the request was sent (Date.now()). */
  startedAt: number;
  ids: string[];
  /** The request body, for a retry. */
  body: string;
  outcome: "acked" | "refused" | "unanswered";
  status?: number;
  contentType?: string;
  /** Milliseconds from sending to the answer or the failure. */
  ms: number;
};

export type Load = {
  batches: SentBatch[];
  acked(): SentBatch[];
  /** Resolves once every client has sent at least `n` more batches after the call. */
  waitForBatches(n: number): Promise<void>;
  stop(): Promise<SentBatch[]>;
};

/**
 * One in 23 events (23 is prime to the account count, so every account gets some) asks for synthetic training data with a large output, so every account that
 * has events evaluated gets a case under extraction.synthetic-data-request: evaluation's progress
 * is visible through the API.
 */
export function loadEvent(id: string, accountId: string, n: number): object {
  const flagged = n % 23 === 0;
  return {
    eventId: id,
    occurredAt: new Date(Date.UTC(2026, 10, 24, 10) + n * 1000).toISOString(),
    accountId,
    model: "frontier-large",
    inputTokens: 100 + (n % 500),
    outputTokens: flagged ? 5000 : 200,
    ...(flagged ? { signals: { syntheticDataRequest: true } } : {}),
  };
}

export function sustainLoad(opts: { url: () => string; key: string; prefix: string; clients?: number; batchSize?: number; accounts?: number }): Load {
  const clients = opts.clients ?? 4;
  const batchSize = opts.batchSize ?? 100;
  const accounts = opts.accounts ?? 10;
  const batches: SentBatch[] = [];
  let running = true;
  let sent = 0;
  const waiters: { until: number; resolve: () => void }[] = [];
  const loops = Array.from({ length: clients }, async (_, c) => {
    for (let b = 0; running; b++) {
      const ids = Array.from({ length: batchSize }, (_, i) => `${opts.prefix}-${c}-${b}-${i}`);
      const body = JSON.stringify(ids.map((id, i) => loadEvent(id, `${opts.prefix}-acct-${(b * batchSize + i) % accounts}`, b * batchSize + i)));
      const started = Date.now();
      let batch: SentBatch;
      try {
        const res = await fetch(`${opts.url()}/v1/events`, {
          method: "POST",
          headers: { authorization: `Bearer ${opts.key}`, "content-type": "application/json" },
          body,
          signal: AbortSignal.timeout(30_000),
        });
        await res.arrayBuffer();
        batch = { startedAt: started, ids, body, outcome: res.status === 202 ? "acked" : "refused", status: res.status, contentType: res.headers.get("content-type") ?? undefined, ms: Date.now() - started };
      } catch {
        batch = { startedAt: started, ids, body, outcome: "unanswered", ms: Date.now() - started };
      }
      batches.push(batch);
      sent++;
      for (const w of waiters.filter((w) => sent >= w.until)) {
        waiters.splice(waiters.indexOf(w), 1);
        w.resolve();
      }
      // A gateway backs off a little when the server is away; without it a refused port spins.
      if (batch.outcome !== "acked") await sleep(50);
    }
  });
  return {
    batches,
    acked: () => batches.filter((b) => b.outcome === "acked"),
    waitForBatches: (n) => new Promise<void>((resolve) => waiters.push({ until: sent + n * clients, resolve })),
    async stop() {
      running = false;
      await Promise.all(loops);
      return batches;
    },
  };
}

/** Every stored eventId with a prefix, and how many times it is stored, read through the API page by page. */
export async function storedEventIds(url: string, key: string, prefix: string, accounts: number): Promise<Map<string, number>> {
  const seen = new Map<string, number>();
  for (let a = 0; a < accounts; a++) {
    for (const id of await accountEventIds(url, key, `${prefix}-acct-${a}`)) seen.set(id, (seen.get(id) ?? 0) + 1);
  }
  return seen;
}

/** Every stored event id of one account, through GET /v1/events at `url`, following the cursors. */
export async function accountEventIds(url: string, key: string, accountId: string): Promise<string[]> {
  const ids: string[] = [];
  let cursor: string | undefined;
  do {
    const res = await fetch(`${url}/v1/events?accountId=${accountId}&limit=500${cursor ? `&cursor=${cursor}` : ""}`, { headers: { authorization: `Bearer ${key}` } });
    if (res.status !== 200) throw new Error(`GET /v1/events answered ${res.status}: ${await res.text()}`);
    const page = (await res.json()) as { items: { eventId: string }[]; nextCursor?: string | null };
    ids.push(...page.items.map((e) => e.eventId));
    cursor = page.nextCursor ?? undefined;
  } while (cursor);
  return ids;
}
