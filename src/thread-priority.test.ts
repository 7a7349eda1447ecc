// Where a nice value is the whole process's, lowering "the evaluation thread" would lower HTTP too:
// refused with a warning. On Linux the serve test checks that only the evaluation thread is lowered.
import pino from "pino";
import { lowerThreadPriority } from "./thread-priority";

describe("lowerThreadPriority", () => {
  const logged = () => {
    const lines: string[] = [];
    return { lines, logger: pino({ level: "info" }, { write: (l: string) => void lines.push(l) }) };
  };

  it("leaves the thread alone at 0", () => {
    const { lines, logger } = logged();
    expect(lowerThreadPriority(0, logger, "linux")).toBe(false);
    expect(lines).toEqual([]);
  });

  it.each(["darwin", "win32"] as const)("is not applied on %s, and says why", (platform) => {
    const { lines, logger } = logged();
    expect(lowerThreadPriority(5, logger, platform)).toBe(false);
    expect(lines.join("")).toContain("CLAUSEGUARD_EVAL_NICE is not applied");
  });
});
