// Named lists in rules: references are found with their paths, binding leaves the document as it
// is, both evaluators (compiled and json-rules-engine) look a bound list up, a changed list is
// seen without recompiling, and evidence shows the reference rather than the values.
import { compileBound } from "./list-binding";
import type { FactSource } from "./evaluation";
import { type ListLookup, bindLists, listRefs } from "./named-lists";
import { ruleCompiler } from "./rule-compiler";
import { type RuleDocument, validateRule } from "./rule-schema";

const rule = (conditions: unknown): RuleDocument => {
  const v = validateRule({
    id: "test.list",
    name: "listed card",
    clause: { ref: "1", text: "t" },
    severity: "high",
    scope: "event",
    window: "24h",
    conditions,
  });
  if (!v.ok) throw new Error(JSON.stringify(v.errors));
  return v.rule;
};

const source = (event: Record<string, unknown>): FactSource =>
  ({
    event: { eventId: "e1", accountId: "a1", occurredAt: "2026-11-24T10:00:00.000Z", ...event },
    account: async () => ({}),
    windowAggregate: async () => 0,
    linkedFact: async () => 0,
    contributingEventIds: async () => ["e1"],
  }) as unknown as FactSource;

describe("named lists in rules", () => {
  const conditions = {
    any: [
      { fact: "event", path: "$.paymentFingerprint", operator: "inList", value: { list: "cards" } },
      { all: [{ fact: "event", path: "$.ip", operator: "notInList", value: { list: "known-ips" } }, { fact: "event", path: "$.outputTokens", operator: "equal", value: 7 }] },
    ],
  };

  it("finds every reference with the path of its value", () => {
    expect(listRefs(conditions)).toEqual([
      { list: "cards", path: "conditions.any[0].value.list" },
      { list: "known-ips", path: "conditions.any[1].all[0].value.list" },
    ]);
  });

  it("validates the reference's shape with the value's path", () => {
    const bad = validateRule({ ...rule(conditions), conditions: { all: [{ fact: "event", path: "$.ip", operator: "inList", value: { list: "cards", extra: 1 } }] } });
    expect(bad.ok ? [] : bad.errors).toEqual([{ path: "conditions.all[0].value", message: expect.stringContaining("unknown key 'extra'") }]);
    const name = validateRule({ ...rule(conditions), conditions: { all: [{ fact: "event", path: "$.ip", operator: "inList", value: { list: "Cards!" } }] } });
    expect(name.ok).toBe(false);
  });

  it("binds without changing the document", () => {
    const doc = rule(conditions);
    const before = JSON.stringify(doc);
    const bound = bindLists(doc.conditions, { has: () => true });
    expect(JSON.stringify(bound)).toBe(before.slice(before.indexOf('"conditions":') + '"conditions":'.length, -1));
    expect(JSON.stringify(doc)).toBe(before);
  });

  for (const kind of ["compiled", "json-rules-engine"] as const) {
    it(`looks the list up on each evaluation (${kind}), and sees a change without recompiling`, async () => {
      const lists = new Map<string, Set<string>>([["cards", new Set(["pm_1"])], ["known-ips", new Set(["203.0.113.7"])]]);
      const lookup: ListLookup = { has: (list, v) => lists.get(list)?.has(v) ?? false };
      const doc = rule(conditions);
      const evaluator = compileBound(ruleCompiler(kind), doc, 1, lookup);
      expect(evaluator.rule).toBe(doc);
      const listed = await evaluator.evaluate(source({ paymentFingerprint: "pm_1", ip: "203.0.113.7" }));
      expect(listed.outcome).toBe("hit");
      expect(JSON.parse(JSON.stringify(listed)).conditions[0]).toMatchObject({ operator: "inList", value: { list: "cards" }, factValue: "pm_1", result: true });
      expect((await evaluator.evaluate(source({ paymentFingerprint: "pm_2", ip: "203.0.113.7", outputTokens: 7 }))).outcome).toBe("miss");
      expect((await evaluator.evaluate(source({ paymentFingerprint: "pm_2", ip: "198.51.100.1", outputTokens: 7 }))).outcome).toBe("hit");
      lists.get("cards")!.add("pm_2");
      expect((await evaluator.evaluate(source({ paymentFingerprint: "pm_2" }))).outcome).toBe("hit");
      // A number fact matches its text.
      lists.get("cards")!.add("42");
      expect((await evaluator.evaluate(source({ paymentFingerprint: 42 }))).outcome).toBe("hit");
    });
  }

  it("matches nothing, either way, when a rule's list was never bound", async () => {
    const evaluator = ruleCompiler("compiled")(rule({ all: [{ fact: "event", path: "$.ip", operator: "notInList", value: { list: "x" } }] }), 1);
    expect((await evaluator.evaluate(source({ ip: "1.2.3.4" }))).outcome).toBe("miss");
  });
});
