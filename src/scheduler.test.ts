import { type PeriodicJob, periodicJobs, startRoles, startScheduler } from "./scheduler";
import type { Services } from "./services";
import { createLogger } from "./shared/logger";

/** The parts of the services the job list reads, as fakes that count their runs. */
function fakeServices() {
  const runs: string[] = [];
  const count = (name: string) => async () => {
    runs.push(name);
  };
  const services = {
    db: {},
    partitions: { renewMs: 3000, renew: count("renew") },
    enforcement: { refresh: count("enforcement") },
    backlog: { sample: count("backlog") },
    webhooks: { deliverDue: count("webhooks") },
  } as unknown as Services;
  return { services, runs };
}

const byRole = (jobs: PeriodicJob[]) => Object.fromEntries(["api", "worker", "jobs"].map((r) => [r, jobs.filter((j) => j.role === r).map((j) => `${j.name}@${j.everyMs}`)]));

describe("periodic jobs", () => {
  it("lists every job with its role and interval; the backlog sample and retention only when configured", () => {
    const { services } = fakeServices();
    expect(byRole(periodicJobs(services, { ingest: { maxInFlight: 1, maxWaiting: 1, maxWaitMs: 1, maxBacklog: 0 }, retentionDays: 0 }))).toEqual({
      api: ["reload-enforcement@1000"],
      worker: ["renew-partitions@3000"],
      jobs: ["compact-rollups@2000", "deliver-webhooks@1000"],
    });
    expect(byRole(periodicJobs(services, { ingest: { maxInFlight: 1, maxWaiting: 1, maxWaitMs: 1, maxBacklog: 500 }, retentionDays: 30 }))).toEqual({
      api: ["reload-enforcement@1000", "sample-backlog@1000"],
      worker: ["renew-partitions@3000"],
      jobs: ["compact-rollups@2000", "deliver-webhooks@1000", "event-retention@60000"],
    });
  });

  it("runs each job on its own interval, logs a failed run with the job's name and goes on, and stops every timer", async () => {
    const lines: { level: string; job?: string; msg?: string }[] = [];
    const logger = createLogger("silent", false);
    logger.warn = ((obj: { job?: string }, msg?: string) => lines.push({ level: "warn", job: obj.job, msg })) as typeof logger.warn;
    logger.error = ((obj: { job?: string }, msg?: string) => lines.push({ level: "error", job: obj.job, msg })) as typeof logger.error;
    let fast = 0;
    let flaky = 0;
    const scheduler = startScheduler(
      [
        { name: "fast", role: "api", everyMs: 2, atStart: true, run: async () => fast++, failure: "fast failed" },
        {
          name: "flaky", role: "worker", everyMs: 2, failure: "flaky failed",
          run: async () => {
            if (++flaky === 1) throw new Error("first run fails");
          },
        },
      ],
      logger,
    );
    try {
      expect(fast).toBe(1); // atStart: at once, not after the first interval
      for (let i = 0; i < 500 && (fast < 5 || flaky < 3); i++) await new Promise((r) => setTimeout(r, 2));
      expect(fast).toBeGreaterThanOrEqual(5);
      expect(flaky).toBeGreaterThanOrEqual(3);
      expect(lines).toEqual([{ level: "error", job: "flaky", msg: "flaky failed" }]); // a worker's job: error; an api reading's: warn
    } finally {
      await scheduler.stop();
    }
    const after = [fast, flaky];
    await new Promise((r) => setTimeout(r, 20));
    expect([fast, flaky]).toEqual(after);
  });

  it("starts the api after its snapshot is loaded, and keeps renewing the worker's partitions until the worker has drained", async () => {
    const log: string[] = [];
    let draining = false;
    let renewalsWhileDraining = 0;
    const services = {
      db: {},
      partitions: {
        renewMs: 2,
        renew: async () => {
          if (draining) renewalsWhileDraining++;
          else log.push("renew");
        },
      },
      enforcement: { refresh: async () => void log.push("enforcement loaded") },
      backlog: { sample: async () => {} },
      webhooks: { deliverDue: async () => {} },
      worker: {
        start: () => void log.push("worker started"),
        stop: async () => {
          draining = true;
          for (let i = 0; i < 500 && renewalsWhileDraining < 2; i++) await new Promise((r) => setTimeout(r, 2));
          draining = false;
          log.push("worker stopped");
        },
      },
    } as unknown as Services;
    const running = await startRoles(services, { ingest: { maxInFlight: 1, maxWaiting: 1, maxWaitMs: 1, maxBacklog: 0 } }, ["api", "worker"], createLogger("silent", false));
    try {
      expect(log.slice(0, 2)).toEqual(["enforcement loaded", "worker started"]);
    } finally {
      await running.stop();
    }
    expect(renewalsWhileDraining).toBeGreaterThanOrEqual(2);
    const after = log.length;
    await new Promise((r) => setTimeout(r, 20));
    expect(log.length).toBe(after); // no renewal after stop
    expect(log.at(-1)).toBe("worker stopped");
  });
});
