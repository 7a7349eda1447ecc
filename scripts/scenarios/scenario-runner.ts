// Plays a generated scenario against a running ClauseGuard over its public HTTP API, as a gateway
// and an analyst would: posts the events in time order, and at the scenario's start suspends the
// accounts the truth says were banned before it (confirming and enforcing the case a rule opened
// for them), then waits for evaluation and reads which accounts each rule opened a case for.
import fs from "node:fs";
import path from "node:path";
import { createApiClient } from "../../src/cli/api-client";
import type { UsageEventInput } from "../../src/features/events/event-schemas";
import type { TruthRecord } from "./scenario-generator";

export type ScenarioRun = { flaggedByRule: Map<string, Set<string>>; events: number; ingestSeconds: number; evaluationSeconds: number; bannedEnforced: number; bannedMissed: string[] };

type Api = { url: string; key: string };

/**
 * A policy pack for a scenario, in `into`: the rules and link policy of `rulesDir`, plus the
 * network lists the provider of this scenario would import (scenarioNetworks: its campus ranges)
 * as `links/<name>.txt`. Returns `into`, for CLAUSEGUARD_RULES_DIR.
 */
export function writeScenarioPack(rulesDir: string, into: string, networks: Record<string, string[]>): string {
  fs.cpSync(rulesDir, into, { recursive: true });
  fs.mkdirSync(path.join(into, "links"), { recursive: true });
  for (const [name, prefixes] of Object.entries(networks)) {
    fs.writeFileSync(path.join(into, "links", `${name}.txt`), `# the scenario's ${name} ranges, as the provider would list them\n${prefixes.join("\n")}\n`);
  }
  return into;
}

/**
 * One request; reads and event batches with the CLI client's patience (429 with Retry-After, 408,
 * 503, a dropped connection): a busy embedded server may time a batch out, and events carry their
 * eventId, so posting again is safe (the stored ones count as duplicates). Case moves are sent
 * once: repeating one that did happen would be refused.
 */
// eslint-disable-next-line @typescript-eslint/no-explicit-any -- JSON from our own API; callers state the shape they read
async function call(api: Api, method: string, path: string, body?: unknown): Promise<any> {
  const repeatable = method === "GET" || path === "/v1/events";
  return createApiClient(api.url, api.key, { attempts: repeatable ? 8 : 1 }).request(method, path, body);
}

/** Waits until the evaluation queue is empty (polling /readyz). */
export async function waitForEvaluation(api: Api, timeoutMs = 30 * 60_000): Promise<void> {
  const until = Date.now() + timeoutMs;
  for (;;) {
    const ready = (await (await fetch(`${api.url}/readyz`)).json()) as { evaluation?: { queueDepth: number } };
    if (ready.evaluation?.queueDepth === 0) return;
    if (Date.now() > until) throw new Error("evaluation did not finish in time");
    await new Promise((r) => setTimeout(r, 1000));
  }
}

/** Every case, as the accounts each rule flagged. */
export async function flaggedByRule(api: Api): Promise<Map<string, Set<string>>> {
  const out = new Map<string, Set<string>>();
  let cursor: string | null = null;
  do {
    const page: { items: { ruleId: string; accountId: string }[]; nextCursor: string | null } = await call(api, "GET", `/v1/cases?limit=500${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ""}`);
    for (const c of page.items) {
      if (!out.has(c.ruleId)) out.set(c.ruleId, new Set());
      out.get(c.ruleId)!.add(c.accountId);
    }
    cursor = page.nextCursor;
  } while (cursor);
  return out;
}

export async function runScenario(opts: {
  api: Api;
  events: Iterable<UsageEventInput>;
  truth: TruthRecord[];
  start: Date;
  batchSize?: number;
  concurrency?: number;
  /** How long to wait for the evaluation queue to drain, each time (default 30 minutes). */
  evaluationTimeoutMs?: number;
  onProgress?: (posted: number) => void;
}): Promise<ScenarioRun> {
  const { api } = opts;
  const batchSize = opts.batchSize ?? 2000;
  const concurrency = opts.concurrency ?? 4;
  const began = Date.now();
  let posted = 0;
  let batch: UsageEventInput[] = [];
  const inflight = new Set<Promise<void>>();
  const send = async (items: UsageEventInput[]) => {
    const p: Promise<void> = call(api, "POST", "/v1/events", items).then((r: { rejected: unknown[] }) => {
      if (r.rejected.length) throw new Error(`events rejected: ${JSON.stringify(r.rejected.slice(0, 3))}`);
      posted += items.length;
      opts.onProgress?.(posted);
    });
    const tracked = p.finally(() => inflight.delete(tracked));
    inflight.add(tracked);
    if (inflight.size >= concurrency) await Promise.race(inflight);
  };
  const flush = async () => {
    if (batch.length) await send(batch);
    batch = [];
    await Promise.all(inflight);
  };

  let bannedEnforced = 0;
  const bannedMissed: string[] = [];
  let started = false;
  const startMs = opts.start.getTime();
  for (const event of opts.events) {
    if (!started && Date.parse(event.occurredAt) >= startMs) {
      started = true;
      // The history before the scenario is in: the provider had already banned these accounts.
      await flush();
      await waitForEvaluation(api, opts.evaluationTimeoutMs);
      for (const t of opts.truth.filter((x) => x.suspendedBeforeStart)) {
        const cases: { items: { id: string }[] } = await call(api, "GET", `/v1/cases?accountId=${encodeURIComponent(t.accountId)}&status=open`);
        const first = cases.items[0];
        if (!first) {
          bannedMissed.push(t.accountId);
          continue;
        }
        await call(api, "POST", `/v1/cases/${first.id}/transitions`, { to: "confirmed", note: "scenario: banned before the period" });
        await call(api, "POST", `/v1/cases/${first.id}/enforce`, { action: "suspend", note: "scenario: banned before the period" });
        bannedEnforced++;
      }
    }
    batch.push(event);
    if (batch.length >= batchSize) {
      await send(batch);
      batch = [];
    }
  }
  await flush();
  const ingested = Date.now();
  await waitForEvaluation(api, opts.evaluationTimeoutMs);
  const done = Date.now();
  return {
    flaggedByRule: await flaggedByRule(api),
    events: posted,
    ingestSeconds: (ingested - began) / 1000,
    evaluationSeconds: (done - ingested) / 1000,
    bannedEnforced,
    bannedMissed,
  };
}
