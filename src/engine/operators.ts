// The operators a rule may use: json-rules-engine's built-ins, its decorators, and ClauseGuard's own
// (regex, CIDR and large-list matching), with the value each expects, so that a rule with a wrong
// operator or value is rejected on load rather than failing, or silently never matching, at run time.
import ipaddr from "ipaddr.js";
import { RE2JS } from "re2js";

export type ValueKind = "any" | "number" | "array" | "scalar" | "string";

export const builtinOperators: Record<string, ValueKind> = {
  equal: "any",
  notEqual: "any",
  in: "array",
  notIn: "array",
  contains: "scalar",
  doesNotContain: "scalar",
  lessThan: "number",
  lessThanInclusive: "number",
  greaterThan: "number",
  greaterThanInclusive: "number",
};

export const maxPatternLength = 256;
export const maxCidrs = 10_000;
/** A sanity cap; in practice a list is bounded by the 64 KB rule document it sits in. */
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
  if (!Array.isArray(value)) return "a list of strings, numbers or booleans";
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
    description: "the fact is one of the value's items (looked up in a set built once per rule version)",
    checkValue: listFault,
    evaluate: (factValue, value) => Array.isArray(value) && setOf(value).has(factValue),
  },
  notInList: {
    valueKind: "array",
    description: "the fact is none of the value's items",
    checkValue: listFault,
    evaluate: (factValue, value) => Array.isArray(value) && !setOf(value).has(factValue),
  },
};

/** Decorators chain as prefixes (`everyFact:not:in`); json-rules-engine caches each distinct chain forever, so chains are capped. */
export const operatorDecorators = ["someFact", "everyFact", "someValue", "everyValue", "not", "swap"] as const;
export const maxDecorators = 2;

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
    parts.some((d) => d === "someValue" || d === "everyValue") ? "array" : parts.length > 0 ? "any" : (custom?.valueKind ?? builtinOperators[base]!);
  return { ok: true, op: { base, decorators: parts, valueKind, ...(custom && parts.length === 0 ? { custom } : {}) } };
}
