// Admission control for POST /v1/events: ingestion slows its clients down instead of falling over.
// A request is let in while fewer than `maxInFlight` batches are being stored, waits in a bounded
// line while they are, and is refused with 503 and Retry-After when the line is full, when it
// waited `maxWaitMs`, or when the evaluation backlog is over `maxBacklog`. A refused request stored
// nothing; the client sends the same batch again (event ids make that safe).

export type AdmissionLimits = {
  /** Batches stored at once by this process. */
  maxInFlight: number;
  /** Batches that may wait for a slot; beyond that a request is refused at once. */
  maxWaiting: number;
  /** Longest wait for a slot, in ms. */
  maxWaitMs: number;
  /** Events waiting for evaluation above which ingestion refuses (0: no limit). */
  maxBacklog: number;
};

export type Refusal = { reason: "busy" | "backlog"; message: string; retryAfterSeconds: number };
export type Ticket = { release(): void };

/** Seconds a client is told to wait: short when only the line is full, longer for a backlog. */
export const retryAfter = { busy: 1, backlog: 5 } as const;

export function createIngestAdmission(limits: AdmissionLimits, backlog: () => number | undefined) {
  let inFlight = 0;
  const waiting: { admit: () => void; timer: NodeJS.Timeout }[] = [];
  const stats = { admitted: 0, refusedBusy: 0, refusedBacklog: 0 };

  const ticket = (): Ticket => {
    let released = false;
    return {
      release() {
        if (released) return;
        released = true;
        const next = waiting.shift();
        if (next) {
          clearTimeout(next.timer);
          next.admit(); // the slot passes straight to the next in line
        } else inFlight--;
      },
    };
  };

  /** A ticket to store one batch (release it when done), or why not. */
  async function enter(): Promise<Ticket | Refusal> {
    const depth = backlog();
    if (limits.maxBacklog > 0 && depth !== undefined && depth >= limits.maxBacklog) {
      stats.refusedBacklog++;
      return {
        reason: "backlog",
        message: `${depth} or more events are waiting for evaluation (the limit is ${limits.maxBacklog}); send this batch again after Retry-After`,
        retryAfterSeconds: retryAfter.backlog,
      };
    }
    if (inFlight < limits.maxInFlight) {
      inFlight++;
      stats.admitted++;
      return ticket();
    }
    const busy: Refusal = {
      reason: "busy",
      message: `${limits.maxInFlight} batches are being stored and ${waiting.length} wait; send this batch again after Retry-After`,
      retryAfterSeconds: retryAfter.busy,
    };
    if (waiting.length >= limits.maxWaiting) {
      stats.refusedBusy++;
      return busy;
    }
    return new Promise((resolve) => {
      const entry = {
        admit: () => {
          stats.admitted++;
          resolve(ticket());
        },
        timer: setTimeout(() => {
          waiting.splice(waiting.indexOf(entry), 1);
          stats.refusedBusy++;
          resolve(busy);
        }, limits.maxWaitMs),
      };
      waiting.push(entry);
    });
  }

  return { enter, stats, load: () => ({ inFlight, waiting: waiting.length, backlog: backlog() }) };
}

export type IngestAdmission = ReturnType<typeof createIngestAdmission>;

export const isRefusal = (x: Ticket | Refusal): x is Refusal => "reason" in x;

/**
 * Keeps a recent reading of the evaluation backlog (sample() is run every second by the
 * scheduler, src/scheduler.ts), so admission decides without a database read of its own. Before
 * the first reading, or while reads fail, the backlog is unknown and does not refuse anything.
 */
export function createBacklogSampler(read: () => Promise<number>) {
  let last: number | undefined;
  return {
    async sample(): Promise<void> {
      try {
        last = await read();
      } catch (err) {
        last = undefined;
        throw err;
      }
    },
    current: () => last,
  };
}
