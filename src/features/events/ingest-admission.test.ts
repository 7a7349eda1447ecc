import { type AdmissionLimits, type Refusal, type Ticket, createBacklogSampler, createIngestAdmission, isRefusal } from "./ingest-admission";

const limits = (over: Partial<AdmissionLimits> = {}): AdmissionLimits => ({ maxInFlight: 2, maxWaiting: 1, maxWaitMs: 60_000, maxBacklog: 0, ...over });
const ticket = (x: Ticket | Refusal): Ticket => {
  if (isRefusal(x)) throw new Error(`refused: ${x.message}`);
  return x;
};

describe("ingest admission", () => {
  it("lets maxInFlight batches in, lines up maxWaiting more, and refuses the rest as busy", async () => {
    const admission = createIngestAdmission(limits(), () => 0);
    const first = ticket(await admission.enter());
    ticket(await admission.enter());
    const waiting = admission.enter();
    const refused = await admission.enter();
    expect(refused).toEqual({ reason: "busy", message: expect.stringContaining("2 batches are being stored"), retryAfterSeconds: 1 });
    expect(admission.load()).toMatchObject({ inFlight: 2, waiting: 1 });

    first.release();
    const admitted = await waiting; // the freed slot went to the one in line
    expect(isRefusal(admitted)).toBe(false);
    expect(admission.load()).toMatchObject({ inFlight: 2, waiting: 0 });
    expect(admission.stats).toEqual({ admitted: 3, refusedBusy: 1, refusedBacklog: 0 });
  });

  it("frees a slot once per ticket, however often release is called", async () => {
    const admission = createIngestAdmission(limits({ maxInFlight: 1, maxWaiting: 0 }), () => 0);
    const t = ticket(await admission.enter());
    t.release();
    t.release();
    ticket(await admission.enter());
    expect(isRefusal(await admission.enter())).toBe(true);
  });

  it("refuses a batch that waited maxWaitMs for a slot", async () => {
    jest.useFakeTimers();
    try {
      const admission = createIngestAdmission(limits({ maxInFlight: 1, maxWaitMs: 5000 }), () => 0);
      ticket(await admission.enter());
      const waiting = admission.enter();
      jest.advanceTimersByTime(5000);
      expect(await waiting).toMatchObject({ reason: "busy" });
      expect(admission.load().waiting).toBe(0);
    } finally {
      jest.useRealTimers();
    }
  });

  it("refuses every batch while the backlog is at its limit, with a longer Retry-After, and admits again below it", async () => {
    let backlog: number | undefined = 500;
    const admission = createIngestAdmission(limits({ maxBacklog: 500 }), () => backlog);
    expect(await admission.enter()).toEqual({ reason: "backlog", message: expect.stringContaining("500 or more events are waiting"), retryAfterSeconds: 5 });
    backlog = 499;
    ticket(await admission.enter());
    backlog = undefined; // not read yet, or the read failed: no refusal on a guess
    ticket(await admission.enter());
    expect(admission.stats.refusedBacklog).toBe(1);
  });

  it("ignores the backlog when its limit is 0", async () => {
    const admission = createIngestAdmission(limits({ maxBacklog: 0 }), () => 1e9);
    ticket(await admission.enter());
  });
});

describe("backlog sampler", () => {
  it("keeps the last reading, and forgets it when a read fails", async () => {
    const readings: (number | Error)[] = [7, new Error("down"), 9];
    let reads = 0;
    const sampler = createBacklogSampler(async () => {
      const r = readings[Math.min(reads++, readings.length - 1)]!;
      if (r instanceof Error) throw r;
      return r;
    });
    expect(sampler.current()).toBeUndefined();
    await sampler.sample();
    expect(sampler.current()).toBe(7);
    await expect(sampler.sample()).rejects.toThrow("down");
    expect(sampler.current()).toBeUndefined();
    await sampler.sample();
    expect(sampler.current()).toBe(9);
  });
});
