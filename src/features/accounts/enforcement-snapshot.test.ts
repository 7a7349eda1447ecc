import { createLogger } from "../../shared/logger";
import { type Scheduler, startScheduler } from "../../scheduler";
import { type EnforcementSnapshot, type EnforcementSource, type EnforcementStatus, createEnforcementSnapshot } from "./enforcement-snapshot";

/** A fake store: the rows the database would return now; each load can be held open to test overlap. */
function fakeSource() {
  const rows = new Map<string, EnforcementStatus>();
  let gate: Promise<void> | undefined;
  let loads = 0;
  let fail = false;
  const source: EnforcementSource = {
    async load() {
      loads++;
      const snapshot = new Map([...rows].map(([k, v]) => [k, { ...v }]));
      await gate;
      if (fail) throw new Error("database unreachable");
      return snapshot;
    },
  };
  return {
    source,
    rows,
    loads: () => loads,
    hold() {
      let open!: () => void;
      gate = new Promise((r) => (open = r));
      return () => {
        gate = undefined;
        open();
      };
    },
    failing(f: boolean) {
      fail = f;
    },
  };
}

const suspended = (accountId: string, caseIds = ["case_1"]): EnforcementStatus => ({ accountId, status: "suspended", since: "2026-12-01T00:00:00.000Z", caseIds });
const logger = createLogger("silent", false);

describe("enforcement snapshot", () => {
  let scheduler: Scheduler | undefined;
  afterEach(async () => {
    await scheduler?.stop();
    scheduler = undefined;
  });
  /** Loaded, then reloaded every refreshMs as the API role's scheduler does (src/scheduler.ts). */
  const started = async (fake: ReturnType<typeof fakeSource>, refreshMs: number): Promise<EnforcementSnapshot> => {
    const snapshot = createEnforcementSnapshot({ source: fake.source });
    await snapshot.refresh();
    scheduler = startScheduler([{ name: "reload-enforcement", role: "api", everyMs: refreshMs, run: snapshot.refresh, failure: "not reloaded" }], logger);
    return snapshot;
  };

  it("answers active for an account it does not hold, and the stored status for one it does", async () => {
    const fake = fakeSource();
    fake.rows.set("acct_b", suspended("acct_b"));
    const snapshot = await started(fake, 60_000);
    expect(snapshot.status("acct_a")).toEqual({ accountId: "acct_a", status: "active", since: null, caseIds: [] });
    expect(snapshot.status("acct_b")).toEqual(suspended("acct_b"));
  });

  it("a refresh asked for during a load waits for a load that began after it, so it sees a change committed before it", async () => {
    const fake = fakeSource();
    const snapshot = await started(fake, 60_000);
    const open = fake.hold();
    const first = snapshot.refresh(); // a periodic reload, started before the change
    fake.rows.set("acct_c", suspended("acct_c")); // the enforcing transaction commits
    const mine = snapshot.refresh(); // the enforcing request asks for a reload
    open();
    await Promise.all([first, mine]);
    expect(snapshot.status("acct_c").status).toBe("suspended");
    expect(fake.loads()).toBe(3); // start, the one in flight, one more for the late caller
  });

  it("reloads on its own every refreshMs and keeps answering from the last snapshot while loads fail", async () => {
    const fake = fakeSource();
    fake.rows.set("acct_d", suspended("acct_d"));
    const snapshot = await started(fake, 5);
    fake.failing(true);
    fake.rows.delete("acct_d");
    const before = fake.loads();
    for (let i = 0; i < 100 && fake.loads() < before + 2; i++) await new Promise((r) => setTimeout(r, 5));
    expect(fake.loads()).toBeGreaterThanOrEqual(before + 2);
    expect(snapshot.status("acct_d").status).toBe("suspended");
    fake.failing(false);
    for (let i = 0; i < 100 && snapshot.status("acct_d").status !== "active"; i++) await new Promise((r) => setTimeout(r, 5));
    expect(snapshot.status("acct_d").status).toBe("active");
  });
});
