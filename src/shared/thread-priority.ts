// Evaluation is background work: where the platform allows, the thread that runs it yields the
// CPU to the threads that answer the gateway. On Linux a nice value belongs to one thread
// (setpriority on the calling thread, which os.setPriority() with no pid is), so raising it in the
// evaluation thread leaves the HTTP thread and the embedded database's thread at their priority.
// Elsewhere (macOS, Windows) it would lower the whole process, HTTP included: not applied there.
import os from "node:os";
import type { Logger } from "./logger";

export type Priorities = { get(): number; set(nice: number): void };
const threadPriorities: Priorities = { get: () => os.getPriority(), set: (nice) => os.setPriority(nice) };

/**
 * Raises the calling thread's nice value by `increment` (at most to 19), so that it stays below the
 * process's other threads however the process was started (`nice -n 5 npm start` gives 15 with 10).
 * 0 leaves it. Returns the thread's nice value afterwards, or undefined when it was left.
 */
export function lowerThreadPriority(increment: number, logger: Logger, platform: NodeJS.Platform = process.platform, priorities: Priorities = threadPriorities): number | undefined {
  if (increment === 0) return undefined;
  if (platform !== "linux") {
    logger.info({ increment, platform }, "CLAUSEGUARD_EVAL_NICE is not applied: on this platform a nice value is the whole process's, HTTP included");
    return undefined;
  }
  try {
    const nice = Math.min(19, priorities.get() + increment);
    priorities.set(nice);
    return nice;
  } catch (err) {
    logger.warn({ err, increment }, "could not lower the evaluation thread's priority");
    return undefined;
  }
}
