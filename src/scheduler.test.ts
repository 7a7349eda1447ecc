import { type PeriodicJob, periodicJobs, startScheduler } from "./scheduler";
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
    const lines: { job?: string; msg?: string }[] = [];
    const logger = createLogger("silent", false);
    logger.warn = ((obj: { job?: string }, msg?: string) => lines.push({ job: obj.job, msg })) as typeof logger.warn;
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
    expect(fast).toBe(1); // atStart: at once, not after the first interval
    for (let i = 0; i < 500 && (fast < 5 || flaky < 3); i++) await new Promise((r) => setTimeout(r, 2));
    expect(fast).toBeGreaterThanOrEqual(5);
    expect(flaky).toBeGreaterThanOrEqual(3);
    expect(lines).toEqual([{ job: "flaky", msg: "flaky failed" }]);
    await scheduler.stop();
    const after = [fast, flaky];
    await new Promise((r) => setTimeout(r, 20));
    expect([fast, flaky]).toEqual(after);
  });
});
