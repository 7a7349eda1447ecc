// npm run bench:client -- [--db pglite|postgres] [--events 100000] [--outage-events 100000] [--buffer 100000] [--database-url postgresql://...]
// The gateway's client (clients/node) against `clauseguard serve` in a child process: how many
// events a second it delivers when tracked as fast as a loop can (until flush() resolves), for each
// body (NDJSON gzip-compressed, NDJSON, JSON) and with 4 or 1 requests in flight; an outage with a spill folder (ClauseGuard stopped
// while --outage-events are tracked into a 10,000-event buffer: what reaches the disk, what is
// dropped, and how fast the folder drains once ClauseGuard is back); the memory its buffer takes
// holding --buffer events while ClauseGuard is unreachable; and the enforcement check's latency
// from the cache and on a miss.
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { ClauseGuardClient, type UsageEvent } from "../clients/node/src/index";
import { freePort, makeEvent, oneOf, pickAccount, quantile, scriptOptions, startBenchServer, wholeNumber } from "./bench-support";

const args = scriptOptions("bench:client", {
  db: { type: "string", default: "pglite" },
  events: { type: "string", default: "100000" },
  "outage-events": { type: "string", default: "100000" },
  buffer: { type: "string", default: "100000" },
  "database-url": { type: "string", default: "postgresql://postgres@127.0.0.1:5432/postgres" },
});

const kind = oneOf("db", args.db, ["pglite", "postgres"]);
const total = wholeNumber("events", args.events, 1, 10_000_000);
const outageEvents = wholeNumber("outage-events", args["outage-events"], 1, 10_000_000);
const bufferSize = wholeNumber("buffer", args.buffer, 1, 10_000_000);

const startAt = Date.parse("2026-12-01T00:00:00Z");
let next = 0;
const make = () => {
  const i = next++;
  return makeEvent(i, pickAccount(i, 5000), startAt + i * 10) as UsageEvent;
};
/** Tracks n events, 1,000 per tick, as fast as a loop can. */
async function trackMany(client: ClauseGuardClient, n: number): Promise<void> {
  for (let i = 0; i < n; i += 1000) {
    for (let j = i; j < Math.min(n, i + 1000); j++) client.track(make());
    await new Promise((r) => setImmediate(r));
  }
}

/** Each phase runs against a server of its own on a fresh database, so no phase pays for another's data or backlog. */
async function freshServer(name: string) {
  return startBenchServer(kind, args["database-url"]!, `client-${name}`, { port: await freePort() });
}

