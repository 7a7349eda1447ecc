// The registry against a fake rule store: it reloads only when the fingerprint changes, and takes
// the active rules, the shadows and the fingerprint from one snapshot, so a promotion committed
// between two reads cannot pair the new active version with the old shadow (or the other way round).
import type { RuleDocument } from "../../engine/rule-schema";
import type { RuleCompiler } from "../../engine/evaluation";
import { createLogger } from "../../shared/logger";
import { createRuleRegistry } from "./rule-registry";
import { ruleDocument } from "../../../test/support/factories";
import type { ActiveRule, RunningShadow } from "./rule-service";

const rule = (version: number) => ruleDocument({ id: "test.promoted", conditions: { all: [{ fact: "outputTokens", operator: "greaterThan", value: version }] } }) as unknown as RuleDocument;
const compile: RuleCompiler = (r, version) => ({ rule: r, version, evaluate: async () => ({ matched: false }) as never });

/** A store in memory: `state` is what a snapshot reads; `fingerprintReads` can lag behind it. */
function fakeRules() {
  const store = {
    state: { fingerprint: "v1+shadow2", active: [{ rule: rule(1), version: 1 }] as ActiveRule[], shadows: [{ shadowId: "shd_1", rule: rule(2), version: 2, endsAt: null }] as RunningShadow[] },
    snapshots: 0,
    async rulesFingerprint() {
      return store.state.fingerprint;
    },
    async evaluatedSnapshot() {
      store.snapshots++;
      return { ...store.state };
    },
  };
  return store;
}

describe("the rule registry", () => {
  it("reloads when the fingerprint changes, taking rules and shadows from one snapshot", async () => {
    const rules = fakeRules();
    const registry = createRuleRegistry(rules, createLogger("silent", false), compile);
    expect((await registry.current()).map((e) => e.version)).toEqual([1]);
    expect(registry.shadows().map((s) => s.evaluator.version)).toEqual([2]);
    await registry.current();
    expect(rules.snapshots).toBe(1);

    // A promotion: version 2 active, its shadow stopped. The fingerprint check sees the old state
    // (read just before the commit), the snapshot the new one: the registry keeps the snapshot's
    // fingerprint, so it does not reload again, and never holds v2 active beside its own shadow.
    rules.state = { fingerprint: "v2", active: [{ rule: rule(2), version: 2 }], shadows: [] };
    const lagging = rules.rulesFingerprint;
    rules.rulesFingerprint = async () => "v1+shadow2-changed";
    expect((await registry.current()).map((e) => e.version)).toEqual([2]);
    expect(registry.shadows()).toEqual([]);
    rules.rulesFingerprint = lagging;
    await registry.current();
    expect(rules.snapshots).toBe(2);
  });
});
