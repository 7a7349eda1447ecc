// The evaluation thread's entry (see evaluation-thread.ts): the database opened again, the
// services built as in a worker process, the worker and jobs roles started (scheduler.ts).
import { parentPort, workerData } from "node:worker_threads";
import { attachDatabase } from "./db/database";
import type { EvaluationThreadMessage, EvaluationThreadRequest, EvaluationThreadSetup } from "./evaluation-thread";
import { createLogger } from "./shared/logger";
import { defaultLinkPolicy } from "./features/events/link-policy";
import { startRoles } from "./scheduler";
import { createServices } from "./services";
import { lowerThreadPriority } from "./shared/thread-priority";

async function main(): Promise<void> {
  const port = parentPort!;
  const { config, connection, pretty, hubLimits, roles } = workerData as EvaluationThreadSetup;
  const logger = createLogger(config.logLevel, pretty).child({ thread: "evaluation" });
  const db = await attachDatabase(connection);
  const services = createServices(db, config, logger, { linkPolicy: { ...defaultLinkPolicy, hubLimits } });
  const post = (m: EvaluationThreadMessage) => port.postMessage(m);
  const report = () => post({ type: "stats", worker: { ...services.worker.stats }, rules: [...services.evaluation.ruleStats], webhooks: { ...services.webhooks.stats } });
  try {
    await services.ruleRegistry.refresh();
  } catch (err) {
    await db.close();
    throw err;
  }
  lowerThreadPriority(config.evaluation.nice ?? 0, logger);
  const running = await startRoles(services, config, roles, logger);
  const timer = setInterval(report, 1000);
  port.on("message", (m: EvaluationThreadRequest) => {
    if (m.type === "nudge") services.worker.nudge();
    else if (m.type === "stop") {
      clearInterval(timer);
      void (async () => {
        try {
          await running.stop();
          report();
          await db.close();
        } catch (err) {
          logger.error({ err }, "the evaluation thread did not stop cleanly");
        } finally {
          post({ type: "stopped" });
        }
      })();
    }
  });
  post({ type: "ready" });
}

main().catch((err: unknown) => parentPort!.postMessage({ type: "failed", message: err instanceof Error ? (err.stack ?? err.message) : String(err) } satisfies EvaluationThreadMessage));
