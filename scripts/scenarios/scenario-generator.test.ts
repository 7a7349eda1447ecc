// The proxy ring the generator adds on request: its size, its light use per account, its rotation
// over the ring's own /24s (every account linked to hundreds of others), and its ground truth.
import { generateEvents, planScenario, scenarioNetworks, truthOf } from "./scenario-generator";

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

describe("scenario generator: link evidence populations and installations", () => {
  const base = { accounts: 400, days: 2, seed: 5, start: new Date("2026-11-02T00:00:00Z") };
  const plans = planScenario(base);
  const events = [...generateEvents(plans, base)];
  const byAccount = new Map(plans.map((p) => [p.accountId, p]));

  it("puts a carrier NAT's subscribers and a campus's new students behind shared prefixes, and the campus in a network list", () => {
    const cgnat = events.filter((e) => byAccount.get(e.accountId)!.population === "cgnat-user");
    expect(new Set(cgnat.map((e) => e.accountId)).size).toBeGreaterThanOrEqual(48);
    expect(new Set(cgnat.map((e) => e.ipType))).toEqual(new Set(["cgnat"]));
    const campus = events.filter((e) => byAccount.get(e.accountId)!.population === "campus-student");
    const listed = scenarioNetworks(base).campus!.map((p) => p.replace(/\.0\/24$/, ""));
    expect(campus.length).toBeGreaterThan(0);
    expect(campus.every((e) => listed.includes(e.ip!.split(".").slice(0, 3).join(".")) && e.ipType === "residential")).toBe(true);
    // All of them signed up during the scenario: no event before it.
    expect(campus.every((e) => Date.parse(e.occurredAt) >= base.start.getTime())).toBe(true);
  });

  it("lets an operation's accounts share their pipeline's templates, and no legitimate account share another's", () => {
    const templatesOf = (population: string) => new Set(events.filter((e) => byAccount.get(e.accountId)!.population === population).map((e) => e.promptTemplateHash));
    const hydra = events.filter((e) => byAccount.get(e.accountId)!.group === "hydra-reasoning-0");
    const shared = new Map<string, Set<string>>();
    for (const e of hydra) shared.set(e.promptTemplateHash!, (shared.get(e.promptTemplateHash!) ?? new Set()).add(e.accountId));
    expect(Math.max(...[...shared.values()].map((s) => s.size))).toBeGreaterThan(10);
    for (const t of templatesOf("heavy-coding-agent")) expect(templatesOf("heavy-batch-job").has(t)).toBe(false);
  });

  it("on a fresh installation sends no history, and with provider ages gives each account's creation time once", () => {
    const fresh = [...generateEvents(plans, { ...base, freshInstall: true, providerAges: true })];
    // (The banned extractors' week before is the scenario's own: the provider banned them for it.)
    expect(fresh.filter((e) => byAccount.get(e.accountId)!.population !== "banned-extractor").every((e) => Date.parse(e.occurredAt) >= base.start.getTime())).toBe(true);
    expect(events.some((e) => Date.parse(e.occurredAt) < base.start.getTime())).toBe(true);
    const aged = fresh.filter((e) => e.accountCreatedAt);
    expect(new Set(aged.map((e) => e.accountId)).size).toBe(aged.length);
    expect(aged.length).toBe(new Set(fresh.map((e) => e.accountId)).size);
    const established = aged.find((e) => byAccount.get(e.accountId)!.signupAt !== undefined)!;
    expect(established.accountCreatedAt).toBe(new Date(byAccount.get(established.accountId)!.signupAt!).toISOString());
  });
});
