// What a batch's hits of one account and rule do to its cases (planCaseWrites), checked against
// the rule it replaces: each hit recorded alone, in time order, against a fake case store.
import fc from "fast-check";
import { type CaseWrite, type ExistingCases, type Hit, type HitOutcome, dismissalCooldownMs, planCaseWrites } from "./case-repository";
import type { RuleDocument } from "../../engine/rule-schema";

const rule = { id: "r1", clause: { ref: "1", text: "t" }, severity: "high" } as unknown as RuleDocument;
const t0 = Date.parse("2026-11-01T00:00:00Z");
const hit = (minutes: number, id = `e${minutes}`): Hit => ({
  accountId: "a1",
  rule,
  version: 1,
  occurredAt: new Date(t0 + minutes * 60_000),
  triggerEventId: id,
  window: "1h",
  conditions: [],
  eventIds: [id],
  linkedAccounts: [],
});
const ids = () => {
  let n = 0;
  return () => `case_new${++n}`;
};

/** The fake store: one hit at a time, as the evaluation path wrote them before hits were planned per batch. */
function oneAtATime(hits: Hit[], existing: ExistingCases, newId: () => string): { outcomes: HitOutcome[]; counts: Map<string, number> } {
  let active = existing.activeId;
  const counts = new Map<string, number>();
  const outcomes: HitOutcome[] = [];
  const add = (id: string) => counts.set(id, (counts.get(id) ?? 0) + 1);
  for (const h of hits) {
    if (active) {
      add(active);
      outcomes.push({ caseId: active, effect: "updated" });
    } else if (existing.dismissed && existing.dismissed.dismissedAt.getTime() > h.occurredAt.getTime() - dismissalCooldownMs) {
      add(existing.dismissed.id);
      outcomes.push({ caseId: existing.dismissed.id, effect: "counted-on-dismissed" });
    } else {
      active = newId();
      add(active);
      outcomes.push({ caseId: active, effect: "opened" });
    }
  }
  return { outcomes, counts };
}

const countsOf = (writes: CaseWrite[]) => new Map(writes.map((w) => [w.caseId, w.hits.length]));

describe("planCaseWrites", () => {
  it("adds every hit to the active case, which follows the newest hit", () => {
    const { writes, outcomes } = planCaseWrites([hit(5), hit(1), hit(3)], { activeId: "case_a" }, ids());
    expect(writes).toEqual([{ kind: "count", caseId: "case_a", active: true, hits: [hit(1), hit(3), hit(5)] }]);
    expect(outcomes).toEqual([1, 2, 3].map(() => ({ caseId: "case_a", effect: "updated" })));
  });

  it("opens one case for all the hits when there is none", () => {
    const { writes, outcomes } = planCaseWrites([hit(2), hit(1)], {}, ids());
    expect(writes).toEqual([{ kind: "open", caseId: "case_new1", hits: [hit(1), hit(2)] }]);
    expect(outcomes.map((o) => o.effect)).toEqual(["opened", "updated"]);
  });

  it("counts hits inside a dismissal's cool-down on the dismissed case, and opens a case at the first past it", () => {
    const cooldownMinutes = dismissalCooldownMs / 60_000;
    const dismissed = { id: "case_d", dismissedAt: new Date(t0) };
    // A hit exactly at the cool-down's end is past it (the dismissal must be later than hit time minus the cool-down).
    const hits = [hit(cooldownMinutes - 1), hit(cooldownMinutes), hit(cooldownMinutes + 1)];
    const { writes, outcomes } = planCaseWrites(hits, { dismissed }, ids());
    expect(writes).toEqual([
      { kind: "count", caseId: "case_d", active: false, hits: [hits[0]] },
      { kind: "open", caseId: "case_new1", hits: [hits[1], hits[2]] },
    ]);
    expect(outcomes.map((o) => o.effect)).toEqual(["counted-on-dismissed", "opened", "updated"]);
  });

  it("keeps a dismissal standing when every hit is inside its cool-down", () => {
    const { writes } = planCaseWrites([hit(1), hit(2)], { dismissed: { id: "case_d", dismissedAt: new Date(t0) } }, ids());
    expect(writes).toEqual([{ kind: "count", caseId: "case_d", active: false, hits: [hit(1), hit(2)] }]);
  });

  it("writes nothing for no hits", () => {
    expect(planCaseWrites([], { activeId: "case_a" })).toEqual({ writes: [], outcomes: [] });
  });

  it("decides as recording each hit alone in time order would, for any hits and existing cases", () => {
    const cooldownMinutes = dismissalCooldownMs / 60_000;
    fc.assert(
      fc.property(
        fc.array(fc.integer({ min: 0, max: 3 * cooldownMinutes }), { minLength: 1, maxLength: 30 }),
        fc.option(fc.integer({ min: -cooldownMinutes, max: 2 * cooldownMinutes }), { nil: undefined }),
        fc.boolean(),
        (minutes, dismissedAt, hasActive) => {
          const hits = minutes.map((m, i) => hit(m, `e${String(i).padStart(3, "0")}`));
          const existing: ExistingCases = {
            ...(hasActive ? { activeId: "case_a" } : {}),
            ...(dismissedAt === undefined ? {} : { dismissed: { id: "case_d", dismissedAt: new Date(t0 + dismissedAt * 60_000) } }),
          };
          const inTimeOrder = [...hits].sort((a, b) => a.occurredAt.getTime() - b.occurredAt.getTime() || (a.triggerEventId < b.triggerEventId ? -1 : 1));
          const expected = oneAtATime(inTimeOrder, existing, ids());
          const plan = planCaseWrites(hits, existing, ids());
          expect(plan.outcomes).toEqual(expected.outcomes);
          expect(countsOf(plan.writes)).toEqual(expected.counts);
          // Each write's hits are in time order: its first hit is the case's first seen, its last the newest.
          for (const w of plan.writes) expect(w.hits).toEqual([...w.hits].sort((a, b) => a.occurredAt.getTime() - b.occurredAt.getTime() || (a.triggerEventId < b.triggerEventId ? -1 : 1)));
        },
      ),
      { numRuns: 500 },
    );
  });
});
