// Liveness and readiness: /healthz answers while the process runs; /readyz checks the database
// and the migrations, and reports the evaluation queue.
import { Router } from "express";
import type { Database } from "../db/database";
import { migrationStatus } from "../db/migrator";
import { queueStats } from "../features/evaluation/evaluation-queue";
import type { WorkerStats } from "../features/evaluation/evaluation-worker";
import type { IngestAdmission } from "../features/events/ingest-admission";
import type { Health, Readiness } from "./health-views";

export function createHealthRouter(deps: {
  db: Database;
  workerStats?: WorkerStats;
  admission?: IngestAdmission;
  /** How old the enforcement snapshot's answers are, in ms. */
  enforcementAgeMs?: () => number | undefined;
  now?: () => Date;
}): Router {
  const router = Router();
  const now = deps.now ?? (() => new Date());
  router.get("/healthz", (_req, res) => {
    res.json({ status: "ok" } satisfies Health);
  });
  router.get("/readyz", async (_req, res) => {
    try {
      const migrations = await migrationStatus(deps.db);
      const queue = await queueStats(deps.db.prisma);
      const ready = migrations.pending.length === 0;
      res.status(ready ? 200 : 503).json({
        status: ready ? "ready" : "not-ready",
        checks: {
          database: "ok",
          migrations: { applied: migrations.applied.length, pending: migrations.pending },
        },
        evaluation: {
          queueDepth: queue.depth,
          /** true: the queue holds at least queueDepth events (counting stops there). */
          ...(queue.depthCapped ? { queueDepthCapped: true } : {}),
          oldestQueuedAgeMs: queue.oldestEnqueuedAt ? Math.max(0, now().getTime() - queue.oldestEnqueuedAt.getTime()) : 0,
          /** Dead-lettered events (evaluation_failure); `clauseguard evaluation retry-failed` requeues them. */
          failedEvents: queue.failed,
          ...(deps.workerStats ? { worker: deps.workerStats } : {}),
        },
        // Admission control of POST /v1/events in this process: batches being stored and waiting,
        // the last backlog reading, and how many batches were let in or refused since the start.
        ...(deps.admission ? { ingest: { ...deps.admission.load(), ...deps.admission.stats } } : {}),
        // The gateway's enforcement answers come from memory: how long ago it was reloaded (a
        // figure far above a second means reloads fail, and answers may be stale).
        ...(deps.enforcementAgeMs ? { enforcement: { snapshotAgeMs: deps.enforcementAgeMs() ?? null } } : {}),
      } satisfies Readiness);
    } catch (err) {
      res.status(503).json({ status: "not-ready", checks: { database: `unreachable: ${(err as Error).message}` } } satisfies Readiness);
    }
  });
  return router;
}
