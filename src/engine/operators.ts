// The operators a rule may use: json-rules-engine's built-ins and its decorators, with the
// value each expects, so that a rule with a wrong operator or value type is rejected on load.

export type ValueKind = "any" | "number" | "array" | "scalar";

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

/** Decorators chain as prefixes (`everyFact:not:in`); json-rules-engine caches each distinct chain forever, so chains are capped. */
export const operatorDecorators = ["someFact", "everyFact", "someValue", "everyValue", "not", "swap"] as const;
export const maxDecorators = 2;

export type ParsedOperator = { base: string; decorators: string[]; valueKind: ValueKind };

export function parseOperator(name: string): { ok: true; op: ParsedOperator } | { ok: false; message: string } {
  const parts = name.split(":");
  const base = parts.pop() as string;
  if (!Object.hasOwn(builtinOperators, base)) {
    return { ok: false, message: `unknown operator '${base}'; known: ${Object.keys(builtinOperators).join(", ")}` };
  }
  if (parts.length > maxDecorators) return { ok: false, message: `at most ${maxDecorators} operator decorators may be chained` };
  for (const d of parts) {
    if (!(operatorDecorators as readonly string[]).includes(d)) {
      return { ok: false, message: `unknown operator decorator '${d}'; known: ${operatorDecorators.join(", ")}` };
    }
  }
  // A decorated operator changes what the value must be; only the value-side decorators are checked.
  const valueKind: ValueKind =
    parts.some((d) => d === "someValue" || d === "everyValue") ? "array" : parts.length > 0 ? "any" : builtinOperators[base]!;
  return { ok: true, op: { base, decorators: parts, valueKind } };
}
