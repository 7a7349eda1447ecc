// npm run bench:serve -- [--db pglite|postgres] [--seconds 60] [--clients 4] [--batch 1000]
//   [--accounts 5000] [--probe-ms 50] [--database-url postgresql://...]
// The configuration users run: `clauseguard serve` (HTTP API and evaluation in one process, the
// embedded database by default) in a child process, posted to by several clients as fast as it
// takes them (each honours Retry-After, as the CLI and a well-behaved gateway do), while a probe
// times /healthz, the gateway's enforcement check and the first page of the case list. Prints
// events/s accepted, answers by status, the probes' latencies, and how long evaluation took to
// finish after the last post.
import os from "node:os";
import { makeEvent, oneOf, pickAccount, quantile, scriptOptions, startBenchServer, wholeNumber } from "./bench-support";

const args = scriptOptions("bench:serve", {
  db: { type: "string", default: "pglite" },
  seconds: { type: "string", default: "60" },
  clients: { type: "string", default: "4" },
  batch: { type: "string", default: "1000" },
  accounts: { type: "string", default: "5000" },
  "probe-ms": { type: "string", default: "50" },
  /** Give up waiting for evaluation to finish after this many seconds past the last post. */
  "drain-seconds": { type: "string", default: "600" },
  "database-url": { type: "string", default: "postgresql://postgres@127.0.0.1:5432/postgres" },
});

const kind = oneOf("db", args.db, ["pglite", "postgres"]);
const seconds = wholeNumber("seconds", args.seconds, 1, 3600);
const clients = wholeNumber("clients", args.clients, 1, 64);
const batchSize = wholeNumber("batch", args.batch, 1, 5000);
const accounts = wholeNumber("accounts", args.accounts, 1);
const probeMs = wholeNumber("probe-ms", args["probe-ms"], 1, 10_000);
const drainSeconds = wholeNumber("drain-seconds", args["drain-seconds"], 1);

type Probe = { name: string; path: string; times: number[]; failures: number };

async function timed(url: string, key: string): Promise<{ ms: number; ok: boolean }> {
  const t0 = performance.now();
  try {
    const res = await fetch(url, { headers: { authorization: `Bearer ${key}` }, signal: AbortSignal.timeout(120_000) });
    await res.arrayBuffer();
    return { ms: performance.now() - t0, ok: res.ok };
  } catch {
    return { ms: performance.now() - t0, ok: false };
  }
}

function summary(times: number[]): string {
  const s = [...times].sort((a, b) => a - b);
  const f = (x: number) => (x < 10 ? x.toFixed(1) : x.toFixed(0));
  return `p50 ${f(quantile(s, 0.5))} ms, p99 ${f(quantile(s, 0.99))} ms, max ${f(s[s.length - 1] ?? 0)} ms (${s.length} probes)`;
}

async function main(): Promise<void> {
  const server = await startBenchServer(kind, args["database-url"]!, "serve");
  const { adminKey } = server;
  const url = server.url;
  console.log(
    `bench:serve: clauseguard serve (API and evaluation in one process) on ${kind}, ${clients} clients posting ${batchSize}-event batches for ${seconds} s, ` +
      `${accounts} accounts, probes every ${probeMs} ms; ${os.cpus().length} cores (${os.cpus()[0]?.model ?? "?"})`,
  );

  const start0 = Date.parse("2026-11-24T00:00:00Z");
  let next = 0;
  let accepted = 0;
  const statuses = new Map<string, number>();
  const count = (k: string) => statuses.set(k, (statuses.get(k) ?? 0) + 1);
  const postLatency: number[] = [];
  const endAt = Date.now() + seconds * 1000;

  const client = async () => {
    let batch: string | undefined;
    while (Date.now() < endAt) {
      if (!batch) {
        const events = Array.from({ length: batchSize }, () => {
          const i = next++;
          return makeEvent(i, pickAccount(i, accounts), start0 + i * 10);
        });
        batch = JSON.stringify(events);
      }
      const t0 = performance.now();
      try {
        const res = await fetch(`${url}/v1/events`, {
          method: "POST",
          headers: { authorization: `Bearer ${adminKey}`, "content-type": "application/json" },
          body: batch,
          signal: AbortSignal.timeout(120_000),
        });
        const body = (await res.json().catch(() => ({}))) as { accepted?: number; duplicates?: number };
        postLatency.push(performance.now() - t0);
        count(String(res.status));
        if (res.status === 202) {
          accepted += (body.accepted ?? 0) + (body.duplicates ?? 0);
          batch = undefined;
        } else {
          // Retry the same batch after the server's Retry-After (event ids make a repeat safe).
          const wait = Number(res.headers.get("retry-after") ?? "1");
          await new Promise((r) => setTimeout(r, Math.max(0.05, Math.min(wait, 10)) * 1000));
        }
      } catch (err) {
        count(`error ${(err as { cause?: { code?: string } }).cause?.code ?? (err as Error).name}`);
        await new Promise((r) => setTimeout(r, 500));
      }
    }
  };

  const probes: Probe[] = [
    { name: "GET /healthz", path: "/healthz", times: [], failures: 0 },
    { name: "GET /v1/accounts/:id/enforcement", path: "/v1/accounts/acct_1/enforcement", times: [], failures: 0 },
    { name: "GET /v1/cases?limit=1", path: "/v1/cases?limit=1", times: [], failures: 0 },
  ];
  let probing = true;
  const prober = async (p: Probe) => {
    while (probing) {
      const r = await timed(`${url}${p.path}`, adminKey);
      p.times.push(r.ms);
      if (!r.ok) p.failures++;
      await new Promise((res) => setTimeout(res, probeMs));
    }
  };

  const probesRunning = probes.map(prober);
  const t0 = Date.now();
  await Promise.all(Array.from({ length: clients }, client));
  const postedMs = Date.now() - t0;

  // Evaluation goes on after the last post: wait for the queue to empty, still probing.
  let drainedAt: number | undefined;
  let depth = -1;
  while (Date.now() - t0 - postedMs < drainSeconds * 1000) {
    const res = await fetch(`${url}/readyz`).then((r) => r.json() as Promise<{ evaluation?: { queueDepth: number } }>).catch(() => undefined);
    depth = res?.evaluation?.queueDepth ?? -1;
    if (depth === 0) {
      drainedAt = Date.now();
      break;
    }
    await new Promise((r) => setTimeout(r, 500));
  }
  probing = false;
  await Promise.all(probesRunning);
  await server.close();

  console.log(`posted: ${accepted.toLocaleString("en")} events acknowledged in ${(postedMs / 1000).toFixed(1)} s = ${Math.round(accepted / (postedMs / 1000)).toLocaleString("en")} events/s`);
  console.log(`answers to POST /v1/events: ${[...statuses].map(([k, v]) => `${k} x${v}`).join(", ")}; 202s ${summary(postLatency)}`);
  if (drainedAt) {
    const all = (drainedAt - t0) / 1000;
    console.log(
      `evaluation: done ${((drainedAt - t0 - postedMs) / 1000).toFixed(1)} s after the last post; ` +
        `${Math.round(accepted / all).toLocaleString("en")} events/s evaluated from the first post to the last evaluation`,
    );
  } else console.log(`evaluation: NOT done ${drainSeconds} s after the last post (queue depth ${depth})`);
  for (const p of probes) console.log(`${p.name}: ${summary(p.times)}${p.failures ? `, ${p.failures} failed` : ""}`);
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
