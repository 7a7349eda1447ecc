// npm run bench:lists -- [--db pglite|postgres] [--entries 1000000] [--database-url postgresql://...]
// The configuration users run (`clauseguard serve`, API and evaluation in one process) in a child
// process: imports a named list of --entries values as `clauseguard lists import` does (one NDJSON
// request), while a probe times the gateway's enforcement check; then replaces it with a list that
// differs in 10% of its values; then has a rule name it and times an event's way to a case while
// the evaluation loads the list. Prints each step's time, the probe's latencies during the import,
// and the server's peak resident memory (VmHWM) after each step.
import fs from "node:fs";
import os from "node:os";
import { oneOf, quantile, scriptOptions, startBenchServer, wholeNumber } from "./bench-support";

const args = scriptOptions("bench:lists", {
  db: { type: "string", default: "pglite" },
  entries: { type: "string", default: "1000000" },
  "database-url": { type: "string", default: "postgresql://postgres@127.0.0.1:5432/postgres" },
});

const kind = oneOf("db", args.db, ["pglite", "postgres"]);
const entries = wholeNumber("entries", args.entries, 1, 1_000_000);

const mib = (kb: number) => `${(kb / 1024).toFixed(0)} MiB`;
function memory(pid: number): { rssKb: number; peakKb: number } {
  const status = fs.readFileSync(`/proc/${pid}/status`, "utf8");
  const field = (name: string) => Number(new RegExp(`${name}:\\s+(\\d+) kB`).exec(status)?.[1] ?? 0);
  return { rssKb: field("VmRSS"), peakKb: field("VmHWM") };
}

async function main(): Promise<void> {
  const server = await startBenchServer(kind, args["database-url"]!, "lists");
  const { adminKey } = server;
  const call = async (method: string, p: string, body?: string, type = "application/json") => {
    const res = await fetch(`${server.url}${p}`, { method, headers: { authorization: `Bearer ${adminKey}`, ...(body ? { "content-type": type } : {}) }, body, signal: AbortSignal.timeout(600_000) });
    const text = await res.text();
    if (!res.ok) throw new Error(`${method} ${p}: ${res.status} ${text.slice(0, 500)}`);
    return text ? (JSON.parse(text) as Record<string, unknown>) : {};
  };
  const pid = server.child.pid!;
  try {
    console.log(`ClauseGuard list bench: clauseguard serve on ${kind}, ${entries} entries, ${os.cpus().length} cores, ${mib(os.totalmem() / 1024)} RAM; server at start ${mib(memory(pid).rssKb)} resident`);
    await call("POST", "/v1/lists", JSON.stringify({ name: "bench-cards", description: "bench" }));
    const value = (i: number) => `pm_${i.toString(36).padStart(8, "0")}`;
    const ndjson = (offset: number) => Array.from({ length: entries }, (_, i) => JSON.stringify(value(i + offset))).join("\n");

    // Built before the probe starts: the probe shares this process's event loop.
    const body = ndjson(0);
    const replacement = ndjson(Math.floor(entries / 10));
    // The gateway's enforcement check, every 20 ms, while the import runs (after one, as a gateway has been calling all along).
    await fetch(`${server.url}/v1/accounts/acct_probe/enforcement`, { headers: { authorization: `Bearer ${adminKey}` } }).then((r) => r.arrayBuffer());
    const probe: number[] = [];
    const slow: string[] = [];
    let probing = true;
    const probeStart = performance.now();
    const probeLoop = (async () => {
      while (probing) {
        const t0 = performance.now();
        await fetch(`${server.url}/v1/accounts/acct_probe/enforcement`, { headers: { authorization: `Bearer ${adminKey}` } }).then((r) => r.arrayBuffer());
        probe.push(performance.now() - t0);
        if (performance.now() - t0 > 100) slow.push(`${((performance.now() - t0) / 1000).toFixed(2)} s at ${((t0 - probeStart) / 1000).toFixed(1)} s`);
        await new Promise((r) => setTimeout(r, 20));
      }
    })();
    let t = performance.now();
    const first = (await call("POST", "/v1/lists/bench-cards/entries?mode=replace", body, "application/x-ndjson")) as { change: { added: number } };
    const importMs = performance.now() - t;
    probing = false;
    await probeLoop;
    const sorted = [...probe].sort((a, b) => a - b);
    console.log(
      `import ${entries} values (${(body.length / 1024 / 1024).toFixed(1)} MiB NDJSON, one request): ${(importMs / 1000).toFixed(1)} s, ${Math.round(entries / (importMs / 1000))} values/s, ${first.change.added} added; server peak ${mib(memory(pid).peakKb)}`,
    );
    console.log(`  enforcement check during the import: ${probe.length} probes, p50 ${quantile(sorted, 0.5).toFixed(1)} ms, p99 ${quantile(sorted, 0.99).toFixed(1)} ms, max ${sorted[sorted.length - 1]?.toFixed(1)} ms${slow.length ? `; over 100 ms: ${slow.join(", ")}` : ""}`);

    t = performance.now();
    const second = (await call("POST", "/v1/lists/bench-cards/entries?mode=replace", replacement, "application/x-ndjson")) as { change: { added: number; removed: number } };
    console.log(`replace with 10% changed: ${((performance.now() - t) / 1000).toFixed(1)} s (${second.change.added} added, ${second.change.removed} removed); server peak ${mib(memory(pid).peakKb)}`);

    // A rule names the list: the evaluation loads it before judging the next batch.
    await call(
      "POST",
      "/v1/rules",
      JSON.stringify({
        id: "bench.listed-card",
        name: "Listed card",
        clause: { ref: "bench", text: "bench" },
        severity: "high",
        scope: "event",
        window: "24h",
        conditions: { all: [{ fact: "event", path: "$.paymentFingerprint", operator: "inList", value: { list: "bench-cards" } }] },
      }),
    );
    t = performance.now();
    await call(
      "POST",
      "/v1/events",
      JSON.stringify([{ eventId: `bench_list_${Date.now()}`, accountId: "acct_bench_list", occurredAt: new Date().toISOString(), model: "m", inputTokens: 1, outputTokens: 1, paymentFingerprint: value(entries - 1) }]),
    );
    for (;;) {
      const cases = (await call("GET", "/v1/cases?accountId=acct_bench_list&ruleId=bench.listed-card")) as { items: unknown[] };
      if (cases.items.length) break;
      if (performance.now() - t > 600_000) throw new Error("no case after 10 minutes");
      await new Promise((r) => setTimeout(r, 50));
    }
    const { rssKb, peakKb } = memory(pid);
    console.log(`first event judged against the list (the evaluation loads it whole, then looks up in a Set): ${((performance.now() - t) / 1000).toFixed(1)} s to its case; server ${mib(rssKb)} resident, peak ${mib(peakKb)}`);
  } finally {
    await server.close();
  }
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
