// What json-rules-engine itself accepts with ClauseGuard's facts and operators, ClauseGuard accepts:
// a table of real rule shapes goes through our validator and through a bare json-rules-engine
// Engine (facts as constants), and both must take it. A second table holds shapes the library
// mis-handles silently, which our validator must refuse.
import { Engine } from "json-rules-engine";
import { customOperators } from "./operators";
import { validateRule } from "./rule-schema";

const constants: Record<string, unknown> = {
  event: { model: "frontier-large", outputTokens: 4200, country: "NL", ip: "203.0.113.7", userAgent: "python-httpx/0.27", signals: { reasoningTraceRequest: 0.93, syntheticDataRequest: true }, tags: ["a", "b"] },
  account: { status: "active", ageDays: 3, confirmedCases: 0 },
  requestCount: 120,
  outputTokens: 800_000,
  inputTokens: 10_000,
  distinctCountries: 4,
  topTemplateShare: 0.8,
  signalRate: 0.4,
  linkedAccounts: 12,
  clusterNewAccountShare: 0.9,
  clusterSignalRate: 0.5,
};

const doc = (conditions: unknown) => ({
  id: "compat.rule",
  name: "compat",
  clause: { ref: "1", text: "t" },
  severity: "low",
  scope: "account",
  window: "24h",
  conditions,
});

const leaf = (fact: string, operator: string, value: unknown, extra: Record<string, unknown> = {}) => ({ fact, operator, value, ...extra });

const accepted: [string, unknown][] = [
  ["all of two leaves", { all: [leaf("requestCount", "greaterThan", 100), leaf("outputTokens", "lessThanInclusive", 1e6)] }],
  ["any with not", { any: [{ not: leaf("distinctCountries", "lessThan", 2) }, leaf("topTemplateShare", "greaterThanInclusive", 0.9)] }],
  ["nested all/any/not", { all: [{ any: [{ all: [leaf("linkedAccounts", "greaterThan", 5), { not: { any: [leaf("requestCount", "equal", 0)] } }] }] }] }],
  ["path into the event", { all: [leaf("event", "equal", true, { path: "$.signals.syntheticDataRequest" })] }],
  ["path with an index", { all: [leaf("event", "equal", "a", { path: "$.tags[0]" })] }],
  ["params on a window fact", { all: [leaf("outputTokens", "greaterThan", 1000, { params: { window: "7d" } })] }],
  ["signal params", { all: [leaf("signalRate", "greaterThan", 0.3, { params: { signal: "reasoningTraceRequest", threshold: 0.9 } })] }],
  ["linked params", { all: [leaf("clusterNewAccountShare", "greaterThan", 0.5, { params: { by: "paymentFingerprint", maxAgeDays: 14, window: "30d" } })] }],
  ["value that references a fact", { all: [leaf("outputTokens", "greaterThan", { fact: "inputTokens" })] }],
  ["fact reference with path", { all: [leaf("requestCount", "greaterThan", { fact: "account", path: "$.ageDays" })] }],
  ["equal", { all: [leaf("event", "equal", "NL", { path: "$.country" })] }],
  ["notEqual", { all: [leaf("event", "notEqual", "US", { path: "$.country" })] }],
  ["in", { all: [leaf("event", "in", ["NL", "DE"], { path: "$.country" })] }],
  ["notIn", { all: [leaf("event", "notIn", ["KP"], { path: "$.country" })] }],
  ["contains", { all: [leaf("event", "contains", "a", { path: "$.tags" })] }],
  ["doesNotContain", { all: [leaf("event", "doesNotContain", "z", { path: "$.tags" })] }],
  ["lessThan", { all: [leaf("requestCount", "lessThan", 1000)] }],
  ["lessThanInclusive", { all: [leaf("requestCount", "lessThanInclusive", 120)] }],
  ["greaterThan", { all: [leaf("requestCount", "greaterThan", 1)] }],
  ["greaterThanInclusive", { all: [leaf("requestCount", "greaterThanInclusive", 120)] }],
  ["decorated someFact:equal", { all: [leaf("event", "someFact:equal", "b", { path: "$.tags" })] }],
  ["decorated not:in", { all: [leaf("event", "not:in", ["KP"], { path: "$.country" })] }],
  ["decorated everyValue:greaterThan", { all: [leaf("requestCount", "everyValue:greaterThan", [1, 2])] }],
  ["matchesPattern", { all: [leaf("event", "matchesPattern", "^python-", { path: "$.userAgent" })] }],
  ["inCidr", { all: [leaf("event", "inCidr", ["203.0.113.0/24"], { path: "$.ip" })] }],
  ["inList and notInList", { all: [leaf("event", "inList", ["NL"], { path: "$.country" }), leaf("event", "notInList", ["KP"], { path: "$.country" })] }],
  ["named conditions with priorities", { all: [leaf("requestCount", "greaterThan", 1, { name: "busy", priority: 2 }), leaf("linkedAccounts", "greaterThan", 1, { priority: 1 })] }],
];

