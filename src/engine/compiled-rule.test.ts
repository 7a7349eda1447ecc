// The compiled evaluator answers exactly as json-rules-engine does: generated rules (every
// operator and decorator, chains of them, paths, fact references, priorities, all/any/not nested
// to depth 4) and the policy pack run on generated facts through both, which must return the same
// Evaluation and read the same facts from the source.
import path from "node:path";
import fc from "fast-check";
import type { z } from "zod";
import { loadRuleFiles } from "../features/rules/rule-files";
import { compileRule } from "./compiled-rule";
import type { AccountFact, Evaluation, FactSource, RuleEvaluator } from "./evaluation";
import { factCatalog, factNames, indicatorKinds, linkByParam } from "./fact-catalog";
import { builtinOperators, customOperators, operatorDecorators, parseOperator } from "./operators";
import { CompiledRule } from "./rule-evaluator";
import { type RuleDocument, validateRule } from "./rule-schema";
import { windowMs } from "./window";

// ---- facts: what a fake FactSource answers ----

const pool = ["NL", "US", "KP", "a", "b", "frontier-large", "active", "203.0.113.7", 0, 1, 2, 50, true, false, "12"];
const scalar = fc.oneof(fc.constantFrom(...pool), fc.string({ maxLength: 2 }), fc.integer({ min: -2, max: 100 }), fc.boolean());
/** Numbers, numeric and NaN-ish strings, and nothing: what comparisons and parseFloat meet in events. */
const numberish = fc.oneof(
  fc.integer({ min: -10, max: 5000 }),
  fc.double({ min: -2, max: 2, noNaN: true }),
  fc.constantFrom("12", "12abc", "abc", "", " 7", "1e3", "NaN", "Infinity", "-0", null, undefined),
);
const eventArb = fc.record(
  {
    model: fc.constantFrom("frontier-large", "embed-1", "a"),
    country: fc.constantFrom("NL", "US", "KP", "DE", "", undefined),
    ip: fc.constantFrom("203.0.113.7", "2001:db8::1", "::ffff:203.0.113.9", "10.0.0.1", "not-an-ip", 7),
    userAgent: fc.constantFrom("python-httpx/0.27", "curl/8.5", "Mozilla/5.0", 12),
    inputTokens: numberish,
    outputTokens: numberish,
    tags: fc.oneof(fc.array(scalar, { maxLength: 4 }), fc.constantFrom("ab", 3, null)),
    signals: fc.record(
      { syntheticDataRequest: fc.oneof(fc.boolean(), fc.double({ min: 0, max: 1, noNaN: true })), jailbreakAttempt: fc.double({ min: 0, max: 1, noNaN: true }) },
      { requiredKeys: [] },
    ),
    items: fc.array(fc.record({ k: scalar, n: numberish }, { requiredKeys: [] }), { maxLength: 3 }),
    nested: fc.record({ x: fc.record({ y: scalar, list: fc.array(numberish, { maxLength: 3 }) }, { requiredKeys: [] }) }, { requiredKeys: [] }),
  },
  { requiredKeys: [] },
);
/** An account, now and then an odd value where an object belongs: a path then reads the value itself. */
const accountArb = fc.oneof(
  {
    weight: 9,
    arbitrary: fc.record({
      status: fc.constantFrom("active", "suspended", "restricted"),
      firstSeenAt: fc.constant("2026-11-01T00:00:00Z"),
      createdAt: fc.constantFrom(null, "2026-10-01T00:00:00Z"),
      ageDays: numberish,
      ageSource: fc.constantFrom("provider", "firstSeen"),
      ageKnown: fc.boolean(),
      verification: fc.constantFrom(null, "email", "id"),
      plan: fc.constantFrom(null, "free", "enterprise"),
      confirmedCases: fc.integer({ min: 0, max: 3 }),
    }),
  },
  { weight: 1, arbitrary: fc.constantFrom(null, "n/a", 3) },
);
const numericFacts = factNames.filter((f) => !factCatalog[f]!.objectValued);
const factNumber = fc.oneof(fc.integer({ min: 0, max: 20 }), fc.integer({ min: 0, max: 2_000_000 }), fc.double({ min: 0, max: 1, noNaN: true }), fc.constantFrom(NaN, -1));
/** Calls the fake can fail: each fact method, and the evidence read. */
const failable = ["event", "account", ...numericFacts, "contributingEventIds"];

