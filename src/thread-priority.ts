// Evaluation is background work: where the platform allows, the thread that runs it yields the
// CPU to the threads that answer the gateway. On Linux a nice value belongs to one thread
// (setpriority on the calling thread, which os.setPriority() with no pid is), so raising it in the
// evaluation thread leaves the HTTP thread and the embedded database's thread at their priority.
// Elsewhere (macOS, Windows) it would lower the whole process, HTTP included: not applied there.
import os from "node:os";
import type { Logger } from "./logger";

/** Raises the calling thread's nice value to `nice` (0: leave it). Returns whether it was applied. */
export function lowerThreadPriority(nice: number, logger: Logger, platform: NodeJS.Platform = process.platform): boolean {
  if (nice === 0) return false;
  if (platform !== "linux") {
    logger.warn({ nice, platform }, "CLAUSEGUARD_EVAL_NICE is not applied: on this platform a nice value is the whole process's, HTTP included");
    return false;
  }
  try {
    os.setPriority(nice);
    return true;
  } catch (err) {
    logger.warn({ err, nice }, "could not lower the evaluation thread's priority");
    return false;
  }
}
