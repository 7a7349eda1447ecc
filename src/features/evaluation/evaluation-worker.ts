// The evaluation loop: drains the queue batch after batch, sleeps when it is empty, wakes early
// when this process stored events, and stops cleanly after the batch in flight.
import type { Logger } from "../../shared/logger";
import type { EvaluationService } from "./evaluation-service";
import type { PartitionLeases } from "./partitions";

export type WorkerStats = { batches: number; evaluated: number; hits: number; errors: number; failed: number; failures: number; lastLagMs: number };

/** The longest pause between attempts while batches keep failing. */
const maxBackoffMs = 5_000;

export function createEvaluationWorker(deps: {
  evaluation: EvaluationService;
  logger: Logger;
  pollMs: number;
  batchSize: number;
  /**
   * This worker's evaluation partitions (partitions.ts): rebalanced between batches every
   * `renewMs`; the scheduler renews them at that pace while a batch runs (src/scheduler.ts).
   */
  partitions?: PartitionLeases;
}) {
  const stats: WorkerStats = { batches: 0, evaluated: 0, hits: 0, errors: 0, failed: 0, failures: 0, lastLagMs: 0 };
  let running = false;
  let loop: Promise<void> | undefined;
  let wake: (() => void) | undefined;

  const sleep = (ms: number) =>
    new Promise<void>((resolve) => {
      const t = setTimeout(done, ms);
      function done() {
        clearTimeout(t);
        wake = undefined;
        resolve();
      }
      wake = done;
    });

  async function run(): Promise<void> {
    // Failures in a row (the database is down, say) back the loop off up to maxBackoffMs, so an
    // outage costs a log line every few seconds rather than one per poll.
    let failuresInARow = 0;
    let rebalancedAt = 0;
    const leases = deps.partitions;
    while (running) {
      try {
        if (leases && (Date.now() - rebalancedAt >= leases.renewMs || leases.owned().length === 0)) {
          const before = leases.owned().length;
          const owned = await leases.rebalance();
          rebalancedAt = Date.now();
          if (owned.length !== before) deps.logger.info({ workerId: leases.workerId, partitions: owned.length }, "evaluation partitions rebalanced");
        }
        const r = await deps.evaluation.runBatch(deps.batchSize, { leases });
        if (failuresInARow > 0) deps.logger.info({ failuresInARow }, "evaluation resumed");
        failuresInARow = 0;
        if (r.claimed > 0) {
          stats.batches++;
          stats.evaluated += r.evaluated;
          stats.hits += r.hits;
          stats.errors += r.errors;
          stats.failed += r.failed;
          stats.lastLagMs = r.lagMs;
          continue;
        }
      } catch (err) {
        // The batch's lease expires and another attempt picks it up: nothing acknowledged is lost.
        stats.failures++;
        failuresInARow++;
        deps.logger.error({ err, failuresInARow }, "evaluation batch failed; it will be retried");
      }
      if (running) await sleep(failuresInARow ? Math.min(maxBackoffMs, deps.pollMs * 2 ** failuresInARow) : deps.pollMs);
    }
  }

  return {
    stats,
    start(): void {
      if (running) return;
      running = true;
      loop = run();
    },
    /** New events were stored in this process: look now rather than at the next poll. */
    nudge(): void {
      wake?.();
    },
    /** Finishes the batch in flight, then stops. */
    async stop(): Promise<void> {
      const started = loop !== undefined;
      running = false;
      wake?.();
      await loop;
      // The others take this worker's partitions at once instead of waiting for the leases to expire
      // (a worker never started, as the HTTP thread's when evaluation runs in a thread, holds none).
      if (started) await deps.partitions?.leave().catch((err: unknown) => deps.logger.warn({ err }, "evaluation partitions not released; they pass on when their leases expire"));
    },
  };
}

export type EvaluationWorker = ReturnType<typeof createEvaluationWorker>;
