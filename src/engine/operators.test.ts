import { compileRule } from "./compiled-rule";
import type { FactSource } from "./evaluation";
import { CompiledRule } from "./rule-evaluator";
import { validateRule } from "./rule-schema";

/** A fact source with only the event: what these operators are applied to. */
function eventSource(event: Record<string, unknown>): FactSource {
  return {
    event: { eventId: "e1", accountId: "a1", occurredAt: "2026-11-24T12:00:00Z", ...event },
    account: async () => ({
      status: "active",
      firstSeenAt: "2026-11-24T12:00:00Z",
      createdAt: null,
      ageDays: 0,
      ageSource: "firstSeen",
      ageKnown: false,
      verification: null,
      plan: null,
      confirmedCases: 0,
    }),
    windowAggregate: async () => 0,
    linkedFact: async () => 0,
    contributingEventIds: async () => ["e1"],
  };
}

function rule(condition: Record<string, unknown>) {
  return {
    id: "ops.test",
    name: "ops",
    clause: { ref: "1", text: "t" },
    severity: "low",
    scope: "event",
    window: "1h",
    conditions: { all: [condition] },
  };
}

async function holds(condition: Record<string, unknown>, event: Record<string, unknown>): Promise<boolean> {
  const v = validateRule(rule(condition));
  if (!v.ok) throw new Error(JSON.stringify(v.errors));
  const r = await new CompiledRule(v.rule, 1).evaluate(eventSource(event));
  if (r.outcome === "error") throw new Error(r.error);
  // The compiled evaluator answers each case as json-rules-engine does.
  expect(await compileRule(v.rule, 1).evaluate(eventSource(event))).toEqual(r);
  return r.outcome === "hit";
}

const faults = (condition: Record<string, unknown>) => {
  const v = validateRule(rule(condition));
  return v.ok ? [] : v.errors;
};

describe("matchesPattern", () => {
  const ua = { fact: "event", path: "$.userAgent", operator: "matchesPattern" };

  it("finds a match anywhere in the string, in RE2 syntax", async () => {
    expect(await holds({ ...ua, value: "^python-(httpx|requests)/" }, { userAgent: "python-httpx/0.27" })).toBe(true);
    expect(await holds({ ...ua, value: "curl" }, { userAgent: "Mozilla/5.0" })).toBe(false);
    expect(await holds({ ...ua, value: "curl" }, {})).toBe(false);
  });

  it("runs in linear time on a pattern that makes backtracking engines hang", async () => {
    // (a+)+$ against a run of a's ending in b takes time exponential in the run's length in a
    // backtracking engine: JavaScript's own RegExp needs about 10 s for 30 a's on this project's
    // 2-core machines (4 times more per 2 a's), RE2 well under a millisecond. The bound is a tenth
    // of the backtracking time, so the check fails, rather than hangs, if the operator ever runs
    // on a backtracking engine; only then is the long input tried.
    const started = performance.now();
    expect(await holds({ ...ua, value: "(a+)+$" }, { userAgent: `${"a".repeat(30)}b` })).toBe(false);
    expect(performance.now() - started).toBeLessThan(1000);
    expect(await holds({ ...ua, value: "(a+)+$" }, { userAgent: `${"a".repeat(100_000)}b` })).toBe(false);
  });

  it("rejects patterns that are not RE2, too long, or not strings", () => {
    expect(faults({ ...ua, value: "(?<=x)y" })).toEqual([{ path: "conditions.all[0].value", message: expect.stringMatching(/needs a valid RE2 regular expression/) }]);
    expect(faults({ ...ua, value: "a".repeat(257) })[0]!.message).toMatch(/at most 256 chars/);
    expect(faults({ ...ua, value: 3 })[0]!.message).toMatch(/needs a regular expression/);
  });
});