describe("rule shapes json-rules-engine runs are accepted", () => {
  it.each(accepted)("%s", async (_name, conditions) => {
    const v = validateRule(doc(conditions));
    expect(v.ok ? [] : v.errors).toEqual([]);
    const engine = new Engine([], { allowUndefinedFacts: false });
    for (const [name, op] of Object.entries(customOperators)) engine.addOperator(name, op.evaluate);
    for (const [fact, value] of Object.entries(constants)) engine.addFact(fact, value);
    engine.addRule({ conditions: conditions as never, event: { type: "hit" } });
    const { results, failureResults } = await engine.run();
    expect(results.length + failureResults.length).toBe(1);
  });
});

const refused: [string, unknown, string][] = [
  ["empty all (json-rules-engine: always true)", { all: [] }, "conditions.all"],
  ["empty any", { any: [] }, "conditions.any"],
  ["all and any together (one is silently dropped)", { all: [leaf("requestCount", "greaterThan", 1)], any: [leaf("requestCount", "lessThan", 1)] }, "conditions"],
  ["a leaf with an extra all (becomes always true)", { all: [{ ...leaf("requestCount", "greaterThan", 1), all: [] }] }, "conditions.all[0].fact"],
  ["a shared condition reference", { all: [{ condition: "elsewhere" }] }, "conditions.all[0].condition"],
  ["priority 0", { all: [leaf("requestCount", "greaterThan", 1, { priority: 0 })] }, "conditions.all[0].priority"],
  ["an old-style path", { all: [leaf("event", "equal", 1, { path: ".signals.x" })] }, "conditions.all[0].path"],
  ["a filter path", { all: [leaf("event", "equal", 1, { path: "$..x" })] }, "conditions.all[0].path"],
  ["in with a string value (substring match)", { all: [leaf("event", "in", "NL,DE", { path: "$.country" })] }, "conditions.all[0].value"],
  ["a comparison with a string value", { all: [leaf("requestCount", "greaterThan", "100")] }, "conditions.all[0].value"],
];

describe("rule shapes json-rules-engine mis-handles are refused", () => {
  it.each(refused)("%s", (_name, conditions, path) => {
    const v = validateRule(doc(conditions));
    expect(v.ok).toBe(false);
    if (!v.ok) expect(v.errors.map((e) => e.path)).toContain(path);
  });

  it("refuses __proto__, constructor and prototype keys anywhere", () => {
    const text = JSON.stringify(doc({ all: [leaf("requestCount", "greaterThan", 1, { params: {} })] })).replace('"params":{}', '"params":{"__proto__":{"x":1}}');
    const v = validateRule(JSON.parse(text));
    expect(v.ok ? [] : v.errors).toEqual([{ path: "conditions.all[0].params.__proto__", message: "the key '__proto__' is not allowed" }]);
  });

  it("caps depth at 10 and the number of conditions at 50", () => {
    let deep: unknown = leaf("requestCount", "greaterThan", 1);
    for (let i = 0; i < 11; i++) deep = { all: [deep] };
    expect(validateRule(doc(deep)).ok).toBe(false);
    const many = { all: Array.from({ length: 51 }, () => leaf("requestCount", "greaterThan", 1)) };
    const v = validateRule(doc(many));
    expect(v.ok ? [] : v.errors).toEqual([{ path: "conditions", message: "has 51 conditions; at most 50 are allowed" }]);
  });
});
