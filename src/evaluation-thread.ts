// `npm start` runs both roles in one process, and evaluation in a worker thread of its own: its
// judging, its reads' results and their garbage collection (pauses of 300-400 ms per batch,
// measured with a CPU profile of bench:eval on the embedded database) then never hold up the
// thread that answers HTTP. The thread opens the same database again (attachDatabase) and runs
// the worker and jobs roles (scheduler.ts), as `clauseguard worker` does in a process of its
// own; it reports its counters to this thread each second for /metrics and /readyz.
import type { HubLimits } from "./features/events/link-policy";
import { Worker } from "node:worker_threads";
import type { Config } from "./config";
import type { Role } from "./scheduler";
import type { DatabaseConnection } from "./db/database";
import type { RuleStats } from "./features/evaluation/evaluation-service";
import type { WorkerStats } from "./features/evaluation/evaluation-worker";
import type { WebhookStats } from "./features/webhooks/webhook-outbox";
import type { Logger } from "./shared/logger";
import { threadScript } from "./shared/thread-script";

/** `hubLimits`: the link policy's, as the process read it from the policy pack (the rest of the policy is ingestion's). */
export type EvaluationThreadSetup = { config: Config; connection: DatabaseConnection; pretty: boolean; hubLimits: HubLimits; roles: Role[] };
export type EvaluationThreadStats = { worker: WorkerStats; rules: [string, RuleStats extends Map<string, infer S> ? S : never][]; webhooks: WebhookStats };
export type EvaluationThreadMessage = { type: "ready" } | { type: "failed"; message: string } | { type: "stopped" } | ({ type: "stats" } & EvaluationThreadStats);
export type EvaluationThreadRequest = { type: "nudge" } | { type: "stop" };

export type EvaluationThread = {
  /** Events were stored: evaluate now rather than at the next poll. */
  nudge(): void;
  /** Finishes the batch in flight, stops the thread. */
  stop(): Promise<void>;
};

/**
 * Starts the thread; resolves once its worker runs. Its counters are copied into `into` (this
 * thread's stats objects, which /metrics reads) as they arrive. `onLost`: the thread died after
 * it started; the default logs it and shuts the process down as on SIGTERM (a server that no
 * longer evaluates must not look healthy).
 */
export async function startEvaluationThread(
  setup: EvaluationThreadSetup,
  into: { worker: WorkerStats; rules: RuleStats; webhooks: WebhookStats },
  logger: Logger,
  onLost: (err: Error) => void = (err) => {
    logger.error({ err }, "the evaluation thread stopped; shutting down");
    process.exitCode = 1;
    process.kill(process.pid, "SIGTERM");
  },
): Promise<EvaluationThread> {
  const thread = new Worker(threadScript(__filename, "evaluation-thread-main"), { eval: true, workerData: setup });
  let stopping = false;
  let started = false;
  let stopped: (() => void) | undefined;
  const ready = new Promise<void>((resolve, reject) => {
    thread.on("message", (m: EvaluationThreadMessage) => {
      if (m.type === "ready") resolve();
      else if (m.type === "failed") reject(new Error(m.message));
      else if (m.type === "stopped") stopped?.();
      else if (m.type === "stats") {
        Object.assign(into.worker, m.worker);
        Object.assign(into.webhooks, m.webhooks);
        for (const [rule, s] of m.rules) into.rules.set(rule, s);
      }
    });
    thread.on("error", (err) => {
      if (started && !stopping) onLost(err);
      reject(err);
    });
    thread.on("exit", (code) => {
      stopped?.();
      if (started && !stopping) onLost(new Error(`the evaluation thread exited with code ${code}`));
      reject(new Error(`the evaluation thread exited with code ${code}`));
    });
  });
  try {
    await ready;
    started = true;
  } catch (err) {
    await thread.terminate();
    throw err;
  }
  const send = (m: EvaluationThreadRequest) => thread.postMessage(m);
  let stopOnce: Promise<void> | undefined;
  return {
    nudge: () => {
      if (!stopping) send({ type: "nudge" });
    },
    stop: () =>
      (stopOnce ??= (async () => {
        stopping = true;
        await new Promise<void>((resolve) => {
          stopped = resolve;
          send({ type: "stop" });
        });
        await thread.terminate();
      })()),
  };
}
