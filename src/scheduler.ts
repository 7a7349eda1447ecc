// Every periodic job ClauseGuard runs, in one list with its interval and the role that runs it,
// and the one place where a process's roles are started and stopped.
//
//   api     the HTTP process: what it answers from memory (enforcement, the evaluation backlog)
//   worker  the evaluation loop (evaluation-worker.ts) and its partition leases
//   jobs    housekeeping beside each evaluation worker (compaction, webhooks, retention); each job
//           is safe to run in several processes at once (locks or SKIP LOCKED inside)
//
// `serve` runs all three (the worker and jobs in the evaluation thread, evaluation-thread.ts),
// `serve --api-only` the api role, `worker` the worker and jobs roles.
import type { Config } from "./config";
import { deleteExpiredEvents } from "./features/events/event-retention";
import { compactRollups } from "./features/facts/rollup-compactor";
import type { Logger } from "./shared/logger";
import { type RepeatingJob, repeatEvery } from "./shared/repeat-every";
import type { Services } from "./services";

export type Role = "api" | "worker" | "jobs";

export type PeriodicJob = {
  name: string;
  role: Role;
  everyMs: number;
  run(): Promise<unknown>;
  /** Run once at start instead of after the first interval. */
  atStart?: boolean;
  /** What the log says when a run fails (the job runs again at its next interval). */
  failure: string;
  /** How loud a failure is: warn where the last good state still serves (api readings), error otherwise. */
  level?: "warn" | "error";
};

/** The list: every periodic job, for every role. */
export function periodicJobs(services: Services, config: Pick<Config, "ingest"> & Partial<Pick<Config, "retentionDays">>): PeriodicJob[] {
  const { db, partitions } = services;
  const retentionDays = config.retentionDays;
  const jobs: (PeriodicJob | false)[] = [
    // A change made in another process is answered within this interval; this process's own changes reload at once.
    { name: "reload-enforcement", role: "api", everyMs: 1000, run: () => services.enforcement.refresh(), failure: "enforcement snapshot could not be reloaded; answering from the last one" },
    config.ingest.maxBacklog > 0 && {
      name: "sample-backlog", role: "api", everyMs: 1000, atStart: true, run: () => services.backlog.sample(),
      failure: "evaluation backlog could not be read; admission ignores it until it can",
    },
    // Renewed on a timer whatever a batch takes, so a partition lease can be shorter than a task's (partitions.ts).
    { name: "renew-partitions", role: "worker", everyMs: partitions.renewMs, run: () => partitions.renew(), failure: "evaluation partitions not renewed; they pass on if their leases expire" },
    { name: "compact-rollups", role: "jobs", everyMs: 2000, run: () => compactRollups(db), failure: "rollup compaction failed; it runs again later" },
    { name: "deliver-webhooks", role: "jobs", everyMs: 1000, run: () => services.webhooks.deliverDue(), failure: "webhook delivery failed; it runs again later" },
    !!retentionDays && { name: "event-retention", role: "jobs", everyMs: 60_000, run: () => deleteExpiredEvents(db, retentionDays), failure: "event retention failed; it runs again later" },
  ];
  return jobs.filter((j): j is PeriodicJob => j !== false);
}

export type Scheduler = { stop(): Promise<void> };

/** Runs each job on its own timer (repeat-every.ts): a slow run never overlaps itself; a failed run is logged. */
export function startScheduler(jobs: PeriodicJob[], logger: Logger): Scheduler {
  const running: RepeatingJob[] = jobs.map((job) =>
    repeatEvery(job.everyMs, job.run, (err) => logger[job.level ?? (job.role === "api" ? "warn" : "error")]({ err, job: job.name }, job.failure), { now: job.atStart }),
  );
  return {
    async stop() {
      await Promise.all(running.map((j) => j.stop()));
    },
  };
}

export type RunningRoles = { stop(): Promise<void> };

/**
 * Starts a process's roles over its services. The api role first loads the enforcement snapshot
 * (nothing is answered from an empty one). stop(): the api's readings and the housekeeping jobs
 * first (no new run starts; one in flight ends), then the worker, which finishes its batch with
 * its partitions still renewed and then hands them on (leave() also makes a late renewal a no-op),
 * then the renewal timer.
 */
export async function startRoles(services: Services, config: Parameters<typeof periodicJobs>[1], roles: Role[], logger: Logger): Promise<RunningRoles> {
  const jobs = periodicJobs(services, config).filter((j) => roles.includes(j.role));
  if (roles.includes("api")) await services.enforcement.refresh();
  const early = startScheduler(jobs.filter((j) => j.role !== "worker"), logger);
  const renewal = startScheduler(jobs.filter((j) => j.role === "worker"), logger);
  if (roles.includes("worker")) services.worker.start();
  let stopped: Promise<void> | undefined;
  return {
    stop: () =>
      (stopped ??= (async () => {
        await early.stop();
        await services.worker.stop();
        await renewal.stop();
      })()),
  };
}
