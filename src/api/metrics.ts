// Prometheus metrics (prom-client) on a registry of this app's own: HTTP latency by route and
// status, events accepted/duplicate/rejected, the evaluation queue's depth and age, cases by
// status and pending webhooks (from the database: the whole deployment's), evaluations by rule
// and outcome and webhook deliveries (this process's worker), and Node's process metrics.
// Served at GET /metrics without a key unless CLAUSEGUARD_METRICS_PUBLIC=false.
import { appealStatuses, openAppealStatuses } from "../features/appeals/appeal-model";
import { statementKinds } from "../features/statements/statement-model";
import type { RequestHandler } from "express";
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from "prom-client";
import { caseStatuses } from "../features/cases/case-model";
import type { Database } from "../db/database";
import { type QueueStats, queueStats } from "../features/evaluation/evaluation-queue";
import type { RuleStats } from "../features/evaluation/evaluation-service";
import type { WorkerStats } from "../features/evaluation/evaluation-worker";
import type { WebhookStats } from "../features/webhooks/webhook-outbox";
import type { QualityStats } from "../features/rules/lifecycle-views";

/** How long the rule quality gauges keep one read: they aggregate 30 days of cases and counters. */
const qualityTtlMs = 60_000;

export function createMetrics(deps: {
  db: Database;
  workerStats?: WorkerStats;
  ruleStats?: RuleStats;
  webhookStats?: WebhookStats;
  /** Every rule's quality over [from, to) (rule-quality.ts). */
  ruleQuality?: (from: Date, to: Date) => Promise<QualityStats[]>;
}) {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry });

  const httpDuration = new Histogram({
    name: "clauseguard_http_request_duration_seconds",
    help: "HTTP request duration by route and status",
    labelNames: ["method", "route", "status"],
    buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
    registers: [registry],
  });
  const events = new Counter({
    name: "clauseguard_events_total",
    help: "Usage events posted, by outcome (accepted, duplicate, rejected)",
    labelNames: ["outcome"],
    registers: [registry],
  });
  // prom-client collects all metrics at once: the three queue gauges share one read per scrape.
  let scrape: { at: number; stats: Promise<QueueStats> } | undefined;
  const stats = () => {
    if (!scrape || Date.now() - scrape.at > 250) scrape = { at: Date.now(), stats: queueStats(deps.db.prisma) };
    return scrape.stats;
  };
  const queueGauge = (name: string, help: string, read: (q: QueueStats) => number) =>
    new Gauge({ name, help, registers: [registry], async collect() { this.set(read(await stats())); } });
  queueGauge("clauseguard_evaluation_queue_depth", "Stored events not evaluated yet", (q) => q.depth);
  queueGauge("clauseguard_evaluation_oldest_queued_age_seconds", "Age of the oldest stored event not evaluated yet: the evaluation lag", (q) =>
    q.oldestEnqueuedAt ? Math.max(0, (Date.now() - q.oldestEnqueuedAt.getTime()) / 1000) : 0,
  );
  queueGauge("clauseguard_evaluation_failed_events", "Events that failed to evaluate on their own and wait in evaluation_failure (dead letters)", (q) => q.failed);
  // Small grouped counts from the database: one series per value of `label`, 0 where none.
  const countsGauge = (name: string, help: string, label: string, values: readonly string[], read: () => Promise<{ key: string; n: number }[]>) =>
    new Gauge({
      name,
      help,
      labelNames: [label],
      registers: [registry],
      async collect() {
        const rows = await read();
        this.reset();
        for (const v of values) this.set({ [label]: v }, rows.find((r) => r.key === v)?.n ?? 0);
      },
    });
  // Cases by status (indexed), webhooks not delivered yet (a few rows).
  countsGauge("clauseguard_cases", "Violation cases by status", "status", caseStatuses, async () =>
    (await deps.db.prisma.violationCase.groupBy({ by: ["status"], _count: { _all: true } })).map((r) => ({ key: r.status, n: r._count._all })),
  );
  // Due process (docs/due-process.md): appeals by status and those overdue, statements issued by kind.
  countsGauge("clauseguard_appeals", "Appeals by status", "status", appealStatuses, async () =>
    (await deps.db.prisma.appeal.groupBy({ by: ["status"], _count: { _all: true } })).map((r) => ({ key: r.status, n: r._count._all })),
  );
  new Gauge({
    name: "clauseguard_appeals_overdue",
    help: "Appeals submitted or under review past their decision deadline",
    registers: [registry],
    async collect() {
      this.set(await deps.db.prisma.appeal.count({ where: { status: { in: [...openAppealStatuses] }, deadlineAt: { lt: new Date() } } }));
    },
  });
  countsGauge("clauseguard_statements_issued", "Statements of reasons issued, by kind (enforcement, lifting, appeal_upheld)", "kind", statementKinds, async () =>
    (await deps.db.prisma.statementOfReasons.groupBy({ by: ["kind"], _count: { _all: true } })).map((r) => ({ key: r.kind, n: r._count._all })),
  );
  new Gauge({
    name: "clauseguard_webhook_deliveries_pending",
    help: "Webhook deliveries not delivered yet and not given up on",
    registers: [registry],
    async collect() {
      this.set(await deps.db.prisma.webhookDelivery.count({ where: { deliveredAt: null, failedAt: null } }));
    },
  });
  if (deps.ruleQuality) {
    // Rule quality over the last 30 days (docs/rule-lifecycle.md#rule-quality), read at most once a minute.
    const read = deps.ruleQuality;
    let quality: { at: number; stats: Promise<QualityStats[]> } | undefined;
    const current = () => {
      if (!quality || Date.now() - quality.at > qualityTtlMs) {
        const to = new Date();
        quality = { at: Date.now(), stats: read(new Date(to.getTime() - 30 * 86_400_000), to) };
        quality.stats.catch(() => (quality = undefined));
      }
      return quality.stats;
    };
    const perRule = (name: string, help: string, value: (s: QualityStats) => number | null) =>
      new Gauge({
        name,
        help,
        labelNames: ["rule"],
        registers: [registry],
        async collect() {
          const stats = await current();
          this.reset();
          for (const s of stats) {
            const v = value(s);
            if (v !== null) this.set({ rule: s.ruleId }, v);
          }
        },
      });
    perRule("clauseguard_rule_precision", "Confirmed / decided among the cases each rule opened in the last 30 days (rules with a decided case)", (s) => s.total.precision);
    perRule("clauseguard_rule_hits_per_1000_events", "Hits per 1,000 events evaluated over the last 30 days, by rule", (s) => s.total.hitsPer1000Events);
  }
  if (deps.ruleStats) {
    const ruleStats = deps.ruleStats;
    new Counter({
      name: "clauseguard_rule_evaluations_total",
      help: "Rule evaluations by this process's worker, by rule and outcome (hit, miss, error)",
      labelNames: ["rule", "outcome"],
      registers: [registry],
      collect() {
        this.reset();
        for (const [rule, s] of ruleStats) for (const outcome of ["hit", "miss", "error"] as const) this.inc({ rule, outcome }, s[outcome]);
      },
    });
    new Counter({
      name: "clauseguard_shadow_evaluations_total",
      help: "Evaluations of candidate versions running in shadow by this process's worker, by rule and outcome (hit, miss, error): the shadows' cost",
      labelNames: ["rule", "outcome"],
      registers: [registry],
      collect() {
        this.reset();
        for (const [rule, s] of ruleStats) {
          if (s.shadow.hit + s.shadow.miss + s.shadow.error === 0) continue;
          for (const outcome of ["hit", "miss", "error"] as const) this.inc({ rule, outcome }, s.shadow[outcome]);
        }
      },
    });
  }
  if (deps.webhookStats) {
    const webhookStats = deps.webhookStats;
    new Counter({
      name: "clauseguard_webhook_deliveries_total",
      help: "Webhook delivery attempts by this process, by outcome (delivered, retried, failed: given up)",
      labelNames: ["outcome"],
      registers: [registry],
      collect() {
        this.reset();
        for (const outcome of ["delivered", "retried", "failed"] as const) this.inc({ outcome }, webhookStats[outcome]);
      },
    });
  }
  if (deps.workerStats) {
    const stats = deps.workerStats;
    const fromStats = (name: string, help: string, read: (s: WorkerStats) => number) =>
      new Gauge({ name, help, registers: [registry], collect() { this.set(read(stats)); } });
    fromStats("clauseguard_evaluated_events", "Events this process has evaluated since it started", (s) => s.evaluated);
    fromStats("clauseguard_rule_hits", "Rule hits this process has recorded since it started", (s) => s.hits);
    fromStats("clauseguard_evaluation_errors", "Rule evaluations that failed (recorded as errors, not misses)", (s) => s.errors);
    fromStats("clauseguard_evaluation_last_batch_lag_seconds", "Longest store-to-evaluated time in the last batch", (s) => s.lastLagMs / 1000);
  }

  /** Times every request; the route is Express's pattern (e.g. /v1/cases/:id), never the raw path. */
  const timeRequests: RequestHandler = (req, res, next) => {
    const end = httpDuration.startTimer();
    res.on("finish", () => {
      const route = (req.route as { path?: string } | undefined)?.path ?? (res.statusCode === 404 ? "unmatched" : "other");
      end({ method: req.method, route, status: String(res.statusCode) });
    });
    next();
  };

  return {
    registry,
    timeRequests,
    countEvents(r: { accepted: number; duplicates: number; rejected: number }) {
      events.inc({ outcome: "accepted" }, r.accepted);
      events.inc({ outcome: "duplicate" }, r.duplicates);
      events.inc({ outcome: "rejected" }, r.rejected);
    },
  };
}

export type Metrics = ReturnType<typeof createMetrics>;
