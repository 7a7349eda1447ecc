// npm run bench:client -- [--db pglite|postgres] [--events 200000] [--buffer 100000] [--database-url postgresql://...]
// The gateway's client (clients/node) against `clauseguard serve` in a child process: how many
// events a second it delivers when tracked as fast as a loop can (until flush() resolves), the
// memory its buffer takes holding --buffer events while ClauseGuard is unreachable, and the
// enforcement check's latency from the cache and on a miss.
import os from "node:os";
import { ClauseGuardClient, type UsageEvent } from "../clients/node/src/index";
import { makeEvent, oneOf, pickAccount, quantile, scriptOptions, startBenchServer, wholeNumber } from "./bench-support";

const args = scriptOptions("bench:client", {
  db: { type: "string", default: "pglite" },
  events: { type: "string", default: "200000" },
  buffer: { type: "string", default: "100000" },
  "database-url": { type: "string", default: "postgresql://postgres@127.0.0.1:5432/postgres" },
});

const kind = oneOf("db", args.db, ["pglite", "postgres"]);
const total = wholeNumber("events", args.events, 1, 10_000_000);
const bufferSize = wholeNumber("buffer", args.buffer, 1, 10_000_000);

async function main(): Promise<void> {
  const server = await startBenchServer(kind, args["database-url"]!, "client");
  const { adminKey } = server;
  try {
    console.log(`ClauseGuard client bench: clauseguard serve on ${kind}, ${total} events, ${os.cpus().length} cores (${os.cpus()[0]?.model ?? "?"})`);
    const start = Date.parse("2026-12-01T00:00:00Z");
    const make = (i: number) => makeEvent(i, pickAccount(i, 5000), start + i * 10) as UsageEvent;

    // Delivery: tracked as fast as a loop can, 1,000 per tick.
    const client = new ClauseGuardClient({ url: server.url, key: adminKey, batch: { maxEvents: 1000, intervalMs: 50 }, buffer: { maxEvents: total } });
    const t0 = performance.now();
    for (let i = 0; i < total; i += 1000) {
      for (let j = i; j < Math.min(total, i + 1000); j++) client.track(make(j));
      await new Promise((r) => setImmediate(r));
    }
    await client.flush();
    const seconds = (performance.now() - t0) / 1000;
    const s = client.stats();
    console.log(`delivery: ${s.accepted} accepted (${s.duplicates} duplicates, ${s.retries} retries, ${s.requests} requests) in ${seconds.toFixed(1)} s = ${Math.round(s.accepted / seconds)} events/s`);

    // Memory: --buffer events held while ClauseGuard is unreachable (a closed port).
    global.gc?.();
    const before = process.memoryUsage().heapUsed;
    const offline = new ClauseGuardClient({ url: "http://127.0.0.1:9", key: adminKey, batch: { maxEvents: 1000, intervalMs: 3_600_000 }, buffer: { maxEvents: bufferSize }, retry: { maxAttempts: 1000, baseMs: 3_600_000 } });
    for (let i = 0; i < bufferSize; i++) offline.track(make(total + i));
    global.gc?.();
    const held = process.memoryUsage().heapUsed - before;
    console.log(`buffer: ${offline.stats().queued} events held while unreachable take ${(held / 1024 / 1024).toFixed(0)} MiB of heap (${Math.round(held / bufferSize)} bytes each)${global.gc ? "" : " (run with node --expose-gc for a steadier figure)"}`);

    // Enforcement: misses (each a read of the server), then hits.
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
    await client.close();
  } finally {
    await server.close();
  }
}

main().then(
  () => process.exit(0),
  (err: unknown) => {
    console.error(err);
    process.exit(1);
  },
);
