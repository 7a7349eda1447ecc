// GET /metrics on every test database, read with an independent Prometheus text-format parser:
// open without a key, every family typed and described, with the ingestion counters, the
// evaluation queue, HTTP latency by route pattern, evaluations by rule, cases by status, webhook
// deliveries and Node's process metrics.
import parsePrometheusTextFormat, { type Family } from "parse-prometheus-text-format";
import fs from "node:fs";
import path from "node:path";
import { type TestServer, repoRulesDir, startTestServer } from "./support/test-server";
import { testTargets } from "./support/test-database";
import type { AddressInfo } from "node:net";
import { createApp } from "../src/api/app";
import { ruleDocument, usageEvent } from "./support/factories";
import { waitFor } from "./support/cli";

/** The value of one sample (a family's sample whose labels include `labels`), or undefined. */
function value(families: Family[], name: string, labels: Record<string, string> = {}): number | undefined {
  const family = families.find((f) => f.name === name);
  const sample = family?.metrics.find((m) => Object.entries(labels).every(([k, v]) => m.labels?.[k] === v));
  if (!sample) return undefined;
  return Number(sample.value);
}

describe.each(testTargets())("metrics on %s", (kind) => {
  let server: TestServer;
  beforeAll(async () => {
    server = await startTestServer(kind, { worker: true });
  });
  afterAll(async () => {
    await server.stop();
  });

  it("counts events by outcome and reports the queue, without a key", async () => {
    const e = usageEvent({ accountId: "acct_m" });
    await server.call("POST", "/v1/events", { body: [e, e, { ...usageEvent(), inputTokens: -1 }] });
    await server.call("GET", "/v1/cases/case_missing");
    // The in-process worker evaluates the accepted event: read once the gauges say so (or time out and fail).
    const scrape = async () => {
      const res = await fetch(`${server.url}/metrics`);
      expect(res.status).toBe(200);
      expect(res.headers.get("content-type")).toMatch(/^text\/plain/);
      const text = await res.text();
      return { text, families: parsePrometheusTextFormat(text) };
    };
    const { text, families } = await waitFor(async () => {
      const s = await scrape();
      // The queue gauges are read at most every 250 ms: a scrape may still show the event queued.
      return (value(s.families, "clauseguard_evaluated_events") ?? 0) >= 1 && value(s.families, "clauseguard_evaluation_queue_depth") === 0 ? s : undefined;
    });
    // Every family of ClauseGuard's own is typed and described.
    const ours = families.filter((f) => f.name.startsWith("clauseguard_"));
    expect(ours.filter((f) => f.type === "UNTYPED" || !f.help).map((f) => f.name)).toEqual([]);
    expect(value(families, "clauseguard_events_total", { outcome: "accepted" })).toBe(1);
    expect(value(families, "clauseguard_events_total", { outcome: "duplicate" })).toBe(1);
    expect(value(families, "clauseguard_events_total", { outcome: "rejected" })).toBe(1);
    // The one accepted event, evaluated: nothing queued, no lag.
    expect(value(families, "clauseguard_evaluated_events")).toBe(1);
    expect(value(families, "clauseguard_evaluation_queue_depth")).toBe(0);
    expect(value(families, "clauseguard_evaluation_oldest_queued_age_seconds")).toBe(0);
    const http = families.find((f) => f.name === "clauseguard_http_request_duration_seconds")!;
    expect(http.type).toBe("HISTOGRAM");
    // The parser folds a labelled histogram's series into one (it keeps no labels for them), so
    // the per-route counts are read from the _count lines of the text it accepted.
    expect(text).toContain('clauseguard_http_request_duration_seconds_count{method="POST",route="/v1/events",status="202"} 1\n');
    expect(text).toContain('clauseguard_http_request_duration_seconds_count{method="GET",route="/v1/cases/:id",status="404"} 1\n');
    expect(families.find((f) => f.name === "process_cpu_user_seconds_total")?.type).toBe("COUNTER");
  });

  it("counts evaluations by rule and outcome and cases by status", async () => {
    // A candidate of extraction.synthetic-data-request runs in shadow: its evaluations are counted apart.
    const document = JSON.parse(fs.readFileSync(path.join(repoRulesDir, "extraction.synthetic-data-request.json"), "utf8")) as Record<string, unknown>;
    const candidate = await server.call("POST", "/v1/rules/extraction.synthetic-data-request/versions", { body: { ...document, severity: "low" } });
    expect(candidate.body).toMatchObject({ current: false });
    expect((await server.call("POST", "/v1/rules/extraction.synthetic-data-request/shadow", { body: { version: candidate.body.version } })).status).toBe(201);
    // Two events that each hit extraction.synthetic-data-request for one account: one case, two hits.
    const big = { outputTokens: 5000, signals: { syntheticDataRequest: true } };
    await server.call("POST", "/v1/events", { body: [usageEvent({ accountId: "acct_mr", ...big }), usageEvent({ accountId: "acct_mr", ...big })] });
    // The in-process worker may hold the batch: wait until the queue is empty (tasks leave it at the commit).
    await waitFor(async () => ((await server.call("GET", "/readyz")).body.evaluation.queueDepth === 0 ? true : undefined));
    await server.drain();
    const families = parsePrometheusTextFormat(await (await fetch(`${server.url}/metrics`)).text());
    expect(families.find((f) => f.name === "clauseguard_rule_evaluations_total")?.type).toBe("COUNTER");
    expect(value(families, "clauseguard_rule_evaluations_total", { rule: "extraction.synthetic-data-request", outcome: "hit" })).toBe(2);
    expect(value(families, "clauseguard_rule_evaluations_total", { rule: "access.unsupported-region", outcome: "miss" })).toBeGreaterThanOrEqual(2);
    expect(value(families, "clauseguard_shadow_evaluations_total", { rule: "extraction.synthetic-data-request", outcome: "hit" })).toBe(2);
    expect(value(families, "clauseguard_shadow_evaluations_total", { rule: "access.unsupported-region", outcome: "miss" })).toBeUndefined();
    await server.call("DELETE", "/v1/rules/extraction.synthetic-data-request/shadow");
    const open = (await server.call("GET", "/v1/cases?status=open&limit=500")).body.items.length;
    expect(open).toBeGreaterThanOrEqual(1);
    expect(value(families, "clauseguard_cases", { status: "open" })).toBe(open);
    expect(value(families, "clauseguard_cases", { status: "resolved" })).toBe(0);
    expect(value(families, "clauseguard_webhook_deliveries_pending")).toBe(0);
    expect(value(families, "clauseguard_webhook_deliveries_total", { outcome: "delivered" })).toBe(0);
  });

  it("publishes each rule's quality from verdicts: precision and hits per 1,000 events over 30 days", async () => {
    const rule = ruleDocument({ id: "test.metrics-quality", scope: "event", conditions: { all: [{ fact: "event", path: "$.outputTokens", operator: "equal", value: 4321 }] } });
    await server.call("POST", "/v1/rules", { body: rule });
    await server.call("POST", "/v1/events", { body: [usageEvent({ accountId: "acct_mq1", outputTokens: 4321 }), usageEvent({ accountId: "acct_mq2", outputTokens: 4321 })] });
    await waitFor(async () => ((await server.call("GET", "/readyz")).body.evaluation.queueDepth === 0 ? true : undefined));
    await server.drain();
    for (const [account, to, note] of [["acct_mq1", "confirmed", undefined], ["acct_mq2", "dismissed", "benign"]] as const) {
      const id = (await server.call("GET", `/v1/cases?accountId=${account}&ruleId=test.metrics-quality`)).body.items[0].id;
      await server.call("POST", `/v1/cases/${id}/transitions`, { body: { to, ...(note ? { note } : {}) } });
    }
    const stats = (await server.call("GET", "/v1/rules/test.metrics-quality/stats")).body.total;
    // The gauges keep a read for a minute and earlier tests scraped: a new app over the same services scrapes afresh.
    const listener = createApp(server.running.services, { bodyLimitBytes: 1_000_000, workerInProcess: false }).listen(0, "127.0.0.1");
    await new Promise((r) => listener.once("listening", r));
    const text = await (await fetch(`http://127.0.0.1:${(listener.address() as AddressInfo).port}/metrics`)).text();
    listener.close();
    const families = parsePrometheusTextFormat(text);
    expect(families.find((f) => f.name === "clauseguard_rule_precision")?.type).toBe("GAUGE");
    expect(value(families, "clauseguard_rule_precision", { rule: "test.metrics-quality" })).toBe(stats.precision);
    expect(stats.precision).toBeGreaterThan(0);
    expect(stats.precision).toBeLessThan(1);
    expect(value(families, "clauseguard_rule_hits_per_1000_events", { rule: "test.metrics-quality" })).toBe(stats.hitsPer1000Events);
  });
});
