// The evaluation service's decisions against a fake store (fake-evaluation-store.ts): what a batch
// judges and commits, how a failing batch is split down to the event that fails alone and only
// that one is dead-lettered, that a database fault is retried whole, that hits of one account and
// rule meet one case, and that hits of events another worker took over are not recorded.
import { compileRule } from "../../engine/compiled-rule";
import type { RuleDocument } from "../../engine/rule-schema";
import { createLogger } from "../../shared/logger";
import { createEvaluationService } from "./evaluation-service";
import { type FakeEvaluationStore, fakeEvaluationStore } from "./fake-evaluation-store";

const bigSyntheticRequest: RuleDocument = {
  id: "extraction.synthetic-data-request",
  name: "Large synthetic training-data request",
  description: "test rule",
  clause: { ref: "2(c)", text: "No training competing models." },
  severity: "medium",
  scope: "event",
  window: "24h",
  enabled: true,
  recommendedAction: "none",
  conditions: { all: [{ fact: "event", path: "$.outputTokens", operator: "greaterThanInclusive", value: 4000 }] },
};

const event = (id: string, accountId: string, minute: number, outputTokens: number) => ({
  eventId: id,
  accountId,
  occurredAt: new Date(Date.parse("2026-11-24T10:00:00Z") + minute * 60_000).toISOString(),
  model: "m",
  inputTokens: 10,
  outputTokens,
});

function serviceOver(fake: FakeEvaluationStore) {
  const rule = compileRule(bigSyntheticRequest, 1);
  return createEvaluationService({ store: fake.store, rules: { current: async () => [rule] }, logger: createLogger("silent", false) });
}

/** A fault in the data (a row the database refuses), not a database outage: the kind a batch is split for. */
const poison = (eventId: string) => (pending: { hit: { triggerEventId: string } }[]) =>
  pending.some((p) => p.hit.triggerEventId === eventId) ? new Error(`check constraint refused ${eventId}`) : undefined;

