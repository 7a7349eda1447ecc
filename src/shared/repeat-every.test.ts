import { repeatEvery } from "./repeat-every";

const tick = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe("repeatEvery", () => {
  it("never overlaps a run with the next, goes on after a failed run, and stops after the run in flight", async () => {
    let active = 0;
    let maxActive = 0;
    let runs = 0;
    const errors: unknown[] = [];
    let endOfLastRun = 0;
    const job = repeatEvery(
      1,
      async () => {
        active++;
        maxActive = Math.max(maxActive, active);
        runs++;
        await tick(5); // longer than the interval
        active--;
        endOfLastRun = Date.now();
        if (runs === 2) throw new Error("this run failed");
      },
      (err) => errors.push(err),
      { now: true },
    );
    for (let i = 0; i < 200 && runs < 4; i++) await tick(2);
    await job.stop();
    const stoppedAt = Date.now();
    const runsAtStop = runs;
    await tick(20);
    expect(runsAtStop).toBeGreaterThanOrEqual(4);
    expect(maxActive).toBe(1);
    expect(errors).toEqual([new Error("this run failed")]);
    expect(active).toBe(0); // stop() waited for the run in flight
    expect(endOfLastRun).toBeLessThanOrEqual(stoppedAt);
    expect(runs).toBe(runsAtStop);
  });

  it("waits everyMs before the first run unless asked to run now", async () => {
    let runs = 0;
    const job = repeatEvery(60_000, async () => void runs++, () => {});
    await tick(10);
    expect(runs).toBe(0);
    await job.stop();
  });
});
