// The rule document (SPEC.md "Rule file"): a zod schema for its fields plus a walker that checks
// `conditions` against json-rules-engine's real semantics, reporting every fault with its JSON path.
import { z } from "zod";
import { type FieldError, deeperThan, formatPath, isPlainObject, unusableParts } from "./json-input";
import { factCatalog, isFactName } from "./fact-catalog";
import { parseOperator } from "./operators";
import { parseWindow } from "./window";
import { severities } from "./rule-model";

export const maxRuleBytes = 64 * 1024;
export const maxConditionDepth = 10;
export const maxConditions = 50;
/** Simple JSONPath only: `$.a.b[0]`. jsonpath-plus filters and wildcards are not accepted. */
export const simplePathPattern = /^\$(\.[A-Za-z_][A-Za-z0-9_]*|\[\d+\])*$/;

export const ruleIdPattern = /^[a-z0-9][a-z0-9.-]{0,127}$/;

export const ruleDocumentSchema = z.strictObject({
  id: z.string().regex(ruleIdPattern, "must be a slug: lower-case letters, digits, '.' and '-', starting with a letter or digit, at most 128 chars"),
  name: z.string().trim().min(1).max(200),
  description: z.string().max(4000).default(""),
  clause: z.strictObject({ ref: z.string().trim().min(1).max(200), text: z.string().trim().min(1).max(2000) }),
  severity: z.enum(severities),
  scope: z.enum(["event", "account"]),
  window: z.string().superRefine((text, ctx) => {
    const r = parseWindow(text);
    if (!r.ok) ctx.addIssue({ code: "custom", message: r.message });
  }),
  enabled: z.boolean().default(true),
  recommendedAction: z.enum(["none", "restrict", "suspend"]).default("none"),
  conditions: z.custom<unknown>((v) => v !== undefined, "is required"),
});

export type Condition = ConditionLeaf | { all: Condition[] } | { any: Condition[] } | { not: Condition };
export type FactReference = { fact: string; path?: string; params?: Record<string, unknown> };
export type ConditionLeaf = {
  fact: string;
  operator: string;
  value: unknown;
  path?: string;
  params?: Record<string, unknown>;
  name?: string;
  priority?: number;
};
type BooleanConditions = { all: Condition[] } | { any: Condition[] };

export type RuleDocument = Omit<z.infer<typeof ruleDocumentSchema>, "conditions"> & { conditions: BooleanConditions };

export type RuleValidation = { ok: true; rule: RuleDocument } | { ok: false; errors: FieldError[] };

const maxDocumentDepth = 100;

/** Validates a parsed rule document: every fault, each with its JSON path. */
export function validateRule(input: unknown): RuleValidation {
  const errors: FieldError[] = [];
  // Before anything recursive (JSON.stringify, the key walk, zod): a document nested thousands of
  // levels deep would overflow the stack.
  if (deeperThan(input, maxDocumentDepth)) return { ok: false, errors: [{ path: "", message: `rule document is nested more than ${maxDocumentDepth} levels deep` }] };
  const size = Buffer.byteLength(JSON.stringify(input) ?? "", "utf8");
  if (size > maxRuleBytes) return { ok: false, errors: [{ path: "", message: `rule document is ${size} bytes; the limit is ${maxRuleBytes}` }] };
  // Keys that could trip json-rules-engine or a log, and text the database cannot store (the
  // document is kept as jsonb, its source as text), anywhere in the document.
  errors.push(...unusableParts(input).map((p) => ({ path: formatPath(p.path), message: p.message })));
  if (errors.length) return { ok: false, errors };

  const parsed = ruleDocumentSchema.safeParse(input);
  if (!parsed.success) errors.push(...parsed.error.issues.map((i) => ({ path: formatPath(i.path), message: i.message })));

  const conditions = (input as { conditions?: unknown } | null)?.conditions;
  if (conditions === undefined) {
    if (parsed.success) errors.push({ path: "conditions", message: "is required" });
  } else {
    checkConditions(conditions, errors);
  }
  if (errors.length || !parsed.success) return { ok: false, errors };
  return { ok: true, rule: parsed.data as RuleDocument };
}

function checkConditions(root: unknown, errors: FieldError[]): void {
  if (!isPlainObject(root) || !("all" in root || "any" in root)) {
    errors.push({ path: "conditions", message: "must be an object with 'all' or 'any' at the top" });
    return;
  }
  const counter = { leaves: 0 };
  checkNode(root, "conditions", 1, counter, errors);
  if (counter.leaves > maxConditions) {
    errors.push({ path: "conditions", message: `has ${counter.leaves} conditions; at most ${maxConditions} are allowed` });
  }
}

const booleanKeys = ["all", "any", "not"] as const;
const commonKeys = ["name", "priority"];
const leafKeys = ["fact", "operator", "value", "path", "params", ...commonKeys];

