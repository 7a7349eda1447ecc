// The evaluating thread's nice value is raised relative to the process's, capped at 19; where a nice
// value is the whole process's, lowering "the evaluation thread" would lower HTTP too: not applied.
// On Linux the serve test (test/process.test.ts) checks that only the evaluation thread is lowered.
import pino from "pino";
import { type Priorities, lowerThreadPriority } from "./thread-priority";

describe("lowerThreadPriority", () => {
  const logged = () => {
    const lines: string[] = [];
    return { lines, logger: pino({ level: "info" }, { write: (l: string) => void lines.push(l) }) };
  };
  /** A thread's priority held in a variable, as os.getPriority/setPriority would hold it. */
  const fakeThread = (nice: number, fail?: Error) => {
    const thread = { nice };
    const priorities: Priorities = {
      get: () => thread.nice,
      set: (n) => {
        if (fail) throw fail;
        thread.nice = n;
      },
    };
    return { thread, priorities };
  };

  it("raises the thread's nice value by the increment, from where the process started", () => {
    const { lines, logger } = logged();
    const fresh = fakeThread(0);
    expect(lowerThreadPriority(10, logger, "linux", fresh.priorities)).toBe(10);
    expect(fresh.thread.nice).toBe(10);
    const niced = fakeThread(5);
    expect(lowerThreadPriority(10, logger, "linux", niced.priorities)).toBe(15);
    const nicer = fakeThread(15);
    expect(lowerThreadPriority(10, logger, "linux", nicer.priorities)).toBe(19);
    expect(lines).toEqual([]);
  });

  it("leaves the thread alone at 0", () => {
    const { lines, logger } = logged();
    const t = fakeThread(3);
    expect(lowerThreadPriority(0, logger, "linux", t.priorities)).toBeUndefined();
    expect(t.thread.nice).toBe(3);
    expect(lines).toEqual([]);
  });

  it.each(["darwin", "win32"] as const)("is not applied on %s, and says why", (platform) => {
    const { lines, logger } = logged();
    const t = fakeThread(0);
    expect(lowerThreadPriority(5, logger, platform, t.priorities)).toBeUndefined();
    expect(t.thread.nice).toBe(0);
    expect(lines.join("")).toContain("CLAUSEGUARD_EVAL_NICE is not applied");
  });

  it("logs and goes on when the system refuses", () => {
    const { lines, logger } = logged();
    const t = fakeThread(0, Object.assign(new Error("EACCES"), { code: "EACCES" }));
    expect(lowerThreadPriority(5, logger, "linux", t.priorities)).toBeUndefined();
    expect(lines.join("")).toContain("could not lower the evaluation thread's priority");
  });
});
