// `clauseguard evaluation retry-failed`: the evaluation queue's dead letters, back in the queue.
import type { Command } from "commander";
import { retryFailed } from "../../features/evaluation/evaluation-queue";
import { withDatabase } from "../with-database";

export function registerEvaluationCommands(program: Command): void {
  program
    .command("evaluation")
    .description("work with the evaluation queue")
    .command("retry-failed")
    .description("put dead-lettered events (evaluation_failure, after the fault is fixed) back in the queue")
    .action(async () => {
      const n = await withDatabase((_k, _l, db) => retryFailed(db));
      process.stdout.write(`requeued ${n} event(s)\n`);
    });
}