function checkNode(node: unknown, path: string, depth: number, counter: { leaves: number }, errors: FieldError[]): void {
  if (depth > maxConditionDepth) {
    errors.push({ path, message: `conditions are nested deeper than ${maxConditionDepth} levels` });
    return;
  }
  if (!isPlainObject(node)) {
    errors.push({ path, message: "must be a condition object" });
    return;
  }
  checkCommon(node, path, errors);
  const present = booleanKeys.filter((k) => k in node);
  if ("condition" in node) {
    errors.push({ path: `${path}.condition`, message: "shared condition references are not supported: write the condition inline" });
    return;
  }
  if (present.length > 1) {
    // json-rules-engine silently reads only one of them.
    errors.push({ path, message: `a condition has exactly one of all, any, not; found ${present.join(", ")}` });
    return;
  }
  if (present.length === 1) {
    const kind = present[0]!;
    for (const k of Object.keys(node)) {
      if (k !== kind && !commonKeys.includes(k)) errors.push({ path: `${path}.${k}`, message: `unknown key in an '${kind}' condition` });
    }
    const child = node[kind];
    if (kind === "not") {
      checkNode(child, `${path}.not`, depth + 1, counter, errors);
    } else if (!Array.isArray(child)) {
      errors.push({ path: `${path}.${kind}`, message: "must be an array of conditions" });
    } else if (child.length === 0) {
      errors.push({ path: `${path}.${kind}`, message: "must not be empty (json-rules-engine treats an empty list as true)" });
    } else {
      child.forEach((c, i) => checkNode(c, `${path}.${kind}[${i}]`, depth + 1, counter, errors));
    }
    return;
  }
  counter.leaves++;
  checkLeaf(node, path, errors);
}

function checkCommon(node: Record<string, unknown>, path: string, errors: FieldError[]): void {
  if ("name" in node && (typeof node.name !== "string" || node.name.length > 200)) {
    errors.push({ path: `${path}.name`, message: "must be a string of at most 200 chars" });
  }
  if ("priority" in node && !(Number.isInteger(node.priority) && (node.priority as number) >= 1)) {
    errors.push({ path: `${path}.priority`, message: "must be an integer >= 1" });
  }
}

function checkLeaf(node: Record<string, unknown>, path: string, errors: FieldError[]): void {
  for (const k of Object.keys(node)) {
    if (!leafKeys.includes(k)) errors.push({ path: `${path}.${k}`, message: "unknown key in a condition" });
  }
  for (const k of ["fact", "operator"] as const) {
    if (typeof node[k] !== "string") errors.push({ path: `${path}.${k}`, message: "is required and must be a string" });
  }
  if (!("value" in node)) errors.push({ path: `${path}.value`, message: "is required" });
  if (typeof node.fact === "string") checkFactUse(node, path, errors);

  if (typeof node.operator === "string") {
    const op = parseOperator(node.operator);
    if (!op.ok) {
      errors.push({ path: `${path}.operator`, message: op.message });
    } else if ("value" in node) {
      const value = node.value;
      if (isPlainObject(value) && "fact" in value) {
        checkFactReference(value, `${path}.value`, errors);
      } else {
        const wrong = op.op.custom ? op.op.custom.checkValue(value) : valueTypeError(op.op.valueKind, value);
        if (wrong) errors.push({ path: `${path}.value`, message: `operator '${node.operator}' needs ${wrong}` });
      }
    }
  }
}

function valueTypeError(kind: string, value: unknown): string | undefined {
  if (kind === "number" && (typeof value !== "number" || !Number.isFinite(value))) return "a number";
  if (kind === "array" && !Array.isArray(value)) return "an array";
  if (kind === "scalar" && (value === null || typeof value === "object")) return "a string, number or boolean";
  if (kind === "string" && typeof value !== "string") return "a string";
  if (value === undefined) return "a value";
  return undefined;
}

function checkFactReference(ref: Record<string, unknown>, path: string, errors: FieldError[]): void {
  for (const k of Object.keys(ref)) {
    if (!["fact", "path", "params"].includes(k)) errors.push({ path: `${path}.${k}`, message: "unknown key in a fact reference" });
  }
  if (typeof ref.fact !== "string") errors.push({ path: `${path}.fact`, message: "must be a fact name" });
  else checkFactUse(ref, path, errors);
}

function checkFactUse(node: Record<string, unknown>, path: string, errors: FieldError[]): void {
  const name = node.fact as string;
  if (!isFactName(name)) {
    errors.push({ path: `${path}.fact`, message: `unknown fact '${name}'` });
    return;
  }
  const def = factCatalog[name]!;
  if ("path" in node) {
    if (!def.objectValued) errors.push({ path: `${path}.path`, message: `fact '${name}' is a number; 'path' applies only to event and account` });
    else if (typeof node.path !== "string" || !simplePathPattern.test(node.path)) {
      errors.push({ path: `${path}.path`, message: "must be a simple JSONPath such as $.signals.jailbreakAttempt or $.items[0]" });
    }
  }
  if ("params" in node) {
    const parsed = def.params.safeParse(node.params);
    if (!parsed.success) {
      for (const i of parsed.error.issues) {
        errors.push({ path: formatPath([...parsePathPrefix(`${path}.params`), ...i.path]), message: i.message });
      }
    }
  } else {
    const parsed = def.params.safeParse({});
    if (!parsed.success) {
      for (const i of parsed.error.issues) errors.push({ path: `${path}.params.${String(i.path[0])}`, message: `fact '${name}' requires it` });
    }
  }
}

/** `conditions.all[2].any[0]` split back into segments so zod issue paths can be appended. */
function parsePathPrefix(prefix: string): (string | number)[] {
  return prefix.split(/\.|(?=\[)/).map((s) => (s.startsWith("[") ? Number(s.slice(1, -1)) : s));
}