async function main(): Promise<void> {
  console.log(`ClauseGuard client bench: clauseguard serve on ${kind} (a fresh database per phase), ${os.cpus().length} cores (${os.cpus()[0]?.model ?? "?"})`);
  // Memory first, before any other phase leaves garbage for a collection to free: --buffer events
  // held while ClauseGuard is unreachable (a closed port).
  global.gc?.();
  const before = process.memoryUsage().heapUsed;
  const offline = new ClauseGuardClient({ url: "http://127.0.0.1:9", key: "cg_unused", batch: { maxEvents: 1000, intervalMs: 3_600_000 }, buffer: { maxEvents: bufferSize }, retry: { maxAttempts: 1000, baseMs: 3_600_000 } });
  for (let i = 0; i < bufferSize; i++) offline.track(make());
  global.gc?.();
  const held = process.memoryUsage().heapUsed - before;
  console.log(`buffer: ${offline.stats().queued} events held while unreachable take ${(held / 1024 / 1024).toFixed(0)} MiB of heap (${Math.round(held / bufferSize)} bytes each)${global.gc ? "" : " (run with node --expose-gc for a steadier figure)"}`);
  await offline.close({ timeoutMs: 0 });

  // Delivery, per body: tracked as fast as a loop can, until close() has delivered everything.
  for (const body of [
    { name: "NDJSON, gzip, 4 requests in flight (the defaults)", format: "ndjson", compression: "auto", concurrency: 4 },
    { name: "NDJSON, gzip, 1 request in flight", format: "ndjson", compression: "auto", concurrency: 1 },
    { name: "NDJSON, uncompressed, 4 in flight", format: "ndjson", compression: "none", concurrency: 4 },
    { name: "JSON, uncompressed, 4 in flight", format: "json", compression: "none", concurrency: 4 },
  ] as const) {
    const server = await freshServer("delivery");
    try {
      const client = new ClauseGuardClient({ url: server.url, key: server.adminKey, batch: { maxEvents: 1000, intervalMs: 50, format: body.format, compression: body.compression, concurrency: body.concurrency }, buffer: { maxEvents: total } });
      const t0 = performance.now();
      await trackMany(client, total);
      await client.close({ timeoutMs: 3_600_000 });
      const seconds = (performance.now() - t0) / 1000;
      const s = client.stats();
      console.log(`delivery, ${body.name}: ${s.accepted} accepted (${s.duplicates} duplicates, ${s.retries} retries, ${s.requests} requests, ${s.compressedRequests} compressed) in ${seconds.toFixed(1)} s = ${Math.round(s.accepted / seconds)} events/s`);
    } finally {
      await server.close();
    }
  }

  // An outage with a spill folder: ClauseGuard stopped while events are tracked into a 10,000-event buffer.
  const server = await freshServer("outage");
  const { adminKey } = server;
  const spillDir = fs.mkdtempSync(path.join(os.tmpdir(), "cg-bench-client-spill-"));
  try {
    await server.stopKeepingData();
    const spilling = new ClauseGuardClient({ url: server.url, key: adminKey, batch: { maxEvents: 1000, intervalMs: 50 }, buffer: { maxEvents: 10_000 }, retry: { maxMs: 1000 }, spill: { dir: spillDir } });
    const o0 = performance.now();
    await trackMany(spilling, outageEvents);
    const tracked = (performance.now() - o0) / 1000;
    // The last writes to the folder settle.
    await new Promise((r) => setTimeout(r, 500));
    const down = spilling.stats();
    console.log(`outage: ${outageEvents} events tracked in ${tracked.toFixed(1)} s while ClauseGuard was down; ${down.onDisk.events} on disk in ${down.onDisk.batches} batches (${(down.onDisk.bytes / 1024 / 1024).toFixed(1)} MiB), ${down.queued} in memory, ${down.droppedOverflow} dropped`);
    await server.startAgain();
    const r0 = performance.now();
    await spilling.flush();
    const drained = (performance.now() - r0) / 1000;
    const up = spilling.stats();
    console.log(`recovery: ClauseGuard back; everything delivered in ${drained.toFixed(1)} s (${up.accepted} accepted, ${up.duplicates} duplicates, ${up.onDisk.events} left on disk) = ${Math.round((up.accepted + up.duplicates) / drained)} events/s`);
    await spilling.close();

    // Enforcement: misses (each a read of the server), then hits; once evaluation has caught up with the outage's events.
    for (;;) {
      const ready = await fetch(`${server.url}/readyz`).then((r) => r.json() as Promise<{ evaluation?: { queueDepth: number } }>);
      if (ready.evaluation?.queueDepth === 0) break;
      await new Promise((r) => setTimeout(r, 500));
    }
    const check = new ClauseGuardClient({ url: server.url, key: adminKey, enforcement: { deadlineMs: 5000 } });
    const time = async (accountId: string) => {
      const a = performance.now();
      const answer = await check.enforcement(accountId);
      return { ms: performance.now() - a, source: answer.source };
    };
    const misses: number[] = [];
    for (let i = 0; i < 2000; i++) misses.push((await time(`acct_bench_check_${i}`)).ms);
    const hits: number[] = [];
    for (let i = 0; i < 100_000; i++) hits.push((await time(`acct_bench_check_${i % 2000}`)).ms);
    misses.sort((a, b) => a - b);
    hits.sort((a, b) => a - b);
    const f = (x: number) => (x < 0.1 ? `${(x * 1000).toFixed(0)} µs` : `${x.toFixed(2)} ms`);
    console.log(`enforcement on a miss (a read of the server): p50 ${f(quantile(misses, 0.5))}, p99 ${f(quantile(misses, 0.99))} (2,000 accounts)`);
    console.log(`enforcement from the cache: p50 ${f(quantile(hits, 0.5))}, p99 ${f(quantile(hits, 0.99))} (100,000 checks); stats ${JSON.stringify(check.stats().enforcement)}`);
    await check.close();
  } finally {
    await server.close();
    fs.rmSync(spillDir, { recursive: true, force: true });
  }
}

main().then(
  () => process.exit(0),
  (err: unknown) => {
    console.error(err);
    process.exit(1);
  },
);