const worldArb = fc.record({
  event: eventArb,
  account: accountArb,
  numbers: fc.record(Object.fromEntries(numericFacts.map((f) => [f, factNumber]))),
  failing: fc.oneof({ weight: 6, arbitrary: fc.constant<string[]>([]) }, { weight: 1, arbitrary: fc.subarray(failable, { minLength: 1, maxLength: 2 }) }),
  /** A failing call throws at once instead of rejecting. */
  throwsAtOnce: fc.boolean(),
  /** Microtask hops before a call answers, by call: other interleavings of the facts' promises. */
  delays: fc.record(Object.fromEntries(failable.map((f) => [f, fc.integer({ min: 0, max: 2 })]))),
});
type World = typeof worldArb extends fc.Arbitrary<infer W> ? W : never;

const stable = (v: unknown) => JSON.stringify(v, (_k, x: unknown) => (x === undefined ? "(undefined)" : x));
const spread = (text: string) => [...text].reduce((h, c) => (h * 31 + c.charCodeAt(0)) % 997, 7);

/** A FactSource answering from the world (a copy of its own), recording every call it is asked. */
function fakeSource(world: World, calls: string[]): FactSource {
  const w = structuredClone(world);
  const reply = <T>(call: string, name: string, value: () => T): Promise<T> => {
    calls.push(call);
    if (w.failing.includes(name)) {
      if (w.throwsAtOnce) throw new Error(`${name} failed`);
      return Promise.reject(new Error(`${name} failed`));
    }
    let p = Promise.resolve(value());
    for (let i = 0; i < (w.delays[name] ?? 0); i++) p = p.then((v) => v);
    return p;
  };
  // Each query answers its own number, so facts read with other params differ.
  const numberOf = (name: string, query: object) => {
    const n = w.numbers[name]!;
    return Number.isInteger(n) ? n + spread(stable(query)) % 5 : n;
  };
  return {
    get event() {
      calls.push("event");
      if (w.failing.includes("event")) throw new Error("event failed");
      return { eventId: "e0", accountId: "a1", occurredAt: "2026-11-24T12:00:00Z", ...w.event };
    },
    // Odd values where the type says number: what a path and a comparison may meet.
    account: () => reply("account", "account", () => w.account as AccountFact),
    windowAggregate: (name, query) => reply(`${name} ${stable(query)}`, name, () => numberOf(name, query)),
    linkedFact: (name, query) => reply(`${name} ${stable(query)}`, name, () => numberOf(name, query)),
    contributingEventIds: (ms, limit) => reply(`contributingEventIds ${ms} ${limit}`, "contributingEventIds", () => [`e-${ms}`, "e0"]),
  };
}

// ---- rules ----

const windows = ["15m", "1h", "60m", "24h", "1d", "1440m", "7d", "30d"];
const paramValues: Record<string, fc.Arbitrary<unknown>> = {
  window: fc.constantFrom(...windows),
  signal: fc.constantFrom("jailbreakAttempt", "syntheticDataRequest"),
  threshold: fc.constantFrom(0, 0.5, 0.8, 0.93, 1),
  by: fc.constantFrom(...linkByParam.options),
  maxAgeDays: fc.constantFrom(1, 14, 30.5),
  reach: fc.constantFrom("component", "direct"),
  kind: fc.constantFrom(...indicatorKinds),
  source: fc.constantFrom("acme", "globex"),
};
const paths: Record<string, string[]> = {
  event: ["$.country", "$.model", "$.ip", "$.userAgent", "$.outputTokens", "$.inputTokens", "$.tags", "$.tags[0]", "$.tags[1]", "$.signals", "$.signals.syntheticDataRequest", "$.signals.jailbreakAttempt", "$.items[0].k", "$.items[1].n", "$.nested.x.y", "$.nested.x.list", "$.nested.x.list[0]", "$.missing.deep", "$.constructor", "$", "$.eventId"],
  account: ["$.status", "$.ageDays", "$.confirmedCases", "$.missing", "$"],
};

type FactUse = { fact: string; path?: string; params?: Record<string, unknown> };

/** A fact with a path (object facts) and params it takes: each optional one present or not, the required ones always. */
const factUse: fc.Arbitrary<FactUse> = fc.constantFrom(...factNames).chain((fact) => {
  const schema = factCatalog[fact]!.params as unknown as z.ZodObject;
  const required = (schema.safeParse({}).error?.issues ?? []).map((i) => String(i.path[0]));
  const keys = Object.keys(schema.shape);
  // In any key order: json-rules-engine caches a fact by its params whatever their order.
  const params = fc
    .record(Object.fromEntries(keys.map((k) => [k, paramValues[k]!])), { requiredKeys: required })
    .chain((p) => fc.shuffledSubarray(Object.entries(p), { minLength: Object.keys(p).length }))
    .map((entries) => Object.fromEntries(entries));
  const parts: Record<string, fc.Arbitrary<unknown>> = { fact: fc.constant(fact), params };
  if (paths[fact]) parts.path = fc.constantFrom(...paths[fact]!);
  return fc.record(parts, { requiredKeys: ["fact", ...(required.length ? ["params"] : [])] }) as fc.Arbitrary<FactUse>;
});

