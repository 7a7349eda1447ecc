// GET /metrics on every test database: open without a key, Prometheus text, with the ingestion
// counters, the evaluation queue's depth and age, and HTTP latency by route pattern.
import { type TestServer, startTestServer } from "./support/test-server";
import { testTargets } from "./support/test-database";
import { usageEvent } from "./support/factories";

/** `name{labels} value` lines as a map from `name{labels}` to the number. */
function samples(text: string): Map<string, number> {
  const out = new Map<string, number>();
  for (const line of text.split("\n")) {
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*(?:\{[^}]*\})?) (-?[0-9.e+-]+|NaN|\+Inf|-Inf)$/.exec(line);
    if (m) out.set(m[1]!, Number(m[2]));
  }
  return out;
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
    const res = await fetch(`${server.url}/metrics`);
    expect(res.status).toBe(200);
    expect(res.headers.get("content-type")).toMatch(/^text\/plain/);
    const m = samples(await res.text());
    expect(m.get('clauseguard_events_total{outcome="accepted"}')).toBe(1);
    expect(m.get('clauseguard_events_total{outcome="duplicate"}')).toBe(1);
    expect(m.get('clauseguard_events_total{outcome="rejected"}')).toBe(1);
    expect(m.get("clauseguard_evaluation_queue_depth")).toEqual(expect.any(Number));
    expect(m.get("clauseguard_evaluation_oldest_queued_age_seconds")).toBeGreaterThanOrEqual(0);
    expect(m.get("clauseguard_evaluated_events")).toEqual(expect.any(Number));
    expect(m.get('clauseguard_http_request_duration_seconds_count{method="POST",route="/v1/events",status="202"}')).toBe(1);
    expect(m.get('clauseguard_http_request_duration_seconds_count{method="GET",route="/v1/cases/:id",status="404"}')).toBe(1);
    expect([...m.keys()].some((k) => k.startsWith("process_cpu_user_seconds_total"))).toBe(true);
  });
});