describe("inCidr", () => {
  const ip = { fact: "event", path: "$.ip", operator: "inCidr" };

  it("matches IPv4, IPv6 and IPv4-mapped addresses against a mixed list", async () => {
    const value = ["203.0.113.0/24", "2001:db8::/32"];
    expect(await holds({ ...ip, value }, { ip: "203.0.113.77" })).toBe(true);
    expect(await holds({ ...ip, value }, { ip: "::ffff:203.0.113.5" })).toBe(true);
    expect(await holds({ ...ip, value }, { ip: "2001:db8:1::9" })).toBe(true);
    expect(await holds({ ...ip, value }, { ip: "198.51.100.1" })).toBe(false);
    expect(await holds({ ...ip, value }, { ip: "not an ip" })).toBe(false);
  });

  it("rejects a value that is not a list of CIDR blocks, naming the entry", () => {
    expect(faults({ ...ip, value: ["203.0.113.0/24", "203.0.113.0/33"] })[0]).toEqual({
      path: "conditions.all[0].value",
      message: "operator 'inCidr' needs entry [1] is not a CIDR block such as 203.0.113.0/24",
    });
    expect(faults({ ...ip, value: "203.0.113.0/24" })).toHaveLength(1);
  });
});

describe("inList and notInList", () => {
  const country = { fact: "event", path: "$.country" };

  it("look values up in a set, also in a list of thousands", async () => {
    // As many as a 64 KB rule document holds; lists kept outside the rule are not built yet.
    const big = Array.from({ length: 8000 }, (_, i) => `c${i}`);
    expect(await holds({ ...country, operator: "inList", value: [...big, "KP"] }, { country: "KP" })).toBe(true);
    expect(await holds({ ...country, operator: "inList", value: big }, { country: "NL" })).toBe(false);
    expect(await holds({ ...country, operator: "notInList", value: ["US", "NL"] }, { country: "KP" })).toBe(true);
    expect(await holds({ ...country, operator: "notInList", value: ["US", "NL"] }, { country: "NL" })).toBe(false);
  });

  it("reject lists of objects, and lists too large for a rule document", () => {
    expect(faults({ ...country, operator: "inList", value: [{ a: 1 }] })[0]!.message).toMatch(/entry \[0\] must be a string, number or boolean/);
    expect(faults({ ...country, operator: "inList", value: Array.from({ length: 20_000 }, (_, i) => i) })[0]!.message).toMatch(/the limit is 65536/);
  });

  it("work with decorators like any other operator", async () => {
    expect(await holds({ ...country, operator: "not:inList", value: ["US"] }, { country: "NL" })).toBe(true);
  });
});

describe("explanations", () => {
  it("list conditions in json-rules-engine's evaluation order: higher priority first, then as written", async () => {
    const v = validateRule(rule({ fact: "event", path: "$.country", operator: "equal", value: "NL" }));
    if (!v.ok) throw new Error("invalid");
    const withPriorities = {
      ...v.rule,
      conditions: {
        all: [
          { fact: "event", path: "$.country", operator: "equal", value: "NL" },
          { fact: "event", path: "$.model", operator: "equal", value: "m", priority: 5 },
          { fact: "event", path: "$.ip", operator: "equal", value: "x" },
        ],
      },
    };
    const r = await new CompiledRule(withPriorities as typeof v.rule, 1).evaluate(eventSource({ country: "NL", model: "m", ip: "x" }));
    expect(r.outcome === "hit" && r.conditions.map((c) => c.path)).toEqual(["all[1]", "all[0]", "all[2]"]);
  });
});

describe("paths into facts", () => {
  it("read own properties only: $.constructor and $.toString of an event are undefined, never its prototype's", async () => {
    for (const path of ["$.constructor", "$.toString", "$.signals.constructor", "$.signals.__proto__"]) {
      const v = validateRule(rule({ fact: "event", path, operator: "notEqual", value: "x" }));
      if (!v.ok) throw new Error(JSON.stringify(v.errors));
      const r = await new CompiledRule(v.rule, 1).evaluate(eventSource({ signals: { a: 1 } }));
      expect(r.outcome === "hit" && r.conditions[0]!.factValue).toBeNull();
    }
  });
});