const anyJson = fc.oneof(scalar, fc.constant(null), fc.array(fc.oneof(scalar, fc.constant(null)), { maxLength: 4 }), fc.record({ k: scalar }));
const valueOfKind: Record<string, fc.Arbitrary<unknown>> = {
  number: fc.oneof(fc.integer({ min: -10, max: 20_000 }), fc.double({ min: -1, max: 2, noNaN: true })),
  array: fc.array(fc.oneof(scalar, fc.constant(null)), { maxLength: 5 }),
  scalar,
  any: anyJson,
};
const customValues: Record<string, fc.Arbitrary<unknown>> = {
  matchesPattern: fc.constantFrom("^python-", "NL|DE", "\\d+", "a", "^$"),
  inCidr: fc.subarray(["203.0.113.0/24", "10.0.0.0/8", "2001:db8::/32", "0.0.0.0/0"]),
  inList: fc.array(scalar, { maxLength: 5 }),
  notInList: fc.array(scalar, { maxLength: 5 }),
};
const bases = [...Object.keys(builtinOperators), ...Object.keys(customOperators)];
const operatorName = fc
  .tuple(fc.array(fc.constantFrom(...operatorDecorators), { maxLength: 2 }), fc.constantFrom(...bases))
  .map(([decorators, base]) => [...decorators, base].join(":"));
/** A value the operator takes (validateRule's rules), sometimes an odd one for a decorated operator, sometimes a fact reference. */
const valueFor = (operator: string): fc.Arbitrary<unknown> => {
  const { op } = parseOperator(operator) as { ok: true; op: { base: string; decorators: string[]; valueKind: string } };
  const own = Object.hasOwn(customValues, op.base) ? customValues[op.base]! : valueOfKind[builtinOperators[op.base]!.valueKind]!;
  const literal = op.decorators.length === 0 ? own : op.valueKind === "array" ? fc.array(own, { maxLength: 3 }) : fc.oneof(own, fc.array(own, { maxLength: 3 }), anyJson);
  return fc.oneof({ weight: 4, arbitrary: literal }, { weight: 1, arbitrary: factUse });
};

const priority = fc.integer({ min: 1, max: 4 });
const leafArb = fc
  .tuple(factUse, operatorName)
  .chain(([use, operator]) => fc.record({ use: fc.constant(use), operator: fc.constant(operator), value: valueFor(operator), priority: fc.option(priority, { nil: undefined }) }))
  .map(({ use, operator, value, priority: p }) => ({ ...use, operator, value, ...(p === undefined ? {} : { priority: p }) }));

const conditionTree = fc.letrec<{ node: unknown; all: unknown; any: unknown; not: unknown }>((tie) => ({
  node: fc.oneof({ maxDepth: 4, depthIdentifier: "conditions" }, leafArb, tie("all"), tie("any"), tie("not")),
  all: fc.record({ all: fc.array(tie("node"), { minLength: 1, maxLength: 4 }), priority }, { requiredKeys: ["all"] }),
  any: fc.record({ any: fc.array(tie("node"), { minLength: 1, maxLength: 4 }), priority }, { requiredKeys: ["any"] }),
  not: fc.record({ not: tie("node"), priority }, { requiredKeys: ["not"] }),
}));

const document = (conditions: unknown, window: string) => ({ id: "generated.rule", name: "generated", clause: { ref: "1", text: "t" }, severity: "low", scope: "account", window, conditions });
const ruleArb: fc.Arbitrary<RuleDocument> = fc
  .tuple(fc.oneof(conditionTree.all, conditionTree.any), fc.constantFrom("1h", "24h", "1d", "7d"))
  // Through JSON, as every rule arrives (files, the API, the database).
  .map(([conditions, window]) => validateRule(JSON.parse(JSON.stringify(document(conditions, window)))))
  .filter((v) => v.ok)
  .map((v) => (v as { rule: RuleDocument }).rule);

// ---- the comparison ----

/** Windows spelled differently but equally long ("24h", "1d"): json-rules-engine keeps whichever its promises reach first. */
function tiedSpellings(rule: RuleDocument): boolean {
  const texts = new Set([rule.window]);
  JSON.stringify(rule.conditions, (k, v: unknown) => {
    if (k === "window" && typeof v === "string") texts.add(v);
    return v;
  });
  return new Set([...texts].map(windowMs)).size < texts.size;
}

