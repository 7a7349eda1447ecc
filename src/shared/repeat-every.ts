// Periodic jobs: each run starts `everyMs` after the previous one ended, so a slow run never
// overlaps itself; a failed run is reported and the job goes on. The scheduler (src/scheduler.ts)
// runs every periodic job on one of these.

export type RepeatingJob = {
  /** Stops scheduling runs; resolves when the run in flight, if any, has ended. */
  stop(): Promise<void>;
};

export function repeatEvery(everyMs: number, run: () => Promise<unknown>, onError: (err: unknown) => void, opts: { now?: boolean } = {}): RepeatingJob {
  let running = true;
  let timer: NodeJS.Timeout | undefined;
  let inFlight: Promise<void> | undefined;
  const tick = () => {
    inFlight = run().then(() => undefined, onError);
    void inFlight.then(() => {
      if (running) timer = setTimeout(tick, everyMs);
    });
  };
  if (opts.now) tick();
  else timer = setTimeout(tick, everyMs);
  return {
    async stop() {
      running = false;
      clearTimeout(timer);
      await inFlight;
    },
  };
}