describe("evaluation service", () => {
  it("judges every claimed event, records the hits and completes the batch's tasks", async () => {
    const fake = fakeEvaluationStore();
    fake.enqueue([event("e1", "a1", 0, 100), event("e2", "a1", 1, 5000), event("e3", "a2", 2, 10)]);
    const r = await serviceOver(fake).runBatch(10);
    expect(r).toMatchObject({ claimed: 3, evaluated: 3, hits: 1, errors: 0, failed: 0 });
    expect(r.outcomes.map((o) => o.effect)).toEqual(["opened"]);
    expect(fake.queued()).toEqual([]);
    expect(fake.cases()).toEqual([{ id: "case_fake1", accountId: "a1", ruleId: bigSyntheticRequest.id, status: "open", hits: ["e2"] }]);
  });

  it("puts the hits of one account and rule on one case, within a batch and across batches, and counts a hit within a dismissal's cool-down on the dismissed case", async () => {
    const fake = fakeEvaluationStore();
    const service = serviceOver(fake);
    fake.enqueue([event("e1", "a1", 0, 5000), event("e2", "a1", 1, 6000)]);
    expect((await service.runBatch(10)).outcomes.map((o) => o.effect)).toEqual(["opened", "updated"]);
    fake.enqueue([event("e3", "a1", 2, 7000)]);
    expect((await service.runBatch(10)).outcomes).toEqual([{ caseId: "case_fake1", effect: "updated" }]);
    fake.dismiss("case_fake1", new Date("2026-11-24T11:00:00Z"));
    fake.enqueue([event("e4", "a1", 120, 7000)]); // an hour after the dismissal: within 7 days
    expect((await service.runBatch(10)).outcomes).toEqual([{ caseId: "case_fake1", effect: "counted-on-dismissed" }]);
    fake.enqueue([event("e5", "a1", 8 * 24 * 60, 7000)]); // 8 days later: past the cool-down
    expect((await service.runBatch(10)).outcomes).toEqual([{ caseId: "case_fake2", effect: "opened" }]);
    expect(fake.cases().map((c) => [c.id, c.status, c.hits])).toEqual([
      ["case_fake1", "dismissed", ["e1", "e2", "e3", "e4"]],
      ["case_fake2", "open", ["e5"]],
    ]);
  });

  it("splits a batch that fails for a fault in the data down to the event that fails alone, dead-letters only that one and commits the rest", async () => {
    const fake = fakeEvaluationStore();
    fake.enqueue(Array.from({ length: 8 }, (_, i) => event(`e${i}`, `a${i}`, i, 5000)));
    fake.failCommitWhen(poison("e5"));
    const r = await serviceOver(fake).runBatch(10);
    expect(r).toMatchObject({ claimed: 8, evaluated: 7, hits: 7, failed: 1 });
    expect(fake.deadLetters()).toEqual([{ eventId: "e5", error: "Error: check constraint refused e5" }]);
    expect(fake.queued()).toEqual([]);
    expect(fake.cases().map((c) => c.hits[0]).sort()).toEqual(["e0", "e1", "e2", "e3", "e4", "e6", "e7"]);
    // Halves, then halves of the failing half: [0..7] fails, [0..3] commits, [4..7] fails, [4,5] fails, [6,7] commits, [4] commits, [5] fails alone.
    expect(fake.commits().map((c) => `${c.eventIds.join(",")}:${c.ok ? "ok" : "failed"}`)).toEqual([
      "e0,e1,e2,e3,e4,e5,e6,e7:failed",
      "e0,e1,e2,e3:ok",
      "e4,e5,e6,e7:failed",
      "e4,e5:failed",
      "e4:ok",
      "e5:failed",
      "e6,e7:ok",
    ]);
  });

  it("does not split a batch when the database is unreachable: the batch fails whole and stays leased for a retry", async () => {
    const fake = fakeEvaluationStore();
    fake.enqueue([event("e1", "a1", 0, 5000), event("e2", "a2", 1, 5000)]);
    fake.failCommitWhen(() => Object.assign(new Error("connect ECONNREFUSED 127.0.0.1:5432"), { code: "ECONNREFUSED" }));
    await expect(serviceOver(fake).runBatch(10)).rejects.toThrow("ECONNREFUSED");
    expect(fake.commits()).toHaveLength(1);
    expect(fake.deadLetters()).toEqual([]);
    expect(fake.queued()).toEqual([
      { eventId: "e1", leased: true },
      { eventId: "e2", leased: true },
    ]);
  });

  it("records no hit of an event whose task another worker took over meanwhile", async () => {
    const fake = fakeEvaluationStore();
    fake.enqueue([event("e1", "a1", 0, 5000), event("e2", "a2", 1, 5000)]);
    const service = serviceOver(fake);
    fake.beforeCommit(() => fake.steal(["e2"])); // its lease ran out while the batch was judged
    const r = await service.runBatch(10);
    expect(r.hits).toBe(1);
    expect(fake.cases().map((c) => c.hits)).toEqual([["e1"]]);
    expect(fake.queued()).toEqual([{ eventId: "e2", leased: true }]);
  });

  describe("shadows and suppression (hit-routing.ts)", () => {
    const candidate = compileRule({ ...bigSyntheticRequest, conditions: { all: [{ fact: "event", path: "$.outputTokens", operator: "greaterThanInclusive", value: 1000 }] } }, 2);
    const active = compileRule(bigSyntheticRequest, 1);
    const withShadow = (fake: FakeEvaluationStore, endsAt: number | null = null) =>
      createEvaluationService({
        store: fake.store,
        rules: { current: async () => [active], shadows: () => [{ shadowId: "shadow_1", endsAt, evaluator: candidate }] },
        logger: createLogger("silent", false),
      });

    it("judges a shadow version beside the active one: its hits open no case, and the active version's hits are kept beside them", async () => {
      const fake = fakeEvaluationStore();
      fake.enqueue([event("e1", "a1", 0, 5000), event("e2", "a2", 1, 2000), event("e3", "a3", 2, 10)]);
      const r = await withShadow(fake).runBatch(10);
      expect(r).toMatchObject({ hits: 1, shadowHits: 2, suppressed: 0 });
      expect(fake.cases().map((c) => c.hits)).toEqual([["e1"]]);
      expect(fake.sideHits().sort((a, b) => a.eventId.localeCompare(b.eventId) || a.role.localeCompare(b.role))).toEqual([
        { role: "live", shadowId: "shadow_1", ruleId: bigSyntheticRequest.id, version: 1, eventId: "e1", suppressedBy: null },
        { role: "shadow", shadowId: "shadow_1", ruleId: bigSyntheticRequest.id, version: 2, eventId: "e1", suppressedBy: null },
        { role: "shadow", shadowId: "shadow_1", ruleId: bigSyntheticRequest.id, version: 2, eventId: "e2", suppressedBy: null },
      ]);
    });

    it("stops judging a shadow once its end time has passed", async () => {
      const fake = fakeEvaluationStore();
      fake.enqueue([event("e1", "a1", 0, 5000)]);
      const r = await withShadow(fake, Date.parse("2026-01-01T00:00:00Z")).runBatch(10);
      expect(r).toMatchObject({ hits: 1, shadowHits: 0 });
      expect(fake.sideHits()).toEqual([]);
    });

    it("records a suppressed hit as a side hit instead of a case, while the suppression is in force", async () => {
      const fake = fakeEvaluationStore();
      const service = serviceOver(fake);
      fake.suppress("a1", bigSyntheticRequest.id, new Date("2026-12-01T00:00:00Z"), { type: "snooze", id: "snooze_1", reason: "agreed" });
      fake.suppress("a2", undefined, new Date("2026-12-01T00:00:00Z"), { type: "allow", id: "allow_1", reason: "partner" });
      fake.enqueue([event("e1", "a1", 0, 5000), event("e2", "a2", 0, 5000), event("e3", "a3", 0, 5000)]);
      const r = await service.runBatch(10, { now: () => new Date("2026-11-30T00:00:00Z") });
      expect(r).toMatchObject({ hits: 1, suppressed: 2 });
      expect(fake.cases().map((c) => c.accountId)).toEqual(["a3"]);
      expect(fake.sideHits().map((h) => [h.eventId, h.role, h.suppressedBy])).toEqual([
        ["e1", "live", "snooze_1"],
        ["e2", "live", "allow_1"],
      ]);
      // After it ends, the same hit opens a case.
      fake.enqueue([event("e4", "a1", 1, 5000)]);
      expect(await service.runBatch(10, { now: () => new Date("2026-12-02T00:00:00Z") })).toMatchObject({ hits: 1, suppressed: 0 });
      expect(fake.cases().map((c) => c.accountId)).toEqual(["a3", "a1"]);
    });
  });
});