type Compile = (rule: RuleDocument) => RuleEvaluator;
const oracle: Compile = (rule) => new CompiledRule(rule, 1);
const compiled: Compile = (rule) => compileRule(rule, 1);

const seen = { outcomes: new Set<string>(), evaluated: new Set<string>(), skipped: 0 };
function notice(e: Evaluation): void {
  seen.outcomes.add(e.outcome);
  if (e.outcome === "error") return;
  for (const c of e.conditions) {
    if (c.result === null) seen.skipped++;
    else c.operator.split(":").forEach((part) => seen.evaluated.add(part));
  }
}

/** Both evaluators on the same facts: the same Evaluation, the same facts read (errors: both errors). */
async function expectSame(rule: RuleDocument, world: World, candidate: Compile = compiled, evaluator = candidate(rule)): Promise<void> {
  const expectedCalls: string[] = [];
  const actualCalls: string[] = [];
  const expected = await oracle(rule).evaluate(fakeSource(world, expectedCalls));
  let actual = await evaluator.evaluate(fakeSource(world, actualCalls));
  notice(expected);
  if (expected.outcome === "error") {
    // Once a run fails json-rules-engine leaves its other facts running: what they read is not compared.
    expect(actual).toEqual({ outcome: "error", error: expect.any(String) });
    return;
  }
  if (actual.outcome !== "error" && actual.window !== expected.window && tiedSpellings(rule)) {
    expect(windowMs(actual.window)).toBe(windowMs(expected.window));
    actual = { ...actual, window: expected.window };
  }
  expect(actual).toStrictEqual(expected);
  expect(actualCalls.sort()).toEqual(expectedCalls.sort());
}

const unhandled: unknown[] = [];
const onUnhandled = (reason: unknown) => unhandled.push(reason);
beforeAll(() => process.on("unhandledRejection", onUnhandled));
afterAll(() => process.off("unhandledRejection", onUnhandled));

describe("the compiled evaluator against json-rules-engine", () => {
  it("agrees on generated rules and facts", async () => {
    await fc.assert(fc.asyncProperty(ruleArb, worldArb, (rule, world) => expectSame(rule, world)), { numRuns: 1000 });
    // The generators reached what the comparison is about: every operator and decorator
    // evaluated, short-circuited conditions, and every outcome.
    expect([...seen.outcomes].sort()).toEqual(["error", "hit", "miss"]);
    expect([...bases, ...operatorDecorators].filter((o) => !seen.evaluated.has(o))).toEqual([]);
    expect(seen.skipped).toBeGreaterThan(100);
  }, 60_000);

  const packRules = loadRuleFiles(path.join(__dirname, "../../rules")).map((f) => f.rule);

  it.each(packRules.map((r) => [r.id, r] as const))("agrees on the policy pack's %s", async (_id, rule) => {
    const evaluator = compileRule(rule, 1);
    await fc.assert(fc.asyncProperty(worldArb, (world) => expectSame(rule, world, compiled, evaluator)), { numRuns: 100 });
  });

  it("gives each of many overlapping evaluations of one compiled rule its own answer", async () => {
    await fc.assert(
      fc.asyncProperty(ruleArb, fc.array(worldArb, { minLength: 2, maxLength: 6 }), async (rule, worlds) => {
        const evaluator = compileRule(rule, 1);
        const together = await Promise.all(worlds.map((w) => evaluator.evaluate(fakeSource(w, []))));
        for (const [i, w] of worlds.entries()) expect(together[i]).toStrictEqual(await evaluator.evaluate(fakeSource(w, [])));
      }),
      { numRuns: 150 },
    );
  });

  it("can fail: an evaluator that reports one condition differently is caught", async () => {
    const flipped: Compile = (rule) => {
      const inner = compileRule(rule, 1);
      return {
        ...inner,
        evaluate: async (source) => {
          const e = await inner.evaluate(source);
          if (e.outcome === "error") return e;
          return { ...e, conditions: e.conditions.map((c, i) => (i === e.conditions.length - 1 && c.result !== null ? { ...c, result: !c.result } : c)) };
        },
      };
    };
    const r = await fc.check(fc.asyncProperty(ruleArb, worldArb, (rule, world) => expectSame(rule, world, flipped)), { numRuns: 300 });
    expect(r.failed).toBe(true);
  });

  it("leaves no promise rejection unhandled", () => {
    expect(unhandled).toEqual([]);
  });
});
