// The operators a rule may use: json-rules-engine's built-ins, its decorators, and ClauseGuard's own
// (regex, CIDR and large-list matching), with the value each expects, so that a rule with a wrong
// operator or value is rejected on load rather than failing, or silently never matching, at run time.
import ipaddr from "ipaddr.js";
import { RE2JS } from "re2js";
import { NamedListValue, isListRef, listRefFault } from "./named-lists";

export type ValueKind = "any" | "number" | "array" | "scalar" | "string";

/** How an operator compares a fact's value with a condition's value. */
export type Comparison = (factValue: unknown, value: unknown) => boolean;

type BuiltinOperator = {
  valueKind: ValueKind;
  /** json-rules-engine's factValueValidator: when it fails the condition is false without comparing. */
  acceptsFact?: (factValue: unknown) => boolean;
  compare: Comparison;
};

// The library's own test: a fact is a number when parseFloat reads one from it ("12abc" is 12).
const numberLike = (factValue: unknown) => Number.parseFloat(factValue as string).toString() !== "NaN";
type Listish = { indexOf(item: unknown): number };

/**
 * json-rules-engine 7.3's built-in operators (engine-default-operators.js) as the compiled
 * evaluator runs them, the same expressions to the letter: `in` calls the value's indexOf (a string
 * value matches substrings, a null one throws), `contains` holds only for an array fact, the
 * comparisons check only that parseFloat reads a number. compiled-rule.test.ts holds them to the library.
 */
export const builtinOperators: Record<string, BuiltinOperator> = {
  equal: { valueKind: "any", compare: (a, b) => a === b },
  notEqual: { valueKind: "any", compare: (a, b) => a !== b },
  in: { valueKind: "array", compare: (a, b) => (b as Listish).indexOf(a) > -1 },
  notIn: { valueKind: "array", compare: (a, b) => (b as Listish).indexOf(a) === -1 },
  contains: { valueKind: "scalar", acceptsFact: Array.isArray, compare: (a, b) => (a as Listish).indexOf(b) > -1 },
  doesNotContain: { valueKind: "scalar", acceptsFact: Array.isArray, compare: (a, b) => (a as Listish).indexOf(b) === -1 },
  lessThan: { valueKind: "number", acceptsFact: numberLike, compare: (a, b) => (a as number) < (b as number) },
  lessThanInclusive: { valueKind: "number", acceptsFact: numberLike, compare: (a, b) => (a as number) <= (b as number) },
  greaterThan: { valueKind: "number", acceptsFact: numberLike, compare: (a, b) => (a as number) > (b as number) },
  greaterThanInclusive: { valueKind: "number", acceptsFact: numberLike, compare: (a, b) => (a as number) >= (b as number) },
};

export const maxPatternLength = 256;
export const maxCidrs = 10_000;
/** A sanity cap on an inline list; in practice it is bounded by the 64 KB rule document it sits in (a named list is not). */
export const maxListItems = 100_000;

type CustomOperator = {
  valueKind: ValueKind;
  description: string;
  /** A fault in a literal value (a value that is a fact reference is checked when it is read). */
  checkValue(value: unknown): string | undefined;
  evaluate(factValue: unknown, value: unknown): boolean;
};

// Compiled forms are cached by the value they come from: a rule's literal value is one object
// for the life of its engine, so each list or CIDR set is built once, not on every evaluation.
const patterns = new Map<string, RE2JS>();
const sets = new WeakMap<object, Set<unknown>>();
const ranges = new WeakMap<object, [ipaddr.IPv4 | ipaddr.IPv6, number][]>();

function compiledPattern(pattern: string): RE2JS {
  let re = patterns.get(pattern);
  if (!re) {
    // RE2 matches in time linear in the input: no pattern can make the evaluator backtrack for ever.
    re = RE2JS.compile(pattern);
    if (patterns.size > 10_000) patterns.clear();
    patterns.set(pattern, re);
  }
  return re;
}

function parseCidr(text: string): [ipaddr.IPv4 | ipaddr.IPv6, number] {
  return ipaddr.parseCIDR(text);
}

function cidrFault(value: unknown): string | undefined {
  if (!Array.isArray(value)) return "a list of CIDR blocks such as [\"203.0.113.0/24\", \"2001:db8::/32\"]";
  if (value.length > maxCidrs) return `at most ${maxCidrs} CIDR blocks`;
  const bad = value.findIndex((c) => {
    if (typeof c !== "string") return true;
    try {
      parseCidr(c);
      return false;
    } catch {
      return true;
    }
  });
  return bad >= 0 ? `entry [${bad}] is not a CIDR block such as 203.0.113.0/24` : undefined;
}

function listFault(value: unknown): string | undefined {
  if (isListRef(value) || (value !== null && typeof value === "object" && !Array.isArray(value) && "list" in value)) return listRefFault(value);
  if (!Array.isArray(value)) return 'a list of strings, numbers or booleans, or a named list { "list": name }';
  if (value.length > maxListItems) return `at most ${maxListItems} items`;
  const bad = value.findIndex((v) => v === null || typeof v === "object");
  return bad >= 0 ? `entry [${bad}] must be a string, number or boolean` : undefined;
}

function setOf(list: unknown[]): Set<unknown> {
  let set = sets.get(list);
  if (!set) {
    set = new Set(list);
    sets.set(list, set);
  }
  return set;
}

function inCidr(factValue: unknown, value: unknown): boolean {
  if (typeof factValue !== "string" || !Array.isArray(value) || !ipaddr.isValid(factValue)) return false;
  let parsed = ranges.get(value);
  if (!parsed) {
    parsed = value.map((c) => parseCidr(String(c)));
    ranges.set(value, parsed);
  }
  let addr = ipaddr.parse(factValue);
  if (addr.kind() === "ipv6" && (addr as ipaddr.IPv6).isIPv4MappedAddress()) addr = (addr as ipaddr.IPv6).toIPv4Address();
  return parsed.some(([range, bits]) => range.kind() === addr.kind() && addr.match(range, bits));
}

