// The proxy ring the generator adds on request: its size, its light use per account, its rotation
// over the ring's own /24s (every account linked to hundreds of others), and its ground truth.
import { generateEvents, planScenario, truthOf } from "./scenario-generator";

const opts = { accounts: 100, days: 2, seed: 3, start: new Date("2026-11-02T00:00:00Z"), ring: { accounts: 2000, prefixes: 40 } };

describe("scenario generator: proxy ring", () => {
  const plans = planScenario(opts);
  const ring = new Set(plans.filter((p) => p.population === "proxy-ring").map((p) => p.accountId));
  const byPrefix = new Map<string, Set<string>>();
  const perAccount = new Map<string, number>();
  let others = 0;
  for (const e of generateEvents(plans, opts)) {
    if (!ring.has(e.accountId)) {
      others++;
      continue;
    }
    perAccount.set(e.accountId, (perAccount.get(e.accountId) ?? 0) + 1);
    const prefix = e.ip!.split(".").slice(0, 3).join(".");
    let set = byPrefix.get(prefix);
    if (!set) byPrefix.set(prefix, (set = new Set()));
    set.add(e.accountId);
    expect(e.ipType).toBe("proxy");
  }

  it("adds the ring's accounts on top of the scenario's own, each a pattern of the truth", () => {
    expect(ring.size).toBe(2000);
    expect(plans.length).toBe(planScenario({ ...opts, ring: undefined }).length + 2000);
    expect(others).toBeGreaterThan(0);
    const truth = truthOf(plans).filter((t) => ring.has(t.accountId));
    expect(new Set(truth.map((t) => `${t.pattern}/${t.group}`))).toEqual(new Set(["hydra-reasoning/proxy-ring"]));
  });

  it("uses every account lightly and rotates its requests over exactly the ring's prefixes", () => {
    expect(perAccount.size).toBe(2000);
    const counts = [...perAccount.values()];
    expect(Math.min(...counts)).toBeGreaterThanOrEqual(5);
    expect(Math.max(...counts)).toBeLessThanOrEqual(14);
    expect(byPrefix.size).toBe(40);
    // 2,000 accounts of about 9.5 requests over 40 prefixes: each prefix links hundreds of accounts.
    for (const accounts of byPrefix.values()) expect(accounts.size).toBeGreaterThan(300);
  });

  it("leaves the scenario unchanged without a ring", () => {
    const plain = planScenario({ ...opts, ring: undefined });
    expect(plain.length).toBeGreaterThanOrEqual(100);
    expect(plain.map((p) => p.accountId)).toEqual(plans.filter((p) => !ring.has(p.accountId)).map((p) => p.accountId));
  });
});