export const customOperators: Record<string, CustomOperator> = {
  matchesPattern: {
    valueKind: "string",
    description: `the fact (a string) contains a match of the value, a regular expression in RE2 syntax of at most ${maxPatternLength} chars, matched in linear time`,
    checkValue(value) {
      if (typeof value !== "string") return "a regular expression (a string)";
      if (value.length > maxPatternLength) return `a pattern of at most ${maxPatternLength} chars`;
      try {
        compiledPattern(value);
        return undefined;
      } catch (err) {
        return `a valid RE2 regular expression (${(err as Error).message})`;
      }
    },
    evaluate: (factValue, value) => typeof factValue === "string" && typeof value === "string" && compiledPattern(value).matcher(factValue).find(),
  },
  inCidr: {
    valueKind: "array",
    description: "the fact (an IPv4 or IPv6 address) lies in one of the value's CIDR blocks",
    checkValue: cidrFault,
    evaluate: inCidr,
  },
  inList: {
    valueKind: "array",
    description: 'the fact is one of the value\'s items (a set built once per rule version), or a member of the named list { "list": name }',
    checkValue: listFault,
    evaluate: (factValue, value) => (value instanceof NamedListValue ? value.has(factValue) === true : Array.isArray(value) && setOf(value).has(factValue)),
  },
  notInList: {
    valueKind: "array",
    description: 'the fact is none of the value\'s items, or not a member of the named list { "list": name }',
    checkValue: listFault,
    evaluate: (factValue, value) => (value instanceof NamedListValue ? value.has(factValue) === false : Array.isArray(value) && !setOf(value).has(factValue)),
  },
};

/** Decorators chain as prefixes (`everyFact:not:in`); json-rules-engine caches each distinct chain forever, so chains are capped. */
export const operatorDecorators = ["someFact", "everyFact", "someValue", "everyValue", "not", "swap"] as const;
export const maxDecorators = 2;
type Decorator = (typeof operatorDecorators)[number];

/** json-rules-engine 7.3's decorators (engine-default-operator-decorators.js): `next` is the operator they wrap. */
const decorators: Record<Decorator, { acceptsFact?: (factValue: unknown) => boolean; apply(factValue: unknown, value: unknown, next: Comparison): boolean }> = {
  someFact: { acceptsFact: Array.isArray, apply: (fv, v, next) => (fv as unknown[]).some((f) => next(f, v)) },
  someValue: { apply: (fv, v, next) => (v as unknown[]).some((x) => next(fv, x)) },
  everyFact: { acceptsFact: Array.isArray, apply: (fv, v, next) => (fv as unknown[]).every((f) => next(f, v)) },
  everyValue: { apply: (fv, v, next) => (v as unknown[]).every((x) => next(fv, x)) },
  swap: { apply: (fv, v, next) => next(v, fv) },
  not: { apply: (fv, v, next) => !next(fv, v) },
};

export type ParsedOperator = { base: string; decorators: string[]; valueKind: ValueKind; custom?: CustomOperator };

export function parseOperator(name: string): { ok: true; op: ParsedOperator } | { ok: false; message: string } {
  const parts = name.split(":");
  const base = parts.pop() as string;
  const custom = Object.hasOwn(customOperators, base) ? customOperators[base] : undefined;
  if (!Object.hasOwn(builtinOperators, base) && !custom) {
    return { ok: false, message: `unknown operator '${base}'; known: ${[...Object.keys(builtinOperators), ...Object.keys(customOperators)].join(", ")}` };
  }
  if (parts.length > maxDecorators) return { ok: false, message: `at most ${maxDecorators} operator decorators may be chained` };
  for (const d of parts) {
    if (!(operatorDecorators as readonly string[]).includes(d)) {
      return { ok: false, message: `unknown operator decorator '${d}'; known: ${operatorDecorators.join(", ")}` };
    }
  }
  // A decorated operator changes what the value must be; only the value-side decorators are checked.
  const valueKind: ValueKind =
    parts.some((d) => d === "someValue" || d === "everyValue") ? "array" : parts.length > 0 ? "any" : (custom?.valueKind ?? builtinOperators[base]!.valueKind);
  return { ok: true, op: { base, decorators: parts, valueKind, ...(custom && parts.length === 0 ? { custom } : {}) } };
}

/**
 * A validated operator name as one function, built once per condition: the base operator (a
 * custom one's `evaluate` as it is) wrapped by its decorators, the first one outermost, each
 * checking the fact first as json-rules-engine's Operator.evaluate does.
 */
export function compileOperator(name: string): Comparison {
  const parsed = parseOperator(name);
  if (!parsed.ok) throw new Error(parsed.message);
  const { base, decorators: chain } = parsed.op;
  const builtin = Object.hasOwn(builtinOperators, base) ? builtinOperators[base]! : undefined;
  let compare: Comparison = builtin ? guarded(builtin.acceptsFact, builtin.compare) : customOperators[base]!.evaluate;
  for (const d of [...chain].reverse()) {
    const next = compare;
    const { acceptsFact, apply } = decorators[d as Decorator];
    compare = guarded(acceptsFact, (fv, v) => apply(fv, v, next));
  }
  return compare;
}

function guarded(acceptsFact: ((factValue: unknown) => boolean) | undefined, compare: Comparison): Comparison {
  return acceptsFact ? (fv, v) => acceptsFact(fv) && compare(fv, v) : compare;
}
